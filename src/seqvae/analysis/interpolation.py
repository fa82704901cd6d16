"""Decoding along the line between two sentences' posterior means (SPEC section 6, Table 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqvae.analysis.latents import encode_sentences
from seqvae.data.vocab import Vocabulary
from seqvae.models.decoding import GREEDY, Decoding
from seqvae.models.vae import SequenceVAE


@dataclass
class Interpolation:
    """One source-target pair decoded at ``K`` points.

    Attributes:
        source, target: the tokenised end sentences.
        t: ``(K,)`` positions on the line, ``0`` (source) to ``1`` (target).
        z: ``(K, Z)`` decoded latents, ``(1 - t) * mu_source + t * mu_target``.
        sentences: ``K`` decoded sentences, tokenised.
    """

    source: list[str]
    target: list[str]
    t: torch.Tensor
    z: torch.Tensor
    sentences: list[list[str]]


def interpolation_points(steps: int) -> torch.Tensor:
    """``(K,)`` evenly spaced ``t`` from 0 to 1, both ends included (float64; cast to the latents' dtype when used)."""
    if steps < 2:
        raise ValueError(f"interpolation needs at least 2 steps (both ends), got {steps}")
    return torch.linspace(0.0, 1.0, steps, dtype=torch.float64)


def interpolate_latents(z_source: torch.Tensor, z_target: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """``(K, Z)`` convex combinations ``(1 - t) z_source + t z_target`` of ``(Z,)`` ends; exact at ``t`` = 0 and 1."""
    w = t.to(z_source).unsqueeze(1)
    return (1.0 - w) * z_source + w * z_target


def interpolate_pairs(
    model: SequenceVAE,
    vocab: Vocabulary,
    pairs: Sequence[tuple[Sequence[str], Sequence[str]]],
    steps: int,
    decoding: Decoding = GREEDY,
) -> list[Interpolation]:
    """Decode ``steps`` points between the posterior means of each ``(source, target)`` pair of tokenised sentences.

    All ``P * K`` latents are decoded in one batch, as ``decoding`` says; sampling draws from torch's global
    generator.
    """
    t = interpolation_points(steps)
    if not pairs:
        return []
    mu, _ = encode_sentences(model, vocab, [s for pair in pairs for s in pair])
    z = torch.stack([interpolate_latents(mu[2 * i], mu[2 * i + 1], t) for i in range(len(pairs))])
    device = next(model.parameters()).device
    ids = model.generate(z.flatten(0, 1).to(device), vocab.bos_id, vocab.eos_id, decoding)
    decoded = [vocab.decode(row) for row in ids]
    return [
        Interpolation(list(src), list(tgt), t, z[i], decoded[i * steps : (i + 1) * steps])
        for i, (src, tgt) in enumerate(pairs)
    ]


def interpolate(
    model: SequenceVAE,
    vocab: Vocabulary,
    source: Sequence[str],
    target: Sequence[str],
    steps: int,
    decoding: Decoding = GREEDY,
) -> Interpolation:
    """Decode ``steps`` points between the posterior means of two tokenised sentences (one pair of Table 3)."""
    return interpolate_pairs(model, vocab, [(source, target)], steps, decoding)[0]
