"""Shared fixtures: a small corpus cut from the embedded one, a tiny, fast run config, sweeps without training and
checks on finished runs."""

import json
import logging
import os

import pytest
import torch

from seqvae.config import Config
from seqvae.data import default_corpus_dir


@pytest.fixture(autouse=True)
def _no_leaked_log_handlers():
    """Remove the root logger's handlers that a test's ``seqvae train`` or ``seqvae sweep`` left behind.

    Hydra configures logging with handlers on the test's stdout (captured, closed after the test) and on a log
    file; left in place, a later test's log record would print "Logging error" tracebacks to its stderr.
    """
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in set(root.handlers) - before:
        if type(handler) in (logging.StreamHandler, logging.FileHandler):  # Hydra's; not pytest's subclasses
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def write_small_corpus(root):
    """Write train/valid/test.txt and .labels.tsv to ``root``: the first 320/64/64 sentences of the embedded corpus."""
    root.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", 320), ("valid", 64), ("test", 64)):
        lines = (default_corpus_dir() / f"{split}.txt").read_text(encoding="utf-8").splitlines()[:n]
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        labels = (default_corpus_dir() / f"{split}.labels.tsv").read_text(encoding="utf-8").splitlines()[: n + 1]
        (root / f"{split}.labels.tsv").write_text("\n".join(labels) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def small_corpus(tmp_path):
    """Folder with the small corpus of :func:`write_small_corpus`."""
    return write_small_corpus(tmp_path / "corpus")


def tiny_config(corpus_dir, method="awd", **train) -> Config:
    """A run config small enough for a unit test: 10 steps per epoch, hidden size 32."""
    return Config.from_dict(
        {
            "data": {"name": "small", "dir": str(corpus_dir), "batch_size": 32},
            "model": {"emb_dim": 16, "enc_hidden": 32, "dec_hidden": 32, "z_dim": 8, "decoder": "lstm"},
            "dropout": {"method": method, "rate": 0.3, "adv_emb_dim": 16, "adv_hidden_dim": 16},
            "optim": {"name": "adam", "lr": 0.003, "ema_decay": 0.99},
            "anneal": {"steps": 20},
            "train": {"max_epochs": 2, "progress_bar": False, "log_every_n_steps": 5, **train},
            "seed": 7,
        }
    )


def random_batch(lengths: list[int], vocab_size: int, seed: int = 0):
    """A :class:`seqvae.data.batching.Batch` of random sentences of the given lengths over the word ids
    ``4..vocab_size-1`` (after the four specials)."""
    import torch

    from seqvae.data.batching import make_batch

    g = torch.Generator().manual_seed(seed)
    return make_batch([(i, torch.randint(4, vocab_size, (t,), generator=g).tolist()) for i, t in enumerate(lengths)])


def stepwise_log_likelihood(model, batch, z, on_state=None):
    """``log p(x | z)`` per sentence ``(B,)`` by the decoder's one-step ``step``, as generation runs it, over the
    batch's real targets (``</s>`` included); ``on_state(i, state)`` sees the state after each step."""
    import torch

    state = model.decoder.init_state(z)
    total = torch.zeros(batch.tokens.size(0))
    for i in range(batch.tokens.size(1) - 1):
        logits, state = model.decoder.step(model.dec_embedding(batch.tokens[:, i]), z, state)
        if on_state is not None:
            on_state(i, state)
        logp = torch.log_softmax(logits, dim=-1).gather(1, batch.tokens[:, i + 1 : i + 2]).squeeze(1)
        total += torch.where(i <= batch.lengths, logp, torch.zeros_like(logp))
    return total


def command_error(capsys, argv: list[str], status: int = 1) -> str:
    """Run ``seqvae ARGV`` expecting it to fail with ``status``; its error, one line on stderr."""
    from seqvae.cli import main

    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def signal_at(step: int, signum: int):
    """A Lightning callback that sends this process ``signum`` after ``step`` optimiser steps, as Ctrl+C or a
    scheduler pre-empting the job would."""
    import lightning as L

    class SignalAt(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == step:
                os.kill(os.getpid(), signum)

    return SignalAt()


def same_last_weights(a: dict, b: dict) -> bool:
    """Whether the last checkpoints of two runs' summaries (``fit``'s) hold equal averaged and current weights."""
    for name in ("state_dict", "current_model_state"):
        x = torch.load(a["last_checkpoint"], weights_only=True)[name]
        y = torch.load(b["last_checkpoint"], weights_only=True)[name]
        if x.keys() != y.keys() or not all(torch.equal(x[k], y[k]) for k in x):
            return False
    return True


def rate_plus_seed(run) -> float:
    """A fake test figure of a run: its ``dropout.rate`` (0 without one) plus its seed."""
    return float(dict(run.params).get("dropout.rate", 0)) + run.seed


class FakeTraining:
    """Writes what a finished (or failed) run of a sweep leaves behind, without training: its validation -ELBO is
    ``score(run)``; its evaluation holds ``value(run)`` as ppl, nelbo, kl and mi (10 test sentences, 50 tokens).
    ``events``: ``("train", run, evaluate)`` and ``("evaluate", run)`` in the order they happened."""

    def __init__(self, root, score, fail=lambda run: False, value=rate_plus_seed):
        self.root, self.score, self.fail, self.value, self.launched, self.events = root, score, fail, value, [], []

    def train(self, runs, evaluate=False):
        errors = []
        for run in runs:
            self.launched.append(run)
            self.events.append(("train", run, evaluate))
            if self.fail(run):
                errors.append(FloatingPointError("non-finite training loss at step 3"))
                continue
            out = run.run_dir(self.root)
            out.mkdir(parents=True, exist_ok=True)
            summary = {"best_val_nelbo": self.score(run), "finished": True}
            (out / "summary.json").write_text(json.dumps(summary))
            if evaluate:
                self.evaluate([run])
            errors.append(None)
        return errors

    def evaluate(self, runs):
        for run in runs:
            self.events.append(("evaluate", run))
            out = run.run_dir(self.root)
            metrics = {
                k: {"value": self.value(run), "sentences": 10, "tokens": 50} for k in ("ppl", "nelbo", "kl", "mi")
            }
            evaluation = {
                "checkpoint": str(out / "checkpoints" / "best.ckpt"),
                "split": "test",
                "seed": run.seed,
                "samples": 10,
                "metrics": metrics,
                "config": {"data": {"name": "embedded"}},
            }
            (out / "eval-test.json").write_text(json.dumps(evaluation))
        return [None] * len(runs)
