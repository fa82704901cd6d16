"""Stochastic grammar behind the embedded default corpus.

Each sentence is drawn given two hidden factors: ``topic`` picks agents, actions, objects and places at several
positions, ``sentiment`` picks adjectives, adverbs, evaluation verbs and feelings, often far from the topic words.
Both are recoverable from a whole sentence, but a left-to-right model must carry them over long distances.
Regenerate the shipped files with ``python -m seqvae.data.grammar --out src/seqvae/data/default_corpus``.
"""

from __future__ import annotations

import argparse
import pathlib
import random

TOPICS = ("food", "sports", "tech", "travel")
SENTIMENTS = ("positive", "negative")


def _w(words: str, sep: str | None = None) -> tuple[str, ...]:
    """Split a word list (space-separated, or ``sep``-separated phrases) into a tuple."""
    return tuple(words.split(sep))


LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "food": {
        "agent": _w("chef baker waiter cook butcher farmer waitress host grocer caterer"),
        "action": _w("cooked baked served tasted grilled ordered roasted sliced prepared seasoned fried shared"),
        "thing": _w("soup bread pasta salad cake pizza curry steak pie sandwich noodles dessert coffee cheese stew"),
        "place": _w("kitchen restaurant bakery market cafe bistro canteen buffet pizzeria"),
    },
    "sports": {
        "agent": _w("coach player striker goalkeeper referee runner captain fan athlete swimmer team champion"),
        "action": _w("played won trained watched kicked scored coached defended joined practiced finished lost"),
        "thing": _w("match game race goal season tournament final ball ticket league trophy penalty marathon derby"),
        "place": _w("stadium arena field gym court pool track pitch clubhouse"),
    },
    "tech": {
        "agent": _w("engineer programmer developer designer hacker analyst admin tester intern team founder"),
        "action": _w("installed built coded tested updated debugged launched deployed downloaded upgraded"),
        "thing": _w("laptop phone app software server website update keyboard tablet database chip camera robot map"),
        "place": _w("office lab datacenter workshop garage conference hackathon store"),
    },
    "travel": {
        "agent": _w("tourist traveler pilot guide backpacker driver passenger captain hiker explorer sailor"),
        "action": _w("visited explored booked toured crossed photographed packed reached boarded rented missed"),
        "thing": _w("trip flight hotel beach museum train cruise tour island village ticket map castle coffee market"),
        "place": _w("airport station harbor city capital valley countryside resort market lodge"),
    },
}

FLAVOR: dict[tuple[str, str], tuple[str, ...]] = {
    ("food", "positive"): _w("delicious tasty fresh crispy juicy savory fragrant tender"),
    ("food", "negative"): _w("bland stale burnt soggy greasy salty rotten undercooked"),
    ("sports", "positive"): _w("thrilling skillful heroic energetic dominant flawless gripping exciting"),
    ("sports", "negative"): _w("boring sloppy clumsy lazy unfair dull lopsided chaotic"),
    ("tech", "positive"): _w("fast reliable sleek powerful intuitive efficient secure responsive"),
    ("tech", "negative"): _w("buggy slow laggy glitchy clunky unstable insecure outdated"),
    ("travel", "positive"): _w("scenic relaxing charming peaceful spacious luxurious breathtaking cozy"),
    ("travel", "negative"): _w("crowded delayed dirty noisy cramped overpriced dangerous shabby"),
}

MOOD: dict[str, dict[str, tuple[str, ...]]] = {
    "positive": {
        "adjective": _w("great wonderful excellent amazing lovely fantastic superb pleasant perfect impressive nice"),
        "manner": _w("happily gladly proudly eagerly warmly gracefully perfectly beautifully skillfully"),
        "judge": _w("loved enjoyed praised admired liked recommended adored appreciated celebrated cherished"),
        "feeling": _w("happy proud excited grateful delighted thrilled glad satisfied cheerful relieved"),
        "verdict": _w("success delight joy treat triumph pleasure highlight gem"),
    },
    "negative": {
        "adjective": _w("terrible awful horrible poor dreadful disappointing mediocre annoying unpleasant bad lousy"),
        "manner": _w("sadly reluctantly badly poorly lazily angrily carelessly clumsily awkwardly nervously"),
        "judge": _w("hated disliked criticized regretted resented mocked dreaded despised blamed avoided"),
        "feeling": _w("sad angry upset disappointed bored annoyed furious nervous embarrassed miserable"),
        "verdict": _w("disaster mess failure nightmare letdown waste joke headache"),
    },
}

PEOPLE = _w("friend neighbor critic visitor family student manager boss brother sister uncle kid customer group")
NAMES = _w("anna tom maria james leo sara omar mia lucas nina ivan emma ravi julia ken zoe")
NEUTRAL = _w("new old big small local famous usual popular modern simple little large first second whole other")
DETERMINERS = _w("the the the this that my our their a")
INTENSIFIERS = _w("very really quite truly extremely so rather pretty")
TIMES = _w(
    "yesterday|today|tonight|last week|last year|last night|this morning|this evening|on monday|on friday|"
    "on sunday|every summer|in july|in winter|once again",
    "|",
)
FRAMES = _w(
    "i think that|everyone said that|my friend told me that|we all agreed that|honestly ,|to be honest ,|"
    "in my opinion ,|overall ,|i heard that|they claimed that",
    "|",
)
PREPOSITIONS = _w("in at near outside behind")
LINKERS = _w("when|after|before|while|as soon as", "|")
SEEMS = _w("was was seemed looked felt")


