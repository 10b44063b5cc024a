"""How similar are two latent spaces? Neighbourhood overlap, cosine, CKA and HSIC.

Retrieval-style measures between **paired** spaces (row i of both is the same sample): the
source ``X`` must already be comparable with the target ``Y`` (same dimension — e.g. both relative
representations with parallel anchors, or ``X`` aligned into ``Y``'s space).

* **Jaccard@k** — for item i, N_Y(y_i) = the k nearest (cosine) neighbours of y_i among the
  rows of Y (y_i itself included, as in the target index), and N_Y(x_i) = the k nearest
  neighbours of x_i searched in the same target index; mean of |N ∩ N'| / |N ∪ N'| over items.
* **MRR@k** — the rank r_i of item i itself among the k neighbours of x_i in the target index;
  mean of 1/r_i, counting 0 when i is not among them.
* **cosine** — mean over items of cos(x_i, y_i).

All neighbour searches go through :func:`repgeo.neighbors.knn` (exact, faiss, chunked): no
n × n matrix. Identical spaces give Jaccard = MRR = cosine = 1; independent random spaces give
Jaccard ≈ k/n and MRR ≈ H_k/n (chance).

Kernel alignment (the spaces may have different dimensions):

* **linear CKA** = ‖Y_cᵀX_c‖²_F / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F), computed in feature space
  (O(n d²) time, O(d²) memory, chunked); for n ≤ max(d_x, d_y) (and n ≤ 4096) the equal n × n
  Gram form is used because it is cheaper;
* **RBF CKA** with k(x, x') = exp(−‖x − x'‖² / (2σ²)), σ by the median heuristic **per space**
  (σ = threshold · median pairwise distance of a seeded subsample of ≤ 2000 rows) or given;
  the n × n kernels are never stored: row blocks are reduced on the fly (O(n² d) time);
* **HSIC**, biased (tr(KHLH)/(n−1)², Gretton et al. 2005) or unbiased (Song et al. 2012);
  CKA with ``unbiased=True`` is the debiased CKA built from the unbiased HSIC.

References
----------
S. Kornblith, M. Norouzi, H. Lee, G. Hinton. "Similarity of neural network representations
revisited". ICML 2019. — L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. "Feature
selection via dependence maximization". JMLR 13 (2012). — L. Moschella et al. "Relative
representations enable zero-shot latent space communication". ICLR 2023 (Jaccard/MRR/cosine).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from ..neighbors import knn

__all__ = [
    "CKA",
    "CrossSpaceSimilarity",
    "cka",
    "cka_from_gram",
    "cross_space_similarity",
    "hsic",
    "jaccard_at_k",
    "linear_cka",
    "mean_cosine",
    "median_bandwidth",
    "mrr_at_k",
    "rbf_cka",
    "similarity_matrix",
]

_F64 = torch.float64


# ----------------------------------------------------------------------------- validation
def _paired(X: Any, Y: Any, *, same_dim: bool, min_samples: int = 1) -> tuple[Any, Any]:
    X = check_array(X, name="X", min_samples=min_samples)
    Y = check_array(Y, name="Y", min_samples=min_samples)
    check_consistent_length(X, Y, names=["X", "Y"])
    if same_dim and X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X and Y must have the same number of features to be compared item by item; got "
            f"{X.shape[1]} and {Y.shape[1]} (map X into Y's space first: relative representation "
            "with parallel anchors, or LatentAligner)."
        )
    return X, Y


def _check_k(k: Any, n: int) -> int:
    k = check_positive_int(k, "k")
    if k > n:
        raise ValueError(f"k must be <= the number of items ({n}); got {k}.")
    return k


# ----------------------------------------------------------------------------- retrieval
def _unit_rows(Z: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit length (float64), without overflow or underflow of the norms; zero
    rows stay zero. Cosine similarities do not depend on each row's scale."""
    z = Z.to(_F64)
    a = z.abs().amax(1, keepdim=True).clamp_min(torch.finfo(_F64).tiny)
    z = z / a
    return z / torch.linalg.vector_norm(z, dim=1, keepdim=True).clamp_min(torch.finfo(_F64).tiny)


