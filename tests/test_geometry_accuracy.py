"""Correct by default (issue 11): float32 log-determinants, rank deficiency, conditioning,
half precision, and diagnostics that travel with the result."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from repgeo.features import FeatureMap
from repgeo.geometry import (
    GeometryAccuracyWarning,
    SpectralInfo,
    effective_volume,
    gaussian_curvature,
    jacobian,
    log_volume_element,
    pullback_metric,
    singular_values,
    slice_log_volume,
)
from repgeo.geometry._core import cholesky_logdet
from repgeo.models import MLP


def _brute_log10_svals(fm, X):
    """Singular values of J/√n from a float64 Jacobian and NumPy's SVD (independent of the Gram
    and Krylov paths)."""
    J = np.asarray(jacobian(fm, np.asarray(X, dtype=np.float64), dtype=torch.float64))
    with np.errstate(divide="ignore"):  # exact zeros (dead units) give -inf
        return np.log10(np.linalg.svd(J / np.sqrt(J.shape[1]), compute_uv=False))


def _linear(W: np.ndarray, dtype=torch.float64):
    Wt = torch.as_tensor(W, dtype=dtype)
    return lambda x: x @ Wt.T


def _rotated(svals, seed=0, n_extra=0):
    """W = U diag(s) Vᵀ with random orthogonal U (n × d), V (d × d): a generic map with a
    prescribed spectrum (its Gram matrix is not diagonal, so rounding errors are real)."""
    rng = np.random.default_rng(seed)
    d = len(svals)
    U = np.linalg.qr(rng.normal(size=(d + n_extra, d)))[0]
    V = np.linalg.qr(rng.normal(size=(d, d)))[0]
    return U @ np.diag(svals) @ V.T


# ----------------------------------------------------------------------------- item 4: float32
@pytest.mark.parametrize("m", [1, pytest.param(3, marks=pytest.mark.slow)])
def test_paper_mlp_float32_matches_float64_and_an_independent_svd(m):
    """The repro of issue 11 item 4: MLP [784, 2000, 10] (sigmoid, paper init) in float32 gave
    -inf at two of three uniform inputs and 3.3 decades off at the third (a float32 Gram matrix
    squares cond(J) ≈ 1.5e4 past float32). m = 3 is the issue's repro (the reference SVDs of
    three 2000 × 784 Jacobians dominate its time); m = 1 its first point."""
    net = MLP([784, 2000, 10], activation="sigmoid", init="paper", seed=0)
    fm = FeatureMap(net, "act1")
    X = np.random.default_rng(0).uniform(size=(3, 784))[:m]
    v32, info = effective_volume(fm, X.astype(np.float32), return_info=True)
    lv32 = log_volume_element(fm, X.astype(np.float32))
    v64 = effective_volume(fm, X, dtype=torch.float64)
    logs = _brute_log10_svals(fm, X)  # (3, 784), descending
    ref = logs.sum(1)
    np.testing.assert_allclose(v64, ref, atol=1e-6)
    assert np.all(np.isfinite(v32)) and np.all(np.isfinite(lv32))
    assert np.max(np.abs(v32 - ref)) <= 0.01  # the bar: 0.01 decades
    np.testing.assert_allclose(lv32, v32, atol=1e-3)
    assert isinstance(info, SpectralInfo) and info.ok and info.method == "cholesky"
    assert np.all(info.rank == 784)
    # the condition number is estimated (power / inverse iteration): within 10 % of the SVD's
    np.testing.assert_allclose(info.condition_number, 10 ** (logs[:, 0] - logs[:, -1]), rtol=0.1)
    # the error estimate is an honest (pessimistic) estimate of the observed error
    assert np.all(info.error_estimate >= np.abs(v32 - ref))


def test_float32_pullback_metric_and_slice_are_accumulated_in_float64(rng):
    net = MLP([784, 2000, 10], activation="sigmoid", init="paper", seed=0)
    fm = FeatureMap(net, "act1")
    X = rng.uniform(size=(2, 784))
    E = rng.normal(size=(784, 2))
    s32 = slice_log_volume(fm, X.astype(np.float32), E.astype(np.float32))
    s64 = slice_log_volume(fm, X, E, dtype=torch.float64)
    np.testing.assert_allclose(s32, s64, atol=1e-3)
    g32 = pullback_metric(fm, X[:1].astype(np.float32))
    g64 = pullback_metric(fm, X[:1], dtype=torch.float64)
    assert np.abs(g32 - g64).max() <= 1e-6 * np.abs(g64).max()


def test_cholesky_condition_estimates_against_known_spectra():
    rng = np.random.default_rng(1)
    r = 60
    spectra = [np.logspace(0, -k, r) for k in (2, 5, 8)]
    S = []
    for lam in spectra:
        Q = np.linalg.qr(rng.normal(size=(r, r)))[0]
        S.append(Q @ np.diag(lam) @ Q.T)
    S = torch.as_tensor(np.stack(S))
    logdet, ok, cond2, sum_c2 = cholesky_logdet(S)
    assert bool(ok.all())
    np.testing.assert_allclose(logdet, [np.log(lam).sum() for lam in spectra], rtol=1e-6)
    true = np.array([lam[0] / lam[-1] for lam in spectra])
    assert np.all(cond2.numpy() <= true * (1 + 1e-8)) and np.all(cond2.numpy() >= true / 2)
    true_sum = np.array([(lam[0] / lam).sum() for lam in spectra])
    assert np.all(sum_c2.numpy() >= true_sum / 3) and np.all(sum_c2.numpy() <= true_sum * 3)


# ----------------------------------------------------------------------------- conditioning
def test_float32_ill_conditioning_is_warned_and_flagged():
    """A float32 map whose smallest singular value is 5e-7 of the largest: known to ~25 %."""
    W = _rotated([1.0, 0.3, 5e-7])
    f = _linear(W, torch.float32)
    X = np.zeros((2, 3), dtype=np.float32)
    with pytest.warns(GeometryAccuracyWarning, match="worse than 10%.*dtype=torch.float64"):
        _v, info = effective_volume(f, X, normalize=False, return_info=True)
    assert np.all(info.unreliable) and not info.ok
    np.testing.assert_allclose(info.condition_number, 2e6, rtol=0.5)
    assert np.all(info.error_estimate > 0.05)
    # float64 resolves it (through the float64 Gram matrix: relative error ~ ε₆₄·cond² = 1e-3
    # on s_min, i.e. ~2e-5 decades, within the reported estimate)
    v64, info64 = effective_volume(
        _linear(W), X.astype(np.float64), normalize=False, return_info=True
    )
    err = np.abs(v64 - np.log10([1.0, 0.3, 5e-7]).sum())
    assert np.all(err <= 1e-4) and np.all(err <= info64.error_estimate) and info64.ok
    v64s = effective_volume(_linear(W), X.astype(np.float64), normalize=False, method="svd")
    np.testing.assert_allclose(v64s, np.log10([1.0, 0.3, 5e-7]).sum(), atol=1e-9)


def test_float64_gram_limit_falls_back_to_svd():
    """cond(J) = 1e9: a float64 Gram matrix (cond 1e18) cannot resolve s_min, an SVD can."""
    W = _rotated([1.0, 1e-3, 1e-9], n_extra=2)
    f = _linear(W)
    X = np.zeros((3, 3))
    exact = np.log10([1.0, 1e-3, 1e-9]).sum()
    v, info = effective_volume(f, X, normalize=False, return_info=True)
    np.testing.assert_allclose(v, exact, atol=1e-6)
    assert "svd" in info.method and info.ok
    lv = log_volume_element(f, X, normalize=False)
    np.testing.assert_allclose(lv, exact, atol=1e-6)
    with pytest.warns(GeometryAccuracyWarning, match='method="svd"'):
        vg, infog = effective_volume(f, X, normalize=False, method="gram", return_info=True)
    assert np.all(np.isneginf(vg)) and np.all(infog.rank == 2) and not infog.ok
    np.testing.assert_allclose(
        singular_values(f, X[:1], normalize=False)[0], [1.0, 1e-3, 1e-9], rtol=1e-6
    )


# ----------------------------------------------------------------------------- rank deficiency
def test_dead_relu_rank_deficiency_warns_naming_k_and_floor():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
    X = np.random.default_rng(1).normal(size=(4, 64)).astype(np.float32)
    with pytest.warns(GeometryAccuracyWarning, match=r"k=32.*floor") as rec:
        v, info = effective_volume(net, X, return_info=True)
    assert len(rec) == 1 and "k <=" in str(rec[0].message)
    assert np.all(np.isneginf(v)) and np.all(info.unreliable)
    with torch.no_grad():
        active = (net[0](torch.as_tensor(X)) > 0).sum(1).numpy()
    np.testing.assert_array_equal(info.rank, active)  # rank of diag(σ'(z)) W = #active units
    ref = _brute_log10_svals(FeatureMap(net.double()), X)  # (4, 32) descending
    net.float()
    kmin = int(active.min())
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryAccuracyWarning)
        vk = effective_volume(net, X, k=kmin)
        vf, infof = effective_volume(net, X, floor=-6.0, return_info=True)
    np.testing.assert_allclose(vk, ref[:, :kmin].sum(1), atol=2e-4)
    keep = np.where(ref >= -6, ref, 0.0).sum(1)
    np.testing.assert_allclose(vf, keep, atol=2e-4)
    assert infof.ok and np.all(infof.rank == active)


def test_singular_slice_and_volume_element_warn():
    f = _linear(np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))  # rank 1 from R²
    with pytest.warns(GeometryAccuracyWarning, match="metric g is singular"):
        lv, info = log_volume_element(f, np.zeros((2, 2)), return_info=True)
    assert np.all(np.isneginf(lv)) and np.all(info.rank == 1)
    E = np.array([[1.0, 2.0], [1.0, 2.0]])  # parallel columns: a degenerate slice
    g = _linear(np.eye(2))
    with pytest.warns(GeometryAccuracyWarning, match="slice metric G is singular"):
        sv, sinfo = slice_log_volume(g, np.zeros((3, 2)), E, return_info=True)
    assert np.all(np.isneginf(sv)) and np.all(sinfo.rank == 1)


def test_curvature_nan_is_warned():
    flat = nn.Sequential(nn.Linear(2, 3), nn.ReLU()).double()
    with torch.no_grad():
        flat[0].bias.fill_(-100.0)  # every unit dead: g = 0
    with pytest.warns(GeometryAccuracyWarning, match="undefined"):
        K = gaussian_curvature(flat, np.zeros((2, 2)))
    assert np.all(np.isnan(K))


# ----------------------------------------------------------------------------- item 11
def test_diagnostics_survive_a_loop_that_hides_repeated_warnings():
    """Python shows a repeated warning once per location; the result carries it every time."""
    net = nn.Sequential(nn.Linear(8, 6), nn.ReLU()).double()
    with torch.no_grad():
        net[0].bias.copy_(torch.tensor([1.0, 1, 1, -50, -50, -50]))
    X = np.zeros((2, 8))
    infos = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("default")
        for _layer in range(3):
            infos.append(effective_volume(net, X, return_info=True)[1])
    assert len(rec) <= 3
    for info in infos:
        assert not info.ok and info.messages and "-inf" in info.messages[0]
        np.testing.assert_array_equal(info.rank, [3, 3])


# ----------------------------------------------------------------------------- item 9: float16
def test_half_precision_is_refused_with_the_fix():
    f = _linear(np.eye(3), torch.float16)
    X16 = torch.zeros(2, 3, dtype=torch.float16)
    for fn in (log_volume_element, effective_volume, pullback_metric, singular_values):
        with pytest.raises(TypeError, match="float16.*dtype=torch.float32"):
            fn(f, X16)
    half = MLP([3, 8, 2], seed=0).half()
    with pytest.raises(TypeError, match="model's parameters are torch.float16"):
        log_volume_element(FeatureMap(half, "act1"), np.zeros((2, 3)))
    # the fix the message names works, and the caller's model stays in half precision
    v = log_volume_element(FeatureMap(half, "act1"), np.zeros((2, 3)), dtype=torch.float32)
    assert np.all(np.isfinite(v)) and next(half.parameters()).dtype == torch.float16
    # float16 *inputs* to a float32 model are fine (computed in the model's dtype)
    fm32 = FeatureMap(MLP([3, 8, 2], seed=0), "act1")
    out = log_volume_element(fm32, X16)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()


def test_new_options_validate():
    fm = FeatureMap(MLP([3, 8, 2], seed=0), "act1")
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match="method"):
        effective_volume(fm, X, method="lanczos")
    with pytest.raises(ValueError, match="method"):
        log_volume_element(fm, X, method="krylov")
    with pytest.raises(ValueError, match="tol"):
        effective_volume(fm, X, tol=0.0)
    with pytest.raises(ValueError, match="tol"):
        singular_values(fm, X, tol=float("nan"))
    with pytest.raises(ValueError, match="max_dim"):
        effective_volume(fm, X, max_dim=0)
    with pytest.raises(TypeError, match="random_state"):
        effective_volume(fm, X, random_state="seed")
    with pytest.raises(TypeError, match="return_info"):
        effective_volume(fm, X, return_info=1)
    with pytest.raises(TypeError, match="return_info"):
        slice_log_volume(fm, X, np.eye(3)[:, :2], return_info="yes")


# ----------------------------------------------------------------------------- underflow
def _sigmoid_prime(z):
    """σ'(z) = e^{-|z|}/(1 + e^{-|z|})² in float64 without overflow (NumPy, independent)."""
    e = np.exp(-np.abs(z))
    return e / (1.0 + e) ** 2


