"""Training: overfitting, exact resume, loud failure on NaN, annealing and free bits."""

import csv
import json
import math
import signal
from collections import Counter

import pytest
import torch
from conftest import signal_at, tiny_config

from seqvae.checkpoint import load_checkpoint
from seqvae.data.batching import make_batch
from seqvae.models import SequenceVAE
from seqvae.objectives import KLSchedule, free_bits_kl
from seqvae.training.interruption import RunInterrupted
from seqvae.training.run import RunDirConflictError, checkpoint_dir, finished_summary, fit
from seqvae.training.task import NonFiniteLossError

SENTENCES = [
    [5, 9, 7, 11, 6],
    [8, 4, 12, 4, 13, 10, 6],
    [14, 15, 5, 16],
    [7, 7, 17, 9, 18, 19, 6, 20],
]


@pytest.mark.slow
def test_tiny_model_overfits_a_few_sentences():
    torch.manual_seed(0)
    batch = make_batch(list(enumerate(SENTENCES)))
    counts = Counter(w for s in SENTENCES for w in [*s, 3])
    total = sum(counts.values())
    unigram_nll = -sum(c * math.log(c / total) for c in counts.values()) / len(SENTENCES)
    model = SequenceVAE(21, emb_dim=16, enc_hidden=32, dec_hidden=32, z_dim=4, decoder="double-lstm")
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        out = model(batch.tokens, batch.lengths)
        loss = (out.rec + 0.1 * out.kl).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    rec = -model.log_likelihood(batch.tokens, model.encode(batch.tokens, batch.lengths)[0]).mean().item()
    assert rec < 0.1 * unigram_nll, (rec, unigram_nll)


def _weights(path):
    ckpt = torch.load(path, weights_only=False)
    return ckpt["state_dict"], ckpt["current_model_state"]


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["epoch_end", "mid_epoch"])
def test_resumed_run_equals_uninterrupted_run(small_corpus, tmp_path, stop):
    every = {"checkpoint_every_n_steps": 5}
    whole = fit(tiny_config(small_corpus, max_epochs=3, **every), tmp_path / "whole")
    first = {"max_epochs": 1} if stop == "epoch_end" else {"max_steps": 15}
    fit(tiny_config(small_corpus, **first, **every), tmp_path / "split")
    resumed = fit(tiny_config(small_corpus, max_epochs=3, **every), tmp_path / "split")
    assert resumed["global_step"] == whole["global_step"] == 30
    for a, b in zip(_weights(whole["last_checkpoint"]), _weights(resumed["last_checkpoint"]), strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
@pytest.mark.parametrize("every", [0, 3, 5])
def test_one_last_checkpoint_holding_the_final_step(small_corpus, tmp_path, every):
    summary = fit(tiny_config(small_corpus, checkpoint_every_n_steps=every), tmp_path / "run")
    assert sorted(p.name for p in checkpoint_dir(tmp_path / "run").iterdir()) == ["best.ckpt", "last.ckpt"]
    last = torch.load(summary["last_checkpoint"], map_location="cpu", weights_only=False)
    assert last["global_step"] == summary["global_step"] == 20


@pytest.mark.slow
def test_each_validation_logs_mi_and_active_units(small_corpus, tmp_path):
    fit(tiny_config(small_corpus), tmp_path / "run")
    rows = list(csv.DictReader(open(tmp_path / "run" / "logs" / "version_0" / "metrics.csv")))
    validations = [r for r in rows if r.get("val/mi")]
    assert len(validations) == 2, "one row per epoch's validation"
    for row in validations:
        assert 0.0 <= float(row["val/mi"]) <= math.log(64) + 1e-6, "64 validation sentences"
        assert float(row["val/mi_factorised"]) >= -0.5
        assert float(row["val/au"]) in range(0, 9), "z_dim 8"


@pytest.mark.slow
def test_checkpoint_holds_averaged_weights_and_vocab(small_corpus, tmp_path):
    summary = fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run")
    averaged, current = _weights(summary["best_checkpoint"])
    assert any(not torch.equal(averaged[k], current[k]) for k in averaged)
    trained = load_checkpoint(summary["best_checkpoint"])
    assert not trained.model.training and len(trained.vocab) == summary["vocab_size"]
    assert all(torch.equal(v, averaged[f"model.{k}"]) for k, v in trained.model.state_dict().items())


@pytest.mark.slow
def test_nan_loss_stops_with_clear_error_and_keeps_checkpoints(small_corpus, tmp_path, monkeypatch):
    out = tmp_path / "run"
    fit(tiny_config(small_corpus, max_epochs=1), out)
    before = _weights(checkpoint_dir(out) / "last.ckpt")
    monkeypatch.setattr(SequenceVAE, "log_likelihood", lambda self, tokens, z, mask=None: z.sum(-1) * float("nan"))
    with pytest.raises(NonFiniteLossError, match="non-finite training loss at step 10"):
        fit(tiny_config(small_corpus, max_epochs=2), out)
    after = _weights(checkpoint_dir(out) / "last.ckpt")
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0])


