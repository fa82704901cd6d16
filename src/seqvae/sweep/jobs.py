"""The evaluation jobs of a sweep (its training job is ``seqvae train``'s task function)."""

from __future__ import annotations

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import TaskFunction
from omegaconf import DictConfig

from seqvae.checkpoint import load_checkpoint
from seqvae.config import Config
from seqvae.sweep.stages import eval_file
from seqvae.training.run_folders import saved_checkpoint


def evaluate_run(cfg: DictConfig) -> dict:
    """Evaluate the best checkpoint of the finished run of ``cfg``, where its folder is now
    (:func:`~seqvae.training.run_folders.saved_checkpoint`), on the sweep's test split."""
    from seqvae.metrics.evaluate import evaluate_checkpoint

    sweeper = HydraConfig.get().sweeper
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    checkpoint = saved_checkpoint(run_dir, json.loads((run_dir / "summary.json").read_text()))
    if checkpoint is None:
        raise ValueError(f"{run_dir} saved no best checkpoint (it never validated): nothing to evaluate")
    return evaluate_checkpoint(
        load_checkpoint(checkpoint),
        sweeper.eval_split,
        samples=sweeper.eval_samples,
        seed=Config.from_dict(cfg).seed,
        out=str(eval_file(run_dir, sweeper.eval_split)),
    )


def train_then_evaluate(train: TaskFunction, cfg: DictConfig):
    """The training job of a run known to be chosen: ``train(cfg)``, then :func:`evaluate_run` while its checkpoint
    is surely on this machine; returns what ``train`` returns."""
    result = train(cfg)
    evaluate_run(cfg)
    return result
