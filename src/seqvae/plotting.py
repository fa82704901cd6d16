"""How every figure of the library is written: drawn on a bare matplotlib ``Figure`` (no pyplot state, no
display needed), saved as PNG (150 dpi) and SVG side by side."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

FORMATS = ("png", "svg")


def save_figure(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    """``out_dir/stem.png`` and ``out_dir/stem.svg`` (``out_dir`` made if missing); returns both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.{suffix}" for suffix in FORMATS]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths
