"""Uncertainty for every number: bootstrap intervals and permutation tests.

A similarity between two representations, or a property of one (intrinsic dimension, coding
rate reduction, diffusion spectral entropy), is an estimate from n samples. This module puts an
interval and, for paired similarities, a p-value beside it — for **any** function:

* :func:`bootstrap_ci` resamples **rows** (jointly across X and Y, so pairs stay paired; labels
  passed as Y travel with their rows) and returns an interval:

  - ``"percentile"`` — the (1 ± level)/2 quantiles of the B replicates (Efron 1979);
  - ``"bca"`` — bias-corrected and accelerated (Efron 1987): z₀ = Φ⁻¹(share of replicates below
    the estimate, ties counted half), acceleration a from a delete-group jackknife
    (``jackknife_groups`` random groups of rows; every row alone when n ≤ that number), then
    the quantiles Φ(z₀ + (z₀ + z_α) / (1 − a (z₀ + z_α))). Second-order accurate;
  - ``"subsample"`` — m-out-of-n subsampling **without replacement** (Politis & Romano 1994), m =
    n/2 by default: with d* = θ*_m − θ̂ and the finite-population factor s = √(m / (n − m)), the
    interval is [θ̂ − s · d*_{hi}, θ̂ − s · d*_{lo}]. No row is ever duplicated — use it for
    statistics that a duplicated row distorts: kernel statistics (biased CKA/HSIC count a
    duplicate as a perfectly similar pair and drift upward), RDMs (a duplicate adds a zero
    dissimilarity to both), nearest-neighbour estimators (a duplicate is a zero distance).
    With m = n/2 the interval's centre also removes the estimator's O(1/n) bias — which
    matters for every similarity of wide embeddings: CKA, CCA and shape metrics pick up spurious
    alignment of noise of order d/n, often larger than their standard error (at 2,000 × 64
    every with-replacement replicate lies on the same side of the estimate, so percentile
    intervals miss it and BCa is undefined). :func:`compare_with_intervals` uses it by default.

* :func:`permutation_test` shuffles the rows of Y against X (destroying the pairing, keeping
  each side's geometry) and recomputes: p = (1 + #{T* at least as extreme as T}) / (1 + B)
  (Phipson & Smyth 2010: never 0). The direction comes from the function's
  ``higher_is_better`` (distances test for *small* values) unless ``alternative`` is given.

* :func:`compare_with_intervals` runs a set of named similarity measures (``SIMILARITY_MEASURES``)
  on one pair of embeddings, each with its interval, and returns plain dicts — what a report
  table needs.

Replicates on which the function raises a ``ValueError`` (or returns a non-finite value) are
counted in ``n_failed`` and left out; more than 10 % failures is an error. Warnings raised by
the function inside the loop are collected and re-issued once with their count.

References
----------
B. Efron. "Better bootstrap confidence intervals". JASA 82 (1987). — B. Efron, R. Tibshirani.
*An Introduction to the Bootstrap*. Chapman & Hall (1993). — D. N. Politis, J. P. Romano.
"Large sample confidence regions based on subsamples under minimal assumptions". Ann. Statist.
22 (1994). — B. Phipson, G. K. Smyth. "Permutation p-values should never be zero". Stat. Appl.
Genet. Mol. Biol. 9 (2010).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy.special import ndtr, ndtri

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from ._paired import check_paired, column_means, joint_r, orthonormal_basis
from .cca import _keep_components, cca, pwcca, svcca
from .rsa import rsa
from .shape import _whitened_spectrum, shape_distance
from .similarity import cka, linear_cka

__all__ = [
    "BOOTSTRAP_METHODS",
    "SIMILARITY_MEASURES",
    "BootstrapResult",
    "Measure",
    "PermutationResult",
    "bootstrap_ci",
    "compare_with_intervals",
    "permutation_test",
]

BOOTSTRAP_METHODS = ("percentile", "bca", "subsample")
_ALTERNATIVES = ("auto", "greater", "less", "two-sided")
_MAX_FAILED = 0.1
_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError, torch.linalg.LinAlgError)


# ----------------------------------------------------------------------------- results
@dataclass
class BootstrapResult:
    """An estimate with its bootstrap interval, and how it was obtained.

    Attributes
    ----------
    estimate : float
        The function on all rows.
    low, high : float
        The interval's ends.
    level : float
        Nominal coverage (e.g. 0.95).
    method : str
        ``"percentile"``, ``"bca"`` or ``"subsample"``.
    n_boot : int
        Replicates used (successful ones).
    n_failed : int
        Replicates left out because the function failed on them.
    stderr : float
        Bootstrap standard error (for ``"subsample"``: of the full-n estimate, rescaled).
    bias : float
        Mean replicate minus the estimate (rescaled for ``"subsample"``).
    replicates : ndarray of shape (n_boot,)
    info : dict
        Method details: ``z0`` and ``acceleration`` (BCa), ``jackknife_groups``,
        ``subsample_size``, warnings the function raised in the loop.
    """

    estimate: float
    low: float
    high: float
    level: float
    method: str
    n_boot: int
    n_failed: int
    stderr: float
    bias: float
    replicates: np.ndarray = field(repr=False)
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def __float__(self) -> float:
        return float(self.estimate)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict: estimate, low, high, level, method, n_boot, n_failed, stderr, bias."""
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "method": self.method,
            "n_boot": self.n_boot,
            "n_failed": self.n_failed,
            "stderr": self.stderr,
            "bias": self.bias,
        }


