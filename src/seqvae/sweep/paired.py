"""``seqvae compare``: paired differences ``a - b`` between two cells of a sweep (or of two sweeps of one protocol),
with 95% intervals.

1. Per seed: for every seed whose chosen run of both cells was evaluated, the difference of each test figure of
   their ``eval-<split>.json``; over those ``n`` seeds the mean, the sample std ``s`` and the Student t interval
   ``mean ± t_{0.975, n-1} s / sqrt(n)`` (none with one seed).
2. Per sentence, for one seed pair: a paired bootstrap over the sentences of the split, from the per-sentence values
   each evaluation writes beside its JSON (:func:`seqvae.metrics.evaluate.sentences_file`). Every resample draws
   ``N`` sentence indices with replacement, the same for both models; the interval of a difference (mean -ELBO, rec,
   KL, NLL; the joint MI, each sentence resampled with its posterior draw) is the 2.5 and 97.5 percentiles of its
   values over the resamples.

A cell is a method and its reported factors (one row of ``seqvae report``'s table), written as in a run folder's
name, ``METHOD[,KEY=VALUE...]``: ``awd``, or ``uniform,dropout.rate=0.3`` where the sweep reports several rates.
The factors given must name exactly one cell of the sweep.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import track
from scipy import stats

from seqvae.metrics.mutual_info import CHUNK_ELEMENTS, posterior_density_blocks
from seqvae.sweep.stages import current_manifest
from seqvae.sweep.tables import DIGITS, METRICS, cell_label, table_header, table_line

CONFIDENCE = 0.95
# On a PTB-sized test split (3,761 sentences, z 32), one thread of a busy 2-core CPU: each model's matrix of posterior
# log-densities takes 5 s, then a resample 2 x 35-55 ms (mostly its MI): `seqvae compare` took 2:49 with 2,000.
RESAMPLES = 2000
BOOTSTRAP_SEED = 0
# Figures of eval-<split>.json compared per seed (those both evaluations hold), and per sentence by the bootstrap.
PER_SEED = ("nelbo", "rec", "kl", "mi", "mi_factorised", "nll", "ppl", "au")
SENTENCE_MEANS = ("nelbo", "rec", "kl", "nll")
PER_SENTENCE = (*SENTENCE_MEANS, "mi")
TITLES = dict(METRICS)


def parse_cell(text: str) -> tuple[str, dict[str, str]]:
    """``"uniform,dropout.rate=0.3"`` -> ``("uniform", {"dropout.rate": "0.3"})``."""
    method, *settings = (part.strip() for part in text.split(","))
    if not method or "=" in method or not all("=" in s for s in settings):
        raise ValueError(f"cell {text!r}: write METHOD[,KEY=VALUE...], e.g. awd or uniform,dropout.rate=0.3")
    return method, dict(s.split("=", 1) for s in settings)


def cell_name(cell: Mapping) -> str:
    """A selection entry's cell as :func:`parse_cell` reads it: ``METHOD[,KEY=VALUE...]`` with all its factors."""
    return cell["method"] + "".join(f",{k}={v}" for k, v in cell["factors"].items())


def find_cell(manifest: Mapping, text: str) -> dict:
    """The entry of ``manifest["selection"]`` whose method is the cell's and whose factors include its ``KEY=VALUE``s;
    an error unless exactly one matches."""
    method, factors = parse_cell(text)
    matches = [s for s in manifest["selection"] if s["method"] == method and factors.items() <= s["factors"].items()]
    if not matches:
        cells = ", ".join(cell_name(s) for s in manifest["selection"])
        raise ValueError(f"no cell of the sweep matches {text!r}; its cells: {cells}")
    if len(matches) > 1:
        cells = ", ".join(cell_name(s) for s in matches)
        raise ValueError(f"{text!r} matches {len(matches)} cells of the sweep, {cells}: give the factors of one")
    return matches[0]


