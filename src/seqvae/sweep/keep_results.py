"""``seqvae keep-results``: a sweep's result files without its checkpoints, to keep where checkpoints cannot go.

A sweep's tables and paired comparisons are made of each finished run's ``summary.json``, ``config.json``,
``logs/version_*/metrics.csv`` (the curves, best and last epoch), ``tensorboard/version_*/`` event files (the training
hours) and ``eval-<split>.json`` with its ``.sentences.npz`` (about 1 MB on PTB's test split), and of the sweep's
``sweep.json``: kilobytes to a megabyte a run, against tens of megabytes of checkpoints. :func:`copy_results` copies
them, keeping the folder layout, so that a git repository can keep a campaign's results and a new machine can take
them back: a sweep rerun over the copy reuses its finished and evaluated runs, and ``seqvae report``, ``compare`` and
``plot`` work on it. Only a run that has finished is copied (an unfinished one resumes from its checkpoint, which is
not kept); what needs a checkpoint (sampling, the adversary's analyses) needs the run itself. A run that the sweep set
aside to train again (its checkpoint was lost before its evaluation:
:func:`~seqvae.training.run_folders.set_aside`) is set aside in the copy too, so that the copy never mixes the old
run's files with the new one's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from seqvae.sweep.stages import run_state
from seqvae.training.run_folders import LOST, set_aside

# A finished run's result files, as globs in its folder.
RUN_FILES = (
    "summary.json",
    "config.json",
    "eval-*.json",
    "eval-*.sentences.npz",
    "logs/version_*/metrics.csv",
    "tensorboard/version_*/events.out.tfevents.*",
)
SWEEP_FILES = ("sweep.json", "multirun.yaml")


def copy_results(source: str | Path, target: str | Path) -> list[Path]:
    """Copy the result files of every finished run and every sweep under ``source`` (:data:`RUN_FILES`,
    :data:`SWEEP_FILES`) to the same places under ``target``, where ``target`` lacks them or holds an older copy
    (by modification time, which the copy keeps), after setting aside in ``target`` the runs set aside in
    ``source``. Returns the files written."""
    source, target = Path(source), Path(target)
    if not source.is_dir():
        raise ValueError(f"{source} is not a folder")
    for aside in sorted(source.rglob(LOST + "*")):
        mirror = target / aside.relative_to(source)
        if aside.is_dir() and not mirror.exists() and (mirror.parent / "summary.json").is_file():
            set_aside(mirror.parent)
    files = [f for sweep in source.rglob("sweep.json") for name in SWEEP_FILES if (f := sweep.parent / name).is_file()]
    for summary in source.rglob("summary.json"):
        if run_state(summary.parent)[0] == "done":
            files += [f for pattern in RUN_FILES for f in summary.parent.glob(pattern)]
    written = []
    for path in sorted(files):
        copy = target / path.relative_to(source)
        if not copy.is_file() or copy.stat().st_mtime < path.stat().st_mtime:
            copy.parent.mkdir(parents=True, exist_ok=True)
            partial = copy.with_name(copy.name + ".partial")
            shutil.copy2(path, partial)
            partial.replace(copy)
            written.append(copy)
    return written
