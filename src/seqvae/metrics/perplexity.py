"""Perplexity from a split's summed negative log-likelihood (SPEC section 4)."""

from __future__ import annotations

import math


def perplexity(total_nll: float, num_tokens: int) -> float:
    """``exp(sum(nll) / N_tokens)``; ``N_tokens`` counts every predicted token including ``</s>``."""
    return math.exp(total_nll / num_tokens)
