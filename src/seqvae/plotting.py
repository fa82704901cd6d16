"""How every figure of the library is written: drawn on a bare matplotlib ``Figure`` (no pyplot state, no
display needed), saved as PNG (150 dpi) and SVG side by side, byte for byte the same when drawn again from the
same data (no date in the SVG, its element ids salted by the file name), so a regenerated figure shows in a diff
only where its data changed."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

FORMATS = ("png", "svg")


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """``out_dir/stem.png`` and ``out_dir/stem.svg`` (``out_dir`` made if missing); returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{suffix}" for suffix in FORMATS]
    with matplotlib.rc_context({"svg.hashsalt": stem}):
        for path in paths:
            fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Date": None} if path.suffix == ".svg" else None)
    return paths
