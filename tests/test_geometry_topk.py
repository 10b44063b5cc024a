"""Top-k spectra without the full Jacobian (issue 14 item 4): randomised block Krylov on JᵀJ from
batched JVPs/VJPs, checked against exact SVDs of the full Jacobian on ResNet look-alikes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from repgeo.features import FeatureMap, layer_names
from repgeo.geometry import (
    GeometryAccuracyWarning,
    effective_volume,
    jacobian,
    singular_values,
)
from repgeo.models import ResNet


def make_resnet(size, seed=0, act=nn.ReLU, **kw):
    """A random ResNet with BatchNorm statistics calibrated on random images, in eval mode."""
    torch.manual_seed(seed)
    net = ResNet(act=act, **kw)
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        net(torch.rand(32, 3, size, size))
    return net.eval()


def stage(net, name):
    """FeatureMap layer for a ResNet stage output (the module name once FeatureMap accepts
    container modules, else the traced node of the stage's last activation)."""
    names = layer_names(net)
    if name in names:
        return name
    return [n for n in names if n.startswith(name + "_") and "relu" in n][-1]


@pytest.fixture(scope="module")
def small_resnet():
    """layer2 of a narrow ResNet at 16x16: n = 128 * 2 * 2 = 512 features, d = 768 inputs."""
    net = make_resnet(16, widths=(16, 128, 16, 16), blocks=(1, 1, 1, 1))
    fm = FeatureMap(net, stage(net, "layer2"), input_shape=(3, 16, 16))
    X = torch.rand(2, 768, generator=torch.Generator().manual_seed(1))
    J = jacobian(fm, X).double().numpy()  # float32 J, float64 SVD: top values to ~1e-6
    s = np.linalg.svd(J / np.sqrt(J.shape[1]), compute_uv=False)
    return fm, X, s


def test_krylov_matches_exact_svd_on_a_resnet_stage(small_resnet):
    fm, X, s = small_resnet
    assert s.shape == (2, 512)
    k = 8
    v, info = effective_volume(fm, X, k=k, return_info=True)  # auto: 512 >= 512, 8 <= 512/16
    exact = np.log10(s[:, :k]).sum(1)
    err = np.abs(v.double().numpy() - exact)
    assert info.method == "krylov" and info.ok and np.all(info.converged)
    assert np.all(err <= 1e-3), err  # tol = 1e-3 decades
    assert np.all(err <= info.error_estimate + 1e-5)  # the reported estimate covers the error
    assert np.all(info.n_products < 512 // 2)  # far fewer products than the full Jacobian
    assert np.all(info.residual < 0.1)
    # a tighter tolerance converges further
    v4 = effective_volume(fm, X, k=k, tol=1e-5)
    assert np.all(np.abs(v4.double().numpy() - exact) <= 2e-5)
    sv, sinfo = singular_values(fm, X, k=k, return_info=True)
    assert sinfo.method == "krylov"
    np.testing.assert_allclose(sv.double().numpy(), s[:, :k], rtol=2e-3)
    # the exact Gram path agrees with the SVD
    np.testing.assert_allclose(effective_volume(fm, X, k=k, method="gram"), exact, atol=1e-4)


def test_krylov_is_deterministic_and_does_not_depend_on_chunking(small_resnet):
    fm, X, _ = small_resnet
    a = effective_volume(fm, X, k=4, method="krylov")
    b = effective_volume(fm, X, k=4, method="krylov", batch_size=1)
    c = effective_volume(fm, X[1:2], k=4, method="krylov")
    torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    torch.testing.assert_close(a, effective_volume(fm, X, k=4, method="krylov"), rtol=0, atol=0)
    # point 1's start block depends on its index, not on its neighbours: same point, same seed
    # stream only when it sits at the same index, so compare with the index-0 stream of X[1:2]
    assert abs(float(c[0]) - float(a[1])) <= 2e-3
    d = effective_volume(fm, X, k=4, method="krylov", random_state=7)
    assert float((d - a).abs().max()) <= 2e-3


def test_krylov_rank_deficiency_warns_and_floor_recovers():
    """k above the rank of J (dead ReLUs): -inf with the k/floor warning, as on the exact path."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(40, 30), nn.ReLU()).double()
    with torch.no_grad():
        net[0].bias[:12] = -1e3  # 12 dead units, 18 always active: rank 18
        net[0].bias[12:] = 1e3
    X = np.random.default_rng(0).normal(size=(2, 40))
    with pytest.warns(GeometryAccuracyWarning, match=r"k=25.*floor"):
        v, info = effective_volume(net, X, k=25, method="krylov", return_info=True)
    assert np.all(np.isneginf(v)) and np.all(info.rank == 18)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryAccuracyWarning)
        vf = effective_volume(net, X, k=25, method="krylov", floor=-6.0)
        vg = effective_volume(net, X, k=25, method="gram", floor=-6.0)
        v18 = effective_volume(net, X, k=18, method="krylov")
    np.testing.assert_allclose(vf, vg, atol=1e-6)
    np.testing.assert_allclose(v18, vg, atol=1e-6)


def test_krylov_unconverged_is_warned_and_flagged(small_resnet):
    fm, X, _ = small_resnet
    with pytest.warns(GeometryAccuracyWarning, match="did not reach tol"):
        v, info = effective_volume(fm, X[:1], k=8, method="krylov", max_dim=8, return_info=True)
    assert not info.ok and not info.converged[0] and np.isfinite(float(v[0]))
    assert info.n_products[0] == 8


def test_krylov_exact_when_the_basis_fills_the_space(rng):
    """On a small map the Krylov basis reaches min(n, d) and the result is exact."""
    net = nn.Sequential(nn.Linear(7, 11), nn.Tanh(), nn.Linear(11, 9)).double()
    X = rng.normal(size=(3, 7))
    s = np.linalg.svd(np.asarray(jacobian(net, X)) / 3.0, compute_uv=False)
    v, info = effective_volume(net, X, k=5, method="krylov", tol=1e-12, return_info=True)
    np.testing.assert_allclose(v, np.log10(s[:, :5]).sum(1), atol=1e-10)
    assert np.all(info.converged)
    np.testing.assert_allclose(
        singular_values(net, X, k=3, method="krylov", tol=1e-12), s[:, :3], rtol=1e-9
    )


def test_relu_resnet_features_at_full_k_are_warned_not_silent():
    """The issue's ResNet case at k = n (average-pooled ReLU features): dead features make J
    rank-deficient; the result is -inf *with* a warning, and finite for k <= the rank."""
    X = torch.rand(2, 3 * 16 * 16, generator=torch.Generator().manual_seed(2))
    relu = make_resnet(16, widths=(8, 16, 32, 32), blocks=(1, 1, 1, 1))
    fm = FeatureMap(relu, "avgpool", input_shape=(3, 16, 16))
    with pytest.warns(GeometryAccuracyWarning, match="k=32"):
        v, info = effective_volume(fm, X, return_info=True)
    assert np.all(np.isneginf(v.numpy())) and np.all(info.rank < 32) and not info.ok
    with torch.no_grad():  # a dead (zero) feature is a zero row of J
        live = (fm(X) > 0).sum(1).numpy()
    assert np.all(live < 32) and np.all(info.rank <= live)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryAccuracyWarning)
        vk, kinfo = effective_volume(fm, X, k=int(info.rank.min()), return_info=True)
    assert torch.isfinite(vk).all() and kinfo.ok


@pytest.mark.slow
def test_resnet18_layer2_top10_matches_the_full_jacobian():
    """The benchmark case itself: ResNet-18 layer2 at 32x32 (n = 2,048, d = 3,072), k = 10."""
    net = make_resnet(32)
    fm = FeatureMap(net, stage(net, "layer2"), input_shape=(3, 32, 32))
    X = torch.rand(1, 3072, generator=torch.Generator().manual_seed(0))
    v, info = effective_volume(fm, X, k=10, return_info=True)
    exact = effective_volume(fm, X, k=10, method="gram")
    assert info.method == "krylov" and info.ok
    assert abs(float(v[0]) - float(exact[0])) <= 1e-3
    assert info.n_products[0] <= 200  # vs 2,048 VJPs for the full Jacobian
