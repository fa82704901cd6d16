"""Dilated-CNN decoder (Yang et al. 2017): causal, steps equal the teacher-forced pass, trains under AWD."""

import pytest
import torch
from conftest import random_batch, stepwise_log_likelihood

from seqvae.config import Config, compose_config
from seqvae.models import SequenceVAE
from seqvae.models.cnn import DilatedCNNDecoder
from seqvae.models.decoders import build_decoder
from seqvae.models.decoding import Decoding

V = 25


def small_decoder(**kwargs):
    torch.manual_seed(0)
    return DilatedCNNDecoder(6, 3, V, channels=10, kernel=3, dilations=(1, 2), **kwargs).eval()


@pytest.mark.parametrize("skip_z", [False, True])
def test_causal_the_output_at_t_ignores_later_inputs(skip_z):
    decoder = small_decoder(skip_z=skip_z)
    z = torch.randn(2, 3)
    inputs = torch.randn(2, 12, 6)
    changed = inputs.clone()
    changed[:, 7:] = torch.randn(2, 5, 6)
    before, after = decoder(inputs, z), decoder(changed, z)
    torch.testing.assert_close(before[:, :7], after[:, :7])
    assert not torch.allclose(before[:, 7], after[:, 7])
    # the receptive field: 1 + (k - 1) * sum(dilations) = 7 inputs
    assert decoder.receptive_field == 7
    early = inputs.clone()
    early[:, :4] = torch.randn(2, 4, 6)
    torch.testing.assert_close(decoder(early, z)[:, 10:], before[:, 10:])
    assert not torch.allclose(decoder(early, z)[:, 9], before[:, 9])


@pytest.mark.parametrize("skip_z", [False, True])
def test_generation_steps_equal_the_teacher_forced_pass_in_evaluation(skip_z):
    torch.manual_seed(0)
    model = SequenceVAE(
        V,
        emb_dim=8,
        enc_hidden=12,
        dec_hidden=16,
        z_dim=4,
        decoder="cnn",
        skip_z=skip_z,
        cnn_channels=10,
        cnn_dilations=(1, 2),
        cnn_dropout=0.2,
    ).eval()
    batch = random_batch([5, 3, 11, 1], V)  # longer than the receptive field (7): the step's window is trimmed
    z = torch.randn(4, 4)
    teacher = model.log_likelihood(batch.tokens, z)

    def window_trimmed(i, state):
        assert state.size(1) == min(i + 1, 7)

    stepwise = stepwise_log_likelihood(model, batch, z, window_trimmed)
    torch.testing.assert_close(teacher, stepwise, atol=1e-5, rtol=1e-5)
    assert len(model.generate(z, 2, 3, Decoding(max_len=9))) == 4


def test_z_enters_every_block():
    decoder = small_decoder()
    z = torch.randn(2, 3, requires_grad=True)
    loss = decoder(torch.randn(2, 5, 6), z).sum()
    grads = torch.autograd.grad(loss, [block.reduce.weight for block in decoder.blocks])
    for block, grad in zip(decoder.blocks, grads, strict=True):
        assert block.reduce.in_channels == 10 + 3 and grad[:, 10:].abs().sum() > 0


def test_a_training_step_with_awd_through_the_config():
    cfg = Config.from_dict(
        {
            "model": {
                "emb_dim": 8,
                "enc_hidden": 12,
                "z_dim": 4,
                "decoder": "cnn",
                "cnn_channels": 10,
                "cnn_dilations": [1, 2],
                "cnn_dropout": 0.1,
                "init": "small-uniform",
            },
            "dropout": {"method": "awd", "rate": 0.3, "adv_emb_dim": 8, "adv_hidden_dim": 8},
        }
    )
    torch.manual_seed(0)
    model = SequenceVAE.from_config(cfg, V).train()
    assert isinstance(model.decoder, DilatedCNNDecoder) and len(model.decoder.blocks) == 2
    batch = random_batch([5, 2, 8], V)
    out = model(batch.tokens, batch.lengths)
    loss = out.loss(beta=0.5)
    loss.backward()
    assert torch.isfinite(loss) and out.regulariser.abs().sum() > 0
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    for name, p in model.decoder.named_parameters():
        assert p.grad.abs().sum() > 0, name
    adversary = [p for n, p in model.named_parameters() if n.startswith("dropout.")]
    assert adversary and all(p.grad.abs().sum() > 0 for p in adversary)


def test_dropped_inputs_reach_the_cnn_as_zero_embeddings():
    """The word dropout's mask acts on the embedded inputs, as for the LSTMs."""
    torch.manual_seed(0)
    model = SequenceVAE(V, emb_dim=8, enc_hidden=12, z_dim=4, decoder="cnn", cnn_channels=10, cnn_dilations=(1,))
    seen = []
    original = model.decoder.hidden_states
    model.decoder.hidden_states = lambda inputs, z: seen.append(inputs) or original(inputs, z)
    batch = random_batch([4, 6], V)
    mask = torch.ones(2, batch.tokens.size(1) - 1)
    mask[0, 2] = mask[1, 0] = 0
    model.log_likelihood(batch.tokens, torch.randn(2, 4), mask)
    assert (seen[0][0, 2] == 0).all() and (seen[0][1, 0] == 0).all() and (seen[0][0, 1] != 0).any()


def test_cnn_settings_are_checked_naming_the_key_and_compose_as_defaults():
    cfg = compose_config(["model.decoder=cnn"])
    assert (cfg.model.cnn_channels, cfg.model.cnn_kernel, cfg.model.cnn_dilations) == (512, 3, [1, 2, 4])
    assert cfg.model.cnn_dropout == 0.0
    for size, width in (("cpu", 256), ("paper", 1024)):  # the cnn-vae row is as wide as the size's LSTM decoder
        row = compose_config(["method=cnn-vae", f"size={size}"])
        assert (row.model.decoder, row.model.cnn_channels, row.dropout.method) == ("cnn", width, "none")
    bad = {"cnn_channels": 0, "cnn_kernel": 1, "cnn_dilations": [], "cnn_dropout": 1.0}
    for key, value in bad.items():
        with pytest.raises(ValueError, match=f"model.{key} must be"):
            Config.from_dict({"model": {"decoder": "cnn", key: value}})
    with pytest.raises(ValueError, match="model.cnn_dilations must be"):
        Config.from_dict({"model": {"cnn_dilations": [1, 0]}})
    with pytest.raises(ValueError, match="state_dropout is not an option of the 'cnn' decoder"):
        build_decoder("cnn", 8, 16, 4, V, state_dropout=0.4)
