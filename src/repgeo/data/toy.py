"""Toy tasks of Zavatone-Veth et al. (2023): sinusoid boundary, XOR and noisy XOR (2-D inputs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validation import check_positive_int, check_random_state, check_scalar
from .base import Dataset, make_ids

__all__ = ["sinusoid", "xor"]


def sinusoid(
    n: int = 400,
    *,
    amplitude: float = 0.6,
    frequency: float = 7.0,
    phase: float = -1.0,
    random_state: Any = 0,
) -> Dataset:
    """Points uniform on [-1, 1]², label ``1[y > amplitude·sin(frequency·x + phase)]``.

    The default boundary is the paper's ``y = 0.6 sin(7x - 1)``.

    Examples
    --------
    >>> from repgeo.data import sinusoid
    >>> ds = sinusoid(100, random_state=0)
    >>> ds.X.shape, sorted(set(ds.y.tolist()))
    ((100, 2), [0, 1])
    """
    n = check_positive_int(n, "n")
    for name, v in (("amplitude", amplitude), ("frequency", frequency), ("phase", phase)):
        check_scalar(v, name)
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    y = (X[:, 1] > amplitude * np.sin(frequency * X[:, 0] + phase)).astype(np.int64)
    return Dataset(
        X=X,
        y=y,
        ids=make_ids("sinusoid", n),
        name="sinusoid",
        meta={"boundary": f"y = {amplitude} sin({frequency} x + {phase})", "domain": [-1, 1]},
    )


def xor(n: int | None = None, *, noise: float = 0.15, random_state: Any = 0) -> Dataset:
    """XOR: the 4 corners (±1, ±1) when ``n`` is None, else ``n`` points N(corner, noise² I).

    Label 1 when the signs of the two coordinates differ.
    """
    corners = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0])
    if n is None:
        return Dataset(X=corners, y=labels, ids=make_ids("xor", 4), name="xor", meta={"noise": 0.0})
    n = check_positive_int(n, "n")
    check_scalar(noise, "noise", min_val=0.0)
    rng = check_random_state(random_state)
    which = rng.integers(0, 4, size=n)
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return Dataset(
        X=X, y=labels[which], ids=make_ids("noisy-xor", n), name="noisy-xor", meta={"noise": noise}
    )
