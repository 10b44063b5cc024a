"""Diffusion spectral entropy (DSE) and diffusion spectral mutual information (DSMI).

For points ``x_1..x_n`` and a Gaussian kernel ``G_ij = exp(-‖x_i - x_j‖² / (2σ²))``, the matrix
``K = D^{-1/2} G D^{-1/2}`` (``D = diag(G 1)``) has the spectrum ``λ_i`` of the random walk
``P = D^{-1} G``. With ``p_i = |λ_i|^t / Σ_j |λ_j|^t``::

    DSE = -Σ_i p_i log2 p_i ∈ [0, log2 n]

(Liao et al. 2023). ``DSE ≈ log2 n`` when the points are far apart relative to ``σ`` (``K ≈ I``) and
``≈ 0`` when they form one tight cluster (``K ≈ 11ᵀ/n``). The value therefore depends on ``σ``: a
fixed ``σ`` (the reference package uses 10) makes DSE depend on the scale of the data. Here the
bandwidth is *data-adaptive* by default, so DSE is invariant to rescaling the data, and the ``σ``
actually used is returned:

* ``"median"`` — the median pairwise distance (over all pairs for ``n <= 3000``, else over a seeded
  sample of 200,000 pairs); the classical median heuristic;
* ``"knn"`` — the median over points of the distance to the ``k``-th nearest neighbour (local);
* a float — a fixed ``σ`` (use it to compare with the reference package).

DSMI(Z; Y) = Σ_y (n_y/n) [ mean_r DSE(Z_r) − DSE(Z | Y = y) ] where ``Z_r`` are random subsets of
size ``n_y`` (size-matched, as in the reference) and ``σ`` is resolved once on all of ``Z``.

Estimators
----------
``"exact"`` — dense kernel (built in row chunks) and a dense symmetric eigensolver, float64;
agrees with the reference package to ~1e-10 at the same ``σ``. Memory ``~2 · 8n²`` bytes.

``"slq"`` — sparse kernel plus stochastic Lanczos quadrature: entries of ``G`` below
``threshold`` are dropped (radius search through faiss, ``≤ max_neighbors`` per point), and
``Z = tr|K|^t`` and ``S = tr(|K|^t log2 |K|^t)`` are estimated by Gauss quadrature from Lanczos on
Rademacher probes; ``DSE = log2 Z − S / Z`` with a jackknife standard error over probes. The kernel
mass the truncation drops is measured exactly on a sample of rows and reported (with a warning
above 1 %). The top of the spectrum (``deflation`` eigenvalues) is resolved by subspace iteration
and counted exactly, which removes most of the Hutchinson variance. Memory
``O(nnz + n · block)``, never ``n × n``. With ``operator="dense"`` the kernel is applied
matrix-free and exactly instead (``O(n² d)`` per Lanczos step; for GPUs or wide bandwidths).

References
----------
Liao, Liu et al., "Assessing Neural Network Representations During Training Using
Noise-Resilient Diffusion Spectral Entropy", arXiv:2312.04823 (2023). Ubaru, Chen & Saad,
SIAM J. Matrix Anal. Appl. 38 (2017) (stochastic Lanczos quadrature).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._backend import chunk_rows, iter_chunks, to_numpy, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_random_state,
    check_scalar,
    torch_generator,
)
from ..neighbors import knn
from .spectral import slq

__all__ = [
    "DSEResult",
    "DSMIResult",
    "DiffusionSpectralEntropy",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_information",
    "gaussian_bandwidth",
]

_EXACT_MAX = 4000


@dataclass
class DSEResult:
    """Diffusion spectral entropy and how it was obtained.

    Attributes
    ----------
    entropy : float
        DSE in bits.
    sigma : float
        The Gaussian bandwidth used.
    t : float
        Diffusion power.
    method : str
        ``"exact"`` or ``"slq"``.
    n_samples : int
    stderr : float
        Standard error of the stochastic estimate (0 for exact).
    info : dict
        Estimator details (probes, Lanczos steps, edges, dropped kernel mass, ...).
    """

    entropy: float
    sigma: float
    t: float
    method: str
    n_samples: int
    stderr: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.entropy)


@dataclass
class DSMIResult:
    """Diffusion spectral mutual information ``DSMI(Z; Y)`` in bits and its parts.

    Attributes
    ----------
    mi : float
    sigma : float
    per_class : dict
        ``{label: (n_y, mean DSE of size-matched random subsets, DSE(Z | Y = y))}``.
    stderr : float
        Propagated standard error (0 when every DSE was exact).
    """

    mi: float
    sigma: float
    t: float
    per_class: dict[int, tuple[int, float, float]]
    stderr: float = 0.0

    def __float__(self) -> float:
        return float(self.mi)


def _median_pairwise(X: torch.Tensor, rng: np.random.Generator, max_pairs: int = 200_000) -> float:
    n = X.shape[0]
    if n * (n - 1) // 2 <= max_pairs or n <= 3000:
        d = torch.nn.functional.pdist(X)
    else:
        i = torch.as_tensor(rng.integers(0, n, max_pairs), device=X.device)
        j = torch.as_tensor(rng.integers(0, n - 1, max_pairs), device=X.device)
        j = j + (j >= i).long()  # distinct pairs
        d = (X[i] - X[j]).norm(dim=1)
    return float(np.median(d.cpu().numpy()))  # the average of the two middle values


def gaussian_bandwidth(
    X: Any, bandwidth: Any = "median", *, k: int = 10, random_state: Any = 0
) -> float:
    """Resolve a Gaussian bandwidth ``σ`` for ``X`` (see the module docstring).

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
    bandwidth : {"median", "knn"} or float, default="median"
    k : int, default=10
        Neighbour rank for ``"knn"``.
    random_state : int, optional
        Seed of the pair sample for ``"median"`` on large ``n``.

    Returns
    -------
    sigma : float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import gaussian_bandwidth
    >>> X = np.random.default_rng(0).normal(size=(200, 5))
    >>> s = gaussian_bandwidth(X)
    >>> bool(np.isclose(gaussian_bandwidth(3 * X), 3 * s))
    True
    """
    X = check_array(X, name="X", min_samples=2)
    if isinstance(bandwidth, str):
        check_choice(bandwidth, "bandwidth", ("median", "knn"))
        Xt, _ = to_torch(X, dtype=torch.float64)
        if bandwidth == "median":
            sigma = _median_pairwise(Xt, check_random_state(random_state))
        else:
            k = check_positive_int(k, "k", max_val=X.shape[0] - 1)
            d, _ = knn(np.asarray(to_numpy(X), dtype=np.float64), k)
            sigma = float(np.median(d[:, k - 1]))
        if not sigma > 0:
            raise ValueError(
                f"the {bandwidth!r} bandwidth of X is 0 (duplicated points); pass a positive float."
            )
        return sigma
    return float(check_scalar(bandwidth, "bandwidth", min_val=0.0, include_min=False))


def _entropy_from_eigs(lam: torch.Tensor, t: float) -> float:
    a = lam.abs() ** t
    p = a / a.sum()
    return float(-torch.special.xlogy(p, p).sum() / math.log(2.0))


def _dense_kernel_eigs(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eigenvalues of ``D^{-1/2} G D^{-1/2}`` with ``G`` built in row chunks, in place."""
    n = X.shape[0]
    sq = (X * X).sum(1)
    G = torch.empty(n, n, dtype=torch.float64, device=X.device)
    rows = chunk_rows(8.0 * n * 2, maximum=n)
    for sl in iter_chunks(n, rows):
        blk = sq[sl, None] + sq[None, :] - 2.0 * X[sl] @ X.T
        G[sl] = torch.exp(-blk.clamp_min_(0.0) / (2.0 * sigma * sigma))
    G.fill_diagonal_(1.0)
    s = G.sum(1).rsqrt()
    G.mul_(s[:, None]).mul_(s[None, :])
    return torch.linalg.eigvalsh(G)


