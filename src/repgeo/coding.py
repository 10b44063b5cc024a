"""Coding rate and maximal coding rate reduction (MCR²) of representations.

For features ``Z ∈ R^{m×d}`` whose rows are L2-normalised (the default), the *coding rate*
(Ma et al., 2007; Yu et al., 2020) is the number of nats needed to code the rows up to
distortion ``ε``::

    R(Z, ε)      = ½ logdet(I_d + d/(m ε²) ZᵀZ)
    R_c(Z, ε|Π)  = Σ_j tr(Π_j)/(2m) · logdet(I_d + d/(tr(Π_j) ε²) Zᵀ Π_j Z)
    ΔR           = R − R_c  ≥ 0

where ``Π_j = diag(π_{1j}, …, π_{mj})`` is the (hard or soft) membership of the samples in
group ``j`` with ``Σ_j π_{ij} = 1``. ΔR is large when the groups are individually compressed
(low-dimensional) and jointly spread out (mutually incoherent): it is 0 when all groups span the
same subspace and maximal for orthogonal group subspaces.

Groups come from labels, from k-means clusters, or from the doubly stochastic membership of
MLC (Ding et al., 2023): the entropic (Sinkhorn) projection of the absolute cosine similarity
``|C Cᵀ|`` onto symmetric matrices with unit row and column sums, read by spectral clustering.

Determinants are computed on the smaller side with
``logdet(I_d + c ZᵀZ) = logdet(I_m + c Z Zᵀ)``, so a class with fewer samples than features
costs an ``m_j × m_j`` factorisation. Everything runs in float64 (log-determinants of
ill-conditioned Gram matrices lose digits in float32); the Gram matrix ``ZᵀZ`` is accumulated
in chunks sized by the memory budget.

References
----------
.. [1] Y. Ma, H. Derksen, W. Hong, J. Wright. "Segmentation of multivariate mixed data via lossy
   data coding and compression." IEEE TPAMI 29(9) (2007).
.. [2] Y. Yu, K. H. R. Chan, C. You, C. Song, Y. Ma. "Learning diverse and discriminative
   representations via the principle of maximal coding rate reduction." NeurIPS (2020).
.. [3] T. Ding, S. Tong, K. H. R. Chan, X. Dai, Y. Ma, B. D. Haeffele. "Unsupervised manifold
   linearizing and clustering." ICCV (2023).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin, clone

from ._backend import chunk_rows, get_memory_budget, iter_chunks, to_numpy, to_torch
from ._validation import (
    check_array,
    check_labels,
    check_positive_int,
    check_random_state,
    check_scalar,
)

__all__ = [
    "CodingRateReduction",
    "ManifoldClustering",
    "clustering_accuracy",
    "coding_rate",
    "coding_rate_reduction",
    "compressed_coding_rate",
    "doubly_stochastic_membership",
    "membership_clustering",
]

_F64 = torch.float64


# ----------------------------------------------------------------------------- helpers
def _check_eps2(eps2: Any) -> float:
    return float(check_scalar(eps2, "eps2", min_val=0.0, include_min=False))


def _warn(msg: str, category: type[Warning], sink: list[str] | None, stacklevel: int) -> None:
    if sink is not None:
        sink.append(msg)
    warnings.warn(msg, category, stacklevel=stacklevel + 1)


def _row_norms(z: torch.Tensor) -> torch.Tensor:
    """Euclidean row norms that neither overflow nor underflow.

    The plain norm is exact for moderate magnitudes; rows whose sum of squares overflowed (inf)
    or lost precision to underflow are recomputed as ``a · ‖z / a‖`` with ``a`` the row's
    largest magnitude.
    """
    n = torch.linalg.vector_norm(z, dim=1)
    fi = torch.finfo(z.dtype)
    bad = ~torch.isfinite(n) | (n < fi.tiny**0.5 / fi.eps)
    if bool(bad.any()):
        zb = z[bad]
        a = zb.abs().amax(1)
        safe = a.clamp_min(fi.tiny)
        n = n.clone()
        n[bad] = torch.where(a > 0, safe * torch.linalg.vector_norm(zb / safe[:, None], dim=1), 0.0)
    return n


# Below this many entries, CPU inputs are computed in NumPy: a handful of small BLAS/LAPACK
# calls, where torch's intra-op thread pool costs a scheduler quantum per operation on a busy
# machine (measured on 2 shared cores: ΔR of 2,000 × 64 took 0.07–0.11 s in torch, 0.025 s
# for the direct NumPy formula; the NumPy path below is on par with it).
_SMALL = 1 << 20


class _Rows:
    """The validated features as float64 rows ready for the rates: unit rows when ``normalize``,
    otherwise divided by ``2^e`` (a power of two, exact) so that ``ZᵀZ`` cannot overflow; the
    log-determinants then use ``c · 4^e`` in log form.

    The float64 copy is kept whole when it fits comfortably in the memory budget (one pass,
    few large operations: what small inputs need); otherwise rows are produced chunk by chunk.
    Small CPU inputs also get a NumPy copy (``np_rows``) for the NumPy path of the rates.
    """

    def __init__(self, Zt: torch.Tensor, normalize: bool) -> None:
        self.Zt, self.normalize = Zt, normalize
        self.m, self.d = int(Zt.shape[0]), int(Zt.shape[1])
        self.log_scale2 = 0.0  # log of the factor multiplying every Gram matrix
        self.exp2 = 0
        self.np_rows: np.ndarray | None = None
        self.fits = 8.0 * 3 * self.m * self.d <= get_memory_budget() / 4
        if Zt.device.type == "cpu" and self.m * self.d <= _SMALL and self.fits:
            z = Zt.to(_F64).numpy()
            if normalize:
                n = np.linalg.norm(z, axis=1)
                bad = ~np.isfinite(n) | (n < np.finfo(np.float64).tiny ** 0.5 / 2.0**-52)
                if bad.any():  # over/underflowing rows: divide by the largest entry first
                    a = np.abs(z[bad]).max(1)
                    safe = np.maximum(a, np.finfo(np.float64).tiny)
                    n[bad] = np.where(
                        a > 0, safe * np.linalg.norm(z[bad] / safe[:, None], axis=1), 0
                    )
                self.np_rows = z / np.maximum(n, np.finfo(np.float64).tiny)[:, None]
            else:
                amax = float(np.abs(z).max()) if z.size else 0.0
                self.exp2 = max(math.frexp(amax)[1], -1000) if amax > 0 else 0
                self.np_rows = np.ldexp(z, -self.exp2) if self.exp2 else z
        elif not normalize and Zt.numel():
            amax = float(Zt.abs().amax())
            self.exp2 = max(math.frexp(amax)[1], -1000) if amax > 0 else 0
        self.log_scale2 = 2.0 * self.exp2 * math.log(2.0)
        self._full: torch.Tensor | None = None

    @property
    def full(self) -> torch.Tensor | None:
        """All rows as one float64 tensor when they fit (made on first use), else None."""
        if self._full is None and self.fits:
            if self.np_rows is not None:
                self._full = torch.from_numpy(self.np_rows)
            else:
                self._full = self._make(self.Zt)
        return self._full

    def _make(self, z: torch.Tensor) -> torch.Tensor:
        z = z.to(_F64)
        if self.normalize:
            return z / _row_norms(z).clamp_min(torch.finfo(_F64).tiny)[:, None]
        return torch.ldexp(z, torch.tensor(-self.exp2, dtype=_F64)) if self.exp2 else z

    def __call__(self, sl: slice | torch.Tensor) -> torch.Tensor:
        full = self.full
        return full[sl] if full is not None else self._make(self.Zt[sl])


# ----------------------------------------------------------------------------- NumPy path
def _np_logdet_eye_plus(A: np.ndarray, c: Any, log_scale2: float = 0.0) -> np.ndarray:
    """NumPy twin of :func:`_logdet_eye_plus` (batched over leading axes)."""
    log_c = np.log(np.asarray(c, dtype=np.float64)) + log_scale2
    sym = (A + np.swapaxes(A, -1, -2)) / 2
    if float(np.max(log_c)) > 600.0:
        ev = np.clip(np.linalg.eigvalsh(sym), 0.0, None)
        with np.errstate(divide="ignore"):
            return np.logaddexp(0.0, np.log(ev) + np.asarray(log_c)[..., None]).sum(-1)
    M = sym * np.exp(log_c)[..., None, None]
    idx = np.arange(M.shape[-1])
    M[..., idx, idx] += 1.0
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:  # numerically indefinite: eigenvalues clipped at 1
        return np.log(np.clip(np.linalg.eigvalsh(M), 1.0, None)).sum(-1)
    return 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)


def _np_padded_grams(z: np.ndarray, batch: list[np.ndarray], dual: bool) -> np.ndarray:
    n_max = max(g.size for g in batch)
    pad = np.zeros((len(batch), n_max, z.shape[1]))
    for i, g in enumerate(batch):
        pad[i, : g.size] = z[g]
    return pad @ np.swapaxes(pad, 1, 2) if dual else np.swapaxes(pad, 1, 2) @ pad


def _np_rate(P: _Rows, eps2: float) -> float:
    z, (m, d) = P.np_rows, (P.m, P.d)
    if m == 0:
        return 0.0
    G = z @ z.T if m < d else z.T @ z
    return 0.5 * float(_np_logdet_eye_plus(G, d / (m * eps2), P.log_scale2))


def _np_rate_c_labels(P: _Rows, labels: np.ndarray, eps2: float) -> float:
    z, (m, d) = P.np_rows, (P.m, P.d)
    total = 0.0
    groups = sorted(_labels_index(labels), key=lambda g: g.size)
    cap = max(get_memory_budget() / 4, 1.0)
    for dual in (False, True):
        todo = [g for g in groups if (g.size < d) == dual]
        start = 0
        while start < len(todo):  # sizes ascend: the last group of a batch sets the padding
            stop = start + 1
            while stop < len(todo):
                side = todo[stop].size if dual else d
                if 8.0 * (stop - start + 1) * todo[stop].size * (d + 2 * side) > cap:
                    break
                stop += 1
            batch = todo[start:stop]
            sizes = np.array([g.size for g in batch], dtype=np.float64)
            logdets = _np_logdet_eye_plus(
                _np_padded_grams(z, batch, dual), d / (sizes * eps2), P.log_scale2
            )
            total += float((sizes / (2.0 * m) * logdets).sum())
            start = stop
    return total


def _logdet_eye_plus(
    A: torch.Tensor, c: torch.Tensor | float, log_scale2: float = 0.0
) -> torch.Tensor:
    """``logdet(I + c·s·A)`` with ``s = exp(log_scale2)``, for symmetric PSD ``A`` (..., p, p).

    Batched, float64. A Cholesky factorisation when ``c·s`` is representable; otherwise (data
    rescaled from huge magnitudes) ``Σ softplus(log c + log s + log λ_i)`` over the eigenvalues.
    """
    if not isinstance(c, torch.Tensor):
        c = torch.tensor(c, dtype=A.dtype, device=A.device)
    c = c.to(device=A.device, dtype=A.dtype)
    log_c = torch.log(c) + log_scale2
    if float(log_c.max()) > 600.0:
        ev = torch.linalg.eigvalsh((A + A.transpose(-1, -2)) / 2).clamp_min(0.0)
        lc = log_c.reshape(*log_c.shape, 1) if log_c.ndim else log_c
        return torch.nn.functional.softplus(torch.log(ev) + lc, threshold=30.0).sum(-1)
    c = torch.exp(log_c)
    M = A * c.reshape(*c.shape, 1, 1) if c.ndim else A * c
    M = (M + M.transpose(-1, -2)) / 2
    M.diagonal(dim1=-2, dim2=-1).add_(1.0)
    L, info = torch.linalg.cholesky_ex(M)
    out = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    bad = info != 0
    if bool(bad.any()):  # numerically indefinite: fall back to eigenvalues clipped at 1
        ev = torch.linalg.eigvalsh(M[bad] if M.ndim > 2 else M)
        fix = torch.log(ev.clamp_min(1.0)).sum(-1)
        if M.ndim > 2:
            out = out.clone()
            out[bad] = fix
        else:
            out = fix
    return out


def _gram(P: _Rows, idx: torch.Tensor | None) -> torch.Tensor:
    """``ZᵀZ`` (d × d) or, when fewer rows than features, ``Z Zᵀ`` over the rows ``idx``."""
    m = P.m if idx is None else int(idx.numel())
    if m < P.d:
        z = P(slice(None) if idx is None else idx)
        return z @ z.T
    if P.full is not None:
        z = P.full if idx is None else P.full.index_select(0, idx)
        return z.T @ z
    G = torch.zeros(P.d, P.d, dtype=_F64, device=P.Zt.device)
    for sl in iter_chunks(m, chunk_rows(8.0 * 2 * P.d, maximum=1 << 20)):
        z = P(sl if idx is None else idx[sl])
        G += z.T @ z
    return G


def _logdet_cov(P: _Rows, idx: torch.Tensor | None, c: float) -> float:
    """``logdet(I + c ZᵀZ)`` over the rows ``idx`` (all rows if None), on the smaller side."""
    if (P.m if idx is None else int(idx.numel())) == 0:
        return 0.0
    return float(_logdet_eye_plus(_gram(P, idx), c, P.log_scale2))


def _labels_index(labels: np.ndarray) -> list[np.ndarray]:
    """Row indices of each class, classes in sorted order."""
    _, inverse = np.unique(labels, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    counts = np.bincount(inverse)
    return np.split(order, np.cumsum(counts)[:-1])


def _rate(P: _Rows, eps2: float) -> float:
    if P.np_rows is not None:
        return _np_rate(P, eps2)
    return 0.5 * _logdet_cov(P, None, P.d / (P.m * eps2))


def _padded_grams(P: _Rows, batch: list[np.ndarray], dual: bool) -> torch.Tensor:
    """Gram matrices of several groups at once: rows padded with zeros to the largest group
    (zero rows change neither ``ZᵀZ`` nor ``logdet(I + c Z Zᵀ)``)."""
    n_max = max(g.size for g in batch)
    pad_np = np.full((len(batch), n_max), -1, dtype=np.int64)
    for i, g in enumerate(batch):
        pad_np[i, : g.size] = g
    pad = torch.from_numpy(pad_np).to(P.Zt.device)
    z = P(pad.clamp_min(0).reshape(-1)).reshape(len(batch), n_max, P.d)
    z = z * (pad >= 0).to(_F64)[..., None]
    return z @ z.transpose(1, 2) if dual else z.transpose(1, 2) @ z


def _rate_c_labels(P: _Rows, labels: np.ndarray, eps2: float) -> float:
    if P.np_rows is not None:
        return _np_rate_c_labels(P, labels, eps2)
    m, d = P.m, P.d
    groups = _labels_index(labels)
    budget = get_memory_budget()
    total = 0.0
    # classes with at least d samples: d × d Gram matrices, batched when the padded rows fit
    big = sorted((g for g in groups if g.size >= d), key=lambda g: g.size)
    if big and P.fits and 8.0 * len(big) * (big[-1].size + 4 * d) * d <= budget / 4:
        sizes = torch.tensor([g.size for g in big], dtype=_F64, device=P.Zt.device)
        logdets = _logdet_eye_plus(
            _padded_grams(P, big, dual=False), d / (sizes * eps2), P.log_scale2
        )
        total += float((sizes / (2.0 * m) * logdets).sum())
    else:
        for g in big:
            idx = torch.as_tensor(g, device=P.Zt.device)
            total += g.size / (2.0 * m) * _logdet_cov(P, idx, d / (g.size * eps2))
    # smaller classes: dual m_j × m_j Gram matrices, batched so that many small classes cost a
    # few large operations
    small = sorted((g for g in groups if g.size < d), key=lambda g: g.size)
    start = 0
    while start < len(small):
        # sizes ascend, so the last class of a batch sets the padding; grow while it fits
        stop = start + 1
        while stop < len(small):
            n_next = small[stop].size
            if (stop - start + 1) * 8.0 * (3 * n_next * d + 4 * n_next * n_next) > budget:
                break
            stop += 1
        batch = small[start:stop]
        sizes = torch.tensor([g.size for g in batch], dtype=_F64, device=P.Zt.device)
        logdets = _logdet_eye_plus(
            _padded_grams(P, batch, dual=True), d / (sizes * eps2), P.log_scale2
        )
        total += float((sizes / (2.0 * m) * logdets).sum())
        start = stop
    return total


def _rate_c_membership(P: _Rows, W: torch.Tensor, eps2: float) -> float:
    """R_c for soft membership ``W`` of shape (m, k): ``Π_j = diag(W[:, j])``."""
    m, d = P.m, P.d
    z = P(slice(None))
    W = W.to(device=z.device, dtype=_F64)
    tr = W.sum(0)
    keep = torch.nonzero(tr > 0).ravel()
    total = torch.zeros((), dtype=_F64, device=z.device)
    if m < d:
        G = z @ z.T
        size = chunk_rows(8.0 * 3 * m * m)
        for sl in iter_chunks(int(keep.numel()), size):
            J = keep[sl]
            s = W[:, J].T.sqrt()  # (|J|, m)
            S = s[:, :, None] * G[None] * s[:, None, :]
            total += (tr[J] / (2 * m) * _logdet_eye_plus(S, d / (tr[J] * eps2), P.log_scale2)).sum()
    else:
        size = chunk_rows(8.0 * (d * m + 3 * d * d))
        for sl in iter_chunks(int(keep.numel()), size):
            J = keep[sl]
            zw = z.T[None] * W[:, J].T[:, None, :]  # (|J|, d, m)
            A = zw @ z
            total += (tr[J] / (2 * m) * _logdet_eye_plus(A, d / (tr[J] * eps2), P.log_scale2)).sum()
    return float(total)


def _check_membership(membership: Any, m: int) -> torch.Tensor:
    W = check_array(membership, name="membership", shape_hint="(n_samples, n_groups)")
    if W.shape[0] != m:
        raise ValueError(
            f"membership must have one row per sample ({m}); got shape {tuple(W.shape)}."
        )
    Wt, _ = to_torch(W)
    # rows are checked to the precision the membership was given in (half precision: ~1e-3)
    tol = max(1e-4, 4 * torch.finfo(Wt.dtype).eps * Wt.shape[1])
    Wt = Wt.to(_F64)
    if bool((Wt < 0).any()):
        raise ValueError("membership must be non-negative; got negative entries.")
    err = float((Wt.sum(1) - 1).abs().max())
    if err > tol:
        raise ValueError(
            "membership rows must sum to 1 (each sample's memberships form a distribution); "
            f"got a maximum deviation of {err:.3g} (tolerance {tol:.2g})."
        )
    # exact unit row sums (ΔR ≥ 0 needs them; half-precision memberships are off by ~1e-3)
    return Wt / Wt.sum(1, keepdim=True)


def _kmeans(P: _Rows, n_clusters: int, random_state: Any) -> np.ndarray:
    from sklearn.cluster import KMeans

    rng = check_random_state(random_state)
    Zn = to_numpy(P(slice(None)))
    if n_clusters > Zn.shape[0]:
        raise ValueError(f"n_clusters must be <= n_samples ({Zn.shape[0]}); got {n_clusters}.")
    km = KMeans(n_clusters=n_clusters, n_init=10, random_state=int(rng.integers(0, 2**31 - 1)))
    return km.fit_predict(Zn).astype(np.int64)


def _resolve_groups(
    P: _Rows,
    y: Any,
    membership: Any,
    n_clusters: Any,
    random_state: Any,
) -> tuple[np.ndarray | None, torch.Tensor | None]:
    given = [
        name
        for name, v in (("y", y), ("membership", membership), ("n_clusters", n_clusters))
        if v is not None
    ]
    if len(given) != 1:
        raise ValueError(
            "give exactly one of y (class labels), membership or n_clusters (k-means clusters); "
            f"got {given or 'none'}."
        )
    m = P.m
    if y is not None:
        return check_labels(y, n_samples=m, name="y"), None
    if membership is not None:
        return None, _check_membership(membership, m)
    k = check_positive_int(n_clusters, "n_clusters")
    return _kmeans(P, k, random_state), None


def _prepare(Z: Any, normalize: bool, name: str = "Z", sink: list[str] | None = None) -> _Rows:
    """Validated rows (see :class:`_Rows`); all-zero rows stay zero with a warning."""
    Z = check_array(Z, name=name, shape_hint="(n_samples, n_features)")
    Zt, _ = to_torch(Z)
    P = _Rows(Zt, normalize)
    if normalize:
        if P.np_rows is not None:
            n_zero = int((np.abs(P.np_rows).max(1) == 0).sum()) if P.d else 0
        else:
            n_zero = int((Zt.abs().amax(1) == 0).sum())
        P.n_zero_rows = n_zero
        if n_zero:
            _warn(
                f"{name} has {n_zero} all-zero row(s); they cannot be L2-normalised and are kept as "
                "zeros (they add nothing to any coding rate).",
                UserWarning,
                sink,
                stacklevel=3,
            )
    else:
        P.n_zero_rows = 0
    return P


# ----------------------------------------------------------------------------- public rates
def coding_rate(Z: Any, *, eps2: float = 0.5, normalize: bool = True) -> float:
    """Coding rate ``R(Z, ε) = ½ logdet(I_d + d/(m ε²) ZᵀZ)`` in nats.

    Parameters
    ----------
    Z : array_like or Tensor of shape (n_samples, n_features)
        Representations (NumPy or torch, any device).
    eps2 : float, default=0.5
        Squared distortion ``ε²`` (the MCR² default for supervised training).
    normalize : bool, default=True
        L2-normalise rows first (the MCR² convention; makes R scale-invariant).

    Returns
    -------
    R : float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import coding_rate
    >>> Z = np.eye(4)                                      # 4 orthonormal rows in R^4
    >>> round(coding_rate(Z, eps2=0.5), 4), round(float(2 * np.log(1 + 4 / (4 * 0.5))), 4)
    (2.1972, 2.1972)
    """
    eps2 = _check_eps2(eps2)
    return _rate(_prepare(Z, normalize), eps2)


def compressed_coding_rate(
    Z: Any,
    y: Any = None,
    *,
    membership: Any = None,
    eps2: float = 0.5,
    normalize: bool = True,
) -> float:
    """Coding rate of ``Z`` given a partition, ``R_c(Z, ε | Π)``, in nats.

    Parameters
    ----------
    Z : array_like or Tensor of shape (n_samples, n_features)
    y : array_like of shape (n_samples,), optional
        Integer group labels (hard membership).
    membership : array_like of shape (n_samples, n_groups), optional
        Soft membership ``π_{ij} ≥ 0`` with rows summing to 1; column ``j`` is the diagonal of
        ``Π_j``. The MLC membership of :func:`doubly_stochastic_membership` (n_groups = n_samples)
        is one. Give exactly one of ``y`` and ``membership``.
    eps2 : float, default=0.5
    normalize : bool, default=True

    Returns
    -------
    R_c : float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import compressed_coding_rate
    >>> Z = np.repeat(np.eye(3), 5, axis=0)                # 3 groups, each one repeated direction
    >>> y = np.repeat([0, 1, 2], 5)
    >>> round(compressed_coding_rate(Z, y), 4), round(float(0.5 * np.log(1 + 3 / 0.5)), 4)
    (0.973, 0.973)
    """
    eps2 = _check_eps2(eps2)
    P = _prepare(Z, normalize)
    if (y is None) == (membership is None):
        raise ValueError("give exactly one of y (class labels) and membership.")
    lab, W = _resolve_groups(P, y, membership, None, None)
    if W is not None:
        return _rate_c_membership(P, W, eps2)
    return _rate_c_labels(P, lab, eps2)


def coding_rate_reduction(
    Z: Any,
    y: Any = None,
    *,
    membership: Any = None,
    n_clusters: int | None = None,
    eps2: float = 0.5,
    normalize: bool = True,
    random_state: Any = 0,
) -> float:
    """Rate reduction ``ΔR = R(Z, ε) − R_c(Z, ε | Π)`` (MCR², Yu et al. 2020), in nats.

    Parameters
    ----------
    Z : array_like or Tensor of shape (n_samples, n_features)
    y : array_like of shape (n_samples,), optional
        Integer class labels.
    membership : array_like of shape (n_samples, n_groups), optional
        Soft membership (rows sum to 1), e.g. from :func:`doubly_stochastic_membership`.
    n_clusters : int, optional
        Without labels: partition by k-means (10 restarts) on the normalised rows.
        Exactly one of ``y``, ``membership`` and ``n_clusters`` is required.
    eps2 : float, default=0.5
        Squared distortion ``ε²``.
    normalize : bool, default=True
        L2-normalise rows first.
    random_state : int, Generator or None, default=0
        Seeds k-means.

    Returns
    -------
    delta_r : float
        ``≥ 0`` (concavity of logdet) for any membership whose rows sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import coding_rate_reduction
    >>> rng = np.random.default_rng(0)
    >>> basis = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    >>> y = np.repeat([0, 1, 2], 100)
    >>> orth = np.vstack([rng.standard_normal((100, 4)) @ basis[4 * c : 4 * c + 4] for c in range(3)])
    >>> same = np.vstack([rng.standard_normal((100, 4)) @ basis[:4] for _ in range(3)])
    >>> coding_rate_reduction(orth, y) > coding_rate_reduction(same, y) > 0
    True
    """
    eps2 = _check_eps2(eps2)
    P = _prepare(Z, normalize)
    lab, W = _resolve_groups(P, y, membership, n_clusters, random_state)
    r = _rate(P, eps2)
    rc = _rate_c_membership(P, W, eps2) if W is not None else _rate_c_labels(P, lab, eps2)
    return r - rc


class CodingRateReduction(BaseEstimator):
    """MCR² rate reduction ΔR of a representation given a partition, as a fitted metric.

    ΔR scores one representation (it is neither a similarity nor a distance between two); it is
    in nats and **higher is better**: larger ΔR means more compressed, more mutually incoherent
    groups.

    Parameters
    ----------
    eps2 : float, default=0.5
    n_clusters : int, optional
        Used when :meth:`fit` gets no labels: k-means partition into ``n_clusters`` groups.
    normalize : bool, default=True
    random_state : int, Generator or None, default=0
        Seeds k-means.

    Attributes
    ----------
    coding_rate_ : float
        ``R(Z, ε)``.
    compressed_coding_rate_ : float
        ``R_c(Z, ε | Π)``.
    delta_r_ : float
        ``R − R_c``.
    labels_ : ndarray of shape (n_samples,)
        The partition used (the labels, or the k-means clusters).
    n_zero_rows_ : int
        All-zero rows of ``X`` (dead units everywhere): they cannot be normalised and add
        nothing to any rate (0 when ``normalize=False``).
    warnings_ : list of str
        Text of every warning issued by the last :meth:`fit`, kept so that a loop over layers
        or checkpoints does not lose them.
    n_features_in_ : int
    higher_is_better : bool
        ``True`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import CodingRateReduction
    >>> Z = np.repeat(np.eye(3), 10, axis=0) + 0.01 * np.random.default_rng(0).standard_normal((30, 3))
    >>> crr = CodingRateReduction(n_clusters=3, random_state=0).fit(Z)
    >>> len(set(crr.labels_.tolist())), round(crr.delta_r_, 2)   # ½·3·log 3 − ½·log 7 ≈ 0.67
    (3, 0.67)
    """

    higher_is_better = True

    def __init__(
        self,
        *,
        eps2: float = 0.5,
        n_clusters: int | None = None,
        normalize: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.eps2 = eps2
        self.n_clusters = n_clusters
        self.normalize = normalize
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> CodingRateReduction:
        """Compute R, R_c and ΔR of ``X`` (n_samples, n_features) with labels ``y`` (or k-means).

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)
        y : array_like of shape (n_samples,), optional
            Integer class labels; without them the k-means clusters of ``n_clusters``.

        Returns
        -------
        self
        """
        eps2 = _check_eps2(self.eps2)
        sink: list[str] = []
        P = _prepare(X, self.normalize, name="X", sink=sink)
        if y is None and self.n_clusters is None:
            raise ValueError("fit needs labels y or n_clusters (for k-means); got neither.")
        lab, _ = _resolve_groups(
            P, y, None, None if y is not None else self.n_clusters, self.random_state
        )
        self.labels_ = lab
        self.coding_rate_ = _rate(P, eps2)
        self.compressed_coding_rate_ = _rate_c_labels(P, lab, eps2)
        self.delta_r_ = self.coding_rate_ - self.compressed_coding_rate_
        self.n_zero_rows_ = int(P.n_zero_rows)
        self.warnings_ = sink
        self.n_features_in_ = P.d
        return self

    def score(self, X: Any, y: Any = None) -> float:
        """ΔR of ``X`` (with labels ``y`` or k-means clusters), computed afresh; higher is better.

        A metric, not a prediction: it needs no prior :meth:`fit` and leaves this estimator
        unchanged.
        """
        return clone(self).fit(X, y).delta_r_


# ----------------------------------------------------------------------------- MLC membership
def _dense_guard(n: int, what: str) -> None:
    need = 8 * 4 * n * n
    budget = get_memory_budget()
    if need > budget:
        raise ValueError(
            f"{what} builds dense {n}×{n} matrices (~{need / 2**20:.0f} MiB) over the memory budget "
            f"({budget / 2**20:.0f} MiB); subsample the points or raise the budget with "
            "repgeo._backend.memory_budget(...)."
        )


def doubly_stochastic_membership(
    C: Any,
    *,
    eta: float = 0.1,
    normalize: bool = True,
    max_iter: int = 2000,
    tol: float = 1e-6,
) -> Any:
    """Doubly stochastic membership of MLC: Sinkhorn projection of ``|C Cᵀ|``.

    Solves ``max_Π ⟨Π, |C Cᵀ|⟩ + η H(Π)`` over symmetric non-negative ``Π`` with unit row and
    column sums (Ding et al., 2023), i.e. ``Π = diag(u) exp(|C Cᵀ|/η) diag(u)``, found by
    damped symmetric Sinkhorn iterations in the log domain.

    Parameters
    ----------
    C : array_like or Tensor of shape (n_samples, n_features)
        Cluster features (MLC's cluster head; the representation itself works for a union of
        well-separated manifolds).
    eta : float, default=0.1
        Entropic regularisation: small η concentrates each row on the most similar points,
        large η spreads it uniformly.
    normalize : bool, default=True
        L2-normalise rows of ``C`` (similarities are then absolute cosines in [0, 1]).
    max_iter : int, default=2000
    tol : float, default=1e-6
        Stop when every row sum is within ``tol`` of 1. A :class:`RuntimeWarning` is issued
        if this is not reached.

    Returns
    -------
    Pi : ndarray or Tensor of shape (n_samples, n_samples)
        Symmetric, non-negative, rows and columns summing to 1 (``Π/n`` is a joint
        distribution with uniform marginals). Dense: memory ``O(n²)``; refused beyond the
        memory budget.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import doubly_stochastic_membership
    >>> C = np.random.default_rng(0).standard_normal((50, 5))
    >>> P = doubly_stochastic_membership(C, eta=0.2)
    >>> bool(np.allclose(P.sum(0), 1, atol=1e-5)), bool(np.allclose(P, P.T))
    (True, True)
    """
    Pi, _, _ = _sinkhorn(C, eta, normalize, max_iter, tol, None)
    return Pi


def _sinkhorn(
    C: Any, eta: Any, normalize: bool, max_iter: Any, tol: Any, sink: list[str] | None
) -> tuple[Any, bool, int]:
    """:func:`doubly_stochastic_membership` with its convergence: ``(Pi, converged, n_iter)``."""
    eta = float(check_scalar(eta, "eta", min_val=0.0, include_min=False))
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = float(check_scalar(tol, "tol", min_val=0.0, include_min=False))
    C = check_array(C, name="C", min_samples=2)
    Ct, back = to_torch(C)
    n = C.shape[0]
    _dense_guard(n, "doubly_stochastic_membership")
    c = Ct.to(_F64)
    if normalize:
        norms = _row_norms(c)
        n_zero = int((norms == 0).sum())
        if n_zero:
            _warn(
                f"C has {n_zero} all-zero row(s); they cannot be L2-normalised and are kept as "
                "zeros (similarity 0 to every point).",
                UserWarning,
                sink,
                stacklevel=3,
            )
        c = c / norms.clamp_min(torch.finfo(_F64).tiny)[:, None]
    logK = (c @ c.T).abs() / eta
    if not bool(torch.isfinite(logK).all()):
        raise ValueError(
            "|C Cᵀ| / eta overflows float64 (C is too large for normalize=False): rescale C, use "
            "normalize=True or a larger eta."
        )
    f = torch.zeros(n, dtype=_F64, device=c.device)
    converged, n_iter = False, 0
    while n_iter < max_iter:
        n_iter += 1
        lse = torch.logsumexp(logK + f[None, :], dim=1)
        if float((torch.exp(f + lse) - 1).abs().max()) < tol:
            converged = True
            break
        f = 0.5 * (f - lse)
    if not converged:
        _warn(
            f"Sinkhorn did not reach tol={tol:g} in {max_iter} iterations; increase max_iter or eta.",
            RuntimeWarning,
            sink,
            stacklevel=3,
        )
    Pi = torch.exp(f[:, None] + logK + f[None, :])
    Pi = (Pi + Pi.T) / 2
    return back(Pi), converged, n_iter


def membership_clustering(membership: Any, n_clusters: int, *, random_state: Any = 0) -> np.ndarray:
    """Cluster labels from a symmetric doubly stochastic membership by spectral clustering.

    ``Π`` has unit degrees, so its leading ``n_clusters`` eigenvectors are the normalised
    spectral embedding (Ng, Jordan & Weiss, 2002); rows are L2-normalised and grouped by k-means.

    Parameters
    ----------
    membership : array_like of shape (n_samples, n_samples)
        Symmetric non-negative affinity (e.g. from :func:`doubly_stochastic_membership`).
    n_clusters : int
    random_state : int, Generator or None, default=0
        Seeds k-means.

    Returns
    -------
    labels : ndarray of shape (n_samples,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import membership_clustering
    >>> P = np.kron(np.eye(2), np.full((3, 3), 1 / 3))      # two blocks
    >>> membership_clustering(P, 2, random_state=0).tolist() in ([0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 0, 0])
    True
    """
    P = check_array(membership, name="membership", shape_hint="(n_samples, n_samples)")
    if P.shape[0] != P.shape[1]:
        raise ValueError(
            f"membership must be square (n_samples, n_samples); got shape {tuple(P.shape)}."
        )
    n = P.shape[0]
    k = check_positive_int(n_clusters, "n_clusters", max_val=n)
    _dense_guard(n, "membership_clustering")
    Pt, _ = to_torch(P)
    Pt = Pt.to(_F64)
    if bool((Pt < 0).any()):
        raise ValueError("membership must be non-negative; got negative entries.")
    if not torch.allclose(Pt, Pt.T, atol=1e-8, rtol=1e-6):
        raise ValueError("membership must be symmetric; got an asymmetric matrix.")
    deg = Pt.sum(1).clamp_min(1e-300).rsqrt()
    _, vecs = torch.linalg.eigh(deg[:, None] * Pt * deg[None, :])
    emb = vecs[:, -k:]
    emb = emb / torch.linalg.vector_norm(emb, dim=1, keepdim=True).clamp_min(1e-300)
    from sklearn.cluster import KMeans

    rng = check_random_state(random_state)
    km = KMeans(n_clusters=k, n_init=10, random_state=int(rng.integers(0, 2**31 - 1)))
    return km.fit_predict(to_numpy(emb)).astype(np.int64)


class ManifoldClustering(ClusterMixin, BaseEstimator):
    """Unsupervised groups by the MLC doubly stochastic membership, with its rate reduction.

    The reported ``delta_r_`` is a score of the representation (neither a similarity nor a
    distance), in nats; higher is better.

    Parameters
    ----------
    n_clusters : int
        Number of groups (required: the number of manifolds is the user's to give).
    eta : float, default=0.1
        Entropic regularisation of the Sinkhorn projection.
    eps2 : float, default=0.5
        Distortion of the reported rate reduction.
    normalize : bool, default=True
    random_state : int, Generator or None, default=0
        Seeds the spectral k-means.

    Attributes
    ----------
    membership_ : ndarray or Tensor of shape (n_samples, n_samples)
        Doubly stochastic membership Π.
    labels_ : ndarray of shape (n_samples,)
        Spectral clustering of Π.
    delta_r_ : float
        ``R(Z) − R_c(Z | Π)`` with the soft membership (MLC's objective without its entropy term).
    converged_ : bool
        Whether the Sinkhorn iterations reached the tolerance (1e-6 on the row sums).
    n_iter_ : int
        Sinkhorn iterations run.
    warnings_ : list of str
        Text of every warning issued by the last :meth:`fit` (unconverged Sinkhorn, zero rows).
    n_features_in_ : int
    higher_is_better : bool
        ``True`` for ``delta_r_`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import ManifoldClustering, clustering_accuracy
    >>> rng = np.random.default_rng(0)
    >>> t = rng.uniform(0, 2 * np.pi, (3, 60))
    >>> U = np.linalg.qr(rng.standard_normal((20, 6)))[0]
    >>> Z = np.vstack([np.c_[np.cos(t[c]), np.sin(t[c])] @ U[:, 2 * c : 2 * c + 2].T for c in range(3)])
    >>> mc = ManifoldClustering(n_clusters=3, random_state=0).fit(Z)
    >>> clustering_accuracy(np.repeat([0, 1, 2], 60), mc.labels_)
    1.0
    """

    higher_is_better = True

    def __init__(
        self,
        *,
        n_clusters: int,
        eta: float = 0.1,
        eps2: float = 0.5,
        normalize: bool = True,
        random_state: Any = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.eta = eta
        self.eps2 = eps2
        self.normalize = normalize
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> ManifoldClustering:
        """Membership, clusters and rate reduction of ``X`` (n_samples, n_features); ``y`` is ignored."""
        eps2 = _check_eps2(self.eps2)
        X = check_array(X, name="X", min_samples=2)
        check_positive_int(self.n_clusters, "n_clusters", max_val=X.shape[0])
        sink: list[str] = []
        self.membership_, self.converged_, self.n_iter_ = _sinkhorn(
            X, self.eta, self.normalize, 2000, 1e-6, sink
        )
        self.labels_ = membership_clustering(
            self.membership_, self.n_clusters, random_state=self.random_state
        )
        P = _prepare(X, self.normalize, name="X", sink=sink if not self.normalize else None)
        W, _ = to_torch(self.membership_)
        self.delta_r_ = _rate(P, eps2) - _rate_c_membership(P, W.to(_F64), eps2)
        self.warnings_ = sink
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_predict(self, X: Any, y: Any = None) -> np.ndarray:
        """Fit and return ``labels_`` (``y`` is ignored)."""
        return self.fit(X).labels_


def clustering_accuracy(y_true: Any, y_pred: Any) -> float:
    """Accuracy of a clustering under the best one-to-one matching of clusters to classes.

    The matching maximises the number of agreements (Hungarian algorithm); with more clusters
    than classes, points of unmatched clusters count as errors.

    Parameters
    ----------
    y_true, y_pred : array_like of shape (n_samples,)
        Integer labels (any values).

    Returns
    -------
    acc : float in [0, 1]

    Examples
    --------
    >>> from repgeo.coding import clustering_accuracy
    >>> round(clustering_accuracy([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 3, 9]), 4)
    0.8333
    """
    from scipy.optimize import linear_sum_assignment

    a = check_labels(y_true, name="y_true")
    b = check_labels(y_pred, name="y_pred")
    if a.shape[0] != b.shape[0]:
        raise ValueError(
            f"y_true and y_pred must have the same length; got {a.shape[0]} and {b.shape[0]}."
        )
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = np.zeros((ia.max() + 1, ib.max() + 1), dtype=np.int64)
    np.add.at(table, (ia.ravel(), ib.ravel()), 1)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum() / a.shape[0])
