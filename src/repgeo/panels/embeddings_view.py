"""A 2-D view of one layer (``repgeo analyze``): PHATE or heat-geodesic MDS, coloured by class.

Options (section ``view``): ``layer`` (default: the last layer), ``method`` (``"phate"`` or
``"heat_geodesic"``), ``max_points`` (points embedded, 2000), ``k`` (neighbours of the graph, 5).
The embedding is computed on a random subset of rows (:class:`repgeo.diffusion.PHATE`,
:class:`repgeo.diffusion.HeatGeodesic`) and drawn with :func:`repgeo.plots.plot_embeddings_2d`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..diffusion import PHATE, HeatGeodesic
from ..plots import plot_embeddings_2d
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["PANEL"]

_LABELS = {"phate": "PHATE", "heat_geodesic": "heat-geodesic MDS"}


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Embed one layer in 2-D."""
    src = _analyze.source(ctx)
    layers = list(src.layers)
    layer = opts["layer"] or layers[-1]
    if layer not in src.layers:
        raise ValueError(f"view.layer {layer!r} is not an analysed layer; choose one of {layers}.")
    idx = _analyze.rows(src.n_samples, int(opts["max_points"]), ctx.rng("view-rows"))
    Z = np.asarray(src.layers[layer][idx], dtype=np.float64)
    seed = ctx.seed_for("view")
    k = min(int(opts["k"]), len(idx) - 1)
    if opts["method"] == "phate":
        Y = PHATE(k=k, random_state=seed).fit_transform(Z)
    else:
        Y = HeatGeodesic(k=k, random_state=seed).fit_transform(Z)
    label = _LABELS[opts["method"]]
    colours = None if src.y is None else {layer: src.y[idx].astype(np.float64)}
    ctx.figure(
        plot_embeddings_2d({layer: {label: np.asarray(Y)}}, colours, cmap="tab10", size=4.0),
        "view_layer",
        caption=f"{label} of layer {layer} ({len(idx)} of {src.n_samples} samples, {k}-nearest-"
        "neighbour graph)" + ("; colour: class" if src.y is not None else "") + ".",
    )
    if src.y is not None and src.class_names:
        ctx.text(
            "Classes in colour order: "
            + ", ".join(f"{i}: {n}" for i, n in enumerate(src.class_names[:20]))
            + ". A diffusion embedding keeps the data's neighbourhood structure (clusters, "
            "branches, trajectories) rather than its large distances."
        )


PANEL = Panel(
    name="view",
    title="A 2-D view of one layer",
    fn=run,
    config={"layer": "", "method": "phate", "max_points": 2000, "k": 5},
    quick={"max_points": 500},
    schema={
        "method": Option(type="str", choices=("phate", "heat_geodesic")),
        "max_points": Option(type="int", ge=10),
    },
    requires=("data",),
    summary="PHATE or heat-geodesic 2-D embedding of a chosen layer, coloured by class",
)
