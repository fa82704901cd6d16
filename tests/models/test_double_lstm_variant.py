"""The original AWD code's Double-LSTM variant (a second update cell, state dropout in training): the fused
decoder equals the step-by-step reference under shared masks, the dropout acts in training only, generation
equals the teacher-forced pass, and a config with the variant builds and trains."""

import shutil

import pytest
import torch

from seqvae.config import Config
from seqvae.data.batching import make_batch
from seqvae.models import SequenceVAE
from seqvae.models.decoders import DoubleLSTMDecoder, build_decoder

V = 25
BASE_NAMES = {
    f"{cell}.{kind}_{part}" for cell in ("predict", "update") for kind in ("weight", "bias") for part in ("ih", "hh")
}
BASE_NAMES |= {"init_h.weight", "init_h.bias", "output.weight", "output.bias"}


def reference_and_fused(update_cells, state_dropout, compile_steps=False):
    """The two Double-LSTM decoders (emb 6, hidden 10, z 3) in float64 with the same parameters."""
    torch.manual_seed(0)
    variant = {"update_cells": update_cells, "state_dropout": state_dropout}
    reference = build_decoder("double-lstm-reference", 6, 10, 3, V, **variant).double()
    fused = build_decoder("double-lstm", 6, 10, 3, V, compile_steps, **variant).double()
    fused.load_state_dict(reference.state_dict())
    return reference, fused


def outputs_and_gradients(decoder, inputs, z, weights, masks):
    """Logits and the gradients of a fixed function of them w.r.t. inputs, z and every parameter."""
    logits = decoder(inputs, z, masks)
    return (logits, *torch.autograd.grad((logits.tanh() * weights).sum(), [inputs, z, *decoder.parameters()]))


def assert_fused_equals_reference(reference, fused, batch, length, dropout, atol=1e-12, rtol=1e-10):
    """Same logits and gradients in training mode, with the reference's own masks handed to both if ``dropout``
    (else none drawn at all), and the same logits without grad (the recurrence keeps nothing)."""
    inputs = torch.randn(batch, length, 6, dtype=torch.double, requires_grad=True)
    z = torch.randn(batch, 3, dtype=torch.double, requires_grad=True)
    weights = torch.randn(batch, length, V, dtype=torch.double)
    masks = reference.train().state_masks(length, batch)
    assert (masks is not None) == dropout
    fused.train()
    expected = outputs_and_gradients(reference, inputs, z, weights, masks)
    for a, b in zip(expected, outputs_and_gradients(fused, inputs, z, weights, masks), strict=True):
        torch.testing.assert_close(b, a, atol=atol, rtol=rtol)
    with torch.no_grad():
        torch.testing.assert_close(fused(inputs, z, masks), reference(inputs, z, masks), atol=atol, rtol=rtol)


@pytest.mark.parametrize(
    ("update_cells", "state_dropout"), [(2, 0.0), (2, 0.4), (1, 0.4)], ids=["two-cells", "two-cells-dropout", "dropout"]
)
def test_fused_equals_the_reference_in_outputs_and_gradients(update_cells, state_dropout):
    reference, fused = reference_and_fused(update_cells, state_dropout)
    assert_fused_equals_reference(reference, fused, 4, 9, dropout=state_dropout > 0)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_steps_equal_the_reference_with_two_cells_and_dropout():
    reference, compiled = reference_and_fused(2, 0.4, compile_steps=True)
    for batch, length in ((4, 9), (3, 5), (7, 6)):  # the second shape recompiles with dynamic shapes
        assert_fused_equals_reference(reference, compiled, batch, length, dropout=True, atol=1e-10, rtol=1e-8)


def test_state_masks_are_fresh_inverted_dropout_masks():
    torch.manual_seed(0)
    decoder = build_decoder("double-lstm", 6, 10, 3, V, update_cells=2, state_dropout=0.4)
    masks = decoder.state_masks(30, 40)
    assert masks.shape == (2, 2, 30, 40, 10) and masks.dtype == torch.float32
    torch.testing.assert_close(masks.unique(), torch.tensor([0.0, 1 / 0.6]))
    assert abs(float((masks == 0).float().mean()) - 0.4) < 0.03
    assert not torch.equal(masks, decoder.state_masks(30, 40))
    assert decoder.eval().state_masks(30, 40) is None
    assert build_decoder("double-lstm", 6, 10, 3, V, update_cells=2).state_masks(30, 40) is None


