"""Corpus reading, vocabulary, batching and the embedded corpus."""

import pytest

from seqvae.config import DataConfig
from seqvae.data import (
    BucketBatchSampler,
    CorpusError,
    EpochShuffle,
    Vocabulary,
    default_corpus_dir,
    make_batch,
    read_split,
)
from seqvae.data.corpus import read_labels_tsv
from seqvae.data.datamodule import TextDataModule


def test_vocabulary_specials_min_count_and_max_size():
    sents = [["a", "b", "a"], ["c", "a", "b"], ["d"]]
    v = Vocabulary.build(sents, min_count=2)
    assert v.words == ["<pad>", "<unk>", "<s>", "</s>", "a", "b"]
    assert v.encode(["a", "zzz", "b"]) == [4, v.unk_id, 5]
    assert Vocabulary.build(sents, max_size=5).words[4:] == ["a"]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.build(sents, min_count=0)


def test_literal_unk_in_text_maps_to_unk_id():
    v = Vocabulary.build([["<unk>", "x"]])
    assert v.encode(["<unk>"]) == [v.unk_id] and "<unk>" not in v.words[4:]


def test_read_split_skips_blank_lines_and_handles_labels(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("1\tthe food was good\n\n2\tbad service .\n", encoding="utf-8")
    split = read_split(f, labelled=True)
    assert split.sentences == [["the", "food", "was", "good"], ["bad", "service", "."]]
    assert split.labels == ["1", "2"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="corpus file not found"):
        read_split(tmp_path / "nope.txt")


def test_empty_corpus_is_a_clear_error(tmp_path):
    f = tmp_path / "empty.txt"
    f.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no sentences"):
        read_split(f)


def test_wrong_encoding_names_the_line(tmp_path):
    f = tmp_path / "latin1.txt"
    f.write_bytes("ok line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1.txt:2: not valid UTF-8"):
        read_split(f)


def test_labelled_line_without_tab_is_an_error(tmp_path):
    f = tmp_path / "y.txt"
    f.write_text("3\tfine\nno label here\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"y.txt:2: expected 'label<TAB>sentence'"):
        read_split(f, labelled=True)


def test_make_batch_layout():
    b = make_batch([(0, [5, 6]), (1, [7, 8, 9])])
    assert b.tokens.tolist() == [[2, 5, 6, 3, 0], [2, 7, 8, 9, 3]]
    assert b.lengths.tolist() == [2, 3] and b.num_tokens == 7


def test_bucket_sampler_covers_everything_once_and_is_reproducible():
    lengths = [(i * 7919) % 31 + 1 for i in range(1000)]
    sampler = BucketBatchSampler(EpochShuffle(1000, seed=3), 32, lengths=lengths)
    sampler.sampler.set_epoch(2)  # what Lightning calls at each epoch start
    first = list(sampler)
    assert sorted(i for b in first for i in b) == list(range(1000))
    assert first == list(sampler)
    sampler.resume(2, 5)
    assert list(sampler) == first[5:]
    sampler.sampler.set_epoch(3)
    assert first != list(sampler)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in first) / len(first)
    assert spread < 3, "batches hold sentences of similar length"


def test_embedded_corpus_is_shipped_with_labels():
    root = default_corpus_dir()
    for split in ("train", "valid", "test"):
        sents = read_split(root / f"{split}.txt").sentences
        labels = read_labels_tsv(root / f"{split}.labels.tsv")
        assert len(sents) == len(labels) >= 1000
        assert set(labels[0]) == {"topic", "sentiment"}


def test_datamodule_max_len_and_vocab(tmp_path):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text("a b c\na b\na b c d e f\n", encoding="utf-8")
    dm = TextDataModule(DataConfig(name="t", dir=str(tmp_path), max_len=3))
    assert len(dm.split("train")) == 2 and len(dm.split("test")) == 3
    assert len(dm.vocab) == 4 + 6
    batches = list(dm.val_dataloader())
    assert sum(b.lengths.numel() for b in batches) == 3
