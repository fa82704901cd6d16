"""Decoders, encoder and the VAE: teacher forcing equals step-by-step decoding; dropout reaches the inputs."""

import shutil

import pytest
import torch
import torch.nn.functional as F
from conftest import random_batch, stepwise_log_likelihood
from torch.nn.utils.rnn import pack_padded_sequence

from seqvae.config import compose_config
from seqvae.data.batching import make_batch
from seqvae.models import SequenceVAE, UniformDropout
from seqvae.models.decoders import build_decoder
from seqvae.models.decoding import Decoding

V = 25


@pytest.mark.parametrize("kind", ["lstm", "double-lstm", "double-lstm-reference"])
def test_teacher_forced_log_likelihood_equals_stepwise_decoding(kind):
    torch.manual_seed(0)
    model = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, decoder=kind).eval()
    batch = random_batch([5, 3, 7, 1], V)
    z = torch.randn(4, 4)
    teacher = model.log_likelihood(batch.tokens, z)

    stepwise = stepwise_log_likelihood(model, batch, z)
    assert torch.allclose(teacher, stepwise, atol=1e-5)


def assert_same_outputs_and_gradients(reference, other, batch, length, atol, rtol):
    """``other`` gives ``reference``'s logits and gradients (inputs, z, parameters) on a random float64 batch."""
    inputs = torch.randn(batch, length, 6, dtype=torch.double, requires_grad=True)
    z = torch.randn(batch, 3, dtype=torch.double, requires_grad=True)
    weights = torch.randn(batch, length, V, dtype=torch.double)
    results = []
    for decoder in (reference, other):
        logits = decoder(inputs, z)
        loss = (logits.tanh() * weights).sum()
        results.append((logits, *torch.autograd.grad(loss, [inputs, z, *decoder.parameters()])))
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol)
    with torch.no_grad():  # evaluation runs the recurrence without keeping anything for a backward
        torch.testing.assert_close(other(inputs, z), reference(inputs, z), atol=atol, rtol=rtol)


def test_fused_double_lstm_equals_the_reference_in_outputs_and_gradients():
    torch.manual_seed(0)
    reference = build_decoder("double-lstm-reference", 6, 10, 3, V).double()
    fused = build_decoder("double-lstm", 6, 10, 3, V).double()
    assert type(fused) is not type(reference)
    fused.load_state_dict(reference.state_dict())  # the same parameters: checkpoints are interchangeable
    assert_same_outputs_and_gradients(reference, fused, 4, 9, atol=1e-12, rtol=1e-10)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="torch.compile on the CPU needs a C++ compiler")
def test_compiled_double_lstm_steps_equal_the_reference_for_changing_batch_sizes():
    torch.manual_seed(0)
    reference = build_decoder("double-lstm-reference", 6, 10, 3, V).double()
    compiled = build_decoder("double-lstm", 6, 10, 3, V, compile_steps=True).double()
    compiled.load_state_dict(reference.state_dict())
    for batch, length in ((4, 9), (3, 5), (7, 6)):  # the second shape recompiles with dynamic shapes
        assert_same_outputs_and_gradients(reference, compiled, batch, length, atol=1e-10, rtol=1e-8)


def test_only_the_double_lstm_decoder_compiles():
    with pytest.raises(ValueError, match="double-lstm decoder only"):
        build_decoder("lstm", 6, 10, 3, V, compile_steps=True)
    with pytest.raises(ValueError, match="train.compile"):
        compose_config(["model.decoder=lstm", "train.compile=true"])


def test_fused_double_lstm_trains_under_bf16_autocast_with_a_float32_recurrence():
    torch.manual_seed(0)
    decoder = build_decoder("double-lstm", 6, 10, 3, V)
    inputs, z = torch.randn(4, 9, 6), torch.randn(4, 3)
    full = torch.autograd.grad(decoder(inputs, z).sum(), list(decoder.parameters()))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = decoder(inputs, z)
    assert logits.dtype == torch.bfloat16
    mixed = torch.autograd.grad(logits.float().sum(), list(decoder.parameters()))
    for a, b in zip(full, mixed, strict=True):
        assert b.dtype == torch.float32
        torch.testing.assert_close(b, a, atol=0.05 * float(a.abs().max()) + 1e-3, rtol=0.05)