class _DenseKernelOperator:
    """Matrix-free ``K = D^{-1/2} G D^{-1/2}`` with ``G`` re-evaluated in row chunks (exact kernel,
    ``O(n²d)`` work per product and ``O(chunk · n)`` memory — meant for GPUs or moderate ``n``)."""

    def __init__(self, X: torch.Tensor, sigma: float) -> None:
        self.X = X
        self.sq = (X * X).sum(1)
        self.c = 1.0 / (2.0 * sigma * sigma)
        self.rows = chunk_rows(8.0 * X.shape[0] * 3, maximum=X.shape[0])
        ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
        self.s = self._gmul(ones)[:, 0].rsqrt()

    def _gmul(self, V: torch.Tensor) -> torch.Tensor:
        out = torch.empty(self.X.shape[0], V.shape[1], dtype=V.dtype, device=V.device)
        for sl in iter_chunks(self.X.shape[0], self.rows):
            blk = self.sq[sl, None] + self.sq[None, :] - 2.0 * self.X[sl] @ self.X.T
            out[sl] = torch.exp(-blk.clamp_min_(0.0) * self.c) @ V
        return out

    def __call__(self, V: torch.Tensor) -> torch.Tensor:
        return self.s[:, None] * self._gmul(self.s[:, None] * V)