@dataclass
class PermutationResult:
    """A statistic with its permutation p-value.

    Attributes
    ----------
    statistic : float
        The function on the paired data.
    pvalue : float
        (1 + #{as extreme}) / (1 + n_permutations); never 0.
    alternative : str
        ``"greater"``, ``"less"`` or ``"two-sided"`` (after resolving ``"auto"``).
    n_permutations : int
        Permutations used (successful ones).
    n_failed : int
    null_distribution : ndarray of shape (n_permutations,)
    """

    statistic: float
    pvalue: float
    alternative: str
    n_permutations: int
    n_failed: int
    null_distribution: np.ndarray = field(repr=False)

    def __float__(self) -> float:
        return float(self.statistic)


# ----------------------------------------------------------------------------- helpers
def _check_fn(fn: Any) -> Callable[..., Any]:
    if not callable(fn):
        raise TypeError(
            f"fn must be a callable fn(X, Y) or fn(X) returning a number; got {type(fn).__name__}."
        )
    return fn


def _check_data(X: Any, Y: Any, min_samples: int, need_y: bool) -> tuple[Any, Any, int]:
    X = check_array(X, name="X", ndim=(1, 2), min_samples=min_samples)
    if Y is None:
        if need_y:
            raise TypeError("Y is required: a permutation test shuffles Y's rows against X's.")
        return X, None, X.shape[0]
    if isinstance(Y, np.ndarray | torch.Tensor) and Y.ndim == 1 and not _is_float(Y):
        Y = check_array(Y, name="Y", ndim=1, dtype="any", min_samples=min_samples)
    else:
        Y = check_array(Y, name="Y", ndim=(1, 2), min_samples=min_samples)
    check_consistent_length(X, Y, names=["X", "Y"])
    return X, Y, X.shape[0]


def _is_float(A: Any) -> bool:
    return A.is_floating_point() if isinstance(A, torch.Tensor) else A.dtype.kind == "f"


def _take(A: Any, idx: np.ndarray) -> Any:
    if A is None:
        return None
    if isinstance(A, torch.Tensor):
        return A[torch.as_tensor(idx, device=A.device)]
    return A[idx]


def _number(out: Any) -> float:
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu()
        if out.numel() != 1:
            raise TypeError(
                f"fn must return a single number; got a tensor of shape {tuple(out.shape)}."
            )
    elif isinstance(out, np.ndarray) and out.size != 1:
        raise TypeError(f"fn must return a single number; got an array of shape {out.shape}.")
    try:
        return float(out)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"fn must return a number; got {type(out).__name__}.") from exc


