"""Causal pre-LayerNorm Transformer decoder ``p(x|z)`` with the latent injected as in Optimus (Li et al. 2020).

The decoder reads the input embeddings the VAE passes in (already masked by the word dropout, so uniform dropout
and AWD act on it exactly as on the LSTM decoders), projected to ``d_model`` when the sizes differ, plus positions
(learned, or sinusoidal after Vaswani et al. 2017). Each block is pre-LayerNorm (Xiong et al. 2020):
``x <- x + Drop(Attn(LN(x)))``, ``x <- x + Drop(FF(LN(x)))`` with ``FF = W_2 GELU(W_1 . + b_1) + b_2``; a final
LayerNorm gives the hidden states. Attention runs through
:func:`torch.nn.functional.scaled_dot_product_attention` with ``is_causal``, so fused kernels apply.

Latent injection, the two ways of Optimus (Li et al. 2020, section 3.2):

- ``memory``: ``h_mem = W_M z`` in ``R^{N_layers * d_model}``, one vector ``h_mem^l`` per layer, which every
  position of layer ``l`` attends to as an extra key and value (``k = v = h_mem^l``, split into heads) placed
  before the words: a memory slot visible to all positions, while the words stay causal among themselves.
- ``embedding``: ``h_emb = W_D z`` in ``R^{d_model}`` added to every input embedding.
- ``both``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

POSITIONS = ("learned", "sinusoidal")
LATENT_INJECTIONS = ("memory", "embedding", "both")


@dataclass
class KVCache:
    """Generation state of :class:`TransformerDecoder`.

    Attributes:
        keys, values: per layer ``(B, heads, S, d_head)``: the ``S`` positions read so far, the memory slot first
            (with ``memory`` injection).
        position: the next word position (the number of words read).
    """

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    position: int


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """``(length, dim)``: ``PE[p, 2i] = sin(p / 10000^(2i/dim))``, ``PE[p, 2i+1] = cos(p / 10000^(2i/dim))``."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    angle = position * torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)[:, : dim // 2]
    return table


