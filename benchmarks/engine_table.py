"""Speed of the training step and of the importance-weighted NLL on PTB, as markdown tables (and JSON).

Training rows: decoder (lstm, double-lstm-reference, double-lstm, double-lstm-compiled: the fused decoder with
``train.compile=true``, its first-step compilation inside the warm-up, and transformer: ``d_model`` = the hidden
size, the other ``model.tf_*`` settings at their defaults unless ``--override``) x word dropout (none, awd) x
hidden size (encoder and decoder), each model and optimiser built by the project's own code (``compose_config``
with ``corpus=ptb``, then :class:`VAETask`, which calls ``SequenceVAE.from_config`` and builds the run's
optimiser). A step is what the trainer does with a batch: the batch to the device, forward with word dropout
(under bf16 autocast for ``bf16-mixed``), loss ``mean(rec + beta * KL + R_psi)``, its finite check, backward,
gradient-norm clipping and the optimiser step. Lightning's logging and the EMA weight update are left out
(``train_throughput.py`` times the whole Lightning loop). Every row trains on the same PTB batches from the same
initial seed, and the ratios are of tokens/s measured in this run: fused/ref = double-lstm (or
double-lstm-compiled) over double-lstm-reference (same method and hidden), awd/none = awd over none (same decoder
and hidden).

IW-NLL rows: ``-log p(x)`` with S importance samples (``iw_log_marginal``, called as ``seqvae evaluate`` does)
on the first N test sentences, for each decoder and hidden size, on the model its first training row left.

    python benchmarks/engine_table.py                        # every row, on the GPU if there is one
    python benchmarks/engine_table.py --decoders double-lstm --precision bf16-mixed --json bf16.json
    python benchmarks/engine_table.py --device cpu --steps 2 --warmup 1 --emb 32 --hidden 64 \\
        --iw-samples 4 --iw-sentences 8                      # a smoke run

PTB is read as the ``ptb`` corpus config says: ``$SEQVAE_DATA/ptb``, else ``../shared/data/ptb`` (from the
working directory).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import itertools
import json
import platform
import resource
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from seqvae.config import Config, compose_config
from seqvae.data.batching import Batch
from seqvae.data.datamodule import TextDataModule, sentence_loader, split_path
from seqvae.metrics.importance import iw_log_marginal
from seqvae.models.decoders import DECODERS
from seqvae.training.task import VAETask

METHODS = ("none", "awd")
FUSED, REFERENCE = "double-lstm", "double-lstm-reference"
COMPILED = "double-lstm-compiled"  # the fused decoder with train.compile=true
TRANSFORMER = "transformer"
DECODER_CHOICES = [*DECODERS, COMPILED]
Autocast = Callable[[], AbstractContextManager]


@dataclass
class TrainRow:
    """One training configuration's timing; ``fused_over_ref`` (fused or compiled over the reference) and
    ``awd_over_none`` are ratios of tokens/s."""

    decoder: str
    method: str
    hidden: int
    steps: int
    tokens: int
    seconds: float
    tokens_per_s: float
    ms_per_step: float
    peak_mib: float
    final_loss: float
    fused_over_ref: float | None = None
    awd_over_none: float | None = None


@dataclass
class IWRow:
    """Importance-weighted NLL timing of one decoder and hidden size; ``fused_over_ref`` is of sentences/s."""

    decoder: str
    hidden: int
    sentences: int
    samples: int
    seconds: float
    sentences_per_s: float
    nll: float
    peak_mib: float
    fused_over_ref: float | None = None


class PeakMemory:
    """Peak memory of a row in MiB: ``torch.cuda.max_memory_allocated`` on CUDA; on the CPU the growth of the
    process's resident set, from its high-water mark (VmHWM) reset per row through ``/proc/self/clear_refs``,
    or, where that reset is refused, of ``getrusage``'s ``ru_maxrss`` (a process-long high-water mark)."""

    HOW = {
        "cuda": "torch.cuda.max_memory_allocated (reset per row)",
        "hwm": "peak RSS growth over the row (VmHWM, reset per row via /proc/self/clear_refs)",
        "maxrss": "ru_maxrss growth (process high-water mark: a row under an earlier row's peak shows 0)",
    }

    def __init__(self, device: torch.device):
        self.device = device
        self.mode = "cuda" if device.type == "cuda" else "hwm" if self._reset_hwm() else "maxrss"
        self.how = self.HOW[self.mode]
        self.base_kib = 0

    @staticmethod
    def _reset_hwm() -> bool:
        try:
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    @staticmethod
    def _status_kib(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def start(self) -> None:
        """Begin a row: free what earlier rows left and forget their peaks."""
        gc.collect()
        if self.mode == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
            return
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
        if self.mode == "hwm":
            self._reset_hwm()
            self.base_kib = self._status_kib("VmRSS")
        else:
            self.base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def peak_mib(self) -> float:
        """Peak since :meth:`start`."""
        if self.mode == "cuda":
            return torch.cuda.max_memory_allocated(self.device) / 2**20
        if self.mode == "hwm":
            return (self._status_kib("VmHWM") - self.base_kib) / 1024
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - self.base_kib) / 1024


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, precision: str) -> Autocast:
    """The context the trainer runs forward and loss in: bf16 autocast for ``bf16-mixed``, else none."""
    return lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed")