def _call(fn: Callable[..., Any], X: Any, Y: Any) -> float:
    return _number(fn(X) if Y is None else fn(X, Y))


def _call_many(fn: Callable[..., Any], X: Any, Y: Any) -> np.ndarray:
    """fn returning a dict of numbers (the multi-measure path) or one number, as a vector."""
    out = fn(X) if Y is None else fn(X, Y)
    if isinstance(out, dict):
        return np.array([_number(v) for v in out.values()], dtype=np.float64)
    return np.array([_number(out)], dtype=np.float64)


class _Loop:
    """Evaluate fn on many row selections; count failures and collect warnings."""

    def __init__(self, fn: Callable[..., Any], X: Any, Y: Any, what: str) -> None:
        self.fn, self.X, self.Y, self.what = fn, X, Y, what
        self.values: list[np.ndarray] = []
        self.failed = 0
        self.first_error: Exception | None = None
        self.warned: dict[str, tuple[type[Warning], int]] = {}

    def run(self, idx_x: np.ndarray, idx_y: np.ndarray | None = None) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                Xs = _take(self.X, idx_x)
                Ys = _take(self.Y, idx_x if idx_y is None else idx_y)
                v = _call_many(self.fn, Xs, Ys)
            except _FAILURES as exc:
                v = np.array([math.nan])
                self.first_error = self.first_error or exc
        for w in caught:
            cat, count = self.warned.get(str(w.message), (w.category, 0))
            self.warned[str(w.message)] = (cat, count + 1)
        if np.all(np.isfinite(v)):
            self.values.append(v)
        else:
            self.failed += 1

    def finish(self, total: int) -> np.ndarray:
        """Replicates as an array of shape (successes, n_values)."""
        for msg, (cat, count) in self.warned.items():
            warnings.warn(f"in {count} of {total} {self.what}: {msg}", cat, stacklevel=4)
        if self.failed > _MAX_FAILED * total:
            raise ValueError(
                f"fn failed or returned a non-finite value on {self.failed} of {total} "
                f"{self.what} (more than {_MAX_FAILED:.0%}); first error: {self.first_error!r}."
            )
        return np.asarray(self.values, dtype=np.float64).reshape(len(self.values), -1)


