"""The ``seqvae`` command: parses arguments, calls the library, prints.

Every expected failure (a bad file, argument, config or output path; an interrupted run) ends as one line on
stderr and a non-zero exit status; ``SEQVAE_DEBUG=1`` (or ``seqvae --debug COMMAND``) shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import hydra
import torch
from hydra.errors import HydraException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from seqvae.config import Config, register_schema
from seqvae.training.interruption import RunInterrupted

register_schema()

USAGE = """usage: seqvae [--debug] COMMAND [ARGS ...]

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

Errors are one line; SEQVAE_DEBUG=1 or --debug shows the traceback.
"""
DEBUG_ENV = "SEQVAE_DEBUG"
SPLIT_CHOICES = ("train", "valid", "test")


# ---- argument types and output checks: every value is checked before any work starts ----


def count(minimum: int = 1):
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    return parse


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def writable_file(path: str | None) -> None:
    """Fail now if ``path`` cannot be written: a folder, or in a missing or read-only folder."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ValueError(f"cannot write {target}: permission denied")


def output_dir(path: str | None) -> None:
    """Fail now if ``path`` cannot be the output folder: an existing file, or not creatable or writable."""
    if path is None:
        return
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"--out {folder} is an existing file; give a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot make the output folder {folder}: {err.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write into {folder}: permission denied")


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _load(path: str, device: str | torch.device = "cpu"):
    from seqvae.checkpoint import load_checkpoint

    return load_checkpoint(path, map_location=_device(device) if isinstance(device, str) else device)


def _read_sentences(trained, sentences: list[str]) -> list[list[str]]:
    """Command-line sentences tokenised as the corpus was; a note for words read as ``<unk>``, an error if all."""
    tokenised = [trained.tokens(s) for s in sentences]
    for text, words in zip(sentences, tokenised, strict=True):
        unknown = trained.unknown_words(words)
        if not words:
            raise ValueError("an empty sentence; give at least one word")
        if len(unknown) == len(words):
            raise ValueError(f"no word of {text!r} is in the model's vocabulary: every one would be read as <unk>")
        if unknown:
            print(
                f"note: {len(unknown)} of {len(words)} words are not in the vocabulary and are read as <unk>: "
                + " ".join(unknown),
                file=sys.stderr,
            )
    return tokenised


