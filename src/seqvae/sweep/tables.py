"""``seqvae report``: a sweep's results as ``table.md``, ``table.csv`` and ``table.json``, never hand-edited.

One row per (method, factors) cell: mean ± sample standard deviation over the seeds of its chosen
configuration of the test metrics (``eval-<split>.json``) and of the adversary's last-epoch training
diagnostics, with the number of seeds, the chosen hyperparameters and the runs that failed.
"""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

from seqvae.sweep.stages import current_manifest
from seqvae.training import logged
from seqvae.training.run_folders import PRETRAIN_DIR

# (key in eval-<split>.json "metrics", column title)
METRICS = (
    ("ppl", "PPL (IW)"),
    ("ppl_elbo", "PPL (ELBO)"),
    ("nelbo", "-ELBO"),
    ("nll", "NLL (IW)"),
    ("rec", "rec"),
    ("kl", "KL"),
    ("mi", "MI"),
    ("mi_factorised", "MI (factorised)"),
    ("au", "AU"),
)
# Decimals in table.md: KL and MI are often a few hundredths of a nat where the latent is barely used.
DIGITS = {"kl": 3, "mi": 3, "mi_factorised": 3, "au": 1}
# Last-epoch means of AWD's training diagnostics (metrics.csv of the run), as in the paper's Figure 3.
_AWD = logged.AWD_DIAGNOSTICS
DIAGNOSTICS = (
    (logged.epoch_mean(_AWD["score_std"]), "score std"),
    (logged.epoch_mean(_AWD["score_l1"]), "score L1"),
    (logged.epoch_mean(_AWD["score_snr"]), "mean abs(mu)/sigma"),
    (logged.epoch_mean(_AWD["drop_agreement"]), "drop agreement"),
    (logged.epoch_mean(_AWD["drop_agreement_uniform"]), "agreement if uniform"),
    (logged.epoch_mean(logged.ADV_GRAD_NORM), "adv grad norm"),
)


def summarise(values: list[float]) -> dict:
    """``mean``, ``std`` (sample, ``None`` for one value) and ``n`` of the finite ``values``."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return {"mean": None, "std": None, "n": 0}
    std = statistics.stdev(values) if len(values) > 1 else None
    return {"mean": statistics.fmean(values), "std": std, "n": len(values)}


def read_metrics(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """``key -> [(step, value)]`` in step order from every ``logs/version_*/metrics.csv`` of a run (resumed runs add
    versions): at a step logged by two processes (a resumed run replays the steps after its last checkpoint, a
    validation included), the later process's value. Empty without logs."""
    by_step: dict[str, dict[int, float]] = {}
    versions = sorted(
        (run_dir / "logs").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.removeprefix("version_"))
    )
    for path in versions:
        with path.open(newline="") as f:
            for row in csv.DictReader(f):
                for key, value in row.items():
                    if key not in ("epoch", "step") and value:
                        by_step.setdefault(key, {})[int(row["step"])] = float(value)
    return {key: sorted(values.items()) for key, values in by_step.items()}


def last_epoch_diagnostics(run_dir: Path) -> dict[str, float]:
    """The last logged value of each diagnostic in the run's metrics (:func:`read_metrics`)."""
    series = read_metrics(run_dir)
    return {key: series[key][-1][1] for key, _ in DIAGNOSTICS if key in series}


def training_hours(run_dir: Path) -> float | None:
    """Hours the run trained: over its TensorBoard logs (one per process that trained it, FBP's autoencoder stage's
    in its ``pretrain`` folder included), the time from the first to the last event of each, summed, so the gaps
    between a stop and its resumption do not count (nor the few seconds before a process's first logged step).
    ``None`` without logs."""
    spans = []
    for folder in (run_dir, run_dir / PRETRAIN_DIR):
        for path in sorted((folder / "tensorboard").glob("version_*/events.out.tfevents.*")):
            times = [event.wall_time for event in EventFileLoader(str(path)).Load()]
            spans.append(times[-1] - times[0] if times else 0.0)
    return sum(spans) / 3600 if spans else None


def convergence(run_dir: Path) -> dict:
    """Whether the run in ``run_dir`` converged: the (0-based) epoch of its best validation -ELBO, its last
    validated epoch, and ``stopped_early``: early stopping fired, i.e. ``train.patience`` epochs passed without a
    better one (``None`` each without logs); the validation -ELBO, KL and MI at the best epoch; and its
    :func:`training_hours`."""
    series = read_metrics(run_dir)
    per_epoch = {
        name: [v for _, v in series.get(key, [])]
        for name, key in (("val_nelbo", logged.VAL_NELBO), ("val_kl", logged.VAL_KL), ("val_mi", logged.VAL_MI))
    }
    values = per_epoch["val_nelbo"]
    hours = training_hours(run_dir)
    if not values:
        return {"best_epoch": None, "last_epoch": None, "stopped_early": None, "hours": hours}
    best, last = values.index(min(values)), len(values) - 1
    patience = json.loads((run_dir / "config.json").read_text())["train"]["patience"]
    at_best = {name: (column[best] if len(column) > best else None) for name, column in per_epoch.items()}
    return {"best_epoch": best, "last_epoch": last, "stopped_early": last - best >= patience, **at_best, "hours": hours}


