"""Execute a study into a run directory: manifest, resume, force, timings, metrics, report.

Layout of a run directory::

    manifest.json      config, seed, versions, status, per-stage status and seconds
    metrics.json       flat mapping of dotted keys -> values (merged over completed stages)
    report.html        self-contained report (re-rendered after every stage)
    stages/<s>.json    each completed stage's report items and metrics
    arrays/*.npz       arrays shared between stages
    checkpoints/<m>/   model checkpoints (safetensors)
    figures/*.png|svg  figures

A stage is recorded as complete only after all its files are written, so an interrupted run
(Ctrl-C or a kill) is completed by ``--resume`` without redoing finished stages.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from .. import _io as io
from .._backend import resolve_device
from .._validation import check_scalar
from .context import RunContext
from .study import Study

__all__ = ["RunExistsError", "load_config_file", "package_versions", "run_study"]

MANIFEST = "manifest.json"
_LOCK = ".lock"


class RunExistsError(FileExistsError):
    """The output directory already holds a run and neither resume nor force was asked for."""


def package_versions() -> dict[str, str]:
    """Versions of Python, repgeo and the numerical stack, for the manifest."""
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in (
        "repgeo",
        "torch",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "faiss-cpu",
        "safetensors",
    ):
        try:
            out[pkg] = _md.version(pkg)
        except _md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def load_config_file(path: str | os.PathLike) -> dict:
    """Read a JSON or TOML config file into a dict, with clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file {path} does not exist.")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except Exception as exc:
            raise ValueError(f"config file {path} is not valid TOML: {exc}") from exc
    elif path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"config file {path} is not valid JSON: {exc}") from exc
    else:
        raise ValueError(f"config file must end in .json or .toml; got {path.name!r}.")
    if not isinstance(data, dict):
        raise ValueError(
            f"config file {path} must hold a mapping of sections; got {type(data).__name__}."
        )
    return data


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _acquire_lock(out: Path) -> Path:
    lock = out / _LOCK
    if lock.exists():
        try:
            pid = int(lock.read_text().strip() or "0")
        except ValueError:
            pid = 0
        if pid and pid != os.getpid() and _pid_alive(pid):
            raise RuntimeError(f"run directory {out} is in use by process {pid}.")
    io.atomic_write_text(lock, str(os.getpid()))
    return lock


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _merged_metrics(out: Path, stage_names: Sequence[str]) -> dict[str, Any]:
    from .study import deep_merge

    metrics: dict[str, Any] = {}
    for name in stage_names:
        path = out / "stages" / f"{name}.json"
        if not path.exists():
            continue
        for k, v in io.read_json(path).get("metrics", {}).items():
            if isinstance(v, dict) and isinstance(metrics.get(k), dict):
                metrics[k] = deep_merge(metrics[k], v)
            else:
                metrics[k] = v
    return dict(sorted(metrics.items()))


