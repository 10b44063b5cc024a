"""Figures for representation similarity and latent-space communication.

Every function takes results or arrays and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validation import check_array
from ._style import new_figure

__all__ = ["plot_similarity_matrix"]


def plot_similarity_matrix(
    S: Any,
    names: Sequence[str],
    *,
    ax: Any = None,
    title: str = "",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "viridis",
    annotate: bool = True,
    xlabel: str = "",
    ylabel: str = "",
) -> Any:
    """Heatmap of a (layer × layer or model × model) similarity matrix; returns the Figure.

    Parameters
    ----------
    S : array_like of shape (n_rows, n_cols)
        NaN cells (undefined) are shown blank with "n/a".
    names : sequence of str
        Labels of the rows (and of the columns when square).
    ax : matplotlib Axes, optional
    title, xlabel, ylabel : str
    vmin, vmax : float or None
    cmap : str
    annotate : bool, default=True
        Write the values in the cells (when the matrix has at most 20 × 20 cells).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_similarity_matrix
    >>> fig = plot_similarity_matrix(np.eye(2), ["a", "b"])
    >>> len(fig.axes)                                  # the heatmap and its colour bar
    2
    """
    S = to_numpy(check_array(S, name="S", allow_nan=True))
    names = [str(n) for n in names]
    if len(names) != S.shape[0]:
        raise ValueError(
            f"names must have one label per row of S ({S.shape[0]}); got {len(names)}."
        )
    if ax is None:
        size = max(3.2, 0.55 * S.shape[1] + 1.8)
        fig, ax = new_figure(1, 1, size=(size + 0.8, max(2.8, 0.5 * S.shape[0] + 1.6)))
    else:
        fig = ax.figure
    im = ax.imshow(np.ma.masked_invalid(S), vmin=vmin, vmax=vmax, cmap=cmap)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_yticks(range(S.shape[0]), names)
    cols = names if S.shape[1] == S.shape[0] else [str(j) for j in range(S.shape[1])]
    ax.set_xticks(range(S.shape[1]), cols, rotation=45, ha="right")
    if annotate and max(S.shape) <= 20:
        lo = np.nanmin(S) if vmin is None else vmin
        hi = np.nanmax(S) if vmax is None else vmax
        mid = 0.5 * (lo + hi) if np.isfinite(lo) and np.isfinite(hi) else 0.5
        for i in range(S.shape[0]):
            for j in range(S.shape[1]):
                v = S[i, j]
                txt = "n/a" if not np.isfinite(v) else f"{v:.2f}"
                color = "black" if (not np.isfinite(v) or v > mid) else "white"
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color=color)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig
