"""Decoding: the restriction of sampling, sampled frequencies, and beam search against exhaustive search."""

import itertools

import pytest
import torch

from seqvae.models import SequenceVAE
from seqvae.models.decoding import Decoding, beam_search, restrict, select_rows
from seqvae.models.transformer import KVCache

PAD, UNK, BOS, EOS = 0, 1, 2, 3
VOCAB = 6  # the four specials and two words
DECODER_SETTINGS = {
    "lstm": {},
    "double-lstm": {},
    "transformer": {"tf_layers": 2, "tf_heads": 2, "tf_ff": 16, "tf_max_len": 16},
    "cnn": {"cnn_channels": 16, "cnn_kernel": 2, "cnn_dilations": (1, 2)},
}


def tiny_model(decoder: str, seed: int = 0) -> SequenceVAE:
    """A random model over a six-word vocabulary whose output layer is scaled up and ``</s>`` made less likely, so
    next-word distributions differ markedly between prefixes and the best sentence is seldom the empty one."""
    torch.manual_seed(seed)
    model = SequenceVAE(VOCAB, 8, 16, 16, 4, decoder, **DECODER_SETTINGS[decoder]).eval()
    with torch.no_grad():
        model.decoder.output.weight.mul_(3.0)
        model.decoder.output.bias[EOS] -= 2.0
    return model


def sequence_log_prob(model: SequenceVAE, z: torch.Tensor, words: tuple[int, ...]) -> torch.Tensor:
    """``log p(words | z)`` per row of ``z (B, Z)`` by the teacher-forced pass, ``<pad>`` and ``<s>`` excluded."""
    tokens = torch.tensor([[BOS, *words]]).expand(z.size(0), -1)
    logits = model.decoder(model.embed_inputs(tokens[:, :-1]), z)
    logits[..., [PAD, BOS]] = float("-inf")
    return logits.log_softmax(-1).gather(-1, tokens[:, 1:].unsqueeze(-1)).squeeze(-1).sum(-1)


def exhaustive_best(model: SequenceVAE, z: torch.Tensor, max_len: int, alpha: float):
    """The best sentence of every possible one (ended by ``</s>`` within ``max_len`` tokens, or ``max_len`` words
    without it) under ``log p / |y|^alpha``, and its score, for each row of ``z``."""
    words = [w for w in range(VOCAB) if w not in (PAD, BOS, EOS)]
    candidates = [(*p, EOS) for n in range(max_len) for p in itertools.product(words, repeat=n)]
    candidates += list(itertools.product(words, repeat=max_len))
    scores = torch.stack([sequence_log_prob(model, z, c) / len(c) ** alpha for c in candidates], dim=1)
    best, index = scores.max(dim=1)
    return [[w for w in candidates[i] if w != EOS] for i in index.tolist()], best


@pytest.mark.parametrize("decoder", sorted(DECODER_SETTINGS))
@torch.no_grad()
def test_a_wide_beam_finds_the_exhaustive_best_sentence(decoder):
    z = 2 * torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    missed_by_one = 0
    for seed, alpha in itertools.product(range(3), (0.0, 1.0)):
        model = tiny_model(decoder, seed)
        expected, expected_score = exhaustive_best(model, z, max_len=4, alpha=alpha)
        # Three words besides </s>: 3^3 = 27 prefixes of three words, so a beam of 27 keeps every prefix.
        wide = Decoding("beam", beam_width=27, length_penalty=alpha, max_len=4)
        found, score = beam_search(model, z, BOS, EOS, wide)
        assert found == expected
        torch.testing.assert_close(score, expected_score)
        narrow, _ = beam_search(model, z, BOS, EOS, Decoding("beam", beam_width=1, length_penalty=alpha, max_len=4))
        missed_by_one += sum(a != b for a, b in zip(narrow, expected, strict=True))
    assert missed_by_one > 0, "the cases are too easy: a beam of one finds every best sentence"


