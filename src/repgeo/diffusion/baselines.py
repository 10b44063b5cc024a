"""Baseline distances for geodesic evaluation: diffusion maps, graph shortest paths, Euclidean.

All return distances from a set of source rows to every point, ``(n_rows, n)``.

References
----------
Coifman & Lafon, "Diffusion maps", ACHA 21 (2006). Tenenbaum, de Silva & Langford, "A global
geometric framework for nonlinear dimensionality reduction", Science 290 (2000) (Isomap).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_positive_int, check_scalar
from .graph import DiffusionGraph, _normalise
from .heat import _columns

__all__ = ["diffusion_map", "euclidean_distances", "shortest_path_distances"]


def _top_eigenpairs(S: Any, k: int, v0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` eigenpairs (descending) of a symmetric sparse matrix of a *connected* graph."""
    from scipy.sparse.linalg import eigsh

    m = S.shape[0]
    k = min(k, m)
    if m <= 500 or k >= m - 1:
        evals, evecs = np.linalg.eigh(S.toarray())
        evals, evecs = evals[-k:], evecs[:, -k:]
    else:
        evals, evecs = eigsh(S, k=k, which="LA", v0=v0, tol=1e-10)
    order = np.argsort(evals)[::-1]
    return evals[order], evecs[:, order]


