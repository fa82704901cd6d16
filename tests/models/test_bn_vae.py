"""BN-VAE (Zhu et al. 2020): batch-normalised posterior means keep the expected KL above gamma^2 / 2."""

import pytest
import torch

from seqvae.config import Config, compose_config
from seqvae.data.batching import make_batch
from seqvae.models import SequenceVAE
from seqvae.models.encoder import MeanBatchNorm
from seqvae.models.init import initialise
from seqvae.objectives.kl import gaussian_kl

V = 25


def random_batch(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 9, (n,), generator=g).tolist()
    return make_batch([(i, torch.randint(4, V, (t,), generator=g).tolist()) for i, t in enumerate(lengths)])


@pytest.mark.parametrize("gamma", [0.3, 0.6, 1.0])
def test_expected_kl_per_dimension_is_at_least_the_gamma_bound_in_training(gamma):
    """Zhu et al.'s bound on random encoder outputs, training mode. With the means normalised over the batch,
    ``E_b[mu_d^2] = gamma^2 s_d^2 / (s_d^2 + eps) + beta_d^2``, where ``s_d^2`` is the batch variance of the
    pre-normalisation means; since ``sigma^2 - log sigma^2 - 1 >= 0``, ``E_b[KL_d] >= E_b[mu_d^2] / 2``. Tested:
    ``E_b[KL_d] >= (gamma^2 s_d^2 / (s_d^2 + eps) + beta_d^2) / 2`` for every ``d``, with ``beta = 0`` (the
    initial shift, giving ``~ gamma^2 / 2``) and with a random shift."""
    torch.manual_seed(0)
    model = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=6, bn_gamma=gamma).train()
    raw = []
    model.encoder.mu_bn.register_forward_hook(lambda module, args, out: raw.append(args[0].detach()))
    batch = random_batch(64)
    for shift in (torch.zeros(6), torch.randn(6)):
        with torch.no_grad():
            model.encoder.mu_bn.bias.copy_(shift)
        mu, logvar = model.encode(batch.tokens, batch.lengths)
        variance = raw[-1].var(dim=0, unbiased=False)
        bound = (gamma**2 * variance / (variance + MeanBatchNorm.EPS) + shift**2) / 2
        kl = gaussian_kl(mu, logvar).mean(dim=0)
        assert (kl >= bound - 1e-6).all(), (kl, bound)
        assert (bound > 0.95 * (gamma**2 + shift**2) / 2).all()  # eps costs < 5% at these raw variances
        torch.testing.assert_close(mu.pow(2).mean(dim=0), 2 * bound, rtol=1e-4, atol=1e-6)


def test_evaluation_uses_the_running_statistics():
    torch.manual_seed(0)
    model = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, bn_gamma=0.6).train()
    bn = model.encoder.mu_bn
    raw = []
    bn.register_forward_hook(lambda module, args, out: raw.append(args[0].detach()))
    batch = random_batch(16)
    model.encode(batch.tokens, batch.lengths)
    # one training batch moves the running statistics by the momentum from (0, 1)
    torch.testing.assert_close(bn.running_mean, 0.1 * raw[0].mean(dim=0))
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * raw[0].var(dim=0, unbiased=True))
    model.eval()
    mu, _ = model.encode(batch.tokens, batch.lengths)
    expected = 0.6 * (raw[1] - bn.running_mean) / (bn.running_var + bn.EPS).sqrt() + bn.bias
    torch.testing.assert_close(mu, expected)
    one, _ = model.encode(batch.tokens[:1], batch.lengths[:1])  # a sentence's mean does not depend on its batch
    torch.testing.assert_close(one, mu[:1])
    statistics = (bn.running_mean.clone(), bn.running_var.clone())
    model.train()
    model.encode(batch.tokens[:1], batch.lengths[:1])  # a training batch of one: running statistics, no update
    torch.testing.assert_close((bn.running_mean, bn.running_var), statistics)


def test_gamma_is_fixed_the_shift_learned_and_the_option_adds_nothing_when_off():
    torch.manual_seed(0)
    plain = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4)
    assert plain.encoder.mu_bn is None
    torch.manual_seed(0)
    bn = SequenceVAE(V, emb_dim=8, enc_hidden=12, dec_hidden=16, z_dim=4, bn_gamma=0.6)
    extra = set(bn.state_dict()) - set(plain.state_dict())
    assert extra == {f"encoder.mu_bn.{k}" for k in ("gamma", "bias", "running_mean", "running_var")}
    assert [n for n, _ in bn.named_parameters() if "mu_bn" in n] == ["encoder.mu_bn.bias"]
    bn.load_state_dict(plain.state_dict(), strict=False)  # same draws for the shared parameters
    for name, value in plain.state_dict().items():
        torch.testing.assert_close(bn.state_dict()[name], value)
    initialise(bn, "small-uniform")
    assert (bn.encoder.mu_bn.gamma == 0.6).all() and (bn.encoder.mu_bn.bias == 0).all()
    batch = random_batch(8)
    bn.train()(batch.tokens, batch.lengths).loss().backward()
    assert bn.encoder.mu_bn.bias.grad.abs().sum() > 0


def test_the_bn_vae_method_and_bad_values():
    cfg = compose_config(["method=bn-vae"])
    assert cfg.model.bn_gamma == 0.6 and cfg.dropout.method == "none"
    assert compose_config([]).model.bn_gamma is None
    with pytest.raises(ValueError, match="model.bn_gamma must be > 0"):
        Config.from_dict({"model": {"bn_gamma": 0.0}})
