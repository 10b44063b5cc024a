"""The aggregate report of a sweep: ``report.html`` and the ``aggregate`` of ``sweep.json``.

For each chosen metric key: one figure per swept parameter (:func:`repgeo.plots.
plot_sweep_metric`, saved atomically as PNG + SVG under ``figures/``) and a table of the mean
and 95 % interval over seeds per grid point; then every cell with its status, time, error and
a link to its own report. Like a run's report, the page is self-contained (figures embedded),
every value is HTML-escaped, and only files inside the sweep directory are read or linked.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from .. import _io as io
from ..report.figures import save_figure
from ..runs.registry import REGISTRY
from ._engine import SWEEP_JSON, _check_only, default_metrics, load_sweep
from .aggregate import aggregate

__all__ = ["render_sweep_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("repgeo", "sweep/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")
_PNG = b"\x89PNG\r\n\x1a\n"


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if v == 0 or 1e-3 <= abs(v) < 1e5 else f"{v:.3e}"
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    return str(v)


_ENV.filters["fmt"] = _fmt


def render_sweep_report(
    out: str | os.PathLike,
    *,
    metrics: Sequence[str] | None = None,
    only: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Re-render ``report.html`` (and the ``aggregate`` of ``sweep.json``) of a sweep directory.

    Parameters
    ----------
    out : path
        A sweep directory (holding ``sweep.json``).
    metrics : sequence of str, optional
        Keys to summarise; default the sweep's own choice.
    only : mapping of str to list of str, optional
        Keep only these names along an axis; default the sweep's own choice.

    Returns
    -------
    Path
        ``out/report.html``.

    Raises
    ------
    repgeo.runs.RunLockedError
        The sweep is running.
    ValueError
        ``out`` is not a sweep, or a key or axis is unknown.
    """
    from ..runs.runner import _Lock
    from ..studies import get_study

    out = Path(out)
    record = load_sweep(out)
    lock = _Lock(out).acquire()
    try:
        record = load_sweep(out)
        if metrics is not None or only is not None:
            study = get_study(record["study"])
            stages = record["definition"].get("stages")
            if metrics is not None:
                from ._engine import _check_metrics

                record["metrics"] = _check_metrics(study, stages, list(metrics))
            record["only"] = _check_only(record["metrics"], only if only is not None else {})
        path = _render(out, record)
        io.atomic_write_json(out / SWEEP_JSON, record)
        return path
    finally:
        lock.release()


def _embed(out: Path, rel: str) -> str | None:
    path = io.resolve_inside(out, rel)
    if path is None or not path.is_file():
        return None
    data = path.read_bytes()
    return base64.b64encode(data).decode("ascii") if data.startswith(_PNG) else None


def _render(out: Path, record: dict) -> Path:
    """Aggregate, draw, write ``report.html``; store the aggregate in ``record`` (the caller
    writes ``sweep.json``)."""
    from ..plots import plot_sweep_metric

    definition = record["definition"]
    params = list(definition.get("grid") or {})
    keys = list(record.get("metrics") or [])
    if not keys:
        try:
            from ..studies import get_study

            keys = default_metrics(get_study(record["study"]), definition.get("stages"))
        except Exception:
            keys = []
    rows = aggregate(record["cells"], keys, params=params, only=record.get("only") or {})
    record["aggregate"] = rows
    sections, figures = [], []
    for key in keys:
        mine = [r for r in rows if r["key"] == key]
        spec = REGISTRY[key]
        section: dict[str, Any] = {
            "key": key,
            "anchor": quote(key, safe=""),
            "doc": spec.doc,
            "axes": list(spec.axes),
            "direction": {True: "higher is better", False: "lower is better"}.get(
                spec.higher_is_better, ""
            ),
            "figures": [],
            "rows": [],
            "notes": [],
        }
        if not mine:
            section["notes"].append("no completed cell wrote this key (with the chosen --only)")
            sections.append(section)
            continue
        swept = [p for p in params if len({json.dumps(r["point"].get(p)) for r in mine}) > 1]
        for param in swept or [None]:
            name = _UNSAFE.sub("_", f"sweep__{key}__{param or 'series'}")[:100]
            fig = plot_sweep_metric(mine, param)
            save_figure(fig, out / "figures" / name)
            rel = f"figures/{name}.png"
            figures.append(rel)
            section["figures"].append(
                {
                    "data": _embed(out, rel),
                    "svg": quote(f"figures/{name}.svg", safe="/"),
                    "caption": (
                        f"{key} against {param}: mean over seeds (markers), 95 % Student-t "
                        "interval of the mean (bars), each seed (dots); lines: the other swept "
                        "parameters."
                        if param
                        else f"{key}: mean over seeds, 95 % interval and each seed, per series."
                    ),
                }
            )
        for r in mine:
            section["rows"].append(
                {
                    "point": [_fmt(r["point"].get(p)) for p in params],
                    "series": " · ".join(f"{a}={s}" for a, s in zip(r["axes"], r["series"])),
                    "n": r["n"],
                    "mean": r["mean"],
                    "ci": "" if r["ci"] is None else f"[{_fmt(r['ci'][0])}, {_fmt(r['ci'][1])}]",
                    "values": ", ".join("–" if v is None else _fmt(v) for v in r["values"]),
                    "collapsed": "; ".join(
                        f"{a}: {', '.join(n)}" for a, n in r.get("collapsed", {}).items()
                    ),
                }
            )
        if any("*" in r["series"] for r in mine):
            section["notes"].append(
                "'*' marks an axis where each cell holds one name that differs between cells "
                "(a name that carries the swept value); the names are in the last column."
            )
        sections.append(section)
    record["figures"] = figures
    cells = []
    for c in record["cells"]:
        rel = f"{c.get('dir', '')}/report.html"
        target = io.resolve_inside(out, rel)
        cells.append(
            {
                "name": str(c.get("name", "")),
                "seed": c.get("seed"),
                "point": [_fmt(c.get("point", {}).get(p)) for p in params],
                "status": str(c.get("status", "")),
                "seconds": c.get("seconds"),
                "error": str(c.get("error") or c.get("warning") or "")[:500],
                "href": quote(rel, safe="/") if target is not None and target.is_file() else None,
            }
        )
    counts: dict[str, int] = {}
    for c in cells:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    html = _ENV.get_template("sweep.html.j2").render(
        record=record,
        definition=definition,
        params=params,
        sections=sections,
        cells=cells,
        counts=counts,
        grid_json=json.dumps(definition.get("grid", {})),
        config_json=json.dumps(definition.get("config", {}), indent=2),
        only_json=json.dumps(record.get("only") or {}),
        versions=record.get("versions") if isinstance(record.get("versions"), dict) else {},
    )
    return io.atomic_write_text(out / "report.html", html)