def cell_label(method: str, factors: dict) -> str:
    return method + "".join(f", {k}={v}" for k, v in factors.items())


def build_rows(root: Path) -> tuple[dict, list[dict]]:
    """The manifest of the sweep in ``root`` as it stands (:func:`current_manifest`) and one row per cell, each
    naming its sweep by its folder (``sweep``)."""
    manifest = current_manifest(root)
    rows = []
    for sel in manifest["selection"]:
        cell_runs = [r for r in manifest["runs"] if r["method"] == sel["method"] and r["factors"] == sel["factors"]]
        runs = [r for r in cell_runs if r["chosen"]]
        evals = [json.loads((root / r["eval"]).read_text()) for r in runs if r["eval"]]
        diagnostics = [last_epoch_diagnostics(root / r["dir"]) for r in runs if r["status"] == "done"]
        row = {
            "sweep": root.name,
            "method": sel["method"],
            "factors": sel["factors"],
            "chosen": sel["chosen"],
            "seeds": sorted(r["seed"] for r in runs if r["eval"]),
            "corpus": evals[0]["config"]["data"]["name"] if evals else None,
            "test_sentences": evals[0]["metrics"]["nelbo"]["sentences"] if evals else None,
            "test_tokens": evals[0]["metrics"]["nelbo"]["tokens"] if evals else None,
            "metrics": {
                key: summarise([e["metrics"][key]["value"] for e in evals if key in e["metrics"]]) for key, _ in METRICS
            },
            "diagnostics": {key: summarise([d.get(key) for d in diagnostics]) for key, _ in DIAGNOSTICS},
            "failed": [{"dir": r["dir"], "error": r["error"]} for r in cell_runs if r["error"]],
            "search": {
                "finished": sum(c["val_nelbo"] is not None for c in sel["candidates"]),
                "candidates": len(sel["candidates"]),
            },
            "convergence": [
                {"seed": r["seed"], "params": r["params"], "dir": r["dir"], "chosen": r["chosen"]}
                | convergence(root / r["dir"])
                for r in cell_runs
                if r["status"] == "done"
            ],
        }
        rows.append(row)
    return manifest, rows