def row_config(args: argparse.Namespace, decoder: str, method: str, hidden: int) -> Config:
    """The run config of one row: PTB, the method, the sizes, then ``--override``."""
    return compose_config(
        [
            "corpus=ptb",
            "size=paper",
            f"method={method}",
            f"model.decoder={FUSED if decoder == COMPILED else decoder}",
            f"train.compile={decoder == COMPILED}",
            f"model.emb_dim={args.emb}",
            f"model.enc_hidden={hidden}",
            f"model.dec_hidden={hidden}",
            f"data.batch_size={args.batch_size}",
            f"seed={args.seed}",
            *args.override,
        ]
    )


def load_ptb(cfg: Config) -> TextDataModule:
    """PTB's vocabulary and encoded training split, or exit with where the files were looked for."""
    missing = [str(split_path(cfg.data, s)) for s in ("train", "test") if not split_path(cfg.data, s).is_file()]
    if missing:
        sys.exit(
            f"PTB not found: {', '.join(missing)} missing. The ptb corpus config reads $SEQVAE_DATA/ptb, else "
            "../shared/data/ptb from the working directory: set SEQVAE_DATA to the folder that holds ptb/."
        )
    return TextDataModule(cfg.data, seed=cfg.seed)


def train_step(
    task: VAETask, optimizer: torch.optim.Optimizer, batch: Batch, step: int, device: torch.device, amp: Autocast
) -> torch.Tensor:
    """One trainer step on ``batch`` (see the module docstring); returns the detached loss."""
    cfg = task.cfg
    tokens, lengths = batch.tokens.to(device), batch.lengths.to(device)
    optimizer.zero_grad(set_to_none=True)
    with amp():
        out = task.model(tokens, lengths)
        loss = out.loss(cfg.anneal.beta(step), cfg.anneal.free_bits)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"non-finite loss at step {step}")
    loss.backward()
    torch.nn.utils.clip_grad_norm_(task.parameters(), cfg.optim.grad_clip)
    optimizer.step()
    return loss.detach()


def time_training(
    task: VAETask, batches: list[Batch], warmup: int, device: torch.device, amp: Autocast
) -> tuple[float, int, float]:
    """Seconds and predicted tokens of the steps after ``warmup``, and the last loss."""
    task.train()
    optimizer = task.configure_optimizers()["optimizer"]
    for step, batch in enumerate(batches[:warmup]):
        train_step(task, optimizer, batch, step, device, amp)
    synchronize(device)
    start = time.perf_counter()
    for step, batch in enumerate(batches[warmup:], start=warmup):
        loss = train_step(task, optimizer, batch, step, device, amp)
    synchronize(device)
    seconds = time.perf_counter() - start
    return seconds, sum(b.num_tokens for b in batches[warmup:]), float(loss)


