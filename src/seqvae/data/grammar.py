"""Stochastic grammar behind the embedded default corpus.

Each sentence is drawn given two hidden sentence-level factors, ``topic`` and ``sentiment``, that shape
words all through it: most sentences open with a word that already depends on a factor (an interjection,
a topic-coloured adjective, a topic place), and every template then spends three or more words on each
factor. The templates are few and short, so little else varies from sentence to sentence: what a latent
code can carry that the words before a position do not reveal is mostly the two factors. A decoder that
reads them from ``z`` predicts the first factor-bearing words better than one that must wait for a cue,
and keeps predicting well when word dropout removes the cues.

:func:`infer_factors` reads the factors back off a sentence by its factor-specific words, to check that a
decoded sentence (a reconstruction, a sample, an interpolation) keeps them.
Regenerate the shipped files with ``python -m seqvae.data.grammar --out src/seqvae/data/default_corpus``.
"""

from __future__ import annotations

import argparse
import pathlib
import random
from collections import Counter
from collections.abc import Sequence

TOPICS = ("food", "sports", "tech", "travel")
SENTIMENTS = ("positive", "negative")


def _w(words: str) -> tuple[str, ...]:
    return tuple(words.split())


LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "food": {
        "agent": _w("chef baker waiter cook butcher farmer grocer caterer"),
        "action": _w("cooked baked served tasted grilled ordered roasted sliced"),
        "thing": _w("soup bread pasta salad cake pizza curry steak pie noodles"),
        "place": _w("kitchen restaurant bakery market cafe bistro canteen"),
    },
    "sports": {
        "agent": _w("coach player striker goalkeeper referee runner captain athlete"),
        "action": _w("played won trained watched kicked scored coached defended"),
        "thing": _w("match game race goal season tournament final derby marathon"),
        "place": _w("stadium arena field gym court pool track"),
    },
    "tech": {
        "agent": _w("engineer programmer developer designer hacker analyst admin tester"),
        "action": _w("installed built coded tested updated debugged launched deployed"),
        "thing": _w("laptop phone app software server website keyboard tablet database robot"),
        "place": _w("office lab datacenter workshop garage hackathon startup"),
    },
    "travel": {
        "agent": _w("tourist traveler pilot guide backpacker driver passenger hiker"),
        "action": _w("visited explored booked toured crossed photographed rented boarded"),
        "thing": _w("trip flight hotel beach museum train cruise tour island castle"),
        "place": _w("airport station harbor city valley resort village"),
    },
}

FLAVOR: dict[tuple[str, str], tuple[str, ...]] = {
    ("food", "positive"): _w("delicious tasty fresh crispy juicy savory"),
    ("food", "negative"): _w("bland stale burnt soggy greasy rotten"),
    ("sports", "positive"): _w("thrilling skillful heroic energetic flawless gripping"),
    ("sports", "negative"): _w("boring sloppy clumsy lazy unfair lopsided"),
    ("tech", "positive"): _w("fast reliable sleek powerful intuitive secure"),
    ("tech", "negative"): _w("buggy slow laggy glitchy clunky unstable"),
    ("travel", "positive"): _w("scenic relaxing charming peaceful spacious cozy"),
    ("travel", "negative"): _w("crowded delayed dirty noisy cramped shabby"),
}

MOOD: dict[str, dict[str, tuple[str, ...]]] = {
    "positive": {
        "opener": _w("luckily happily wow finally thankfully"),
        "adjective": _w("great wonderful excellent amazing lovely superb perfect"),
        "manner": _w("happily proudly eagerly warmly gracefully skillfully"),
        "judge": _w("loved enjoyed praised admired liked recommended"),
        "feeling": _w("happy proud excited grateful delighted glad"),
        "verdict": _w("success delight joy treat triumph pleasure"),
    },
    "negative": {
        "opener": _w("sadly unfortunately ugh alas honestly"),
        "adjective": _w("terrible awful horrible poor dreadful lousy mediocre"),
        "manner": _w("reluctantly badly poorly lazily angrily carelessly"),
        "judge": _w("hated disliked criticized regretted mocked avoided"),
        "feeling": _w("sad angry upset disappointed bored annoyed"),
        "verdict": _w("disaster mess failure nightmare letdown waste"),
    },
}

NAMES = _w("anna tom maria james leo sara omar mia lucas nina")
DETERMINERS = _w("the the the this that our")
INTENSIFIERS = _w("very really quite truly so")