def evaluated_runs(manifest: Mapping, cell: Mapping) -> dict[int, dict]:
    """``seed -> run`` of the cell's chosen runs that have an evaluation."""
    return {
        r["seed"]: r
        for r in manifest["runs"]
        if r["method"] == cell["method"] and r["factors"] == cell["factors"] and r["chosen"] and r["eval"]
    }


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> dict:
    """``mean``, sample ``std`` and ``n`` of ``values``, and the Student t interval ``mean ± t s / sqrt(n)`` with
    ``t = t_{(1 + confidence) / 2, n - 1}``: ``t``, ``half_width``, ``low``, ``high`` (each ``None`` for ``n < 2``)."""
    n, mean = len(values), statistics.fmean(values)
    if n < 2:
        return {"mean": mean, "std": None, "n": n, "t": None, "half_width": None, "low": None, "high": None}
    std = statistics.stdev(values)
    t = float(stats.t.ppf((1 + confidence) / 2, n - 1))
    half = t * std / math.sqrt(n)
    return {"mean": mean, "std": std, "n": n, "t": t, "half_width": half, "low": mean - half, "high": mean + half}


def per_seed_differences(evaluations: Mapping[int, tuple[dict, dict]]) -> dict:
    """Per seed ``a``, ``b`` and ``a - b`` of each figure of :data:`PER_SEED` both evaluations hold, and per figure the
    :func:`t_interval` of the differences over the seeds.

    Args:
        evaluations: ``seed -> (eval JSON of a, eval JSON of b)``, the two on the same sentences.
    """
    rows = []
    for seed, (ea, eb) in evaluations.items():
        ma, mb = ea["metrics"], eb["metrics"]
        if ma["nelbo"]["sentences"] != mb["nelbo"]["sentences"]:
            raise ValueError(
                f"seed {seed}: a was evaluated on {ma['nelbo']['sentences']} sentences, b on "
                f"{mb['nelbo']['sentences']}; a paired comparison needs the same sentences"
            )
        keys = [k for k in PER_SEED if k in ma and k in mb]
        a, b = {k: ma[k]["value"] for k in keys}, {k: mb[k]["value"] for k in keys}
        rows.append({"seed": seed, "a": a, "b": b, "diff": {k: a[k] - b[k] for k in keys}})
    summary = {
        k: t_interval([r["diff"][k] for r in rows if k in r["diff"]])
        for k in PER_SEED
        if any(k in r["diff"] for r in rows)
    }
    return {"rows": rows, "summary": summary}


def load_sentence_rows(root: Path, run: Mapping) -> dict[str, np.ndarray]:
    """The per-sentence values of ``run``'s evaluation (``rec``, ``kl``, [``nll``], ``tokens``, ``mu``, ``logvar``),
    or an error that says how to write them."""
    path = root / run["eval"]
    evaluation = json.loads(path.read_text())
    name = evaluation.get("per_sentence")
    if name is None or not (path.parent / name).is_file():
        raise ValueError(
            f"{path} has no per-sentence values (evaluated before they were written): rerun `seqvae evaluate "
            f"{evaluation['checkpoint']} --split {evaluation['split']} --samples {evaluation['samples']} --seed "
            f"{evaluation['seed']} --out {path}`, or give --resamples 0 for the comparison per seed only"
        )
    with np.load(path.parent / name) as rows:
        return {key: rows[key] for key in rows.files}


def posterior_log_densities(
    mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor, chunk_elements: int = CHUNK_ELEMENTS
) -> torch.Tensor:
    """``L[i, j] = log q(z_i|x_j)``, ``(N, N)``, for the draws ``z_i = mu_i + exp(logvar_i / 2) noise_i``, built from
    :func:`~seqvae.metrics.mutual_info.posterior_density_blocks`.

    Args:
        mu, logvar, noise: ``(N, Z)``.
    """
    z = mu + torch.exp(0.5 * logvar) * noise
    return torch.cat([block.sum(-1) for _, block in posterior_density_blocks(z, mu, logvar, chunk_elements)])


# Terms of a sum of exponentials this far (in log) below the largest are taken as this far below it, a relative error of
# at most N e^-80 (1e-31 for N = 10^4), because torch's exp on the CPU is ten times slower for arguments that underflow.
_FLOOR = -80.0


def _logsumexp_rows(x: torch.Tensor) -> torch.Tensor:
    """``logsumexp`` over the last dimension of ``(K, M)`` ``x``, ``(K,)``, up to :data:`_FLOOR`; overwrites ``x``."""
    top = x.max(dim=-1, keepdim=True).values
    return top.squeeze(-1) + x.sub_(top).clamp_(min=_FLOOR).exp_().sum(dim=-1).log()


