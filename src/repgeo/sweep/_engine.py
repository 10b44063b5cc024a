"""Run a sweep: check everything, then one Ray task per cell, ``sweep.json`` kept current,
failures recorded, ``resume`` skipping finished cells, one aggregate report at the end."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _io as io
from .._progress import progress_enabled
from ..runs.registry import BUILTIN, REGISTRY
from ..runs.runner import _Lock, package_versions
from ..runs.study import Study, config_diff
from ._cell import cell_device, run_cell
from ._grid import _check_seeds, cell_names, check_grid, grid_points, point_overrides
from ._ray import check_address, connect, require_ray

__all__ = [
    "FORMAT",
    "SWEEP_JSON",
    "SweepExistsError",
    "SweepResult",
    "default_metrics",
    "load_sweep",
    "sweep",
]

FORMAT = "repgeo-sweep"
FORMAT_VERSION = 1
SWEEP_JSON = "sweep.json"
_DEVICES = ("auto", "cpu", "cuda")


class SweepExistsError(FileExistsError):
    """The output directory already holds a sweep (and ``resume`` was not asked) or something
    that is not a sweep."""


@dataclass
class SweepResult:
    """What :func:`sweep` returns.

    Attributes
    ----------
    out : Path
        The sweep directory.
    report : Path or None
        ``out/report.html`` (None when it could not be rendered: see ``report_error``).
    cells : list of dict
        Every cell's record as in ``sweep.json`` (name, point, seed, status, seconds, error).
    report_error : str or None
        Why the report could not be rendered.
    """

    out: Path
    report: Path | None
    cells: list[dict[str, Any]] = field(default_factory=list)
    report_error: str | None = None

    @property
    def failed(self) -> list[str]:
        """Names of the cells that did not complete."""
        return [c["name"] for c in self.cells if c.get("status") != "complete"]

    @property
    def n_complete(self) -> int:
        """How many cells completed."""
        return sum(c.get("status") == "complete" for c in self.cells)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def load_sweep(out: str | os.PathLike) -> dict[str, Any]:
    """Read and check ``out/sweep.json`` (:class:`repgeo._io.DamagedFileError` if unreadable,
    ValueError if it is not a repgeo sweep)."""
    path = Path(out) / SWEEP_JSON
    data = io.read_json(path)
    if not (
        isinstance(data, dict)
        and data.get("format") == FORMAT
        and isinstance(data.get("definition"), dict)
        and isinstance(data.get("cells"), list)
    ):
        raise ValueError(f"{path} is not a repgeo sweep record (no {FORMAT!r} format marker).")
    return data


def _stage_keys(study: Study, stages: Sequence[str] | None) -> list[str]:
    chosen = [s for s in study.stages if stages is None or s.name in stages]
    return list(dict.fromkeys(k for s in chosen for k in s.metrics))


def default_metrics(study: Study, stages: Sequence[str] | None = None) -> list[str]:
    """The keys a sweep summarises by default: the study's headline keys that the chosen
    stages write, else every key they write (interval keys left out)."""
    written = _stage_keys(study, stages)
    keys = [k for k in study.headline if k in written] or written
    return [k for k in keys if REGISTRY[k].kind != "interval"]


def _check_metrics(study: Study, stages: Sequence[str] | None, metrics: Any) -> list[str]:
    if metrics is None:
        return default_metrics(study, stages)
    if isinstance(metrics, str) or not isinstance(metrics, Sequence):
        raise TypeError(f"metrics must be a list of metric keys; got {type(metrics).__name__}.")
    written = _stage_keys(study, stages)
    bad = [k for k in metrics if k not in written]
    if bad:
        raise ValueError(
            f"metric key(s) {bad} are not written by the {'chosen ' if stages else ''}stages of "
            f"study {study.name!r}; they write {written}."
        )
    intervals = [k for k in metrics if REGISTRY[k].kind == "interval"]
    if intervals:
        raise ValueError(
            f"metric key(s) {intervals} hold per-run intervals; a sweep aggregates values and "
            "computes its own 95 % interval over seeds."
        )
    return list(dict.fromkeys(metrics))


def _check_only(metrics: Sequence[str], only: Any) -> dict[str, list[str]]:
    if only is None:
        return {}
    if not isinstance(only, Mapping):
        raise TypeError(f"only must map an axis to names; got {type(only).__name__}.")
    axes = {a for k in metrics for a in REGISTRY[k].axes}
    out = {}
    for axis, names in only.items():
        if axis not in axes:
            raise ValueError(
                f"--only {axis}=...: no chosen metric has an axis {axis!r}; their axes are "
                f"{sorted(axes)}."
            )
        if isinstance(names, str) or not isinstance(names, Sequence) or not names:
            raise ValueError(f"--only {axis}: give a non-empty list of names; got {names!r}.")
        out[str(axis)] = [str(n) for n in names]
    return out


def _check_stages(study: Study, stages: Any) -> list[str] | None:
    if stages is None:
        return None
    if isinstance(stages, str) or not isinstance(stages, Sequence):
        raise TypeError(f"stages must be a list of stage names; got {type(stages).__name__}.")
    names = [s.name for s in study.stages]
    bad = [s for s in stages if s not in names]
    if bad or not stages:
        raise ValueError(
            f"study {study.name!r} has no stage(s) {bad or '(none chosen)'}; its stages are "
            f"{names}."
        )
    return [n for n in names if n in stages]


def _number(value: Any, name: str, *, low: float, strict: bool) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not ok or value != value or (value <= low if strict else value < low):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be a number {op} {low:g}; got {value!r}.")
    return float(value)


def _state(out: Path) -> tuple[str, dict | None]:
    """``new`` (absent or empty), ``sweep`` (with its record) or raise for anything else."""
    if not out.exists():
        return "new", None
    if not out.is_dir():
        raise NotADirectoryError(f"sweep output {out} exists and is not a directory.")
    entries = [p.name for p in out.iterdir() if p.name != ".lock"]
    if not entries:
        return "new", None
    if SWEEP_JSON not in entries:
        raise SweepExistsError(
            f"{out} is not empty and holds no {SWEEP_JSON}: it is not a repgeo sweep; choose "
            "another --out. Nothing was changed."
        )
    try:
        return "sweep", load_sweep(out)
    except (io.DamagedFileError, ValueError) as exc:
        raise SweepExistsError(
            f"{out} cannot be resumed or reused: {exc}. Nothing was changed."
        ) from None


def _definition(
    study: Study,
    grid: dict,
    seeds: list[int],
    quick: bool,
    config: Mapping | None,
    stages: list[str] | None,
) -> dict[str, Any]:
    return io.jsonable(
        {
            "study": study.name,
            "quick": bool(quick),
            "grid": grid,
            "seeds": seeds,
            "config": dict(config or {}),
            "stages": stages,
        }
    )


def sweep(
    study: Study | str,
    grid: Mapping[str, Sequence[Any]] | None = None,
    seeds: Sequence[int] = (0,),
    *,
    out: str | os.PathLike,
    quick: bool = False,
    config: Mapping[str, Any] | None = None,
    stages: Sequence[str] | None = None,
    metrics: Sequence[str] | None = None,
    only: Mapping[str, Sequence[str]] | None = None,
    resume: bool = False,
    address: str | None = None,
    num_cpus: int | None = None,
    cpus_per_cell: float = 1,
    gpus_per_cell: float = 0,
    device: str = "auto",
    log: Callable[[str], None] | None = None,
) -> SweepResult:
    """Run ``study`` over ``grid`` × ``seeds`` on Ray; one run directory per cell, one report.

    Parameters
    ----------
    study : Study or str
        The study (or its name, see ``repgeo studies``).
    grid : mapping of str to list, optional
        ``{"section.key": [v1, v2, ...]}``; the cells are the product of the lists × ``seeds``.
        Checked in full before any cell starts (:func:`repgeo.sweep.check_grid`). None: a sweep
        over seeds only.
    seeds : sequence of int, default=(0,)
        Run seeds; each grid point runs once per seed.
    out : path
        Sweep directory: ``sweep.json``, ``report.html``, ``figures/`` and
        ``cells/<cell name>/`` (each a normal run directory). Must be new or empty unless
        ``resume``.
    quick : bool, default=False
        Every cell uses the study's quick configuration.
    config : mapping, optional
        Overrides applied to every cell (like ``repgeo run --config``), under the grid's.
    stages : sequence of str, optional
        Run only these stages of the study in every cell (e.g. ``["train_toys",
        "toy_geometry"]`` of ``riemann``).
    metrics : sequence of str, optional
        Keys the report summarises (default :func:`default_metrics`: the study's headline keys;
        on ``resume``, the sweep's own choice).
    only : mapping of str to list of str, optional
        Keep only these names along an axis in the report (``{"method": ["trained"]}``; default
        on ``resume``: the sweep's own choice).
    resume : bool, default=False
        Complete the sweep in ``out``: finished cells are kept, the others run again (a cell
        whose directory holds part of a run resumes it stage by stage). The grid, seeds,
        study, quick, config and stages must be the sweep's own.
    address : str, optional
        None: start a local Ray sized to this machine (``num_cpus``, default all cores).
        ``"auto"``: the cluster this machine belongs to. ``"ray://host:port"``: Ray Client.
        ``"host:port"``: a head node's address. On a cluster, ``out`` must be a path every node
        sees (a shared file system) and repgeo must be installed on every node.
    num_cpus : int, optional
        CPUs of the local Ray (ignored with ``address``).
    cpus_per_cell, gpus_per_cell : float
        Ray resources each cell reserves (default 1 CPU, no GPU). A cell's torch uses
        ``floor(cpus_per_cell)`` threads.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where cells compute; ``auto`` is ``cuda`` for a cell that reserved a GPU, else CPU.
    log : callable, optional
        Receives one line per event (cell started, finished, failed).

    Returns
    -------
    SweepResult
        The directory, the report and every cell's record. A cell that fails is recorded
        (error and traceback in ``sweep.json``, the cell's own ``manifest.json``) and the
        sweep goes on; ``result.failed`` names those cells.

    Raises
    ------
    repgeo.runs.ConfigError
        An unknown section or key, a value of the wrong type or out of range, an empty list.
    ValueError, TypeError
        Bad seeds, stages, metrics or resources.
    SweepExistsError
        ``out`` holds a sweep and ``resume`` is False, or holds something else.
    ConnectionError
        Ray cannot be reached at ``address``.
    ImportError
        Ray is not installed (``pip install "repgeo[sweep]"``).

    Everything is checked before the first cell starts and before anything is written.
    """
    say = log or (lambda msg: None)
    if isinstance(study, str):
        from ..studies import get_study

        study = get_study(study)
    if not isinstance(study, Study):
        raise TypeError(f"study must be a Study or a study name; got {type(study).__name__}.")
    seeds = _check_seeds(seeds)
    stages = _check_stages(study, stages)
    grid = check_grid(study, grid, quick=quick, config=config)
    metrics_given, only_given = metrics, only
    metrics = _check_metrics(study, stages, metrics)
    only = _check_only(metrics, only)
    cpus = _number(cpus_per_cell, "cpus_per_cell", low=0, strict=True)
    gpus = _number(gpus_per_cell, "gpus_per_cell", low=0, strict=False)
    if num_cpus is not None and (
        isinstance(num_cpus, bool) or not isinstance(num_cpus, int) or num_cpus < 1
    ):
        raise ValueError(f"num_cpus must be an int >= 1; got {num_cpus!r}.")
    if device not in _DEVICES:
        raise ValueError(f"device must be one of {list(_DEVICES)}; got {device!r}.")
    out = Path(out)
    definition = _definition(study, grid, seeds, quick, config, stages)
    kind, old = _state(out)
    if kind == "sweep" and not resume:
        raise SweepExistsError(
            f"{out} already holds a sweep; use --resume to complete it or choose another --out."
        )
    if kind == "new" and resume:
        raise FileNotFoundError(f"nothing to resume: {out} holds no sweep ({SWEEP_JSON} missing).")
    if old is not None:
        # a resume without --metric / --only keeps the sweep's own choice (as sweep-report does)
        if metrics_given is None and isinstance(old.get("metrics"), list) and old["metrics"]:
            metrics = _check_metrics(study, stages, old["metrics"])
            kept = old.get("only") if only_given is None else only_given
            only = _check_only(metrics, kept if isinstance(kept, Mapping) and kept else None)
        diffs = config_diff(old["definition"], definition)
        if diffs:
            shown = "; ".join(diffs[:8]) + (
                f"; ... ({len(diffs)} in all)" if len(diffs) > 8 else ""
            )
            raise ValueError(
                f"cannot resume {out}: this invocation differs from the sweep (sweep -> now): "
                f"{shown}. Pass the sweep's options, or choose another --out for a new sweep."
            )
    require_ray()
    check_address(address)

    points = grid_points(grid)
    names = cell_names(points, seeds)
    planned = [
        {"name": n, "dir": f"cells/{n}", "point": p, "seed": s}
        for (p, s), n in zip(((p, s) for p in points for s in seeds), names)
    ]
    specs = [REGISTRY[k] for k in study.metric_keys if k not in BUILTIN]
    try:
        from ..studies import list_studies

        registered = list_studies().get(study.name) is study
    except Exception:  # a broken third-party study module must not stop a sweep of another
        registered = False
    dev = cell_device(device, gpus)

    with connect(address, num_cpus=num_cpus) as cluster:
        res = cluster["resources"]
        if res.get("CPU", 0) < cpus:
            raise ValueError(
                f"cpus_per_cell={cpus:g} but the Ray cluster has {res.get('CPU', 0):g} CPUs: "
                "no cell could ever be scheduled."
            )
        if gpus > 0 and res.get("GPU", 0) < gpus:
            raise ValueError(
                f"gpus_per_cell={gpus:g} but the Ray cluster has {res.get('GPU', 0):g} GPUs: "
                "no cell could ever be scheduled."
            )
        out.mkdir(parents=True, exist_ok=True)
        lock = _Lock(out).acquire()
        try:
            kind2, old2 = _state(out)  # again, under the lock
            if (kind2, bool(old2)) != (kind, bool(old)):
                raise SweepExistsError(f"{out} changed while the sweep was starting; try again.")
            previous = {
                c.get("name"): c for c in (old or {}).get("cells", []) if isinstance(c, dict)
            }
            cells = []
            for cell in planned:
                prev = previous.get(cell["name"], {})
                if prev.get("status") == "complete" and isinstance(prev.get("metrics"), dict):
                    cells.append({**cell, **{k: v for k, v in prev.items() if k not in cell}})
                else:
                    cells.append({**cell, "status": "pending", "attempts": prev.get("attempts", 0)})
            record = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "sweep_id": (old or {}).get("sweep_id") or uuid.uuid4().hex,
                "study": study.name,
                "definition": definition,
                "metrics": metrics,
                "only": only,
                "resources": {
                    "address": cluster["address"],
                    "cluster": res,
                    "cpus_per_cell": cpus,
                    "gpus_per_cell": gpus,
                    "device": dev,
                },
                "versions": package_versions(),
                "created_at": (old or {}).get("created_at") or _now(),
                "status": "running",
                "cells": cells,
            }
            if old is not None:
                record["resumed_at"] = [*old.get("resumed_at", []), _now()]
            _execute(
                record,
                out,
                study.name if registered else study,
                specs,
                dev,
                cpus,
                gpus,
                say,
            )
            from .report import _render

            report, report_error = None, None
            try:
                report = _render(out, record)
            except Exception as exc:
                report_error = f"{type(exc).__name__}: {exc}"[:2000]
                record["report_error"] = report_error
                say(f"report could not be rendered: {report_error}")
            else:
                record.pop("report_error", None)
            io.atomic_write_json(out / SWEEP_JSON, record)
            return SweepResult(out, report, record["cells"], report_error)
        finally:
            lock.release()


def _execute(
    record: dict,
    out: Path,
    study: Study | str,
    specs: list,
    device: str,
    cpus: float,
    gpus: float,
    say: Callable[[str], None],
) -> None:
    """Submit every unfinished cell as a Ray task and collect them as they finish."""
    ray = require_ray()
    definition = record["definition"]
    cells = record["cells"]
    path = out / SWEEP_JSON
    started = time.perf_counter()

    def save() -> None:
        record["updated_at"] = _now()
        io.atomic_write_json(path, record)

    todo = [c for c in cells if c.get("status") != "complete"]
    skipped = len(cells) - len(todo)
    if skipped:
        say(f"resume {skipped} finished cell(s) kept, {len(todo)} to run")
    remote = ray.remote(run_cell)
    refs: dict[Any, dict] = {}
    for cell in todo:
        for key in ("error", "traceback", "stage", "warning", "metrics", "finished_at"):
            cell.pop(key, None)
        cell["status"] = "pending"
        cell["attempts"] = int(cell.get("attempts", 0)) + 1
        payload = {
            "study": study,
            "out": str((out / cell["dir"]).resolve()),
            "seed": cell["seed"],
            "quick": definition["quick"],
            "device": device,
            "overrides": point_overrides(cell["point"], definition["config"]),
            "stages": definition["stages"],
            "threads": max(1, int(cpus)),
            "specs": specs,
        }
        ref = remote.options(
            num_cpus=cpus, num_gpus=gpus, max_retries=0, name=f"repgeo-sweep:{cell['name']}"
        ).remote(payload)
        refs[ref] = cell
    save()
    board = _Board(len(cells), skipped, say)
    running: set[str] = set()
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
            if ready:
                more, _ = (
                    ray.wait(
                        [r for r in refs if r not in ready], num_returns=len(refs) - 1, timeout=0
                    )
                    if len(refs) > 1
                    else ([], [])
                )
                ready = [*ready, *more]
            for ref in ready:
                cell = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # the worker died, the task could not run, ...
                    text = str(exc).strip().splitlines()
                    result = {
                        "status": "failed",
                        "error": f"{type(exc).__name__}: {text[0] if text else ''}"[:2000],
                        "traceback": str(exc)[-20_000:],
                    }
                cell.update(result)
                cell["finished_at"] = _now()
                running.discard(cell["name"])
                board.finished(cell)
            now_running = {c["name"] for c in refs.values() if (out / c["dir"] / ".lock").exists()}
            changed = bool(ready) or now_running != running
            running = now_running
            for cell in refs.values():
                cell["status"] = "running" if cell["name"] in running else "pending"
            if changed:
                save()
                board.show(len(running))
    except BaseException:
        for ref in refs:
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
        for cell in refs.values():
            cell["status"] = "interrupted"
        record["status"] = "interrupted"
        save()
        board.close()
        raise
    board.close()
    failed = [c for c in cells if c["status"] != "complete"]
    record["status"] = "failed" if failed else "complete"
    record["seconds_this_invocation"] = round(time.perf_counter() - started, 3)
    record["finished_at"] = _now()
    save()
    say(
        f"cells  {len(cells) - len(failed)} complete, {len(failed)} failed "
        f"in {time.perf_counter() - started:.1f} s"
    )


class _Board:
    """Progress: one line per finished cell, and a live done/running/failed bar on a
    terminal (``REPGEO_PROGRESS``)."""

    def __init__(self, total: int, done: int, say: Callable[[str], None]) -> None:
        self.total, self.done, self.failed, self.say = total, done, 0, say
        self.bar = self.task = None
        if progress_enabled():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]cells[/bold] {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self.bar.start()
            self.task = self.bar.add_task(self._text(0), total=total, completed=done)

    def _text(self, running: int) -> str:
        return f"{self.done} done · {running} running · {self.failed} failed"

    def finished(self, cell: dict) -> None:
        ok = cell.get("status") == "complete"
        self.done += ok
        self.failed += not ok
        secs = cell.get("seconds")
        took = f" in {secs:.1f} s" if isinstance(secs, (int, float)) else ""
        what = "done  " if ok else "FAILED"
        extra = "" if ok else f": {cell.get('error', '')}"
        self.say(
            f"{what} {cell['name']}{took}{extra}  [{self.done}/{self.total} done, "
            f"{self.failed} failed]"
        )
        if self.bar is not None:
            self.bar.advance(self.task)

    def show(self, running: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, description=self._text(running))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
