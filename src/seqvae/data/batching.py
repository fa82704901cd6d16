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


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of sentences of similar length.

    Training: the split is shuffled, cut into pools of ``pool_batches`` batches, each pool is
    sorted by length and cut into batches, and the batch order is shuffled; the order is a
    function of ``(seed, epoch)`` only, so a resumed run sees the same batches. Evaluation
    (``shuffle=False``): sorted by length, deterministic.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool, seed: int = 0, pool_batches: int = 50):
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        self.lengths = lengths
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.pool_batches = pool_batches
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Called by Lightning at the start of every epoch."""
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def _cut(self, order: list[int]) -> list[list[int]]:
        return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]

    def __iter__(self) -> Iterator[list[int]]:
        if not self.shuffle:
            yield from self._cut(sorted(range(len(self.lengths)), key=lambda i: self.lengths[i]))
            return
        rng = random.Random(self.seed * 100_003 + self.epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        pool = self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), pool):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(self._cut(chunk))
        rng.shuffle(batches)
        yield from batches
