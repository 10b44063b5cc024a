"""Riemannian-geometry panel: effective volume on a plane through three test digits over training.

The plane through three test images (by default the first 7, 6 and 1 of the test split) in the
convention of Zavatone-Veth et al. (2023): x(a, b) = O + a·right + b·up with the anchors at
the corners of a triangle, on a ``resolution`` × ``resolution`` grid of [−1, 1]². At every
checkpoint of the "digits" model, the effective volume of the last hidden layer (sum of the
top-``k`` log10 singular values of J/√n), the predicted class, the softmax entropy and the
decision boundary (:func:`repgeo.geometry.geometry_over_training`); the singular values of
J/√n at the three anchors (:func:`repgeo.geometry.spectra_over_training`).

Metrics
-------
``geometry.boundary_magnification``
    ``{"digits": {epoch: value}}``: mean log10 effective volume on the 10 % of plane points with
    the smallest logit margin minus that on the 50 % with the largest.

Options (section ``geometry``): ``resolution`` (grid points per side, 60), ``k`` (singular
values in the effective volume, 10), ``anchors`` (the three digit classes, [7, 6, 1]),
``spectrum_k`` (singular values drawn at the anchors, 64); ``k`` and ``spectrum_k`` are capped
at the layer width and the input dimension.

Figures: :func:`repgeo.plots.plot_decision_panels` (initialisation and last checkpoint) and
:func:`repgeo.plots.plot_spectra`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data import Dataset
from ..features import FeatureMap
from ..geometry import geometry_over_training, plane_slice, spectra_over_training
from ..models import hidden_layers
from ..plots import plot_decision_panels, plot_spectra
from ..runs import Panel, RunContext
from ._common import checkpoints, datasets

__all__ = ["DEFAULTS", "PANEL", "pick_anchors"]

DEFAULTS: dict[str, Any] = {"resolution": 60, "k": 10, "anchors": [7, 6, 1], "spectrum_k": 64}


def pick_anchors(ds: Dataset, classes: Sequence[int]) -> tuple[np.ndarray, list[str]]:
    """The first sample of each class in ``ds``, and labels ``"<class> (<sample id>)"``.

    Parameters
    ----------
    ds : Dataset
        Labelled samples (e.g. the test split of the digits).
    classes : sequence of int
        One class per anchor.

    Returns
    -------
    X : ndarray of shape (len(classes), d)
    labels : list of str

    Raises
    ------
    ValueError
        If ``ds`` has no labels or no sample of one of the classes.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.data import Dataset
    >>> from repgeo.panels.geometry import pick_anchors
    >>> ds = Dataset(X=np.arange(8.0).reshape(4, 2), y=np.array([1, 7, 1, 6]), ids=["a", "b", "c", "d"])
    >>> X, labels = pick_anchors(ds, [7, 1])
    >>> X.tolist(), labels
    ([[2.0, 3.0], [0.0, 1.0]], ['7 (b)', '1 (a)'])
    """
    if ds.y is None:
        raise ValueError(f"{ds.name}: anchors are picked by class, but the dataset has no labels.")
    idx = []
    for c in classes:
        where = np.flatnonzero(ds.y == c)
        if where.size == 0:
            raise ValueError(
                f"no sample of class {c} for the anchors; classes present: "
                f"{sorted(set(np.asarray(ds.y).tolist()))}."
            )
        idx.append(int(where[0]))
    return ds.X[idx], [f"{c} ({ds.ids[i]})" for c, i in zip(classes, idx)]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """The digits plane through three test images at every checkpoint of the "digits" model."""
    cfg = {**DEFAULTS, **opts}
    cks = checkpoints(ctx, "digits")
    test = datasets(ctx, "digits")["test"]
    anchors_x, labels = pick_anchors(test, [int(c) for c in cfg["anchors"]])
    short = [s.split(" ")[0] for s in labels]
    plane = plane_slice(*anchors_x, resolution=int(cfg["resolution"]))
    d = plane.points.shape[1]
    layer = hidden_layers(cks[0][1])[-1]
    n = FeatureMap(cks[0][1], layer).n_features(d)
    k = min(int(cfg["k"]), n, d)
    res = geometry_over_training(cks, plane.points, layer=layer, quantity="effective", k=k)
    mags = {e: r["magnification"] for e, r in res.items()}
    first, last = cks[0][0], cks[-1][0]
    ctx.figure(
        plot_decision_panels(
            {first: res[first], last: res[last]},
            shape=plane.A.shape,
            extent=plane.extent,
            anchors=plane.anchors,
            anchor_labels=short,
            n_classes=10,
            volume_label=f"log10 effective volume (top {k})",
            triangle=True,
        ),
        "digits_plane_geometry",
        caption=f"Digits plane through test images {', '.join(labels)} (paper's convention: x(a, b) = O + a·right "
        f"+ b·up, anchors at the triangle's corners, grid {plane.resolution}×{plane.resolution} on [−1, 1]²). "
        f"Columns: predicted class, softmax entropy (base 10), log10 effective volume of layer {layer} "
        f"(sum of the top {k} log10 singular values of J/√n) with the decision boundary in white (dashed: the anchor triangle); "
        "rows: initialisation and trained.",
    )
    spectra = spectra_over_training(
        cks, anchors_x, layer=layer, k=min(int(cfg["spectrum_k"]), n, d)
    )
    ctx.figure(
        plot_spectra(spectra, anchor_labels=short),
        "digits_anchor_spectra",
        caption=f"Singular values of J/√n (layer {layer}) at the three anchor images, at every checkpoint.",
    )
    ctx.table(
        "Digits plane: boundary magnification",
        [
            {
                "epoch": e,
                "magnification": round(v, 3),
                "mean log10 effective volume": round(float(res[e]["log_volume"].mean()), 3),
            }
            for e, v in sorted(mags.items())
        ],
        caption="Mean log10 effective volume on the 10 % of plane points with the smallest logit margin minus that on the 50 % with the largest.",
    )
    ctx.metric("geometry.boundary_magnification", {"digits": mags})


PANEL = Panel(
    name="geometry",
    title="Riemannian geometry: volume on a digits plane",
    fn=run,
    config=DEFAULTS,
    metrics=("geometry.boundary_magnification",),
    requires=("train_digits",),
    summary="effective volume of the embedding on the plane through three test digits",
)
