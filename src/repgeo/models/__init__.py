"""Reference architectures and seeded, resumable training with safetensors checkpoints."""

from .cnn import SmallCNN
from .layers import ACTIVATIONS, Erf, ScaledLinear, make_activation
from .mlp import MLP
from .training import (
    TrainConfig,
    build_model,
    checkpoint_epochs,
    list_checkpoints,
    load_model,
    save_model,
    train,
)

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "Erf",
    "ScaledLinear",
    "SmallCNN",
    "TrainConfig",
    "build_model",
    "checkpoint_epochs",
    "list_checkpoints",
    "load_model",
    "make_activation",
    "save_model",
    "train",
]