def _slq_entropy(
    X: np.ndarray,
    sigma: float,
    t: float,
    *,
    operator: str,
    threshold: float,
    max_neighbors: int,
    n_probes: int,
    steps: int,
    device: Any,
    rng: np.random.Generator,
    deflation: int = 64,
    power_iterations: int = 4,
) -> tuple[float, float, dict[str, Any]]:
    from .graph import build_graph

    n = X.shape[0]
    info: dict[str, Any] = {"operator": operator, "n_probes": n_probes, "lanczos_steps": steps}
    if operator == "dense":
        matvec = _DenseKernelOperator(torch.from_numpy(X).to(device), sigma)
        dev = torch.device(device) if device is not None else torch.device("cpu")
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # disconnected kernels are fine for DSE
            g = build_graph(
                X,
                k=1,
                kernel="gaussian",
                bandwidth=sigma,
                threshold=threshold,
                max_neighbors=min(max_neighbors, n - 1),
                device=device,
            )
        dev = g.device

        def matvec(V: torch.Tensor) -> torch.Tensor:
            return g.matmul(V, normalize="symmetric")

        # exact kernel mass the truncation drops, on a sample of rows
        m = min(n, 256)
        idx = rng.choice(n, m, replace=False)
        Xt = torch.from_numpy(X).to(dev)
        full = torch.exp(-torch.cdist(Xt[idx], Xt).pow(2) / (2 * sigma * sigma)).sum(1)
        kept = torch.from_numpy(g.degrees[idx]).to(dev)
        info.update(
            edges=int(g.weights.size),
            threshold=threshold,
            dropped_kernel_mass=float(((full - kept).clamp_min(0) / full).mean()),
        )
        if info["dropped_kernel_mass"] > 0.01:
            warnings.warn(
                f"the sparse kernel drops {100 * info['dropped_kernel_mass']:.1f}% of the kernel mass "
                f"(bandwidth {sigma:.4g} is wide relative to max_neighbors={max_neighbors}); the SLQ "
                "estimate is biased. Use operator='dense', method='exact', a smaller bandwidth or "
                "more neighbours.",
                UserWarning,
                stacklevel=4,
            )
    ln2 = math.log(2.0)

    def f_pow(th: torch.Tensor) -> torch.Tensor:
        return th.abs() ** t

    def f_ent(th: torch.Tensor) -> torch.Tensor:
        a = th.abs() ** t
        return torch.special.xlogy(a, a) / ln2

    gen = torch_generator(rng, device="cpu")
    # Deflation: the top of the spectrum carries most of Σ|λ|^t for wide kernels and makes the
    # Hutchinson estimate noisy; resolve it by subspace iteration + Rayleigh-Ritz and estimate
    # only the rest by SLQ on P K P (P projects out the subspace). Exact when the subspace is
    # invariant; the largest Ritz residual is reported.
    Z0 = S0 = 0.0
    Q = None
    r = min(deflation, n - 2)
    if r > 0:
        Y = torch.randn(n, r + 8, generator=gen, dtype=torch.float64).to(dev)
        for _ in range(power_iterations):
            Y = matvec(torch.linalg.qr(Y)[0])
        Qb = torch.linalg.qr(Y)[0]
        KQ = matvec(Qb)
        theta, W = torch.linalg.eigh(0.5 * (Qb.T @ KQ + KQ.T @ Qb))
        top = theta.abs().argsort(descending=True)[:r]
        theta, Q = theta[top], Qb @ W[:, top]
        resid = (KQ @ W[:, top] - Q * theta).norm(dim=0)
        Z0, S0 = float(f_pow(theta).sum()), float(f_ent(theta).sum())
        info.update(deflation=int(r), max_ritz_residual=float(resid.max()))

        def defl(V: torch.Tensor, Q: torch.Tensor = Q) -> torch.Tensor:
            V = V - Q @ (Q.T @ V)
            W_ = matvec(V)
            return W_ - Q @ (Q.T @ W_)

        op = defl
    else:
        op = matvec
    res = slq(
        op, n, [f_pow, f_ent], n_probes=n_probes, steps=steps, generator=gen, device=dev, deflate=Q
    )
    Zp, Sp = res.estimates
    Zp, Sp = Zp + Z0, Sp + S0
    Z, S = Zp.mean(), Sp.mean()
    value = math.log2(Z) - S / Z
    # jackknife standard error over probes (the ratio estimator is not linear in the probes)
    p = len(Zp)
    Zj = (Z * p - Zp) / (p - 1)
    Sj = (S * p - Sp) / (p - 1)
    vals = np.log2(Zj) - Sj / Zj
    stderr = float(np.sqrt((p - 1) / p * ((vals - vals.mean()) ** 2).sum()))
    return float(value), stderr, info


