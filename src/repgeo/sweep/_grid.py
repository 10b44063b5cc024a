"""The grid of a sweep: ``--set SECTION.KEY=V1,V2`` and ``--seeds`` parsed and checked against a
study's configuration before any cell starts, and the readable names of the cells.

A grid maps dotted option paths (``toy.widths``, ``sweep.randnet.base_classes``) to the list of
values to try; the cells are the product of those lists × the seeds. Every value of every point
is checked by :meth:`repgeo.runs.Study.resolve_config` (unknown section or key, wrong type, out of
range: :class:`repgeo.runs.ConfigError`) before anything is written.

One convenience: a scalar given for an option that takes a list (``toy.widths=20``) means the
one-element list ``[20]`` — but only where the scalar itself is not acceptable (``checkpoints=5``
stays 5, a number of checkpoints).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..runs.study import ConfigError, Study, deep_merge, option_for

__all__ = [
    "cell_names",
    "check_grid",
    "grid_points",
    "parse_seeds",
    "parse_set",
    "parse_value",
]

_PATH = re.compile(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9.+\-]+")
_MAX_NAME = 100


def parse_value(text: str) -> Any:
    """One value of ``--set``: JSON (``20``, ``0.1``, ``true``, ``null``, ``"a b"``, ``[20, 50]``)
    or else a bare word, taken as a string.

    Examples
    --------
    >>> from repgeo.sweep import parse_value
    >>> parse_value("20"), parse_value("1e-3"), parse_value("sinusoid"), parse_value("[20, 50]")
    (20, 0.001, 'sinusoid', [20, 50])
    """
    t = text.strip()
    if not t:
        raise ValueError("an empty value (two commas in a row, or a trailing comma)")
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        if t[0] in "[{\"'" or t[-1] in "]}\"'":
            raise ValueError(f"{t!r} is neither valid JSON nor a bare word") from None
        return t


def _split(text: str) -> list[str]:
    """Split on the commas that are outside brackets and double quotes."""
    parts, depth, quoted, cur = [], 0, False, []
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in "[{":
            depth += 1
        elif not quoted and ch in "]}":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_set(item: str) -> tuple[str, list[Any]]:
    """``"SECTION.KEY=V1,V2,..."`` -> ``("SECTION.KEY", [v1, v2, ...])``.

    Values are split on the commas outside brackets and quotes and parsed by
    :func:`parse_value`.

    Examples
    --------
    >>> from repgeo.sweep import parse_set
    >>> parse_set("toy.widths=20,50,[250,1000]")
    ('toy.widths', [20, 50, [250, 1000]])
    >>> parse_set("toy.widths=")
    Traceback (most recent call last):
    ...
    ValueError: --set toy.widths= gives no values (an empty grid); write toy.widths=V1,V2,...
    """
    if not isinstance(item, str):
        raise TypeError(f"--set takes a string SECTION.KEY=V1,V2,...; got {type(item).__name__}.")
    key, sep, rest = item.partition("=")
    key = key.strip()
    if not sep or not _PATH.match(key) or "." not in key:
        raise ValueError(
            f"--set {item!r} must read SECTION.KEY=V1,V2,... (a dotted option path, '=', "
            "comma-separated values)."
        )
    if not rest.strip():
        raise ValueError(f"--set {item} gives no values (an empty grid); write {key}=V1,V2,...")
    try:
        values = [parse_value(v) for v in _split(rest)]
    except ValueError as exc:
        raise ValueError(f"--set {item}: {exc}.") from None
    return key, values


def parse_seeds(text: str) -> list[int]:
    """``"0,1,2"``, ``"0-9"`` or a mix (``"0-4,10"``) -> a list of distinct seeds >= 0.

    Examples
    --------
    >>> from repgeo.sweep import parse_seeds
    >>> parse_seeds("0-4"), parse_seeds("3, 1,7-8")
    ([0, 1, 2, 3, 4], [3, 1, 7, 8])
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"--seeds must list seeds like 0,1,2 or 0-9; got {text!r}.")
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ValueError(
                f"--seeds {text!r}: {part!r} is not a seed >= 0 or a range a-b (like 0-9)."
            )
        lo, hi = int(m.group(1)), int(m.group(2) if m.group(2) is not None else m.group(1))
        if hi < lo:
            raise ValueError(f"--seeds {text!r}: the range {part} is empty (write {hi}-{lo}).")
        seeds.extend(range(lo, hi + 1))
    return _check_seeds(seeds)


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be a sequence of ints; got {type(seeds).__name__}.")
    out = list(seeds)
    if not out:
        raise ValueError("seeds is empty: a sweep needs at least one seed.")
    bad = [s for s in out if isinstance(s, bool) or not isinstance(s, int) or s < 0]
    if bad:
        raise ValueError(f"seeds must be ints >= 0; got {bad}.")
    dup = sorted({s for s in out if out.count(s) > 1})
    if dup:
        raise ValueError(f"seeds lists {dup} more than once.")
    return out


def _nest(path: str, value: Any) -> dict:
    out: Any = value
    for part in reversed(path.split(".")):
        out = {part: out}
    return out


def _at(tree: Any, path: str) -> tuple[bool, Any]:
    node = tree
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _wrap(study: Study, base: Mapping, path: str, value: Any) -> Any:
    """``[value]`` when the option takes a list and a bare scalar is not acceptable itself."""
    found, default = _at(base, path)
    if not found or not isinstance(default, list) or isinstance(value, (list, Mapping)):
        return value
    _, declared = _at(study.schema, path)
    opt = option_for(path.rsplit(".", 1)[-1], default, declared)
    return [value] if opt.problem(value) and not opt.problem([value]) else value


