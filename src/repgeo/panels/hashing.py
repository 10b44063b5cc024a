"""Manifold-hashing panel: separation and θ-invariance over training, 1-shot transfer.

The default study's model "manifold" (trained on the seen classes of family-1 class manifolds)
is measured at every checkpoint and hidden layer with
:func:`repgeo.hashing.analyse_checkpoints` (separation and invariance), and its embedding (last
hidden layer) is scored by N-way 1-shot accuracy on the unseen classes against the untrained
network, the raw input and PCA of the input (:func:`repgeo.hashing.one_shot_baselines`).

Figures: ``hashing_separation`` (:func:`repgeo.plots.plot_separation_histograms`) and
``hashing_panel`` (:func:`repgeo.plots.plot_hashing_panel`).

Metrics (dataset ``manifold``, embedding layer)
-----------------------------------------------
``hashing.auroc``
    ``{"manifold": {"seen": {epoch: auroc}, "unseen": {epoch: auroc}}}``;
``hashing.invariance_ratio``
    ``{"manifold": {epoch: ratio}}`` on held-out points of the training classes;
``hashing.one_shot`` / ``hashing.one_shot_ci``
    ``{"manifold": {"trained", "untrained", "raw", "pca": mean}}`` and ``[low, high]`` 95 %
    intervals over episodes.

Options (section ``hashing``): ``n_pairs``, ``n_invariance_points``, ``n_way``, ``n_episodes``,
``n_query``, ``pca_components``.

The ``manifold-hashing`` study shares :func:`by_epoch` and the captions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..hashing import (
    analyse_checkpoints,
    baseline_embeddings,
    layer_series,
    one_shot_baselines,
    separation_snapshots,
)
from ..models import hidden_layers
from ..plots import plot_hashing_panel, plot_separation_histograms
from ..runs import Panel, RunContext
from ._common import checkpoints, datasets, manifold_generator

__all__ = ["HISTOGRAM_CAPTION", "PANEL", "by_epoch"]

LABEL = "class manifolds"

HISTOGRAM_CAPTION = (
    "Cosine similarity of embedding pairs from the same manifold (lines) and from different "
    "manifolds (shaded), on held-out samples of the training classes (blue) and of unseen classes "
    "(red), at initialisation (left) and after training (right). A hash of the manifolds puts "
    "same-γ pairs at 1, apart from the rest."
)

_PANEL_CAPTION = (
    "Manifold hashing. Left: invariance ratio ‖∂h/∂θ‖/‖∂h/∂γ‖ through the composed map (each "
    "normalised by the generator's; 1 = like the input, 0 = a function of γ alone) per hidden "
    "layer over training. Middle: AUROC of same- vs different-manifold pairs. Right: 1-shot "
    "accuracy on classes never trained on, against baselines (95 % intervals; dotted: chance)."
)


def by_epoch(rows: Sequence[Mapping[str, Any]], key: str, *, layer: str) -> dict[str, float]:
    """``{epoch: value}`` of one quantity of one layer with JSON keys (a metric's layout)."""
    return {str(e): v for e, v in layer_series(rows, key, layer=layer).items()}


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Separation and invariance over training, and 1-shot transfer, of the "manifold" model."""
    cks = checkpoints(ctx, "manifold")
    splits = datasets(ctx, "manifold")
    seed = ctx.seed_for("hashing-panel")
    n_pairs = int(opts["n_pairs"])
    rows = analyse_checkpoints(
        cks,
        splits,
        manifold_generator(ctx),
        measures=("separation", "invariance"),
        n_pairs=n_pairs,
        n_invariance_points=int(opts["n_invariance_points"]),
        device=ctx.device,
        random_state=seed,
    )
    layer = hidden_layers(cks[-1][1])[-1]
    snaps = separation_snapshots(
        [cks[0], cks[-1]],
        splits,
        layer=layer,
        n_pairs=n_pairs,
        device=ctx.device,
        random_state=seed,
    )
    ctx.figure(
        plot_separation_histograms({LABEL: snaps}, layers=layer),
        "hashing_separation",
        caption=HISTOGRAM_CAPTION,
    )
    unseen = splits["unseen"]
    embeddings = baseline_embeddings(
        cks[-1][1],
        cks[0][1],
        unseen.X,
        pca_fit=splits["train"].X,
        pca_components=int(opts["pca_components"]),
        layer=layer,
        device=ctx.device,
    )
    res = one_shot_baselines(
        embeddings,
        unseen.y,
        n_way=int(opts["n_way"]),
        n_query=int(opts["n_query"]),
        n_episodes=int(opts["n_episodes"]),
        random_state=seed,
    )
    ctx.figure(plot_hashing_panel(rows, res, label=LABEL), "hashing_panel", caption=_PANEL_CAPTION)
    ctx.metric(
        "hashing.auroc",
        {
            "manifold": {
                "seen": by_epoch(rows, "auroc_seen", layer=layer),
                "unseen": by_epoch(rows, "auroc_unseen", layer=layer),
            }
        },
    )
    ctx.metric("hashing.invariance_ratio", {"manifold": by_epoch(rows, "inv_seen", layer=layer)})
    ctx.metric("hashing.one_shot", {"manifold": {k: v["mean"] for k, v in res.items()}})
    ctx.metric(
        "hashing.one_shot_ci",
        {"manifold": {k: [v["ci_low"], v["ci_high"]] for k, v in res.items()}},
    )
    emb = [r for r in rows if r["layer"] == layer]
    e0, e1 = emb[0], emb[-1]
    ctx.text(
        f"Embedding layer {layer}: invariance ratio {e0['inv_seen']:.3f} at initialisation → "
        f"{e1['inv_seen']:.3f} at epoch {e1['epoch']}; AUROC (unseen manifolds) "
        f"{e0['auroc_unseen']:.3f} → {e1['auroc_unseen']:.3f}; {res['trained']['n_way']}-way "
        f"1-shot accuracy on unseen classes {res['trained']['mean']:.3f} (untrained "
        f"{res['untrained']['mean']:.3f}, raw input {res['raw']['mean']:.3f}, PCA "
        f"{res['pca']['mean']:.3f})."
    )


PANEL = Panel(
    name="hashing",
    title="Manifold hashing: invariance, separation, one-shot transfer",
    fn=run,
    config={
        "n_pairs": 5000,
        "n_invariance_points": 80,
        "n_way": 10,
        "n_episodes": 500,
        "n_query": 5,
        "pca_components": 32,
    },
    metrics=(
        "hashing.auroc",
        "hashing.invariance_ratio",
        "hashing.one_shot",
        "hashing.one_shot_ci",
    ),
    requires=("train_manifold",),
    summary="separation, θ-invariance over training and 1-shot accuracy on unseen classes",
)