def _dse(
    Xt: torch.Tensor,
    sigma: float,
    t: float,
    method: str,
    *,
    operator: str,
    threshold: float,
    max_neighbors: int,
    n_probes: int,
    steps: int,
    deflation: int,
    rng: np.random.Generator,
) -> DSEResult:
    n = Xt.shape[0]
    if n == 1:
        return DSEResult(0.0, sigma, t, "exact", 1)
    meth = method if method != "auto" else ("exact" if n <= _EXACT_MAX else "slq")
    if meth == "exact":
        lam = _dense_kernel_eigs(Xt, sigma)
        return DSEResult(_entropy_from_eigs(lam, t), sigma, t, "exact", n)
    value, stderr, info = _slq_entropy(
        Xt.cpu().numpy(),
        sigma,
        t,
        operator=operator,
        threshold=threshold,
        max_neighbors=max_neighbors,
        n_probes=n_probes,
        steps=steps,
        device=Xt.device,
        rng=rng,
        deflation=deflation,
    )
    return DSEResult(value, sigma, t, "slq", n, stderr, info)


def _check_common(
    t: Any,
    method: str,
    operator: str,
    threshold: Any,
    max_neighbors: Any,
    n_probes: Any,
    steps: Any,
    deflation: Any,
) -> tuple:
    t = float(check_scalar(t, "t", min_val=0.0, include_min=False))
    check_choice(method, "method", ("auto", "exact", "slq"))
    check_choice(operator, "operator", ("sparse", "dense"))
    threshold = float(
        check_scalar(
            threshold, "threshold", min_val=0.0, max_val=1.0, include_min=False, include_max=False
        )
    )
    return (
        t,
        threshold,
        check_positive_int(max_neighbors, "max_neighbors"),
        check_positive_int(n_probes, "n_probes", min_val=2),
        check_positive_int(steps, "lanczos_steps", min_val=2),
        check_positive_int(deflation, "deflation", min_val=0),
    )


