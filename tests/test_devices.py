"""Public-API results on every available device: a CUDA input stays on its device and gives the
CPU result (each check also meets an independent reference: brute force or a closed form).

The CUDA cases carry the ``cuda`` marker and skip on a machine without a GPU (``device``
fixture in ``conftest.py``); ``scripts/device-check.sh`` runs them on one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from repgeo.coding import coding_rate
from repgeo.diffusion import build_graph, heat_geodesic_distances
from repgeo.dimension import twonn, twonn_ratios
from repgeo.geometry import pullback_metric
from repgeo.latent import linear_cka
from repgeo.neighbors import knn


def _points(n: int = 300, d: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def _on(t: torch.Tensor, device: torch.device) -> bool:
    return isinstance(t, torch.Tensor) and t.device.type == device.type


def test_knn_stays_on_device_and_matches_brute_force(device):
    X = _points()
    vals, idx = knn(torch.from_numpy(X).to(device), 5, output="input")
    assert _on(vals, device) and _on(idx, device)
    assert vals.dtype == torch.float64 and vals.shape == idx.shape == (300, 5)
    # brute force: full distance matrix, self excluded
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    ref_idx = np.argsort(D, axis=1)[:, :5]
    np.testing.assert_allclose(vals.cpu().numpy(), np.take_along_axis(D, ref_idx, 1), rtol=1e-10)
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)  # continuous data: no ties
    cpu_vals, cpu_idx = knn(X, 5)
    np.testing.assert_array_equal(idx.cpu().numpy(), cpu_idx)
    np.testing.assert_allclose(vals.cpu().numpy(), cpu_vals, rtol=1e-10)


def test_linear_cka_on_device_matches_formula(device):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 12))
    Y = np.tanh(X @ rng.normal(size=(12, 7))) + 0.3 * rng.normal(size=(400, 7))
    value = linear_cka(torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device))
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    ref = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert isinstance(value, float)
    assert value == pytest.approx(ref, rel=1e-10)
    assert value == pytest.approx(linear_cka(X, Y), rel=1e-12)


def test_coding_rate_on_device_matches_logdet(device):
    Z = np.random.default_rng(2).normal(size=(200, 16))
    value = coding_rate(torch.from_numpy(Z).to(device), eps2=0.5)
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    m, d = Zn.shape
    ref = 0.5 * np.linalg.slogdet(np.eye(d) + d / (m * 0.5) * Zn.T @ Zn)[1]
    assert isinstance(value, float)
    assert value == pytest.approx(ref, rel=1e-10)
    assert value == pytest.approx(coding_rate(Z, eps2=0.5), rel=1e-12)


def test_twonn_on_device_matches_cpu(device):
    X = _points(500, 3, seed=3)
    mu = twonn_ratios(torch.from_numpy(X).to(device))
    assert _on(mu, device) and mu.dtype == torch.float64
    D = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(D, np.inf)
    r = np.sort(D, axis=1)[:, :2]
    np.testing.assert_allclose(mu.cpu().numpy(), r[:, 1] / r[:, 0], rtol=1e-10)
    d_dev = twonn(torch.from_numpy(X).to(device))
    assert d_dev == pytest.approx(twonn(X), rel=1e-12)
    assert 2.0 < d_dev < 4.0  # a 3-D Gaussian cloud


def test_build_graph_and_heat_geodesics_on_device(device):
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    X = np.c_[np.cos(t), np.sin(t)]
    g = build_graph(torch.from_numpy(X).to(device), k=5)
    assert g.device.type == device.type
    g_cpu = build_graph(X, k=5)
    np.testing.assert_allclose(g.to_scipy().toarray(), g_cpu.to_scipy().toarray(), rtol=1e-12)
    D = heat_geodesic_distances(g, 5.0, rows=[0, 30])
    assert _on(D, device) and D.shape == (2, 120)
    D_cpu = heat_geodesic_distances(g_cpu, 5.0, rows=[0, 30])
    np.testing.assert_allclose(D.cpu().numpy(), D_cpu, rtol=1e-6, atol=1e-8)
    # on a circle the distance from point 0 grows with the arc length up to the antipode (60)
    assert np.all(np.diff(D_cpu[0, :61]) > 0)


def test_pullback_metric_on_device_matches_closed_form(device):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh()).double()
    X = torch.from_numpy(_points(40, 3, seed=4))
    g = pullback_metric(model.to(device), X.to(device))
    assert _on(g, device) and g.shape == (40, 3, 3) and g.dtype == torch.float64
    W, b = model[0].weight.detach().cpu(), model[0].bias.detach().cpu()
    s = 1.0 - torch.tanh(X @ W.T + b) ** 2  # tanh'(z), (40, 16)
    ref = torch.einsum("ji,mj,jk->mik", W, s**2, W) / 16
    torch.testing.assert_close(g.cpu(), ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g.cpu(), pullback_metric(model.cpu(), X), rtol=1e-10, atol=1e-12)
