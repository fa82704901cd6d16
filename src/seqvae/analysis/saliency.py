"""Which decoder inputs a trained AWD adversary drops (the paper's Table 2; SPEC section 6).

For every decoder input position ``i = 0..T`` of a sentence (``<s> x_1..x_T``) the adversary gives a
Gaussian score ``N(mu_i, sigma_i^2)``; training drops the ``K = round(R * T)`` word positions with the
lowest sampled scores. ``<s>`` (position 0) is scored but never dropped, and ``</s>`` is never a decoder
input, so it has no score at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqvae.analysis.latents import read_sentences
from seqvae.analysis.saliency_html import render_page
from seqvae.checkpoint import TrainedModel
from seqvae.data.batching import make_batch
from seqvae.data.datamodule import load_split
from seqvae.data.vocab import BOS, EOS, Vocabulary
from seqvae.models.dropout import AdversarialWordDropout
from seqvae.models.vae import SequenceVAE

DEFINITIONS = {
    "words": f"the decoder inputs: {BOS} (position 0), then the words x_1..x_T (position i)",
    "known": "whether the word is in the vocabulary; an unknown word is read by the model as <unk>",
    "mu": "mean of the adversary's score distribution N(mu_i, sigma_i^2) per position; low scores are dropped",
    "sigma": "standard deviation of the adversary's score distribution per position",
    "normalised": (
        "(mu_i - m) / s, where m and s are the mean and population standard deviation of mu over the "
        "sentence's word positions 1..T, so a sentence's word scores have mean 0 and standard deviation 1; "
        f"{BOS} is put on the same scale but takes no part in m and s; all 0 when s = 0 (T = 1)"
    ),
    "drop_prob": (
        "Monte-Carlo estimate over `samples` draws of P(position is among the K lowest sampled scores "
        f"s_i = mu_i + sigma_i * eps_i); a sentence's values sum to K; always 0 for {BOS}, which is never dropped"
    ),
    "k": "K = round(R * T), the number of words dropped per sentence at rate R",
    "dropped": "the K word positions with the lowest mean scores mu_i: what the adversary drops at rate R",
    EOS: f"{EOS} is never a decoder input, so it has no score and is not listed",
}


class NotAWDError(ValueError):
    """The model was not trained with AWD: there is no adversary to read."""


@dataclass
class SentenceSaliency:
    """Adversary numbers of one sentence; every list has one entry per decoder input ``<s> x_1..x_T``.

    Attributes:
        words: ``T + 1`` words, ``<s>`` first (words as given, also those read as ``<unk>``).
        known: whether each word is in the vocabulary (else the model read ``<unk>``).
        mu, sigma: the adversary's score mean and standard deviation per position.
        normalised: ``mu`` standardised over the word positions ``1..T`` (see :data:`DEFINITIONS`).
        drop_prob: Monte-Carlo probability that the position is dropped at rate ``R``.
        k: ``K = round(R * T)``, the number of words dropped.
        dropped: the ``K`` positions (in ``1..T``, ascending) with the lowest ``mu``.
    """

    words: list[str]
    known: list[bool]
    mu: list[float]
    sigma: list[float]
    normalised: list[float]
    drop_prob: list[float]
    k: int
    dropped: list[int]

    @property
    def length(self) -> int:
        """``T``, the number of words (``<s>`` not counted)."""
        return len(self.words) - 1


def awd_module(model: SequenceVAE) -> AdversarialWordDropout:
    """The model's AWD module, or :class:`NotAWDError` naming what it has instead."""
    dropout = model.dropout
    if not isinstance(dropout, AdversarialWordDropout):
        raise NotAWDError(
            f"the model's decoder-input dropout is {type(dropout).__name__}, not AWD: this analysis needs a "
            "checkpoint trained with method=awd"
        )
    return dropout


