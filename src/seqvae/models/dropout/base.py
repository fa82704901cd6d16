"""What every decoder-input dropout shares (SPEC section 2): the mask's layout, ``K``, and the ``none`` method.

The mask acts on the decoder inputs ``<s> x_1..x_T``: only the ``T`` word positions ``1..T`` may be dropped,
never ``<s>`` and never padding. ``1`` keeps an input, ``0`` drops it. In evaluation mode every method keeps
everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class DropoutOutput:
    """What a dropout module returns for a batch.

    Attributes:
        mask: ``(B, L)`` float keep-mask over the decoder inputs.
        regulariser: ``(B,)`` adversary score regulariser ``R_psi`` per sentence (zeros otherwise).
        stats: scalar diagnostics for logging (AWD: :data:`seqvae.models.dropout.awd.DIAGNOSTICS`).
    """

    mask: torch.Tensor
    regulariser: torch.Tensor
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


def droppable(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """``(B, width)`` bool: the word positions ``1..T_b`` of each decoder input row."""
    pos = torch.arange(width, device=lengths.device).unsqueeze(0)
    return (pos >= 1) & (pos <= lengths.unsqueeze(1))


def drop_count(lengths: torch.Tensor, rate: float) -> torch.Tensor:
    """``K = round(R * T)`` per sentence, ``(B,)`` long."""
    return torch.round(rate * lengths.to(torch.float64)).long()


def check_rate(rate: float, name: str = "rate R") -> None:
    """``R`` must be in ``[0, 1)``: at 1 nothing would be left to read. ``name`` names it in the error."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {rate}")


class WordDropout(nn.Module):
    """The ``none`` method, and the base of the others: keeps every input. Subclasses override
    :meth:`training_mask`."""

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> DropoutOutput:
        """Keep-mask for decoder inputs ``tokens (B, L)`` of sentences with ``lengths (B,)`` words."""
        if not self.training:
            return self.keep_all(tokens)
        return self.training_mask(tokens, lengths)

    def keep_all(self, tokens: torch.Tensor) -> DropoutOutput:
        ones = torch.ones(tokens.shape, device=tokens.device)
        return DropoutOutput(ones, torch.zeros(tokens.size(0), device=tokens.device))

    def training_mask(self, tokens: torch.Tensor, lengths: torch.Tensor) -> DropoutOutput:
        return self.keep_all(tokens)
