"""Where results are written: folders and files checked before the work that fills them starts, so a bad path
fails at once with its reason instead of after minutes of work."""

from __future__ import annotations

import os
from pathlib import Path


def ensure_dir(path: str | Path, name: str = "output folder") -> Path:
    """Make the folder ``path`` (with its parents) or say in one line why it cannot be one; ``name`` says what it
    is for in the message."""
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{name} {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"cannot make the {name} {folder}: {err.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise ValueError(f"cannot write into the {name} {folder}: permission denied")
    return folder


def check_writable_file(path: str | Path) -> None:
    """Fail now if the file ``path`` cannot be written: it is a folder, or its folder is missing or read-only."""
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"{target} is a folder; give a file name")
    folder = target.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {target}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ValueError(f"cannot write {target}: permission denied")
