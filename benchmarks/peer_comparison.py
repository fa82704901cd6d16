"""Training speed of seqvae against the lagging-encoder VAE of He et al. (2019) on PTB, in one process.

The peer (https://github.com/jxhe/vae-lagging-encoder) is imported from a checkout you name; nothing of it is
copied here. Both train an LSTM-encoder / LSTM-decoder VAE of the same sizes with SGD (lr 1, gradient norm
clipped at 5) on PTB's training split:

- seqvae, loop: ``seqvae train corpus=ptb method=M model.decoder=D``, the whole Lightning loop (data loading,
  logging, EMA weights) timed from batch start to batch start (``train_throughput.py``);
- seqvae, step: the same model's training step alone, as ``engine_table.py`` times it (forward, loss, backward,
  clipping, SGD step; no logging, no EMA), on the first batches of the same loader;
- the peer: its training step as ``text.py`` runs it without aggressive encoder updates (its own
  ``MonoTextData`` batches of sentences of one length, ``vae.loss``, backward, clipping, both optimisers'
  steps, the two ``.item()`` calls of its loss report).

Throughput is predicted tokens per second (every word and ``</s>``) after ``--warmup`` steps. The cases run in
``--rounds`` interleaved rounds so that slow drifts of the machine hit every case alike.

    git clone https://github.com/jxhe/vae-lagging-encoder /tmp/vae-lagging-encoder
    python benchmarks/peer_comparison.py --lagging-encoder /tmp/vae-lagging-encoder
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from engine_table import autocast, time_training
from train_throughput import measure

from seqvae.config import compose_config
from seqvae.data.datamodule import TextDataModule, split_path
from seqvae.training.task import VAETask


def peer_throughput(peer_dir: Path, train_file: Path, a: argparse.Namespace) -> tuple[float, float]:
    """Tokens/s and ms/step of the peer's training step on ``train_file``."""
    sys.path.insert(0, str(peer_dir))
    from data import MonoTextData
    from modules import VAE, LSTMDecoder, LSTMEncoder

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    device = torch.device("cpu")
    args = SimpleNamespace(
        ni=a.emb, enc_nh=a.hidden, dec_nh=a.hidden, nz=a.z, dec_dropout_in=0.5, dec_dropout_out=0.5, device=device
    )
    data = MonoTextData(str(train_file))
    model_init = lambda p: torch.nn.init.uniform_(p, -0.01, 0.01)  # noqa: E731 (the peer's initialisers)
    emb_init = lambda p: torch.nn.init.uniform_(p, -0.1, 0.1)  # noqa: E731
    encoder = LSTMEncoder(args, len(data.vocab), model_init, emb_init)
    vae = VAE(encoder, LSTMDecoder(args, data.vocab, model_init, emb_init), args)
    enc_opt = torch.optim.SGD(vae.encoder.parameters(), lr=1.0)
    dec_opt = torch.optim.SGD(vae.decoder.parameters(), lr=1.0)
    batches = data.create_data_batch(batch_size=a.batch_size, device=device, batch_first=True)
    order = np.random.permutation(len(batches))[: a.steps]
    seconds, tokens = 0.0, 0
    for step, i in enumerate(order):
        batch = batches[i]
        start = time.perf_counter()
        enc_opt.zero_grad()
        dec_opt.zero_grad()
        loss, loss_rc, loss_kl = vae.loss(batch, 1.0, nsamples=1)
        loss.mean(dim=-1).backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 5.0)
        enc_opt.step()
        dec_opt.step()
        loss_rc.sum().item()
        loss_kl.sum().item()
        if step >= a.warmup:
            seconds += time.perf_counter() - start
            tokens += batch.size(0) * (batch.size(1) - 1)
    sys.path.remove(str(peer_dir))
    return tokens / seconds, 1000 * seconds / (len(order) - a.warmup)


def step_throughput(overrides: list[str], steps: int, warmup: int) -> float:
    """Tokens/s of seqvae's bare training step (``engine_table.time_training``) for a config."""
    cfg = compose_config(overrides)
    dm = TextDataModule(cfg.data, seed=cfg.seed)
    batches = list(itertools.islice(dm.loader("train", shuffle=True), steps))
    torch.manual_seed(cfg.seed)
    task = VAETask(cfg.to_dict(), dm.vocab.words)
    cpu = torch.device("cpu")
    seconds, tokens, _ = time_training(task, batches, warmup, cpu, autocast(cpu, "32-true"))
    return tokens / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lagging-encoder", type=Path, required=True, help="checkout of jxhe/vae-lagging-encoder")
    p.add_argument("--cases", nargs="+", default=["none:lstm", "awd:lstm"], help="seqvae METHOD:DECODER cases")
    p.add_argument("--emb", type=int, default=512)
    p.add_argument("--hidden", type=int, default=512, help="encoder and decoder hidden size")
    p.add_argument("--z", type=int, default=32)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=200, help="steps per case and round, warm-up included")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    sizes = [f"model.emb_dim={a.emb}", f"model.enc_hidden={a.hidden}", f"model.dec_hidden={a.hidden}"]
    sizes += [f"model.z_dim={a.z}", f"data.batch_size={a.batch_size}", f"seed={a.seed}", "corpus=ptb", "size=paper"]
    train_file = split_path(compose_config(sizes).data, "train")
    if not train_file.is_file():
        sys.exit(f"PTB not found at {train_file}: set SEQVAE_DATA to the folder that holds ptb/")
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; emb {a.emb}, hidden {a.hidden}, z {a.z}, "
        f"batch {a.batch_size}; {a.steps - a.warmup} timed steps per case and round\n"
    )
    peer_name = "lagging-encoder (peer)"
    rates: dict[str, list[float]] = {peer_name: []}
    for _ in range(a.rounds):
        rates[peer_name].append(peer_throughput(a.lagging_encoder, train_file, a)[0])
        for case in a.cases:
            method, decoder = case.split(":")
            overrides = [*sizes, f"method={method}", f"model.decoder={decoder}"]
            timer = measure(overrides, a.steps, a.warmup)
            rates.setdefault(f"seqvae {case}, loop", []).append(timer.tokens / timer.seconds)
            rates.setdefault(f"seqvae {case}, step", []).append(step_throughput(overrides, a.steps, a.warmup))
    peer = np.mean(rates[peer_name])
    print("| run | tokens/s per round | mean | / peer |\n|---|---|---|---|")
    for name in rates:
        per_round = " / ".join(f"{r:,.0f}" for r in rates[name])
        print(f"| {name} | {per_round} | {np.mean(rates[name]):,.0f} | {np.mean(rates[name]) / peer:.2f} |")


if __name__ == "__main__":
    main()
