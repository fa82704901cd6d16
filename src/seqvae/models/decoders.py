"""Autoregressive decoders p(x|z) (SPEC section 1).

Both decoders read input embeddings (already masked by the word dropout) and a latent ``z``
and return next-word logits. Each offers a teacher-forced ``forward`` over the whole
sequence and a one-step ``step`` for generation; both compute the same function.
"""

from __future__ import annotations

import torch
from torch import nn

State = tuple[torch.Tensor, torch.Tensor]


class _LatentInitDecoder(nn.Module):
    """Shared parts: the initial state from ``z`` (``h_0 = W z + b``, ``c_0 = 0``) and the output layer."""

    def __init__(self, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__()
        self.init_h = nn.Linear(z_dim, hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)

    def init_state(self, z: torch.Tensor) -> State:
        """Initial ``(h, c)``, each ``(B, H)``."""
        h = self.init_h(z)
        return h, torch.zeros_like(h)


class LSTMDecoder(_LatentInitDecoder):
    """Standard LSTM decoder (Bowman et al. 2016): ``h_0 = W z + b``, ``c_0 = 0``, input ``[e(x_{i-1}), z]``.

    Args:
        emb_dim: input embedding size.
        hidden_dim: LSTM hidden size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__(hidden_dim, z_dim, vocab_size)
        self.lstm = nn.LSTM(emb_dim + z_dim, hidden_dim, batch_first=True)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``."""
        h, c = self.init_state(z)
        x = torch.cat([inputs, z.unsqueeze(1).expand(-1, inputs.size(1), -1)], dim=-1)
        out, _ = self.lstm(x, (h.unsqueeze(0), c.unsqueeze(0)))
        return self.output(out)

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        h, c = state
        out, (h, c) = self.lstm(torch.cat([inp, z], dim=-1).unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0)))
        return self.output(out.squeeze(1)), (h.squeeze(0), c.squeeze(0))


class DoubleLSTMDecoder(_LatentInitDecoder):
    """The paper's decoder: per step, a *predict* cell on ``z`` then an *update* cell on ``[e(x_{i-1}), z]``.

    ``(h, c) <- predict(z, (h, c))``; ``(h, c) <- update([e(x_{i-1}), z], (h, c))``; ``h`` predicts
    ``x_i``. ``z`` thus reaches every step through a skip path (after Dieng et al. 2019).
    ``h_0 = W z + b``, ``c_0 = 0``.

    Args:
        emb_dim: input embedding size.
        hidden_dim: cell hidden size.
        z_dim: latent size.
        vocab_size: output vocabulary size.
    """

    def __init__(self, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int):
        super().__init__(hidden_dim, z_dim, vocab_size)
        self.predict = nn.LSTMCell(z_dim, hidden_dim)
        self.update = nn.LSTMCell(emb_dim + z_dim, hidden_dim)

    def _advance(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> State:
        state = self.predict(z, state)
        return self.update(torch.cat([inp, z], dim=-1), state)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``."""
        state = self.init_state(z)
        hidden = []
        for i in range(inputs.size(1)):
            state = self._advance(inputs[:, i], z, state)
            hidden.append(state[0])
        return self.output(torch.stack(hidden, dim=1))

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: ``inp (B, E)`` -> logits ``(B, V)`` and the next state."""
        state = self._advance(inp, z, state)
        return self.output(state[0]), state


DECODERS = {"lstm": LSTMDecoder, "double-lstm": DoubleLSTMDecoder}


def build_decoder(kind: str, emb_dim: int, hidden_dim: int, z_dim: int, vocab_size: int) -> nn.Module:
    """Decoder by name: ``lstm`` or ``double-lstm``."""
    if kind not in DECODERS:
        raise ValueError(f"unknown decoder {kind!r}; choose one of {sorted(DECODERS)}")
    return DECODERS[kind](emb_dim, hidden_dim, z_dim, vocab_size)
