"""What a sweep runs: per method, the cells of its reported factors and the candidates of its searched grid.

An experiment (``conf/experiment/*.yaml``) names the methods, a ``grid`` of searched values (the paper's
learning rate x R, selected by validation -ELBO) and ``factors`` whose values are all reported (R in the
rate ablation, lambda in the lambda ablation). Each is a mapping ``config key -> "v1,v2,..."``, as in Hydra's
own sweeper. Keys under ``dropout.`` do not apply to the methods without word dropout (``none``, ``bn-vae``,
``lagging``, ...: :func:`drops_words`) and are left out of their runs.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from omegaconf import OmegaConf

RUNS_ENV = "SEQVAE_RUNS"


def sweep_root(experiment: str, scale: str) -> Path:
    """Where ``seqvae sweep experiment=E scale=S`` keeps its runs and tables: ``$SEQVAE_RUNS/E-S`` (``runs/E-S``)."""
    return Path(os.environ.get(RUNS_ENV, "runs")) / f"{experiment}-{scale}"


@dataclass(frozen=True)
class RunSpec:
    """One training run of a sweep.

    Attributes:
        method: the ``method`` config group (``none``, ``uniform``, ``awd``).
        factors: reported settings, ``key -> value`` (strings, as on a command line).
        params: searched settings of the grid, ``key -> value``.
        seed: the run's seed.
    """

    method: str
    factors: tuple[tuple[str, str], ...]
    params: tuple[tuple[str, str], ...]
    seed: int

    @property
    def cell(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        """The (method, factors) a table row or an ablation point reports."""
        return self.method, self.factors

    def overrides(self) -> list[str]:
        """Hydra overrides that make this run's config from the experiment's."""
        settings = [f"{k}={v}" for k, v in (*self.factors, *self.params)]
        return [f"method={self.method}", *settings, f"seed={self.seed}"]

    def run_dir(self, root: str | Path) -> Path:
        """``ROOT/METHOD/k=v,.../seed=S`` (``default`` when nothing is set)."""
        settings = ",".join(f"{k}={v}" for k, v in sorted((*self.factors, *self.params))) or "default"
        return Path(root) / self.method / settings / f"seed={self.seed}"


def parse_values(values: str | int | float) -> list[str]:
    """``"1e-3,0.1"`` -> ``["1e-3", "0.1"]`` (a single number is one value)."""
    parts = [v.strip() for v in str(values).split(",")]
    if not all(parts):
        raise ValueError(f"empty value in the sweep list {values!r}")
    return parts


@functools.cache
def drops_words(method: str) -> bool:
    """Whether the ``method`` preset (``seqvae/conf/method/METHOD.yaml``) drops decoder input words: all but those
    setting ``dropout.method: none``."""
    path = resources.files("seqvae.conf") / "method" / f"{method}.yaml"
    if not path.is_file():
        return True
    return OmegaConf.select(OmegaConf.create(path.read_text(encoding="utf-8")), "dropout.method") != "none"


def _applies(key: str, method: str) -> bool:
    return drops_words(method) or not key.startswith("dropout.")


def _product(space: dict[str, str], method: str) -> list[tuple[tuple[str, str], ...]]:
    keys = [k for k in sorted(space) if _applies(k, method)]
    values = [parse_values(space[k]) for k in keys]
    return [tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def cells(methods: list[str], factors: dict[str, str]) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """Every (method, factor setting) the experiment reports, in order."""
    return [(m, f) for m in methods for f in _product(factors, m)]


def candidates(method: str, grid: dict[str, str]) -> list[tuple[tuple[str, str], ...]]:
    """The grid points searched for ``method``."""
    return _product(grid, method)
