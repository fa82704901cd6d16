"""Reconstructions: decode a sentence's posterior mean (or a posterior sample) back to words."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from seqvae.analysis.latents import encode_sentences
from seqvae.data.vocab import Vocabulary
from seqvae.models.decoding import GREEDY, Decoding
from seqvae.models.vae import SequenceVAE


def reconstruct(
    model: SequenceVAE,
    vocab: Vocabulary,
    sentences: Sequence[Sequence[str]],
    posterior_sample: bool = False,
    decoding: Decoding = GREEDY,
) -> list[list[str]]:
    """Decodings of ``z = mu`` (or of ``z ~ q(z|x)`` with ``posterior_sample``) as ``decoding`` says (default:
    greedy), one per tokenised sentence."""
    mu, logvar = encode_sentences(model, vocab, sentences)
    z = model.reparameterize(mu, logvar) if posterior_sample else mu
    device = next(model.parameters()).device
    return [vocab.decode(ids) for ids in model.generate(z.to(device), vocab.bos_id, vocab.eos_id, decoding)]


def factor_agreement(
    decoded: Sequence[Sequence[str]],
    labels: Mapping[str, Sequence[str]],
    judge: Callable[[Sequence[str]], Mapping[str, str | None]],
) -> dict[str, float]:
    """Per factor, the share of decoded sentences whose factor, read by ``judge``, equals the source's label."""
    found = [judge(sentence) for sentence in decoded]
    return {
        factor: sum(f[factor] == label for f, label in zip(found, values, strict=True)) / max(len(decoded), 1)
        for factor, values in labels.items()
    }
