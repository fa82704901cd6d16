"""The names under which training logs its figures (``logs/version_N/metrics.csv``, TensorBoard).

:mod:`seqvae.training.task` writes them; the sweep tables and figures read them from here, so a rename reaches
both. A figure logged per step and per epoch is written by Lightning twice, as :func:`per_step` and
:func:`epoch_mean` of its name.
"""

from __future__ import annotations

from seqvae.models.dropout.awd import DIAGNOSTICS


def per_step(key: str) -> str:
    """The per-step column of a figure logged per step and per epoch."""
    return f"{key}_step"


def epoch_mean(key: str) -> str:
    """The epoch-mean column of a figure logged per step and per epoch."""
    return f"{key}_epoch"


TRAIN_LOSS = "train/loss"
TRAIN_REC = "train/rec"
TRAIN_KL = "train/kl"
TRAIN_NELBO = "train/nelbo"
TRAIN_BETA = "train/beta"
TRAIN_LR = "train/lr"
TRAIN_ADV_LR = "train/adv_lr"
TRAIN_REGULARISER = "train/regulariser"
ADV_GRAD_NORM = "train/adv_grad_norm"
# Aggressive inference-network training (:mod:`seqvae.training.aggressive`): whether the mode is on (1/0), and the
# encoder updates before each batch's decoder update.
TRAIN_AGGRESSIVE = "train/aggressive"
TRAIN_INNER_STEPS = "train/inner_steps"
# AWD's diagnostics (:data:`seqvae.models.dropout.awd.DIAGNOSTICS`), by their names in the dropout's stats.
AWD_DIAGNOSTICS = {name: f"train/{name}" for name in DIAGNOSTICS}

VAL_REC = "val/rec"
VAL_KL = "val/kl"
VAL_NELBO = "val/nelbo"
VAL_PPL_ELBO = "val/ppl_elbo"
VAL_MI = "val/mi"
VAL_MI_FACTORISED = "val/mi_factorised"
VAL_AU = "val/au"

# What early stopping and the best checkpoint watch (minimised); an autoencoder (KL weight always 0, FBP's
# pretraining) watches its objective, the reconstruction loss.
MONITOR = VAL_NELBO
AUTOENCODER_MONITOR = VAL_REC


def monitor(kl_weight_kind: str) -> str:
    """What a run whose KL schedule is of ``kl_weight_kind`` (``anneal.kind``) is selected by."""
    return AUTOENCODER_MONITOR if kl_weight_kind == "zero" else MONITOR
