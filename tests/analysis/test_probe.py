"""Latent exports and probes: ``encode_sentences``, ``seqvae encode``, ``probe_factor``, ``seqvae probe``."""

import json

import numpy as np
import pytest
import torch
from conftest import command_error, tiny_config, write_small_corpus

from seqvae.analysis.latents import encode_sentences
from seqvae.analysis.probe import probe_factor, probe_model, read_label_columns, split_labels
from seqvae.checkpoint import load_checkpoint
from seqvae.cli import main
from seqvae.config import DataConfig
from seqvae.data import CorpusError, Vocabulary
from seqvae.models import SequenceVAE
from seqvae.training.run import fit


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """``(best checkpoint, corpus folder)`` of a two-epoch tiny AWD run on the small labelled corpus."""
    root = tmp_path_factory.mktemp("probe")
    corpus = write_small_corpus(root / "corpus")
    return fit(tiny_config(corpus), root / "run")["best_checkpoint"], corpus


def test_encode_sentences_keeps_input_order_across_batches():
    torch.manual_seed(0)
    vocab = Vocabulary.build([["a", "b", "c", "d"]])
    model = SequenceVAE(len(vocab), 8, 16, 16, 4, "lstm").eval()
    sentences = [["a"], ["b", "c", "d", "a"], ["c", "c"], ["d", "a", "b"], ["zzz", "a"]]
    mu, logvar = encode_sentences(model, vocab, sentences, batch_size=2)
    assert mu.shape == logvar.shape == (5, 4)
    for n, sentence in enumerate(sentences):
        one_mu, one_logvar = encode_sentences(model, vocab, [sentence])
        torch.testing.assert_close(mu[n], one_mu[0], atol=1e-6, rtol=1e-5)
        torch.testing.assert_close(logvar[n], one_logvar[0], atol=1e-6, rtol=1e-5)
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        encode_sentences(model, vocab, [["a"], []])


def test_probe_reads_a_linear_factor_and_reports_the_majority_baseline():
    rng = np.random.default_rng(0)
    y = rng.choice(["x", "y", "y", "y"], size=400)
    x = rng.normal(size=(400, 5))
    x[:, 2] += np.where(y == "x", 4.0, -4.0)
    r = probe_factor("f", x[:300], y[:300], x[300:], y[300:])
    assert r.accuracy > 0.97
    assert r.majority == pytest.approx(np.mean(y[300:] == "y"))
    assert r.chance == 0.5 and r.classes == ["x", "y"] and (r.n_fit, r.n_scored) == (300, 100)
    noise = probe_factor("f", rng.normal(size=(300, 5)), y[:300], rng.normal(size=(100, 5)), y[300:])
    assert noise.accuracy <= noise.majority + 0.05


def test_probe_rejects_one_class_and_misaligned_labels():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="single class"):
        probe_factor("f", x, ["a"] * 4, x, ["a"] * 4)
    with pytest.raises(ValueError, match="differ in number"):
        probe_factor("f", x, ["a", "b", "a"], x, ["a"] * 4)


def test_label_sources(tmp_path):
    (tmp_path / "train.txt").write_text("a b\nc d\n", encoding="utf-8")
    (tmp_path / "train.labels.tsv").write_text("topic\tmood\nx\tup\ny\tdown\n", encoding="utf-8")
    cfg = DataConfig(name="t", dir=str(tmp_path))
    assert split_labels(cfg, "train") == {"topic": ["x", "y"], "mood": ["up", "down"]}
    (tmp_path / "valid.txt").write_text("1\ta b\n2\tc d\n", encoding="utf-8")
    assert split_labels(DataConfig(name="t", dir=str(tmp_path), labelled=True), "valid") == {"label": ["1", "2"]}
    with pytest.raises(CorpusError, match="no labels for the valid split"):
        split_labels(cfg, "valid")
    (tmp_path / "ragged.tsv").write_text("a\tb\n1\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="one value per header column"):
        read_label_columns(tmp_path / "ragged.tsv")
    with pytest.raises(CorpusError, match="label file not found"):
        read_label_columns(tmp_path / "missing.tsv")


@pytest.mark.slow
def test_probe_model_on_the_small_corpus(tiny_run):
    ckpt, corpus = tiny_run
    trained = load_checkpoint(ckpt)
    results = {r.factor: r for r in probe_model(trained, "train", "test")}
    assert set(results) == {"topic", "sentiment"}
    assert results["topic"].n_fit == 320 and results["topic"].n_scored == 64
    assert results["topic"].chance == 0.25 and results["sentiment"].chance == 0.5
    assert all(0.0 <= r.accuracy <= 1.0 for r in results.values())
    with pytest.raises(ValueError, match="different splits"):
        probe_model(trained, "test", "test")
    (corpus / "short.tsv").write_text("topic\nfood\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="1 labels for factor 'topic' but 64 sentences"):
        probe_model(trained, "train", "test", score_labels=corpus / "short.tsv")


@pytest.mark.slow
def test_encode_and_probe_commands(tiny_run, tmp_path, capsys):
    ckpt, corpus = tiny_run
    out = tmp_path / "z.npy"
    main(["encode", ckpt, str(corpus / "valid.txt"), "--out", str(out)])
    latents = np.load(out)
    assert latents.shape == (64, 2, 8) and latents.dtype == np.float32
    main(["probe", ckpt, "--factors", "sentiment", "--out", str(tmp_path / "probe.json")])
    [result] = json.loads((tmp_path / "probe.json").read_text())
    assert result["factor"] == "sentiment" and result["n_scored"] == 64
    assert "sentiment" in capsys.readouterr().out
    assert "factor 'colour' not among the labels" in command_error(capsys, ["probe", ckpt, "--factors", "colour"])
