"""Stopping and guarding runs: SIGINT saves like SIGTERM, interrupted runs exit 128+signal, one run per folder."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import command_error, same_last_weights, signal_at, tiny_config

import seqvae.training.run as run_module
from seqvae.sweep.tables import read_metrics
from seqvae.training.interruption import RunInterrupted, RunLock, RunLockedError
from seqvae.training.run import checkpoint_dir, fit

pytestmark = pytest.mark.slow


def test_sigint_saves_the_last_checkpoint_and_the_rerun_finishes_as_if_uninterrupted(small_corpus, tmp_path):
    whole = fit(tiny_config(small_corpus, max_epochs=2), tmp_path / "whole")
    out = tmp_path / "stopped"
    handler = signal.getsignal(signal.SIGINT)  # Python's default, or SIG_IGN in a job a shell put in the background
    with pytest.raises(RunInterrupted, match="stopped by SIGINT at step 7") as stop:
        fit(tiny_config(small_corpus, max_epochs=2), out, extra_callbacks=[signal_at(7, signal.SIGINT)])
    assert stop.value.exit_status == 130 and "run the same command again to resume" in str(stop.value)
    assert torch.load(checkpoint_dir(out) / "last.ckpt", weights_only=True)["global_step"] == 7
    assert signal.getsignal(signal.SIGINT) is handler, "the handlers are given back"
    resumed = fit(tiny_config(small_corpus, max_epochs=2), out)
    assert resumed["global_step"] == whole["global_step"]
    assert same_last_weights(whole, resumed)


@pytest.mark.parametrize("every", [3, 5])
def test_a_run_stopped_during_validation_resumes_as_if_uninterrupted(small_corpus, tmp_path, every):
    import lightning as L

    class SignalInFirstValidation(L.Callback):
        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, *args):
            if trainer.current_epoch == 0 and batch_idx == 3:
                os.kill(os.getpid(), signal.SIGTERM)  # the fourth of eight validation batches

    def config():
        cfg = tiny_config(small_corpus, checkpoint_every_n_steps=every)  # 5: one falls on the epoch's last batch
        cfg.data.eval_batch_size = 8
        return cfg

    whole = fit(config(), tmp_path / "whole")
    out = tmp_path / "stopped"
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM"):
        fit(config(), out, extra_callbacks=[SignalInFirstValidation()])
    saved = torch.load(checkpoint_dir(out) / "last.ckpt", weights_only=True)["global_step"]
    assert saved == {3: 9, 5: 5}[every], "the last periodic one before the epoch's end"
    resumed = fit(config(), out)
    validations = read_metrics(out)["val/nelbo"]
    assert validations == read_metrics(tmp_path / "whole")["val/nelbo"], "the stopped epoch validated after the resume"
    assert same_last_weights(whole, resumed), "trained on from the trained weights, not the EMA ones"


@pytest.mark.parametrize("steps", [10, 13])
def test_a_run_that_reached_max_steps_resumes_as_if_uninterrupted(small_corpus, tmp_path, steps):
    whole = fit(tiny_config(small_corpus, max_epochs=2), tmp_path / "whole")
    out = tmp_path / "split"
    fit(tiny_config(small_corpus, max_steps=steps), out)  # at epoch 0's end, or 3 steps into epoch 1
    saved = torch.load(checkpoint_dir(out) / "last.ckpt", weights_only=True)
    assert saved["global_step"] == steps and len(read_metrics(out)["val/nelbo"]) == 1
    trained, averaged = saved["current_model_state"], saved["state_dict"]
    assert not all(torch.equal(trained[k], averaged[k]) for k in trained), "the trained weights, not the EMA ones"
    resumed = fit(tiny_config(small_corpus, max_epochs=2), out)
    assert read_metrics(out)["val/nelbo"] == read_metrics(tmp_path / "whole")["val/nelbo"]
    assert same_last_weights(whole, resumed)


def test_an_interrupted_train_command_exits_with_128_plus_the_signal(small_corpus, tmp_path, capsys, monkeypatch):
    def interrupted(cfg, out_dir, *args, **kwargs):
        raise RunInterrupted(signal.SIGTERM, out_dir, 5)

    monkeypatch.setattr(run_module, "fit", interrupted)
    line = command_error(capsys, ["train", f"data.dir={small_corpus}", f"out_dir={tmp_path / 'r'}"], status=143)
    assert "stopped by SIGTERM at step 5" in line and "run the same command again to resume" in line


def test_a_command_stopped_outside_a_run_s_training_loop_exits_130(small_corpus, tmp_path, capsys, monkeypatch):
    def ctrl_c(cfg, out_dir, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(run_module, "fit", ctrl_c)
    line = command_error(capsys, ["train", f"data.dir={small_corpus}", f"out_dir={tmp_path / 'r'}"], status=130)
    assert line == "seqvae train: interrupted"


HOLD = """
import sys, time
from seqvae.training.interruption import RunLock
with RunLock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_run_in_the_same_folder_fails_at_once_and_a_dead_owner_s_lock_is_taken_over(small_corpus, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.monotonic()
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            fit(tiny_config(small_corpus, max_epochs=1), out)
        assert time.monotonic() - start < 5, "fails at once, before reading the corpus"
    finally:
        holder.kill()
        holder.wait()
    assert (out / "train.lock").read_text() == str(holder.pid), "the dead owner's lock file is still there"
    with RunLock(out):
        assert (out / "train.lock").read_text() == str(os.getpid())


def test_a_folder_whose_run_saved_no_checkpoint_is_started_afresh_with_a_corrected_config(small_corpus, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    wrong = tiny_config(small_corpus, max_epochs=1).to_dict()
    wrong["optim"]["lr"] = 1e9  # the config of a run that failed before its first checkpoint
    (out / "config.json").write_text(json.dumps(wrong))
    summary = fit(tiny_config(small_corpus, max_epochs=1), out)
    assert summary["finished"] and json.loads((out / "config.json").read_text())["optim"]["lr"] == 0.003
