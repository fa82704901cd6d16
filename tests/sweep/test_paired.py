"""Paired comparisons of two cells of a sweep: per seed with a t interval, and a paired bootstrap over sentences."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import FakeTraining, command_error

from seqvae.cli import main
from seqvae.metrics.mutual_info import mutual_information_estimates, summed_posterior_densities
from seqvae.sweep.paired import (
    compare_cells,
    paired_bootstrap,
    parse_cell,
    posterior_log_densities,
    resampled_mi,
    t_interval,
)
from seqvae.sweep.stages import ExperimentSweep, SweepSpec

T_975_2 = 0.95 * math.sqrt(2 / (4 * 0.975 * 0.025))  # t_{p, 2} = (2p - 1) sqrt(2 / (4p(1 - p))), 4.30265272975


def test_t_interval_of_three_differences_and_none_of_one():
    interval = t_interval([1.0, 2.0, 3.0])
    half = T_975_2 * 1.0 / math.sqrt(3)
    assert interval["mean"] == 2.0 and interval["std"] == pytest.approx(1.0) and interval["n"] == 3
    assert interval["t"] == pytest.approx(T_975_2, rel=1e-12) == pytest.approx(4.302652729911275, rel=1e-10)
    assert (interval["low"], interval["high"]) == (pytest.approx(2 - half), pytest.approx(2 + half))
    assert t_interval([5.0]) == {
        "mean": 5.0,
        "std": None,
        "n": 1,
        "t": None,
        "half_width": None,
        "low": None,
        "high": None,
    }


def test_cells_are_written_as_run_folder_names():
    assert parse_cell("awd") == ("awd", {})
    assert parse_cell("uniform,dropout.rate=0.3") == ("uniform", {"dropout.rate": "0.3"})
    with pytest.raises(ValueError, match="write METHOD"):
        parse_cell("dropout.rate=0.3")


def awd_ahead(run) -> float:
    """AWD's figures exceed uniform dropout's by ``10 + seed^2``."""
    return (10.0 + 2 * run.seed**2) if run.method == "awd" else float(run.seed**2)


def fake_sweep(root, seeds=(0, 1, 2), fail=lambda run: False, factors=None):
    """A sweep of uniform dropout and AWD over ``seeds`` whose evaluations hold :func:`awd_ahead`."""
    fake = FakeTraining(root, lambda run: float(dict(run.params)["dropout.rate"]), fail, awd_ahead)
    spec = SweepSpec(
        experiment="t",
        scale="cpu",
        methods=["uniform", "awd"],
        grid={"dropout.rate": "0.2,0.4"},
        factors=factors or {},
        seeds=list(seeds),
    )
    return ExperimentSweep(spec, root, fake.train, fake.evaluate).run()


def test_differences_per_seed_pair_the_runs_of_each_seed(tmp_path):
    fake_sweep(tmp_path, fail=lambda run: run.method == "awd" and run.seed == 1)
    per_seed = compare_cells(tmp_path, "awd", "uniform", resamples=0)["per_seed"]
    assert per_seed["seeds"] == [0, 2], "seed 1 of AWD failed: uniform's seed 1 has no pair"
    assert [(r["seed"], r["a"]["kl"], r["b"]["kl"], r["diff"]["kl"]) for r in per_seed["rows"]] == [
        (0, 10.0, 0.0, 10.0),
        (2, 18.0, 4.0, 14.0),
    ]
    kl = per_seed["summary"]["kl"]
    assert (kl["mean"], kl["n"]) == (12.0, 2) and kl["std"] == pytest.approx(math.sqrt(8))
    assert kl["t"] == pytest.approx(12.706204736174698) and "nll" not in per_seed["summary"]


def test_one_seed_gives_no_interval_and_a_report_that_says_so(tmp_path):
    fake_sweep(tmp_path, seeds=(3,))
    main(["compare", str(tmp_path), "--a", "awd", "--b", "uniform", "--resamples", "0"])
    report = (tmp_path / "compare-awd-vs-uniform.md").read_text()
    assert "| 3 | +19.00 |" in report and "| mean | +19.00 (one seed: no interval) |" in report
    assert "No bootstrap over sentences" in report


def synthetic_rows(rng, n=300, z=4, spread=1.0):
    """Per-sentence values as ``seqvae evaluate`` writes them, drawn at random."""
    return {
        "rec": rng.normal(50.0, 5.0, n),
        "kl": rng.gamma(2.0, 1.0, n),
        "nll": rng.normal(52.0, 5.0, n),
        "tokens": rng.integers(2, 30, n),
        "mu": (spread * rng.normal(size=(n, z))).astype(np.float32),
        "logvar": np.full((n, z), -1.0, dtype=np.float32),
    }


def test_a_constant_difference_has_an_interval_of_zero_width():
    a = synthetic_rows(np.random.default_rng(0))
    b = {**a, "rec": a["rec"] - 0.7, "nll": a["nll"] + 0.2}
    result = paired_bootstrap(a, b, resamples=200, seed=1)
    expected = {"nelbo": 0.7, "rec": 0.7, "kl": 0.0, "nll": -0.2, "mi": 0.0}
    assert list(result["metrics"]) == list(expected)
    for key, diff in expected.items():
        figure = result["metrics"][key]
        assert (figure["diff"], figure["low"], figure["high"]) == pytest.approx((diff, diff, diff), abs=1e-9), key
    assert (result["sentences"], result["resamples"]) == (300, 200)


def test_the_bootstrap_interval_of_noisy_differences_covers_the_true_one():
    """b = a - 0.5 + N(0, 1) per sentence: a's mean -ELBO exceeds b's by 0.5, with a standard error of 1/sqrt(N)."""
    rng = np.random.default_rng(3)
    n = 1000
    a = synthetic_rows(rng, n, spread=2.0)
    b = {**synthetic_rows(rng, n, spread=0.1), "tokens": a["tokens"], "kl": a["kl"]}
    b["rec"] = a["rec"] - 0.5 + rng.normal(0.0, 1.0, n)
    result = paired_bootstrap(a, b, resamples=300, seed=0)["metrics"]
    for key in ("rec", "nelbo"):
        low, high = result[key]["low"], result[key]["high"]
        assert low < 0.5 < high, key
        assert high - low == pytest.approx(2 * 1.96 / math.sqrt(n), rel=0.2), "the width of a 95% normal interval"
    assert result["kl"]["low"] == result["kl"]["high"] == 0.0
    mi = result["mi"]
    assert mi["low"] > 1.0 and mi["low"] < mi["diff"] + mi["shift"] < mi["high"]
    assert mi["shift"] < 0 and abs(result["rec"]["shift"]) < 0.01, "fewer distinct sentences lower a's MI more than b's"


def test_the_resampled_mi_is_the_joint_estimator_of_the_resample_with_its_draws():
    n, z_dim = 60, 3
    mu, logvar = torch.randn(n, z_dim), torch.randn(n, z_dim) - 1
    torch.manual_seed(4)
    noise = torch.randn(n, z_dim)
    log_q = posterior_log_densities(mu, logvar, noise, chunk_elements=7 * n * z_dim)
    torch.manual_seed(4)
    assert resampled_mi(log_q, torch.ones(n, dtype=torch.long)) == pytest.approx(
        mutual_information_estimates(mu, logvar).joint, abs=1e-5
    )
    index = torch.randint(n, (n,))
    z = mu + torch.exp(0.5 * logvar) * noise
    log_sum, _, log_q_own = summed_posterior_densities(z[index], mu[index], logvar[index])
    joint = float((log_q_own - log_sum).mean()) + math.log(n)
    assert resampled_mi(log_q, torch.bincount(index, minlength=n)) == pytest.approx(joint, abs=1e-5)


def write_sentence_rows(root, manifest, rows_of):
    """Per-sentence values for every evaluated run of a fake sweep, named in its evaluation as ``seqvae evaluate``
    does."""
    for run in manifest["runs"]:
        if run["eval"]:
            path = root / run["eval"]
            np.savez(path.with_suffix(".sentences.npz"), **rows_of(run))
            evaluation = json.loads(path.read_text())
            path.write_text(json.dumps({**evaluation, "per_sentence": path.with_suffix(".sentences.npz").name}))


def test_compare_writes_its_files_and_fails_clearly(tmp_path, capsys):
    root = tmp_path / "sweep"
    manifest = fake_sweep(root, seeds=(0, 1), factors={"dropout.tau": "1,2"})
    base = synthetic_rows(np.random.default_rng(0), n=100)
    write_sentence_rows(root, manifest, lambda run: {**base, "rec": base["rec"] + (run["method"] == "awd")})
    argv = ["compare", str(root), "--a", "awd,dropout.tau=2", "--b", "uniform,dropout.tau=2", "--resamples", "50"]
    main([*argv, "--seed", "1", "--out", str(tmp_path / "out")])
    stem = tmp_path / "out" / "compare-awd,dropout.tau=2-vs-uniform,dropout.tau=2"
    comparison = json.loads(stem.with_name(stem.name + ".json").read_text())
    assert comparison["per_seed"]["seeds"] == [0, 1] and comparison["bootstrap"]["seed"] == 1
    assert comparison["bootstrap"]["metrics"]["rec"]["low"] == pytest.approx(1.0)
    report = stem.with_name(stem.name + ".md").read_text()
    rec = base["rec"].mean()
    assert "| 1 | +11.00 |" in report and "| mean | +10.50 ± 6.35 (n = 2, t = 12.706) |" in report
    assert f"| rec | {rec + 1:.2f} | {rec:.2f} | +1.00 | [+1.00, +1.00] | +0.00 |" in report
    assert "50 resamples of 100 sentences" in capsys.readouterr().out

    assert "no cell of the sweep matches 'lstm'" in command_error(capsys, [*argv[:2], "--a", "lstm", *argv[4:]])
    assert "'awd' matches 2 cells of the sweep, awd,dropout.tau=1, awd,dropout.tau=2" in command_error(
        capsys, [*argv[:2], "--a", "awd", *argv[4:]]
    )
    assert "the seeds with an evaluated run of both cells are [0, 1]" in command_error(capsys, [*argv, "--seed", "5"])
    awd_seed_0 = next(
        r
        for r in manifest["runs"]
        if (r["method"], r["factors"], r["seed"], r["chosen"]) == ("awd", {"dropout.tau": "2"}, 0, True)
    )
    (root / awd_seed_0["eval"]).with_suffix(".sentences.npz").unlink()
    line = command_error(capsys, argv)
    assert "has no per-sentence values" in line and "rerun `seqvae evaluate" in line and "seed=0/checkpoints" in line
    sweep = json.loads((root / "sweep.json").read_text())
    for run in sweep["runs"]:
        run["eval"] = run["eval"] if (run["method"], run["seed"]) in (("awd", 0), ("uniform", 1)) else None
    (root / "sweep.json").write_text(json.dumps(sweep))
    assert "no seed has an evaluated run of both cells" in command_error(capsys, argv)


def test_cells_of_two_sweeps_are_paired_over_the_seeds_both_evaluated(tmp_path, capsys):
    manifests = {name: fake_sweep(tmp_path / name, seeds=seeds) for name, seeds in (("a", (0, 1, 2)), ("b", (0, 1)))}
    base = synthetic_rows(np.random.default_rng(0), n=100)
    for name, manifest in manifests.items():
        shift = 1.0 if name == "a" else 0.0
        write_sentence_rows(tmp_path / name, manifest, lambda run, shift=shift: {**base, "rec": base["rec"] + shift})
    argv = ["compare", str(tmp_path / "a"), "--a", "awd", "--b", "awd", "--b-sweep", str(tmp_path / "b")]
    main([*argv, "--resamples", "20", "--out", str(tmp_path)])
    comparison = json.loads((tmp_path / "compare-awd-vs-awd.json").read_text())
    assert comparison["per_seed"]["seeds"] == [0, 1], "b's sweep ran seeds 0 and 1 only"
    assert [r["diff"]["kl"] for r in comparison["per_seed"]["rows"]] == [0.0, 0.0], "the same cell, two sweeps"
    assert comparison["bootstrap"]["metrics"]["rec"]["low"] == pytest.approx(1.0), "b's rows come from b's sweep"
    assert comparison["b_sweep"] == comparison["sweep"] == {"experiment": "t", "scale": "cpu"}
    assert "paired differences (t vs t, cpu scale)" in (tmp_path / "compare-awd-vs-awd.md").read_text()

    ahead = compare_cells(tmp_path / "a", "awd", "uniform", resamples=0, b_root=tmp_path / "b")["per_seed"]
    assert [r["diff"]["kl"] for r in ahead["rows"]] == [10.0, 11.0], "awd_ahead over b's uniform dropout"
    assert "are the same cell" in command_error(capsys, argv[:-2])
