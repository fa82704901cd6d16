"""Experiment sweeps: the plan, selection by validation -ELBO, failures, aggregation, resuming a killed sweep."""

import json
import math
import signal
import time
from pathlib import Path

import pytest
from conftest import FakeTraining, command_error
from torch.utils.tensorboard import SummaryWriter

import seqvae.training.run as run_module
from seqvae.cli import main
from seqvae.sweep.figures import plot_ablation
from seqvae.sweep.plan import RunSpec, candidates, cells, parse_values
from seqvae.sweep.stages import ExperimentSweep, SweepSpec
from seqvae.sweep.tables import build_rows, read_metrics, summarise, training_hours, write_report
from seqvae.training.interruption import RunInterrupted
from seqvae.training.run_folders import PRETRAIN_DIR


def test_plan_leaves_dropout_keys_out_of_the_methods_without_word_dropout():
    grid = {"optim.lr": "1e-3,0.1", "dropout.rate": "0.2,0.4"}
    for method in ("none", "bn-vae", "skip-vae", "cnn-vae", "lagging", "fbp"):
        assert candidates(method, grid) == [(("optim.lr", "1e-3"),), (("optim.lr", "0.1"),)], method
    for method in ("uniform", "uniform-exact", "awd", "awd-authors"):
        assert len(candidates(method, grid)) == 4, method
    assert cells(["none", "awd"], {"dropout.lam": "0.1,1"}) == [
        ("none", ()),
        ("awd", (("dropout.lam", "0.1"),)),
        ("awd", (("dropout.lam", "1"),)),
    ]
    run = RunSpec("awd", (("dropout.lam", "1"),), (("optim.lr", "0.1"),), 2)
    assert run.overrides() == ["method=awd", "dropout.lam=1", "optim.lr=0.1", "seed=2"]
    assert run.run_dir("R").as_posix() == "R/awd/dropout.lam=1,optim.lr=0.1/seed=2"
    with pytest.raises(ValueError, match="empty value"):
        parse_values("0.1,,1")


def _sweep(tmp_path, fake, methods=("none", "awd"), **spec):
    spec = SweepSpec(
        experiment="t", scale="cpu", methods=list(methods), grid={"dropout.rate": "0.2,0.4"}, seeds=[0, 1], **spec
    )
    return ExperimentSweep(spec, tmp_path, fake.train, fake.evaluate)


