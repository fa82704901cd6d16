"""Importance-weighted estimate of ``-log p(x)`` with ``q(z|x)`` as the proposal (SPEC section 4).

Burda et al. (2016): ``log p(x) >= log (1/S) sum_s p(x|z_s) p(z_s) / q(z_s|x)``, ``z_s ~ q(z|x)``;
the bound tightens as ``S`` grows and equals ``-elbo`` in expectation at ``S = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch

from seqvae.data.batching import Batch
from seqvae.metrics.perplexity import perplexity
from seqvae.models.vae import SequenceVAE

LOG_2PI = math.log(2.0 * math.pi)

#: Decoder positions (rows x padded length) scored per call on the CPU; logits take ``chunk_tokens * V`` floats.
CHUNK_TOKENS = 32_768
#: Share of the free accelerator memory that one decoder call of the estimate may fill.
MEMORY_SHARE = 0.5


def log_normal_per_dim(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z_d; mu_d, exp(logvar_d))`` per dimension; broadcasts ``(..., Z) -> (..., Z)``."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``log N(z; mu, diag(exp(logvar)))`` summed over the last dimension; broadcasts ``(..., Z) -> (...)``."""
    return log_normal_per_dim(z, mu, logvar).sum(dim=-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` summed over the last dimension, ``(..., Z) -> (...)``."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(dim=-1)


@dataclass
class IWResult:
    """Split totals of the importance-weighted NLL.

    Attributes:
        nll: ``-log p(x)`` estimate per sentence (mean over sentences).
        ppl: ``exp(sum(nll) / N_tokens)``.
        sentences, tokens: counts; ``tokens`` includes one ``</s>`` per sentence.
        samples: importance samples ``S`` per sentence.
    """

    nll: float
    ppl: float
    sentences: int
    tokens: int
    samples: int


def memory_chunk_tokens(model: SequenceVAE, device: torch.device) -> int:
    """Decoder positions per call: :data:`CHUNK_TOKENS` on the CPU; on CUDA as many as :data:`MEMORY_SHARE` of
    the free memory holds, at ``4 * (3 V + 12 H)`` bytes a position (float32 logits and their log-softmax, with
    room to spare, and the decoder's gates and states), and never fewer than :data:`CHUNK_TOKENS`."""
    if device.type != "cuda":
        return CHUNK_TOKENS
    free, _ = torch.cuda.mem_get_info(device)
    hidden, vocab = model.decoder.output.in_features, model.decoder.output.out_features
    return max(CHUNK_TOKENS, int(free * MEMORY_SHARE) // (4 * (3 * vocab + 12 * hidden)))


def samples_per_chunk(tokens: torch.Tensor, chunk_tokens: int) -> int:
    """Samples scored per decoder call so that ``rows * (T_max + 1) <= chunk_tokens`` (at least one)."""
    positions = tokens.size(0) * (tokens.size(1) - 1)
    return max(1, chunk_tokens // positions)


def _log_weights(
    model: SequenceVAE, tokens: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` draws per sentence: ``log w = log p(x|z) + log p(z) - log q(z|x)`` and ``log p(x|z)``, each ``(n, B)``.

    The batch is repeated ``n`` times (sample-major) and decoded as ``n * B`` rows at once.
    """
    mu_n, logvar_n = mu.repeat(n, 1), logvar.repeat(n, 1)
    z = model.reparameterize(mu_n, logvar_n)
    log_px_z = model.log_likelihood(tokens.repeat(n, 1), z)
    log_w = log_px_z + log_standard_normal(z) - log_normal(z, mu_n, logvar_n)
    return log_w.view(n, -1), log_px_z.view(n, -1)


@torch.no_grad()
def iw_log_marginal(
    model: SequenceVAE,
    tokens: torch.Tensor,
    mu: torch.Tensor,
    logvar: torch.Tensor,
    samples: int,
    chunk_tokens: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sentence ``log p(x)`` estimate and ``E_q[log p(x|z)]`` from the same ``samples`` draws.

    ``log p(x) ~= logsumexp_s(log w_s) - log S``, accumulated over chunks of samples with a
    running logsumexp. The model should be in evaluation mode.

    Args:
        tokens: ``(B, T_max + 2)`` padded ``<s> x </s>`` ids.
        mu, logvar: ``(B, Z)`` parameters of ``q(z|x)`` (from ``model.encode``).
        samples: ``S >= 1``.
        chunk_tokens: bound on decoder positions per call (see :func:`samples_per_chunk`); by default sized by
            the device's memory (:func:`memory_chunk_tokens`), so sentences x samples go to the GPU in a few calls.

    Returns:
        ``(log_px, mean_log_px_z)``, each ``(B,)``.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    chunk = samples_per_chunk(tokens, chunk_tokens or memory_chunk_tokens(model, mu.device))
    lse = torch.full((tokens.size(0),), -math.inf, device=mu.device)
    ll_sum = torch.zeros_like(lse)
    for start in range(0, samples, chunk):
        log_w, log_px_z = _log_weights(model, tokens, mu, logvar, min(chunk, samples - start))
        lse = torch.logaddexp(lse, torch.logsumexp(log_w, dim=0))
        ll_sum += log_px_z.sum(dim=0)
    return lse - math.log(samples), ll_sum / samples


@torch.no_grad()
def importance_weighted_nll(
    model: SequenceVAE, batches: Iterable[Batch], samples: int = 500, chunk_tokens: int | None = None
) -> IWResult:
    """``nll`` per sentence and ``ppl = exp(sum(nll) / N_tokens)`` over ``batches`` (evaluation mode)."""
    model.eval()
    device = next(model.parameters()).device
    nll_sum, sentences, tokens = 0.0, 0, 0
    for batch in batches:
        x, lengths = batch.tokens.to(device), batch.lengths.to(device)
        log_px, _ = iw_log_marginal(model, x, *model.encode(x, lengths), samples, chunk_tokens)
        nll_sum -= float(log_px.sum())
        sentences += x.size(0)
        tokens += batch.num_tokens
    return IWResult(nll_sum / max(sentences, 1), perplexity(nll_sum, tokens), sentences, tokens, samples)
