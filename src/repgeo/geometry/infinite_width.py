r"""The pullback metric of a random single-layer network at infinite width (kernel regime).

For features Φ_j(x) = σ(w_j·x + b_j), w_j ~ N(0, σ_w² I_d), b_j ~ N(0, σ_b²), the metric
g = JᵀJ/n converges as n → ∞ (law of large numbers; Stein's lemma) to

.. math:: g(x) = \sigma_w^2 F(s^2)\,I + 2\sigma_w^4 F'(s^2)\,x x^\top,
          \qquad s^2 = \sigma_w^2|x|^2 + \sigma_b^2,\quad F(s^2) = E_{z\sim N(0,s^2)}[\sigma'(z)^2],

and for every finite n, E[g] is exactly this. It depends on x only through |x|: eigenvalues
σ_w²F (d−1 times) and σ_w²F + 2σ_w⁴F′|x|². Closed forms:

* σ(z) = erf(z/√2): F(s²) = (2/π)(1 + 2s²)^{−1/2} — volume largest at the origin;
* ReLU: F = ½, F′ = 0 — flat, g = (σ_w²/2) I;
* arc-cosine of degree p (σ(z) = z^p Θ(z), Cho & Saul 2009), p >= 1:
  F(s²) = (p²/2)(2p−3)!! s^{2(p−1)};
* anything else (GELU, sigmoid, tanh, softplus, any elementwise torch callable): quadrature of
  F, and F′(v) = E[σ'(z)²(z²/v − 1)]/(2v) (differentiating the Gaussian density) — Gauss–Hermite
  while its nodes resolve σ′ (s² <= 0.009·n_quad), composite Gauss–Legendre panels beyond
  (Gauss–Hermite nodes spread over ±√(2 s² n_quad) and step over σ′'s unit-scale bump: with 200
  nodes, tanh's F was 0.1 % low at s² = 10, 8 % at 30, 58 % at 100 and 0 beyond ~1000).

References
----------
.. [1] J. A. Zavatone-Veth et al., arXiv:2301.11375 (2023), Sec. 3 (kernel regime).
.. [2] Y. Cho, L. K. Saul, "Kernel methods for deep learning", NeurIPS (2009).
.. [3] C. K. I. Williams, "Computing with infinite networks", NeurIPS (1997) (erf kernel).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import jvp

from .._backend import to_torch
from .._validation import (
    check_array,
    check_positive_int,
    check_random_state,
    check_scalar,
    torch_generator,
)
from ..features import FeatureMap
from ..models.layers import ACTIVATIONS, make_activation
from ._core import ArcCos, Elementwise
from .curvature import metric_curvature
from .metric import GeometryAccuracyWarning, pullback_metric

__all__ = [
    "finite_width_comparison",
    "infinite_width_curvature",
    "infinite_width_log_volume",
    "infinite_width_metric",
    "kernel_F",
    "random_feature_map",
]

CLOSED_FORMS = ("erf", "relu", "arccos")


def _double_factorial(k: int) -> int:
    return 1 if k <= 0 else k * _double_factorial(k - 2)


def _check_activation(
    activation: Any, degree: Any
) -> tuple[str, Callable[[torch.Tensor], torch.Tensor]]:
    """(kind, σ) where kind is "erf", "relu", "arccos" or "quadrature"."""
    if isinstance(activation, str):
        names = sorted({*ACTIVATIONS, "arccos"} - {"identity"})
        if activation not in names:
            raise ValueError(
                f"activation must be one of {names} or an elementwise torch callable; got {activation!r}."
            )
        if activation == "arccos":
            p = check_positive_int(degree, "degree")
            return "arccos", ArcCos(p)
        module = make_activation(activation)
        return (activation if activation in ("erf", "relu") else "quadrature"), module
    if callable(activation):
        return "quadrature", activation
    raise TypeError(f"activation must be a name or a callable; got {type(activation).__name__}.")


@functools.lru_cache(maxsize=8)
def _hermgauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Hermite nodes and weights (numpy's weights overflow beyond ~350 nodes)."""
    return np.polynomial.hermite.hermgauss(n)


def _sigma_prime(sigma: Callable[[torch.Tensor], torch.Tensor], z: torch.Tensor) -> torch.Tensor:
    return jvp(sigma, (z,), (torch.ones_like(z),))[1]


_GL = np.polynomial.legendre.leggauss(8)
_U_MAX = 8.5  # |u| = |z|/s beyond which the Gaussian weight (< 1e-16) is dropped
_Z_ACT = 20.0  # |z| within which σ' may vary (unit-scale activations)
_HERMITE_RESOLVES = 0.009  # Gauss–Hermite with n nodes resolves σ' for s² <= 0.009 n


