"""How well estimated distances preserve ground-truth geometry, row by row.

All functions take distances from a set of source points (``rows``) to every point, as
``(m, n)`` matrices, so they never need the full ``n × n`` matrices. The source point itself
(distance 0 in the ground truth) is excluded from every statistic.

* per-row Spearman and Pearson correlation between the estimated and true distance rows,
  averaged over rows (ties get average ranks — saturated distances tie);
* precision at ``k``: the fraction of each point's ``k`` true nearest neighbours that are among
  its ``k`` estimated nearest neighbours;
* trustworthiness (Venna & Kaski 2001): penalises estimated neighbours that are far in the truth,
  ``1 - 2/(m k (2n - 3k - 1)) Σ_i Σ_{j ∈ U_k(i)} (r_ij - k)`` with ``r_ij`` the true rank; with all
  rows it equals :func:`sklearn.manifold.trustworthiness`.

:func:`geodesic_method_distances` computes the distances to score: heat geodesics, the PHATE
potential, diffusion maps, shortest paths and Euclidean distances from source rows, on one
shared graph (the ``diffusion`` study compares them with ground-truth geodesics).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.stats import rankdata

from .._backend import to_numpy
from .._validation import check_array, check_positive_int
from .baselines import diffusion_map, euclidean_distances, shortest_path_distances
from .geodesic import heat_geodesic_distances, select_t
from .graph import DisconnectedGraphWarning, build_graph
from .phate import phate_potential_distances

__all__ = [
    "METHODS",
    "evaluate_distances",
    "geodesic_method_distances",
    "precision_at_k",
    "rowwise_correlation",
    "trustworthiness",
]

METHODS = ("heat_geodesic", "phate", "diffusion_maps", "shortest_path", "euclidean")
"""The distances :func:`geodesic_method_distances` returns, in this order."""


def _pair(D_est: Any, D_true: Any, rows: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    E = np.asarray(
        to_numpy(check_array(D_est, name="D_est", shape_hint="(n_rows, n_samples)")),
        dtype=np.float64,
    )
    T = np.asarray(
        to_numpy(check_array(D_true, name="D_true", shape_hint="(n_rows, n_samples)")),
        dtype=np.float64,
    )
    if E.shape != T.shape:
        raise ValueError(f"D_est and D_true must have the same shape; got {E.shape} and {T.shape}.")
    m, n = T.shape
    if n < 3:
        raise ValueError(f"distance rows need at least 3 columns; got {n}.")
    if rows is None:
        if m != n:
            raise ValueError(
                f"rows must be given when the matrices are not square; got shape {T.shape}."
            )
        r = np.arange(n)
    else:
        r = np.asarray(rows)
        if r.ndim != 1 or r.dtype.kind not in "iu" or r.shape[0] != m:
            raise ValueError(
                f"rows must be {m} integer column indices (one per row); got shape {r.shape}, dtype {r.dtype}."
            )
        if r.min() < 0 or r.max() >= n:
            raise ValueError(
                f"rows must index columns in [0, {n}); got range [{r.min()}, {r.max()}]."
            )
    return E, T, r.astype(np.int64)


def _drop_self(A: np.ndarray, r: np.ndarray) -> np.ndarray:
    m, n = A.shape
    mask = np.ones((m, n), dtype=bool)
    mask[np.arange(m), r] = False
    return A[mask].reshape(m, n - 1)


def rowwise_correlation(
    D_est: Any, D_true: Any, *, rows: Any = None, method: str = "spearman"
) -> float:
    """Mean over rows of the correlation between estimated and true distance rows.

    Parameters
    ----------
    D_est, D_true : array_like of shape (m, n)
        Distances from ``m`` source points to all ``n`` points.
    rows : array_like of int of shape (m,), optional
        Column index of each source point (excluded from its row). Default: ``arange(n)``
        (square matrices).
    method : {"spearman", "pearson"}

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import rowwise_correlation
    >>> D = np.abs(np.subtract.outer(np.arange(6.0), np.arange(6.0)))
    >>> rowwise_correlation(D**2, D), round(rowwise_correlation(D**2, D, method="pearson"), 3)
    (1.0, 0.984)
    """
    if method not in ("spearman", "pearson"):
        raise ValueError(f"method must be one of ['spearman', 'pearson']; got {method!r}.")
    E, T, r = _pair(D_est, D_true, rows)
    E, T = _drop_self(E, r), _drop_self(T, r)
    if method == "spearman":
        E = rankdata(E, axis=1, method="average")
        T = rankdata(T, axis=1, method="average")
    E = E - E.mean(1, keepdims=True)
    T = T - T.mean(1, keepdims=True)
    den = np.sqrt((E * E).sum(1) * (T * T).sum(1))
    corr = np.where(den > 0, (E * T).sum(1) / np.where(den > 0, den, 1.0), 0.0)
    return float(corr.mean())


def _knn_sets(A: np.ndarray, k: int) -> np.ndarray:
    # stable ordering: ties broken by column index
    return np.argsort(A, axis=1, kind="stable")[:, :k]


def precision_at_k(D_est: Any, D_true: Any, k: int = 10, *, rows: Any = None) -> float:
    """Mean fraction of the ``k`` true nearest neighbours found among the ``k`` estimated ones.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import precision_at_k
    >>> D = np.abs(np.subtract.outer(np.arange(8.0), np.arange(8.0)))
    >>> precision_at_k(D, D, 2), precision_at_k(-D, D, 2) < 0.5
    (1.0, True)
    """
    E, T, r = _pair(D_est, D_true, rows)
    k = check_positive_int(k, "k", max_val=T.shape[1] - 2)
    E, T = _drop_self(E, r), _drop_self(T, r)
    ke, kt = _knn_sets(E, k), _knn_sets(T, k)
    hits = [np.intersect1d(a, b, assume_unique=True).size for a, b in zip(ke, kt)]
    return float(np.mean(hits) / k)


def trustworthiness(D_est: Any, D_true: Any, k: int = 10, *, rows: Any = None) -> float:
    """Trustworthiness of the estimated neighbourhoods (1 = every estimated neighbour is a true one).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> from sklearn.manifold import trustworthiness as sk_trust
    >>> from repgeo.diffusion import trustworthiness
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(40, 5)), rng.normal(size=(40, 2))
    >>> bool(np.isclose(trustworthiness(cdist(Y, Y), cdist(X, X), 5), sk_trust(X, Y, n_neighbors=5)))
    True
    """
    E, T, r = _pair(D_est, D_true, rows)
    m, n = T.shape
    k = check_positive_int(k, "k", max_val=(n - 1) // 2)
    E, T = _drop_self(E, r), _drop_self(T, r)
    # rank (1-based) of every point in the true ordering of each row
    order = np.argsort(T, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, n)[None, :].repeat(m, 0), axis=1)
    est_nn = _knn_sets(E, k)
    r_est = np.take_along_axis(ranks, est_nn, axis=1)
    penalty = np.clip(r_est - k, 0, None).sum()
    return float(1.0 - 2.0 / (m * k * (2.0 * n - 3.0 * k - 1.0)) * penalty)


def evaluate_distances(
    D_est: Any, D_true: Any, *, rows: Any = None, k: int = 10
) -> dict[str, float]:
    """Spearman, Pearson, precision at ``k`` and trustworthiness at ``k`` in one dict.

    Keys are ``"spearman"``, ``"pearson"``, ``"precision_at_k"`` and ``"trustworthiness"``
    (``k`` is the caller's; it is not repeated in the keys).
    """
    return {
        "spearman": rowwise_correlation(D_est, D_true, rows=rows, method="spearman"),
        "pearson": rowwise_correlation(D_est, D_true, rows=rows, method="pearson"),
        "precision_at_k": precision_at_k(D_est, D_true, k, rows=rows),
        "trustworthiness": trustworthiness(D_est, D_true, k, rows=rows),
    }


def geodesic_method_distances(
    X: Any,
    *,
    rows: Any,
    k: int,
    dm_components: int = 10,
    random_state: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Distances from ``rows`` to every point by each method of :data:`METHODS`.

    One alpha-decay kNN graph (:func:`repgeo.diffusion.build_graph`) is shared by every graph
    method: heat geodesics at the automatic ``t`` (:func:`repgeo.diffusion.select_t`), the PHATE
    potential distance, Euclidean distances between ``dm_components`` diffusion-map coordinates,
    graph shortest paths (pairs in different components are set to twice the largest finite
    path) and plain Euclidean distances.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points.
    rows : array_like of int, shape (m,)
        Source points.
    k : int
        Neighbours of the graph.
    dm_components : int, default=10
        Diffusion-map coordinates.
    random_state : int, default=0
        Seed of the automatic ``t``, PHATE and the diffusion map.

    Returns
    -------
    distances : dict of str to ndarray of shape (m, n)
        ``{method: D}`` in the order of :data:`METHODS`.
    info : dict
        ``t`` (heat), ``t_phate``, ``order`` (Chebyshev order), ``saturated`` (fraction of
        saturated heat-geodesic distances), ``components`` (of the graph) and ``warnings``
        (messages of the graph's :class:`~repgeo.diffusion.DisconnectedGraphWarning`).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import geodesic_method_distances
    >>> theta = np.linspace(0, 2 * np.pi, 150, endpoint=False)
    >>> X = np.c_[np.cos(theta), np.sin(theta)]
    >>> D, info = geodesic_method_distances(X, rows=[0, 50], k=5)
    >>> list(D) == ["heat_geodesic", "phate", "diffusion_maps", "shortest_path", "euclidean"]
    True
    >>> D["shortest_path"].shape, info["components"]
    ((2, 150), 1)
    """
    X = to_numpy(check_array(X, name="X"))
    rows = to_numpy(check_array(rows, name="rows", ndim=1, dtype="int"))
    if rows.min() < 0 or rows.max() >= X.shape[0]:
        raise ValueError(
            f"rows must be indices in [0, {X.shape[0]}); got range [{rows.min()}, {rows.max()}]."
        )
    k = check_positive_int(k, "k")
    dm_components = check_positive_int(dm_components, "dm_components")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DisconnectedGraphWarning)
        g = build_graph(X, k=k)
    t, _, _ = select_t(g, random_state=random_state)
    D_heat, heat = heat_geodesic_distances(g, t, rows=rows, return_info=True)
    D_phate, t_phate = phate_potential_distances(
        g, rows=rows, random_state=random_state, return_t=True
    )
    psi = diffusion_map(g, dm_components, random_state=random_state)
    D_sp = shortest_path_distances(g, X, rows=rows)
    finite = np.isfinite(D_sp)
    if not finite.all():  # disconnected: beyond every finite path
        D_sp = np.where(finite, D_sp, 2.0 * np.nanmax(np.where(finite, D_sp, np.nan)))
    distances = {
        "heat_geodesic": D_heat,
        "phate": D_phate,
        "diffusion_maps": euclidean_distances(psi, rows=rows),
        "shortest_path": D_sp,
        "euclidean": euclidean_distances(X, rows=rows),
    }
    info = {
        "t": t,
        "t_phate": t_phate,
        "order": heat.get("order"),
        "saturated": heat["saturated_fraction"],
        "components": g.n_components,
        "warnings": [str(w.message) for w in caught],
    }
    return distances, info
