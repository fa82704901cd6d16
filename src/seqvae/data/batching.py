"""Padding and length-bucketed batching of encoded sentences."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import BatchSampler, Dataset, Sampler


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


def epoch_rng(sampler: Sampler) -> random.Random:
    """Random source of a sampler's current epoch, from its ``seed`` and ``epoch`` attributes.

    :class:`EpochShuffle` and torch's ``DistributedSampler`` both have them; other samplers
    count as seed 0, epoch 0.
    """
    return random.Random(getattr(sampler, "seed", 0) * 100_003 + getattr(sampler, "epoch", 0))


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

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        order = list(range(self.n))
        epoch_rng(self).shuffle(order)
        return iter(order)


class BucketBatchSampler(BatchSampler):
    """Batches of sentences of similar length.

    The ``sampler``'s order is cut into pools of ``pool_batches`` batches (one pool holding
    everything if ``None``), each pool is sorted by length and cut into batches; with
    ``shuffle_batches`` the batch order is shuffled by the sampler's ``(seed, epoch)``. With an
    :class:`EpochShuffle` everything is a function of ``(seed, epoch)``, so a resumed run sees
    the same batches, and :meth:`resume` skips those of an interrupted epoch already trained
    on. Under DDP, Lightning swaps in a ``DistributedSampler`` (same ``sampler`` argument).

    Args:
        sampler: the order of sentence indices.
        batch_size: sentences per batch.
        drop_last: drop a last, smaller batch.
        lengths: sentence lengths, by index.
        pool_batches: batches per sorted pool; ``None`` sorts the whole order (evaluation).
        shuffle_batches: shuffle the order of the batches.
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool = False,
        lengths: Sequence[int] = (),
        pool_batches: int | None = 50,
        shuffle_batches: bool = True,
    ):
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        super().__init__(sampler, batch_size, drop_last)
        self.lengths = lengths
        self.pool_batches = pool_batches
        self.shuffle_batches = shuffle_batches
        self._resume_at: tuple[int, int] | None = None

    def resume(self, epoch: int, batches_done: int) -> None:
        """Skip the first ``batches_done`` batches the next time ``epoch`` is iterated."""
        self._resume_at = (epoch, batches_done)

    def __iter__(self) -> Iterator[list[int]]:
        order = list(self.sampler)
        pool = len(order) if self.pool_batches is None else self.batch_size * self.pool_batches
        batches = []
        for start in range(0, len(order), max(pool, 1)):
            chunk = sorted(order[start : start + pool], key=lambda i: self.lengths[i])
            batches.extend(chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle_batches:
            epoch_rng(self.sampler).shuffle(batches)
        skip = 0
        if self._resume_at is not None and self._resume_at[0] == getattr(self.sampler, "epoch", 0):
            skip, self._resume_at = self._resume_at[1], None
        yield from batches[skip:]
