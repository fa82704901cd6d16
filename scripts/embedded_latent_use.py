"""What the latent holds on the embedded corpus: none vs uniform vs AWD, default settings, several seeds.

For each method and seed: `seqvae train method=M seed=S` (the shipped defaults; a finished run is reused, an
unfinished one resumes), then on the test split: KL, MI and active units (no dropout, EMA weights), logistic
probes of topic and sentiment on posterior means (fitted on train), and how often a reconstruction keeps the
source's topic and sentiment, judged by the grammar's factor words (:func:`seqvae.data.grammar.infer_factors`).
Writes ``latent_use.json`` (every run) and ``latent_use.md`` (mean ± std over seeds) to ``--out``:

    python scripts/embedded_latent_use.py --runs runs/latent-use --out docs/results
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch

from seqvae.analysis.probe import probe_model, split_labels
from seqvae.analysis.reconstruction import factor_agreement, reconstruct
from seqvae.checkpoint import load_checkpoint
from seqvae.config import compose_config
from seqvae.data.datamodule import load_split, sentence_loader
from seqvae.data.grammar import infer_factors
from seqvae.metrics.evaluate import evaluate_split
from seqvae.training.run import fit

METHODS = ("none", "uniform", "awd")
COLUMNS = (
    ("kl", "KL"),
    ("mi", "MI"),
    ("au", "AU"),
    ("probe_topic", "topic probe"),
    ("probe_sentiment", "sentiment probe"),
    ("mean_topic", "rec. topic (z = mu)"),
    ("mean_sentiment", "rec. sentiment (z = mu)"),
    ("sample_topic", "rec. topic (z ~ q)"),
    ("sample_sentiment", "rec. sentiment (z ~ q)"),
)


def measure(checkpoint: str, seed: int) -> tuple[dict, list[tuple[str, str]]]:
    """Test-split figures of one checkpoint and its first reconstructions as ``(source, decoded)`` pairs."""
    torch.manual_seed(seed)  # the MI estimate and the posterior samples below draw from the global generator
    trained = load_checkpoint(checkpoint)
    split = load_split(trained.cfg.data, "test")
    loader = sentence_loader([trained.vocab.encode(s) for s in split.sentences], trained.vocab, 256)
    figures = evaluate_split(trained.model, loader, samples=0)
    row = {key: figures[key]["value"] for key in ("kl", "mi", "au")}
    row |= {f"probe_{p.factor}": p.accuracy for p in probe_model(trained, "train", "test", seed=seed)}
    labels = split_labels(trained.cfg.data, "test", loaded=split)
    decoded = {
        kind: reconstruct(trained.model, trained.vocab, split.sentences, kind == "sample")
        for kind in ("mean", "sample")
    }
    for kind, sentences in decoded.items():
        row |= {f"{kind}_{f}": share for f, share in factor_agreement(sentences, labels, infer_factors).items()}
    examples = [(" ".join(s), " ".join(d)) for s, d in zip(split.sentences[:4], decoded["mean"][:4], strict=True)]
    return row, examples


def table(results: dict[str, list[dict]]) -> str:
    """Markdown table of mean ± std over seeds per method."""
    head = "| method | seeds | " + " | ".join(name for _, name in COLUMNS) + " |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 2)]
    for method, rows in results.items():
        cells = []
        for key, _ in COLUMNS:
            values = [r[key] for r in rows]
            std = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.2f} ± {std:.2f}")
        lines.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/latent-use"), help="run folders, one per method/seed")
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    results: dict[str, list[dict]] = {m: [] for m in METHODS}
    examples = {}
    for method in METHODS:
        for seed in args.seeds:
            out = args.runs / f"{method}-seed{seed}"
            summary = fit(compose_config([f"method={method}", f"seed={seed}", "train.progress_bar=false"]), out)
            row, examples[f"{method}-seed{seed}"] = measure(summary["best_checkpoint"], seed)
            results[method].append({"seed": seed, **row})
            print(method, seed, json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"
    payload = {"machine": machine, "split": "test", "results": results, "reconstructions": examples}
    (args.out / "latent_use.json").write_text(json.dumps(payload, indent=1) + "\n")
    note = (
        f"Embedded corpus, test split (1,000 sentences), `seqvae train method=M seed=S` defaults, seeds "
        f"{args.seeds}; {machine}. Made by `python scripts/embedded_latent_use.py`.\n\n"
    )
    (args.out / "latent_use.md").write_text(note + table(results))
    print(note + table(results))


if __name__ == "__main__":
    main()
