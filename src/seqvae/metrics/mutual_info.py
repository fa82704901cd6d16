"""Mutual information ``I(X;Z)`` under ``q(x, z) = p_data(x) q(z|x)`` (Hoffman & Johnson 2016; SPEC section 4).

``I = E_x[KL(q(z|x)||p(z))] - KL(q(z)||p(z)) = E_x E_{q(z|x)}[log q(z|x) - log q(z)]``, where the
aggregate posterior ``q(z) = (1/N) sum_n q(z|x_n)`` runs over all ``N`` evaluated sentences.

Two estimates of ``log q(z)`` from the same draws: the *joint* one, ``log (1/N) sum_j q(z|x_j)`` (at most
``log N``), and the *factorised* one of the original authors' code (after Dieng et al.'s Skip-VAE code),
``sum_d log (1/N) sum_j q(z_d|x_j)``, which treats the aggregate posterior's dimensions as independent. The
factorised MI estimates the joint MI plus the total correlation of ``q(z)``, so it is never smaller in
expectation and can exceed ``log N``; published MI figures above ``log N`` come from it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import torch

from seqvae.data.batching import Batch
from seqvae.metrics.importance import log_normal_per_dim
from seqvae.models.vae import SequenceVAE

#: Default bound on the elements of one ``(rows, N, Z)`` block of the pairwise log-densities.
CHUNK_ELEMENTS = 1 << 24


def posterior_density_blocks(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> Iterator[tuple[int, torch.Tensor]]:
    """The ``N x N x Z`` tensor ``log q(z_id|x_jd)`` of draws ``z (N, Z)`` under posteriors ``mu, logvar (N, Z)``, in
    blocks of rows of at most ``chunk_elements`` floats: ``(start, block)``, ``block`` ``(rows, N, Z)`` for the draws
    ``start..start+rows-1``."""
    n, z_dim = mu.shape
    rows = max(1, chunk_elements // (n * z_dim))
    for start in range(0, n, rows):
        yield start, log_normal_per_dim(z[start : start + rows, None], mu[None], logvar[None])


def summed_posterior_densities(
    z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sums of the posterior densities of each draw ``z_i`` over all ``N`` posteriors, jointly and per dimension,
    from :func:`posterior_density_blocks`.

    Args:
        z: ``(N, Z)``, one draw per posterior.
        mu, logvar: ``(N, Z)`` posterior parameters.

    Returns:
        ``(log_sum, log_sum_factorised, log_q_own)``, each ``(N,)``: ``logsumexp_j log q(z_i|x_j)``
        (``= log q(z_i) + log N``), ``sum_d logsumexp_j log q(z_id|x_jd)`` and ``log q(z_i|x_i)``;
        ``log_sum >= log_q_own`` elementwise.
    """
    log_sum, log_sum_factorised, log_q_own = [], [], []
    for start, per_dim in posterior_density_blocks(z, mu, logvar, chunk_elements):
        block = per_dim.sum(dim=-1)
        log_sum.append(torch.logsumexp(block, dim=1))
        log_sum_factorised.append(torch.logsumexp(per_dim, dim=1).sum(dim=-1))
        log_q_own.append(block.diagonal(offset=start))
    return torch.cat(log_sum), torch.cat(log_sum_factorised), torch.cat(log_q_own)


@dataclass
class MutualInformation:
    """The two estimates of ``I(X;Z)`` from the same draws ``z_i ~ q(z|x_i)``.

    Attributes:
        joint: with the aggregate posterior's joint density; at most ``log N``.
        factorised: with the product of its per-dimension marginals; may exceed ``log N``.
    """

    joint: float
    factorised: float


@torch.no_grad()
def mutual_information_estimates(
    mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> MutualInformation:
    """``I(X;Z) ~= (1/N) sum_i [log q(z_i|x_i) - log q(z_i)]`` with one ``z_i ~ q(z|x_i)`` per sentence.

    Joint: ``log q(z_i) = logsumexp_j log q(z_i|x_j) - log N`` includes the sentence's own posterior, so
    every term is at most ``log N`` (also in floating point: ``log N`` is added last to a mean of
    non-positive numbers); it reaches ``log N`` for separated point-like posteriors and ``0`` for
    identical ones. Factorised: ``log q(z_i) = sum_d [logsumexp_j log q(z_id|x_jd) - log N]``.

    Args:
        mu, logvar: ``(N, Z)`` stacked posterior parameters of the ``N`` sentences.
    """
    n, z_dim = mu.shape
    z = SequenceVAE.reparameterize(mu, logvar)
    log_sum, log_sum_factorised, log_q_own = summed_posterior_densities(z, mu, logvar, chunk_elements)
    joint = float((log_q_own - log_sum).mean()) + math.log(n)
    factorised = float((log_q_own - log_sum_factorised).mean()) + z_dim * math.log(n)
    return MutualInformation(joint, factorised)


def mutual_information(mu: torch.Tensor, logvar: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS) -> float:
    """The joint estimate of :func:`mutual_information_estimates`, at most ``log N``."""
    return mutual_information_estimates(mu, logvar, chunk_elements).joint


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