def diffusion_spectral_entropy(
    X: Any,
    *,
    t: float = 1.0,
    bandwidth: Any = "median",
    bandwidth_k: int = 10,
    method: str = "auto",
    operator: str = "sparse",
    threshold: float = 1e-6,
    max_neighbors: int = 1000,
    n_probes: int = 64,
    lanczos_steps: int = 60,
    deflation: int = 64,
    random_state: Any = 0,
) -> DSEResult:
    """Diffusion spectral entropy of a point cloud (bits).

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Points (NumPy or torch; computed in float64 on the tensor's device).
    t : float, default=1
        Diffusion power (``|λ|^t``).
    bandwidth : {"median", "knn"} or float, default="median"
        Gaussian ``σ`` or how to choose it from the data (:func:`gaussian_bandwidth`).
    bandwidth_k : int, default=10
        Neighbour rank for ``bandwidth="knn"``.
    method : {"auto", "exact", "slq"}, default="auto"
        ``"auto"`` is exact up to 4,000 points, stochastic Lanczos quadrature above.
    operator : {"sparse", "dense"}, default="sparse"
        SLQ: the kernel as a sparse matrix truncated at ``threshold`` (``O(nnz)`` per product;
        accurate when ``σ`` is small relative to the spread of the data — the dropped mass is
        reported and a warning is raised above 1 %), or matrix-free and exact (``O(n² d)`` per
        product, for GPUs or a wide ``σ``).
    threshold : float, default=1e-6
        SLQ: kernel entries below this are dropped.
    max_neighbors : int, default=1000
        SLQ: cap on kernel entries per row.
    n_probes, lanczos_steps : int, default=64, 60
        SLQ: Rademacher probes and Lanczos steps (quadrature nodes).
    deflation : int, default=64
        SLQ: the top ``deflation`` eigenvalues (by magnitude) are resolved by subspace iteration
        and Rayleigh–Ritz and counted exactly; SLQ estimates only the rest (much smaller variance
        for wide kernels, whose spectrum is dominated by a few eigenvalues).
    random_state : int, optional
        Seeds the pair sample of the median heuristic and the probes.

    Returns
    -------
    DSEResult
        ``float(result)`` is the entropy; ``result.sigma`` the bandwidth; ``result.stderr`` the
        standard error of the stochastic estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import diffusion_spectral_entropy
    >>> far = np.eye(16) * 100.0                      # 16 points far apart relative to sigma = 1
    >>> round(float(diffusion_spectral_entropy(far, bandwidth=1.0)), 6)
    4.0
    >>> X = np.random.default_rng(0).normal(size=(300, 3))
    >>> a, b = diffusion_spectral_entropy(X), diffusion_spectral_entropy(7.5 * X)
    >>> bool(abs(a.entropy - b.entropy) < 1e-9), bool(np.isclose(b.sigma, 7.5 * a.sigma))
    (True, True)
    """
    X = check_array(X, name="X", min_samples=1)
    t, threshold, max_neighbors, n_probes, steps, deflation = _check_common(
        t, method, operator, threshold, max_neighbors, n_probes, lanczos_steps, deflation
    )
    rng = check_random_state(random_state)
    if X.shape[0] == 1:
        return DSEResult(0.0, float("nan"), t, "exact", 1)
    sigma = gaussian_bandwidth(X, bandwidth, k=bandwidth_k, random_state=rng)
    Xt, _ = to_torch(X, dtype=torch.float64)
    return _dse(
        Xt,
        sigma,
        t,
        method,
        operator=operator,
        threshold=threshold,
        max_neighbors=max_neighbors,
        n_probes=n_probes,
        steps=steps,
        deflation=deflation,
        rng=rng,
    )


