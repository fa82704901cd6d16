"""The AWD adversary A_psi: a Gaussian score distribution per decoder input (SPEC section 2)."""

from __future__ import annotations

import torch
from torch import nn


class Adversary(nn.Module):
    """Own embedding -> unidirectional LSTM -> linear head giving ``(mu_i, logvar_i)`` of ``p_psi(s_i | x)``.

    Args:
        vocab_size: number of word types.
        emb_dim: embedding size.
        hidden_dim: LSTM hidden size.
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, 2)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Score distribution parameters for every position.

        Args:
            tokens: ``(B, L)`` decoder input ids ``<s> x_1..x_T`` (padded).

        Returns:
            ``mu`` and ``logvar``, each ``(B, L)``.
        """
        out, _ = self.lstm(self.embedding(tokens))
        mu, logvar = self.head(out).unbind(dim=-1)
        return mu, logvar
