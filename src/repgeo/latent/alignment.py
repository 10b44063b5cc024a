"""Alignment (translation) between latent spaces fitted on parallel anchors.

Given paired samples ``X`` (source, n × d_x) and ``Y`` (target, n × d_y) — typically the
anchors embedded by two encoders — estimate a map T with T(X) ≈ Y:

* ``"orthogonal"`` — orthogonal Procrustes: with centred (and RMS-scaled) X, Y and the SVD
  XᵀY = U Σ Vᵀ, R = U Vᵀ minimises ‖XR − Y‖_F over matrices with orthonormal rows/columns
  (d_x ≠ d_y is allowed: R is then semi-orthogonal; with fewer pairs than dimensions only the
  anchors' span is rotated and the rest is mapped to zero — see ``_polar``);
* ``"affine"`` — least squares with an intercept: Y ≈ X W + b (W unconstrained);
* ``"lstsq_ortho"`` — the least-squares W projected to the nearest (semi-)orthogonal matrix
  (the polar factor U Vᵀ of W = U Σ Vᵀ).

With ``center=True`` both spaces are centred by their mean and with ``scale=True`` divided by
their RMS norm (‖X − μ‖_F / √n); the transform undoes the target's centring and scaling, so
T(x) = ((x − μ_x)/s_x) R s_y + μ_y. The sufficient statistics (means, XᵀX, XᵀY) are
accumulated in chunks, so fitting is O(n d²) time and O(d²) memory.

References
----------
P. H. Schönemann. "A generalized solution of the orthogonal Procrustes problem".
Psychometrika 31 (1966). — V. Maiorca et al. "Latent space translation via semantic
alignment". NeurIPS 2023.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_choice, check_consistent_length

__all__ = ["ALIGN_METHODS", "LatentAligner", "align", "orthogonal_procrustes"]

ALIGN_METHODS = ("orthogonal", "affine", "lstsq_ortho")
_MAX_ROWS = 16384  # rows per chunk: large enough for fast GEMMs, small enough to stay lean


def _pow2(T: torch.Tensor) -> float:
    """The power of two that brings ``max |T|`` into [0.5, 1): an exact rescaling."""
    amax = float(T.abs().amax()) if T.numel() else 0.0
    return math.ldexp(1.0, -max(math.frexp(amax)[1], -1000)) if amax > 0 else 1.0


class _SumSquares:
    """A Frobenius norm accumulated in chunks as ``scale · √ssq`` (LAPACK's dnrm2 scheme), so
    the squares of huge entries never overflow and those of tiny ones never underflow."""

    def __init__(self) -> None:
        self.scale, self.ssq = 0.0, 0.0

    def add(self, block: torch.Tensor) -> None:
        m = float(block.abs().amax()) if block.numel() else 0.0
        if m == 0.0:
            return
        if m > self.scale:
            self.ssq *= (self.scale / m) ** 2
            self.scale = m
        self.ssq += float(((block / self.scale) ** 2).sum())

    def ratio(self, other: _SumSquares) -> float:
        """``‖self‖ / ‖other‖`` (0 when self is 0; ``‖self‖/1e-300`` when other is 0)."""
        if self.scale == 0.0:
            return 0.0
        if other.scale == 0.0:
            return self.scale * math.sqrt(self.ssq) / 1e-300
        with np.errstate(over="ignore"):
            return float(np.float64(self.scale / other.scale) * math.sqrt(self.ssq / other.ssq))


def _moments(
    Xt: torch.Tensor, Yt: torch.Tensor, need_xx: bool, px: float = 1.0, py: float = 1.0
) -> tuple[torch.Tensor, ...]:
    """Means, centred cross-products (float64) and RMS norms of ``px·X`` and ``py·Y``, in chunks."""
    n = Xt.shape[0]
    f64 = torch.float64
    rows = chunk_rows(8 * 2 * (Xt.shape[1] + Yt.shape[1]), maximum=_MAX_ROWS)
    mx = torch.zeros(Xt.shape[1], dtype=f64, device=Xt.device)
    my = torch.zeros(Yt.shape[1], dtype=f64, device=Xt.device)
    for sl in iter_chunks(n, rows):
        mx += Xt[sl].to(f64).mul(px).sum(0)
        my += Yt[sl].to(device=Xt.device, dtype=f64).mul(py).sum(0)
    mx, my = mx / n, my / n
    xy = torch.zeros(Xt.shape[1], Yt.shape[1], dtype=f64, device=Xt.device)
    xx = torch.zeros(Xt.shape[1], Xt.shape[1], dtype=f64, device=Xt.device) if need_xx else None
    ssx = torch.zeros((), dtype=f64, device=Xt.device)
    ssy = torch.zeros((), dtype=f64, device=Xt.device)
    for sl in iter_chunks(n, rows):
        xc = Xt[sl].to(f64) * px - mx
        yc = Yt[sl].to(device=Xt.device, dtype=f64) * py - my
        xy += xc.T @ yc
        if xx is not None:
            xx += xc.T @ xc
        ssx += (xc * xc).sum()
        ssy += (yc * yc).sum()
    return mx, my, xy, xx, ssx, ssy


def _polar(W: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Polar factor U Vᵀ of W, restricted to W's numerical rank.

    With fewer pairs than dimensions, W = XᵀY is rank-deficient and the orthogonal Procrustes
    minimiser is not unique on the null space; an arbitrary rotation there would scramble the
    components of new points outside the anchors' span. Keeping only the singular directions
    above ``rtol · σ_max`` gives the minimum-norm solution (a partial isometry) instead.
    """
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    keep = S > rtol * S.max().clamp_min(1e-300)
    return U[:, keep] @ Vh[keep], int(keep.sum())


def _rank(A: torch.Tensor, rtol: float = 1e-10) -> int:
    """Numerical rank of a symmetric PSD matrix (eigenvalues above ``rtol · λ_max``)."""
    ev = torch.linalg.eigvalsh(A)
    return int((ev > rtol * ev.max().clamp_min(1e-300)).sum())


class LatentAligner(TransformerMixin, BaseEstimator):
    """Map a source latent space onto a target one, fitted on paired samples (anchors).

    Parameters
    ----------
    method : {"orthogonal", "affine", "lstsq_ortho"}, default="orthogonal"
        See the module docstring.
    center : bool, default=True
        Centre both spaces by their mean before fitting (``"affine"`` always fits an intercept).
    scale : bool, default=True
        Divide each centred space by its RMS norm before fitting; the transform maps back to
        the target's scale.

    Attributes
    ----------
    R_ : Tensor of shape (d_x, d_y)
        The linear part in normalised coordinates (float64).
    mean_x_, mean_y_ : Tensor
        Means removed (zeros when ``center=False`` and the method is not ``"affine"``).
    scale_x_, scale_y_ : float
        RMS norms divided out (1.0 when ``scale=False``).
    residual_ : float
        Relative residual ‖T(X) − Y‖_F / ‖Y − ȳ‖_F on the fitting pairs (lower is better).
    rank_ : int
        Numerical rank of the fitted map (singular directions kept by the polar factor, or
        the rank of the source covariance for ``"affine"``); below ``min(d_x, d_y)`` when
        there are fewer pairs than dimensions, 0 when a space is constant (with a warning).
    warnings_ : list of str
        Text of every warning issued by the last :meth:`fit`.
    n_features_in_, n_features_out_ : int
        ``d_x`` and ``d_y``.
    higher_is_better : bool
        ``False`` (class attribute): :meth:`residual` is a relative *distance* between the
        mapped source and the target, lower is better.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import LatentAligner
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> Y = 2.0 * X @ Q + 1.0                          # rotated, scaled, shifted
    >>> al = LatentAligner().fit(X, Y)
    >>> bool(np.allclose(al.transform(X), Y)), round(al.residual_, 6)
    (True, 0.0)
    """

    higher_is_better = False  # for residual()

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the target space
        tags.target_tags.multi_output = True
        return tags

    def __init__(
        self, *, method: str = "orthogonal", center: bool = True, scale: bool = True
    ) -> None:
        self.method = method
        self.center = center
        self.scale = scale

    def fit(self, X: Any, y: Any) -> LatentAligner:
        """Fit the map on paired rows ``X[i] ↔ y[i]``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, d_x)
            Source space (e.g. the anchors embedded by one encoder).
        y : array_like or Tensor of shape (n_samples, d_y) or (n_samples,)
            Target space: the same samples embedded by the other encoder (the regression
            target, hence ``y``); a 1-D ``y`` is a one-dimensional target space.

        Returns
        -------
        self
        """
        check_choice(self.method, "method", ALIGN_METHODS)
        for flag in ("center", "scale"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"{flag} must be a bool; got {type(getattr(self, flag)).__name__}.")
        if y is None:
            raise ValueError(
                "LatentAligner requires y to be passed, but the target y is None "
                "(give the target space's embedding of the same samples)."
            )
        X = check_array(X, name="X", min_samples=2)
        Y = _as_2d(
            check_array(y, name="y", ndim=(1, 2), min_samples=2, shape_hint="(n_samples, d_y)")
        )
        check_consistent_length(X, Y, names=["X", "y"])
        Xt, _ = to_torch(X)
        Yt, _ = to_torch(Y)
        n = Xt.shape[0]
        center = self.center or self.method == "affine"
        need_xx = self.method in ("affine", "lstsq_ortho")
        # the statistics of 2^a·X and 2^b·Y (exact rescalings: no product overflows or
        # underflows whatever the magnitude of the data); results are mapped back below
        px, py = _pow2(Xt), _pow2(Yt)
        if center:
            mx, my, xy, xx, ssx, ssy = _moments(Xt, Yt, need_xx, px, py)
        else:  # statistics around zero
            xy, xx, ssx, ssy = _uncentred(Xt, Yt, need_xx, px, py)
            mx = torch.zeros(Xt.shape[1], dtype=torch.float64, device=Xt.device)
            my = torch.zeros(Yt.shape[1], dtype=torch.float64, device=Xt.device)
        if self.scale:  # RMS norms, in the rescaled units
            sx = max(float(torch.sqrt(ssx / n)), 1e-300)
            sy = max(float(torch.sqrt(ssy / n)), 1e-300)
            # divided in turn (sx·sy can underflow when a space is constant: 0/0)
            xy_n, xx_n, to_original = xy / sx / sy, None if xx is None else xx / sx / sx, 1.0
        else:  # solve in the rescaled units; a linear map carries the factor px/py back
            sx, sy = px, py
            xy_n, xx_n, to_original = xy, xx, px / py
        if self.method == "orthogonal":
            R, rank = _polar(xy_n)  # the polar factor does not change under positive scaling
        else:
            W = torch.linalg.lstsq(
                xx_n, xy_n, driver="gelsd" if xx_n.device.type == "cpu" else None
            ).solution
            R, rank = (W * to_original, _rank(xx_n)) if self.method == "affine" else _polar(W)
        self.R_, self.mean_x_, self.mean_y_ = R, mx / px, my / py
        self.scale_x_, self.scale_y_ = sx / px, sy / py
        self.n_features_in_, self.n_features_out_ = int(Xt.shape[1]), int(Yt.shape[1])
        self.rank_ = int(rank)
        self.warnings_: list[str] = []
        if self.rank_ == 0:
            msg = (
                "the alignment is degenerate (rank 0): the source or the target has no variation "
                "on the fitting pairs (a constant representation?); T maps every x to the target mean."
            )
            self.warnings_.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        self.residual_ = float(self._residual(Xt, Yt))
        if not math.isfinite(self.residual_):
            msg = (
                "the relative residual overflows float64: the mapped source and the target differ "
                "by more than 1e308 times the target's spread (use scale=True for spaces of very "
                "different magnitudes)."
            )
            self.warnings_.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        return self

    def _map(self, Xt: torch.Tensor) -> torch.Tensor:
        f64 = torch.float64
        R = self.R_.to(Xt.device)
        Z = (Xt.to(f64) - self.mean_x_.to(Xt.device)) / self.scale_x_
        return (Z @ R) * self.scale_y_ + self.mean_y_.to(Xt.device)

    def _residual(self, Xt: torch.Tensor, Yt: torch.Tensor) -> torch.Tensor:
        f64 = torch.float64
        rows = chunk_rows(8 * 3 * (Xt.shape[1] + Yt.shape[1]), maximum=_MAX_ROWS)
        mu = torch.zeros(Yt.shape[1], dtype=f64, device=Xt.device)
        py = _pow2(Yt)  # a ratio: computed in units of 2^b·Y, exact and overflow-free
        for sl in iter_chunks(Yt.shape[0], rows):
            mu += Yt[sl].to(device=Xt.device, dtype=f64).mul(py).sum(0)
        mu /= Yt.shape[0]
        num, den = _SumSquares(), _SumSquares()
        for sl in iter_chunks(Xt.shape[0], rows):
            y = Yt[sl].to(device=Xt.device, dtype=f64) * py
            num.add(self._map(Xt[sl]) * py - y)
            den.add(y - mu)
        return torch.tensor(num.ratio(den), dtype=f64)

    def transform(self, X: Any) -> Any:
        """Map source rows into the target space.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, d_x)

        Returns
        -------
        Y_hat : ndarray or Tensor of shape (n_samples, d_y)
            Same kind, dtype and device as ``X``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        X = check_array(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but LatentAligner is expecting {self.n_features_in_} "
                "features as input (the fitted source dimension)."
            )
        Xt, back = to_torch(X)
        out = torch.empty((Xt.shape[0], self.n_features_out_), dtype=Xt.dtype, device=Xt.device)
        for sl in iter_chunks(
            Xt.shape[0], chunk_rows(8 * 2 * (Xt.shape[1] + self.n_features_out_), maximum=_MAX_ROWS)
        ):
            out[sl] = self._map(Xt[sl]).to(Xt.dtype)
        return back(out)

    def residual(self, X: Any, y: Any) -> float:
        """Relative residual ‖T(X) − y‖_F / ‖y − ȳ‖_F on paired rows: a distance, 0 = perfect, lower is better."""
        check_is_fitted(self)
        X = check_array(X, name="X")
        Y = _as_2d(check_array(y, name="y", ndim=(1, 2), shape_hint="(n_samples, d_y)"))
        check_consistent_length(X, Y, names=["X", "y"])
        if X.shape[1] != self.n_features_in_ or Y.shape[1] != self.n_features_out_:
            raise ValueError(
                f"X, y must have {self.n_features_in_} and {self.n_features_out_} features; "
                f"got {X.shape[1]} and {Y.shape[1]}."
            )
        Xt, _ = to_torch(X)
        Yt, _ = to_torch(Y)
        return float(self._residual(Xt, Yt))


def _as_2d(A: Any) -> Any:
    """A 1-D target as a one-column matrix."""
    return A.reshape(-1, 1) if A.ndim == 1 else A


def _uncentred(
    Xt: torch.Tensor, Yt: torch.Tensor, need_xx: bool, px: float = 1.0, py: float = 1.0
) -> tuple[Any, ...]:
    f64 = torch.float64
    rows = chunk_rows(8 * 2 * (Xt.shape[1] + Yt.shape[1]), maximum=_MAX_ROWS)
    xy = torch.zeros(Xt.shape[1], Yt.shape[1], dtype=f64, device=Xt.device)
    xx = torch.zeros(Xt.shape[1], Xt.shape[1], dtype=f64, device=Xt.device) if need_xx else None
    ssx = torch.zeros((), dtype=f64, device=Xt.device)
    ssy = torch.zeros((), dtype=f64, device=Xt.device)
    for sl in iter_chunks(Xt.shape[0], rows):
        x = Xt[sl].to(f64) * px
        y = Yt[sl].to(device=Xt.device, dtype=f64) * py
        xy += x.T @ y
        if xx is not None:
            xx += x.T @ x
        ssx += (x * x).sum()
        ssy += (y * y).sum()
    return xy, xx, ssx, ssy


def orthogonal_procrustes(X: Any, Y: Any, *, center: bool = False) -> Any:
    """The (semi-)orthogonal R minimising ‖X R − Y‖_F (Schönemann 1966).

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, d_x)
    Y : array_like or Tensor of shape (n_samples, d_y)
    center : bool, default=False
        Centre X and Y by their means first.

    Returns
    -------
    R : ndarray or Tensor of shape (d_x, d_y)
        Same kind and dtype as ``X``. R Rᵀ = I when d_x <= d_y, Rᵀ R = I otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import orthogonal_procrustes
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(50, 3))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    >>> bool(np.allclose(orthogonal_procrustes(X, X @ Q), Q))
    True
    """
    al = LatentAligner(method="orthogonal", center=center, scale=False).fit(X, Y)
    _, back = to_torch(check_array(X, name="X"))
    return back(al.R_)


def align(
    X: Any, Y: Any, *, method: str = "orthogonal", center: bool = True, scale: bool = True
) -> tuple[Any, float]:
    """Fit :class:`LatentAligner` on ``(X, Y)`` and return ``(T(X), residual)``.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, d_x)
    Y : array_like or Tensor of shape (n_samples, d_y)
    method, center, scale
        See :class:`LatentAligner`.

    Returns
    -------
    X_aligned : ndarray or Tensor of shape (n_samples, d_y)
    residual : float
        ‖T(X) − Y‖_F / ‖Y − ȳ‖_F.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import align
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 4))
    >>> Y = X @ rng.normal(size=(4, 6)) + 0.5          # a general linear map + shift
    >>> _, r_orth = align(X, Y)
    >>> _, r_aff = align(X, Y, method="affine")
    >>> r_aff < 1e-10 < r_orth
    True
    """
    al = LatentAligner(method=method, center=center, scale=scale).fit(X, Y)
    return al.transform(X), al.residual_
