"""``hydra/sweeper=seqvae``: grid search, selection, seeds and test evaluation through any Hydra launcher.

The stages are :class:`seqvae.sweep.stages.ExperimentSweep`'s; this class gives them Hydra's configured
launcher (basic, joblib, submitit) with three jobs: training, training then evaluation (a run known to be chosen),
and evaluation. Each job gets the command line's overrides plus its run's ``method``, grid, factor, seed and
``out_dir`` overrides.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from seqvae.sweep.jobs import evaluate_run, train_then_evaluate
from seqvae.sweep.plan import RunSpec, sweep_root
from seqvae.sweep.stages import ExperimentSweep, SweepSpec
from seqvae.sweep.tables import write_report

log = logging.getLogger(__name__)


class ExperimentSweeper(Sweeper):
    """Hydra sweeper running an experiment's :class:`SweepSpec` (its fields are this plugin's config) in ``root``
    (``null``: :func:`sweep_root` of the experiment and scale), up to the stage ``stop_after``."""

    def __init__(self, stop_after: str, root: str | None = None, **spec):
        super().__init__()
        self.stop_after = stop_after
        self.spec = SweepSpec(**{k: OmegaConf.to_object(v) if OmegaConf.is_config(v) else v for k, v in spec.items()})
        self.root = Path(root or sweep_root(self.spec.experiment, self.spec.scale)).resolve()
        self.hydra_context: HydraContext | None = None
        self.config: DictConfig | None = None
        self.task_function: TaskFunction | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.hydra_context, self.task_function, self.config = hydra_context, task_function, config

    def _launcher(self, task_function: TaskFunction, root: Path, arguments: list[str]):
        launcher = Plugins.instance().instantiate_launcher(
            hydra_context=self.hydra_context, task_function=task_function, config=self.config
        )

        def launch(runs: Sequence[RunSpec]) -> list[BaseException | None]:
            jobs = [[*arguments, *run.overrides(), *_location(run.run_dir(root))] for run in runs]
            self.validate_batch_is_legal(jobs)
            returns = launcher.launch(jobs, initial_job_idx=0)
            errors = []
            for run, ret in zip(runs, returns, strict=True):
                failed = ret.status == JobStatus.FAILED
                if failed:
                    log.error("run %s failed: %s", run.run_dir(root), ret._return_value)
                errors.append(ret._return_value if failed else None)
            return errors

        return launch

    def sweep(self, arguments: list[str]) -> dict:
        root = self.root
        root.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, root / "multirun.yaml")
        train = self._launcher(self.task_function, root, arguments)
        train_and_evaluate = self._launcher(functools.partial(train_then_evaluate, self.task_function), root, arguments)
        sweep = ExperimentSweep(
            self.spec,
            root,
            lambda runs, evaluate: (train_and_evaluate if evaluate else train)(runs),
            self._launcher(evaluate_run, root, arguments),
        )
        manifest = sweep.run(self.stop_after)
        paths = write_report(root)
        log.info("sweep %s done up to its %s stage: %s", root, self.stop_after, ", ".join(str(p) for p in paths))
        return manifest


def _location(run_dir: Path) -> list[str]:
    """Overrides that make ``run_dir`` both the run's ``out_dir`` and its Hydra job folder."""
    return [f"out_dir='{run_dir}'", f"hydra.sweep.dir='{run_dir}'", "hydra.sweep.subdir=."]
