"""Diffusion panel: spectral entropy and mutual information of the embeddings over training."""

from __future__ import annotations

from typing import Any

from ..runs import Panel, RunContext

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    from ..studies.diffusion import default_panel

    default_panel(ctx, opts)


PANEL = Panel(
    name="diffusion",
    title="Diffusion spectral entropy over training",
    fn=run,
    config={"t": 1.0, "bandwidth": "median", "n_repetitions": 5},
    metrics=("diffusion.dse", "diffusion.dse_stderr", "diffusion.dsmi", "diffusion.sigma"),
    requires=("train_manifold", "train_digits"),
    summary="diffusion spectral entropy and DSMI(Z; Y) of the embeddings per checkpoint",
)
