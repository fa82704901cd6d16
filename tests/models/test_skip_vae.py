"""Skip-VAE (Dieng et al. 2019): z reaches the output layer through the skip whatever the recurrence does."""

import pytest
import torch
from conftest import random_batch, stepwise_log_likelihood

from seqvae.config import Config, compose_config
from seqvae.models import SequenceVAE
from seqvae.models.decoders import build_decoder
from seqvae.models.decoding import Decoding

V = 25
KINDS = ["lstm", "double-lstm", "double-lstm-reference"]


def cut_recurrent_path(decoder, emb_dim):
    """Zero every weight by which ``z`` enters the recurrence (initial state and cell inputs)."""
    with torch.no_grad():
        decoder.init_h.weight.zero_()
        if hasattr(decoder, "lstm"):
            decoder.lstm.weight_ih_l0[:, emb_dim:].zero_()
        else:
            decoder.predict.weight_ih.zero_()
            decoder.update.weight_ih[:, emb_dim:].zero_()


@pytest.mark.parametrize("kind", KINDS)
def test_the_output_depends_on_z_through_the_skip_with_the_recurrent_path_cut(kind):
    for skip_z in (False, True):
        torch.manual_seed(0)
        decoder = build_decoder(kind, 6, 10, 3, V, skip_z=skip_z)
        cut_recurrent_path(decoder, 6)
        z = torch.randn(2, 3, requires_grad=True)
        logits = decoder(torch.randn(2, 5, 6), z)
        (grad,) = torch.autograd.grad((logits * torch.randn_like(logits)).sum(), z)
        assert (grad.abs().sum() > 0) == skip_z, (kind, skip_z)


@pytest.mark.parametrize("kind", KINDS)
def test_generation_steps_equal_the_teacher_forced_pass_in_evaluation(kind):
    torch.manual_seed(0)
    model = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, decoder=kind, skip_z=True).eval()
    batch = random_batch([5, 3, 7, 1], V)
    z = torch.randn(4, 4)
    teacher = model.log_likelihood(batch.tokens, z)
    stepwise = stepwise_log_likelihood(model, batch, z)
    torch.testing.assert_close(teacher, stepwise, atol=1e-5, rtol=1e-5)
    assert len(model.generate(z, 2, 3, Decoding(max_len=6))) == 4


@pytest.mark.parametrize("kind", KINDS)
def test_off_keeps_every_parameter_and_on_adds_only_the_skip(kind):
    torch.manual_seed(0)
    plain = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, decoder=kind)
    torch.manual_seed(0)
    skip = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, decoder=kind, skip_z=True)
    assert plain.decoder.skip is None
    assert set(skip.state_dict()) - set(plain.state_dict()) == {"decoder.skip.proj.weight", "decoder.skip.proj.bias"}
    assert set(plain.state_dict()) <= set(skip.state_dict())
    assert skip.decoder.skip.proj.in_features == 16 + 4 and skip.decoder.output.in_features == 16


def test_the_skip_vae_method_and_its_decoders():
    cfg = compose_config(["method=skip-vae"])
    assert cfg.model.skip_z is True and cfg.dropout.method == "none"
    assert compose_config([]).model.skip_z is False
    with pytest.raises(ValueError, match="model.skip_z is an option of the decoders"):
        Config.from_dict({"model": {"skip_z": True, "decoder": "transformer", "dec_hidden": 16}})
    with pytest.raises(ValueError, match="skip_z is not an option of the 'transformer' decoder"):
        build_decoder("transformer", 8, 16, 4, V, skip_z=True)
