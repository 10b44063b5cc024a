"""Checkpoints over training: saving and loading weights, the hidden layers of a model, and the
one loop that measures every checkpoint × layer.

* :func:`save_model` / :func:`load_model` — safetensors weights (never a pickle) with the model's
  config in the metadata, so a checkpoint rebuilds its own architecture;
* :func:`list_checkpoints` / :func:`load_checkpoints` — the ``epoch_NNNNN.safetensors`` files of a
  folder, as paths or as ``[(epoch, model), ...]`` in eval mode;
* :func:`hidden_layers` — the one rule for "which layers are hidden representations";
* :func:`over_checkpoints` — apply a measurement to the embeddings of every checkpoint and layer
  (``{layer: {epoch: value}}``), the loop every over-training analysis shares.

Examples
--------
>>> import numpy as np
>>> from repgeo.models import MLP, hidden_layers, over_checkpoints
>>> cks = [(0, MLP([3, 8, 4, 2], seed=0)), (5, MLP([3, 8, 4, 2], seed=1))]
>>> hidden_layers(cks[0][1])
['act1', 'act2']
>>> X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
>>> res = over_checkpoints(cks, lambda Z, step: Z.shape[1], X)
>>> res
{'act1': {0: 8, 5: 8}, 'act2': {0: 4, 5: 4}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import nn

from .._backend import resolve_device
from .._io import atomic_write_bytes

__all__ = [
    "Step",
    "by_quantity",
    "check_checkpoints",
    "hidden_layers",
    "list_checkpoints",
    "load_checkpoints",
    "load_model",
    "over_checkpoints",
    "save_model",
]


# ----------------------------------------------------------------------------- model files
def save_model(
    model: nn.Module, path: str | os.PathLike, *, metadata: dict[str, Any] | None = None
) -> Path:
    """Save weights as safetensors (atomically); the model config goes into the metadata."""
    meta = {"config": json.dumps(getattr(model, "config", {}))}
    meta.update({k: json.dumps(v) for k, v in (metadata or {}).items()})
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    return atomic_write_bytes(path, st_save(state, metadata=meta))


def load_model(
    path: str | os.PathLike, model: nn.Module | None = None, *, device: str | torch.device = "cpu"
) -> nn.Module:
    """Load safetensors weights into ``model`` or into a model rebuilt from the file's config."""
    from .training import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    data = path.read_bytes()
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata() or {}
    if model is None:
        if "config" not in meta:
            raise ValueError(f"{path.name} carries no model config; pass the model to load into.")
        model = build_model(json.loads(meta["config"]))
    model.load_state_dict(st_load(data))
    return model.to(resolve_device(device))


def list_checkpoints(directory: str | os.PathLike) -> list[tuple[int, Path]]:
    """``[(epoch, path), ...]`` of the checkpoints in ``directory``, sorted by epoch."""
    directory = Path(directory)
    out = []
    for p in directory.glob("epoch_*.safetensors"):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return sorted(out)


def load_checkpoints(
    directory: str | os.PathLike, *, device: str | torch.device = "cpu"
) -> list[tuple[int, nn.Module]]:
    """``[(epoch, model), ...]`` of every checkpoint in ``directory``, each in eval mode.

    Raises :class:`FileNotFoundError` when the folder holds no checkpoint.
    """
    found = list_checkpoints(directory)
    if not found:
        raise FileNotFoundError(f"no checkpoints (epoch_*.safetensors) under {directory}.")
    return [(epoch, load_model(path, device=device).eval()) for epoch, path in found]


# ----------------------------------------------------------------------------- hidden layers
def hidden_layers(model: nn.Module) -> list[str]:
    """Names of the hidden representations of ``model``, input side first.

    The one rule used everywhere: a model that declares ``hidden_layers`` (repgeo's
    :class:`~repgeo.models.MLP` and :class:`~repgeo.models.SmallCNN`) is taken at its word;
    otherwise the children named ``act1, act2, ...`` are the hidden layers. An activation that
    is ``nn.Identity`` (a linear network) still marks a hidden representation.

    Raises
    ------
    ValueError
        If the model has neither, with the advice to name the layers explicitly.
    """
    declared = getattr(model, "hidden_layers", None)
    if declared is not None and not callable(declared):
        names = list(declared)
    else:
        names = [n for n, _ in model.named_children() if n.startswith("act") and n[3:].isdigit()]
    if not names:
        raise ValueError(
            f"cannot tell the hidden layers of {type(model).__name__}: it declares no "
            "`hidden_layers` and has no children named act1, act2, ...; pass layer names "
            "explicitly (see repgeo.layer_names(model))."
        )
    return names


