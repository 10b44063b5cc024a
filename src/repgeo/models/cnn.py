"""A small CNN for 8×8 single-channel images (sklearn digits), taking flat 64-d inputs."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._validation import check_choice, check_positive_int
from .layers import ACTIVATIONS, NamedSequential, make_activation

__all__ = ["SmallCNN"]


class SmallCNN(NamedSequential):
    """conv(3×3) → act → conv(3×3) → act → maxpool(2) → flatten → fc → act → out.

    Inputs are flat vectors of length ``side²·in_channels`` (so every analysis treats the model
    as a map on R^d); the first layer reshapes them to images. Layer names: ``unflatten, conv1,
    act1, conv2, act2, pool, flatten, fc, act3, out``.

    Examples
    --------
    >>> import torch
    >>> from repgeo.models import SmallCNN
    >>> SmallCNN(seed=0)(torch.zeros(5, 64)).shape
    torch.Size([5, 10])
    """

    def __init__(
        self,
        *,
        side: int = 8,
        in_channels: int = 1,
        n_classes: int = 10,
        channels: Sequence[int] = (16, 32),
        hidden: int = 64,
        activation: str = "relu",
        seed: int | None = None,
    ) -> None:
        side = check_positive_int(side, "side", min_val=2)
        if side % 2:
            raise ValueError(f"side must be even (one 2×2 max-pool); got {side}.")
        in_channels = check_positive_int(in_channels, "in_channels")
        n_classes = check_positive_int(n_classes, "n_classes", min_val=2)
        c1, c2 = (check_positive_int(c, "channels[i]") for c in channels)
        hidden = check_positive_int(hidden, "hidden")
        check_choice(activation, "activation", sorted(ACTIVATIONS))
        g = torch.Generator()
        g.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, (1,))))
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            unflatten=nn.Unflatten(1, (in_channels, side, side)),
            conv1=nn.Conv2d(in_channels, c1, 3, padding=1),
            act1=make_activation(activation),
            conv2=nn.Conv2d(c1, c2, 3, padding=1),
            act2=make_activation(activation),
            pool=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc=nn.Linear(c2 * (side // 2) ** 2, hidden),
            act3=make_activation(activation),
            out=nn.Linear(hidden, n_classes),
        )
        super().__init__(layers)
        with torch.no_grad():
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    fan_in = m.weight[0].numel()
                    bound = 1.0 / fan_in**0.5
                    m.weight.uniform_(-bound, bound, generator=g)
                    m.bias.uniform_(-bound, bound, generator=g)
        self.config: dict[str, Any] = {
            "kind": "cnn",
            "side": side,
            "in_channels": in_channels,
            "n_classes": n_classes,
            "channels": [c1, c2],
            "hidden": hidden,
            "activation": activation,
        }
