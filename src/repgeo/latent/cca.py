"""Canonical correlation analysis and its similarity indices: CCA, SVCCA, PWCCA.

X (n × p) and Y (n × q) hold the same n samples. After centring the columns,

* **CCA** (Hotelling 1936): the canonical correlations ρ₁ ≥ … ≥ ρ_r are the cosines of the
  principal angles between the column spaces of X_c and Y_c, i.e. the singular values of
  Q_Xᵀ Q_Y for orthonormal bases Q_X, Q_Y. There are r = min(rank X_c, rank Y_c) of them
  (MATLAB's ``canoncorr`` convention): a constant or duplicated column adds none.
* **SVCCA** (Raghu et al. 2017): keep on each side the leading singular directions that explain
  a fraction ``keep`` of the variance (0.99 in the paper), then CCA; the index is the mean ρ.
* **PWCCA** (Morcos et al. 2018): the mean of ρ_i weighted by how much of X's activity the i-th
  canonical variate h_i (unit norm, on X's side) accounts for: α_i ∝ Σ_j |⟨h_i, x_j⟩| over the
  centred columns x_j of X, normalised to sum to one. It is asymmetric: X's side sets the
  weights (Morcos et al.'s code takes the side with fewer neurons; call ``pwcca(Y, X)`` for Y's).

All three are **similarities** in [0, 1] (1 = one space is an invertible linear map of the other;
higher is better). They are invariant to invertible linear maps of either side (CCA, PWCCA up
to the weights, which are only rotation-invariant), so they ignore *how* a representation
spreads its variance — compare :func:`repgeo.latent.shape.shape_distance` with ``alpha=1``.

How it is computed
------------------
One chunked tall-skinny QR of the centred ``[X_c, Y_c]`` gives its triangular factor R
(never the n × (p+q) Q), so ``X_c = Q A`` and ``Y_c = Q B``; the canonical correlations are the
singular values of ``U_Aᵀ U_B`` (U the left singular vectors of A and B, truncated to numerical
rank). This costs O(n (p+q)²) time and O((p+q)²) memory and is as accurate as a QR of the data
(error ~ ε · cond), unlike the Gram-matrix route (ε · cond²).

**Too few samples.** Two subspaces of dimensions r_x and r_y inside the (n − 1)-dimensional space
of centred vectors share at least r_x + r_y − (n − 1) directions, so that many correlations equal
1 *by construction* (a warning says so, and :class:`CCA` reports ``n_trivial_``). Even below
that, chance correlations are large: for independent Gaussian data the squared correlations
follow Wachter's law, the largest near λ₊ = (√(γ_x(1−γ_y)) + √(γ_y(1−γ_x)))² with
γ = rank / (n − 1) (:class:`CCA` reports √λ₊ as ``chance_level_``). With ``regularization=ε > 0``
each covariance is ridged, Σ + ε · (tr Σ / dim) · I (scale-free), giving the canonical ridge of
Vinod (1976): min(p, q) correlations, all < 1, usable when n < p + q.

References
----------
H. Hotelling. "Relations between two sets of variates". Biometrika 28 (1936). —
M. Raghu, J. Gilmer, J. Yosinski, J. Sohl-Dickstein. "SVCCA: Singular vector canonical
correlation analysis for deep learning dynamics and interpretability". NeurIPS 2017. —
A. S. Morcos, M. Raghu, S. Bengio. "Insights on representational similarity in neural networks
with canonical correlation". NeurIPS 2018. — K. W. Wachter. "The limiting empirical measure of
multiple discriminant ratios". Ann. Statist. 8 (1980). — Å. Björck, G. H. Golub. "Numerical
methods for computing angles between linear subspaces". Math. Comp. 27 (1973).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import to_torch
from .._validation import check_array, check_consistent_length, check_scalar
from ._paired import (
    _PairedEstimator,
    check_paired,
    check_target,
    check_width,
    joint_r,
    orthonormal_basis,
)

__all__ = ["CCA", "PWCCA", "SVCCA", "cca", "pwcca", "svcca"]

_F64 = torch.float64


# ----------------------------------------------------------------------------- core
def _check_regularization(regularization: Any) -> float:
    return float(check_scalar(regularization, "regularization", min_val=0.0))


def _inv_sqrt(C: torch.Tensor, eps: float, name: str) -> torch.Tensor:
    """(C + ε · (tr C / dim) · I)^{-1/2} for a PSD covariance C."""
    scale = float(torch.trace(C)) / C.shape[0]
    if scale <= 0.0:
        raise ValueError(f"{name} has zero variance (a constant representation): CCA is undefined.")
    lam, V = torch.linalg.eigh(
        C + eps * scale * torch.eye(C.shape[0], dtype=C.dtype, device=C.device)
    )
    return (V / torch.sqrt(lam.clamp_min(eps * scale * 1e-3))) @ V.T


def _wachter_edge(gx: float, gy: float) -> float:
    """Upper edge of Wachter's law for squared canonical correlations (1 when γ_x + γ_y ≥ 1)."""
    if gx + gy >= 1.0:
        return 1.0
    return (math.sqrt(gx * (1.0 - gy)) + math.sqrt(gy * (1.0 - gx))) ** 2


