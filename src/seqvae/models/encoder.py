"""Inference network q(z|x): LSTM over the sentence to a diagonal Gaussian (SPEC section 1)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: BN-VAE's gamma on the language-modelling corpora (Zhu et al. 2020, Table 2 reports gamma 0.6 and 0.7).
BN_VAE_GAMMA = 0.6


class MeanBatchNorm(nn.Module):
    """BN-VAE's batch normalisation of the posterior means (Zhu et al. 2020, "A Batch Normalized Inference Network
    Keeps the KL Vanishing Away", ACL): ``mu_d <- gamma (mu_d - m_d) / sqrt(s_d^2 + eps) + beta_d``.

    The scale ``gamma`` is fixed (a buffer, the same for every dimension), the shift ``beta (Z,)`` learned (named
    ``bias``, so initialised to 0), as in their code (a ``BatchNorm1d`` with its weight filled with gamma and frozen;
    ``eps = 1e-5``, momentum 0.1). In training ``m_d, s_d^2`` are the batch's mean and (biased) variance, so
    ``E_batch[mu_d^2] = gamma^2 s_d^2 / (s_d^2 + eps) + beta_d^2`` and, as ``sigma^2 - log sigma^2 - 1 >= 0``, the
    batch's expected KL to ``N(0, I)`` per dimension is at least ``(gamma^2 + beta_d^2) / 2`` (up to the ``eps``
    factor). In evaluation, and for a training batch of one sentence (which has no variance), the running
    statistics are used.

    Args:
        z_dim: latent size ``Z``.
        gamma: the fixed scale, ``> 0``.
    """

    EPS = 1e-5
    MOMENTUM = 0.1

    def __init__(self, z_dim: int, gamma: float):
        super().__init__()
        if not gamma > 0:
            raise ValueError(f"bn_gamma must be > 0 (or None for no BN-VAE), got {gamma}")
        self.register_buffer("gamma", torch.full((z_dim,), float(gamma)))
        self.bias = nn.Parameter(torch.zeros(z_dim))
        self.register_buffer("running_mean", torch.zeros(z_dim))
        self.register_buffer("running_var", torch.ones(z_dim))

    def forward(self, mu: torch.Tensor) -> torch.Tensor:
        """``mu (B, Z)`` -> normalised means ``(B, Z)``; updates the running statistics in training."""
        batch_stats = self.training and mu.size(0) > 1
        return F.batch_norm(
            mu, self.running_mean, self.running_var, self.gamma, self.bias, batch_stats, self.MOMENTUM, self.EPS
        )


class LSTMEncoder(nn.Module):
    """Embedding -> 1-layer LSTM -> hidden state at the last real token -> linear -> (mu, logvar).

    The LSTM runs over the padded batch in one fused call and each sentence's state is read at its own
    last position: a unidirectional LSTM's output at ``t`` depends only on inputs up to ``t``, so this equals
    running it on the unpadded sentence (a packed sequence computes the same, step by step, several times
    slower on CPU).

    Args:
        vocab_size: number of word types.
        emb_dim: word embedding size.
        hidden_dim: LSTM hidden size.
        z_dim: latent size.
        pad_id: padding index of the embedding.
        bn_gamma: BN-VAE's fixed scale (:class:`MeanBatchNorm`, module ``mu_bn``, only then); ``None``: off.
    """

    def __init__(
        self,
        vocab_size: int,
        emb_dim: int,
        hidden_dim: int,
        z_dim: int,
        pad_id: int = 0,
        bn_gamma: float | None = None,
    ):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.to_gaussian = nn.Linear(hidden_dim, 2 * z_dim)
        self.mu_bn = MeanBatchNorm(z_dim, bn_gamma) if bn_gamma is not None else None

    def forward(self, tokens: torch.Tensor, seq_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters.

        Args:
            tokens: ``(B, L)`` padded ids of ``<s> x_1..x_T </s>``.
            seq_lengths: ``(B,)`` unpadded lengths of those sequences (``T + 2``).

        Returns:
            ``mu`` and ``logvar``, each ``(B, z_dim)``.
        """
        states, _ = self.lstm(self.embedding(tokens))
        last = states[torch.arange(tokens.size(0), device=tokens.device), seq_lengths - 1]
        mu, logvar = self.to_gaussian(last).chunk(2, dim=-1)
        if self.mu_bn is not None:
            mu = self.mu_bn(mu)
        return mu, logvar