def test_selection_picks_the_lowest_validation_nelbo_and_runs_it_over_the_seeds(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    manifest = _sweep(tmp_path, fake).run()
    chosen = {s["method"]: s["chosen"] for s in manifest["selection"]}
    assert chosen == {"none": {}, "awd": {"dropout.rate": "0.4"}}
    seeds_stage = [(r.method, dict(r.params), r.seed) for r in fake.launched if r.seed == 1]
    assert seeds_stage == [("none", {}, 1), ("awd", {"dropout.rate": "0.4"}, 1)]
    rows = {r["method"]: r for r in build_rows(tmp_path)[1]}
    assert rows["awd"]["seeds"] == [0, 1] and rows["awd"]["metrics"]["kl"]["mean"] == pytest.approx(0.9)
    assert rows["awd"]["metrics"]["kl"]["std"] == pytest.approx(math.sqrt(0.5))


def test_each_chosen_run_is_evaluated_as_soon_as_it_is_known_to_be_chosen(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    _sweep(tmp_path, fake).run()
    none, awd = RunSpec("none", (), (), 0), RunSpec("awd", (), (("dropout.rate", "0.2"),), 0)
    chosen = RunSpec("awd", (), (("dropout.rate", "0.4"),), 0)
    seeds = [RunSpec("none", (), (), 1), RunSpec("awd", (), (("dropout.rate", "0.4"),), 1)]
    assert fake.events == [
        ("train", none, True),  # the only candidate of its cell: evaluated in its training job
        ("evaluate", none),
        ("train", awd, False),
        ("train", chosen, False),
        ("evaluate", chosen),  # chosen among two, before the seeds stage starts
        *[event for run in seeds for event in (("train", run, True), ("evaluate", run))],
    ], "no evaluation waits for the test stage, and the candidate not chosen is never evaluated"
    events = len(fake.events)
    (chosen.run_dir(tmp_path) / "eval-test.json").unlink()
    _sweep(tmp_path, fake).run()
    assert fake.events[events:] == [("evaluate", chosen)], "the test stage evaluates what is left"


def test_a_failed_run_is_recorded_skipped_by_selection_and_not_retried(tmp_path):
    def fails(run):
        return run.method == "awd" and dict(run.params)["dropout.rate"] == "0.2"

    fake = FakeTraining(tmp_path, lambda run: -float(dict(run.params).get("dropout.rate", 0)), fails)
    manifest = _sweep(tmp_path, fake).run()
    failed = [r for r in manifest["runs"] if r["status"] == "failed"]
    assert len(failed) == 1 and "non-finite" in failed[0]["error"]
    assert {s["method"]: s["chosen"] for s in manifest["selection"]}["awd"] == {"dropout.rate": "0.4"}
    launched = len(fake.launched)
    _sweep(tmp_path, fake).run()
    assert len(fake.launched) == launched, "a rerun launches nothing: finished and failed runs are kept"
    (tmp_path / "table").mkdir()
    write_report(tmp_path, tmp_path / "table")
    table = (tmp_path / "table" / "table.md").read_text()
    assert "Failed runs:" in table and "non-finite" in table


def test_a_chosen_run_that_lost_its_checkpoint_before_its_evaluation_is_trained_again_its_old_files_kept(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    _sweep(tmp_path, fake).run()
    lost, kept = RunSpec("none", (), (), 1), RunSpec("awd", (), (("dropout.rate", "0.4"),), 1)
    for run, checkpoint_there in ((lost, False), (kept, True)):
        run_dir = run.run_dir(tmp_path)
        (run_dir / "eval-test.json").unlink()
        (run_dir / "checkpoints").mkdir()
        if checkpoint_there:
            (run_dir / "checkpoints" / "best.ckpt").write_bytes(b"weights")
        trained_in = tmp_path / "moved-from" / run.method  # where the summary says the run was trained
        summary = {
            "best_val_nelbo": 7.0,
            "out_dir": str(trained_in),
            "best_checkpoint": f"{trained_in}/checkpoints/best.ckpt",
        }
        (run_dir / "summary.json").write_text(json.dumps({**summary, "finished": True}))
    events = len(fake.events)
    _sweep(tmp_path, fake).run()
    assert fake.events[events:] == [("train", lost, True), ("evaluate", lost), ("evaluate", kept)], (
        "a checkpoint is looked for where its run's folder is now"
    )
    lost_dir = lost.run_dir(tmp_path)
    assert sorted(p.name for p in lost_dir.iterdir()) == ["eval-test.json", "lost-1", "summary.json"]
    assert sorted(p.name for p in (lost_dir / "lost-1").iterdir()) == ["checkpoints", "summary.json"]
    assert json.loads((lost_dir / "lost-1" / "summary.json").read_text())["best_val_nelbo"] == 7.0
    assert json.loads((lost_dir / "summary.json").read_text())["best_val_nelbo"] == fake.score(lost)
    events = len(fake.events)
    _sweep(tmp_path, fake).run()
    assert fake.events[events:] == [], "the new run has its evaluation: nothing to do"


def test_a_run_that_reached_its_cap_is_launched_again_and_reevaluated_if_it_trained_on(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: float(dict(run.params).get("dropout.rate", 0)))
    _sweep(tmp_path, fake).run()
    capped, early = RunSpec("none", (), (), 1), RunSpec("awd", (), (("dropout.rate", "0.2"),), 1)
    for run, epochs in ((capped, 3), (early, 2)):
        (run.run_dir(tmp_path) / "config.json").write_text(json.dumps({"train": {"max_epochs": 3, "max_steps": -1}}))
        (run.run_dir(tmp_path) / "summary.json").write_text(
            json.dumps({"best_val_nelbo": 0.0, "epochs": epochs, "global_step": 10 * epochs, "finished": True})
        )
    launched, evaluated = [], []

    def trains_on(runs, evaluate):  # as fit does under a raised cap: the capped run resumes and stops early later
        for run in runs:
            launched.append(run)
            (run.run_dir(tmp_path) / "config.json").write_text(json.dumps({"train": {"max_epochs": 10}}))
            (run.run_dir(tmp_path) / "summary.json").write_text(
                json.dumps({"best_val_nelbo": 0.0, "epochs": 5, "global_step": 50, "finished": True})
            )
        return [None] * len(runs)

    def evaluate(runs):
        evaluated.extend(runs)
        return fake.evaluate(runs)

    ExperimentSweep(_sweep(tmp_path, fake).spec, tmp_path, trains_on, evaluate).run()
    assert launched == [capped] and evaluated == [capped], "the early-stopped run is kept, evaluation and all"
    launched.clear()
    ExperimentSweep(_sweep(tmp_path, fake).spec, tmp_path, trains_on, evaluate).run()
    assert launched == [] and evaluated == [capped], "it stopped early under the new cap: nothing to do"


def test_sweeps_of_one_protocol_make_one_table_and_of_two_protocols_none(tmp_path):
    score = lambda run: float(dict(run.params).get("dropout.rate", 0))  # noqa: E731
    _sweep(tmp_path / "a", FakeTraining(tmp_path / "a", score), methods=("awd",)).run()
    _sweep(tmp_path / "b", FakeTraining(tmp_path / "b", score), methods=("none", "bn-vae")).run()
    write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "joined")
    joined = json.loads((tmp_path / "joined" / "table.json").read_text())
    assert [(r["sweep"], r["method"]) for r in joined["rows"]] == [("a", "awd"), ("b", "none"), ("b", "bn-vae")]
    table = (tmp_path / "joined" / "table.md").read_text()
    assert "| sweep | method |" in table and "| b | bn-vae |" in table, "each row names its sweep"
    with pytest.raises(ValueError, match="needs a folder of its own"):
        write_report([tmp_path / "a", tmp_path / "b"])
    spec = SweepSpec(experiment="c", scale="cpu", methods=["none"], grid={}, seeds=[0], eval_samples=7)
    ExperimentSweep(spec, tmp_path / "c", *(lambda f: (f.train, f.evaluate))(FakeTraining(tmp_path / "c", score))).run()
    with pytest.raises(ValueError, match="different protocols"):
        write_report([tmp_path / "a", tmp_path / "c"], tmp_path / "mixed")


def log_span(folder: Path, seconds: float) -> None:
    """A TensorBoard log in ``folder`` whose events span ``seconds`` (its first event is its creation, now)."""
    with SummaryWriter(folder) as writer:
        for step, t in enumerate((0.0, seconds / 2, seconds)):
            writer.add_scalar("train/loss", 1.0, step, walltime=time.time() + t)


def test_training_hours_sum_the_span_of_each_process(tmp_path):
    assert training_hours(tmp_path) is None
    for version, seconds in enumerate((1800.0, 3600.0)):
        log_span(tmp_path / "tensorboard" / f"version_{version}", seconds)
    assert training_hours(tmp_path) == pytest.approx(1.5, abs=0.001)


def test_training_hours_count_fbps_autoencoder_stage(tmp_path):
    log_span(tmp_path / PRETRAIN_DIR / "tensorboard" / "version_0", 3600.0)
    log_span(tmp_path / "tensorboard" / "version_0", 1800.0)
    assert training_hours(tmp_path) == pytest.approx(1.5, abs=0.001)


def test_summaries_of_one_seed_and_of_none():
    assert summarise([2.0, 4.0]) == {"mean": 3.0, "std": pytest.approx(math.sqrt(2)), "n": 2}
    assert summarise([2.0]) == {"mean": 2.0, "std": None, "n": 1}
    assert summarise([None, float("nan")]) == {"mean": None, "std": None, "n": 0}


TINY = [
    "experiment=snli-small-table",
    "corpus=embedded",
    "train.max_epochs=1",
    "train.limit_train_batches=4",
    "train.limit_val_batches=2",
    "train.progress_bar=false",
    "hydra.sweeper.methods=[none,awd]",
    "hydra.sweeper.seeds=[0,1]",
    "hydra.sweeper.eval_samples=2",
    'hydra.sweeper.grid={optim.lr: "0.001"}',
    'hydra.sweeper.method_grid={awd: {dropout.rate: "0.2,0.4"}}',
]


def _table(root):
    return [{k: r[k] for k in ("method", "chosen", "seeds", "metrics")} for r in build_rows(root)[1]]


@pytest.mark.slow
def test_killed_sweep_rerun_skips_finished_runs_and_gives_the_same_table(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path / "whole"))
    main(["sweep", *TINY])
    whole = tmp_path / "whole" / "snli-small-table-cpu"

    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path / "killed"))
    real_fit, calls = run_module.fit, []

    def stopped_on_second_run(cfg, out_dir, *args, **kwargs):
        calls.append(out_dir)
        if len(calls) == 2:
            raise RunInterrupted(signal.SIGTERM, out_dir, 2)  # as fit raises it on SIGTERM, last.ckpt saved
        return real_fit(cfg, out_dir, *args, **kwargs)

    monkeypatch.setattr(run_module, "fit", stopped_on_second_run)
    with pytest.raises(SystemExit) as stop:  # joblib with one job runs them in this process, one after another
        main(["sweep", *TINY, "hydra/launcher=joblib", "hydra.launcher.n_jobs=1"])
    assert stop.value.code == 143 and len(calls) == 2, "the stop ends the sweep, not only its run"
    monkeypatch.setattr(run_module, "fit", real_fit)
    killed = tmp_path / "killed" / "snli-small-table-cpu"
    finished_before = {p.parent for p in killed.rglob("summary.json")}
    assert len(finished_before) == 1
    mtimes = {p: (p / "summary.json").stat().st_mtime_ns for p in finished_before}
    main(["sweep", *TINY])
    assert all((p / "summary.json").stat().st_mtime_ns == t for p, t in mtimes.items()), "finished runs rerun"
    assert _table(killed) == _table(whole)
    rows = {r["method"]: r for r in _table(whole)}
    assert rows["awd"]["seeds"] == [0, 1] and rows["none"]["metrics"]["kl"]["n"] == 2
    assert (whole / "table.md").read_text().startswith("# snli-small-table (cpu scale)")


