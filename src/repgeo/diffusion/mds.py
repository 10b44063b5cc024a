"""Multidimensional scaling in torch: classical (Torgerson) MDS, metric MDS by SMACOF, and
landmark MDS with stress-majorisation placement of the non-landmark points.

References
----------
Torgerson, "Multidimensional scaling: I. Theory and method", Psychometrika 17 (1952).
De Leeuw, "Applications of convex analysis to multidimensional scaling" (1977) (SMACOF).
De Silva & Tenenbaum, "Sparse multidimensional scaling using landmark points" (2004).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_positive_int, check_random_state, check_scalar

__all__ = ["classical_mds", "landmark_placement", "smacof"]


def _classical(D: torch.Tensor, n_components: int) -> torch.Tensor:
    # MDS is scale-equivariant: work on D / 2^e (|D| <= 1) so that D² cannot overflow
    dmax = float(D.abs().max()) if D.numel() else 0.0
    e = math.frexp(dmax)[1] if dmax > 0 else 0
    D = torch.ldexp(D, torch.tensor(-e, dtype=D.dtype, device=D.device))
    return torch.ldexp(
        _classical_unit(D, n_components), torch.tensor(e, dtype=D.dtype, device=D.device)
    )


def _top_eigh(B: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest (algebraic) eigenpairs of a symmetric matrix, in descending order.

    A dense ``eigh`` costs ``O(n³)``; for a few components of a large matrix on the CPU the
    Lanczos solver of ARPACK (``O(n² k)`` per restart) is tens of times faster, with the same
    eigenpairs to ~1e-10."""
    n = B.shape[0]
    if B.device.type == "cpu" and n > 400 and k <= n // 20:
        from scipy.sparse.linalg import eigsh

        v0 = np.cos(np.arange(n) * 0.7 + 0.3)  # deterministic start
        evals, evecs = eigsh(B.numpy(), k=k, which="LA", v0=v0, tol=1e-12)
        order = np.argsort(evals)[::-1]
        return torch.from_numpy(evals[order].copy()), torch.from_numpy(evecs[:, order].copy())
    evals, evecs = torch.linalg.eigh(B)
    return evals.flip(0)[:k], evecs.flip(1)[:, :k]


def _classical_unit(D: torch.Tensor, n_components: int) -> torch.Tensor:
    B = D * D  # double centring in place: B = -½ J D² J
    m = B.mean(0)
    B.sub_(m[None, :]).sub_(B.mean(1, keepdim=True)).mul_(-0.5)
    B = B.add_(B.T.clone()).mul_(0.5)
    evals, evecs = _top_eigh(B, n_components)
    # deterministic sign: largest-magnitude entry of each axis positive
    sign = torch.sign(evecs.gather(0, evecs.abs().argmax(0, keepdim=True)))
    return evecs * sign * evals.clamp_min(0).sqrt()


def _stress(D: torch.Tensor, Y: torch.Tensor) -> float:
    return float(((torch.cdist(Y, Y) - D) ** 2).sum() / 2)


