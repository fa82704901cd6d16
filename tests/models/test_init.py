"""Initialisation schemes: PyTorch's defaults untouched, the original AWD code's small uniform ranges."""

import pytest
import torch

from seqvae.config import Config
from seqvae.models import SequenceVAE
from seqvae.models.init import EMBEDDING_RANGE, WEIGHT_RANGE, initialise


def build(init: str, **dropout) -> SequenceVAE:
    sizes = {"emb_dim": 16, "enc_hidden": 24, "dec_hidden": 24, "z_dim": 4, "decoder": "double-lstm", "init": init}
    torch.manual_seed(0)
    cfg = Config.from_dict({"model": sizes, "dropout": {"adv_emb_dim": 8, "adv_hidden_dim": 8, **dropout}})
    return SequenceVAE.from_config(cfg, 50)


def test_small_uniform_puts_every_parameter_in_the_original_code_s_ranges():
    model = build("small-uniform")
    embeddings = {"encoder.embedding.weight", "dec_embedding.weight", "dropout.adversary.embedding.weight"}
    names = {name for name, _ in model.named_parameters()}
    assert embeddings <= names and "dropout.adversary.head.weight" in names, "the adversary is initialised too"
    for name, p in model.named_parameters():
        if name in embeddings:
            assert p[1:].abs().max() <= EMBEDDING_RANGE and p[1:].abs().max() > WEIGHT_RANGE, name
            assert torch.equal(p[0], torch.zeros_like(p[0])), f"{name}: the padding row stays zero"
        elif "bias" in name.rsplit(".", 1)[-1]:
            assert torch.equal(p, torch.zeros_like(p)), name
        else:
            assert 0 < p.abs().max() <= WEIGHT_RANGE, name
            assert p.std().item() == pytest.approx(WEIGHT_RANGE / 3**0.5, rel=0.25), f"{name}: spread over the range"


def test_torch_init_is_pytorch_s_own_and_draws_nothing():
    torch.manual_seed(0)
    model = build("torch")
    state = torch.get_rng_state()
    initialise(model, "torch")
    assert torch.equal(state, torch.get_rng_state())
    assert model.decoder.update.weight_hh.abs().max() > WEIGHT_RANGE, "PyTorch's LSTM init is 1/sqrt(H) wide"
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        initialise(model, "xavier")


def test_a_bias_free_score_head_with_a_fixed_sigma():
    model = build("small-uniform", score_scale=1.0, score_bias=False)
    assert model.dropout.adversary.head.bias is None
    tokens = torch.randint(4, 50, (3, 7))
    mu, logvar = model.dropout.score_distribution(tokens)
    assert torch.equal(logvar, torch.zeros_like(logvar)), "sigma fixed at 1"
    assert mu.abs().max() < 0.01, "small weights and no bias: the means start near 0, drops near uniform"
    with pytest.raises(ValueError, match="model.init must be one of"):
        build("xavier")
