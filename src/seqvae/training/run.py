"""Build the trainer for a config and fit, resuming from the run folder's last checkpoint."""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint
from lightning.pytorch.callbacks.weight_averaging import EMAWeightAveraging
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from seqvae.config import Config
from seqvae.data.datamodule import TextDataModule
from seqvae.training.task import VAETask

log = logging.getLogger(__name__)

MONITOR = "val/nelbo"


def checkpoint_dir(out_dir: str | Path) -> Path:
    """Where a run keeps ``best.ckpt`` and ``last.ckpt``."""
    return Path(out_dir) / "checkpoints"


def build_trainer(cfg: Config, out_dir: Path, extra_callbacks: Sequence[L.Callback] = ()) -> L.Trainer:
    """Lightning trainer with EMA weights, best/last checkpoints, early stopping and CSV + TensorBoard logs."""
    t = cfg.train
    ckpt_dir = checkpoint_dir(out_dir)
    # Both checkpoint callbacks write the one last.ckpt (no version counter, so no last-v1.ckpt): the best one
    # after each validation, the periodic one every N steps; whichever wrote last holds the newest state.
    callbacks = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=MONITOR,
            mode="min",
            save_top_k=1,
            save_last=True,
            enable_version_counter=False,
        ),
        EarlyStopping(
            monitor=MONITOR, mode="min", patience=t.patience, check_finite=True, check_on_train_epoch_end=False
        ),
    ]
    if t.checkpoint_every_n_steps > 0:
        callbacks.append(
            ModelCheckpoint(
                dirpath=ckpt_dir,
                save_top_k=0,
                save_last=True,
                every_n_train_steps=t.checkpoint_every_n_steps,
                enable_version_counter=False,
            )
        )
    if cfg.optim.ema_decay > 0:
        callbacks.append(EMAWeightAveraging(decay=cfg.optim.ema_decay))
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


def fit(cfg: Config, out_dir: str | Path, extra_callbacks: Sequence[L.Callback] = ()) -> dict:
    """Train (or resume) the run of ``cfg`` in ``out_dir``.

    Writes ``config.json``, ``checkpoints/{best,last}.ckpt`` and logs there, and returns a summary
    with the best validation -ELBO and the checkpoint paths.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    data = TextDataModule(cfg.data, seed=cfg.seed)
    task = VAETask(cfg.to_dict(), data.vocab.words)
    trainer = build_trainer(cfg, out_dir, extra_callbacks)
    if trainer.is_global_zero:
        (out_dir / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    last = checkpoint_dir(out_dir) / "last.ckpt"
    resume = str(last) if cfg.train.resume and last.is_file() else None
    if resume:
        log.info("resuming from %s", resume)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        # BucketBatchSampler.resume continues an interrupted epoch (TextDataModule.train_dataloader).
        warnings.filterwarnings("ignore", ".*ended before the epoch ended.*")
        trainer.fit(task, datamodule=data, ckpt_path=resume)
    best = trainer.checkpoint_callback.best_model_path
    score = trainer.checkpoint_callback.best_model_score
    summary = {
        "out_dir": str(out_dir),
        "best_checkpoint": best,
        "last_checkpoint": str(last),
        "best_val_nelbo": float(score) if score is not None else None,
        "global_step": trainer.global_step,
        "epochs": trainer.current_epoch,
        "vocab_size": len(data.vocab),
    }
    if trainer.is_global_zero:
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
