"""Initialisation schemes of a model's parameters (:data:`INITS`).

``torch``: PyTorch's defaults, as each module sets them. ``small-uniform``: the original AWD code's: every weight
uniform in (-0.01, 0.01), every bias 0, every word embedding uniform in (-0.1, 0.1), the adversary's included
(its score means then start near 0, so its first drops are close to uniform).
"""

from __future__ import annotations

import torch
from torch import nn

INITS = ("torch", "small-uniform")
WEIGHT_RANGE = 0.01
EMBEDDING_RANGE = 0.1


@torch.no_grad()
def initialise(model: nn.Module, scheme: str) -> None:
    """Initialise every parameter of ``model`` in place by ``scheme``; ``torch`` leaves PyTorch's initialisation."""
    if scheme not in INITS:
        raise ValueError(f"unknown init {scheme!r}; choose one of {list(INITS)}")
    if scheme == "torch":
        return
    embeddings = {id(m.weight): m.padding_idx for m in model.modules() if isinstance(m, nn.Embedding)}
    for name, parameter in model.named_parameters():
        if id(parameter) in embeddings:
            parameter.uniform_(-EMBEDDING_RANGE, EMBEDDING_RANGE)
            if (padding := embeddings[id(parameter)]) is not None:
                parameter[padding].zero_()  # padding is read as nothing, as nn.Embedding's own init has it
        elif name.rsplit(".", 1)[-1].startswith("bias"):
            parameter.zero_()
        else:
            parameter.uniform_(-WEIGHT_RANGE, WEIGHT_RANGE)
