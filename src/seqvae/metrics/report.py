"""``seqvae evaluate``: metrics of a checkpoint on a split, printed as a table and written as JSON."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from seqvae.data.datamodule import load_split, sentence_loader
from seqvae.metrics.elbo import elbo_terms
from seqvae.training.task import load_task


def evaluate_checkpoint(
    checkpoint: str,
    split: str = "test",
    samples: int = 500,
    max_sentences: int | None = None,
    batch_size: int | None = None,
    data_dir: str | None = None,
    device: torch.device | str = "cpu",
    seed: int = 0,
    out: str | None = None,
) -> dict:
    """Evaluate the averaged weights of ``checkpoint`` on ``split`` (no dropout).

    Returns the results dict, also written as JSON to ``out`` (default:
    ``<checkpoint stem>.<split>.json`` beside the checkpoint) and printed as a table.
    """
    torch.manual_seed(seed)
    task = load_task(checkpoint, map_location=device)
    model = task.model.to(device)
    data_cfg = task.cfg.data if data_dir is None else replace(task.cfg.data, dir=data_dir)
    sentences = [task.vocab.encode(s) for s in load_split(data_cfg, split).sentences][:max_sentences]
    loader = sentence_loader(sentences, task.vocab, batch_size or data_cfg.eval_batch_size)
    elbo = elbo_terms(model, loader)
    results = {
        "checkpoint": str(checkpoint),
        "split": split,
        "seed": seed,
        "eos_counted": True,
        **asdict(elbo),
        "config": task.cfg.to_dict(),
    }
    out_path = Path(out) if out else Path(checkpoint).with_suffix(f".{split}.json")
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    _print_table(results, out_path)
    return results


def _print_table(results: dict, out_path: Path) -> None:
    table = Table(title=f"{results['checkpoint']} on {results['split']}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("rec", "kl", "nelbo", "ppl_elbo", "sentences", "tokens"):
        value = results[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    console.print(f"tokens include </s>; written to {out_path}")