@pytest.mark.slow
def test_joblib_launcher_runs_jobs_in_parallel_and_a_bad_config_fails_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path))
    overrides = [a for a in TINY if not a.startswith(("hydra.sweeper.methods", "hydra.sweeper.method_grid"))]
    grid = 'hydra.sweeper.method_grid={awd: {dropout.rate: "0.4,1.5"}}'
    main(["sweep", *overrides, "hydra.sweeper.methods=[awd]", grid, "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"])
    manifest = json.loads((tmp_path / "snli-small-table-cpu" / "sweep.json").read_text())
    failed = [r for r in manifest["runs"] if r["status"] == "failed"]
    assert [r["params"]["dropout.rate"] for r in failed] == ["1.5"]
    assert "dropout.rate (R) must be in [0, 1)" in failed[0]["error"]
    assert manifest["selection"][0]["chosen"] == {"dropout.rate": "0.4", "optim.lr": "0.001"}
    assert sorted(r["seed"] for r in manifest["runs"] if r["chosen"] and r["eval"]) == [0, 1]


def test_ablation_figure_is_drawn_from_the_table_of_a_one_factor_sweep(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: 1.0)
    spec = SweepSpec(experiment="t", scale="cpu", methods=["uniform", "awd"], factors={"dropout.rate": "0.2,0.4"})
    ExperimentSweep(spec, tmp_path, fake.train, fake.evaluate).run()
    write_report(tmp_path)
    table = json.loads((tmp_path / "table.json").read_text())
    assert [(r["method"], r["factors"]) for r in table["rows"]] == [
        ("uniform", {"dropout.rate": "0.2"}),
        ("uniform", {"dropout.rate": "0.4"}),
        ("awd", {"dropout.rate": "0.2"}),
        ("awd", {"dropout.rate": "0.4"}),
    ]
    png, svg = plot_ablation(tmp_path)
    assert png.stat().st_size > 10_000 and "<svg" in svg.read_text()
    with pytest.raises(ValueError, match="exactly one factor"):
        plot_ablation(_table_root_without_factors(tmp_path))


