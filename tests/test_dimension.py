"""Intrinsic dimension: known-dimension samples, brute-force references, invariances, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from repgeo.dimension import (
    LevinaBickel,
    TwoNN,
    levina_bickel,
    local_id,
    twonn,
    twonn_ratios,
)


def _embed(P: np.ndarray, D: int, rng: np.random.Generator) -> np.ndarray:
    """Isometric embedding of the rows of P into R^D (random orthonormal columns) plus a shift."""
    Q = np.linalg.qr(rng.standard_normal((D, P.shape[1])))[0]
    return P @ Q.T + rng.standard_normal(D)


def _cube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(size=(n, d))


def _sphere(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform on the d-sphere S^d ⊂ R^{d+1}."""
    P = rng.standard_normal((n, d + 1))
    return P / np.linalg.norm(P, axis=1, keepdims=True)


def _tol(d: int) -> float:
    # estimator noise (~d/sqrt(n)) plus the known low bias near boundaries / at larger d
    return 0.08 * d + 0.25


# ----------------------------------------------------------------------------- known dimension
@pytest.mark.parametrize("shape", ["cube", "sphere"])
@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_known_dimension_in_higher_ambient_space(shape, d):
    rng = np.random.default_rng(100 + d)
    P = _cube(2000, d, rng) if shape == "cube" else _sphere(2000, d, rng)
    X = _embed(P, 25, rng)
    for est in (
        twonn(X),
        twonn(X, method="linear"),
        levina_bickel(X, 10, aggregate="harmonic"),
        levina_bickel(X, 20, aggregate="mean", unbiased=True),
    ):
        assert abs(est - d) <= _tol(d), (shape, d, est)


def test_estimates_separate_neighbouring_dimensions():
    rng = np.random.default_rng(7)
    ests = [twonn(_embed(_sphere(2500, d, rng), 20, rng)) for d in (2, 3, 4, 5)]
    assert np.all(np.diff(ests) > 0.5), ests


# ----------------------------------------------------------------------------- brute force
def _brute_sorted_distances(X: np.ndarray, k: int) -> np.ndarray:
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    return np.sort(D, axis=1)[:, :k]


def test_twonn_matches_brute_force_formulas():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 4)) @ rng.standard_normal((4, 9))
    r = _brute_sorted_distances(X, 2)
    log_mu = np.log(r[:, 1] / r[:, 0])
    n = len(X)
    assert twonn(X, method="mle") == pytest.approx((n - 1) / log_mu.sum(), rel=1e-10)
    np.testing.assert_allclose(twonn_ratios(X), r[:, 1] / r[:, 0], rtol=1e-10)
    # Facco et al.: slope through the origin of -log(1 - i/N) on the i-th smallest log mu, top 10% dropped
    keep = int(n * 0.9)
    x = np.sort(log_mu)[:keep]
    y = -np.log(1 - np.arange(1, keep + 1) / n)
    slope = np.linalg.lstsq(x[:, None], y, rcond=None)[0][0]
    assert twonn(X, method="linear") == pytest.approx(slope, rel=1e-10)


@pytest.mark.parametrize("unbiased", [False, True])
def test_levina_bickel_matches_brute_force(unbiased):
    rng = np.random.default_rng(2)
    X = rng.uniform(size=(250, 3)) @ rng.standard_normal((3, 7))
    k = 12
    T = _brute_sorted_distances(X, k)
    inv = np.log(T[:, -1:] / T[:, :-1]).sum(1) / (k - 2 if unbiased else k - 1)
    local = 1.0 / inv
    assert levina_bickel(X, k, aggregate="mean", unbiased=unbiased) == pytest.approx(
        local.mean(), rel=1e-10
    )
    assert levina_bickel(X, k, unbiased=unbiased) == pytest.approx(1.0 / inv.mean(), rel=1e-10)
    np.testing.assert_allclose(local_id(X, k, unbiased=unbiased), local, rtol=1e-10)
    np.testing.assert_allclose(
        LevinaBickel(k=k, unbiased=unbiased).fit(X).dimension_pw_, local, rtol=1e-10
    )


def test_local_twonn_matches_neighbourhood_average():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((200, 3))
    k = 8
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    order = np.argsort(D, axis=1)
    r = np.take_along_axis(D, order[:, :2], 1)
    log_mu = np.log(r[:, 1] / r[:, 0])
    expected = k / (log_mu + log_mu[order[:, :k]].sum(1))
    np.testing.assert_allclose(local_id(X, k, method="twonn"), expected, rtol=1e-10)


def test_twonn_ratios_small_exact():
    X = np.array([[0.0], [1.0], [3.0], [7.0]])
    np.testing.assert_allclose(twonn_ratios(X), [3.0, 2.0, 1.5, 1.5])


