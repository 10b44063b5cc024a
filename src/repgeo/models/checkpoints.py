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
from .._io import DamagedFileError, atomic_write_bytes, read_bytes

__all__ = [
    "Step",
    "by_quantity",
    "check_checkpoints",
    "expected_shapes",
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


_DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip
_MAX_HEADER = 100 * 2**20


def _header(path: Path, data: bytes) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Shapes and metadata from a safetensors header, checked against the file's size before
    anything is allocated (:class:`DamagedFileError` names the file)."""
    if len(data) < 8:
        raise DamagedFileError(path, f"it holds {len(data)} bytes; not a safetensors file")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8 or n > _MAX_HEADER:
        raise DamagedFileError(
            path, f"its header claims {n} bytes but the file holds {len(data)} (truncated?)"
        )
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise DamagedFileError(path, "its safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise DamagedFileError(path, "its safetensors header is not a table")
    meta = header.pop("__metadata__", None) or {}
    body = len(data) - 8 - n
    shapes: dict[str, tuple[int, ...]] = {}
    for key, spec in header.items():
        try:
            shape = tuple(int(d) for d in spec["shape"])
            begin, stop = (int(o) for o in spec["data_offsets"])
            size = _DTYPE_BYTES[spec["dtype"]]
        except (KeyError, TypeError, ValueError):
            raise DamagedFileError(path, f"tensor {key!r} has a malformed header entry") from None
        numel = 1
        for d in shape:
            numel *= d
        if (
            min(shape, default=0) < 0
            or not 0 <= begin <= stop <= body
            or stop - begin != numel * size
        ):
            raise DamagedFileError(
                path, f"tensor {key!r} declares shape {list(shape)} but the file does not hold it"
            )
        shapes[key] = shape
    if not isinstance(meta, dict):
        raise DamagedFileError(path, "its safetensors metadata is not a table")
    return shapes, {str(k): str(v) for k, v in meta.items()}


def expected_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    """Parameter shapes of the reference model a ``config`` describes, computed without
    building it (None for kinds it does not know); lets :func:`load_model` refuse a file
    whose tensors do not match its declared model before allocating that model.

    Examples
    --------
    >>> expected_shapes({"kind": "mlp", "widths": [3, 5, 2]})
    {'fc1.weight': (5, 3), 'fc1.bias': (5,), 'out.weight': (2, 5), 'out.bias': (2,)}
    """
    try:
        if config.get("kind") == "mlp":
            widths = [int(w) for w in config["widths"]]
            out: dict[str, tuple[int, ...]] = {}
            for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
                name = "out" if i == len(widths) - 1 else f"fc{i}"
                out[f"{name}.weight"] = (b, a)
                if config.get("bias", True):
                    out[f"{name}.bias"] = (b,)
            return out
        if config.get("kind") == "cnn":
            side = int(config.get("side", 8))
            c_in = int(config.get("in_channels", 1))
            c1, c2 = (int(c) for c in config.get("channels", (16, 32)))
            hidden = int(config.get("hidden", 64))
            n_out = int(config.get("n_classes", 10))
            return {
                "conv1.weight": (c1, c_in, 3, 3),
                "conv1.bias": (c1,),
                "conv2.weight": (c2, c1, 3, 3),
                "conv2.bias": (c2,),
                "fc.weight": (hidden, c2 * (side // 2) ** 2),
                "fc.bias": (hidden,),
                "out.weight": (n_out, hidden),
                "out.bias": (n_out,),
            }
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _mismatch(path: Path, want: dict[str, tuple[int, ...]], have: dict[str, tuple[int, ...]]):
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            return ValueError(
                f"{path} does not hold the weights of its model: tensor {key!r} is "
                f"{list(have[key]) if key in have else 'absent'} in the file, the model needs "
                f"{list(want[key]) if key in want else 'none'}."
            )
    return None


def load_model(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    *,
    device: str | torch.device = "cpu",
    sha256: str | None = None,
) -> nn.Module:
    """Load safetensors weights into ``model`` or into a model rebuilt from the file's config.

    The file's header is checked against its size and against the declared model's shapes
    before the model is built, so a crafted or damaged file fails fast and names itself
    (:class:`repgeo._io.DamagedFileError`, a ValueError). With ``sha256`` (as a run records
    it), the file's bytes are verified first.
    """
    from .training import build_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist.")
    data = read_bytes(path, sha256=sha256)
    shapes, meta = _header(path, data)
    if model is None:
        if "config" not in meta:
            raise ValueError(f"{path.name} carries no model config; pass the model to load into.")
        try:
            config = json.loads(meta["config"])
        except json.JSONDecodeError:
            raise DamagedFileError(path, "its model config is not valid JSON") from None
        if not isinstance(config, dict):
            raise DamagedFileError(path, "its model config is not a table")
        want = expected_shapes(config)
        if want is not None and (err := _mismatch(path, want, shapes)):
            raise err
        try:
            model = build_model(config)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: cannot rebuild its model from the config: {exc}") from None
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if err := _mismatch(path, want, shapes):
        raise err
    try:
        state = st_load(data)
    except Exception as exc:  # safetensors raises its own error type
        raise DamagedFileError(path, f"its tensors cannot be read ({exc})") from None
    model.load_state_dict(state)
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
    directory: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    epochs: Sequence[int] | None = None,
    checksums: Mapping[int, str | None] | None = None,
) -> list[tuple[int, nn.Module]]:
    """``[(epoch, model), ...]`` of every checkpoint in ``directory``, each in eval mode.

    Parameters
    ----------
    directory : path
        Folder of ``epoch_NNNNN.safetensors`` files.
    device : str or torch.device, default="cpu"
    epochs : sequence of int, optional
        The epochs expected (a run's records): each must be there, or
        :class:`FileNotFoundError` names the missing file; others in the folder are ignored.
        Without it, the folder is listed.
    checksums : mapping of int to str, optional
        SHA-256 per epoch, verified before loading (:class:`repgeo._io.DamagedFileError`).

    Raises :class:`FileNotFoundError` when the folder holds no checkpoint.
    """
    directory = Path(directory)
    if epochs is None:
        found = list_checkpoints(directory)
    else:
        found = [(int(e), directory / f"epoch_{int(e):05d}.safetensors") for e in sorted(epochs)]
        for epoch, path in found:
            if not path.is_file():
                raise FileNotFoundError(
                    f"checkpoint {path} (epoch {epoch}) is missing; the run recorded it. "
                    "`repgeo run ... --resume` redoes the stage that wrote it."
                )
    if not found:
        raise FileNotFoundError(f"no checkpoints (epoch_*.safetensors) under {directory}.")
    sums = dict(checksums or {})
    return [
        (epoch, load_model(path, device=device, sha256=sums.get(epoch)).eval())
        for epoch, path in found
    ]


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
        # every layer of one input set in one forward pass (hooks), then the measures
        per_input = {
            k: extract(model, X, layers=names, device=device, show_progress=False)
            for k, X in inputs.items()
        }
        for layer in names:
            Z = {k: per_input[k][layer] for k in inputs}
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
