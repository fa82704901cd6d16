"""The ``seqvae`` command's entry point: dispatch, and one place that turns every expected failure into one line.

Every expected failure (a bad file, argument, config or output path; an interrupted run) ends as one line on
stderr and a non-zero exit status; ``SEQVAE_DEBUG=1`` (or ``seqvae --debug COMMAND``) shows the traceback.
"""

from __future__ import annotations

import os
import sys

from seqvae.cli import analysis, model, runs
from seqvae.cli.errors import EXPECTED, UsageError, one_line
from seqvae.training.interruption import RunInterrupted

USAGE = """usage: seqvae [--debug] COMMAND [ARGS ...]

  seqvae train [KEY=VALUE ...]        train (Hydra overrides; -m for sweeps), e.g.
                                      seqvae train corpus=ptb method=uniform dropout.rate=0.4
  seqvae sweep experiment=NAME [scale=cpu|paper] [KEY=VALUE ...]
                                      an experiment: grid, selection, seeds, test evaluation, table
  seqvae report experiment=NAME[,NAME] [scale=cpu] | SWEEP_DIR ...
                                      table.md/.csv/.json of a sweep (mean ± std over seeds), in progress too
  seqvae compare SWEEP_DIR --a CELL --b CELL [--seed S] [--resamples N]
                                      paired differences of two cells (e.g. --a awd --b uniform): per seed
                                      with a t interval, and a bootstrap over one seed pair's test sentences
  seqvae plot RUN_DIR | SWEEP_DIR ... a run's training curves, a sweep's ablation figure, or table sweeps'
                                      validation -ELBO, KL and MI per epoch
  seqvae keep-results SOURCE TARGET   copy finished runs' result files (no checkpoints) to keep or restore them
  seqvae evaluate CKPT [--split test] metrics of a checkpoint on a split
  seqvae sample CKPT [-n 10]          sentences decoded from prior samples (--decoding sample|greedy|beam)
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
COMMANDS = {
    "train": lambda argv: runs.hydra_command("train", argv),
    "sweep": lambda argv: runs.hydra_command("sweep", argv),
    "report": runs.report,
    "compare": runs.compare,
    "plot": runs.plot,
    "keep-results": runs.keep_results,
    "data": runs.data,
    "evaluate": model.evaluate,
    "sample": model.sample,
    "reconstruct": model.reconstruct,
    "encode": model.encode,
    "probe": analysis.probe,
    "saliency": analysis.saliency,
    "pos-saliency": analysis.pos_saliency,
    "drop-profile": analysis.drop_profile,
    "interpolate": analysis.interpolate,
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``seqvae`` console command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = bool(os.environ.get(DEBUG_ENV)) or argv[:1] == ["--debug"]
    argv = argv[1:] if argv[:1] == ["--debug"] else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"seqvae: error: unknown command {command!r} (see seqvae --help)", file=sys.stderr)
        sys.exit(2)
    try:
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
        print(f"seqvae {command}: error: {one_line(err)}", file=sys.stderr)
        sys.exit(2 if isinstance(err, UsageError) else 1)
