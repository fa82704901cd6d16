"""Evaluation of a trained model on a split (``seqvae evaluate``; a sweep's test stage): every metric of SPEC
section 4, written as JSON.

One pass over the split encodes every sentence once; its ``(mu, logvar)`` serve the KL, the
importance samples (which also give ``rec``), the mutual information and the active units.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

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
    """Sums over the sentences of a split and their stacked posterior parameters.

    Attributes:
        rec: ``sum_n -mean_s log p(x_n|z_s)``.
        kl: ``sum_n KL(q(z|x_n)||p(z))`` (closed form).
        nll: ``sum_n -log p(x_n)`` (importance-weighted; 0 without importance samples).
        sentences, tokens: counts; ``tokens`` includes one ``</s>`` per sentence.
        mu, logvar: per-batch ``(B, Z)`` posterior parameters.
    """

    rec: float = 0.0
    kl: float = 0.0
    nll: float = 0.0
    sentences: int = 0
    tokens: int = 0
    mu: list[torch.Tensor] = field(default_factory=list)
    logvar: list[torch.Tensor] = field(default_factory=list)

    @torch.no_grad()
    def add(self, model: SequenceVAE, batch: Batch, samples: int, chunk_tokens: int | None) -> None:
        """Encode ``batch`` once and add its terms; ``rec`` uses the ``samples`` importance draws (one if 0)."""
        device = next(model.parameters()).device
        x, lengths = batch.tokens.to(device), batch.lengths.to(device)
        mu, logvar = model.encode(x, lengths)
        if samples > 0:
            log_px, log_px_z = iw_log_marginal(model, x, mu, logvar, samples, chunk_tokens)
            self.nll -= float(log_px.sum())
        else:
            log_px_z = model.log_likelihood(x, model.reparameterize(mu, logvar))
        self.rec -= float(log_px_z.sum())
        self.kl += float(gaussian_kl(mu, logvar).sum())
        self.sentences += x.size(0)
        self.tokens += batch.num_tokens
        self.mu.append(mu)
        self.logvar.append(logvar)


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
    nelbo_sum = totals.rec + totals.kl
    mu, logvar = torch.cat(totals.mu), torch.cat(totals.logvar)
    figures = {
        "rec": _figure(totals.rec / n, totals, rec_samples),
        "kl": _figure(totals.kl / n, totals, 0),
        "nelbo": _figure(nelbo_sum / n, totals, rec_samples),
        "ppl_elbo": _figure(perplexity(nelbo_sum, totals.tokens), totals, rec_samples),
    }
    if samples > 0:
        figures["nll"] = _figure(totals.nll / n, totals, samples)
        figures["ppl"] = _figure(perplexity(totals.nll, totals.tokens), totals, samples)
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
    if samples < 0:
        raise ValueError(f"samples must be >= 0, got {samples}")
    model.eval()
    totals = SplitTotals()
    for batch in batches:
        totals.add(model, batch, samples, chunk_tokens)
    return split_figures(totals, samples, au_threshold)


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
    beside the checkpoint) and holding that path under ``"written_to"``.
    """
    torch.manual_seed(seed)
    data_cfg = trained.cfg.data if data_dir is None else replace(trained.cfg.data, dir=data_dir)
    sentences = [trained.vocab.encode(s) for s in load_split(data_cfg, split).sentences][:max_sentences]
    loader = sentence_loader(sentences, trained.vocab, batch_size or data_cfg.eval_batch_size)
    batches = track(loader, description=f"evaluating {split}", console=Console(stderr=True))
    out_path = Path(out) if out else trained.path.with_suffix(f".{split}.json")
    results = {
        "checkpoint": str(trained.path),
        "split": split,
        "seed": seed,
        "samples": samples,
        "eos_counted": True,
        "metrics": evaluate_split(trained.model, batches, samples, chunk_tokens, au_threshold),
        "config": trained.cfg.to_dict(),
    }
    out_path.write_text(json.dumps(results, indent=2) + "\n")
    return {**results, "written_to": str(out_path)}
