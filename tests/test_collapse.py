"""On the embedded corpus, AWD keeps the latent code in use where the unregularised VAE lets it collapse.

The two runs are the first two epochs of `seqvae train method=awd` and `seqvae train method=none`
with the shipped defaults (LSTM decoder, hidden 256): about two minutes on two CPU cores.
"""

import csv

import pytest

from seqvae.config import compose_config
from seqvae.training.run import fit


def final_validation(out_dir) -> dict[str, float]:
    rows = [r for r in csv.DictReader(open(out_dir / "logs" / "version_0" / "metrics.csv")) if r.get("val/kl")]
    return {key: float(rows[-1][f"val/{key}"]) for key in ("rec", "kl", "nelbo")}


@pytest.fixture(scope="module")
def two_epoch_runs(tmp_path_factory):
    results = {}
    for method in ("awd", "none"):
        out = tmp_path_factory.mktemp(method)
        fit(compose_config([f"method={method}", "train.max_epochs=2", "train.progress_bar=false"]), out)
        results[method] = final_validation(out)
    return results


def test_awd_keeps_kl_clearly_above_zero(two_epoch_runs):
    assert two_epoch_runs["awd"]["kl"] > 1.0, two_epoch_runs


def test_unregularised_vae_uses_the_latent_less(two_epoch_runs):
    assert two_epoch_runs["none"]["kl"] < 0.6 * two_epoch_runs["awd"]["kl"], two_epoch_runs
