"""Posterior parameters of sentences under a trained model, and reading sentences to encode."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from seqvae.data.batching import make_batch
from seqvae.data.corpus import read_split
from seqvae.data.vocab import Vocabulary
from seqvae.models.vae import SequenceVAE


@torch.no_grad()
def encode_sentences(
    model: SequenceVAE, vocab: Vocabulary, sentences: Sequence[Sequence[str]], batch_size: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(mu, logvar)`` of ``q(z|x)`` for tokenised sentences, each ``(N, Z)`` on the CPU, in input order.

    Sentences are batched in input order (no bucketing), so row ``n`` belongs to ``sentences[n]``.
    Raises ``ValueError`` on an empty sentence: the encoder needs at least one word.
    """
    for n, sentence in enumerate(sentences):
        if not sentence:
            raise ValueError(f"sentence {n} is empty; the encoder needs at least one word")
    model.eval()
    device = next(model.parameters()).device
    mus, logvars = [], []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        batch = make_batch(list(enumerate(vocab.encode(s) for s in chunk)), vocab.pad_id, vocab.bos_id, vocab.eos_id)
        mu, logvar = model.encode(batch.tokens.to(device), batch.lengths.to(device))
        mus.append(mu.cpu())
        logvars.append(logvar.cpu())
    z_dim = model.z_dim
    if not mus:
        return torch.empty(0, z_dim), torch.empty(0, z_dim)
    return torch.cat(mus), torch.cat(logvars)


def read_sentences(path: str | Path, lowercase: bool = False) -> list[list[str]]:
    """Tokenised sentences of a one-sentence-per-line file, with the corpus readers' checks and errors."""
    return read_split(Path(path), lowercase=lowercase).sentences


def save_latents(path: str | Path, mu: torch.Tensor, logvar: torch.Tensor) -> None:
    """Write ``(N, 2, Z)`` float32 to ``path`` (``.npy``): ``[:, 0]`` posterior means, ``[:, 1]`` log-variances."""
    np.save(Path(path), torch.stack([mu, logvar], dim=1).numpy().astype(np.float32))