def _jackknife_acceleration(
    fn: Callable[..., Any], X: Any, Y: Any, n: int, groups: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    g = min(groups, n)
    labels = rng.permutation(np.arange(n) % g)
    loop = _Loop(fn, X, Y, "jackknife samples")
    for k in range(g):
        loop.run(np.flatnonzero(labels != k))
    theta = loop.finish(g)
    if theta.shape[0] < 3:
        return np.zeros(theta.shape[1] if theta.ndim == 2 else 1), g
    u = theta.mean(0) - theta
    den = (u**2).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(den > 0, (u**3).sum(0) / (6.0 * den**1.5), 0.0)
    return a, g


def _check_options(
    method: Any, n_boot: Any, level: Any, jackknife_groups: Any
) -> tuple[int, float, int]:
    check_choice(method, "method", BOOTSTRAP_METHODS)
    B = check_positive_int(n_boot, "n_boot", min_val=2)
    level = float(
        check_scalar(level, "level", min_val=0.0, max_val=1.0, include_min=False, include_max=False)
    )
    groups = check_positive_int(jackknife_groups, "jackknife_groups", min_val=3)
    return B, level, groups


def _subsample_size(method: str, subsample_size: Any, n: int) -> int | None:
    if method != "subsample":
        if subsample_size is not None:
            raise ValueError(
                f"subsample_size is only used by method='subsample'; got method={method!r}."
            )
        return None
    m = (
        n // 2
        if subsample_size is None
        else check_positive_int(subsample_size, "subsample_size", min_val=2)
    )
    if m >= n:
        raise ValueError(f"subsample_size must be < n_samples ({n}); got {m}.")
    return m


def _resample(
    fn: Callable[..., Any],
    X: Any,
    Y: Any,
    n: int,
    *,
    B: int,
    level: float,
    method: str,
    m: int | None,
    groups: int,
    rng: np.random.Generator,
) -> list[BootstrapResult]:
    """The bootstrap of a (possibly multi-valued) fn; one BootstrapResult per value."""
    estimates = _call_many(fn, X, Y)
    if not np.all(np.isfinite(estimates)):
        raise ValueError(f"fn returned a non-finite value ({estimates}) on the full data.")
    loop = _Loop(fn, X, Y, "bootstrap replicates")
    for _ in range(B):
        loop.run(rng.permutation(n)[:m] if m is not None else rng.integers(0, n, size=n))
    thetas = loop.finish(B)
    lo_q, hi_q = (1.0 - level) / 2.0, (1.0 + level) / 2.0
    warned = {k: v[1] for k, v in loop.warned.items()}
    accel: np.ndarray | None = None
    g = 0
    if method == "bca":
        accel, g = _jackknife_acceleration(fn, X, Y, n, groups, rng)
    results = []
    for j, estimate in enumerate(estimates.tolist()):
        theta = thetas[:, j]
        info: dict[str, Any] = {"warnings": warned}
        if method == "subsample":
            s = math.sqrt(m / (n - m))
            d = theta - estimate
            low, high = estimate - s * np.quantile(d, hi_q), estimate - s * np.quantile(d, lo_q)
            stderr, bias = s * float(theta.std(ddof=1)), s * float(d.mean())
            info["subsample_size"] = m
        else:
            stderr, bias = float(theta.std(ddof=1)), float(theta.mean() - estimate)
            qs = (lo_q, hi_q)
            if method == "bca":
                prop = (np.sum(theta < estimate) + 0.5 * np.sum(theta == estimate)) / theta.size
                z0 = float(ndtri(prop))
                if not math.isfinite(z0):
                    raise ValueError(
                        "BCa is undefined: every replicate lies on one side of the estimate "
                        "(a degenerate or boundary statistic); use method='percentile' or "
                        "'subsample'."
                    )
                a = float(accel[j])
                z = ndtri(np.array([lo_q, hi_q]))
                qs = tuple(float(v) for v in ndtr(z0 + (z0 + z) / (1.0 - a * (z0 + z))))
                info.update(z0=z0, acceleration=a, jackknife_groups=g, quantiles=qs)
            low, high = np.quantile(theta, qs[0]), np.quantile(theta, qs[1])
        results.append(
            BootstrapResult(
                estimate=float(estimate),
                low=float(low),
                high=float(high),
                level=level,
                method=method,
                n_boot=int(theta.size),
                n_failed=loop.failed,
                stderr=stderr,
                bias=bias,
                replicates=theta,
                info=info,
            )
        )
    return results


# ----------------------------------------------------------------------------- bootstrap
def bootstrap_ci(
    fn: Callable[..., Any],
    X: Any,
    Y: Any = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    method: str = "bca",
    subsample_size: int | None = None,
    jackknife_groups: int = 100,
    random_state: Any = 0,
) -> BootstrapResult:
    """Bootstrap confidence interval of ``fn(X, Y)`` (or ``fn(X)``) by resampling rows.

    Parameters
    ----------
    fn : callable
        ``fn(X, Y) -> float`` for a paired quantity (any similarity or distance), or
        ``fn(X) -> float`` for a single-space one (``Y=None``); ``float(fn(...))`` must work
        (e.g. :class:`repgeo.diffusion.DSEResult`).
    X : array_like or Tensor of shape (n_samples, ...) (1-D or 2-D)
    Y : array_like or Tensor of shape (n_samples, ...), optional
        Second representation, or labels (e.g. for ΔR); row i travels with ``X[i]``.
    n_boot : int, default=1000
        Replicates.
    level : float in (0, 1), default=0.95
    method : {"bca", "percentile", "subsample"}, default="bca"
        See the module docstring. ``"subsample"`` never duplicates a row.
    subsample_size : int, optional
        m for ``"subsample"`` (default n // 2); 2 <= m < n.
    jackknife_groups : int, default=100
        Groups of the jackknife that estimates BCa's acceleration (costs that many more calls).
    random_state : int, Generator or None, default=0

    Returns
    -------
    BootstrapResult
        ``estimate``, ``low``, ``high`` and diagnostics (``n_failed``, ``stderr``, ``bias``,
        ``replicates``); ``as_dict()`` gives plain values.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.uncertainty import bootstrap_ci
    >>> x = np.random.default_rng(0).normal(loc=3.0, size=400)
    >>> r = bootstrap_ci(np.mean, x, n_boot=2000, method="percentile")
    >>> bool(r.low < 3.0 < r.high), bool(abs(r.stderr - 1 / 20) < 0.01)    # σ/√n = 0.05
    (True, True)

    A paired similarity, without duplicated rows (linear CKA counts a duplicate as a perfectly
    similar pair):

    >>> from repgeo.latent import linear_cka
    >>> X = np.random.default_rng(1).normal(size=(300, 5))
    >>> Y = X + np.random.default_rng(2).normal(size=(300, 5))
    >>> r = bootstrap_ci(linear_cka, X, Y, n_boot=200, method="subsample")
    >>> bool(r.low < r.estimate < r.high), r.n_failed
    (True, 0)
    """
    fn = _check_fn(fn)
    B, level, groups = _check_options(method, n_boot, level, jackknife_groups)
    X, Y, n = _check_data(X, Y, 3, need_y=False)
    m = _subsample_size(method, subsample_size, n)
    rng = check_random_state(random_state)
    return _resample(
        lambda *a: _number(fn(*a)), X, Y, n,
        B=B, level=level, method=method, m=m, groups=groups, rng=rng,
    )[0]  # fmt: skip


# ----------------------------------------------------------------------------- permutation
def permutation_test(
    fn: Callable[..., Any],
    X: Any,
    Y: Any,
    *,
    n_permutations: int = 1000,
    alternative: str = "auto",
    random_state: Any = 0,
) -> PermutationResult:
    """Permutation test of the pairing between X and Y under ``fn(X, Y)``.

    Parameters
    ----------
    fn : callable
        ``fn(X, Y) -> float``, a similarity or a distance.
    X : array_like or Tensor of shape (n_samples, ...)
    Y : array_like or Tensor of shape (n_samples, ...)
        Its rows are shuffled; each side's own geometry is kept.
    n_permutations : int, default=1000
    alternative : {"auto", "greater", "less", "two-sided"}, default="auto"
        ``"auto"``: ``"less"`` when ``fn.higher_is_better`` is False (a distance: small means
        similar), else ``"greater"``.
    random_state : int, Generator or None, default=0

    Returns
    -------
    PermutationResult
        ``statistic``, ``pvalue`` = (1 + #{T* as extreme as T}) / (1 + B), the null distribution.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import linear_cka
    >>> from repgeo.latent.shape import shape_distance
    >>> from repgeo.latent.uncertainty import permutation_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Y = X @ rng.normal(size=(4, 4)) + rng.normal(size=(100, 4))
    >>> permutation_test(linear_cka, X, Y, n_permutations=199).pvalue    # (1 + 0) / (1 + 199)
    0.005
    >>> r = permutation_test(shape_distance, X, Y, n_permutations=199)
    >>> r.alternative, r.pvalue
    ('less', 0.005)
    """
    fn = _check_fn(fn)
    check_choice(alternative, "alternative", _ALTERNATIVES)
    B = check_positive_int(n_permutations, "n_permutations")
    X, Y, n = _check_data(X, Y, 2, need_y=True)
    if alternative == "auto":
        alternative = "greater" if getattr(fn, "higher_is_better", True) else "less"
    rng = check_random_state(random_state)
    stat = _call(fn, X, Y)
    if not math.isfinite(stat):
        raise ValueError(f"fn returned a non-finite value ({stat}) on the paired data.")
    loop = _Loop(fn, X, Y, "permutations")
    ident = np.arange(n)
    for _ in range(B):
        loop.run(ident, rng.permutation(n))
    null = loop.finish(B)[:, 0]
    gamma = abs(stat) * 100 * np.finfo(np.float64).eps  # equal up to rounding counts as tied
    p_greater = (1.0 + np.sum(null >= stat - gamma)) / (1.0 + null.size)
    p_less = (1.0 + np.sum(null <= stat + gamma)) / (1.0 + null.size)
    p = {"greater": p_greater, "less": p_less}.get(
        alternative, min(1.0, 2 * min(p_greater, p_less))
    )
    return PermutationResult(
        statistic=stat,
        pvalue=float(p),
        alternative=alternative,
        n_permutations=int(null.size),
        n_failed=loop.failed,
        null_distribution=null,
    )


# ----------------------------------------------------------------------------- measures
@dataclass(frozen=True)
class Measure:
    """A named paired measure: its function, direction, default interval method, one line."""

    fn: Callable[[Any, Any], float]
    higher_is_better: bool
    description: str
    method: str = "subsample"


def _mean_cca(X: Any, Y: Any) -> float:
    return float(np.mean(np.asarray(cca(X, Y), dtype=np.float64)))


SIMILARITY_MEASURES: dict[str, Measure] = {
    "linear_cka": Measure(linear_cka, True, "linear CKA (Kornblith et al. 2019)"),
    "mean_cca": Measure(_mean_cca, True, "mean canonical correlation"),
    "svcca": Measure(svcca, True, "SVCCA, 99 % of the variance kept (Raghu et al. 2017)"),
    "pwcca": Measure(pwcca, True, "PWCCA, X's weights (Morcos et al. 2018)"),
    "shape_distance": Measure(
        shape_distance, False, "angular Procrustes shape distance in radians (Williams et al. 2021)"
    ),
    "cca_shape_distance": Measure(
        lambda X, Y: shape_distance(X, Y, alpha=0.0),
        False,
        "angular shape distance after full whitening (α = 0), radians",
    ),
    "debiased_linear_cka": Measure(
        lambda X, Y: cka(X, Y, unbiased=True), True, "linear CKA from the unbiased HSIC"
    ),
    "rbf_cka": Measure(
        lambda X, Y: cka(X, Y, kernel="rbf"), True, "RBF CKA, median-heuristic bandwidth per space"
    ),
    "rsa": Measure(rsa, True, "RSA: Spearman correlation of correlation-distance RDMs"),
}
"""Named paired measures for :func:`compare_with_intervals`, with direction and default method."""

DEFAULT_MEASURES = ("linear_cka", "mean_cca", "svcca", "pwcca", "shape_distance")
# measures computed together from one QR of [X_c, Y_c] per resample
_LINEAR_FAMILY = (
    "linear_cka",
    "mean_cca",
    "svcca",
    "pwcca",
    "shape_distance",
    "cca_shape_distance",
)


def _linear_cka_only(X: Any, Y: Any) -> float:
    """Linear CKA alone, by GEMMs in float64: ``<K_X, K_Y> / (|K_X| |K_Y|)`` with the smaller of
    the ``n × n`` Gram and the ``p × q`` cross-covariance forms (no QR, no SVD: a half-sample of
    1,000 × 768 embeddings costs two products instead of a QR of ``n × (p + q)`` and two SVDs)."""
    Xt, _ = to_torch(X)
    Yt, _ = to_torch(Y)
    dev = Xt.device
    n, p, q = Xt.shape[0], Xt.shape[1], Yt.shape[1]
    mx, my = column_means(Xt), column_means(Yt).to(dev)
    if n <= p + q:  # Gram form: n × n, with n no larger than the features
        Xc = Xt.to(torch.float64) - mx
        Yc = Yt.to(device=dev, dtype=torch.float64) - my
        Kx, Ky = Xc @ Xc.T, Yc @ Yc.T
        num = (Kx * Ky).sum()
        den = torch.linalg.vector_norm(Kx) * torch.linalg.vector_norm(Ky)
    else:  # covariance form, accumulated over row chunks within the memory budget
        Sxy = torch.zeros(p, q, dtype=torch.float64, device=dev)
        Sxx = torch.zeros(p, p, dtype=torch.float64, device=dev)
        Syy = torch.zeros(q, q, dtype=torch.float64, device=dev)
        for sl in iter_chunks(n, chunk_rows(8 * 2 * (p + q), minimum=64)):
            xc = Xt[sl].to(torch.float64) - mx
            yc = Yt[sl].to(device=dev, dtype=torch.float64) - my
            Sxy += xc.T @ yc
            Sxx += xc.T @ xc
            Syy += yc.T @ yc
        num = torch.linalg.vector_norm(Sxy) ** 2
        den = torch.linalg.vector_norm(Sxx) * torch.linalg.vector_norm(Syy)
    if not float(den) > 0.0:
        raise ValueError("a representation has zero variance: similarities are undefined.")
    return float(num / den)


def _linear_family(X: Any, Y: Any, names: Sequence[str]) -> dict[str, float]:
    """The linear-family measures from one joint QR (equal to the separate functions)."""
    if tuple(names) == ("linear_cka",):
        return {"linear_cka": _linear_cka_only(X, Y)}
    A, B, n = joint_r(X, Y)
    Ua, Sa, Va, ra = orthonormal_basis(A, n)
    Ub, Sb, _, rb = orthonormal_basis(B, n)
    if ra == 0 or rb == 0:
        raise ValueError("a representation has zero variance: similarities are undefined.")
    M = Ua.T @ Ub
    out: dict[str, float] = {}
    for name in names:
        if name == "linear_cka":
            num = float(((Sa[:, None] * M * Sb[None, :]) ** 2).sum())
            out[name] = num / float(
                torch.linalg.vector_norm(Sa**2) * torch.linalg.vector_norm(Sb**2)
            )
        elif name in ("mean_cca", "pwcca"):
            P, rho, _ = torch.linalg.svd(M, full_matrices=False)
            k = min(ra, rb)
            rho = rho[:k].clamp(0.0, 1.0)
            if name == "mean_cca":
                out[name] = float(rho.mean())
            else:
                w = (P[:, :k].T @ (Sa[:, None] * Va.T)).abs().sum(1)
                out[name] = float((w / w.sum() * rho).sum())
        elif name == "svcca":
            ka, kb = _keep_components(Sa, 0.99), _keep_components(Sb, 0.99)
            out[name] = float(
                torch.linalg.svdvals(Ua[:, :ka].T @ Ub[:, :kb]).clamp(0.0, 1.0).mean()
            )
        else:
            alpha = 1.0 if name == "shape_distance" else 0.0
            sx, sy = _whitened_spectrum(Sa, n, alpha), _whitened_spectrum(Sb, n, alpha)
            nuc = torch.linalg.svdvals(sx[:, None] * M * sy[None, :]).sum()
            out[name] = float(
                torch.arccos(
                    (nuc / (torch.linalg.vector_norm(sx) * torch.linalg.vector_norm(sy))).clamp(
                        0.0, 1.0
                    )
                )
            )
    return out


def compare_with_intervals(
    X: Any,
    Y: Any,
    *,
    measures: Sequence[str] = DEFAULT_MEASURES,
    n_boot: int = 200,
    level: float = 0.95,
    method: str | None = None,
    jackknife_groups: int = 50,
    random_state: Any = 0,
) -> dict[str, dict[str, Any]]:
    """Several similarity measures between two embeddings, each with its bootstrap interval.

    The linear-family measures (``linear_cka``, ``mean_cca``, ``svcca``, ``pwcca``,
    ``shape_distance``, ``cca_shape_distance``) share one QR of ``[X_c, Y_c]`` per resample, so
    asking for all of them costs about as much as one. Every measure sees the same resamples.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, p)
    Y : array_like or Tensor of shape (n_samples, q)
    measures : sequence of str, default=("linear_cka", "mean_cca", "svcca", "pwcca", "shape_distance")
        Names in ``SIMILARITY_MEASURES``; ``"rbf_cka"`` and ``"rsa"`` cost O(n²) per resample.
    n_boot : int, default=200
    level : float, default=0.95
    method : {"subsample", "bca", "percentile"}, optional
        Interval method for every measure; by default each measure's own, which is
        ``"subsample"`` for all of them: every measure here is biased by O(d/n) (spurious
        alignment of noise), a duplicated row shrinks the effective n and moves every
        with-replacement replicate the same way — with 2,000 × 64 embeddings, *all* replicates
        fall on one side of the estimate, so percentile intervals miss it and BCa is undefined —
        while half-sampling without replacement estimates that bias and centres the interval on
        the bias-corrected value (the interval can then exclude the raw estimate; ``bias`` says
        by how much).
    jackknife_groups : int, default=50
        BCa's jackknife groups (see :func:`bootstrap_ci`).
    random_state : int, Generator or None, default=0

    Returns
    -------
    results : dict
        ``{name: {"estimate", "low", "high", "level", "method", "n_boot", "n_failed", "stderr",
        "bias", "higher_is_better", "description"}}`` with plain Python values, in the order
        asked.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import linear_cka
    >>> from repgeo.latent.uncertainty import compare_with_intervals
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 8))
    >>> Y = np.tanh(X @ rng.normal(size=(8, 6))) + 0.3 * rng.normal(size=(300, 6))
    >>> res = compare_with_intervals(X, Y, n_boot=50)
    >>> list(res)
    ['linear_cka', 'mean_cca', 'svcca', 'pwcca', 'shape_distance']
    >>> r = res["shape_distance"]
    >>> r["higher_is_better"], r["method"], bool(r["low"] < r["high"])
    (False, 'subsample', True)
    >>> bool(np.isclose(res["linear_cka"]["estimate"], linear_cka(X, Y)))
    True
    """
    if isinstance(measures, str) or not isinstance(measures, Sequence):
        raise TypeError(f"measures must be a sequence of names; got {type(measures).__name__}.")
    if not measures:
        raise ValueError("measures must name at least one measure; got none.")
    for name in measures:
        check_choice(name, "measures", list(SIMILARITY_MEASURES))
    B, level, groups = _check_options(method or "bca", n_boot, level, jackknife_groups)
    X, Y = check_paired(X, Y, min_samples=4)
    n = X.shape[0]
    seed = int(check_random_state(random_state).integers(0, 2**63 - 1))
    jobs: dict[tuple[str, bool], list[str]] = {}  # (method, linear family?) -> names
    for name in dict.fromkeys(measures):
        meth = method or SIMILARITY_MEASURES[name].method
        jobs.setdefault((meth, name in _LINEAR_FAMILY), []).append(name)
    found: dict[str, BootstrapResult] = {}
    for (meth, linear), names in jobs.items():
        m = _subsample_size(meth, None, n)
        if linear:
            fns = [lambda X_, Y_, names=tuple(names): _linear_family(X_, Y_, names)]
            keys = [names]
        else:
            fns = [SIMILARITY_MEASURES[name].fn for name in names]
            keys = [[name] for name in names]
        for fn, ks in zip(fns, keys):
            res = _resample(
                fn, X, Y, n, B=B, level=level, method=meth, m=m, groups=groups,
                rng=np.random.default_rng(seed),
            )  # fmt: skip
            found.update(zip(ks, res))
    return {
        name: {
            **found[name].as_dict(),
            "higher_is_better": SIMILARITY_MEASURES[name].higher_is_better,
            "description": SIMILARITY_MEASURES[name].description,
        }
        for name in dict.fromkeys(measures)
    }