def diffusion_map(
    graph: DiffusionGraph,
    n_components: int = 10,
    *,
    t: float = 1.0,
    alpha: float = 1.0,
    random_state: Any = 0,
) -> Any:
    """Diffusion-map coordinates ``ψ_k λ_k^t`` (``k = 1..n_components``, trivial one dropped).

    The kernel is the graph's affinity ``W`` renormalised by ``alpha``
    (``W_α = Q^{-α} W Q^{-α}``, ``Q`` its degrees; ``α = 1`` removes the sampling density), and
    ``ψ`` are right eigenvectors of ``P = D_α^{-1} W_α`` from the symmetric form (sparse
    Lanczos, ARPACK), normalised so that ``Σ_i π_i ψ_k(i)² = 1`` with ``π = d / Σ d`` the
    stationary distribution (so ``ψ_0 = 1``). Euclidean distances between the coordinates
    approximate diffusion distances at time ``t``,
    ``D_t(i, j)² = Σ_z (P^t_iz − P^t_jz)² / π_z``; with every component they equal them.

    **Disconnected graphs.** With ``c > 1`` connected components the eigenvalue 1 has
    multiplicity ``c`` and its eigenvectors are only defined up to a rotation, so the connected
    recipe (divide by ``ψ_0``) gives NaN, inf or arbitrary numbers. Here each component is
    decomposed on its own: the eigenvalue-1 space is spanned exactly by the component
    indicators; the constant vector is dropped (as in the connected case) and the other ``c − 1``
    directions (eigenvalue 1, a fixed orthonormal basis of the indicators) come first, followed by
    the non-trivial eigenvectors of all components in decreasing order of ``|λ|``. Distances
    between points of different components are then the (finite, ``t``-independent) diffusion
    distance between distributions on disjoint supports.

    Parameters
    ----------
    graph : DiffusionGraph
    n_components : int, default=10
        Number of coordinates (at most ``n − 2``).
    t : float, default=1
        Diffusion time (``λ^t``).
    alpha : float in [0, 1], default=1
        Density renormalisation.
    random_state : int, optional
        Starting vector of the sparse eigensolver.

    Returns
    -------
    Psi : ndarray or Tensor of shape (n, n_components)

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, diffusion_map
    >>> theta = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    >>> Psi = diffusion_map(build_graph(np.c_[np.cos(theta), np.sin(theta)], k=5), 2)
    >>> r = np.linalg.norm(Psi, axis=1)                  # a circle maps to a circle
    >>> bool(r.std() / r.mean() < 0.05)
    True
    """
    import scipy.sparse as sp

    if not isinstance(graph, DiffusionGraph):
        raise TypeError(f"graph must be a DiffusionGraph; got {type(graph).__name__}.")
    n_components = check_positive_int(n_components, "n_components", max_val=graph.n - 2)
    t = float(check_scalar(t, "t", min_val=0.0))
    alpha = float(check_scalar(alpha, "alpha", min_val=0.0, max_val=1.0))
    W = graph.to_scipy()
    q = graph.degrees
    Wa = sp.diags(q**-alpha) @ W @ sp.diags(q**-alpha)
    d = np.asarray(Wa.sum(1)).ravel()
    S = sp.diags(d**-0.5) @ Wa @ sp.diags(d**-0.5)
    S = (0.5 * (S + S.T)).tocsr()
    v0 = np.random.default_rng(random_state).normal(size=graph.n)
    k = n_components + 1
    vol = d.sum()
    if graph.n_components == 1:
        evals, evecs = _top_eigenpairs(S, k, v0)
        # the trivial eigenvector is known exactly: sqrt(d) / ||sqrt(d)|| (eigenvalue 1)
        evals[0], evecs[:, 0] = 1.0, np.sqrt(d / vol)
        phi, lam = evecs[:, 1:], evals[1:]
    else:
        labels = graph.component_labels
        n_c = graph.n_components
        trivial = np.zeros((graph.n, n_c))
        nontrivial: list[tuple[float, int, int, np.ndarray]] = []  # (λ, component, rank, φ)
        for c in range(n_c):
            idx = np.nonzero(labels == c)[0]
            trivial[idx, c] = np.sqrt(d[idx] / d[idx].sum())
            if idx.size == 1:
                continue
            ev, U = _top_eigenpairs(S[idx][:, idx], min(k, idx.size), v0[idx])
            for r in range(1, ev.size):  # rank 0 is the component's own trivial vector
                full = np.zeros(graph.n)
                full[idx] = U[:, r]
                nontrivial.append((float(ev[r]), c, r, full))
        # an orthonormal basis of the indicator space whose first vector is the global trivial
        # one (sqrt(d / vol) = Σ_c w_c · indicator_c); the other c - 1 directions are kept
        w = np.sqrt(np.bincount(labels, weights=d, minlength=n_c) / vol)
        Qc, _ = np.linalg.qr(np.c_[w, np.eye(n_c)[:, :-1]])
        between = trivial @ Qc[:, 1:]
        nontrivial.sort(key=lambda e: (-abs(e[0]), e[1], e[2]))
        nontrivial = nontrivial[: max(n_components - (n_c - 1), 0)]
        phi = np.c_[
            between, np.stack([e[3] for e in nontrivial], 1) if nontrivial else between[:, :0]
        ]
        lam = np.r_[np.ones(n_c - 1), [e[0] for e in nontrivial]]
        phi, lam = phi[:, :n_components], lam[:n_components]
    psi = phi * np.sqrt(vol / d)[:, None]  # right eigenvectors with Σ π ψ² = 1 (ψ_0 = 1)
    psi = psi * np.sign(psi[np.abs(psi).argmax(0), np.arange(psi.shape[1])])
    out = psi * np.abs(lam) ** t
    return graph.back(torch.from_numpy(np.ascontiguousarray(out)))


