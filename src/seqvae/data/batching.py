"""Padding and length-bucketed batching of encoded sentences."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, Sampler


@dataclass
class Batch:
    """A padded batch.

    Attributes:
        tokens: ``(B, T_max + 2)`` ids of ``<s> x_1..x_T </s>``, right-padded with ``<pad>``.
        lengths: ``(B,)`` sentence lengths ``T`` (words only, no specials).
        index: ``(B,)`` positions of the sentences in their split.
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    index: torch.Tensor

    @property
    def num_tokens(self) -> int:
        """Predicted tokens, ``sum(T + 1)``: every word and ``</s>``."""
        return int(self.lengths.sum()) + self.lengths.numel()


class SentenceDataset(Dataset):
    """Encoded sentences (word ids without specials) of one split."""

    def __init__(self, sentences: Sequence[Sequence[int]]):
        self.sentences = sentences

    def __len__(self) -> int:
        return len(self.sentences)

    def __getitem__(self, i: int) -> tuple[int, Sequence[int]]:
        return i, self.sentences[i]


def make_batch(items: Sequence[tuple[int, Sequence[int]]], pad_id: int = 0, bos_id: int = 2, eos_id: int = 3) -> Batch:
    """Collate ``(index, ids)`` pairs into a :class:`Batch`."""
    width = max(len(ids) for _, ids in items) + 2
    tokens = torch.full((len(items), width), pad_id, dtype=torch.long)
    for row, (_, ids) in enumerate(items):
        tokens[row, : len(ids) + 2] = torch.tensor([bos_id, *ids, eos_id], dtype=torch.long)
    lengths = torch.tensor([len(ids) for _, ids in items], dtype=torch.long)
    index = torch.tensor([i for i, _ in items], dtype=torch.long)
    return Batch(tokens, lengths, index)


class EpochShuffle(Sampler[int]):
    """A permutation of ``range(n)`` that is a function of ``(seed, epoch)`` only.

    Lightning calls :meth:`set_epoch` on the sampler inside a batch sampler at every epoch start.
    """

    def __init__(self, n: int, seed: int = 0):
        self.n = n
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def rng(self) -> random.Random:
        """The random source of the current epoch."""
        return random.Random(self.seed * 100_003 + self.epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = list(range(self.n))
        self.rng().shuffle(order)
        return iter(order)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of sentences of similar length.

    Training (``shuffle=True``): the :class:`EpochShuffle` order is cut into pools of
    ``pool_batches`` batches, each pool is sorted by length and cut into batches, and the batch
    order is shuffled; everything is a function of ``(seed, epoch)``, so a resumed run sees the
    same batches, and :meth:`resume` skips those of an interrupted epoch already trained on.
    Evaluation (``shuffle=False``): sorted by length, deterministic.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0, pool_batches: int = 50):
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.lengths = lengths
        self.batch_size = batch_size
        self.sampler = EpochShuffle(len(lengths), seed) if shuffle else None
        self.pool_batches = pool_batches
        self._resume_at: tuple[int, int] | None = None

    def resume(self, epoch: int, batches_done: int) -> None:
        """Skip the first ``batches_done`` batches the next time ``epoch`` is iterated."""
        self._resume_at = (epoch, batches_done)

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def _cut(self, order: list[int]) -> list[list[int]]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        if self.sampler is None:
            yield from self._cut(sorted(range(len(self.lengths)), key=lambda i: self.lengths[i]))
            return
        order = list(self.sampler)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            batches.extend(self._cut(sorted(order[start : start + pool], key=lambda i: self.lengths[i])))
        self.sampler.rng().shuffle(batches)
        skip = 0
        if self._resume_at is not None and self._resume_at[0] == self.sampler.epoch:
            skip, self._resume_at = self._resume_at[1], None
        yield from batches[skip:]
