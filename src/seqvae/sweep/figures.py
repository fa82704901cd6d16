"""Figures drawn from result files, never by retraining: a sweep's ablation curves and one run's training curves.

- :func:`plot_ablation`: each method's metrics against the sweep's factor, mean ± std over seeds (the
  paper's Figure 2 for ``dropout.rate``, Figure 3 for ``dropout.lam``), from ``table.json``.
- :func:`plot_run`: a run's training curves (rec, KL, beta, validation -ELBO, MI, AU) from its ``metrics.csv``.
- :func:`plot_method_curves`: every method's validation -ELBO, KL and MI per epoch at its chosen setting, one line
  per seed, from the runs of one or more sweeps (finished so far: :func:`~seqvae.sweep.stages.current_manifest`).
"""

from __future__ import annotations

import json
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from seqvae.plotting import save_figure
from seqvae.sweep.stages import current_manifest
from seqvae.sweep.tables import cell_label, read_metrics
from seqvae.training import logged

_AWD = logged.AWD_DIAGNOSTICS
DROP_AGREEMENT = logged.epoch_mean(_AWD["drop_agreement"])
# Panels per ablated key: (section of a table.json row, key, axis label).
PANELS = {
    "dropout.rate": [("metrics", "nelbo", "-ELBO"), ("metrics", "kl", "KL"), ("metrics", "mi", "MI")],
    "dropout.lam": [
        ("diagnostics", logged.epoch_mean(_AWD["score_std"]), "score std"),
        ("diagnostics", logged.epoch_mean(_AWD["score_l1"]), "score L1 norm"),
        ("diagnostics", DROP_AGREEMENT, "drop agreement"),
        ("diagnostics", logged.epoch_mean(logged.ADV_GRAD_NORM), "adversary grad norm"),
        ("metrics", "nelbo", "-ELBO"),
        ("metrics", "kl", "KL"),
        ("metrics", "mi", "MI"),
    ],
}
DEFAULT_PANELS = PANELS["dropout.rate"]
LOG_SCALE = {"dropout.lam"}
NAMES = {"none": "no dropout", "uniform": "uniform", "awd": "AWD"}


