"""KL divergence to the standard normal prior and its training-time variants (SPEC sections 1 and 3)."""

from __future__ import annotations

import torch


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise ``KL(N(mu, exp(logvar)) || N(0, 1)) = (mu^2 + exp(logvar) - 1 - logvar) / 2``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


#: Over what the free-bits floor holds: the batch mean of each dimension (Kingma et al. 2016), or each sentence's
#: own KL of each dimension (Li et al. 2019's KL thresholding, their code's ``fb=2``).
FREE_BITS_OVER = ("batch", "sentence")


def free_bits_kl(kl_per_dim: torch.Tensor, free_bits: float, over: str = "batch") -> torch.Tensor:
    """Free-bits KL: ``sum_d max(lambda, E_batch[KL_d])`` (Kingma et al. 2016), scaled per sentence, or with ``over
    = "sentence"`` each sentence's ``sum_d max(lambda, KL_d)`` (Li et al. 2019).

    Args:
        kl_per_dim: ``(B, Z)`` per-dimension KL of each sentence.
        free_bits: the floor ``lambda`` in nats per dimension; 0 disables it.
        over: ``batch`` or ``sentence`` (:data:`FREE_BITS_OVER`).

    Returns:
        ``(B,)`` per-sentence KL whose batch mean equals the free-bits objective. Terms below the floor carry
        no gradient.
    """
    if free_bits <= 0:
        return kl_per_dim.sum(dim=-1)
    if over == "sentence":
        return kl_per_dim.clamp_min(free_bits).sum(dim=-1)
    batch_mean = kl_per_dim.mean(dim=0, keepdim=True)
    below = batch_mean < free_bits
    clipped = torch.where(below, torch.full_like(kl_per_dim, free_bits), kl_per_dim)
    return clipped.sum(dim=-1)
