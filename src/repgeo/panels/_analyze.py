"""What the ``repgeo analyze`` panels share: the embeddings under analysis and row subsets.

The section ``data`` of an analyze run describes the source (written by the ``data`` panel's
configuration, see :mod:`repgeo.panels.embeddings_data`):

* ``kind = "embeddings"`` — the user's file or directory (``embeddings``, ``labels``,
  ``layers``, ``compare``, ``compare_layers``). It is read once per process: the command line
  reads and checks it (its SHA-256 goes into ``manifest.json`` so ``--resume`` refuses a changed
  file) and :func:`register` hands the loaded object to the panels;
* ``kind = "model"`` — the layers the ``data`` stage extracted into ``arrays/embeddings.npz``
  (read back through the run context, checksummed).

:func:`source` gives the panels one :class:`Source` either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..data import Embeddings, ModelInputs, load_embeddings, load_inputs
from ..models import LoadedModel, load_model_spec
from ..runs.context import RunContext

__all__ = [
    "ARRAYS",
    "INPUTS",
    "Source",
    "input_digests",
    "layer_key",
    "loaded_model",
    "model_inputs",
    "register",
    "rows",
    "source",
]

ARRAYS = "embeddings"
"""Name of the arrays file (``arrays/embeddings.npz``) the data stage writes for a model."""

INPUTS = "data_inputs"
"""Name of the arrays file in which the data stage records the SHA-256 of the files it read."""

_CACHE: dict[tuple[Any, ...], Any] = {}


def layer_key(name: str) -> str:
    """The array name of a layer in ``arrays/embeddings.npz``."""
    return f"layer:{name}"


@dataclass
class Source:
    """The embeddings an analyze run reads.

    Attributes
    ----------
    layers : dict of str to ndarray
        One (n_samples, n_features) array per layer, in model order (last checkpoint).
    y : ndarray or None
    class_names : list of str or None
    name : str
        What the embeddings are (a file name, a model).
    compare : dict of str to ndarray or None
        The ``--compare`` embeddings (same samples), per layer.
    compare_name : str
    steps : list of int or None
        Checkpoints of an over-training directory.
    at : callable or None
        ``at(step) -> {layer: array}``.
    """

    layers: dict[str, np.ndarray]
    y: np.ndarray | None = None
    class_names: list[str] | None = None
    name: str = ""
    compare: dict[str, np.ndarray] | None = None
    compare_name: str = ""
    steps: list[int] | None = None
    at: Callable[[int], dict[str, np.ndarray]] | None = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        return next(iter(self.layers.values())).shape[0]


def _key(kind: str, *parts: Any) -> tuple[Any, ...]:
    return (kind, *(tuple(p) if isinstance(p, list) else p for p in parts))


def register(kind: str, value: Any, *parts: Any) -> None:
    """Keep a loaded object (embeddings, model, inputs) for the panels of this process."""
    _CACHE[_key(kind, *parts)] = value


def _embeddings(path: str, labels: str, layers: list[str]) -> Embeddings:
    key = _key("embeddings", path, labels, layers)
    if key not in _CACHE:
        _CACHE[key] = load_embeddings(path, labels=labels or None, layers=layers or None)
    return _CACHE[key]


def _loaded_model(cfg: dict[str, Any]) -> LoadedModel:
    key = _key("model", cfg["model"], cfg["weights"])
    if key not in _CACHE:
        _CACHE[key] = load_model_spec(cfg["model"], weights=cfg["weights"] or None)
    return _CACHE[key]


def loaded_model(ctx: RunContext) -> LoadedModel:
    """The model of a ``kind = "model"`` run (loaded once per process; its files checked
    against what the data stage read)."""
    _verify(ctx)
    return _loaded_model(ctx.config["data"])


def model_inputs(ctx: RunContext) -> ModelInputs:
    """The inputs of a ``kind = "model"`` run (loaded once per process)."""
    return _model_inputs(ctx.config["data"])


def _model_inputs(cfg: dict[str, Any]) -> ModelInputs:
    key = _key("inputs", cfg["inputs"], cfg["image_size"], cfg["labels"])
    if key not in _CACHE:
        _CACHE[key] = load_inputs(
            cfg["inputs"],
            image_size=cfg["image_size"] or None,
            labels=cfg["labels"] if cfg["labels"] and not _is_file(cfg["labels"]) else None,
        )
    return _CACHE[key]


def _is_file(path: str) -> bool:
    from pathlib import Path

    return Path(path).is_file()


def input_digests(cfg: dict[str, Any]) -> dict[str, str]:
    """SHA-256 of every file outside the run the source comes from, as read by this process."""
    from .._io import sha256_file

    out: dict[str, str] = {}
    if cfg["kind"] == "embeddings":
        out.update(_embeddings(cfg["embeddings"], cfg["labels"], list(cfg["layers"])).files)
        if cfg["compare"]:
            out.update(_embeddings(cfg["compare"], "", list(cfg["compare_layers"])).files)
    elif cfg["kind"] == "model":
        out.update(_loaded_model(cfg).files)
        out.update(_model_inputs(cfg).files)
        if cfg["labels"] and _is_file(cfg["labels"]):
            out[cfg["labels"]] = sha256_file(cfg["labels"])
    return out


def _verify(ctx: RunContext) -> None:
    """Refuse inputs that changed since the data stage read them (a resumed run)."""
    if ctx.stage == "data" or not ctx.has_arrays(INPUTS):
        return
    rec = ctx.load_arrays(INPUTS)
    before = dict(zip((str(p) for p in rec["paths"]), (str(d) for d in rec["sha256"])))
    now = input_digests(ctx.config["data"])
    for path, digest in before.items():
        if now.get(path) != digest:
            from .._io import DamagedFileError

            raise DamagedFileError(
                path,
                "it changed since the data stage of this run read it; restore it, or start "
                "over with --force",
            )


def source(ctx: RunContext) -> Source:
    """The embeddings of the run (see the module docstring)."""
    cfg = ctx.config["data"]
    kind = cfg["kind"]
    if kind in ("embeddings", "model"):
        _verify(ctx)
    if kind == "embeddings":
        emb = _embeddings(cfg["embeddings"], cfg["labels"], list(cfg["layers"]))
        src = Source(
            layers=emb.layers,
            y=emb.y,
            class_names=emb.class_names,
            name=emb.source.name,
            steps=emb.steps,
            at=emb.at if emb.steps else None,
        )
        if cfg["compare"]:
            other = _embeddings(cfg["compare"], "", list(cfg["compare_layers"]))
            if other.n_samples != emb.n_samples:
                raise ValueError(
                    f"--compare {other.source.name} has {other.n_samples} rows but "
                    f"{emb.source.name} has {emb.n_samples}; both must embed the same samples "
                    "in the same order."
                )
            src.compare, src.compare_name = other.layers, other.source.name
        return src
    if kind == "model":
        arrays = ctx.load_arrays(ARRAYS)
        layers = {name: arrays[layer_key(name)] for name in cfg["layers"]}
        y = arrays.get("y")
        names = [str(s) for s in arrays["class_names"]] if "class_names" in arrays else None
        return Source(layers=layers, y=y, class_names=names, name=str(cfg["model"]))
    raise ValueError(
        "this run has no data to analyse: start it with `repgeo analyze EMB` or "
        "`repgeo analyze --model SPEC --data DATA`, not `repgeo run analyze`."
    )


def rows(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``max_points`` of ``n`` rows (all when ``max_points`` is 0 or
    at least ``n``), drawn without replacement."""
    if max_points <= 0 or max_points >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, int(max_points), replace=False))
