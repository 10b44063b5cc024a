"""Property-based tests (issue 11 item 10) over the public numeric functions of repgeo.geometry:
random small networks and inputs (shapes, activations, weight and input scales, duplicated
rows) — never NaN, never ±inf without a GeometryAccuracyWarning — and the invariances each
quantity promises."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
import torch
from torch import nn

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from repgeo.geometry import (  # noqa: E402
    GeometryAccuracyWarning,
    effective_volume,
    gaussian_curvature,
    infinite_width_curvature,
    infinite_width_log_volume,
    infinite_width_metric,
    jacobian,
    log_volume_element,
    pullback_metric,
    singular_values,
    slice_log_volume,
    slice_metric,
)

# REPGEO_HYPOTHESIS_EXAMPLES=1000 searches harder (random examples); by default a fixed set
SETTINGS = settings(
    max_examples=int(os.environ.get("REPGEO_HYPOTHESIS_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize="REPGEO_HYPOTHESIS_EXAMPLES" not in os.environ,
    database=None,
)
ACTS = {
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "identity": nn.Identity,
}


@st.composite
def networks(draw, max_d=5):
    """(net, d, n): a random float64 MLP truncated at a hidden layer, any activation, weights
    scaled by 1e-2..1e1."""
    d = draw(st.integers(1, max_d))
    widths = draw(st.lists(st.integers(1, 8), min_size=1, max_size=2))
    act = ACTS[draw(st.sampled_from(sorted(ACTS)))]
    scale = draw(st.sampled_from([1e-2, 1.0, 10.0]))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    layers: list[nn.Module] = []
    prev = d
    for w in widths:
        layers += [nn.Linear(prev, w), act()]
        prev = w
    net = nn.Sequential(*layers).double()
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(scale)
    return net, d, prev


@st.composite
def points(draw, d):
    """(m, d) inputs at scale 0 or 1e-3..1e3, sometimes with a duplicated row."""
    m = draw(st.integers(1, 4))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 1e3]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(m, d)) * scale
    if draw(st.booleans()):
        X = np.vstack([X, X[:1]])
    return X


def _checked(fn, *args, **kwargs):
    """Call fn; return (output, warned) and fail on NaN or on ±inf without a warning."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    warned = any(issubclass(w.category, GeometryAccuracyWarning) for w in rec)
    vals = out[0] if isinstance(out, tuple) else out
    arr = np.asarray(vals, dtype=np.float64)
    assert not np.isnan(arr).any() or warned, f"{fn.__name__} returned NaN without a warning"
    assert np.isfinite(arr[~np.isnan(arr)]).all() or warned, (
        f"{fn.__name__} returned inf without a warning"
    )
    return out, warned


# ----------------------------------------------------------------------------- no silent NaN/inf
@SETTINGS
@given(data=st.data())
def test_volumes_are_finite_or_warned(data):
    net, d, n = data.draw(networks())
    X = data.draw(points(d))
    r = min(n, d)
    k = data.draw(st.integers(1, r))
    floor = data.draw(st.sampled_from([None, -6.0]))
    dtype = data.draw(st.sampled_from([None, torch.float32]))
    method = data.draw(st.sampled_from(["auto", "gram", "svd", "krylov"]))
    (v, info), warned = _checked(
        effective_volume, net, X, k=k, floor=floor, dtype=dtype, method=method, return_info=True
    )
    assert v.shape == (len(X),) and info.rank.shape == (len(X),)
    assert np.all(info.rank <= k) and np.all(info.unreliable[~np.isfinite(v)])
    if warned:
        assert info.messages and not info.ok
    if d <= n:
        _checked(log_volume_element, net, X, dtype=dtype)
    s, _ = _checked(singular_values, net, X, k=k, dtype=dtype)
    assert s.shape == (len(X), k) and np.all(s >= 0) and np.all(np.diff(s, axis=1) <= 1e-12)
    E = np.random.default_rng(0).normal(size=(d, min(d, 2)))
    _checked(slice_log_volume, net, X, E, dtype=dtype)
    g = pullback_metric(net, X, dtype=dtype)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, np.swapaxes(g, 1, 2), rtol=0, atol=1e-12 * (1 + np.abs(g).max()))


@SETTINGS
@given(data=st.data())
def test_curvature_is_finite_or_warned(data):
    net, _, _n = data.draw(networks(max_d=2).filter(lambda t: t[1] == 2))
    X = data.draw(points(2))
    K, _ = _checked(gaussian_curvature, net, X)
    assert K.shape == (len(X),)


