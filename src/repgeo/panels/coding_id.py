"""Coding-rate and intrinsic-dimension panel: ΔR and TwoNN per layer over training."""

from __future__ import annotations

from typing import Any

from ..runs import Panel, RunContext

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    from ..studies._panels_coding import default_panel

    default_panel(ctx, opts)


PANEL = Panel(
    name="coding_id",
    title="Coding rate and intrinsic dimension over training",
    fn=run,
    config={"eps2": 0.5, "max_points": 4000},
    metrics=(
        "coding.delta_r",
        "coding.delta_r_unseen",
        "coding.delta_r_input",
        "id.twonn",
        "id.twonn_input",
    ),
    requires=("train_manifold", "train_digits"),
    summary="MCR² rate reduction and TwoNN intrinsic dimension per hidden layer",
)
