"""Declarations: a :class:`Stage` is one resumable step, a :class:`Panel` is a stage that brings its
own config section and metric keys, a :class:`Study` is an ordered list of them.

A panel is the unit the default study (and ``repgeo analyze``) is composed of: it declares its
name, the config section it reads (with defaults and quick overrides), the function that runs it
and the metric keys it writes. Adding a panel to a study adds its section to the study's
configuration, so ``--config`` can override every option of every panel.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .registry import REGISTRY

if TYPE_CHECKING:
    from .context import RunContext

__all__ = ["ConfigError", "Panel", "Stage", "Study", "check_config", "deep_merge"]


class ConfigError(ValueError):
    """A configuration (file or override) that does not match what the study declares."""


def _check_metric_keys(owner: str, keys: Sequence[str]) -> tuple[str, ...]:
    keys = tuple(keys)
    unknown = [k for k in keys if k not in REGISTRY]
    if unknown:
        raise ValueError(
            f"{owner} declares metric key(s) {unknown} that are not in the registry "
            "(repgeo.runs.registry); declare them there first."
        )
    return keys


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
    metrics : sequence of str
        The registry keys this stage writes; ``ctx.metric`` refuses any other key.
    """

    name: str
    fn: Callable[[RunContext], None]
    title: str = ""
    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name or not all(c.isalnum() or c in "-_" for c in self.name):
            raise ValueError(
                f"stage name must be non-empty and use [A-Za-z0-9_-]; got {self.name!r}."
            )
        object.__setattr__(
            self, "metrics", _check_metric_keys(f"stage {self.name!r}", self.metrics)
        )


@dataclass(frozen=True)
class Panel:
    """A stage with its own config section: the unit studies are composed of.

    Parameters
    ----------
    name : str
        Stage name and config section name.
    title : str
        Section title in the report.
    fn : callable
        ``fn(ctx, options) -> None`` where ``options`` is the panel's resolved config section
        (defaults, quick overrides and the user's ``--config`` applied).
    config : mapping
        The section's defaults; every option a user may set is listed here.
    quick : mapping
        Overrides for ``--quick``.
    metrics : sequence of str
        The registry keys the panel writes.
    requires : sequence of str
        Names of the stages whose outputs the panel reads (checked when a study is built).
    summary : str
        One line on what the panel shows.
    """

    name: str
    title: str
    fn: Callable[[RunContext, dict[str, Any]], None]
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    summary: str = ""

    def __post_init__(self) -> None:
        _check_metric_keys(f"panel {self.name!r}", self.metrics)
        check_config(self.config, self.quick, where=f"panel {self.name!r} quick")

    def stage(self) -> Stage:
        """The stage that runs this panel on ``ctx.config[self.name]``."""
        fn, section = self.fn, self.name

        def run(ctx: RunContext) -> None:
            fn(ctx, dict(ctx.config[section]))

        run.__name__ = run.__qualname__ = f"panel_{self.name}"
        return Stage(self.name, run, title=self.title, metrics=self.metrics)


@dataclass(frozen=True)
class Study:
    """A named, ordered list of stages and panels with a default and a quick configuration.

    Panels contribute their config sections (defaults and quick overrides) to the study's
    configuration under the panel's name; ``stages`` holds only :class:`Stage` objects after
    construction. ``headline`` names the metric keys a sweep summarises by default.
    """

    name: str
    summary: str
    stages: Sequence[Stage | Panel]
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    headline: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        config = copy.deepcopy(dict(self.config))
        quick = copy.deepcopy(dict(self.quick))
        stages: list[Stage] = []
        for item in self.stages:
            if isinstance(item, Panel):
                if item.name in config:
                    raise ValueError(
                        f"study {self.name!r}: panel {item.name!r} brings its own config section, "
                        "and the study's config already has one by that name."
                    )
                missing = [r for r in item.requires if r not in {s.name for s in stages}]
                if missing:
                    raise ValueError(
                        f"study {self.name!r}: panel {item.name!r} needs stage(s) {missing} "
                        "before it."
                    )
                config[item.name] = copy.deepcopy(dict(item.config))
                if item.quick:
                    quick[item.name] = deep_merge(quick.get(item.name, {}), item.quick)
                stages.append(item.stage())
            elif isinstance(item, Stage):
                stages.append(item)
            else:
                raise TypeError(
                    f"study {self.name!r}: stages must be Stage or Panel; got {type(item).__name__}."
                )
        names = [s.name for s in stages]
        if len(set(names)) != len(names):
            raise ValueError(f"study {self.name!r} has duplicate stage names: {names}.")
        check_config(config, quick, where=f"study {self.name!r} quick")
        _check_metric_keys(f"study {self.name!r} headline", self.headline)
        object.__setattr__(self, "stages", tuple(stages))
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "quick", quick)

    @property
    def metric_keys(self) -> tuple[str, ...]:
        """Every metric key a stage of this study may write."""
        return tuple(dict.fromkeys(k for s in self.stages for k in s.metrics))

    def resolve_config(
        self, *, quick: bool = False, overrides: Mapping[str, Any] | None = None
    ) -> dict:
        """Default config, deep-merged with the quick overrides (if ``quick``) and then ``overrides``.

        Every section, key and value type of ``overrides`` is checked against the defaults
        before anything is merged (:class:`ConfigError` names the offending key).
        """
        cfg = copy.deepcopy(dict(self.config))
        if quick:
            cfg = deep_merge(cfg, self.quick)
        if overrides:
            if not isinstance(overrides, Mapping):
                raise ConfigError(
                    f"config overrides must be a mapping of sections; got {type(overrides).__name__}."
                )
            check_config(cfg, overrides, where=f"config for study {self.name!r}")
            cfg = deep_merge(cfg, overrides)
        return cfg


def _type_ok(default: Any, value: Any) -> bool:
    # Only the shape is checked here: a table stays a table and a value stays a value. Options
    # whose defaults have one type may legitimately take another (``checkpoints`` takes a count
    # or a list of epochs, ``bandwidth`` a rule name or a number); their values are checked
    # where they are used, or by a schema.
    if default is None or value is None:
        return True
    return isinstance(default, Mapping) == isinstance(value, Mapping)


def _type_name(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "number"
    if isinstance(v, Mapping):
        return "table"
    if isinstance(v, (list, tuple)):
        return "list"
    return type(v).__name__


def check_config(defaults: Mapping[str, Any], update: Mapping[str, Any], *, where: str) -> None:
    """Raise :class:`ConfigError` unless every key of ``update`` exists in ``defaults`` (tables
    checked recursively, and a table not replaced by a value or the reverse)."""

    def walk(base: Mapping[str, Any], upd: Mapping[str, Any], path: str) -> None:
        for k, v in upd.items():
            dotted = f"{path}.{k}" if path else str(k)
            if k not in base:
                what = f"key {dotted!r} in section {path!r}" if path else f"top-level section {k!r}"
                raise ConfigError(f"{where}: unknown {what}; expected one of {sorted(base)}.")
            d = base[k]
            if not _type_ok(d, v):
                raise ConfigError(
                    f"{where}: {dotted} must be a {_type_name(d)} (default {d!r}); "
                    f"got {v!r} ({_type_name(v)})."
                )
            if isinstance(d, Mapping) and isinstance(v, Mapping) and d:
                walk(d, v, dotted)

    walk(defaults, update, "")


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict:
    """Recursively merge ``update`` into a copy of ``base`` (dicts merge, other values replace)."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
