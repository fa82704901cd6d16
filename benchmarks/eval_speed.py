"""Throughput of the importance-weighted NLL and the mutual information on the embedded test split.

Random-initialised models (timing only), vocabulary built from the embedded training split:

    python benchmarks/eval_speed.py --device cuda --samples 500 --sentences 1000
    python benchmarks/eval_speed.py --models small --samples 50      # a subset, fewer samples

Prints sentences per second of each metric for each model.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from seqvae.config import DataConfig
from seqvae.data.datamodule import load_split, sentence_loader
from seqvae.data.vocab import Vocabulary
from seqvae.metrics.importance import importance_weighted_nll
from seqvae.metrics.mutual_info import model_mutual_information
from seqvae.models.vae import SequenceVAE

#: name -> (emb_dim, hidden (encoder and decoder), z_dim, decoder, decoder options). ``small-transformer`` is one
#: layer with feed-forward 128: at vocabulary 10,002 (PTB) as many parameters as ``small`` within 0.02%.
MODELS = {
    "small": (128, 256, 32, "lstm", {}),
    "small-transformer": (128, 256, 32, "transformer", {"tf_layers": 1, "tf_ff": 128, "tf_max_len": 256}),
    "1024-lstm": (512, 1024, 32, "lstm", {}),
    "1024-double-lstm": (512, 1024, 32, "double-lstm", {}),
}


def timed(fn: Callable[[], object], device: torch.device) -> tuple[object, float]:
    """Result of ``fn()`` and its wall-clock seconds (device synchronised)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def load_sentences(n: int) -> tuple[list[list[int]], Vocabulary]:
    """The first ``n`` encoded test sentences of the embedded corpus and the training vocabulary."""
    cfg = DataConfig()
    vocab = Vocabulary.build(load_split(cfg, "train").sentences)
    return [vocab.encode(s) for s in load_split(cfg, "test").sentences[:n]], vocab


def bench_model(name: str, sentences: list[list[int]], vocab: Vocabulary, args: argparse.Namespace) -> None:
    """Time IW-NLL and MI of one random model and print sentences/s."""
    emb, hidden, z_dim, decoder, options = MODELS[name]
    torch.manual_seed(args.seed)
    model = SequenceVAE(len(vocab), emb, hidden, hidden, z_dim, decoder, **options).to(args.device).eval()
    loader = sentence_loader(sentences, vocab, args.batch_size)
    if args.device.type == "cuda":
        importance_weighted_nll(model, [next(iter(loader))], samples=2, chunk_tokens=args.chunk_tokens)
    iw, iw_s = timed(lambda: importance_weighted_nll(model, loader, args.samples, args.chunk_tokens), args.device)
    mi, mi_s = timed(lambda: model_mutual_information(model, loader), args.device)
    n = len(sentences)
    print(
        f"{name:>17} | IW-NLL S={args.samples}: {iw_s:8.2f} s, {n / iw_s:9.2f} sent/s (nll {iw.nll:.2f}) "
        f"| MI: {mi_s:6.2f} s, {n / mi_s:9.1f} sent/s (mi {mi:.3f})"
    )


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--samples", type=int, default=500, help="importance samples S")
    p.add_argument("--sentences", type=int, default=1000, help="first N test sentences")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--chunk-tokens", type=int, default=None, help="decoder positions per call (default: by memory)")
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.device = torch.device(args.device)
    return args


def main() -> None:
    args = parse_args()
    sentences, vocab = load_sentences(args.sentences)
    tokens = sum(len(s) + 1 for s in sentences)
    print(
        f"{len(sentences)} sentences, {tokens} tokens (with </s>), vocab {len(vocab)}, device {args.device}, "
        f"threads {torch.get_num_threads()}"
    )
    for name in args.models:
        bench_model(name, sentences, vocab, args)


if __name__ == "__main__":
    main()
