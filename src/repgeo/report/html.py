"""Render a run directory into one self-contained ``report.html``.

Figures are embedded as base64 PNG (the SVG lies beside it, linked), so the file can be mailed
or opened anywhere; tables and the configuration come from the stage records and the manifest.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import jinja2

from .. import _io as io

__all__ = ["render_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("repgeo", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}"
    if isinstance(v, (dict, list)):
        return json.dumps(v)
    return "" if v is None else str(v)


_ENV.filters["fmt"] = _fmt


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out.append((prefix, _fmt(value)))


def render_report(run_dir: str | Path) -> Path:
    """Render ``report.html`` for the run in ``run_dir`` (atomically) and return its path."""
    run_dir = Path(run_dir)
    manifest = io.read_json(run_dir / "manifest.json")
    sections = []
    for name, rec in manifest.get("stages", {}).items():
        path = run_dir / "stages" / f"{name}.json"
        if not path.exists():
            sections.append(
                {
                    "name": name,
                    "title": rec.get("title") or name,
                    "status": rec.get("status"),
                    "items": [],
                }
            )
            continue
        stage = io.read_json(path)
        items = []
        for item in stage.get("items", []):
            item = dict(item)
            if item["type"] == "figure":
                png = run_dir / item["png"]
                if png.exists():
                    item["data"] = base64.b64encode(png.read_bytes()).decode("ascii")
                else:
                    item["missing"] = True
            items.append(item)
        sections.append(
            {
                "name": name,
                "title": stage.get("title") or name,
                "status": "complete",
                "seconds": stage.get("seconds"),
                "items": items,
            }
        )
    metrics_path = run_dir / "metrics.json"
    metrics = io.read_json(metrics_path) if metrics_path.exists() else {}
    flat: list[tuple[str, str]] = []
    _flatten("", metrics, flat)
    html = _ENV.get_template("report.html.j2").render(
        manifest=manifest,
        sections=sections,
        metrics=flat,
        config_json=json.dumps(manifest.get("config", {}), indent=2),
        versions=manifest.get("versions", {}),
    )
    return io.atomic_write_text(run_dir / "report.html", html)
