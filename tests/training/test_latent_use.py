"""On the embedded corpus, AWD keeps the latent code in use, and holding the topic, where the unregularised VAE
lets it collapse.

The two runs are the first two epochs of `seqvae train method=awd` and `seqvae train method=none` with the
shipped defaults (LSTM decoder, hidden 256): about a minute on two CPU cores. Measured on that machine:
val KL 0.49 (AWD) and 0.19 (none); topic probe accuracy on test 0.97 (AWD) and 0.55 (none), chance 0.25.
"""

import csv

import pytest

from seqvae.analysis.probe import probe_model
from seqvae.checkpoint import load_checkpoint
from seqvae.config import compose_config
from seqvae.training.run import fit

pytestmark = pytest.mark.slow  # every test reads the two runs of the fixture: about a minute


def final_validation(out_dir) -> dict[str, float]:
    rows = [r for r in csv.DictReader(open(out_dir / "logs" / "version_0" / "metrics.csv")) if r.get("val/kl")]
    return {key: float(rows[-1][f"val/{key}"]) for key in ("rec", "kl", "nelbo")}


@pytest.fixture(scope="module")
def two_epoch_runs(tmp_path_factory):
    results = {}
    for method in ("awd", "none"):
        out = tmp_path_factory.mktemp(method)
        summary = fit(compose_config([f"method={method}", "train.max_epochs=2", "train.progress_bar=false"]), out)
        probes = probe_model(load_checkpoint(summary["best_checkpoint"]), "train", "test")
        results[method] = {**final_validation(out), **{f"probe_{p.factor}": p.accuracy for p in probes}}
    return results


def test_awd_keeps_kl_clearly_above_zero(two_epoch_runs):
    assert two_epoch_runs["awd"]["kl"] > 0.35, two_epoch_runs


def test_unregularised_vae_uses_the_latent_less(two_epoch_runs):
    assert two_epoch_runs["none"]["kl"] < 0.6 * two_epoch_runs["awd"]["kl"], two_epoch_runs


def test_awd_latent_holds_the_topic_where_the_unregularised_one_does_not(two_epoch_runs):
    awd, none = two_epoch_runs["awd"]["probe_topic"], two_epoch_runs["none"]["probe_topic"]
    assert awd > 0.8, two_epoch_runs  # chance is 0.25: four balanced topics
    assert awd > none + 0.2, two_epoch_runs
