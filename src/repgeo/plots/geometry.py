"""Figures of the Riemannian-geometry analyses (decision panels, volume and curvature, spectra).

Every function returns a matplotlib Figure; studies save it with ``ctx.figure``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._style import new_figure

__all__ = [
    "overlay_boundary",
    "plot_decision_panels",
    "plot_spectra",
    "plot_volume_curvature",
]


def overlay_boundary(
    ax: Any, logits: np.ndarray, extent: Sequence[float], *, color: str = "black"
) -> None:
    """Draw the decision boundary on ``ax``: the zero level set of ℓ_c − max_{c'≠c} ℓ_c' for
    every predicted class c (one contour for two classes).

    ``logits`` has shape (rows, cols, C) on the grid spanning ``extent``.
    """
    L = np.asarray(logits, dtype=np.float64)
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


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64).copy()
    if mask is not None:
        v[~mask] = np.nan
    return v


def _label_epoch(epoch: int) -> str:
    return "initialisation" if epoch == 0 else f"epoch {epoch}"


def plot_decision_panels(
    results: Mapping[int, Mapping[str, np.ndarray]],
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
):
    """Rows = checkpoints; columns = predicted class, softmax entropy, log10 volume with the
    decision boundary overlaid (white).

    Parameters
    ----------
    results : mapping epoch -> dict with ``pred``, ``entropy``, ``log_volume`` (flat grids)
    shape : (rows, cols) of the grid
    extent : (x_min, x_max, y_min, y_max)
    mask : bool array (flat), optional — show only these points (e.g. a ternary triangle)
    anchors : (3, 2) plane coordinates of anchor inputs, optional
    points, point_labels : training points (2-D inputs) to scatter, optional
    triangle : bool — outline the anchor triangle (the ternary region)
    """
    epochs = sorted(results)
    n_classes = n_classes or int(max(int(np.max(r["pred"])) for r in results.values()) + 1)
    fig, axes = new_figure(len(epochs), 3, size=(11.0, 3.1 * len(epochs)), squeeze=False)
    lv_all = np.concatenate(
        [
            _masked(results[e]["log_volume"], mask)[
                np.isfinite(_masked(results[e]["log_volume"], mask))
            ]
            for e in epochs
        ]
    )
    vmin, vmax = np.percentile(lv_all, [1, 99]) if lv_all.size else (0.0, 1.0)
    cmap_cls = "tab10" if n_classes <= 10 else "tab20"
    for row, e in enumerate(epochs):
        r = results[e]
        pred = _masked(r["pred"], mask).reshape(shape)
        ent = _masked(r["entropy"], mask).reshape(shape)
        lv = _masked(r["log_volume"], mask).reshape(shape)
        logits = np.asarray(r["logits"]).reshape(*shape, -1)
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
                title=f"{label}\n{_label_epoch(e)} (magnif. {r['magnification']:+.2f})"
                if col == 2 and "magnification" in r
                else f"{label}\n{_label_epoch(e)}",
                xlabel=axis_labels[0],
                ylabel=axis_labels[1],
            )
    if title:
        fig.suptitle(title)
    return fig


def _symlog_norm(values: np.ndarray):
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
):
    """Rows = models; columns = log10 volume at init / trained, scalar curvature R = 2K at
    init / trained, each with the decision boundary overlaid.

    ``entries``: dicts with ``name``, ``init`` and ``trained`` (results of
    :func:`repgeo.geometry.decision_geometry` with ``curvature=True``, plus ``epoch``),
    and optionally ``X``, ``y`` (training points).
    """
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


def plot_spectra(spectra: Mapping[int, np.ndarray], *, anchor_labels: Sequence[str]):
    """Singular values of J/√n at each anchor (one panel per anchor), one line per checkpoint."""
    epochs = sorted(spectra)
    n_anchor = len(anchor_labels)
    fig, axes = new_figure(1, n_anchor, size=(3.4 * n_anchor, 2.9), squeeze=False)
    cmap = __import__("matplotlib").colormaps["viridis"]
    for i, lab in enumerate(anchor_labels):
        ax = axes[0, i]
        for j, e in enumerate(epochs):
            s = spectra[e][i]
            ax.semilogy(
                np.arange(1, len(s) + 1),
                s,
                color=cmap(j / max(len(epochs) - 1, 1)),
                label=_label_epoch(e),
            )
        ax.set(title=f"anchor {lab}", xlabel="index i", ylabel="s_i(J/√n)")
    axes[0, -1].legend(fontsize=7)
    return fig
