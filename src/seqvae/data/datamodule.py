"""Lightning data module: reads a corpus, builds the vocabulary, serves bucketed batches."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

import lightning as L
from torch.utils.data import DataLoader, SequentialSampler

from seqvae.config import DataConfig
from seqvae.data.batching import BucketBatchSampler, EpochShuffle, SentenceDataset, make_batch
from seqvae.data.corpus import SPLITS, Split, default_corpus_dir, parse_split_file, read_split
from seqvae.data.vocab import Vocabulary

log = logging.getLogger(__name__)


def split_source(cfg: DataConfig, split: str) -> tuple[Path, slice]:
    """File of ``split`` (train / valid / test) under ``cfg.dir`` (or the embedded corpus) and its sentence range."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    root = Path(cfg.dir).expanduser() if cfg.dir is not None else default_corpus_dir()
    name, lines = parse_split_file(getattr(cfg, split))
    return root / name, lines


def split_path(cfg: DataConfig, split: str) -> Path:
    """File of ``split`` (a range of it, if the config says ``FILE[a:b]``, is still this file)."""
    return split_source(cfg, split)[0]


def load_split(cfg: DataConfig, split: str) -> Split:
    """Read one split as configured."""
    path, lines = split_source(cfg, split)
    return read_split(path, labelled=cfg.labelled, lowercase=cfg.lowercase, unk_token=cfg.unk_token, lines=lines)


def sentence_loader(
    sentences: list[list[int]], vocab: Vocabulary, batch_size: int, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    """Length-bucketed DataLoader of encoded sentences yielding :class:`Batch` objects."""
    lengths = [len(s) for s in sentences]
    if shuffle:
        sampler = BucketBatchSampler(EpochShuffle(len(sentences), seed), batch_size, lengths=lengths)
    else:
        order = SequentialSampler(range(len(sentences)))
        sampler = BucketBatchSampler(order, batch_size, lengths=lengths, pool_batches=None, shuffle_batches=False)
    collate = partial(make_batch, pad_id=vocab.pad_id, bos_id=vocab.bos_id, eos_id=vocab.eos_id)
    return DataLoader(SentenceDataset(sentences), batch_sampler=sampler, collate_fn=collate)


# A training sentence longer than this many times the 99th percentile of the lengths is far out of the corpus's
# distribution (a missing line break, a pasted document): every batch it lands in runs that long.
LONG_SENTENCE_FACTOR = 5


def warn_long_sentences(lengths: list[int], max_len: int | None) -> int:
    """Warn about training sentences far beyond the corpus's length distribution that ``data.max_len`` would not
    drop; returns how many there are."""
    ordered = sorted(lengths)
    limit = LONG_SENTENCE_FACTOR * ordered[int(0.99 * (len(ordered) - 1))]
    long = [n for n in lengths if n > limit and (max_len is None or n <= max_len)]
    if long:
        log.warning(
            "%d training sentence(s) longer than %d words (%d times the 99th percentile of the lengths), the longest "
            "%d words: each makes its batch that long. data.max_len=%d leaves them out.",
            len(long),
            limit,
            LONG_SENTENCE_FACTOR,
            max(long),
            limit,
        )
    return len(long)


class TextDataModule(L.LightningDataModule):
    """Train/valid/test loaders of one corpus.

    Args:
        cfg: the ``data`` config section.
        seed: seeds the training batch order (with the epoch).
        vocab: a vocabulary to reuse (from a checkpoint); built from the training split otherwise.
    """

    def __init__(self, cfg: DataConfig, seed: int = 0, vocab: Vocabulary | None = None):
        super().__init__()
        self.cfg = cfg
        self.seed = seed
        train = load_split(cfg, "train")
        self.vocab = vocab or Vocabulary.build(train.sentences, cfg.max_vocab, cfg.min_count)
        warn_long_sentences([len(s) for s in train.sentences], cfg.max_len)
        if cfg.max_len is not None:
            kept = [s for s in train.sentences if len(s) <= cfg.max_len]
            log.info("data.max_len=%d: kept %d of %d training sentences", cfg.max_len, len(kept), len(train.sentences))
            if not kept:
                raise ValueError(f"data.max_len={cfg.max_len} leaves no training sentence")
            train = Split(kept)
        self.encoded = {"train": [self.vocab.encode(s) for s in train.sentences]}

    def split(self, name: str) -> list[list[int]]:
        """Encoded sentences of a split, read on first use."""
        if name not in self.encoded:
            self.encoded[name] = [self.vocab.encode(s) for s in load_split(self.cfg, name).sentences]
        return self.encoded[name]

    def loader(self, name: str, shuffle: bool = False) -> DataLoader:
        """DataLoader of a split; training order is bucketed and shuffled per epoch."""
        size = self.cfg.batch_size if shuffle else self.cfg.eval_batch_size
        return sentence_loader(self.split(name), self.vocab, size, shuffle, self.seed)

    def train_dataloader(self) -> DataLoader:
        loader = self.loader("train", shuffle=True)
        if self.trainer is not None:
            # Restored from a mid-epoch checkpoint: continue the epoch where it stopped.
            done = self.trainer.fit_loop.epoch_loop.batch_progress.current.processed
            if 0 < done < len(loader):
                loader.batch_sampler.resume(self.trainer.current_epoch, done)
        return loader

    def val_dataloader(self) -> DataLoader:
        return self.loader("valid")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
