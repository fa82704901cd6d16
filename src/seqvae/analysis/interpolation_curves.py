"""Similarity of interpolated sentences to their source and target, averaged over pairs (SPEC section 6, Figure 4b)."""

from __future__ import annotations

import csv
import dataclasses
import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from seqvae.analysis.interpolation import Interpolation, interpolate_pairs
from seqvae.analysis.similarity import Scorer
from seqvae.checkpoint import TrainedModel
from seqvae.data.datamodule import load_split
from seqvae.models.decoding import GREEDY, Decoding
from seqvae.plotting import save_figure

Pair = tuple[list[str], list[str]]
CURVE_COLUMNS = ("step", "t", "source_f1_mean", "source_f1_std", "target_f1_mean", "target_f1_std", "pairs")


def read_pairs(path: str | Path, lowercase: bool = False) -> list[Pair]:
    """Tokenised ``(source, target)`` pairs of a file of ``source<TAB>target`` lines; blank lines are skipped."""
    pairs = []
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        source, tab, target = (line.lower() if lowercase else line).partition("\t")
        if not tab or not source.split() or not target.split():
            raise ValueError(f"{path}:{lineno}: expected 'source<TAB>target', two non-empty sentences")
        pairs.append((source.split(), target.split()))
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs")
    return pairs


def random_pairs(sentences: Sequence[Sequence[str]], n: int, seed: int = 0) -> list[Pair]:
    """``n`` pairs of two different sentences (by position) drawn uniformly with ``random.Random(seed)``."""
    if n < 1:
        raise ValueError(f"the number of random pairs must be >= 1, got {n}")
    if len(sentences) < 2:
        raise ValueError(f"random pairs need at least 2 sentences, got {len(sentences)}")
    rng = random.Random(seed)
    return [tuple(list(sentences[i]) for i in rng.sample(range(len(sentences)), 2)) for _ in range(n)]


def choose_pairs(
    trained: TrainedModel,
    sentences: Sequence[str] = (),
    pairs_file: str | Path | None = None,
    random_n: int | None = None,
    split: str = "valid",
    seed: int = 0,
) -> tuple[list[Pair], str]:
    """The pairs to interpolate and where they came from: two ``sentences`` (source, target), the pairs of
    ``pairs_file``, or ``random_n`` random pairs of ``split``; exactly one of the three."""
    if sum(map(bool, (sentences, pairs_file, random_n))) != 1 or sentences and len(sentences) != 2:
        raise ValueError("give a source and a target sentence, a file of pairs, or a number of random pairs")
    if pairs_file:
        return read_pairs(pairs_file, trained.cfg.data.lowercase), str(pairs_file)
    if random_n:
        pairs = random_pairs(load_split(trained.cfg.data, split).sentences, random_n, seed)
        return pairs, f"{random_n} random pairs of the {split} split of {trained.cfg.data.name} (seed {seed})"
    return [(trained.tokens(sentences[0]), trained.tokens(sentences[1]))], "command line"


def similarity_curves(interpolations: Sequence[Interpolation], scorer: Scorer) -> dict:
    """Score every interpolated sentence against its source and target, and average per step over pairs.

    All pairs must have the same ``K``. Returns a dict with ``t`` (K), ``pairs`` (per pair the
    sentences, how many are ``distinct``, the ``f1_source``/``f1_target`` lists, K each, and
    ``f1_ends``, the source scored against the target), ``mean_distinct`` (1 when every point decodes
    alike, as under posterior collapse), ``mean_f1_ends`` (the level of an unrelated sentence) and
    ``curves`` (``source`` and ``target``: ``mean`` and ``std`` over pairs, K each; population std).
    """
    if not interpolations:
        raise ValueError("no interpolations to score")
    steps = len(interpolations[0].sentences)
    if any(len(it.sentences) != steps for it in interpolations):
        raise ValueError("all interpolations must have the same number of steps")
    candidates = [" ".join(s) for it in interpolations for s in it.sentences]
    sources = [" ".join(it.source) for it in interpolations for _ in range(steps)]
    targets = [" ".join(it.target) for it in interpolations for _ in range(steps)]
    ends = scorer([" ".join(it.source) for it in interpolations], [" ".join(it.target) for it in interpolations])
    scores = np.asarray(scorer(candidates + candidates, sources + targets), dtype=float).reshape(2, -1, steps)
    pairs = [
        {
            "source": " ".join(it.source),
            "target": " ".join(it.target),
            "sentences": [" ".join(s) for s in it.sentences],
            "distinct": len({tuple(s) for s in it.sentences}),
            "f1_source": scores[0, p].tolist(),
            "f1_target": scores[1, p].tolist(),
            "f1_ends": ends[p],
        }
        for p, it in enumerate(interpolations)
    ]
    curves = {
        end: {"mean": scores[e].mean(axis=0).tolist(), "std": scores[e].std(axis=0).tolist()}
        for e, end in enumerate(("source", "target"))
    }
    mean_distinct = float(np.mean([pair["distinct"] for pair in pairs]))
    return {
        "t": interpolations[0].t.tolist(),
        "num_pairs": len(pairs),
        "mean_distinct": mean_distinct,
        "mean_f1_ends": float(np.mean(ends)),
        "curves": curves,
        "pairs": pairs,
    }


