"""Aggregate the cells of a sweep: mean and 95 % interval over seeds per grid point and series.

A metric key's value is a nest of objects named by its registry axes (``{model: {epoch: v}}``);
each leaf, identified by its path through the axes, is a *series*. For every grid point and
series, the values of the seeds' cells give the mean, the sample standard deviation and the
Student-t 95 % interval of the mean (``mean ± t(0.975, n−1)·s/√n``; none for one seed).

Two rules make series comparable across grid points:

* **epochs** — a key with an ``epoch`` axis is summarised per cell by its value at the first
  recorded epoch (``initial``), at the last (``final``) and their difference (``change``,
  final − initial), in place of the epochs themselves: cells trained for different numbers of
  epochs stay comparable.
* **one name per cell** — an axis level where every cell holds exactly one name, but the names
  differ between cells (a study that names its model after the swept width: ``sinusoid-w20``,
  ``sinusoid-w50``), is collapsed to ``*``; the names that went into each row are kept in the
  row's ``collapsed`` field.

``only={axis: [names]}`` keeps the series whose path has one of those names on that axis
(``{"method": ["trained"]}``; for an epoch axis, among ``initial``, ``final``, ``change``).
Booleans count as 0/1 (the mean is the fraction of seeds where it holds); interval-valued keys
(per-run uncertainties, ``*_ci``) are not aggregated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..runs.registry import REGISTRY

__all__ = ["EPOCH_VIEWS", "aggregate", "interval95"]

#: what an epoch axis becomes in a sweep's aggregate
EPOCH_VIEWS = ("initial", "final", "change")


def interval95(values: Sequence[float]) -> tuple[float, float | None, tuple[float, float] | None]:
    """Mean, sample standard deviation and Student-t 95 % interval of the mean.

    Returns ``(mean, std, (low, high))``; ``std`` and the interval are None for one value.

    Examples
    --------
    >>> from repgeo.sweep import interval95
    >>> mean, std, (lo, hi) = interval95([1.0, 2.0, 3.0])
    >>> mean, std, round(lo, 4), round(hi, 4)   # 2 ± 4.3027 · 1/√3
    (2.0, 1.0, -0.4841, 4.4841)
    >>> interval95([0.5])
    (0.5, None, None)
    """
    from scipy.stats import t

    x = [float(v) for v in values]
    if not x:
        raise ValueError("interval95 needs at least one value; got none.")
    if not all(math.isfinite(v) for v in x):
        raise ValueError(f"interval95 needs finite values; got {x}.")
    n = len(x)
    mean = math.fsum(x) / n
    if n == 1:
        return mean, None, None
    std = math.sqrt(math.fsum((v - mean) ** 2 for v in x) / (n - 1))
    half = float(t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return mean, std, (mean - half, mean + half)


def _leaf(v: Any) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("inf", "-inf"):
        return float(v)
    raise ValueError(f"not a numeric leaf: {v!r}")


def _flatten(value: Any, depth: int) -> list[tuple[tuple[str, ...], Any]]:
    if depth == 0:
        return [((), value)]
    if not isinstance(value, Mapping):
        return []
    return [
        ((str(k), *p), leaf) for k, sub in value.items() for p, leaf in _flatten(sub, depth - 1)
    ]


def _epoch_views(
    leaves: list[tuple[tuple[str, ...], Any]], pos: int
) -> list[tuple[tuple[str, ...], Any]]:
    groups: dict[tuple[str, ...], dict[int, Any]] = {}
    for path, v in leaves:
        rest = path[:pos] + path[pos + 1 :]
        try:
            epoch = int(path[pos])
        except ValueError:
            raise ValueError(f"epoch {path[pos]!r} is not an integer") from None
        groups.setdefault(rest, {})[epoch] = v
    out = []
    for rest, by_epoch in groups.items():
        first, last = by_epoch[min(by_epoch)], by_epoch[max(by_epoch)]
        change = None if first is None or last is None else last - first
        for view, v in zip(EPOCH_VIEWS, (first, last, change)):
            out.append(((*rest[:pos], view, *rest[pos:]), v))
    return out


def aggregate(
    cells: Iterable[Mapping[str, Any]],
    keys: Sequence[str],
    *,
    params: Sequence[str] = (),
    only: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Mean and 95 % interval over seeds of each series of each key, per grid point.

    Parameters
    ----------
    cells : iterable of mapping
        Cell records as in ``sweep.json``: ``point`` (``{param: value}``), ``seed``,
        ``status`` and ``metrics`` (the cell's ``metrics.json``). Cells whose status is not
        ``complete`` are left out.
    keys : sequence of str
        Registry keys to aggregate.
    params : sequence of str
        The swept parameters (the order of the point's entries in the rows).
    only : mapping of str to sequence of str, optional
        Keep only the series whose path has one of these names on the named axis.

    Returns
    -------
    list of dict
        One row per key, grid point and series, in the order of the cells' points: ``key``,
        ``axes`` and ``series`` (the path, after the epoch and one-name-per-cell rules),
        ``point``, ``n`` (seeds with a defined value), ``mean``, ``std``, ``ci`` (``[low,
        high]`` or None), ``values`` and ``seeds`` (per seed), ``higher_is_better`` and
        ``collapsed`` (``{axis: names}`` for collapsed levels).

    Examples
    --------
    >>> from repgeo.sweep import aggregate
    >>> cells = [
    ...     {"point": {"toy.widths": [w]}, "seed": s, "status": "complete",
    ...      "metrics": {"geometry.boundary_magnification":
    ...                  {f"sinusoid-w{w}": {"0": 0.25 * s, "300": 0.5 + 0.25 * s}}}}
    ...     for w in (20, 250) for s in (0, 1, 2)
    ... ]
    >>> rows = aggregate(cells, ["geometry.boundary_magnification"], params=["toy.widths"])
    >>> [(r["point"]["toy.widths"], r["series"], r["mean"], r["n"]) for r in rows[:3]]
    [([20], ['*', 'initial'], 0.25, 3), ([20], ['*', 'final'], 0.75, 3), ([20], ['*', 'change'], 0.5, 3)]
    >>> rows[0]["collapsed"], [round(x, 3) for x in rows[0]["ci"]]   # 0.25 ± 4.303 · 0.25/√3
    ({'model': ['sinusoid-w20']}, [-0.371, 0.871])
    """
    keys = list(keys)
    unknown = [k for k in keys if k not in REGISTRY]
    if unknown:
        raise ValueError(f"unknown metric key(s) {unknown}; see `repgeo metrics`.")
    only = {str(a): {str(v) for v in vs} for a, vs in (only or {}).items()}
    axes_used = {a for k in keys for a in REGISTRY[k].axes}
    stray = sorted(set(only) - axes_used)
    if stray:
        raise ValueError(
            f"only names axis(es) {stray} that no chosen key has; their axes are "
            f"{sorted(axes_used)}."
        )
    done = [
        c for c in cells if c.get("status") == "complete" and isinstance(c.get("metrics"), Mapping)
    ]
    rows: list[dict[str, Any]] = []
    for key in keys:
        spec = REGISTRY[key]
        if spec.kind == "interval":
            raise ValueError(
                f"metric {key!r} holds per-run intervals; a sweep aggregates values "
                f"({key.removesuffix('_ci')!r}) and computes its own interval over seeds."
            )
        axes = list(spec.axes)
        epoch = axes.index("epoch") if "epoch" in axes else None
        per_cell: list[tuple[Mapping, list[tuple[tuple[str, ...], float | None]]]] = []
        for cell in done:
            if key not in cell["metrics"]:
                continue
            leaves = _flatten(cell["metrics"][key], len(axes))
            if epoch is not None:
                leaves = _epoch_views(leaves, epoch)
            kept = []
            for path, v in leaves:
                if all(path[i] in only[a] for i, a in enumerate(axes) if a in only):
                    try:
                        kept.append((path, _leaf(v)))
                    except ValueError as exc:
                        raise ValueError(
                            f"cell {cell.get('name')!r}: metric {key!r} at {'.'.join(path)}: {exc}"
                        ) from None
            per_cell.append((cell, kept))
        collapse = []
        for i in range(len(axes)):
            names = [{p[i] for p, _ in kept} for _, kept in per_cell if kept]
            if names and all(len(n) == 1 for n in names) and len(set().union(*names)) > 1:
                collapse.append(i)
        groups: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
        for cell, kept in per_cell:
            point = dict(cell.get("point") or {})
            canon = json.dumps([point.get(p) for p in params], sort_keys=True)
            for path, v in kept:
                series = tuple("*" if i in collapse else p for i, p in enumerate(path))
                g = groups.setdefault(
                    (canon, series),
                    {"point": {p: point.get(p) for p in params}, "cells": [], "names": {}},
                )
                g["cells"].append((cell.get("seed"), v))
                for i in collapse:
                    g["names"].setdefault(axes[i], set()).add(path[i])
        for (_, series), g in groups.items():
            pairs = sorted(g["cells"], key=lambda sv: (sv[0] is None, sv[0]))
            defined = [v for _, v in pairs if v is not None]
            finite = all(math.isfinite(v) for v in defined)
            mean = std = ci = None
            if defined and finite:
                mean, std, interval = interval95(defined)
                ci = list(interval) if interval is not None else None
            rows.append(
                {
                    "key": key,
                    "axes": axes,
                    "series": list(series),
                    "point": g["point"],
                    "n": len(defined),
                    "mean": mean,
                    "std": std,
                    "ci": ci,
                    "values": [None if v is None or not math.isfinite(v) else v for _, v in pairs],
                    "seeds": [s for s, _ in pairs],
                    "higher_is_better": spec.higher_is_better,
                    "collapsed": {a: sorted(n) for a, n in g["names"].items()},
                    **({} if finite else {"note": "non-finite values; no mean"}),
                }
            )
    return rows
