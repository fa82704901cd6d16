"""A finished run's folder after its machine is gone: the checkpoints its ``summary.json`` names, found where the
folder is now, and the folder set aside so that the run can be trained there again from the start.

``seqvae keep-results`` keeps a run's result files without its checkpoints; on a new machine a sweep takes them back,
and a finished run whose checkpoint it still needs (an evaluation, FBP's pretrained encoder) is trained again.
"""

from __future__ import annotations

from pathlib import Path

LOST = "lost-"
# Where a run with ``train.pretrain_autoencoder`` (FBP) keeps its autoencoder stage: a run folder of its own.
PRETRAIN_DIR = "pretrain"


def saved_checkpoint(run_dir: Path, summary: dict, key: str = "best_checkpoint") -> Path | None:
    """The checkpoint that the finished run of ``summary`` names under ``key`` (``best_checkpoint`` or
    ``last_checkpoint``), in ``run_dir`` where its folder is now (the summary names it where the run was trained);
    ``None`` where it saved none."""
    named = summary.get(key)
    if not named:
        return None
    try:
        return run_dir / Path(named).relative_to(summary["out_dir"])
    except (KeyError, ValueError):
        return Path(named)


def set_aside(run_dir: Path) -> Path:
    """Move what ``run_dir`` holds, but the folders set aside before, into its next ``lost-<n>`` folder (``n`` from
    1), so that its run can be trained there again from the start; returns that folder."""
    taken = [int(p.name.removeprefix(LOST)) for p in run_dir.glob(LOST + "*") if p.name.removeprefix(LOST).isdigit()]
    aside = run_dir / f"{LOST}{max(taken, default=0) + 1}"
    aside.mkdir()
    for entry in run_dir.iterdir():
        if not entry.name.startswith(LOST):
            entry.rename(aside / entry.name)
    return aside
