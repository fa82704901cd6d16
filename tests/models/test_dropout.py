"""Word dropout: exact-K masks, relaxed top-k gradients, gradient reversal, uniform rates."""

import math

import pytest
import torch

from seqvae.models.dropout import AdversarialWordDropout, Adversary, UniformDropout, WordDropout, drop_count, droppable
from seqvae.models.dropout.topk import hard_topk_mask, project_capped_simplex, reverse_gradient, straight_through_topk

V = 30


def random_inputs(batch: int, max_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder inputs ``<s> x_1..x_T`` (B, max_len + 1) padded with 0, and lengths T."""
    lengths = torch.randint(1, max_len + 1, (batch,), generator=generator)
    tokens = torch.zeros(batch, max_len + 1, dtype=torch.long)
    tokens[:, 0] = 2
    for b, t in enumerate(lengths.tolist()):
        tokens[b, 1 : t + 1] = torch.randint(4, V, (t,), generator=generator)
    return tokens, lengths


def awd(rate: float = 0.3, lam: float = 1.0, tau: float = 1.0) -> AdversarialWordDropout:
    return AdversarialWordDropout(Adversary(V, 8, 16), rate, tau=tau, lam=lam)


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.3, 0.5, 0.9])
def test_awd_mask_drops_exactly_k_real_positions(rate):
    g = torch.Generator().manual_seed(0)
    dropout = awd(rate).train()
    for _ in range(20):
        tokens, lengths = random_inputs(16, 25, g)
        mask = dropout(tokens, lengths).mask
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        valid = droppable(lengths, tokens.size(1))
        assert torch.equal((mask == 0).sum(dim=1), torch.round(rate * lengths.double()).long())
        assert bool((mask[~valid] == 1).all()), "padding and <s> are never dropped"


def test_drop_count_is_round_r_times_t():
    assert drop_count(torch.tensor([10, 7, 1, 3]), 0.3).tolist() == [3, 2, 0, 1]


def test_projection_is_on_capped_simplex():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(8, 12, generator=g, dtype=torch.float64) * 3
    valid = torch.arange(12).unsqueeze(0) < torch.randint(3, 13, (8, 1), generator=g)
    n_keep = (valid.sum(dim=1) * 0.6).round().long()
    y, _ = project_capped_simplex(x, n_keep, valid)
    assert torch.allclose(y.sum(dim=1), n_keep.double(), atol=1e-9)
    assert bool(((y >= 0) & (y <= 1)).all()) and bool((y[~valid] == 0).all())


def test_straight_through_gradient_equals_relaxed_projection_gradient():
    g = torch.Generator().manual_seed(2)
    tau = 0.7
    scores = torch.randn(4, 10, generator=g, dtype=torch.float64)
    valid = torch.arange(10).unsqueeze(0) < torch.tensor([[10], [7], [5], [9]])
    n_keep = torch.tensor([6, 4, 3, 5])
    weights = torch.randn(4, 10, generator=g, dtype=torch.float64)

    s = scores.clone().requires_grad_(True)
    (straight_through_topk(s, n_keep, valid, tau) * weights).sum().backward()

    def relaxed(x):
        return (project_capped_simplex(x / tau, n_keep, valid)[0] * weights).sum()

    eps = 1e-6
    numeric = torch.zeros_like(scores)
    for idx in valid.nonzero().tolist():
        e = torch.zeros_like(scores)
        e[tuple(idx)] = eps
        numeric[tuple(idx)] = (relaxed(scores + e) - relaxed(scores - e)) / (2 * eps)
    assert torch.allclose(s.grad, numeric, atol=1e-5)
    assert s.grad.abs().sum() > 0


def test_gradient_reversal_flips_sign():
    x = torch.randn(5, requires_grad=True)
    (reverse_gradient(x) * torch.arange(5.0)).sum().backward()
    assert torch.equal(x.grad, -torch.arange(5.0))


def test_adversary_gets_reversed_decoder_gradient_and_plain_regulariser_gradient():
    g = torch.Generator().manual_seed(3)
    tokens, lengths = random_inputs(6, 12, g)
    torch.manual_seed(0)
    dropout = awd(0.4, lam=0.5).train()
    head = dropout.adversary.head.weight
    weights = torch.randn(tokens.shape, generator=g)

    # Decoder path: a loss linear in the mask. Reversed: the adversary's gradient is minus the plain one.
    torch.manual_seed(1)
    out = dropout(tokens, lengths)
    (grad_reversed,) = torch.autograd.grad((out.mask * weights).sum(), head)
    torch.manual_seed(1)
    mu, logvar = dropout.adversary(tokens)
    scores = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    valid = droppable(lengths, tokens.size(1))
    keep = straight_through_topk(scores, lengths - drop_count(lengths, 0.4), valid, dropout.tau)
    (grad_plain,) = torch.autograd.grad((keep * weights).sum(), head)
    assert grad_plain.abs().sum() > 0
    assert torch.allclose(grad_reversed, -grad_plain, atol=1e-6)

    # Regulariser path: not reversed, its gradient descends lambda * KL(p_psi || N(0,1)).
    torch.manual_seed(1)
    (grad_reg,) = torch.autograd.grad(dropout(tokens, lengths).regulariser.sum(), head)
    mu, logvar = dropout.adversary(tokens)
    kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
    (grad_direct,) = torch.autograd.grad(0.5 * (kl * valid).sum(), head)
    assert torch.allclose(grad_reg, grad_direct, atol=1e-6)


def test_fixed_score_scale_fixes_sigma_and_regularises_only_the_means():
    g = torch.Generator().manual_seed(7)
    tokens, lengths = random_inputs(6, 12, g)
    valid = droppable(lengths, tokens.size(1))
    scale, lam = 0.5, 0.3
    torch.manual_seed(0)
    dropout = AdversarialWordDropout(Adversary(V, 8, 16), 0.4, lam=lam, score_scale=scale).train()
    head = dropout.adversary.head.weight  # row 0 gives mu, row 1 the (now unused) logvar
    mu, logvar = dropout.score_distribution(tokens)
    assert torch.equal(logvar, torch.full_like(mu, 2 * math.log(scale)))

    out = dropout(tokens, lengths)
    # KL(N(mu, s^2) || N(0, 1)) = mu^2 / 2 + (s^2 - 1 - log s^2) / 2: a constant plus a pull on mu alone.
    expected = lam * ((0.5 * mu**2 + 0.5 * (scale**2 - 1 - 2 * math.log(scale))) * valid).sum(dim=1)
    assert torch.allclose(out.regulariser, expected, atol=1e-6)
    (grad_reg,) = torch.autograd.grad(out.regulariser.sum(), head, retain_graph=True)
    (grad_means,) = torch.autograd.grad(lam * (0.5 * mu**2 * valid).sum(), head)
    assert torch.allclose(grad_reg, grad_means, atol=1e-6) and bool((grad_reg[1] == 0).all())

    (grad_mask,) = torch.autograd.grad((out.mask * torch.randn(tokens.shape, generator=g)).sum(), head)
    assert grad_mask[0].abs().sum() > 0 and bool((grad_mask[1] == 0).all()), "the decoder's gradient reaches mu"


def diagnose(mu: torch.Tensor, sigma: torch.Tensor, lengths: torch.Tensor, rate: float) -> dict[str, torch.Tensor]:
    """:meth:`AdversarialWordDropout.diagnostics` of one draw of scores ``mu + sigma * eps`` and its exact-K mask."""
    valid = droppable(lengths, mu.size(1))
    n_keep = lengths - drop_count(lengths, rate)
    scores = mu + sigma * torch.randn_like(mu)
    keep = hard_topk_mask(scores, n_keep, valid)
    return awd(rate).diagnostics(mu, sigma, scores, keep, lengths)


def test_deterministic_adversary_drops_the_same_words_every_draw():
    g = torch.Generator().manual_seed(8)
    lengths = torch.randint(1, 26, (64,), generator=g)
    mu = torch.rand(64, 26, generator=g).argsort(dim=1).float()  # distinct means, 1 apart: noise of 1e-6 never reorders
    torch.manual_seed(0)
    stats = diagnose(mu, torch.full_like(mu, 1e-6), lengths, 0.3)
    assert stats["drop_agreement"].item() == 1.0
    assert stats["drop_agreement_uniform"].item() < 0.5


def test_noise_only_scores_agree_as_often_as_uniform_dropout():
    g = torch.Generator().manual_seed(9)
    lengths = torch.randint(1, 26, (4000,), generator=g)
    torch.manual_seed(1)
    stats = diagnose(torch.zeros(4000, 26), torch.ones(4000, 26), lengths, 0.3)
    # With mu = 0 both draws are uniform K-of-T sets, so a sentence's overlap is hypergeometric:
    # mean K^2 / T (what drop_agreement_uniform sums), variance K (K/T) (1 - K/T) (T - K) / (T - 1).
    k, t = drop_count(lengths, 0.3).double(), lengths.double()
    se = (k * (k / t) * (1 - k / t) * (t - k) / (t - 1).clamp_min(1)).sum().sqrt() / k.sum()
    assert se < 0.005
    assert abs(stats["drop_agreement"].item() - stats["drop_agreement_uniform"].item()) < 4 * se.item()


def test_score_snr_is_the_mean_of_abs_mu_over_sigma_on_words():
    mu = torch.tensor([[9.0, 1.0, -2.0, 3.0], [9.0, 4.0, -1.0, 100.0]])
    sigma = torch.tensor([[1.0, 2.0, 4.0, 0.5], [1.0, 1.0, 1.0, 1.0]])
    stats = diagnose(mu, sigma, torch.tensor([3, 2]), 0.3)  # <s> (position 0) and padding do not count
    assert stats["score_snr"].item() == pytest.approx(((0.5 + 0.5 + 6) / 3 + (4 + 1) / 2) / 2)


def drop_frequencies_after_training(lam: float) -> torch.Tensor:
    """Train an adversary on one 10-word sentence against a decoder loss linear in the mask.

    Descending ``mask . w`` through the reversed mask means *raising* it: the adversary wants to
    keep high-``w`` positions and drop low-``w`` ones; ``lam`` pulls its scores back to N(0, 1).
    Returns the per-position drop frequency over 4000 masks.
    """
    torch.manual_seed(0)
    dropout = awd(0.3, lam=lam).train()
    sentence = torch.tensor([[2, *range(4, 14)]])
    lengths = torch.tensor([10])
    opt = torch.optim.Adam(dropout.parameters(), lr=0.05)
    w = torch.linspace(-1, 1, 11).unsqueeze(0)
    for _ in range(300):
        out = dropout(sentence, lengths)
        loss = (out.mask * w).sum() + out.regulariser.sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        masks = torch.cat([dropout(sentence.expand(500, -1), lengths.expand(500)).mask for _ in range(8)])
    return (masks[:, 1:] == 0).float().mean(dim=0)


def test_large_lambda_makes_drop_positions_nearly_uniform():
    drop_freq = drop_frequencies_after_training(lam=1e4)
    assert torch.allclose(drop_freq, torch.full((10,), 0.3), atol=0.05), drop_freq


def test_small_lambda_lets_the_adversary_concentrate_drops():
    drop_freq = drop_frequencies_after_training(lam=1e-3)
    assert drop_freq[7:].max() < 0.05 and drop_freq[:3].min() > 0.8, drop_freq


def test_uniform_dropout_empirical_rate_matches_r():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(4)
    tokens, lengths = random_inputs(64, 30, g)
    valid = droppable(lengths, tokens.size(1))
    dropout = UniformDropout(0.35).train()
    dropped = sum(((dropout(tokens, lengths).mask == 0) & valid).sum().item() for _ in range(50))
    assert abs(dropped / (50 * valid.sum().item()) - 0.35) < 0.01
    assert all(bool((dropout(tokens, lengths).mask[~valid] == 1).all()) for _ in range(5))


def test_uniform_exact_k_drops_exactly_k():
    g = torch.Generator().manual_seed(5)
    tokens, lengths = random_inputs(32, 20, g)
    mask = UniformDropout(0.25, exact_k=True).train()(tokens, lengths).mask
    assert torch.equal((mask == 0).sum(dim=1), drop_count(lengths, 0.25))


def test_none_and_eval_mode_keep_everything():
    g = torch.Generator().manual_seed(6)
    tokens, lengths = random_inputs(8, 10, g)
    for module in (WordDropout().train(), UniformDropout(0.5).eval(), awd(0.5).eval()):
        out = module(tokens, lengths)
        assert bool((out.mask == 1).all()) and bool((out.regulariser == 0).all())


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rate_outside_unit_interval_is_rejected(rate):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        UniformDropout(rate)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        awd(rate)
