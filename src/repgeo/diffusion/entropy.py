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
agrees with the reference package to ~1e-10 at the same ``σ``. Memory ``16 n²`` bytes (the kernel
and the eigensolver's copy), which must fit the memory budget
(:func:`repgeo.set_memory_budget`; 1 GB by default, i.e. ``n ≤ 8,192``).

``"slq"`` — stochastic Lanczos quadrature; ``Z = tr|K|^t`` and ``S = tr(|K|^t log2 |K|^t)`` are
estimated and ``DSE = log2 Z − S / Z``, with a standard error. Two operators:

* ``operator="sparse"``: the kernel truncated below ``threshold`` (``≤ max_neighbors`` entries per
  row, found through :func:`repgeo.neighbors.knn` in row chunks), a sparse matrix. The kernel
  mass it drops is measured exactly on 256 sampled rows and returned as
  ``result.dropped_kernel_mass``; above 1 % the estimate is biased (a warning is issued and kept
  in ``result.warnings``). Memory: the budget for the chunked neighbour search plus the matrix
  (``≈ 36 · nnz`` bytes while it is built and symmetrised, predicted from the sampled rows
  beforehand; more than the budget is refused).
* ``operator="dense"``: the exact kernel applied matrix-free, rows re-evaluated in chunks
  (``O(n² d)`` work per product, memory within the budget). Never lossy; slow on CPUs at large
  ``n``.
* ``operator="auto"`` (default): the sparse kernel when its predicted dropped mass (from the
  sampled rows, before it is built) is below 1 % and it fits the memory budget, else the dense
  operator. So ``method="auto"`` never returns a truncated (lossy) estimate.

Deflation: an approximate top eigenspace ``Q`` (``deflation`` vectors, by subspace iteration)
splits each trace exactly, ``tr f(K) = Σ_j q_jᵀ f(K) q_j + tr(P f(K) P)`` with ``P = I − QQᵀ``.
The first term is a deterministic Lanczos quadrature from each ``q_j``; the second a Hutchinson
estimate with projected Rademacher probes ``Pv`` (Lanczos on ``K`` itself). The identity holds for
*any* orthonormal ``Q``, so an unconverged deflation (large Ritz residual) only costs variance,
which the jackknife standard error over probes measures: the error bar stays honest. (An earlier
version replaced the top of the spectrum by its Ritz values and ran SLQ on ``PKP``; that is
biased by ~residual² when ``Q`` is not invariant, which on a Swiss roll with the ``"knn"``
bandwidth put the estimate 2.6–6.6 standard errors above the exact value.) The quadrature error
is estimated by comparing the quadrature at ``lanczos_steps`` and at three quarters of them; it
is returned in ``result.info["quadrature_error"]`` and added (in quadrature) to ``stderr``.

References
----------
Liao, Liu et al., "Assessing Neural Network Representations During Training Using
Noise-Resilient Diffusion Spectral Entropy", arXiv:2312.04823 (2023). Ubaru, Chen & Saad,
SIAM J. Matrix Anal. Appl. 38 (2017) (stochastic Lanczos quadrature).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from .._backend import (
    CsrProduct,
    chunk_rows,
    cpu_workers,
    get_memory_budget,
    iter_chunks,
    locality_order,
    memory_budget,
    to_numpy,
    to_torch,
)
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
from .graph import _normalise

__all__ = [
    "DSEAccuracyWarning",
    "DSEResult",
    "DSMIResult",
    "DiffusionSpectralEntropy",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_information",
    "gaussian_bandwidth",
]

_DROPPED_MASS_TOL = 0.01  # "auto" uses the sparse kernel only below 1 % dropped mass
_SAMPLE_ROWS = 256  # rows on which the dropped kernel mass is measured exactly
_POWER_ITERATIONS = 6  # subspace iterations for the deflation space (only variance depends on it)
_OVERSAMPLE = 8
_F32_MIN_N = 20_000  # from here the CPU sparse products run in float32 (see _slq_entropy)


class DSEAccuracyWarning(UserWarning):
    """A DSE/DSMI estimate may be inaccurate beyond its standard error (the message says why;
    the same text is kept in ``result.warnings``)."""


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
        Standard error of the stochastic estimate (0 for exact): the jackknife over probes and
        the estimated quadrature error, combined in quadrature.
    info : dict
        Estimator details (operator and why it was chosen, probes, Lanczos steps, edges, Ritz
        residual of the deflation space, quadrature error, ...).
    operator : str or None
        ``"sparse"`` or ``"dense"`` for SLQ, ``None`` for exact.
    dropped_kernel_mass : float
        Mean fraction of each row's kernel mass that the sparse kernel dropped (measured exactly
        on sampled rows; 0 for the exact and dense paths).
    warnings : tuple of str
        Every accuracy warning issued for this estimate (also kept here so that a loop over
        layers, where Python shows a warning once per call site, does not lose it).
    """

    entropy: float
    sigma: float
    t: float
    method: str
    n_samples: int
    stderr: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)
    operator: str | None = None
    dropped_kernel_mass: float = 0.0
    warnings: tuple[str, ...] = ()

    def __float__(self) -> float:
        return float(self.entropy)


@dataclass
class DSMIResult:
    """Diffusion spectral mutual information ``DSMI(Z; Y)`` in bits and its parts.

    Attributes
    ----------
    mi : float
    sigma : float
    t : float
    per_class : dict
        ``{label: (n_y, mean DSE of size-matched random subsets, DSE(Z | Y = y))}``.
    stderr : float
        Standard error of ``mi``: the spread over the random size-matched subsets and the
        stochastic estimators' errors, combined (``sqrt(subset_stderr² + estimator_stderr²)``).
        NaN when ``n_repetitions = 1`` (one subset per class has no spread).
    subset_stderr : float
        ``sqrt(Σ_y (n_y/n)² s_y² / R_y)`` with ``s_y`` the sample standard deviation of the
        ``R_y`` subset entropies of class ``y``.
    estimator_stderr : float
        Propagated standard errors of the SLQ estimates (0 when every DSE was exact).
    subsets : dict
        ``{label: int array of shape (R_y, n_y)}``, the row indices of the size-matched subsets
        used; pass it back as ``subsets=`` to reproduce the value exactly.
    subset_entropies : dict
        ``{label: array of shape (R_y,)}``, DSE of each subset.
    warnings : tuple of str
        Accuracy warnings of every DSE behind the value.
    """

    mi: float
    sigma: float
    t: float
    per_class: dict[int, tuple[int, float, float]]
    stderr: float = 0.0
    subset_stderr: float = 0.0
    estimator_stderr: float = 0.0
    subsets: dict[int, np.ndarray] = field(default_factory=dict)
    subset_entropies: dict[int, np.ndarray] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

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

    The data are centred and scaled by a power of two first, so ``σ`` scales exactly with the
    data at any magnitude (``1e-300`` to ``1e300``).

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
        Xs, e = _normalise(np.asarray(to_numpy(X), dtype=np.float64))
        return float(
            np.ldexp(_scaled_bandwidth(torch.from_numpy(Xs), bandwidth, k, random_state), e)
        )
    return float(check_scalar(bandwidth, "bandwidth", min_val=0.0, include_min=False))


def _scaled_bandwidth(Xs: torch.Tensor, bandwidth: str, k: int, random_state: Any) -> float:
    """A data-driven bandwidth of normalised data (see :func:`repgeo.diffusion.graph._normalise`)."""
    if bandwidth == "median":
        sigma = _median_pairwise(Xs, check_random_state(random_state))
    else:
        k = check_positive_int(k, "k", max_val=Xs.shape[0] - 1)
        d, _ = knn(np.asarray(to_numpy(Xs), dtype=np.float64), k)
        sigma = float(np.median(d[:, k - 1]))
    if not sigma > 0:
        raise ValueError(
            f"the {bandwidth!r} bandwidth of X is 0 (duplicated points); pass a positive float."
        )
    return sigma


def _prepare(X: Any, bandwidth: Any, k: int, rng: np.random.Generator) -> tuple:
    """``(Xs, σ_s, σ)``: normalised float64 data on X's device, the bandwidth in its units and
    in the data's units. DSE depends on ``X/σ`` only, so it is computed from ``(Xs, σ_s)``."""
    Xt, _ = to_torch(X, dtype=torch.float64)
    Xs_np, e = _normalise(Xt.cpu().numpy())
    Xs = torch.from_numpy(Xs_np).to(Xt.device)
    if isinstance(bandwidth, str):
        check_choice(bandwidth, "bandwidth", ("median", "knn"))
        sigma_s = _scaled_bandwidth(Xs, bandwidth, k, rng)
        return Xs, sigma_s, float(np.ldexp(sigma_s, e))
    sigma = float(check_scalar(bandwidth, "bandwidth", min_val=0.0, include_min=False))
    return Xs, float(np.ldexp(sigma, -e)), sigma


