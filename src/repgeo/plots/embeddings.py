"""Figures of ``repgeo analyze``: quantities per layer, across models and over checkpoints.

Every function takes results (plain mappings of numbers, as ``metrics.json`` holds them) and
returns a matplotlib Figure:

* :func:`plot_cross_similarity` — a layer × layer similarity of two models (rows and columns
  labelled separately);
* :func:`plot_layer_profiles` — one small panel per quantity, its value across the layers, with
  intervals where given (intrinsic dimension, ΔR, DSE/DSMI, AUROC, k-shot accuracy ...);
* :func:`plot_over_checkpoints` — one panel per quantity, one line per layer over checkpoints;
* :func:`plot_plane_volumes` — a quantity on a plane through three inputs, one panel per layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validation import check_array
from ._style import heatmap, new_figure

__all__ = [
    "plot_cross_similarity",
    "plot_layer_profiles",
    "plot_over_checkpoints",
    "plot_plane_volumes",
]


def _nonempty(value: Any, name: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name} must be a non-empty mapping; got {value!r:.80}.")


def _float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def plot_cross_similarity(
    S: Any,
    row_names: Sequence[str],
    col_names: Sequence[str],
    *,
    title: str = "",
    xlabel: str = "",
    ylabel: str = "",
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
    cmap: str = "viridis",
    annotate: bool = True,
) -> Any:
    """Heatmap of a similarity between the layers of two models (rows: one, columns: the other).

    Parameters
    ----------
    S : array_like of shape (n_rows, n_cols)
        NaN cells (undefined) are blank, marked "n/a".
    row_names, col_names : sequence of str
        Labels of the rows and of the columns.
    title, xlabel, ylabel : str
    vmin, vmax : float or None, default=0.0, 1.0
    cmap : str, default="viridis"
    annotate : bool, default=True
        Write the values in the cells (up to 20 × 20 cells).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_cross_similarity
    >>> fig = plot_cross_similarity(np.array([[0.9, 0.4, 0.2]]), ["a.l1"], ["b.l1", "b.l2", "b.l3"])
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()]
    ['b.l1', 'b.l2', 'b.l3']
    """
    S = to_numpy(check_array(S, name="S", allow_nan=True))
    rows, cols = [str(n) for n in row_names], [str(n) for n in col_names]
    if S.shape != (len(rows), len(cols)):
        raise ValueError(
            f"S must have shape (len(row_names), len(col_names)) = ({len(rows)}, {len(cols)}); "
            f"got {S.shape}."
        )
    fig, ax = new_figure(
        1, 1, size=(max(3.4, 0.6 * len(cols) + 2.4), max(2.8, 0.45 * len(rows) + 1.8))
    )
    heatmap(fig, ax, S, rows, cols, vmin=vmin, vmax=vmax, cmap=cmap, annotate=annotate,
            aspect="auto")  # fmt: skip
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return fig


def plot_layer_profiles(
    profiles: Mapping[str, Mapping[str, Mapping[str, Any]]],
    intervals: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None,
    *,
    ncols: int = 3,
    reference: Mapping[str, float] | None = None,
) -> Any:
    """Quantities across the layers of a model, one panel per quantity.

    Parameters
    ----------
    profiles : mapping of str to mapping of str to mapping of str to float
        ``{panel title: {series label: {layer: value}}}``; the layers of a panel are its first
        series' keys, in order (x axis). ``None`` values are gaps.
    intervals : mapping, optional
        The same nesting with ``(low, high)`` leaves, drawn as error bars.
    ncols : int, default=3
        Panels per row.
    reference : mapping of str to float, optional
        ``{panel title: value}`` drawn as a dotted horizontal line (chance level, the input's
        value ...).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per panel (unused grid cells are hidden).

    Examples
    --------
    >>> from repgeo.plots import plot_layer_profiles
    >>> fig = plot_layer_profiles(
    ...     {"intrinsic dimension": {"TwoNN": {"l0": 9.0, "l1": 6.5}, "MLE": {"l0": 8.0, "l1": 6.0}},
    ...      "AUROC": {"AUROC": {"l0": 0.7, "l1": 0.9}}},
    ...     {"AUROC": {"AUROC": {"l0": (0.65, 0.75), "l1": (0.85, 0.95)}}},
    ...     reference={"AUROC": 0.5})
    >>> [ax.get_title() for ax in fig.axes if ax.get_visible()]
    ['intrinsic dimension', 'AUROC']
    """
    _nonempty(profiles, "profiles")
    for title, series in profiles.items():
        _nonempty(series, f"profiles[{title!r}]")
        for label, values in series.items():
            _nonempty(values, f"profiles[{title!r}][{label!r}]")
    n = len(profiles)
    ncols = max(1, min(int(ncols), n))
    nrows = -(-n // ncols)
    fig, axes = new_figure(nrows, ncols, size=(3.9 * ncols, 3.0 * nrows), squeeze=False)
    for k, (title, series) in enumerate(profiles.items()):
        ax = axes[k // ncols, k % ncols]
        layers = list(next(iter(series.values())))
        x = np.arange(len(layers))
        for i, (label, values) in enumerate(series.items()):
            y = np.array([_float(values.get(layer)) for layer in layers])
            ci = ((intervals or {}).get(title) or {}).get(label)
            if ci:
                lo = np.array([_float((ci.get(layer) or (None, None))[0]) for layer in layers])
                hi = np.array([_float((ci.get(layer) or (None, None))[1]) for layer in layers])
                err = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
                err = np.where(np.isfinite(err), err, 0.0)
                ax.errorbar(x, y, yerr=err, fmt="o-", ms=3, capsize=2, color=f"C{i}", label=label)
            else:
                ax.plot(x, y, "o-", ms=3, color=f"C{i}", label=label)
        if reference and title in reference:
            ax.axhline(float(reference[title]), color="0.5", ls=":", lw=1)
        ax.set_xticks(x, layers, rotation=45, ha="right", fontsize=7)
        ax.set_title(title)
        if len(series) > 1:
            ax.legend(fontsize=7)
    for k in range(n, nrows * ncols):
        axes[k // ncols, k % ncols].set_visible(False)
    fig.tight_layout()
    return fig


def plot_over_checkpoints(results: Mapping[str, Mapping[str, Mapping[Any, Any]]]) -> Any:
    """Quantities over checkpoints, one panel per quantity and one line per layer.

    Parameters
    ----------
    results : mapping of str to mapping of str to mapping of int to float
        ``{panel title: {layer: {checkpoint: value}}}`` (checkpoints as ints or strings).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_over_checkpoints
    >>> fig = plot_over_checkpoints({"CKA with the last checkpoint":
    ...                              {"l0": {"1": 0.5, "10": 1.0}, "l1": {"1": 0.2, "10": 1.0}}})
    >>> len(fig.axes[0].lines), fig.axes[0].get_xlabel()
    (2, 'checkpoint')
    """
    _nonempty(results, "results")
    n = len(results)
    fig, axes = new_figure(1, n, size=(4.2 * n, 3.2), squeeze=False)
    for ax, (title, per_layer) in zip(axes[0], results.items()):
        _nonempty(per_layer, f"results[{title!r}]")
        for i, (layer, series) in enumerate(per_layer.items()):
            steps = sorted(series, key=lambda s: int(s))
            ax.plot(
                [int(s) for s in steps],
                [_float(series[s]) for s in steps],
                "o-",
                ms=3,
                color=f"C{i % 10}",
                label=str(layer),
            )
        ax.set(title=title, xlabel="checkpoint")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_plane_volumes(
    volumes: Mapping[str, Any],
    *,
    shape: tuple[int, int],
    extent: Sequence[float],
    anchors: Any = None,
    anchor_labels: Sequence[str] | None = None,
    label: str = "log10 effective volume",
) -> Any:
    """A quantity on a plane through three inputs, one panel per layer.

    Parameters
    ----------
    volumes : mapping of str to array_like of shape (rows · cols,)
        ``{layer: values on the flattened grid}`` (e.g. :func:`repgeo.geometry.effective_volume`
        at :attr:`repgeo.geometry.Plane.points`).
    shape : (rows, cols)
    extent : (x_min, x_max, y_min, y_max)
    anchors : array_like of shape (3, 2), optional
        Plane coordinates of the three inputs, drawn as white dots.
    anchor_labels : sequence of str, optional
    label : str
        Colour-bar label.

    Returns
    -------
    matplotlib.figure.Figure
        One image and one colour bar per layer.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_plane_volumes
    >>> v = np.linspace(0, 1, 16)
    >>> fig = plot_plane_volumes({"l0": v, "l1": 2 * v}, shape=(4, 4), extent=(-1, 1, -1, 1),
    ...                          anchors=[[0, 0.5], [-0.4, -0.3], [0.4, -0.3]])
    >>> [ax.get_title() for ax in fig.axes[:2]], len(fig.axes)
    (['l0', 'l1'], 4)
    """
    _nonempty(volumes, "volumes")
    rows, cols = (int(s) for s in shape)
    ext = [float(e) for e in extent]
    if len(ext) != 4:
        raise ValueError(f"extent must be (x_min, x_max, y_min, y_max); got {extent!r}.")
    grids = {}
    for layer, v in volumes.items():
        a = to_numpy(check_array(v, name=f"volumes[{layer!r}]", ndim=(1, 2), allow_nan=True))
        if a.size != rows * cols:
            raise ValueError(
                f"volumes[{layer!r}] has {a.size} values; the grid {rows} × {cols} needs "
                f"{rows * cols}."
            )
        grids[str(layer)] = a.reshape(rows, cols)
    pts = None
    if anchors is not None:
        pts = to_numpy(check_array(anchors, name="anchors"))
        if pts.shape[1] != 2:
            raise ValueError(f"anchors must have shape (k, 2); got {pts.shape}.")
    n = len(grids)
    fig, axes = new_figure(1, n, size=(3.6 * n, 3.1), squeeze=False)
    for ax, (layer, g) in zip(axes[0], grids.items()):
        finite = g[np.isfinite(g)]
        lo, hi = np.percentile(finite, [1, 99]) if finite.size else (0.0, 1.0)
        im = ax.imshow(g, extent=ext, origin="lower", cmap="viridis", vmin=lo, vmax=hi)
        cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label(label, fontsize=7)
        if pts is not None:
            ax.scatter(pts[:, 0], pts[:, 1], s=14, c="white", edgecolors="black", linewidths=0.5)
            for i, (px, py) in enumerate(pts):
                if anchor_labels is not None and i < len(anchor_labels):
                    ax.annotate(str(anchor_labels[i]), (px, py), color="white", fontsize=7,
                                xytext=(3, 3), textcoords="offset points")  # fmt: skip
        ax.set_title(layer)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
