"""Active units (Burda et al. 2016; SPEC section 4): latent dimensions the posterior mean uses."""

from __future__ import annotations

from dataclasses import dataclass

import torch

#: Variance of ``E_q[z_d|x]`` across sentences above which dimension ``d`` is active.
AU_THRESHOLD = 0.01


@dataclass
class ActiveUnits:
    """Active-unit count of a split.

    Attributes:
        count: number of active dimensions.
        variances: ``Var_x(E_q[z_d|x])`` of each of the ``Z`` dimensions.
        threshold: the activity threshold used.
    """

    count: int
    variances: list[float]
    threshold: float


def active_units(mu: torch.Tensor, threshold: float = AU_THRESHOLD) -> ActiveUnits:
    """``A_u = #{d : Var_x(E_q[z_d|x]) > threshold}`` from the posterior means ``mu (N, Z)``.

    The variance across the ``N`` sentences is the unbiased one (divides by ``N - 1``).
    """
    if mu.size(0) < 2:
        raise ValueError(f"active units need at least 2 sentences, got {mu.size(0)}")
    variances = mu.double().var(dim=0)
    return ActiveUnits(int((variances > threshold).sum()), variances.tolist(), threshold)
