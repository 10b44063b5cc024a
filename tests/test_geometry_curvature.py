"""Curvature: metrics with known curvature, embedded surfaces, and two independent routes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repgeo.features import FeatureMap
from repgeo.geometry import gaussian_curvature, metric_curvature, scalar_curvature
from repgeo.models import MLP


@pytest.mark.parametrize("radius", [0.5, 1.0, 3.0])
def test_round_sphere_scalar_curvature_is_2_over_r2(radius, rng):
    def spherical(u):  # (θ, φ) -> diag(r², r² sin²θ)
        return torch.diag(torch.stack([radius**2 + 0 * u[0], radius**2 * torch.sin(u[0]) ** 2]))

    def stereographic(u):
        return 4 * radius**4 / (radius**2 + (u**2).sum()) ** 2 * torch.eye(2, dtype=u.dtype)

    U = np.column_stack([rng.uniform(0.3, 2.8, 6), rng.uniform(-3, 3, 6)])
    np.testing.assert_allclose(2 * metric_curvature(spherical, U), 2 / radius**2, rtol=1e-9)
    np.testing.assert_allclose(2 * metric_curvature(stereographic, U), 2 / radius**2, rtol=1e-9)


def test_poincare_disk_and_flat_metrics(rng):
    disk = lambda u: 4 * torch.eye(2, dtype=u.dtype) / (1 - (u**2).sum()) ** 2  # noqa: E731
    U = rng.uniform(-0.6, 0.6, size=(8, 2))
    np.testing.assert_allclose(2 * metric_curvature(disk, U), -2.0, rtol=1e-9)

    polar = lambda u: torch.diag(torch.stack([1 + 0 * u[0], u[0] ** 2]))  # noqa: E731  (ρ, θ)
    P = np.column_stack([rng.uniform(0.2, 3, 8), rng.uniform(0, 6, 8)])
    np.testing.assert_allclose(metric_curvature(polar, P), 0.0, atol=1e-12)

    def curvilinear(u):  # Euclidean metric in the coordinates of a nonlinear diffeomorphism
        J = torch.func.jacfwd(
            lambda v: torch.stack([v[0] + 0.3 * torch.sin(v[1]), v[1] + 0.2 * v[0] ** 3])
        )(u)
        return J.T @ J

    np.testing.assert_allclose(metric_curvature(curvilinear, U), 0.0, atol=1e-10)


def test_embedded_surfaces_by_gauss_equation(rng):
    """Sphere graph (K = 1/r²) and torus (K = cos θ / (r (R + r cos θ))) as maps R² → R³."""
    r = 2.0

    def sphere(u):
        return torch.cat([u, torch.sqrt(r**2 - (u**2).sum(1, keepdim=True))], 1)

    U = rng.uniform(-1, 1, size=(10, 2))
    np.testing.assert_allclose(gaussian_curvature(sphere, U, normalize=False), 1 / r**2, rtol=1e-9)
    # with the 1/n normalisation (n = 3) the metric is g/3, so K is 3×
    np.testing.assert_allclose(gaussian_curvature(sphere, U), 3 / r**2, rtol=1e-9)

    R0, r0 = 3.0, 1.0

    def torus(u):
        th, ph = u[:, 0], u[:, 1]
        return torch.stack(
            [
                (R0 + r0 * torch.cos(th)) * torch.cos(ph),
                (R0 + r0 * torch.cos(th)) * torch.sin(ph),
                r0 * torch.sin(th),
            ],
            1,
        )

    T = np.column_stack([rng.uniform(0, 2 * np.pi, 10), rng.uniform(0, 2 * np.pi, 10)])
    expected = np.cos(T[:, 0]) / (r0 * (R0 + r0 * np.cos(T[:, 0])))
    np.testing.assert_allclose(
        gaussian_curvature(torus, T, normalize=False), expected, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        scalar_curvature(torus, T, normalize=False), 2 * expected, rtol=1e-9, atol=1e-12
    )


def test_network_curvature_two_independent_routes(rng):
    """Gauss equation (2nd derivatives of Φ) vs Brioschi on the autograd metric (3rd derivatives)."""
    net = MLP([2, 25, 2], activation="sigmoid", init="paper", seed=0)  # float32 model
    fm = FeatureMap(net, "act1")
    U = rng.uniform(-1.5, 1.5, size=(12, 2))
    K_gauss = gaussian_curvature(fm, U)
    fm64 = FeatureMap(MLP([2, 25, 2], activation="sigmoid", init="paper", seed=0).double(), "act1")

    def metric(u):
        J = torch.func.jacfwd(fm64.single)(u)
        return J.T @ J / 25

    K_brioschi = metric_curvature(metric, U)
    np.testing.assert_allclose(K_gauss, K_brioschi, rtol=1e-7, atol=1e-10)
    assert np.ptp(K_gauss) > 1e-3  # a non-trivial (non-constant) curvature field


def test_slice_curvature_is_basis_independent_and_flat_for_immersions_in_r2(rng):
    fm = FeatureMap(MLP([6, 40, 3], activation="tanh", seed=1).double(), "act1")
    X = rng.normal(size=(5, 6))
    E = rng.normal(size=(6, 2))
    A = np.array([[1.5, -0.4], [0.8, 2.0]])
    np.testing.assert_allclose(
        gaussian_curvature(fm, X, basis=E @ A), gaussian_curvature(fm, X, basis=E), rtol=1e-8
    )
    # a 2-D feature map of a 2-D input is a local isometry onto a plane: K = 0
    flat = FeatureMap(MLP([2, 2], activation="tanh", seed=2).double())
    np.testing.assert_allclose(gaussian_curvature(flat, rng.normal(size=(5, 2))), 0.0, atol=1e-10)


def test_curvature_bad_input():
    fm = FeatureMap(MLP([3, 8, 2], seed=0), "act1")
    with pytest.raises(ValueError, match="basis of shape"):
        gaussian_curvature(fm, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        gaussian_curvature(fm, np.array([[0.0, np.nan, 0.0]]), basis=np.eye(3)[:, :2])
    with pytest.raises(ValueError, match="at least 1 sample"):
        gaussian_curvature(fm, np.zeros((0, 3)), basis=np.eye(3)[:, :2])
    disk = lambda u: torch.eye(2, dtype=u.dtype)  # noqa: E731
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        metric_curvature(disk, np.zeros((3, 3)))
    with pytest.raises(TypeError, match="callable"):
        metric_curvature(np.eye(2), np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"\(2, 2\) tensor"):
        metric_curvature(lambda u: u, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="empty|at least 1"):
        metric_curvature(disk, np.zeros((0, 2)))