# ----------------------------------------------------------------------------- invariances
def test_invariant_to_isometries_and_scale():
    rng = np.random.default_rng(4)
    X = _embed(_cube(800, 3, rng), 10, rng)
    Q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    Y = 3.7 * X @ Q + 5.0
    perm = rng.permutation(len(X))
    for f in (twonn, lambda A: twonn(A, method="linear"), lambda A: levina_bickel(A, 15)):
        base = f(X)
        assert f(Y) == pytest.approx(base, rel=1e-6)
        assert f(X[perm]) == pytest.approx(base, rel=1e-9)
    np.testing.assert_allclose(local_id(X[perm], 10), local_id(X, 10)[perm], rtol=1e-9)


def test_local_id_separates_components():
    rng = np.random.default_rng(5)
    line = np.c_[rng.uniform(0, 1, 600), np.zeros((600, 3))]
    cube = np.c_[rng.uniform(5, 6, (600, 3)), np.zeros(600)]
    for method in ("mle", "twonn"):
        d = local_id(np.vstack([line, cube]), 20, method=method)
        assert abs(np.median(d[:600]) - 1) < 0.2
        assert abs(np.median(d[600:]) - 3) < 0.5


def test_torch_input_keeps_kind_dtype():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    Xt = torch.from_numpy(X)
    d_np = local_id(X, 10)
    d_t = local_id(Xt, 10)
    assert isinstance(d_np, np.ndarray) and d_np.dtype == np.float32
    assert isinstance(d_t, torch.Tensor) and d_t.dtype == torch.float32
    np.testing.assert_allclose(d_t.numpy(), d_np)
    assert twonn(Xt) == pytest.approx(twonn(X))
    assert isinstance(twonn_ratios(Xt), torch.Tensor)


def test_wrappers_match_functions():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((500, 3))
    est = TwoNN(method="linear", discard_fraction=0.2).fit(X)
    assert est.dimension_ == pytest.approx(twonn(X, method="linear", discard_fraction=0.2))
    assert est.mu_.shape == (500,) and est.n_samples_ == 500
    assert TwoNN().fit_transform(X) == pytest.approx(twonn(X))
    lb = LevinaBickel(k=10, aggregate="harmonic")
    assert lb.fit_transform(X) == pytest.approx(levina_bickel(X, 10, aggregate="harmonic"))


# ----------------------------------------------------------------------------- duplicates
def test_duplicates_warn_and_use_distinct_points():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((400, 3))
    Xd = np.vstack([X, X[:50]])
    with pytest.warns(UserWarning, match="50 of 450 points are exact duplicates"):
        d_dup = twonn(Xd)
    assert math.isfinite(d_dup)
    assert d_dup == pytest.approx(twonn(X), rel=1e-10)
    with pytest.warns(UserWarning, match="duplicates"):
        lb = levina_bickel(Xd, 10)
    assert lb == pytest.approx(levina_bickel(X, 10), rel=1e-10)
    with pytest.warns(UserWarning, match="duplicates"):
        loc = local_id(Xd, 10)
    ref = local_id(X, 10)
    assert loc.shape == (450,) and np.all(np.isfinite(loc))
    np.testing.assert_allclose(loc[:400], ref, rtol=1e-10)
    np.testing.assert_allclose(loc[400:], ref[:50], rtol=1e-10)
    with pytest.warns(UserWarning, match="duplicates"):
        mu = twonn_ratios(Xd)
    np.testing.assert_allclose(mu[400:], mu[:50])


def test_all_duplicates_raise():
    X = np.ones((20, 3))
    with (
        pytest.warns(UserWarning, match="duplicates"),
        pytest.raises(ValueError, match="distinct points"),
    ):
        twonn(X)


def test_regular_lattice_is_infinite_with_warning():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # every ratio r2/r1 is 1
    with pytest.warns(RuntimeWarning, match="ratios are 1"):
        assert twonn(X) == math.inf


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "fn",
    [
        twonn,
        lambda X: levina_bickel(X, 3),
        lambda X: local_id(X, 3),
        twonn_ratios,
        lambda X: TwoNN().fit(X),
        lambda X: LevinaBickel(k=3).fit(X),
    ],
)
def test_bad_input(fn):
    good = np.random.default_rng(0).standard_normal((20, 3))
    bad_nan = good.copy()
    bad_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn(bad_nan)
    with pytest.raises(ValueError, match="at least"):
        fn(np.empty((0, 3)))
    with pytest.raises(ValueError, match="2-D"):
        fn(good[:, 0])
    with pytest.raises(TypeError, match="real-valued"):
        fn(good.astype(complex))
    with pytest.raises(TypeError):
        fn(np.array([["a", "b"], ["c", "d"], ["e", "f"]], dtype=object))
    with pytest.raises(ValueError, match="at least"):
        fn(good[:2])


