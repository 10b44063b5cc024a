"""Building blocks: activations by name and the paper's scaled linear layer."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "Erf", "NamedSequential", "ScaledLinear", "make_activation"]


class Erf(nn.Module):
    """σ(z) = erf(z/√2), the activation with a closed-form infinite-width metric."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.erf(z / math.sqrt(2.0))


ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "erf": Erf,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Activation module by name (one of :data:`ACTIVATIONS`)."""
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}.")
    return ACTIVATIONS[name]()


class ScaledLinear(nn.Linear):
    """``y = scale · (W x) + b`` — with N(0, 1) weights and ``scale = 1/√fan_in`` this is the
    'standard/NTK' parametrisation used by Zavatone-Veth et al. for the readout."""

    def __init__(
        self, in_features: int, out_features: int, *, scale: float = 1.0, bias: bool = True
    ) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.scale = float(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.linear(x, self.weight) * self.scale
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return super().extra_repr() + f", scale={self.scale:.4g}"


class NamedSequential(nn.Sequential):
    """``nn.Sequential`` whose slices are plain ``nn.Sequential`` (subclasses with their own
    constructor arguments cannot be rebuilt from a slice of children)."""

    def __getitem__(self, idx):  # type: ignore[override]
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)
