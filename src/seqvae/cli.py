"""The ``seqvae`` command: train, evaluate, sample, reconstruct, and the analyses of a trained model."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from seqvae.config import Config, register_schema

register_schema()

USAGE = """usage: seqvae COMMAND [ARGS ...]

  seqvae train [KEY=VALUE ...]        train (Hydra overrides; -m for sweeps), e.g.
                                      seqvae train corpus=ptb method=uniform dropout.rate=0.4
  seqvae sweep experiment=NAME [scale=cpu|paper] [KEY=VALUE ...]
                                      an experiment: grid, selection, seeds, test evaluation, table
  seqvae report experiment=NAME [scale=cpu] | SWEEP_DIR
                                      table.md/.csv/.json of a sweep (mean ± std over seeds)
  seqvae plot RUN_DIR | RUN_ROOT      a run's training curves, or a sweep's ablation figure
  seqvae evaluate CKPT [--split test] metrics of a checkpoint on a split
  seqvae sample CKPT [-n 10]          sentences decoded from prior samples
  seqvae reconstruct CKPT SENTENCE    encode a sentence, decode the posterior mean
  seqvae encode CKPT FILE --out Z.npy posterior means and log-variances of sentences, (N, 2, Z)
  seqvae probe CKPT                   accuracy of a linear probe on posterior means per label factor
  seqvae saliency CKPT [FILE] --html OUT.html [--json OUT.json]
                                      which words an AWD adversary drops, as a page
  seqvae pos-saliency CKPT --out DIR  adversary score and drop probability per POS tag
  seqvae drop-profile CKPT --out DIR  AWD's drop rate by position and word frequency against uniform
  seqvae interpolate CKPT SOURCE TARGET [--steps 10] | --random-pairs N --out DIR
                                      decode between two posterior means; BERTScore curves
  seqvae data fetch ptb|yahoo|yelp|snli [--dir D]
                                      download a benchmark corpus where its config reads it
"""


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _train(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from seqvae.training.run import fit

    logging.getLogger("lightning.pytorch").propagate = False  # Lightning prints its own messages once
    summary = fit(Config.from_dict(cfg), HydraConfig.get().runtime.output_dir)
    print(json.dumps(summary, indent=2))
    return summary["best_val_nelbo"]


def _report(argv: list[str]) -> None:
    import os

    from seqvae.experiments.report import write_report

    p = argparse.ArgumentParser(
        prog="seqvae report",
        description="Tables of a sweep, from its result files: give its folder, or experiment=NAME [scale=cpu|paper] "
        "for $SEQVAE_RUNS/NAME-SCALE (default runs/, scale cpu), where `seqvae sweep` put it.",
    )
    p.add_argument("where", nargs="+", help="the sweep's folder (holding sweep.json), or experiment=NAME [scale=S]")
    p.add_argument("--out", default=None, help="folder for table.md, .csv and .json (default: the sweep's folder)")
    a = p.parse_args(argv)
    named = dict(arg.split("=", 1) for arg in a.where if "=" in arg)
    if named:
        if set(named) - {"experiment", "scale"} or "experiment" not in named or len(named) != len(a.where):
            p.error("give a folder, or experiment=NAME [scale=cpu|paper]")
        root = Path(os.environ.get("SEQVAE_RUNS", "runs")) / f"{named['experiment']}-{named.get('scale', 'cpu')}"
    elif len(a.where) == 1:
        root = Path(a.where[0])
    else:
        p.error("give one folder")
    if not (root / "sweep.json").is_file():
        sys.exit(f"seqvae report: no sweep.json in {root}; run `seqvae sweep experiment=NAME` first")
    for path in write_report(root, a.out):
        print(f"wrote {path}")
    print((Path(a.out) if a.out else root).joinpath("table.md").read_text())


def _plot(argv: list[str]) -> None:
    from seqvae.experiments.figures import plot_ablation, plot_run

    p = argparse.ArgumentParser(
        prog="seqvae plot",
        description="PNG and SVG from result files: a run folder's training curves (rec, KL, beta, validation "
        "-ELBO, MI, AU), or, given a sweep folder, its metrics against the sweep's factor (rate, lambda ablations).",
    )
    p.add_argument("path", help="a run folder (holding logs/) or a sweep folder (holding table.json)")
    p.add_argument("--out", default=None, help="folder for the figure (default: PATH)")
    a = p.parse_args(argv)
    path = Path(a.path)
    try:
        paths = plot_ablation(path, a.out) if (path / "table.json").is_file() else plot_run(path, a.out)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(f"seqvae plot: {err}")
    for out in paths:
        print(f"wrote {out}")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _tokens(task, sentence: str) -> list[str]:
    """A command-line sentence tokenised as the checkpoint's corpus was read (whitespace, lowercased if it was)."""
    return (sentence.lower() if task.cfg.data.lowercase else sentence).split()


