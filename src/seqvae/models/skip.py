"""Skip-VAE's latent skip into the output layer (Dieng et al. 2019, "Avoiding Latent Variable Collapse with
Generative Skip Models", AISTATS)."""

from __future__ import annotations

import torch
from torch import nn


class LatentSkip(nn.Module):
    """The output layer's input ``[h, z]`` through a projection: ``h' = W [h, z] + b``, ``W (H, H + Z)``.

    A decoder with the skip applies the (unchanged) output layer to ``h'``, so the logits are
    ``W_o (W_h h + W_z z) + b_o``: ``z`` reaches every prediction whatever the recurrence does with it (Dieng et
    al.'s skip into the last layer, the output layer reading ``[h, z]``, its weight factorised through ``H``).

    Args:
        hidden_dim: decoder state size ``H`` (also the output size, what the output layer reads).
        z_dim: latent size ``Z``.
    """

    def __init__(self, hidden_dim: int, z_dim: int):
        super().__init__()
        self.proj = nn.Linear(hidden_dim + z_dim, hidden_dim)

    def forward(self, hidden: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``hidden (B, H)`` or ``(B, L, H)``, ``z (B, Z)`` -> ``h'`` of ``hidden``'s shape."""
        if hidden.dim() == 3:
            z = z.unsqueeze(1).expand(-1, hidden.size(1), -1)
        return self.proj(torch.cat([hidden, z.to(hidden.dtype)], dim=-1))