def _entropy_from_eigs(lam: torch.Tensor, t: float) -> float:
    a = lam.abs() ** t
    p = a / a.sum()
    return float(-torch.special.xlogy(p, p).sum() / math.log(2.0))


def _exact_bytes(n: int) -> float:
    """Working memory of the exact path: the kernel and the eigensolver's copy of it."""
    return 16.0 * n * n


def _gb(b: float) -> str:
    return f"{b / 1e9:.3g} GB"


def _dense_kernel_eigs(X: torch.Tensor, sigma: float) -> torch.Tensor:
    """Eigenvalues of ``D^{-1/2} G D^{-1/2}`` with ``G`` built in row chunks, in place."""
    n = X.shape[0]
    Xc = X - X.mean(0, keepdim=True)  # distances are translation invariant; less cancellation
    sq = (Xc * Xc).sum(1)
    G = torch.empty(n, n, dtype=torch.float64, device=X.device)
    rows = chunk_rows(8.0 * n * 2, maximum=n)
    for sl in iter_chunks(n, rows):
        blk = sq[sl, None] + sq[None, :] - 2.0 * Xc[sl] @ Xc.T
        G[sl] = torch.exp(-blk.clamp_min_(0.0) / (2.0 * sigma * sigma))
    G.fill_diagonal_(1.0)
    s = G.sum(1).rsqrt()
    G.mul_(s[:, None]).mul_(s[None, :])
    return torch.linalg.eigvalsh(G)