@torch.no_grad()
def time_iw(task: VAETask, loader, samples: int, device: torch.device, amp: Autocast) -> tuple[float, int, float]:
    """Seconds, sentences and mean ``-log p(x)`` of the IW estimate over ``loader`` (after a 2-sample warm-up)."""
    model = task.model.eval()
    batches = list(loader)

    def nll_sum(batch: Batch, s: int) -> torch.Tensor:
        x, lengths = batch.tokens.to(device), batch.lengths.to(device)
        with amp():
            log_px, _ = iw_log_marginal(model, x, *model.encode(x, lengths), s)
        return -log_px.sum()

    nll_sum(batches[0], 2)
    synchronize(device)
    start = time.perf_counter()
    total = sum(nll_sum(b, samples) for b in batches)
    synchronize(device)
    seconds = time.perf_counter() - start
    n = sum(b.lengths.numel() for b in batches)
    return seconds, n, float(total) / n


def add_ratios(train: list[TrainRow], iw: list[IWRow]) -> None:
    """Fill fused/ref and awd/none from rows measured in this run."""
    by_key = {(r.decoder, r.method, r.hidden): r for r in train}
    for r in train:
        ref = by_key.get((REFERENCE, r.method, r.hidden))
        if r.decoder in (FUSED, COMPILED) and ref is not None:
            r.fused_over_ref = r.tokens_per_s / ref.tokens_per_s
        none = by_key.get((r.decoder, "none", r.hidden))
        if r.method == "awd" and none is not None:
            r.awd_over_none = r.tokens_per_s / none.tokens_per_s
    iw_by_key = {(r.decoder, r.hidden): r for r in iw}
    for r in iw:
        ref = iw_by_key.get((REFERENCE, r.hidden))
        if r.decoder in (FUSED, COMPILED) and ref is not None:
            r.fused_over_ref = r.sentences_per_s / ref.sentences_per_s


def ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def markdown(meta: dict, train: list[TrainRow], iw: list[IWRow]) -> str:
    """The header lines and the two tables."""
    lines = [f"- {key}: {value}" for key, value in meta.items()]
    lines += [
        "",
        "| decoder | method | hidden | tokens/s | ms/step | peak MiB | fused/ref | awd/none |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in train:
        lines.append(
            f"| {r.decoder} | {r.method} | {r.hidden} | {r.tokens_per_s:,.0f} | {r.ms_per_step:.1f} | "
            f"{r.peak_mib:,.0f} | {ratio(r.fused_over_ref)} | {ratio(r.awd_over_none)} |"
        )
    if iw:
        lines += [
            "",
            "| IW-NLL decoder | hidden | sentences | S | seconds | sentences/s | nll/sentence | peak MiB | fused/ref |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in iw:
            lines.append(
                f"| {r.decoder} | {r.hidden} | {r.sentences} | {r.samples} | {r.seconds:.2f} | "
                f"{r.sentences_per_s:,.1f} | {r.nll:.2f} | {r.peak_mib:,.0f} | {ratio(r.fused_over_ref)} |"
            )
    return "\n".join(lines)


def describe(args: argparse.Namespace, cfg: Config, dm: TextDataModule, memory: PeakMemory, tokens: int) -> dict:
    """Run facts for the header: device, versions, threads, data and settings."""
    device = args.device
    if device.type == "cuda":
        name = f"{torch.cuda.get_device_name(device)} (cuda, CUDA {torch.version.cuda}, "
        name += f"cuDNN {torch.backends.cudnn.version()})"
    else:
        name = f"cpu ({platform.processor() or platform.machine()})"
    return {
        "device": name,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "precision": args.precision,
        "float32 matmul precision": torch.get_float32_matmul_precision(),
        "data": f"PTB at {Path(dm.cfg.dir).resolve()}, vocabulary {len(dm.vocab)}, batch {args.batch_size}",
        "sizes": f"emb {args.emb}, z {cfg.model.z_dim}, hidden {'/'.join(map(str, args.hidden))} (encoder = decoder)",
        "optimiser": f"{cfg.optim.name}, lr {cfg.optim.lr}, clip {cfg.optim.grad_clip}",
        "steps": f"{args.steps} timed after {args.warmup} warm-up, the same {tokens:,} predicted tokens each row",
        "iw": f"S={args.iw_samples} on the first {args.iw_sentences} test sentences" if args.iw_sentences else "off",
        "memory": memory.how,
        "ratios": "of tokens/s (IW: of sentences/s), both rows from this run",
    }


def write_json(path: Path | None, meta: dict, train: list[TrainRow], iw: list[IWRow], complete: bool) -> None:
    if path is not None:
        doc = {"meta": meta, "train": [asdict(r) for r in train], "iw": [asdict(r) for r in iw], "complete": complete}
        path.write_text(json.dumps(doc, indent=2) + "\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--decoders", nargs="+", default=["lstm", REFERENCE, FUSED, COMPILED, TRANSFORMER], choices=DECODER_CHOICES
    )
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--hidden", nargs="+", type=int, default=[1024, 2048], help="encoder and decoder hidden sizes")
    p.add_argument("--emb", type=int, default=512)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=30, help="timed training steps per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps before them")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="32-true", choices=["32-true", "bf16-mixed"])
    p.add_argument("--matmul-precision", choices=["highest", "high", "medium"], help="torch float32 matmul precision")
    p.add_argument("--iw-samples", type=int, default=500, help="importance samples S")
    p.add_argument("--iw-sentences", type=int, default=200, help="first N test sentences (0: no IW rows)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--override", nargs="*", default=[], help="Hydra overrides for every row, e.g. optim.name=adam")
    p.add_argument("--json", type=Path, help="write the rows here (rewritten after each row)")
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 0 or args.iw_samples < 1 or args.iw_sentences < 0:
        p.error("need --steps >= 1, --warmup >= 0, --iw-samples >= 1, --iw-sentences >= 0")
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda, but torch sees no CUDA device")
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    args.device = torch.device(args.device)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.matmul_precision:
        torch.set_float32_matmul_precision(args.matmul_precision)
    device, amp = args.device, autocast(args.device, args.precision)
    base = row_config(args, args.decoders[0], args.methods[0], args.hidden[0])
    dm = load_ptb(base)
    batches = list(itertools.islice(itertools.cycle(dm.loader("train", shuffle=True)), args.warmup + args.steps))
    iw_loader = sentence_loader(dm.split("test")[: args.iw_sentences], dm.vocab, dm.cfg.eval_batch_size)
    memory = PeakMemory(device)
    meta = describe(args, base, dm, memory, sum(b.num_tokens for b in batches[args.warmup :]))
    train: list[TrainRow] = []
    iw: list[IWRow] = []
    cases = [(h, d, m) for h in args.hidden for d in args.decoders for m in args.methods]
    for i, (hidden, decoder, method) in enumerate(cases, start=1):
        memory.start()
        torch.manual_seed(args.seed)
        task = VAETask(row_config(args, decoder, method, hidden).to_dict(), dm.vocab.words).to(device)
        seconds, tokens, loss = time_training(task, batches, args.warmup, device, amp)
        row = TrainRow(
            decoder=decoder,
            method=method,
            hidden=hidden,
            steps=args.steps,
            tokens=tokens,
            seconds=seconds,
            tokens_per_s=tokens / seconds,
            ms_per_step=1000 * seconds / args.steps,
            peak_mib=memory.peak_mib(),
            final_loss=loss,
        )
        train.append(row)
        print(
            f"[{i}/{len(cases)}] {decoder} {method} {hidden}: {row.tokens_per_s:,.0f} tokens/s, "
            f"{row.ms_per_step:.1f} ms/step, {row.peak_mib:,.0f} MiB",
            file=sys.stderr,
            flush=True,
        )
        if args.iw_sentences and method == args.methods[0]:
            memory.start()
            torch.manual_seed(args.seed)
            seconds, n, nll = time_iw(task, iw_loader, args.iw_samples, device, amp)
            iw.append(IWRow(decoder, hidden, n, args.iw_samples, seconds, n / seconds, nll, memory.peak_mib()))
            print(f"      IW-NLL: {n / seconds:,.1f} sentences/s ({seconds:.2f} s)", file=sys.stderr, flush=True)
        del task
        add_ratios(train, iw)
        write_json(args.json, meta, train, iw, complete=False)
    write_json(args.json, meta, train, iw, complete=True)
    print(markdown(meta, train, iw))


if __name__ == "__main__":
    main()
