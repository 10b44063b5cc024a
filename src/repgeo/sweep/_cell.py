"""What one Ray task runs: one cell of a sweep, a normal run directory.

Kept free of Ray and of heavy imports at module level: a worker imports this module to run the
task, and ``import repgeo.sweep`` must not need Ray.
"""

from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["cell_device", "run_cell"]

_TRACEBACK_CHARS = 20_000


def cell_device(device: str, gpus_per_cell: float) -> str:
    """The device a cell computes on: ``auto`` means a GPU only when the cell reserved one (a
    cell without a reservation never competes for a GPU another cell holds).

    Examples
    --------
    >>> from repgeo.sweep._cell import cell_device
    >>> cell_device("auto", 0), cell_device("auto", 1), cell_device("cuda", 0.5)
    ('cpu', 'auto', 'cuda')
    """
    if device == "auto":
        return "auto" if gpus_per_cell > 0 else "cpu"
    return device


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Run one cell into its directory and return its record (never raises for a failure of
    the study: the error and traceback come back in the record).

    ``payload``: ``study`` (a registered study's name, or a :class:`repgeo.runs.Study`),
    ``out``, ``seed``, ``quick``, ``device``, ``overrides``, ``stages``, ``threads`` and
    ``specs`` (metric specs the study uses that are not built in, registered here first). A
    directory that already holds (part of) a run is resumed: its verified stages are kept.
    """
    t0 = time.perf_counter()
    record: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    try:
        import torch

        from .. import _io as io
        from ..runs import run_study
        from ..runs.registry import register
        from ..studies import get_study

        register(*payload.get("specs", ()))
        study = payload["study"]
        if isinstance(study, str):
            study = get_study(study)
        torch.set_num_threads(max(1, int(payload.get("threads", 1))))
        out = Path(payload["out"])
        resume = out.is_dir() and any(out.iterdir())
        log: list[str] = []
        try:
            run_study(
                study,
                out,
                seed=int(payload["seed"]),
                quick=bool(payload["quick"]),
                device=payload["device"],
                config_overrides=payload.get("overrides") or None,
                resume=resume,
                stages=payload.get("stages"),
                log=log.append,
            )
        except Exception as exc:
            from ..runs import ReportError

            if not isinstance(exc, ReportError):
                raise
            record["warning"] = f"{type(exc).__name__}: {exc}"[:2000]
        record.update(
            status="complete",
            metrics=io.read_json(out / "metrics.json"),
            resumed=resume,
        )
    except Exception as exc:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        record.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}"[:2000],
            traceback=text[-_TRACEBACK_CHARS:],
        )
        stage = getattr(exc, "repgeo_stage", None)
        if stage:
            record["stage"] = stage
    record["seconds"] = round(time.perf_counter() - t0, 3)
    return record