@SETTINGS
@given(
    act=st.sampled_from(["erf", "relu", "gelu", "tanh", "sigmoid", "softplus", "arccos"]),
    degree=st.integers(1, 3),
    sigma_b=st.sampled_from([0.0, 0.5, 1.0]),
    data=st.data(),
)
def test_infinite_width_is_finite_or_warned_and_isotropic(act, degree, sigma_b, data):
    d = data.draw(st.integers(1, 4))
    X = data.draw(points(d))
    g, _ = _checked(infinite_width_metric, X, act, degree=degree, sigma_b=sigma_b)
    lv, _ = _checked(infinite_width_log_volume, X, act, degree=degree, sigma_b=sigma_b)
    if d == 2:
        _checked(infinite_width_curvature, X, act, degree=degree, sigma_b=sigma_b)
    # rotation invariance: g(Rx) = R g(x) Rᵀ, log volume unchanged
    R = np.linalg.qr(np.random.default_rng(d).normal(size=(d, d)))[0]
    gR = infinite_width_metric(X @ R.T, act, degree=degree, sigma_b=sigma_b)
    np.testing.assert_allclose(gR, R @ g @ R.T, rtol=1e-9, atol=1e-12 * (1 + np.abs(g).max()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryAccuracyWarning)
        lvR = infinite_width_log_volume(X @ R.T, act, degree=degree, sigma_b=sigma_b)
    np.testing.assert_allclose(lvR, lv, rtol=1e-9, atol=1e-9)


# ----------------------------------------------------------------------------- invariances
def _orthogonal(n, seed):
    return torch.as_tensor(np.linalg.qr(np.random.default_rng(seed).normal(size=(n, n)))[0])


@SETTINGS
@given(data=st.data())
def test_metric_is_invariant_under_orthogonal_maps_of_the_features(data):
    """g = JᵀJ/n does not change when an orthogonal Q acts on the feature space."""
    net, d, n = data.draw(networks())
    X = data.draw(points(d))
    Q = _orthogonal(n, data.draw(st.integers(0, 100)))
    rotated = lambda x: net(x) @ Q.T  # noqa: E731
    g = pullback_metric(net, X)
    gQ = pullback_metric(rotated, X)
    np.testing.assert_allclose(gQ, g, rtol=1e-9, atol=1e-12 * (1 + np.abs(g).max()))
    s = singular_values(net, X, method="svd")
    np.testing.assert_allclose(
        singular_values(rotated, X, method="svd"), s, rtol=1e-8, atol=1e-12 * (1 + s.max())
    )
    if d <= n:  # s_i² are the eigenvalues of g
        ev = np.linalg.eigvalsh(g)[:, ::-1].clip(0)
        np.testing.assert_allclose(s**2, ev, rtol=1e-6, atol=1e-12 * (1 + ev.max()))


@SETTINGS
@given(data=st.data(), c=st.sampled_from([-3.0, 0.5, 10.0, 1e-3]))
def test_log_volume_shifts_by_log_scale_of_the_output(data, c):
    """Φ → cΦ multiplies every singular value by |c|: log volumes shift by k·log10|c|."""
    net, d, n = data.draw(networks())
    X = data.draw(points(d))
    k = data.draw(st.integers(1, min(n, d)))
    scaled = lambda x: c * net(x)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryAccuracyWarning)
        v, info = effective_volume(net, X, k=k, return_info=True)
        vc, infoc = effective_volume(scaled, X, k=k, return_info=True)
    ok = info.rank == k
    np.testing.assert_array_equal(infoc.rank, info.rank)  # resolution is relative to s_1
    # equal up to the rounding the diagnostics estimate (ill-conditioned saturated sigmoids)
    tol = info.error_estimate + infoc.error_estimate + 1e-9 * (1 + np.abs(v))
    assert np.all(np.abs(vc[ok] - v[ok] - k * np.log10(abs(c))) <= tol[ok])
    assert np.all(np.isneginf(vc[~ok]))
    if d <= n:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GeometryAccuracyWarning)
            lv, lvc = log_volume_element(net, X), log_volume_element(scaled, X)
        fin = np.isfinite(lv)
        np.testing.assert_allclose(lvc[fin], lv[fin] + d * np.log10(abs(c)), atol=1e-7)


@SETTINGS
@given(data=st.data())
def test_volume_element_under_an_orthogonal_change_of_input_coordinates(data):
    """Φ'(x) = Φ(Ax), A orthogonal: g'(x) = Aᵀ g(Ax) A, same log volume element and spectrum."""
    net, d, _n = data.draw(networks())
    X = data.draw(points(d))
    A = _orthogonal(d, data.draw(st.integers(0, 100)))
    moved = lambda x: net(x @ A.T)  # noqa: E731
    XA = X @ A.numpy().T
    g = pullback_metric(net, XA)
    np.testing.assert_allclose(
        pullback_metric(moved, X),
        A.numpy().T @ g @ A.numpy(),
        rtol=1e-9,
        atol=1e-12 * (1 + np.abs(g).max()),
    )
    s = singular_values(net, XA, method="svd")
    np.testing.assert_allclose(
        singular_values(moved, X, method="svd"), s, rtol=1e-8, atol=1e-12 * (1 + s.max())
    )


@SETTINGS
@given(data=st.data())
def test_slice_metric_transforms_with_the_basis_and_rows_are_independent(data):
    net, d, _n = data.draw(networks())
    X = data.draw(points(d))
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    E = rng.normal(size=(d, min(d, 2)))
    B = rng.normal(size=(E.shape[1], E.shape[1])) + 2 * np.eye(E.shape[1])
    G = slice_metric(net, X, E)
    np.testing.assert_allclose(
        slice_metric(net, X, E @ B),
        B.T @ G @ B,
        rtol=1e-8,
        atol=1e-12 * (1 + np.abs(G).max() * np.abs(B).max() ** 2),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryAccuracyWarning)
        lv, info = slice_log_volume(net, X, E, return_info=True)
        lvB = slice_log_volume(net, X, E @ B)
    ok = info.ok & np.isfinite(lv) if np.ndim(info.ok) else ~info.unreliable
    np.testing.assert_allclose(lvB[ok], lv[ok] + np.log10(abs(np.linalg.det(B))), atol=1e-6)
    # each row is computed independently: a duplicated point gives the same values (to the
    # last bits a batched GEMM may round differently)
    J = jacobian(net, X)
    Jd = jacobian(net, np.vstack([X, X[:1]]))
    np.testing.assert_allclose(Jd[-1], J[0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(Jd[:-1], J, rtol=1e-12, atol=1e-300)