def _table_root_without_factors(tmp_path):
    root = tmp_path / "plain"
    root.mkdir()
    table = json.loads((tmp_path / "table.json").read_text())
    table["sweep"]["factors"] = {}
    (root / "table.json").write_text(json.dumps(table))
    return root


def test_report_command_finds_a_sweep_by_folder_or_by_experiment_name(tmp_path, monkeypatch, capsys):
    root = tmp_path / "t-cpu"
    fake = FakeTraining(root, lambda run: 1.0)
    _sweep(root, fake).run()
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path))
    main(["report", "experiment=t"])
    assert "# t (cpu scale)" in capsys.readouterr().out and (root / "table.csv").is_file()
    main(["report", str(root), "--out", str(tmp_path / "copy")])
    assert (tmp_path / "copy" / "table.md").read_text() == (root / "table.md").read_text()
    assert "no sweep.json" in command_error(capsys, ["report", "experiment=absent"])


def test_a_method_s_own_grid_and_a_control_matched_to_another_method_s_choice(tmp_path):
    def score(run):
        p = dict(run.params)
        return abs(float(p.get("dropout.rate", 0)) - 0.4) + abs(float(p.get("dropout.lam", 0)) - 0.01)

    fake = FakeTraining(tmp_path, score)
    methods = ("none", "awd", "uniform-exact")
    grid = {"awd": {"dropout.lam": "0.01,1"}}
    matched = {"uniform-exact": {"method": "awd", "keys": ["dropout.rate"]}}
    manifest = _sweep(tmp_path, fake, methods, method_grid=grid, matched=matched).run()
    chosen = {s["method"]: s["chosen"] for s in manifest["selection"]}
    assert chosen == {
        "none": {},
        "awd": {"dropout.lam": "0.01", "dropout.rate": "0.4"},
        "uniform-exact": {"dropout.rate": "0.4"},
    }
    search = [r for r in fake.launched if r.seed == 0 and r.method == "awd"]
    assert sorted(dict(r.params)["dropout.lam"] for r in search) == ["0.01", "0.01", "1", "1"], "lambda for AWD only"
    control = [(dict(r.params), r.seed) for r in fake.launched if r.method == "uniform-exact"]
    assert control == [({"dropout.rate": "0.4"}, 0), ({"dropout.rate": "0.4"}, 1)], "no search, every seed"
    with pytest.raises(ValueError, match="matched uniform-exact -> awd: awd must be a searched method"):
        SweepSpec(experiment="t", scale="cpu", methods=["uniform-exact"], matched=matched)
    assert SweepSpec(experiment="t", scale="cpu", methods=["none"], method_grid=grid, matched=matched).methods
    with pytest.raises(ValueError, match="must be searched for awd"):
        SweepSpec(experiment="t", scale="cpu", methods=["awd", "uniform-exact"], matched=matched)


