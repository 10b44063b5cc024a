"""Load the user's own model for ``repgeo analyze --model``: offline, never from a pickle.

A model is named by a *spec*:

* a local Hugging Face model directory (``config.json`` and safetensors weights), loaded with
  ``transformers`` offline (``local_files_only=True``, ``use_safetensors=True``), with its
  tokenizer when the directory has one;
* an installed sentence-transformers model directory (``modules.json``), loaded with
  :func:`repgeo.data.load_sentence_model`; it tokenises its own inputs;
* ``package.module:factory`` — a function of your own code that returns an ``nn.Module``
  (imported with the current directory on the import path), with weights from a
  ``.safetensors`` file (``weights=``); ``.pt``/``.bin`` checkpoints are refused, since
  loading them runs pickle.

Nothing is fetched from a hub and no environment variable is set. :func:`default_layers` is
what a layer-by-layer analysis reads when no layer is named: the hidden layers of repgeo's own
models (:func:`repgeo.models.hidden_layers`), else the block outputs
(:func:`repgeo.features.block_layers`).

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import torch
>>> from safetensors.torch import save_file
>>> from repgeo.models import MLP, load_model_spec
>>> net = MLP([4, 8, 3], seed=0)
>>> path = Path(tempfile.mkdtemp()) / "w.safetensors"
>>> save_file(net.state_dict(), path)
>>> loaded = load_model_spec("repgeo.models:MLP", weights=path, factory_kwargs={"widths": [4, 8, 3]})
>>> loaded.kind, loaded.default_layers()
('factory', ['act1'])
>>> bool(torch.equal(loaded.model.fc1.weight, net.fc1.weight))
True
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from .._io import sha256_file
from ..features import block_layers
from .checkpoints import hidden_layers

__all__ = ["LoadedModel", "default_layers", "load_model_spec"]

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "vocab.json",
)
_PICKLED = (".pt", ".pth", ".bin", ".pkl", ".pickle", ".ckpt")


def default_layers(model: nn.Module) -> list[str]:
    """The layers read when none are named: :func:`~repgeo.models.hidden_layers` for models
    that declare them (repgeo's MLP and SmallCNN, or children ``act1, act2, ...``), else
    :func:`~repgeo.features.block_layers` (ResNet stages, transformer blocks with their
    embeddings, or the top-level children).

    Examples
    --------
    >>> from repgeo.models import MLP, default_layers
    >>> default_layers(MLP([3, 8, 8, 2], seed=0))
    ['act1', 'act2']
    """
    try:
        return hidden_layers(model)
    except ValueError:
        return block_layers(model)


@dataclass
class LoadedModel:
    """A model loaded from a spec, with what extracting from it needs.

    Attributes
    ----------
    model : nn.Module
        In eval mode, on the CPU.
    kind : {"transformers", "sentence-transformers", "factory"}
    tokenizer : object or None
        A Hugging Face tokenizer (``"transformers"`` directories that have one); a
        sentence-transformers model tokenises itself.
    spec : str
        The spec as given.
    files : dict of str to str
        SHA-256 of the weights file(s) read.
    """

    model: nn.Module
    kind: str
    tokenizer: Any = None
    spec: str = ""
    files: dict[str, str] = field(default_factory=dict)

    @property
    def takes_text(self) -> bool:
        """Whether the model reads sentences (it has a tokenizer or tokenises itself)."""
        return self.tokenizer is not None or self.kind == "sentence-transformers"

    def default_layers(self) -> list[str]:
        """:func:`default_layers` of the model."""
        return default_layers(self.model)


@contextlib.contextmanager
def _cwd_on_path() -> Iterator[None]:
    cwd = os.getcwd()
    added = cwd not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, cwd)
    try:
        yield
    finally:
        if added:
            with contextlib.suppress(ValueError):
                sys.path.remove(cwd)


def _weights_files(folder: Path) -> dict[str, str]:
    return {str(p): sha256_file(p) for p in sorted(folder.glob("*.safetensors"))}


def _from_directory(folder: Path, weights: Any) -> LoadedModel:
    if weights is not None:
        raise ValueError(
            "--weights applies to package.module:factory models; a model directory holds its "
            "own weights."
        )
    names = sorted(p.name for p in folder.iterdir())
    if (folder / "modules.json").is_file():
        from ..data import load_sentence_model

        try:
            model = load_sentence_model(folder, device="cpu")
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(
                f"{folder} looks like a sentence-transformers model (modules.json) but could not "
                f"be loaded offline: {exc}"
            ) from None
        return LoadedModel(
            model.eval(), "sentence-transformers", None, str(folder), _weights_files(folder)
        )
    if not (folder / "config.json").is_file():
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "") if names else "nothing"
        raise ValueError(
            f"{folder} is not a model directory: it has no config.json (a Hugging Face model) "
            f"and no modules.json (a sentence-transformers model); it holds {shown}. Give the "
            "folder save_pretrained() wrote, or package.module:factory for your own code."
        )
    if not any(p.suffix == ".safetensors" for p in folder.iterdir()):
        pickled = [n for n in names if Path(n).suffix in _PICKLED]
        raise ValueError(
            f"{folder} has no .safetensors weights"
            + (f" (only {', '.join(pickled)}, which would be unpickled)" if pickled else "")
            + "; repgeo loads safetensors only: re-save with model.save_pretrained(folder, "
            "safe_serialization=True)."
        )
    try:
        from transformers import AutoModel, AutoTokenizer
    except ImportError as exc:  # pragma: no cover - transformers is installed with [text]
        raise ImportError(
            "loading a Hugging Face model directory needs transformers: pip install 'repgeo[text]'."
        ) from exc
    try:
        model = AutoModel.from_pretrained(
            str(folder), local_files_only=True, use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{folder} could not be loaded as a Hugging Face model offline: "
            f"{' '.join(str(exc).split())[:500]}"
        ) from None
    tokenizer = None
    if any((folder / f).is_file() for f in _TOKENIZER_FILES):
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(
                f"the tokenizer of {folder} could not be loaded offline: {exc}"
            ) from None
    return LoadedModel(model.eval(), "transformers", tokenizer, str(folder), _weights_files(folder))


def _from_factory(spec: str, weights: Any, factory_kwargs: Mapping[str, Any] | None) -> LoadedModel:
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"--model {spec!r}: expected package.module:factory.")
    with _cwd_on_path():
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(
                f"--model {spec!r}: cannot import {module_name!r} ({exc}); install the package or "
                "run from the folder that holds it."
            ) from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ValueError(f"--model {spec!r}: {module_name} has no attribute {attr!r}.")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ValueError(
            f"--model {spec!r}: {attr} is not callable (a function returning a model)."
        )
    try:
        model = obj(**dict(factory_kwargs or {}))
    except Exception as exc:
        raise ValueError(
            f"--model {spec!r}: calling {attr}() failed ({type(exc).__name__}: {exc}); the "
            "factory must build the model without arguments."
        ) from None
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"--model {spec!r}: {attr}() returned {type(model).__name__}, not a torch.nn.Module."
        )
    files: dict[str, str] = {}
    if weights is not None:
        path = Path(weights)
        if path.suffix.lower() != ".safetensors":
            raise ValueError(
                f"--weights {path.name}: repgeo loads .safetensors only (a {path.suffix or 'bare'} "
                "file would be unpickled). Convert it once where you trust it: "
                "safetensors.torch.save_file(model.state_dict(), 'weights.safetensors')."
            )
        if not path.is_file():
            raise FileNotFoundError(f"--weights {path} does not exist.")
        from safetensors import SafetensorError
        from safetensors.torch import load as st_load

        data = path.read_bytes()
        try:
            state = st_load(data)
        except (SafetensorError, ValueError, RuntimeError) as exc:
            raise ValueError(f"--weights {path} is not a valid safetensors file ({exc}).") from None
        own = model.state_dict()
        parts = []
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        shapes = [
            f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
            for k in own
            if k in state and tuple(state[k].shape) != tuple(own[k].shape)
        ]
        if missing:
            parts.append(f"missing {missing[:5]}")
        if unexpected:
            parts.append(f"unexpected {unexpected[:5]}")
        if shapes:
            parts.append(f"shapes (file vs model) {shapes[:5]}")
        if parts:  # checked before loading: the model is never left half loaded
            raise ValueError(
                f"--weights {path.name} does not fit {attr}(): {'; '.join(parts)}. Save the "
                "state_dict of the same architecture."
            )
        model.load_state_dict(state)
        from .._io import sha256_bytes

        files[str(path)] = sha256_bytes(data)
    return LoadedModel(model.eval(), "factory", None, spec, files)


def load_model_spec(
    spec: str | os.PathLike,
    *,
    weights: str | os.PathLike | None = None,
    factory_kwargs: Mapping[str, Any] | None = None,
) -> LoadedModel:
    """Load a model from a directory or a ``package.module:factory`` spec (see the module).

    Parameters
    ----------
    spec : str or path
        A Hugging Face or sentence-transformers model directory, or ``package.module:factory``.
    weights : path, optional
        ``.safetensors`` weights for a factory model (a state dict of the same architecture).
    factory_kwargs : mapping, optional
        Keyword arguments of the factory.

    Returns
    -------
    LoadedModel

    Raises
    ------
    ValueError
        A directory that is not a model, pickled weights, a factory that cannot be imported or
        does not return an ``nn.Module``, weights that do not fit — each with the fix.
    FileNotFoundError
        ``spec`` is neither an existing directory nor a ``module:factory`` spec.
    """
    text = os.fspath(spec)
    path = Path(text)
    if path.is_dir():
        return _from_directory(path, weights)
    if path.exists():
        raise ValueError(
            f"--model {text}: a file is not a model; give a model directory or "
            "package.module:factory (with --weights FILE.safetensors)."
        )
    if ":" in text and not text.startswith(("/", ".")):
        return _from_factory(text, weights, factory_kwargs)
    raise FileNotFoundError(
        f"--model {text}: no such directory, and not a package.module:factory spec."
    )
