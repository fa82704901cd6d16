"""Adversarial word dropout (AWD), the ``awd`` method (SPEC section 2): the adversary, its score
distribution, the dropout module, and what it would drop.

The adversary ``A_psi`` gives every decoder input a Gaussian score ``N(mu_i, sigma_i^2)``; training drops
the ``K = round(R * T)`` word positions with the lowest sampled scores ``s_i = mu_i + sigma_i * eps_i``.
``<s>`` (position 0) is scored but never dropped; ``</s>`` is never a decoder input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from seqvae.models.dropout.base import DropoutOutput, WordDropout, check_rate, drop_count, droppable
from seqvae.models.dropout.topk import hard_topk_mask, reverse_gradient, straight_through_topk
from seqvae.objectives.kl import gaussian_kl

# The training diagnostics of :meth:`AdversarialWordDropout.diagnostics`, logged as ``train/<name>``.
DIAGNOSTICS = ("score_l1", "score_std", "score_snr", "drop_agreement", "drop_agreement_uniform")


def check_awd_settings(tau: float, lam: float, score_scale: float | None, prefix: str = "") -> None:
    """Valid AWD settings: temperature ``tau > 0``, regulariser weight ``lam >= 0``, fixed score scale ``> 0``
    (or ``None``: learned). ``prefix`` names the settings as the caller knows them (``dropout.``)."""
    if tau <= 0:
        raise ValueError(f"{prefix}tau must be > 0, got {tau}")
    if lam < 0:
        raise ValueError(f"{prefix}lam must be >= 0, got {lam}")
    if score_scale is not None and score_scale <= 0:
        raise ValueError(f"{prefix}score_scale must be > 0, got {score_scale}")


class Adversary(nn.Module):
    """Own embedding -> unidirectional LSTM -> linear head giving ``(mu_i, logvar_i)`` of ``p_psi(s_i | x)``.

    Args:
        vocab_size: number of word types.
        emb_dim: embedding size.
        hidden_dim: LSTM hidden size.
        head_bias: whether the head has a bias (the original code's, with a fixed sigma, has none).
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, pad_id: int = 0, head_bias: bool = True):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, 2, bias=head_bias)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` and ``logvar``, each ``(B, L)``, for decoder input ids ``tokens (B, L)`` (``<s> x_1..x_T``)."""
        out, _ = self.lstm(self.embedding(tokens))
        mu, logvar = self.head(out).unbind(dim=-1)
        return mu, logvar


@dataclass
class DropStatistics:
    """What the adversary would drop in a batch of decoder inputs, each tensor ``(B, L)`` unless said.

    Attributes:
        mu, sigma: the score distribution per position.
        valid: the droppable word positions ``1..T``.
        k: ``(B,)`` ``K = round(R * T)``.
        drop_prob: share of independent score draws that drop the position (a row sums to ``K``); with one
            draw, that draw's 0/1 choice.
        mean_drop: the ``K`` word positions with the lowest ``mu``: what the adversary drops on average.
    """

    mu: torch.Tensor
    sigma: torch.Tensor
    valid: torch.Tensor
    k: torch.Tensor
    drop_prob: torch.Tensor
    mean_drop: torch.Tensor

    @property
    def normalised(self) -> torch.Tensor:
        """``(mu_i - m) / s`` with the mean ``m`` and population std ``s`` of ``mu`` over the word positions
        (Table 2); 0 where ``s = 0``."""
        validf = self.valid.float()
        lengths = validf.sum(dim=1, keepdim=True)
        mean = (self.mu * validf).sum(dim=1, keepdim=True) / lengths
        std = (((self.mu - mean) * validf) ** 2).sum(dim=1, keepdim=True).div(lengths).sqrt()
        return torch.where(std > 0, (self.mu - mean) / std, torch.zeros_like(self.mu))


class AdversarialWordDropout(WordDropout):
    """AWD: the ``K = round(R * T)`` lowest-scoring word inputs are dropped.

    The hard mask's gradient is the relaxed top-k's (temperature ``tau``) and is reversed on its way from the
    decoder, so one descent step makes the adversary *increase* the VAE loss.
    ``R_psi = lambda * sum_i KL(p_psi(s_i|x) || N(0,1))`` is returned un-reversed, to be minimised by the
    adversary. With ``score_scale`` set, ``sigma_i`` is that constant instead of the adversary's learned one
    (the regulariser then pulls only the means toward 0).
    """

    def __init__(
        self, adversary: Adversary, rate: float, tau: float = 1.0, lam: float = 1.0, score_scale: float | None = None
    ):
        super().__init__()
        check_rate(rate)
        check_awd_settings(tau, lam, score_scale)
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
        stats = self.diagnostics(mu.detach(), sigma.detach(), scores.detach(), keep.detach(), lengths)
        return DropoutOutput(mask, regulariser, stats)

    @torch.no_grad()
    def drop_statistics(
        self, tokens: torch.Tensor, lengths: torch.Tensor, samples: int = 1000, generator: torch.Generator | None = None
    ) -> DropStatistics:
        """What the adversary drops in decoder inputs ``tokens (B, L)`` of sentences of ``lengths (B,)`` words,
        from ``samples`` independent score draws (of ``generator``, or torch's global one)."""
        mu, logvar = self.score_distribution(tokens)
        return self.statistics_of(mu, (0.5 * logvar).exp(), lengths, samples, generator)

    @torch.no_grad()
    def statistics_of(
        self,
        mu: torch.Tensor,
        sigma: torch.Tensor,
        lengths: torch.Tensor,
        samples: int = 1000,
        generator: torch.Generator | None = None,
    ) -> DropStatistics:
        """:meth:`drop_statistics` of a score distribution ``mu, sigma (B, L)`` already computed."""
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        valid = droppable(lengths, mu.size(1))
        k = drop_count(lengths, self.rate)
        n_keep = lengths - k
        eps = torch.randn((samples, *mu.shape), generator=generator, device=mu.device, dtype=mu.dtype)
        draws = (mu + sigma * eps).flatten(0, 1)
        keep = hard_topk_mask(draws, n_keep.repeat(samples), valid.repeat(samples, 1)).view(samples, *mu.shape)
        drop_prob = (valid & (keep == 0)).to(mu.dtype).mean(dim=0)
        mean_drop = valid & (hard_topk_mask(mu, n_keep, valid) == 0)
        return DropStatistics(mu, sigma, valid, k, drop_prob, mean_drop)

    @torch.no_grad()
    def diagnostics(
        self, mu: torch.Tensor, sigma: torch.Tensor, scores: torch.Tensor, keep: torch.Tensor, lengths: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """How far this draw's choice ``keep`` of ``scores`` is from uniform dropout (:data:`DIAGNOSTICS`),
        batch means of per-sentence values.

        ``score_l1`` and ``score_std``: L1 norm and standard deviation of a sentence's sampled scores (Figure 3).
        ``score_snr``: mean ``|mu_i| / sigma_i``; near 0 the noise decides and AWD is uniform dropout.
        ``drop_agreement``: share of this draw's dropped words that a second, independent draw of the
        scores drops too, over the batch; ``drop_agreement_uniform`` is its expectation under uniform
        exact-K dropout, ``sum_b K_b^2 / T_b / sum_b K_b``. Both are 0 when nothing is dropped.
        """
        valid = droppable(lengths, mu.size(1))
        validf = valid.float()
        n = validf.sum(dim=1).clamp_min(1.0)
        masked = scores * validf
        mean = masked.sum(dim=1) / n
        var = ((masked - mean.unsqueeze(1)) ** 2 * validf).sum(dim=1) / n
        snr = ((mu.abs() / sigma) * validf).sum(dim=1) / n
        second = self.statistics_of(mu, sigma, lengths, samples=1)
        dropped = (1.0 - keep) * validf
        k = dropped.sum(dim=1)
        total = k.sum().clamp_min(1.0)
        values = (
            masked.abs().sum(dim=1).mean(),
            var.sqrt().mean(),
            snr.mean(),
            (dropped * second.drop_prob).sum() / total,
            (k * k / lengths.clamp_min(1).float()).sum() / total,
        )
        return dict(zip(DIAGNOSTICS, values, strict=True))
