"""The Transformer decoder: causality, cached steps equal teacher forcing, both Optimus latent paths, word dropout
on its inputs (zero, <unk> or a learned mask), config, initialisation, the analyses and training on it."""

import pytest
import torch
from conftest import random_batch, same_last_weights, tiny_config

from seqvae.analysis.interpolation import interpolate
from seqvae.analysis.reconstruction import reconstruct
from seqvae.analysis.saliency import adversary_saliency, awd_module
from seqvae.config import Config
from seqvae.data.batching import make_batch
from seqvae.data.vocab import SPECIALS, Vocabulary
from seqvae.metrics import importance_weighted_nll
from seqvae.models import SequenceVAE, UniformDropout
from seqvae.models.decoders import DECODERS, build_decoder
from seqvae.models.decoding import Decoding
from seqvae.models.init import EMBEDDING_RANGE, WEIGHT_RANGE, initialise
from seqvae.models.transformer import LATENT_INJECTIONS, KVCache, TransformerDecoder
from seqvae.training.run import fit

V = 25
SIZES = {"emb_dim": 8, "enc_hidden": 12, "dec_hidden": 16, "z_dim": 4}
INJECTIONS = list(LATENT_INJECTIONS)


def decoder(injection="memory", positions="learned", emb_dim=6, dropout=0.0):
    torch.manual_seed(0)
    settings = {"layers": 2, "heads": 2, "ff_dim": 16, "dropout": dropout, "positions": positions, "max_len": 32}
    return TransformerDecoder(emb_dim, 8, 3, V, latent_injection=injection, **settings)


def tiny_model(injection="memory", **kwargs):
    torch.manual_seed(0)
    settings = {"tf_layers": 2, "tf_heads": 2, "tf_ff": 16, "tf_max_len": 64, "latent_injection": injection}
    return SequenceVAE(V, 8, 12, 16, 4, "transformer", **{**settings, **kwargs})


def transformer_config(corpus, **train) -> Config:
    values = tiny_config(corpus, method="awd", **train).to_dict()
    values["model"].update(decoder="transformer", tf_layers=2, tf_heads=2, tf_ff=64)
    return Config.from_dict(values)


@pytest.mark.parametrize("injection", INJECTIONS)
def test_hidden_state_at_t_ignores_later_inputs(injection):
    dec = decoder(injection).eval()
    inputs, z = torch.randn(3, 9, 6), torch.randn(3, 3)
    before = dec.hidden_states(inputs, z)
    assert before.shape == (3, 9, 8)
    for t in range(9):
        changed = inputs.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        after = dec.hidden_states(changed, z)
        torch.testing.assert_close(after[:, : t + 1], before[:, : t + 1], rtol=0, atol=1e-6)
        if t < 8:
            assert not torch.allclose(after[:, t + 1], before[:, t + 1])


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
@pytest.mark.parametrize("injection", INJECTIONS)
def test_cached_steps_equal_the_teacher_forced_pass(injection, positions):
    dec = decoder(injection, positions).double().eval()
    inputs, z = torch.randn(4, 11, 6, dtype=torch.double), torch.randn(4, 3, dtype=torch.double)
    teacher = dec(inputs, z)
    state = dec.init_state(z)
    slots = 1 if injection != "embedding" else 0
    assert isinstance(state, KVCache) and state.position == 0
    assert all(k.shape == (4, 2, slots, 4) for k in state.keys + state.values), "the memory slot's key/value"
    for t in range(inputs.size(1)):
        logits, state = dec.step(inputs[:, t], z, state)
        torch.testing.assert_close(logits, teacher[:, t], rtol=1e-10, atol=1e-10)
    assert state.position == 11 and state.keys[0].size(2) == slots + 11


def test_positions_beyond_max_len_are_an_error():
    dec = decoder().eval()
    with pytest.raises(ValueError, match="tf_max_len"):
        dec.hidden_states(torch.randn(1, 33, 6), torch.randn(1, 3))
    z = torch.randn(1, 3)
    state = dec.init_state(z)
    for _ in range(32):
        _, state = dec.step(torch.randn(1, 6), z, state)
    with pytest.raises(ValueError, match="tf_max_len"):
        dec.step(torch.randn(1, 6), z, state)


@pytest.mark.parametrize("injection", ["memory", "embedding"])
def test_each_injection_alone_carries_z_to_the_likelihood(injection):
    model = tiny_model(injection).eval()
    dec = model.decoder
    assert (dec.latent_memory is None) == (injection == "embedding")
    assert (dec.latent_embedding is None) == (injection == "memory")
    batch = random_batch([5, 3, 7], V)
    z = torch.randn(3, 4, requires_grad=True)
    model.log_likelihood(batch.tokens, z).sum().backward()
    assert z.grad.abs().min() > 0, "every latent dimension of every sentence reaches the output"


