"""Generalised shape metrics between representations (Williams et al. 2021): true distances.

X (n × p) and Y (n × q) hold the same n samples. Each side is preprocessed **on its own**:

1. centre the columns;
2. partially whiten with α ∈ [0, 1]: with the covariance C = X_cᵀX_c / n = V diag(λ) Vᵀ,
   X ↦ X_c Z, Z = V diag(α + (1 − α) λ^{-1/2}) Vᵀ — α = 1 leaves X as it is (Procrustes shape),
   α = 0 whitens it fully (a CCA-like metric), values in between interpolate;
3. rescale so the total variance is unchanged (netrep's ``preserve_variance=True``);
4. zero-pad the narrower side to the common width.

Then the two are aligned by the best orthogonal map Q (orthogonal Procrustes, Q = UVᵀ from the SVD
of X̃ᵀỸ) and compared:

* ``method="angular"`` (default): θ = arccos(⟨X̃Q, Ỹ⟩_F / (‖X̃‖_F ‖Ỹ‖_F)) ∈ [0, π/2] radians; at the
  optimum the numerator is the nuclear norm ‖X̃ᵀỸ‖_*. Invariant to the scale of either side
  when α ∈ {0, 1}; for 0 < α < 1 the whitening mixes 1 with λ^{-1/2}, which carry different
  units, so rescaling a side changes its shape (as in netrep).
* ``method="euclidean"``: ‖X̃Q − Ỹ‖_F / √n (netrep's normalisation), in the data's units.

Both are **distances** (0 = same shape; lower is more similar) and true metrics on shapes:
zero for rotated copies (and, for angular with α ∈ {0, 1}, rescaled ones), symmetric, obeying the triangle
inequality — only because step 1–4 never look at the other side. With α = 0 and p = q = rank,
θ = arccos(mean canonical correlation). Directions with zero variance are dropped before
whitening (they carry no data; whitening them would only amplify rounding noise).

Everything is computed from one chunked QR of ``[X_c, Y_c]`` (see :mod:`repgeo.latent.cca`): if
``X_c = Q U_x S_x V_xᵀ`` then X̃ = Q U_x S̃_x V_xᵀ with S̃ = α S + (1 − α)√n, so θ needs only the
singular values of S̃_x U_xᵀ U_y S̃_y — O(n (p+q)²) time, O((p+q)²) memory.

Conventions of the peers: netrep's ``LinearMetric(alpha, score_method="angular")`` is this
distance (netrep whitens with X_cᵀX_c rather than the covariance, which changes the α-mixing for
0 < α < 1 but not α ∈ {0, 1}); netrep's ``LinearCKA.score`` returns arccos(CKA) — a distance in
radians, not CKA.

References
----------
A. H. Williams, E. Kunz, S. Kornblith, S. W. Linderman. "Generalized shape metrics on neural
representations". NeurIPS 2021. — P. H. Schönemann. "A generalized solution of the orthogonal
Procrustes problem". Psychometrika 31 (1966).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import to_torch
from .._validation import check_array, check_choice, check_consistent_length, check_scalar
from ._paired import (
    _PairedEstimator,
    check_paired,
    check_target,
    check_width,
    joint_r,
    orthonormal_basis,
)
from .alignment import orthogonal_procrustes

__all__ = ["SHAPE_METHODS", "ShapeDistance", "shape_distance"]

SHAPE_METHODS = ("angular", "euclidean")
_F64 = torch.float64


def _check(alpha: Any, method: Any) -> float:
    check_choice(method, "method", SHAPE_METHODS)
    return float(check_scalar(alpha, "alpha", min_val=0.0, max_val=1.0))


def _whitened_spectrum(S: torch.Tensor, n: int, alpha: float) -> torch.Tensor:
    """Singular values of the partially whitened X_c, variance preserved."""
    s_new = alpha * S + (1.0 - alpha) * math.sqrt(n)
    return s_new * torch.sqrt((S * S).sum() / (s_new * s_new).sum())


def _side(F: torch.Tensor, n: int, alpha: float, name: str) -> tuple[torch.Tensor, ...]:
    U, S, V, r = orthonormal_basis(F, n)
    if r == 0:
        raise ValueError(
            f"{name} has zero variance (a constant representation): its shape is undefined."
        )
    return U, S, V, _whitened_spectrum(S, n, alpha)


def _distance(sx: torch.Tensor, sy: torch.Tensor, nuc: torch.Tensor, n: int, method: str) -> float:
    nx, ny = torch.linalg.vector_norm(sx), torch.linalg.vector_norm(sy)
    if method == "angular":
        return float(torch.arccos((nuc / (nx * ny)).clamp(0.0, 1.0)))
    return float(torch.sqrt((nx * nx + ny * ny - 2.0 * nuc).clamp_min(0.0) / n))


def shape_distance(X: Any, Y: Any, *, alpha: float = 1.0, method: str = "angular") -> float:
    """Generalised shape distance (Williams et al. 2021) between paired representations.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, p)
    Y : array_like or Tensor of shape (n_samples, q)
        Row i of both is the same sample; the widths may differ (the narrower is zero-padded).
    alpha : float in [0, 1], default=1.0
        Partial whitening: 1 = none (Procrustes), 0 = full (CCA-like).
    method : {"angular", "euclidean"}, default="angular"
        Angle in radians in [0, π/2], or the RMS Euclidean residual ‖X̃Q − Ỹ‖_F / √n.

    Returns
    -------
    distance : float
        0 for identical shapes; lower is more similar. A metric: symmetric, and
        d(X, Z) ≤ d(X, Y) + d(Y, Z).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.shape import shape_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 10))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(10, 10)))
    >>> round(shape_distance(X, 3.0 * X @ Q + 1.0), 6)          # rotated, scaled, shifted copy
    0.0
    >>> d_xy = shape_distance(X, np.tanh(X))
    >>> d_xz = shape_distance(X, rng.normal(size=(500, 10)))
    >>> bool(0 < d_xy < d_xz <= np.pi / 2)
    True
    """
    alpha = _check(alpha, method)
    X, Y = check_paired(X, Y)
    A, B, n = joint_r(X, Y)
    Ux, _, _, sx = _side(A, n, alpha, "X")
    Uy, _, _, sy = _side(B, n, alpha, "Y")
    nuc = torch.linalg.svdvals(sx[:, None] * (Ux.T @ Uy) * sy[None, :]).sum()
    return _distance(sx, sy, nuc, n, method)


shape_distance.higher_is_better = False  # type: ignore[attr-defined]


class ShapeDistance(TransformerMixin, _PairedEstimator):
    """Shape distance as a fitted estimator: a **distance**, lower is better (netrep-style).

    ``fit(X, y)`` pairs rows ``X[i] ↔ y[i]`` (``y`` the second representation) and learns each
    side's centring and partial whitening and the rotation between them; :meth:`transform`
    applies them to new (e.g. held-out) rows and :meth:`distance` scores them, so the distance
    can be cross-validated as in netrep. Calling the object, ``est(X, y)``, gives
    :func:`shape_distance` of new data computed afresh. There is deliberately no ``score``
    method: scikit-learn's model selection maximises ``score``, and this is a distance.

    Parameters
    ----------
    alpha : float in [0, 1], default=1.0
    method : {"angular", "euclidean"}, default="angular"

    Attributes
    ----------
    distance_ : float
        The distance on the fitting rows (equals :func:`shape_distance`).
    score_ : float
        Same as ``distance_`` (lower is better; see ``higher_is_better``).
    x_mean_, y_mean_ : ndarray
    x_whitener_, y_whitener_ : ndarray of shape (p, m), (q, m)
        Maps the centred rows to the preprocessed, zero-padded space of width m = max(p, q).
    rotation_ : ndarray of shape (m, m)
        Orthogonal Procrustes map of the preprocessed X onto the preprocessed Y
        (:func:`repgeo.latent.alignment.orthogonal_procrustes`; minimum-norm if rank-deficient).
    n_features_in_ : int
        ``p``, the width of ``X``.
    higher_is_better : bool
        ``False`` (class attribute): a distance, 0 for identical shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.shape import ShapeDistance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(400, 6))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> Y = X @ Q + 0.1 * rng.normal(size=(400, 6))
    >>> est = ShapeDistance(alpha=1.0).fit(X[:300], Y[:300])          # fit on 300 rows
    >>> bool(est.distance(X[300:], Y[300:]) < 0.2), ShapeDistance.higher_is_better
    (True, False)
    """

    higher_is_better = False

    def __init__(self, *, alpha: float = 1.0, method: str = "angular") -> None:
        self.alpha = alpha
        self.method = method

    def fit(self, X: Any, y: Any) -> ShapeDistance:
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
        alpha = _check(self.alpha, self.method)
        X = check_array(X, name="X", min_samples=2)
        Y = check_target(y, "ShapeDistance")
        X, Y = check_paired(X, Y)
        A, B, n = joint_r(X, Y)
        m = max(A.shape[1], B.shape[1])
        whiteners, means = [], []
        for F, Z, name in ((A, X, "X"), (B, Y, "Y")):
            _, S, V, s_new = _side(F, n, alpha, name)
            W = torch.zeros(F.shape[1], m, dtype=_F64, device=F.device)
            W[:, : F.shape[1]] = (V * (s_new / S)) @ V.T
            whiteners.append(W)
            Zt, _ = to_torch(Z)
            means.append(Zt.to(_F64).mean(0).to(F.device))
        self.x_mean_, self.y_mean_ = (mu.cpu().numpy() for mu in means)
        self.x_whitener_, self.y_whitener_ = (W.cpu().numpy() for W in whiteners)
        Xw = self._preprocess(X, self.x_mean_, self.x_whitener_)
        Yw = self._preprocess(Y, self.y_mean_, self.y_whitener_)
        self.rotation_ = np.asarray(orthogonal_procrustes(Xw, Yw), dtype=np.float64)
        self.distance_ = self.score_ = shape_distance(X, Y, alpha=alpha, method=self.method)
        self.n_features_in_ = int(A.shape[1])
        return self

    @staticmethod
    def _preprocess(Z: Any, mu: np.ndarray, W: np.ndarray) -> np.ndarray:
        """Centre and whiten with fitted maps: a float64 NumPy array of shape (n, m)."""
        Zt, _ = to_torch(Z)
        return (Zt.to(_F64).cpu().numpy() - mu) @ W

    def _aligned(self, X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validated ``(X̃ Q, Ỹ)`` in float64 NumPy (the numbers :meth:`distance` compares)."""
        check_is_fitted(self, "rotation_")
        X = check_array(X, name="X")
        Y = check_target(Y, "ShapeDistance", min_samples=1)
        check_consistent_length(X, Y, names=["X", "y"])
        check_width(X, self.x_whitener_.shape[0], "ShapeDistance")
        check_width(Y, self.y_whitener_.shape[0], "ShapeDistance", name="y")
        Xa = self._preprocess(X, self.x_mean_, self.x_whitener_) @ self.rotation_
        return Xa, self._preprocess(Y, self.y_mean_, self.y_whitener_)

    def transform(self, X: Any, y: Any = None, *, align: bool = True) -> Any:
        """Preprocess new rows with the fitted maps (centre, whiten, zero-pad); rotate X onto y.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, p)
        y : array_like or Tensor of shape (n_samples, q) or (n_samples,), optional
        align : bool, default=True
            Apply the fitted rotation to X's side.

        Returns
        -------
        X_shape : ndarray or Tensor of shape (n_samples, max(p, q))
            ``X̃ Q`` (``X̃`` with ``align=False``), same kind, dtype and device as ``X``; or,
            when ``y`` is given, the pair ``(X̃ Q, ỹ)``, the second of ``y``'s kind.
        """
        check_is_fitted(self, "rotation_")
        X = check_array(X, name="X")
        check_width(X, self.x_whitener_.shape[0], "ShapeDistance")
        _, back_x = to_torch(X)
        Xw = self._preprocess(X, self.x_mean_, self.x_whitener_)
        Xa = back_x(torch.from_numpy(Xw @ self.rotation_ if align else Xw))
        if y is None:
            return Xa
        Y = check_target(y, "ShapeDistance", min_samples=1)
        check_consistent_length(X, Y, names=["X", "y"])
        check_width(Y, self.y_whitener_.shape[0], "ShapeDistance", name="y")
        _, back_y = to_torch(Y)
        return Xa, back_y(torch.from_numpy(self._preprocess(Y, self.y_mean_, self.y_whitener_)))

    def distance(self, X: Any, y: Any) -> float:
        """Distance between new paired rows under the fitted preprocessing and rotation.

        A distance (lower is better), with this estimator's ``method``; on the fitting rows it
        equals ``distance_``.
        """
        Xa, Ya = self._aligned(X, y)
        nx, ny = np.linalg.norm(Xa), np.linalg.norm(Ya)
        if self.method == "angular":
            if nx == 0 or ny == 0:
                raise ValueError(
                    "a side has zero norm after preprocessing; the angle is undefined."
                )
            return float(np.arccos(np.clip(np.sum(Xa * Ya) / (nx * ny), -1.0, 1.0)))
        return float(np.linalg.norm(Xa - Ya) / math.sqrt(Xa.shape[0]))

    def _metric(self, X: Any, y: Any) -> float:
        Y = check_target(y, "ShapeDistance")
        return shape_distance(X, Y, alpha=self.alpha, method=self.method)
