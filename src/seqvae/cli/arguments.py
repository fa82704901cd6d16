"""What every command shares: its parser, argument types, and the loading of a checkpoint and of sentences.

Every value is checked before any work starts; a parse error reaches :func:`seqvae.cli.main.main`'s one-line
report (exit status 2) instead of argparse's usage print.
"""

from __future__ import annotations

import argparse
import sys

import torch

from seqvae.checkpoint import TrainedModel, load_checkpoint
from seqvae.cli.errors import UsageError
from seqvae.models.decoding import STRATEGIES, Decoding
from seqvae.outputs import check_writable_file, ensure_dir

SPLIT_CHOICES = ("train", "valid", "test")


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors reach :func:`main`'s one-line report instead of printing the usage."""

    def error(self, message: str):
        raise UsageError(f"{message} (see {self.prog} --help)")


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


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def positive(text: str) -> float:
    """An argparse type: a number > 0."""
    value = _number(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


def non_negative(text: str) -> float:
    """An argparse type: a number >= 0."""
    value = _number(text)
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def probability_mass(text: str) -> float:
    """An argparse type: a number in (0, 1]."""
    value = _number(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value}")
    return value


def check_outputs(files: tuple[str | None, ...] = (), folders: tuple[str | None, ...] = ()) -> None:
    """Check the output files and folders a command was given (``None``: not given) before it starts work."""
    for path in files:
        if path is not None:
            check_writable_file(path)
    for path in folders:
        if path is not None:
            ensure_dir(path)


def device(name: str) -> torch.device:
    """``auto``: CUDA if there is one, else the CPU; any other name as torch reads it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load(path: str, on: str | torch.device = "cpu") -> TrainedModel:
    """The model of the checkpoint at ``path`` on the device ``on`` (a name for :func:`device`, or a device)."""
    return load_checkpoint(path, map_location=device(on) if isinstance(on, str) else on)


def read_sentences(trained: TrainedModel, sentences: list[str]) -> list[list[str]]:
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


def analysis_arguments(prog: str, description: str, samples: int) -> Parser:
    """The arguments shared by the analyses of a split that write a folder (POS saliency, drop profile)."""
    p = Parser(prog=prog, description=description)
    p.add_argument("checkpoint")
    p.add_argument("--out", required=True, help="folder for the CSV and the figure (.png, .svg)")
    p.add_argument("--split", default="valid", choices=SPLIT_CHOICES)
    p.add_argument("-n", "--num", type=count(1), default=None, help="first N sentences of the split (default: all)")
    p.add_argument("--samples", type=count(1), default=samples, help="Monte-Carlo score draws per sentence")
    p.add_argument("--seed", type=int, default=0)
    return p


def add_decoding_arguments(p: Parser, strategy: str) -> None:
    """The decoding options (:class:`seqvae.models.decoding.Decoding`), ``strategy`` the command's default."""
    g = p.add_argument_group("decoding")
    g.add_argument("--decoding", choices=STRATEGIES, default=strategy, help=f"how to pick words (default: {strategy})")
    g.add_argument("--temperature", type=positive, default=Decoding.temperature, help="sample: softmax temperature")
    g.add_argument("--top-k", type=count(0), default=Decoding.top_k, help="sample: among the K most likely (0: all)")
    g.add_argument("--top-p", type=probability_mass, default=Decoding.top_p, help="sample: nucleus mass (1: all)")
    g.add_argument("--beam-width", type=count(1), default=Decoding.beam_width, help="beam: hypotheses kept")
    g.add_argument(
        "--length-penalty", type=non_negative, default=Decoding.length_penalty, help="beam: alpha of log p / |y|^alpha"
    )
    g.add_argument("--max-len", type=count(1), default=Decoding.max_len, help="words decoded at most")


def decoding_of(a: argparse.Namespace) -> Decoding:
    """The :class:`Decoding` the options of :func:`add_decoding_arguments` ask for (checked before any work)."""
    return Decoding(a.decoding, a.temperature, a.top_k, a.top_p, a.beam_width, a.length_penalty, a.max_len)