def test_bad_options():
    X = np.random.default_rng(0).standard_normal((30, 3))
    with pytest.raises(ValueError, match="method"):
        twonn(X, method="ols")
    with pytest.raises(ValueError, match="discard_fraction"):
        twonn(X, method="linear", discard_fraction=1.0)
    with pytest.raises(TypeError, match="k must be"):
        levina_bickel(X, 2.5)
    with pytest.raises(ValueError, match="k must be >= 2"):
        levina_bickel(X, 1)
    with pytest.raises(ValueError, match="k must be >= 3"):
        levina_bickel(X, 2, unbiased=True)
    with pytest.raises(ValueError, match="at least 31"):
        levina_bickel(X, 30)
    with pytest.raises(ValueError, match="aggregate"):
        levina_bickel(X, 5, aggregate="median")
    with pytest.raises(ValueError, match="method"):
        local_id(X, 5, method="pca")
    with pytest.raises(ValueError, match="aggregate"):
        LevinaBickel(aggregate="max").fit(X)


# ----------------------------------------------------------------------------- issue 11
def test_defaults_are_the_reference_packages_defaults():
    """Issue 11 item 7: ``twonn(X)`` is scikit-dimension's ``TwoNN()`` (the linear fit of
    Facco et al. on the smallest 90 % of the ratios, F_emp(μ_(i)) = i/N) and
    ``levina_bickel(X)`` its ``MLE()`` (k = 20, harmonic aggregate) — both transcribed here from
    scikit-dimension 0.5.0's formulas and computed on brute-force distances."""
    rng = np.random.default_rng(11)
    X = _embed(_sphere(600, 3, rng), 12, rng)
    r = _brute_sorted_distances(X, 20)
    n = len(X)
    mu = np.sort(r[:, 1] / r[:, 0])
    keep = int(n * (1 - 0.1))
    x, y = np.log(mu[:keep]), -np.log(1 - np.arange(1, keep + 1) / n)
    skdim_twonn = float(x @ y / (x @ x))
    assert twonn(X) == pytest.approx(skdim_twonn, rel=1e-10)
    assert TwoNN().fit(X).dimension_ == pytest.approx(skdim_twonn, rel=1e-10)
    local = 19 / np.log(r[:, -1:] / r[:, :-1]).sum(1)
    skdim_mle = float(1 / np.mean(1 / local))
    assert levina_bickel(X) == pytest.approx(skdim_mle, rel=1e-10)
    assert LevinaBickel().fit(X).dimension_ == pytest.approx(skdim_mle, rel=1e-10)
    # the former defaults stay available by name, and differ
    assert twonn(X, method="mle") != pytest.approx(skdim_twonn, rel=1e-3)
    assert levina_bickel(X, aggregate="mean") > skdim_mle


@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_estimates_do_not_depend_on_magnitude(scale):
    """Issue 11 item 9: distance ratios are scale-free; tiny or huge data used to give inf or
    crash (squared distances under/overflowed)."""
    rng = np.random.default_rng(12)
    X = _embed(_cube(800, 3, rng), 10, rng)
    for f in (twonn, lambda A: twonn(A, method="mle"), levina_bickel):
        assert f(X * scale) == pytest.approx(f(X), rel=1e-9)
    np.testing.assert_allclose(local_id(X * scale, 10), local_id(X, 10), rtol=1e-9)
    np.testing.assert_allclose(twonn_ratios(X * scale), twonn_ratios(X), rtol=1e-9)


def test_fit_diagnostics_travel_with_the_estimator():
    """Issue 11 item 11: duplicates and infinite estimates are kept on the fitted estimator."""
    rng = np.random.default_rng(13)
    X = rng.standard_normal((300, 3))
    Xd = np.vstack([X, X[:20]])
    with pytest.warns(UserWarning, match="duplicates"):
        est = TwoNN().fit(Xd)
    assert est.n_duplicates_ == 20 and len(est.warnings_) == 1 and "20 of 320" in est.warnings_[0]
    with pytest.warns(UserWarning, match="duplicates"):
        lb = LevinaBickel(k=5).fit(Xd)
    assert lb.n_duplicates_ == 20 and lb.warnings_
    clean = TwoNN().fit(X)
    assert clean.n_duplicates_ == 0 and clean.warnings_ == []
    lattice = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.warns(RuntimeWarning, match="ratios are 1"):
        est = TwoNN(method="mle").fit(lattice)
    assert est.dimension_ == math.inf and "infinite" in est.warnings_[0]
    with pytest.warns(RuntimeWarning, match="local estimates are infinite"):
        assert LevinaBickel(k=2, aggregate="mean").fit(lattice).dimension_ == math.inf
