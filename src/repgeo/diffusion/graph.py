"""Sparse affinity graphs built once from data: kNN search, kernels, anisotropy, Laplacians.

A :class:`DiffusionGraph` holds the symmetric sparse affinity matrix ``W`` of a point cloud and
everything derived from it that does not depend on a diffusion time or a regulariser: degrees,
connected components, the Laplacian as a sparse torch operator, an upper bound on its spectrum
and (lazily, for small graphs) its eigendecomposition. Heat kernels, heat-geodesic distances,
diffusion maps and the PHATE potential all take the graph, so changing ``t`` or ``σ`` never
re-runs the neighbour search.

Kernels
-------
``"alpha"`` (PHATE / HeatGeo): ``K_ij = exp(-(d_ij / ε_k(i))^α)`` with ``ε_k(i)`` the distance
from ``i`` to its ``k``-th nearest neighbour (self excluded) and ``α = decay``; entries below
``threshold`` are dropped, so the neighbour search only has to reach ``ε_k(i)·ln(1/threshold)^{1/α}``.
``"gaussian"``: ``K_ij = exp(-d_ij² / (2σ²))`` with one stated bandwidth ``σ`` (by default the
median over points of the distance to the ``k``-th neighbour), dropped below ``threshold``.
Both are symmetrised as ``(K + Kᵀ)/2``. Anisotropy ``a`` rescales ``K_ij / (q_i q_j)^a`` with
``q`` the kernel degrees (``a = 1``: density-free diffusion maps of Coifman & Lafon 2006).

Self-loops
----------
``self_loops=False`` (default) leaves the diagonal of ``W`` at 0, as the PyGSP graph that HeatGeo
builds from graphtools does (``W`` = the kernel with its diagonal set to 0), so a heat time ``τ``
here is HeatGeo's ``τ``. ``self_loops=True`` keeps the kernel's own diagonal ``K_ii = 1`` in the
weights and degrees, as PHATE's diffusion operator and the DSE kernel do (:class:`PHATE` and
:func:`diffusion_spectral_entropy` build their graphs so). The two differ in time unit: with
``k = 5`` the degrees grow by about one fifth, ``L`` shrinks accordingly and the same ``τ`` gives
heat-geodesic distances a few percent larger with self-loops (measured in the tests and
``docs/diffusion.md``).

Laplacians
----------
``"normalized"``: ``L = I − D^{-1/2} W D^{-1/2}`` (spectrum in ``[0, 2]``; HeatGeo's default and
the time unit of this module). ``"combinatorial"``: ``L = D − W`` (spectrum in ``[0, 2 max_i D_ii]``).

References
----------
Moon et al., "Visualizing structure and transitions in high-dimensional biological data",
Nat. Biotechnol. 37 (2019) (alpha-decay kernel). Huguet et al., "A Heat Diffusion Perspective on
Geodesic Preserving Dimensionality Reduction", NeurIPS 2023. Coifman & Lafon, "Diffusion maps",
ACHA 21 (2006).
"""

from __future__ import annotations

import hashlib
import math
import warnings
from typing import Any

import numpy as np
import torch

from .._backend import resolve_device, to_numpy, to_torch
from .._validation import check_array, check_choice, check_positive_int, check_scalar
from ..neighbors import knn

__all__ = ["DiffusionGraph", "DisconnectedGraphWarning", "build_graph"]

_KERNELS = ("alpha", "gaussian")
_LAPLACIANS = ("normalized", "combinatorial")
_MAX_EXACT = 3000


class DisconnectedGraphWarning(UserWarning):
    """The affinity graph has more than one connected component (diffusion cannot cross them)."""


def _sparse_csr(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n: int, device: torch.device
) -> torch.Tensor:
    """A float64 CSR tensor from COO triplets (duplicates summed)."""
    import scipy.sparse as sp

    m = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
    m.sum_duplicates()
    m.sort_indices()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return torch.sparse_csr_tensor(
            torch.from_numpy(m.indptr.astype(np.int64)),
            torch.from_numpy(m.indices.astype(np.int64)),
            torch.from_numpy(m.data.astype(np.float64)),
            size=(n, n),
            check_invariants=False,
        ).to(device)


