"""Riemannian-geometry panel: effective volume on a digits plane over training."""

from __future__ import annotations

from typing import Any

from ..runs import Panel, RunContext

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    from ..studies.riemann import default_panel

    default_panel(ctx, opts)


PANEL = Panel(
    name="geometry",
    title="Riemannian geometry: volume on a digits plane",
    fn=run,
    config={"resolution": 60, "k": 10, "anchors": [7, 6, 1], "spectrum_k": 64},
    metrics=("geometry.boundary_magnification",),
    requires=("train_digits",),
    summary="effective volume of the embedding on the plane through three test digits",
)
