"""Figures for representation similarity and latent-space communication.

Every function takes results or arrays and returns a matplotlib Figure:

* :func:`plot_similarity_matrix` — one heatmap (layer × layer, model × model, encoder × head);
* :func:`plot_similarity_matrices` — several heatmaps side by side (e.g. model × model and
  layer × layer CKA from :func:`repgeo.latent.similarity_matrix`);
* :func:`plot_stitching_matrices` — encoder × head stitching accuracy, one heatmap per method
  (the results of :func:`repgeo.latent.stitching_matrices`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validation import check_array
from ._style import heatmap, new_figure

__all__ = ["plot_similarity_matrices", "plot_similarity_matrix", "plot_stitching_matrices"]


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
    cols = names if S.shape[1] == S.shape[0] else [str(j) for j in range(S.shape[1])]
    heatmap(fig, ax, S, names, cols, vmin=vmin, vmax=vmax, cmap=cmap, annotate=annotate)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def plot_similarity_matrices(
    matrices: Mapping[str, tuple[Any, Sequence[str]]],
    *,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "viridis",
    annotate: bool = True,
    suptitle: str = "",
    size: tuple[float, float] | None = None,
) -> Any:
    """Several similarity heatmaps side by side, one per entry of ``matrices``.

    Parameters
    ----------
    matrices : mapping of str to (S, names)
        Panel title → a matrix of shape (n, n) (or (n_rows, n_cols)) and its row labels, e.g.
        ``{"model × model": similarity_matrix(models), "layer × layer":
        similarity_matrix(layers)}`` (:func:`repgeo.latent.similarity_matrix` returns exactly
        such a pair).
    vmin, vmax : float or None, default=0.0, 1.0
        Colour limits shared by the panels; None takes each matrix's own minimum / maximum (a
        linear CKA heatmap of trained networks is better read with ``vmin=None``).
    cmap : str, default="viridis"
    annotate : bool, default=True
        Write the values in the cells (matrices up to 20 × 20).
    suptitle : str, default=""
    size : (float, float), optional
        Figure size in inches; default 5.5 × 4.6 per panel.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap axes and one colour bar per matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_similarity_matrices
    >>> S = np.array([[1.0, 0.8], [0.8, 1.0]])
    >>> fig = plot_similarity_matrices({"models": (S, ["a", "b"]), "layers": (np.eye(3), "xyz")})
    >>> len(fig.axes), fig.axes[0].get_title()          # two heatmaps, two colour bars
    (4, 'models')
    """
    if not isinstance(matrices, Mapping) or not matrices:
        raise ValueError(
            f"matrices must be a non-empty mapping title -> (S, names); got {matrices!r:.80}."
        )
    for title, entry in matrices.items():
        if not isinstance(entry, (tuple, list)) or len(entry) != 2:
            raise ValueError(f"matrices[{title!r}] must be a pair (S, names); got {entry!r:.80}.")
    n = len(matrices)
    fig, axes = new_figure(1, n, size=size or (5.5 * n, 4.6), squeeze=False)
    for ax, (title, (S, names)) in zip(axes[0], matrices.items()):
        plot_similarity_matrix(
            S,
            list(names),
            ax=ax,
            title=str(title),
            vmin=vmin,
            vmax=vmax,
            cmap=cmap,
            annotate=annotate,
        )
    if suptitle:
        fig.suptitle(suptitle, y=1.04)
    return fig


def plot_stitching_matrices(
    results: Mapping[str, Any],
    *,
    labels: Mapping[str, str] | None = None,
    title: str = "",
    xlabel: str = "head (decoder) trained on",
    ylabel: str = "encoder",
) -> Any:
    """Zero-shot stitching accuracy, encoder × head, one heatmap per stitching method.

    Parameters
    ----------
    results : mapping of str to StitchingResult
        Method → result, as :func:`repgeo.latent.stitching_matrices` returns; each result's
        ``accuracy[i, j]`` (head ``names[j]`` fed encoder ``names[i]``, NaN where undefined) is
        drawn on a [0, 1] scale, titled with its mean over stitched pairs i ≠ j.
    labels : mapping of str to str, optional
        Method → panel label (default: the method name).
    title : str, default=""
        Figure title.
    xlabel, ylabel : str

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap axes and one colour bar per method.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import StitchingResult
    >>> from repgeo.plots import plot_stitching_matrices
    >>> acc = np.array([[0.9, 0.2], [0.3, 0.8]])
    >>> r = StitchingResult(method="absolute", names=["a", "b"], accuracy=acc, f1=acc,
    ...                     anchor_index=np.arange(3))
    >>> fig = plot_stitching_matrices({"absolute": r}, labels={"absolute": "raw"})
    >>> len(fig.axes), fig.axes[0].get_title()
    (2, 'raw: off-diag 0.25')
    """
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            f"results must be a non-empty mapping method -> StitchingResult; got {results!r:.80}."
        )
    for method, r in results.items():
        if not all(hasattr(r, a) for a in ("accuracy", "names", "off_diagonal_mean")):
            raise TypeError(
                f"results[{method!r}] must be a StitchingResult (accuracy, names); got "
                f"{type(r).__name__}."
            )
        shape = np.shape(r.accuracy)
        if shape != (len(r.names), len(r.names)):
            raise ValueError(
                f"results[{method!r}].accuracy must be square with one row per space "
                f"({len(r.names)}); got shape {shape}."
            )
    labels = dict(labels or {})
    n = len(results)
    fig, axes = new_figure(1, n, size=(4.3 * n, 3.9), squeeze=False)
    for ax, (method, r) in zip(axes[0], results.items()):
        plot_similarity_matrix(
            r.accuracy,
            r.names,
            ax=ax,
            title=f"{labels.get(method, method)}: off-diag {r.off_diagonal_mean():.2f}",
            xlabel=xlabel,
            ylabel=ylabel,
        )
    fig.suptitle(title, y=1.04)
    return fig