def _normalise(X: np.ndarray) -> tuple[np.ndarray, int]:
    """``(Xs, e)`` with ``X ≈ 2^e · Xs + mean``: centred and scaled by powers of two (exact) so
    that ``|Xs| < 1``. Distances, kNN and kernels of ``Xs`` neither overflow nor underflow;
    ``np.ldexp(d, e)`` turns a distance of ``Xs`` into one of ``X`` (finite whenever it is
    representable)."""
    X = np.asarray(X, dtype=np.float64)
    a0 = float(np.abs(X).max()) if X.size else 0.0
    if a0 == 0.0:
        return X.copy(), 0
    e0 = math.frexp(a0)[1]
    X1 = np.ldexp(X, -e0)
    X1 -= X1.mean(0, keepdims=True)
    a1 = float(np.abs(X1).max())
    if a1 == 0.0:
        return X1, e0
    e1 = math.frexp(a1)[1]
    return np.ldexp(X1, -e1), e0 + e1


def _fingerprint(X: np.ndarray) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(str((X.shape, X.dtype.str)).encode())
    h.update(np.ascontiguousarray(X).view(np.uint8).ravel().data)
    return h.hexdigest()


class DiffusionGraph:
    """A symmetric sparse affinity graph and its Laplacian, built once and reused.

    Build it with :func:`build_graph`. All spectral quantities are computed in float64 on
    ``device`` and cached: the Laplacian operator, ``lambda_max`` and, for small graphs, the full
    eigendecomposition used by the exact heat kernel.

    Attributes
    ----------
    n : int
        Number of nodes.
    rows, cols, weights : ndarray
        COO triplets of the symmetric affinity ``W`` (with the diagonal ``K_ii = 1`` only when
        built with ``self_loops=True``), float64 weights.
    degrees : ndarray of shape (n,)
        Row sums of ``W``.
    laplacian : {"normalized", "combinatorial"}
        Which Laplacian :meth:`laplacian_matvec` applies.
    bandwidths : ndarray of shape (n,)
        Per-point kernel scale (``ε_k(i)`` for the alpha kernel, ``σ`` repeated for Gaussian).
    knn_distances, knn_indices : ndarray of shape (n, k)
        The ``k`` nearest neighbours found by the search (self excluded).
    n_components : int
        Number of connected components; a :class:`DisconnectedGraphWarning` is issued when > 1.
    params : dict
        The construction parameters.
    """

    def __init__(
        self,
        rows: np.ndarray,
        cols: np.ndarray,
        weights: np.ndarray,
        n: int,
        *,
        laplacian: str = "normalized",
        bandwidths: np.ndarray | None = None,
        knn_distances: np.ndarray | None = None,
        knn_indices: np.ndarray | None = None,
        params: dict[str, Any] | None = None,
        device: Any = "cpu",
        fingerprint: str = "",
        back: Any = None,
    ) -> None:
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        self.n = int(n)
        self.rows = np.asarray(rows, dtype=np.int64)
        self.cols = np.asarray(cols, dtype=np.int64)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.laplacian = check_choice(laplacian, "laplacian", _LAPLACIANS)
        self.bandwidths = bandwidths
        self.knn_distances = knn_distances
        self.knn_indices = knn_indices
        self.params = dict(params or {})
        self.device = resolve_device(device)
        self.fingerprint = fingerprint
        # converts float64 results to the kind/dtype/device of the data the graph was built from
        self.back = back if back is not None else to_numpy
        self.degrees = np.bincount(self.rows, weights=self.weights, minlength=self.n)
        if np.any(self.degrees <= 0):
            raise ValueError(
                f"every node needs a positive degree; {int(np.sum(self.degrees <= 0))} node(s) have "
                "no edge (no neighbour within the kernel's reach and no self-loop). Build the graph "
                "with self_loops=True, a larger bandwidth or a smaller threshold."
            )
        adj = sp.csr_matrix(
            (np.ones_like(self.weights), (self.rows, self.cols)), shape=(self.n, self.n)
        )
        self.n_components, self.component_labels = connected_components(adj, directed=False)
        if self.n_components > 1:
            sizes = np.bincount(self.component_labels)
            warnings.warn(
                f"the affinity graph is disconnected: {self.n_components} components (sizes "
                f"{sorted(sizes.tolist(), reverse=True)[:6]}...). Heat and diffusion do not cross "
                "components, so distances between them saturate; increase k or the bandwidth.",
                DisconnectedGraphWarning,
                stacklevel=3,
            )
        self._cache: dict[str, Any] = {}

    # ------------------------------------------------------------------ matrices
    def affinity(self, *, normalize: str | None = None) -> torch.Tensor:
        """Sparse CSR float64 tensor of ``W`` (``normalize=None``), ``D^{-1/2} W D^{-1/2}``
        (``"symmetric"``) or ``D^{-1} W`` (``"row"``), on the graph's device. Cached."""
        key = f"W:{normalize}"
        if key not in self._cache:
            w = self.weights
            if normalize == "symmetric":
                s = 1.0 / np.sqrt(self.degrees)
                w = w * s[self.rows] * s[self.cols]
            elif normalize == "row":
                w = w / self.degrees[self.rows]
            elif normalize is not None:
                raise ValueError(
                    f"normalize must be None, 'symmetric' or 'row'; got {normalize!r}."
                )
            self._cache[key] = _sparse_csr(self.rows, self.cols, w, self.n, self.device)
        return self._cache[key]

    def to_scipy(self, *, normalize: str | None = None, transpose: bool = False):
        """``W`` (or a normalised version, see :meth:`affinity`) as a SciPy CSR matrix. Cached."""
        import scipy.sparse as sp

        key = f"sp:{normalize}:{transpose}"
        if key not in self._cache:
            A = self.affinity(normalize=normalize).cpu()
            M = sp.csr_matrix(
                (A.values().numpy(), A.col_indices().numpy(), A.crow_indices().numpy()),
                shape=(self.n, self.n),
            )
            self._cache[key] = M.T.tocsr() if transpose else M
        return self._cache[key]

    def matmul(
        self, V: torch.Tensor, *, normalize: str | None = None, transpose: bool = False
    ) -> torch.Tensor:
        """``A @ V`` for the (normalised, optionally transposed) affinity ``A`` and a dense
        ``(n, b)`` float64 tensor. On CPU through SciPy's CSR kernel (single-threaded; on a
        shared machine ~10× faster than torch's multi-threaded sparse CSR product), on a GPU
        through torch."""
        if V.device.type == "cpu":
            out = self.to_scipy(normalize=normalize, transpose=transpose) @ V.numpy()
            return torch.from_numpy(np.ascontiguousarray(out))
        A = self.affinity(normalize=normalize)
        if transpose:
            key = f"WT:{normalize}"
            if key not in self._cache:
                self._cache[key] = A.to_sparse_coo().t().to_sparse_csr()
            A = self._cache[key]
        return A @ V

    def laplacian_matvec(self, V: torch.Tensor) -> torch.Tensor:
        """``L @ V`` for a dense ``(n, b)`` float64 tensor, never forming ``L``."""
        if self.laplacian == "normalized":
            return V - self.matmul(V, normalize="symmetric")
        deg = self._degrees_t()
        return deg[:, None] * V - self.matmul(V)

    def _degrees_t(self) -> torch.Tensor:
        if "deg" not in self._cache:
            self._cache["deg"] = torch.from_numpy(self.degrees).to(self.device)
        return self._cache["deg"]

    def laplacian_dense(self) -> torch.Tensor:
        """The dense ``(n, n)`` Laplacian (small graphs only)."""
        if self.n > 20000:
            raise ValueError(
                f"a dense Laplacian of {self.n} nodes would need {8 * self.n**2 / 1e9:.1f} GB."
            )
        eye = torch.eye(self.n, dtype=torch.float64, device=self.device)
        return self.laplacian_matvec(eye)

    # ------------------------------------------------------------------ spectrum
    @property
    def spectral_bound(self) -> float:
        """Gershgorin upper bound of the Laplacian spectrum (2 or ``2 max D_ii``)."""
        return 2.0 if self.laplacian == "normalized" else 2.0 * float(self.degrees.max())

    def lambda_max(self) -> float:
        """An upper bound of the largest Laplacian eigenvalue (Lanczos Ritz value plus its
        residual bound, capped by the Gershgorin bound). Cached."""
        if "lmax" not in self._cache:
            from .spectral import lanczos_extreme

            if self.n <= 64:
                lmax = float(torch.linalg.eigvalsh(self.laplacian_dense())[-1])
            else:
                theta, resid = lanczos_extreme(
                    self.laplacian_matvec, self.n, steps=40, device=self.device, seed=0
                )
                lmax = theta + resid
            self._cache["lmax"] = min(lmax * (1 + 1e-6) + 1e-12, self.spectral_bound)
        return self._cache["lmax"]

    def eigh(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Full eigendecomposition ``(λ ascending, U)`` of the Laplacian (cached; small graphs)."""
        if "eigh" not in self._cache:
            if self.n > _MAX_EXACT * 4:
                raise ValueError(
                    f"exact eigendecomposition of {self.n} nodes is too costly; use method='chebyshev'."
                )
            L = self.laplacian_dense()
            L = 0.5 * (L + L.T)
            evals, evecs = torch.linalg.eigh(L)
            self._cache["eigh"] = (evals.clamp_min(0.0), evecs)
        return self._cache["eigh"]

    def hop_diameter(self) -> int:
        """Hop diameter (largest component), by a double BFS sweep: a lower bound that is exact
        on trees and tight on manifold graphs. Cached.

        A polynomial of degree ``K`` in ``L`` (Chebyshev, Krylov) is exactly 0 between nodes more
        than ``K`` hops apart, so this is the degree that resolves every pair.
        """
        if "hops" not in self._cache:
            import scipy.sparse as sp
            from scipy.sparse.csgraph import shortest_path

            adj = sp.csr_matrix(
                (np.ones_like(self.weights), (self.rows, self.cols)), shape=(self.n, self.n)
            )
            big = np.bincount(self.component_labels).argmax()
            start = int(np.nonzero(self.component_labels == big)[0][0])
            d = shortest_path(adj, unweighted=True, indices=start)
            a = int(np.argmax(np.where(np.isfinite(d), d, -1)))
            d = shortest_path(adj, unweighted=True, indices=a)
            self._cache["hops"] = int(np.max(d[np.isfinite(d)]))
        return self._cache["hops"]

    def eccentricity_estimate(self) -> np.ndarray:
        """Per node, ``max(hops to a, hops to b)`` for the ends ``a, b`` of a double BFS sweep
        in its component: the hop eccentricity on paths and trees, close to it on manifold
        graphs (3 breadth-first searches; cached). Used to group source nodes of similar reach
        (a polynomial heat kernel's order follows the hop distances of its sources).
        """
        if "ecc" not in self._cache:
            import scipy.sparse as sp
            from scipy.sparse.csgraph import shortest_path

            n, labels = self.n, self.component_labels
            adj = sp.csr_matrix((np.ones_like(self.weights), (self.rows, self.cols)), shape=(n, n))

            def bfs(starts: np.ndarray) -> np.ndarray:
                """Hops to the nearest start, through a virtual node joined to every start."""
                link = sp.csr_matrix(
                    (np.ones(len(starts)), (np.full(len(starts), n), starts)), shape=(n + 1, n + 1)
                )
                A = sp.bmat([[adj, None], [None, sp.csr_matrix((1, 1))]], format="csr") + link
                return shortest_path(A + link.T, unweighted=True, indices=n)[:n] - 1.0

            def farthest(d: np.ndarray) -> np.ndarray:
                order = np.lexsort((d, labels))  # by component, then hops: the last is farthest
                last = np.r_[np.nonzero(np.diff(labels[order]))[0], n - 1]
                return order[last]

            first = np.unique(labels, return_index=True)[1]
            d_a = bfs(farthest(bfs(first)))
            d_b = bfs(farthest(d_a))
            self._cache["ecc"] = np.maximum(d_a, d_b)
            self._cache["sweep"] = d_a
        return self._cache["ecc"]

    def sweep_levels(self) -> np.ndarray:
        """Hops from one end ``a`` of the double sweep (see :meth:`eccentricity_estimate`): an
        order along the graph's longest extent, from ``a`` towards the other end. Cached."""
        self.eccentricity_estimate()
        return self._cache["sweep"]

    def eigvalsh(self) -> torch.Tensor:
        """Laplacian eigenvalues, ascending (from the cached eigendecomposition when present)."""
        if "eigh" in self._cache:
            return self._cache["eigh"][0]
        if "eigvalsh" not in self._cache:
            L = self.laplacian_dense()
            self._cache["eigvalsh"] = torch.linalg.eigvalsh(0.5 * (L + L.T)).clamp_min(0.0)
        return self._cache["eigvalsh"]

    def clear_cache(self) -> None:
        """Drop cached operators and decompositions (frees memory)."""
        self._cache.clear()

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # ``back`` is a closure of ``to_torch`` (not picklable): keep instead an empty result of
        # the data's kind, dtype and device, from which ``to_torch`` rebuilds an equivalent
        # converter. The cache is dropped (it is recomputed on demand, to the same values).
        state = self.__dict__.copy()
        state["_cache"] = {}
        back = state.pop("back")
        state["_back_probe"] = (
            None if back is to_numpy else back(torch.zeros(0, dtype=torch.float64))
        )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        probe = state.pop("_back_probe")
        self.__dict__.update(state)
        self.back = to_numpy if probe is None else to_torch(probe)[1]

    def __repr__(self) -> str:
        return (
            f"DiffusionGraph(n={self.n}, edges={self.weights.size}, kernel={self.params.get('kernel')!r}, "
            f"laplacian={self.laplacian!r}, components={self.n_components})"
        )


def _search_radius(
    X: np.ndarray, k: int, radius_factor: np.ndarray | float, k_cap: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """kNN out to ``radius`` for every point, where ``radius = radius_factor · d_k``.

    Returns (dist, idx, eps_k, truncated): neighbour lists long enough that every point's list
    reaches its radius (or the cap ``k_cap``).
    """
    n = X.shape[0]
    kk = min(max(2 * k, k + 8), n - 1, k_cap)
    while True:
        dist, idx = knn(X, kk)
        eps = dist[:, k - 1]
        radius = eps * radius_factor if np.ndim(radius_factor) == 0 else radius_factor
        short = dist[:, -1] <= radius
        if not short.any() or kk >= min(n - 1, k_cap):
            return dist, idx, eps, bool(short.any()) and kk < n - 1
        kk = min(2 * kk, n - 1, k_cap)


def build_graph(
    X: Any,
    *,
    k: int = 5,
    kernel: str = "alpha",
    decay: float = 40.0,
    bandwidth: float | None = None,
    anisotropy: float = 0.0,
    threshold: float = 1e-4,
    laplacian: str = "normalized",
    max_neighbors: int = 1000,
    self_loops: bool = False,
    device: Any = None,
) -> DiffusionGraph:
    """Build the sparse affinity graph of a point cloud (faiss kNN, never a dense ``n × n``).

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Points (NumPy or torch).
    k : int, default=5
        Neighbour rank that sets the adaptive scale ``ε_k(i)`` (self excluded).
    kernel : {"alpha", "gaussian"}, default="alpha"
        Alpha-decay (PHATE) or Gaussian kernel (see the module docstring).
    decay : float, default=40
        Exponent ``α`` of the alpha-decay kernel.
    bandwidth : float, optional
        Gaussian ``σ``. Default: the median over points of the distance to the ``k``-th neighbour.
    anisotropy : float in [0, 1], default=0
        Density normalisation ``K_ij / (q_i q_j)^a``.
    threshold : float, default=1e-4
        Kernel values below this are dropped (sets the neighbour-search radius).
    laplacian : {"normalized", "combinatorial"}, default="normalized"
        Which Laplacian the heat kernel uses.
    max_neighbors : int, default=1000
        Cap on the neighbour list per point (a warning says when the radius was not reached).
    self_loops : bool, default=False
        Keep the kernel's diagonal ``K_ii = 1`` in ``W`` (PHATE, DSE) or not (HeatGeo's
        Laplacian; the default). See the module docstring: the heat time unit depends on it.
    device : str or torch.device, optional
        Where spectral operators live. Default: ``X``'s device for tensors, else CPU.

    Returns
    -------
    graph : DiffusionGraph

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph
    >>> t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    >>> g = build_graph(np.c_[np.cos(t), np.sin(t)], k=5)
    >>> g.n, g.n_components, g.laplacian
    (200, 1, 'normalized')
    >>> bool(np.allclose(g.to_scipy().toarray(), g.to_scipy().toarray().T))
    True
    """
    Xa = check_array(X, name="X", min_samples=3)
    if device is None:
        device = Xa.device if isinstance(Xa, torch.Tensor) else "cpu"
    dev = resolve_device(device)
    _, back = to_torch(Xa)
    X64 = np.asarray(to_numpy(Xa), dtype=np.float64)
    Xn, e = _normalise(X64)  # every distance below is in units of 2^e
    n = Xn.shape[0]
    k = check_positive_int(k, "k", max_val=n - 1)
    check_choice(kernel, "kernel", _KERNELS)
    check_choice(laplacian, "laplacian", _LAPLACIANS)
    decay = float(check_scalar(decay, "decay", min_val=0.0, include_min=False))
    anisotropy = float(check_scalar(anisotropy, "anisotropy", min_val=0.0, max_val=1.0))
    threshold = float(
        check_scalar(
            threshold, "threshold", min_val=0.0, max_val=1.0, include_min=False, include_max=False
        )
    )
    max_neighbors = check_positive_int(max_neighbors, "max_neighbors", min_val=k)
    if not isinstance(self_loops, (bool, np.bool_)):
        raise TypeError(f"self_loops must be True or False; got {type(self_loops).__name__}.")
    self_loops = bool(self_loops)
    if bandwidth is not None:
        bandwidth = float(check_scalar(bandwidth, "bandwidth", min_val=0.0, include_min=False))

    log_inv = math.log(1.0 / threshold)
    if kernel == "alpha":
        factor = log_inv ** (1.0 / decay)
        dist, idx, eps, truncated = _search_radius(Xn, k, factor, max_neighbors)
        if np.any(eps <= 0):
            raise ValueError(
                f"{int((eps <= 0).sum())} point(s) have {k} or more exact duplicates (ε_k = 0); "
                "deduplicate X or increase k."
            )
        vals = np.exp(-((dist / eps[:, None]) ** decay))
        scales = np.ldexp(eps, e)
    else:
        if bandwidth is None:
            d0, _ = knn(Xn, k)
            bw = float(np.median(d0[:, k - 1]))
            if bw <= 0:
                raise ValueError(
                    "the median k-NN distance is 0 (duplicated points); pass bandwidth."
                )
            bandwidth = float(np.ldexp(bw, e))
        else:
            bw = float(np.ldexp(bandwidth, -e))
        radius = bw * math.sqrt(2.0 * log_inv)
        dist, idx, _, truncated = _search_radius(Xn, k, np.full(n, radius), max_neighbors)
        vals = np.exp(-(dist**2) / (2.0 * bw**2))
        scales = np.full(n, bandwidth)
    if truncated:
        warnings.warn(
            f"neighbour lists were capped at max_neighbors={max_neighbors} before reaching the kernel "
            f"radius (threshold={threshold}); increase max_neighbors or decrease the bandwidth.",
            UserWarning,
            stacklevel=2,
        )
    keep = vals >= threshold
    r = np.repeat(np.arange(n), dist.shape[1])[keep.ravel()]
    c = idx.ravel()[keep.ravel()]
    v = vals.ravel()[keep.ravel()]
    # symmetrise (K + K^T)/2 and, when asked, keep the kernel's diagonal K_ii = 1
    diag = np.arange(n) if self_loops else np.arange(0)
    rows = np.concatenate([r, c, diag])
    cols = np.concatenate([c, r, diag])
    w = np.concatenate([0.5 * v, 0.5 * v, np.ones(diag.size)])
    import scipy.sparse as sp

    W = sp.coo_matrix((w, (rows, cols)), shape=(n, n)).tocsr()
    W.sum_duplicates()
    if anisotropy > 0:
        q = np.asarray(W.sum(axis=1)).ravel()
        W = sp.diags(q**-anisotropy) @ W @ sp.diags(q**-anisotropy)
    W = W.tocoo()
    params = {
        "k": k,
        "kernel": kernel,
        "decay": decay if kernel == "alpha" else None,
        "bandwidth": bandwidth if kernel == "gaussian" else None,
        "anisotropy": anisotropy,
        "threshold": threshold,
        "laplacian": laplacian,
        "self_loops": self_loops,
    }
    return DiffusionGraph(
        W.row,
        W.col,
        W.data,
        n,
        laplacian=laplacian,
        bandwidths=scales,
        knn_distances=np.ldexp(dist[:, :k], e),
        knn_indices=idx[:, :k],
        params=params,
        device=dev,
        fingerprint=_fingerprint(X64),
        back=back,
    )