def _panel_expectations(
    v: torch.Tensor, sigma: Callable[[torch.Tensor], torch.Tensor], weights: Callable
) -> torch.Tensor:
    """E_{u~N(0,1)}[σ'(√v u)² · weights(u)] by composite 8-point Gauss–Legendre on |u| <= 8.5:
    120 panels on |u| <= a = min(8.5, 20/√v) (so σ' is resolved at z-steps <= 1/3) and 40 on
    each of [a, 8.5], [−8.5, −a] (the Gaussian's own scale). Works under torch.func."""
    t = torch.as_tensor(_GL[0], dtype=v.dtype, device=v.device)
    w = torch.as_tensor(_GL[1], dtype=v.dtype, device=v.device)
    a = torch.clamp(_Z_ACT / torch.sqrt(v), max=_U_MAX).unsqueeze(-1)
    mid = torch.linspace(-1.0, 1.0, 121, dtype=v.dtype, device=v.device) * a
    out = a + (_U_MAX - a) * torch.linspace(0.0, 1.0, 41, dtype=v.dtype, device=v.device)
    edges = torch.cat([-out.flip(-1)[..., :-1], mid, out[..., 1:]], -1)
    lo, hi = edges[..., :-1], edges[..., 1:]
    half = (0.5 * (hi - lo)).unsqueeze(-1)
    u = (0.5 * (hi + lo)).unsqueeze(-1) + half * t
    wt = half * w * torch.exp(-0.5 * u * u) / math.sqrt(2.0 * math.pi)
    u = u.flatten(-2)
    wt = wt.flatten(-2)
    h = _sigma_prime(sigma, torch.sqrt(v).unsqueeze(-1) * u).square()
    return (wt * h * weights(u)).sum(-1)


def _F_torch(
    v: torch.Tensor,
    kind: str,
    sigma: Callable[[torch.Tensor], torch.Tensor],
    degree: int,
    n_quad: int,
    radial_r2: torch.Tensor | None = None,
) -> tuple[torch.Tensor, ...]:
    """F(v) and F'(v) for a tensor of variances v (torch ops, differentiable in v).

    With ``radial_r2`` (= σ_w²|x|²) also F + 2 σ_w²|x|² F′, the radial eigenvalue over σ_w²,
    for the quadrature path as E[σ'(z)²(σ_b²/v + (σ_w²|x|²/v)(z²/v))] — a sum of nonnegative
    terms, free of the cancellation of F + 2σ_w²|x|²F′ at large |x|.
    """
    if radial_r2 is not None:
        F, dF = _F_torch(v, kind, sigma, degree, n_quad)
        if kind != "quadrature":
            return F, dF, F + 2.0 * radial_r2 * dF
        vv = v.clamp_min(1e-8)
        c = (radial_r2 / vv).unsqueeze(-1)
        b = ((v - radial_r2).clamp_min(0.0) / vv).unsqueeze(-1)  # σ_b²/v
        t, wh = _hermgauss(n_quad)
        tt = torch.as_tensor(t, dtype=v.dtype, device=v.device)
        ww = torch.as_tensor(wh / math.sqrt(math.pi), dtype=v.dtype, device=v.device)
        hh = _sigma_prime(sigma, torch.sqrt(2.0 * vv).unsqueeze(-1) * tt).square()
        R_h = (ww * hh * (b + c * 2.0 * tt.square())).sum(-1)
        R_p = _panel_expectations(vv, sigma, lambda u: b + c * u * u)
        return F, dF, torch.where(v <= _HERMITE_RESOLVES * n_quad, R_h, R_p)
    if kind == "erf":
        F = (2.0 / math.pi) * (1.0 + 2.0 * v) ** -0.5
        return F, -(2.0 / math.pi) * (1.0 + 2.0 * v) ** -1.5
    if kind == "relu":
        return torch.full_like(v, 0.5), torch.zeros_like(v)
    if kind == "arccos":
        p = degree
        c = 0.5 * p * p * _double_factorial(2 * p - 3)
        F = c * v ** (p - 1) if p > 1 else torch.full_like(v, c)
        dF = c * (p - 1) * v ** (p - 2) if p > 1 else torch.zeros_like(v)
        return F, dF
    t, w = _hermgauss(n_quad)
    tt = torch.as_tensor(t, dtype=v.dtype, device=v.device)
    ww = torch.as_tensor(w / math.sqrt(math.pi), dtype=v.dtype, device=v.device)
    vv = v.clamp_min(1e-8).unsqueeze(-1)
    h = _sigma_prime(sigma, torch.sqrt(2.0 * vv) * tt).square()
    F = (ww * h).sum(-1)
    dF = (ww * h * (2.0 * tt.square() - 1.0)).sum(-1) / (2.0 * vv.squeeze(-1))
    v1 = vv.squeeze(-1)
    F_p = _panel_expectations(v1, sigma, lambda u: torch.ones_like(u))
    dF_p = _panel_expectations(v1, sigma, lambda u: u * u - 1.0) / (2.0 * v1)
    hermite = v <= _HERMITE_RESOLVES * n_quad
    return torch.where(hermite, F, F_p), torch.where(hermite, dF, dF_p)


