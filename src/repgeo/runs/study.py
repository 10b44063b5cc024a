"""Study and stage declarations."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import RunContext

__all__ = ["Stage", "Study", "deep_merge"]


@dataclass(frozen=True)
class Stage:
    """One resumable step of a study.

    Parameters
    ----------
    name : str
        Identifier (file-name safe); completion is recorded under it in ``manifest.json``.
    fn : callable
        ``fn(ctx: RunContext) -> None``. Reads earlier stages' outputs from the run directory.
    title : str
        Section title in the report.
    """

    name: str
    fn: Callable[[RunContext], None]
    title: str = ""

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(
                f"stage name must be non-empty and use [A-Za-z0-9_-]; got {self.name!r}."
            )


@dataclass(frozen=True)
class Study:
    """A named, ordered list of stages with a default and a quick configuration."""

    name: str
    summary: str
    stages: Sequence[Stage]
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name!r} has duplicate stage names: {names}.")

    def resolve_config(
        self, *, quick: bool = False, overrides: Mapping[str, Any] | None = None
    ) -> dict:
        """Default config, deep-merged with the quick overrides (if ``quick``) and then ``overrides``."""
        cfg = copy.deepcopy(dict(self.config))
        if quick:
            cfg = deep_merge(cfg, self.quick)
        if overrides:
            unknown = [k for k in overrides if k not in cfg]
            if unknown:
                raise ValueError(
                    f"config file has unknown top-level section(s) {unknown} for study "
                    f"{self.name!r}; expected some of {sorted(cfg)}."
                )
            cfg = deep_merge(cfg, overrides)
        return cfg


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict:
    """Recursively merge ``update`` into a copy of ``base`` (dicts merge, other values replace)."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