class TransformerBlock(nn.Module):
    """One pre-LayerNorm block: causal multi-head self-attention, then a feed-forward layer, each residual."""

    def __init__(self, d_model: int, heads: int, ff_dim: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.attn_dropout = dropout
        self.attn_norm = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.attn_out = nn.Linear(d_model, d_model)
        self.ff_norm = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, ff_dim), nn.GELU(), nn.Linear(ff_dim, d_model))
        self.drop = nn.Dropout(dropout)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, S, d_model)`` -> ``(B, heads, S, d_head)``."""
        return x.view(x.size(0), x.size(1), self.heads, -1).transpose(1, 2)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool) -> torch.Tensor:
        p = self.attn_dropout if self.training else 0.0
        return F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=causal)

    def _residuals(self, x: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """The attention output ``(B, heads, L, d_head)`` merged, projected and added to ``x (B, L, d)``, then the
        feed-forward sub-layer."""
        x = x + self.drop(self.attn_out(attended.transpose(1, 2).reshape(x.shape)))
        return x + self.drop(self.ff(self.ff_norm(x)))

    def forward(self, x: torch.Tensor, memory: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher-forced: ``x (B, L, d)``, ``memory (B, d)`` or ``None`` -> ``(B, L, d)``.

        With a memory slot, the keys and values are ``[h_mem, k_1..k_L]`` and the queries get a zero row in front
        (its output is dropped): one square causal mask over ``L + 1`` then lets word ``i`` see the slot and the
        words ``<= i``, and keeps ``is_causal`` (the fused kernels) in use.
        """
        q, k, v = (self.split_heads(t) for t in self.qkv(self.attn_norm(x)).chunk(3, dim=-1))
        if memory is not None:
            slot = self.split_heads(memory.unsqueeze(1))
            k, v = torch.cat([slot, k], dim=2), torch.cat([slot, v], dim=2)
            q = torch.cat([torch.zeros_like(q[:, :, :1]), q], dim=2)
        attended = self._attend(q, k, v, causal=True)
        if memory is not None:
            attended = attended[:, :, 1:]
        return self._residuals(x, attended)

    def step(
        self, x: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One position: ``x (B, 1, d)``, the cache ``keys, values (B, heads, S, d_head)`` -> ``(B, 1, d)`` and the
        cache with this position appended (``S + 1``). The new position is the last, so it sees the whole cache."""
        q, k, v = (self.split_heads(t) for t in self.qkv(self.attn_norm(x)).chunk(3, dim=-1))
        keys, values = torch.cat([keys, k], dim=2), torch.cat([values, v], dim=2)
        return self._residuals(x, self._attend(q, keys, values, causal=False)), keys, values


class TransformerDecoder(nn.Module):
    """Causal pre-LayerNorm Transformer decoder with Optimus latent injection (Li et al. 2020; module docstring).

    Args:
        emb_dim: input embedding size ``E`` (projected to ``d_model`` when different).
        hidden_dim: the model width ``d_model`` (``H``).
        z_dim: latent size.
        vocab_size: output vocabulary size.
        layers, heads, ff_dim: blocks, attention heads (dividing ``d_model``) and feed-forward size.
        dropout: rate in ``[0, 1)`` on the input sum, the attention weights and each residual branch (training).
        positions: ``learned`` (an embedding table) or ``sinusoidal`` (fixed).
        max_len: the most positions the decoder reads.
        latent_injection: ``memory``, ``embedding`` or ``both``.
    """

    def __init__(
        self,
        emb_dim: int,
        hidden_dim: int,
        z_dim: int,
        vocab_size: int,
        layers: int = 4,
        heads: int = 4,
        ff_dim: int = 1024,
        dropout: float = 0.1,
        positions: str = "learned",
        max_len: int = 512,
        latent_injection: str = "memory",
    ):
        super().__init__()
        check_transformer_settings(hidden_dim, layers, heads, ff_dim, dropout, positions, max_len, latent_injection)
        self.layers, self.heads, self.max_len = layers, heads, max_len
        self.input_proj = nn.Linear(emb_dim, hidden_dim) if emb_dim != hidden_dim else None
        if positions == "learned":
            self.position_embedding = nn.Embedding(max_len, hidden_dim)
        else:
            self.position_embedding = None
            self.register_buffer("position_table", sinusoidal_positions(max_len, hidden_dim), persistent=False)
        use_memory = latent_injection in ("memory", "both")
        use_embedding = latent_injection in ("embedding", "both")
        self.latent_memory = nn.Linear(z_dim, layers * hidden_dim) if use_memory else None
        self.latent_embedding = nn.Linear(z_dim, hidden_dim) if use_embedding else None
        self.input_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(TransformerBlock(hidden_dim, heads, ff_dim, dropout) for _ in range(layers))
        self.final_norm = nn.LayerNorm(hidden_dim)
        self.output = nn.Linear(hidden_dim, vocab_size)

    def _embed(self, inputs: torch.Tensor, z: torch.Tensor, start: int) -> torch.Tensor:
        """Block input ``(B, L, d)``: projected ``inputs (B, L, E)`` + positions ``start..start+L-1`` (+ ``W_D z``)."""
        end = start + inputs.size(1)
        if end > self.max_len:
            raise ValueError(
                f"the transformer decoder reads at most {self.max_len} positions (model.tf_max_len), got {end}"
            )
        x = self.input_proj(inputs) if self.input_proj is not None else inputs
        if self.position_embedding is not None:
            x = x + self.position_embedding.weight[start:end]
        else:
            x = x + self.position_table[start:end].to(x.dtype)
        if self.latent_embedding is not None:
            x = x + self.latent_embedding(z).unsqueeze(1)
        return self.input_dropout(x)

    def _memories(self, z: torch.Tensor) -> list[torch.Tensor | None]:
        """Per layer the memory vector ``h_mem^l (B, d)`` of ``z (B, Z)``, or ``None`` without memory injection."""
        if self.latent_memory is None:
            return [None] * self.layers
        return list(self.latent_memory(z).view(z.size(0), self.layers, -1).unbind(1))

    def init_state(self, z: torch.Tensor) -> KVCache:
        """The cache before the first word: per layer the memory slot's key and value ``(B, heads, 1, d_head)``
        (``k = v = h_mem^l``), or nothing (``S = 0``) without memory injection; position 0."""
        keys = []
        for block, memory in zip(self.blocks, self._memories(z), strict=True):
            if memory is None:
                d_head = self.output.in_features // self.heads
                keys.append(z.new_zeros(z.size(0), self.heads, 0, d_head))
            else:
                keys.append(block.split_heads(memory.unsqueeze(1)))
        return KVCache(keys, list(keys), 0)

    def hidden_states(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced top states: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, H)``, after the final LayerNorm."""
        x = self._embed(inputs, z, 0)
        for block, memory in zip(self.blocks, self._memories(z), strict=True):
            x = block(x, memory)
        return self.final_norm(x)

    def forward(self, inputs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits: ``inputs (B, L, E)``, ``z (B, Z)`` -> ``(B, L, V)``."""
        return self.output(self.hidden_states(inputs, z))

    def step(self, inp: torch.Tensor, z: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        """One position: ``inp (B, E)`` -> logits ``(B, V)`` and the cache with the position appended."""
        x = self._embed(inp.unsqueeze(1), z, state.position)
        keys, values = [], []
        for block, k, v in zip(self.blocks, state.keys, state.values, strict=True):
            x, k, v = block.step(x, k, v)
            keys.append(k)
            values.append(v)
        return self.output(self.final_norm(x).squeeze(1)), KVCache(keys, values, state.position + 1)


def check_transformer_settings(
    d_model: int | None,
    layers: int,
    heads: int,
    ff_dim: int,
    dropout: float,
    positions: str,
    max_len: int,
    latent_injection: str,
    prefix: str = "",
) -> None:
    """Raise :class:`ValueError` naming the first bad setting by its config key (after ``prefix``, ``model.``).

    ``d_model``: the width the heads must divide, or ``None`` to skip that check (another decoder's config).
    """
    checks = (
        (layers >= 1, f"{prefix}tf_layers must be >= 1, got {layers}"),
        (heads >= 1, f"{prefix}tf_heads must be >= 1, got {heads}"),
        (
            d_model is None or d_model % max(heads, 1) == 0,
            f"{prefix}tf_heads ({heads}) must divide d_model ({d_model}, dec_hidden)",
        ),
        (ff_dim >= 1, f"{prefix}tf_ff must be >= 1, got {ff_dim}"),
        (0.0 <= dropout < 1.0, f"{prefix}tf_dropout must be in [0, 1), got {dropout}"),
        (positions in POSITIONS, f"{prefix}tf_positions must be one of {POSITIONS}, got {positions!r}"),
        (max_len >= 1, f"{prefix}tf_max_len must be >= 1, got {max_len}"),
        (
            latent_injection in LATENT_INJECTIONS,
            f"{prefix}latent_injection must be one of {LATENT_INJECTIONS}, got {latent_injection!r}",
        ),
    )
    for ok, message in checks:
        if not ok:
            raise ValueError(message)
