"""Inference network q(z|x): LSTM over the sentence to a diagonal Gaussian (SPEC section 1)."""

from __future__ import annotations

import torch
from torch import nn


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
        states, _ = self.lstm(self.embedding(tokens))
        last = states[torch.arange(tokens.size(0), device=tokens.device), seq_lengths - 1]
        mu, logvar = self.to_gaussian(last).chunk(2, dim=-1)
        return mu, logvar