def diffusion_spectral_mutual_information(
    Z: Any,
    y: Any,
    *,
    t: float = 1.0,
    bandwidth: Any = "median",
    bandwidth_k: int = 10,
    n_repetitions: int = 5,
    n_clusters: int = 10,
    method: str = "auto",
    operator: str = "sparse",
    threshold: float = 1e-6,
    max_neighbors: int = 1000,
    n_probes: int = 64,
    lanczos_steps: int = 60,
    deflation: int = 64,
    random_state: Any = 0,
) -> DSMIResult:
    """Diffusion spectral mutual information ``DSMI(Z; Y)`` in bits.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Representations.
    y : array_like of shape (n_samples,) of int, or (n_samples, n_ref) of float
        Integer class labels, or a continuous reference that is clustered first (k-means with
        ``n_clusters`` clusters, seeded).
    t, bandwidth, bandwidth_k, method, operator, threshold, max_neighbors, n_probes, lanczos_steps, deflation
        As in :func:`diffusion_spectral_entropy`; ``σ`` is resolved once on all of ``Z``.
    n_repetitions : int, default=5
        Random size-matched subsets per class for the ``DSE(Z)`` term.
    n_clusters : int, default=10
        Clusters for a continuous reference.
    random_state : int, optional

    Returns
    -------
    DSMIResult
        ``float(result)`` is the mutual information (small negative values are possible).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import diffusion_spectral_mutual_information as dsmi
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> Z = rng.normal(size=(200, 8)) + 6 * np.eye(8)[y]
    >>> bool(float(dsmi(Z, y)) > 0.5), bool(abs(float(dsmi(Z, rng.permutation(y)))) < 0.1)
    (True, True)
    """
    Z = check_array(Z, name="Z", min_samples=2)
    n = Z.shape[0]
    t, threshold, max_neighbors, n_probes, steps, deflation = _check_common(
        t, method, operator, threshold, max_neighbors, n_probes, lanczos_steps, deflation
    )
    n_repetitions = check_positive_int(n_repetitions, "n_repetitions")
    rng = check_random_state(random_state)
    labels = _reference_labels(y, n, n_clusters=n_clusters, rng=rng)
    check_consistent_length(Z, labels, names=["Z", "y"])
    sigma = gaussian_bandwidth(Z, bandwidth, k=bandwidth_k, random_state=rng)
    Zt, _ = to_torch(Z, dtype=torch.float64)
    kw = {
        "operator": operator,
        "threshold": threshold,
        "max_neighbors": max_neighbors,
        "n_probes": n_probes,
        "steps": steps,
        "deflation": deflation,
    }
    per_class: dict[int, tuple[int, float, float]] = {}
    mi, var = 0.0, 0.0
    classes, counts = np.unique(labels, return_counts=True)
    for c, n_c in zip(classes, counts):
        idx = torch.as_tensor(np.nonzero(labels == c)[0], device=Zt.device)
        cond = _dse(Zt[idx], sigma, t, method, rng=rng, **kw)
        subs = [
            _dse(
                Zt[torch.as_tensor(rng.choice(n, n_c, replace=False), device=Zt.device)],
                sigma,
                t,
                method,
                rng=rng,
                **kw,
            )
            for _ in range(n_repetitions)
        ]
        marg = float(np.mean([s.entropy for s in subs]))
        w = n_c / n
        mi += w * (marg - cond.entropy)
        var += w * w * (cond.stderr**2 + sum(s.stderr**2 for s in subs) / n_repetitions**2)
        per_class[int(c)] = (int(n_c), marg, cond.entropy)
    return DSMIResult(float(mi), sigma, t, per_class, float(math.sqrt(var)))


