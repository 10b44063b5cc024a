"""What panels and studies share: the reference datasets and trained models in a run directory.

Stages never pass Python objects to each other; they go through the run directory. These helpers
write and rebuild what the training stages of the default study (and of other studies) leave:

* :func:`checkpoints` — ``[(epoch, model), ...]`` of a trained model (``checkpoints/<name>/``),
  through the one loader :func:`repgeo.models.load_checkpoints`, the epochs and checksums
  the run recorded;
* :func:`save_datasets` / :func:`datasets` — the train / test (/ unseen) splits as
  :class:`repgeo.data.Dataset` (``arrays/<name>_data.npz``);
* :func:`manifold_generator` — the class-manifold generator of a config section, rebuilt exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from ..data import Dataset, RandomNetworkManifolds
from ..models import load_checkpoints
from ..runs.context import RunContext

__all__ = ["SPLITS", "checkpoints", "datasets", "manifold_generator", "save_datasets"]

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
    """``[(epoch, model), ...]`` of model ``name``, each in eval mode on ``ctx.device``.

    The epochs are the ones the run recorded (``manifest.json``), not a listing of the folder,
    and each file is checked against its recorded SHA-256: a deleted or damaged checkpoint
    stops the analysis with an error naming the file instead of silently changing it.
    """
    folder = ctx.out / "checkpoints" / name
    expected = ctx.checkpoint_files(name)
    if not expected:
        raise FileNotFoundError(
            f"no checkpoints for model {name!r} under {folder}; its training stage must run first."
        )
    return load_checkpoints(
        folder,
        device=ctx.device,
        epochs=[e for e, _, _ in expected],
        checksums={e: sha for e, _, sha in expected},
    )