def _from_factors(A: torch.Tensor, B: torch.Tensor, n: int, eps: float) -> dict[str, Any]:
    """CCA of ``X_c = Q A``, ``Y_c = Q B`` (float64 factors); see the module docstring."""
    if eps == 0.0:
        Ua, Sa, Va, rx = orthonormal_basis(A, n)
        Ub, Sb, Vb, ry = orthonormal_basis(B, n)
        for name, r in (("X", rx), ("Y", ry)):
            if r == 0:
                raise ValueError(
                    f"{name} has zero variance (a constant representation): CCA is undefined."
                )
        P, rho, Gh = torch.linalg.svd(Ua.T @ Ub, full_matrices=False)
        k = min(rx, ry)
        P, G = P[:, :k], Gh[:k].T
        wx = (Va / Sa) @ P
        wy = (Vb / Sb) @ G
        loadings = P.T @ (Sa[:, None] * Va.T)  # h_iᵀ X_c with unit-norm variates h_i
        rho = rho[:k].clamp(0.0, 1.0)
    else:
        Cxx, Cyy, Cxy = A.T @ A, B.T @ B, A.T @ B
        Sx, Sy = _inv_sqrt(Cxx, eps, "X"), _inv_sqrt(Cyy, eps, "Y")
        P, rho, Gh = torch.linalg.svd(Sx @ Cxy @ Sy, full_matrices=False)
        k = min(A.shape[1], B.shape[1])
        wx, wy = Sx @ P[:, :k], Sy @ Gh[:k].T
        rx, ry = A.shape[1], B.shape[1]
        norms = torch.sqrt(((wx.T @ Cxx) * wx.T).sum(1)).clamp_min(1e-300)
        loadings = (wx.T @ Cxx) / norms[:, None]
        rho = rho[:k].clamp(0.0, 1.0)
    n_trivial = max(0, rx + ry - (n - 1)) if eps == 0.0 else 0
    return {
        "rho": rho, "wx": wx, "wy": wy, "loadings": loadings, "rank_x": rx, "rank_y": ry,
        "n_trivial": n_trivial,
        "chance": math.sqrt(_wachter_edge(rx / max(n - 1, 1), ry / max(n - 1, 1))),
    }  # fmt: skip


def _warn_trivial(res: dict[str, Any], n: int, stacklevel: int = 3) -> None:
    if res["n_trivial"]:
        warnings.warn(
            f"{res['n_trivial']} canonical correlation(s) equal 1 by construction: rank(X_c) + "
            f"rank(Y_c) = {res['rank_x'] + res['rank_y']} exceeds n - 1 = {n - 1}. Use more "
            "samples, fewer dimensions (svcca) or regularization > 0.",
            UserWarning,
            stacklevel=stacklevel,
        )


def _cca(X: Any, Y: Any, regularization: Any) -> tuple[dict[str, Any], int]:
    eps = _check_regularization(regularization)
    X, Y = check_paired(X, Y)
    A, B, n = joint_r(X, Y)
    res = _from_factors(A, B, n, eps)
    return res, n