@pytest.mark.parametrize("kind", ["double-lstm", "double-lstm-reference"])
def test_state_dropout_acts_in_training_mode_only(kind):
    torch.manual_seed(0)
    plain = build_decoder(kind, 6, 10, 3, V, update_cells=2)
    dropped = build_decoder(kind, 6, 10, 3, V, update_cells=2, state_dropout=0.4)
    dropped.load_state_dict(plain.state_dict())
    inputs, z = torch.randn(4, 9, 6), torch.randn(4, 3)
    assert not torch.equal(dropped.train()(inputs, z), dropped(inputs, z))
    dropped.eval()
    assert torch.equal(dropped(inputs, z), dropped(inputs, z))
    assert torch.equal(dropped(inputs, z), plain.eval()(inputs, z))
    assert torch.equal(plain.train()(inputs, z), plain(inputs, z))  # no dropout, nothing drawn: deterministic


@pytest.mark.parametrize("kind", ["double-lstm", "double-lstm-reference"])
@pytest.mark.parametrize("update_cells", [1, 2])
def test_generation_steps_equal_the_teacher_forced_pass_in_evaluation(kind, update_cells):
    torch.manual_seed(0)
    decoder = build_decoder(kind, 6, 10, 3, V, update_cells=update_cells, state_dropout=0.4).eval()
    inputs, z = torch.randn(4, 9, 6), torch.randn(4, 3)
    state = decoder.init_state(z)
    steps = []
    for i in range(inputs.size(1)):
        logits, state = decoder.step(inputs[:, i], z, state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, dim=1), decoder(inputs, z), atol=1e-6, rtol=1e-5)
    decoder.train()  # generation never drops, whatever the mode
    assert torch.equal(decoder.step(inputs[:, 0], z, decoder.init_state(z))[0], steps[0])


def test_parameter_names_stay_and_the_second_cell_is_update2():
    for kind in ("double-lstm", "double-lstm-reference"):
        one = build_decoder(kind, 6, 10, 3, V, state_dropout=0.4)
        assert set(one.state_dict()) == BASE_NAMES
        two = build_decoder(kind, 6, 10, 3, V, update_cells=2)
        extra = set(two.state_dict()) - BASE_NAMES
        assert extra == {f"update2.{w}_{part}" for w in ("weight", "bias") for part in ("ih", "hh")}
        assert isinstance(two.update2, torch.nn.LSTMCell) and two.update2.input_size == two.update2.hidden_size == 10
        one.load_state_dict(build_decoder(kind, 6, 10, 3, V).state_dict())  # a checkpoint without the variant


def test_bad_variant_options_are_rejected():
    with pytest.raises(ValueError, match="update_cells is not an option of the 'lstm' decoder but of"):
        build_decoder("lstm", 6, 10, 3, V, update_cells=2)
    with pytest.raises(ValueError, match="state_dropout is not an option of the 'lstm' decoder"):
        build_decoder("lstm", 6, 10, 3, V, state_dropout=0.4)
    with pytest.raises(ValueError, match="update_cells must be 1 or 2"):
        DoubleLSTMDecoder(6, 10, 3, V, update_cells=3)
    with pytest.raises(ValueError, match=r"state_dropout must be in \[0, 1\)"):
        build_decoder("double-lstm", 6, 10, 3, V, state_dropout=1.0)


@pytest.mark.parametrize("decoder", ["double-lstm", "double-lstm-reference"])
def test_a_config_with_the_variant_builds_and_trains_a_step(decoder):
    cfg = Config.from_dict(
        {
            "model": {
                "emb_dim": 8,
                "enc_hidden": 12,
                "dec_hidden": 16,
                "z_dim": 4,
                "decoder": decoder,
                "update_cells": 2,
                "state_dropout": 0.4,
            },
            "dropout": {"method": "awd", "rate": 0.3, "adv_emb_dim": 8, "adv_hidden_dim": 8},
        }
    )
    torch.manual_seed(0)
    model = SequenceVAE.from_config(cfg, V).train()
    assert model.decoder.update_cells == 2 and model.decoder.state_dropout == 0.4
    g = torch.Generator().manual_seed(0)
    batch = make_batch([(i, torch.randint(4, V, (t,), generator=g).tolist()) for i, t in enumerate([5, 2, 8])])
    loss = model(batch.tokens, batch.lengths).loss(beta=0.5)
    loss.backward()
    assert torch.isfinite(loss)
    for name, p in model.decoder.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