def _as_numpy(
    x: Any, name: str, ndim: int | None, hint: str, allow_nan: bool = False
) -> np.ndarray:
    arr = check_array(x, name=name, ndim=ndim, shape_hint=hint, allow_nan=allow_nan)
    arr = arr.detach().cpu().numpy() if isinstance(arr, torch.Tensor) else np.asarray(arr)
    return arr.astype(np.float64)


def _check_common(sigma_w: Any, sigma_b: Any, n_quad: Any) -> tuple[float, float, int]:
    sw = float(check_scalar(sigma_w, "sigma_w", min_val=0.0, include_min=False))
    sb = float(check_scalar(sigma_b, "sigma_b", min_val=0.0))
    nq = check_positive_int(n_quad, "n_quad", min_val=8, max_val=340)
    return sw, sb, nq


def kernel_F(
    s2: Any, activation: Any = "erf", *, degree: int = 1, n_quad: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """F(s²) = E_{z~N(0,s²)}[σ'(z)²] and its derivative F′(s²).

    Parameters
    ----------
    s2 : array_like of variances s² >= 0 (any shape)
    activation : str or callable, default="erf"
        ``"erf"`` (σ(z) = erf(z/√2)), ``"relu"``, ``"arccos"`` (closed forms), any other name of
        :data:`repgeo.models.ACTIVATIONS`, or an elementwise torch callable (quadrature).
    degree : int, default=1
        Degree p of the arc-cosine activation z^p Θ(z).
    n_quad : int, default=200
        Gauss–Hermite nodes (8 to 340), used for s² <= 0.009·n_quad where they resolve σ′;
        larger variances use composite Gauss–Legendre panels (see the module docstring).

    Returns
    -------
    F, dF : ndarray, float64, shaped like ``s2``

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import kernel_F
    >>> F, dF = kernel_F([0.0, 1.0], "erf")
    >>> (F * np.pi / 2).round(6).tolist()     # (1 + 2 s²)^(-1/2)
    [1.0, 0.57735]
    >>> F_q, _ = kernel_F([1.0], lambda z: torch.erf(z / 2**0.5))   # quadrature agrees
    >>> bool(np.isclose(F_q[0], F[1]))
    True
    """
    kind, sigma = _check_activation(activation, degree)
    _, _, nq = _check_common(1.0, 0.0, n_quad)
    s = _as_numpy(s2, "s2", None, "(...)", allow_nan=True)
    if not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError("s2 must hold finite variances >= 0.")
    v = torch.as_tensor(s, dtype=torch.float64)
    F, dF = _F_torch(v, kind, sigma, degree, nq)
    return F.detach().numpy(), dF.detach().numpy()


def _metric_torch(
    x: torch.Tensor, kind: str, sigma: Callable, degree: int, sw: float, sb: float, nq: int
) -> torch.Tensor:
    """g(x) for x of shape (..., d)."""
    r2 = (x * x).sum(-1)
    F, dF = _F_torch(sw**2 * r2 + sb**2, kind, sigma, degree, nq)
    d = x.shape[-1]
    eye = torch.eye(d, dtype=x.dtype, device=x.device)
    A = (sw**2 * F)[..., None, None]
    B = (2.0 * sw**4 * dF)[..., None, None]
    return A * eye + B * x[..., :, None] * x[..., None, :]


def infinite_width_metric(
    X: Any,
    activation: Any = "erf",
    *,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    degree: int = 1,
    n_quad: int = 200,
) -> Any:
    """g(x) = σ_w² F(s²) I + 2 σ_w⁴ F′(s²) x xᵀ, the infinite-width pullback metric (1/n normalised).

    Parameters
    ----------
    X : array_like or Tensor of shape (m, d)
    activation, degree, n_quad
        See :func:`kernel_F`.
    sigma_w : float, default=1.0
        Standard deviation of the input weights.
    sigma_b : float, default=1.0
        Standard deviation of the biases.

    Returns
    -------
    g : ndarray or Tensor of shape (m, d, d), computed in float64

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import infinite_width_metric
    >>> np.round(infinite_width_metric([[0.3, -2.0]], "relu", sigma_w=2.0), 6)   # flat: (σ_w²/2) I
    array([[[2., 0.],
            [0., 2.]]])
    """
    kind, sigma = _check_activation(activation, degree)
    sw, sb, nq = _check_common(sigma_w, sigma_b, n_quad)
    X = check_array(X, name="X", ndim=2, shape_hint="(m, d)")
    Xt, back = to_torch(X)
    return back(_metric_torch(Xt.to(torch.float64), kind, sigma, degree, sw, sb, nq))


def infinite_width_log_volume(
    X: Any,
    activation: Any = "erf",
    *,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    degree: int = 1,
    n_quad: int = 200,
) -> Any:
    """log10 √det g(x) at infinite width: ½[(d−1) log10 A + log10(A + B|x|²)],
    A = σ_w²F(s²), B = 2σ_w⁴F′(s²).

    Parameters
    ----------
    X : array_like or Tensor of shape (m, d)
    activation, sigma_w, sigma_b, degree, n_quad
        See :func:`infinite_width_metric`.

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import infinite_width_log_volume
    >>> v = infinite_width_log_volume([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]], "erf")
    >>> bool(v[0] > v[1] > v[2])      # erf: volume largest at the origin
    True
    """
    kind, sigma = _check_activation(activation, degree)
    sw, sb, nq = _check_common(sigma_w, sigma_b, n_quad)
    X = check_array(X, name="X", ndim=2, shape_hint="(m, d)")
    Xt, back = to_torch(X)
    x = Xt.to(torch.float64)
    r2 = (x * x).sum(-1)
    F, _, R = _F_torch(sw**2 * r2 + sb**2, kind, sigma, degree, nq, radial_r2=sw**2 * r2)
    A = sw**2 * F
    radial = sw**2 * R
    d = x.shape[1]
    out = 0.5 * ((d - 1) * torch.log10(A) + torch.log10(radial))
    bad = ~torch.isfinite(out)
    if bool(bad.any()):
        warnings.warn(
            f"infinite_width_log_volume: the infinite-width metric is singular at "
            f"{int(bad.sum())} of {out.numel()} points (F(s²) = E[σ'(z)²] = 0 there, e.g. "
            "arc-cosine activations of degree >= 2 at s² = σ_w²|x|² + σ_b² = 0), so the log "
            "volume is -inf there.",
            GeometryAccuracyWarning,
            stacklevel=2,
        )
    return back(out)


def infinite_width_curvature(
    X: Any,
    activation: Any = "erf",
    *,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    degree: int = 1,
    n_quad: int = 200,
) -> Any:
    """Gaussian curvature K of the infinite-width metric for 2-D inputs (R = 2K).

    Parameters
    ----------
    X : array_like or Tensor of shape (m, 2)
    activation, sigma_w, sigma_b, degree, n_quad
        See :func:`infinite_width_metric`.

    Returns
    -------
    K : ndarray or Tensor of shape (m,)

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import infinite_width_curvature
    >>> np.round(infinite_width_curvature([[0.5, 0.5]], "relu"), 12)   # flat
    array([0.])
    """
    kind, sigma = _check_activation(activation, degree)
    sw, sb, nq = _check_common(sigma_w, sigma_b, n_quad)
    X = check_array(X, name="X", ndim=2, shape_hint="(m, 2)")
    if X.shape[1] != 2:
        raise ValueError(
            f"curvature needs 2-D inputs: X must have shape (m, 2); got {tuple(X.shape)}."
        )
    return metric_curvature(lambda u: _metric_torch(u, kind, sigma, degree, sw, sb, nq), X)


def random_feature_map(
    d: int,
    width: int,
    activation: Any = "erf",
    *,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    degree: int = 1,
    random_state: Any = 0,
    dtype: torch.dtype = torch.float64,
) -> FeatureMap:
    """A random single-layer feature map Φ_j(x) = σ(w_j·x + b_j) with Gaussian weights.

    Parameters
    ----------
    d : int
        Input dimension.
    width : int
        Number of features n.
    activation, degree
        See :func:`kernel_F`.
    sigma_w, sigma_b : float
        Standard deviations of weights and biases.
    random_state : int, Generator or None
    dtype : torch.dtype, default=torch.float64

    Returns
    -------
    FeatureMap
        Of an ``nn.Sequential(Linear, activation)`` (the structure-aware path applies).

    Examples
    --------
    >>> from repgeo.geometry import random_feature_map
    >>> phi = random_feature_map(2, 100, "relu", random_state=0)
    >>> phi.n_features(2)
    100
    """
    d = check_positive_int(d, "d")
    width = check_positive_int(width, "width")
    _, sigma = _check_activation(activation, degree)
    sw, sb, _ = _check_common(sigma_w, sigma_b, 200)
    g = torch_generator(check_random_state(random_state))
    lin = nn.Linear(d, width).to(dtype)
    with torch.no_grad():
        lin.weight.normal_(0.0, sw, generator=g)
        lin.bias.normal_(0.0, 1.0, generator=g).mul_(sb)
    act = sigma if isinstance(sigma, nn.Module) else Elementwise(sigma)
    return FeatureMap(nn.Sequential(lin, act))


def finite_width_comparison(
    X: Any,
    activation: Any = "erf",
    widths: Any = (64, 256, 1024, 4096),
    *,
    n_seeds: int = 8,
    sigma_w: float = 1.0,
    sigma_b: float = 1.0,
    degree: int = 1,
    n_quad: int = 200,
    random_state: Any = 0,
) -> dict[str, Any]:
    """Random networks of growing width against the infinite-width metric.

    For each width and each of ``n_seeds`` random networks, the relative error
    ‖g_n(x) − g_∞(x)‖_F / ‖g_∞(x)‖_F at every point; it shrinks like n^{−1/2}.

    Parameters
    ----------
    X : array_like of shape (m, d)
    activation, degree, n_quad, sigma_w, sigma_b
        See :func:`infinite_width_metric`.
    widths : sequence of int
    n_seeds : int, default=8
    random_state : int, Generator or None

    Returns
    -------
    result : dict
        ``widths`` (list), ``log_volume_inf`` (m,), ``log_volume`` (n_widths, n_seeds, m),
        ``rel_error`` (n_widths, n_seeds, m), ``max_rel_error`` (n_widths,: mean over networks
        of the largest error over the points) and ``mean_rel_error`` (n_widths,).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import finite_width_comparison
    >>> X = np.column_stack([np.linspace(0, 2, 5), np.zeros(5)])
    >>> res = finite_width_comparison(X, "erf", widths=[100, 10000], n_seeds=2)
    >>> bool(res["max_rel_error"][1] < res["max_rel_error"][0])
    True
    """
    X = _as_numpy(X, "X", 2, "(m, d)")
    kind, _ = _check_activation(activation, degree)
    _check_common(sigma_w, sigma_b, n_quad)
    ws = [check_positive_int(w, "widths[i]") for w in np.atleast_1d(np.asarray(widths)).tolist()]
    if not ws:
        raise ValueError("widths is empty; expected at least one width.")
    n_seeds = check_positive_int(n_seeds, "n_seeds")
    rng = check_random_state(random_state)
    g_inf = infinite_width_metric(
        X, activation, sigma_w=sigma_w, sigma_b=sigma_b, degree=degree, n_quad=n_quad
    )
    lv_inf = infinite_width_log_volume(
        X, activation, sigma_w=sigma_w, sigma_b=sigma_b, degree=degree, n_quad=n_quad
    )
    norm_inf = np.linalg.norm(g_inf, axis=(1, 2))
    m, d = X.shape
    rel = np.empty((len(ws), n_seeds, m))
    lv = np.empty((len(ws), n_seeds, m))
    for i, w in enumerate(ws):
        for s in range(n_seeds):
            phi = random_feature_map(
                d, w, activation, sigma_w=sigma_w, sigma_b=sigma_b, degree=degree, random_state=rng
            )
            g = pullback_metric(phi, X)
            rel[i, s] = np.linalg.norm(g - g_inf, axis=(1, 2)) / norm_inf
            sign, logdet = np.linalg.slogdet(g)
            lv[i, s] = np.where(sign > 0, logdet / (2 * np.log(10.0)), -np.inf)
    return {
        "widths": ws,
        "activation": activation if isinstance(activation, str) else kind,
        "log_volume_inf": lv_inf,
        "log_volume": lv,
        "rel_error": rel,
        "max_rel_error": rel.max(axis=2).mean(axis=1),
        "mean_rel_error": rel.mean(axis=(1, 2)),
    }
