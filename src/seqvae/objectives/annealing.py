"""Schedules for the KL weight beta (SPEC section 3)."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("linear", "cyclical", "constant", "zero")


@dataclass
class KLSchedule:
    """Linear or cyclical (Fu et al. 2019) annealing of beta, in optimiser steps.

    ``linear``: beta grows from ``beta_0`` to 1 over ``steps`` steps, then stays at 1.
    ``cyclical``: the period ``steps`` repeats ``cycles`` times; within each period beta grows
    linearly from ``beta_0`` to 1 over the first ``ratio`` of it and stays at 1 for the rest;
    after the last cycle beta is 1.
    ``constant``: beta is always 1.
    ``zero``: beta is always 0: an autoencoder with a noisy code (FBP's pretraining, Li et al. 2019).
    """

    kind: str = "linear"
    beta_0: float = 0.1
    steps: int = 10000
    cycles: int = 4
    ratio: float = 0.5

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown KL annealing {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not 0.0 <= self.beta_0 <= 1.0:
            raise ValueError(f"anneal.beta_0 must be in [0, 1], got {self.beta_0}")
        if self.steps < 0:
            raise ValueError(f"anneal.steps must be >= 0, got {self.steps}")
        if self.kind == "cyclical" and (self.cycles < 1 or not 0.0 < self.ratio <= 1.0):
            raise ValueError("cyclical annealing needs anneal.cycles >= 1 and anneal.ratio in (0, 1]")

    def beta(self, step: int) -> float:
        """beta after ``step`` optimiser steps."""
        if self.kind == "zero":
            return 0.0
        if self.kind == "constant" or self.steps == 0:
            return 1.0
        if self.kind == "linear":
            return min(1.0, self.beta_0 + (1.0 - self.beta_0) * step / self.steps)
        if step >= self.steps * self.cycles:
            return 1.0
        phase = (step % self.steps) / (self.steps * self.ratio)
        return min(1.0, self.beta_0 + (1.0 - self.beta_0) * phase)
