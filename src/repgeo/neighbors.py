"""Exact k-nearest-neighbour search shared by every module (faiss or a k-d tree, chunked).

All of repgeo's neighbour statistics (kNN graphs, Jaccard@k/MRR@k, TwoNN and Levina–Bickel,
one-shot nearest neighbour) go through :func:`knn`, so there is one fast, memory-bounded
implementation and never a dense ``n × n`` distance matrix.

faiss searches in float32; the distances of the neighbours it returns are then recomputed in
the input's precision (float64 stays float64), so downstream estimators see exact values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._backend import chunk_rows, iter_chunks, to_numpy
from ._validation import check_array, check_choice, check_positive_int

__all__ = ["knn"]

_METRICS = ("euclidean", "sqeuclidean", "cosine", "inner")


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - faiss-cpu is a dependency
        raise ImportError("repgeo.neighbors needs faiss-cpu: pip install faiss-cpu") from exc
    return faiss


def knn(
    X: Any,
    k: int,
    *,
    query: Any = None,
    metric: str = "euclidean",
    exclude_self: bool | None = None,
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours of each query row among the rows of ``X``.

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        The indexed points (NumPy or torch).
    k : int
        Number of neighbours to return per query.
    query : array_like of shape (n_queries, n_features), optional
        Query points. Defaults to ``X`` itself.
    metric : {"euclidean", "sqeuclidean", "cosine", "inner"}, default="euclidean"
        ``euclidean``/``sqeuclidean`` return distances in ascending order; ``cosine`` and
        ``inner`` return similarities in descending order.
    exclude_self : bool, optional
        Drop each point from its own neighbour list. Defaults to ``True`` when ``query`` is
        ``None`` and ``False`` otherwise. Duplicates of a point are kept (at distance 0).
    backend : {"auto", "faiss", "tree"}, default="auto"
        ``faiss`` is an exact brute-force search (fast in high dimension); ``tree`` is SciPy's
        exact k-d tree, which wins in low ambient dimension. ``auto`` uses the tree for Euclidean
        metrics when ``n_features <= 12`` and faiss otherwise (measured at n = 100,000:
        10-d data 2.7× faster with the tree; 20-d full-rank data 6× slower, 20-d data of
        intrinsic dimension 5 6.5× faster — pass ``backend="tree"`` for such data).

    Returns
    -------
    values : ndarray of shape (n_queries, k)
        Distances or similarities, in ``X``'s float precision (float32 or float64).
    indices : ndarray of shape (n_queries, k), int64
        Row indices into ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.neighbors import knn
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> d, i = knn(X, 1)
    >>> i.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    check_choice(metric, "metric", _METRICS)
    check_choice(backend, "backend", ("auto", "faiss", "tree"))
    X = to_numpy(check_array(X, name="X"))
    self_query = query is None
    Q = X if self_query else to_numpy(check_array(query, name="query"))
    if Q.shape[1] != X.shape[1]:
        raise ValueError(
            f"query must have the same number of features as X ({X.shape[1]}); got {Q.shape[1]}."
        )
    if exclude_self is None:
        exclude_self = self_query
    if exclude_self and not self_query:
        raise ValueError("exclude_self=True needs query=None (the query rows must be X's rows).")
    n = X.shape[0]
    max_k = n - 1 if exclude_self else n
    k = check_positive_int(k, "k", max_val=max(max_k, 1))
    if k > max_k:
        raise ValueError(f"k must be <= {max_k} for {n} indexed points; got {k}.")
    out_dtype = X.dtype if X.dtype == np.float64 else np.float32
    euclid = metric in ("euclidean", "sqeuclidean")
    if backend == "tree" and not euclid:
        raise ValueError(f"backend='tree' supports euclidean metrics only; got metric={metric!r}.")
    if backend == "tree" or (backend == "auto" and euclid and X.shape[1] <= 12):
        indices = _tree_search(X, Q, k, exclude_self=exclude_self)
    else:
        indices = _faiss_search(
            X, Q, k, metric=metric, self_query=self_query, exclude_self=exclude_self
        )
    return _exact_values(X, Q, indices, metric=metric, self_query=self_query, out_dtype=out_dtype)


def _drop_self(idx: np.ndarray, start: int, k: int) -> np.ndarray:
    """Remove each row's own index (or, if absent because of duplicates, the last entry)."""
    kk = idx.shape[1]
    own = np.arange(start, start + idx.shape[0])[:, None]
    is_self = idx == own
    drop = np.where(is_self.any(1), is_self.argmax(1), kk - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(idx.shape[0]), drop] = False
    return idx[keep].reshape(idx.shape[0], k)