def curve_rows(result: dict) -> list[tuple]:
    """One row per step with the :data:`CURVE_COLUMNS`."""
    src, tgt = result["curves"]["source"], result["curves"]["target"]
    return [
        (k, t, src["mean"][k], src["std"][k], tgt["mean"][k], tgt["std"][k], result["num_pairs"])
        for k, t in enumerate(result["t"])
    ]


def write_csv(result: dict, path: str | Path) -> None:
    """The averaged curves, one line per step, with a header of :data:`CURVE_COLUMNS`."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CURVE_COLUMNS)
        writer.writerows(curve_rows(result))


def plot_curves(result: dict, out_dir: str | Path) -> list[Path]:
    """Mean similarity to source and to target over ``t``, with a ±1 std band: ``interpolation.{png,svg}``."""
    t = np.asarray(result["t"])
    fig = Figure(figsize=(6.5, 4.2), layout="tight")
    ax = fig.subplots()
    for end, color in (("source", "#2166ac"), ("target", "#b2182b")):
        mean, std = (np.asarray(result["curves"][end][k]) for k in ("mean", "std"))
        ax.plot(t, mean, marker="o", markersize=4, color=color, label=f"to the {end} sentence")
        ax.fill_between(t, mean - std, mean + std, color=color, alpha=0.18, linewidth=0)
    ax.axhline(result["mean_f1_ends"], color="#555", linestyle="--", linewidth=1, label="source vs target sentence")
    sim = result.get("similarity", {})
    details = [sim["model"].rsplit("/", 1)[-1]] if sim.get("model") else []
    details += ["rescaled"] if sim.get("rescale_with_baseline") else []
    ax.set_ylabel(sim.get("metric", "similarity") + (f" ({', '.join(details)})" if details else ""))
    ax.set_xlabel("interpolation t (0 = source mean, 1 = target mean)")
    decoding = f", {result['decoding']['described']}" if "decoding" in result else ""
    ax.set_title(
        f"Decoding between two posterior means: mean ± std over {result['num_pairs']} pair(s){decoding}\n"
        f"{result['mean_distinct']:.1f} of {len(t)} decoded sentences distinct per pair on average",
        fontsize=10,
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(top=max(1.0, ax.get_ylim()[1]))
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return save_figure(fig, out_dir, "interpolation")


def interpolation_report(
    trained: TrainedModel,
    pairs: Sequence[Pair],
    steps: int,
    scorer: Scorer,
    out_dir: str | Path,
    decoding: Decoding = GREEDY,
    seed: int = 0,
    **meta,
) -> dict:
    """Interpolate, score and write ``interpolation.{json,csv,png,svg}`` to ``out_dir``; returns the JSON dict.

    The scorer's ``info`` attribute (if any) is recorded as ``similarity``; ``meta`` (e.g. the
    checkpoint and where the pairs came from) is recorded as given.
    """
    torch.manual_seed(seed)
    interpolations = interpolate_pairs(trained.model, trained.vocab, pairs, steps, decoding)
    decoding_record = {**dataclasses.asdict(decoding), "described": decoding.describe(), "seed": seed}
    unknown = {"metric": getattr(scorer, "__name__", type(scorer).__name__), "rescale_with_baseline": None}
    similarity = getattr(scorer, "info", unknown)
    result = {**meta, "steps": steps, "decoding": decoding_record, "similarity": similarity}
    result |= similarity_curves(interpolations, scorer)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "interpolation.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    write_csv(result, out_dir / "interpolation.csv")
    plot_curves(result, out_dir)
    return result
