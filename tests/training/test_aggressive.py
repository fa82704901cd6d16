"""Aggressive inference-network training (He et al. 2019): encoder-only inner loop, decoder-only batch step, the
inner loop's stopping rule, the end of aggressive mode, resume, and the method preset."""

import csv
import json
import signal

import lightning as L
import pytest
import torch
from conftest import signal_at, tiny_config

import seqvae.training.task as task_module
from seqvae.checkpoint import read_checkpoint
from seqvae.config import Config, compose_config
from seqvae.metrics.mutual_info import MutualInformation
from seqvae.models import SequenceVAE
from seqvae.training.aggressive import CHECKPOINT_KEY, steps_until_plateau
from seqvae.training.interruption import RunInterrupted
from seqvae.training.run import checkpoint_dir, fit, saved_config_changes
from seqvae.training.task import NonFiniteLossError


def config(corpus_dir, method="none", **train) -> Config:
    """:func:`tiny_config` (by default of the unregularised VAE) in aggressive mode, at most 5 inner steps, checked
    every 2."""
    return tiny_config(corpus_dir, method, aggressive=True, aggressive_max_inner=5, aggressive_check_every=2, **train)


def script_mi(monkeypatch, values: list[float]) -> None:
    """Make each validation's MI estimate the next of ``values``."""
    values = iter(values)

    def estimates(mu, logvar):
        value = next(values)
        return MutualInformation(value, value)

    monkeypatch.setattr(task_module, "mutual_information_estimates", estimates)


class Phases(L.Callback):
    """Per batch: whether aggressive mode was on, and which sides of the VAE (encoder, decoder) changed in the
    inner loop (from batch start, before the task's hook, to the batch's optimiser step) and in that step; at the
    end, the mode and the previous MI."""

    def __init__(self):
        self.rows = []

    @staticmethod
    def snapshot(task) -> dict:
        return {k: p.detach().clone() for k, p in task.named_parameters()}

    @staticmethod
    def changed(a: dict, b: dict) -> set[str]:
        return {"encoder" if k.startswith("model.encoder.") else "decoder" for k in a if not torch.equal(a[k], b[k])}

    def on_train_batch_start(self, trainer, task, batch, batch_idx):
        self.on, self.start = task.aggressive, self.snapshot(task)

    def on_before_optimizer_step(self, trainer, task, optimizer):
        self.mid = self.snapshot(task)

    def on_train_batch_end(self, trainer, task, outputs, batch, batch_idx):
        self.rows.append((self.on, self.changed(self.start, self.mid), self.changed(self.mid, self.snapshot(task))))

    def on_train_end(self, trainer, task):
        self.final = (task.aggressive, task.previous_mi)


@pytest.mark.parametrize("method", ["none", "awd"])  # AWD's adversary is of the decoder side
def test_inner_loop_moves_only_the_encoder_and_the_batch_step_only_the_decoder(small_corpus, tmp_path, method):
    phases = Phases()
    fit(config(small_corpus, method, max_steps=3), tmp_path / "run", [phases])
    assert phases.rows == [(True, {"encoder"}, {"decoder"})] * 3


def test_inner_loop_stops_when_the_loss_per_token_does_not_fall_or_at_the_cap():
    def run(losses, max_steps=100, check_every=3, tokens=None):
        steps = iter(zip(losses, tokens or [1] * len(losses), strict=True))
        return steps_until_plateau(lambda: next(steps), max_steps, check_every)

    assert run([5] * 3 + [4] * 3 + [4] * 3) == 9, "the third window is not below the second"
    assert run([1] * 3 + [2] * 3) == 6
    assert run([5] * 3 + [4] * 3 + [3.9] * 3 + [3.9] * 3) == 12
    assert run(list(range(100, 0, -1))) == 100, "always falling: the cap"
    assert run(list(range(10, 0, -1)), max_steps=10) == 10, "the cap need not be a multiple of check_every"
    assert run([2] * 3 + [2] * 3 + [2] * 3, tokens=[1] * 3 + [2] * 3 + [2] * 3) == 9, "per token: 2, then 1, then 1"