# ----------------------------------------------------------------------------- over training
@dataclass(frozen=True)
class Step:
    """Where :func:`over_checkpoints` is: the checkpoint's epoch and model, and the layer."""

    epoch: int
    layer: str
    model: nn.Module


def check_checkpoints(checkpoints: Any) -> list[tuple[int, nn.Module]]:
    """Validate ``(epoch, model)`` pairs (a bare model counts as epoch 0).

    Returns
    -------
    list of (int, nn.Module)

    Raises
    ------
    TypeError
        If ``checkpoints`` is not a sequence of ``(epoch, model)`` pairs with ``nn.Module`` models.
    ValueError
        If it is empty.
    """
    if isinstance(checkpoints, nn.Module):
        checkpoints = [(0, checkpoints)]
    try:
        items = [(int(e), m) for e, m in checkpoints]
    except (TypeError, ValueError) as exc:
        raise TypeError("checkpoints must be a sequence of (epoch, model) pairs.") from exc
    if not items:
        raise ValueError("checkpoints is empty; expected at least one (epoch, model) pair.")
    for e, m in items:
        if not isinstance(m, nn.Module):
            raise TypeError(
                f"checkpoint {e}: model must be a torch.nn.Module; got {type(m).__name__}."
            )
    return items


def over_checkpoints(
    checkpoints: Sequence[tuple[int, nn.Module]] | nn.Module | str | os.PathLike,
    measure: Callable[[Any, Step], Any],
    data: Any,
    *,
    layers: Sequence[str] | Callable[[nn.Module], Sequence[str]] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, dict[int, Any]]:
    """``measure`` of the embeddings of ``data`` at every checkpoint and layer.

    Parameters
    ----------
    checkpoints : sequence of (epoch, model), a model, or a checkpoint folder
        A bare model counts as epoch 0; a folder is read with :func:`load_checkpoints`.
    measure : callable
        ``measure(Z, step) -> value``. ``Z`` is the ``(n, features)`` embedding of ``data``, or a
        dict of them when ``data`` is a mapping; ``step`` is a :class:`Step` (epoch, layer,
        model) for measures that need the model itself (Jacobians, invariance).
    data : array_like of shape (n, d), or mapping of str to array_like
        Inputs to embed, e.g. ``{"test": X_test, "unseen": X_unseen}``.
    layers : sequence of str, callable or None
        Layer names, a function of the model returning them, or None for
        :func:`hidden_layers`.
    device : str or torch.device, default="cpu"
        Where the forward passes run.

    Returns
    -------
    dict
        ``{layer: {epoch: value}}``, layers in model order, epochs ascending.
    """
    from ..features import extract

    if isinstance(checkpoints, (str, os.PathLike)):
        checkpoints = load_checkpoints(checkpoints, device=device)
    items = sorted(check_checkpoints(checkpoints), key=lambda em: em[0])
    if not callable(measure):
        raise TypeError(f"measure must be callable; got {type(measure).__name__}.")
    named = isinstance(data, Mapping)
    inputs = dict(data) if named else {"": data}
    out: dict[str, dict[int, Any]] = {}
    for epoch, model in items:
        if layers is None:
            names = hidden_layers(model)
        elif callable(layers):
            names = list(layers(model))
        else:
            names = list(layers)
        if not names:
            raise ValueError("no layers to measure; pass layer names explicitly.")
        for layer in names:
            Z = {
                k: extract(model, X, layer=layer, device=device, show_progress=False)
                for k, X in inputs.items()
            }
            value = measure(Z if named else Z[""], Step(epoch, layer, model))
            out.setdefault(layer, {})[epoch] = value
    return out


def by_quantity(results: Mapping[str, Mapping[int, Mapping[str, Any]]]) -> dict[str, Any]:
    """``{layer: {epoch: {q: v}}}`` → ``{q: {layer: {epoch: v}}}`` (for measures returning dicts).

    Examples
    --------
    >>> by_quantity({"act1": {0: {"a": 1, "b": 2}, 5: {"a": 3, "b": 4}}})
    {'a': {'act1': {0: 1, 5: 3}}, 'b': {'act1': {0: 2, 5: 4}}}
    """
    out: dict[str, Any] = {}
    for layer, series in results.items():
        for epoch, values in series.items():
            for q, v in values.items():
                out.setdefault(q, {}).setdefault(layer, {})[epoch] = v
    return out
