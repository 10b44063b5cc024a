"""Render a run directory into one self-contained ``report.html``.

Figures are embedded as base64 PNG (the SVG lies beside it, linked), so the file can be mailed
or opened anywhere; tables and the configuration come from the stage records and the manifest.

A run directory may come from anywhere, so the renderer trusts none of it: every referenced
file must resolve inside the run directory (no absolute path, no ``..``, no symlink), a PNG
must be a PNG and match the checksum the run recorded, links are relative file paths only,
and every value is HTML-escaped. A malformed record shows as a note in its section instead of
breaking the report.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2

from .. import _io as io

__all__ = ["render_report"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("repgeo", "report/templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
_STAGE = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_PNG = b"\x89PNG\r\n\x1a\n"
_MAX_FIGURE_BYTES = 50 * 2**20


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return str(v)
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


def _recorded(manifest: dict) -> dict[str, str]:
    """``{relative path: sha256}`` of every file the manifest's stages recorded."""
    out: dict[str, str] = {}
    for rec in manifest.get("stages", {}).values():
        files = rec.get("files") if isinstance(rec, dict) else None
        if isinstance(files, dict):
            for rel, r in files.items():
                if (
                    isinstance(rel, str)
                    and isinstance(r, dict)
                    and isinstance(r.get("sha256"), str)
                ):
                    out[rel] = r["sha256"]
    return out


def _figure(run_dir: Path, item: dict, sha: dict[str, str]) -> dict[str, Any]:
    name = str(item.get("name", ""))
    fig: dict[str, Any] = {
        "type": "figure",
        "name": name,
        "caption": str(item.get("caption", "")),
        "data": None,
        "missing": None,
        "svg_href": None,
    }
    png_rel = item.get("png")
    png = io.resolve_inside(run_dir, png_rel)
    if png is None or not str(png_rel).startswith("figures/") or not str(png_rel).endswith(".png"):
        fig["missing"] = "figure path is not a PNG inside the run's figures/ folder; not shown"
    elif not png.is_file():
        fig["missing"] = f"figure file missing: {png_rel}"
    elif png.stat().st_size > _MAX_FIGURE_BYTES:
        fig["missing"] = f"figure file too large to embed: {png_rel}"
    else:
        try:
            data = io.read_bytes(png, sha256=sha.get(png_rel))
        except io.DamagedFileError as exc:
            fig["missing"] = f"figure file damaged: {png_rel} ({exc.reason})"
        else:
            if data.startswith(_PNG):
                fig["data"] = base64.b64encode(data).decode("ascii")
            else:
                fig["missing"] = f"figure file is not a PNG: {png_rel}"
    svg_rel = item.get("svg")
    svg = io.resolve_inside(run_dir, svg_rel)
    if (
        svg is not None
        and str(svg_rel).startswith("figures/")
        and str(svg_rel).endswith(".svg")
        and svg.is_file()
    ):
        fig["svg_href"] = quote(str(svg_rel), safe="/")
    return fig


def _table(item: dict) -> dict[str, Any]:
    columns = item.get("columns")
    rows = item.get("rows")
    columns = [str(c) for c in columns] if isinstance(columns, list) else []
    rows = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    return {
        "type": "table",
        "title": str(item.get("title", "")),
        "caption": str(item.get("caption", "")),
        "columns": columns,
        "rows": rows,
    }


def _items(run_dir: Path, record: Any, sha: dict[str, str]) -> tuple[list[dict], list[str]]:
    items, notes = [], []
    raw = record.get("items") if isinstance(record, dict) else None
    if not isinstance(raw, list):
        return [], ["the stage record holds no list of items"]
    for item in raw:
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "figure":
            items.append(_figure(run_dir, item, sha))
        elif kind == "table":
            items.append(_table(item))
        elif kind == "text":
            items.append({"type": "text", "text": str(item.get("text", ""))})
        else:
            notes.append(f"skipped a malformed report item ({str(item)[:80]})")
    return items, notes


def render_report(run_dir: str | Path) -> Path:
    """Render ``report.html`` for the run in ``run_dir`` (atomically) and return its path.

    Raises :class:`repgeo._io.DamagedFileError` (naming the file) when ``manifest.json`` is
    unreadable; damaged stage records and figures are shown as such in the report.
    """
    run_dir = Path(run_dir)
    manifest = io.read_json(run_dir / "manifest.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("stages", {}), dict):
        raise io.DamagedFileError(run_dir / "manifest.json", "it is not a run manifest")
    sha = _recorded(manifest)
    sections, timings = [], []
    for name, rec in manifest.get("stages", {}).items():
        rec = rec if isinstance(rec, dict) else {}
        title = str(rec.get("title") or name)
        status = str(rec.get("status", "unknown"))
        seconds = rec.get("seconds") if isinstance(rec.get("seconds"), (int, float)) else None
        timings.append({"name": str(name), "status": status, "seconds": seconds})
        section: dict[str, Any] = {
            "name": str(name),
            "anchor": quote(str(name), safe=""),
            "title": title,
            "status": status,
            "seconds": seconds,
            "items": [],
            "notes": [],
        }
        if status in ("failed", "interrupted") and rec.get("error"):
            section["notes"].append(str(rec["error"]))
        path = run_dir / "stages" / f"{name}.json" if _STAGE.match(str(name)) else None
        if path is None:
            section["notes"].append("invalid stage name in the manifest; section not read")
        elif status == "complete" and (path.is_symlink() or not path.is_file()):
            section["notes"].append(f"stage record missing: stages/{name}.json")
        elif status == "complete":
            try:
                record = io.read_json(path, sha256=sha.get(f"stages/{name}.json"))
            except io.DamagedFileError as exc:
                section["notes"].append(f"stage record damaged: stages/{name}.json ({exc.reason})")
            else:
                section["items"], notes = _items(run_dir, record, sha)
                section["notes"].extend(notes)
                if isinstance(record, dict) and isinstance(record.get("title"), str):
                    section["title"] = record["title"]
        sections.append(section)
    metrics_path = run_dir / "metrics.json"
    try:
        metrics = io.read_json(metrics_path) if metrics_path.is_file() else {}
    except io.DamagedFileError:
        metrics = {"(metrics.json is damaged)": None}
    flat: list[tuple[str, str]] = []
    _flatten("", metrics, flat)
    versions = manifest.get("versions")
    html = _ENV.get_template("report.html.j2").render(
        manifest=manifest,
        sections=sections,
        timings=timings,
        metrics=flat,
        config_json=json.dumps(manifest.get("config", {}), indent=2),
        versions=versions if isinstance(versions, dict) else {},
    )
    return io.atomic_write_text(run_dir / "report.html", html)