def test_a_sweep_stopped_after_its_search_continues_and_a_method_runs_its_own_seeds(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4))
    matched = {"uniform-exact": {"method": "awd", "keys": ["dropout.rate"]}}
    spec = {"matched": matched, "method_seeds": {"uniform-exact": [0]}}
    methods = ("none", "awd", "uniform-exact")
    manifest = _sweep(tmp_path, fake, methods, **spec).run(stop_after="search")
    assert [(r.method, r.seed) for r in fake.launched] == [("none", 0), ("awd", 0), ("awd", 0)]
    assert not manifest["complete"] and json.loads((tmp_path / "sweep.json").read_text()) == manifest
    assert [p.parts[-4] for p in tmp_path.rglob("eval-test.json")] == ["none"], "the one candidate of its cell"

    manifest = _sweep(tmp_path, fake, methods, **spec).run()
    assert [(r.method, r.seed) for r in fake.launched[3:]] == [("none", 1), ("awd", 1), ("uniform-exact", 0)]
    assert manifest["complete"] and manifest["method_seeds"] == {"uniform-exact": [0]}
    assert {(r["method"], r["seed"]) for r in manifest["runs"] if r["eval"]} == {
        ("none", 0),
        ("none", 1),
        ("awd", 0),
        ("awd", 1),
        ("uniform-exact", 0),
    }
    write_report(tmp_path, tmp_path)
    assert "uniform-exact seeds [0]" in (tmp_path / "table.md").read_text()
    with pytest.raises(ValueError, match="stop_after must be one of search, seeds, test"):
        _sweep(tmp_path, fake, methods, **spec).run(stop_after="selection")
    for seeds in ([1], [0, 0], [0, 3]):
        with pytest.raises(ValueError, match="method_seeds uniform-exact"):
            _sweep(tmp_path, fake, methods, matched=matched, method_seeds={"uniform-exact": seeds})


