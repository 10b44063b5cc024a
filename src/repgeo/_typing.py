"""Type aliases for public signatures (what a user may pass), shared by every layer.

Inputs are array-likes: NumPy arrays, torch tensors (any device), or nested sequences of numbers;
outputs keep the input's kind, dtype and device (see :mod:`repgeo._backend`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import torch

__all__ = ["ArrayLike", "Device", "Labels", "RandomState"]

#: data matrices and vectors: ndarray, Tensor, or (nested) sequences of numbers
ArrayLike: TypeAlias = np.ndarray | torch.Tensor | Sequence[float] | Sequence[Sequence[float]]
#: integer class labels (integer-valued floats are accepted as labels)
Labels: TypeAlias = np.ndarray | torch.Tensor | Sequence[int]
#: where to compute: "auto", "cpu", "cuda", "cuda:1" or a torch.device
Device: TypeAlias = str | torch.device
#: seeds: None, an int, or a NumPy Generator
RandomState: TypeAlias = int | np.random.Generator | None
