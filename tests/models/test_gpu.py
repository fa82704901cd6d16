"""CUDA checks, run with ``pytest -m gpu`` (skipped without a CUDA device): a training step of each decoder
(and of the Double-LSTMs with the original code's second update cell and state dropout), the fused Double-LSTM
(as written and compiled, with and without that variant) against the step-by-step reference, and a bf16-mixed
autocast step."""

import pytest
import torch

from seqvae.config import Config
from seqvae.data.batching import make_batch
from seqvae.models.decoders import DECODERS, build_decoder
from seqvae.models.vae import SequenceVAE

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

V = 40
LENGTHS = [7, 3, 12, 1, 5, 9]
AUTHORS_VARIANT = {"update_cells": 2, "state_dropout": 0.4}


@pytest.fixture
def full_float32():
    """Plain float32 matrix products (no TF32) for the test, whatever the process had set."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    yield
    torch.set_float32_matmul_precision(before)


def tiny_vae(decoder: str, method: str, **model) -> SequenceVAE:
    """A small VAE on the GPU, built from a config as a run builds it; ``model``: more ``model`` settings."""
    cfg = Config.from_dict(
        {
            "model": {"emb_dim": 16, "enc_hidden": 32, "dec_hidden": 32, "z_dim": 8, "decoder": decoder, **model},
            "dropout": {"method": method, "rate": 0.3, "adv_emb_dim": 16, "adv_hidden_dim": 16},
        }
    )
    torch.manual_seed(0)
    return SequenceVAE.from_config(cfg, V).cuda().train()


def random_batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return make_batch([(i, torch.randint(4, V, (t,), generator=g).tolist()) for i, t in enumerate(LENGTHS)])


def training_step(model: SequenceVAE, bf16: bool = False) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One step as the trainer takes it (autocast forward and loss, backward, clipping, SGD); the loss and the
    parameters before the step."""
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    batch = random_batch()
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        out = model(batch.tokens.cuda(), batch.lengths.cuda())
        loss = out.loss(beta=0.5)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is None or torch.isfinite(p.grad).all(), name
    torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    return loss.detach(), before


def changed_modules(model: SequenceVAE, before: dict[str, torch.Tensor]) -> set[str]:
    """Top-level parts (``encoder``, ``decoder``, ``dropout.adversary``...) with a parameter the step moved."""
    depth = {"dropout": 2}
    return {
        ".".join(name.split(".")[: depth.get(name.split(".")[0], 1)])
        for name, p in model.named_parameters()
        if not torch.equal(before[name], p.detach())
    }


@pytest.mark.parametrize("method", ["none", "awd"])
@pytest.mark.parametrize("decoder", list(DECODERS))
def test_a_cuda_training_step_is_finite_and_moves_every_part(decoder, method):
    model = tiny_vae(decoder, method)
    loss, before = training_step(model)
    assert loss.is_cuda and torch.isfinite(loss)
    moved = changed_modules(model, before)
    assert {"encoder", "dec_embedding", "decoder"} <= moved
    if method == "awd":
        assert "dropout.adversary" in moved


@pytest.mark.parametrize("decoder", ["double-lstm", "double-lstm-reference"])
def test_a_cuda_training_step_of_the_authors_variant_is_finite_and_moves_the_second_cell(decoder):
    model = tiny_vae(decoder, "awd", **AUTHORS_VARIANT)
    loss, before = training_step(model)
    assert torch.isfinite(loss)
    assert {"encoder", "dec_embedding", "decoder"} <= changed_modules(model, before)
    assert not torch.equal(before["decoder.update2.weight_hh"], model.decoder.update2.weight_hh.detach())


@pytest.mark.parametrize("variant", [{}, AUTHORS_VARIANT], ids=["paper", "authors"])
@pytest.mark.parametrize("compiled", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["fused", "compiled"])
def test_fused_double_lstm_equals_the_reference_on_cuda(full_float32, compiled, variant):
    torch.manual_seed(0)
    reference = build_decoder("double-lstm-reference", 24, 48, 6, V, **variant).cuda()
    fused = build_decoder("double-lstm", 24, 48, 6, V, compile_steps=compiled, **variant).cuda()
    fused.load_state_dict(reference.state_dict())
    for batch, length in ((8, 21), (5, 9), (11, 4)):  # a compiled step recompiles once, with dynamic shapes
        inputs = torch.randn(batch, length, 24, device="cuda", requires_grad=True)
        z = torch.randn(batch, 6, device="cuda", requires_grad=True)
        weights = torch.randn(batch, length, V, device="cuda")
        masks = reference.state_masks(length, batch)  # the same state dropout for both (None without)
        results = []
        for decoder in (reference, fused):
            logits = decoder(inputs, z, masks)
            grads = torch.autograd.grad((logits.tanh() * weights).sum(), [inputs, z, *decoder.parameters()])
            results.append((logits, *grads))
        for a, b in zip(*results, strict=True):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("decoder", list(DECODERS))
def test_a_bf16_mixed_step_on_cuda_is_finite_and_keeps_float32_weights(decoder):
    model = tiny_vae(decoder, "awd")
    loss, before = training_step(model, bf16=True)
    assert torch.isfinite(loss)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert {"encoder", "dec_embedding", "decoder"} <= changed_modules(model, before)
