"""Saving figures into a run directory: atomic PNG + SVG in repgeo's style."""

from __future__ import annotations

import io as _io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .._io import atomic_write_bytes
from ..plots._style import style

__all__ = ["save_figure"]


def save_figure(fig: Any, base: str | Path) -> Path:
    """Write ``base.png`` and ``base.svg`` atomically, close the figure, return the PNG path."""
    base = Path(base)
    with style():
        fig.tight_layout()
        for ext in ("svg", "png"):
            buf = _io.BytesIO()
            fig.savefig(buf, format=ext, bbox_inches="tight")
            atomic_write_bytes(base.parent / f"{base.name}.{ext}", buf.getvalue())
    plt.close(fig)
    return base.parent / f"{base.name}.png"