def test_log_likelihood_ignores_padding():
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "lstm").eval()
    short = random_batch([3], V, 1)
    padded = make_batch([(0, short.tokens[0, 1:4].tolist()), (1, list(range(4, 14)))])
    z = torch.randn(1, 4)
    alone = model.log_likelihood(short.tokens, z)
    together = model.log_likelihood(padded.tokens, torch.cat([z, torch.randn(1, 4)]))
    assert torch.allclose(alone, together[:1], atol=1e-5)


@pytest.mark.parametrize("decoder", ["lstm", "double-lstm"])
def test_log_likelihood_projecting_real_positions_equals_full_softmax(decoder):
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, decoder)
    batch = random_batch([2, 7, 4], V)
    z = torch.randn(3, 4)
    fast = model.log_likelihood(batch.tokens, z)
    fast_grads = torch.autograd.grad(fast.sum(), list(model.decoder.parameters()))
    logits = model.decoder(model.embed_inputs(batch.tokens[:, :-1]), z)
    nll = F.cross_entropy(logits.transpose(1, 2), batch.tokens[:, 1:], ignore_index=model.pad_id, reduction="none")
    full = -nll.sum(dim=1)
    full_grads = torch.autograd.grad(full.sum(), list(model.decoder.parameters()))
    torch.testing.assert_close(fast, full)
    for a, b in zip(fast_grads, full_grads, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("drop_to", ["zero", "unk"])
def test_dropped_inputs_become_zero_or_unk(drop_to):
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "lstm", drop_to=drop_to)
    batch = random_batch([4, 6], V)
    mask = torch.ones(batch.tokens[:, :-1].shape)
    mask[0, 2] = 0
    emb = model.embed_inputs(batch.tokens[:, :-1], mask)
    expected = torch.zeros(8) if drop_to == "zero" else model.dec_embedding.weight[model.unk_id]
    assert torch.allclose(emb[0, 2], expected)
    assert torch.allclose(emb[1], model.dec_embedding(batch.tokens[1, :-1]))


def test_encoder_sees_full_sentence_and_is_padding_invariant():
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "lstm").eval()
    one = random_batch([4], V, 2)
    two = make_batch([(0, one.tokens[0, 1:5].tolist()), (1, list(range(4, 16)))])
    mu1, lv1 = model.encode(one.tokens, one.lengths)
    mu2, lv2 = model.encode(two.tokens, two.lengths)
    assert torch.allclose(mu1, mu2[:1], atol=1e-6) and torch.allclose(lv1, lv2[:1], atol=1e-6)


def test_forward_terms_and_training_dropout_changes_reconstruction():
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "double-lstm", dropout=UniformDropout(0.5))
    batch = random_batch([6, 2, 9], V)
    out = model(batch.tokens, batch.lengths)
    assert out.rec.shape == (3,) and out.kl_per_dim.shape == (3, 4) and bool((out.kl >= 0).all())
    model.eval()
    torch.manual_seed(1)
    a = model(batch.tokens, batch.lengths).rec
    torch.manual_seed(1)
    b = model(batch.tokens, batch.lengths).rec
    assert torch.equal(a, b)


def test_generate_stops_at_eos_and_respects_max_len():
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "lstm").eval()
    out = model.generate(torch.randn(5, 4), 2, 3, Decoding("sample", max_len=7))
    assert len(out) == 5 and all(len(s) <= 7 and 3 not in s for s in out)


def test_unknown_decoder_is_rejected():
    with pytest.raises(ValueError, match="unknown decoder"):
        build_decoder("gru", 4, 4, 4, 10)


def test_encoder_equals_packed_sequence_lstm_in_values_and_gradients():
    torch.manual_seed(0)
    model = SequenceVAE(V, 8, 12, 16, 4, "lstm")
    batch = random_batch([5, 2, 9], V)
    enc = model.encoder
    mu, logvar = model.encode(batch.tokens, batch.lengths)
    fast_grads = torch.autograd.grad((mu.sum() + logvar.square().sum()), list(enc.parameters()))
    packed = pack_padded_sequence(
        enc.embedding(batch.tokens), batch.lengths + 2, batch_first=True, enforce_sorted=False
    )
    _, (h_n, _) = enc.lstm(packed)
    ref_mu, ref_logvar = enc.to_gaussian(h_n[-1]).chunk(2, dim=-1)
    ref_grads = torch.autograd.grad((ref_mu.sum() + ref_logvar.square().sum()), list(enc.parameters()))
    torch.testing.assert_close(mu, ref_mu)
    torch.testing.assert_close(logvar, ref_logvar)
    for a, b in zip(fast_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)
