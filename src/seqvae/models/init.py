"""Initialisation schemes of a model's parameters (:data:`INITS`).

``torch``: PyTorch's defaults, as each module sets them. ``small-uniform``: the original AWD code's: every weight
uniform in (-0.01, 0.01), every bias 0, every word embedding uniform in (-0.1, 0.1), the adversary's included
(its score means then start near 0, so its first drops are close to uniform). Under ``small-uniform`` a
LayerNorm (the transformer decoder's) keeps its identity start, weight 1 and bias 0 (a weight near 0 would cut the
signal), and the learned mask embedding of ``drop_to=mask`` (:data:`EMBEDDING_VECTORS`) is drawn as a word
embedding.
"""

from __future__ import annotations

import torch
from torch import nn

INITS = ("torch", "small-uniform")
WEIGHT_RANGE = 0.01
EMBEDDING_RANGE = 0.1
#: Parameters, by the last part of their name, that are word-embedding vectors outside an ``nn.Embedding``.
EMBEDDING_VECTORS = ("mask_embedding",)


@torch.no_grad()
def initialise(model: nn.Module, scheme: str) -> None:
    """Initialise every parameter of ``model`` in place by ``scheme``; ``torch`` leaves PyTorch's initialisation."""
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; choose one of {list(INITS)}")
    if scheme == "torch":
        return
    embeddings = {id(m.weight): m.padding_idx for m in model.modules() if isinstance(m, nn.Embedding)}
    norms = {
        id(p): value
        for m in model.modules()
        if isinstance(m, nn.LayerNorm)
        for p, value in ((m.weight, 1.0), (m.bias, 0.0))
        if p is not None
    }
    for name, parameter in model.named_parameters():
        if id(parameter) in norms:
            parameter.fill_(norms[id(parameter)])
        elif name.rsplit(".", 1)[-1] in EMBEDDING_VECTORS:
            parameter.uniform_(-EMBEDDING_RANGE, EMBEDDING_RANGE)
        elif id(parameter) in embeddings:
            parameter.uniform_(-EMBEDDING_RANGE, EMBEDDING_RANGE)
            if (padding := embeddings[id(parameter)]) is not None:
                parameter[padding].zero_()  # padding is read as nothing, as nn.Embedding's own init has it
        elif name.rsplit(".", 1)[-1].startswith("bias"):
            parameter.zero_()
        else:
            parameter.uniform_(-WEIGHT_RANGE, WEIGHT_RANGE)