@pytest.mark.parametrize("decoder", ["lstm", "transformer"])
@torch.no_grad()
def test_a_narrow_beam_scores_its_sentence_exactly_and_no_better_than_the_best(decoder):
    model = tiny_model(decoder, seed=3)
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    _, best = exhaustive_best(model, z, max_len=4, alpha=1.0)
    found, score = beam_search(model, z, BOS, EOS, Decoding("beam", beam_width=2, max_len=4))
    for row, words in enumerate(found):
        full = (*words, EOS) if len(words) < 4 else tuple(words)
        own = sequence_log_prob(model, z[row : row + 1], full)[0] / len(full)
        torch.testing.assert_close(score[row], own)
    assert bool((score <= best + 1e-6).all())


@pytest.mark.parametrize("decoder", sorted(DECODER_SETTINGS))
def test_every_strategy_decodes_with_every_decoder_and_never_emits_pad_or_bos(decoder):
    model = tiny_model(decoder)
    z = torch.randn(4, 4)
    for decoding in (
        Decoding(max_len=6),
        Decoding("sample", temperature=0.7, top_k=2, max_len=6),
        Decoding("sample", top_p=0.9, max_len=6),
        Decoding("beam", beam_width=3, max_len=6),
    ):
        rows = model.generate(z, BOS, EOS, decoding)
        assert len(rows) == 4 and all(len(r) <= 6 and not {PAD, BOS, EOS} & set(r) for r in rows)


def test_top_k_and_top_p_keep_the_largest_words_and_the_fewest_reaching_the_mass():
    logits = torch.tensor([[2.0, 0.5, 1.0, -1.0, 0.0], [0.0, 3.0, 0.1, 0.2, 0.3]])
    kept = restrict(logits, top_k=2).isfinite()
    assert kept.tolist() == [[True, False, True, False, False], [False, True, False, False, True]]
    probs = logits.softmax(-1)
    for p in (0.3, 0.6, 0.8, 0.95):
        kept = restrict(logits, top_p=p).isfinite()
        for row in range(2):
            ordered = probs[row].sort(descending=True)
            n = int((ordered.values.cumsum(0) < p).sum()) + 1  # the fewest whose mass reaches p
            assert set(kept[row].nonzero().flatten().tolist()) == set(ordered.indices[:n].tolist())
    assert torch.equal(restrict(logits), logits)


def test_sampled_first_words_follow_the_tempered_restricted_softmax():
    model = tiny_model("lstm")
    z = torch.randn(1, 4).expand(20_000, -1)
    logits, _ = model.decoder.step(model.dec_embedding(torch.full((1,), BOS)), z[:1], model.decoder.init_state(z[:1]))
    logits[:, [PAD, BOS]] = float("-inf")
    for decoding in (Decoding("sample", temperature=2.0, max_len=1), Decoding("sample", top_k=3, max_len=1)):
        expected = restrict(logits / decoding.temperature, decoding.top_k).softmax(-1)[0]
        torch.manual_seed(0)
        first = [row[0] if row else EOS for row in model.generate(z, BOS, EOS, decoding)]
        frequency = torch.bincount(torch.tensor(first), minlength=VOCAB) / len(first)
        torch.testing.assert_close(frequency, expected, atol=0.015, rtol=0)


def test_select_rows_reorders_every_tensor_of_a_state():
    index = torch.tensor([2, 0, 0])
    state = (torch.arange(3.0), [torch.arange(6.0).view(3, 2)])
    picked = select_rows(state, index)
    assert picked[0].tolist() == [2.0, 0.0, 0.0] and picked[1][0].tolist() == [[4, 5], [0, 1], [0, 1]]
    cache = select_rows(KVCache([torch.arange(3.0)], [torch.arange(3.0) + 10], 7), index)
    assert cache.keys[0].tolist() == [2.0, 0.0, 0.0] and cache.values[0].tolist() == [12.0, 10.0, 10.0]
    assert cache.position == 7


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"strategy": "nucleus"}, "decoding strategy must be one of"),
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"top_k": -1}, "top_k must be >= 0"),
        ({"top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be in \(0, 1\]"),
        ({"beam_width": 0}, "beam_width must be >= 1"),
        ({"length_penalty": -0.5}, "length_penalty must be >= 0"),
        ({"max_len": 0}, "max_len must be >= 1"),
    ],
)
def test_bad_decoding_settings_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        Decoding(**settings)
