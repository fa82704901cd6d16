"""Where AWD drops, against uniform dropout: drop rate by relative position and by training-word frequency.

Uniform exact-K dropout drops every word position of a sentence with probability ``K / T``. For each
group of positions (a fifth of the sentence; a band of training-frequency ranks) the profile compares
the adversary's mean Monte-Carlo drop probability with that uniform expectation: a ratio of 1 everywhere
means the adversary drops like uniform dropout.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from matplotlib.figure import Figure

from seqvae.analysis.saliency import SentenceSaliency, adversary_saliency, awd_module, checkpoint_sentences
from seqvae.checkpoint import TrainedModel
from seqvae.data.datamodule import load_split
from seqvae.plotting import save_figure

POSITION_BINS = 5
# Frequency bands by rank in the training split (1 = most frequent word); words never seen there are "unseen".
RANK_BANDS = ((1, 10), (11, 100), (101, 1000), (1001, None))


@dataclass
class ProfileRow:
    """One group of word positions: the adversary's mean drop probability against uniform dropout's."""

    kind: str
    group: str
    positions: int
    awd_drop_prob: float
    uniform_drop_prob: float

    @property
    def ratio(self) -> float:
        return self.awd_drop_prob / self.uniform_drop_prob if self.uniform_drop_prob > 0 else float("nan")


def _band(rank: int | None) -> str:
    if rank is None:
        return "unseen"
    for low, high in RANK_BANDS:
        if high is None or rank <= high:
            return f"rank {low}+" if high is None else f"rank {low}-{high}"
    raise AssertionError("the last band is open")


def drop_profile(results: Sequence[SentenceSaliency], train_counts: Counter) -> list[ProfileRow]:
    """Rows by relative position (``POSITION_BINS`` fifths) and by training-frequency band."""
    ranks = {w: r for r, (w, _) in enumerate(train_counts.most_common(), start=1)}
    sums: dict[tuple[str, str], list[float]] = {}
    for r in results:
        uniform = r.k / r.length
        for i in range(1, r.length + 1):
            position_bin = min((i - 1) * POSITION_BINS // r.length, POSITION_BINS - 1)
            groups = (
                ("position", f"{position_bin + 1}/{POSITION_BINS}"),
                ("frequency", _band(ranks.get(r.words[i]))),
            )
            for key in groups:
                acc = sums.setdefault(key, [0, 0.0, 0.0])
                acc[0] += 1
                acc[1] += r.drop_prob[i]
                acc[2] += uniform
    order = [f"{b + 1}/{POSITION_BINS}" for b in range(POSITION_BINS)]
    order += [_band(low) for low, _ in RANK_BANDS] + ["unseen"]
    rows = [ProfileRow(kind, group, n, p / n, u / n) for (kind, group), (n, p, u) in sums.items()]
    return sorted(rows, key=lambda row: (row.kind != "position", order.index(row.group)))


def write_profile(rows: Sequence[ProfileRow], out_dir: str | Path, title: str) -> list[Path]:
    """``drop_profile.csv`` and a two-panel bar chart (``.png``, ``.svg``) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "drop_profile.csv"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([field.name for field in fields(ProfileRow)] + ["ratio"])
        for row in rows:
            writer.writerow([*astuple(row), row.ratio])
    fig = Figure(figsize=(10, 3.4))
    for ax, kind in zip(fig.subplots(1, 2), ("position", "frequency"), strict=True):
        part = [r for r in rows if r.kind == kind]
        x = range(len(part))
        ax.bar([i - 0.2 for i in x], [r.awd_drop_prob for r in part], width=0.4, label="AWD")
        ax.bar([i + 0.2 for i in x], [r.uniform_drop_prob for r in part], width=0.4, label="uniform (K/T)")
        ax.set_xticks(list(x), [f"{r.group}\n(n={r.positions})" for r in part], fontsize=7)
        ax.set_ylabel("mean drop probability")
        ax.set_title("by relative position in the sentence" if kind == "position" else "by training frequency")
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return [csv_path, *save_figure(fig, out_dir, "drop_profile")]


def drop_profile_report(
    trained: TrainedModel,
    out_dir: str | Path,
    split: str = "valid",
    n: int | None = None,
    samples: int = 200,
    seed: int = 0,
) -> list[ProfileRow]:
    """Profile of a checkpoint's adversary on ``n`` sentences of a split; writes CSV and figure to ``out_dir``."""
    dropout = awd_module(trained.model)
    counts = Counter(w for s in load_split(trained.cfg.data, "train").sentences for w in s)
    sentences = checkpoint_sentences(trained, None, split, n)
    rows = drop_profile(adversary_saliency(dropout, trained.vocab, sentences, samples, seed), counts)
    title = f"{trained.path}: {len(sentences)} {split} sentences of {trained.cfg.data.name}, R = {dropout.rate}"
    write_profile(rows, out_dir, title)
    return rows
