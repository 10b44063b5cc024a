"""torchvision's ResNet-18/34 architecture, rebuilt without torchvision.

The seed paper (Zavatone-Veth et al. 2023) measures the pullback geometry of ResNet-34 on
CIFAR-sized inputs; this module gives the same layout (7×7/2 stem, max-pool, ``layer1`` …
``layer4`` of BasicBlocks, global average pooling, ``fc``) and torchvision's initialisation, with
any activation (the paper's ResNet-34 used GELU) and optional widths, so geometry studies and
benchmarks can run where torchvision is not installed. Module names match torchvision's, so
layer names (``"layer2"``, ``"avgpool"``) carry over to a real torchvision model.

References
----------
He, Zhang, Ren & Sun, "Deep Residual Learning for Image Recognition", CVPR 2016.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._validation import check_positive_int

__all__ = ["BasicBlock", "ResNet"]

_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: conv3×3-BN-act-conv3×3-BN, identity or 1×1-conv shortcut, act."""

    def __init__(self, inplanes: int, planes: int, stride: int, act: type[nn.Module]) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = act()
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet layout with BasicBlocks.

    Parameters
    ----------
    depth : {18, 34}, default=18
        Blocks per stage ``(2, 2, 2, 2)`` or ``(3, 4, 6, 3)``; ignored when ``blocks`` is given.
    blocks : sequence of 4 int, optional
        Blocks per stage.
    widths : sequence of 4 int, default=(64, 128, 256, 512)
        Channels per stage (narrower ResNets for fast tests).
    act : nn.Module class, default=nn.ReLU
    n_classes : int, default=10

    Examples
    --------
    >>> import torch
    >>> from repgeo.models import ResNet
    >>> net = ResNet(18)
    >>> sum(p.numel() for p in net.parameters())  # torchvision's resnet18(num_classes=10)
    11181642
    >>> net.eval()(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        depth: int = 18,
        *,
        blocks: Sequence[int] | None = None,
        widths: Sequence[int] = (64, 128, 256, 512),
        act: type[nn.Module] = nn.ReLU,
        n_classes: int = 10,
    ) -> None:
        super().__init__()
        if blocks is None:
            if depth not in _DEPTHS:
                raise ValueError(f"depth must be 18 or 34 (or pass blocks=); got {depth!r}.")
            blocks = _DEPTHS[depth]
        blocks, widths = tuple(blocks), tuple(widths)
        if len(blocks) != 4 or len(widths) != 4:
            raise ValueError(
                f"blocks and widths need 4 entries (one per stage); got {blocks} and {widths}."
            )
        for b in blocks:
            check_positive_int(b, "blocks")
        for w in widths:
            check_positive_int(w, "widths")
        n_classes = check_positive_int(n_classes, "n_classes")
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = act()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes = widths[0]
        for i, (planes, n_blocks) in enumerate(zip(widths, blocks)):
            layer = []
            for j in range(n_blocks):
                layer.append(BasicBlock(inplanes, planes, 2 if (j == 0 and i > 0) else 1, act))
                inplanes = planes
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[-1], n_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