def resampled_mi(log_q: torch.Tensor, counts: torch.Tensor) -> float:
    """The joint MI estimate of :func:`~seqvae.metrics.mutual_info.mutual_information_estimates` on a resample that
    holds sentence ``i`` ``c_i`` times, each time with its draw ``z_i``:
    ``(1/N) sum_i c_i [L_ii - logsumexp_j (L_ij + log c_j)] + log N``, ``N = sum_i c_i``, ``L`` from
    :func:`posterior_log_densities`; ``O(K^2)`` for the ``K`` sentences drawn.
    """
    drawn = counts.nonzero().squeeze(1)
    c = counts[drawn].to(log_q.dtype)
    block = log_q[drawn[:, None], drawn]  # one gather of the K x K block, no K x N copy first
    diagonal = block.diagonal().clone()
    n = float(c.sum())
    return float((c * (diagonal - _logsumexp_rows(block.add_(c.log())))).sum() / n) + math.log(n)


def _sentence_values(rows: Mapping[str, np.ndarray], key: str) -> torch.Tensor:
    """``(N,)`` float64 values of one figure of :data:`SENTENCE_MEANS` per sentence; -ELBO is ``rec + kl``."""
    values = rows["rec"].astype(np.float64) + rows["kl"] if key == "nelbo" else rows[key]
    return torch.from_numpy(np.asarray(values, dtype=np.float64))


def paired_bootstrap(
    a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray], resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED
) -> dict:
    """Percentile intervals (:data:`CONFIDENCE`) of the differences ``a - b`` of :data:`PER_SENTENCE` by a paired
    bootstrap over the ``N`` sentences of two models' per-sentence values (:func:`load_sentence_rows`).

    Each of ``resamples`` resamples draws ``N`` indices with replacement, the same for both models, and takes each
    model's mean -ELBO (``rec + kl``), rec, KL and NLL (if both have it) and joint MI over them. MI: one draw
    ``z_i ~ q(z|x_i)`` per sentence and model, made once, with the same standard normal noise for both models (the
    first ``Z`` of its dimensions for a ``Z``-dimensional latent), and resampled with its sentence
    (:func:`resampled_mi`). ``a``, ``b`` and ``diff`` of each figure are over all ``N`` sentences; ``low`` and ``high``
    the percentiles of ``a - b`` over the resamples; ``shift`` their mean minus ``diff``. The shift is the bootstrap's
    bias: near 0 for the means, not for MI, whose estimate falls with the number of distinct sentences (a resample
    holds about 63% of them) the more the posteriors are apart.
    """
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    n = len(a["kl"])
    if len(b["kl"]) != n or not np.array_equal(a["tokens"], b["tokens"]):
        raise ValueError("the two evaluations are not of the same sentences (their counts or lengths differ)")
    values = {
        k: [_sentence_values(m, k) for m in (a, b)] for k in SENTENCE_MEANS if k == "nelbo" or (k in a and k in b)
    }
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, max(a["mu"].shape[1], b["mu"].shape[1]), generator=generator)
    log_q = [
        posterior_log_densities(torch.from_numpy(m["mu"]), torch.from_numpy(m["logvar"]), noise[:, : m["mu"].shape[1]])
        for m in (a, b)
    ]

    def figures(counts: torch.Tensor) -> dict[str, tuple[float, float]]:
        """Each figure of both models on the resample holding sentence ``i`` ``counts[i]`` times."""
        means = {k: tuple(float(counts.double() @ v) / n for v in pair) for k, pair in values.items()}
        return {**means, "mi": tuple(resampled_mi(lq, counts) for lq in log_q)}

    observed = figures(torch.ones(n, dtype=torch.long))
    draws = {k: [] for k in observed}
    for _ in track(range(resamples), description="bootstrap", console=Console(stderr=True)):
        counts = torch.bincount(torch.randint(n, (n,), generator=generator), minlength=n)
        for k, (fa, fb) in figures(counts).items():
            draws[k].append(fa - fb)
    tails = [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]
    metrics = {}
    for k, (fa, fb) in observed.items():
        low, high = np.quantile(draws[k], tails)
        shift = float(np.mean(draws[k])) - (fa - fb)
        metrics[k] = {"a": fa, "b": fb, "diff": fa - fb, "low": float(low), "high": float(high), "shift": shift}
    return {
        "sentences": n,
        "resamples": resamples,
        "bootstrap_seed": seed,
        "confidence": CONFIDENCE,
        "metrics": metrics,
    }


