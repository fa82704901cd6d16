"""Adversary saliency (Table 2) and POS saliency (Figure 4a): numbers, page, chart and commands."""

import json
import math
import shutil
import subprocess
import sys

import pytest
import torch
from conftest import tiny_config

from seqvae.analysis import pos_saliency as pos_module
from seqvae.analysis.pos_saliency import PosRow, pos_saliency, spacy_tagger
from seqvae.analysis.saliency import (
    NotAWDError,
    SentenceSaliency,
    adversary_saliency,
    awd_module,
    saliency_json,
)
from seqvae.analysis.saliency_html import render_page
from seqvae.cli import main
from seqvae.data.vocab import SPECIALS, Vocabulary
from seqvae.models.dropout import AdversarialWordDropout, Adversary
from seqvae.models.vae import SequenceVAE
from seqvae.training.run import fit

WORDS = "the a cat dog sat ran on under mat rug quickly and .".split()
SENTENCES = [
    "the cat sat on the mat .".split(),
    "a dog ran".split(),
    "the cat".split(),
    "dog".split(),
    "the dog quickly ran under a rug and the cat sat on the mat .".split(),
    "a zebra sat on the <unk> .".split(),  # 'zebra' is not in the vocabulary
]


@pytest.fixture
def vocab():
    return Vocabulary([*SPECIALS, *WORDS])


@pytest.fixture
def awd(vocab):
    """A randomly initialised adversary (varied mu and sigma) at rate R = 0.3, in evaluation mode."""
    torch.manual_seed(0)
    return AdversarialWordDropout(Adversary(len(vocab), 8, 8), rate=0.3).eval()


def test_drop_probabilities_boxes_and_normalised_scores(awd, vocab):
    results = adversary_saliency(awd, vocab, SENTENCES, samples=2000, seed=0, batch_size=4)
    assert [r.words[1:] for r in results] == SENTENCES
    for r in results:
        t = len(r.words) - 1
        assert r.length == t and r.k == round(0.3 * t)
        assert all(len(values) == t + 1 for values in (r.mu, r.sigma, r.normalised, r.drop_prob, r.known))
        # Every draw drops exactly K words and never <s>.
        assert r.drop_prob[0] == 0.0
        assert sum(r.drop_prob) == pytest.approx(r.k, abs=1e-4)
        assert all(0.0 <= p <= 1.0 for p in r.drop_prob)
        # The boxed words are the K lowest mean scores among the words.
        lowest = sorted(range(1, t + 1), key=lambda i: r.mu[i])[: r.k]
        assert r.dropped == sorted(lowest)
        assert all(s > 0 for s in r.sigma)
        words = r.normalised[1:]
        assert sum(words) / t == pytest.approx(0.0, abs=1e-5)
        if t > 1:
            assert math.sqrt(sum(v * v for v in words) / t) == pytest.approx(1.0, abs=1e-4)
            m = sum(r.mu[1:]) / t
            s = math.sqrt(sum((v - m) ** 2 for v in r.mu[1:]) / t)
            assert r.normalised[0] == pytest.approx((r.mu[0] - m) / s, rel=1e-4)
        else:
            assert r.normalised == [0.0, 0.0]
    assert results[-1].known == [True, True, False, True, True, True, True, True]


def test_batching_does_not_change_scores_and_draws_are_seeded(awd, vocab):
    together = adversary_saliency(awd, vocab, SENTENCES, samples=300, seed=1)
    alone = adversary_saliency(awd, vocab, SENTENCES[1:2], samples=300, seed=1)[0]
    assert together[1].mu == pytest.approx(alone.mu, abs=1e-6)
    assert together[1].sigma == pytest.approx(alone.sigma, abs=1e-6)
    again = adversary_saliency(awd, vocab, SENTENCES, samples=300, seed=1)
    assert [r.drop_prob for r in again] == [r.drop_prob for r in together]
    other = adversary_saliency(awd, vocab, SENTENCES, samples=300, seed=2)
    assert [r.drop_prob for r in other] != [r.drop_prob for r in together]


