"""Shared pieces of studies: the reference datasets and trained models of the default study.

Stages never pass Python objects to each other; they go through the run directory. These helpers
rebuild what the training stages wrote:

* :func:`checkpoints` — ``[(epoch, model), ...]`` for a trained model ("manifold", "digits");
* :func:`datasets` — the train / test (/ unseen) splits as :class:`repgeo.data.Dataset`;
* :func:`manifold_generator` — the class-manifold generator, rebuilt exactly from the config;
* :func:`hidden_layers` — names of a reference model's hidden representations.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..data import Dataset, RandomNetworkManifolds
from ..models import list_checkpoints, load_model
from ..runs.context import RunContext

__all__ = [
    "SPLITS",
    "checkpoints",
    "datasets",
    "hidden_layers",
    "manifold_generator",
    "pca_project",
    "save_datasets",
]

SPLITS = ("train", "test", "unseen")
_GEN_KEYS = (
    "n_classes",
    "k_gamma",
    "k_theta",
    "ambient_dim",
    "depth",
    "hidden",
    "activation",
    "theta_scale",
    "noise",
)


def manifold_generator(
    ctx: RunContext, section: str = "manifold", *, seed_key: str | None = None
) -> RandomNetworkManifolds:
    """The family-1 generator of ``ctx.config[section]``, seeded from the run seed.

    The generator's seed is ``ctx.seed_for(seed_key)`` (default ``"<section>-generator"``), so a
    later stage rebuilds exactly the generator an earlier stage sampled from.
    """
    cfg = ctx.config[section]
    return RandomNetworkManifolds(
        **{k: cfg[k] for k in _GEN_KEYS if k in cfg},
        random_state=ctx.seed_for(seed_key or f"{section}-generator"),
    )


def save_datasets(
    ctx: RunContext, name: str, splits: dict[str, Dataset], **extra_arrays: Any
) -> None:
    """Write the splits of dataset ``name`` to ``arrays/<name>_data.npz``."""
    arrays: dict[str, Any] = dict(extra_arrays)
    for split, ds in splits.items():
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; got {split!r}.")
        for key, value in ds.arrays().items():
            arrays[f"{split}__{key}"] = value
    arrays["__name"] = np.array(next(iter(splits.values())).name)
    ctx.save_arrays(f"{name}_data", **arrays)


def datasets(ctx: RunContext, name: str) -> dict[str, Dataset]:
    """The splits of dataset ``name`` ("manifold" or "digits") written by its training stage."""
    arrays = ctx.load_arrays(f"{name}_data")
    dsname = str(arrays.get("__name", name))
    out: dict[str, Dataset] = {}
    for split in SPLITS:
        if f"{split}__X" not in arrays:
            continue
        extra = {
            k.split("__extra_", 1)[1]: v
            for k, v in arrays.items()
            if k.startswith(f"{split}__extra_")
        }
        out[split] = Dataset(
            X=arrays[f"{split}__X"],
            y=arrays.get(f"{split}__y"),
            ids=arrays[f"{split}__ids"],
            name=dsname,
            extra=extra,
        )
    return out


def checkpoints(ctx: RunContext, name: str) -> list[tuple[int, nn.Module]]:
    """``[(epoch, model), ...]`` of model ``name``, each in eval mode on ``ctx.device``."""
    found = list_checkpoints(ctx.out / "checkpoints" / name)
    if not found:
        raise FileNotFoundError(
            f"no checkpoints for model {name!r} under {ctx.out / 'checkpoints' / name}; "
            "its training stage must run first."
        )
    out = []
    for epoch, path in found:
        model = load_model(path, device=ctx.device)
        model.eval()
        out.append((epoch, model))
    return out


def hidden_layers(model: nn.Module) -> list[str]:
    """Names of the hidden representations of a reference model (``act1``, ``act2``, ...)."""
    return [
        n
        for n, m in model.named_children()
        if n.startswith("act") and not isinstance(m, nn.Identity)
    ]


@torch.no_grad()
def accuracy(model: nn.Module, X: np.ndarray, y: np.ndarray, device: torch.device) -> float:
    """Top-1 accuracy of a classifier on arrays."""
    logits = model(torch.as_tensor(X, dtype=torch.float32, device=device))
    return float((logits.argmax(1).cpu().numpy() == y).mean())


def pca_project(fit: np.ndarray, X: np.ndarray, k: int = 2) -> np.ndarray:
    """Coordinates of ``X`` on the top ``k`` principal axes of ``fit`` (float64, via torch).

    The eigendecomposition of the d×d scatter matrix runs in torch: next to torch, NumPy's
    threaded LAPACK can stall on a busy machine.
    """
    F = torch.as_tensor(np.asarray(fit), dtype=torch.float64)
    mu = F.mean(0)
    _, V = torch.linalg.eigh((F - mu).T @ (F - mu))
    top = V.flip(1)[:, : min(k, V.shape[1])]
    return ((torch.as_tensor(np.asarray(X), dtype=torch.float64) - mu) @ top).numpy()
