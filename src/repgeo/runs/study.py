"""Declarations: a :class:`Stage` is one resumable step, a :class:`Panel` is a stage that brings its
own config section and metric keys, a :class:`Study` is an ordered list of them.

A panel is the unit the default study (and ``repgeo analyze``) is composed of: it declares its
name, the config section it reads (with defaults and quick overrides), the function that runs it
and the metric keys it writes. Adding a panel to a study adds its section to the study's
configuration, so ``--config`` can override every option of every panel.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .registry import REGISTRY

if TYPE_CHECKING:
    from .context import RunContext

__all__ = [
    "CONVENTIONS",
    "ConfigError",
    "Option",
    "Panel",
    "Stage",
    "Study",
    "check_config",
    "config_diff",
    "deep_merge",
    "option_for",
]


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
    schema : mapping of str to Option, optional
        Constraints on the section's options beside their defaults (``{"t": Option(type=
        "number", gt=0)}``); an option without one accepts values of its default's type, or
        follows the convention for its name (:func:`repgeo.runs.study.option_for`).
    """

    name: str
    title: str
    fn: Callable[[RunContext, dict[str, Any]], None]
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    metrics: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    summary: str = ""
    schema: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_metric_keys(f"panel {self.name!r}", self.metrics)
        _check_schema(self.schema, self.config, f"panel {self.name!r}")
        check_config(
            self.config, self.config, where=f"panel {self.name!r} defaults", schema=self.schema
        )
        check_config(
            self.config, self.quick, where=f"panel {self.name!r} quick", schema=self.schema
        )

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
    ``schema`` mirrors ``config`` (``{section: {key: Option}}``) with the constraints of the
    study's own options; panels bring theirs. Defaults, quick overrides and every ``--config``
    are checked against it before anything is written.
    """

    name: str
    summary: str
    stages: Sequence[Stage | Panel]
    config: Mapping[str, Any] = field(default_factory=dict)
    quick: Mapping[str, Any] = field(default_factory=dict)
    headline: tuple[str, ...] = ()
    schema: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        config = copy.deepcopy(dict(self.config))
        quick = copy.deepcopy(dict(self.quick))
        schema = dict(self.schema)
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
                if item.schema:
                    schema[item.name] = dict(item.schema)
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
        _check_schema(schema, config, f"study {self.name!r}")
        check_config(config, config, where=f"study {self.name!r} defaults", schema=schema)
        check_config(config, quick, where=f"study {self.name!r} quick", schema=schema)
        _check_metric_keys(f"study {self.name!r} headline", self.headline)
        object.__setattr__(self, "stages", tuple(stages))
        object.__setattr__(self, "config", config)
        object.__setattr__(self, "quick", quick)
        object.__setattr__(self, "schema", schema)

    @property
    def metric_keys(self) -> tuple[str, ...]:
        """Every metric key a stage of this study may write."""
        return tuple(dict.fromkeys(k for s in self.stages for k in s.metrics))

    def resolve_config(
        self, *, quick: bool = False, overrides: Mapping[str, Any] | None = None
    ) -> dict:
        """Default config, deep-merged with the quick overrides (if ``quick``) and then ``overrides``.

        Every section, key and value of ``overrides`` is checked against the defaults and the
        schema (types, ranges, choices) before anything is merged (:class:`ConfigError` names
        the offending key).
        """
        cfg = copy.deepcopy(dict(self.config))
        if quick:
            cfg = deep_merge(cfg, self.quick)
        if overrides:
            if not isinstance(overrides, Mapping):
                raise ConfigError(
                    f"config overrides must be a mapping of sections; got {type(overrides).__name__}."
                )
            check_config(
                cfg, overrides, where=f"config for study {self.name!r}", schema=self.schema
            )
            cfg = deep_merge(cfg, overrides)
        return cfg


# ----------------------------------------------------------------------------- the schema
_TYPES = ("bool", "int", "number", "str", "list", "table", "null")


def _config_type(v: Any) -> str:
    """The config-file type of a value: bool, int, number, str, list, table, null or other."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, numbers.Integral):
        return "int"
    if isinstance(v, numbers.Real):
        return "number"
    if isinstance(v, str):
        return "str"
    if isinstance(v, Mapping):
        return "table"
    if isinstance(v, (list, tuple)):
        return "list"
    return type(v).__name__


