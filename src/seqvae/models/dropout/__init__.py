"""Decoder-input word dropout, one module per method (SPEC section 2): ``none`` (:mod:`.base`),
``uniform`` (:mod:`.uniform`), ``awd`` (:mod:`.awd`), and the straight-through top-k they use (:mod:`.topk`)."""

from __future__ import annotations

from seqvae.models.dropout.awd import AdversarialWordDropout, Adversary, DropStatistics
from seqvae.models.dropout.base import DropoutOutput, WordDropout, drop_count, droppable
from seqvae.models.dropout.uniform import UniformDropout

METHODS = ("none", "uniform", "awd")


def build_dropout(
    method: str,
    rate: float,
    vocab_size: int,
    exact_k: bool = False,
    tau: float = 1.0,
    lam: float = 1.0,
    adv_emb_dim: int = 256,
    adv_hidden_dim: int = 256,
    score_scale: float | None = None,
    score_bias: bool = True,
) -> WordDropout:
    """Dropout module by method name, one of :data:`METHODS`; ``score_bias`` whether AWD's score head has a bias."""
    if method == "none":
        return WordDropout()
    if method == "uniform":
        return UniformDropout(rate, exact_k)
    if method == "awd":
        adversary = Adversary(vocab_size, adv_emb_dim, adv_hidden_dim, head_bias=score_bias)
        return AdversarialWordDropout(adversary, rate, tau, lam, score_scale)
    raise ValueError(f"unknown dropout method {method!r}; choose one of {list(METHODS)}")


__all__ = [
    "METHODS",
    "Adversary",
    "AdversarialWordDropout",
    "DropStatistics",
    "DropoutOutput",
    "UniformDropout",
    "WordDropout",
    "build_dropout",
    "drop_count",
    "droppable",
]