def test_input_projection_only_when_sizes_differ_and_the_parameter_count():
    assert decoder(emb_dim=8).input_proj is None and decoder(emb_dim=6).input_proj is not None
    d, ff, layers, emb, z = 8, 16, 2, 6, 3
    block = (3 * d * d + 3 * d) + (d * d + d) + (d * ff + ff) + (ff * d + d) + 4 * d
    expected = (emb * d + d) + 32 * d + (z * layers * d + layers * d) + layers * block + 2 * d + (d * V + V)
    assert sum(p.numel() for p in decoder().parameters()) == expected
    assert sum(p.numel() for p in decoder(positions="sinusoidal").parameters()) == expected - 32 * d


@pytest.mark.parametrize("drop_to", ["zero", "mask"])
def test_awd_drops_only_word_positions_of_the_transformer_s_inputs(drop_to):
    torch.manual_seed(0)
    cfg = Config.from_dict(
        {
            "model": {**SIZES, "decoder": "transformer", "tf_layers": 2, "tf_heads": 2, "tf_ff": 16},
            "dropout": {"method": "awd", "rate": 0.5, "adv_emb_dim": 8, "adv_hidden_dim": 8, "drop_to": drop_to},
        }
    )
    model = SequenceVAE.from_config(cfg, V).train()
    masks, seen = [], []
    model.dropout.register_forward_hook(lambda module, args, out: masks.append(out.mask))
    hidden_states = model.decoder.hidden_states
    model.decoder.hidden_states = lambda inputs, z: seen.append(inputs) or hidden_states(inputs, z)
    batch = random_batch([6, 2, 9, 4], V)
    model(batch.tokens, batch.lengths)
    (mask,), (inputs,) = masks, seen
    positions = torch.arange(mask.size(1))
    words = (positions >= 1) & (positions <= batch.lengths.unsqueeze(1))
    assert bool((mask[~words] == 1).all()), "<s> and padding are never dropped"
    assert (mask == 0).sum(1).tolist() == torch.round(0.5 * batch.lengths.double()).long().tolist()
    embedded = model.dec_embedding(batch.tokens[:, :-1])
    dropped = mask == 0
    fill = torch.zeros(8) if drop_to == "zero" else model.mask_embedding
    torch.testing.assert_close(inputs[dropped], fill.expand(int(dropped.sum()), 8))
    torch.testing.assert_close(inputs[~dropped], embedded[~dropped])


@pytest.mark.parametrize("kind", sorted(DECODERS))
def test_mask_drop_to_is_a_learned_vector_for_every_decoder(kind):
    torch.manual_seed(0)
    plain = SequenceVAE(V, 8, 12, 16, 4, kind)
    torch.manual_seed(0)
    masked = SequenceVAE(V, 8, 12, 16, 4, kind, dropout=UniformDropout(0.5), drop_to="mask")
    assert "mask_embedding" not in plain.state_dict(), "other models' parameters and checkpoints are unchanged"
    assert set(masked.state_dict()) - set(plain.state_dict()) == {"mask_embedding"}
    assert all(torch.equal(v, masked.state_dict()[k]) for k, v in plain.state_dict().items()), "drawn last"
    assert masked.mask_embedding.shape == (8,)
    batch = random_batch([6, 3], V)
    mask = torch.ones(batch.tokens[:, :-1].shape)
    mask[0, 2] = mask[1, 1] = 0
    emb = masked.embed_inputs(batch.tokens[:, :-1], mask)
    torch.testing.assert_close(emb[0, 2], masked.mask_embedding)
    torch.testing.assert_close(emb[0, 3], masked.dec_embedding.weight[batch.tokens[0, 3]])
    masked.train()(batch.tokens, batch.lengths).loss().backward()
    assert masked.mask_embedding.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="drop_to must be one of"):
        SequenceVAE(V, 8, 12, 16, 4, kind, drop_to="noise")


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("tf_layers", 0, "model.tf_layers must be >= 1"),
        ("tf_heads", 0, "model.tf_heads must be >= 1"),
        ("tf_heads", 3, r"model.tf_heads \(3\) must divide d_model \(16, dec_hidden\)"),
        ("tf_ff", 0, "model.tf_ff must be >= 1"),
        ("tf_dropout", 1.0, r"model.tf_dropout must be in \[0, 1\)"),
        ("tf_positions", "rotary", "model.tf_positions must be one of"),
        ("tf_max_len", 0, "model.tf_max_len must be >= 1"),
        ("latent_injection", "cross", "model.latent_injection must be one of"),
    ],
)
def test_config_rejects_bad_transformer_settings(key, value, match):
    model = {"dec_hidden": 16, "decoder": "transformer"}
    with pytest.raises(ValueError, match=match):
        Config.from_dict({"model": {**model, key: value}})