@dataclass(frozen=True)
class Option:
    """What values one config option accepts: types, a numeric range, choices, list items.

    Declared beside a section's defaults (``Panel(schema=...)``, ``Study(schema=...)``); an
    option without a declaration accepts values of its default's type (see
    :func:`option_for`).

    Parameters
    ----------
    type : str or tuple of str
        Accepted config types among ``"bool", "int", "number", "str", "list", "table",
        "null"``. ``"number"`` accepts ints too; ``"int"`` refuses floats and bools. Numbers must
        be finite.
    ge, gt, le, lt : float, optional
        Bounds on a numeric value (``>=``, ``>``, ``<=``, ``<``).
    choices : sequence, optional
        The allowed values of a non-numeric value (a rule name, say).
    items : Option, optional
        Constraint on every element of a list value.
    doc : str
        One line on the option (shown in error messages).

    Examples
    --------
    >>> from repgeo.runs.study import Option
    >>> bandwidth = Option(type=("str", "number"), choices=("median", "knn"), gt=0)
    >>> bandwidth.problem("median"), bandwidth.problem(0.5)
    (None, None)
    >>> bandwidth.problem("mean")
    "must be one of ['median', 'knn'] or a number > 0; got 'mean'"
    >>> Option(type=("int", "list"), ge=2, items=Option(type="int", ge=0)).problem([0, -5])
    'item 1 must be an int >= 0; got -5'
    """

    type: str | tuple[str, ...] = ()
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    choices: tuple[Any, ...] | None = None
    items: Option | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        types = (self.type,) if isinstance(self.type, str) else tuple(self.type)
        bad = [t for t in types if t not in _TYPES]
        if bad:
            raise ValueError(f"Option type must be among {list(_TYPES)}; got {bad}.")
        object.__setattr__(self, "type", types)
        if self.choices is not None:
            object.__setattr__(self, "choices", tuple(self.choices))
        if self.items is not None and not isinstance(self.items, Option):
            raise TypeError(f"Option items must be an Option; got {type(self.items).__name__}.")

    def _range_text(self) -> str:
        parts = [
            f"{op} {b:g}"
            for op, b in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if b is not None
        ]
        return " and ".join(parts)

    def describe(self) -> str:
        """What the option accepts, in words (``"an int >= 2 or a list"``)."""
        if not self.type:
            if self.choices is not None:
                return f"one of {list(self.choices)}"
            return f"a number {self._range_text()}" if self._range_text() else "any value"
        words = []
        for t in self.type:
            if t == "str" and self.choices is not None:
                words.append(f"one of {list(self.choices)}")
                continue
            w = {"int": "an int", "number": "a number", "str": "a string", "bool": "a bool"}.get(
                t, "a " + t
            )
            if t in ("int", "number") and self._range_text():
                w += " " + self._range_text()
            words.append(w)
        return " or ".join(words)

    def problem(self, value: Any) -> str | None:
        """None if ``value`` is acceptable, else what is wrong (expected vs got)."""
        t = _config_type(value)
        ok_type = not self.type or t in self.type or (t == "int" and "number" in self.type)
        got = f"got {value!r}" + ("" if ok_type else f" ({t})")
        if not ok_type:
            return f"must be {self.describe()}; {got}"
        if t in ("int", "number"):
            x = float(value)
            if not math.isfinite(x):
                return f"must be {self.describe()} (finite); {got}"
            if (
                (self.ge is not None and x < self.ge)
                or (self.gt is not None and x <= self.gt)
                or (self.le is not None and x > self.le)
                or (self.lt is not None and x >= self.lt)
            ):
                return f"must be {self.describe()}; {got}"
        elif self.choices is not None and t not in ("list", "table") and value not in self.choices:
            return f"must be {self.describe()}; {got}"
        if t == "list" and self.items is not None:
            for i, item in enumerate(value):
                why = self.items.problem(item)
                if why:
                    return f"item {i} {why}"
        return None


#: Options whose name means the same thing in every section (training and common analysis
#: settings). One applies to a key of that name when no schema declares the key and the
#: key's default satisfies it (``k`` of a table of per-dataset values is left alone).
CONVENTIONS: dict[str, Option] = {
    "checkpoints": Option(
        type=("int", "list"),
        ge=2,
        items=Option(type="int", ge=0),
        doc="a number of checkpoints (>= 2) or a list of epochs",
    ),
    "epochs": Option(type="int", ge=1),
    "max_epochs": Option(type="int", ge=1),
    "batch_size": Option(type="int", ge=1),
    "lr": Option(type="number", gt=0),
    "momentum": Option(type="number", ge=0, le=1),
    "weight_decay": Option(type="number", ge=0),
    "optimizer": Option(type="str", choices=("adam", "sgd", "adamw")),
    "test_fraction": Option(type="number", gt=0, lt=1),
    "bandwidth": Option(type=("str", "number"), choices=("median", "knn"), gt=0),
    "noise": Option(type="number", ge=0),
    "k": Option(type="int", ge=1),
    "k_gamma": Option(type="int", ge=1),
    "k_theta": Option(type="int", ge=1),
}


def _inferred(default: Any) -> Option:
    t = _config_type(default)
    if t == "null":
        return Option()
    if t == "list":
        kinds = {_config_type(v) for v in default}
        if len(kinds) == 1 and (kind := kinds.pop()) in _TYPES and kind != "null":
            return Option(type="list", items=Option(type=kind))
        return Option(type="list")
    if t == "int":
        return Option(type="int")
    return Option(type=t if t in _TYPES else ())


