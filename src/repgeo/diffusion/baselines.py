"""Baseline distances for geodesic evaluation: diffusion maps, graph shortest paths, Euclidean.

All return distances from a set of source rows to every point, ``(n_rows, n)``.

References
----------
Coifman & Lafon, "Diffusion maps", ACHA 21 (2006). Tenenbaum, de Silva & Langford, "A global
geometric framework for nonlinear dimensionality reduction", Science 290 (2000) (Isomap).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_positive_int, check_scalar
from .graph import DiffusionGraph
from .heat import _columns

__all__ = ["diffusion_map", "euclidean_distances", "shortest_path_distances"]


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
    Lanczos, ARPACK). Euclidean distances between the coordinates approximate diffusion
    distances at time ``t``.

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
    from scipy.sparse.linalg import eigsh

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
    S = 0.5 * (S + S.T)
    v0 = np.random.default_rng(random_state).normal(size=graph.n)
    k = n_components + 1
    if graph.n <= 500:
        evals, evecs = np.linalg.eigh(S.toarray())
        evals, evecs = evals[-k:], evecs[:, -k:]
    else:
        evals, evecs = eigsh(S, k=k, which="LA", v0=v0, tol=1e-10)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    psi = evecs / np.sqrt(d)[:, None]
    psi = psi / psi[:, :1]  # right eigenvectors normalised so ψ_0 = 1
    psi = psi * np.sign(psi[np.abs(psi).argmax(0), np.arange(k)])
    out = psi[:, 1:] * np.abs(evals[1:]) ** t
    return graph.back(torch.from_numpy(out))


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
    r = np.repeat(np.arange(n), k)
    c = idx.ravel()
    w = np.linalg.norm(X[r] - X[c], axis=1)
    G = sp.coo_matrix((np.maximum(w, 1e-12), (r, c)), shape=(n, n)).tocsr()
    G = G.maximum(G.T)
    D = dijkstra(G, directed=False, indices=cols)
    return graph.back(torch.from_numpy(D))


def euclidean_distances(X: Any, *, rows: Any = None) -> Any:
    """Euclidean distances from ``rows`` (default all) to every point, ``(n_rows, n)``, chunked.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import euclidean_distances
    >>> euclidean_distances(np.array([[0.0, 0.0], [3.0, 4.0]]), rows=[0]).tolist()
    [[0.0, 5.0]]
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
    out = torch.empty(len(cols), n, dtype=Xt.dtype, device=Xt.device)
    size = chunk_rows(Xt.element_size() * (n + Xt.shape[1]), maximum=max(len(cols), 1))
    for sl in iter_chunks(len(cols), size):
        out[sl] = torch.cdist(Xt[torch.as_tensor(cols[sl], device=Xt.device)], Xt)
    return back(out)
