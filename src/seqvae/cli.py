"""The ``seqvae`` command: train, evaluate, sample, reconstruct."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import hydra
import torch
from omegaconf import DictConfig

from seqvae.config import Config, register_schema

register_schema()

USAGE = """usage: seqvae {train,evaluate,sample,reconstruct} ...

  seqvae train [KEY=VALUE ...]        train (Hydra overrides; -m for sweeps), e.g.
                                      seqvae train corpus=ptb method=uniform dropout.rate=0.4
  seqvae evaluate CKPT [--split test] metrics of a checkpoint on a split
  seqvae sample CKPT [-n 10]          sentences decoded from prior samples
  seqvae reconstruct CKPT SENTENCE    encode a sentence, decode the posterior mean
"""


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _train(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from seqvae.training.run import fit

    logging.getLogger("lightning.pytorch").propagate = False  # Lightning prints its own messages once
    summary = fit(Config.from_dict(cfg), HydraConfig.get().runtime.output_dir)
    print(json.dumps(summary, indent=2))
    return summary["best_val_nelbo"]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _evaluate(argv: list[str]) -> None:
    from seqvae.metrics.report import evaluate_checkpoint

    p = argparse.ArgumentParser(prog="seqvae evaluate", description="Metrics of a checkpoint on a split.")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--samples", type=int, default=500, help="importance samples S for the NLL (0 skips it)")
    p.add_argument("--max-sentences", type=int, default=None, help="evaluate the first N sentences only")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--data-dir", default=None, help="read the corpus from here instead of the trained path")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON file for the results (default: next to the checkpoint)")
    a = p.parse_args(argv)
    evaluate_checkpoint(
        a.checkpoint,
        a.split,
        samples=a.samples,
        max_sentences=a.max_sentences,
        batch_size=a.batch_size,
        data_dir=a.data_dir,
        device=_device(a.device),
        seed=a.seed,
        out=a.out,
    )


def _sample(argv: list[str]) -> None:
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(prog="seqvae sample", description="Decode sentences from z ~ N(0, I).")
    p.add_argument("checkpoint")
    p.add_argument("-n", "--num", type=int, default=10)
    p.add_argument("--greedy", action="store_true", help="argmax decoding (default: sample words)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    task = load_task(a.checkpoint)
    z = torch.randn(a.num, task.model.z_dim)
    v = task.vocab
    for ids in task.model.generate(z, v.bos_id, v.eos_id, a.max_len, a.greedy, a.temperature):
        print(" ".join(v.decode(ids)))


def _reconstruct(argv: list[str]) -> None:
    from seqvae.data.batching import make_batch
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(prog="seqvae reconstruct", description="Greedy decoding of the posterior mean.")
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="+", help="tokenised sentences, one per argument")
    p.add_argument("--max-len", type=int, default=50)
    a = p.parse_args(argv)
    task = load_task(a.checkpoint)
    v = task.vocab
    batch = make_batch(list(enumerate(v.encode(s.split()) for s in a.sentences)), v.pad_id, v.bos_id, v.eos_id)
    with torch.no_grad():
        mu, _ = task.model.encode(batch.tokens, batch.lengths)
    for source, ids in zip(a.sentences, task.model.generate(mu, v.bos_id, v.eos_id, a.max_len), strict=True):
        print(f"{source}\n  -> {' '.join(v.decode(ids))}")


COMMANDS = {"evaluate": _evaluate, "sample": _sample, "reconstruct": _reconstruct}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqvae`` console command."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command == "train":
        sys.argv = [f"{sys.argv[0]} train", *rest]
        _train()
    elif command in COMMANDS:
        COMMANDS[command](rest)
    else:
        sys.exit(f"seqvae: unknown command {command!r}\n\n{USAGE}")