def compare_cells(
    root: str | Path,
    a: str,
    b: str,
    seed: int | None = None,
    resamples: int = RESAMPLES,
    bootstrap_seed: int = BOOTSTRAP_SEED,
    b_root: str | Path | None = None,
) -> dict:
    """The comparison ``a - b`` of two cells (:func:`parse_cell`) of the sweep in ``root``, or of ``a`` there and ``b``
    in the sweep in ``b_root`` (another sweep of the same protocol: one table of ``seqvae report ROOT B_ROOT``):
    :func:`per_seed_differences` over the seeds both evaluated and, unless ``resamples`` is 0, the
    :func:`paired_bootstrap` of the seed pair ``seed`` (default: the first of them in ``a``'s sweep's order)."""
    roots = (Path(root), Path(root if b_root is None else b_root))
    manifest = current_manifest(roots[0])
    manifests = [manifest, manifest if roots[1] == roots[0] else current_manifest(roots[1])]
    for key in ("eval_split", "eval_samples"):
        if manifests[1][key] != manifest[key]:
            raise ValueError(f"the two sweeps' test stages differ in {key}: {manifest[key]} and {manifests[1][key]}")
    cells = [find_cell(m, text) for m, text in zip(manifests, (a, b), strict=True)]
    if cells[0] is cells[1]:
        raise ValueError(f"--a {a} and --b {b} are the same cell, {cell_name(cells[0])}")
    runs = [evaluated_runs(m, cell) for m, cell in zip(manifests, cells, strict=True)]
    seeds = [s for s in manifest["seeds"] if s in runs[0] and s in runs[1]]
    if not seeds:
        raise ValueError(
            f"no seed has an evaluated run of both cells: {cell_name(cells[0])} has {sorted(runs[0])}, "
            f"{cell_name(cells[1])} has {sorted(runs[1])}"
        )
    evaluations = {
        s: tuple(json.loads((r_root / r[s]["eval"]).read_text()) for r_root, r in zip(roots, runs, strict=True))
        for s in seeds
    }
    first, split = evaluations[seeds[0]][0]["metrics"]["nelbo"], manifest["eval_split"]
    comparison = {
        "sweep": {k: manifest[k] for k in ("experiment", "scale")},
        **({"b_sweep": {k: manifests[1][k] for k in ("experiment", "scale")}} if roots[0] != roots[1] else {}),
        **{
            side: {"cell": cell_name(c), "method": c["method"], "factors": c["factors"], "chosen": c["chosen"]}
            for side, c in zip("ab", cells, strict=True)
        },
        "per_seed": {
            "split": split,
            "sentences": first["sentences"],
            "tokens": first["tokens"],
            "samples": manifest["eval_samples"],
            "seeds": seeds,
            "confidence": CONFIDENCE,
            **per_seed_differences(evaluations),
        },
        "bootstrap": None,
    }
    if resamples:
        pair = seeds[0] if seed is None else seed
        if pair not in seeds:
            raise ValueError(f"--seed {pair}: the seeds with an evaluated run of both cells are {seeds}")
        rows = [load_sentence_rows(r_root, r[pair]) for r_root, r in zip(roots, runs, strict=True)]
        comparison["bootstrap"] = {
            "seed": pair,
            "split": split,
            "dirs": [r[pair]["dir"] for r in runs],
            **paired_bootstrap(*rows, resamples, bootstrap_seed),
        }
    return comparison


def _signed(value: float, key: str) -> str:
    """``value`` with its sign, at the table's digits for ``key``; ``+0.00``, not ``-0.00``, for what rounds to 0."""
    digits = DIGITS.get(key, 2)
    return f"{round(value, digits) + 0.0:+.{digits}f}"


def _sweeps(comparison: Mapping) -> str:
    """The sweep's experiment, or ``A vs B`` for cells of two sweeps."""
    names = [comparison[k]["experiment"] for k in ("sweep", "b_sweep") if k in comparison]
    return " vs ".join(names)


def _cell_line(side: str, cell: Mapping) -> str:
    chosen = ", ".join(f"{k}={v}" for k, v in (cell["chosen"] or {}).items()) or "nothing searched"
    return f"- {side} = **{cell_label(cell['method'], cell['factors'])}** (chosen: {chosen})"