def test_config_defaults_change_nothing_for_the_other_decoders():
    lstm = Config.from_dict({"model": {"decoder": "lstm", "dec_hidden": 30, "tf_heads": 4}})
    assert lstm.model.tf_heads == 4, "heads need not divide an LSTM's hidden size"
    cfg = Config.from_dict({"model": {"decoder": "transformer", "dec_hidden": 16}, "dropout": {"drop_to": "mask"}})
    assert (cfg.model.tf_layers, cfg.model.tf_ff, cfg.model.latent_injection) == (4, 1024, "memory")
    with pytest.raises(ValueError, match="compiles the double-lstm decoder"):
        Config.from_dict({"model": {"decoder": "transformer"}, "train": {"compile": True}})
    with pytest.raises(ValueError, match="update_cells is not an option of the 'transformer' decoder"):
        build_decoder("transformer", 8, 16, 4, V, update_cells=2)


def test_small_uniform_keeps_layer_norms_at_identity():
    model = tiny_model(dropout=UniformDropout(0.3), drop_to="mask")
    initialise(model, "small-uniform")
    norms = [n for n, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)]
    assert len(norms) == 2 * 2 + 1
    for name, p in model.named_parameters():
        module, kind = name.rsplit(".", 1) if "." in name else ("", name)
        if module in norms:
            assert torch.equal(p, torch.full_like(p, 1.0 if kind == "weight" else 0.0)), name
        elif name in ("mask_embedding", "decoder.position_embedding.weight"):
            assert WEIGHT_RANGE < p.abs().max() <= EMBEDDING_RANGE, name
        elif kind.startswith("bias"):
            assert torch.equal(p, torch.zeros_like(p)), name
        elif "embedding" not in name:
            assert 0 < p.abs().max() <= WEIGHT_RANGE, name
    batch = random_batch([5, 3], V)
    hidden = model.decoder.hidden_states(model.embed_inputs(batch.tokens[:, :-1]), torch.randn(2, 4))
    assert hidden.std() > 0.5, "the final LayerNorm passes a unit-scale signal on"


def test_generation_reconstruction_interpolation_saliency_and_iw_nll_on_a_transformer():
    words = "the a cat dog sat ran on mat .".split()
    vocab = Vocabulary([*SPECIALS, *words])
    sentences = [s.split() for s in ("the cat sat on the mat .", "a dog ran .", "the dog")]
    torch.manual_seed(0)
    model_cfg = {**SIZES, "decoder": "transformer", "tf_layers": 2, "tf_heads": 2, "tf_ff": 16, "tf_max_len": 40}
    cfg = Config.from_dict(
        {"model": model_cfg, "dropout": {"method": "awd", "rate": 0.3, "adv_emb_dim": 8, "adv_hidden_dim": 8}}
    )
    model = SequenceVAE.from_config(cfg, len(vocab)).eval()
    out = model.generate(torch.randn(5, 4), vocab.bos_id, vocab.eos_id, Decoding("sample", max_len=12))
    assert len(out) == 5 and all(len(s) <= 12 and vocab.eos_id not in s for s in out)
    decoded = reconstruct(model, vocab, sentences, decoding=Decoding(max_len=12))
    assert len(decoded) == 3 and all(isinstance(w, str) for s in decoded for w in s)
    path = interpolate(model, vocab, sentences[0], sentences[1], 4, Decoding(max_len=12))
    assert len(path.sentences) == 4
    saliency = adversary_saliency(awd_module(model), vocab, sentences, samples=50, seed=0)
    assert [r.length for r in saliency] == [7, 4, 2]
    batch = make_batch(list(enumerate(vocab.encode(s) for s in sentences)))
    torch.manual_seed(0)
    iw = importance_weighted_nll(model, [batch], samples=6, chunk_tokens=40)
    assert iw.sentences == 3 and iw.tokens == 7 + 4 + 2 + 3 and iw.nll > 0


@pytest.mark.slow
def test_an_awd_training_run_on_a_transformer(small_corpus, tmp_path):
    summary = fit(transformer_config(small_corpus, max_epochs=1), tmp_path / "run")
    assert summary["global_step"] == 10
    assert torch.isfinite(torch.tensor(summary["best_val_nelbo"]))


@pytest.mark.slow
def test_resumed_transformer_run_equals_uninterrupted_run(small_corpus, tmp_path):
    every = {"checkpoint_every_n_steps": 5}
    whole = fit(transformer_config(small_corpus, max_epochs=2, **every), tmp_path / "whole")
    fit(transformer_config(small_corpus, max_steps=15, **every), tmp_path / "split")
    resumed = fit(transformer_config(small_corpus, max_epochs=2, **every), tmp_path / "split")
    assert resumed["global_step"] == whole["global_step"] == 20
    for path in ("whole", "split"):
        assert (tmp_path / path / "config.json").read_text().count('"decoder": "transformer"') == 1
    assert any("blocks.1" in k for k in torch.load(whole["last_checkpoint"], weights_only=True)["state_dict"])
    assert same_last_weights(whole, resumed)