def _evaluate(argv: list[str]) -> None:
    from seqvae.metrics.report import evaluate_checkpoint

    p = argparse.ArgumentParser(prog="seqvae evaluate", description="Metrics of a checkpoint on a split.")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--samples", type=int, default=500, help="importance samples S for the NLL (0 skips it)")
    p.add_argument("--max-sentences", type=int, default=None, help="evaluate the first N sentences only")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--data-dir", default=None, help="read the corpus from here instead of the trained path")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON file for the results (default: next to the checkpoint)")
    a = p.parse_args(argv)
    evaluate_checkpoint(
        a.checkpoint,
        a.split,
        samples=a.samples,
        max_sentences=a.max_sentences,
        batch_size=a.batch_size,
        data_dir=a.data_dir,
        device=_device(a.device),
        seed=a.seed,
        out=a.out,
    )


def _sample(argv: list[str]) -> None:
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(prog="seqvae sample", description="Decode sentences from z ~ N(0, I).")
    p.add_argument("checkpoint")
    p.add_argument("-n", "--num", type=int, default=10)
    p.add_argument("--greedy", action="store_true", help="argmax decoding (default: sample words)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    task = load_task(a.checkpoint)
    z = torch.randn(a.num, task.model.z_dim)
    v = task.vocab
    for ids in task.model.generate(z, v.bos_id, v.eos_id, a.max_len, a.greedy, a.temperature):
        print(" ".join(v.decode(ids)))


def _reconstruct(argv: list[str]) -> None:
    from seqvae.analysis.reconstruction import reconstruct
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(prog="seqvae reconstruct", description="Greedy decoding of the posterior mean.")
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="+", help="tokenised sentences, one per argument")
    p.add_argument("--posterior-sample", action="store_true", help="decode z ~ q(z|x) instead of its mean")
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    torch.manual_seed(a.seed)
    task = load_task(a.checkpoint)
    sentences = [_tokens(task, s) for s in a.sentences]
    try:
        decoded = reconstruct(task.model, task.vocab, sentences, a.posterior_sample, a.max_len)
    except ValueError as err:
        sys.exit(f"seqvae reconstruct: {err}")
    for source, words in zip(a.sentences, decoded, strict=True):
        print(f"{source}\n  -> {' '.join(words)}")


def _encode(argv: list[str]) -> None:
    from seqvae.analysis.latents import encode_sentences, read_sentences, save_latents
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(prog="seqvae encode", description="Posterior parameters of sentences.")
    p.add_argument("checkpoint")
    p.add_argument("file", help="tokenised sentences, one per line")
    p.add_argument("--out", required=True, help=".npy file of shape (N, 2, Z): [:, 0] means, [:, 1] log-variances")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    task = load_task(a.checkpoint, map_location=_device(a.device))
    try:
        sentences = read_sentences(a.file, lowercase=task.cfg.data.lowercase)
    except ValueError as err:
        sys.exit(f"seqvae encode: {err}")
    mu, logvar = encode_sentences(task.model, task.vocab, sentences, a.batch_size)
    save_latents(a.out, mu, logvar)
    print(f"wrote {tuple(mu.shape[:1]) + (2,) + tuple(mu.shape[1:])} latents of {a.file} to {a.out}")


def _probe(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqvae.analysis.probe import probe_checkpoint

    p = argparse.ArgumentParser(
        prog="seqvae probe",
        description="Logistic-regression probes on posterior means: fitted on one split, scored on another. Labels: "
        "<split>.labels.tsv beside the corpus files (the embedded corpus's factors), a labelled corpus, or --labels.",
    )
    p.add_argument("checkpoint")
    p.add_argument("--fit-split", default="train", choices=["train", "valid", "test"])
    p.add_argument("--score-split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--labels", nargs=2, metavar=("FIT_TSV", "SCORE_TSV"), help="label TSVs (header row) of both splits")
    p.add_argument("--factors", nargs="+", help="label columns to probe (default: all)")
    p.add_argument("--max-fit", type=int, default=None, help="fit on the first N sentences only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    a = p.parse_args(argv)
    fit_labels, score_labels = a.labels or (None, None)
    try:
        results = probe_checkpoint(
            a.checkpoint, a.fit_split, a.score_split, fit_labels, score_labels, a.factors, a.max_fit, a.seed
        )
    except ValueError as err:
        sys.exit(f"seqvae probe: {err}")
    table = Table(title=f"probes on posterior means: fit on {a.fit_split}, scored on {a.score_split}")
    for column in ("factor", "accuracy", "majority", "chance", "classes", "fit", "scored"):
        table.add_column(column, justify="left" if column == "factor" else "right")
    for r in results:
        table.add_row(
            r.factor,
            f"{r.accuracy:.3f}",
            f"{r.majority:.3f}",
            f"{r.chance:.3f}",
            str(len(r.classes)),
            str(r.n_fit),
            str(r.n_scored),
        )
    Console().print(table)
    if a.out:
        Path(a.out).write_text(json.dumps([r.to_dict() for r in results], indent=2) + "\n")


def _saliency(argv: list[str]) -> None:
    from seqvae.analysis.saliency import NotAdversarialError, bracketed, saliency_report

    p = argparse.ArgumentParser(prog="seqvae saliency", description="Which words an AWD checkpoint's adversary drops.")
    p.add_argument("checkpoint")
    p.add_argument("file", nargs="?", help="tokenised sentences, one per line (default: sentences of --split)")
    p.add_argument("-n", "--num", type=int, help="first N sentences (default: all of FILE, 20 of --split)")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--html", default=None, help="write the self-contained page here")
    p.add_argument("--json", default=None, help="write all numbers here")
    p.add_argument("--samples", type=int, default=1000, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.html is None and a.json is None:
        p.error("give --html and/or --json")
    n = a.num if a.num is not None or a.file else 20
    try:
        data = saliency_report(a.checkpoint, a.file, a.split, n, a.samples, a.seed, a.html, a.json)
    except NotAdversarialError as err:
        sys.exit(f"seqvae saliency: {err}")
    for sentence in data["sentences"]:
        print(bracketed(sentence))


def _pos_saliency(argv: list[str]) -> None:
    from seqvae.analysis.pos_saliency import pos_saliency_report
    from seqvae.analysis.saliency import NotAdversarialError

    p = argparse.ArgumentParser(
        prog="seqvae pos-saliency", description="Mean adversary score and drop probability per universal POS tag."
    )
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for pos_saliency.csv, .png and .svg")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("-n", "--num", type=int, default=None, help="first N sentences of the split (default: all)")
    p.add_argument("--samples", type=int, default=1000, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        rows = pos_saliency_report(a.checkpoint, a.out, a.split, a.num, a.samples, a.seed)
    except (NotAdversarialError, ImportError) as err:
        sys.exit(f"seqvae pos-saliency: {err}")
    print(f"{'tag':6s} {'count':>7s} {'normalised':>10s} {'P(drop)':>8s}")
    for row in rows:
        print(f"{row.tag:6s} {row.count:7d} {row.mean_normalised:+10.3f} {row.mean_drop_prob:8.3f}")


def _drop_profile(argv: list[str]) -> None:
    from seqvae.analysis.drop_profile import drop_profile_report
    from seqvae.analysis.saliency import NotAdversarialError

    p = argparse.ArgumentParser(
        prog="seqvae drop-profile",
        description="AWD's mean drop probability by relative position and by training-word frequency, against "
        "uniform exact-K dropout's K/T.",
    )
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for drop_profile.csv, .png and .svg")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("-n", "--num", type=int, default=None, help="first N sentences of the split (default: all)")
    p.add_argument("--samples", type=int, default=200, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    try:
        rows = drop_profile_report(a.checkpoint, a.out, a.split, a.num, a.samples, a.seed)
    except NotAdversarialError as err:
        sys.exit(f"seqvae drop-profile: {err}")
    print(f"{'kind':10s} {'group':14s} {'positions':>9s} {'AWD':>6s} {'uniform':>7s} {'ratio':>6s}")
    for r in rows:
        awd, uniform = r.awd_drop_prob, r.uniform_drop_prob
        print(f"{r.kind:10s} {r.group:14s} {r.positions:9d} {awd:6.3f} {uniform:7.3f} {r.ratio:6.2f}")


def _interpolate(argv: list[str]) -> None:
    from seqvae.analysis.interpolation import interpolate
    from seqvae.analysis.interpolation_curves import curve_rows, interpolation_report, random_pairs, read_pairs
    from seqvae.analysis.similarity import BertScoreF1
    from seqvae.data.datamodule import load_split
    from seqvae.training.task import load_task

    p = argparse.ArgumentParser(
        prog="seqvae interpolate",
        description="Decode points between two posterior means (Table 3); with --out, score them against both ends "
        "with BERTScore F1 and plot the curves averaged over pairs (Figure 4b).",
    )
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="source and target, tokenised")
    p.add_argument("--steps", type=int, default=10, help="points K on the line, both ends included")
    p.add_argument("--sample", action="store_true", help="sample words (default: greedy decoding)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--max-len", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="seeds --sample and --random-pairs")
    p.add_argument("--pairs", help="file of 'source<TAB>target' lines")
    p.add_argument("--random-pairs", type=int, metavar="N", help="N random pairs of sentences of --split")
    p.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    p.add_argument("--out", help="folder for interpolation.json, .csv, .png and .svg")
    p.add_argument("--model", help="BERTScore model name or folder (default: the packaged, offline all-MiniLM-L6-v2)")
    p.add_argument("--num-layers", type=int, help="BERTScore layer (for a --model without a bert-score default)")
    p.add_argument("--rescale", action="store_true", help="rescale BERTScore with a baseline (see --baseline-path)")
    p.add_argument("--baseline-path", help="bert-score baseline file for --rescale")
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    if a.sentences and len(a.sentences) != 2 or sum(map(bool, (a.sentences, a.pairs, a.random_pairs))) != 1:
        p.error("give SOURCE TARGET, --pairs FILE or --random-pairs N")
    if a.out is None and not a.sentences:
        p.error("--pairs and --random-pairs need --out DIR")
    if a.steps < 2:
        p.error("--steps must be >= 2 (both ends are decoded)")
    device = _device(a.device)
    task = load_task(a.checkpoint, map_location=device)
    task.model.to(device)
    try:
        if a.pairs:
            pairs, origin = read_pairs(a.pairs, task.cfg.data.lowercase), a.pairs
        elif a.random_pairs:
            split = load_split(task.cfg.data, a.split).sentences
            pairs = random_pairs(split, a.random_pairs, a.seed)
            origin = f"{a.random_pairs} random pairs of the {a.split} split of {task.cfg.data.name} (seed {a.seed})"
        else:
            pairs, origin = [tuple(_tokens(task, s) for s in a.sentences)], "command line"
        if a.out is None:
            torch.manual_seed(a.seed)
            it = interpolate(task.model, task.vocab, *pairs[0], a.steps, not a.sample, a.temperature, a.max_len)
            for t, sentence in zip(it.t.tolist(), it.sentences, strict=True):
                print(f"{t:.2f}  {' '.join(sentence)}")
            return
        scorer = BertScoreF1(a.model, a.num_layers, a.rescale, a.baseline_path, str(device))
        decoding = dict(greedy=not a.sample, temperature=a.temperature, max_len=a.max_len, seed=a.seed)
        result = interpolation_report(
            task, pairs, a.steps, scorer, a.out, **decoding, checkpoint=a.checkpoint, pairs_from=origin
        )
    except (ImportError, OSError, ValueError) as err:
        sys.exit(f"seqvae interpolate: {err}")
    if len(pairs) == 1:
        pair = result["pairs"][0]
        rows = zip(result["t"], pair["sentences"], pair["f1_source"], pair["f1_target"], strict=True)
        for t, sentence, fs, ft in rows:
            print(f"{t:.2f}  F1 {fs:.3f} / {ft:.3f}  {sentence}")
    print(f"{result['similarity']['metric']} to source / target, mean ± std over {result['num_pairs']} pair(s):")
    for _, t, src_mean, src_std, tgt_mean, tgt_std, _ in curve_rows(result):
        print(f"{t:.2f}  {src_mean:.3f} ± {src_std:.3f} / {tgt_mean:.3f} ± {tgt_std:.3f}")
    print(f"source to target: {result['mean_f1_ends']:.3f}; distinct sentences per pair: {result['mean_distinct']:.1f}")
    print(f"wrote interpolation.json, .csv, .png and .svg to {a.out}")


def _data(argv: list[str]) -> None:
    from seqvae.data.fetch import RELEASES, FetchError, fetch

    p = argparse.ArgumentParser(prog="seqvae data", description="Benchmark corpora.")
    actions = p.add_subparsers(dest="action", required=True)
    f = actions.add_parser("fetch", help="download a corpus, resuming and checking md5 checksums")
    f.add_argument("corpus", choices=sorted(RELEASES))
    f.add_argument("--dir", default=None, help="data root (default: $SEQVAE_DATA or ../shared/data, as the configs)")
    a = p.parse_args(argv)
    try:
        folder = fetch(a.corpus, a.dir)
    except (FetchError, OSError) as err:
        sys.exit(f"seqvae data: {err}")
    print(f"{a.corpus} is in {folder}")


COMMANDS = {
    "report": _report,
    "plot": _plot,
    "encode": _encode,
    "probe": _probe,
    "evaluate": _evaluate,
    "sample": _sample,
    "reconstruct": _reconstruct,
    "saliency": _saliency,
    "pos-saliency": _pos_saliency,
    "interpolate": _interpolate,
    "drop-profile": _drop_profile,
    "data": _data,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqvae`` console command."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command == "train":
        sys.argv = [f"{sys.argv[0]} train", *rest]
        _train()
    elif command == "sweep":
        if not any(arg.startswith("experiment=") for arg in rest):
            sys.exit("seqvae sweep: name an experiment, e.g. seqvae sweep experiment=ptb-table scale=cpu")
        sys.argv = [f"{sys.argv[0]} sweep", "--multirun", *rest]
        _train()
    elif command in COMMANDS:
        COMMANDS[command](rest)
    else:
        sys.exit(f"seqvae: unknown command {command!r}\n\n{USAGE}")