def _number(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _fmt(s: dict, digits: int = 2) -> str:
    if s["mean"] is None:
        return "—"
    return f"{s['mean']:.{digits}f}" + ("" if s["std"] is None else f" ± {s['std']:.{digits}f}")


def write_report(roots: str | Path | Sequence[str | Path], out: str | Path | None = None) -> list[Path]:
    """Write ``table.{md,csv,json}`` for the sweep in ``roots`` (into ``out``, default that folder), or one table of
    the rows of several sweeps run under one protocol (same scale, test split and IW samples; ``out`` needed)."""
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    if len(roots) > 1 and out is None:
        raise ValueError("the table of several sweeps needs a folder of its own (--out)")
    out = Path(out) if out else roots[0]
    out.mkdir(parents=True, exist_ok=True)
    built = [build_rows(root) for root in roots]
    manifests, rows = [m for m, _ in built], [r for _, rs in built for r in rs]
    protocol = {(m["scale"], m["eval_split"], m["eval_samples"]) for m in manifests}
    if len(protocol) > 1:
        raise ValueError(
            f"the sweeps {[str(r) for r in roots]} ran under different protocols (scale, split, S): "
            f"{sorted(protocol)}; their rows do not belong in one table"
        )
    paths = [out / "table.json", out / "table.csv", out / "table.md"]
    sweeps = [{k: v for k, v in m.items() if k != "runs"} for m in manifests]
    paths[0].write_text(json.dumps({"sweep": sweeps[0] if len(sweeps) == 1 else sweeps, "rows": rows}, indent=2) + "\n")
    with paths[1].open("w", newline="") as f:
        writer = csv.writer(f)
        header = ["sweep", "method", "factors", "chosen", "seeds", "corpus"]
        for _, title in METRICS + DIAGNOSTICS:
            header += [f"{title} mean", f"{title} std"]
        writer.writerow(header + ["failed runs"])
        for r in rows:
            line = [r["sweep"], r["method"], json.dumps(r["factors"]), json.dumps(r["chosen"])]
            line += [len(r["seeds"]), r["corpus"]]
            for key, _ in METRICS:
                line += [r["metrics"][key]["mean"], r["metrics"][key]["std"]]
            for key, _ in DIAGNOSTICS:
                line += [r["diagnostics"][key]["mean"], r["diagnostics"][key]["std"]]
            writer.writerow(line + [len(r["failed"])])
    paths[2].write_text(_markdown(manifests, rows))
    return paths


# The columns of the convergence table, one line a finished run.
CONVERGENCE_COLUMNS = (
    "method",
    "settings",
    "seed",
    "chosen",
    "best epoch",
    "last epoch",
    "stopped early",
    "val -ELBO",
    "val KL",
    "val MI",
    "hours",
)


def table_line(cells: Sequence[str]) -> str:
    """One line of a markdown table."""
    return "| " + " | ".join(cells) + " |"


def table_header(columns: Sequence[str]) -> list[str]:
    """A markdown table's first two lines: the column titles and the separator."""
    return [table_line(columns), "|" + "---|" * len(columns)]


def _markdown(manifests: list[dict], rows: list[dict]) -> str:
    corpora = sorted({r["corpus"] for r in rows if r["corpus"]})
    first = manifests[0]
    selection = "; ".join(
        (f"{m['experiment']}: " if len(manifests) > 1 else "")
        + f"seeds {m['seeds']} of each method's chosen configuration (validation -ELBO over the grid "
        f"{m['grid'] or '{}'})"
        + "".join(f", {method} seeds {seeds}" for method, seeds in m.get("method_seeds", {}).items())
        for m in manifests
    )
    lines = [
        f"# {' + '.join(m['experiment'] for m in manifests)} ({first['scale']} scale)",
        "",
        f"Corpus: {', '.join(corpora) or 'no run evaluated yet'}; split `{first['eval_split']}`, "
        f"IW-NLL/PPL with S = {first['eval_samples']} samples; mean ± std over {selection}.",
        "",
    ]
    for m in manifests:
        if not m.get("complete", True):
            done = sum(r["status"] == "done" for r in m["runs"])
            lines += [
                f"**{m['experiment']} in progress**: {done} of the {len(m['runs'])} runs planned so far have finished; "
                "a choice among unfinished candidates (the `search` column) may change, and the test metrics cover "
                "only the runs the sweep's test stage has evaluated so far (the `seeds` column).",
                "",
            ]
    if any(c.endswith("-small") for c in corpora):
        lines += [
            "**Reduced corpus**: trained on the released validation file, validated and tested on the two halves "
            "of the released test file; not comparable with published figures.",
            "",
        ]
    show_diag = any(r["diagnostics"][k]["n"] for r in rows for k, _ in DIAGNOSTICS)
    # The rows of several sweeps name theirs: the same method may be a row of each (say, the LSTM's and the
    # Transformer's unregularised VAE).
    sweep = (lambda r: [r["sweep"]]) if len(manifests) > 1 else (lambda r: [])
    sweep_title = ["sweep"] if len(manifests) > 1 else []
    columns = [*sweep_title, "method", "chosen", "search", "seeds", *(t for _, t in METRICS)]
    if show_diag:
        columns += [t for _, t in DIAGNOSTICS]
    lines += table_header(columns)
    for r in rows:
        chosen = ", ".join(f"{k}={v}" for k, v in (r["chosen"] or {}).items()) or "—"
        search = f"{r['search']['finished']}/{r['search']['candidates']}" if r["search"]["candidates"] else "—"
        cells = [*sweep(r), cell_label(r["method"], r["factors"]), chosen, search, str(len(r["seeds"]))]
        cells += [_fmt(r["metrics"][k], DIGITS.get(k, 2)) for k, _ in METRICS]
        if show_diag:
            cells += [_fmt(r["diagnostics"][k]) for k, _ in DIAGNOSTICS]
        lines.append(table_line(cells))
    converged = [(r, c) for r in rows for c in r["convergence"] if c["last_epoch"] is not None]
    if converged:
        lines += [
            "",
            "Convergence of each finished run, the search's candidates included (epochs from 0; stopped early: "
            "`train.patience` epochs without a better validation -ELBO; validation -ELBO, KL and MI at the best epoch; "
            "hours: wall-clock training time, summed over the processes that trained it):",
            "",
            *table_header([*sweep_title, *CONVERGENCE_COLUMNS]),
        ]
        for r, c in converged:
            settings = ", ".join(f"{k}={v}" for k, v in c["params"].items()) or "—"
            early = "yes" if c["stopped_early"] else "**no**"
            values = [_number(c.get(k), d) for k, d in (("val_nelbo", 2), ("val_kl", 3), ("val_mi", 3), ("hours", 2))]
            chosen = "yes" if c["chosen"] else ""
            cells = [*sweep(r), cell_label(r["method"], r["factors"]), settings, str(c["seed"]), chosen]
            lines.append(table_line([*cells, str(c["best_epoch"]), str(c["last_epoch"]), early, *values]))
        hours = [c["hours"] for _, c in converged if c["hours"] is not None]
        lines += ["", f"Training hours in all, the runs above (test evaluation not counted): {sum(hours):.2f}."]
    failed = [f for r in rows for f in r["failed"]]
    if failed:
        lines += ["", "Failed runs:", *(f"- `{f['dir']}`: {f['error']}" for f in failed)]
    if rows and rows[0]["test_tokens"]:
        first = rows[0]
        lines += ["", f"Test split: {first['test_sentences']} sentences, {first['test_tokens']} tokens with `</s>`."]
    return "\n".join(lines) + "\n"
