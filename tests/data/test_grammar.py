"""The embedded corpus's grammar: both factors shape words all through every sentence, and can be read back."""

from collections import Counter

from seqvae.data import default_corpus_dir, read_labels_tsv, read_split
from seqvae.data.grammar import FACTOR_WORDS, SENTIMENTS, TOPICS, generate, infer_factors


def cues(tokens, factor, value):
    return [i for i, w in enumerate(tokens) if w in FACTOR_WORDS[factor][value]]


def test_generation_is_deterministic_and_balanced():
    samples = generate(800, seed=3)
    assert samples == generate(800, seed=3) and samples != generate(800, seed=4)
    pairs = Counter((f["topic"], f["sentiment"]) for _, f in samples)
    assert set(pairs) == {(t, s) for t in TOPICS for s in SENTIMENTS} and set(pairs.values()) == {100}


def test_every_sentence_voices_both_factors_from_its_first_word_on():
    for sentence, factors in generate(2000, seed=0):
        tokens = sentence.split()
        topic, sentiment = cues(tokens, "topic", factors["topic"]), cues(tokens, "sentiment", factors["sentiment"])
        assert len(topic) >= 4 and len(sentiment) >= 4, sentence
        assert sentiment[0] == 0, "the first word already depends on a factor"
        assert topic[-1] - topic[0] >= 5 and sentiment[-1] - sentiment[0] >= 10, "cues spread over the sentence"
        other_topics = [t for t in TOPICS if t != factors["topic"]]
        assert not any(cues(tokens, "topic", t) for t in other_topics), sentence


def test_infer_factors_reads_back_the_shipped_labels():
    root = default_corpus_dir()
    for split in ("valid", "test"):
        sentences = read_split(root / f"{split}.txt").sentences
        labels = read_labels_tsv(root / f"{split}.labels.tsv")
        assert all(infer_factors(s) == lab for s, lab in zip(sentences, labels, strict=True))
    assert infer_factors("the team lost the game .".split()) == {"topic": "sports", "sentiment": None}
    assert infer_factors("a b c".split()) == {"topic": None, "sentiment": None}
