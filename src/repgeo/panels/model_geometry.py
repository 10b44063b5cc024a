"""Riemannian geometry of your own model (``repgeo analyze --model`` on continuous inputs).

The plane through three inputs — the rows named in ``geometry.anchors``, by default the first
three — in the convention of Zavatone-Veth et al. (2023), on a ``resolution`` × ``resolution``
grid (:func:`repgeo.geometry.plane_slice`), and at every grid point the log10 effective volume
of each analysed layer: the sum of the top-``k`` log10 singular values of J/√n, with J the
Jacobian of the layer's output with respect to the (flattened) input
(:func:`repgeo.geometry.effective_volume` of a :class:`repgeo.features.FeatureMap`).

Metric: ``embeddings.effective_volume`` (mean over the plane, per layer).

Options (section ``geometry``): ``anchors`` (three row indices, default the first three),
``resolution`` (16), ``k`` (10; capped at the layer width and the input dimension).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..features import FeatureMap
from ..geometry import effective_volume, plane_slice
from ..plots import plot_plane_volumes
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Effective volume of every layer on the plane through three inputs."""
    if ctx.config["data"]["kind"] != "model":
        ctx.text("Embeddings without their model: the pullback metric needs the model.")
        return
    lm = _analyze.loaded_model(ctx)
    inputs = _analyze.model_inputs(ctx)
    if not inputs.continuous:
        ctx.text("Token inputs are not a vector space: the plane geometry needs arrays or images.")
        return
    X = np.asarray(inputs.data, dtype=np.float32)
    anchors = [int(a) for a in opts["anchors"]] or [0, 1, 2]
    if len(anchors) != 3 or min(anchors) < 0 or max(anchors) >= len(X):
        raise ValueError(
            f"geometry.anchors must name three rows of the inputs (0 … {len(X) - 1}); got "
            f"{anchors}."
        )
    shape = X.shape[1:]
    flat = X.reshape(len(X), -1)
    plane = plane_slice(*flat[anchors], resolution=int(opts["resolution"]))
    d = flat.shape[1]
    volumes, means, ks = {}, {}, {}
    for layer in ctx.progress(list(ctx.config["data"]["layers"]), "effective volume"):
        fm = FeatureMap(lm.model, layer, input_shape=shape if len(shape) > 1 else None)
        n = fm.n_features(d)
        k = min(int(opts["k"]), n, d)
        v = np.asarray(effective_volume(fm, plane.points.astype(np.float32), k=k), dtype=np.float64)
        volumes[layer], ks[layer] = v, k
        finite = v[np.isfinite(v)]
        means[layer] = round(float(finite.mean()), 4) if finite.size else None
    ctx.metric("embeddings.effective_volume", means)
    ctx.figure(
        plot_plane_volumes(
            volumes,
            shape=plane.A.shape,
            extent=plane.extent,
            anchors=plane.anchors,
            anchor_labels=[str(a) for a in anchors],
        ),
        "geometry_plane",
        caption=f"log10 effective volume (top-k log10 singular values of J/√n) of each layer on the "
        f"plane through inputs {anchors} (paper's convention, anchors at the triangle's corners, "
        f"grid {plane.resolution}×{plane.resolution} on [−1, 1]²).",
    )
    ctx.table(
        "Effective volume on the plane",
        [{"layer": k, "k": ks[k], "mean log10 effective volume": means[k]} for k in volumes],
    )
    ctx.text(
        "The pullback metric g = JᵀJ/n of a layer measures how much it stretches input space; "
        "its effective volume is large where the layer separates nearby inputs (near class "
        "boundaries, after training) and small where it is invariant."
    )


PANEL = Panel(
    name="geometry",
    title="Riemannian geometry on a plane through three inputs",
    fn=run,
    config={"anchors": [], "resolution": 16, "k": 10},
    quick={"resolution": 8},
    schema={
        "anchors": Option(type="list", items=Option(type="int", ge=0)),
        "resolution": Option(type="int", ge=2),
    },
    metrics=("embeddings.effective_volume",),
    requires=("data",),
    summary="log10 effective volume of each layer on a plane through three inputs",
)
