"""Manifold-hashing panel: separation and θ-invariance over training, 1-shot transfer."""

from __future__ import annotations

from typing import Any

from ..runs import Panel, RunContext

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    from ..studies.manifold_hashing import default_panel

    default_panel(ctx, opts)


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
