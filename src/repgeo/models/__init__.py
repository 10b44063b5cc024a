"""Reference architectures, seeded resumable training, and checkpoints over training."""

from .checkpoints import (
    Step,
    by_quantity,
    check_checkpoints,
    hidden_layers,
    list_checkpoints,
    load_checkpoints,
    load_model,
    over_checkpoints,
    save_model,
)
from .cnn import SmallCNN
from .layers import ACTIVATIONS, Erf, ScaledLinear, make_activation
from .loading import LoadedModel, default_layers, load_model_spec
from .mlp import MLP
from .resnet import BasicBlock, ResNet
from .training import TrainConfig, accuracy, build_model, checkpoint_epochs, train

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "BasicBlock",
    "Erf",
    "LoadedModel",
    "ResNet",
    "ScaledLinear",
    "SmallCNN",
    "Step",
    "TrainConfig",
    "accuracy",
    "build_model",
    "by_quantity",
    "check_checkpoints",
    "checkpoint_epochs",
    "default_layers",
    "hidden_layers",
    "list_checkpoints",
    "load_checkpoints",
    "load_model",
    "load_model_spec",
    "make_activation",
    "over_checkpoints",
    "save_model",
    "train",
]
