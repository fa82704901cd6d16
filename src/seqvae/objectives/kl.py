"""KL divergence to the standard normal prior and its training-time variants (SPEC sections 1 and 3)."""

from __future__ import annotations

import torch


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise ``KL(N(mu, exp(logvar)) || N(0, 1)) = (mu^2 + exp(logvar) - 1 - logvar) / 2``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float) -> torch.Tensor:
    """Free-bits KL (Kingma et al. 2016): ``sum_d max(lambda, E_batch[KL_d])``, scaled per sentence.

    Args:
        kl_per_dim: ``(B, Z)`` per-dimension KL of each sentence.
        free_bits: the floor ``lambda`` in nats per dimension; 0 disables it.

    Returns:
        ``(B,)`` per-sentence KL whose batch mean equals the free-bits objective. Dimensions
        below the floor carry no gradient.
    """
    if free_bits <= 0:
        return kl_per_dim.sum(dim=-1)
    batch_mean = kl_per_dim.mean(dim=0, keepdim=True)
    below = batch_mean < free_bits
    clipped = torch.where(below, torch.full_like(kl_per_dim, free_bits), kl_per_dim)
    return clipped.sum(dim=-1)
