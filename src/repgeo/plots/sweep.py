"""Sweep figures: a metric's mean and 95 % interval over seeds against a swept parameter.

The input is the aggregate of a sweep (``sweep.json`` → ``aggregate``, or
:func:`repgeo.sweep.aggregate`): one row per metric key, grid point and series, with ``point``
(``{parameter: value}``), ``series`` (the path through the key's axes), ``axes``, ``mean``,
``ci`` (``[low, high]`` or None), ``values`` (per seed) and ``higher_is_better``.

=============================== ======================================================
function                        input
=============================== ======================================================
plot_sweep_metric               the aggregate rows of one key, against one parameter
=============================== ======================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._style import new_figure

__all__ = ["plot_sweep_metric"]

_ARROW = {True: " (higher is better)", False: " (lower is better)", None: ""}
_MARKERS = "osD^vP*Xh"
_LINES = ("-", "--", ":", "-.")


def _display(value: Any) -> Any:
    """A parameter value as shown: a one-element list as its element, a list joined by ``+``."""
    if isinstance(value, list):
        if len(value) == 1:
            return _display(value[0])
        return "+".join(str(_display(v)) for v in value) or "[]"
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    return value


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _series_title(axes: Sequence[str], series: Sequence[str]) -> str:
    parts = [f"each cell's {a}" if s == "*" else str(s) for a, s in zip(axes, series)]
    return " · ".join(parts) or "value"


def plot_sweep_metric(
    rows: Sequence[Mapping[str, Any]],
    param: str | None = None,
    *,
    max_panels: int = 12,
) -> Any:
    """Mean ± 95 % interval over seeds of one metric key against one swept parameter.

    One panel per series (leaf path of the key), one line per combination of the other swept
    parameters; the seeds' own values are drawn as faint dots. Numeric parameter values get a
    numeric axis (logarithmic when they span a factor of 20 or more), others a categorical one.

    Parameters
    ----------
    rows : sequence of mapping
        Aggregate rows of a single key (see the module docstring).
    param : str, optional
        The parameter on the x axis; None draws every series side by side (a sweep over seeds
        only).
    max_panels : int, default=12
        At most this many series are drawn (the first ones); the title says when some are left
        out (the report's table lists them all).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_sweep_metric
    >>> rows = [
    ...     {"key": "geometry.boundary_magnification", "axes": ["model", "epoch"],
    ...      "series": ["*", view], "point": {"toy.widths": [w], "toy.tasks": [t]},
    ...      "mean": m, "ci": [m - 0.1, m + 0.1], "values": [m - 0.05, m + 0.05],
    ...      "higher_is_better": True}
    ...     for view, m0 in (("initial", 0.0), ("final", 0.4))
    ...     for t in ("sinusoid", "xor") for w, m in ((20, m0), (250, m0 / 2))
    ... ]
    >>> fig = plot_sweep_metric(rows, "toy.widths")
    >>> [ax.get_title() for ax in fig.axes]
    ["each cell's model · initial", "each cell's model · final"]
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['tasks=sinusoid', 'tasks=xor']
    """
    rows = list(rows)
    if not rows:
        raise ValueError("plot_sweep_metric needs at least one aggregate row; got none.")
    keys = {r.get("key") for r in rows}
    if len(keys) != 1:
        raise ValueError(f"plot_sweep_metric draws one metric key; got {sorted(map(str, keys))}.")
    if not isinstance(max_panels, int) or max_panels < 1:
        raise ValueError(f"max_panels must be an int >= 1; got {max_panels!r}.")
    key = keys.pop()
    params = list(rows[0].get("point") or {})
    if param is not None and param not in params:
        raise ValueError(f"param {param!r} is not a swept parameter of these rows; got {params}.")
    others = [p for p in params if p != param]
    axes_names = list(rows[0].get("axes") or [])
    all_series = list(dict.fromkeys(tuple(r["series"]) for r in rows))
    shown = all_series[:max_panels] if param is not None else [None]
    n = len(shown)
    ncols = min(n, 3)
    nrows = math.ceil(n / ncols)
    fig, axs = new_figure(nrows, ncols, size=(4.2 * ncols, 3.2 * nrows), squeeze=False)
    direction = _ARROW.get(rows[0].get("higher_is_better"), "")

    if param is None:  # every series side by side
        ax = axs[0][0]
        for i, series in enumerate(all_series):
            for r in (r for r in rows if tuple(r["series"]) == series):
                _point(ax, i, r, colour="C0")
        ax.set_xticks(range(len(all_series)))
        ax.set_xticklabels(
            [_series_title(axes_names, s) for s in all_series], rotation=30, ha="right"
        )
        ax.set_ylabel(key + direction)
        ax.set_title(f"{key}: mean and 95 % interval over seeds")
        _zero_line(ax)
        return fig

    xs_all = [_display(r["point"].get(param)) for r in rows]
    numeric = all(_is_number(v) for v in xs_all)
    categories = list(dict.fromkeys(map(str, xs_all)))
    combos = list(
        dict.fromkeys(tuple(str(_display(r["point"].get(p))) for p in others) for r in rows)
    )
    for idx, series in enumerate(shown):
        ax = axs[idx // ncols][idx % ncols]
        for j, combo in enumerate(combos):
            mine = [
                r
                for r in rows
                if tuple(r["series"]) == series
                and tuple(str(_display(r["point"].get(p))) for p in others) == combo
            ]
            if not mine:
                continue
            pts = []
            for r in mine:
                v = _display(r["point"].get(param))
                pts.append((float(v) if numeric else float(categories.index(str(v))), r))
            pts.sort(key=lambda xr: xr[0])
            label = ", ".join(f"{p.rsplit('.', 1)[-1]}={c}" for p, c in zip(others, combo))
            colour = f"C{j % 10}"
            good = [(x, r) for x, r in pts if r.get("mean") is not None]
            ax.plot(
                [x for x, _ in good],
                [r["mean"] for _, r in good],
                _LINES[(j // 10) % len(_LINES)],
                marker=_MARKERS[j % len(_MARKERS)],
                color=colour,
                label=label or None,
                markersize=4,
            )
            for x, r in pts:
                _point(ax, x, r, colour=colour, mean=False)
        if numeric:
            vals = [float(v) for v in xs_all]
            if min(vals) > 0 and max(vals) / min(vals) >= 20:
                ax.set_xscale("log")
            ticks = sorted(set(vals))
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks])
            ax.minorticks_off()
        else:
            ax.set_xticks(range(len(categories)))
            ax.set_xticklabels(categories, rotation=20 if len(categories) > 4 else 0)
        ax.set_xlabel(param)
        ax.set_ylabel(key + direction if idx % ncols == 0 else "")
        ax.set_title(_series_title(axes_names, series))
        _zero_line(ax)
        if others and idx == 0:
            ax.legend(frameon=False)
    for idx in range(n, nrows * ncols):
        axs[idx // ncols][idx % ncols].set_visible(False)
    left_out = len(all_series) - len(shown)
    fig.suptitle(
        f"{key}: mean and 95 % interval over seeds"
        + (f" (first {len(shown)} of {len(all_series)} series)" if left_out else ""),
        fontsize=10,
    )
    return fig


def _point(ax: Any, x: float, row: Mapping[str, Any], *, colour: str, mean: bool = True) -> None:
    """One grid point: the 95 % interval as an error bar (and the mean), the seeds as dots."""
    m, ci = row.get("mean"), row.get("ci")
    if m is not None and ci is not None and all(c is not None for c in ci):
        ax.errorbar(
            [x],
            [m],
            yerr=[[max(m - ci[0], 0.0)], [max(ci[1] - m, 0.0)]],
            fmt="o" if mean else "none",
            color=colour,
            capsize=3,
            lw=1,
            markersize=4,
        )
    elif m is not None and mean:
        ax.plot([x], [m], "o", color=colour, markersize=4)
    seeds = [v for v in row.get("values") or [] if v is not None]
    if seeds:
        ax.plot(
            np.full(len(seeds), x), seeds, ".", color=colour, alpha=0.45, markersize=4, zorder=1
        )


def _zero_line(ax: Any) -> None:
    lo, hi = ax.get_ylim()
    if lo < 0 < hi:
        ax.axhline(0.0, color="0.6", lw=0.6, zorder=0)