class _DenseKernelOperator:
    """Matrix-free ``K = D^{-1/2} G D^{-1/2}`` with ``G`` re-evaluated in row chunks (exact kernel,
    ``O(n²d)`` work per product and memory within the budget — meant for GPUs or moderate ``n``)."""

    def __init__(self, X: torch.Tensor, sigma: float) -> None:
        self.X = X - X.mean(0, keepdim=True)
        self.sq = (self.X * self.X).sum(1)
        self.c = 1.0 / (2.0 * sigma * sigma)
        ones = torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device)
        self.s = self._gmul(ones)[:, 0].rsqrt()

    def _gmul(self, V: torch.Tensor) -> torch.Tensor:
        n = self.X.shape[0]
        out = torch.empty(n, V.shape[1], dtype=V.dtype, device=V.device)
        rows = chunk_rows(8.0 * (2 * n + V.shape[1]), maximum=n)
        for sl in iter_chunks(n, rows):
            blk = self.sq[sl, None] + self.sq[None, :] - 2.0 * self.X[sl] @ self.X.T
            out[sl] = torch.exp_(blk.clamp_min_(0.0).mul_(-self.c)) @ V
        return out

    def __call__(self, V: torch.Tensor) -> torch.Tensor:
        return self.s[:, None] * self._gmul(self.s[:, None] * V)