def adversary_saliency(
    dropout: AdversarialWordDropout,
    vocab: Vocabulary,
    sentences: Sequence[Sequence[str]],
    samples: int = 1000,
    seed: int = 0,
    batch_size: int = 32,
) -> list[SentenceSaliency]:
    """Scores, normalised scores, drop probabilities and mean-score drops of tokenised sentences, from
    :meth:`AdversarialWordDropout.drop_statistics`.

    Sentences are batched in input order; the score draws come from a generator seeded with ``seed``.

    Args:
        dropout: a trained :class:`AdversarialWordDropout` (its ``rate`` is ``R``).
        vocab: the model's vocabulary.
        sentences: tokenised sentences without specials, each with at least one word.
        samples: Monte-Carlo draws of the score vector per sentence.
        seed: seed of the draws.
        batch_size: sentences per forward pass.

    Returns:
        One :class:`SentenceSaliency` per sentence, in input order.
    """
    for n, sentence in enumerate(sentences):
        if not sentence:
            raise ValueError(f"sentence {n} is empty; a sentence needs at least one word")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    device = next(dropout.adversary.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    results: list[SentenceSaliency] = []
    for start in range(0, len(sentences), batch_size):
        chunk = sentences[start : start + batch_size]
        batch = make_batch(list(enumerate(vocab.encode(s) for s in chunk)), vocab.pad_id, vocab.bos_id, vocab.eos_id)
        stats = dropout.drop_statistics(batch.tokens[:, :-1].to(device), batch.lengths.to(device), samples, generator)
        normalised = stats.normalised
        for row, sentence in enumerate(chunk):
            width = len(sentence) + 1
            results.append(
                SentenceSaliency(
                    words=[BOS, *sentence],
                    known=[True, *(w in vocab.index for w in sentence)],
                    mu=stats.mu[row, :width].tolist(),
                    sigma=stats.sigma[row, :width].tolist(),
                    normalised=normalised[row, :width].tolist(),
                    drop_prob=stats.drop_prob[row, :width].tolist(),
                    k=int(stats.k[row]),
                    dropped=stats.mean_drop[row].nonzero().flatten().tolist(),
                )
            )
    return results


def saliency_json(results: Sequence[SentenceSaliency], rate: float, samples: int, seed: int, **meta) -> dict:
    """All numbers as one JSON-ready dict: ``meta``, settings, field definitions, one entry per sentence."""
    return {
        **meta,
        "rate": rate,
        "samples": samples,
        "seed": seed,
        "definitions": DEFINITIONS,
        "sentences": [{"text": " ".join(r.words[1:]), "length": r.length, **asdict(r)} for r in results],
    }


def checkpoint_sentences(trained: TrainedModel, file: str | Path | None, split: str, n: int | None) -> list[list[str]]:
    """The first ``n`` (all if ``None``) sentences of ``file`` (read like the checkpoint's corpus) or of a split."""
    if file is not None:
        sentences = read_sentences(file, lowercase=trained.cfg.data.lowercase)
    else:
        sentences = load_split(trained.cfg.data, split).sentences
    return sentences if n is None else sentences[:n]


def saliency_report(
    trained: TrainedModel,
    file: str | Path | None = None,
    split: str = "valid",
    n: int | None = None,
    samples: int = 1000,
    seed: int = 0,
    html: str | Path | None = None,
    json_path: str | Path | None = None,
) -> dict:
    """Saliency of a checkpoint's adversary on ``file`` or a split; writes the page and/or JSON, returns the dict."""
    dropout = awd_module(trained.model)
    sentences = checkpoint_sentences(trained, file, split, n)
    results = adversary_saliency(dropout, trained.vocab, sentences, samples, seed)
    source = str(file) if file is not None else f"{split} split of {trained.cfg.data.name}"
    data = saliency_json(results, dropout.rate, samples, seed, checkpoint=str(trained.path), source=source)
    if html is not None:
        Path(html).write_text(render_page(data), encoding="utf-8")
    if json_path is not None:
        Path(json_path).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return data


def bracketed(sentence: dict) -> str:
    """A JSON sentence entry as text with its dropped words in brackets, e.g. ``the [team] lost``."""
    dropped = set(sentence["dropped"])
    return " ".join(f"[{w}]" if i in dropped else w for i, w in enumerate(sentence["words"]) if i > 0)
