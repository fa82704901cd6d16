"""``seqvae keep-results``: a sweep's result files without checkpoints, and a sweep over the copy."""

import os

from conftest import FakeTraining

from seqvae.cli import main
from seqvae.sweep.keep_results import copy_results
from seqvae.sweep.plan import RunSpec
from seqvae.sweep.stages import ExperimentSweep, SweepSpec
from seqvae.sweep.tables import build_rows
from seqvae.training.run_folders import set_aside


def _spec():
    return SweepSpec(
        experiment="t", scale="cpu", methods=["none", "awd"], grid={"dropout.rate": "0.2,0.4"}, seeds=[0, 1]
    )


def _rows(root):
    return [{k: r[k] for k in ("method", "chosen", "seeds", "metrics", "convergence")} for r in build_rows(root)[1]]


def test_the_copy_holds_finished_runs_results_without_checkpoints_and_a_sweep_over_it_launches_nothing(tmp_path):
    source, target = tmp_path / "runs" / "t-cpu", tmp_path / "kept" / "t-cpu"
    fake = FakeTraining(source, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    ExperimentSweep(_spec(), source, fake.train, fake.evaluate).run()
    done = RunSpec("none", (), (), 0).run_dir(source)
    (done / "checkpoints").mkdir()
    (done / "checkpoints" / "best.ckpt").write_bytes(b"weights")
    (done / "logs" / "version_0").mkdir(parents=True)
    (done / "logs" / "version_0" / "metrics.csv").write_text("step,epoch,val/nelbo\n9,0,3.0\n")
    (done / "config.json").write_text('{"train": {"patience": 3}}')
    unfinished = RunSpec("none", (), (), 2).run_dir(source)
    (unfinished / "logs" / "version_0").mkdir(parents=True)
    (unfinished / "logs" / "version_0" / "metrics.csv").write_text("step,val/nelbo\n9,4.0\n")

    main(["keep-results", str(tmp_path / "runs"), str(tmp_path / "kept")])
    kept = {p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()}
    assert "none/default/seed=0/logs/version_0/metrics.csv" in kept and "sweep.json" in kept
    assert not any("ckpt" in p or "seed=2" in p for p in kept), "no checkpoint, no unfinished run"
    assert sum(p.endswith("eval-test.json") for p in kept) == 4, "the chosen runs' evaluations"

    again = FakeTraining(target, fake.score)
    manifest = ExperimentSweep(_spec(), target, again.train, again.evaluate).run()
    assert again.events == [] and manifest["complete"], "every run and evaluation is reused"
    assert _rows(target) == _rows(source)

    assert copy_results(source, target) == [], "nothing new"
    summary = done / "summary.json"
    os.utime(summary, (summary.stat().st_atime, summary.stat().st_mtime + 10))
    assert copy_results(source, target) == [target / "none" / "default" / "seed=0" / "summary.json"]
    back = copy_results(target, source)
    assert back == [source / "sweep.json"], "the sweep over the copy wrote sweep.json; the older summary stays"


def test_a_run_set_aside_to_train_again_is_set_aside_in_the_copy_without_mixing_the_two_runs_files(tmp_path):
    source, target = tmp_path / "runs", tmp_path / "kept"
    fake = FakeTraining(source, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    ExperimentSweep(_spec(), source, fake.train, fake.evaluate).run()
    copy_results(source, target)
    run = RunSpec("none", (), (), 1)
    set_aside(run.run_dir(source))
    (run.run_dir(source) / "logs" / "version_0").mkdir(parents=True)
    (run.run_dir(source) / "logs" / "version_0" / "metrics.csv").write_text("step,val/nelbo\n9,4.0\n")
    copy_results(source, target)
    kept = run.run_dir(target)
    assert sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*") if p.is_file()) == [
        "lost-1/eval-test.json",
        "lost-1/summary.json",
    ], "the old run's files are set aside and the unfinished new run is not copied yet"
    fake.train([run], evaluate=True)
    copy_results(source, target)
    assert {p.name for p in kept.iterdir()} == {"lost-1", "logs", "summary.json", "eval-test.json"}
    assert copy_results(source, target) == [] and copy_results(target, source) == [], "the two agree"
