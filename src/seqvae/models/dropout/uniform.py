"""Uniform word dropout (Bowman et al. 2016), the ``uniform`` method (SPEC section 2)."""

from __future__ import annotations

import torch

from seqvae.models.dropout.base import DropoutOutput, WordDropout, check_rate, drop_count, droppable
from seqvae.models.dropout.topk import hard_topk_mask


class UniformDropout(WordDropout):
    """Each word input dropped independently with rate ``R``.

    With ``exact_k`` exactly ``K = round(R * T)`` positions, chosen uniformly, are dropped per
    sentence, matching the adversary's budget.
    """

    def __init__(self, rate: float, exact_k: bool = False):
        super().__init__()
        check_rate(rate)
        self.rate = rate
        self.exact_k = exact_k

    def training_mask(self, tokens: torch.Tensor, lengths: torch.Tensor) -> DropoutOutput:
        valid = droppable(lengths, tokens.size(1))
        if self.exact_k:
            keep = hard_topk_mask(
                torch.rand(tokens.shape, device=tokens.device), lengths - drop_count(lengths, self.rate), valid
            )
        else:
            keep = (torch.rand(tokens.shape, device=tokens.device) >= self.rate).float() * valid
        mask = keep + (~valid).float()
        return DropoutOutput(mask, torch.zeros(tokens.size(0), device=tokens.device))
