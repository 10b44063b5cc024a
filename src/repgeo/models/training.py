"""Seeded, resumable training with checkpoints over training saved as safetensors.

A checkpoint folder holds::

    epoch_00000.safetensors   weights at initialisation (model config in the metadata)
    epoch_000NN.safetensors   weights after epoch NN, at the checkpoint epochs
    history.json              loss / accuracy per epoch and the checkpoint epochs
    state.pt                  optimizer + shuffling-generator state of the last checkpoint
                              (tensors only; loaded with ``torch.load(weights_only=True)``)

If training is interrupted, calling :func:`train` again with the same folder continues from
the last checkpoint and produces the same weights as an uninterrupted run (CPU).
"""

from __future__ import annotations

import io as _io
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._backend import resolve_device
from .._io import atomic_write_bytes, atomic_write_json, read_json
from .._progress import progress
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_scalar,
)
from .checkpoints import load_model, save_model

__all__ = ["TrainConfig", "accuracy", "build_model", "checkpoint_epochs", "train"]


@dataclass
class TrainConfig:
    """Training hyper-parameters.

    ``checkpoints`` is either a number of checkpoints spread geometrically over training
    (epoch 0 and the last epoch always included) or an explicit list of epochs.
    """

    epochs: int = 50
    batch_size: int = 64
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    checkpoints: int | list[int] = 6
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        check_choice(self.optimizer, "optimizer", ("adam", "sgd", "adamw"))
        check_scalar(self.lr, "lr", min_val=0.0, include_min=False)
        check_scalar(self.momentum, "momentum", min_val=0.0, max_val=1.0)
        check_scalar(self.weight_decay, "weight_decay", min_val=0.0)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(d) - known
        if unknown:
            raise ValueError(
                f"unknown training option(s) {sorted(unknown)}; expected some of {sorted(known)}."
            )
        return cls(**d)


def checkpoint_epochs(epochs: int, checkpoints: int | Sequence[int]) -> list[int]:
    """Epochs at which to save: 0, the last epoch, and geometrically spaced ones in between."""
    if isinstance(checkpoints, (list, tuple)):
        out = sorted({int(e) for e in checkpoints} | {0, epochs})
        bad = [e for e in out if e < 0 or e > epochs]
        if bad:
            raise ValueError(f"checkpoint epochs must lie in [0, {epochs}]; got {bad}.")
        return out
    n = check_positive_int(checkpoints, "checkpoints", min_val=2)
    geo = np.unique(np.round(np.geomspace(1, epochs, num=max(n - 1, 1))).astype(int))
    return sorted({0, epochs, *geo.tolist()})


# ----------------------------------------------------------------------------- model files
def build_model(config: dict[str, Any], *, seed: int | None = None) -> nn.Module:
    """Rebuild a reference model from its ``config`` (``model.config``)."""
    from .cnn import SmallCNN
    from .mlp import MLP

    cfg = dict(config)
    kind = cfg.pop("kind", None)
    if kind == "mlp":
        return MLP(cfg.pop("widths"), seed=seed, **cfg)
    if kind == "cnn":
        return SmallCNN(seed=seed, **cfg)
    raise ValueError(f"model config kind must be 'mlp' or 'cnn'; got {kind!r}.")


# ----------------------------------------------------------------------------- training
def _make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
        )
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


@torch.no_grad()
def _accuracy(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch: int = 4096
) -> tuple[float, float]:
    was = model.training
    model.eval()
    correct, loss = 0, 0.0
    for s in range(0, len(X), batch):
        logits = model(X[s : s + batch])
        loss += float(nn.functional.cross_entropy(logits, y[s : s + batch], reduction="sum"))
        correct += int((logits.argmax(1) == y[s : s + batch]).sum())
    model.train(was)
    return correct / len(X), loss / len(X)


@torch.no_grad()
def accuracy(model: nn.Module, X: Any, y: Any, *, device: str | torch.device = "cpu") -> float:
    """Top-1 accuracy of a classifier on arrays (eval mode, no gradients, float32).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.models import MLP, accuracy
    >>> net = MLP([2, 4, 2], seed=0)
    >>> 0.0 <= accuracy(net, np.zeros((3, 2)), [0, 1, 1]) <= 1.0
    True
    """
    X = check_array(X, name="X")
    y = check_labels(y, name="y")
    check_consistent_length(X, y, names=("X", "y"))
    dev = resolve_device(device)
    Xt = torch.as_tensor(np.asarray(X), dtype=torch.float32, device=dev)
    yt = torch.as_tensor(np.asarray(y), device=dev)
    return _accuracy(model, Xt, yt)[0]


def _save_state(
    path: Path, optimizer: torch.optim.Optimizer, gen: torch.Generator, epoch: int
) -> None:
    buf = _io.BytesIO()
    torch.save(
        {"optimizer": optimizer.state_dict(), "generator": gen.get_state(), "epoch": epoch}, buf
    )
    atomic_write_bytes(path, buf.getvalue())


