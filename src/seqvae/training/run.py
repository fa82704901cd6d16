"""Build the trainer for a config and fit, resuming from the run folder's last checkpoint."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import signal
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.weight_averaging import WeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from torch.optim.swa_utils import get_ema_multi_avg_fn

from seqvae.checkpoint import load_checkpoint
from seqvae.config import Config, upgrade_saved
from seqvae.data.datamodule import TextDataModule
from seqvae.outputs import ensure_dir
from seqvae.training.aggressive import AggressiveVAETask
from seqvae.training.caps import unreached_cap_changes
from seqvae.training.interruption import RunInterrupted, RunLock, StopSignals
from seqvae.training.logged import monitor
from seqvae.training.run_folders import PRETRAIN_DIR, saved_checkpoint, set_aside
from seqvae.training.task import VAETask

log = logging.getLogger(__name__)

# Config keys that do not change what a run computes: a finished run is reused whatever they say.
NON_RESULT_KEYS = {"out_dir", "train.progress_bar"}
# Keys a rerun may change and still resume the run in its folder: how long it trains, on what hardware, what it logs.
RESUMABLE_KEYS = {"out_dir"} | {
    f"train.{k}"
    for k in (
        "max_epochs",
        "max_steps",
        "patience",
        "accelerator",
        "devices",
        "strategy",
        "log_every_n_steps",
        "checkpoint_every_n_steps",
        "progress_bar",
        "resume",
        "compile",
    )
}


class CheckpointWhereTrainingStops(L.Callback):
    """Save ``last.ckpt`` where training stops short of an epoch's end, so a rerun resumes there: at the step that
    reaches ``train.max_steps`` within an epoch, and when the run is stopped by SIGTERM or SIGINT
    (:class:`StopSignals`; Lightning turns SIGTERM into :class:`SIGTERMException` at the next training or
    validation batch boundary). At an epoch's end the checkpoint after its validation is the one to resume from.
    A stop during validation keeps the ``last.ckpt`` written before it (the periodic one, or the previous epoch's),
    from which the rerun trains to the same point and validates the epoch whole: a checkpoint taken there would
    resume after the epoch's validation, which would never run, and from the EMA weights that validation swaps in
    instead of the trained ones."""

    def __init__(self, path: Path):
        self.path = path

    def on_train_batch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        reached = trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps
        if reached and not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            trainer.save_checkpoint(self.path)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, SIGTERMException) and not trainer.validating:
            trainer.save_checkpoint(self.path)


class RunCheckpoint(ModelCheckpoint):
    """Lightning's checkpoint, less two saves of ``last.ckpt`` that a resume goes wrong from. The one at an epoch's
    last batch (``every_n_train_steps``): a stop during that epoch's validation would resume past the validation as
    if it had run (the save after validation takes its place). The one at the end of training: it comes after
    :class:`WeightAveraging` has copied the averaged weights into the model, and after ``train.max_steps`` within an
    epoch it marks the epoch done, so a resume would train on from the average and skip the epoch's rest
    (:class:`CheckpointWhereTrainingStops` saves at that step instead)."""

    def on_train_batch_end(self, trainer: L.Trainer, *args, **kwargs) -> None:
        if not trainer.fit_loop.epoch_loop.batch_progress.is_last_batch:
            super().on_train_batch_end(trainer, *args, **kwargs)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where a run keeps ``best.ckpt`` and ``last.ckpt``."""
    return Path(out_dir) / "checkpoints"


def build_trainer(cfg: Config, out_dir: Path, extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """Lightning trainer with EMA weights, best/last checkpoints, early stopping and CSV + TensorBoard logs."""
    t = cfg.train
    watched = monitor(cfg.anneal.kind)
    ckpt_dir = checkpoint_dir(out_dir)
    # Three callbacks write the one last.ckpt (no version counter, so no last-v1.ckpt): the best one after each
    # validation, the periodic one every N steps, CheckpointWhereTrainingStops where training stops within an
    # epoch; whichever wrote last holds the newest state.
    callbacks = [
        RunCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=watched,
            mode="min",
            save_top_k=1,
            save_last=True,
            enable_version_counter=False,
        ),
        EarlyStopping(
            monitor=watched, mode="min", patience=t.patience, check_finite=True, check_on_train_epoch_end=False
        ),
    ]
    if t.checkpoint_every_n_steps > 0:
        callbacks.append(
            RunCheckpoint(
                dirpath=ckpt_dir,
                save_top_k=0,
                save_last=True,
                every_n_train_steps=t.checkpoint_every_n_steps,
                enable_version_counter=False,
            )
        )
    if cfg.optim.ema_decay > 0:
        # One in-place foreach lerp over all parameters per step (EMAWeightAveraging's per-parameter update
        # allocates temporaries and costs about a tenth of a CPU step at PTB sizes).
        callbacks.append(WeightAveraging(multi_avg_fn=get_ema_multi_avg_fn(cfg.optim.ema_decay)))
    callbacks.append(CheckpointWhereTrainingStops(ckpt_dir / "last.ckpt"))
    callbacks.extend(extra_callbacks)
    loggers = [CSVLogger(out_dir, name="logs"), TensorBoardLogger(out_dir, name="tensorboard")]
    return L.Trainer(
        default_root_dir=out_dir,
        max_epochs=t.max_epochs,
        max_steps=t.max_steps,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        precision=t.precision,
        gradient_clip_val=cfg.optim.grad_clip,
        callbacks=callbacks,
        logger=loggers,
        log_every_n_steps=t.log_every_n_steps,
        limit_train_batches=t.limit_train_batches,
        limit_val_batches=t.limit_val_batches,
        enable_progress_bar=t.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )


class RunDirConflictError(ValueError):
    """A run folder holds a run of another config, which a rerun must not resume."""


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def saved_config_changes(cfg: Config, out_dir: str | Path) -> dict[str, tuple] | None:
    """``dotted key -> (saved, new)`` for each value in which the run saved in ``out_dir`` differs from ``cfg``;
    ``None`` if no run was saved there. A key the saved config lacks (one added to the schema since) counts as
    its default, which is what that run computed with; a value renamed since counts under its new name."""
    config_path = Path(out_dir) / "config.json"
    if not config_path.is_file():
        return None
    saved = {**_flatten(Config().to_dict()), **_flatten(upgrade_saved(json.loads(config_path.read_text())))}
    new = _flatten(cfg.to_dict())
    return {k: (saved.get(k), new.get(k)) for k in sorted(saved.keys() | new.keys()) if saved.get(k) != new.get(k)}


def check_resumable(changes: dict[str, tuple], out_dir: str | Path) -> None:
    """Raise :class:`RunDirConflictError` if the saved run's config ``changes`` go beyond :data:`RESUMABLE_KEYS`:
    resuming its checkpoint would mix two configs in one result."""
    differ = {k: v for k, v in changes.items() if k not in RESUMABLE_KEYS}
    if differ:
        listed = ", ".join(f"{k}: {saved!r} -> {new!r}" for k, (saved, new) in differ.items())
        raise RunDirConflictError(
            f"{out_dir} holds a run of another config ({listed}); resuming it would mix the two. "
            "Choose another out_dir (or SEQVAE_RUNS for a sweep), or delete the folder to start over."
        )


def finished_summary(changes: dict[str, tuple] | None, out_dir: str | Path) -> dict | None:
    """The summary of the run in ``out_dir`` if it finished and its config ``changes`` are all in
    :data:`NON_RESULT_KEYS` or caps that it stopped early within (:mod:`seqvae.training.caps`), else ``None``. A run
    of another config there (say, fewer epochs, or more epochs than the cap it reached) is not finished."""
    summary_path = Path(out_dir) / "summary.json"
    if changes is None or not summary_path.is_file():
        return None
    summary = json.loads(summary_path.read_text())
    if not summary.get("finished") or set(changes) - NON_RESULT_KEYS - unreached_cap_changes(changes, summary):
        return None
    return summary


def check_batch_limits(cfg: Config, data: TextDataModule) -> None:
    """``train.limit_train_batches`` and ``train.limit_val_batches`` must leave at least one batch: validation
    -ELBO chooses the best checkpoint and stops the run."""
    for split, key in (("train", "limit_train_batches"), ("valid", "limit_val_batches")):
        limit = getattr(cfg.train, key)
        batches = len(data.loader(split, shuffle=split == "train"))
        kept = int(batches * limit) if isinstance(limit, float) and limit <= 1.0 else min(int(limit), batches)
        if kept < 1:
            raise ValueError(f"train.{key}={limit} leaves none of the {batches} {split} batches; give at least one")


def _is_first_process() -> bool:
    """Whether this is the process that owns the run folder (not a DDP worker that Lightning started)."""
    return os.environ.get("LOCAL_RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


def autoencoder_stage(cfg: Config, out_dir: str | Path) -> Config:
    """FBP's first stage (Li et al. 2019) of the run of ``cfg``: the same config with the KL weight at 0 and no free
    bits, in ``OUT_DIR/pretrain``."""
    anneal = dataclasses.replace(cfg.anneal, kind="zero", free_bits=0.0)
    train = dataclasses.replace(cfg.train, pretrain_autoencoder=False)
    return dataclasses.replace(cfg, anneal=anneal, train=train, out_dir=str(Path(out_dir) / PRETRAIN_DIR))


def pretrained_encoder(cfg: Config, out_dir: Path) -> Path:
    """FBP's :func:`autoencoder_stage` of the run of ``cfg``, fitted or reused in ``OUT_DIR/pretrain``; returns the
    checkpoint whose encoder the VAE starts from: the stage's best, its last if it never validated
    (``train.max_steps`` within an epoch). A finished stage whose checkpoint is gone (its result files taken back
    from ``seqvae keep-results`` on a new machine) is set aside in ``pretrain/lost-<n>`` and fitted again."""
    stage, stage_dir = autoencoder_stage(cfg, out_dir), out_dir / PRETRAIN_DIR
    source = _encoder_checkpoint(stage_dir, fit(stage, stage_dir))
    if not source.is_file():
        aside = set_aside(stage_dir)
        log.warning(
            "%s finished, but %s is gone: training it again (its files are kept in %s)", stage_dir, source, aside
        )
        source = _encoder_checkpoint(stage_dir, fit(stage, stage_dir))
    return source


def _encoder_checkpoint(stage_dir: Path, summary: dict) -> Path:
    return saved_checkpoint(stage_dir, summary) or saved_checkpoint(stage_dir, summary, "last_checkpoint")


def fit(cfg: Config, out_dir: str | Path, extra_callbacks: Sequence[L.Callback] = ()) -> dict:
    """Train (or resume) the run of ``cfg`` in ``out_dir``; a finished run is not trained again.

    Writes ``config.json``, ``checkpoints/{best,last}.ckpt`` and logs there, and returns a summary
    with the best validation -ELBO (``best_val_rec`` for an autoencoder) and the checkpoint paths (``summary.json``,
    ``finished: true``). With ``train.pretrain_autoencoder`` (FBP), a run that starts afresh takes the encoder of
    its :func:`pretrained_encoder` (the decoder stays freshly initialised: their ``reset_dec``).
    A folder whose run saved no checkpoint yet is started afresh, whatever config it held. A second process
    on the same folder fails at once (:class:`RunLock`); SIGINT or SIGTERM stops the run with ``last.ckpt`` saved
    and raises :class:`RunInterrupted`.
    """
    out_dir = Path(out_dir)
    ensure_dir(out_dir, "run folder")
    with RunLock(out_dir) if _is_first_process() else contextlib.nullcontext(), StopSignals() as signals:
        last = checkpoint_dir(out_dir) / "last.ckpt"
        if cfg.train.resume and (changes := saved_config_changes(cfg, out_dir)) is not None:
            if (done := finished_summary(changes, out_dir)) is not None:
                log.info("%s already holds this finished run; not training again", out_dir)
                return done
            if last.is_file():
                check_resumable(changes, out_dir)
        resume = str(last) if cfg.train.resume and last.is_file() else None
        encoder = pretrained_encoder(cfg, out_dir) if cfg.train.pretrain_autoencoder and resume is None else None
        L.seed_everything(cfg.seed, workers=True, verbose=False)
        data = TextDataModule(cfg.data, seed=cfg.seed)
        check_batch_limits(cfg, data)
        task = (AggressiveVAETask if cfg.train.aggressive else VAETask)(cfg.to_dict(), data.vocab.words)
        if encoder is not None:
            task.model.encoder.load_state_dict(load_checkpoint(encoder).model.encoder.state_dict())
            log.info("starting from the encoder of %s", encoder)
        trainer = build_trainer(cfg, out_dir, extra_callbacks)
        if trainer.is_global_zero:
            _write_json(out_dir / "config.json", cfg.to_dict())
        if resume:
            log.info("resuming from %s", resume)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*does not have many workers.*")
            # BucketBatchSampler.resume continues an interrupted epoch (TextDataModule.train_dataloader).
            warnings.filterwarnings("ignore", ".*ended before the epoch ended.*")
            try:
                trainer.fit(task, datamodule=data, ckpt_path=resume)
            except SIGTERMException:
                raise RunInterrupted(signals.received or signal.SIGTERM, out_dir, trainer.global_step) from None
        best = trainer.checkpoint_callback.best_model_path
        score = trainer.checkpoint_callback.best_model_score
        summary = {
            "out_dir": str(out_dir),
            "best_checkpoint": best,
            "last_checkpoint": str(last),
            f"best_{monitor(cfg.anneal.kind).replace('/', '_')}": float(score) if score is not None else None,
            "global_step": trainer.global_step,
            "epochs": trainer.current_epoch,
            "vocab_size": len(data.vocab),
            "finished": True,
        }
        if trainer.is_global_zero:
            _write_json(out_dir / "summary.json", summary)
        return summary


def _write_json(path: Path, value: dict) -> None:
    """Write ``value`` as JSON through a temporary file, so a killed process leaves the old file or the new one."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    tmp.replace(path)