def test_aggressive_mode_ends_after_a_validation_whose_mi_did_not_rise_and_stays_off(
    small_corpus, tmp_path, monkeypatch
):
    script_mi(monkeypatch, [0.5, 0.5, 0.9])  # rises over 0, then does not rise: off for good after epoch 2
    phases = Phases()
    cfg = config(small_corpus, max_epochs=3, limit_train_batches=0.1, log_every_n_steps=1)
    fit(cfg, tmp_path / "run", [phases])
    aggressive, joint = (True, {"encoder"}, {"decoder"}), (False, set(), {"encoder", "decoder"})
    assert phases.rows == [aggressive, aggressive, joint]
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "version_0" / "metrics.csv")))
    inner = [float(r["train/inner_steps_step"]) for r in rows if r.get("train/inner_steps_step")]
    assert inner[:2] in ([4, 4], [4, 5], [5, 4], [5, 5]) and inner[2] == 0, "the rule's 2 * 2 steps, or the cap of 5"
    assert [float(r["val/mi"]) for r in rows if r.get("val/mi")] == pytest.approx([0.5, 0.5, 0.9])
    assert phases.final == (False, 0.5)


def test_a_resumed_run_keeps_the_mode_it_saved(small_corpus, tmp_path, monkeypatch):
    script_mi(monkeypatch, [-0.1, 0.5])  # the first does not rise over 0: aggressive mode ends after epoch 1
    fit(config(small_corpus, max_epochs=1, limit_train_batches=0.1), tmp_path / "run")
    phases = Phases()
    resumed = fit(config(small_corpus, max_epochs=2, limit_train_batches=0.1), tmp_path / "run", [phases])
    assert resumed["global_step"] == 2 and [row[0] for row in phases.rows] == [False]


@pytest.mark.slow
def test_a_run_killed_in_aggressive_mode_resumes_as_if_uninterrupted(small_corpus, tmp_path, monkeypatch):
    def run(out, *callbacks):
        script_mi(monkeypatch, [0.5, 0.6])  # aggressive throughout
        return fit(config(small_corpus, max_epochs=2, limit_train_batches=0.5), out, callbacks)

    whole = run(tmp_path / "whole")
    with pytest.raises(RunInterrupted):
        run(tmp_path / "killed", signal_at(7, signal.SIGTERM))
    saved = read_checkpoint(checkpoint_dir(tmp_path / "killed") / "last.ckpt")
    assert saved["global_step"] == 7 and saved[CHECKPOINT_KEY]["on"] and saved[CHECKPOINT_KEY]["drawn"] >= 7 * 4
    script_mi(monkeypatch, [0.6])
    resumed = fit(config(small_corpus, max_epochs=2, limit_train_batches=0.5), tmp_path / "killed")
    assert resumed["global_step"] == whole["global_step"] == 10
    a, b = (read_checkpoint(s["last_checkpoint"]) for s in (whole, resumed))
    assert a[CHECKPOINT_KEY] == b[CHECKPOINT_KEY] and a[CHECKPOINT_KEY]["on"]
    for key in ("state_dict", "current_model_state"):
        assert all(torch.equal(a[key][k], b[key][k]) for k in a[key]), key


def test_a_nan_loss_in_the_inner_loop_stops_the_run(small_corpus, tmp_path, monkeypatch):
    monkeypatch.setattr(SequenceVAE, "log_likelihood", lambda self, tokens, z, mask=None: z.sum(-1) * float("nan"))
    with pytest.raises(NonFiniteLossError, match="non-finite training loss at step 0"):
        fit(config(small_corpus, max_steps=1), tmp_path / "run")


def test_the_lagging_preset_and_the_settings(tmp_path):
    cfg = compose_config(["method=lagging"])
    assert cfg.train.aggressive and cfg.dropout.method == "none"
    assert (cfg.train.aggressive_max_inner, cfg.train.aggressive_check_every) == (100, 15)
    assert not compose_config(["method=none"]).train.aggressive
    for key in ("aggressive_max_inner", "aggressive_check_every"):
        with pytest.raises(ValueError, match=f"train.{key} must be >= 1, got 0"):
            Config.from_dict({"train": {key: 0}})
    # A run saved before these keys existed counts them as their defaults.
    saved = cfg.to_dict()
    for key in ("aggressive", "aggressive_max_inner", "aggressive_check_every"):
        del saved["train"][key]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    plain = compose_config(["method=none", f"out_dir={cfg.out_dir}"])
    assert saved_config_changes(plain, tmp_path) == {}
    assert saved_config_changes(cfg, tmp_path) == {"train.aggressive": (False, True)}
