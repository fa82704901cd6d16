"""Dilated-CNN decoder p(x|z) (Yang et al. 2017, "Improved Variational Autoencoders for Text Modeling using
Dilated Convolutions", ICML).

Stacked causal 1-D convolutions with growing dilation over the input embeddings, in residual blocks, with ``z``
concatenated to every block's input. The dilation schedule sets the context the decoder sees, and so how much it
needs ``z``: Yang et al.'s small model SCNN, dilations ``[1, 2, 4]`` with kernel 3 (a context of 15 words), 512
channels, is the default (:data:`SCNN_DILATIONS`, :data:`SCNN_KERNEL`, :data:`SCNN_CHANNELS`); their MCNN is
``[1, 2, 4, 8, 16]``, LCNN ``[1, 2, 4, 8, 16] * 2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqvae.models.skip import LatentSkip

SCNN_CHANNELS = 512
SCNN_KERNEL = 3
SCNN_DILATIONS = (1, 2, 4)


def check_cnn_settings(channels: int, kernel: int, dilations, dropout: float, prefix: str = "") -> None:
    """Raise ``ValueError`` naming the setting (``prefix`` + ``cnn_*``) that is out of range."""
    if channels < 1:
        raise ValueError(f"{prefix}cnn_channels must be >= 1, got {channels}")
    if kernel < 2:
        raise ValueError(f"{prefix}cnn_kernel must be >= 2, got {kernel}")
    if len(dilations) == 0 or any(d < 1 for d in dilations):
        raise ValueError(f"{prefix}cnn_dilations must be a non-empty list of integers >= 1, got {list(dilations)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"{prefix}cnn_dropout must be in [0, 1), got {dropout}")


class ResidualBlock(nn.Module):
    """``x <- x + dropout(W_3 relu(conv_d(relu(W_1 [relu(x), z]))))`` on ``x (B, C, L)``.

    ``W_1`` (``C + Z -> C``) and ``W_3`` (``C -> C``) are 1x1 convolutions, ``conv_d`` the causal convolution of
    kernel ``k`` and dilation ``d`` (left padding ``(k - 1) d``): position ``t`` reads ``t, t - d, .., t - (k-1) d``.
    """

    def __init__(self, channels: int, z_dim: int, kernel: int, dilation: int, dropout: float):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.reduce = nn.Conv1d(channels + z_dim, channels, 1)
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation)
        self.expand = nn.Conv1d(channels, channels, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``x (B, C, L)``, ``z (B, Z)`` -> ``(B, C, L)``."""
        h = self.reduce(torch.cat([F.relu(x), z.unsqueeze(-1).expand(-1, -1, x.size(-1))], dim=1))
        h = self.conv(F.pad(F.relu(h), (self.pad, 0)))
        return x + self.dropout(self.expand(F.relu(h)))


class DilatedCNNDecoder(nn.Module):
    """Yang et al.'s (2017) dilated-CNN decoder: ``x = W_in e(x_{i-1})``, residual blocks with ``z`` at each,
    ``h = relu(x)``, then the output layer; ``h`` at position ``i`` predicts ``x_i`` from at most the last
    :attr:`receptive_field` inputs.

    ``step`` (generation) recomputes the teacher-forced pass over the last :attr:`receptive_field` inputs (the
    state is that window of past input embeddings, ``(B, <= R, E)``) and keeps its last position: exact, since
    the last output reads no position before the window, and simple; a cache of past activations would be faster.

    Args:
        emb_dim: input embedding size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
        channels: residual channels ``C`` (the output layer reads ``C``).
        kernel: convolution width ``k``.
        dilations: one residual block per dilation.
        dropout: dropout on each block's output before the residual sum, training only.
        skip_z: Skip-VAE's latent skip into the output layer (:class:`seqvae.models.skip.LatentSkip`).
    """

    def __init__(
        self,
        emb_dim: int,
        z_dim: int,
        vocab_size: int,
        channels: int = SCNN_CHANNELS,
        kernel: int = SCNN_KERNEL,
        dilations: tuple[int, ...] = SCNN_DILATIONS,
        dropout: float = 0.0,
        skip_z: bool = False,
    ):
        super().__init__()
        check_cnn_settings(channels, kernel, dilations, dropout)
        self.emb_dim = emb_dim
        self.receptive_field = 1 + (kernel - 1) * sum(dilations)
        self.input = nn.Conv1d(emb_dim, channels, 1)
        self.blocks = nn.ModuleList(ResidualBlock(channels, z_dim, kernel, d, dropout) for d in dilations)
        self.output = nn.Linear(channels, vocab_size)
        self.skip = LatentSkip(channels, z_dim) if skip_z else None

    def init_state(self, z: torch.Tensor) -> torch.Tensor:
        """The empty window of past inputs, ``(B, 0, E)``."""
        return z.new_zeros(z.size(0), 0, self.emb_dim)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, C)``."""
        x = self.input(inputs.transpose(1, 2))
        for block in self.blocks:
            x = block(x, z)
        hidden = F.relu(x).transpose(1, 2)
        return hidden if self.skip is None else self.skip(hidden, z)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``."""
        return self.output(self.hidden_states(inputs, z))

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the window of the last ``<= R`` inputs."""
        window = torch.cat([state, inp.unsqueeze(1)], dim=1)[:, -self.receptive_field :]
        return self.output(self.hidden_states(window, z)[:, -1]), window
