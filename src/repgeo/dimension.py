"""Intrinsic dimension of point clouds: TwoNN, Levina–Bickel and local per-point estimates.

All estimators use distances to the nearest neighbours only, found exactly by
:func:`repgeo.neighbors.knn` (faiss, chunked by the memory budget), so they scale to
``n = 10^5`` points and beyond without a dense ``n × n`` distance matrix.

* **TwoNN** (Facco et al., 2017). With ``r_1(i) ≤ r_2(i)`` the distances of point ``i`` to its
  first and second neighbours, the ratio ``μ_i = r_2(i)/r_1(i)`` follows a Pareto law
  ``F(μ) = 1 − μ^{-d}`` when the density is locally uniform on a d-dimensional manifold. Two
  fits of ``d``: the maximum-likelihood estimate ``d̂ = (N − 1) / Σ_i log μ_i`` (the unbiased
  form of the Pareto MLE), or the paper's linear fit through the origin of
  ``−log(1 − F_emp(μ))`` against ``log μ`` after discarding the largest 10 % of the ratios.
  The linear fit is the default: it is the paper's estimator and the default of
  scikit-dimension (``skdim.id.TwoNN()``) and DADApy (``compute_id_2NN()``), so ``twonn(X)``
  agrees with them to rounding (on MiniLM's layer-0 sentence embeddings: 6.7510 here and in
  scikit-dimension, where the MLE reads 7.0419).
* **Levina–Bickel** (2004) maximum likelihood with ``k`` neighbours. At each point
  ``m̂_k(x) = [(1/(k−1)) Σ_{j<k} log(T_k(x)/T_j(x))]^{-1}`` with ``T_j`` the distance to the
  ``j``-th neighbour; the global estimate is the inverse of the mean of ``1/m̂_k`` (MacKay &
  Ghahramani, 2005; the default, and scikit-dimension's ``MLE()`` default ``comb="mle"``) or the
  mean of ``m̂_k`` over points (Levina & Bickel's original average, biased upward).
* **Local** per-point estimates (:func:`local_id`): Levina–Bickel at each point, or TwoNN over
  each point's neighbourhood.

Exact duplicate points have ``r_1 = 0`` and break every ratio. They are detected, reported
with a :class:`UserWarning`, and the estimate is computed on the distinct points (per-point
outputs give each duplicate the value of its representative) — DADApy does the same.
The estimator classes also record the count (``n_duplicates_``) and every warning's text
(``warnings_``), so a loop over layers keeps them even when Python shows a warning only once.

Every estimate is a function of distance *ratios*, hence invariant to isotropic scaling; the
points are rescaled by a power of two (exact in floating point) before the neighbour search,
so data of magnitude ``1e-300`` or ``1e300`` give the same estimate as data of magnitude 1.

References
----------
.. [1] E. Facco, M. d'Errico, A. Rodriguez, A. Laio. "Estimating the intrinsic dimension of
   datasets by a minimal neighborhood information." Scientific Reports 7, 12140 (2017).
.. [2] E. Levina, P. J. Bickel. "Maximum likelihood estimation of intrinsic dimension."
   NeurIPS 17 (2004).
.. [3] D. J. C. MacKay, Z. Ghahramani. "Comments on 'Maximum likelihood estimation of intrinsic
   dimension' by E. Levina and P. Bickel." (2005).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from ._backend import to_numpy, to_torch
from ._validation import check_array, check_choice, check_positive_int, check_scalar
from .neighbors import knn

__all__ = ["LevinaBickel", "TwoNN", "levina_bickel", "local_id", "twonn", "twonn_ratios"]

_TWONN_METHODS = ("mle", "linear")
_AGGREGATES = ("mean", "harmonic")
_LOCAL_METHODS = ("mle", "twonn")


# ----------------------------------------------------------------------------- neighbours
def _pow2_rescaled(X: np.ndarray) -> np.ndarray:
    """``X`` times the power of two that brings its largest magnitude into [0.5, 1).

    Exact in floating point (only exponents change), so distance ratios are unchanged while
    squared distances of tiny or huge data neither underflow nor overflow.
    """
    amax = float(np.max(np.abs(X))) if X.size else 0.0
    e = math.frexp(amax)[1]
    return X if amax == 0.0 or e == 0 else np.ldexp(X, -e).astype(X.dtype, copy=False)


def _warn(msg: str, category: type[Warning], sink: list[str] | None, stacklevel: int) -> None:
    if sink is not None:
        sink.append(msg)
    warnings.warn(msg, category, stacklevel=stacklevel + 1)


def _neighbours(
    X: np.ndarray, k: int, sink: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, int]:
    """Distances (float64) and indices of the ``k`` nearest neighbours of the distinct rows.

    Returns ``(dist, idx, inverse, n_duplicates)``; ``inverse`` maps each original row to its
    distinct row (``None`` when there were no duplicates). Distances are those of the rescaled
    points (:func:`_pow2_rescaled`): only their ratios are meaningful.
    """
    n = X.shape[0]
    if n < k + 1:
        raise ValueError(f"need at least k + 1 = {k + 1} points for k = {k} neighbours; got {n}.")
    X = _pow2_rescaled(X)
    dist, idx = knn(X, k)
    if not np.any(dist[:, 0] == 0):
        return dist.astype(np.float64, copy=False), idx, None, 0
    uniq, inverse = np.unique(X, axis=0, return_inverse=True)
    n_dup = n - uniq.shape[0]
    if n_dup == 0:  # cannot happen after rescaling unless rows differ below the float resolution
        raise ValueError(
            "some nearest-neighbour distances are 0 although no two rows are equal (differences "
            "below the floating-point resolution); the intrinsic dimension is undefined."
        )
    _warn(
        f"{n_dup} of {n} points are exact duplicates of another point (zero nearest-neighbour "
        f"distance); the estimate uses the {uniq.shape[0]} distinct points.",
        UserWarning,
        sink,
        stacklevel=3,
    )
    if uniq.shape[0] < k + 1:
        raise ValueError(
            f"after removing duplicates only {uniq.shape[0]} distinct points remain; "
            f"need at least k + 1 = {k + 1}."
        )
    dist, idx = knn(uniq, k)
    return dist.astype(np.float64, copy=False), idx, inverse.ravel(), n_dup


def _validate_points(X: Any, min_samples: int) -> np.ndarray:
    X = check_array(X, name="X", min_samples=min_samples)
    return to_numpy(X)


# ----------------------------------------------------------------------------- TwoNN
def _twonn_fit(
    log_mu: np.ndarray, method: str, discard_fraction: float, sink: list[str] | None = None
) -> float:
    n = log_mu.shape[0]
    if method == "mle":
        s = float(log_mu.sum())
        if s <= 0.0:
            _warn(
                "all neighbour-distance ratios are 1 (e.g. a regular lattice): TwoNN is infinite.",
                RuntimeWarning,
                sink,
                stacklevel=3,
            )
            return math.inf
        return (n - 1) / s
    keep = math.floor(n * (1.0 - discard_fraction))
    keep = min(max(keep, 2), n - 1)
    x = np.sort(log_mu)[:keep]
    # empirical CDF of the sorted ratios: F(mu_(i)) = i / N, i = 1..N (Facco et al. 2017)
    y = -np.log1p(-np.arange(1, keep + 1, dtype=np.float64) / n)
    denom = float(x @ x)
    if denom <= 0.0:
        _warn(
            "all kept neighbour-distance ratios are 1 (e.g. a regular lattice): TwoNN is infinite.",
            RuntimeWarning,
            sink,
            stacklevel=3,
        )
        return math.inf
    return float(x @ y) / denom


def twonn_ratios(X: Any) -> Any:
    """Ratios ``μ_i = r_2(i) / r_1(i)`` of second to first nearest-neighbour distance.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
        At least 3 points. Exact duplicates are handled as described in the module docstring.

    Returns
    -------
    mu : ndarray or Tensor of shape (n_samples,)
        ``μ_i ≥ 1``, same kind, dtype and device as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import twonn_ratios
    >>> twonn_ratios(np.array([[0.0], [1.0], [3.0], [7.0]])).tolist()
    [3.0, 2.0, 1.5, 1.5]
    """
    X = check_array(X, name="X", min_samples=3)
    _, back = to_torch(X)
    dist, _, inverse, _ = _neighbours(to_numpy(X), 2)
    mu = dist[:, 1] / dist[:, 0]
    if inverse is not None:
        mu = mu[inverse]
    return back(torch.from_numpy(mu))


def twonn(X: Any, *, method: str = "linear", discard_fraction: float = 0.1) -> float:
    """TwoNN intrinsic dimension (Facco et al., 2017).

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
        At least 3 points (use thousands for a stable estimate).
    method : {"linear", "mle"}, default="linear"
        ``"linear"``: least-squares slope through the origin of ``−log(1 − i/N)`` on the i-th
        smallest ``log μ`` after discarding the largest ``discard_fraction`` ratios — the
        paper's fit and the default of scikit-dimension (``skdim.id.TwoNN()``) and DADApy,
        which this matches to rounding. ``"mle"``: ``d̂ = (N − 1) / Σ log μ_i`` over all ratios
        (lower variance, but its value differs from the packages' defaults: on MiniLM's
        layer-0 embeddings 7.04 against 6.75).
    discard_fraction : float in [0, 1), default=0.1
        Only used by ``method="linear"``.

    Returns
    -------
    d : float
        Estimated intrinsic dimension (``inf`` with a warning when every ratio is 1).

    Notes
    -----
    The estimate is local to the scale of the second-neighbour distance, so additive noise
    raises it and sparse sampling of a curved manifold lowers it. The MLE's standard error is
    about ``d̂ / √N``; the linear fit's is somewhat larger.

    .. versionchanged:: issue 11
       The default ``method`` is ``"linear"`` (it was ``"mle"``), to agree with
       scikit-dimension and DADApy; pass ``method="mle"`` for the former default.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import twonn
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((4000, 3)) @ rng.standard_normal((3, 20))  # a 3-D subspace of R^20
    >>> round(twonn(X), 1), round(twonn(X, method="linear"), 1)
    (3.0, 3.0)
    """
    check_choice(method, "method", _TWONN_METHODS)
    check_scalar(discard_fraction, "discard_fraction", min_val=0.0, max_val=1.0, include_max=False)
    Xn = _validate_points(X, 3)
    dist, _, _, _ = _neighbours(Xn, 2)
    log_mu = np.log(dist[:, 1]) - np.log(dist[:, 0])
    return _twonn_fit(log_mu, method, float(discard_fraction))


# ----------------------------------------------------------------------------- Levina–Bickel
def _lb_local(dist: np.ndarray, unbiased: bool) -> np.ndarray:
    k = dist.shape[1]
    logs = np.log(dist)
    s = (k - 1) * logs[:, -1] - logs[:, :-1].sum(1)  # Σ_{j<k} log(T_k / T_j)
    num = (k - 2) if unbiased else (k - 1)
    with np.errstate(divide="ignore"):
        return np.where(s > 0, num / np.where(s > 0, s, 1.0), np.inf)


def _lb_aggregate(local: np.ndarray, aggregate: str, sink: list[str] | None = None) -> float:
    with np.errstate(divide="ignore"):
        d = float(np.mean(local)) if aggregate == "mean" else float(1.0 / np.mean(1.0 / local))
    if not math.isfinite(d):
        n_inf = int(np.isinf(local).sum())
        _warn(
            f"{n_inf} of {local.size} local estimates are infinite (all k neighbours of the point "
            f"at one distance, e.g. a regular lattice): Levina–Bickel ({aggregate}) is infinite.",
            RuntimeWarning,
            sink,
            stacklevel=3,
        )
    return d


def _check_k(k: Any, unbiased: bool) -> int:
    return check_positive_int(k, "k", min_val=3 if unbiased else 2)


def levina_bickel(
    X: Any, k: int = 20, *, aggregate: str = "harmonic", unbiased: bool = False
) -> float:
    """Levina–Bickel maximum-likelihood intrinsic dimension with ``k`` neighbours.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
        At least ``k + 1`` points.
    k : int, default=20
        Number of neighbours (``≥ 2``; ``≥ 3`` with ``unbiased=True``). Levina & Bickel
        recommend averaging over a range of k between about 10 and 20.
    aggregate : {"harmonic", "mean"}, default="harmonic"
        ``"harmonic"``: inverse of the average inverse (MacKay & Ghahramani) — the maximum
        likelihood estimate of one dimension from all points, less sensitive to a few very
        large local values, and scikit-dimension's default (``skdim.id.MLE()``, ``comb="mle"``),
        which this matches to rounding. ``"mean"``: average of the local estimates (Levina &
        Bickel's original), biased upward by about ``(k − 1)/(k − 2)`` (on MiniLM's layer-0
        embeddings with k = 20: 6.57 against 6.16).
    unbiased : bool, default=False
        Use ``k − 2`` instead of ``k − 1`` in the numerator (the unbiased form of the estimator
        under the Poisson-process model).

    Returns
    -------
    d : float

    Notes
    -----
    .. versionchanged:: issue 11
       The default ``aggregate`` is ``"harmonic"`` (it was ``"mean"``), to agree with
       scikit-dimension; pass ``aggregate="mean"`` for the former default.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import levina_bickel
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((4000, 4)) @ rng.standard_normal((4, 30))  # a 4-D subspace
    >>> round(levina_bickel(X, k=20), 1)
    4.0
    """
    check_choice(aggregate, "aggregate", _AGGREGATES)
    k = _check_k(k, bool(unbiased))
    Xn = _validate_points(X, k + 1)
    dist, _, _, _ = _neighbours(Xn, k)
    return _lb_aggregate(_lb_local(dist, bool(unbiased)), aggregate)


# ----------------------------------------------------------------------------- local
def local_id(X: Any, k: int = 20, *, method: str = "mle", unbiased: bool = False) -> Any:
    """Per-point intrinsic dimension from each point's ``k`` nearest neighbours.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
    k : int, default=20
        Neighbourhood size.
    method : {"mle", "twonn"}, default="mle"
        ``"mle"``: the Levina–Bickel local estimate ``m̂_k(x_i)``. ``"twonn"``: the TwoNN MLE
        ``k / Σ_j log μ_j`` over the ``k + 1`` points ``{x_i} ∪ N_k(x_i)``.
    unbiased : bool, default=False
        For ``"mle"``: numerator ``k − 2`` instead of ``k − 1``.

    Returns
    -------
    d : ndarray or Tensor of shape (n_samples,)
        Same kind, dtype and device as ``X``. Noisy by construction (a local MLE from ``k``
        distances has relative standard error about ``1/√k``): smooth or average before reading
        single values.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import local_id
    >>> rng = np.random.default_rng(0)
    >>> line = np.c_[rng.uniform(0, 1, 500), np.zeros((500, 2))]      # 1-D
    >>> plane = np.c_[rng.uniform(3, 4, (500, 2)), np.zeros(500)]      # 2-D, far away
    >>> d = local_id(np.vstack([line, plane]), k=20)
    >>> round(float(np.median(d[:500])), 1), round(float(np.median(d[500:])), 1)
    (1.0, 2.0)
    """
    check_choice(method, "method", _LOCAL_METHODS)
    k = _check_k(k, bool(unbiased) and method == "mle")
    X = check_array(X, name="X", min_samples=k + 1)
    _, back = to_torch(X)
    dist, idx, inverse, _ = _neighbours(to_numpy(X), k)
    if method == "mle":
        local = _lb_local(dist, bool(unbiased))
    else:
        log_mu = np.log(dist[:, 1]) - np.log(dist[:, 0])
        s = log_mu + log_mu[idx].sum(1)
        with np.errstate(divide="ignore"):
            local = np.where(s > 0, k / np.where(s > 0, s, 1.0), np.inf)
    n_inf = int(np.isinf(local).sum())
    if n_inf:
        _warn(
            f"{n_inf} of {local.size} local estimates are infinite (the neighbours of those "
            "points are all at one distance, e.g. a regular lattice).",
            RuntimeWarning,
            None,
            stacklevel=2,
        )
    if inverse is not None:
        local = local[inverse]
    return back(torch.from_numpy(local))


# ----------------------------------------------------------------------------- wrappers
class TwoNN(BaseEstimator):
    """TwoNN intrinsic-dimension estimator (scikit-learn / scikit-dimension style).

    The estimate is a property of one point cloud (neither a similarity nor a distance) and has
    no better direction: ``higher_is_better`` is ``None``.

    Parameters
    ----------
    method : {"linear", "mle"}, default="linear"
        See :func:`twonn` (``"linear"`` agrees with ``skdim.id.TwoNN()``).
    discard_fraction : float, default=0.1
        Fraction of largest ratios discarded by the linear fit.

    Attributes
    ----------
    dimension_ : float
        The estimate.
    mu_ : ndarray of shape (n_samples,)
        Ratios ``r_2/r_1`` per input point (duplicates take their representative's ratio).
    n_samples_ : int
        Number of input points (duplicates included).
    n_duplicates_ : int
        Number of input points that duplicate another one (left out of the estimate).
    warnings_ : list of str
        Text of every warning issued by the last :meth:`fit` (duplicates, infinite estimate),
        kept here so that a loop over layers or checkpoints does not lose them.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import TwoNN
    >>> X = np.random.default_rng(1).standard_normal((3000, 2)) @ np.eye(2, 10)
    >>> est = TwoNN().fit(X)
    >>> round(est.dimension_, 1), est.mu_.shape, est.warnings_
    (2.0, (3000,), [])
    """

    higher_is_better = None

    def __init__(self, *, method: str = "linear", discard_fraction: float = 0.1) -> None:
        self.method = method
        self.discard_fraction = discard_fraction

    def fit(self, X: Any, y: Any = None) -> TwoNN:
        """Estimate the dimension of ``X`` (``y`` is ignored)."""
        check_choice(self.method, "method", _TWONN_METHODS)
        check_scalar(
            self.discard_fraction, "discard_fraction", min_val=0.0, max_val=1.0, include_max=False
        )
        Xn = _validate_points(X, 3)
        sink: list[str] = []
        dist, _, inverse, n_dup = _neighbours(Xn, 2, sink)
        log_mu = np.log(dist[:, 1]) - np.log(dist[:, 0])
        self.dimension_ = _twonn_fit(log_mu, self.method, float(self.discard_fraction), sink)
        mu = np.exp(log_mu)
        self.mu_ = mu[inverse] if inverse is not None else mu
        self.n_samples_ = int(Xn.shape[0])
        self.n_duplicates_ = int(n_dup)
        self.warnings_ = sink
        self.n_features_in_ = int(Xn.shape[1])
        return self

    def fit_transform(self, X: Any, y: Any = None) -> float:
        """Fit and return ``dimension_`` (scikit-dimension's convention)."""
        return self.fit(X).dimension_


class LevinaBickel(BaseEstimator):
    """Levina–Bickel MLE intrinsic-dimension estimator with ``k`` neighbours.

    The estimate is a property of one point cloud (neither a similarity nor a distance) and has
    no better direction: ``higher_is_better`` is ``None``.

    Parameters
    ----------
    k : int, default=20
    aggregate : {"harmonic", "mean"}, default="harmonic"
        See :func:`levina_bickel` (``"harmonic"`` agrees with ``skdim.id.MLE()``).
    unbiased : bool, default=False
        See :func:`levina_bickel`.

    Attributes
    ----------
    dimension_ : float
        The global estimate.
    dimension_pw_ : ndarray of shape (n_samples,)
        Local (per-point) estimates.
    n_samples_ : int
        Number of input points (duplicates included).
    n_duplicates_ : int
        Number of input points that duplicate another one (left out of the estimate).
    warnings_ : list of str
        Text of every warning issued by the last :meth:`fit`.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.dimension import LevinaBickel
    >>> X = np.random.default_rng(2).standard_normal((3000, 3)) @ np.eye(3, 12)
    >>> round(LevinaBickel(k=15).fit(X).dimension_, 2)
    3.06
    """

    higher_is_better = None

    def __init__(self, *, k: int = 20, aggregate: str = "harmonic", unbiased: bool = False) -> None:
        self.k = k
        self.aggregate = aggregate
        self.unbiased = unbiased

    def fit(self, X: Any, y: Any = None) -> LevinaBickel:
        """Estimate global and per-point dimensions of ``X`` (``y`` is ignored)."""
        check_choice(self.aggregate, "aggregate", _AGGREGATES)
        k = _check_k(self.k, bool(self.unbiased))
        Xn = _validate_points(X, k + 1)
        sink: list[str] = []
        dist, _, inverse, n_dup = _neighbours(Xn, k, sink)
        local = _lb_local(dist, bool(self.unbiased))
        self.dimension_ = _lb_aggregate(local, self.aggregate, sink)
        self.dimension_pw_ = local[inverse] if inverse is not None else local
        self.n_samples_ = int(Xn.shape[0])
        self.n_duplicates_ = int(n_dup)
        self.warnings_ = sink
        self.n_features_in_ = int(Xn.shape[1])
        return self

    def fit_transform(self, X: Any, y: Any = None) -> float:
        """Fit and return ``dimension_`` (scikit-dimension's convention)."""
        return self.fit(X).dimension_