# ----------------------------------------------------------------------------- public
def cca(X: Any, Y: Any, *, regularization: float = 0.0) -> Any:
    """Canonical correlations between two representations of the same samples.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, p)
    Y : array_like or Tensor of shape (n_samples, q)
        Row i of both is the same sample; the widths may differ.
    regularization : float >= 0, default=0.0
        ``0``: exact CCA of the column spaces. ``ε > 0``: canonical ridge, each covariance
        replaced by Σ + ε · (tr Σ / dim) · I (needed when n < p + q or a side is rank-deficient
        and you want min(p, q) values).

    Returns
    -------
    rho : ndarray or Tensor of shape (r,)
        Descending canonical correlations in [0, 1] (similarities), same kind and dtype as
        ``X``; r = min(rank X_c, rank Y_c) when ``regularization == 0``, else min(p, q).

    Warns
    -----
    UserWarning
        When some correlations equal 1 only because n − 1 < rank X_c + rank Y_c.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import cca
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3))
    >>> cca(X, X @ rng.normal(size=(3, 3)) + 1.0).round(6)    # an invertible linear map
    array([1., 1., 1.])
    >>> X = rng.normal(size=(20000, 3))
    >>> Y = np.column_stack([X[:, 0] + rng.normal(size=20000), rng.normal(size=(20000, 2))])
    >>> cca(X, Y).round(2)                              # corr(x, x + noise) = 1/√2; chance ~0.01
    array([0.71, 0.01, 0.  ])
    """
    res, n = _cca(X, Y, regularization)
    _warn_trivial(res, n)
    _, back = to_torch(check_array(X, name="X"))
    return back(res["rho"])


def _keep_components(S: torch.Tensor, keep: float) -> int:
    frac = torch.cumsum(S * S, 0) / (S * S).sum()
    return min(int((frac < keep - 1e-12).sum()) + 1, S.numel())


def _check_keep(keep: Any) -> float:
    return float(check_scalar(keep, "keep", min_val=0.0, max_val=1.0, include_min=False))


def _svcca(X: Any, Y: Any, keep: Any, regularization: Any) -> tuple[dict[str, Any], int]:
    keep = _check_keep(keep)
    eps = _check_regularization(regularization)
    X, Y = check_paired(X, Y)
    A, B, n = joint_r(X, Y)
    parts = []
    for name, F in (("X", A), ("Y", B)):
        U, S, _, r = orthonormal_basis(F, n)
        if r == 0:
            raise ValueError(
                f"{name} has zero variance (a constant representation): SVCCA is undefined."
            )
        k = _keep_components(S, keep)
        # the kept directions of Q F: X_c V_k = Q (U_k S_k)
        parts.append((U[:, :k] * S[:k], k, float((S[:k] ** 2).sum() / (S**2).sum())))
    res = _from_factors(parts[0][0], parts[1][0], n, eps)
    res.update(n_x=parts[0][1], n_y=parts[1][1], kept_x=parts[0][2], kept_y=parts[1][2])
    return res, n


def svcca(X: Any, Y: Any, *, keep: float = 0.99, regularization: float = 0.0) -> float:
    """SVCCA similarity: mean canonical correlation after an SVD reduction of each side.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, p)
    Y : array_like or Tensor of shape (n_samples, q)
    keep : float in (0, 1], default=0.99
        Each side keeps its fewest leading singular directions whose variance fraction reaches
        ``keep`` (Raghu et al. use 0.99); ``1.0`` keeps the numerical rank.
    regularization : float >= 0, default=0.0
        See :func:`cca`.

    Returns
    -------
    similarity : float in [0, 1]
        Higher is more similar; 1 when the kept subspaces coincide.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import svcca
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(1000, 3)) * [10.0, 5.0, 3.0]
    >>> X = np.hstack([Z, 1e-3 * rng.normal(size=(1000, 6))])    # 3 strong + 6 tiny directions
    >>> Y = Z @ rng.normal(size=(3, 8))                           # the same 3-D signal, mixed
    >>> round(svcca(X, Y), 6)                                     # the tiny ones are dropped
    1.0
    """
    res, n = _svcca(X, Y, keep, regularization)
    _warn_trivial(res, n)
    return float(res["rho"].mean())


def _pwcca_weights(res: dict[str, Any]) -> torch.Tensor:
    w = res["loadings"].abs().sum(1)
    return w / w.sum().clamp_min(1e-300)


def pwcca(X: Any, Y: Any, *, regularization: float = 0.0) -> float:
    """Projection-weighted CCA similarity (Morcos et al. 2018), weighted by X's side.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, p)
        The representation whose activity sets the weights.
    Y : array_like or Tensor of shape (n_samples, q)
    regularization : float >= 0, default=0.0
        See :func:`cca`.

    Returns
    -------
    similarity : float in [0, 1]
        Σ α_i ρ_i with α_i ∝ Σ_j |⟨h_i, x_j⟩| (h_i the unit-norm canonical variates of X, x_j
        the centred columns of X); higher is more similar. Not symmetric in X and Y.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import cca, pwcca
    >>> rng = np.random.default_rng(0)
    >>> S = rng.normal(size=(2000, 1))                              # a shared signal
    >>> X = np.hstack([10 * S, rng.normal(size=(2000, 1))])          # ... dominates X
    >>> Y = np.hstack([S + 0.5 * rng.normal(size=(2000, 1)), rng.normal(size=(2000, 1))])
    >>> rho = cca(X, Y)
    >>> bool(pwcca(X, Y) > rho.mean())               # the well-matched direction weighs more
    True
    """
    res, n = _cca(X, Y, regularization)
    _warn_trivial(res, n)
    return float((_pwcca_weights(res) * res["rho"]).sum())


cca.higher_is_better = True  # type: ignore[attr-defined]
svcca.higher_is_better = True  # type: ignore[attr-defined]
pwcca.higher_is_better = True  # type: ignore[attr-defined]