def _fix_scores(monkeypatch, awd, mu, sigma):
    """Make the adversary give every sentence the score distributions N(mu_i, sigma_i^2), i = 0..T."""

    def scores(tokens):
        logvar = 2 * torch.tensor(sigma).log()
        return torch.tensor(mu).expand(tokens.shape), logvar.expand(tokens.shape)

    monkeypatch.setattr(awd.adversary, "forward", scores)


def test_two_word_drop_probability_matches_the_gaussian_formula(awd, vocab, monkeypatch):
    """T = 2, K = 1: word 1 is dropped iff s_1 < s_2, so P = Phi((mu_2 - mu_1) / sqrt(sigma_1^2 + sigma_2^2))."""
    _fix_scores(monkeypatch, awd, [0.0, 0.0, 0.5], [1.0, 0.5, 1.0])
    samples = 20000
    (r,) = adversary_saliency(awd, vocab, [["the", "cat"]], samples=samples, seed=0)
    exact = 0.5 * (1 + math.erf(0.5 / math.hypot(0.5, 1.0) / math.sqrt(2)))  # 0.673
    assert r.k == 1 and r.dropped == [1]
    assert r.drop_prob[1] == pytest.approx(exact, abs=4 * math.sqrt(exact * (1 - exact) / samples))


def test_hand_set_adversary_drops_its_low_word(awd, vocab, monkeypatch):
    """Word 3 gets a very low mean and a tiny sigma: it is dropped in every draw; the other K - 1 are spread."""
    _fix_scores(monkeypatch, awd, [0.0, 0.0, 0.0, -10.0, 0.0, 0.0, 0.0, 0.0], [1e-2] * 8)
    (r,) = adversary_saliency(awd, vocab, ["the dog ran under a rug and".split()], samples=1000, seed=0)
    assert r.k == 2 and r.drop_prob[3] == 1.0 and 3 in r.dropped
    others = [p for i, p in enumerate(r.drop_prob) if i not in (0, 3)]
    assert sum(others) == pytest.approx(1.0, abs=1e-4) and max(others) < 0.4


def test_a_model_without_adversary_is_a_clear_error(tmp_path):
    cfg = tiny_config(tmp_path, method="uniform")
    with pytest.raises(NotAWDError, match="method=awd"):
        awd_module(SequenceVAE.from_config(cfg, 20))


def test_pos_aggregation_gives_exact_means():
    def sentence(words, normalised, drop_prob, dropped):
        n = len(words) + 1
        return SentenceSaliency(["<s>", *words], [True] * n, [0.0] * n, [1.0] * n, normalised, drop_prob, 1, dropped)

    results = [
        sentence(["dogs", "bark"], [0.5, -1.0, 1.0], [0.0, 0.75, 0.25], [1]),
        sentence(["cats", "sleep", "."], [0.2, 1.0, 0.5, -1.5], [0.0, 0.1, 0.3, 0.6], [3]),
    ]
    tags = {"dogs": "NOUN", "cats": "NOUN", "bark": "VERB", "sleep": "VERB", ".": "PUNCT"}
    rows = {row.tag: row for row in pos_saliency(results, lambda words: [tags[w] for w in words])}
    assert rows == {
        "<s>": PosRow("<s>", 2, pytest.approx(0.35), 0.0, 0.0),
        "NOUN": PosRow("NOUN", 2, pytest.approx(0.0), pytest.approx(0.425), 0.5),
        "VERB": PosRow("VERB", 2, pytest.approx(0.75), pytest.approx(0.275), 0.0),
        "PUNCT": PosRow("PUNCT", 1, pytest.approx(-1.5), pytest.approx(0.6), 1.0),
    }
    assert [row.tag for row in pos_saliency(results, lambda words: [tags[w] for w in words])][0] == "PUNCT"
    with pytest.raises(ValueError, match="2 tags for 3 words"):
        pos_saliency(results, lambda words: ["X", "X"])