def option_for(key: str, default: Any, declared: Any = None) -> Option:
    """The constraint on option ``key`` whose default is ``default``.

    In order: the :class:`Option` declared for it; the convention for its name
    (:data:`CONVENTIONS`; counts named ``n`` or ``n_*`` with an int default are ints >= 1) when
    the default satisfies it; otherwise the default's own type (an int default takes ints, a
    float default any number, a list default a list of its elements' type, ``None`` anything).
    """
    if isinstance(declared, Option):
        return declared
    conv = CONVENTIONS.get(key)
    if conv is None and (key == "n" or key.startswith("n_")):
        if _config_type(default) == "int":
            conv = Option(type="int", ge=1)
        elif _config_type(default) == "list" and all(_config_type(v) == "int" for v in default):
            conv = Option(type="list", items=Option(type="int", ge=1))
    if conv is not None and conv.problem(default) is None:
        return conv
    return _inferred(default)


def check_config(
    defaults: Mapping[str, Any],
    update: Mapping[str, Any],
    *,
    where: str,
    schema: Mapping[str, Any] | None = None,
) -> None:
    """Raise :class:`ConfigError` unless every key and value of ``update`` is acceptable.

    Every key must exist in ``defaults`` (tables checked recursively; an empty table default
    takes any keys); a table is not replaced by a value or the reverse; and every value must
    satisfy its option (:func:`option_for`: the declared :class:`Option` in ``schema``, which
    mirrors the nesting of ``defaults``, else the convention for its name, else its default's
    type). The message names the dotted key, what it accepts and what it got.
    """

    def walk(
        base: Mapping[str, Any], upd: Mapping[str, Any], sch: Mapping[str, Any], path: str
    ) -> None:
        if not isinstance(upd, Mapping):
            raise ConfigError(f"{where}: {path or 'the config'} must be a table; got {upd!r}.")
        for k, v in upd.items():
            dotted = f"{path}.{k}" if path else str(k)
            if k not in base:
                what = f"key {dotted!r} in section {path!r}" if path else f"top-level section {k!r}"
                raise ConfigError(f"{where}: unknown {what}; expected one of {sorted(base)}.")
            d = base[k]
            sub = sch.get(k) if isinstance(sch, Mapping) else None
            if isinstance(d, Mapping) and not isinstance(sub, Option):
                if not isinstance(v, Mapping):
                    raise ConfigError(
                        f"{where}: {dotted} must be a table (default {d!r}); got {v!r} "
                        f"({_config_type(v)})."
                    )
                if d:
                    walk(d, v, sub if isinstance(sub, Mapping) else {}, dotted)
                continue
            if isinstance(v, Mapping) and not isinstance(d, Mapping) and d is not None:
                if not (isinstance(sub, Option) and "table" in sub.type):
                    raise ConfigError(
                        f"{where}: {dotted} must be {option_for(k, d, sub).describe()} "
                        f"(default {d!r}); got a table {v!r}."
                    )
            why = option_for(k, d, sub).problem(v)
            if why:
                raise ConfigError(f"{where}: {dotted} {why} (default {d!r}).")

    walk(defaults, update, schema or {}, "")


def config_diff(old: Any, new: Any, path: str = "") -> list[str]:
    """The dotted keys whose values differ between two configs, one ``key: old -> new`` line
    each (``(absent)`` where a key exists on one side only).

    Examples
    --------
    >>> config_diff({"a": {"x": 1, "y": 2}}, {"a": {"x": 1, "y": 3, "z": 0}})
    ['a.y: 2 -> 3', 'a.z: (absent) -> 0']
    """
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[str] = []
        for k in dict.fromkeys([*old, *new]):
            dotted = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{dotted}: (absent) -> {new[k]!r}")
            elif k not in new:
                out.append(f"{dotted}: {old[k]!r} -> (absent)")
            else:
                out.extend(config_diff(old[k], new[k], dotted))
        return out
    return [] if old == new else [f"{path}: {old!r} -> {new!r}"]


def _check_schema(schema: Mapping[str, Any], config: Mapping[str, Any], owner: str) -> None:
    """Every schema entry is an Option (or a table of them) for a key that exists."""

    def walk(sch: Mapping[str, Any], base: Mapping[str, Any], path: str) -> None:
        for k, v in sch.items():
            dotted = f"{path}.{k}" if path else str(k)
            if not isinstance(base, Mapping) or k not in base:
                raise ValueError(f"{owner}: schema names {dotted!r}, which has no default.")
            if isinstance(v, Mapping):
                walk(v, base[k], dotted)
            elif not isinstance(v, Option):
                raise TypeError(
                    f"{owner}: schema entry {dotted!r} must be an Option; got {type(v).__name__}."
                )

    walk(schema, config, "")


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict:
    """Recursively merge ``update`` into a copy of ``base`` (dicts merge, other values replace)."""
    out = copy.deepcopy(dict(base))
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out