def test_linear_and_cyclical_kl_schedules():
    linear = KLSchedule("linear", beta_0=0.1, steps=100)
    assert linear.beta(0) == pytest.approx(0.1) and linear.beta(50) == pytest.approx(0.55)
    assert linear.beta(100) == linear.beta(10**6) == 1.0
    cyc = KLSchedule("cyclical", beta_0=0.0, steps=100, cycles=2, ratio=0.5)
    assert [cyc.beta(s) for s in (0, 25, 50, 99, 100, 125, 200)] == pytest.approx([0, 0.5, 1, 1, 0, 0.5, 1])
    assert KLSchedule("zero").beta(0) == KLSchedule("zero", steps=10).beta(10**6) == 0.0
    with pytest.raises(ValueError, match="unknown KL annealing"):
        KLSchedule("sigmoid")


def test_free_bits_floors_each_dimension_and_blocks_its_gradient():
    kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]], requires_grad=True)
    value = free_bits_kl(kl, 0.5)
    assert value.tolist() == pytest.approx([2.5, 4.5])
    value.sum().backward()
    assert kl.grad.tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_free_bits_per_sentence_floors_each_sentences_own_kl():
    kl = torch.tensor([[0.1, 2.0], [0.9, 0.2]], requires_grad=True)
    value = free_bits_kl(kl, 0.5, over="sentence")
    assert value.tolist() == pytest.approx([2.5, 1.4])  # the batch means, 0.5 and 1.1, would floor nothing
    value.sum().backward()
    assert kl.grad.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def test_sigterm_saves_a_checkpoint_and_the_rerun_finishes_as_if_uninterrupted(small_corpus, tmp_path):
    whole = fit(tiny_config(small_corpus, max_epochs=2), tmp_path / "whole")
    out = tmp_path / "killed"
    with pytest.raises(RunInterrupted, match="stopped by SIGTERM at step 7") as stop:
        fit(tiny_config(small_corpus, max_epochs=2), out, extra_callbacks=[signal_at(7, signal.SIGTERM)])
    assert stop.value.exit_status == 143
    assert not (out / "summary.json").exists()
    assert torch.load(checkpoint_dir(out) / "last.ckpt", weights_only=False)["global_step"] == 7
    resumed = fit(tiny_config(small_corpus, max_epochs=2), out)
    assert resumed["global_step"] == whole["global_step"] and resumed["finished"]
    for a, b in zip(_weights(whole["last_checkpoint"]), _weights(resumed["last_checkpoint"]), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_a_finished_run_is_reused_not_trained_again(small_corpus, tmp_path):
    first = fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run")
    stamp = (tmp_path / "run" / "checkpoints" / "last.ckpt").stat().st_mtime_ns
    again = fit(tiny_config(small_corpus, max_epochs=1, progress_bar=True), tmp_path / "run")
    assert again == first and (tmp_path / "run" / "checkpoints" / "last.ckpt").stat().st_mtime_ns == stamp
    longer = fit(tiny_config(small_corpus, max_epochs=2), tmp_path / "run")
    assert longer["epochs"] == 2 and longer["global_step"] == 2 * first["global_step"]


def test_a_higher_cap_keeps_a_run_that_stopped_early_and_resumes_one_that_reached_its_cap(tmp_path):
    def summary(epochs: int) -> dict:
        written = {"epochs": epochs, "global_step": 10 * epochs, "finished": True}
        (tmp_path / "summary.json").write_text(json.dumps(written))
        return written

    raised = {"train.max_epochs": (60, 200)}
    stopped_early = summary(50)
    assert finished_summary(raised, tmp_path) == stopped_early, "early stopping fired before either cap"
    assert finished_summary({**raised, "train.max_steps": (-1, 5000)}, tmp_path) == stopped_early
    assert finished_summary({"train.max_epochs": (60, 40)}, tmp_path) is None, "a lower cap cuts it short"
    assert finished_summary({**raised, "train.patience": (3, 5)}, tmp_path) is None, "patience decides the stop"
    summary(60)
    assert finished_summary(raised, tmp_path) is None, "it reached the cap: the higher one lets it train on"
    assert finished_summary({"train.max_steps": (-1, 5000)}, tmp_path) is not None, "the epoch cap stopped it"
    assert finished_summary({"train.max_steps": (-1, 500)}, tmp_path) is None


@pytest.mark.slow
def test_a_run_saved_before_a_config_key_existed_counts_it_as_its_default(small_corpus, tmp_path):
    first = fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run")
    config_path = tmp_path / "run" / "config.json"
    saved = json.loads(config_path.read_text())
    del saved["train"]["compile"]  # as written by a version without train.compile
    config_path.write_text(json.dumps(saved))
    assert fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run") == first


@pytest.mark.slow
def test_a_run_folder_of_another_config_is_not_resumed(small_corpus, tmp_path):
    fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run")
    other = tiny_config(small_corpus, max_epochs=1)
    other.dropout.lam = 0.1
    with pytest.raises(RunDirConflictError, match=r"dropout.lam: 1.0 -> 0.1"):
        fit(other, tmp_path / "run")
