"""Word dropout: exact-K masks, relaxed top-k gradients, gradient reversal, uniform rates."""

import pytest
import torch

from seqvae.models.adversary import Adversary
from seqvae.models.dropout import AdversarialDropout, UniformDropout, WordDropout, drop_count, droppable
from seqvae.models.topk import project_capped_simplex, reverse_gradient, straight_through_topk

V = 30


def random_inputs(batch: int, max_len: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Decoder inputs ``<s> x_1..x_T`` (B, max_len + 1) padded with 0, and lengths T."""
    lengths = torch.randint(1, max_len + 1, (batch,), generator=generator)
    tokens = torch.zeros(batch, max_len + 1, dtype=torch.long)
    tokens[:, 0] = 2
    for b, t in enumerate(lengths.tolist()):
        tokens[b, 1 : t + 1] = torch.randint(4, V, (t,), generator=generator)
    return tokens, lengths


def awd(rate: float = 0.3, lam: float = 1.0, tau: float = 1.0) -> AdversarialDropout:
    return AdversarialDropout(Adversary(V, 8, 16), rate, tau=tau, lam=lam)


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
