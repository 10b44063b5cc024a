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
#: Longest file-name stem a stage may use: with the extension and the temporary name an atomic
#: write uses (``.<name>.svg.XXXXXXXX.tmp``) it stays far below the usual 255-byte limit.
MAX_NAME = 100


def _check_name(name: str, what: str) -> str:
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or ".." in name
        or name.endswith(".")
        or len(name) > MAX_NAME
    ):
        shown = name if not isinstance(name, str) or len(name) <= 60 else name[:57] + "..."
        raise ValueError(
            f"{what} name must match [A-Za-z0-9][A-Za-z0-9_.-]*, hold no '..', not end in '.', "
            f"and have at most {MAX_NAME} characters; got {shown!r}"
            + (f" ({len(name)} characters)." if isinstance(name, str) else ".")
        )
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
    files : dict
        ``{relative path: {"sha256", "bytes", "stage"}}`` of the files the run's completed
        stages wrote (from ``manifest.json``) and of those this stage has written so far; reads
        through the context are checked against it (:class:`repgeo._io.DamagedFileError` names
        a damaged file). Empty for an ad-hoc context.
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
        files: Mapping[str, Mapping[str, Any]] | None = None,
        written: Mapping[str, Mapping[str, Any]] | None = None,
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
        self._files = files if files is not None else {}
        self._written = written if written is not None else {}

    # ----------------------------------------------------------------- recorded files
    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Recorded files: earlier stages' (from the manifest) and this stage's so far."""
        out = {k: dict(v) for k, v in self._files.items()}
        out.update({k: {**v, "stage": self.stage} for k, v in self._written.items()})
        return out

    def _expected(self, rel: str) -> str | None:
        rec = self._written.get(rel) or self._files.get(rel)
        return None if rec is None else rec.get("sha256")

    def _damaged(self, exc: io.DamagedFileError) -> io.DamagedFileError:
        rel = self._rel(exc.path)
        owner = (self._files.get(rel) or {}).get("stage")
        hint = (
            f"; `repgeo run ... --resume` redoes stage {owner!r}, which wrote it" if owner else ""
        )
        return io.DamagedFileError(exc.path, exc.reason + hint)

    def _rel(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.out).as_posix()
        except ValueError:
            return Path(path).as_posix()

    def read_bytes(self, rel: str) -> bytes:
        """The bytes of ``rel`` (a path inside the run directory), checked against its recorded
        SHA-256 when the run recorded one."""
        path = self.out / rel
        try:
            return io.read_bytes(path, sha256=self._expected(self._rel(path)))
        except io.DamagedFileError as exc:
            raise self._damaged(exc) from None

    def read_json(self, rel: str) -> Any:
        """A JSON file of the run directory (e.g. ``checkpoints/<m>/history.json``), checked
        against its recorded SHA-256."""
        path = self.out / rel
        try:
            return io.read_json(path, sha256=self._expected(self._rel(path)))
        except io.DamagedFileError as exc:
            raise self._damaged(exc) from None

    def checkpoint_files(self, name: str) -> list[tuple[int, Path, str | None]]:
        """``[(epoch, path, sha256), ...]`` of model ``name``'s checkpoints, by epoch.

        For a model an earlier stage trained, the list is the one the run recorded
        (``manifest.json``), so a deleted checkpoint is reported, not skipped. For a model this
        stage trains (or an ad-hoc context), the folder is listed, with the digests of the
        files written so far.
        """
        from ..models.checkpoints import list_checkpoints

        prefix = f"checkpoints/{_check_name(name, 'checkpoint')}/"
        pattern = re.compile(r"epoch_(\d+)\.safetensors")
        recorded = []
        for rel, rec in self._files.items():
            m = pattern.fullmatch(rel[len(prefix) :]) if rel.startswith(prefix) else None
            if m:
                recorded.append((int(m.group(1)), self.out / rel, rec.get("sha256")))
        if recorded:
            return sorted(recorded, key=lambda t: t[0])
        return [
            (e, p, (self._written.get(f"{prefix}{p.name}") or {}).get("sha256"))
            for e, p in list_checkpoints(self.out / prefix)
        ]

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
        try:
            return io.load_npz(path, sha256=self._expected(self._rel(path)))
        except io.DamagedFileError as exc:
            raise self._damaged(exc) from None

    def has_arrays(self, name: str) -> bool:
        return (self.arrays_dir / f"{_check_name(name, 'array file')}.npz").exists()

    # ----------------------------------------------------------------- report content
    def figure(self, fig: Any, name: str, *, caption: str = "") -> Path:
        """Save a matplotlib figure as PNG and SVG and add it to this stage's report section.

        Figure names are unique within a run (compared case-insensitively, so they stay
        distinct on any file system); a name another stage already used is refused.
        """
        from ..report.figures import save_figure

        _check_name(name, "figure")
        key = f"figures/{name}.png".casefold()
        for rel, rec in self._files.items():
            if rel.casefold() == key and rec.get("stage") != self.stage:
                raise ValueError(
                    f"figure name {name!r} is already used by stage {rec.get('stage')!r} of this "
                    "run; figure names must be unique within a run."
                )
        if any(
            i.get("type") == "figure" and str(i.get("name")).casefold() == name.casefold()
            for i in self.items
        ):
            raise ValueError(f"figure name {name!r} is used twice in stage {self.stage!r}.")
        png = save_figure(fig, self.figures_dir / name)
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
