"""Coding-rate and intrinsic-dimension figures: per layer over training.

Every function takes results or arrays and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._style import new_figure

__all__ = ["plot_coding_id"]


def _series(series: Mapping[Any, float]) -> tuple[list[int], list[float]]:
    return [int(e) for e in series], [float(v) for v in series.values()]


def plot_coding_id(
    results: Mapping[str, Mapping[str, Any]],
    inputs: Mapping[str, Mapping[str, float]] | None = None,
) -> Any:
    """ΔR and TwoNN intrinsic dimension per hidden layer over training, one row per model.

    Parameters
    ----------
    results : mapping of str to dict
        ``{model: {"delta_r": {layer: {epoch: v}}, "twonn": {layer: {epoch: v}}}}``, optionally
        with ``"delta_r_unseen"`` (same nesting; drawn dashed) — what
        :func:`repgeo.panels.coding_id.measure_coding_id` returns per model, or the
        ``coding.delta_r`` / ``id.twonn`` / ``coding.delta_r_unseen`` metrics regrouped.
    inputs : mapping of str to dict, optional
        ``{model: {"delta_r": v, "twonn": v}}`` of the raw input, drawn as dotted lines.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_coding_id
    >>> res = {"net": {"delta_r": {"act1": {"0": 0.2, "10": 0.9}},
    ...                "twonn": {"act1": {"0": 8.0, "10": 5.0}}}}
    >>> fig = plot_coding_id(res, {"net": {"delta_r": 0.1, "twonn": 9.0}})
    >>> len(fig.axes)
    2
    """
    if not results:
        raise ValueError("results must name at least one model.")
    models = list(results)
    fig, axes = new_figure(len(models), 2, size=(8.0, 2.9 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        res = results[model]
        ax_r, ax_d = axes[row]
        for i, (layer, series) in enumerate(res["delta_r"].items()):
            colour = f"C{i}"
            ax_r.plot(*_series(series), "o-", color=colour, ms=3, label=f"{layer} (seen)")
            if "delta_r_unseen" in res:
                ax_r.plot(
                    *_series(res["delta_r_unseen"][layer]),
                    "s--",
                    color=colour,
                    ms=3,
                    label=f"{layer} (unseen)",
                )
            ax_d.plot(*_series(res["twonn"][layer]), "o-", color=colour, ms=3, label=layer)
        if inputs is not None and model in inputs:
            ax_r.axhline(inputs[model]["delta_r"], color="0.5", ls=":", lw=1, label="input")
            ax_d.axhline(inputs[model]["twonn"], color="0.5", ls=":", lw=1, label="input")
        for ax in (ax_r, ax_d):
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=0)
            ax.set_xlabel("epoch")
        ax_r.set(ylabel="ΔR (nats)", title=f"{model}: coding rate reduction")
        ax_d.set(ylabel="TwoNN ID", title=f"{model}: intrinsic dimension")
        ax_r.legend(loc="best", fontsize=7)
        ax_d.legend(loc="best", fontsize=7)
    return fig
