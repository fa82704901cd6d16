"""Inference network q(z|x): LSTM over the sentence to a diagonal Gaussian (SPEC section 1)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class LSTMEncoder(nn.Module):
    """Embedding -> 1-layer LSTM -> last hidden state -> linear -> (mu, logvar).

    Args:
        vocab_size: number of word types.
        emb_dim: word embedding size.
        hidden_dim: LSTM hidden size.
        z_dim: latent size.
        pad_id: padding index of the embedding.
    """

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, z_dim: int, pad_id: int = 0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, emb_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.to_gaussian = nn.Linear(hidden_dim, 2 * z_dim)

    def forward(self, tokens: torch.Tensor, seq_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters.

        Args:
            tokens: ``(B, L)`` padded ids of ``<s> x_1..x_T </s>``.
            seq_lengths: ``(B,)`` unpadded lengths of those sequences (``T + 2``).

        Returns:
            ``mu`` and ``logvar``, each ``(B, z_dim)``.
        """
        packed = pack_padded_sequence(self.embedding(tokens), seq_lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)
        mu, logvar = self.to_gaussian(h_n[-1]).chunk(2, dim=-1)
        return mu, logvar