def check_grid(
    study: Study,
    grid: Mapping[str, Sequence[Any]] | None,
    *,
    quick: bool = False,
    config: Mapping[str, Any] | None = None,
) -> dict[str, list[Any]]:
    """Check a grid against ``study`` and return it normalised (scalars wrapped for list options).

    Every key must name an existing option (not a section), every list must be non-empty with
    distinct values, and every value must be acceptable to the study's schema
    (:class:`repgeo.runs.ConfigError` otherwise, naming the key and the value). ``config`` holds
    fixed overrides applied to every cell (like ``repgeo run --config``); it is checked too.

    Examples
    --------
    >>> from repgeo.studies import get_study
    >>> from repgeo.sweep import check_grid
    >>> st = get_study("riemann")
    >>> check_grid(st, {"toy.widths": [20, 250], "toy.lr": [0.1]})
    {'toy.widths': [[20], [250]], 'toy.lr': [0.1]}
    >>> check_grid(st, {"toy.lr": ["fast"]})
    Traceback (most recent call last):
    ...
    repgeo.runs.study.ConfigError: --set toy.lr='fast': config for study 'riemann': toy.lr must be a number > 0; got 'fast' (str) (default 0.1).
    """
    if not isinstance(study, Study):
        raise TypeError(f"study must be a repgeo.runs.Study; got {type(study).__name__}.")
    base = study.resolve_config(quick=quick, overrides=config)  # checks config
    if grid is None:
        return {}
    if not isinstance(grid, Mapping):
        raise TypeError(
            f"grid must map 'section.key' to a list of values; got {type(grid).__name__}."
        )
    out: dict[str, list[Any]] = {}
    for path, values in grid.items():
        if not isinstance(path, str) or not _PATH.match(path) or "." not in path:
            raise ConfigError(f"grid key {path!r} must be a dotted option path 'section.key'.")
        if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence):
            raise ConfigError(
                f"grid {path}: the values must be a list; got {type(values).__name__} {values!r}."
            )
        if not values:
            raise ConfigError(f"grid {path} has no values (an empty grid); give at least one.")
        found, default = _at(base, path)
        if found and isinstance(default, Mapping):
            raise ConfigError(
                f"grid {path} names a section, not an option; choose one of its keys: "
                f"{sorted(default)}."
            )
        norm = []
        for v in values:
            v = _wrap(study, base, path, copy.deepcopy(v))
            try:
                study.resolve_config(
                    quick=quick, overrides=deep_merge(config or {}, _nest(path, v))
                )
            except ConfigError as exc:
                raise ConfigError(f"--set {path}={v!r}: {exc}") from None
            norm.append(v)
        canon = [json.dumps(v, sort_keys=True) for v in norm]
        dup = sorted({c for c in canon if canon.count(c) > 1})
        if dup:
            raise ConfigError(f"grid {path} lists {', '.join(dup)} more than once.")
        out[path] = norm
    return out


def grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The product of the grid's lists, in order (the last key varies fastest); one empty
    point for an empty grid (a sweep over seeds only).

    Examples
    --------
    >>> from repgeo.sweep import grid_points
    >>> grid_points({"a.x": [1, 2], "a.y": ["u", "v"]})
    [{'a.x': 1, 'a.y': 'u'}, {'a.x': 1, 'a.y': 'v'}, {'a.x': 2, 'a.y': 'u'}, {'a.x': 2, 'a.y': 'v'}]
    """
    keys = list(grid)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(grid[k] for k in keys))]


def point_overrides(point: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict:
    """The config overrides of one grid point: ``config`` with the point's values set."""
    out = copy.deepcopy(dict(config or {}))
    for path, value in point.items():
        out = deep_merge(out, _nest(path, value))
    return out


def _label(value: Any) -> str:
    if isinstance(value, list):
        text = "+".join(_label(v) for v in value) or "empty"
    elif isinstance(value, bool) or value is None:
        text = json.dumps(value)
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value) if not isinstance(value, Mapping) else json.dumps(value, sort_keys=True)
    return _UNSAFE.sub("_", text).strip("_.") or "x"


def _short(path: str, paths: Sequence[str]) -> str:
    last = path.rsplit(".", 1)[-1]
    same = [p for p in paths if p.rsplit(".", 1)[-1] == last]
    return last if len(same) == 1 else path


def cell_names(points: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> list[str]:
    """Readable, distinct, file-name-safe names of the cells ``points × seeds`` (points outer).

    A name lists each swept option (its last path part, or the whole path where two grid keys
    end alike) with its value, then the seed: ``widths-20_tasks-sinusoid_seed-0``. Lists join
    with ``+``; characters outside ``[A-Za-z0-9.+-]`` become ``_``; a name that would be too
    long or collide with another gets a short hash of the point.

    Examples
    --------
    >>> from repgeo.sweep import cell_names
    >>> cell_names([{"toy.widths": [20], "toy.tasks": ["xor"]}], [0, 1])
    ['widths-20_tasks-xor_seed-0', 'widths-20_tasks-xor_seed-1']
    """
    paths = list(points[0]) if points else []
    names = []
    for point in points:
        stem = "_".join(f"{_short(p, paths)}-{_label(v)}" for p, v in point.items())
        digest = hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()[:8]
        if len(stem) > _MAX_NAME - 20:
            stem = f"{stem[: _MAX_NAME - 30]}_{digest}"
        names.append((stem, digest))
    counts: dict[str, int] = {}
    for stem, _ in names:
        counts[stem] = counts.get(stem, 0) + 1
    out = []
    for stem, digest in names:
        stem = f"{stem}_{digest}" if counts[stem] > 1 else stem
        for seed in seeds:
            out.append(f"{stem}_seed-{seed}" if stem else f"seed-{seed}")
    return out
