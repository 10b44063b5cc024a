"""Figures of the Riemannian-geometry analyses (:mod:`repgeo.geometry`).

Every function takes what a public analysis returns and returns a matplotlib Figure (or draws
on given axes); the riemann study and the default study's geometry panel save them with
``ctx.figure``.

================================ ============================================================
function                         draws
================================ ============================================================
:func:`overlay_boundary`         the decision boundary on a grid, onto existing axes
:func:`plot_decision_panels`     predicted class, softmax entropy and log10 volume per epoch
:func:`plot_volume_curvature`    log10 volume and scalar curvature R = 2K, init vs trained
:func:`plot_magnification`       the boundary-magnification statistic over training
:func:`plot_volume_by_layer`     log10 volume of every hidden layer at chosen epochs
:func:`plot_spectra`             singular values of J/√n at anchor inputs per checkpoint
:func:`plot_infinite_width`      volume element and metric error of random networks vs width
:func:`plot_infinite_width_curvature`  R = 2K of the infinite-width metric along a ray
================================ ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps

from .._validation import check_array
from ._style import new_figure

__all__ = [
    "overlay_boundary",
    "plot_decision_panels",
    "plot_infinite_width",
    "plot_infinite_width_curvature",
    "plot_magnification",
    "plot_spectra",
    "plot_volume_by_layer",
    "plot_volume_curvature",
]


# ----------------------------------------------------------------------------- checks
def _check_extent(extent: Any) -> tuple[float, float, float, float]:
    try:
        ext = tuple(float(v) for v in extent)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"extent must be four numbers (x_min, x_max, y_min, y_max); got {extent!r}."
        ) from exc
    if len(ext) != 4 or not all(np.isfinite(ext)):
        raise ValueError(
            f"extent must be four finite numbers (x_min, x_max, y_min, y_max); got {extent!r}."
        )
    return ext  # type: ignore[return-value]


def _check_shape(shape: Any) -> tuple[int, int]:
    try:
        rows, cols = (int(v) for v in shape)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"shape must be (rows, cols) of the grid; got {shape!r}.") from exc
    if rows < 1 or cols < 1:
        raise ValueError(f"shape must be positive (rows, cols); got {shape!r}.")
    return rows, cols


def _check_nonempty(mapping: Any, name: str, what: str) -> None:
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{name} must be a mapping of {what}; got {type(mapping).__name__}.")
    if not mapping:
        raise ValueError(f"{name} is empty; expected at least one entry ({what}).")


def _grid_values(
    res: Mapping[str, Any], key: str, shape: tuple[int, int], where: str, *, ndim: int = 1
) -> np.ndarray:
    """``res[key]`` as float64, checked to hold one value (or row) per grid point."""
    if key not in res:
        raise ValueError(f"{where} has no {key!r}; got keys {sorted(res)}.")
    v = np.asarray(
        check_array(res[key], name=f"{where}[{key!r}]", ndim=ndim, allow_nan=True), np.float64
    )
    if v.shape[0] != shape[0] * shape[1]:
        raise ValueError(
            f"{where}[{key!r}] has {v.shape[0]} points; expected {shape[0] * shape[1]} for a "
            f"{shape[0]}×{shape[1]} grid."
        )
    return v


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).copy()
    if mask is not None:
        v[~mask] = np.nan
    return v


def _label_epoch(epoch: int) -> str:
    return "initialisation" if epoch == 0 else f"epoch {epoch}"


def _epoch(e: Any, name: str) -> int:
    try:
        return int(e)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be keyed by epochs (integers); got key {e!r}.") from exc


# ----------------------------------------------------------------------------- boundary
def overlay_boundary(
    ax: Any, logits: Any, extent: Sequence[float], *, color: str = "black"
) -> None:
    """Draw the decision boundary of grid logits on existing axes.

    The boundary is the zero level set of ℓ_c − max_{c'≠c} ℓ_c' for every predicted class c
    (one contour for two classes); a class whose score does not change sign draws nothing.

    Parameters
    ----------
    ax : matplotlib Axes
    logits : array_like of shape (rows, cols, C), C >= 2
        Logits on the grid spanning ``extent`` (row 0 at ``y_min``).
    extent : (x_min, x_max, y_min, y_max)
    color : str, default="black"

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import new_figure, overlay_boundary
    >>> A, B = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
    >>> logits = np.stack([A, B], axis=-1)          # boundary on the diagonal a = b
    >>> fig, ax = new_figure()
    >>> overlay_boundary(ax, logits, (-1, 1, -1, 1))
    >>> len(ax.collections)
    1
    """
    L = np.asarray(
        check_array(logits, name="logits", ndim=3, shape_hint="(rows, cols, C)"), np.float64
    )
    if L.shape[-1] < 2:
        raise ValueError(f"logits must have at least 2 classes on axis 2; got shape {L.shape}.")
    extent = _check_extent(extent)
    rows, cols, C = L.shape
    xs = np.linspace(extent[0], extent[1], cols)
    ys = np.linspace(extent[2], extent[3], rows)
    pred = L.argmax(-1)
    classes = [0] if C == 2 else sorted(set(pred.ravel().tolist()))
    for c in classes:
        other = np.delete(L, c, axis=-1).max(-1)
        s = L[..., c] - other
        if s.min() < 0 < s.max():
            ax.contour(xs, ys, s, levels=[0.0], colors=color, linewidths=0.9)


# ----------------------------------------------------------------------------- decision panels
def plot_decision_panels(
    results: Mapping[int, Mapping[str, Any]],
    *,
    shape: tuple[int, int],
    extent: Sequence[float],
    mask: np.ndarray | None = None,
    anchors: np.ndarray | None = None,
    anchor_labels: Sequence[str] | None = None,
    points: np.ndarray | None = None,
    point_labels: np.ndarray | None = None,
    n_classes: int | None = None,
    volume_label: str = "log10 volume element",
    title: str = "",
    axis_labels: tuple[str, str] = ("a", "b"),
    triangle: bool = False,
) -> Any:
    """Predicted class, softmax entropy and log10 volume with the boundary, one row per epoch.

    Parameters
    ----------
    results : mapping of int to dict
        ``epoch -> {"pred", "entropy", "log_volume", "logits"[, "magnification"]}`` on a flat
        grid (what :func:`repgeo.geometry.geometry_over_training` returns); rows are drawn in
        ascending epoch order.
    shape : (rows, cols)
        Shape of the grid (``rows · cols`` points).
    extent : (x_min, x_max, y_min, y_max)
    mask : bool ndarray of shape (rows · cols,), optional
        Show only these points (e.g. :attr:`repgeo.geometry.Plane.mask`, the anchor triangle).
    anchors : ndarray of shape (a, 2), optional
        Plane coordinates of anchor inputs (white dots).
    anchor_labels : sequence of str, optional
        One label per anchor.
    points, point_labels : ndarray of shape (p, 2) and (p,), optional
        Training points (2-D inputs) to scatter, coloured by label.
    n_classes : int, optional
        Number of classes for the class colours (default: inferred from the predictions).
    volume_label : str, default="log10 volume element"
        Title of the volume column.
    title : str, optional
        Figure title.
    axis_labels : (str, str), default=("a", "b")
    triangle : bool, default=False
        Outline the anchor triangle (dashed).

    Returns
    -------
    matplotlib.figure.Figure
        ``len(results)`` rows × 3 panels (entropy and volume with colour bars); the volume
        colours span the 1–99 % range over all rows.

    Examples
    --------
    >>> from repgeo.geometry import geometry_over_training, grid_2d
    >>> from repgeo.models import MLP
    >>> from repgeo.plots import plot_decision_panels
    >>> A, _, U = grid_2d(-1, 1, 8)
    >>> cks = [(0, MLP([2, 8, 2], activation="sigmoid", seed=0)),
    ...        (5, MLP([2, 8, 2], activation="sigmoid", seed=1))]
    >>> fig = plot_decision_panels(geometry_over_training(cks, U), shape=A.shape,
    ...                            extent=(-1, 1, -1, 1))
    >>> len(fig.axes)        # 2 rows of 3 panels, 2 colour bars each
    10
    """
    _check_nonempty(results, "results", "epoch -> decision_geometry result")
    shape = _check_shape(shape)
    extent = _check_extent(extent)
    epochs = sorted(results, key=lambda e: _epoch(e, "results"))
    grids = {}
    for e in epochs:
        r, where = results[e], f"results[{e!r}]"
        grids[e] = {k: _grid_values(r, k, shape, where) for k in ("pred", "entropy", "log_volume")}
        grids[e]["logits"] = _grid_values(r, "logits", shape, where, ndim=2)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (shape[0] * shape[1],):
            raise ValueError(f"mask must have shape ({shape[0] * shape[1]},); got {mask.shape}.")
    n_classes = n_classes or int(max(int(np.max(g["pred"])) for g in grids.values()) + 1)
    fig, axes = new_figure(len(epochs), 3, size=(11.0, 3.1 * len(epochs)), squeeze=False)
    lv_all = np.concatenate(
        [
            _masked(grids[e]["log_volume"], mask)[
                np.isfinite(_masked(grids[e]["log_volume"], mask))
            ]
            for e in epochs
        ]
    )
    vmin, vmax = np.percentile(lv_all, [1, 99]) if lv_all.size else (0.0, 1.0)
    cmap_cls = "tab10" if n_classes <= 10 else "tab20"
    for row, e in enumerate(epochs):
        g, r = grids[e], results[e]
        pred = _masked(g["pred"], mask).reshape(shape)
        ent = _masked(g["entropy"], mask).reshape(shape)
        lv = _masked(g["log_volume"], mask).reshape(shape)
        logits = g["logits"].reshape(*shape, -1)
        panels = [
            (pred, cmap_cls, 0 - 0.5, (10 if n_classes <= 10 else 20) - 0.5, "predicted class"),
            (ent, "magma", 0.0, 1.0, "softmax entropy (base C)"),
            (lv, "viridis", vmin, vmax, volume_label),
        ]
        for col, (img, cmap, lo, hi, label) in enumerate(panels):
            ax = axes[row, col]
            im = ax.imshow(
                img,
                extent=extent,
                origin="lower",
                cmap=cmap,
                vmin=lo,
                vmax=hi,
                interpolation="nearest",
            )
            if col == 2:
                overlay_boundary(ax, logits, extent, color="white")
            if col > 0:
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            if anchors is not None and triangle:
                tri = np.vstack([anchors, anchors[:1]])
                ax.plot(tri[:, 0], tri[:, 1], color="white", lw=0.8, ls="--")
            if anchors is not None:
                ax.scatter(
                    anchors[:, 0], anchors[:, 1], c="white", edgecolors="black", s=30, zorder=3
                )
                if anchor_labels is not None:
                    for (ax_, ay_), lab in zip(anchors, anchor_labels):
                        ax.annotate(
                            str(lab),
                            (ax_, ay_),
                            textcoords="offset points",
                            xytext=(4, 4),
                            color="white",
                            fontsize=8,
                            weight="bold",
                        )
            if points is not None:
                ax.scatter(
                    points[:, 0],
                    points[:, 1],
                    c=point_labels,
                    cmap="coolwarm",
                    s=4,
                    alpha=0.5,
                    linewidths=0,
                )
            ax.set(
                title=f"{label}\n{_label_epoch(int(e))} (magnif. {r['magnification']:+.2f})"
                if col == 2 and "magnification" in r
                else f"{label}\n{_label_epoch(int(e))}",
                xlabel=axis_labels[0],
                ylabel=axis_labels[1],
            )
    if title:
        fig.suptitle(title)
    return fig


# ----------------------------------------------------------------------------- volume and curvature
def _symlog_norm(values: np.ndarray) -> Any:
    from matplotlib.colors import SymLogNorm

    v = np.abs(values[np.isfinite(values)])
    vmax = float(np.percentile(v, 99)) if v.size else 1.0
    vmax = max(vmax, 1e-12)
    return SymLogNorm(linthresh=vmax / 100.0, vmin=-vmax, vmax=vmax, base=10)


def plot_volume_curvature(
    entries: Sequence[Mapping[str, Any]],
    *,
    extent: Sequence[float],
    shape: tuple[int, int],
) -> Any:
    """log10 volume and scalar curvature R = 2K at initialisation and trained, one row per model.

    Parameters
    ----------
    entries : sequence of dict
        One per model: ``name``, ``init`` and ``trained`` — results of
        :func:`repgeo.geometry.decision_geometry` with ``curvature=True`` on a flat grid,
        optionally with ``epoch`` and ``magnification`` — and optionally ``X`` (p, 2) and
        ``y`` (p,), training points to scatter.
    extent : (x_min, x_max, y_min, y_max)
    shape : (rows, cols)
        Shape of the grid.

    Returns
    -------
    matplotlib.figure.Figure
        ``len(entries)`` rows × 4 panels (volume init / trained, R init / trained), each with
        the decision boundary (white on volume, black on curvature) and a colour bar; volume
        colours span the 1–99 % range of the row, curvature a symmetric-log scale.

    Examples
    --------
    >>> from repgeo.geometry import decision_geometry, grid_2d
    >>> from repgeo.models import MLP
    >>> from repgeo.plots import plot_volume_curvature
    >>> A, _, U = grid_2d(-1, 1, 8)
    >>> init = decision_geometry(MLP([2, 8, 2], activation="sigmoid", seed=0), U, curvature=True)
    >>> later = decision_geometry(MLP([2, 8, 2], activation="sigmoid", seed=1), U, curvature=True)
    >>> fig = plot_volume_curvature([{"name": "net", "init": init, "trained": later}],
    ...                             extent=(-1, 1, -1, 1), shape=A.shape)
    >>> len(fig.axes)        # 4 panels and 4 colour bars
    8
    """
    if isinstance(entries, Mapping) or not isinstance(entries, Sequence):
        raise TypeError(f"entries must be a list of dicts; got {type(entries).__name__}.")
    if not entries:
        raise ValueError("entries is empty; expected at least one model.")
    extent = _check_extent(extent)
    shape = _check_shape(shape)
    for i, ent in enumerate(entries):
        for key in ("name", "init", "trained"):
            if key not in ent:
                raise ValueError(f"entries[{i}] has no {key!r}; got keys {sorted(ent)}.")
        for key in ("init", "trained"):
            for q in ("log_volume", "K"):
                _grid_values(ent[key], q, shape, f"entries[{i}][{key!r}]")
            _grid_values(ent[key], "logits", shape, f"entries[{i}][{key!r}]", ndim=2)
    fig, axes = new_figure(len(entries), 4, size=(15.0, 3.2 * len(entries)), squeeze=False)
    for row, ent in enumerate(entries):
        lv = np.concatenate([ent["init"]["log_volume"], ent["trained"]["log_volume"]])
        lo, hi = np.percentile(lv[np.isfinite(lv)], [1, 99])
        R_all = 2.0 * np.concatenate([ent["init"]["K"], ent["trained"]["K"]])
        norm = _symlog_norm(R_all)
        for j, key in enumerate(("init", "trained")):
            res = ent[key]
            logits = np.asarray(res["logits"]).reshape(*shape, -1)
            stage = _label_epoch(int(res.get("epoch", 0 if key == "init" else -1)))
            ax = axes[row, j]
            im = ax.imshow(
                np.asarray(res["log_volume"]).reshape(shape),
                extent=extent,
                origin="lower",
                cmap="viridis",
                vmin=lo,
                vmax=hi,
            )
            overlay_boundary(ax, logits, extent, color="white")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            mag = f", magnif. {res['magnification']:+.2f}" if "magnification" in res else ""
            ax.set(title=f"{ent['name']}: log10 √det g\n{stage}{mag}")
            ax = axes[row, 2 + j]
            im = ax.imshow(
                2.0 * np.asarray(res["K"]).reshape(shape),
                extent=extent,
                origin="lower",
                cmap="RdBu_r",
                norm=norm,
            )
            overlay_boundary(ax, logits, extent)
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            ax.set(title=f"{ent['name']}: scalar curvature R = 2K\n{stage}")
            if "X" in ent:
                for a in (axes[row, j], axes[row, 2 + j]):
                    a.scatter(
                        ent["X"][:, 0],
                        ent["X"][:, 1],
                        c=ent["y"],
                        cmap="coolwarm",
                        s=3,
                        alpha=0.4,
                        linewidths=0,
                    )
                    a.set_xlim(extent[0], extent[1])
                    a.set_ylim(extent[2], extent[3])
    return fig


# ----------------------------------------------------------------------------- over training
def plot_magnification(
    magnification: Mapping[str, Mapping[Any, float]], *, title: str = "boundary magnification"
) -> Any:
    """The boundary-magnification statistic over training, one line per model.

    Parameters
    ----------
    magnification : mapping of str to mapping of epoch to float
        ``{model: {epoch: value}}`` — the ``geometry.boundary_magnification`` metric as
        written to ``metrics.json`` (epochs may be strings), or ``{e: r["magnification"]}``
        from :func:`repgeo.geometry.geometry_over_training`.
    title : str, default="boundary magnification"

    Returns
    -------
    matplotlib.figure.Figure
        One panel, epochs on a log axis (epoch 0 drawn at 1), a grey line at 0.

    Examples
    --------
    >>> from repgeo.plots import plot_magnification
    >>> fig = plot_magnification({"sinusoid-w20": {"0": -0.05, "100": 0.12, "300": 0.31},
    ...                           "xor-w20": {"0": 0.01, "300": 0.2}})
    >>> [len(line.get_xdata()) for line in fig.axes[0].get_lines()[:2]]
    [3, 2]
    """
    _check_nonempty(magnification, "magnification", "model -> {epoch: value}")
    series = {}
    for name, vals in magnification.items():
        _check_nonempty(vals, f"magnification[{name!r}]", "epoch -> value")
        pts = sorted((_epoch(e, f"magnification[{name!r}]"), v) for e, v in vals.items())
        y = np.asarray(check_array([v for _, v in pts], name=f"magnification[{name!r}]", ndim=1))
        series[name] = ([e for e, _ in pts], y)
    fig, ax = new_figure(1, 1, size=(5.0, 3.2))
    for name, (ep, y) in series.items():
        ax.plot([max(e, 1) for e in ep], y, "o-", label=name)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set(xscale="log", xlabel="epoch (0 plotted at 1)", ylabel="Δ mean log10 volume", title=title)
    ax.legend(fontsize=7)
    return fig


def plot_volume_by_layer(
    results: Mapping[str, Mapping[int, Mapping[str, Any]]],
    *,
    shape: tuple[int, int],
    extent: Sequence[float],
    epochs: Sequence[int] | None = None,
) -> Any:
    """log10 volume element of every layer on a grid: one column per layer, one row per epoch.

    Parameters
    ----------
    results : mapping of str to mapping of int to dict
        ``{layer: {epoch: result}}`` with ``log_volume`` and ``logits`` on a flat grid (and
        optionally ``magnification``), e.g. :func:`repgeo.models.over_checkpoints` of
        :func:`repgeo.geometry.geometry_over_training` (see its examples).
    shape : (rows, cols)
        Shape of the grid.
    extent : (x_min, x_max, y_min, y_max)
    epochs : sequence of int, optional
        Rows to draw (default: the first and the last epoch of the first layer).

    Returns
    -------
    matplotlib.figure.Figure
        ``len(epochs)`` rows × ``len(results)`` panels with colour bars; each column shares the
        1–99 % colour range of its rows; white: the decision boundary; titles carry the
        boundary magnification when present.

    Examples
    --------
    >>> from repgeo.geometry import geometry_over_training, grid_2d
    >>> from repgeo.models import MLP, over_checkpoints
    >>> from repgeo.plots import plot_volume_by_layer
    >>> A, _, U = grid_2d(-1, 1, 8)
    >>> cks = [(0, MLP([2, 6, 6, 2], activation="sigmoid", seed=0)),
    ...        (9, MLP([2, 6, 6, 2], activation="sigmoid", seed=1))]
    >>> def measure(_Z, step):
    ...     return geometry_over_training(step.model, U, layer=step.layer)[0]
    >>> res = over_checkpoints(cks, measure, U)          # {layer: {epoch: result}}
    >>> fig = plot_volume_by_layer(res, shape=A.shape, extent=(-1, 1, -1, 1))
    >>> [ax.get_title().split(" (")[0] for ax in fig.axes[:4]]      # then 4 colour bars
    ['act1: initialisation', 'act2: initialisation', 'act1: epoch 9', 'act2: epoch 9']
    """
    _check_nonempty(results, "results", "layer -> {epoch: result}")
    shape = _check_shape(shape)
    extent = _check_extent(extent)
    layers = list(results)
    for layer in layers:
        _check_nonempty(results[layer], f"results[{layer!r}]", "epoch -> result")
    if epochs is None:
        first = sorted(results[layers[0]], key=lambda e: _epoch(e, "results"))
        epochs = list(dict.fromkeys((first[0], first[-1])))
    epochs = list(epochs)
    if not epochs:
        raise ValueError("epochs is empty; expected at least one epoch to draw.")
    grids: dict[str, dict[Any, dict[str, np.ndarray]]] = {}
    for layer in layers:
        grids[layer] = {}
        for e in epochs:
            if e not in results[layer]:
                raise ValueError(
                    f"results[{layer!r}] has no epoch {e!r}; got {sorted(results[layer])}."
                )
            where = f"results[{layer!r}][{e!r}]"
            grids[layer][e] = {
                "log_volume": _grid_values(results[layer][e], "log_volume", shape, where),
                "logits": _grid_values(results[layer][e], "logits", shape, where, ndim=2),
            }
    n_rows, n_cols = len(epochs), len(layers)
    fig, axes = new_figure(n_rows, n_cols, size=(3.8 * n_cols, 3.2 * n_rows), squeeze=False)
    for j, layer in enumerate(layers):
        lv = np.concatenate([grids[layer][e]["log_volume"] for e in epochs])
        lo, hi = np.percentile(lv[np.isfinite(lv)], [1, 99])
        for i, e in enumerate(epochs):
            ax = axes[i, j]
            im = ax.imshow(
                grids[layer][e]["log_volume"].reshape(shape),
                extent=extent,
                origin="lower",
                cmap="viridis",
                vmin=lo,
                vmax=hi,
            )
            overlay_boundary(
                ax, grids[layer][e]["logits"].reshape(*shape, -1), extent, color="white"
            )
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            r = results[layer][e]
            mag = f" ({r['magnification']:+.2f})" if "magnification" in r else ""
            ax.set(title=f"{layer}: {_label_epoch(int(e))}{mag}")
    return fig


def plot_spectra(spectra: Mapping[int, Any], *, anchor_labels: Sequence[str]) -> Any:
    """Singular values of J/√n at each anchor input, one panel per anchor, one line per epoch.

    Parameters
    ----------
    spectra : mapping of int to array_like of shape (a, k)
        ``epoch -> singular values`` (decreasing along axis 1), what
        :func:`repgeo.geometry.spectra_over_training` returns.
    anchor_labels : sequence of str of length a
        Panel titles, one per anchor (row of each spectrum).

    Returns
    -------
    matplotlib.figure.Figure
        ``a`` panels with a log y-axis; lines coloured from early (dark) to late (yellow).

    Examples
    --------
    >>> from repgeo.geometry import spectra_over_training
    >>> from repgeo.models import MLP
    >>> from repgeo.plots import plot_spectra
    >>> cks = [(0, MLP([3, 10, 2], seed=0)), (5, MLP([3, 10, 2], seed=1))]
    >>> s = spectra_over_training(cks, [[0.0, 1.0, 2.0], [1.0, 0.0, 0.0]])
    >>> fig = plot_spectra(s, anchor_labels=["x", "y"])
    >>> len(fig.axes), len(fig.axes[0].get_lines())
    (2, 2)
    """
    _check_nonempty(spectra, "spectra", "epoch -> (a, k) singular values")
    labels = list(anchor_labels) if not isinstance(anchor_labels, str) else [anchor_labels]
    if not labels:
        raise ValueError("anchor_labels is empty; expected one label per anchor.")
    epochs = sorted(spectra, key=lambda e: _epoch(e, "spectra"))
    values = {}
    for e in epochs:
        s = np.asarray(check_array(spectra[e], name=f"spectra[{e!r}]", ndim=2), np.float64)
        if s.shape[0] != len(labels):
            raise ValueError(
                f"spectra[{e!r}] has {s.shape[0]} anchor row(s); expected {len(labels)} "
                "(one per anchor label)."
            )
        values[e] = s
    n_anchor = len(labels)
    fig, axes = new_figure(1, n_anchor, size=(3.4 * n_anchor, 2.9), squeeze=False)
    cmap = colormaps["viridis"]
    for i, lab in enumerate(labels):
        ax = axes[0, i]
        for j, e in enumerate(epochs):
            s = values[e][i]
            ax.semilogy(
                np.arange(1, len(s) + 1),
                s,
                color=cmap(j / max(len(epochs) - 1, 1)),
                label=_label_epoch(int(e)),
            )
        ax.set(title=f"anchor {lab}", xlabel="index i", ylabel="s_i(J/√n)")
    axes[0, -1].legend(fontsize=7)
    return fig


# ----------------------------------------------------------------------------- infinite width
def _radii(radii: Any) -> np.ndarray:
    return np.asarray(check_array(radii, name="radii", ndim=1, shape_hint="(m,)"), np.float64)


def plot_infinite_width(results: Mapping[str, Mapping[str, Any]], radii: Any) -> Any:
    """Random networks against the infinite-width metric: one column per activation.

    Top: the volume element √det g along a ray |x| — Monte Carlo mean ± sd over random
    networks of each width, and the infinite-width value (dashed). Bottom: the relative
    Frobenius error of the metric against width (max and mean over |x|) with an n^(−1/2) guide.

    Parameters
    ----------
    results : mapping of str to dict
        ``{activation: result}``, each what :func:`repgeo.geometry.finite_width_comparison`
        returns (``widths``, ``log_volume`` (n_widths, n_seeds, m), ``log_volume_inf`` (m,),
        ``max_rel_error`` and ``mean_rel_error`` (n_widths,)).
    radii : array_like of shape (m,)
        |x| of the m points the comparison was run on.

    Returns
    -------
    matplotlib.figure.Figure
        2 rows × ``len(results)`` panels.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import finite_width_comparison
    >>> from repgeo.plots import plot_infinite_width
    >>> r = np.linspace(0, 2, 5)
    >>> X = np.column_stack([r, np.zeros(5)])
    >>> res = {a: finite_width_comparison(X, a, widths=[16, 256], n_seeds=2) for a in ("erf", "relu")}
    >>> fig = plot_infinite_width(res, r)
    >>> len(fig.axes), fig.axes[0].get_title()
    (4, 'erf: volume element √det g')
    """
    _check_nonempty(results, "results", "activation -> finite_width_comparison result")
    r = _radii(radii)
    checked = {}
    for act, res in results.items():
        for key in ("widths", "log_volume", "log_volume_inf", "max_rel_error", "mean_rel_error"):
            if key not in res:
                raise ValueError(f"results[{act!r}] has no {key!r}; got keys {sorted(res)}.")
        widths = [int(w) for w in res["widths"]]
        lv = np.asarray(check_array(res["log_volume"], name="log_volume", ndim=3), np.float64)
        lv_inf = np.asarray(check_array(res["log_volume_inf"], name="log_volume_inf", ndim=1))
        errs = [
            np.asarray(check_array(res[k], name=k, ndim=1), np.float64)
            for k in ("max_rel_error", "mean_rel_error")
        ]
        if lv.shape[0] != len(widths) or any(e.shape[0] != len(widths) for e in errs):
            raise ValueError(
                f"results[{act!r}]: log_volume and the errors must have one row per width "
                f"({len(widths)}); got {lv.shape[0]}, {errs[0].shape[0]}, {errs[1].shape[0]}."
            )
        if lv.shape[2] != r.shape[0] or lv_inf.shape[0] != r.shape[0]:
            raise ValueError(
                f"results[{act!r}] has {lv.shape[2]} points per network and "
                f"{lv_inf.shape[0]} at infinite width; expected {r.shape[0]} (len(radii))."
            )
        checked[act] = (widths, lv, lv_inf, *errs)
    acts = list(checked)
    fig, axes = new_figure(2, len(acts), size=(3.8 * len(acts), 6.4), squeeze=False)
    cmap = colormaps["plasma"]
    for j, act in enumerate(acts):
        widths, lv, lv_inf, max_err, mean_err = checked[act]
        ax = axes[0, j]
        for i, w in enumerate(widths):
            vol = 10.0 ** lv[i]
            mu, sd = vol.mean(0), vol.std(0)
            c = cmap(i / max(len(widths), 2))
            ax.plot(r, mu, color=c, lw=1, label=f"n = {w} (MC mean ± sd)")
            ax.fill_between(r, mu - sd, mu + sd, color=c, alpha=0.15)
        ax.plot(r, 10.0**lv_inf, "k--", lw=1.5, label="infinite width")
        ax.set(title=f"{act}: volume element √det g", xlabel="|x|", ylabel="√det g")
        ax.legend(fontsize=6)
        ax = axes[1, j]
        ax.loglog(widths, max_err, "o-", label="max over |x| (mean over nets)")
        ax.loglog(widths, mean_err, "s-", label="mean")
        ref = max_err[0] * (np.asarray(widths) / widths[0]) ** -0.5
        ax.loglog(widths, ref, "k:", label="∝ n^(−1/2)")
        ax.set(title=f"{act}: ‖g_n − g_∞‖_F / ‖g_∞‖_F", xlabel="width n", ylabel="relative error")
        ax.legend(fontsize=6)
    return fig


def plot_infinite_width_curvature(K: Mapping[str, Any], radii: Any) -> Any:
    """Scalar curvature R = 2K of the infinite-width metric along a ray, one line per activation.

    Parameters
    ----------
    K : mapping of str to array_like of shape (m,)
        ``{activation: Gaussian curvature K}`` at the m points of the ray, what
        :func:`repgeo.geometry.infinite_width_curvature` returns (drawn as R = 2K).
    radii : array_like of shape (m,)
        |x| of the points.

    Returns
    -------
    matplotlib.figure.Figure
        One panel with a grey line at R = 0.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import infinite_width_curvature
    >>> from repgeo.plots import plot_infinite_width_curvature
    >>> r = np.linspace(0, 3, 7)
    >>> X = np.column_stack([r, np.zeros(7)])
    >>> K = {a: infinite_width_curvature(X, a) for a in ("erf", "relu")}
    >>> fig = plot_infinite_width_curvature(K, r)
    >>> [line.get_label() for line in fig.axes[0].get_lines()[:2]]
    ['erf', 'relu']
    """
    _check_nonempty(K, "K", "activation -> curvature along the ray")
    r = _radii(radii)
    curves = {}
    for act, k in K.items():
        v = np.asarray(check_array(k, name=f"K[{act!r}]", ndim=1, shape_hint="(m,)"), np.float64)
        if v.shape[0] != r.shape[0]:
            raise ValueError(
                f"K[{act!r}] has {v.shape[0]} points; expected {r.shape[0]} (len(radii))."
            )
        curves[act] = v
    fig, ax = new_figure(1, 1, size=(5.0, 3.2))
    for act, v in curves.items():
        ax.plot(r, 2.0 * v, label=act)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set(xlabel="|x|", ylabel="R = 2K", title="scalar curvature at infinite width (2-D inputs)")
    ax.legend()
    return fig
