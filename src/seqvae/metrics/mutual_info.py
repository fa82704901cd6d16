"""Mutual information ``I(X;Z)`` under ``q(x, z) = p_data(x) q(z|x)`` (Hoffman & Johnson 2016; SPEC section 4).

``I = E_x[KL(q(z|x)||p(z))] - KL(q(z)||p(z)) = E_x E_{q(z|x)}[log q(z|x) - log q(z)]``, where the
aggregate posterior ``q(z) = (1/N) sum_n q(z|x_n)`` runs over all ``N`` evaluated sentences.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from seqvae.data.batching import Batch
from seqvae.metrics.importance import log_normal
from seqvae.models.vae import SequenceVAE

#: Default bound on the elements of one ``(rows, N, Z)`` block of the pairwise log-densities.
CHUNK_ELEMENTS = 1 << 24


def summed_posterior_densities(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> tuple[torch.Tensor, torch.Tensor]:
    """``logsumexp_j log q(z_i|x_j)`` over all ``N`` posteriors (``= log q(z_i) + log N``) and ``log q(z_i|x_i)``.

    The ``N x N`` matrix ``log q(z_i|x_j)`` is built in blocks of rows, each at most
    ``chunk_elements`` floats wide in ``(rows, N, Z)``.

    Args:
        z: ``(N, Z)``, one draw per posterior.
        mu, logvar: ``(N, Z)`` posterior parameters.

    Returns:
        ``(log_sum, log_q_own)``, each ``(N,)``; ``log_sum >= log_q_own`` elementwise.
    """
    n, z_dim = mu.shape
    rows = max(1, chunk_elements // (n * z_dim))
    log_sum, log_q_own = [], []
    for start in range(0, n, rows):
        block = log_normal(z[start : start + rows, None], mu[None], logvar[None])
        log_sum.append(torch.logsumexp(block, dim=1))
        log_q_own.append(block.diagonal(offset=start))
    return torch.cat(log_sum), torch.cat(log_q_own)


@torch.no_grad()
def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS) -> float:
    """``I(X;Z) ~= (1/N) sum_i [log q(z_i|x_i) - log q(z_i)]`` with one ``z_i ~ q(z|x_i)`` per sentence.

    ``log q(z_i) = logsumexp_j log q(z_i|x_j) - log N`` includes the sentence's own posterior, so
    every term is at most ``log N`` (also in floating point: ``log N`` is added last to a mean of
    non-positive numbers). The estimate reaches ``log N`` for separated point-like posteriors and
    ``0`` for identical ones.

    Args:
        mu, logvar: ``(N, Z)`` stacked posterior parameters of the ``N`` sentences.
    """
    z = SequenceVAE.reparameterize(mu, logvar)
    log_sum, log_q_own = summed_posterior_densities(z, mu, logvar, chunk_elements)
    return float((log_q_own - log_sum).mean()) + math.log(mu.size(0))


@torch.no_grad()
def collect_posteriors(model: SequenceVAE, batches: Iterable[Batch]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stacked ``(mu, logvar)`` of ``q(z|x)``, each ``(N, Z)``, over ``batches`` (evaluation mode)."""
    model.eval()
    device = next(model.parameters()).device
    params = [model.encode(b.tokens.to(device), b.lengths.to(device)) for b in batches]
    return torch.cat([mu for mu, _ in params]), torch.cat([logvar for _, logvar in params])


def model_mutual_information(
    model: SequenceVAE, batches: Iterable[Batch], chunk_elements: int = CHUNK_ELEMENTS
) -> float:
    """:func:`mutual_information` of a model's posteriors over all sentences of ``batches``."""
    return mutual_information(*collect_posteriors(model, batches), chunk_elements=chunk_elements)