class _Draw:
    """Random choices for one sentence, bound to its topic and sentiment."""

    def __init__(self, rng: random.Random, topic: str, sentiment: str) -> None:
        self.rng, self.topic, self.sentiment = rng, topic, sentiment

    def pick(self, words: tuple[str, ...]) -> list[str]:
        """Pick one entry uniformly and split it into tokens."""
        return self.rng.choice(words).split()

    def chance(self, p: float) -> bool:
        """Return True with probability ``p``."""
        return self.rng.random() < p

    def polar(self) -> list[str]:
        """Draw a sentiment adjective, topic-specific or generic with equal odds."""
        if self.chance(0.5):
            return self.pick(FLAVOR[self.topic, self.sentiment])
        return self.pick(MOOD[self.sentiment]["adjective"])

    def mood(self, kind: str) -> list[str]:
        """Draw a sentiment word of the given kind (manner, judge, feeling, verdict)."""
        return self.pick(MOOD[self.sentiment][kind])

    def topical(self, kind: str) -> list[str]:
        """Draw a topic word of the given kind (agent, action, thing, place)."""
        return self.pick(LEXICON[self.topic][kind])


def _with_article(det: str, rest: list[str]) -> list[str]:
    """Prefix ``rest`` with ``det``, turning "a" into "an" before a vowel."""
    if det == "a" and rest[0][0] in "aeiou":
        det = "an"
    return [det, *rest]


def _adjective_list(d: _Draw) -> list[str]:
    """Join one to three distinct sentiment adjectives as "x", "x and y" or "x , y and z"."""
    adjectives = list(dict.fromkeys(d.polar()[0] for _ in range(d.rng.choice((1, 1, 2, 2, 3)))))
    head = [*" , ".join(adjectives[:-1]).split(), "and"] if len(adjectives) > 1 else []
    return ([] if d.chance(0.5) else d.pick(INTENSIFIERS)) + head + [adjectives[-1]]


def _subject(d: _Draw) -> list[str]:
    """Build a subject: a topic agent, a shared person or a name."""
    roll = d.rng.random()
    if roll < 0.55:
        return _with_article(d.rng.choice(DETERMINERS), d.topical("agent"))
    if roll < 0.8:
        return [d.rng.choice(("my", "our", "the", "their")), *d.pick(PEOPLE)]
    return d.pick(NAMES)


def _object(d: _Draw, polar: bool) -> list[str]:
    """Build a topic noun phrase, optionally carrying sentiment adjectives."""
    words: list[str] = []
    if polar:
        words += d.polar()
        if d.chance(0.25):
            words += [","] + d.polar()
    if d.chance(0.3):
        words += d.pick(NEUTRAL)
    return _with_article(d.rng.choice(DETERMINERS), words + d.topical("thing"))


def _place(d: _Draw) -> list[str]:
    """Build an optional adjunct: a topic place, a companion, a time or nothing."""
    roll = d.rng.random()
    if roll < 0.35:
        return [d.rng.choice(PREPOSITIONS), "the", *d.topical("place")]
    if roll < 0.45:
        return ["with", d.rng.choice(("my", "our", "their")), *d.pick(PEOPLE)]
    if roll < 0.55:
        return d.pick(TIMES)
    return []


def _action(d: _Draw, polar: bool) -> list[str]:
    """Build a topic action clause, e.g. "the chef baked the bread in the kitchen"."""
    manner = polar and d.chance(0.5)
    head = _subject(d) + (d.mood("manner") if manner else []) + d.topical("action")
    return head + _object(d, polar and not manner) + _place(d)


def _judgement(d: _Draw) -> list[str]:
    """Build an evaluation of a topic object, e.g. "anna loved the pasta"."""
    return _subject(d) + d.mood("judge") + _object(d, d.chance(0.4)) + _place(d)


def _description(d: _Draw) -> list[str]:
    """Describe a topic object with sentiment adjectives, e.g. "the soup was bland"."""
    return _object(d, False) + _place(d) + d.pick(SEEMS) + _adjective_list(d)


def _feeling(d: _Draw) -> list[str]:
    """Build an emotional reaction, e.g. "everyone felt proud"."""
    who = _subject(d) if d.chance(0.6) else d.pick(("everyone", "we", "i", "they"))
    return who + ["felt"] + ([] if d.chance(0.5) else d.pick(INTENSIFIERS)) + d.mood("feeling")


def _verdict(d: _Draw) -> list[str]:
    """Close with a judgement about "it", e.g. "it was a real disaster"."""
    return ["it", "was"] + _with_article("a", d.pick(("real", "total", "absolute", "complete")) + d.mood("verdict"))


def _sentence(d: _Draw) -> list[str]:
    """Combine clauses into one sentence following a randomly chosen template."""
    template = d.rng.randrange(9)
    if template == 0:
        body = _action(d, True)
    elif template == 1:
        body = _judgement(d)
    elif template == 2:
        body = d.pick(FRAMES) + _description(d)
    elif template == 3:
        body = _action(d, d.chance(0.3)) + [",", "but", "it", *d.pick(SEEMS)] + _adjective_list(d)
    elif template == 4:
        body = d.pick(LINKERS) + _action(d, False) + [","] + _feeling(d)
    elif template == 5:
        body = _description(d) + [d.rng.choice(("and", ",")), "the", *d.topical("place"), "was"] + d.mood("adjective")
    elif template == 6:
        body = _action(d, False) + ["because", "it", "was"] + _adjective_list(d)
    elif template == 7:
        body = _action(d, d.chance(0.5)) + ["and"] + _feeling(d)
    else:
        body = _judgement(d) + [",", "and"] + _verdict(d)
    if d.chance(0.15):
        body = d.pick(TIMES) + [","] + body
    if len(body) < 12 and d.chance(0.25):
        body += [",", "and"] + _description(d)
    return body + ["."]


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
