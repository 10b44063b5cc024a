"""Figure helpers: a consistent style and atomic PNG + SVG export."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt

from ..runs.io import atomic_write_bytes

__all__ = ["new_figure", "save_figure"]

_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "svg.fonttype": "none",
}


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kw: Any
):
    """``plt.subplots`` with repgeo's style; returns ``(fig, axes)``."""
    size = size or (3.6 * ncols, 3.0 * nrows)
    with plt.rc_context(_STYLE):
        fig, axes = plt.subplots(nrows, ncols, figsize=size, **kw)
    return fig, axes


def save_figure(fig: Any, base: str | Path) -> Path:
    """Write ``base.png`` and ``base.svg`` atomically, close the figure, return the PNG path."""
    base = Path(base)
    with plt.rc_context(_STYLE):
        fig.tight_layout()
        for ext in ("svg", "png"):
            buf = _io.BytesIO()
            fig.savefig(buf, format=ext, bbox_inches="tight")
            atomic_write_bytes(base.with_suffix(f".{ext}"), buf.getvalue())
    plt.close(fig)
    return base.with_suffix(".png")
