"""Evaluation of a trained model on a split (``seqvae evaluate``; a sweep's test stage): every metric of SPEC
section 4, written as JSON.

One pass over the split encodes every sentence once; its ``(mu, logvar)`` serve the KL, the
importance samples (which also give ``rec``), the mutual information and the active units. Beside the JSON,
``<json stem>.sentences.npz`` holds the per-sentence values in split order (:meth:`SplitTotals.sentence_rows`), for
paired comparisons of two models on the same sentences (:mod:`seqvae.sweep.paired`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track

from seqvae.checkpoint import TrainedModel
from seqvae.data.batching import Batch
from seqvae.data.datamodule import load_split, sentence_loader
from seqvae.metrics.active_units import AU_THRESHOLD, active_units
from seqvae.metrics.importance import iw_log_marginal
from seqvae.metrics.mutual_info import mutual_information_estimates
from seqvae.metrics.perplexity import perplexity
from seqvae.models.vae import SequenceVAE
from seqvae.objectives.kl import gaussian_kl


@dataclass
class SplitTotals:
    """The per-sentence values of a split, batch by batch, and their sums.

    Attributes:
        rows: per-batch ``(B,)`` values of each sentence: ``rec`` (``-mean_s log p(x_n|z_s)``), ``kl`` (closed
            form), ``nll`` (``-log p(x_n)``, importance-weighted; only with importance samples) and ``tokens``
            (``T + 1``, with ``</s>``).
        mu, logvar: per-batch ``(B, Z)`` posterior parameters.
        index: per-batch ``(B,)`` positions of the sentences in their split (:attr:`Batch.index`).
    """

    rows: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    mu: list[torch.Tensor] = field(default_factory=list)
    logvar: list[torch.Tensor] = field(default_factory=list)
    index: list[torch.Tensor] = field(default_factory=list)

    def total(self, key: str) -> float:
        """``sum_n`` of the per-sentence ``key`` (0 if the split has no such value), summed batch by batch."""
        return sum((float(values.sum()) for values in self.rows.get(key, [])), 0.0)

    @property
    def sentences(self) -> int:
        return sum(len(index) for index in self.index)

    @property
    def tokens(self) -> int:
        return int(self.total("tokens"))

    @torch.no_grad()
    def add(self, model: SequenceVAE, batch: Batch, samples: int, chunk_tokens: int | None) -> None:
        """Encode ``batch`` once and add its terms; ``rec`` uses the ``samples`` importance draws (one if 0)."""
        device = next(model.parameters()).device
        x, lengths = batch.tokens.to(device), batch.lengths.to(device)
        mu, logvar = model.encode(x, lengths)
        rows = {"kl": gaussian_kl(mu, logvar).sum(dim=-1), "tokens": batch.lengths + 1}
        if samples > 0:
            log_px, log_px_z = iw_log_marginal(model, x, mu, logvar, samples, chunk_tokens)
            rows["nll"] = -log_px
        else:
            log_px_z = model.log_likelihood(x, model.reparameterize(mu, logvar))
        rows["rec"] = -log_px_z
        self.mu.append(mu)
        self.logvar.append(logvar)
        for key, values in rows.items():
            self.rows.setdefault(key, []).append(values.cpu())
        self.index.append(batch.index)

    def sentence_rows(self) -> dict[str, np.ndarray]:
        """Each sentence's values in split order (row ``i``: the sentence at position ``i``, by :attr:`Batch.index`):
        ``rec``, ``kl``, ``nll`` (with importance samples), ``tokens`` ``(N,)``; ``mu``, ``logvar`` ``(N, Z)``."""
        order = torch.argsort(torch.cat(self.index))
        columns = {**self.rows, "mu": self.mu, "logvar": self.logvar}
        return {key: torch.cat(values).cpu()[order].numpy() for key, values in columns.items()}


def sentences_file(json_path: str | Path) -> Path:
    """Where the per-sentence values of the evaluation written to ``json_path`` go: ``eval-test.json`` ->
    ``eval-test.sentences.npz``."""
    return Path(json_path).with_suffix(".sentences.npz")


def write_sentence_rows(rows: dict[str, np.ndarray], path: Path) -> None:
    """``np.savez`` of ``rows`` into a temporary file beside ``path``, then moved onto it: never a partial file."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as f:
        np.savez(f, **rows)
    partial.replace(path)


def _figure(value: float, totals: SplitTotals, samples: int, **extra) -> dict:
    """A reported number with what it was computed on; ``samples`` 0 means closed form."""
    return {
        "value": value,
        "sentences": totals.sentences,
        "tokens": totals.tokens,
        "samples": samples,
        "eos_counted": True,
        **extra,
    }


def split_figures(totals: SplitTotals, samples: int, au_threshold: float = AU_THRESHOLD) -> dict[str, dict]:
    """rec, kl, nelbo, ppl_elbo, [nll, ppl], mi, mi_factorised, au (SPEC section 4) from the totals of a split."""
    n, rec_samples = totals.sentences, max(samples, 1)
    rec, kl, nll = totals.total("rec"), totals.total("kl"), totals.total("nll")
    nelbo_sum = rec + kl
    mu, logvar = torch.cat(totals.mu), torch.cat(totals.logvar)
    figures = {
        "rec": _figure(rec / n, totals, rec_samples),
        "kl": _figure(kl / n, totals, 0),
        "nelbo": _figure(nelbo_sum / n, totals, rec_samples),
        "ppl_elbo": _figure(perplexity(nelbo_sum, totals.tokens), totals, rec_samples),
    }
    if samples > 0:
        figures["nll"] = _figure(nll / n, totals, samples)
        figures["ppl"] = _figure(perplexity(nll, totals.tokens), totals, samples)
    mi = mutual_information_estimates(mu, logvar)
    figures["mi"] = _figure(mi.joint, totals, 1, estimator="joint aggregate posterior", upper_bound=math.log(n))
    figures["mi_factorised"] = _figure(mi.factorised, totals, 1, estimator="per-dimension aggregate posterior")
    au = active_units(mu, au_threshold)
    figures["au"] = _figure(au.count, totals, 0, threshold=au.threshold, variances=au.variances)
    return figures


def evaluate_split(
    model: SequenceVAE,
    batches: Iterable[Batch],
    samples: int = 500,
    chunk_tokens: int | None = None,
    au_threshold: float = AU_THRESHOLD,
) -> dict[str, dict]:
    """All metrics of ``model`` (evaluation mode, no dropout) in one pass over ``batches``.

    ``samples`` importance samples per sentence give ``nll``, ``ppl`` and ``rec``; 0 skips the
    NLL and estimates ``rec`` from one sample.
    """
    return split_figures(split_totals(model, batches, samples, chunk_tokens), samples, au_threshold)


def split_totals(model: SequenceVAE, batches: Iterable[Batch], samples: int, chunk_tokens: int | None) -> SplitTotals:
    """:class:`SplitTotals` of ``model`` (evaluation mode, no dropout) in one pass over ``batches``."""
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    model.eval()
    totals = SplitTotals()
    for batch in batches:
        totals.add(model, batch, samples, chunk_tokens)
    return totals


def evaluate_checkpoint(
    trained: TrainedModel,
    split: str = "test",
    samples: int = 500,
    max_sentences: int | None = None,
    batch_size: int | None = None,
    data_dir: str | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    chunk_tokens: int | None = None,
    au_threshold: float = AU_THRESHOLD,
) -> dict:
    """Evaluate a checkpoint's model (averaged weights, no dropout) on ``split``, with a progress bar.

    Returns the results dict, also written as JSON to ``out`` (default: ``<checkpoint stem>.<split>.json``
    beside the checkpoint) and holding that path under ``"written_to"``; the per-sentence values go beside it
    (:func:`sentences_file`), whose file name the JSON holds under ``"per_sentence"``.
    """
    torch.manual_seed(seed)
    data_cfg = trained.cfg.data if data_dir is None else replace(trained.cfg.data, dir=data_dir)
    sentences = [trained.vocab.encode(s) for s in load_split(data_cfg, split).sentences][:max_sentences]
    loader = sentence_loader(sentences, trained.vocab, batch_size or data_cfg.eval_batch_size)
    batches = track(loader, description=f"evaluating {split}", console=Console(stderr=True))
    out_path = Path(out) if out else trained.path.with_suffix(f".{split}.json")
    totals = split_totals(trained.model, batches, samples, chunk_tokens)
    per_sentence = sentences_file(out_path)
    write_sentence_rows(totals.sentence_rows(), per_sentence)
    results = {
        "checkpoint": str(trained.path),
        "split": split,
        "seed": seed,
        "samples": samples,
        "eos_counted": True,
        "metrics": split_figures(totals, samples, au_threshold),
        "per_sentence": per_sentence.name,
        "config": trained.cfg.to_dict(),
    }
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    return {**results, "written_to": str(out_path)}
