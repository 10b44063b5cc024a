"""Multilayer perceptron with configurable widths, activation and initialisation."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._validation import check_choice, check_positive_int
from .layers import ACTIVATIONS, NamedSequential, ScaledLinear, make_activation

__all__ = ["MLP"]

INITS = ("default", "paper", "kaiming", "xavier")


class MLP(NamedSequential):
    """Fully connected network ``widths[0] -> ... -> widths[-1]`` as a named ``nn.Sequential``.

    Layers are named ``fc1, act1, fc2, act2, ..., out``, so ``"act2"`` is the second hidden
    representation (what :class:`repgeo.features.FeatureMap` takes as a layer name).

    Parameters
    ----------
    widths : sequence of int
        ``[d_in, h_1, ..., h_L, d_out]``; at least two entries.
    activation : str, default="relu"
        One of ``relu, sigmoid, tanh, gelu, erf, softplus, identity``.
    init : {"default", "paper", "kaiming", "xavier"}, default="default"
        ``"paper"`` is the convention of Zavatone-Veth et al. (2023): all weights and biases
        N(0, 1); every layer after the first scales its pre-activation by ``1/√fan_in``, so the
        readout is ``(1/√width) V σ(z)``.
    seed : int, optional
        Seed for the initialisation (uses a private generator; global RNG untouched).

    Examples
    --------
    >>> from repgeo.models import MLP
    >>> net = MLP([2, 20, 2], activation="sigmoid", init="paper", seed=0)
    >>> [name for name, _ in net.named_children()]
    ['fc1', 'act1', 'out']
    """

    def __init__(
        self,
        widths: Sequence[int],
        *,
        activation: str = "relu",
        init: str = "default",
        seed: int | None = None,
        bias: bool = True,
    ) -> None:
        widths = [check_positive_int(w, "widths[i]") for w in widths]
        if len(widths) < 2:
            raise ValueError(f"widths must list at least input and output sizes; got {widths}.")
        check_choice(activation, "activation", sorted(ACTIVATIONS))
        check_choice(init, "init", INITS)
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        n_layers = len(widths) - 1
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:]), start=1):
            name = "out" if i == n_layers else f"fc{i}"
            scale = 1.0 / math.sqrt(a) if (init == "paper" and i > 1) else 1.0
            layers[name] = (
                ScaledLinear(a, b, scale=scale, bias=bias)
                if init == "paper"
                else nn.Linear(a, b, bias=bias)
            )
            if i < n_layers:
                layers[f"act{i}"] = make_activation(activation)
        super().__init__(layers)
        self.config: dict[str, Any] = {
            "kind": "mlp",
            "widths": widths,
            "activation": activation,
            "init": init,
            "bias": bias,
        }
        self.reset_parameters(seed)

    def reset_parameters(self, seed: int | None = None) -> None:
        """Re-draw all parameters according to ``init`` (seeded when ``seed`` is given)."""
        g = torch.Generator()
        g.manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, (1,))))
        init = self.config["init"]
        gain = nn.init.calculate_gain("relu") if self.config["activation"] == "relu" else 1.0
        with torch.no_grad():
            for m in self.modules():
                if not isinstance(m, nn.Linear):
                    continue
                fan_in = m.in_features
                if init == "paper":
                    m.weight.normal_(0.0, 1.0, generator=g)
                    if m.bias is not None:
                        m.bias.normal_(0.0, 1.0, generator=g)
                    continue
                if init == "kaiming":
                    std = gain / math.sqrt(fan_in)
                    m.weight.normal_(0.0, std, generator=g)
                elif init == "xavier":
                    bound = math.sqrt(6.0 / (fan_in + m.out_features))
                    m.weight.uniform_(-bound, bound, generator=g)
                else:  # torch's default (kaiming-uniform with a=√5)
                    bound = 1.0 / math.sqrt(fan_in)
                    m.weight.uniform_(-bound, bound, generator=g)
                if m.bias is not None:
                    bound = 1.0 / math.sqrt(fan_in)
                    m.bias.uniform_(
                        -bound, bound, generator=g
                    ) if init == "default" else m.bias.zero_()

    @property
    def hidden_layers(self) -> list[str]:
        """Names of the hidden representations (``act1``, ``act2``, ...)."""
        return [n for n, _ in self.named_children() if n.startswith("act")]