def _reference_labels(y: Any, n: int, *, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Integer labels as they are; a float reference (1-D or 2-D) clustered by k-means."""
    arr = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim == 1 and arr.dtype.kind in "iub":
        return check_labels(arr, n_samples=n)
    ref = check_array(arr, name="y", ndim=(1, 2), shape_hint="(n_samples,) or (n_samples, n_ref)")
    ref = np.asarray(ref, dtype=np.float64).reshape(ref.shape[0], -1)
    if ref.shape[0] != n:
        raise ValueError(f"y must have {n} rows (one per sample of Z); got {ref.shape[0]}.")
    n_clusters = check_positive_int(n_clusters, "n_clusters", max_val=n)
    from sklearn.cluster import KMeans

    return KMeans(
        n_clusters=n_clusters, n_init=4, random_state=int(rng.integers(2**31))
    ).fit_predict(ref)


class DiffusionSpectralEntropy(BaseEstimator):
    """Estimator wrapper of :func:`diffusion_spectral_entropy` (and DSMI when ``y`` is given).

    ``fit(X)`` stores ``entropy_``, ``sigma_`` (the bandwidth used), ``stderr_`` and
    ``result_``; ``fit(X, y)`` also ``mutual_information_`` and ``mi_result_``. Both are
    entropies in bits of one representation (neither a similarity nor a distance), and neither
    has a better direction in general, so ``higher_is_better`` is ``None``.

    Parameters
    ----------
    t, bandwidth, bandwidth_k, method, operator, n_probes, lanczos_steps, deflation
        As in :func:`diffusion_spectral_entropy`.
    n_repetitions, n_clusters
        As in :func:`diffusion_spectral_mutual_information` (used when ``y`` is given).
    random_state : int, Generator or None, default=0

    Attributes
    ----------
    result_ : DSEResult
    entropy_, sigma_, stderr_ : float
    mi_result_ : DSMIResult
        Only after ``fit(X, y)``.
    mutual_information_ : float
        Only after ``fit(X, y)``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import DiffusionSpectralEntropy
    >>> X = np.random.default_rng(0).normal(size=(100, 4))
    >>> est = DiffusionSpectralEntropy().fit(X)
    >>> bool(0 < est.entropy_ < np.log2(100)), est.sigma_ > 0
    (True, True)
    """

    higher_is_better = None

    def __init__(
        self,
        *,
        t: float = 1.0,
        bandwidth: Any = "median",
        bandwidth_k: int = 10,
        method: str = "auto",
        operator: str = "sparse",
        n_repetitions: int = 5,
        n_clusters: int = 10,
        n_probes: int = 64,
        lanczos_steps: int = 60,
        deflation: int = 64,
        random_state: Any = 0,
    ) -> None:
        self.t = t
        self.bandwidth = bandwidth
        self.bandwidth_k = bandwidth_k
        self.method = method
        self.operator = operator
        self.deflation = deflation
        self.n_repetitions = n_repetitions
        self.n_clusters = n_clusters
        self.n_probes = n_probes
        self.lanczos_steps = lanczos_steps
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> DiffusionSpectralEntropy:
        """DSE of ``X`` (n_samples, n_features), and DSMI with ``y`` when given.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) of int, or (n_samples, n_ref) of float, optional
            Class labels or a continuous reference (see
            :func:`diffusion_spectral_mutual_information`).

        Returns
        -------
        self
        """
        X = check_array(X, name="X", min_samples=1)
        kw = {
            "t": self.t,
            "bandwidth": self.bandwidth,
            "bandwidth_k": self.bandwidth_k,
            "method": self.method,
            "operator": self.operator,
            "deflation": self.deflation,
            "n_probes": self.n_probes,
            "lanczos_steps": self.lanczos_steps,
            "random_state": self.random_state,
        }
        self.result_ = diffusion_spectral_entropy(X, **kw)
        self.entropy_ = self.result_.entropy
        self.sigma_ = self.result_.sigma
        self.stderr_ = self.result_.stderr
        self.n_features_in_ = int(X.shape[1])
        if y is not None:
            self.mi_result_ = diffusion_spectral_mutual_information(
                X, y, n_repetitions=self.n_repetitions, n_clusters=self.n_clusters, **kw
            )
            self.mutual_information_ = self.mi_result_.mi
        else:  # a refit without y must not leave a previous fit's DSMI behind
            for name in ("mi_result_", "mutual_information_"):
                self.__dict__.pop(name, None)
        return self