def run_study(
    study: Study,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    quick: bool = False,
    device: str | torch.device = "auto",
    config_overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run ``study`` into the directory ``out`` and return the path of ``report.html``.

    Parameters
    ----------
    study : Study
        What to run.
    out : path
        Run directory. Created if missing. If it already holds a run, ``resume=True`` skips the
        completed stages (the configuration must match) and ``force=True`` deletes it and starts
        over; with neither, :class:`RunExistsError` is raised and nothing is touched.
    seed : int, default=0
        Run seed; every stage derives its randomness from it (same seed, same numbers on CPU).
    quick : bool, default=False
        Use the study's reduced configuration.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    config_overrides : mapping, optional
        Sections deep-merged over the study's configuration (from ``--config FILE``).
    resume, force : bool
        See ``out``. They are mutually exclusive.
    log : callable, optional
        Receives one line per event (stage started/skipped/finished).
    """
    say = log or (lambda msg: None)
    if resume and force:
        raise ValueError(
            "resume and force are mutually exclusive: resume keeps the run, force deletes it."
        )
    check_scalar(seed, "seed", kind=int, min_val=0)
    dev = resolve_device(device)
    config = study.resolve_config(quick=quick, overrides=config_overrides)
    out = Path(out)
    manifest_path = out / MANIFEST

    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"output path {out} exists and is not a directory.")
    existing = manifest_path.exists()
    if out.exists() and any(out.iterdir()) and not existing:
        raise RunExistsError(
            f"output directory {out} is not empty and is not a repgeo run; choose another --out."
        )
    if existing and not (resume or force):
        raise RunExistsError(
            f"run directory {out} already exists; use --resume to complete it or --force to start over."
        )
    if resume and not existing:
        raise FileNotFoundError(f"nothing to resume: {out} holds no run ({MANIFEST} missing).")

    if existing and force:
        _acquire_lock(out)  # refuses if another process is using it
        shutil.rmtree(out)
        existing = False

    if existing:
        manifest = io.read_json(manifest_path)
        if manifest.get("study") != study.name:
            raise ValueError(
                f"cannot resume: {out} holds a run of study {manifest.get('study')!r}, not {study.name!r}."
            )
        same = (
            manifest.get("config") == io.jsonable(config)
            and manifest.get("seed") == seed
            and manifest.get("quick") == quick
        )
        if not same:
            raise ValueError(
                f"cannot resume {out}: its config/seed/quick differ from this invocation "
                f"(run seed={manifest.get('seed')}, quick={manifest.get('quick')}); "
                "pass the same options or use --force."
            )
        manifest["resumed_at"] = [*manifest.get("resumed_at", []), _now()]
    else:
        out.mkdir(parents=True, exist_ok=True)
        manifest = {
            "study": study.name,
            "seed": seed,
            "quick": quick,
            "device": str(dev),
            "config": io.jsonable(config),
            "versions": package_versions(),
            "command": sys.argv,
            "created_at": _now(),
            "status": "running",
            "stages": {s.name: {"status": "pending", "title": s.title} for s in study.stages},
        }
    lock = _acquire_lock(out)
    manifest["status"] = "running"
    manifest["device"] = str(dev)
    io.atomic_write_json(manifest_path, manifest)

    from ..report.html import render_report

    stage_names = [s.name for s in study.stages]
    started = time.perf_counter()
    try:
        for stage in study.stages:
            rec = manifest["stages"].setdefault(
                stage.name, {"status": "pending", "title": stage.title}
            )
            if rec.get("status") == "complete" and (out / "stages" / f"{stage.name}.json").exists():
                say(f"skip   {stage.name} (complete)")
                continue
            say(f"stage  {stage.name}: {stage.title}")
            ctx = RunContext(
                out,
                config=config,
                seed=seed,
                quick=quick,
                device=dev,
                stage=stage.name,
                metrics=stage.metrics,
            )
            t0 = time.perf_counter()
            rec["status"] = "running"
            rec["started_at"] = _now()
            io.atomic_write_json(manifest_path, manifest)
            torch.manual_seed(ctx.seed_for(f"torch:{stage.name}"))
            stage.fn(ctx)
            seconds = time.perf_counter() - t0
            io.atomic_write_json(
                out / "stages" / f"{stage.name}.json",
                {
                    "name": stage.name,
                    "title": stage.title,
                    "seconds": seconds,
                    "items": ctx.items,
                    "metrics": ctx.metrics,
                },
            )
            rec.update(status="complete", seconds=round(seconds, 3), finished_at=_now())
            io.atomic_write_json(manifest_path, manifest)
            io.atomic_write_json(out / "metrics.json", _merged_metrics(out, stage_names))
            render_report(out)
            say(f"done   {stage.name} in {seconds:.1f} s")
    except BaseException as exc:
        for rec in manifest["stages"].values():
            if rec.get("status") == "running":
                rec["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                rec["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        manifest["status"] = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        io.atomic_write_json(manifest_path, manifest)
        lock.unlink(missing_ok=True)
        raise
    manifest["status"] = "complete"
    manifest["finished_at"] = _now()
    manifest["seconds_this_invocation"] = round(time.perf_counter() - started, 3)
    io.atomic_write_json(manifest_path, manifest)
    io.atomic_write_json(out / "metrics.json", _merged_metrics(out, stage_names))
    report = render_report(out)
    lock.unlink(missing_ok=True)
    return report