def test_a_row_matched_to_another_experiments_final_choice_waits_for_its_search(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path))
    score = lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4)  # noqa: E731
    lstm = SweepSpec(experiment="lstm", scale="cpu", methods=["awd"], grid={"dropout.rate": "0.2,0.4"}, seeds=[0])
    matched = {"awd": {"sweep": "lstm", "method": "awd", "keys": ["dropout.rate"]}}
    spec = SweepSpec(experiment="tf", scale="cpu", methods=["none", "awd"], matched=matched, seeds=[0, 1])
    tf = FakeTraining(tmp_path / "tf-cpu", score)
    sweep = ExperimentSweep(spec, tmp_path / "tf-cpu", tf.train, tf.evaluate)
    assert {s["method"]: s["chosen"] for s in sweep.run()["selection"]} == {"none": {}, "awd": None}, "no sweep yet"

    reference = ExperimentSweep(lstm, tmp_path / "lstm-cpu", *_fake_launchers(tmp_path / "lstm-cpu", score))
    reference.write(reference.snapshot())
    FakeTraining(tmp_path / "lstm-cpu", score).train(
        [r for r in reference.search_runs() if dict(r.params)["dropout.rate"] == "0.2"]
    )
    assert {s["method"]: s["chosen"] for s in sweep.run()["selection"]}["awd"] is None, "its search is unfinished"

    reference.run()
    manifest = sweep.run()
    assert {s["method"]: s["chosen"] for s in manifest["selection"]}["awd"] == {"dropout.rate": "0.4"}
    assert sorted((r["seed"], r["params"]) for r in manifest["runs"] if r["method"] == "awd") == [
        (0, {"dropout.rate": "0.4"}),
        (1, {"dropout.rate": "0.4"}),
    ]


def test_a_failed_candidate_of_the_other_experiment_ends_its_search(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path))
    score = lambda run: abs(float(dict(run.params).get("dropout.rate", 0)) - 0.4)  # noqa: E731
    fails = lambda run: dict(run.params)["dropout.rate"] == "0.4"  # noqa: E731
    lstm = SweepSpec(experiment="lstm", scale="cpu", methods=["awd"], grid={"dropout.rate": "0.2,0.4"}, seeds=[0])
    fake = FakeTraining(tmp_path / "lstm-cpu", score, fails)
    ExperimentSweep(lstm, tmp_path / "lstm-cpu", fake.train, fake.evaluate).run(stop_after="search")
    matched = {"awd": {"sweep": "lstm", "method": "awd", "keys": ["dropout.rate"]}}
    spec = SweepSpec(experiment="tf", scale="cpu", methods=["awd"], matched=matched, seeds=[0])
    manifest = ExperimentSweep(spec, tmp_path / "tf-cpu", *_fake_launchers(tmp_path / "tf-cpu", score)).run()
    assert manifest["selection"][0]["chosen"] == {"dropout.rate": "0.2"}


