r"""Exact k-nearest-neighbour search shared by every module (torch, faiss or a k-d tree, chunked).

All of repgeo's neighbour statistics (kNN graphs, Jaccard@k/MRR@k, TwoNN and Levina–Bickel,
one-shot nearest neighbour) go through :func:`knn`, so there is one fast, memory-bounded
implementation and never a dense ``n × n`` distance matrix.

How it is computed
------------------
* **torch** (any device; the only path used for CUDA tensors, which never leave the device):
  query rows in blocks sized by the memory budget of :mod:`repgeo._backend`; per block one
  float32 GEMM gives approximate scores :math:`\|x\|^2 - 2\,q\cdot x` (or :math:`-q\cdot x`)
  against every indexed row, and a two-stage selection (minimum of each group of 32 columns,
  ``topk`` of the group minima, ``topk`` inside the chosen groups: exact, and one cheap pass
  over the block instead of a full ``topk``) keeps ``k + margin`` candidates.
* **faiss** (CPU): ``IndexFlatL2``/``IndexFlatIP`` on the same float32 data gives the same
  candidates.
* **tree** (CPU, Euclidean): SciPy's k-d tree, exact in float64, fast in low dimension.

Exactness
---------
The GEMM form :math:`\|q\|^2+\|x\|^2-2q\cdot x` cancels catastrophically for near-duplicate
points and for data far from the origin. So (1) Euclidean data are centred on the mean of ``X``
(in float64) before the float32 copy is made, (2) the candidates' values are recomputed exactly
in float64 (direct differences, :math:`\sum_j (q_j-x_j)^2`), and (3) each query row is
*certified*: with :math:`u` the unit roundoff of the float32 matmul (TF32/bf16 settings are
honoured) and :math:`\gamma = 2(d+8)u`, every approximate score is within
:math:`\gamma(\|q\|+\|x\|)^2` of the exact one, so when the largest candidate score :math:`L`
satisfies :math:`L > d_{(k)} + \gamma(2\|q\|+\sqrt{d_{(k)}})^2` (:math:`d_{(k)}` the exact k-th
value) no point outside the candidates can be as close as the k-th neighbour. Rows that fail
(ties or near-ties at the k-th distance, clusters of near-duplicates) are searched again with a
float64 GEMM and a larger margin. The neighbour lists are therefore those of a float64
brute-force search, and the values are the float64 direct-difference values (returned in
``X``'s precision). Within a list, equal values are ordered by index; among points tied
(to float64 rounding) at the k-th value, which ones are returned is unspecified.

Backend choice (``backend="auto"``)
-----------------------------------
CUDA tensors use the torch path on their device. On the CPU (measurements beside
``_TREE_MAX_DIM`` and in ``docs/performance.md``): the k-d tree for Euclidean metrics in few
dimensions, the torch path otherwise. faiss is never chosen: in single-thread time it is within
noise of the torch path, and with several threads on a busy machine its OpenMP loop stalls
whenever one thread is descheduled (the torch path runs its blocks on worker threads instead,
see ``_run_blocks``); ``backend="faiss"`` remains available.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._backend import chunk_rows, cpu_workers, iter_chunks, map_blocks
from ._validation import check_array, check_choice, check_positive_int

__all__ = ["knn"]

_METRICS = ("euclidean", "sqeuclidean", "cosine", "inner")
_BACKENDS = ("auto", "torch", "faiss", "tree")
_OUTPUTS = ("numpy", "input")

# Columns per group in the two-stage selection. With 20,000 × 64 all-vs-all on one core the
# selection took 1.35 s as a full ``topk`` and ~0.6 s grouped (32 or 64 columns; 32 keeps the
# gathered block small when k is large).
_GROUP = 32
# Largest query block on the CPU: the float32 score block (rows × n) should stay near the
# cache; at n = 20,000 blocks of 128–256 rows were 25–45 % faster than 1,024.
_CPU_MAX_ROWS = 256
_GPU_MAX_ROWS = 16384
# ``auto`` on the CPU: SciPy's k-d tree for Euclidean metrics in few dimensions. Single-thread
# CPU seconds, all-vs-all k = 10, Gaussian float64 data (tree vs torch path):
#   n = 2,000:   d = 6  0.022 vs 0.034   d = 8  0.048 vs 0.036
#   n = 20,000:  d = 6  1.13 vs 1.75     d = 8  3.49 vs 1.89    d = 12  19.1 vs 1.62
#   n = 100,000: d = 4  4.3 vs 70.8      d = 6  15.8 vs 73.6    d = 8   51.0 vs 70.2
#                d = 12 > 400 (stopped) vs ~70
# so the tree up to 6 features, and up to 8 from ~60,000 points (log-interpolated crossing).
_TREE_MAX_DIM = 6
_TREE_MAX_DIM_LARGE = 8
_TREE_LARGE_N = 60000


def _faiss():
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "backend='faiss' needs faiss-cpu (pip install faiss-cpu); backend='torch' needs "
            "nothing extra."
        ) from exc
    return faiss


def knn(
    X: Any,
    k: int,
    *,
    query: Any = None,
    metric: str = "euclidean",
    exclude_self: bool | None = None,
    backend: str = "auto",
    output: str = "numpy",
) -> tuple[Any, Any]:
    """Exact k nearest neighbours of each query row among the rows of ``X``.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
        The indexed points (NumPy or torch, any device).
    k : int
        Number of neighbours to return per query.
    query : array_like or Tensor of shape (n_queries, n_features), optional
        Query points. Defaults to ``X`` itself.
    metric : {"euclidean", "sqeuclidean", "cosine", "inner"}, default="euclidean"
        ``euclidean``/``sqeuclidean`` return distances in ascending order; ``cosine`` and
        ``inner`` return similarities in descending order.
    exclude_self : bool, optional
        Drop each point from its own neighbour list. Defaults to ``True`` when ``query`` is
        ``None`` and ``False`` otherwise. Duplicates of a point are kept (at distance 0).
    backend : {"auto", "torch", "faiss", "tree"}, default="auto"
        ``torch``: blocked GEMM + ``topk`` on the data's device (the only backend that runs on
        a GPU); ``faiss``: faiss' flat index on the CPU; ``tree``: SciPy's k-d tree on the CPU
        (Euclidean metrics only; wins in low dimension). ``auto``: ``torch`` for CUDA tensors;
        on the CPU the tree for Euclidean metrics when ``n_features <= 6`` (or ``<= 8`` with
        at least 60,000 points) and ``torch`` otherwise (measured: ``docs/performance.md``). All backends return the same exact
        neighbours (see the module docstring); a CUDA tensor given to ``faiss``/``tree`` is
        copied to the host.
    output : {"numpy", "input"}, default="numpy"
        ``numpy``: NumPy arrays on the host, whatever the input. ``input``: the kind of ``X``
        — tensors on ``X``'s device when ``X`` is a tensor (so a CUDA search never leaves the
        device), NumPy arrays otherwise.

    Returns
    -------
    values : ndarray or Tensor of shape (n_queries, k)
        Distances or similarities, in ``X``'s float precision (float64 stays float64, every
        other dtype gives float32), computed exactly (float64 direct differences).
    indices : ndarray or Tensor of shape (n_queries, k), int64
        Row indices into ``X``; equal values are ordered by index.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.neighbors import knn
    >>> X = np.array([[0.0], [1.0], [3.0]])
    >>> d, i = knn(X, 1)
    >>> i.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])

    A large common offset does not cost precision (the search centres the data):

    >>> d, i = knn(X + 1e8, 1, backend="torch")
    >>> i.ravel().tolist(), d.ravel().tolist()
    ([1, 0, 1], [1.0, 1.0, 2.0])
    """
    check_choice(metric, "metric", _METRICS)
    check_choice(backend, "backend", _BACKENDS)
    check_choice(output, "output", _OUTPUTS)
    X = check_array(X, name="X")
    self_query = query is None
    Q = X if self_query else check_array(query, name="query")
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
    euclid = metric in ("euclidean", "sqeuclidean")
    if backend == "tree" and not euclid:
        raise ValueError(f"backend='tree' supports euclidean metrics only; got metric={metric!r}.")

    x_is_tensor = isinstance(X, torch.Tensor)
    out_f64 = (X.dtype == torch.float64) if x_is_tensor else (X.dtype == np.float64)
    device = _search_device(X, Q)
    if backend == "auto":
        backend = _choose_backend(X.shape[0], Q.shape[0], X.shape[1], metric, device)
    if backend != "torch":
        device = torch.device("cpu")
    Xt = _as_tensor(X, device)
    Qt = Xt if self_query else _as_tensor(Q, device)
    own = torch.arange(n, device=device) if exclude_self else None

    if backend == "torch":
        values, indices = _search_torch(
            Xt, Qt, k, metric=metric, own=own, own_is_range=own is not None
        )
    else:
        finder = _tree_candidates if backend == "tree" else _faiss_candidates
        values, indices = _search_host(finder, Xt, Qt, k, metric=metric, own=own)
    if metric == "euclidean":
        values = values.sqrt()
    values = values.to(torch.float64 if out_f64 else torch.float32)

    if output == "input" and x_is_tensor:
        return values.to(X.device), indices.to(X.device)
    return values.cpu().numpy(), indices.cpu().numpy()


# ----------------------------------------------------------------------------- plumbing
def _search_device(X: Any, Q: Any) -> torch.device:
    """Where the torch path runs: X's device if X is a tensor, else the query's, else the CPU."""
    for a in (X, Q):
        if isinstance(a, torch.Tensor):
            return a.device
    return torch.device("cpu")


def _as_tensor(A: Any, device: torch.device) -> torch.Tensor:
    """A float32/float64 tensor on ``device`` (NumPy memory is not copied on the CPU).

    Half-precision tensors become float32 (exactly), the precision the values are returned in.
    """
    t = A.detach() if isinstance(A, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(A))
    if t.dtype not in (torch.float32, torch.float64):
        t = t.to(torch.float32)
    return t.to(device)


def _choose_backend(n: int, m: int, d: int, metric: str, device: torch.device) -> str:
    """``auto``: torch on accelerators; on the CPU the k-d tree in low dimension, else torch."""
    if device.type != "cpu":
        return "torch"
    if metric in ("euclidean", "sqeuclidean") and (
        d <= _TREE_MAX_DIM or (d <= _TREE_MAX_DIM_LARGE and n >= _TREE_LARGE_N)
    ):
        return "tree"
    return "torch"


def _unit_roundoff(dtype: torch.dtype, device: torch.device) -> float:
    """Unit roundoff of a matmul in ``dtype`` under the current TF32/bf16 settings."""
    if dtype == torch.float64:
        return 2.0**-53
    u = {"highest": 2.0**-24, "high": 2.0**-11}.get(torch.get_float32_matmul_precision(), 2.0**-8)
    if device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32:
        u = max(u, 2.0**-11)
    return u


def _rows_per_block(bytes_per_row: float, device: torch.device) -> int:
    cap = _CPU_MAX_ROWS if device.type == "cpu" else _GPU_MAX_ROWS
    return chunk_rows(bytes_per_row, maximum=cap)


def _run_blocks(block: Any, slices: list[slice], workers: int) -> None:
    """Run ``block(sl)`` for every slice; on the CPU, ``workers`` threads of one-thread torch.

    Many small multi-threaded ops (one GEMM, one reduction, two ``topk`` per block) pay an
    OpenMP barrier each, and on a loaded machine a descheduled thread stalls every barrier:
    20,000 × 64 took 15–20 s with 2 intra-op threads on 2 busy cores but 7 s with two workers
    of one thread each (single-thread CPU time ≈ 2.8 s either way). Blocks write disjoint rows,
    and each block's result does not depend on the thread count, so the output is the same.
    """
    for _ in map_blocks(block, slices, workers):
        pass


# ----------------------------------------------------------------------------- search space
class _Space:
    """The indexed points transformed for the approximate (GEMM) scores.

    Euclidean: centred on X's mean (float64), cast to ``dtype``, padded to whole groups with
    columns whose offset is +inf; ``offset`` holds ‖x_c‖². Inner/cosine: the (normalised) rows,
    offset 0. Scores are ``offset - scale * Q @ Xs.T`` (smaller is better for every metric).
    """

    def __init__(self, X: torch.Tensor, metric: str, dtype: torch.dtype, group: int):
        n, d = X.shape
        self.metric, self.dtype, self.group = metric, dtype, group
        self.euclid = metric in ("euclidean", "sqeuclidean")
        self.scale = 2.0 if self.euclid else 1.0
        n_pad = -(-n // group) * group
        self.mu = X.mean(0, dtype=torch.float64) if self.euclid else None
        self.Xs = torch.zeros((n_pad, d), dtype=dtype, device=X.device)
        rows = chunk_rows(8.0 * d * 2, maximum=1 << 20)
        for sl in iter_chunks(n, rows):
            self.Xs[sl] = self.transform(X[sl])
        self.offset = torch.full((n_pad,), math.inf, dtype=dtype, device=X.device)
        if self.euclid:
            self.offset[:n] = self.Xs[:n].square().sum(1)
        else:
            self.offset[:n] = 0.0
        # max ‖x‖ over the indexed rows bounds the error of an inner-product score
        self.max_norm = 1.0 if metric == "cosine" else 0.0
        if metric == "inner":
            norms = torch.linalg.vector_norm(self.Xs[:n].to(torch.float64), dim=1)
            self.max_norm = float(norms.max())

    def transform(self, A: torch.Tensor) -> torch.Tensor:
        A = A.to(torch.float64)
        if self.euclid:
            A = A - self.mu
        elif self.metric == "cosine":
            A = A / torch.linalg.vector_norm(A, dim=1, keepdim=True).clamp_min(1e-300)
        return A.to(self.dtype)

    def query_norms(self, Q: torch.Tensor) -> torch.Tensor:
        """‖q‖ (centred for Euclidean metrics) in float64, for the error bound."""
        if self.metric == "cosine":
            return torch.ones(Q.shape[0], dtype=torch.float64, device=Q.device)
        A = Q.to(torch.float64)
        if self.euclid:
            A = A - self.mu
        return torch.linalg.vector_norm(A, dim=1)


def _select(D: torch.Tensor, kk: int, group: int | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``kk`` smallest entries of each row of ``D`` (unsorted): values and column indices.

    With ``group``, each row is cut into groups of ``group`` columns; the kk groups with the
    smallest minima contain the kk smallest entries (each of the kk smallest lies in a group
    whose minimum is at most the kk-th smallest group minimum), so ``topk`` runs on n/group
    minima and kk·group gathered entries instead of n.
    """
    if group is None:
        return torch.topk(D, kk, dim=1, largest=False, sorted=False)
    r, n_pad = D.shape
    Dg = D.view(r, n_pad // group, group)
    gi = torch.topk(Dg.amin(-1), kk, dim=1, largest=False, sorted=False).indices
    sub = torch.gather(Dg, 1, gi.unsqueeze(-1).expand(r, kk, group)).reshape(r, kk * group)
    v, j = torch.topk(sub, kk, dim=1, largest=False, sorted=False)
    return v, gi.gather(1, torch.div(j, group, rounding_mode="floor")) * group + j % group


def _exact(
    X: torch.Tensor, Q: torch.Tensor, idx: torch.Tensor, metric: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 values of the candidates ``idx`` (rows × c), sorted by (value, index).

    Ascending for Euclidean metrics (squared distances), descending for similarities.
    """
    r, c = idx.shape
    nb = X.index_select(0, idx.reshape(-1)).view(r, c, X.shape[1]).to(torch.float64)
    q = Q.to(torch.float64).unsqueeze(1)
    if metric in ("euclidean", "sqeuclidean"):
        v = nb.sub_(q).square_().sum(-1)  # in place: this gather is the re-rank's main cost
        key = v
    else:
        v = (nb * q).sum(-1)
        if metric == "cosine":
            v = v / (
                torch.linalg.vector_norm(nb, dim=-1).clamp_min(1e-300)
                * torch.linalg.vector_norm(q, dim=-1).clamp_min(1e-300)
            )
        key = -v
    by_index = torch.argsort(idx, dim=1)
    idx, v, key = idx.gather(1, by_index), v.gather(1, by_index), key.gather(1, by_index)
    order = torch.sort(key, dim=1, stable=True).indices
    return v.gather(1, order), idx.gather(1, order)


def _certified(
    worst: torch.Tensor,
    kth: torch.Tensor,
    qnorm: torch.Tensor,
    *,
    metric: str,
    max_norm: float,
    gamma: float,
) -> torch.Tensor:
    """Rows where no point left out can match the exact k-th value (see the module docstring).

    ``worst`` is the worst approximate value among the candidates (the largest squared
    distance, or the smallest similarity), in float64: every point left out is at least that
    bad *approximately*; the error bound says whether it is so exactly.
    """
    if metric in ("euclidean", "sqeuclidean"):
        S = 2.0 * qnorm + kth.clamp_min(0.0).sqrt()
        ok = worst > kth + gamma * S * S
    else:
        ok = worst + gamma * qnorm * max_norm < kth
    return ok & torch.isfinite(worst)


# ----------------------------------------------------------------------------- torch search
def _margin(k: int) -> int:
    return max(6, k // 4)


def _search_torch(
    X: torch.Tensor,
    Q: torch.Tensor,
    k: int,
    *,
    metric: str,
    own: torch.Tensor | None,
    own_is_range: bool = False,
    dtype: torch.dtype | None = None,
    margin: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact kNN on X's device: float32 candidates, exact re-rank, float64 retry of failures.

    ``own[i]`` (optional) is the row of X that query i must not return (self-exclusion);
    ``own_is_range`` says that ``own`` is ``arange(n)`` (queries are X's rows in order).
    Returns float64 values (squared distances for Euclidean metrics) and int64 indices.
    """
    device = X.device
    if dtype is None:
        # reduced-precision matmuls (TF32/bf16) cannot certify: go straight to float64
        fast = _unit_roundoff(torch.float32, device) <= 2.0**-20
        dtype = torch.float32 if fast else torch.float64
    n, d = X.shape
    m = Q.shape[0]
    n_avail = n - (1 if own is not None else 0)
    kk = min(k + (_margin(k) if margin is None else margin), n_avail)
    space = _Space(X, metric, dtype, _GROUP)
    n_pad = space.Xs.shape[0]
    group = _GROUP if n_pad // _GROUP >= 4 * kk else None
    esize = torch.finfo(dtype).bits // 8
    gathered = kk * _GROUP * 12 if group else 0
    bytes_per_row = esize * n_pad * 1.1 + gathered + 8 * 3 * kk * d + 8 * d
    workers = cpu_workers(device, -(-m // _CPU_MAX_ROWS))
    rows = _rows_per_block(bytes_per_row * workers, device)
    gamma = 2.0 * (d + 8) * _unit_roundoff(dtype, device)

    values = torch.empty((m, k), dtype=torch.float64, device=device)
    indices = torch.empty((m, k), dtype=torch.int64, device=device)
    failed = torch.zeros(m, dtype=torch.bool, device=device)

    def block(sl: slice) -> None:
        Qb = Q[sl]
        r = Qb.shape[0]
        D = torch.addmm(space.offset, space.transform(Qb), space.Xs.T, alpha=-space.scale)
        if own_is_range:  # query i is X's row sl.start + i
            D.diagonal(offset=sl.start).fill_(math.inf)
        elif own is not None:
            D[torch.arange(r, device=device), own[sl]] = math.inf
        approx, cand = _select(D, kk, group)
        del D
        cand = cand.clamp_max(n - 1)  # only reachable after overflow; such rows fail below
        v, i = _exact(X, Qb, cand, metric)
        values[sl], indices[sl] = v[:, :k], i[:, :k]
        if kk < n_avail:
            qnorm = space.query_norms(Qb)
            # approximate scores are ‖x_c‖² - 2q·x (add ‖q_c‖²) or -q·x
            worst = approx.to(torch.float64).amax(1)
            worst = worst + qnorm.square() if space.euclid else -worst
            ok = _certified(
                worst, v[:, k - 1], qnorm, metric=metric, max_norm=space.max_norm, gamma=gamma
            )
            failed[sl] = ~ok

    _run_blocks(block, list(iter_chunks(m, rows)), workers)
    if dtype != torch.float64 and bool(failed.any()):
        rows_f = failed.nonzero().squeeze(1)
        v, i = _search_torch(
            X,
            Q[rows_f],
            k,
            metric=metric,
            own=None if own is None else own[rows_f],
            dtype=torch.float64,
            margin=max(2 * kk - k, 32),
        )
        values[rows_f], indices[rows_f] = v, i
    return values, indices


# ----------------------------------------------------------------------------- CPU backends
def _search_host(
    finder: Any,
    X: torch.Tensor,
    Q: torch.Tensor,
    k: int,
    *,
    metric: str,
    own: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """faiss/tree candidates, exact re-rank, float64 torch retry of uncertified rows."""
    m, d = Q.shape
    n_avail = X.shape[0] - (1 if own is not None else 0)
    exact_finder = finder is _tree_candidates
    kk = k if exact_finder else min(k + _margin(k), n_avail)
    space = None if exact_finder else _Space(X, metric, torch.float32, 1)
    gamma = 2.0 * (d + 8) * _unit_roundoff(torch.float32, torch.device("cpu"))
    values = torch.empty((m, k), dtype=torch.float64)
    indices = torch.empty((m, k), dtype=torch.int64)
    failed = torch.zeros(m, dtype=torch.bool)
    for sl, approx, cand in finder(X, Q, kk, space=space, exclude=own is not None):
        Qb = Q[sl]
        v, i = _exact(X, Qb, cand, metric)
        values[sl], indices[sl] = v[:, :k], i[:, :k]
        if not exact_finder and kk < n_avail:
            qnorm = space.query_norms(Qb)
            failed[sl] = ~_certified(
                approx, v[:, k - 1], qnorm, metric=metric, max_norm=space.max_norm, gamma=gamma
            )
    if bool(failed.any()):
        rows_f = failed.nonzero().squeeze(1)
        v, i = _search_torch(
            X,
            Q[rows_f],
            k,
            metric=metric,
            own=None if own is None else own[rows_f],
            dtype=torch.float64,
            margin=max(2 * kk - k, 32),
        )
        values[rows_f], indices[rows_f] = v, i
    return values, indices


def _drop_self(idx: np.ndarray, start: int, k: int) -> np.ndarray:
    """Remove each row's own index (or, if absent because of duplicates, the last entry)."""
    own = np.arange(start, start + idx.shape[0])[:, None]
    is_self = idx == own
    drop = np.where(is_self.any(1), is_self.argmax(1), idx.shape[1] - 1)
    keep = np.ones_like(idx, dtype=bool)
    keep[np.arange(idx.shape[0]), drop] = False
    return idx[keep].reshape(idx.shape[0], k)


def _tree_candidates(X: torch.Tensor, Q: torch.Tensor, k: int, *, space: Any, exclude: bool):
    """SciPy k-d tree (exact in float64): yields (rows, None, neighbour indices)."""
    from scipy.spatial import cKDTree

    Xn = X.numpy().astype(np.float64, copy=False)
    Qn = Q.numpy().astype(np.float64, copy=False)
    tree = cKDTree(Xn)
    kk = k + 1 if exclude else k
    rows = chunk_rows(16.0 * kk + 8 * Q.shape[1], maximum=262144)
    for sl in iter_chunks(Q.shape[0], rows):
        _, idx = tree.query(Qn[sl], k=kk, workers=-1)
        idx = np.asarray(idx, dtype=np.int64).reshape(-1, kk)
        if exclude:
            idx = _drop_self(idx, sl.start, k)
        yield sl, None, torch.from_numpy(idx)


def _faiss_candidates(X: torch.Tensor, Q: torch.Tensor, kk: int, *, space: _Space, exclude: bool):
    """faiss flat search on the centred/normalised float32 data: yields (rows, worst, indices)."""
    faiss = _faiss()
    n, d = X.shape
    Xf = space.Xs[:n].numpy()
    index = faiss.IndexFlatL2(d) if space.euclid else faiss.IndexFlatIP(d)
    index.add(Xf)
    ks = kk + 1 if exclude else kk
    # faiss' flat search holds a (rows × n) block of scores; keep it within the budget.
    rows = chunk_rows(4.0 * (n + d) + 16 * ks, maximum=65536)
    for sl in iter_chunks(Q.shape[0], rows):
        Qb = space.transform(Q[sl]).numpy()
        score, idx = index.search(np.ascontiguousarray(Qb), ks)
        # the worst returned value (squared distance or similarity): every point left out,
        # including a dropped last entry, is approximately at least that bad
        score = torch.from_numpy(score).to(torch.float64)
        worst = score.amax(1) if space.euclid else score.amin(1)
        idx = torch.from_numpy(idx)
        if exclude:
            idx = torch.from_numpy(_drop_self(idx.numpy(), sl.start, kk))
        yield sl, worst, idx
