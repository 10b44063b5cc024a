"""Shared private helpers of the paired-comparison modules (CCA family, shape metrics).

* :func:`check_paired` — the public-boundary validation of two representations of the same
  samples (through :mod:`repgeo._validation`); :func:`check_target` and :func:`check_width` do
  the same for the estimators, whose second representation is scikit-learn's ``y``;
* :class:`_PairedEstimator` — the base of the paired estimators (``fit(X, y)`` with ``y`` the
  second representation; scikit-learn tags saying that ``y`` is required and may be 2-D);
* :func:`joint_r` — the triangular factor R of the column-centred ``[X_c, Y_c]`` by a chunked
  (tall-skinny) QR: ``[X_c, Y_c] = Q R`` with Q orthonormal and never formed, so ``X_c = Q A``
  and ``Y_c = Q B`` with ``A = R[:, :p]``, ``B = R[:, p:]``. Everything the CCA family needs
  (bases of the column spaces, their principal angles, covariances ``AᵀA``, ``AᵀB``) follows
  from R exactly, in O(n (p+q)²) time and O((p+q)²) memory, with the accuracy of a QR of the
  data (ε · cond) rather than of its Gram matrix (ε · cond²).
"""

from __future__ import annotations

from typing import Any

import torch
from sklearn.base import BaseEstimator

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_consistent_length

_F64 = torch.float64
_MAX_ROWS = 16384


def check_paired(X: Any, Y: Any, *, min_samples: int = 2) -> tuple[Any, Any]:
    """Validate two representations of the same ``n`` samples (widths may differ)."""
    X = check_array(X, name="X", min_samples=min_samples)
    Y = check_array(Y, name="Y", min_samples=min_samples)
    check_consistent_length(X, Y, names=["X", "Y"])
    return X, Y


def check_target(y: Any, owner: str, *, min_samples: int = 2) -> Any:
    """Validate an estimator's ``y`` (the second representation); a 1-D ``y`` is one column."""
    if y is None:
        raise ValueError(
            f"{owner} requires y to be passed, but the target y is None (give the second "
            "representation of the same samples, one row per sample)."
        )
    Y = check_array(y, name="y", ndim=(1, 2), min_samples=min_samples, shape_hint="(n_samples, q)")
    return Y.reshape(-1, 1) if Y.ndim == 1 else Y


def check_width(
    Z: Any, expected: int, owner: str, name: str = "X", why: str = "(as in fit)."
) -> None:
    """scikit-learn's message when ``Z`` has another width than the one fitted."""
    if Z.shape[1] != expected:
        raise ValueError(
            f"{name} has {Z.shape[1]} features, but {owner} is expecting {expected} features "
            f"as input {why}"
        )


class _PairedEstimator(BaseEstimator):
    """Base of the paired estimators: ``fit(X, y)`` on rows ``X[i] ↔ y[i]``.

    ``y`` is the second representation (scikit-learn's name for what ``fit`` pairs ``X`` with),
    required, of shape (n_samples, q) or (n_samples,). Calling the object, ``est(X, y)``, gives
    the metric of new data computed afresh (:meth:`_metric`), so an instance is a metric usable
    by :func:`repgeo.latent.similarity_matrix` and :mod:`repgeo.latent.uncertainty`.
    """

    higher_is_better: bool | None = True

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the second representation
        tags.target_tags.multi_output = True
        return tags

    def __call__(self, X: Any, y: Any) -> float:
        return float(self._metric(X, y))

    def _metric(self, X: Any, y: Any) -> float:  # pragma: no cover - abstract
        raise NotImplementedError


def column_means(Zt: torch.Tensor) -> torch.Tensor:
    """Float64 column means, accumulated in chunks."""
    mu = torch.zeros(Zt.shape[1], dtype=_F64, device=Zt.device)
    for sl in iter_chunks(Zt.shape[0], chunk_rows(8 * (Zt.shape[1] + 1), maximum=_MAX_ROWS)):
        mu += Zt[sl].to(_F64).sum(0)
    return mu / Zt.shape[0]


def joint_r(X: Any, Y: Any) -> tuple[torch.Tensor, torch.Tensor, int]:
    """R factor of the centred ``[X_c, Y_c]`` (float64, on X's device), and ``n``.

    Returns ``(A, B, n)`` with ``X_c = Q A`` and ``Y_c = Q B`` for one orthonormal Q.
    """
    Xt, _ = to_torch(X)
    Yt, _ = to_torch(Y)
    dev = Xt.device
    n, p, q = Xt.shape[0], Xt.shape[1], Yt.shape[1]
    mx, my = column_means(Xt), column_means(Yt).to(dev)
    R = torch.zeros(0, p + q, dtype=_F64, device=dev)
    # each step factors [R; chunk], so a chunk holds rows + (p + q) rows of p + q floats
    rows = chunk_rows(8 * 3 * (p + q), maximum=_MAX_ROWS, minimum=max(p + q, 64))
    for sl in iter_chunks(n, rows):
        block = torch.cat([Xt[sl].to(_F64) - mx, Yt[sl].to(device=dev, dtype=_F64) - my], dim=1)
        R = torch.linalg.qr(torch.cat([R, block], dim=0), mode="r").R
    return R[:, :p], R[:, p:], n


def orthonormal_basis(
    A: torch.Tensor, n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """SVD ``A = U S Vᵀ`` truncated to the numerical rank; returns ``(U_r, S_r, V_r, rank)``.

    ``A`` is a factor of an ``n``-row matrix ``Q A``; the tolerance is NumPy's ``matrix_rank``
    default for that matrix, ``σ_max · max(n, A.shape[1]) · ε`` (ε of float64).
    """
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    if S.numel() == 0 or float(S[0]) <= 0.0:
        return U[:, :0], S[:0], Vh[:0].T, 0
    tol = float(S[0]) * max(n, A.shape[1]) * torch.finfo(_F64).eps
    r = int((S > tol).sum())
    return U[:, :r], S[:r], Vh[:r].T, r
