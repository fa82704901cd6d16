"""Commands on a trained model: ``evaluate``, ``sample``, ``reconstruct``, ``encode``."""

from __future__ import annotations

from pathlib import Path

import torch

from seqvae.cli.arguments import (
    SPLIT_CHOICES,
    Parser,
    add_decoding_arguments,
    check_outputs,
    count,
    decoding_of,
    load,
    read_sentences,
)


def evaluate(argv: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from seqvae.metrics.evaluate import evaluate_checkpoint

    p = Parser(prog="seqvae evaluate", description="Metrics of a checkpoint on a split.")
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
    check_outputs(files=(a.out or str(Path(a.checkpoint).with_suffix(f".{a.split}.json")),))
    trained = load(a.checkpoint, a.device)
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
        f"(the original authors' per-dimension estimate) can exceed it; written to {results['written_to']}, "
        f"the per-sentence values to {Path(results['written_to']).with_name(results['per_sentence'])}"
    )


def sample(argv: list[str]) -> None:
    p = Parser(prog="seqvae sample", description="Decode sentences from z ~ N(0, I).")
    p.add_argument("checkpoint")
    p.add_argument("-n", "--num", type=count(1), default=10)
    p.add_argument("--seed", type=int, default=0)
    add_decoding_arguments(p, "sample")
    a = p.parse_args(argv)
    decoding = decoding_of(a)
    trained = load(a.checkpoint)
    torch.manual_seed(a.seed)
    z = torch.randn(a.num, trained.model.z_dim)
    v = trained.vocab
    for ids in trained.model.generate(z, v.bos_id, v.eos_id, decoding):
        print(" ".join(v.decode(ids)))


def reconstruct(argv: list[str]) -> None:
    from seqvae.analysis.reconstruction import reconstruct

    p = Parser(prog="seqvae reconstruct", description="Decode the posterior mean (greedily by default).")
    p.add_argument("checkpoint")
    p.add_argument("sentences", nargs="+", help="tokenised sentences, one per argument")
    p.add_argument("--posterior-sample", action="store_true", help="decode z ~ q(z|x) instead of its mean")
    p.add_argument("--seed", type=int, default=0)
    add_decoding_arguments(p, "greedy")
    a = p.parse_args(argv)
    decoding = decoding_of(a)
    trained = load(a.checkpoint)
    sentences = read_sentences(trained, a.sentences)
    torch.manual_seed(a.seed)
    decoded = reconstruct(trained.model, trained.vocab, sentences, a.posterior_sample, decoding)
    for source, words in zip(a.sentences, decoded, strict=True):
        print(f"{source}\n  -> {' '.join(words)}")


def encode(argv: list[str]) -> None:
    from seqvae.analysis.latents import encode_sentences, read_sentences, save_latents

    p = Parser(prog="seqvae encode", description="Posterior parameters of sentences.")
    p.add_argument("checkpoint")
    p.add_argument("file", help="tokenised sentences, one per line")
    p.add_argument("--out", required=True, help=".npy file of shape (N, 2, Z): [:, 0] means, [:, 1] log-variances")
    p.add_argument("--batch-size", type=count(1), default=256)
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    check_outputs(files=(a.out,))
    trained = load(a.checkpoint, a.device)
    sentences = read_sentences(a.file, lowercase=trained.cfg.data.lowercase)
    mu, logvar = encode_sentences(trained.model, trained.vocab, sentences, a.batch_size)
    save_latents(a.out, mu, logvar)
    print(f"wrote {tuple(mu.shape[:1]) + (2,) + tuple(mu.shape[1:])} latents of {a.file} to {a.out}")