class _Draw:
    """Random choices for one sentence, bound to its topic and sentiment."""

    def __init__(self, rng: random.Random, topic: str, sentiment: str) -> None:
        self.rng, self.topic, self.sentiment = rng, topic, sentiment

    def one(self, words: Sequence[str]) -> str:
        return self.rng.choice(words)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def t(self, kind: str) -> str:
        """A topic word of the given kind (agent, action, thing, place)."""
        return self.one(LEXICON[self.topic][kind])

    def s(self, kind: str) -> str:
        """A sentiment word of the given kind (opener, adjective, manner, judge, feeling, verdict)."""
        return self.one(MOOD[self.sentiment][kind])

    def ts(self) -> str:
        """An adjective that depends on both factors."""
        return self.one(FLAVOR[self.topic, self.sentiment])

    def det(self) -> str:
        return self.one(DETERMINERS)

    def intensifier(self) -> list[str]:
        return [self.one(INTENSIFIERS)] if self.chance(0.4) else []


def _sentence(d: _Draw) -> list[str]:
    """One sentence of a fixed clause order whose slots voice the factors: four topic and four sentiment words."""
    words = [d.s("opener"), ",", d.det(), d.t("agent"), d.s("manner"), d.t("action"), "a", d.ts(), d.t("thing")]
    words += ["at", "the", d.t("place"), "and", "felt", *d.intensifier(), d.s("feeling")]
    return [_a_or_an(words, i) for i in range(len(words))] + ["."]


def _a_or_an(words: list[str], i: int) -> str:
    if words[i] == "a" and i + 1 < len(words) and words[i + 1][0] in "aeiou":
        return "an"
    return words[i]


def generate(n: int, seed: int) -> list[tuple[str, dict[str, str]]]:
    """Draw ``n`` sentences with their factors, deterministic in ``seed``.

    Each sentence gets a uniformly random (topic, sentiment) pair; the pairs are dealt from a shuffled, balanced
    deck, so every combination occurs ``n // 8`` or ``n // 8 + 1`` times.
    """
    rng = random.Random(seed)
    pairs = [(topic, sentiment) for topic in TOPICS for sentiment in SENTIMENTS]
    deck = [pairs[i % len(pairs)] for i in range(n)]
    rng.shuffle(deck)
    samples = []
    for topic, sentiment in deck:
        tokens = _sentence(_Draw(rng, topic, sentiment))
        samples.append((" ".join(tokens), {"topic": topic, "sentiment": sentiment}))
    return samples


def _factor_words() -> dict[str, dict[str, set[str]]]:
    """Words that belong to one value of a factor only: ``{factor: {value: words}}``."""
    topic = {t: {w for words in LEXICON[t].values() for w in words} for t in TOPICS}
    sentiment = {s: {w for words in MOOD[s].values() for w in words} for s in SENTIMENTS}
    for (t, s), words in FLAVOR.items():
        topic[t] |= set(words)
        sentiment[s] |= set(words)
    return {"topic": _unique(topic), "sentiment": _unique(sentiment)}


def _unique(groups: dict[str, set[str]]) -> dict[str, set[str]]:
    return {key: words - set().union(*(w for k, w in groups.items() if k != key)) for key, words in groups.items()}


FACTOR_WORDS = _factor_words()


def infer_factors(tokens: Sequence[str]) -> dict[str, str | None]:
    """Each factor's value by a majority of its value-specific words in ``tokens``; ``None`` without a majority."""
    found: dict[str, str | None] = {}
    for factor, groups in FACTOR_WORDS.items():
        votes = Counter({value: sum(w in words for w in tokens) for value, words in groups.items()})
        (best, top), *rest = votes.most_common() or [(None, 0)]
        found[factor] = best if top > 0 and all(count < top for _, count in rest) else None
    return found


def write_corpus(
    out_dir: pathlib.Path,
    sizes: tuple[tuple[str, int], ...] = (("train", 10000), ("valid", 1000), ("test", 1000)),
    seed: int = 0,
) -> None:
    """Write ``{split}.txt`` and ``{split}.labels.tsv`` for every split, each from its own seed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    split_seeds = random.Random(seed)
    for split, n in sizes:
        samples = generate(n, split_seeds.randrange(2**32))
        text = "".join(f"{sentence}\n" for sentence, _ in samples)
        labels = "topic\tsentiment\n" + "".join(f"{f['topic']}\t{f['sentiment']}\n" for _, f in samples)
        (out_dir / f"{split}.txt").write_text(text, encoding="utf-8")
        (out_dir / f"{split}.labels.tsv").write_text(labels, encoding="utf-8")


def main() -> None:
    """Command-line entry point: regenerate the corpus files into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="master seed for all splits")
    args = parser.parse_args()
    write_corpus(args.out, seed=args.seed)


if __name__ == "__main__":
    main()
