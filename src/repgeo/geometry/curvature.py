r"""Gaussian and scalar curvature of 2-D pullback metrics (2-D inputs or 2-D slices).

For a 2-D metric the Gaussian curvature K determines the Riemann tensor, and the scalar
curvature in the standard convention is R = 2K (the round sphere of radius r has K = 1/r²,
R = 2/r²; the Poincaré disk has K = −1, R = −2; any flat metric has R = 0).

Two independent routes are provided:

* :func:`gaussian_curvature` — for a feature map, by the **Gauss equation** of the immersed
  surface u ↦ Φ(x₀ + E u) ⊂ ℝⁿ: with first derivatives f_a = J e_a, second derivatives
  f_ab = ∂_a∂_bΦ and N the projection onto the normal space,

  .. math:: K = n\,\frac{\langle N f_{11}, N f_{22}\rangle - |N f_{12}|^2}{\det(F^\top F)},
            \quad F = [f_1, f_2],

  where the factor n undoes the 1/n of g = JᵀJ/n (K scales as 1/c when g → c g). It needs
  only first and second derivatives of the network (nested forward-mode JVPs, batched), never
  derivatives of the metric itself.
* :func:`metric_curvature` — for any metric given as a function u ↦ g(u) (2×2), by the
  **Brioschi formula** in E, F, G and their first and second derivatives (``torch.func``).

Both compute in float64. The authors' public code for single-hidden-layer networks carries a
coefficient −3 where −1 is right, i.e. three times the standard curvature; nothing here does.

References
----------
.. [1] M. P. do Carmo, *Differential Geometry of Curves and Surfaces*, §4-3 (Gauss formula,
   Brioschi), Prentice-Hall (1976).
.. [2] J. A. Zavatone-Veth et al., arXiv:2301.11375 (2023), Appendix on curvature.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch.func import jacfwd, jvp, vmap

from .._backend import iter_chunks, to_torch
from .._validation import check_array, check_positive_int
from ._core import batch_rows
from .metric import GeometryAccuracyWarning, _check_basis, _check_bool, setup

__all__ = ["gaussian_curvature", "metric_curvature", "scalar_curvature"]


def _warn_undefined(K: torch.Tensor, name: str) -> None:
    """K is undefined (NaN/inf) where det g = 0: say so instead of returning NaN silently."""
    bad = ~torch.isfinite(K)
    if bool(bad.any()):
        warnings.warn(
            f"{name}: the curvature is undefined (NaN or inf) at {int(bad.sum())} of {K.numel()} "
            "points, where the 2-D metric is degenerate (det g = 0: the map does not vary along "
            "the plane there, e.g. dead ReLUs or saturated activations, or the basis columns are "
            "parallel).",
            GeometryAccuracyWarning,
            stacklevel=3,
        )


def _derivatives(f: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, E: torch.Tensor):
    """f_1, f_2, f_11, f_22, f_12, each (b, n), along the columns of E (d, 2)."""
    e1 = E[:, 0].expand_as(X)
    e2 = E[:, 1].expand_as(X)
    EA = torch.stack([e1, e2, e1])
    EB = torch.stack([e1, e2, e2])

    def second(ea: torch.Tensor, eb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return jvp(lambda x: jvp(f, (x,), (ea,))[1], (X,), (eb,))

    first, sec = vmap(second)(EA, EB)  # (3, b, n): first = f_a (a of pair), sec = f_ab
    return first[0], first[1], sec[0], sec[1], sec[2]


def _gauss_equation(f1, f2, f11, f22, f12) -> torch.Tensor:
    """K of the induced metric ⟨·,·⟩ of an immersed surface (no 1/n)."""
    E = (f1 * f1).sum(-1)
    F = (f1 * f2).sum(-1)
    G = (f2 * f2).sum(-1)
    det = E * G - F * F

    def proj(v: torch.Tensor) -> torch.Tensor:  # Fᵀ v
        return torch.stack([(f1 * v).sum(-1), (f2 * v).sum(-1)], -1)

    p11, p22, p12 = proj(f11), proj(f22), proj(f12)

    def tangential(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:  # pᵀ (FᵀF)⁻¹ q
        return (
            G * p[..., 0] * q[..., 0]
            - F * (p[..., 0] * q[..., 1] + p[..., 1] * q[..., 0])
            + E * p[..., 1] * q[..., 1]
        ) / det

    num = (f11 * f22).sum(-1) - tangential(p11, p22) - ((f12 * f12).sum(-1) - tangential(p12, p12))
    return num / det


def gaussian_curvature(
    fmap: Any,
    X: Any,
    *,
    basis: Any = None,
    normalize: bool = True,
    batch_size: int | None = None,
) -> Any:
    """Gaussian curvature K of the pullback metric on a 2-D input space or a 2-D slice.

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
        Φ: (batch, d) -> (batch, n); evaluated in float64 (a float64 copy of the model).
    X : array_like or Tensor of shape (m, d)
        Points.
    basis : array_like of shape (d, 2), optional
        The slice directions E (e.g. :attr:`Plane.basis`); required unless d = 2 (then the
        identity). The curvature of the slice metric G(u) = (JE)ᵀ(JE)/n does not depend on the
        parametrisation of the plane: any basis of the same plane gives the same K.
    normalize : bool, default=True
        Metric g = JᵀJ/n (``False``: JᵀJ, whose curvature is K/n).
    batch_size : int, optional

    Returns
    -------
    K : ndarray or Tensor of shape (m,)
        ``nan`` where the metric is degenerate (with a :class:`GeometryAccuracyWarning`).

    See Also
    --------
    scalar_curvature : R = 2K.
    metric_curvature : K of any metric given as a function (Brioschi formula).

    Examples
    --------
    The unit sphere's upper hemisphere as a graph over the disk has K = 1 (R = 2):

    >>> import numpy as np, torch
    >>> from repgeo.geometry import gaussian_curvature
    >>> def sphere(u):   # R² -> R³, normalize=False so that g is the induced metric
    ...     return torch.cat([u, torch.sqrt(1 - (u**2).sum(1, keepdim=True))], 1)
    >>> np.round(gaussian_curvature(sphere, [[0.1, 0.2], [0.3, -0.4]], normalize=False), 8)
    array([1., 1.])
    """
    _check_bool(normalize, "normalize")
    prep, Xt, back, d, n = setup(fmap, X, dtype=torch.float64, batch_size=batch_size)
    if basis is None:
        if d != 2:
            raise ValueError(
                f"curvature needs 2-D inputs or a 2-D slice: pass basis of shape (d, 2); got d={d}."
            )
        E = torch.eye(2, dtype=torch.float64, device=Xt.device)
    else:
        E = _check_basis(basis, d, k=2).to(device=Xt.device, dtype=torch.float64)
    rows = batch_rows(8.0 * 12 * prep.activation_numel(d) + 8.0 * 6 * d, batch_size)
    out = torch.empty(Xt.shape[0], dtype=torch.float64, device=Xt.device)
    with torch.no_grad():  # differentiate w.r.t. inputs only
        for sl in iter_chunks(Xt.shape[0], rows):
            K = _gauss_equation(*_derivatives(prep.f, Xt[sl], E))
            out[sl] = K * n if normalize else K
    _warn_undefined(out, "gaussian_curvature")
    return back(out)


def scalar_curvature(fmap: Any, X: Any, **kwargs: Any) -> Any:
    """Scalar curvature R = 2K of the pullback metric (standard convention).

    Takes the arguments of :func:`gaussian_curvature`.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import scalar_curvature
    >>> flat = lambda u: torch.cat([u, u.sum(1, keepdim=True)], 1)   # a plane in R³
    >>> np.round(scalar_curvature(flat, [[0.5, 1.0]]), 12)
    array([0.])
    """
    K = gaussian_curvature(fmap, X, **kwargs)
    return 2 * K


def _brioschi(metric: Callable[[torch.Tensor], torch.Tensor], u: torch.Tensor) -> torch.Tensor:
    g = metric(u)
    dg = jacfwd(metric)(u)  # (2, 2, 2): [i, j, a] = ∂_a g_ij
    ddg = jacfwd(jacfwd(metric))(u)  # (2, 2, 2, 2)
    E, F, G = g[0, 0], g[0, 1], g[1, 1]
    E_u, E_v = dg[0, 0, 0], dg[0, 0, 1]
    F_u, F_v = dg[0, 1, 0], dg[0, 1, 1]
    G_u, G_v = dg[1, 1, 0], dg[1, 1, 1]
    E_vv, F_uv, G_uu = ddg[0, 0, 1, 1], ddg[0, 1, 0, 1], ddg[1, 1, 0, 0]
    M1 = torch.stack(
        [
            torch.stack([-E_vv / 2 + F_uv - G_uu / 2, E_u / 2, F_u - E_v / 2]),
            torch.stack([F_v - G_u / 2, E, F]),
            torch.stack([G_v / 2, F, G]),
        ]
    )
    zero = torch.zeros_like(E)
    M2 = torch.stack(
        [
            torch.stack([zero, E_v / 2, G_u / 2]),
            torch.stack([E_v / 2, E, F]),
            torch.stack([G_u / 2, F, G]),
        ]
    )
    return (torch.linalg.det(M1) - torch.linalg.det(M2)) / (E * G - F * F) ** 2


def metric_curvature(metric: Callable[[Any], Any], U: Any, *, batch_size: int | None = None) -> Any:
    """Gaussian curvature of a 2-D metric given as a function, by the Brioschi formula.

    Parameters
    ----------
    metric : callable
        ``u -> g(u)``: a torch function from a float64 tensor of shape (2,) to a symmetric
        (2, 2) tensor, differentiable twice (``torch.func`` is used: no in-place ops, no
        ``.item()``).
    U : array_like or Tensor of shape (m, 2)
        Coordinates.
    batch_size : int, optional

    Returns
    -------
    K : ndarray or Tensor of shape (m,)  (R = 2K)

    Examples
    --------
    The Poincaré disk, g = 4 I / (1 − |u|²)², has K = −1 everywhere:

    >>> import numpy as np, torch
    >>> from repgeo.geometry import metric_curvature
    >>> disk = lambda u: 4 * torch.eye(2, dtype=u.dtype) / (1 - (u**2).sum()) ** 2
    >>> np.round(metric_curvature(disk, [[0.0, 0.0], [0.3, 0.5]]), 8)
    array([-1., -1.])
    """
    if not callable(metric):
        raise TypeError(f"metric must be a callable u -> g(u); got {type(metric).__name__}.")
    U = check_array(U, name="U", ndim=2, shape_hint="(m, 2)")
    if U.shape[1] != 2:
        raise ValueError(
            f"U must have shape (m, 2) (curvature of 2-D metrics); got {tuple(U.shape)}."
        )
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
    Ut, back = to_torch(U)
    Ut = Ut.to(torch.float64)
    try:
        g0 = metric(Ut[0])
    except Exception as exc:
        raise ValueError(
            f"metric could not be evaluated on a coordinate of shape (2,): {exc}"
        ) from exc
    if not isinstance(g0, torch.Tensor) or tuple(g0.shape) != (2, 2):
        shape = tuple(g0.shape) if isinstance(g0, torch.Tensor) else type(g0).__name__
        raise ValueError(f"metric must return a (2, 2) tensor; got {shape}.")
    rows = batch_rows(8.0 * 64, batch_size)
    out = torch.empty(Ut.shape[0], dtype=torch.float64, device=Ut.device)
    fn = vmap(lambda u: _brioschi(metric, u))
    with torch.no_grad():  # differentiate w.r.t. inputs only
        for sl in iter_chunks(Ut.shape[0], rows):
            out[sl] = fn(Ut[sl])
    _warn_undefined(out, "metric_curvature")
    return back(out)
