"""Diffusion-geometry figures: geodesic scores, 2-D embeddings, DSE and DSMI over training.

Every function takes results or arrays and returns a matplotlib Figure:

* :func:`plot_geodesic_scores` — one bar per distance method and dataset, e.g. the mean per-row
  Spearman correlation with the true geodesic distance (``diffusion.geodesic_scores``);
* :func:`plot_embeddings_2d` — scatters of 2-D embeddings (rows: datasets, columns: views),
  coloured by position along the manifold;
* :func:`plot_dse_over_training` — DSE and DSMI(Z; Y) against the epoch, one line per model
  (what :func:`repgeo.panels.diffusion.measure_dse` returns, or ``diffusion.dse`` /
  ``diffusion.dsmi`` regrouped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validation import check_array
from ._style import new_figure

__all__ = ["plot_dse_over_training", "plot_embeddings_2d", "plot_geodesic_scores"]

# the diffusion study's methods keep their colours across figures; Euclidean is the grey baseline
_METHOD_COLOURS = {
    "heat_geodesic": "C0",
    "phate": "C1",
    "diffusion_maps": "C2",
    "shortest_path": "C3",
    "euclidean": "C7",
}

_SCORE_NAMES = {"spearman": "Spearman", "pearson": "Pearson", "precision_at_k": "precision at k"}


def _label(name: str) -> str:
    return str(name).replace("_", " ")


def _nonempty(value: Any, name: str, what: str) -> None:
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a mapping of {what}; got {type(value).__name__}.")
    if not value:
        raise ValueError(f"{name} must name at least one {what}; got an empty mapping.")


def plot_geodesic_scores(
    scores: Mapping[str, Mapping[str, Any]],
    *,
    score: str = "spearman",
    methods: Sequence[str] | None = None,
    xlabel: str | None = None,
) -> Any:
    """Bars of one agreement score per distance method, one panel per dataset.

    Parameters
    ----------
    scores : mapping of str to mapping of str to (dict or float)
        ``{dataset: {method: {score: value, ...}}}`` (``diffusion.geodesic_scores``) or
        ``{dataset: {method: value}}`` (``diffusion.geodesic_spearman``).
    score : str, default="spearman"
        Which score to draw when the values are dicts.
    methods : sequence of str, optional
        Methods to draw, top to bottom (default: those of the first dataset, in its order).
    xlabel : str, optional
        Axis label (default: ``"mean per-row <score> vs true geodesic"``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per dataset; the x-axis runs from ``min(0, lowest score)`` to 1.

    Examples
    --------
    >>> from repgeo.plots import plot_geodesic_scores
    >>> scores = {"swiss_roll": {"heat_geodesic": {"spearman": 0.99}, "euclidean": {"spearman": 0.4}},
    ...           "tree": {"heat_geodesic": {"spearman": 0.9}, "euclidean": {"spearman": 0.8}}}
    >>> fig = plot_geodesic_scores(scores)
    >>> [ax.get_title() for ax in fig.axes]
    ['swiss roll', 'tree']
    >>> [round(float(p.get_width()), 2) for p in fig.axes[0].patches]
    [0.99, 0.4]
    """
    _nonempty(scores, "scores", "dataset")
    methods = list(methods) if methods is not None else list(next(iter(scores.values())))
    if not methods:
        raise ValueError("methods must name at least one method; got none.")
    values: dict[str, list[float]] = {}
    for name, by_method in scores.items():
        _nonempty(by_method, f"scores[{name!r}]", "method")
        missing = [m for m in methods if m not in by_method]
        if missing:
            raise ValueError(f"scores[{name!r}] lacks method(s) {missing}; has {list(by_method)}.")
        row = []
        for m in methods:
            v = by_method[m]
            if isinstance(v, Mapping):
                if score not in v:
                    raise ValueError(
                        f"scores[{name!r}][{m!r}] has no score {score!r}; has {list(v)}."
                    )
                v = v[score]
            row.append(float(v))
        if not np.all(np.isfinite(row)):
            raise ValueError(f"scores[{name!r}] holds a NaN or infinite {score}: {row}.")
        values[name] = row
    colours = [_METHOD_COLOURS.get(m, f"C{i}") for i, m in enumerate(methods)]
    fig, axes = new_figure(1, len(values), size=(4.2 * len(values), 3.2), squeeze=False)
    for ax, (name, vals) in zip(axes[0], values.items()):
        ax.barh(range(len(methods)), vals, color=colours)
        ax.set_yticks(range(len(methods)), [_label(m) for m in methods])
        ax.set_xlim(min(0.0, min(vals)), 1.0)
        ax.set_xlabel(xlabel or f"mean per-row {_SCORE_NAMES.get(score, score)} vs true geodesic")
        ax.set_title(_label(name))
        ax.invert_yaxis()
    return fig


def plot_embeddings_2d(
    embeddings: Mapping[str, Mapping[str, Any]],
    colors: Mapping[str, Any] | None = None,
    *,
    cmap: str = "viridis",
    size: float = 3.0,
) -> Any:
    """Scatters of 2-D embeddings: one row per dataset, one column per view.

    Parameters
    ----------
    embeddings : mapping of str to mapping of str to array_like of shape (n, 2)
        ``{dataset: {view title: Y}}``, e.g. ``{"swiss_roll": {"data": X[:, [0, 2]],
        "heat geodesic (MDS)": Y_heat, "PHATE potential (MDS)": Y_phate}}``. Every dataset
        must have the same number of views; the views of one dataset share ``n``.
    colors : mapping of str to array_like of shape (n,), optional
        A scalar per point of each dataset (arc length, distance from the root, a label).
    cmap : str, default="viridis"
    size : float, default=3.0
        Marker size.

    Returns
    -------
    matplotlib.figure.Figure
        Axes titled ``"<dataset>: <view>"``, without ticks (embeddings have no units).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_embeddings_2d
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.normal(size=(50, 2))
    >>> fig = plot_embeddings_2d({"roll": {"data": Y, "heat": 2 * Y}}, {"roll": Y[:, 0]})
    >>> [ax.get_title() for ax in fig.axes]
    ['roll: data', 'roll: heat']
    >>> fig.axes[1].collections[0].get_offsets().shape
    (50, 2)
    """
    _nonempty(embeddings, "embeddings", "dataset")
    panels: dict[str, list[tuple[str, np.ndarray]]] = {}
    for name, views in embeddings.items():
        _nonempty(views, f"embeddings[{name!r}]", "view")
        arrs = []
        for title, Y in views.items():
            Y = to_numpy(check_array(Y, name=f"embeddings[{name!r}][{title!r}]", min_features=2))
            if Y.shape[1] != 2:
                raise ValueError(
                    f"embeddings[{name!r}][{title!r}] must have shape (n, 2); got {Y.shape}."
                )
            arrs.append((str(title), Y))
        if len({Y.shape[0] for _, Y in arrs}) > 1:
            raise ValueError(
                f"the views of {name!r} must share n; got {[Y.shape[0] for _, Y in arrs]}."
            )
        panels[name] = arrs
    n_cols = {len(v) for v in panels.values()}
    if len(n_cols) > 1:
        raise ValueError(f"every dataset must have the same number of views; got {sorted(n_cols)}.")
    shades: dict[str, np.ndarray | None] = {}
    for name, arrs in panels.items():
        c = None if colors is None or name not in colors else colors[name]
        if c is not None:
            c = to_numpy(check_array(c, name=f"colors[{name!r}]", ndim=1))
            if c.shape[0] != arrs[0][1].shape[0]:
                raise ValueError(
                    f"colors[{name!r}] must have one value per point ({arrs[0][1].shape[0]}); "
                    f"got {c.shape[0]}."
                )
        shades[name] = c
    n_col = n_cols.pop()
    fig, axes = new_figure(len(panels), n_col, size=(3.5 * n_col, 3.3 * len(panels)), squeeze=False)
    for row, (name, arrs) in enumerate(panels.items()):
        for ax, (title, Y) in zip(axes[row], arrs):
            shade = {} if shades[name] is None else {"c": shades[name], "cmap": cmap}
            ax.scatter(Y[:, 0], Y[:, 1], s=size, linewidths=0, **shade)
            ax.set_title(f"{_label(name)}: {title}")
            ax.set_xticks([])
            ax.set_yticks([])
    return fig


def _series(series: Any, what: str) -> tuple[list[int], list[float]]:
    if not isinstance(series, Mapping):
        raise TypeError(f"{what} must be a mapping of epoch to value; got {type(series).__name__}.")
    try:
        epochs = [int(e) for e in series]
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be keyed by integer epochs; got {list(series)}.") from None
    return epochs, [float(v) for v in series.values()]


def plot_dse_over_training(results: Mapping[str, Mapping[str, Mapping[Any, float]]]) -> Any:
    """DSE and DSMI(Z; Y) of an embedding against the epoch, one line per model.

    Parameters
    ----------
    results : mapping of str to dict
        ``{model: {"dse": {epoch: bits}, "dsmi": {epoch: bits}}}`` — what
        :func:`repgeo.panels.diffusion.measure_dse` returns per model (other keys are ignored).
        ``"dsmi"`` may be empty or absent (unlabelled data); epochs may be str or int.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes (DSE, DSMI), epoch on a symlog axis.

    Examples
    --------
    >>> from repgeo.plots import plot_dse_over_training
    >>> res = {"digits": {"dse": {"0": 7.1, "5": 5.2}, "dsmi": {"0": 0.4, "5": 1.3}},
    ...        "manifold": {"dse": {"0": 6.0, "5": 4.0}}}
    >>> fig = plot_dse_over_training(res)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['DSE (bits)', 'DSMI(Z; Y) (bits)']
    >>> [len(ax.lines) for ax in fig.axes]
    [2, 1]
    """
    _nonempty(results, "results", "model")
    series = {}
    for model, res in results.items():
        if not isinstance(res, Mapping) or "dse" not in res:
            raise ValueError(f"results[{model!r}] must be a mapping with a 'dse' series.")
        dse = _series(res["dse"], f"results[{model!r}]['dse']")
        if not dse[0]:
            raise ValueError(f"results[{model!r}]['dse'] is empty; expected one value per epoch.")
        dsmi = _series(res.get("dsmi") or {}, f"results[{model!r}]['dsmi']")
        series[model] = (dse, dsmi)
    fig, axes = new_figure(1, 2, size=(8.0, 3.0), squeeze=False)
    for model, (dse, dsmi) in series.items():
        axes[0, 0].plot(*dse, "o-", label=model)
        if dsmi[0]:
            axes[0, 1].plot(*dsmi, "o-", label=model)
    for ax, lab in zip(axes[0], ("DSE (bits)", "DSMI(Z; Y) (bits)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(lab)
        ax.set_xscale("symlog", linthresh=1)
        if ax.lines:
            ax.legend(frameon=False, fontsize=8)
    return fig