# ---- commands ----


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _train(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from seqvae.training.run import fit

    logging.getLogger("lightning.pytorch").propagate = False  # Lightning prints its own messages once
    summary = fit(Config.from_dict(cfg), HydraConfig.get().runtime.output_dir)
    print(json.dumps(summary, indent=2))
    return summary["best_val_nelbo"]


def _report(argv: list[str]) -> None:
    from seqvae.sweep.plan import sweep_root
    from seqvae.sweep.tables import write_report

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
        root = sweep_root(named["experiment"], named.get("scale", "cpu"))
    elif len(a.where) == 1:
        root = Path(a.where[0])
    else:
        p.error("give one folder")
    if not (root / "sweep.json").is_file():
        raise ValueError(f"no sweep.json in {root}; run `seqvae sweep experiment=NAME` first")
    output_dir(a.out)
    for path in write_report(root, a.out):
        print(f"wrote {path}")
    print((Path(a.out) if a.out else root).joinpath("table.md").read_text())


def _plot(argv: list[str]) -> None:
    from seqvae.sweep.figures import plot_ablation, plot_run

    p = argparse.ArgumentParser(
        prog="seqvae plot",
        description="PNG and SVG from result files: a run folder's training curves (rec, KL, beta, validation "
        "-ELBO, MI, AU), or, given a sweep folder, its metrics against the sweep's factor (rate, lambda ablations).",
    )
    p.add_argument("path", help="a run folder (holding logs/) or a sweep folder (holding table.json)")
    p.add_argument("--out", default=None, help="folder for the figure (default: PATH)")
    a = p.parse_args(argv)
    path = Path(a.path)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    output_dir(a.out)
    for out in plot_ablation(path, a.out) if (path / "table.json").is_file() else plot_run(path, a.out):
        print(f"wrote {out}")


def _evaluate(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqvae.metrics.evaluate import evaluate_checkpoint

    p = argparse.ArgumentParser(prog="seqvae evaluate", description="Metrics of a checkpoint on a split.")
    p.add_argument("checkpoint")
    p.add_argument("--split", default="test", choices=SPLIT_CHOICES)
    p.add_argument("--samples", type=count(0), default=500, help="importance samples S for the NLL (0 skips it)")
    p.add_argument("--max-sentences", type=count(1), default=None, help="evaluate the first N sentences only")
    p.add_argument("--batch-size", type=count(1), default=None)
    p.add_argument("--data-dir", default=None, help="read the corpus from here instead of the trained path")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="JSON file for the results (default: next to the checkpoint)")
    a = p.parse_args(argv)
    if a.data_dir is not None and not Path(a.data_dir).is_dir():
        raise ValueError(f"--data-dir {a.data_dir} is not a folder")
    writable_file(a.out or str(Path(a.checkpoint).with_suffix(f".{a.split}.json")))
    trained = _load(a.checkpoint, a.device)
    results = evaluate_checkpoint(trained, a.split, a.samples, a.max_sentences, a.batch_size, a.data_dir, a.seed, a.out)
    table = Table(title=f"{results['checkpoint']} on {results['split']}")
    table.add_column("metric")
    for name in ("value", "sentences", "tokens", "samples"):
        table.add_column(name, justify="right")
    for key, fig in results["metrics"].items():
        value = f"{fig['value']:.4f}" if isinstance(fig["value"], float) else str(fig["value"])
        table.add_row(key, value, str(fig["sentences"]), str(fig["tokens"]), str(fig["samples"]))
    console = Console()
    console.print(table)
    mi = results["metrics"]["mi"]
    console.print(
        f"tokens include </s>; samples 0 = closed form; mi <= log N = {mi['upper_bound']:.4f}; mi_factorised "
        f"(the original authors' per-dimension estimate) can exceed it; written to {results['written_to']}"
    )


def _sample(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="seqvae sample", description="Decode sentences from z ~ N(0, I).")
    p.add_argument("checkpoint")
    p.add_argument("-n", "--num", type=count(1), default=10)
    p.add_argument("--greedy", action="store_true", help="argmax decoding (default: sample words)")
    p.add_argument("--temperature", type=positive, default=1.0)
    p.add_argument("--max-len", type=count(1), default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    trained = _load(a.checkpoint)
    torch.manual_seed(a.seed)
    z = torch.randn(a.num, trained.model.z_dim)
    v = trained.vocab
    for ids in trained.model.generate(z, v.bos_id, v.eos_id, a.max_len, a.greedy, a.temperature):
        print(" ".join(v.decode(ids)))


def _reconstruct(argv: list[str]) -> None:
    from seqvae.analysis.reconstruction import reconstruct

    p = argparse.ArgumentParser(prog="seqvae reconstruct", description="Greedy decoding of the posterior mean.")
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="+", help="tokenised sentences, one per argument")
    p.add_argument("--posterior-sample", action="store_true", help="decode z ~ q(z|x) instead of its mean")
    p.add_argument("--max-len", type=count(1), default=50)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    trained = _load(a.checkpoint)
    sentences = _read_sentences(trained, a.sentences)
    torch.manual_seed(a.seed)
    decoded = reconstruct(trained.model, trained.vocab, sentences, a.posterior_sample, a.max_len)
    for source, words in zip(a.sentences, decoded, strict=True):
        print(f"{source}\n  -> {' '.join(words)}")


def _encode(argv: list[str]) -> None:
    from seqvae.analysis.latents import encode_sentences, read_sentences, save_latents

    p = argparse.ArgumentParser(prog="seqvae encode", description="Posterior parameters of sentences.")
    p.add_argument("checkpoint")
    p.add_argument("file", help="tokenised sentences, one per line")
    p.add_argument("--out", required=True, help=".npy file of shape (N, 2, Z): [:, 0] means, [:, 1] log-variances")
    p.add_argument("--batch-size", type=count(1), default=256)
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    writable_file(a.out)
    trained = _load(a.checkpoint, a.device)
    sentences = read_sentences(a.file, lowercase=trained.cfg.data.lowercase)
    mu, logvar = encode_sentences(trained.model, trained.vocab, sentences, a.batch_size)
    save_latents(a.out, mu, logvar)
    print(f"wrote {tuple(mu.shape[:1]) + (2,) + tuple(mu.shape[1:])} latents of {a.file} to {a.out}")


def _probe(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqvae.analysis.probe import probe_report

    p = argparse.ArgumentParser(
        prog="seqvae probe",
        description="Logistic-regression probes on posterior means: fitted on one split, scored on another. Labels: "
        "<split>.labels.tsv beside the corpus files (the embedded corpus's factors), a labelled corpus, or --labels.",
    )
    p.add_argument("checkpoint")
    p.add_argument("--fit-split", default="train", choices=SPLIT_CHOICES)
    p.add_argument("--score-split", default="test", choices=SPLIT_CHOICES)
    p.add_argument("--labels", nargs=2, metavar=("FIT_TSV", "SCORE_TSV"), help="label TSVs (header row) of both splits")
    p.add_argument("--factors", nargs="+", help="label columns to probe (default: all)")
    p.add_argument("--max-fit", type=count(2), default=None, help="fit on the first N sentences only")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the results as JSON here")
    a = p.parse_args(argv)
    writable_file(a.out)
    fit_labels, score_labels = a.labels or (None, None)
    results = probe_report(
        _load(a.checkpoint),
        a.out,
        fit_split=a.fit_split,
        score_split=a.score_split,
        fit_labels=fit_labels,
        score_labels=score_labels,
        factors=a.factors,
        max_fit=a.max_fit,
        seed=a.seed,
    )
    table = Table(title=f"probes on posterior means: fit on {a.fit_split}, scored on {a.score_split}")
    for column in ("factor", "accuracy", "majority", "chance", "classes", "fit", "scored"):
        table.add_column(column, justify="left" if column == "factor" else "right")
    for r in results:
        cells = (f"{r.accuracy:.3f}", f"{r.majority:.3f}", f"{r.chance:.3f}", str(len(r.classes)))
        table.add_row(r.factor, *cells, str(r.n_fit), str(r.n_scored))
    Console().print(table)


def _saliency(argv: list[str]) -> None:
    from seqvae.analysis.saliency import bracketed, saliency_report

    p = argparse.ArgumentParser(prog="seqvae saliency", description="Which words an AWD checkpoint's adversary drops.")
    p.add_argument("checkpoint")
    p.add_argument("file", nargs="?", help="tokenised sentences, one per line (default: sentences of --split)")
    p.add_argument("-n", "--num", type=count(1), help="first N sentences (default: all of FILE, 20 of --split)")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("--html", default=None, help="write the self-contained page here")
    p.add_argument("--json", default=None, help="write all numbers here")
    p.add_argument("--samples", type=count(1), default=1000, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.html is None and a.json is None:
        p.error("give --html and/or --json")
    writable_file(a.html)
    writable_file(a.json)
    n = a.num if a.num is not None or a.file else 20
    data = saliency_report(_load(a.checkpoint), a.file, a.split, n, a.samples, a.seed, a.html, a.json)
    for sentence in data["sentences"]:
        print(bracketed(sentence))


def _analysis_arguments(prog: str, description: str, samples: int) -> argparse.ArgumentParser:
    """The arguments shared by the analyses of a split that write a folder (POS saliency, drop profile)."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for the CSV and the figure (.png, .svg)")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("-n", "--num", type=count(1), default=None, help="first N sentences of the split (default: all)")
    p.add_argument("--samples", type=count(1), default=samples, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    return p


def _pos_saliency(argv: list[str]) -> None:
    from seqvae.analysis.pos_saliency import pos_saliency_report, spacy_tagger

    p = _analysis_arguments(
        "seqvae pos-saliency", "Mean adversary score and drop probability per universal POS tag.", 1000
    )
    a = p.parse_args(argv)
    output_dir(a.out)
    tagger = spacy_tagger()
    rows = pos_saliency_report(_load(a.checkpoint), a.out, a.split, a.num, a.samples, a.seed, tagger)
    print(f"{'tag':6s} {'count':>7s} {'normalised':>10s} {'P(drop)':>8s}")
    for row in rows:
        print(f"{row.tag:6s} {row.count:7d} {row.mean_normalised:+10.3f} {row.mean_drop_prob:8.3f}")


def _drop_profile(argv: list[str]) -> None:
    from seqvae.analysis.drop_profile import drop_profile_report

    p = _analysis_arguments(
        "seqvae drop-profile",
        "AWD's mean drop probability by relative position and by training-word frequency, against uniform "
        "exact-K dropout's K/T.",
        200,
    )
    a = p.parse_args(argv)
    output_dir(a.out)
    rows = drop_profile_report(_load(a.checkpoint), a.out, a.split, a.num, a.samples, a.seed)
    print(f"{'kind':10s} {'group':14s} {'positions':>9s} {'AWD':>6s} {'uniform':>7s} {'ratio':>6s}")
    for r in rows:
        awd, uniform = r.awd_drop_prob, r.uniform_drop_prob
        print(f"{r.kind:10s} {r.group:14s} {r.positions:9d} {awd:6.3f} {uniform:7.3f} {r.ratio:6.2f}")


def _interpolate(argv: list[str]) -> None:
    from seqvae.analysis.interpolation import interpolate
    from seqvae.analysis.interpolation_curves import choose_pairs, curve_rows, interpolation_report
    from seqvae.analysis.similarity import BertScoreF1

    p = argparse.ArgumentParser(
        prog="seqvae interpolate",
        description="Decode points between two posterior means (Table 3); with --out, score them against both ends "
        "with BERTScore F1 and plot the curves averaged over pairs (Figure 4b).",
    )
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="source and target, tokenised")
    p.add_argument("--steps", type=count(2), default=10, help="points K on the line, both ends included")
    p.add_argument("--sample", action="store_true", help="sample words (default: greedy decoding)")
    p.add_argument("--temperature", type=positive, default=1.0)
    p.add_argument("--max-len", type=count(1), default=50)
    p.add_argument("--seed", type=int, default=0, help="seeds --sample and --random-pairs")
    p.add_argument("--pairs", help="file of 'source<TAB>target' lines")
    p.add_argument("--random-pairs", type=count(1), metavar="N", help="N random pairs of sentences of --split")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("--out", help="folder for interpolation.json, .csv, .png and .svg")
    p.add_argument("--model", help="BERTScore model name or folder (default: the packaged, offline all-MiniLM-L6-v2)")
    p.add_argument("--num-layers", type=count(1), help="BERTScore layer (for a --model without a bert-score default)")
    p.add_argument("--rescale", action="store_true", help="rescale BERTScore with a baseline (see --baseline-path)")
    p.add_argument("--baseline-path", help="bert-score baseline file for --rescale")
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    if a.sentences and len(a.sentences) != 2 or sum(map(bool, (a.sentences, a.pairs, a.random_pairs))) != 1:
        p.error("give SOURCE TARGET, --pairs FILE or --random-pairs N")
    if a.out is None and not a.sentences:
        p.error("--pairs and --random-pairs need --out DIR")
    output_dir(a.out)
    device = _device(a.device)
    trained = _load(a.checkpoint, device)
    if a.sentences:
        _read_sentences(trained, a.sentences)
    pairs, origin = choose_pairs(trained, a.sentences, a.pairs, a.random_pairs, a.split, a.seed)
    if a.out is None:
        torch.manual_seed(a.seed)
        it = interpolate(trained.model, trained.vocab, *pairs[0], a.steps, not a.sample, a.temperature, a.max_len)
        for t, sentence in zip(it.t.tolist(), it.sentences, strict=True):
            print(f"{t:.2f}  {' '.join(sentence)}")
        return
    scorer = BertScoreF1(a.model, a.num_layers, a.rescale, a.baseline_path, str(device))
    decoding = dict(greedy=not a.sample, temperature=a.temperature, max_len=a.max_len, seed=a.seed)
    result = interpolation_report(
        trained, pairs, a.steps, scorer, a.out, **decoding, checkpoint=a.checkpoint, pairs_from=origin
    )
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
    from seqvae.data.fetch import RELEASES, fetch

    p = argparse.ArgumentParser(prog="seqvae data", description="Benchmark corpora.")
    actions = p.add_subparsers(dest="action", required=True)
    f = actions.add_parser("fetch", help="download a corpus, resuming and checking md5 checksums")
    f.add_argument("corpus", choices=sorted(RELEASES))
    f.add_argument("--dir", default=None, help="data root (default: $SEQVAE_DATA or ../shared/data, as the configs)")
    a = p.parse_args(argv)
    print(f"{a.corpus} is in {fetch(a.corpus, a.dir)}")


def _hydra(command: str, rest: list[str]) -> None:
    """``seqvae train`` and ``seqvae sweep``: Hydra's command line, its errors raised to :func:`main`."""
    if command == "sweep" and not any(arg.startswith("experiment=") for arg in rest):
        raise ValueError("name an experiment, e.g. seqvae sweep experiment=ptb-table scale=cpu")
    if command == "train" and any(arg.startswith("scale=") for arg in rest) and "-m" not in rest:
        raise ValueError("scale= chooses a sweep's protocol (seqvae sweep); for a run's sizes give size=cpu|paper")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing a shortened traceback and exiting
    sys.argv = [f"{sys.argv[0]} {command}", *(["--multirun"] if command == "sweep" else []), *rest]
    _train()


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
# Failures with a message meant for the user: bad files, arguments, configs and outputs, missing extras.
EXPECTED = (ValueError, OSError, ImportError, ArithmeticError, HydraException, OmegaConfBaseException)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqvae`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get(DEBUG_ENV)) or argv[:1] == ["--debug"]
    argv = argv[1:] if argv[:1] == ["--debug"] else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS and command not in ("train", "sweep"):
        sys.exit(f"seqvae: unknown command {command!r}\n\n{USAGE}")
    try:
        if command in ("train", "sweep"):
            _hydra(command, rest)
        else:
            COMMANDS[command](rest)
    except RunInterrupted as stop:
        print(f"seqvae {command}: {stop}", file=sys.stderr)
        sys.exit(stop.exit_status)
    except KeyboardInterrupt:
        print(f"seqvae {command}: interrupted", file=sys.stderr)
        sys.exit(130)
    except EXPECTED as err:
        if debug:
            raise
        message = " ".join(line.strip() for line in str(err).splitlines() if line.strip()) or type(err).__name__
        print(f"seqvae {command}: error: {message}", file=sys.stderr)
        sys.exit(1)
