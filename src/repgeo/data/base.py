"""The :class:`Dataset` container: inputs, labels, stable sample ids and metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_array, check_consistent_length, check_labels, check_random_state

__all__ = ["Dataset", "make_ids"]


def make_ids(prefix: str, n: int, *, start: int = 0) -> np.ndarray:
    """Stable string ids ``"<prefix>/<index>"`` (zero-padded) for ``n`` samples."""
    width = max(5, len(str(start + n)))
    return np.array([f"{prefix}/{i:0{width}d}" for i in range(start, start + n)])


@dataclass
class Dataset:
    """Inputs with labels and stable sample ids.

    Attributes
    ----------
    X : ndarray of shape (n_samples, n_features), float32
        Inputs, flattened (images keep their shape in ``meta["input_shape"]``). Values beyond
        float32's range are refused (:class:`ValueError`) rather than turned into inf.
    y : ndarray of shape (n_samples,), int64, or None
        Class labels.
    ids : ndarray of shape (n_samples,), str
        Stable sample ids: the same sample keeps its id across subsets, splits and runs, so
        anchors and pairs can be tracked between spaces.
    name : str
        Dataset name.
    meta : dict
        Free-form description (generator parameters, class names, input shape ...).
    extra : dict of str -> ndarray
        Per-sample arrays aligned with ``X`` (e.g. ``gamma`` and ``theta`` for class manifolds).
    """

    X: np.ndarray
    y: np.ndarray | None
    ids: np.ndarray
    name: str = "dataset"
    meta: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(check_array(self.X, name=f"{self.name}.X"))
        if X.dtype != np.float32 and X.size:
            # validated as finite in its own dtype; float32 must hold it too (1e300 -> inf)
            biggest = float(np.max(np.abs(X)))
            if biggest > float(np.finfo(np.float32).max):
                raise ValueError(
                    f"{self.name}.X holds values up to {biggest:.3g} in magnitude, beyond float32 "
                    f"(max {float(np.finfo(np.float32).max):.3g}), the dtype a Dataset stores; "
                    "rescale the inputs."
                )
        self.X = X.astype(np.float32, copy=False)
        n = self.X.shape[0]
        if self.y is not None:
            self.y = check_labels(self.y, n_samples=n, name=f"{self.name}.y")
        self.ids = np.asarray(self.ids).astype(str)
        check_consistent_length(self.X, self.ids, names=["X", "ids"])
        if len(np.unique(self.ids)) != n:
            raise ValueError(f"{self.name}: sample ids must be unique.")
        for k, v in self.extra.items():
            v = np.asarray(v)
            if v.shape[0] != n:
                raise ValueError(
                    f"{self.name}: extra array {k!r} has {v.shape[0]} rows; expected {n}."
                )
            self.extra[k] = v

    def __len__(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def classes(self) -> np.ndarray:
        if self.y is None:
            raise ValueError(f"{self.name} has no labels.")
        return np.unique(self.y)

    def subset(self, index: Any, *, name: str | None = None) -> Dataset:
        """Rows selected by a boolean mask or integer index; ids and extras follow."""
        idx = np.asarray(index)
        if idx.dtype == bool and idx.shape != (len(self),):
            raise ValueError(f"boolean mask must have shape ({len(self)},); got {idx.shape}.")
        return Dataset(
            X=self.X[idx],
            y=None if self.y is None else self.y[idx],
            ids=self.ids[idx],
            name=name or self.name,
            meta=dict(self.meta),
            extra={k: v[idx] for k, v in self.extra.items()},
        )

    def select_classes(self, classes: Any, *, name: str | None = None) -> Dataset:
        """The samples whose label is in ``classes``."""
        if self.y is None:
            raise ValueError(f"{self.name} has no labels to select classes by.")
        return self.subset(np.isin(self.y, np.asarray(classes)), name=name)

    def train_test_split(
        self, *, test_fraction: float = 0.25, random_state: Any = 0, stratify: bool = True
    ) -> tuple[Dataset, Dataset]:
        """Seeded split (stratified by label when labels exist)."""
        from sklearn.model_selection import train_test_split

        if not 0.0 < test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in (0, 1); got {test_fraction}.")
        idx = np.arange(len(self))
        seed = int(check_random_state(random_state).integers(2**31))
        tr, te = train_test_split(
            idx,
            test_size=test_fraction,
            random_state=seed,
            stratify=self.y if (stratify and self.y is not None) else None,
        )
        return self.subset(np.sort(tr)), self.subset(np.sort(te))

    def arrays(self) -> Mapping[str, np.ndarray]:
        """All arrays (for saving to ``.npz``)."""
        out = {"X": self.X, "ids": self.ids}
        if self.y is not None:
            out["y"] = self.y
        out.update({f"extra_{k}": v for k, v in self.extra.items()})
        return out
