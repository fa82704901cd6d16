"""Decoder-input word dropout: one interface, three modes (SPEC section 2).

The mask acts on the decoder inputs ``<s> x_1..x_T``: only the ``T`` word positions
``1..T`` may be dropped, never ``<s>`` and never padding. ``1`` keeps an input, ``0`` drops it.
In evaluation mode every mode keeps everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from seqvae.models.adversary import Adversary
from seqvae.models.topk import hard_topk_mask, reverse_gradient, straight_through_topk
from seqvae.objectives.kl import gaussian_kl

METHODS = ("none", "uniform", "adversarial")


@dataclass
class DropoutOutput:
    """What a dropout module returns for a batch.

    Attributes:
        mask: ``(B, L)`` float keep-mask over the decoder inputs.
        regulariser: ``(B,)`` adversary score regulariser ``R_psi`` per sentence (zeros otherwise).
        stats: scalar diagnostics for logging (AWD: score L1 norm and std).
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


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate R must be in [0, 1), got {rate}")


class WordDropout(nn.Module):
    """Base class: keeps every input. Subclasses override :meth:`training_mask`."""

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


class UniformDropout(WordDropout):
    """Word dropout of Bowman et al. (2016): each word input dropped independently with rate ``R``.

    With ``exact_k`` exactly ``K = round(R * T)`` positions, chosen uniformly, are dropped per
    sentence, matching the adversary's budget.
    """

    def __init__(self, rate: float, exact_k: bool = False):
        super().__init__()
        _check_rate(rate)
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


class AdversarialDropout(WordDropout):
    """Adversarial word dropout (AWD).

    Scores ``s_i = mu_i + sigma_i * eps_i`` from the adversary; the ``K = round(R * T)``
    lowest-scoring word inputs are dropped. The hard mask's gradient is the relaxed top-k's
    (temperature ``tau``) and is reversed on its way from the decoder, so one descent step makes
    the adversary *increase* the VAE loss. ``R_psi = lambda * sum_i KL(p_psi(s_i|x) || N(0,1))``
    is returned un-reversed, to be minimised by the adversary.
    """

    def __init__(self, adversary: Adversary, rate: float, tau: float = 1.0, lam: float = 1.0):
        super().__init__()
        _check_rate(rate)
        if tau <= 0:
            raise ValueError(f"AWD temperature tau must be > 0, got {tau}")
        if lam < 0:
            raise ValueError(f"AWD regulariser weight lambda must be >= 0, got {lam}")
        self.adversary = adversary
        self.rate = rate
        self.tau = tau
        self.lam = lam

    def training_mask(self, tokens: torch.Tensor, lengths: torch.Tensor) -> DropoutOutput:
        valid = droppable(lengths, tokens.size(1))
        mu, logvar = self.adversary(tokens)
        scores = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
        keep = straight_through_topk(scores, lengths - drop_count(lengths, self.rate), valid, self.tau)
        mask = reverse_gradient(keep) + (~valid).float()
        validf = valid.float()
        regulariser = self.lam * (gaussian_kl(mu, logvar) * validf).sum(dim=1)
        detached = scores.detach() * validf
        n = validf.sum(dim=1).clamp_min(1.0)
        mean = detached.sum(dim=1) / n
        var = ((detached - mean.unsqueeze(1)) ** 2 * validf).sum(dim=1) / n
        stats = {"score_l1": detached.abs().sum(dim=1).mean(), "score_std": var.sqrt().mean()}
        return DropoutOutput(mask, regulariser, stats)


def build_dropout(
    method: str,
    rate: float,
    vocab_size: int,
    exact_k: bool = False,
    tau: float = 1.0,
    lam: float = 1.0,
    adv_emb_dim: int = 256,
    adv_hidden_dim: int = 256,
) -> WordDropout:
    """Dropout module by method name: ``none``, ``uniform`` or ``adversarial``."""
    if method == "none":
        return WordDropout()
    if method == "uniform":
        return UniformDropout(rate, exact_k)
    if method == "adversarial":
        return AdversarialDropout(Adversary(vocab_size, adv_emb_dim, adv_hidden_dim), rate, tau, lam)
    raise ValueError(f"unknown dropout method {method!r}; choose one of {list(METHODS)}")