def shortest_path_distances(graph: DiffusionGraph, X: Any, *, rows: Any = None) -> Any:
    """Isomap geodesics: Dijkstra on the graph's kNN edges weighted by Euclidean length.

    Parameters
    ----------
    graph : DiffusionGraph
        Supplies the (symmetrised) ``k``-nearest-neighbour edges.
    X : array_like of shape (n, d)
        The points the graph was built from (edge lengths).
    rows : array_like of int, optional
        Source nodes (default all).

    Returns
    -------
    D : ndarray or Tensor of shape (n_rows, n)
        ``inf`` between disconnected components.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, shortest_path_distances
    >>> X = np.c_[np.arange(10.0), np.zeros(10)]
    >>> float(shortest_path_distances(build_graph(X, k=2), X, rows=[0])[0, -1])
    9.0
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import dijkstra

    if not isinstance(graph, DiffusionGraph):
        raise TypeError(f"graph must be a DiffusionGraph; got {type(graph).__name__}.")
    X = np.asarray(
        check_array(X, name="X") if not isinstance(X, torch.Tensor) else X.detach().cpu().numpy(),
        dtype=np.float64,
    )
    if X.shape[0] != graph.n:
        raise ValueError(f"X must have the graph's {graph.n} rows; got {X.shape[0]}.")
    cols = _columns(graph, rows)
    idx = graph.knn_indices
    n, k = idx.shape
    Xs, e = _normalise(X)  # path lengths in units of 2^e: no overflow at any scale
    r = np.repeat(np.arange(n), k)
    c = idx.ravel()
    w = np.linalg.norm(Xs[r] - Xs[c], axis=1)
    # an explicit zero would drop the edge: duplicates get a length far below any other
    G = sp.coo_matrix((np.maximum(w, 1e-300), (r, c)), shape=(n, n)).tocsr()
    G = G.maximum(G.T)
    D = np.ldexp(dijkstra(G, directed=False, indices=cols), e)
    return graph.back(torch.from_numpy(D))


def euclidean_distances(X: Any, *, rows: Any = None) -> Any:
    """Euclidean distances from ``rows`` (default all) to every point, ``(n_rows, n)``, chunked.

    The data are centred and scaled by a power of two before the distances are taken (and the
    scale restored after), so every distance that is representable in the input's dtype is
    returned finite and accurate, even for entries near the overflow or underflow limits
    (``X * 1e300`` gives ``1e300`` times the distances of ``X``).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import euclidean_distances
    >>> euclidean_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), rows=[0]).tolist()
    [[0.0, 5.0]]
    >>> euclidean_distances(np.array([[0.0, 0.0], [3e300, 4e300]]), rows=[0]).tolist()
    [[0.0, 5e+300]]
    """
    X = check_array(X, name="X")
    Xt, back = to_torch(X)
    n = Xt.shape[0]
    cols = np.arange(n) if rows is None else np.asarray(rows)
    if (
        cols.ndim != 1
        or cols.dtype.kind not in "iu"
        or (cols.size and (cols.min() < 0 or cols.max() >= n))
    ):
        raise ValueError(f"rows must be a 1-D array of integer indices in [0, {n}).")
    # centre (halving first keeps the mean finite near the overflow limit), then scale by a power
    # of two so the squares neither overflow nor underflow; both steps are exact or nearly so
    Xc = Xt * 0.5
    Xc = Xc - Xc.mean(0, keepdim=True)
    amax = float(Xc.abs().max()) if Xc.numel() else 0.0
    exp = math.frexp(amax)[1] if amax > 0 else 0
    Xc = torch.ldexp(Xc, torch.tensor(-exp, device=Xc.device)).to(Xt.dtype)
    out = torch.empty(len(cols), n, dtype=Xt.dtype, device=Xt.device)
    sq = (Xc * Xc).sum(1)
    size = chunk_rows(Xt.element_size() * 3 * (n + Xt.shape[1]), maximum=max(len(cols), 1))
    for sl in iter_chunks(len(cols), size):
        r = torch.as_tensor(cols[sl], device=Xt.device)
        D = torch.cdist(Xc[r], Xc)
        # the GEMM form |x|² + |y|² - 2x·y cancels for near pairs (a point and itself gives
        # ~1e-8, not 0): recompute pairs closer than 1 % of their norms from the differences
        i, j = (D * D < 1e-4 * (sq[r][:, None] + sq[None, :])).nonzero(as_tuple=True)
        if i.numel():
            D[i, j] = (Xc[r[i]] - Xc[j]).norm(dim=1)
        out[sl] = D
    # undo the scaling: 2^(exp + 1) (the +1 undoes the halving)
    out = torch.ldexp(out, torch.tensor(exp + 1, device=out.device)).to(Xt.dtype)
    return back(out)
