"""Commands on runs and sweeps: ``train`` and ``sweep`` (Hydra's command line), ``report``, ``compare``, ``plot``,
and the corpora (``data``)."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from seqvae.cli.arguments import Parser, check_outputs, count
from seqvae.cli.errors import EXPECTED
from seqvae.config import Config, register_schema
from seqvae.training.interruption import RunInterrupted

register_schema()


# A single run's expected failure, raised again once Hydra has returned (Hydra would print its overrides first).
_DEFERRED: list[BaseException] = []


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def _train(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from seqvae.training.run import fit

    logging.getLogger("lightning.pytorch").propagate = False  # Lightning prints its own messages once
    try:
        summary = fit(Config.from_dict(cfg), HydraConfig.get().runtime.output_dir)
    except (*EXPECTED, RunInterrupted) as err:
        if HydraConfig.get().mode == RunMode.MULTIRUN:
            raise  # a sweep records a failure and goes on; an interruption stops it
        _DEFERRED.append(err)
        return None
    print(json.dumps(summary, indent=2))
    return summary["best_val_nelbo"]


def report(argv: list[str]) -> None:
    from seqvae.sweep.plan import sweep_root
    from seqvae.sweep.tables import write_report

    p = Parser(
        prog="seqvae report",
        description="Tables of a sweep, from its result files: give its folder, or experiment=NAME [scale=cpu|paper] "
        "for $SEQVAE_RUNS/NAME-SCALE (default runs/, scale cpu), where `seqvae sweep` put it; several folders (or "
        "experiment=A,B) make one table of their rows, if they ran under one protocol (needs --out).",
    )
    p.add_argument(
        "where", nargs="+", help="the sweeps' folders (holding sweep.json), or experiment=NAME[,NAME] [scale=S]"
    )
    p.add_argument("--out", default=None, help="folder for table.md, .csv and .json (default: the sweep's folder)")
    a = p.parse_args(argv)
    named = dict(arg.split("=", 1) for arg in a.where if "=" in arg)
    if named:
        if set(named) - {"experiment", "scale"} or "experiment" not in named or len(named) != len(a.where):
            p.error("give folders, or experiment=NAME[,NAME] [scale=cpu|paper]")
        roots = [sweep_root(name, named.get("scale", "cpu")) for name in named["experiment"].split(",")]
    else:
        roots = [Path(w) for w in a.where]
    for root in roots:
        if not (root / "sweep.json").is_file():
            raise ValueError(f"no sweep.json in {root}; run `seqvae sweep experiment=NAME` first")
    if len(roots) > 1 and a.out is None:
        p.error("several sweeps make one table in a folder of its own: give --out")
    check_outputs(folders=(a.out,))
    for path in write_report(roots, a.out):
        print(f"wrote {path}")
    print((Path(a.out) if a.out else roots[0]).joinpath("table.md").read_text())


def compare(argv: list[str]) -> None:
    from seqvae.sweep.paired import BOOTSTRAP_SEED, RESAMPLES, compare_cells, write_comparison

    p = Parser(
        prog="seqvae compare",
        description="Paired differences a - b between two cells of a sweep, or of two sweeps (-ELBO, rec, KL, MI, "
        "NLL, PPL, AU): per seed, from each chosen run's test evaluation, with their mean and 95% Student t interval "
        "over the seeds both ran; and for one seed pair, a paired bootstrap over the test sentences (95% percentile "
        "interval; needs the per-sentence values `seqvae evaluate` writes beside its JSON). Writes compare-A-vs-B.md "
        "and .json.",
    )
    p.add_argument("sweep", help="the sweep's folder (holding sweep.json)")
    p.add_argument(
        "--a",
        required=True,
        metavar="CELL",
        help="a cell: METHOD[,KEY=VALUE...], the method and enough of its reported factors to name one cell, as in a "
        "run folder's name: awd; uniform,dropout.rate=0.3 in a sweep that reports several rates",
    )
    p.add_argument("--b", required=True, metavar="CELL", help="the other cell, written as --a")
    p.add_argument(
        "--b-sweep",
        default=None,
        metavar="DIR",
        help="the sweep folder of --b where it is another sweep of the same protocol, one table with SWEEP in "
        "`seqvae report` (say, ptb-baselines' Skip-VAE against ptb-table's uniform dropout); default: SWEEP",
    )
    p.add_argument(
        "--seed", type=int, default=None, metavar="S", help="the bootstrap's seed pair (default: the first both ran)"
    )
    p.add_argument(
        "--resamples",
        type=count(0),
        default=RESAMPLES,
        metavar="N",
        help=f"bootstrap resamples (default {RESAMPLES}: about 3 minutes for a PTB-sized test split on one CPU "
        "thread); 0 compares per seed only",
    )
    p.add_argument("--bootstrap-seed", type=int, default=BOOTSTRAP_SEED, help="seed of the resampling")
    p.add_argument("--out", default=None, help="folder for the files (default: the sweep's folder)")
    args = p.parse_args(argv)
    check_outputs(folders=(args.out,))
    comparison = compare_cells(
        args.sweep, args.a, args.b, args.seed, args.resamples, args.bootstrap_seed, b_root=args.b_sweep
    )
    paths = write_comparison(comparison, args.out or args.sweep)
    for path in paths:
        print(f"wrote {path}")
    print(paths[-1].read_text())


def plot(argv: list[str]) -> None:
    from seqvae.sweep.figures import plot_ablation, plot_method_curves, plot_run

    p = Parser(
        prog="seqvae plot",
        description="PNG and SVG from result files: a run folder's training curves (rec, KL, beta, validation "
        "-ELBO, MI, AU); given a sweep folder with one factor, its metrics against it (rate, lambda ablations); given "
        "the folders of table sweeps (no factor), each chosen run's validation -ELBO, KL and MI per epoch.",
    )
    p.add_argument("path", nargs="+", help="a run folder (holding logs/), or sweep folders (holding sweep.json)")
    p.add_argument("--out", default=None, help="folder for the figure (default: PATH)")
    a = p.parse_args(argv)
    paths = [Path(path) for path in a.path]
    for path in paths:
        if not path.is_dir():
            raise ValueError(f"{path} is not a folder")
    if len(paths) > 1 and a.out is None:
        p.error("the figure of several sweeps goes to a folder of its own: give --out")
    check_outputs(folders=(a.out,))
    first = paths[0]
    if not (first / "sweep.json").is_file():
        written = plot_run(first, a.out)
    elif len(paths) == 1 and json.loads((first / "sweep.json").read_text())["factors"]:
        written = plot_ablation(first, a.out)
    else:
        written = plot_method_curves(paths, a.out)
    for out in written:
        print(f"wrote {out}")


def keep_results(argv: list[str]) -> None:
    from seqvae.sweep.keep_results import copy_results

    p = Parser(
        prog="seqvae keep-results",
        description="Copy the result files of the finished runs and sweeps under SOURCE (summaries, configs, "
        "metrics and TensorBoard logs, test evaluations with their per-sentence values, sweep.json; no checkpoints) to "
        "the same places under TARGET, where TARGET lacks them or holds older copies: to keep a campaign's results in "
        "a git repository, and to put them back on a new machine, where a sweep rerun reuses them.",
    )
    p.add_argument("source", help="a folder of sweeps or runs, e.g. $SEQVAE_RUNS")
    p.add_argument("target", help="the folder to copy into")
    a = p.parse_args(argv)
    check_outputs(folders=(a.target,))
    written = copy_results(a.source, a.target)
    print(f"copied {len(written)} files from {a.source} to {a.target}")


def data(argv: list[str]) -> None:
    from seqvae.data.fetch import RELEASES, fetch

    p = Parser(prog="seqvae data", description="Benchmark corpora.")
    actions = p.add_subparsers(dest="action", required=True)
    f = actions.add_parser("fetch", help="download a corpus, resuming and checking md5 checksums")
    f.add_argument("corpus", choices=sorted(RELEASES))
    f.add_argument("--dir", default=None, help="data root (default: $SEQVAE_DATA or ../shared/data, as the configs)")
    a = p.parse_args(argv)
    print(f"{a.corpus} is in {fetch(a.corpus, a.dir)}")


def hydra_command(command: str, rest: list[str]) -> None:
    """``seqvae train`` and ``seqvae sweep``: Hydra's command line, its errors raised to :func:`main`."""
    if command == "sweep" and not any(arg.startswith("experiment=") for arg in rest):
        raise ValueError("name an experiment, e.g. seqvae sweep experiment=ptb-table scale=cpu")
    if command == "train" and any(arg.startswith("scale=") for arg in rest) and "-m" not in rest:
        raise ValueError("scale= chooses a sweep's protocol (seqvae sweep); for a run's sizes give size=cpu|paper")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing a shortened traceback and exiting
    sys.argv = [f"{sys.argv[0]} {command}", *(["--multirun"] if command == "sweep" else []), *rest]
    try:
        _train()
    except (FileExistsError, NotADirectoryError) as err:  # Hydra makes the run folder before the run starts
        raise ValueError(f"out_dir {err.filename} is a file, not a folder") from err
    except PermissionError as err:
        raise ValueError(f"cannot make the run folder {err.filename}: permission denied") from err
    if _DEFERRED:
        raise _DEFERRED.pop()