def test_every_reported_cell_takes_the_one_choice_of_a_sweep_without_factors(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQVAE_RUNS", str(tmp_path))
    score = lambda run: abs(float(dict(run.params).get("dropout.lam", 0)) - 0.01)  # noqa: E731
    table = SweepSpec(experiment="table", scale="cpu", methods=["awd"], grid={"dropout.lam": "0.01,1"}, seeds=[0])
    ExperimentSweep(table, tmp_path / "table-cpu", *_fake_launchers(tmp_path / "table-cpu", score)).run()
    matched = {"awd": {"sweep": "table", "method": "awd", "keys": ["dropout.lam"]}}
    rates = {"dropout.rate": "0.2,0.4"}
    spec = SweepSpec(experiment="rates", scale="cpu", methods=["awd"], factors=rates, matched=matched, seeds=[0])
    manifest = ExperimentSweep(spec, tmp_path / "rates-cpu", *_fake_launchers(tmp_path / "rates-cpu", score)).run()
    assert [(s["factors"], s["chosen"]) for s in manifest["selection"]] == [
        ({"dropout.rate": "0.2"}, {"dropout.lam": "0.01"}),
        ({"dropout.rate": "0.4"}, {"dropout.lam": "0.01"}),
    ]


def _fake_launchers(root, score):
    fake = FakeTraining(root, score)
    return fake.train, fake.evaluate


def test_each_chosen_run_s_best_and_last_epoch_and_whether_early_stopping_fired(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: float(dict(run.params).get("dropout.rate", 0)))
    _sweep(tmp_path, fake).run()
    curves = {0: [5.0, 4.0, 3.0, 3.5, 3.6, 3.7], 1: [5.0, 4.0, 3.0, 2.9]}  # patience 3: seed 0 stopped, seed 1 not
    for seed, values in curves.items():
        run_dir = RunSpec("awd", (), (("dropout.rate", "0.2"),), seed).run_dir(tmp_path)
        (run_dir / "config.json").write_text(json.dumps({"train": {"patience": 3}}))
        (run_dir / "logs" / "version_0").mkdir(parents=True)
        rows = "\n".join(f"{e},{100 * (e + 1)},{v}" for e, v in enumerate(values))
        (run_dir / "logs" / "version_0" / "metrics.csv").write_text(f"epoch,step,val/nelbo\n{rows}\n")
    # A resumed process that logged seed 1's last validation again: counted once.
    resumed = RunSpec("awd", (), (("dropout.rate", "0.2"),), 1).run_dir(tmp_path) / "logs" / "version_1"
    resumed.mkdir()
    (resumed / "metrics.csv").write_text("epoch,step,val/nelbo\n3,400,2.9\n")
    for seed, hours in ((0, 0.5), (1, 0.25)):
        log = RunSpec("awd", (), (("dropout.rate", "0.2"),), seed).run_dir(tmp_path) / "tensorboard" / "version_0"
        with SummaryWriter(log) as writer:
            for step, t in enumerate((0.0, hours * 3600)):
                writer.add_scalar("train/loss", 1.0, step, walltime=time.time() + t)
    write_report(tmp_path)
    assert (
        "Training hours in all, the runs above (test evaluation not counted): 0.75."
        in (tmp_path / "table.md").read_text()
    )
    row = next(r for r in build_rows(tmp_path)[1] if r["method"] == "awd")
    found = {
        c["seed"]: (c["best_epoch"], c["last_epoch"], c["stopped_early"]) for c in row["convergence"] if c["chosen"]
    }
    assert found == {0: (2, 5, True), 1: (3, 3, False)}
    assert [c["params"] for c in row["convergence"] if not c["chosen"]] == [{"dropout.rate": "0.4"}]
    table = (tmp_path / "table.md").read_text()
    assert "| awd | dropout.rate=0.2 | 0 | yes | 2 | 5 | yes | 3.00 | — | — | 0.50 |" in table
    assert "| awd | dropout.rate=0.2 | 1 | yes | 3 | 3 | **no** | 2.90 |" in table


def test_a_run_s_metrics_hold_one_value_a_step_the_latest_process_s(tmp_path):
    logs = {0: "0,100,5.0\n0,150,4.5\n1,200,4.0\n", 2: "1,200,3.9\n2,300,3.0\n", 10: "2,300,2.9\n3,400,2.5\n"}
    for version, rows in logs.items():  # resumed twice; version_10 sorts before version_2 as text
        (tmp_path / "logs" / f"version_{version}").mkdir(parents=True)
        (tmp_path / "logs" / f"version_{version}" / "metrics.csv").write_text("epoch,step,val/nelbo\n" + rows)
    assert read_metrics(tmp_path) == {"val/nelbo": [(100, 5.0), (150, 4.5), (200, 3.9), (300, 2.9), (400, 2.5)]}


def test_the_tables_of_a_sweep_in_progress_count_the_runs_finished_since_its_snapshot(tmp_path):
    fake = FakeTraining(tmp_path, lambda run: float(dict(run.params).get("dropout.rate", 0)))
    sweep = _sweep(tmp_path, fake)
    sweep.write(sweep.snapshot())
    assert build_rows(tmp_path)[0]["complete"] is False
    assert {r["method"]: r["chosen"] for r in build_rows(tmp_path)[1]} == {"none": None, "awd": None}
    search = sweep.search_runs()
    fake.train([r for r in search if dict(r.params).get("dropout.rate") != "0.2"])  # awd at 0.2 still training
    manifest, rows = build_rows(tmp_path)
    assert {r["method"]: (r["chosen"], r["search"]) for r in rows} == {
        "none": ({}, {"finished": 1, "candidates": 1}),
        "awd": ({"dropout.rate": "0.4"}, {"finished": 1, "candidates": 2}),
    }
    assert sum(r["status"] == "done" for r in manifest["runs"]) == 2
    write_report(tmp_path)
    table = (tmp_path / "table.md").read_text()
    assert "**t in progress**: 2 of the " in table and "| awd | dropout.rate=0.4 | 1/2 | 0 |" in table
    assert json.loads((tmp_path / "sweep.json").read_text())["complete"] is False, "a report writes no sweep.json"
    sweep.run()
    assert build_rows(tmp_path)[0]["complete"] is True


def test_the_curves_of_table_sweeps_draw_each_chosen_run_per_epoch(tmp_path, capsys):
    roots = [tmp_path / "a", tmp_path / "b"]
    for root, methods in zip(roots, (("none", "awd"), ("bn-vae",)), strict=True):
        _sweep(root, FakeTraining(root, lambda run: 1.0), methods=methods).run()
        for run in json.loads((root / "sweep.json").read_text())["runs"]:
            logs = root / run["dir"] / "logs" / "version_0"
            logs.mkdir(parents=True)
            rows = [f"{e},{100 * (e + 1)},{110 - e + (e == 3)},{0.1 * e},{0.05 * e}" for e in range(4)]
            (logs / "metrics.csv").write_text("epoch,step,val/nelbo,val/kl,val/mi\n" + "\n".join(rows) + "\n")
    main(["plot", *map(str, roots), "--out", str(tmp_path / "curves")])
    assert "method_curves.png" in capsys.readouterr().out
    assert (tmp_path / "curves" / "method_curves.png").stat().st_size > 10_000
    main(["plot", str(roots[1])])
    assert (roots[1] / "method_curves.svg").read_text().lstrip().startswith("<?xml")
    assert "give --out" in command_error(capsys, ["plot", *map(str, roots)], status=2)