def train(
    model: nn.Module,
    X: Any,
    y: Any,
    *,
    config: TrainConfig | dict[str, Any] | None = None,
    random_state: int = 0,
    device: str | torch.device = "auto",
    checkpoint_dir: str | os.PathLike | None = None,
    X_val: Any = None,
    y_val: Any = None,
    label_map: dict[int, int] | None = None,
    description: str = "training",
) -> dict[str, Any]:
    """Train a classifier with cross-entropy; save checkpoints; resume if interrupted.

    Parameters
    ----------
    model : nn.Module
        Maps (batch, d) inputs to (batch, n_classes) logits.
    X : array_like of shape (n_samples, d)
    y : array_like of shape (n_samples,)
        Integer labels in ``[0, n_classes)`` (use ``label_map`` to remap arbitrary labels).
    config : TrainConfig or dict
    random_state : int
        Seeds mini-batch shuffling (weights are seeded by the model's constructor).
    device : {"auto", "cpu", "cuda"}
    checkpoint_dir : path, optional
        Where to save checkpoints and history; enables resuming.
    X_val, y_val : array_like, optional
        Held-out data evaluated at every epoch.
    label_map : dict, optional
        Maps raw labels to class indices (e.g. seen classes {3, 7, 12} -> {0, 1, 2}).

    Returns
    -------
    history : dict
        ``epoch``, ``train_loss``, ``train_acc``, ``val_acc`` (lists per epoch, epoch 0 = init)
        and ``checkpoints`` (epochs saved).
    """
    cfg = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(dict(config or {}))
    X = np.asarray(check_array(X, name="X"), dtype=np.float32)
    y = check_labels(y, n_samples=X.shape[0])
    check_consistent_length(X, y, names=["X", "y"])
    if label_map is not None:
        missing = sorted(set(np.unique(y).tolist()) - set(label_map))
        if missing:
            raise ValueError(f"label_map has no entry for label(s) {missing}.")
        y = np.array([label_map[int(v)] for v in y], dtype=np.int64)
    has_val = X_val is not None
    if has_val:
        X_val = np.asarray(check_array(X_val, name="X_val"), dtype=np.float32)
        y_val = check_labels(y_val, n_samples=X_val.shape[0], name="y_val")
        if X_val.shape[1] != X.shape[1]:
            raise ValueError(f"X_val must have {X.shape[1]} features like X; got {X_val.shape[1]}.")
        if label_map is not None:
            y_val = np.array([label_map[int(v)] for v in y_val], dtype=np.int64)
    dev = resolve_device(device)
    model = model.to(dev)
    Xt, yt = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
    Xv = torch.from_numpy(X_val).to(dev) if has_val else None
    yv = torch.from_numpy(y_val).to(dev) if has_val else None
    with torch.no_grad():
        n_out = model(Xt[:1]).shape[-1]
    if y.max() >= n_out or y.min() < 0:
        raise ValueError(
            f"labels must lie in [0, {n_out - 1}] for a model with {n_out} outputs; got [{y.min()}, {y.max()}]."
        )

    save_at = checkpoint_epochs(cfg.epochs, cfg.checkpoints)
    optimizer = _make_optimizer(model, cfg)
    gen = torch.Generator()
    gen.manual_seed(int(random_state))
    hist: dict[str, Any] = {
        "epoch": [],
        "train_loss": [],
        "train_acc": [],
        "val_acc": [],
        "checkpoints": [],
    }
    start = 0
    ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None

    if ckdir is not None:
        ckdir.mkdir(parents=True, exist_ok=True)
        state_path, hist_path = ckdir / "state.pt", ckdir / "history.json"
        if state_path.exists() and hist_path.exists():
            state = torch.load(state_path, weights_only=True, map_location="cpu")
            start = int(state["epoch"])
            if start > cfg.epochs:
                raise ValueError(
                    f"{ckdir} holds a run trained to epoch {start} > epochs={cfg.epochs}; use another folder."
                )
            load_model(ckdir / f"epoch_{start:05d}.safetensors", model, device=dev)
            optimizer.load_state_dict(state["optimizer"])
            gen.set_state(state["generator"])
            saved = read_json(hist_path)
            keep = [i for i, e in enumerate(saved["epoch"]) if e <= start]
            hist = {
                k: [saved[k][i] for i in keep]
                for k in ("epoch", "train_loss", "train_acc", "val_acc")
            }
            hist["checkpoints"] = [e for e in saved["checkpoints"] if e <= start]

    def record(epoch: int) -> None:
        acc, loss = _accuracy(model, Xt, yt)
        hist["epoch"].append(epoch)
        hist["train_loss"].append(loss)
        hist["train_acc"].append(acc)
        hist["val_acc"].append(_accuracy(model, Xv, yv)[0] if has_val else None)
        if ckdir is not None and epoch in save_at:
            save_model(model, ckdir / f"epoch_{epoch:05d}.safetensors", metadata={"epoch": epoch})
            hist["checkpoints"].append(epoch)
            atomic_write_json(
                ckdir / "history.json",
                {**hist, "config": asdict(cfg), "random_state": random_state},
            )
            _save_state(ckdir / "state.pt", optimizer, gen, epoch)

    if start == 0 and not hist["epoch"]:
        record(0)
    model.train()
    n = len(Xt)
    for epoch in progress(range(start + 1, cfg.epochs + 1), description, total=cfg.epochs - start):
        perm = torch.randperm(n, generator=gen).to(dev)
        for s in range(0, n, cfg.batch_size):
            idx = perm[s : s + cfg.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
        record(epoch)
    model.eval()
    return hist
