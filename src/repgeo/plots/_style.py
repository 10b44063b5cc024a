"""repgeo's figure style and the one constructor every plot function uses."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt

__all__ = ["STYLE", "new_figure", "style"]

STYLE: dict[str, Any] = {
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


def style() -> Any:
    """Context manager applying :data:`STYLE` (``with style(): ...``)."""
    return plt.rc_context(STYLE)


def new_figure(
    nrows: int = 1, ncols: int = 1, *, size: tuple[float, float] | None = None, **kw: Any
) -> tuple[Any, Any]:
    """``plt.subplots`` with repgeo's style; returns ``(fig, axes)``.

    Examples
    --------
    >>> from repgeo.plots import new_figure
    >>> fig, axes = new_figure(1, 2)
    >>> len(fig.axes)
    2
    """
    size = size or (3.6 * ncols, 3.0 * nrows)
    with style():
        fig, axes = plt.subplots(nrows, ncols, figsize=size, **kw)
    return fig, axes


def heatmap(
    fig: Any,
    ax: Any,
    S: np.ndarray,
    rows: list[str],
    cols: list[str],
    *,
    vmin: float | None,
    vmax: float | None,
    cmap: str,
    annotate: bool,
    aspect: str = "equal",
) -> None:
    """A matrix as an image with a colour bar, tick labels and (up to 20 × 20) its values, "n/a"
    where undefined — the one heat map of the similarity figures."""
    im = ax.imshow(np.ma.masked_invalid(S), vmin=vmin, vmax=vmax, cmap=cmap, aspect=aspect)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    if annotate and max(S.shape) <= 20:
        lo = np.nanmin(S) if vmin is None else vmin
        hi = np.nanmax(S) if vmax is None else vmax
        mid = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else 0.5
        for i in range(S.shape[0]):
            for j in range(S.shape[1]):
                v = S[i, j]
                txt = "n/a" if not np.isfinite(v) else f"{v:.2f}"
                colour = "black" if (not np.isfinite(v) or v > mid) else "white"
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color=colour)
