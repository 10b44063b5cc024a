"""Pullback metric, volumes, slices: against finite differences, closed forms and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from repgeo._backend import memory_budget
from repgeo.features import FeatureMap
from repgeo.geometry import (
    effective_volume,
    jacobian,
    log_volume_element,
    pullback_metric,
    singular_values,
    slice_log_volume,
    slice_metric,
)
from repgeo.models import MLP, SmallCNN


class Residual(nn.Module):
    """Not a Sequential: exercises the generic torch.func path (fx truncation)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(4, 9)
        self.b = nn.Linear(9, 9)

    def forward(self, x):
        h = torch.tanh(self.a(x))
        return h + torch.sin(self.b(h))


class Dynamic(Residual):
    """Shape-dependent control flow: torch.fx cannot trace it, FeatureMap uses a forward hook."""

    def forward(self, x):
        h = torch.tanh(self.a(x))
        if h.shape[-1] != 9:
            h = h * 2
        return torch.sin(self.b(h))


def _fd_jacobian(f, x, eps=1e-6):
    """Central finite differences of a batched map at one point x (d,) -> (n, d)."""
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = eps
        cols.append((f((x + e)[None])[0] - f((x - e)[None])[0]) / (2 * eps))
    return torch.stack(cols, 1)


CASES = [
    (
        "mlp-act1",
        lambda: FeatureMap(
            MLP([3, 11, 5], activation="sigmoid", init="paper", seed=0).double(), "act1"
        ),
    ),
    ("mlp-deep", lambda: FeatureMap(MLP([3, 7, 6, 4], activation="tanh", seed=1).double(), "act2")),
    ("mlp-logits", lambda: FeatureMap(MLP([3, 7, 2], activation="gelu", seed=2).double())),
    ("residual-fx", lambda: FeatureMap(Residual().double())),
    ("dynamic-hook", lambda: FeatureMap(Dynamic().double(), "a")),
]


@pytest.mark.parametrize(("name", "make"), CASES, ids=[c[0] for c in CASES])
def test_jacobian_matches_finite_differences(name, make):
    torch.manual_seed(0)
    fm = make()
    X = torch.randn(4, 4 if name in ("residual-fx", "dynamic-hook") else 3, dtype=torch.float64)
    if name == "dynamic-hook":
        assert fm.method == "hook"
    ref = torch.stack([_fd_jacobian(fm, x) for x in X])
    for mode in ("auto", "forward", "reverse"):
        for structure in (True, False):
            J = jacobian(fm, X, mode=mode, use_structure=structure)
            assert J.shape == ref.shape
            torch.testing.assert_close(J, ref, rtol=1e-6, atol=1e-8)


def test_jacobian_cnn_with_input_shape_matches_finite_differences():
    cnn = SmallCNN(seed=0, activation="tanh").double()
    fm = FeatureMap(cnn, "act3")
    X = torch.rand(2, 64, dtype=torch.float64)
    ref = torch.stack([_fd_jacobian(fm, x) for x in X])
    torch.testing.assert_close(jacobian(fm, X), ref, rtol=1e-5, atol=1e-7)