# ----------------------------------------------------------------------------- estimators
class CCA(TransformerMixin, _PairedEstimator):
    """Canonical correlation analysis as a fitted estimator: a **similarity**, higher is better.

    ``fit(X, y)`` pairs rows ``X[i] ↔ y[i]``: ``y`` is the second representation (the name
    scikit-learn gives what ``fit`` pairs ``X`` with). :meth:`score` (or calling the object)
    gives the mean canonical correlation of new data computed afresh, like :class:`CKA`;
    :meth:`transform` applies the fitted canonical directions.

    Parameters
    ----------
    regularization : float >= 0, default=0.0
        See :func:`cca`.

    Attributes
    ----------
    correlations_ : ndarray of shape (r,)
        Descending canonical correlations (float64).
    score_ : float
        Their mean (the "mean CCA" similarity).
    x_weights_, y_weights_ : ndarray of shape (p, r), (q, r)
        Canonical directions: the variates ``(X − x_mean_) @ x_weights_`` have unit norm
        (``regularization == 0``) and pairwise correlations ``correlations_``.
    x_mean_, y_mean_ : ndarray
    rank_x_, rank_y_ : int
        Numerical ranks of the centred sides (p, q when regularised).
    n_trivial_ : int
        Correlations equal to 1 only because n − 1 < rank_x_ + rank_y_ (0 is healthy).
    chance_level_ : float
        √λ₊, Wachter's upper edge: about the largest correlation two *independent* Gaussian
        representations of these ranks and n would reach. Correlations near it mean nothing.
    n_samples_ : int
    n_features_in_ : int
        ``p``, the width of ``X``.
    higher_is_better : bool
        ``True`` (class attribute): the correlations are similarities in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import CCA
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(2000, 20)), rng.normal(size=(2000, 20))    # independent
    >>> est = CCA().fit(X, Y)
    >>> bool(abs(est.correlations_[0] - est.chance_level_) < 0.05), est.n_trivial_
    (True, 0)
    >>> U, V = est.transform(X, Y)
    >>> bool(np.isclose(U[:, 0] @ V[:, 0], est.correlations_[0]))
    True
    >>> bool(np.isclose(est.score(X, Y), est.score_))
    True
    """

    higher_is_better = True

    def __init__(self, *, regularization: float = 0.0) -> None:
        self.regularization = regularization

    def fit(self, X: Any, y: Any) -> CCA:
        """Fit on paired rows ``X[i] ↔ y[i]``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, p)
        y : array_like or Tensor of shape (n_samples, q) or (n_samples,)
            The second representation of the same samples (1-D: one column).

        Returns
        -------
        self
        """
        X = check_array(X, name="X", min_samples=2)
        Y = check_target(y, "CCA")
        res, n = _cca(X, Y, self.regularization)
        _warn_trivial(res, n)
        Xt, _ = to_torch(X)
        Yt, _ = to_torch(Y)
        self.correlations_ = res["rho"].cpu().numpy()
        self.score_ = float(self.correlations_.mean())
        self.x_weights_ = res["wx"].cpu().numpy()
        self.y_weights_ = res["wy"].cpu().numpy()
        self.x_mean_ = Xt.to(_F64).mean(0).cpu().numpy()
        self.y_mean_ = Yt.to(_F64).mean(0).cpu().numpy()
        self.rank_x_, self.rank_y_ = res["rank_x"], res["rank_y"]
        self.n_trivial_, self.chance_level_ = res["n_trivial"], res["chance"]
        self.n_samples_ = n
        self.n_features_in_ = int(Xt.shape[1])
        return self

    def transform(self, X: Any, y: Any = None) -> Any:
        """Canonical variates of new rows under the fitted directions.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, p)
        y : array_like or Tensor of shape (n_samples, q) or (n_samples,), optional

        Returns
        -------
        U : ndarray or Tensor of shape (n_samples, r)
            ``(X − x_mean_) @ x_weights_``, same kind and dtype as ``X``; or, when ``y`` is
            given, the pair ``(U, V)`` with ``V = (y − y_mean_) @ y_weights_`` of ``y``'s kind
            (scikit-learn's ``CCA.transform`` convention).
        """
        check_is_fitted(self, "x_weights_")
        X = check_array(X, name="X")
        check_width(X, self.x_weights_.shape[0], "CCA")
        if y is None:
            return self._variates(X, self.x_mean_, self.x_weights_)
        Y = check_target(y, "CCA", min_samples=1)
        check_consistent_length(X, Y, names=["X", "y"])
        check_width(Y, self.y_weights_.shape[0], "CCA", name="y")
        return (
            self._variates(X, self.x_mean_, self.x_weights_),
            self._variates(Y, self.y_mean_, self.y_weights_),
        )

    def fit_transform(self, X: Any, y: Any) -> tuple[Any, Any]:
        """Fit, then the canonical variates of the fitting rows: ``(U, V)``.

        scikit-learn's ``CCA.fit_transform(X, y)`` convention: the same as
        ``fit(X, y).transform(X, y)``.
        """
        return self.fit(X, y).transform(X, y)

    @staticmethod
    def _variates(Z: Any, mean: Any, W: Any) -> Any:
        Zt, back = to_torch(Z)
        Wt = torch.as_tensor(W, device=Zt.device)
        return back((Zt.to(_F64) - torch.as_tensor(mean, device=Zt.device)) @ Wt)

    def score(self, X: Any, y: Any) -> float:
        """Mean canonical correlation of ``X`` and ``y``, computed afresh; higher is better.

        A metric of its input, not a prediction: it needs no prior :meth:`fit`, leaves this
        estimator unchanged and accepts any widths (as :func:`cca`).
        """
        return self._metric(X, y)

    def _metric(self, X: Any, y: Any) -> float:
        Y = check_target(y, "CCA")
        return float(cca(X, Y, regularization=self.regularization).mean())