def write_comparison(comparison: Mapping, out: str | Path) -> list[Path]:
    """Write :func:`compare_cells`'s result as ``compare-A-vs-B.json`` and ``.md`` (``A``, ``B``: :func:`cell_name`)
    into the folder ``out``; returns their paths."""
    a, b, per_seed, boot = comparison["a"], comparison["b"], comparison["per_seed"], comparison["bootstrap"]
    stem = Path(out) / f"compare-{a['cell']}-vs-{b['cell']}"
    paths = [stem.with_name(stem.name + ".json"), stem.with_name(stem.name + ".md")]
    paths[0].write_text(json.dumps(comparison, indent=2) + "\n")
    sweep, upper = comparison["sweep"], (1 + CONFIDENCE) / 2
    lines = [
        f"# {a['cell']} vs {b['cell']}: paired differences ({_sweeps(comparison)}, {sweep['scale']} scale)",
        "",
        _cell_line("a", a),
        _cell_line("b", b),
        "",
        "Every number below is a − b.",
        "",
        f"## Per seed: {len(per_seed['seeds'])} seed(s) {per_seed['seeds']}, {per_seed['split']} split",
        "",
        f"Each seed's figures from its `eval-{per_seed['split']}.json`: {per_seed['sentences']} sentences, "
        f"{per_seed['tokens']} tokens with `</s>`, IW-NLL/PPL with S = {per_seed['samples']} samples. Last line: the "
        f"mean over the n seeds ± t_{{{upper:g}, n-1}} · s / √n (Student t, {CONFIDENCE:.0%} interval, s the sample "
        "std); with one seed there is no interval.",
        "",
    ]
    keys = list(per_seed["summary"])
    lines += table_header(["seed", *(TITLES[k] for k in keys)])
    for row in per_seed["rows"]:
        cells = [_signed(row["diff"][k], k) if k in row["diff"] else "—" for k in keys]
        lines.append(table_line([str(row["seed"]), *cells]))
    means = []
    for k in keys:
        s = per_seed["summary"][k]
        if s["n"] > 1:
            means.append(
                f"{_signed(s['mean'], k)} ± {s['half_width']:.{DIGITS.get(k, 2)}f} (n = {s['n']}, t = {s['t']:.3f})"
            )
        else:
            means.append(f"{_signed(s['mean'], k)} (one seed: no interval)")
    lines.append(table_line(["mean", *means]))
    if boot is None:
        lines += ["", "No bootstrap over sentences (--resamples 0)."]
    else:
        n = boot["sentences"]
        lines += [
            "",
            f"## Paired bootstrap over the sentences: seed {boot['seed']}, {boot['split']} split",
            "",
            f"Runs `{boot['dirs'][0]}` (a) and `{boot['dirs'][1]}` (b), {n} sentences: a, b and a − b on all of "
            f"them; the interval is the {100 * (1 - upper):g} and {100 * upper:g} percentiles of a − b over "
            f"{boot['resamples']} resamples of {n} sentences drawn with replacement, the same for both models (seed "
            f"{boot['bootstrap_seed']}). MI: the joint estimate (at most log N), with one posterior draw per sentence "
            "and model, made once (the same normal noise for both models) and resampled with its sentence; these "
            f"draws are not the evaluation's, so MI's a and b differ from `eval-{boot['split']}.json`'s by the "
            "estimator's noise. Shift: the resamples' mean a − b minus the observed one, the bootstrap's bias: near 0 "
            "for the means; MI's estimate falls with the number of distinct sentences (a resample holds about 63% of "
            "them), so a shift as wide as its interval says the interval is off by about that much.",
            "",
            *table_header(["figure", "a", "b", "a − b", f"{CONFIDENCE:.0%} percentile interval", "shift"]),
        ]
        for k, f in boot["metrics"].items():
            d = DIGITS.get(k, 2)
            interval = f"[{_signed(f['low'], k)}, {_signed(f['high'], k)}]"
            figures = [f"{f['a']:.{d}f}", f"{f['b']:.{d}f}", _signed(f["diff"], k), interval, _signed(f["shift"], k)]
            lines.append(table_line([TITLES[k], *figures]))
    paths[1].write_text("\n".join(lines) + "\n")
    return paths