def _neighbours(X: Any, Y: Any, k: int, need_target: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Top-k cosine neighbours in Y's index of the rows of X (and of Y itself)."""
    # unit rows first: cosine neighbours are unchanged and the search's float32 copy of rows of
    # magnitude 1e300 (or 1e-300) neither overflows nor underflows
    Xt, back_x = to_torch(X)
    Yt, back_y = to_torch(Y)
    X, Y = back_x(_unit_rows(Xt)), back_y(_unit_rows(Yt))
    _, nx = knn(Y, k, query=X, metric="cosine")
    ny = knn(Y, k, metric="cosine", exclude_self=False)[1] if need_target else None
    return nx, ny


def _jaccard_rows(nx: np.ndarray, ny: np.ndarray) -> np.ndarray:
    k = nx.shape[1]
    out = np.empty(nx.shape[0], dtype=np.float64)
    for sl in iter_chunks(nx.shape[0], chunk_rows(k * k + 16 * k, maximum=1 << 16)):
        inter = (nx[sl, :, None] == ny[sl, None, :]).any(-1).sum(1)
        out[sl] = inter / (2 * k - inter)
    return out


def _rr_rows(nx: np.ndarray) -> np.ndarray:
    hit = nx == np.arange(nx.shape[0])[:, None]
    rank = hit.argmax(1) + 1
    return np.where(hit.any(1), 1.0 / rank, 0.0)


def _mean_cos(X: Any, Y: Any) -> float:
    Xt, _ = to_torch(X)
    Yt, _ = to_torch(Y)
    total = 0.0
    for sl in iter_chunks(Xt.shape[0], chunk_rows(8 * 3 * (Xt.shape[1] + 1), maximum=16384)):
        a, b = _unit_rows(Xt[sl]), _unit_rows(Yt[sl].to(device=Xt.device))
        total += float((a * b).sum())
    return total / Xt.shape[0]


def jaccard_at_k(X: Any, Y: Any, k: int = 10) -> float:
    """Mean Jaccard overlap between the k-neighbourhoods of x_i and y_i in the target index.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_items, n_features)
        Source vectors, already comparable with ``Y`` (relative representation or aligned).
    Y : array_like or Tensor of shape (n_items, n_features)
        Target vectors; row i is the same item as ``X[i]``.
    k : int, default=10
        Neighbourhood size (cosine similarity; y_i is its own first neighbour).

    Returns
    -------
    jaccard : float in [0, 1]
        Higher is better; 1 for identical spaces, ≈ k/n for independent ones.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import jaccard_at_k
    >>> Y = np.random.default_rng(0).normal(size=(200, 8))
    >>> jaccard_at_k(Y, Y, k=5)
    1.0
    """
    X, Y = _paired(X, Y, same_dim=True)
    k = _check_k(k, X.shape[0])
    nx, ny = _neighbours(X, Y, k, need_target=True)
    return float(_jaccard_rows(nx, ny).mean())


def mrr_at_k(X: Any, Y: Any, k: int = 10) -> float:
    """Mean reciprocal rank of item i among the k neighbours of x_i in the target index.

    Parameters
    ----------
    X, Y : array_like or Tensor of shape (n_items, n_features)
        Paired source (already comparable) and target vectors.
    k : int, default=10

    Returns
    -------
    mrr : float in [0, 1]
        Higher is better; 1 when every x_i retrieves y_i first.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import mrr_at_k
    >>> Y = np.eye(4)
    >>> X = Y[[1, 0, 2, 3]]                        # items 0 and 1 swapped
    >>> mrr_at_k(X, Y, k=2)                         # ranks 2, 2, 1, 1
    0.75
    """
    X, Y = _paired(X, Y, same_dim=True)
    k = _check_k(k, X.shape[0])
    nx, _ = _neighbours(X, Y, k, need_target=False)
    return float(_rr_rows(nx).mean())


def mean_cosine(X: Any, Y: Any) -> float:
    """Mean cosine similarity between paired rows x_i and y_i.

    Parameters
    ----------
    X, Y : array_like or Tensor of shape (n_items, n_features)

    Returns
    -------
    cosine : float in [-1, 1]

    Examples
    --------
    >>> from repgeo.latent import mean_cosine
    >>> round(mean_cosine([[1.0, 0.0], [1.0, 1.0]], [[2.0, 0.0], [-1.0, -1.0]]), 12)
    0.0
    """
    X, Y = _paired(X, Y, same_dim=True)
    return _mean_cos(X, Y)


def cross_space_similarity(X: Any, Y: Any, *, k: int = 10) -> dict[str, float]:
    """Jaccard@k, MRR@k and mean cosine between paired spaces, with one search per index.

    Parameters
    ----------
    X, Y : array_like or Tensor of shape (n_items, n_features)
        Paired source (already comparable) and target vectors.
    k : int, default=10

    Returns
    -------
    scores : dict
        ``{"jaccard": ..., "mrr": ..., "cosine": ...}`` (all higher-is-better).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import cross_space_similarity
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(500, 16)), rng.normal(size=(500, 16))
    >>> s = cross_space_similarity(X, Y, k=10)        # independent spaces: chance level
    >>> s["jaccard"] < 0.05, s["mrr"] < 0.05, abs(s["cosine"]) < 0.05
    (True, True, True)
    """
    X, Y = _paired(X, Y, same_dim=True)
    k = _check_k(k, X.shape[0])
    nx, ny = _neighbours(X, Y, k, need_target=True)
    return {
        "jaccard": float(_jaccard_rows(nx, ny).mean()),
        "mrr": float(_rr_rows(nx).mean()),
        "cosine": _mean_cos(X, Y),
    }


class CrossSpaceSimilarity(BaseEstimator):
    """Callable wrapper of :func:`cross_space_similarity`: three **similarities**, higher is better.

    Calling it on paired spaces ``(X, Y)`` returns ``{"jaccard", "mrr", "cosine"}``: Jaccard@k
    and MRR@k in [0, 1], mean cosine in [-1, 1]; 1 for identical spaces.

    Parameters
    ----------
    k : int, default=10

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import CrossSpaceSimilarity
    >>> Y = np.random.default_rng(0).normal(size=(100, 4))
    >>> CrossSpaceSimilarity(k=5)(Y, Y)
    {'jaccard': 1.0, 'mrr': 1.0, 'cosine': 1.0}
    """

    higher_is_better = True

    def __init__(self, *, k: int = 10) -> None:
        self.k = k

    def __call__(self, X: Any, Y: Any) -> dict[str, float]:
        """The three similarities of paired ``X``, ``Y`` of shape (n_items, n_features)."""
        return cross_space_similarity(X, Y, k=self.k)


# ----------------------------------------------------------------------------- HSIC / CKA
def _hsic_from_stats(
    s_kl, sum_k, sum_l, r_k, r_l, d_k, d_l, n: int, unbiased: bool
) -> torch.Tensor:
    """HSIC from kernel statistics: Σ K∘L, 1ᵀK1, K1 and diag(K) (and the same for L)."""
    if not unbiased:
        return (s_kl - 2.0 / n * (r_k @ r_l) + sum_k * sum_l / n**2) / (n - 1) ** 2
    # K~ = K with zero diagonal (Song et al. 2012, eq. 5)
    s = s_kl - d_k @ d_l
    rk, rl = r_k - d_k, r_l - d_l
    sk, sl = sum_k - d_k.sum(), sum_l - d_l.sum()
    return (s + sk * sl / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (rk @ rl)) / (n * (n - 3))


def _centred_means(Xt: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    mu = torch.zeros(Xt.shape[1], dtype=_F64, device=Xt.device)
    for sl in iter_chunks(Xt.shape[0], chunk_rows(8 * (Xt.shape[1] + 1), maximum=16384)):
        mu += Xt[sl].to(_F64).mul(scale).sum(0)
    return mu / Xt.shape[0]


def _pow2(amax: float) -> tuple[int, float]:
    """``(e, 2^-e)`` with ``amax · 2^-e`` in [0.5, 1): an exact rescaling (only exponents change)."""
    e = max(math.frexp(amax)[1], -1000) if amax > 0 and math.isfinite(amax) else 0
    return e, math.ldexp(1.0, -e)


def _space_scale(Xt: torch.Tensor, name: str) -> tuple[int, float, bool]:
    """The power-of-two rescaling of one space, and whether the space is (numerically) constant.

    Constant means every column's spread (max − min) is 0, or below the rounding error of the
    column means (64 ulps of the largest magnitude): centring leaves only rounding noise, and
    any kernel alignment with it is undefined.
    """
    lo, hi = torch.aminmax(Xt, dim=0)
    amax = float(torch.maximum(lo.abs(), hi.abs()).max())
    spread = float((hi.to(_F64) - lo.to(_F64)).max())
    e, scale = _pow2(amax)
    eps = torch.finfo(Xt.dtype).eps if Xt.is_floating_point() else 2.0**-52
    return e, scale, spread <= 64.0 * eps * amax


def _undefined(what: str) -> float:
    warnings.warn(
        f"{what} is undefined: one of the spaces has zero variance (a constant representation, "
        "e.g. a dead layer); returning NaN.",
        RuntimeWarning,
        stacklevel=4,
    )
    return math.nan


def _linear_stats(
    Xt: torch.Tensor, Yt: torch.Tensor, sx: float = 1.0, sy: float = 1.0
) -> dict[str, Any]:
    """Linear-kernel statistics of the column-centred data, in feature space (chunked).

    Cross-products are computed per chunk in the input precision (float32 stays float32 for
    speed) and accumulated in float64; centring uses float64 means. Each space is first
    multiplied by its power of two ``sx``, ``sy`` (exact), so no product overflows.
    """
    n, dx, dy = Xt.shape[0], Xt.shape[1], Yt.shape[1]
    dtype = torch.promote_types(Xt.dtype, Yt.dtype)
    mx, my = _centred_means(Xt, sx).to(dtype), _centred_means(Yt, sy).to(dtype)
    xx = torch.zeros(dx, dx, dtype=_F64, device=Xt.device)
    yy = torch.zeros(dy, dy, dtype=_F64, device=Xt.device)
    xy = torch.zeros(dx, dy, dtype=_F64, device=Xt.device)
    d_k = torch.empty(n, dtype=_F64, device=Xt.device)
    d_l = torch.empty(n, dtype=_F64, device=Xt.device)
    itemsize = torch.finfo(dtype).bits // 8
    rows = chunk_rows(itemsize * 2 * (dx + dy), maximum=16384)
    for sl in iter_chunks(n, rows):
        xc = Xt[sl].to(dtype) * sx - mx.to(Xt.device)
        yc = Yt[sl].to(dtype=dtype, device=Xt.device) * sy - my.to(Xt.device)
        xx += (xc.T @ xc).to(_F64)
        yy += (yc.T @ yc).to(_F64)
        xy += (xc.T @ yc).to(_F64)
        d_k[sl] = (xc * xc).sum(1).to(_F64)
        d_l[sl] = (yc * yc).sum(1).to(_F64)
    zero = torch.zeros(n, dtype=_F64, device=Xt.device)
    z = torch.zeros((), dtype=_F64, device=Xt.device)
    return {
        "kl": (xy * xy).sum(), "kk": (xx * xx).sum(), "ll": (yy * yy).sum(),
        "sum_k": z, "sum_l": z, "r_k": zero, "r_l": zero, "d_k": d_k, "d_l": d_l,
    }  # fmt: skip


def _gram_stats_linear(
    Xt: torch.Tensor, Yt: torch.Tensor, sx: float = 1.0, sy: float = 1.0
) -> dict[str, Any]:
    """Same statistics through the n × n Gram matrices of the centred data (small n)."""
    xc = Xt.to(_F64) * sx - _centred_means(Xt, sx)
    yc = Yt.to(device=Xt.device, dtype=_F64) * sy - _centred_means(Yt, sy).to(Xt.device)
    return _gram_stats(xc @ xc.T, yc @ yc.T)


# Below this many entries, CPU inputs of the linear kernel are reduced in NumPy (float64): a few
# BLAS calls, where torch's intra-op thread pool costs a scheduler quantum per operation on a
# busy machine (n = 2,000, d = 64 on 2 shared cores: 0.02–0.05 s in torch, 3 ms in NumPy).
_SMALL = 1 << 20


def _linear_stats_numpy(
    Xt: torch.Tensor, Yt: torch.Tensor, sx: float, sy: float, gram: bool
) -> dict[str, Any]:
    """:func:`_linear_stats` / :func:`_gram_stats_linear` for small CPU inputs, in NumPy."""
    x = Xt.to(_F64).numpy() * sx
    y = Yt.to(_F64).numpy() * sy
    xc, yc = x - x.mean(0), y - y.mean(0)
    if gram:
        return _gram_stats(torch.from_numpy(xc @ xc.T), torch.from_numpy(yc @ yc.T))
    xx, yy, xy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    n = xc.shape[0]
    z = torch.zeros((), dtype=_F64)
    zero = torch.zeros(n, dtype=_F64)
    return {
        "kl": torch.tensor(float((xy * xy).sum()), dtype=_F64),
        "kk": torch.tensor(float((xx * xx).sum()), dtype=_F64),
        "ll": torch.tensor(float((yy * yy).sum()), dtype=_F64),
        "sum_k": z, "sum_l": z, "r_k": zero, "r_l": zero,
        "d_k": torch.from_numpy(np.einsum("ij,ij->i", xc, xc)),
        "d_l": torch.from_numpy(np.einsum("ij,ij->i", yc, yc)),
    }  # fmt: skip


def _gram_stats(K: torch.Tensor, L: torch.Tensor) -> dict[str, Any]:
    return {
        "kl": (K * L).sum(), "kk": (K * K).sum(), "ll": (L * L).sum(),
        "sum_k": K.sum(), "sum_l": L.sum(), "r_k": K.sum(1), "r_l": L.sum(1),
        "d_k": torch.diagonal(K).clone(), "d_l": torch.diagonal(L).clone(),
    }  # fmt: skip


def _sqdist_block(
    A: torch.Tensor, B: torch.Tensor, nb: torch.Tensor, na: torch.Tensor
) -> torch.Tensor:
    return (na[:, None] + nb[None, :] - 2.0 * (A @ B.T)).clamp_min(0.0)


def _rbf_stats(
    Xt: torch.Tensor, Yt: torch.Tensor, sx: float, sy: float, px: float = 1.0, py: float = 1.0
) -> dict[str, Any]:
    """RBF-kernel statistics reduced over row blocks; no n × n matrix is kept.

    ``px``, ``py``: powers of two applied to each space *and* its bandwidth (the kernel is
    unchanged; squared distances of huge or tiny data neither overflow nor underflow).
    """
    n = Xt.shape[0]
    X64 = Xt.to(_F64) * px
    Y64 = Yt.to(device=Xt.device, dtype=_F64) * py
    sx, sy = sx * px, sy * py
    X64 = X64 - X64.mean(0)  # distances are shift invariant; centring limits cancellation
    Y64 = Y64 - Y64.mean(0)
    nx, ny = (X64 * X64).sum(1), (Y64 * Y64).sum(1)
    gx, gy = 1.0 / (2.0 * sx * sx), 1.0 / (2.0 * sy * sy)
    s_kl = s_kk = s_ll = torch.zeros((), dtype=_F64, device=Xt.device)
    r_k = torch.empty(n, dtype=_F64, device=Xt.device)
    r_l = torch.empty(n, dtype=_F64, device=Xt.device)
    for sl in iter_chunks(n, chunk_rows(8 * 5 * n, maximum=8192)):
        K = torch.exp(-gx * _sqdist_block(X64[sl], X64, nx, nx[sl]))
        L = torch.exp(-gy * _sqdist_block(Y64[sl], Y64, ny, ny[sl]))
        s_kl = s_kl + (K * L).sum()
        s_kk = s_kk + (K * K).sum()
        s_ll = s_ll + (L * L).sum()
        r_k[sl], r_l[sl] = K.sum(1), L.sum(1)
    ones = torch.ones(n, dtype=_F64, device=Xt.device)
    return {
        "kl": s_kl, "kk": s_kk, "ll": s_ll, "sum_k": r_k.sum(), "sum_l": r_l.sum(),
        "r_k": r_k, "r_l": r_l, "d_k": ones, "d_l": ones,
    }  # fmt: skip


def median_bandwidth(
    X: Any, *, threshold: float = 1.0, max_samples: int = 2000, random_state: Any = 0
) -> float:
    """Median heuristic σ = threshold · median of pairwise Euclidean distances.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
    threshold : float, default=1.0
        Multiplier of the median distance (Kornblith et al. use 0.2–2).
    max_samples : int, default=2000
        The median is taken over the distinct pairs of a seeded subsample of at most this
        many rows (all rows when n is smaller).
    random_state : int, Generator or None, default=0

    Returns
    -------
    sigma : float

    Examples
    --------
    >>> from repgeo.latent import median_bandwidth
    >>> median_bandwidth([[0.0], [1.0], [3.0]])       # distances 1, 2, 3
    2.0
    """
    X = check_array(X, name="X", min_samples=2)
    check_scalar(threshold, "threshold", min_val=0.0, include_min=False)
    m = check_positive_int(max_samples, "max_samples", min_val=2)
    Xt, _ = to_torch(X)
    if Xt.shape[0] > m:
        idx = np.sort(check_random_state(random_state).choice(Xt.shape[0], size=m, replace=False))
        Xt = Xt[torch.as_tensor(idx, device=Xt.device)]
    X64 = Xt.to(_F64)
    e, scale = _pow2(float(X64.abs().amax()))  # exact rescaling: no overflow or underflow
    d = torch.pdist(X64 * scale)
    med = float(torch.quantile(d, 0.5)) if d.numel() <= 16_000_000 else float(d.median())
    if med <= 0.0:
        raise ValueError(
            "median pairwise distance is 0 (most sampled rows coincide); give sigma explicitly."
        )
    return threshold * math.ldexp(med, e)


def _sigmas(X: Any, Y: Any, sigma: Any, threshold: float, random_state: Any) -> tuple[float, float]:
    if isinstance(sigma, str):
        check_choice(sigma, "sigma", ("median",))
        return (
            median_bandwidth(X, threshold=threshold, random_state=random_state),
            median_bandwidth(Y, threshold=threshold, random_state=random_state),
        )
    if isinstance(sigma, (tuple, list)):
        if len(sigma) != 2:
            raise ValueError(
                f"sigma as a sequence must be (sigma_x, sigma_y); got {len(sigma)} values."
            )
        sx, sy = sigma
    else:
        sx = sy = sigma
    check_scalar(sx, "sigma", min_val=0.0, include_min=False)
    check_scalar(sy, "sigma", min_val=0.0, include_min=False)
    return float(sx), float(sy)


def _stats(
    X: Any, Y: Any, kernel: str, sigma: Any, threshold: float, random_state: Any, unbiased: bool
) -> tuple[dict, int]:
    check_choice(kernel, "kernel", ("linear", "rbf"))
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be a bool; got {type(unbiased).__name__}.")
    X, Y = _paired(X, Y, same_dim=False, min_samples=4 if unbiased else 2)
    Xt, _ = to_torch(X)
    Yt, _ = to_torch(Y)
    n = Xt.shape[0]
    ex, px, const_x = _space_scale(Xt, "X")
    ey, py, const_y = _space_scale(Yt, "Y")
    scales = {"ex": ex, "ey": ey, "constant": const_x or const_y}
    if scales["constant"]:
        return scales, n
    if kernel == "linear":
        small = n <= 4096 and n <= max(Xt.shape[1], Yt.shape[1])
        if Xt.device.type == Yt.device.type == "cpu" and n * (Xt.shape[1] + Yt.shape[1]) <= _SMALL:
            return {**_linear_stats_numpy(Xt, Yt, px, py, small), **scales}, n
        fn = _gram_stats_linear if small else _linear_stats
        return {**fn(Xt, Yt, px, py), **scales}, n
    sx, sy = _sigmas(X, Y, sigma, threshold, random_state)
    return {**_rbf_stats(Xt, Yt, sx, sy, px, py), **scales}, n


def _cka_from_stats(st: dict, n: int, unbiased: bool) -> float:
    def h(a: str, b: str, kl: str) -> torch.Tensor:
        return _hsic_from_stats(
            st[kl],
            st[f"sum_{a}"],
            st[f"sum_{b}"],
            st[f"r_{a}"],
            st[f"r_{b}"],
            st[f"d_{a}"],
            st[f"d_{b}"],
            n,
            unbiased,
        )

    if st.get("constant"):
        return _undefined("CKA")
    hkl, hkk, hll = h("k", "l", "kl"), h("k", "k", "kk"), h("l", "l", "ll")
    den = torch.sqrt(hkk.clamp_min(0.0) * hll.clamp_min(0.0))
    # a kernel whose centred part is rounding noise: ‖HKH‖ ≤ 64·n·ε·‖K‖ (biased HSIC scale)
    tol = (64.0 * n * torch.finfo(_F64).eps) ** 2 / (n - 1) ** 2
    if (
        float(den) <= 0.0
        or float(hkk) <= tol * float(st["kk"])
        or float(hll) <= tol * float(st["ll"])
    ):
        return _undefined("CKA")
    return float(hkl / den)


def hsic(
    X: Any,
    Y: Any,
    *,
    kernel: str = "linear",
    sigma: Any = "median",
    threshold: float = 1.0,
    unbiased: bool = False,
    random_state: Any = 0,
) -> float:
    """Hilbert–Schmidt independence criterion between paired spaces.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, d_x)
    Y : array_like or Tensor of shape (n_samples, d_y)
    kernel : {"linear", "rbf"}, default="linear"
    sigma : "median" or float or (float, float), default="median"
        RBF bandwidth(s); ``"median"`` uses :func:`median_bandwidth` on each space separately.
    threshold : float, default=1.0
        Multiplier of the median distance.
    unbiased : bool, default=False
        ``False``: tr(K H L H)/(n−1)²; ``True``: the unbiased estimator of Song et al. (2012)
        (needs n ≥ 4).
    random_state : int, Generator or None, default=0
        Seeds the median-heuristic subsample.

    Returns
    -------
    hsic : float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import hsic
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> dependent = hsic(X, X**2, kernel="rbf", unbiased=True)     # uncorrelated but dependent
    >>> independent = hsic(X, rng.normal(size=(500, 3)), kernel="rbf", unbiased=True)
    >>> dependent > 20 * abs(independent)
    True
    """
    st, n = _stats(X, Y, kernel, sigma, threshold, random_state, unbiased)
    if st["constant"]:  # a constant space has a zero centred kernel: HSIC is exactly 0
        return 0.0
    value = float(
        _hsic_from_stats(
            st["kl"],
            st["sum_k"],
            st["sum_l"],
            st["r_k"],
            st["r_l"],
            st["d_k"],
            st["d_l"],
            n,
            unbiased,
        )
    )
    if kernel == "rbf":  # the kernels do not depend on the rescaling (σ was rescaled too)
        return value
    # linear kernels scale with the square of each space's rescaling: undo it
    with np.errstate(over="ignore", under="ignore"):
        out = float(np.ldexp(value, 2 * (st["ex"] + st["ey"])))
    if not math.isfinite(out):
        warnings.warn(
            "HSIC overflows float64 (the linear kernels of these inputs are too large to "
            "represent); CKA, which does not depend on scale, is finite.",
            RuntimeWarning,
            stacklevel=2,
        )
    return out


def cka(
    X: Any,
    Y: Any,
    *,
    kernel: str = "linear",
    sigma: Any = "median",
    threshold: float = 1.0,
    unbiased: bool = False,
    random_state: Any = 0,
) -> float:
    """Centred kernel alignment HSIC(K, L) / √(HSIC(K, K) HSIC(L, L)).

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, d_x)
    Y : array_like or Tensor of shape (n_samples, d_y)
        Row i of both is the same sample; the dimensions may differ.
    kernel : {"linear", "rbf"}, default="linear"
    sigma, threshold, unbiased, random_state
        See :func:`hsic`.

    Returns
    -------
    cka : float
        In [0, 1] for the biased estimator (higher = more similar); the debiased one can be
        slightly negative for independent spaces.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import cka
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 10))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    >>> round(cka(X, 5.0 * X @ Q + 3.0), 6), round(cka(X, X, kernel="rbf"), 6)
    (1.0, 1.0)
    """
    st, n = _stats(X, Y, kernel, sigma, threshold, random_state, unbiased)
    return _cka_from_stats(st, n, unbiased)


def linear_cka(X: Any, Y: Any, *, unbiased: bool = False) -> float:
    """Linear CKA ‖Y_cᵀX_c‖²_F / (‖X_cᵀX_c‖_F ‖Y_cᵀY_c‖_F), in feature space (see :func:`cka`).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import linear_cka
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(1000, 20))
    >>> X, _ = np.linalg.qr(Z - Z.mean(0))            # 20 centred orthonormal (isotropic) features
    >>> round(linear_cka(X, X[:, :10]), 4)            # shares half of them: 10 / sqrt(20 * 10)
    0.7071
    """
    return cka(X, Y, kernel="linear", unbiased=unbiased)


def rbf_cka(
    X: Any,
    Y: Any,
    *,
    sigma: Any = "median",
    threshold: float = 1.0,
    unbiased: bool = False,
    random_state: Any = 0,
) -> float:
    """RBF-kernel CKA; σ per space by the median heuristic unless given (see :func:`cka`).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import rbf_cka
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> round(rbf_cka(X, 10.0 * X), 6)              # σ scales with each space
    1.0
    """
    return cka(
        X,
        Y,
        kernel="rbf",
        sigma=sigma,
        threshold=threshold,
        unbiased=unbiased,
        random_state=random_state,
    )


def cka_from_gram(K: Any, L: Any, *, unbiased: bool = False) -> float:
    """CKA from two precomputed n × n kernel (Gram) matrices, for custom kernels.

    Parameters
    ----------
    K, L : array_like or Tensor of shape (n_samples, n_samples)
        Symmetric kernel matrices of the same samples.
    unbiased : bool, default=False

    Returns
    -------
    cka : float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import cka_from_gram, linear_cka
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(50, 4)), rng.normal(size=(50, 6))
    >>> bool(np.isclose(cka_from_gram(X @ X.T, Y @ Y.T), linear_cka(X, Y)))
    True
    """
    if not isinstance(unbiased, bool):
        raise TypeError(f"unbiased must be a bool; got {type(unbiased).__name__}.")
    K = check_array(
        K, name="K", min_samples=4 if unbiased else 2, shape_hint="(n_samples, n_samples)"
    )
    L = check_array(
        L, name="L", min_samples=4 if unbiased else 2, shape_hint="(n_samples, n_samples)"
    )
    for name, M in (("K", K), ("L", L)):
        if M.shape[0] != M.shape[1]:
            raise ValueError(
                f"{name} must be a square (n_samples, n_samples) kernel matrix; got shape {tuple(M.shape)}."
            )
    check_consistent_length(K, L, names=["K", "L"])
    Kt, _ = to_torch(K)
    Lt, _ = to_torch(L)
    K64, L64 = Kt.to(_F64), Lt.to(device=Kt.device, dtype=_F64)
    # CKA does not depend on the scale of either kernel: rescale exactly so K∘K cannot overflow
    K64 = K64 * _pow2(float(K64.abs().amax()))[1]
    L64 = L64 * _pow2(float(L64.abs().amax()))[1]
    return _cka_from_stats(_gram_stats(K64, L64), Kt.shape[0], unbiased)


class CKA(BaseEstimator):
    """Centred kernel alignment as a scorer with fixed options: a **similarity**, higher is better.

    ``CKA(...).score(X, Y)`` (or simply ``CKA(...)(X, Y)``) is :func:`cka` of two paired
    representations: in [0, 1] for the biased estimator, 1 for spaces equal up to rotation and
    isotropic scaling (and translation). Nothing is fitted: the scorer holds options only, so
    ``get_params``/``set_params``/``sklearn.base.clone`` work and a grid of options is a list
    of ``CKA`` objects.

    Parameters
    ----------
    kernel : {"linear", "rbf"}, default="linear"
    sigma : "median" or float or (float, float), default="median"
    threshold : float, default=1.0
    unbiased : bool, default=False
    random_state : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import CKA
    >>> X = np.random.default_rng(0).normal(size=(100, 4))
    >>> metric = CKA(kernel="linear")
    >>> round(metric.score(X, 2 * X), 6), round(metric(X, 2 * X), 6), metric.higher_is_better
    (1.0, 1.0, True)
    """

    higher_is_better = True

    def __init__(
        self,
        *,
        kernel: str = "linear",
        sigma: Any = "median",
        threshold: float = 1.0,
        unbiased: bool = False,
        random_state: Any = 0,
    ) -> None:
        self.kernel = kernel
        self.sigma = sigma
        self.threshold = threshold
        self.unbiased = unbiased
        self.random_state = random_state

    def score(self, X: Any, Y: Any) -> float:
        """CKA similarity of ``X`` (n_samples, d_x) and ``Y`` (n_samples, d_y); higher is better."""
        return cka(
            X,
            Y,
            kernel=self.kernel,
            sigma=self.sigma,
            threshold=self.threshold,
            unbiased=self.unbiased,
            random_state=self.random_state,
        )

    def __call__(self, X: Any, Y: Any) -> float:
        """Same as :meth:`score` (a ``CKA`` is a metric usable by :func:`similarity_matrix`)."""
        return self.score(X, Y)


# ----------------------------------------------------------------------------- matrices
_NAMED: dict[str, Callable[[Any, Any], float]] = {
    "linear_cka": lambda X, Y: cka(X, Y, kernel="linear"),
    "rbf_cka": lambda X, Y: cka(X, Y, kernel="rbf"),
    "debiased_linear_cka": lambda X, Y: cka(X, Y, kernel="linear", unbiased=True),
}


def similarity_matrix(
    spaces: Mapping[str, Any] | Sequence[Any],
    *,
    metric: str | Callable[[Any, Any], float] = "linear_cka",
    symmetric: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """Pairwise similarity of several representations of the same samples.

    Parameters
    ----------
    spaces : mapping name -> array, or sequence of arrays
        Each of shape (n_samples, d_i), rows aligned (layers of one model, or models).
    metric : {"linear_cka", "rbf_cka", "debiased_linear_cka"} or callable, default="linear_cka"
        A callable gets ``(X_i, X_j)`` and returns a float.
    symmetric : bool, default=True
        Compute only i <= j and mirror.

    Returns
    -------
    S : ndarray of shape (n_spaces, n_spaces)
    names : list of str

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import similarity_matrix
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> S, names = similarity_matrix({"a": X, "b": 2 * X, "c": rng.normal(size=(100, 5))})
    >>> names, S[0, :2].round(6).tolist(), bool(S[0, 2] < 0.2)
    (['a', 'b', 'c'], [1.0, 1.0], True)
    """
    if isinstance(spaces, Mapping):
        names, arrays = [str(k) for k in spaces], list(spaces.values())
    elif isinstance(spaces, (list, tuple)):
        names, arrays = [str(i) for i in range(len(spaces))], list(spaces)
    else:
        raise TypeError(
            f"spaces must be a mapping name -> array or a list of arrays; got {type(spaces).__name__}."
        )
    if not arrays:
        raise ValueError("spaces must hold at least one representation; got none.")
    if isinstance(metric, str):
        check_choice(metric, "metric", list(_NAMED))
        fn = _NAMED[metric]
    elif callable(metric):
        fn = metric
    else:
        raise TypeError(f"metric must be a name or a callable; got {type(metric).__name__}.")
    arrays = [check_array(a, name=f"spaces[{n!r}]") for n, a in zip(names, arrays)]
    check_consistent_length(*arrays, names=names)
    m = len(arrays)
    S = np.full((m, m), np.nan)
    for i in range(m):
        for j in range(i if symmetric else 0, m):
            S[i, j] = float(fn(arrays[i], arrays[j]))
            if symmetric:
                S[j, i] = S[i, j]
    return S, names
