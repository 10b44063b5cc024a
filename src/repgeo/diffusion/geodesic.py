"""Heat-geodesic distances, automatic diffusion time and the HeatGeodesic embedding.

Varadhan's formula ``d(x, y)² = lim_{t→0} -4t log h_t(x, y)`` turns a heat kernel into a
geodesic distance. On a graph (Huguet et al. 2023)::

    d_t(i, j) = sqrt(max(0, -4t log H_ij + σ · 4t · log(½ (H_ii + H_jj))))

with ``H = exp(-t L)`` and ``σ ≥ 0`` a regulariser (``σ = 0`` is pure Varadhan; ``σ = 1`` makes
``d(i, i) = 0``). The diagonal of the returned distances is set to 0.

A kernel entry that cannot be resolved *saturates*: its distance is computed at a floor and
ties with the others there; the fraction of saturated pairs is reported (``saturated_fraction``
in the info, a :class:`SaturationWarning` for connected pairs). The exact (eigendecomposition)
backend has an *absolute* rounding error of ~1e-16, so it saturates entries below ``eps = 1e-15``
(at ``sqrt(4t log(1/eps))``). The Chebyshev and Krylov backends are polynomials of ``L``: an
entry between nodes ``h`` hops apart is a sum of path contributions of that size, computed to
good *relative* accuracy, but exactly 0 beyond the polynomial degree ``K`` (``K``-hop locality).
The default Chebyshev backend sums its series in the log domain
(:func:`~repgeo.diffusion.heat.chebyshev_log_columns`), so entries far below the smallest
float64 (``e^{-1000}`` and beyond: hundreds of hops on a large graph at a small ``t``) keep
their logarithm, and its default order follows the real hop distances of the requested rows;
it saturates only pairs it never reached (another component, a capped ``order``) or where the
series had not converged. The Krylov backend's floor is 1e-300.

The time ``t`` is in the unit of the graph's Laplacian (normalised by default, as in HeatGeo).
``t="auto"`` picks the knee (Kneedle; Satopää et al. 2011) of the heat-kernel spectral entropy
``S(t) = -Σ p_i log p_i``, ``p_i ∝ exp(-t λ_i)`` over a grid of ``t``, computed from the exact
spectrum on small graphs and by stochastic Lanczos quadrature on large ones (no dense step).

References
----------
Varadhan, "On the behavior of the fundamental solution of the heat equation with variable
coefficients", CPAM 20 (1967). Huguet et al., "A Heat Diffusion Perspective on Geodesic Preserving
Dimensionality Reduction", NeurIPS 2023.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import (
    chunk_rows,
    cpu_workers,
    get_memory_budget,
    iter_chunks,
    map_blocks,
    to_numpy,
    to_torch,
)
from .._validation import (
    check_array,
    check_choice,
    check_positive_int,
    check_random_state,
    check_scalar,
    torch_generator,
)
from .graph import DiffusionGraph, build_graph
from .heat import (
    ChebyshevStep,
    _check_ts,
    _columns,
    chebyshev_log_columns,
    heat_columns,
    resolve_method,
)
from .mds import _classical, _smacof, farthest_point_sampling, landmark_placement
from .spectral import slq

_EPS = {"exact": 1e-15, "chebyshev": 1e-300, "krylov": 1e-300}
_BLOCK_COLUMNS = 128  # source columns per Chebyshev block
_MIN_BLOCK_COLUMNS = 16


class SaturationWarning(UserWarning):
    """Some heat-geodesic distances between *connected* nodes saturated (the heat kernel fell
    below its floor), so they tie; the fraction is in the result's info (pairs in different
    components always saturate and are reported by :class:`DisconnectedGraphWarning`)."""


__all__ = [
    "HeatGeodesic",
    "SaturationWarning",
    "heat_entropy_curve",
    "heat_geodesic_distances",
    "kneedle",
    "select_t",
]


def kneedle(x: Any, y: Any, *, curve: str = "convex_decreasing") -> int:
    """Index of the knee of a monotone curve (Kneedle, Satopää et al. 2011).

    Both axes are scaled to ``[0, 1]``; for a convex decreasing curve the knee maximises
    ``(1 - y_n) - x_n``, for a concave increasing one ``y_n - x_n``.

    Parameters
    ----------
    x : array_like of shape (m,)
        Strictly increasing abscissae (``m >= 3``), finite.
    y : array_like of shape (m,)
        The curve, finite.
    curve : {"convex_decreasing", "concave_increasing"}, default="convex_decreasing"

    Returns
    -------
    int
        Index into ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import kneedle
    >>> x = np.linspace(0, 10, 101)
    >>> int(kneedle(x, np.maximum(1 - x / 2, 0) + 0.01 * x))
    20
    """
    x = np.asarray(to_numpy(check_array(x, name="x", ndim=1)), dtype=float)
    y = np.asarray(to_numpy(check_array(y, name="y", ndim=1)), dtype=float)
    if x.shape != y.shape or x.size < 3:
        raise ValueError(
            f"x and y must be 1-D of the same length >= 3; got shapes {x.shape} and {y.shape}."
        )
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing.")
    check_choice(curve, "curve", ("convex_decreasing", "concave_increasing"))
    xn = (x - x.min()) / max(np.ptp(x), 1e-300)
    yn = (y - y.min()) / max(np.ptp(y), 1e-300)
    diff = (1 - yn) - xn if curve == "convex_decreasing" else yn - xn
    return int(np.argmax(diff))


def _spectral_quadrature(graph: DiffusionGraph, *, n_probes: int, steps: int, random_state: Any):
    """Spectrum of the Laplacian as (nodes, weights) with Σ weights = n: exact or SLQ."""
    if "eigh" in graph._cache or "eigvalsh" in graph._cache or graph.n <= 500:
        evals = graph.eigvalsh().cpu().numpy()
        return evals[None, :], np.ones((1, graph.n))
    gen = torch_generator(random_state)
    res = slq(
        graph.laplacian_matvec,
        graph.n,
        [],
        n_probes=n_probes,
        steps=steps,
        generator=gen,
        device=graph.device,
    )
    return res.nodes, res.weights * graph.n


def heat_entropy_curve(
    graph: DiffusionGraph,
    ts: Any,
    *,
    n_probes: int = 20,
    steps: int = 60,
    random_state: Any = 0,
) -> np.ndarray:
    """Spectral (von Neumann) entropy in nats of the normalised heat operator at each ``t``:
    ``S(t) = log Z(t) + t · Σ_i λ_i e^{-tλ_i} / Z(t)`` with ``Z(t) = tr e^{-tL}``.

    Exact on graphs with ``n <= 500`` (or a cached eigendecomposition); stochastic Lanczos
    quadrature otherwise (``n_probes`` Rademacher probes, ``steps`` Lanczos steps).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, heat_entropy_curve
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> S = heat_entropy_curve(build_graph(X, k=5), [0.0, 1.0, 100.0])
    >>> bool(np.isclose(S[0], np.log(100))), bool(S[0] > S[1] > S[2])
    (True, True)
    """
    if not isinstance(graph, DiffusionGraph):
        raise TypeError(f"graph must be a DiffusionGraph; got {type(graph).__name__}.")
    ts = np.asarray(_check_ts(ts))
    n_probes = check_positive_int(n_probes, "n_probes", min_val=2)
    steps = check_positive_int(steps, "steps", min_val=2)
    check_random_state(random_state)
    nodes, weights = _spectral_quadrature(
        graph, n_probes=n_probes, steps=steps, random_state=random_state
    )
    lam = np.clip(nodes, 0.0, None)
    out = np.empty(len(ts))
    for i, t in enumerate(ts):
        # per-probe traces, then ratio of means (all probes share the normalisation)
        e = np.exp(-t * (lam - lam.min()))
        Z = (weights * e).sum(1).mean()
        M = (weights * lam * e).sum(1).mean()
        out[i] = math.log(Z) - t * lam.min() + t * M / Z
    return out


def select_t(
    graph: DiffusionGraph,
    *,
    t_max: float = 50.0,
    n_t: int = 50,
    random_state: Any = 0,
) -> tuple[float, np.ndarray, np.ndarray]:
    """Automatic diffusion time: the knee of :func:`heat_entropy_curve` on ``linspace(t_max/n_t, t_max, n_t)``.

    ``t_max`` is in normalised-Laplacian units and scaled by ``2/λ_max`` for a combinatorial one.

    Returns
    -------
    t : float
    ts, entropy : ndarray of shape (n_t,)
        The grid and the curve.
    """
    t_max = float(check_scalar(t_max, "t_max", min_val=0.0, include_min=False))
    n_t = check_positive_int(n_t, "n_t", min_val=3)
    if graph.laplacian == "combinatorial":
        t_max *= 2.0 / graph.lambda_max()
    ts = np.linspace(t_max / n_t, t_max, n_t)
    S = heat_entropy_curve(graph, ts, random_state=random_state)
    return float(ts[kneedle(ts, S)]), ts, S


def _check_distance_ts(t: Any) -> list[float]:
    """Diffusion times for distances: positive (at ``t = 0`` the heat kernel is the identity and
    Varadhan's formula gives 0 for every pair — a meaningless answer, so it is refused)."""
    ts = _check_ts(t)
    if min(ts) <= 0:
        raise ValueError(
            f"t must be > 0 for heat-geodesic distances (at t = 0 the heat kernel is the "
            f"identity and every distance would be 0); got {t!r}."
        )
    return ts


def _resolve_t(graph: DiffusionGraph, t: Any, random_state: Any) -> list[float]:
    if isinstance(t, str):
        check_choice(t, "t", ("auto",))
        return [select_t(graph, random_state=random_state)[0]]
    return _check_distance_ts(t)


def _log_heat_rows(
    graph: DiffusionGraph,
    ts: list[float],
    rows: np.ndarray,
    meth: str,
    order: int | None,
    eps: float | None,
    info: dict[str, Any],
    pos: np.ndarray | None = None,
):
    """Yield ``(slice, [log H_t[:, rows[slice]]], [log floor])`` per column chunk; ``-inf``
    marks a saturated entry, whose distance is computed at the floor.

    The Chebyshev backend sums its series in the log domain: an entry is saturated only where
    the series never reached it or did not converge there (or, when ``eps`` is given, below
    ``eps``). The exact and Krylov backends return values; those at or below ``eps`` saturate."""
    if meth != "chebyshev":
        for sl, Hs in heat_columns(graph, ts, rows, method=meth, order=order, info=info):
            logs = [torch.where(H > eps, torch.log(H.clamp_min(eps)), -math.inf) for H in Hs]
            yield sl, logs, [math.log(eps)] * len(ts)
        return
    n = graph.n
    dev = graph.device
    ChebyshevStep.of(graph, graph.lambda_max() / 2.0)  # built (and cached) before the threads
    per_col = 8.0 * n * (3 * len(ts) + 6) + n
    # blocks of at most 128 columns (each adapts its order to its own sources' hop distances),
    # in an even number within half the budget, so two CPU workers run them side by side; the
    # rule does not depend on the thread count or the device, nor do the results
    size = min(_BLOCK_COLUMNS, chunk_rows(per_col, budget=get_memory_budget() // 2))
    n_blocks = -(-len(rows) // size)
    if n_blocks % 2 and len(rows) >= 2 * _MIN_BLOCK_COLUMNS:
        n_blocks += 1
    size = max(1, -(-len(rows) // n_blocks))
    workers = cpu_workers(dev, n_blocks)

    def block(sl: slice):
        B = torch.zeros(n, sl.stop - sl.start, dtype=torch.float64, device=dev)
        B[torch.as_tensor(rows[sl], device=dev), torch.arange(B.shape[1], device=dev)] = 1.0
        targets = None if pos is None else torch.as_tensor(pos >= sl.start, device=dev)
        return chebyshev_log_columns(graph, B, ts, order=order, targets=targets)

    used = 0
    slices = list(iter_chunks(len(rows), size))
    for sl, (logs, k, floors) in zip(slices, map_blocks(block, slices, workers)):
        used = max(used, k)
        if eps is not None:
            floors = [max(f, math.log(eps)) for f in floors]
            for L in logs:
                L.masked_fill_(L <= math.log(eps), -math.inf)
        yield sl, logs, floors
    info.update(method="chebyshev", order=int(used), lambda_max=graph.lambda_max())


def _distance_rows(
    graph: DiffusionGraph,
    ts: list[float],
    rows: np.ndarray,
    *,
    sigma: float,
    method: str,
    eps: float | None,
    order: int | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """(len(rows), n) heat-geodesic distances averaged over ``ts``, plus info."""
    n = graph.n
    meth = resolve_method(graph, method, len(rows))
    if eps is None and meth != "chebyshev":
        eps = _EPS[meth]
    diags = None
    if sigma > 0:
        if meth == "exact":
            evals, U = graph.eigh()
            diags = [(U * U) @ torch.exp(-t * evals) for t in ts]
        else:  # the diagonal needs every column; one chunked pass keeps only the diagonal
            diags = [torch.empty(n, dtype=torch.float64, device=graph.device) for _ in ts]
            allc = np.arange(n)
            for sl, Hs in heat_columns(graph, ts, allc, method=meth, order=order):
                idx = torch.arange(sl.start, sl.stop, device=graph.device)
                for dg, H in zip(diags, Hs):
                    dg[idx] = H[idx, torch.arange(len(idx), device=graph.device)]
    place = np.arange(len(rows))  # where each computed row goes in the result
    pos = None  # full matrix: each node's position in the order the rows are computed
    full = len(rows) == n and bool(np.array_equal(rows, np.arange(n)))
    if meth == "chebyshev" and order is None and full and n > _BLOCK_COLUMNS:
        # the full matrix is symmetric: rows are computed in a sweep along the graph and each
        # block only has to resolve the nodes at or after its own position (the pairs with
        # earlier nodes come from their rows), so its order follows the hop distance to the
        # rest of the sweep, not its eccentricity: about half the steps on average
        place = np.argsort(graph.sweep_levels(), kind="stable")
        rows = rows[place]
        pos = np.empty(n, dtype=np.int64)
        pos[rows] = np.arange(n)
    elif meth == "chebyshev" and len(rows) > _BLOCK_COLUMNS:
        # blocks of sources of similar reach: each block's order follows its farthest hop
        # distance, so grouping saves the steps a central source would spend waiting for a
        # peripheral one in its block (~25 % on a Swiss roll)
        place = np.argsort(graph.eccentricity_estimate()[rows], kind="stable")
        rows = rows[place]
    out = torch.zeros(len(rows), n, dtype=torch.float64, device=graph.device)
    saturated = saturated_connected = 0
    comp = torch.as_tensor(graph.component_labels, device=graph.device)
    info: dict[str, Any] = {}
    sat_dist = [0.0 for _ in ts]
    starts = []
    counted = 0
    for sl, LHs, floors in _log_heat_rows(graph, ts, rows, meth, order, eps, info, pos):
        r = torch.as_tensor(rows[sl], device=graph.device)
        blk = torch.zeros(len(r), n, dtype=torch.float64, device=graph.device)
        valid = None if pos is None else torch.as_tensor(pos >= sl.start, device=graph.device)
        starts.append(sl.start)
        counted += len(r) * (n if valid is None else int(valid.sum()))
        for k, (t, LH, floor) in enumerate(zip(ts, LHs, floors)):
            LHt = LH.T  # (c, n): log of rows of H_t
            low = torch.isneginf(LHt)
            if valid is not None:
                low &= valid  # the other entries are taken from their transposes below
            saturated += int(low.sum())
            d2 = -4.0 * t * torch.where(low, floor, LHt)
            if graph.n_components > 1:
                low &= comp[r][:, None] == comp[None, :]
            saturated_connected += int(low.sum())
            sat_dist[k] = max(sat_dist[k], math.sqrt(-4.0 * t * floor))
            if diags is not None:
                dg = diags[k].clamp_min(eps if eps is not None else 1e-300)
                d2 = d2 + sigma * 4.0 * t * torch.log(0.5 * (dg[r][:, None] + dg[None, :]))
            blk += d2.clamp_min(0.0).sqrt() / len(ts)
        blk[torch.arange(len(r), device=graph.device), r] = 0.0  # d(i, i)
        out[torch.as_tensor(place[sl], device=graph.device)] = blk
    if pos is not None:  # entries towards earlier rows of the sweep: from those rows
        for a, b in zip(starts, [*starts[1:], n]):
            R = torch.as_tensor(rows[a:b], device=graph.device)
            E = torch.as_tensor(rows[:a], device=graph.device)
            out[R[:, None], E[None, :]] = out[E[:, None], R[None, :]].T
    total = max(len(ts) * counted, 1)
    notes = []
    if saturated_connected:
        notes.append(
            f"{100 * saturated_connected / total:.3g}% of the heat-geodesic distances between "
            f"connected nodes saturated at {max(sat_dist):.4g} (the heat kernel fell below eps, "
            "or the Chebyshev series did not reach or converge there within its order): they tie "
            "and understate the true distance. Leave order and eps at their defaults (Chebyshev "
            "backend), or use a larger t."
        )
    info.update(
        t=ts[0] if len(ts) == 1 else list(ts),
        sigma=sigma,
        eps=eps,
        saturated_fraction=saturated / total,
        saturated_connected_fraction=saturated_connected / total,
        saturated_distance=sat_dist,
        warnings=notes,
    )
    for msg in notes:
        warnings.warn(msg, SaturationWarning, stacklevel=3)
    return out, info


def heat_geodesic_distances(
    graph: DiffusionGraph,
    t: Any = "auto",
    *,
    sigma: float = 0.0,
    rows: Any = None,
    method: str = "auto",
    order: int | None = None,
    eps: float | None = None,
    random_state: Any = 0,
    return_info: bool = False,
):
    """Heat-geodesic distances from ``rows`` to every node of a graph.

    Parameters
    ----------
    graph : DiffusionGraph
        From :func:`~repgeo.diffusion.build_graph` (built once; reuse it for several ``t``/``σ``).
    t : float, sequence of float or "auto", default="auto"
        Diffusion time (``> 0``); a sequence averages the distances over the times (multiscale);
        ``"auto"`` uses :func:`select_t`.
    sigma : float, default=0
        Regulariser ``σ ≥ 0`` (see the module docstring). ``σ > 0`` needs ``diag(H_t)``, which
        off the exact backend costs one pass over all columns.
    rows : array_like of int, optional
        Source nodes. Default: all (a dense ``n × n`` result: ask for it only on small graphs).
    method : {"auto", "exact", "chebyshev", "krylov"}, default="auto"
        Heat-kernel backend (:func:`~repgeo.diffusion.heat_kernel`).
    order : int, optional
        Chebyshev order (default: the larger of the truncation order and the hop diameter, see
        :mod:`~repgeo.diffusion.heat`). Pairs more than ``order`` hops apart saturate.
    eps : float, optional
        Floor of ``H_ij``; default 1e-15 for the exact backend, 1e-300 for the polynomial ones
        (see the module docstring).
    random_state : int, optional
        Seed of the stochastic estimate behind ``t="auto"`` on large graphs.
    return_info : bool, default=False
        Also return a dict: ``t``, ``saturated_fraction``, ``saturated_distance``, the backend
        and its Chebyshev order / Krylov dimension.

    Returns
    -------
    D : ndarray or Tensor of shape (n_rows, n)
        Distances, same kind as the data the graph was built from.
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, heat_geodesic_distances
    >>> theta = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    >>> g = build_graph(np.c_[np.cos(theta), np.sin(theta)], k=5)
    >>> D, info = heat_geodesic_distances(g, t=20.0, rows=[0], return_info=True)
    >>> arc = np.minimum(theta, 2 * np.pi - theta)
    >>> bool(np.corrcoef(D[0], arc)[0, 1] > 0.99), info["saturated_fraction"]
    (True, 0.0)
    """
    if not isinstance(graph, DiffusionGraph):
        raise TypeError(
            f"graph must be a DiffusionGraph (see build_graph); got {type(graph).__name__}."
        )
    sigma = float(check_scalar(sigma, "sigma", min_val=0.0))
    if eps is not None:
        eps = float(
            check_scalar(eps, "eps", min_val=0.0, max_val=1.0, include_min=False, include_max=False)
        )
    if order is not None:
        order = check_positive_int(order, "order", min_val=2)
    check_choice(method, "method", ("auto", "exact", "chebyshev", "krylov"))
    cols = _columns(graph, rows)
    ts = _resolve_t(graph, t, random_state)
    D, info = _distance_rows(graph, ts, cols, sigma=sigma, method=method, eps=eps, order=order)
    res = graph.back(D)
    return (res, info) if return_info else res


class HeatGeodesic(TransformerMixin, BaseEstimator):
    """Heat-geodesic embedding (HeatGeo): kNN graph → heat kernel → Varadhan distances → MDS.

    An embedding of the fitted points only (like t-SNE it has ``fit_transform`` but no
    ``transform`` of new points). :meth:`distances` returns heat-geodesic *distances*.

    Parameters
    ----------
    n_components : int, default=2
        Embedding dimension.
    k : int, default=5
        Neighbour rank of the adaptive kernel scale.
    kernel : {"alpha", "gaussian"}, default="alpha"
    decay : float, default=40
        Alpha-decay exponent.
    anisotropy : float, default=0
    laplacian : {"normalized", "combinatorial"}, default="normalized"
    self_loops : bool, default=False
        Keep the kernel's diagonal in the graph (see :func:`~repgeo.diffusion.build_graph`); the
        default is HeatGeo's Laplacian, so ``t`` is HeatGeo's ``τ``.
    t : float, sequence or "auto", default="auto"
        Diffusion time (see :func:`heat_geodesic_distances`).
    sigma : float, default=0
        Distance regulariser.
    method : {"auto", "exact", "chebyshev", "krylov"}, default="auto"
        Heat-kernel backend.
    mds : {"smacof", "classical"}, default="smacof"
        Metric MDS (SMACOF, classical-MDS initialisation) or classical MDS only.
    n_landmarks : int, default=2000
        Above this many points only the distances from ``n_landmarks`` farthest-point landmarks
        are computed (``n_landmarks × n``); the landmarks are embedded by MDS and the other points
        placed by landmark MDS refined by stress majorisation.
    max_iter : int, default=200
        Most SMACOF iterations.
    tol : float, default=1e-3
        SMACOF stops when an iteration lowers the stress by less than ``tol`` relative (the
        default of scikit-learn's ``eps``). On a 2,000-point Swiss roll 1e-3 takes 30 iterations
        and 1e-4 68, for 1.3 % less stress and geodesic Spearman 0.978 vs 0.975: lower stress
        is not a better embedding of the geodesics.
    order : int, optional
        Chebyshev order (see :func:`heat_geodesic_distances`).
    eps : float, optional
        Heat-kernel floor (saturation); backend-dependent default.
    random_state : int, Generator or None, default=0
        Seeds the automatic ``t`` (on large graphs) and the farthest-point landmarks.
    device : str, optional
        Where to compute (default: the data's device).

    Attributes
    ----------
    graph_ : DiffusionGraph
        Reused by later ``fit`` calls on the same data and graph parameters.
    t_ : float or list of float
    t_grid_, entropy_curve_ : ndarray
        The automatic-``t`` curve (empty when ``t`` was given).
    saturated_fraction_ : float
    heat_info_ : dict
        Backend, Chebyshev order, ``λ_max``.
    landmarks_ : ndarray of int or None
    stress_ : float
        Raw stress of the (landmark) MDS.
    n_iter_ : int
        SMACOF iterations (only with ``mds="smacof"``).
    embedding_ : ndarray or Tensor of shape (n_samples, n_components)
        Defined up to rotation, reflection and (through ``t``) scale.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import HeatGeodesic
    >>> theta = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    >>> X = np.c_[np.cos(theta), np.sin(theta), 0.1 * np.cos(3 * theta)]
    >>> Y = HeatGeodesic(t=10.0, random_state=0).fit_transform(X)
    >>> Y.shape
    (200, 2)
    """

    def __init__(
        self,
        *,
        n_components: int = 2,
        k: int = 5,
        kernel: str = "alpha",
        decay: float = 40.0,
        anisotropy: float = 0.0,
        laplacian: str = "normalized",
        self_loops: bool = False,
        t: Any = "auto",
        sigma: float = 0.0,
        method: str = "auto",
        mds: str = "smacof",
        n_landmarks: int = 2000,
        max_iter: int = 200,
        tol: float = 1e-3,
        order: int | None = None,
        eps: float | None = None,
        random_state: Any = 0,
        device: Any = None,
    ) -> None:
        self.n_components = n_components
        self.k = k
        self.kernel = kernel
        self.decay = decay
        self.anisotropy = anisotropy
        self.laplacian = laplacian
        self.self_loops = self_loops
        self.t = t
        self.sigma = sigma
        self.method = method
        self.mds = mds
        self.n_landmarks = n_landmarks
        self.max_iter = max_iter
        self.tol = tol
        self.order = order
        self.eps = eps
        self.random_state = random_state
        self.device = device

    def _graph_params(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "kernel": self.kernel,
            "decay": float(self.decay),
            "anisotropy": float(self.anisotropy),
            "laplacian": self.laplacian,
            "self_loops": self.self_loops,
        }

    def _build(self, X: Any) -> DiffusionGraph:
        from .graph import _fingerprint

        params = self._graph_params()
        old = getattr(self, "graph_", None)
        Xn = np.asarray(to_numpy(X), dtype=np.float64)
        if (
            old is not None
            and getattr(self, "_graph_key", None) == params
            and old.fingerprint == _fingerprint(Xn)
        ):
            return old  # same data, same graph: keep the cached graph (and its spectra)
        g = build_graph(X, device=self.device, **{k: v for k, v in params.items()})
        self._graph_key = params
        return g

    def fit(self, X: Any, y: Any = None) -> HeatGeodesic:
        """Build (or reuse) the graph, choose ``t`` and embed ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)

        Returns
        -------
        self
        """
        X = check_array(X, name="X", min_samples=3)
        n = X.shape[0]
        n_components = check_positive_int(self.n_components, "n_components", max_val=n)
        check_choice(self.mds, "mds", ("smacof", "classical"))
        n_land = check_positive_int(self.n_landmarks, "n_landmarks", min_val=n_components + 1)
        max_iter = check_positive_int(self.max_iter, "max_iter")
        tol = float(check_scalar(self.tol, "tol", min_val=0.0, max_val=1.0, include_max=False))
        sigma = float(check_scalar(self.sigma, "sigma", min_val=0.0))
        rng = check_random_state(self.random_state)
        self.graph_ = self._build(X)
        g = self.graph_
        if isinstance(self.t, str):
            check_choice(self.t, "t", ("auto",))
            t0, self.t_grid_, self.entropy_curve_ = select_t(
                g, random_state=int(rng.integers(2**31))
            )
            ts = [t0]
        else:
            ts = _check_distance_ts(self.t)
            self.t_grid_, self.entropy_curve_ = np.empty(0), np.empty(0)
        self.t_ = ts[0] if len(ts) == 1 else ts
        if n <= n_land:
            self.landmarks_ = None
            rows = np.arange(n)
        else:
            self.landmarks_ = np.sort(
                farthest_point_sampling(to_numpy(X), n_land, random_state=rng)
            )
            rows = self.landmarks_
        D, info = _distance_rows(
            g, ts, rows, sigma=sigma, method=self.method, eps=self.eps, order=self.order
        )
        self.saturated_fraction_ = info["saturated_fraction"]
        self.heat_info_ = info
        D_ll = D[:, torch.as_tensor(rows, device=D.device)]
        D_ll = 0.5 * (D_ll + D_ll.T)
        Y = _classical(D_ll, n_components)
        self.stress_ = float(((torch.cdist(Y, Y) - D_ll) ** 2).sum() / 2)
        if self.mds == "smacof":
            Y, self.stress_, self.n_iter_ = _smacof(D_ll, Y, max_iter, tol)
        if self.landmarks_ is not None:
            Y_l = Y
            Y = landmark_placement(D, Y_l)
            Y[torch.as_tensor(rows, device=Y.device)] = Y_l  # landmarks keep their MDS coordinates
        _, back = to_torch(X)
        self.embedding_ = back(Y)
        self.n_features_in_ = int(X.shape[1])
        return self

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit and return :attr:`embedding_`."""
        return self.fit(X).embedding_

    def distances(self, rows: Any = None, *, t: Any = None, sigma: float | None = None) -> Any:
        """Heat-geodesic distances on the fitted graph (new ``t``/``σ`` reuse the cached graph).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        return heat_geodesic_distances(
            self.graph_,
            self.t_ if t is None else t,
            sigma=self.sigma if sigma is None else sigma,
            rows=rows,
            method=self.method,
            order=self.order,
            eps=self.eps,
        )