def test_linear_map_metric_is_constant_and_exact(rng):
    W = rng.normal(size=(7, 3))
    lin = nn.Linear(3, 7).double()
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(W))
    X = rng.normal(size=(20, 3)) * 5
    g = pullback_metric(lin, X)
    np.testing.assert_allclose(g, np.broadcast_to(W.T @ W / 7, g.shape), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(pullback_metric(lin, X, normalize=False)[3], W.T @ W, rtol=1e-12)
    # generic path (a lambda) gives the same
    Wt = torch.from_numpy(W)
    np.testing.assert_allclose(pullback_metric(lambda x: x @ Wt.T, X), g, rtol=1e-12)
    lv = log_volume_element(lin, X)
    np.testing.assert_allclose(lv, 0.5 * np.log10(np.linalg.det(W.T @ W / 7)), rtol=1e-12)


def test_cauchy_binet_determinant_of_shallow_net(rng):
    """2-D input, one hidden layer: det g = (1/n²) Σ_{j<k} m_jk² σ'(z_j)² σ'(z_k)²."""
    n = 9
    net = MLP([2, n, 2], activation="sigmoid", init="paper", seed=3).double()
    W = net.fc1.weight.detach().numpy()
    b = net.fc1.bias.detach().numpy()
    X = rng.uniform(-1.5, 1.5, size=(15, 2))
    z = X @ W.T + b
    s = 1 / (1 + np.exp(-z))
    ds = s * (1 - s)
    det = np.zeros(len(X))
    for j, k in itertools.combinations(range(n), 2):
        m = W[j, 0] * W[k, 1] - W[j, 1] * W[k, 0]
        det += m**2 * ds[:, j] ** 2 * ds[:, k] ** 2
    det /= n**2
    fm = FeatureMap(net, "act1")
    np.testing.assert_allclose(log_volume_element(fm, X), 0.5 * np.log10(det), rtol=1e-10)
    np.testing.assert_allclose(np.linalg.det(pullback_metric(fm, X)), det, rtol=1e-10)


def test_kernel_identity_mixed_second_derivative(rng):
    """g_μν(x) = ∂_{x_μ} ∂_{y_ν} k(x, y) at y = x, with k(x, y) = Φ(x)·Φ(y)/n."""
    fm = FeatureMap(MLP([3, 8, 6, 2], activation="tanh", seed=4).double(), "act2")
    x0 = torch.from_numpy(rng.normal(size=3))

    def k(xy):
        x, y = xy[:3], xy[3:]
        return (fm.single(x) * fm.single(y)).sum() / 6

    H = torch.autograd.functional.hessian(k, torch.cat([x0, x0]))
    g = pullback_metric(fm, x0[None])[0]
    torch.testing.assert_close(g, H[:3, 3:], rtol=1e-10, atol=1e-12)


def test_effective_volume_against_numpy_svd(rng):
    fm = FeatureMap(MLP([6, 4, 3], activation="tanh", seed=5).double())  # d = 6 > n = 3
    X = rng.normal(size=(5, 6))
    J = jacobian(fm, X)
    s = np.linalg.svd(J / np.sqrt(3), compute_uv=False)
    np.testing.assert_allclose(effective_volume(fm, X), np.log10(s).sum(1), rtol=1e-10)
    np.testing.assert_allclose(effective_volume(fm, X, k=2), np.log10(s[:, :2]).sum(1), rtol=1e-10)
    np.testing.assert_allclose(singular_values(fm, X), s, rtol=1e-10)
    np.testing.assert_allclose(singular_values(fm, X, method="gram", k=2), s[:, :2], rtol=1e-8)
    srt = np.sort(np.log10(s).ravel())
    floor = (srt[7] + srt[8]) / 2  # between two values: no tie at the floor
    keep = np.where(np.log10(s) >= floor, np.log10(s), 0).sum(1)
    np.testing.assert_allclose(effective_volume(fm, X, floor=float(floor)), keep, rtol=1e-10)
    with pytest.raises(ValueError, match="d <= n"):
        log_volume_element(fm, X)


def test_effective_volume_equals_volume_element_when_full_rank(rng):
    fm = FeatureMap(MLP([4, 30, 2], activation="sigmoid", seed=6).double(), "act1")
    X = rng.normal(size=(8, 4))
    np.testing.assert_allclose(effective_volume(fm, X), log_volume_element(fm, X), rtol=1e-10)
    # the structure-aware and generic paths agree; so do the feature-side and input-side Grams
    np.testing.assert_allclose(
        effective_volume(fm, X, k=3), effective_volume(fm, X, k=3, use_structure=False), rtol=1e-10
    )
    fm_wide = FeatureMap(MLP([12, 5, 2], activation="sigmoid", seed=6).double(), "act1")  # d > n
    X12 = rng.normal(size=(4, 12))
    s = np.linalg.svd(jacobian(fm_wide, X12, use_structure=False) / np.sqrt(5), compute_uv=False)
    np.testing.assert_allclose(effective_volume(fm_wide, X12), np.log10(s).sum(1), rtol=1e-10)


def test_slice_metric_is_projected_metric_and_transforms_by_det(rng):
    for fm in (
        FeatureMap(MLP([5, 20, 3], activation="sigmoid", seed=7).double(), "act1"),
        FeatureMap(MLP([5, 9, 7, 3], activation="tanh", seed=7).double(), "act2"),
        FeatureMap(Residual().double()),
    ):
        d = 4 if isinstance(fm.model, Residual) else 5
        X = rng.normal(size=(6, d))
        E = rng.normal(size=(d, 2))
        g = pullback_metric(fm, X)
        G = slice_metric(fm, X, E)
        np.testing.assert_allclose(G, np.einsum("da,mde,eb->mab", E, g, E), rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(
            slice_metric(fm, X, E, use_structure=False), G, rtol=1e-10, atol=1e-14
        )
        A = np.array([[2.0, 0.3], [-0.7, 1.5]])
        shift = slice_log_volume(fm, X, E @ A) - slice_log_volume(fm, X, E)
        np.testing.assert_allclose(shift, np.log10(abs(np.linalg.det(A))), rtol=1e-10)


def test_kinds_dtypes_and_chunking_preserved(rng):
    net = MLP([3, 16, 2], activation="sigmoid", seed=8)  # float32 model
    fm = FeatureMap(net, "act1")
    X32 = rng.normal(size=(10, 3)).astype(np.float32)
    out = log_volume_element(fm, X32)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    out64 = log_volume_element(fm, X32.astype(np.float64), dtype=torch.float64)
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out, out64, atol=2e-5)
    assert next(net.parameters()).dtype == torch.float32  # the model was not converted in place
    Xt = torch.from_numpy(X32)
    gt = pullback_metric(fm, Xt)
    assert isinstance(gt, torch.Tensor) and gt.dtype == torch.float32 and gt.shape == (10, 3, 3)
    # chunking by batch_size or by a small memory budget does not change results
    np.testing.assert_allclose(pullback_metric(fm, X32, batch_size=1), gt.numpy(), rtol=1e-6)
    with memory_budget("4KB"):
        np.testing.assert_allclose(
            effective_volume(fm, X32, k=2), effective_volume(fm, X32, k=2, batch_size=3), rtol=1e-5
        )
        np.testing.assert_allclose(pullback_metric(fm, X32), gt.numpy(), rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_inputs_stay_on_device():
    fm = FeatureMap(MLP([3, 16, 2], activation="sigmoid", seed=8).cuda(), "act1")
    X = torch.randn(50, 3, device="cuda")
    out = log_volume_element(fm, X)
    assert out.device.type == "cuda"
    torch.testing.assert_close(
        out.cpu(),
        log_volume_element(FeatureMap(fm.model.cpu(), "act1"), X.cpu()),
        rtol=1e-4,
        atol=1e-5,
    )


def test_bad_input_raises_clear_errors():
    fm = FeatureMap(MLP([3, 8, 2], seed=0), "act1")
    good = np.zeros((4, 3))
    with pytest.raises(ValueError, match="NaN"):
        pullback_metric(fm, np.array([[np.nan, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 1 sample"):
        log_volume_element(fm, np.zeros((0, 3)))
    with pytest.raises(ValueError, match="2-D"):
        jacobian(fm, np.zeros(3))
    with pytest.raises(TypeError, match="numeric|real"):
        jacobian(fm, np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="dimension d=5"):
        pullback_metric(fm, np.zeros((2, 5)))
    with pytest.raises(ValueError, match="mode"):
        jacobian(fm, good, mode="sideways")
    with pytest.raises(ValueError, match="k must be <="):
        effective_volume(fm, good, k=4)
    with pytest.raises(ValueError, match="k must be >="):
        effective_volume(fm, good, k=0)
    with pytest.raises(ValueError, match="finite"):
        effective_volume(fm, good, floor=float("nan"))
    with pytest.raises(ValueError, match="basis must have shape"):
        slice_metric(fm, good, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="2 columns"):
        from repgeo.geometry import gaussian_curvature

        gaussian_curvature(fm, good, basis=np.eye(3))
    with pytest.raises(TypeError, match="fmap must be"):
        pullback_metric("not a model", good)
    with pytest.raises(ValueError, match="dtype"):
        pullback_metric(fm, good, dtype="float16")
    with pytest.raises(TypeError, match="normalize"):
        pullback_metric(fm, good, normalize=1)
    with pytest.raises(ValueError, match="batch_size"):
        pullback_metric(fm, good, batch_size=0)
    with pytest.raises(ValueError, match="method"):
        singular_values(fm, good, method="qr")