def _tree_search(X: np.ndarray, Q: np.ndarray, k: int, *, exclude_self: bool) -> np.ndarray:
    from scipy.spatial import cKDTree

    tree = cKDTree(np.asarray(X, dtype=np.float64))
    kk = k + 1 if exclude_self else k
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    rows = chunk_rows(16.0 * kk + 8 * Q.shape[1], maximum=262144)
    for sl in iter_chunks(Q.shape[0], rows):
        _, idx = tree.query(np.asarray(Q[sl], dtype=np.float64), k=kk, workers=-1)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, kk)
        indices[sl] = _drop_self(idx, sl.start, k) if exclude_self else idx
    return indices


def _faiss_search(
    X: np.ndarray, Q: np.ndarray, k: int, *, metric: str, self_query: bool, exclude_self: bool
) -> np.ndarray:
    faiss = _faiss()
    n = X.shape[0]
    Xf = np.ascontiguousarray(X, dtype=np.float32)
    Qf = Xf if self_query else np.ascontiguousarray(Q, dtype=np.float32)
    if metric == "cosine":
        Xf = Xf / np.maximum(np.linalg.norm(Xf, axis=1, keepdims=True), 1e-30)
        Qf = Xf if self_query else Qf / np.maximum(np.linalg.norm(Qf, axis=1, keepdims=True), 1e-30)
    d = Xf.shape[1]
    index = faiss.IndexFlatIP(d) if metric in ("cosine", "inner") else faiss.IndexFlatL2(d)
    index.add(Xf)

    kk = k + 1 if exclude_self else k
    indices = np.empty((Q.shape[0], k), dtype=np.int64)
    # faiss' flat search holds a (rows × n) block of scores; keep it within the budget.
    rows = chunk_rows(4.0 * (n + d) + 16 * kk, maximum=65536)
    for sl in iter_chunks(Q.shape[0], rows):
        _, idx = index.search(Qf[sl], kk)
        indices[sl] = _drop_self(idx, sl.start, k) if exclude_self else idx
    return indices


def _exact_values(
    X: np.ndarray,
    Q: np.ndarray,
    indices: np.ndarray,
    *,
    metric: str,
    self_query: bool,
    out_dtype: Any,
) -> tuple[np.ndarray, np.ndarray]:
    """Recompute the neighbours' values exactly, in the input's precision, and sort them."""
    k, d = indices.shape[1], X.shape[1]
    Xe = X.astype(out_dtype, copy=False)
    Qe = Xe if self_query else Q.astype(out_dtype, copy=False)
    values = np.empty((Q.shape[0], k), dtype=out_dtype)
    rows = chunk_rows(8.0 * k * d, maximum=65536)
    for sl in iter_chunks(Q.shape[0], rows):
        nb = Xe[indices[sl]]  # (rows, k, d)
        q = Qe[sl][:, None, :]
        if metric in ("euclidean", "sqeuclidean"):
            v = ((nb - q) ** 2).sum(-1)
            values[sl] = np.sqrt(v) if metric == "euclidean" else v
        elif metric == "inner":
            values[sl] = (nb * q).sum(-1)
        else:
            nq = np.maximum(np.linalg.norm(q, axis=-1), 1e-300)
            nn = np.maximum(np.linalg.norm(nb, axis=-1), 1e-300)
            values[sl] = (nb * q).sum(-1) / (nq * nn)
    # faiss' float32 ordering can differ from the exact one on near-ties: re-sort.
    order = np.argsort(
        values if metric in ("euclidean", "sqeuclidean") else -values, axis=1, kind="stable"
    )
    values = np.take_along_axis(values, order, 1)
    indices = np.take_along_axis(indices, order, 1)
    return values, indices
