"""AWD's drop profile against uniform dropout, on hand-made adversary outputs."""

from collections import Counter

import pytest

from seqvae.analysis.drop_profile import drop_profile, write_profile
from seqvae.analysis.saliency import SentenceSaliency


def _sentence(words, drop_prob, k):
    n = len(words)
    zeros = [0.0] * (n + 1)
    return SentenceSaliency(["<s>", *words], [True] * (n + 1), zeros, zeros, zeros, [0.0, *drop_prob], k, [])


def test_an_adversary_that_always_drops_the_first_word_shows_in_position_and_frequency(tmp_path):
    words = ["the", "cat", "sat", "on", "mats"]
    results = [_sentence(words, [1.0, 0, 0, 0, 0], 1)] * 3
    counts = Counter({"the": 50, "cat": 5, "sat": 5, "on": 20})
    rows = {(r.kind, r.group): r for r in drop_profile(results, counts)}
    assert rows["position", "1/5"].awd_drop_prob == 1.0 and rows["position", "2/5"].awd_drop_prob == 0.0
    assert all(r.uniform_drop_prob == pytest.approx(0.2) for r in rows.values())
    assert rows["position", "1/5"].ratio == pytest.approx(5.0)
    assert rows["frequency", "rank 1-10"].positions == 12 and rows["frequency", "unseen"].positions == 3
    assert rows["frequency", "rank 1-10"].awd_drop_prob == pytest.approx(0.25)
    paths = write_profile(list(rows.values()), tmp_path, "test")
    assert [p.name for p in paths] == ["drop_profile.csv", "drop_profile.png", "drop_profile.svg"]
    assert (tmp_path / "drop_profile.csv").read_text().startswith("kind,group,positions,awd_drop_prob")


def test_uniform_drop_probabilities_give_a_ratio_of_one_everywhere():
    results = [_sentence(list("abcdefghij"), [0.3] * 10, 3), _sentence(list("abcde"), [0.4] * 5, 2)]
    for row in drop_profile(results, Counter("abcdefghij")):
        assert row.ratio == pytest.approx(1.0)
