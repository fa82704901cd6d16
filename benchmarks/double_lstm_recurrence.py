"""Forward and backward time of the Double-LSTM decoder alone: the step-by-step reference, the fused decoder,
and the fused decoder with its steps compiled (``train.compile``; compiled in the warm-up passes).

The vocabulary projection is left out (a 10-word output), so the time is the recurrence and its input
projections. The decoders share the same weights; each round times them one after the other, in training mode
(with ``--state-dropout``, each pass draws its own masks).

    python benchmarks/double_lstm_recurrence.py --hidden 1024 --length 24
    python benchmarks/double_lstm_recurrence.py --update-cells 2 --state-dropout 0.4   # the original code's variant
"""

from __future__ import annotations

import argparse
import time

import torch

from seqvae.models.decoders import build_decoder


def seconds_per_pass(decoder: torch.nn.Module, inputs: torch.Tensor, z: torch.Tensor, repeats: int) -> float:
    """Mean wall time of a forward and backward pass, after two warm-up passes."""
    for _ in range(2):
        decoder(inputs, z).sum().backward()
    start = time.perf_counter()
    for _ in range(repeats):
        decoder(inputs, z).sum().backward()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--emb", type=int, default=512)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--z", type=int, default=32)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--length", type=int, default=24, help="decoder inputs per sentence (PTB averages about 22)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--update-cells", type=int, default=1, choices=[1, 2])
    p.add_argument("--state-dropout", type=float, default=0.0)
    a = p.parse_args()
    torch.manual_seed(0)
    variant = {"update_cells": a.update_cells, "state_dropout": a.state_dropout}
    reference = build_decoder("double-lstm-reference", a.emb, a.hidden, a.z, 10, **variant)
    fused = build_decoder("double-lstm", a.emb, a.hidden, a.z, 10, **variant)
    compiled = build_decoder("double-lstm", a.emb, a.hidden, a.z, 10, True, **variant)
    fused.load_state_dict(reference.state_dict())
    compiled.load_state_dict(reference.state_dict())
    inputs, z = torch.randn(a.batch, a.length, a.emb), torch.randn(a.batch, a.z)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; emb {a.emb}, hidden {a.hidden}, "
        f"batch {a.batch}, length {a.length}, update cells {a.update_cells}, state dropout {a.state_dropout}"
    )
    for round_ in range(1, a.rounds + 1):
        ref = seconds_per_pass(reference, inputs, z, a.repeats)
        fus = seconds_per_pass(fused, inputs, z, a.repeats)
        com = seconds_per_pass(compiled, inputs, z, a.repeats)
        print(
            f"round {round_}: reference {1000 * ref:7.1f} ms, fused {1000 * fus:7.1f} ms ({ref / fus:.2f}x), "
            f"compiled {1000 * com:7.1f} ms ({ref / com:.2f}x)"
        )


if __name__ == "__main__":
    main()