def _pairwise_into(Y: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Euclidean distances of the rows of ``Y`` into ``out`` (``n × n``), through one GEMM like
    ``torch.cdist``'s matmul path, with no temporary of that size."""
    sq = (Y * Y).sum(1)
    torch.mm(Y, Y.T, out=out)
    out.mul_(-2.0).add_(sq[:, None]).add_(sq[None, :]).clamp_min_(0.0).sqrt_()
    return out.fill_diagonal_(0.0)


def _smacof(
    D: torch.Tensor, Y: torch.Tensor, max_iter: int, tol: float
) -> tuple[torch.Tensor, float, int]:
    n = D.shape[0]
    old = None
    it = 0
    dY, W = torch.empty_like(D), torch.empty_like(D)  # two n × n buffers for every iteration
    for it in range(1, max_iter + 1):  # noqa: B007
        _pairwise_into(Y, dY)
        s = float(torch.sub(dY, D, out=W).square_().sum()) / 2
        # Guttman transform Y <- B(Y) Y / n with B = diag(R 1) - R, R = D / d(Y) (0 where d = 0),
        # without forming B
        R = torch.div(D, dY, out=W)
        R.masked_fill_(dY <= 1e-12, 0.0).fill_diagonal_(0.0)
        Y = (R.sum(1, keepdim=True) * Y - R @ Y) / n
        if old is not None and old - s <= tol * max(old, 1e-300):
            break
        old = s
    return Y, _stress(D, Y), it


def classical_mds(D: Any, n_components: int = 2) -> Any:
    """Classical (Torgerson) MDS of a symmetric distance matrix.

    Parameters
    ----------
    D : array_like of shape (n, n)
        Distances (dense; MDS of all pairs is for small ``n`` — use landmarks beyond).
    n_components : int, default=2

    Returns
    -------
    Y : ndarray or Tensor of shape (n, n_components)
        Top eigenvectors of ``-½ J D² J`` scaled by the square roots of their eigenvalues.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> from repgeo.diffusion.mds import classical_mds
    >>> X = np.random.default_rng(0).normal(size=(20, 2))
    >>> Y = classical_mds(cdist(X, X), 2)
    >>> bool(np.allclose(cdist(Y, Y), cdist(X, X)))
    True
    """
    D = check_array(D, name="D", shape_hint="(n, n)")
    if D.shape[0] != D.shape[1]:
        raise ValueError(f"D must be a square distance matrix; got shape {tuple(D.shape)}.")
    n_components = check_positive_int(n_components, "n_components", max_val=D.shape[0])
    Dt, back = to_torch(D, dtype=torch.float64)
    return back(_classical(Dt, n_components))


def smacof(
    D: Any,
    n_components: int = 2,
    *,
    init: Any = None,
    max_iter: int = 300,
    tol: float = 1e-5,
    return_stress: bool = False,
) -> Any:
    """Metric MDS by SMACOF (Guttman transforms), initialised by classical MDS.

    Parameters
    ----------
    D : array_like of shape (n, n)
        Symmetric target distances.
    n_components : int, default=2
    init : array_like of shape (n, n_components), optional
        Starting configuration (default: classical MDS).
    max_iter : int, default=300
    tol : float, default=1e-5
        Stop when the relative decrease of the raw stress is below ``tol``.
    return_stress : bool, default=False
        Also return the final raw stress ``Σ_{i<j} (‖y_i - y_j‖ - D_ij)²``.

    Returns
    -------
    Y : ndarray or Tensor of shape (n, n_components)
    stress : float
        Only with ``return_stress=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import cdist
    >>> from repgeo.diffusion.mds import smacof
    >>> X = np.random.default_rng(0).normal(size=(30, 2))
    >>> Y, s = smacof(cdist(X, X), 2, return_stress=True)
    >>> bool(s < 1e-8)
    True
    """
    D = check_array(D, name="D", shape_hint="(n, n)")
    if D.shape[0] != D.shape[1]:
        raise ValueError(f"D must be a square distance matrix; got shape {tuple(D.shape)}.")
    n_components = check_positive_int(n_components, "n_components", max_val=D.shape[0])
    max_iter = check_positive_int(max_iter, "max_iter")
    tol = float(check_scalar(tol, "tol", min_val=0.0))
    Dt, back = to_torch(D, dtype=torch.float64)
    Dt = 0.5 * (Dt + Dt.T)
    if init is None:
        Y0 = _classical(Dt, n_components)
    else:
        Y0 = to_torch(check_array(init, name="init"), dtype=torch.float64, device=Dt.device)[0]
        if tuple(Y0.shape) != (Dt.shape[0], n_components):
            raise ValueError(
                f"init must have shape ({Dt.shape[0]}, {n_components}); got {tuple(Y0.shape)}."
            )
    Y, stress, _ = _smacof(Dt, Y0.clone(), max_iter, tol)
    return (back(Y), stress) if return_stress else back(Y)


def landmark_placement(D_lx: torch.Tensor, Y_l: torch.Tensor, *, n_iter: int = 50) -> torch.Tensor:
    """Place points given their distances to embedded landmarks.

    Initialises each point by the landmark-MDS triangulation of de Silva & Tenenbaum
    (``y = -½ Y_l⁺ (δ² - mean_l δ_l²)``) and refines it by stress majorisation against the fixed
    landmarks (``y ← mean_l [y_l + D_l (y - y_l)/‖y - y_l‖]``), chunked by the memory budget.

    Parameters
    ----------
    D_lx : Tensor of shape (m, n)
        Distances from the ``m`` landmarks to the ``n`` points.
    Y_l : Tensor of shape (m, c)
        Landmark coordinates.

    Returns
    -------
    Y : Tensor of shape (n, c)
    """
    m, n = D_lx.shape
    D_ll = torch.cdist(Y_l, Y_l)
    mean_sq = (D_ll**2).mean(1)  # landmark-MDS uses the embedded landmarks' own squared distances
    Yc = Y_l - Y_l.mean(0, keepdim=True)
    pinv = torch.linalg.pinv(Yc)  # (c, m)
    out = torch.empty(n, Y_l.shape[1], dtype=Y_l.dtype, device=Y_l.device)
    rows = chunk_rows(8.0 * m * 4, maximum=n)
    for sl in iter_chunks(n, rows):
        d = D_lx[:, sl].T  # (b, m)
        y = -0.5 * (d**2 - mean_sq) @ pinv.T + Y_l.mean(0)
        for _ in range(n_iter):
            diff = y[:, None, :] - Y_l[None, :, :]  # (b, m, c)
            nrm = diff.norm(dim=-1).clamp_min(1e-12)
            y = (Y_l[None] + d[..., None] * diff / nrm[..., None]).mean(1)
        out[sl] = y
    return out


def farthest_point_sampling(X: np.ndarray, m: int, *, random_state: Any = 0) -> np.ndarray:
    """Indices of ``m`` points chosen greedily farthest from those already chosen (first random)."""
    rng = check_random_state(random_state)
    n = X.shape[0]
    Xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))
    idx = np.empty(m, dtype=np.int64)
    idx[0] = int(rng.integers(n))
    dmin = ((Xt - Xt[idx[0]]) ** 2).sum(1)
    for j in range(1, m):
        idx[j] = int(torch.argmax(dmin))
        dmin = torch.minimum(dmin, ((Xt - Xt[idx[j]]) ** 2).sum(1))
    return idx