class SVCCA(_PairedEstimator):
    """SVCCA as a fitted estimator: a **similarity** in [0, 1], higher is better; see :func:`svcca`.

    ``fit(X, y)`` pairs rows ``X[i] ↔ y[i]`` (``y`` the second representation); :meth:`score`
    (or calling the object) computes the SVCCA of new data afresh.

    Parameters
    ----------
    keep : float in (0, 1], default=0.99
    regularization : float >= 0, default=0.0

    Attributes
    ----------
    score_ : float
        The SVCCA similarity (mean of ``correlations_``).
    correlations_ : ndarray
        Canonical correlations of the reduced sides.
    n_components_x_, n_components_y_ : int
        Singular directions kept on each side.
    variance_kept_x_, variance_kept_y_ : float
        Fraction of each side's variance they explain.
    n_samples_, n_features_in_ : int
    higher_is_better : bool
        ``True`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import SVCCA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 5)) * [10.0, 10.0, 10.0, 0.01, 0.01]
    >>> est = SVCCA(keep=0.99).fit(X, X)
    >>> est.n_components_x_, round(est.score_, 6), SVCCA.higher_is_better
    (3, 1.0, True)
    """

    higher_is_better = True

    def __init__(self, *, keep: float = 0.99, regularization: float = 0.0) -> None:
        self.keep = keep
        self.regularization = regularization

    def fit(self, X: Any, y: Any) -> SVCCA:
        """Fit on paired rows ``X[i] ↔ y[i]`` (``y`` of shape (n, q) or (n,)); returns ``self``."""
        X = check_array(X, name="X", min_samples=2)
        Y = check_target(y, "SVCCA")
        res, n = _svcca(X, Y, self.keep, self.regularization)
        _warn_trivial(res, n)
        self.correlations_ = res["rho"].cpu().numpy()
        self.score_ = float(self.correlations_.mean())
        self.n_components_x_, self.n_components_y_ = res["n_x"], res["n_y"]
        self.variance_kept_x_, self.variance_kept_y_ = res["kept_x"], res["kept_y"]
        self.n_samples_ = n
        self.n_features_in_ = int(X.shape[1])
        return self

    def score(self, X: Any, y: Any) -> float:
        """SVCCA of ``X`` and ``y`` computed afresh (needs no :meth:`fit`); higher is better."""
        return self._metric(X, y)

    def _metric(self, X: Any, y: Any) -> float:
        Y = check_target(y, "SVCCA")
        return svcca(X, Y, keep=self.keep, regularization=self.regularization)


class PWCCA(_PairedEstimator):
    """PWCCA as a fitted estimator: a **similarity** in [0, 1], higher is better; see :func:`pwcca`.

    ``fit(X, y)`` pairs rows ``X[i] ↔ y[i]`` (``y`` the second representation; ``X``'s side
    sets the weights); :meth:`score` (or calling the object) computes the PWCCA of new data
    afresh.

    Parameters
    ----------
    regularization : float >= 0, default=0.0

    Attributes
    ----------
    score_ : float
        Σ α_i ρ_i.
    correlations_ : ndarray
    weights_ : ndarray
        The projection weights α_i (sum to 1), X's side.
    n_samples_, n_features_in_ : int
    higher_is_better : bool
        ``True`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.cca import PWCCA
    >>> X = np.random.default_rng(0).normal(size=(300, 4))
    >>> est = PWCCA().fit(X, 3 * X)
    >>> round(est.score_, 6), round(float(est.weights_.sum()), 6)
    (1.0, 1.0)
    """

    higher_is_better = True

    def __init__(self, *, regularization: float = 0.0) -> None:
        self.regularization = regularization

    def fit(self, X: Any, y: Any) -> PWCCA:
        """Fit on paired rows ``X[i] ↔ y[i]`` (``y`` of shape (n, q) or (n,)); returns ``self``."""
        X = check_array(X, name="X", min_samples=2)
        Y = check_target(y, "PWCCA")
        res, n = _cca(X, Y, self.regularization)
        _warn_trivial(res, n)
        w = _pwcca_weights(res)
        self.correlations_ = res["rho"].cpu().numpy()
        self.weights_ = w.cpu().numpy()
        self.score_ = float((w * res["rho"]).sum())
        self.n_samples_ = n
        self.n_features_in_ = int(X.shape[1])
        return self

    def score(self, X: Any, y: Any) -> float:
        """PWCCA of ``X`` and ``y`` computed afresh (needs no :meth:`fit`); higher is better."""
        return self._metric(X, y)

    def _metric(self, X: Any, y: Any) -> float:
        Y = check_target(y, "PWCCA")
        return pwcca(X, Y, regularization=self.regularization)
