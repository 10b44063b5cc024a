"""Infinite-width metric: closed forms vs quadrature vs Monte Carlo, and convergence of wide
random networks (statistical tolerances, seeded)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from repgeo.geometry import (
    finite_width_comparison,
    gaussian_curvature,
    infinite_width_curvature,
    infinite_width_log_volume,
    infinite_width_metric,
    kernel_F,
    pullback_metric,
    random_feature_map,
)


def test_closed_forms_agree_with_quadrature():
    s2 = np.array([0.05, 0.5, 1.0, 3.0])
    F, dF = kernel_F(s2, "erf")
    np.testing.assert_allclose(F, 2 / np.pi / np.sqrt(1 + 2 * s2), rtol=1e-14)
    Fq, dFq = kernel_F(s2, lambda z: torch.erf(z / math.sqrt(2)))
    np.testing.assert_allclose(Fq, F, rtol=1e-10)
    np.testing.assert_allclose(dFq, dF, rtol=1e-8)
    Fr, dFr = kernel_F(s2, torch.relu)
    np.testing.assert_allclose(Fr, 0.5, rtol=1e-12)
    np.testing.assert_allclose(dFr, 0.0, atol=1e-12)
    for p in (2, 3):  # arc-cosine kernel of degree p: F = (p²/2)(2p−3)!! s^{2(p−1)}
        Fa, dFa = kernel_F(s2, "arccos", degree=p)
        Fq, dFq = kernel_F(s2, lambda z, p=p: z.clamp_min(0) ** p, n_quad=300)
        np.testing.assert_allclose(Fq, Fa, rtol=1e-8)
        np.testing.assert_allclose(dFq, dFa, rtol=1e-7)
    np.testing.assert_allclose(kernel_F(s2, "arccos", degree=2)[0], 2 * s2, rtol=1e-14)


@pytest.mark.parametrize("activation", ["gelu", "sigmoid", "tanh", "softplus"])
def test_derivative_identity_matches_finite_difference(activation):
    s2 = np.array([0.3, 1.0, 2.5])
    _, dF = kernel_F(s2, activation)
    h = 1e-5
    fd = (kernel_F(s2 + h, activation)[0] - kernel_F(s2 - h, activation)[0]) / (2 * h)
    np.testing.assert_allclose(dF, fd, rtol=1e-6, atol=1e-10)


def test_gelu_quadrature_against_monte_carlo():
    rng = np.random.default_rng(0)
    s2 = 1.7
    z = torch.from_numpy(rng.normal(0, math.sqrt(s2), 400_000))
    zz = z.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.nn.functional.gelu(zz).sum(), zz)
    h = (g**2).numpy()
    mc, se = h.mean(), h.std() / math.sqrt(h.size)
    F, _ = kernel_F([s2], "gelu")
    assert abs(F[0] - mc) < 4 * se


def test_metric_structure_and_volume():
    X = np.array([[0.0, 0.0, 0.0], [0.5, -1.0, 2.0], [3.0, 0.0, 0.1]])
    for act in ("erf", "gelu", "relu"):
        g = infinite_width_metric(X, act, sigma_w=1.3, sigma_b=0.7)
        np.testing.assert_allclose(g, np.transpose(g, (0, 2, 1)), atol=1e-15)
        # eigenvalues: σ_w²F (d−1 times) and σ_w²F + 2σ_w⁴F′|x|² along x
        r2 = (X**2).sum(1)
        F, dF = kernel_F(1.3**2 * r2 + 0.7**2, act)
        A = 1.3**2 * F
        radial = A + 2 * 1.3**4 * dF * r2
        ev = np.sort(np.linalg.eigvalsh(g), 1)
        np.testing.assert_allclose(np.sort(np.column_stack([A, A, radial]), 1), ev, rtol=1e-10)
        lv = infinite_width_log_volume(X, act, sigma_w=1.3, sigma_b=0.7)
        np.testing.assert_allclose(lv, 0.5 * np.log10(np.linalg.det(g)), rtol=1e-10)
    np.testing.assert_allclose(
        infinite_width_metric(X, "relu", sigma_w=2.0), np.broadcast_to(2 * np.eye(3), (3, 3, 3))
    )


def test_wide_random_networks_converge_to_infinite_width():
    """Relative error of the metric shrinks like n^(-1/2) (width ×100 -> error ÷10)."""
    X = np.column_stack([np.linspace(0, 2.5, 9), np.linspace(0, -1, 9)])
    for act in ("erf", "gelu"):
        res = finite_width_comparison(X, act, widths=[100, 10_000], n_seeds=6, random_state=1)
        small, large = res["mean_rel_error"]
        assert large < 0.05
        assert 4 < small / large < 25
        # at width 10,000 the volume element is within a few percent of the closed form
        np.testing.assert_allclose(
            10 ** res["log_volume"][1].mean(0), 10 ** res["log_volume_inf"], rtol=0.05
        )


def test_expected_metric_is_exact_at_finite_width():
    """E[g_n] = g_∞ for every n: averaging many narrow networks gives the closed form."""
    X = np.array([[0.4, -0.3], [1.2, 0.8]])
    gs = np.stack(
        [pullback_metric(random_feature_map(2, 20, "erf", random_state=s), X) for s in range(300)]
    )
    mean, se = gs.mean(0), gs.std(0) / np.sqrt(len(gs))
    g_inf = infinite_width_metric(X, "erf")
    assert np.all(np.abs(mean - g_inf) < 4.5 * se + 1e-12)


def test_infinite_width_curvature_against_polar_formula_and_wide_network():
    """For ds² = E(r)dr² + G(r)dθ²: K = −(1/(2√(EG))) d/dr (G′/√(EG)) (finite differences)."""
    r = np.array([0.3, 0.8, 1.5])
    X = np.column_stack([r, np.zeros(3)])
    K = infinite_width_curvature(X, "erf")

    def EG(rr):
        F, dF = kernel_F(rr**2 + 1.0, "erf")
        return F + 2 * dF * rr**2, F * rr**2

    h = 1e-4

    def q(rr):
        E, G = EG(rr)
        Gp = (EG(rr + h)[1] - EG(rr - h)[1]) / (2 * h)
        return Gp / np.sqrt(E * G)

    E, G = EG(r)
    K_polar = -(q(r + h) - q(r - h)) / (2 * h) / (2 * np.sqrt(E * G))
    np.testing.assert_allclose(K, K_polar, rtol=1e-5)
    # a wide random network's curvature is close to it (one seeded network, statistical tolerance)
    K_net = gaussian_curvature(random_feature_map(2, 40_000, "erf", random_state=0), X)
    np.testing.assert_allclose(K_net, K, rtol=0.12)
    np.testing.assert_allclose(infinite_width_curvature(X, "relu"), 0.0, atol=1e-12)


def test_infinite_width_bad_input():
    with pytest.raises(ValueError, match="activation must be one of"):
        kernel_F([1.0], "swish-ish")
    with pytest.raises(TypeError, match="name or a callable"):
        kernel_F([1.0], 3)
    with pytest.raises(ValueError, match="degree must be >= 1"):
        kernel_F([1.0], "arccos", degree=0)
    with pytest.raises(ValueError, match="variances >= 0"):
        kernel_F([-1.0], "erf")
    with pytest.raises(ValueError, match="at least 1"):
        kernel_F([], "erf")
    with pytest.raises(ValueError, match="sigma_w must be >"):
        infinite_width_metric([[0.0, 1.0]], "erf", sigma_w=0.0)
    with pytest.raises(ValueError, match="NaN"):
        infinite_width_log_volume([[np.nan, 1.0]], "erf")
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        infinite_width_curvature([[0.0, 1.0, 2.0]], "erf")
    with pytest.raises(ValueError, match="n_quad must be <="):
        kernel_F([1.0], "gelu", n_quad=5000)
    with pytest.raises(ValueError, match="width must be >= 1"):
        random_feature_map(2, 0)
    with pytest.raises(ValueError, match="widths is empty"):
        finite_width_comparison([[0.0, 1.0]], "erf", widths=[])


def test_quadrature_resolves_large_variances():
    """Gauss–Hermite nodes spread over ±√(2 s² n_quad) and step over σ′'s unit-scale bump at
    large s² (with 200 nodes tanh's F was 58 % low at s² = 100, 0 beyond ~1000: -inf volumes).
    References: the erf closed form for σ(z) = erf(z/√2) through the quadrature path, and
    scipy's adaptive quadrature for tanh."""
    from scipy import integrate

    s2 = np.array([0.5, 3.0, 10.0, 30.0, 100.0, 1e3, 1e4, 1e6])
    F, dF = kernel_F(s2, "erf")
    Fq, dFq = kernel_F(s2, lambda z: torch.erf(z / math.sqrt(2)))
    np.testing.assert_allclose(Fq, F, rtol=1e-8)
    np.testing.assert_allclose(dFq, dF, rtol=1e-6)
    Ft, dFt = kernel_F(s2, "tanh")

    def expect(v, weight):
        def f(z):
            return (1 - np.tanh(z) ** 2) ** 2 * weight(z) * np.exp(-z * z / (2 * v))

        val = integrate.quad(f, -40, 40, points=[0.0], limit=400, epsabs=0, epsrel=1e-12)[0]
        return val / math.sqrt(2 * math.pi * v)

    F_ref = np.array([expect(v, lambda z: 1.0) for v in s2])
    dF_ref = np.array([expect(v, lambda z, v=v: (z * z / v - 1.0) / (2 * v)) for v in s2])
    np.testing.assert_allclose(Ft, F_ref, rtol=1e-7)
    np.testing.assert_allclose(dFt, dF_ref, rtol=1e-6, atol=1e-14 * np.abs(dF_ref).max())
    # the log volume at large |x| is finite, silent, and matches the erf closed form
    X = np.array([[30.0, 0.0], [0.0, 300.0], [1e3, 1e3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lv_q = infinite_width_log_volume(X, lambda z: torch.erf(z / math.sqrt(2)))
    np.testing.assert_allclose(lv_q, infinite_width_log_volume(X, "erf"), atol=1e-7)
