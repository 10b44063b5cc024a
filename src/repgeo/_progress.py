"""Progress bars for long work (rich), quiet in tests and non-interactive runs.

Set ``REPGEO_PROGRESS=0`` to silence bars, ``REPGEO_PROGRESS=1`` to force them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

__all__ = ["progress", "progress_enabled"]


def progress_enabled() -> bool:
    """Whether progress bars are shown (env ``REPGEO_PROGRESS`` overrides terminal detection)."""
    env = os.environ.get("REPGEO_PROGRESS")
    if env is not None:
        return env.strip().lower() not in ("0", "false", "no", "off", "")
    return sys.stderr.isatty()


def progress(
    iterable: Iterable[T], description: str = "working", *, total: int | None = None
) -> Iterator[T]:
    """Iterate with a rich progress bar on stderr when enabled."""
    if not progress_enabled():
        yield from iterable
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in iterable:
            yield item
            bar.advance(task)
