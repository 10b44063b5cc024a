"""Latent-space communication panel: zero-shot stitching between two seeds."""

from __future__ import annotations

from typing import Any

from ..runs import Panel, RunContext

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    from ..studies.stitching import default_panel

    default_panel(ctx, opts)


PANEL = Panel(
    name="stitching",
    title="Latent-space communication: zero-shot stitching",
    fn=run,
    config={"max_epochs": 200, "n_anchors": 300, "k": 10},
    metrics=("latent.stitching", "latent.jaccard", "latent.mrr", "latent.cosine", "latent.cka"),
    requires=("train_digits",),
    summary="absolute vs relative vs Procrustes stitching of two digits MLPs, similarity",
)
