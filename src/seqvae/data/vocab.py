"""Word vocabulary with the special tokens ``<pad> <unk> <s> </s>`` (SPEC section 5)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<s>", "</s>"
SPECIALS = (PAD, UNK, BOS, EOS)


class Vocabulary:
    """Bidirectional word <-> id map; ids 0-3 are ``<pad> <unk> <s> </s>``.

    Args:
        words: every word type in id order, the four specials first.
    """

    pad_id, unk_id, bos_id, eos_id = range(4)

    def __init__(self, words: Sequence[str]):
        if tuple(words[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary must start with {SPECIALS}")
        if len(set(words)) != len(words):
            raise ValueError("vocabulary words must be unique")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], max_size: int | None = None, min_count: int = 1) -> Vocabulary:
        """Vocabulary of a training split: words seen at least ``min_count`` times, the ``max_size`` most frequent.

        ``max_size`` counts the specials; ties in frequency are broken alphabetically so the
        result does not depend on sentence order.
        """
        if min_count < 1:
            raise ValueError(f"data.min_count must be >= 1, got {min_count}")
        if max_size is not None and max_size <= len(SPECIALS):
            raise ValueError(f"data.max_vocab must exceed {len(SPECIALS)} (the specials), got {max_size}")
        counts = Counter(w for s in sentences for w in s)
        for special in SPECIALS:
            counts.pop(special, None)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIALS)]
        return cls([*SPECIALS, *ranked])

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, sentence: Sequence[str]) -> list[int]:
        """Word ids of a sentence (no specials added); unknown words map to ``<unk>``."""
        return [self.index.get(w, self.unk_id) for w in sentence]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words of ids."""
        return [self.words[i] for i in ids]
