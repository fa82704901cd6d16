"""Decoder-input word dropout: one interface, three modes (SPEC section 2).

The mask acts on the decoder inputs ``<s> x_1..x_T``: only the ``T`` word positions
``1..T`` may be dropped, never ``<s>`` and never padding. ``1`` keeps an input, ``0`` drops it.
In evaluation mode every mode keeps everything.
"""

from __future__ import annotations

import math
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
        stats: scalar diagnostics for logging (AWD: see :meth:`AdversarialDropout.diagnostics`).
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

    With ``score_scale`` set, ``sigma_i`` is that constant instead of the adversary's learned one
    (the regulariser then pulls only the means toward 0).
    """

    def __init__(
        self, adversary: Adversary, rate: float, tau: float = 1.0, lam: float = 1.0, score_scale: float | None = None
    ):
        super().__init__()
        _check_rate(rate)
        if tau <= 0:
            raise ValueError(f"AWD temperature tau must be > 0, got {tau}")
        if lam < 0:
            raise ValueError(f"AWD regulariser weight lambda must be >= 0, got {lam}")
        if score_scale is not None and score_scale <= 0:
            raise ValueError(f"AWD fixed score scale must be > 0, got {score_scale}")
        self.adversary = adversary
        self.rate = rate
        self.tau = tau
        self.lam = lam
        self.score_scale = score_scale

    def score_distribution(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` and ``logvar`` of ``p_psi(s_i|x)``, each ``(B, L)``; ``logvar`` is constant with a fixed scale."""
        mu, logvar = self.adversary(tokens)
        if self.score_scale is not None:
            logvar = torch.full_like(mu, 2.0 * math.log(self.score_scale))
        return mu, logvar

    def training_mask(self, tokens: torch.Tensor, lengths: torch.Tensor) -> DropoutOutput:
        valid = droppable(lengths, tokens.size(1))
        mu, logvar = self.score_distribution(tokens)
        sigma = (0.5 * logvar).exp()
        scores = mu + sigma * torch.randn_like(mu)
        n_keep = lengths - drop_count(lengths, self.rate)
        keep = straight_through_topk(scores, n_keep, valid, self.tau)
        mask = reverse_gradient(keep) + (~valid).float()
        regulariser = self.lam * (gaussian_kl(mu, logvar) * valid.float()).sum(dim=1)
        stats = self.diagnostics(mu.detach(), sigma.detach(), scores.detach(), keep.detach(), n_keep, lengths, valid)
        return DropoutOutput(mask, regulariser, stats)

    @staticmethod
    @torch.no_grad()
    def diagnostics(
        mu: torch.Tensor,
        sigma: torch.Tensor,
        scores: torch.Tensor,
        keep: torch.Tensor,
        n_keep: torch.Tensor,
        lengths: torch.Tensor,
        valid: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """How far the adversary's choices are from uniform dropout, batch means of per-sentence values.

        ``score_l1`` and ``score_std``: L1 norm and standard deviation of a sentence's sampled scores (Figure 3).
        ``score_snr``: mean ``|mu_i| / sigma_i``; near 0 the noise decides and AWD is uniform dropout.
        ``drop_agreement``: share of this draw's dropped words that a second, independent draw of the
        scores drops too, over the batch; ``drop_agreement_uniform`` is its expectation under uniform
        exact-K dropout, ``sum_b K_b^2 / T_b / sum_b K_b``. Both are 0 when nothing is dropped.
        """
        validf = valid.float()
        n = validf.sum(dim=1).clamp_min(1.0)
        masked = scores * validf
        mean = masked.sum(dim=1) / n
        var = ((masked - mean.unsqueeze(1)) ** 2 * validf).sum(dim=1) / n
        snr = ((mu.abs() / sigma) * validf).sum(dim=1) / n
        second = hard_topk_mask(mu + sigma * torch.randn_like(mu), n_keep, valid)
        dropped, dropped_again = (1.0 - keep) * validf, (1.0 - second) * validf
        k = dropped.sum(dim=1)
        total = k.sum().clamp_min(1.0)
        return {
            "score_l1": masked.abs().sum(dim=1).mean(),
            "score_std": var.sqrt().mean(),
            "score_snr": snr.mean(),
            "drop_agreement": (dropped * dropped_again).sum() / total,
            "drop_agreement_uniform": (k * k / lengths.clamp_min(1).float()).sum() / total,
        }


def build_dropout(
    method: str,
    rate: float,
    vocab_size: int,
    exact_k: bool = False,
    tau: float = 1.0,
    lam: float = 1.0,
    adv_emb_dim: int = 256,
    adv_hidden_dim: int = 256,
    score_scale: float | None = None,
) -> WordDropout:
    """Dropout module by method name: ``none``, ``uniform`` or ``adversarial``."""
    if method == "none":
        return WordDropout()
    if method == "uniform":
        return UniformDropout(rate, exact_k)
    if method == "adversarial":
        return AdversarialDropout(Adversary(vocab_size, adv_emb_dim, adv_hidden_dim), rate, tau, lam, score_scale)
    raise ValueError(f"unknown dropout method {method!r}; choose one of {list(METHODS)}")