def test_spacy_tags_our_tokens_one_to_one():
    pytest.importorskip("spacy")
    pytest.importorskip(pos_module.SPACY_PIPELINE)
    tag = spacy_tagger()
    assert tag("the team lost the game .".split()) == ["DET", "NOUN", "VERB", "DET", "NOUN", "PUNCT"]
    tags = tag("we did n't like it , did we ?".split())
    assert len(tags) == 9 and tags[2] == "PART" and tags[5] == "PUNCT"


def test_missing_spacy_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(ImportError, match=r'pip install -e "\.\[analysis\]"'):
        spacy_tagger()


def _page(awd, vocab) -> str:
    results = adversary_saliency(awd, vocab, SENTENCES, samples=200, seed=0)
    return render_page(saliency_json(results, awd.rate, 200, 0, source="test sentences"))


def test_page_is_self_contained_and_shows_every_word(awd, vocab):
    page = _page(awd, vocab)
    for external in ("http", "src=", "<link", "<script", "url("):
        assert external not in page
    for sentence in SENTENCES:
        for word in sentence:
            assert f"<span>{word.replace('<', '&lt;').replace('>', '&gt;')}</span>" in page
    boxed = sum(round(0.3 * len(s)) for s in SENTENCES)
    assert page.count('class="w drop') == boxed + 1  # and one in the legend
    assert page.count('class="w bos"') == len(SENTENCES)
    assert "&lt;/s&gt; is never a decoder input" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no chromium installed")
def test_page_renders_in_a_headless_browser(awd, vocab, tmp_path):
    from PIL import Image

    html, png = tmp_path / "page.html", tmp_path / "page.png"
    html.write_text(_page(awd, vocab), encoding="utf-8")
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
    flags += " --disable-component-update --disable-sync"
    command = ["chromium", *flags.split(), f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}"]
    subprocess.run([*command, "--window-size=1200,800", html.as_uri()], capture_output=True, timeout=60, check=True)
    image = Image.open(png).convert("RGB")
    assert image.size == (1200, 800)
    colours = image.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50  # text, the legend's gradient and the coloured words
    white = sum(count for count, rgb in colours if rgb == (255, 255, 255))
    assert white < 0.97 * 1200 * 800


@pytest.mark.slow
def test_commands_end_to_end(small_corpus, tmp_path, capsys, monkeypatch):
    ckpt = fit(tiny_config(small_corpus, max_epochs=1), tmp_path / "run")["best_checkpoint"]
    html, out = tmp_path / "s.html", tmp_path / "s.json"
    main(["saliency", ckpt, "-n", "5", "--html", str(html), "--json", str(out), "--samples", "200"])
    lines = capsys.readouterr().out.strip().splitlines()
    data = json.loads(out.read_text())
    assert len(lines) == len(data["sentences"]) == 5 and data["rate"] == 0.3
    assert data["sentences"][0]["text"] in html.read_text()
    assert lines[0].count("[") == data["sentences"][0]["k"]

    sentences = tmp_path / "mine.txt"
    sentences.write_text("the team lost the game .\nwe loved the pasta .\n", encoding="utf-8")
    main(["saliency", ckpt, str(sentences), "--json", str(out), "--seed", "3"])
    data = json.loads(out.read_text())
    assert [s["text"] for s in data["sentences"]] == ["the team lost the game .", "we loved the pasta ."]
    assert data["seed"] == 3 and data["source"] == str(sentences)

    def by_length(words):
        return ["NOUN" if len(w) > 3 else "X" for w in words]

    monkeypatch.setattr(pos_module, "spacy_tagger", lambda: by_length)
    main(["pos-saliency", ckpt, "-n", "10", "--samples", "100", "--out", str(tmp_path / "pos")])
    table = (tmp_path / "pos" / "pos_saliency.csv").read_text().splitlines()
    assert table[0] == "tag,count,mean_normalised,mean_drop_prob,dropped_share"
    assert {line.split(",")[0] for line in table[1:]} == {"<s>", "NOUN", "X"}
    assert (tmp_path / "pos" / "pos_saliency.png").stat().st_size > 0
    assert "<svg" in (tmp_path / "pos" / "pos_saliency.svg").read_text()
