"""The stages of an experiment sweep, independent of how its runs are launched.

1. Search: every grid candidate of every (method, factors) cell, trained with the first seed. A method's grid is
   the common ``grid`` and its own ``method_grid`` (say, lambda for AWD only).
2. Selection: per cell, the candidate with the lowest best validation -ELBO (failed runs excluded). A ``matched``
   method searches nothing: it takes another method's choice of some keys (a control at AWD's chosen R).
3. Seeds: the chosen candidate with the remaining seeds (a matched method: with every seed); ``method_seeds``
   narrows a method's seeds (the campaign's budget cuts a control to one).
4. Test: each chosen run's best checkpoint evaluated on the test split (IW-NLL with S samples, MI, AU), with the
   per-sentence values beside ``eval-<split>.json`` (``eval-<split>.sentences.npz``).

A run is evaluated as soon as it is known to be chosen, so that its checkpoint need not outlive the machine that
trained it: a search run that is its cell's only candidate and every seeds-stage run in the same job as its training
(``launch_train(runs, evaluate=True)``), a search run chosen among several right after the search. The test stage
evaluates what is left (a run trained before, an evaluation that failed). A run that finished but lost its best
checkpoint before its evaluation (a run folder taken back from ``seqvae keep-results`` on a new machine) is trained
again from the start, evaluation and all, its old files kept in ``lost-<n>/`` inside its folder
(:func:`~seqvae.training.run_folders.set_aside`).

Each run lives in its own folder (:meth:`RunSpec.run_dir`). A finished run (``summary.json``) or an
evaluated one (``eval-<split>.json``) is not launched again, unless it ended at its training cap rather than by
early stopping (:func:`reached_its_cap`); a failed run is recorded in ``failed.json`` and, unless ``retry_failed``,
not retried. So a killed sweep rerun with the same command continues where
it stopped: the unfinished run resumes from its ``last.ckpt``. ``sweep.json`` lists every run and choice.
``stop_after="search"`` (or ``"seeds"``) ends a sweep after that stage, so that a campaign can put other sweeps
before its remaining stages; the same command without it continues.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from seqvae.sweep.plan import RunSpec, candidates, cells, sweep_root
from seqvae.training.caps import reached_cap, saved_caps
from seqvae.training.run_folders import saved_checkpoint, set_aside

log = logging.getLogger(__name__)

FAILED = "failed.json"
STAGES = ("search", "seeds", "test")

# A launcher takes runs and returns, per run, None on success or the exception that ended it. The training
# launcher's ``evaluate`` flag: evaluate each run on the test split in the same job, right after its training.
Launch = Callable[[Sequence[RunSpec]], Sequence[BaseException | None]]
LaunchTraining = Callable[[Sequence[RunSpec], bool], Sequence[BaseException | None]]


@dataclass
class SweepSpec:
    """An experiment's sweep: what ``hydra.sweeper`` holds in ``conf/experiment/*.yaml``.

    ``method_grid``: a method's searched keys beyond ``grid``. ``matched``: method -> ``{"method": M, "keys":
    [...]}``, the method whose chosen values of those keys it runs with, searching nothing itself; with ``"sweep":
    EXPERIMENT``, M's final choice in that experiment's sweep at the same scale (:func:`sweep_root`; none until its
    search of M has finished), of the cell of the same factors or, where that sweep reports no factor, its one
    cell. Entries for methods the sweep does not run (a command line may narrow ``methods``) are not used.
    ``method_seeds``: method -> its seeds, a subset of ``seeds`` holding the first (the search's seed).
    """

    experiment: str
    scale: str
    methods: list[str]
    grid: dict[str, str] = field(default_factory=dict)
    method_grid: dict[str, dict[str, str]] = field(default_factory=dict)
    matched: dict[str, dict] = field(default_factory=dict)
    factors: dict[str, str] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    method_seeds: dict[str, list[int]] = field(default_factory=dict)
    eval_split: str = "test"
    eval_samples: int = 500
    retry_failed: bool = False

    def __post_init__(self):
        if not self.methods:
            raise ValueError("a sweep needs at least one method")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"a sweep needs distinct seeds, got {self.seeds}")
        for method, seeds in self.method_seeds.items():
            if len(set(seeds)) != len(seeds) or not set(seeds) <= set(self.seeds) or self.seeds[0] not in seeds:
                raise ValueError(
                    f"method_seeds {method}: {seeds} must be distinct seeds of {self.seeds}, the first among them"
                )
        if self.eval_samples < 0:
            raise ValueError(f"eval_samples must be >= 0, got {self.eval_samples}")
        overlap = set(self.grid) & set(self.factors)
        if overlap:
            raise ValueError(f"keys both searched and reported: {sorted(overlap)}")
        for method, match in self.matched.items():
            reference = match.get("method")
            if method not in self.methods or "sweep" in match:
                continue
            if reference not in self.methods or reference in self.matched:
                raise ValueError(f"matched {method} -> {reference}: {reference} must be a searched method of the sweep")
            if not set(match.get("keys", ())) <= set(self.grid_of(reference)):
                raise ValueError(f"matched {method}: the keys {match.get('keys')} must be searched for {reference}")

    def grid_of(self, method: str) -> dict[str, str]:
        """The keys searched for ``method``: the common grid and its own."""
        return {**self.grid, **self.method_grid.get(method, {})}

    def seeds_of(self, method: str) -> list[int]:
        """The seeds ``method``'s chosen setting runs with, in ``seeds``' order."""
        own = self.method_seeds.get(method)
        return [s for s in self.seeds if own is None or s in own]


def eval_file(run_dir: Path, split: str) -> Path:
    return run_dir / f"eval-{split}.json"


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def run_state(run_dir: Path) -> tuple[str, dict | None]:
    """``("done", summary)``, ``("failed", record)`` or ``("pending", None)``."""
    summary = read_json(run_dir / "summary.json")
    if summary is not None and summary.get("finished"):
        return "done", summary
    failed = read_json(run_dir / FAILED)
    if failed is not None:
        return "failed", failed
    return "pending", None


def reached_its_cap(run_dir: Path, summary: dict) -> bool:
    """Whether the finished run in ``run_dir`` ended at a training cap of its saved config, not by early stopping.
    The sweep launches it again: it trains on if the sweep's config has raised the cap, else it returns at once
    (:func:`seqvae.training.run.finished_summary`)."""
    config = read_json(run_dir / "config.json")
    return config is not None and reached_cap(saved_caps(config), summary)


def checkpoint_lost(run_dir: Path, summary: dict) -> bool:
    """Whether the finished run of ``summary`` in ``run_dir`` names a best checkpoint that is not there (the machine
    that trained it is gone)."""
    checkpoint = saved_checkpoint(run_dir, summary)
    return checkpoint is not None and not checkpoint.is_file()


def record_failure(run_dir: Path, error: BaseException) -> None:
    """Write ``failed.json`` with the error, so the sweep and its report say why the run has no result.

    A run stopped by a signal never gets here: :class:`~seqvae.training.interruption.RunInterrupted` stops the
    sweep with it, and the same command later resumes it.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {
        "error": f"{type(error).__name__}: {error}",
        "traceback": "".join(traceback.format_exception(error)),
    }
    (run_dir / FAILED).write_text(json.dumps(record, indent=2) + "\n")


class ExperimentSweep:
    """Runs the stages of :class:`SweepSpec` in ``root`` with the given launchers."""

    def __init__(self, spec: SweepSpec, root: str | Path, launch_train: LaunchTraining, launch_eval: Launch):
        self.spec = spec
        self.root = Path(root).resolve()
        self.launch_train = launch_train
        self.launch_eval = launch_eval
        self.runs: dict[RunSpec, str] = {}

    def run_dir(self, run: RunSpec) -> Path:
        return run.run_dir(self.root)

    def _train(self, runs: list[RunSpec], stage: str, chosen: set[RunSpec] = frozenset()) -> None:
        """Launch the runs not finished yet (and those at a raised cap); the ``chosen`` ones among the new runs are
        evaluated in their training job."""
        for run in runs:
            self.runs[run] = stage
        todo, capped = [], {}
        for run in runs:
            state, record = run_state(self.run_dir(run))
            if state == "done" and reached_its_cap(self.run_dir(run), record):
                capped[run] = record["global_step"]
            if state == "pending" or (state == "failed" and self.spec.retry_failed) or run in capped:
                (self.run_dir(run) / FAILED).unlink(missing_ok=True)
                todo.append(run)
        evaluated = [r for r in todo if r in chosen and r not in capped]
        for batch, evaluate in ((evaluated, True), ([r for r in todo if r not in evaluated], False)):
            if batch:
                self._record(batch, self.launch_train(batch, evaluate))
        for run, step in capped.items():
            state, record = run_state(self.run_dir(run))
            if state == "done" and record["global_step"] != step:  # it trained on: its evaluation is stale
                for stale in self.run_dir(run).glob("eval-*"):
                    stale.unlink()

    def select(self) -> dict:
        """Per cell, the candidate with the lowest validation -ELBO among the first seed's finished runs; a matched
        method's cell takes its reference's choice of the matched keys."""
        first = self.spec.seeds[0]
        chosen = {}
        for method, factors in cells(self.spec.methods, self.spec.factors):
            if method in self.spec.matched:
                continue
            scored = []
            for params in candidates(method, self.spec.grid_of(method)):
                run = RunSpec(method, factors, params, first)
                state, summary = run_state(self.run_dir(run))
                score = summary.get("best_val_nelbo") if state == "done" else None
                candidate = {"params": dict(params), "val_nelbo": None if score is None else float(score)}
                scored.append({**candidate, "status": state, "dir": str(self.run_dir(run))})
            finished = [s for s in scored if s["val_nelbo"] is not None]
            best = min(finished, key=lambda s: s["val_nelbo"]) if finished else None
            chosen[(method, factors)] = {"candidates": scored, "chosen": best["params"] if best else None}
        for method, factors in cells(self.spec.methods, self.spec.factors):
            if (match := self.spec.matched.get(method)) is not None:
                if "sweep" in match:
                    theirs = self._other_sweeps_choice(match, factors)
                else:
                    theirs = chosen[(match["method"], factors)]["chosen"]
                taken = None if theirs is None else {k: v for k, v in theirs.items() if k in match["keys"]}
                chosen[(method, factors)] = {"candidates": [], "chosen": taken}
        return {cell: chosen[cell] for cell in cells(self.spec.methods, self.spec.factors)}

    def _other_sweeps_choice(self, match: dict, factors: tuple) -> dict | None:
        """``match["method"]``'s choice in the sweep of the experiment ``match["sweep"]`` at this scale, for the cell of
        the same ``factors`` or, where that sweep reports none, its one cell; once every candidate of its search has
        finished or failed (``None`` before)."""
        root = sweep_root(match["sweep"], self.spec.scale)
        if not (root / "sweep.json").is_file():
            return None
        for sel in current_manifest(root)["selection"]:
            if sel["method"] == match["method"] and sel["factors"] in (dict(factors), {}):
                searched = all(c["status"] != "pending" for c in sel["candidates"])
                return sel["chosen"] if searched else None
        return None

    def _record(self, runs: list[RunSpec], errors: Sequence[BaseException | None]) -> None:
        for run, error in zip(runs, errors, strict=True):
            if error is not None:
                record_failure(self.run_dir(run), error)

    def _evaluate(self, runs: list[RunSpec]) -> None:
        """Evaluate the finished runs among ``runs`` that have no evaluation yet; train again, and evaluate, those
        whose checkpoint is gone."""
        split = self.spec.eval_split
        todo, lost = [], []
        for run in runs:
            run_dir = self.run_dir(run)
            state, summary = run_state(run_dir)
            if state == "done" and not eval_file(run_dir, split).is_file():
                (lost if checkpoint_lost(run_dir, summary) else todo).append(run)
        for run in lost:
            aside = set_aside(self.run_dir(run))
            log.warning(
                "%s finished, but its best checkpoint is gone and it has no %s evaluation: training it again "
                "(its files are kept in %s)",
                self.run_dir(run),
                split,
                aside.name,
            )
        if lost:
            self._record(lost, self.launch_train(lost, True))
        if todo:
            self._record(todo, self.launch_eval(todo))

    def sole_candidates(self) -> set[RunSpec]:
        """The search runs that are their cell's only candidate, chosen whatever the search finds."""
        s = self.spec
        return {
            RunSpec(m, f, p, s.seeds[0])
            for m, f in cells(s.methods, s.factors)
            if m not in s.matched and len(grid := candidates(m, s.grid_of(m))) == 1
            for p in grid
        }

    def search_runs(self) -> list[RunSpec]:
        """Stage 1's runs: every candidate of every searched cell, with the first seed."""
        s = self.spec
        return [
            RunSpec(m, f, p, s.seeds[0])
            for m, f in cells(s.methods, s.factors)
            if m not in s.matched
            for p in candidates(m, s.grid_of(m))
        ]

    def chosen_runs(self, selection: dict) -> list[RunSpec]:
        """Each cell's chosen candidate with its method's seeds (none for a cell without a choice yet)."""
        return [
            RunSpec(m, f, tuple(sel["chosen"].items()), seed)
            for (m, f), sel in selection.items()
            if sel["chosen"] is not None
            for seed in self.spec.seeds_of(m)
        ]

    def snapshot(self) -> dict:
        """The manifest of what the run folders hold now, launching nothing: for a sweep in progress, the choices
        among the candidates finished so far (``complete`` false)."""
        for run in self.search_runs():
            self.runs.setdefault(run, "search")
        selection = self.select()
        chosen = self.chosen_runs(selection)
        for run in chosen:
            self.runs.setdefault(run, "seeds")
        return self.manifest(selection, chosen, complete=False)

    def write(self, manifest: dict) -> None:
        """``sweep.json``, through a temporary file (a killed sweep leaves the old one or the new one)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "sweep.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.replace(self.root / "sweep.json")

    def run(self, stop_after: str = "test") -> dict:
        """The stages up to ``stop_after`` (one of :data:`STAGES`); returns (and writes to ``sweep.json``) the
        manifest of runs and choices, ``complete`` once the test stage has run. A snapshot is written first, so the
        tables of a sweep in progress can be made (:func:`current_manifest`)."""
        if stop_after not in STAGES:
            raise ValueError(f"stop_after must be one of {', '.join(STAGES)}, got {stop_after!r}")
        s = self.spec
        self.write(self.snapshot())
        search = self.search_runs()
        self._train(search, "search", self.sole_candidates())
        if stop_after == "search":
            return self._stopped()
        selection = self.select()
        chosen = self.chosen_runs(selection)
        searched = set(search)
        self._evaluate([r for r in chosen if r in searched])
        seeds = [r for r in chosen if r.seed != s.seeds[0] or r.method in s.matched]
        self._train(seeds, "seeds", set(seeds))
        if stop_after == "seeds":
            return self._stopped()
        self._evaluate(chosen)
        manifest = self.manifest(selection, chosen, complete=True)
        self.write(manifest)
        return manifest

    def _stopped(self) -> dict:
        """The snapshot of a sweep stopped before its last stage, written to ``sweep.json``."""
        manifest = self.snapshot()
        self.write(manifest)
        return manifest

    def manifest(self, selection: dict, chosen: list[RunSpec], complete: bool) -> dict:
        chosen_set = set(chosen)
        runs = []
        for run, stage in self.runs.items():
            run_dir = self.run_dir(run)
            state, record = run_state(run_dir)
            entry = {
                "method": run.method,
                "factors": dict(run.factors),
                "params": dict(run.params),
                "seed": run.seed,
                "stage": stage,
                "chosen": run in chosen_set,
                "dir": str(run_dir.relative_to(self.root)),
                "status": state,
                "best_val_nelbo": record.get("best_val_nelbo") if state == "done" else None,
                "error": (read_json(run_dir / FAILED) or {}).get("error"),
            }
            evaluation = eval_file(run_dir, self.spec.eval_split)
            entry["eval"] = str(evaluation.relative_to(self.root)) if evaluation.is_file() else None
            runs.append(entry)
        return {
            "experiment": self.spec.experiment,
            "scale": self.spec.scale,
            "methods": self.spec.methods,
            "grid": self.spec.grid,
            "method_grid": self.spec.method_grid,
            "matched": self.spec.matched,
            "factors": self.spec.factors,
            "seeds": self.spec.seeds,
            "method_seeds": self.spec.method_seeds,
            "eval_split": self.spec.eval_split,
            "eval_samples": self.spec.eval_samples,
            "retry_failed": self.spec.retry_failed,
            "complete": complete,
            "selection": [{"method": m, "factors": dict(f), **sel} for (m, f), sel in selection.items()],
            "runs": runs,
        }


def current_manifest(root: str | Path) -> dict:
    """The manifest of the sweep in ``root`` as its run folders stand now: ``sweep.json`` if the sweep completed,
    else its :meth:`ExperimentSweep.snapshot` (runs finished since the sweep wrote it counted); an error if ``root``
    holds no sweep."""
    path = Path(root) / "sweep.json"
    if not path.is_file():
        raise ValueError(f"no sweep.json in {root}; run `seqvae sweep experiment=NAME` first")
    manifest = json.loads(path.read_text())
    if manifest.get("complete", True):
        return manifest
    spec = SweepSpec(**{f.name: manifest[f.name] for f in fields(SweepSpec) if f.name in manifest})
    return ExperimentSweep(spec, root, launch_train=None, launch_eval=None).snapshot()
