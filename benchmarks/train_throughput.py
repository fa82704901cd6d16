"""Training throughput (predicted tokens per second, ``</s>`` included) of real `seqvae train` steps.

Runs the Lightning trainer of a config for a few steps on its corpus and times the steps after
a warm-up. Each case is a list of Hydra overrides, as on the command line:

    python benchmarks/train_throughput.py                       # the default cases below
    python benchmarks/train_throughput.py --case method=none model.decoder=double-lstm
    python benchmarks/train_throughput.py --rounds 3 --case method=none --case method=awd   # ratios to the first

With ``--rounds N`` the cases run in turn, N times over, and each case's ratio to the first case is taken round by
round: the pairing keeps ratios meaningful while other work on the machine changes its speed. Medians are printed.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import lightning as L
import torch

from seqvae.config import compose_config
from seqvae.training.run import fit

DEFAULT_CASES = {
    "default (embedded, awd, lstm 256)": [],
    "1024-hidden lstm (awd)": ["model.emb_dim=512", "model.enc_hidden=1024", "model.dec_hidden=1024"],
    "1024-hidden double-lstm (awd)": [
        "model.emb_dim=512",
        "model.enc_hidden=1024",
        "model.dec_hidden=1024",
        "model.decoder=double-lstm",
    ],
}


class StepTimer(L.Callback):
    """Wall time and predicted tokens of the training loop after ``warmup`` steps.

    A step's time runs from the start of its batch to the start of the next, so it holds everything the loop
    does per batch: loading, forward, backward, optimiser, EMA update, logging. The last batch, with no next
    start, is not counted.
    """

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.seconds = 0.0
        self.tokens = 0
        self.steps = 0
        self.previous: tuple[float, int] | None = None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        now = time.perf_counter()
        if self.previous is not None:
            self.seconds += now - self.previous[0]
            self.tokens += self.previous[1]
            self.steps += 1
        self.previous = (now, batch.num_tokens) if trainer.global_step >= self.warmup else None


def measure(overrides: list[str], steps: int, warmup: int) -> StepTimer:
    """Train ``steps`` steps of the composed config; return the timer."""
    timer = StepTimer(warmup)
    cfg = compose_config(
        [*overrides, f"train.max_steps={steps}", "train.limit_val_batches=1", "train.progress_bar=false"]
    )
    with tempfile.TemporaryDirectory() as out:
        fit(cfg, out, extra_callbacks=[timer])
    return timer


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", nargs="*", action="append", help="Hydra overrides of one case (repeatable)")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--rounds", type=int, default=1, help="run the cases in turn this many times; medians")
    a = p.parse_args()
    cases = {" ".join(c) or "default": c for c in a.case} if a.case else DEFAULT_CASES
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device: {device}, {a.rounds} round(s)")
    rates: dict[str, list[float]] = {name: [] for name in cases}
    step_ms: dict[str, list[float]] = {name: [] for name in cases}
    timed = 0
    for _ in range(a.rounds):
        for name, overrides in cases.items():
            t = measure(overrides, a.steps, a.warmup)
            rates[name].append(t.tokens / t.seconds)
            step_ms[name].append(1000 * t.seconds / t.steps)
            timed = t.steps
    first = next(iter(cases))
    for name in cases:
        ratio = statistics.median(r / f for r, f in zip(rates[name], rates[first], strict=True))
        print(
            f"{name:40s} {statistics.median(rates[name]):9.0f} tokens/s  {statistics.median(step_ms[name]):7.1f} "
            f"ms/step  {ratio:5.2f}x the first  ({timed} steps timed a round)"
        )


if __name__ == "__main__":
    main()
