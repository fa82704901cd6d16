"""Metrics of SPEC section 4: importance-weighted NLL, mutual information, active units, perplexity, report."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import tiny_config

from seqvae.checkpoint import load_checkpoint
from seqvae.data.batching import make_batch
from seqvae.data.datamodule import load_split, sentence_loader
from seqvae.data.vocab import Vocabulary
from seqvae.metrics import (
    active_units,
    importance_weighted_nll,
    iw_log_marginal,
    mutual_information,
    mutual_information_estimates,
    perplexity,
)
from seqvae.metrics.evaluate import evaluate_checkpoint, evaluate_split
from seqvae.metrics.importance import CHUNK_TOKENS, MEMORY_SHARE, memory_chunk_tokens
from seqvae.models import SequenceVAE
from seqvae.objectives.kl import gaussian_kl
from seqvae.training.task import VAETask

V, EMB, Z = 25, 8, 4
SENTENCES = [[5, 9, 7], [8, 4, 12, 4, 13], [14, 15], [7, 7, 17, 9, 18, 19]]


def tiny_model(decoder="lstm", seed=0, mu_bias=0.5, logvar_bias=-1.5):
    """A random tiny VAE whose posterior is narrower than the prior, so that KL > 0 and S matters."""
    torch.manual_seed(seed)
    model = SequenceVAE(V, emb_dim=EMB, enc_hidden=12, dec_hidden=16, z_dim=Z, decoder=decoder).eval()
    with torch.no_grad():
        model.encoder.to_gaussian.bias[:Z] += mu_bias
        model.encoder.to_gaussian.bias[Z:] += logvar_bias
    return model


def repeated_batch(copies):
    """``SENTENCES`` each repeated ``copies`` times, as one batch."""
    return make_batch(list(enumerate(SENTENCES * copies)))


def log_px_rows(model, batch, samples, chunk_tokens=1 << 15):
    """Per-row importance-weighted ``log p(x)``, ``(B,)``."""
    with torch.no_grad():
        mu, logvar = model.encode(batch.tokens, batch.lengths)
    return iw_log_marginal(model, batch.tokens, mu, logvar, samples, chunk_tokens)[0]


def mean_and_se(values):
    return float(values.mean()), float(values.std() / math.sqrt(values.numel()))


# ---- mutual information -------------------------------------------------------------------------


def test_mi_of_separated_point_posteriors_approaches_log_n():
    torch.manual_seed(0)
    n = 64
    mu = 100.0 * torch.randn(n, 3)
    logvar = torch.full((n, 3), -20.0)
    mi = mutual_information(mu, logvar)
    assert mi <= math.log(n)
    assert mi == pytest.approx(math.log(n), abs=1e-4)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("spread,logvar", [(100.0, -30.0), (1.0, -5.0), (0.1, 0.0)])
def test_mi_never_exceeds_log_n(seed, spread, logvar):
    torch.manual_seed(seed)
    n = 50
    mi = mutual_information(spread * torch.randn(n, 4), torch.full((n, 4), logvar))
    assert mi <= math.log(n)


def test_mi_of_identical_posteriors_is_zero():
    torch.manual_seed(0)
    mu = torch.randn(1, 5).expand(200, 5)
    logvar = torch.randn(1, 5).expand(200, 5)
    assert mutual_information(mu, logvar) == pytest.approx(0.0, abs=1e-5)


def test_mi_of_one_dimensional_gaussian_channel_matches_closed_form():
    """``mu ~ N(0, s^2)``, ``q(z|x) = N(mu, sigma^2)``: ``q(z) ~= N(0, s^2 + sigma^2)``.

    Then ``I = log(1 + s^2 / sigma^2) / 2`` (the Gaussian channel capacity), up to O(1/sqrt(N)).
    """
    torch.manual_seed(0)
    n, s2, sigma2 = 4000, 1.0, 0.25
    mu = math.sqrt(s2) * torch.randn(n, 1)
    mi = mutual_information(mu, torch.full((n, 1), math.log(sigma2)))
    assert mi == pytest.approx(0.5 * math.log(1 + s2 / sigma2), abs=0.05)


def test_factorised_and_joint_mi_agree_for_independent_dimensions():
    """Two independent Gaussian channels: both estimates approach ``2 * log(1 + s^2 / sigma^2) / 2``."""
    torch.manual_seed(0)
    n, s2, sigma2 = 3000, 1.0, 0.25
    mu = math.sqrt(s2) * torch.randn(n, 2)
    mi = mutual_information_estimates(mu, torch.full((n, 2), math.log(sigma2)))
    assert mi.joint == pytest.approx(math.log(1 + s2 / sigma2), abs=0.06)
    assert mi.factorised == pytest.approx(math.log(1 + s2 / sigma2), abs=0.06)


def test_factorised_mi_adds_the_total_correlation_of_correlated_dimensions():
    """Both dimensions observe the same ``mu``: joint ``log(1 + 2 s^2 / sigma^2) / 2``, factorised ``log(1 + s^2 /
    sigma^2)`` (each dimension's own channel), the difference being the aggregate posterior's total correlation."""
    torch.manual_seed(0)
    n, s2, sigma2 = 3000, 1.0, 0.25
    mu = math.sqrt(s2) * torch.randn(n, 1).expand(n, 2)
    mi = mutual_information_estimates(mu, torch.full((n, 2), math.log(sigma2)))
    assert mi.joint == pytest.approx(0.5 * math.log(1 + 2 * s2 / sigma2), abs=0.06)
    assert mi.factorised == pytest.approx(math.log(1 + s2 / sigma2), abs=0.06)
    assert mi.factorised > mi.joint + 0.4


def test_factorised_mi_can_exceed_log_n():
    torch.manual_seed(0)
    n = 64
    mi = mutual_information_estimates(100.0 * torch.randn(n, 3), torch.full((n, 3), -20.0))
    assert mi.joint <= math.log(n) < mi.factorised
    assert mi.factorised == pytest.approx(3 * math.log(n), abs=1e-3)


def test_both_mi_estimates_do_not_depend_on_the_chunking():
    mu, logvar = torch.randn(300, 6), torch.randn(300, 6) - 1
    torch.manual_seed(1)
    whole = mutual_information_estimates(mu, logvar)
    torch.manual_seed(1)
    chunked = mutual_information_estimates(mu, logvar, chunk_elements=7 * 300 * 6)
    assert chunked.joint == pytest.approx(whole.joint, abs=1e-5)
    assert chunked.factorised == pytest.approx(whole.factorised, abs=1e-5)


# ---- importance-weighted NLL --------------------------------------------------------------------


def test_iw_nll_with_one_sample_is_the_negative_elbo_in_expectation():
    model = tiny_model()
    batch = repeated_batch(600)
    torch.manual_seed(1)
    nll, se = mean_and_se(-log_px_rows(model, batch, samples=1))
    torch.manual_seed(2)
    nelbo = evaluate_split(model, [batch], samples=10)["nelbo"]["value"]
    assert nll == pytest.approx(nelbo, abs=4 * se + 0.02)


def test_iw_nll_weakly_decreases_with_samples():
    """Paired over the rows of one batch: ``E[nll_1] >= E[nll_10] >= E[nll_100]``, strictly here as ``KL > 0``."""
    model = tiny_model()
    batch = repeated_batch(50)
    torch.manual_seed(0)
    nll_1, nll_10, nll_100 = (-log_px_rows(model, batch, s) for s in (1, 10, 100))
    for more, fewer in ((nll_10, nll_1), (nll_100, nll_10)):
        gap, se = mean_and_se(fewer - more)
        assert gap > -3 * se
    gap, se = mean_and_se(nll_1 - nll_100)
    assert gap > 3 * se


def blind_prior_model(decoder):
    """``q(z|x) = p(z) = N(0, I)`` and a decoder that never sees ``z``: every importance weight is ``p(x)``."""
    model = tiny_model(decoder, logvar_bias=0.0, mu_bias=0.0)
    dec = model.decoder
    with torch.no_grad():
        model.encoder.to_gaussian.weight.zero_()
        model.encoder.to_gaussian.bias.zero_()
        dec.init_h.weight.zero_()
        if decoder == "lstm":
            dec.lstm.weight_ih_l0[:, EMB:] = 0.0
        else:
            dec.predict.weight_ih.zero_()
            dec.update.weight_ih[:, EMB:] = 0.0
    return model


@pytest.mark.parametrize("decoder", ["lstm", "double-lstm"])
@pytest.mark.parametrize("samples,chunk_tokens", [(1, 1 << 15), (7, 1), (100, 1 << 15), (100, 200)])
def test_iw_nll_is_exact_when_q_is_the_prior_and_the_decoder_ignores_z(decoder, samples, chunk_tokens):
    model = blind_prior_model(decoder)
    batch = make_batch(list(enumerate(SENTENCES)))
    with torch.no_grad():
        exact = model.log_likelihood(batch.tokens, torch.zeros(len(SENTENCES), Z))
    torch.manual_seed(0)
    assert torch.allclose(log_px_rows(model, batch, samples, chunk_tokens), exact, atol=1e-4)


def test_iw_chunks_are_sized_by_free_cuda_memory_and_fixed_on_cpu(monkeypatch):
    model = tiny_model()
    hidden, vocab = model.decoder.output.in_features, model.decoder.output.out_features
    assert memory_chunk_tokens(model, torch.device("cpu")) == CHUNK_TOKENS
    free = 40 * 2**30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (free, 80 * 2**30))
    chunk = memory_chunk_tokens(model, torch.device("cuda"))
    assert chunk == int(free * MEMORY_SHARE) // (4 * (3 * vocab + 12 * hidden))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (2**20, 80 * 2**30))
    assert memory_chunk_tokens(model, torch.device("cuda")) == CHUNK_TOKENS


def test_iw_nll_rejects_zero_samples():
    model = tiny_model()
    with pytest.raises(ValueError, match="samples"):
        log_px_rows(model, make_batch([(0, [5, 6])]), samples=0)


# ---- perplexity and token counts ----------------------------------------------------------------


def test_tokens_count_eos_and_perplexity_is_per_token():
    batch = make_batch([(0, [5, 6]), (1, [7, 8, 9])])
    assert batch.num_tokens == 3 + 4
    model = tiny_model()
    torch.manual_seed(0)
    result = importance_weighted_nll(model, [batch], samples=5)
    assert (result.sentences, result.tokens, result.samples) == (2, 7, 5)
    assert result.ppl == pytest.approx(math.exp(2 * result.nll / 7))
    assert perplexity(14.0, 7) == pytest.approx(math.e**2)


# ---- active units -------------------------------------------------------------------------------


def test_active_units_count_dimensions_whose_mean_varies():
    n = 1000
    signs = torch.tensor([1.0, -1.0]).repeat(n // 2)
    scales = torch.tensor([1.0, 0.2, 0.11, 0.09, 0.0])
    mu = signs[:, None] * scales[None]
    au = active_units(mu)
    expected = (scales**2 * n / (n - 1)).tolist()
    assert au.count == 3
    assert au.variances == pytest.approx(expected)
    assert active_units(mu, threshold=0.05).count == 1


# ---- report -------------------------------------------------------------------------------------


def test_evaluate_split_is_consistent():
    model = tiny_model()
    batches = [make_batch(list(enumerate(SENTENCES))), make_batch([(4, [6, 6, 6]), (5, [9])])]
    torch.manual_seed(0)
    figures = evaluate_split(model, batches, samples=50)
    assert set(figures) == {"rec", "kl", "nelbo", "ppl_elbo", "nll", "ppl", "mi", "mi_factorised", "au"}
    tokens = sum(len(s) + 1 for s in SENTENCES) + 4 + 2
    assert all(f["sentences"] == 6 and f["tokens"] == tokens and f["eos_counted"] for f in figures.values())
    assert figures["nelbo"]["value"] == pytest.approx(figures["rec"]["value"] + figures["kl"]["value"])
    assert figures["nll"]["value"] <= figures["nelbo"]["value"] + 0.5
    assert figures["mi"]["value"] <= math.log(6)
    assert 0 <= figures["au"]["value"] <= Z
    assert "nll" not in evaluate_split(model, batches, samples=0)


def untrained_checkpoint(corpus, folder):
    """``folder/model.ckpt``: a freshly initialised model of :func:`tiny_config` on ``corpus``."""
    cfg = tiny_config(corpus)
    vocab = Vocabulary.build(load_split(cfg.data, "train").sentences)
    task = VAETask(cfg.to_dict(), vocab.words)
    ckpt = folder / "model.ckpt"
    state = {"hyper_parameters": {"config": cfg.to_dict()}, "vocab": vocab.words, "state_dict": task.state_dict()}
    torch.save(state, ckpt)
    return ckpt


def test_evaluate_checkpoint_writes_all_figures(small_corpus, tmp_path):
    cfg = tiny_config(small_corpus)
    ckpt = untrained_checkpoint(small_corpus, tmp_path)
    results = evaluate_checkpoint(load_checkpoint(ckpt), "test", samples=3, max_sentences=40, batch_size=16, seed=5)
    written = json.loads((tmp_path / "model.test.json").read_text())
    assert results.pop("written_to") == str(tmp_path / "model.test.json")
    assert written == json.loads(json.dumps(results))
    assert written["per_sentence"] == "model.test.sentences.npz" and (tmp_path / written["per_sentence"]).is_file()
    assert (written["seed"], written["samples"], written["eos_counted"]) == (5, 3, True)
    assert written["config"]["model"]["z_dim"] == cfg.model.z_dim
    assert written["metrics"]["nll"]["sentences"] == 40
    assert len(written["metrics"]["au"]["variances"]) == cfg.model.z_dim


def test_per_sentence_values_are_in_split_order_and_average_to_the_figures(small_corpus, tmp_path):
    trained = load_checkpoint(untrained_checkpoint(small_corpus, tmp_path))
    out = tmp_path / "eval-test.json"
    results = evaluate_checkpoint(trained, "test", samples=3, max_sentences=40, batch_size=16, out=out)
    assert results["per_sentence"] == "eval-test.sentences.npz" and not list(tmp_path.glob("*.partial"))
    with np.load(tmp_path / "eval-test.sentences.npz") as npz:
        rows = {key: npz[key] for key in npz.files}
    assert sorted(rows) == ["kl", "logvar", "mu", "nll", "rec", "tokens"]
    figures = results["metrics"]
    for key, values in (
        ("rec", rows["rec"]),
        ("kl", rows["kl"]),
        ("nelbo", rows["rec"] + rows["kl"]),
        ("nll", rows["nll"]),
    ):
        assert values.astype(np.float64).mean() == pytest.approx(figures[key]["value"], rel=1e-6), key
    assert rows["tokens"].sum() == figures["nelbo"]["tokens"] and rows["mu"].shape == (40, trained.model.z_dim)
    sentences = [trained.vocab.encode(s) for s in load_split(trained.cfg.data, "test").sentences[:40]]
    batched = torch.cat([b.index for b in sentence_loader(sentences, trained.vocab, 16)])
    assert not torch.equal(batched, torch.arange(40)), "the batches go by length: the rows are put back in order"
    v = trained.vocab
    with torch.no_grad():
        for i, ids in enumerate(sentences):
            alone = make_batch([(i, ids)], v.pad_id, v.bos_id, v.eos_id)
            mu, logvar = trained.model.encode(alone.tokens, alone.lengths)
            assert rows["kl"][i] == pytest.approx(float(gaussian_kl(mu, logvar).sum()), rel=1e-4, abs=1e-6)
            assert rows["mu"][i] == pytest.approx(mu[0].numpy(), rel=1e-4, abs=1e-6)
            assert rows["tokens"][i] == len(ids) + 1
