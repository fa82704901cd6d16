"""Latent probes: how well a linear classifier reads a sentence-level factor off the posterior means.

A probe is fitted on the posterior means ``mu (N, Z)`` of one split and scored on another, beside
the majority-class baseline (the accuracy of always guessing the most frequent label of the split
fitted on).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from seqvae.analysis.latents import encode_sentences
from seqvae.checkpoint import TrainedModel
from seqvae.config import DataConfig
from seqvae.data.corpus import CorpusError, Split, read_labels_tsv
from seqvae.data.datamodule import load_split, split_source


@dataclass
class ProbeResult:
    """Accuracy of one factor's probe.

    Attributes:
        factor: the label column probed.
        accuracy: logistic-regression accuracy on the scoring split.
        majority: accuracy of always predicting the most frequent label of the split fitted on.
        chance: ``1 / number of classes``.
        classes: the labels of the split fitted on.
        n_fit, n_scored: sentences used to fit and to score.
    """

    factor: str
    accuracy: float
    majority: float
    chance: float
    classes: list[str]
    n_fit: int
    n_scored: int

    def to_dict(self) -> dict:
        return asdict(self)


def probe_factor(
    factor: str,
    fit_x: np.ndarray,
    fit_y: Sequence[str],
    score_x: np.ndarray,
    score_y: Sequence[str],
    seed: int = 0,
) -> ProbeResult:
    """Fit a standardised multinomial logistic regression on ``fit_x (N, Z)`` and score it on ``score_x (M, Z)``."""
    if len(fit_x) != len(fit_y) or len(score_x) != len(score_y):
        raise ValueError(f"{factor}: latents and labels differ in number")
    classes = sorted(set(fit_y))
    if len(classes) < 2:
        raise ValueError(f"{factor}: the labels to fit on have a single class {classes}; nothing to probe")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    clf.fit(fit_x, list(fit_y))
    accuracy = float(np.mean(clf.predict(score_x) == np.asarray(score_y)))
    most_common = Counter(fit_y).most_common(1)[0][0]
    majority = float(np.mean(np.asarray(score_y) == most_common))
    return ProbeResult(factor, accuracy, majority, 1.0 / len(classes), classes, len(fit_y), len(score_y))


def read_label_columns(path: str | Path) -> dict[str, list[str]]:
    """Label columns of a TSV with a header row (one row per sentence), e.g. the embedded corpus's ``*.labels.tsv``."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"label file not found: {path}")
    try:
        rows = read_labels_tsv(path)
    except ValueError as err:
        raise CorpusError(f"{path}: every row must have one value per header column ({err})") from None
    if not rows:
        raise CorpusError(f"{path}: no label rows under the header")
    return {column: [row[column] for row in rows] for column in rows[0]}


def split_labels(
    data_cfg: DataConfig, split: str, path: str | Path | None = None, loaded: Split | None = None
) -> dict[str, list[str]]:
    """Label columns of a split: ``path`` if given, else ``<split>.labels.tsv`` beside the split's file (the
    embedded corpus's factors), else the inline labels of a labelled (``label<TAB>text``) corpus as ``label``;
    ``loaded`` is the split already read, if it was (then it is not read again).
    """
    if path is not None:
        return read_label_columns(path)
    path, lines = split_source(data_cfg, split)
    beside = path.with_suffix(".labels.tsv")
    if beside.is_file():
        return {factor: values[lines] for factor, values in read_label_columns(beside).items()}
    inline = (loaded or load_split(data_cfg, split)).labels if data_cfg.labelled is not False else None
    if inline is not None:
        return {"label": inline}
    raise CorpusError(
        f"no labels for the {split} split of {data_cfg.name}: pass a label TSV (header row, one row per sentence), "
        f"put one at {beside}, or use a labelled corpus (data.labelled=true)"
    )


def probe_model(
    trained: TrainedModel,
    fit_split: str = "train",
    score_split: str = "test",
    fit_labels: str | Path | None = None,
    score_labels: str | Path | None = None,
    factors: Sequence[str] | None = None,
    max_fit: int | None = None,
    seed: int = 0,
) -> list[ProbeResult]:
    """Probe every factor (or ``factors``) of a model's corpus: fit on ``fit_split``, score on ``score_split``."""
    if fit_split == score_split:
        raise ValueError(f"fit and score the probe on different splits, got {fit_split!r} twice")
    data = {}
    for split, labels_path in ((fit_split, fit_labels), (score_split, score_labels)):
        loaded = load_split(trained.cfg.data, split)
        sentences = loaded.sentences
        labels = split_labels(trained.cfg.data, split, labels_path, loaded)
        for factor, values in labels.items():
            if len(values) != len(sentences):
                raise CorpusError(
                    f"{split}: {len(values)} labels for factor {factor!r} but {len(sentences)} sentences "
                    "(blank lines in the corpus are skipped; the label file must skip them too)"
                )
        limit = max_fit if split == fit_split else None
        mu, _ = encode_sentences(trained.model, trained.vocab, sentences[:limit])
        data[split] = (mu.numpy(), {f: v[:limit] for f, v in labels.items()})
    (fit_x, fit_y), (score_x, score_y) = data[fit_split], data[score_split]
    names = list(factors) if factors else list(fit_y)
    for factor in names:
        if factor not in fit_y or factor not in score_y:
            raise CorpusError(f"factor {factor!r} not among the labels {sorted(set(fit_y) & set(score_y))}")
    return [probe_factor(f, fit_x, fit_y[f], score_x, score_y[f], seed) for f in names]


def probe_report(trained: TrainedModel, out: str | Path | None = None, **settings) -> list[ProbeResult]:
    """:func:`probe_model` with ``settings``; the results also written as JSON to ``out`` if given."""
    results = probe_model(trained, **settings)
    if out is not None:
        Path(out).write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n")
    return results