@pytest.mark.parametrize("depth", [1, 2])
def test_saturated_sigmoids_do_not_underflow(depth):
    """σ'(z) ≈ e^{-390} ≈ 1e-169: J is representable in float64 but JᵀJ (1e-338) underflows
    to zero, which gave -inf without a warning. The Gram matrix of J/max|J| does not underflow;
    the reference is the SVD of the Jacobian formed in NumPy from the weights."""
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(5, 3))
    layers = [nn.Linear(3, 5), nn.Sigmoid()]
    if depth == 2:
        layers += [nn.Linear(5, 4), nn.Tanh()]
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.as_tensor(W1))
        net[0].bias.fill_(-390.0)
    X = rng.normal(size=(3, 3))
    Z = X @ W1.T - 390.0
    J = _sigmoid_prime(Z)[:, :, None] * W1  # (m, 5, 3): Jacobian of the first layer
    if depth == 2:
        W2 = net[2].weight.detach().numpy()
        H = 1.0 / (1.0 + np.exp(-Z))
        Z2 = H @ W2.T + net[2].bias.detach().numpy()
        J = (1.0 - np.tanh(Z2) ** 2)[:, :, None] * np.einsum("oh,mhd->mod", W2, J)
    n = J.shape[1]
    s = np.linalg.svd(J / np.sqrt(n), compute_uv=False)
    assert np.all(s[:, -1] > 1e-200) and np.all(s[:, 0] ** 2 < 1e-300)  # the trap is real
    ref = np.log10(s).sum(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", GeometryAccuracyWarning)
        v, info = effective_volume(net, X, return_info=True)
        lv = log_volume_element(net, X)
        v2 = effective_volume(net, X, k=2, method="gram")
        sv = singular_values(net, X, method="gram")
    np.testing.assert_allclose(v, ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(lv, ref, rtol=0, atol=1e-8)
    np.testing.assert_allclose(v2, np.log10(s[:, :2]).sum(1), rtol=0, atol=1e-8)
    np.testing.assert_allclose(sv, s, rtol=1e-8)
    assert info.ok and np.all(info.rank == 3)
    E = rng.normal(size=(3, 2))
    G = (J @ E).transpose(0, 2, 1) @ (J @ E)  # (m, 2, 2), ~1e-338: compare through logdets
    sE = np.linalg.svd(J @ E / np.sqrt(n), compute_uv=False)
    np.testing.assert_allclose(slice_log_volume(net, X, E), np.log10(sE).sum(1), atol=1e-8)
    assert np.all(G == 0) or np.all(np.abs(G) < 1e-300)