def _sample_rows_kernel(
    X: torch.Tensor, sigma: float, rows: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact Gaussian kernel rows ``G[rows]`` (sorted descending per row) and their sums."""
    d2 = torch.cdist(X[torch.as_tensor(rows, device=X.device)], X).pow_(2)
    G = torch.exp_(d2.mul_(-1.0 / (2.0 * sigma * sigma)))
    return G.sort(dim=1, descending=True).values, G.sum(1)


def _predict_sparse(
    X: torch.Tensor, sigma: float, threshold: float, max_neighbors: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Predicted dropped kernel mass and mean kept entries per row of the sparse kernel, from the
    exact kernel of sampled rows (before anything sparse is built)."""
    n = X.shape[0]
    rows = rng.choice(n, min(n, _SAMPLE_ROWS), replace=False)
    Gs, full = _sample_rows_kernel(X, sigma, rows)
    cap = min(max_neighbors + 1, n)  # + the diagonal
    top = Gs[:, :cap]
    kept_mask = top >= threshold
    kept = (top * kept_mask).sum(1)
    dropped = float(((full - kept).clamp_min(0) / full).mean())
    return dropped, float(kept_mask.sum(1).double().mean())


def _sparse_kernel(
    X: np.ndarray, sigma: float, threshold: float, max_neighbors: int
) -> tuple[Any, np.ndarray, bool]:
    """Symmetric sparse Gaussian kernel (SciPy CSR, diagonal 1) truncated below ``threshold``,
    built in row chunks through :func:`repgeo.neighbors.knn`.

    Half the memory budget goes to the chunk's neighbour lists and half to the neighbour search
    itself, so the working memory stays within the budget; what remains is the result
    (``12 · nnz`` bytes, twice that while it is symmetrised).

    Returns ``(G, degrees, capped)``; ``capped`` says whether some row reached ``max_neighbors``
    before the kernel radius (then ``G`` is symmetrised as ``(G + Gᵀ)/2``).
    """
    import scipy.sparse as sp

    n = X.shape[0]
    cap = min(max_neighbors + 1, n)  # neighbours including the point itself
    radius = sigma * math.sqrt(2.0 * math.log(1.0 / threshold))
    c = 1.0 / (2.0 * sigma * sigma)
    half = max(get_memory_budget() // 2, 1)
    indptr = np.zeros(n + 1, dtype=np.int64)
    idx_parts: list[np.ndarray] = []
    val_parts: list[np.ndarray] = []
    capped = False
    itype = np.int32 if n < 2**31 else np.int64
    rows_per_chunk = chunk_rows(cap * 48.0, budget=half, maximum=n)
    with memory_budget(half):
        for sl in iter_chunks(n, rows_per_chunk):
            q = X[sl]
            kk = min(max(32, 2 * int(math.sqrt(cap))), cap)
            while True:
                dist, idx = knn(X, kk, query=q)
                if kk >= cap or bool((dist[:, -1] > radius).all()):
                    break
                kk = min(4 * kk, cap)
            if kk >= cap and kk < n and bool((dist[:, -1] <= radius).any()):
                capped = True
            vals = np.exp(-(dist**2) * c)
            keep = vals >= threshold
            indptr[sl.start + 1 : sl.stop + 1] = keep.sum(1)
            idx_parts.append(idx[keep].astype(itype))
            val_parts.append(vals[keep])
            del dist, idx, vals, keep
    np.cumsum(indptr, out=indptr)
    G = sp.csr_matrix((np.concatenate(val_parts), np.concatenate(idx_parts), indptr), shape=(n, n))
    del idx_parts, val_parts
    G.sum_duplicates()
    if np.any(G.diagonal() != 1.0):  # duplicates can push a point out of its own list
        G = G + sp.diags(1.0 - G.diagonal(), format="csr")
    if capped:
        G = (G + G.T) * 0.5
    G = G.tocsr()
    G.sort_indices()
    return G, np.asarray(G.sum(axis=1)).ravel(), capped


class _BlockLanczos:
    """Lanczos on every column of a block at once, resumable (``run(m)`` extends to ``m`` steps).

    The same recurrence as :func:`repgeo.diffusion.spectral.lanczos` (no reorthogonalisation,
    breakdown freezes a column), kept as state so that the number of steps can be chosen
    adaptively from the quadrature it produces."""

    def __init__(self, matvec: Any, V: torch.Tensor) -> None:
        self.matvec = matvec
        norms = V.norm(dim=0)
        self.norms2 = norms * norms
        self.q = V / torch.where(norms > 0, norms, torch.ones_like(norms))
        self.q_prev = torch.zeros_like(self.q)
        self.beta_prev = torch.zeros_like(norms)
        self.alive = norms > 0
        self.alpha: list[torch.Tensor] = []
        self.beta: list[torch.Tensor] = []
        self._buf: torch.Tensor | None = None

    @property
    def steps(self) -> int:
        return len(self.alpha)

    def _coldot(self, A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
        """Column-wise dot products ``(b,)`` through one reused buffer (a temporary of the
        block's size per call costs page faults that exceed the arithmetic at n = 10^5)."""
        if self._buf is None or self._buf.shape != A.shape:
            self._buf = torch.empty_like(A)
        return torch.mul(A, B, out=self._buf).sum(0)

    def run(self, m: int) -> None:
        while self.steps < m:
            if self.alpha:  # the pending off-diagonal of the previous step
                w = self._w
                bt = self._coldot(w, w).sqrt_()
                scale = torch.stack(self.alpha).abs().amax(0)
                scale = torch.maximum(scale, self.beta_prev.abs()) + 1.0
                self.alive = self.alive & (bt > 1e-12 * scale)
                bt = torch.where(self.alive, bt, torch.zeros_like(bt))
                self.beta.append(bt)
                self.q_prev = self.q
                # q = w / β on live columns, 0 on frozen ones (in place: w is ours)
                self.q = w.mul_(torch.where(self.alive, 1.0 / torch.where(bt > 0, bt, 1.0), 0.0))
                self.beta_prev = bt
            w = self.matvec(self.q)  # a new block
            a = self._coldot(w, self.q)
            w.addcmul_(self.q, a, value=-1.0).addcmul_(self.q_prev, self.beta_prev, value=-1.0)
            self._w = w
            self.alpha.append(torch.where(self.alive, a, torch.zeros_like(a)))

    def quadrature(self, m: int, t: float) -> torch.Tensor:
        """``(2, b)`` Gauss quadrature of ``vᵀ|K|^t v`` and ``vᵀ|K|^t log2|K|^t v`` from the
        first ``m`` steps."""
        from .spectral import _tridiag

        alpha = torch.stack(self.alpha[:m], 1)
        beta = torch.stack(self.beta[: m - 1], 1) if m > 1 else alpha[:, :0]
        theta, U = torch.linalg.eigh(_tridiag(alpha, beta))
        tau = U[:, 0, :] ** 2
        a = theta.abs() ** t
        fz = (tau * a).sum(1) * self.norms2
        fs = (tau * torch.special.xlogy(a, a)).sum(1) * self.norms2 / math.log(2.0)
        return torch.stack([fz, fs])


def _dse_from_sums(full: np.ndarray, r: int) -> tuple[float, float]:
    """DSE and its jackknife standard error over probes from per-column quadrature values
    ``(2, r + p)``: the first ``r`` columns are the deflation space (summed), the rest probes."""
    fixed = full[:, :r].sum(1)
    probes = full[:, r:]
    p = probes.shape[1]
    Z, S = fixed + probes.mean(1)
    value = math.log2(Z) - S / Z
    loo = fixed[:, None] + (probes.sum(1, keepdims=True) - probes) / (p - 1)
    vals = np.log2(loo[0]) - loo[1] / loo[0]
    return float(value), float(np.sqrt((p - 1) / p * ((vals - vals.mean()) ** 2).sum()))


def _adaptive_sums(
    matvec: Any, V: torch.Tensor, r: int, max_steps: int, t: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-column quadrature values ``(2, b)`` at ``m`` and at ``3m/4`` Lanczos steps, where ``m``
    grows by 10 from 20 until the two DSEs differ by less than a quarter of the probe standard
    error (or ``m = max_steps``). Columns run in blocks that fit the memory budget; the first
    block sets ``m`` for the others."""
    n, b = V.shape
    block = max(1, min(b, chunk_rows(8.0 * n * 6)))
    if block < b:
        block = max(block, r + 2)  # the first block needs the deflation columns and 2 probes
    m, full, short = None, [], []
    for sl in iter_chunks(b, block):
        lz = _BlockLanczos(matvec, V[:, sl])
        if m is None and sl.stop - max(sl.start, r) >= 2:  # choose m on this block
            m = min(max_steps, 20)
            while True:
                lz.run(m)
                f = lz.quadrature(m, t).cpu().numpy()
                g = lz.quadrature(max(2, (3 * m) // 4), t).cpu().numpy()
                v_f, se = _dse_from_sums(f, r - sl.start if sl.start < r else 0)
                v_g, _ = _dse_from_sums(g, r - sl.start if sl.start < r else 0)
                if m >= max_steps or abs(v_f - v_g) <= 0.25 * se:
                    break
                m = min(max_steps, m + 10)
        else:
            lz.run(m if m is not None else max_steps)
        mm = lz.steps
        full.append(lz.quadrature(mm, t).cpu().numpy())
        short.append(lz.quadrature(max(2, (3 * mm) // 4), t).cpu().numpy())
    return np.concatenate(full, 1), np.concatenate(short, 1), int(m or max_steps)


def _deflation_space(
    matvec: Any, n: int, r: int, gen: torch.Generator, dev: torch.device, iterations: int
) -> tuple[torch.Tensor, float]:
    """Approximate top-``r`` eigenvectors (by magnitude) by subspace iteration and Rayleigh–Ritz;
    returns ``(Q, largest Ritz residual)``."""
    Y = torch.randn(n, r + _OVERSAMPLE, generator=gen, dtype=torch.float64).to(dev)
    for _ in range(iterations):
        Y = matvec(torch.linalg.qr(Y)[0])
    Qb = torch.linalg.qr(Y)[0]
    KQ = matvec(Qb)
    theta, W = torch.linalg.eigh(0.5 * (Qb.T @ KQ + KQ.T @ Qb))
    top = theta.abs().argsort(descending=True)[:r]
    Q = Qb @ W[:, top]
    resid = (KQ @ W[:, top] - Q * theta[top]).norm(dim=0)
    return Q, float(resid.max())


def _slq_entropy(
    X: torch.Tensor,
    sigma: float,
    t: float,
    *,
    operator: str,
    threshold: float,
    max_neighbors: int,
    n_probes: int,
    steps: int,
    rng: np.random.Generator,
    deflation: int = 64,
    sigma_report: float | None = None,
) -> tuple[float, float, dict[str, Any], list[str]]:
    n = X.shape[0]
    dev = X.device
    notes: list[str] = []
    info: dict[str, Any] = {"n_probes": n_probes, "lanczos_steps": steps}
    budget = get_memory_budget()
    if operator in ("auto", "sparse"):
        pred, per_row = _predict_sparse(X, sigma, threshold, max_neighbors, rng)
        need = 36.0 * n * per_row  # the CSR while it is built and symmetrised
        info.update(predicted_dropped_kernel_mass=pred, predicted_sparse_bytes=need)
        if operator == "auto":
            if pred >= _DROPPED_MASS_TOL:
                operator = "dense"
                info["operator_reason"] = (
                    f"the sparse kernel would drop {100 * pred:.2g}% of the kernel mass "
                    f"(>= {100 * _DROPPED_MASS_TOL:g}%)"
                )
            elif need > budget:
                operator = "dense"
                info["operator_reason"] = (
                    f"the sparse kernel needs ~{_gb(need)} > memory budget {_gb(budget)}"
                )
            else:
                operator = "sparse"
                info["operator_reason"] = (
                    f"predicted dropped mass {100 * pred:.2g}% < {100 * _DROPPED_MASS_TOL:g}%"
                )
        elif need > budget:
            raise ValueError(
                f"operator='sparse' needs ~{_gb(need)} for {n} points ({per_row:.0f} kernel "
                f"entries per row), more than the memory budget {_gb(budget)}. Use "
                "operator='dense' (matrix-free, exact), a smaller bandwidth or max_neighbors, or "
                "raise the budget with repgeo.set_memory_budget."
            )
    info["operator"] = operator
    dropped = 0.0
    if operator == "dense":
        matvec = _DenseKernelOperator(X, sigma)
    else:
        Xn = X.cpu().numpy()
        G, deg, capped = _sparse_kernel(Xn, sigma, threshold, min(max_neighbors, n - 1))
        s = 1.0 / np.sqrt(deg)
        G.data *= np.repeat(s, np.diff(G.indptr))  # D^{-1/2} G D^{-1/2}, in place
        G.data *= s[G.indices]
        rows = rng.choice(n, min(n, _SAMPLE_ROWS), replace=False)
        _, full = _sample_rows_kernel(X, sigma, rows)
        kept = torch.from_numpy(deg[rows]).to(dev)
        dropped = float(((full - kept).clamp_min(0) / full).mean())
        info.update(edges=int(G.nnz), threshold=threshold, capped=capped)
        if dev.type == "cpu":
            # the entropy does not depend on how the points are numbered: in a locality order
            # (reverse Cuthill-McKee) the kernel's rows touch nearby memory and the products
            # run 3-5x faster (probes are drawn in that order); rows split over the torch
            # threads; from _F32_MIN_N points the memory-bound products run in float32 (~2x
            # less traffic; the relative error ~1e-6 of a product is far below SLQ's)
            p = locality_order(G)
            f32 = n >= _F32_MIN_N
            prod = CsrProduct(
                G[p][:, p].astype(np.float32 if f32 else np.float64),
                workers=cpu_workers(dev, 8),
            )
            del G
            info["matvec_dtype"] = "float32" if f32 else "float64"

            bufs: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}

            def matvec(V: torch.Tensor) -> torch.Tensor:
                if V.shape not in bufs:  # reused: fresh blocks cost page faults at n = 10^5
                    bufs.clear()
                    bufs[V.shape] = (np.empty(V.shape, prod.dtype), np.empty(V.shape, prod.dtype))
                Vn, out = bufs[V.shape]
                np.copyto(Vn, V.numpy(), casting="same_kind")
                out.fill(0.0)
                return torch.from_numpy(prod.addmul_(Vn, out)).to(torch.float64, copy=True)
        else:
            from .graph import _sparse_csr

            Gt = _sparse_csr(*_coo(G), n, dev)

            def matvec(V: torch.Tensor) -> torch.Tensor:
                return Gt @ V

        if dropped > _DROPPED_MASS_TOL:
            notes.append(
                f"the sparse kernel drops {100 * dropped:.1f}% of the kernel mass (bandwidth "
                f"{sigma if sigma_report is None else sigma_report:.4g} is wide relative to "
                f"max_neighbors={max_neighbors}); the SLQ "
                "estimate is biased. Use operator='dense' or 'auto', method='exact', a smaller "
                "bandwidth or more neighbours."
            )
    info["dropped_kernel_mass"] = dropped

    gen = torch_generator(rng, device="cpu")
    r = min(deflation, n - 2)
    cols = []
    if r > 0:
        Q, resid = _deflation_space(matvec, n, r, gen, dev, _POWER_ITERATIONS)
        info.update(deflation=int(r), max_ritz_residual=resid)
        cols.append(Q)
    V = (torch.randint(0, 2, (n, n_probes), generator=gen, dtype=torch.float64) * 2 - 1).to(dev)
    if r > 0:
        V = V - Q @ (Q.T @ V)
    full, short, used = _adaptive_sums(matvec, torch.cat([*cols, V], 1), r, steps, t)
    value, se_probe = _dse_from_sums(full, r)
    quad = abs(_dse_from_sums(short, r)[0] - value)
    info.update(probe_stderr=se_probe, quadrature_error=quad, lanczos_steps_used=used)
    if quad > max(se_probe, 1e-3):
        notes.append(
            f"the Lanczos quadrature has not converged (estimated error {quad:.2g} bits > the "
            f"probe standard error {se_probe:.2g}); increase lanczos_steps "
            f"(now {steps}). The error is included in stderr."
        )
    return float(value), float(math.hypot(se_probe, quad)), info, notes


def _coo(G: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    C = G.tocoo()
    return C.row.astype(np.int64), C.col.astype(np.int64), C.data


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
    warn: bool = True,
    sigma_report: float | None = None,
) -> DSEResult:
    """DSE of ``Xt`` (normalised data) with bandwidth ``sigma`` in its units; ``sigma_report`` is
    the bandwidth in the data's units (what the result states)."""
    n = Xt.shape[0]
    sig = sigma if sigma_report is None else sigma_report
    if n == 1:
        return DSEResult(0.0, sig, t, "exact", 1)
    budget = get_memory_budget()
    if method == "auto":
        meth = "exact" if _exact_bytes(n) <= budget else "slq"
    else:
        meth = method
    if meth == "exact":
        if _exact_bytes(n) > budget:
            raise ValueError(
                f"method='exact' needs ~{_gb(_exact_bytes(n))} for {n} points (a dense kernel "
                f"and its eigendecomposition), more than the memory budget {_gb(budget)}. Use "
                "method='slq' (or 'auto'), or raise the budget with repgeo.set_memory_budget."
            )
        lam = _dense_kernel_eigs(Xt, sigma)
        return DSEResult(_entropy_from_eigs(lam, t), sig, t, "exact", n)
    value, stderr, info, notes = _slq_entropy(
        Xt,
        sigma,
        t,
        operator=operator,
        threshold=threshold,
        max_neighbors=max_neighbors,
        n_probes=n_probes,
        steps=steps,
        rng=rng,
        deflation=deflation,
        sigma_report=sig,
    )
    if warn:
        for msg in notes:
            warnings.warn(msg, DSEAccuracyWarning, stacklevel=4)
    return DSEResult(
        value,
        sig,
        t,
        "slq",
        n,
        stderr,
        info,
        operator=info["operator"],
        dropped_kernel_mass=info["dropped_kernel_mass"],
        warnings=tuple(notes),
    )


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
    check_choice(operator, "operator", ("auto", "sparse", "dense"))
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
    operator: str = "auto",
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
        ``"auto"`` is exact while the dense kernel and its eigendecomposition (``16 n²`` bytes)
        fit the memory budget (``n ≤ 8,192`` at the default 1 GB), stochastic Lanczos quadrature
        above; ``"exact"`` beyond the budget raises (with the fix in the message).
    operator : {"auto", "sparse", "dense"}, default="auto"
        SLQ: the kernel as a sparse matrix truncated at ``threshold`` (``O(nnz)`` per product;
        accurate when ``σ`` is small relative to the spread of the data — the dropped mass is
        measured, returned as ``result.dropped_kernel_mass`` and warned about above 1 %), or
        matrix-free and exact (``O(n² d)`` per product, for GPUs or a wide ``σ``). ``"auto"``
        takes the sparse kernel only when its predicted dropped mass is below 1 % and it fits
        the memory budget, so the automatic choice is never lossy (``result.info`` says which
        operator was used and why).
    threshold : float, default=1e-6
        SLQ, sparse: kernel entries below this are dropped.
    max_neighbors : int, default=1000
        SLQ, sparse: cap on kernel entries per row.
    n_probes, lanczos_steps : int, default=64, 60
        SLQ: Rademacher probes and Lanczos steps (quadrature nodes).
    deflation : int, default=64
        SLQ: size of the approximate top eigenspace whose part of each trace is computed
        deterministically (see the module docstring); it lowers the variance for wide kernels,
        whose spectrum is dominated by a few eigenvalues, and never biases the estimate.
    random_state : int, optional
        Seeds the pair sample of the median heuristic and the probes.

    Returns
    -------
    DSEResult
        ``float(result)`` is the entropy; ``result.sigma`` the bandwidth; ``result.stderr`` the
        standard error of the stochastic estimate; ``result.dropped_kernel_mass`` and
        ``result.warnings`` the accuracy diagnostics.

    Warns
    -----
    DSEAccuracyWarning
        When the sparse kernel drops more than 1 % of the kernel mass (possible only with an
        explicit ``operator="sparse"``) or the quadrature has not converged; the text is also in
        ``result.warnings``.

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
    Xs, sigma_s, sigma = _prepare(X, bandwidth, bandwidth_k, rng)
    return _dse(
        Xs,
        sigma_s,
        t,
        method,
        operator=operator,
        threshold=threshold,
        max_neighbors=max_neighbors,
        n_probes=n_probes,
        steps=steps,
        deflation=deflation,
        rng=rng,
        sigma_report=sigma,
    )


def _check_subsets(subsets: Any, labels: np.ndarray, n: int) -> dict[int, np.ndarray]:
    """Validate explicit size-matched subsets ``{label: (R, n_y) int}`` against the labels."""
    if not isinstance(subsets, Mapping):
        raise TypeError(
            "subsets must be a mapping {label: int array of shape (n_repetitions, n_y)}; got "
            f"{type(subsets).__name__}."
        )
    classes, counts = np.unique(labels, return_counts=True)
    want = {int(c): int(m) for c, m in zip(classes, counts)}
    try:
        got = {int(k): v for k, v in subsets.items()}
    except (TypeError, ValueError) as exc:
        raise TypeError(f"subsets must be keyed by integer labels; got {list(subsets)!r}.") from exc
    if set(got) != set(want):
        raise ValueError(
            f"subsets must have one entry per class {sorted(want)}; got keys {sorted(got)}."
        )
    out = {}
    for c, n_c in want.items():
        a = np.asarray(
            to_numpy(check_array(got[c], name=f"subsets[{c}]", ndim=(1, 2), dtype="int"))
        ).astype(np.int64)
        a = a.reshape(1, -1) if a.ndim == 1 else a
        if a.shape[1] != n_c:
            raise ValueError(
                f"subsets[{c}] must hold subsets of size n_y = {n_c} (the class size); got shape "
                f"{a.shape}."
            )
        if a.min() < 0 or a.max() >= n:
            raise ValueError(
                f"subsets[{c}] must index rows of Z in [0, {n}); got range [{a.min()}, {a.max()}]."
            )
        if any(np.unique(row).size != n_c for row in a):
            raise ValueError(
                f"subsets[{c}] has a subset with repeated rows; draw without replacement."
            )
        out[c] = a
    return out


def diffusion_spectral_mutual_information(
    Z: Any,
    y: Any,
    *,
    t: float = 1.0,
    bandwidth: Any = "median",
    bandwidth_k: int = 10,
    n_repetitions: int = 5,
    subsets: Mapping[int, Any] | None = None,
    n_clusters: int = 10,
    method: str = "auto",
    operator: str = "auto",
    threshold: float = 1e-6,
    max_neighbors: int = 1000,
    n_probes: int = 64,
    lanczos_steps: int = 60,
    deflation: int = 64,
    random_state: Any = 0,
) -> DSMIResult:
    """Diffusion spectral mutual information ``DSMI(Z; Y)`` in bits.

    ``DSMI = Σ_y (n_y/n) [mean_r DSE(Z[S_{y,r}]) − DSE(Z | Y = y)]`` with ``S_{y,r}``
    (``r = 1..R``) random subsets of ``n_y`` rows of ``Z`` (size-matched to class ``y``). The
    subsets make the value random: ``result.stderr`` includes their spread, and
    ``result.subsets`` holds the subsets used, so ``subsets=result.subsets`` reproduces the
    value exactly, as does the same ``random_state``.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Representations.
    y : array_like of shape (n_samples,) of int, or (n_samples, n_ref) of float
        Class labels (integers, or floats that are all integer-valued, as everywhere in repgeo),
        or a continuous reference that is clustered first (k-means with ``n_clusters`` clusters,
        seeded).
    t, bandwidth, bandwidth_k, method, operator, threshold, max_neighbors, n_probes, lanczos_steps, deflation
        As in :func:`diffusion_spectral_entropy`; ``σ`` is resolved once on all of ``Z``.
    n_repetitions : int, default=5
        Random size-matched subsets per class for the ``DSE(Z)`` term (at least 2 for a spread).
    subsets : mapping of int to array of int, optional
        Explicit subsets ``{label: (R, n_y) row indices}`` instead of random ones (e.g. those of
        another run or of the reference package; then ``n_repetitions`` is ignored).
    n_clusters : int, default=10
        Clusters for a continuous reference.
    random_state : int, optional
        Seeds the subsets (drawn first, independently of the estimator), the k-means of a
        continuous reference and the SLQ probes.

    Returns
    -------
    DSMIResult
        ``float(result)`` is the mutual information (small negative values are possible);
        ``result.stderr`` its standard error, ``result.subset_stderr`` the part due to the
        random subsets.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import diffusion_spectral_mutual_information as dsmi
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(4), 50)
    >>> Z = rng.normal(size=(200, 8)) + 6 * np.eye(8)[y]
    >>> res = dsmi(Z, y)
    >>> bool(res.mi > 0.5), bool(abs(float(dsmi(Z, rng.permutation(y)))) < 0.1)
    (True, True)
    >>> bool(0 < res.stderr < 0.1), dsmi(Z, y, subsets=res.subsets).mi == res.mi
    (True, True)
    """
    Z = check_array(Z, name="Z", min_samples=2)
    n = Z.shape[0]
    t, threshold, max_neighbors, n_probes, steps, deflation = _check_common(
        t, method, operator, threshold, max_neighbors, n_probes, lanczos_steps, deflation
    )
    n_repetitions = check_positive_int(n_repetitions, "n_repetitions")
    rng = check_random_state(random_state)
    # independent streams: the subsets do not depend on the estimator or the clustering
    subset_rng, cluster_rng, est_rng = (
        np.random.default_rng(s) for s in rng.integers(2**63, size=3)
    )
    labels = _reference_labels(y, n, n_clusters=n_clusters, rng=cluster_rng)
    check_consistent_length(Z, labels, names=["Z", "y"])
    classes, counts = np.unique(labels, return_counts=True)
    if subsets is None:
        subsets = {
            int(c): np.stack(
                [subset_rng.choice(n, n_c, replace=False) for _ in range(n_repetitions)]
            )
            for c, n_c in zip(classes, counts)
        }
    else:
        subsets = _check_subsets(subsets, labels, n)
    Zt, sigma_s, sigma = _prepare(Z, bandwidth, bandwidth_k, est_rng)
    kw = {
        "operator": operator,
        "threshold": threshold,
        "max_neighbors": max_neighbors,
        "n_probes": n_probes,
        "steps": steps,
        "deflation": deflation,
        "warn": False,
        "sigma_report": sigma,
    }
    per_class: dict[int, tuple[int, float, float]] = {}
    entropies: dict[int, np.ndarray] = {}
    mi = var_sub = var_est = 0.0
    notes: list[str] = []
    for c, n_c in zip(classes, counts):
        c = int(c)
        idx = torch.as_tensor(np.nonzero(labels == c)[0], device=Zt.device)
        cond = _dse(Zt[idx], sigma_s, t, method, rng=est_rng, **kw)
        subs = [
            _dse(Zt[torch.as_tensor(s, device=Zt.device)], sigma_s, t, method, rng=est_rng, **kw)
            for s in subsets[c]
        ]
        R = len(subs)
        ent = np.array([s.entropy for s in subs])
        w = n_c / n
        mi += w * (ent.mean() - cond.entropy)
        var_sub += w * w * (ent.var(ddof=1) / R if R > 1 else float("nan"))
        var_est += w * w * (cond.stderr**2 + sum(s.stderr**2 for s in subs) / R**2)
        per_class[c] = (int(n_c), float(ent.mean()), cond.entropy)
        entropies[c] = ent
        for r in (cond, *subs):
            notes.extend(m for m in r.warnings if m not in notes)
    for msg in notes:
        warnings.warn(msg, DSEAccuracyWarning, stacklevel=2)
    return DSMIResult(
        float(mi),
        sigma,
        t,
        per_class,
        float(math.sqrt(var_sub + var_est)),
        float(math.sqrt(var_sub)),
        float(math.sqrt(var_est)),
        subsets,
        entropies,
        tuple(notes),
    )


def _reference_labels(y: Any, n: int, *, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """Labels as they are (integers, or floats that are all integer-valued — the rule of
    :func:`repgeo._validation.check_labels`); any other float reference (1-D or 2-D) is clustered
    by k-means."""
    arr = to_numpy(y) if isinstance(y, torch.Tensor) else np.asarray(y)
    if arr.ndim == 1 and (
        arr.dtype.kind in "iub"
        or (
            arr.dtype.kind == "f"
            and arr.size
            and bool(np.all(np.isfinite(arr)))
            and bool(np.all(arr == np.round(arr)))
        )
    ):
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
        operator: str = "auto",
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