def plot_ablation(root: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """``ablation.png`` and ``.svg`` of the sweep in ``root`` (its ``table.json``), against its single factor."""
    root = Path(root)
    table = json.loads((root / "table.json").read_text())
    factors = list(table["sweep"]["factors"])
    if len(factors) != 1:
        raise ValueError(f"an ablation figure needs a sweep with exactly one factor; {root} has {factors or 'none'}")
    key = factors[0]
    panels = PANELS.get(key, DEFAULT_PANELS)
    cols = min(3 if len(panels) <= 6 else 4, len(panels))
    rows_of_panels = -(-len(panels) // cols)
    fig = Figure(figsize=(3.6 * cols, 3.0 * rows_of_panels))
    axes = fig.subplots(rows_of_panels, cols, squeeze=False)
    for ax in axes.flat[len(panels) :]:
        ax.set_axis_off()
    methods = list(dict.fromkeys(r["method"] for r in table["rows"]))
    uniform_reference = logged.epoch_mean(_AWD["drop_agreement_uniform"])
    for ax, (section, metric, label) in zip(axes.flat[: len(panels)], panels, strict=True):
        for method in methods:
            rows = sorted((r for r in table["rows"] if r["method"] == method), key=lambda r: float(r["factors"][key]))
            points = [(float(r["factors"][key]), r[section][metric]) for r in rows if r[section][metric]["n"]]
            if not points:
                continue
            x = [p[0] for p in points]
            y = [p[1]["mean"] for p in points]
            err = [p[1]["std"] or 0.0 for p in points]
            ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=NAMES.get(method, method))
            if metric == DROP_AGREEMENT:
                ref = [r["diagnostics"][uniform_reference]["mean"] for r in rows if r[section][metric]["n"]]
                ax.plot(x, ref, linestyle="--", color="grey", label="uniform (K/T)")
                ax.legend(fontsize=8)
        if key in LOG_SCALE:
            ax.set_xscale("log")
        ax.set_xlabel(key.split(".")[-1].replace("lam", "lambda").replace("rate", "R"))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    corpus = {r["corpus"] for r in table["rows"] if r["corpus"]}
    seeds = max((len(r["seeds"]) for r in table["rows"]), default=0)
    fig.suptitle(
        f"{table['sweep']['experiment']} ({table['sweep']['scale']} scale) on {', '.join(sorted(corpus))}: "
        f"mean ± std over {seeds} seed(s)",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return save_figure(fig, Path(out_dir) if out_dir else root, "ablation")


CURVES = [
    ((logged.per_step(logged.TRAIN_REC), logged.VAL_REC), "rec"),
    ((logged.per_step(logged.TRAIN_KL), logged.VAL_KL), "KL"),
    ((logged.TRAIN_BETA,), "beta"),
    ((logged.VAL_NELBO,), "validation -ELBO"),
    ((logged.VAL_MI, logged.VAL_MI_FACTORISED), "validation MI"),
    ((logged.VAL_AU,), "validation AU"),
]


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """``curves.png`` and ``.svg``: a run's training curves against the optimiser step."""
    run_dir = Path(run_dir)
    series = read_metrics(run_dir)
    if not series:
        raise FileNotFoundError(f"no logs/version_*/metrics.csv in {run_dir}: is it a run folder?")
    fig = Figure(figsize=(10.5, 5.6))
    axes = fig.subplots(2, 3)
    for ax, (keys, title) in zip(axes.flat, CURVES, strict=True):
        for key in keys:
            if key in series:
                steps, values = zip(*sorted(series[key]), strict=True)
                ax.plot(steps, values, marker="." if key.startswith("val/") else None, label=key)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(ax.get_lines()) > 1:
            ax.legend(fontsize=7)
    fig.suptitle(str(run_dir), fontsize=8)
    fig.tight_layout()
    return save_figure(fig, Path(out_dir) if out_dir else run_dir, "curves")


METHOD_CURVES = [
    (logged.VAL_NELBO, "validation -ELBO"),
    (logged.VAL_KL, "validation KL"),
    (logged.VAL_MI, "validation MI"),
]


def plot_method_curves(roots: str | Path | list[str | Path], out_dir: str | Path | None = None) -> list[Path]:
    """``method_curves.png`` and ``.svg``: per epoch, the validation -ELBO, KL and MI of every chosen run of the
    sweeps in ``roots`` (as they stand: :func:`current_manifest`), one colour per method and setting, one line per
    seed, the best epoch (lowest -ELBO) marked. Into ``out_dir``, default the one sweep's folder."""
    roots = [Path(roots)] if isinstance(roots, (str, Path)) else [Path(r) for r in roots]
    if len(roots) > 1 and out_dir is None:
        raise ValueError("the curves of several sweeps need a folder of their own (--out)")
    fig = Figure(figsize=(12, 3.8))
    axes = fig.subplots(1, len(METHOD_CURVES))
    colours = iter(f"C{i}" for i in range(100))
    titles = []
    for root in roots:
        manifest = current_manifest(root)
        titles.append(f"{manifest['experiment']} ({manifest['scale']} scale)")
        for sel in manifest["selection"]:
            runs = [
                r
                for r in manifest["runs"]
                if r["chosen"] and (r["method"], r["factors"]) == (sel["method"], sel["factors"])
            ]
            colour, label = next(colours), cell_label(sel["method"], sel["factors"])
            for run in sorted(runs, key=lambda r: r["seed"]):
                series = read_metrics(root / run["dir"])
                nelbo = [v for _, v in series.get(logged.VAL_NELBO, [])]
                if not nelbo:
                    continue
                best = nelbo.index(min(nelbo))
                for ax, (key, _) in zip(axes, METHOD_CURVES, strict=True):
                    values = [v for _, v in series.get(key, [])]
                    ax.plot(range(len(values)), values, color=colour, linewidth=1, label=label)
                    if best < len(values):
                        ax.plot([best], [values[best]], marker="o", color=colour, markersize=4)
                label = None  # one legend entry per method and setting
    for ax, (_, title) in zip(axes, METHOD_CURVES, strict=True):
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(" + ".join(titles) + ": chosen runs, one line per seed, dot = best epoch", fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return save_figure(fig, Path(out_dir) if out_dir else roots[0], "method_curves")
