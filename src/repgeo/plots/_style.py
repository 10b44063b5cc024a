"""repgeo's figure style and the one constructor every plot function uses."""

from __future__ import annotations

from typing import Any

import matplotlib

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
