"""Anchor selection for relative representations and alignment.

Anchors are chosen **once**, as sample indices (and ids) of a dataset, and then embedded by
every encoder: that is what makes them parallel across spaces. Methods:

* ``"uniform"`` — a seeded uniform sample without replacement;
* ``"stratified"`` — a seeded shuffle, then round-robin over the classes (one sample of each
  class in turn) so every class is represented as evenly as possible;
* ``"fps"`` — farthest-point sampling in ``X`` (greedy max-min Euclidean distance) from a seeded
  start: spreads anchors over the data, including its outskirts;
* ``"kmeans"`` — k-means centroids (seeded), each snapped to its nearest *real* sample (distinct
  samples; a centroid whose nearest sample is taken gets its next nearest);
* ``"fixed"`` — the samples whose ids are given.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_labels,
    check_positive_int,
    check_random_state,
)
from ..neighbors import knn

__all__ = ["ANCHOR_METHODS", "AnchorSelector", "select_anchors"]

ANCHOR_METHODS = ("uniform", "stratified", "fps", "kmeans", "fixed")


def _stratified(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(len(y))
    queues = [order[y[order] == c].tolist() for c in np.unique(y)]
    out: list[int] = []
    depth = 0
    while len(out) < k:
        for q in queues:
            if depth < len(q):
                out.append(q[depth])
                if len(out) == k:
                    break
        depth += 1
    return np.asarray(out, dtype=np.int64)


def _fps(X: Any, k: int, rng: np.random.Generator) -> np.ndarray:
    Xt, _ = to_torch(X)
    n = Xt.shape[0]
    out = np.empty(k, dtype=np.int64)
    out[0] = int(rng.integers(n))
    rows = chunk_rows(Xt.element_size() * (Xt.shape[1] + 2), maximum=65536)

    def sqdist_to(i: int) -> torch.Tensor:
        c = Xt[i]
        d = torch.empty(n, dtype=Xt.dtype, device=Xt.device)
        for sl in iter_chunks(n, rows):
            d[sl] = ((Xt[sl] - c) ** 2).sum(1)
        return d

    mind = sqdist_to(int(out[0]))
    for j in range(1, k):
        nxt = int(torch.argmax(mind))
        out[j] = nxt
        mind = torch.minimum(mind, sqdist_to(nxt))
    return out


def _kmeans(X: Any, k: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.cluster import KMeans

    Xn = np.asarray(X.detach().cpu().numpy() if isinstance(X, torch.Tensor) else X)
    km = KMeans(n_clusters=k, n_init=1, random_state=int(rng.integers(2**31 - 1)))
    km.fit(Xn)
    centroids = km.cluster_centers_.astype(Xn.dtype, copy=False)
    m = min(Xn.shape[0], 32)
    _, nbrs = knn(Xn, m, query=centroids)
    used: set[int] = set()
    out = np.empty(k, dtype=np.int64)
    for j in range(k):
        choice = next((int(i) for i in nbrs[j] if int(i) not in used), None)
        if choice is None:  # all m nearest taken: nearest free sample by brute force
            d = ((Xn - centroids[j]) ** 2).sum(1)
            d[list(used)] = np.inf
            choice = int(np.argmin(d))
        used.add(choice)
        out[j] = choice
    return out


def select_anchors(
    X: Any,
    n_anchors: int,
    *,
    method: str = "uniform",
    y: Any = None,
    ids: Any = None,
    anchor_ids: Any = None,
    random_state: Any = 0,
) -> np.ndarray:
    """Indices of anchors chosen among the rows of ``X``.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
        The candidate samples (for ``"fps"`` and ``"kmeans"``, in the space where distances are
        measured: inputs or one reference embedding).
    n_anchors : int
        Number of anchors ``k`` (``<= n_samples``). Ignored for ``"fixed"``.
    method : {"uniform", "stratified", "fps", "kmeans", "fixed"}, default="uniform"
    y : array_like of shape (n_samples,), optional
        Class labels (required for ``"stratified"``).
    ids : array_like of shape (n_samples,), optional
        Sample ids (required for ``"fixed"``).
    anchor_ids : array_like, optional
        The ids to select for ``"fixed"``, in the order wanted.
    random_state : int, Generator or None, default=0

    Returns
    -------
    indices : ndarray of shape (n_anchors,), int64
        Distinct row indices into ``X``. Use ``ids[indices]`` to keep the anchors' ids.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import select_anchors
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> y = np.array([0, 0, 0, 0, 0, 1, 1, 1, 2, 2])
    >>> idx = select_anchors(X, 3, method="stratified", y=y, random_state=0)
    >>> sorted(y[idx].tolist())
    [0, 1, 2]
    >>> select_anchors(X, 3, method="fps", random_state=0).tolist()
    [8, 0, 4]
    >>> ids = np.array([f"s{i}" for i in range(10)])
    >>> select_anchors(X, 0, method="fixed", ids=ids, anchor_ids=["s3", "s1"]).tolist()
    [3, 1]
    """
    check_choice(method, "method", ANCHOR_METHODS)
    X = check_array(X, name="X")
    n = X.shape[0]
    rng = check_random_state(random_state)
    if method == "fixed":
        if ids is None or anchor_ids is None:
            raise ValueError(
                "method='fixed' needs both ids (of the samples) and anchor_ids (to select)."
            )
        ids_arr = np.asarray(ids).astype(str)
        if ids_arr.shape != (n,):
            raise ValueError(f"ids must have shape ({n},) (one per row of X); got {ids_arr.shape}.")
        want = np.asarray(anchor_ids).astype(str)
        if want.ndim != 1 or want.size == 0:
            raise ValueError(
                f"anchor_ids must be a non-empty 1-D list of ids; got shape {want.shape}."
            )
        if len(np.unique(want)) != want.size:
            raise ValueError("anchor_ids must be unique; got repeated ids.")
        pos = {s: i for i, s in enumerate(ids_arr)}
        missing = [s for s in want if s not in pos]
        if missing:
            raise ValueError(f"{len(missing)} anchor id(s) are not among ids, e.g. {missing[:3]}.")
        return np.array([pos[s] for s in want], dtype=np.int64)
    k = check_positive_int(n_anchors, "n_anchors")
    if k > n:
        raise ValueError(f"n_anchors must be <= the number of samples ({n}); got {k}.")
    if method == "uniform":
        return np.sort(rng.choice(n, size=k, replace=False)).astype(np.int64)
    if method == "stratified":
        if y is None:
            raise ValueError("method='stratified' needs class labels y.")
        return _stratified(check_labels(y, n_samples=n), k, rng)
    if method == "fps":
        return _fps(X, k, rng)
    return _kmeans(X, k, rng)


class AnchorSelector(BaseEstimator):
    """Choose anchors once and keep their indices and ids (thin wrapper of :func:`select_anchors`).

    Parameters
    ----------
    n_anchors : int
        Required (ignored by ``method="fixed"``, which takes as many anchors as ``anchor_ids``).
    method : {"uniform", "stratified", "fps", "kmeans", "fixed"}, default="uniform"
    anchor_ids : array_like, optional
        Ids to select with ``method="fixed"``.
    random_state : int, Generator or None, default=0

    Attributes
    ----------
    indices_ : ndarray of shape (n_anchors,)
    ids_ : ndarray of shape (n_anchors,) or None
        The anchors' sample ids when ``ids`` were given to :meth:`fit`.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import AnchorSelector
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> sel = AnchorSelector(n_anchors=5, method="kmeans").fit(X, ids=[f"x{i}" for i in range(50)])
    >>> len(set(sel.indices_.tolist())), sel.ids_.shape
    (5, (5,))
    """

    def __init__(
        self,
        *,
        n_anchors: int,
        method: str = "uniform",
        anchor_ids: Any = None,
        random_state: Any = 0,
    ) -> None:
        self.n_anchors = n_anchors
        self.method = method
        self.anchor_ids = anchor_ids
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None, *, ids: Any = None) -> AnchorSelector:
        """Select anchors among the rows of ``X`` (``y`` for stratified, ``ids`` to record).

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)
        y : array_like of shape (n_samples,), optional
            Class labels (required for ``method="stratified"``).
        ids : array_like of shape (n_samples,), optional
            Sample ids (required for ``method="fixed"``).

        Returns
        -------
        self
        """
        X = check_array(X, name="X")
        self.indices_ = select_anchors(
            X,
            self.n_anchors,
            method=self.method,
            y=y,
            ids=ids,
            anchor_ids=self.anchor_ids,
            random_state=self.random_state,
        )
        self.ids_ = None if ids is None else np.asarray(ids)[self.indices_]
        self.n_features_in_ = int(X.shape[1])
        return self

    def take(self, Z: Any) -> Any:
        """The anchor rows of ``Z`` (an embedding of the same samples, row-aligned with ``X``)."""
        check_is_fitted(self)
        return Z[torch.as_tensor(self.indices_) if isinstance(Z, torch.Tensor) else self.indices_]
