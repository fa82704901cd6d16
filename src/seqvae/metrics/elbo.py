"""Per-sentence ELBO terms on a split and perplexity from them (SPEC section 4)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from seqvae.data.batching import Batch
from seqvae.models.vae import SequenceVAE
from seqvae.objectives.kl import gaussian_kl


def perplexity(total_nll: float, num_tokens: int) -> float:
    """``exp(sum(nll) / N_tokens)``; ``N_tokens`` counts every predicted token including ``</s>``."""
    return math.exp(total_nll / num_tokens)


@dataclass
class ELBOResult:
    """Split totals of the one-sample ELBO terms.

    Attributes:
        rec: ``-E_q[log p(x|z)]`` per sentence (mean over sentences, ``samples`` draws of z each).
        kl: closed-form ``KL(q(z|x)||p(z))`` per sentence (mean).
        nelbo: ``rec + kl`` per sentence (mean).
        ppl_elbo: ``exp(sum(-elbo) / N_tokens)``.
        sentences, tokens: counts; ``tokens`` includes one ``</s>`` per sentence.
        samples: z draws per sentence behind ``rec``.
    """

    rec: float
    kl: float
    nelbo: float
    ppl_elbo: float
    sentences: int
    tokens: int
    samples: int


@torch.no_grad()
def elbo_terms(model: SequenceVAE, batches: Iterable[Batch], samples: int = 1) -> ELBOResult:
    """rec, KL, -ELBO and ``ppl_elbo`` of a model (evaluation mode, no dropout) over ``batches``."""
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    model.eval()
    device = next(model.parameters()).device
    rec_sum = kl_sum = 0.0
    sentences = tokens = 0
    for batch in batches:
        x, lengths = batch.tokens.to(device), batch.lengths.to(device)
        mu, logvar = model.encode(x, lengths)
        rec = torch.zeros(x.size(0), device=device)
        for _ in range(samples):
            rec -= model.log_likelihood(x, model.reparameterize(mu, logvar))
        rec_sum += float(rec.sum()) / samples
        kl_sum += float(gaussian_kl(mu, logvar).sum())
        sentences += x.size(0)
        tokens += batch.num_tokens
    n = max(sentences, 1)
    return ELBOResult(
        rec_sum / n,
        kl_sum / n,
        (rec_sum + kl_sum) / n,
        perplexity(rec_sum + kl_sum, tokens),
        sentences,
        tokens,
        samples,
    )
