"""The object each stage receives: config, seed, device and the run directory's writers."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from .. import _io as io
from .._progress import progress

T = TypeVar("T")

__all__ = ["RunContext"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ValueError(f"{what} name must match [A-Za-z0-9][A-Za-z0-9_.-]*; got {name!r}.")
    return name


class RunContext:
    """Handed to every stage; everything a stage writes goes through it.

    Attributes
    ----------
    out : Path
        The run directory.
    config : dict
        The resolved study configuration (quick overrides and the user's config file applied).
    seed : int
        The run seed.
    quick : bool
        Whether the run uses the reduced configuration.
    device : torch.device
        Where to compute.
    stage : str
        Name of the stage now running.
    allowed_metrics : tuple of str or None
        The metric keys the stage declares (None: any registered key, for ad-hoc contexts).
    """

    def __init__(
        self,
        out: Path,
        *,
        config: Mapping[str, Any],
        seed: int,
        quick: bool,
        device: torch.device,
        stage: str = "",
        metrics: Sequence[str] | None = None,
    ) -> None:
        self.out = Path(out)
        self.config = dict(config)
        self.seed = int(seed)
        self.quick = bool(quick)
        self.device = device
        self.stage = stage
        self.allowed_metrics = None if metrics is None else tuple(metrics)
        self.items: list[dict[str, Any]] = []
        self.metrics: dict[str, Any] = {}

    # ----------------------------------------------------------------- randomness
    def seed_for(self, key: str) -> int:
        """A 63-bit seed derived from the run seed and ``key`` (stable across runs and stages)."""
        h = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(h[:8], "little") >> 1

    def rng(self, key: str) -> np.random.Generator:
        """A NumPy generator derived from the run seed and ``key``."""
        return np.random.default_rng(self.seed_for(key))

    # ----------------------------------------------------------------- paths and arrays
    @property
    def arrays_dir(self) -> Path:
        return self.out / "arrays"

    @property
    def figures_dir(self) -> Path:
        return self.out / "figures"

    def checkpoint_dir(self, name: str) -> Path:
        """Folder for one model's checkpoints (created)."""
        path = self.out / "checkpoints" / _check_name(name, "checkpoint")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_arrays(self, name: str, **arrays: Any) -> Path:
        """Save arrays atomically to ``arrays/<name>.npz``."""
        return io.save_npz(self.arrays_dir / f"{_check_name(name, 'array file')}.npz", **arrays)

    def load_arrays(self, name: str) -> dict[str, np.ndarray]:
        """Load ``arrays/<name>.npz`` written by this or an earlier stage."""
        path = self.arrays_dir / f"{_check_name(name, 'array file')}.npz"
        if not path.exists():
            raise FileNotFoundError(
                f"arrays {name!r} not found at {path}; the stage that writes it must run first."
            )
        return io.load_npz(path)

    def has_arrays(self, name: str) -> bool:
        return (self.arrays_dir / f"{_check_name(name, 'array file')}.npz").exists()

    # ----------------------------------------------------------------- report content
    def figure(self, fig: Any, name: str, *, caption: str = "") -> Path:
        """Save a matplotlib figure as PNG and SVG and add it to this stage's report section."""
        from ..report.figures import save_figure

        png = save_figure(fig, self.figures_dir / _check_name(name, "figure"))
        self.items.append(
            {
                "type": "figure",
                "name": name,
                "caption": caption,
                "png": f"figures/{name}.png",
                "svg": f"figures/{name}.svg",
            }
        )
        return png

    def table(
        self,
        title: str,
        rows: Sequence[Mapping[str, Any]] | Mapping[str, Any],
        *,
        caption: str = "",
    ) -> None:
        """Add a table (a list of row dicts, or one dict shown as key/value rows)."""
        if isinstance(rows, Mapping):
            rows = [{"key": k, "value": v} for k, v in rows.items()]
        rows = [dict(r) for r in rows]
        columns: list[str] = []
        for r in rows:
            for c in r:
                if c not in columns:
                    columns.append(c)
        self.items.append(
            {
                "type": "table",
                "title": title,
                "caption": caption,
                "columns": columns,
                "rows": io.jsonable(rows),
            }
        )

    def text(self, text: str) -> None:
        """Add a paragraph of plain text (HTML-escaped in the report)."""
        self.items.append({"type": "text", "text": str(text)})

    def metric(self, key: str, value: Any) -> None:
        """Record a metric under a registered dotted key; dict values merge with earlier ones.

        The key must be declared in :mod:`repgeo.runs.registry` and by the running stage, and
        the value must have the registered layout; otherwise :class:`ValueError`.
        """
        from .registry import REGISTRY

        if not isinstance(key, str) or not key or key.strip() != key:
            raise ValueError(f"metric key must be a non-empty dotted string; got {key!r}.")
        if key not in REGISTRY:
            raise ValueError(
                f"metric key {key!r} is not declared in repgeo.runs.registry; declare it there "
                "(layout, direction, meaning) before writing it."
            )
        if self.allowed_metrics is not None and key not in self.allowed_metrics:
            raise ValueError(
                f"stage {self.stage!r} writes metric {key!r} but declares only "
                f"{list(self.allowed_metrics)}; add it to the stage's or panel's `metrics`."
            )
        value = io.jsonable(value)
        REGISTRY[key].check(value)
        old = self.metrics.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            from .study import deep_merge

            value = deep_merge(old, value)
        self.metrics[key] = value

    # ----------------------------------------------------------------- progress
    def progress(
        self, iterable: Iterable[T], description: str, *, total: int | None = None
    ) -> Iterator[T]:
        """Iterate with a progress bar."""
        return progress(iterable, description, total=total)
