"""Bootstrap intervals (coverage, BCa against its definition) and permutation tests (uniform
p-values under the null), for paired similarities and single-space quantities."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from repgeo.coding import coding_rate_reduction
from repgeo.dimension import twonn
from repgeo.latent import linear_cka
from repgeo.latent.cca import cca, pwcca, svcca
from repgeo.latent.rsa import rsa
from repgeo.latent.shape import shape_distance
from repgeo.latent.uncertainty import (
    SIMILARITY_MEASURES,
    bootstrap_ci,
    compare_with_intervals,
    permutation_test,
)


def cka_population(p=5, seed=123):
    """X ~ N(0, I_p), Y = X A + E: population linear CKA = ‖A‖²_F / (√p ‖AᵀA + I‖_F)."""
    A = np.random.default_rng(seed).normal(size=(p, p)) * 0.5
    return A, float(np.sum(A**2) / (np.sqrt(p) * np.linalg.norm(A.T @ A + np.eye(p))))


def coverage(method, reps, n_boot, n=200, p=5):
    A, truth = cka_population(p)
    hits = 0
    for r in range(reps):
        rng = np.random.default_rng(r)
        X = rng.normal(size=(n, p))
        Y = X @ A + rng.normal(size=(n, p))
        res = bootstrap_ci(linear_cka, X, Y, n_boot=n_boot, method=method, random_state=r)
        hits += res.low <= truth <= res.high
    return hits / reps


def test_coverage_of_linear_cka_fast():
    assert coverage("subsample", reps=30, n_boot=150) >= 25 / 30


@pytest.mark.slow
@pytest.mark.parametrize("method", ["bca", "percentile", "subsample"])
def test_coverage_of_linear_cka_100_repeats(method):
    assert coverage(method, reps=100, n_boot=1000, n=300) >= 0.90


def test_percentile_interval_of_a_mean():
    x = np.random.default_rng(0).normal(loc=3.0, size=400)
    r = bootstrap_ci(np.mean, x, n_boot=2000, method="percentile")
    assert r.low < 3.0 < r.high
    assert r.stderr == pytest.approx(x.std(ddof=1) / 20, rel=0.1)
    assert abs(r.bias) < 0.01 and r.n_boot == 2000 and r.n_failed == 0
    assert float(r) == r.estimate == pytest.approx(x.mean())
    assert r.high - r.low == pytest.approx(2 * 1.96 * x.std(ddof=1) / 20, rel=0.1)


def test_bca_follows_its_definition_and_scipy():
    """Full jackknife (groups >= n): z0 and a recomputed by hand; the interval near scipy's BCa."""
    x = np.random.default_rng(1).exponential(size=60)
    r = bootstrap_ci(np.mean, x, n_boot=4000, method="bca", jackknife_groups=60)
    theta = r.replicates
    z0 = stats.norm.ppf(
        (np.sum(theta < r.estimate) + 0.5 * np.sum(theta == r.estimate)) / theta.size
    )
    loo = np.array([np.delete(x, i).mean() for i in range(60)])
    u = loo.mean() - loo
    a = np.sum(u**3) / (6 * np.sum(u**2) ** 1.5)
    assert r.info["z0"] == pytest.approx(z0) and r.info["acceleration"] == pytest.approx(a)
    ref = stats.bootstrap((x,), np.mean, n_resamples=4000, method="BCa", random_state=0)
    ci = ref.confidence_interval
    assert r.low == pytest.approx(ci.low, abs=0.03) and r.high == pytest.approx(ci.high, abs=0.03)
    # skewed data: BCa moves the interval right of the percentile one
    p = bootstrap_ci(np.mean, x, n_boot=4000, method="percentile")
    assert r.high > p.high


def test_subsample_never_duplicates_rows_and_rescales():
    seen = []

    def fn(x):
        seen.append(len(np.unique(x)) == len(x))
        return float(np.mean(x))

    x = np.random.default_rng(2).normal(size=200)
    r = bootstrap_ci(fn, x, n_boot=300, method="subsample")
    assert all(seen) and r.info["subsample_size"] == 100
    assert r.stderr == pytest.approx(x.std() / np.sqrt(200), rel=0.15)  # m/(n−m) = 1


def test_same_seed_same_numbers_and_tensors():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(80, 4)), rng.normal(size=(80, 3))
    a = bootstrap_ci(linear_cka, X, Y, n_boot=50, random_state=7)
    b = bootstrap_ci(linear_cka, X, Y, n_boot=50, random_state=7)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    t = bootstrap_ci(
        linear_cka, torch.from_numpy(X), torch.from_numpy(Y), n_boot=50, random_state=7
    )
    np.testing.assert_allclose(t.replicates, a.replicates, atol=1e-12)


def test_single_space_quantities():
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6))
    r = bootstrap_ci(twonn, Z, n_boot=40, method="subsample")  # no duplicated points
    assert r.low < r.estimate < r.high and 1.5 < r.estimate < 2.5
    y = np.repeat([0, 1, 2], 100)
    r = bootstrap_ci(coding_rate_reduction, Z, y, n_boot=40)  # labels travel with their rows
    assert r.estimate == pytest.approx(coding_rate_reduction(Z, y)) and r.low <= r.high


def test_failures_are_counted_and_warnings_collected():
    calls = {"n": 0}

    def flaky(x):
        calls["n"] += 1
        if calls["n"] % 25 == 0:
            raise ValueError("degenerate resample")
        warnings.warn("noisy", UserWarning, stacklevel=2)
        return float(np.mean(x))

    x = np.random.default_rng(5).normal(size=50)
    with pytest.warns(UserWarning, match=r"in \d+ of 100 bootstrap replicates: noisy"):
        r = bootstrap_ci(flaky, x, n_boot=100, method="percentile")
    assert r.n_failed == 4 and r.n_boot == 96

    def broken(x):
        raise ValueError("always")

    with pytest.raises(ValueError, match="always"):
        bootstrap_ci(broken, x)


def test_bca_undefined_when_all_replicates_on_one_side():
    x = np.random.default_rng(6).normal(size=50)
    with pytest.raises(ValueError, match="BCa is undefined"):
        bootstrap_ci(lambda v: float(len(np.unique(v))), x, n_boot=50)


def test_permutation_pvalues_uniform_under_null():
    pvals = []
    for r in range(80):
        rng = np.random.default_rng(100 + r)
        X, Y = rng.normal(size=(15, 3)), rng.normal(size=(15, 2))
        pvals.append(permutation_test(linear_cka, X, Y, n_permutations=39, random_state=r).pvalue)
    pvals = np.array(pvals)
    assert pvals.min() >= 1 / 40
    assert stats.kstest(pvals, "uniform").pvalue > 0.01


@pytest.mark.slow
def test_permutation_pvalues_uniform_under_null_500_repeats():
    pvals = []
    for r in range(500):
        rng = np.random.default_rng(1000 + r)
        X, Y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4))
        pvals.append(permutation_test(linear_cka, X, Y, n_permutations=199, random_state=r).pvalue)
    assert stats.kstest(pvals, "uniform").pvalue > 0.01


def test_permutation_direction_and_power():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60, 4))
    Y = X @ rng.normal(size=(4, 4)) + 0.5 * rng.normal(size=(60, 4))
    for fn in (linear_cka, svcca, pwcca, rsa):
        assert permutation_test(fn, X, Y, n_permutations=99).pvalue == pytest.approx(0.01)
    d = permutation_test(shape_distance, X, Y, n_permutations=99)
    assert d.alternative == "less" and d.pvalue == pytest.approx(0.01)
    wrong = permutation_test(shape_distance, X, Y, n_permutations=99, alternative="greater")
    assert wrong.pvalue > 0.9
    two = permutation_test(linear_cka, X, Y, n_permutations=99, alternative="two-sided")
    assert two.pvalue == pytest.approx(0.02) and two.null_distribution.shape == (99,)


def test_compare_with_intervals_matches_the_functions():
    rng = np.random.default_rng(8)
    X = rng.normal(size=(120, 6))
    Y = np.tanh(X @ rng.normal(size=(6, 5))) + 0.3 * rng.normal(size=(120, 5))
    res = compare_with_intervals(X, Y, measures=list(SIMILARITY_MEASURES), n_boot=20)
    expect = {
        "linear_cka": linear_cka(X, Y),
        "mean_cca": float(np.mean(cca(X, Y))),
        "svcca": svcca(X, Y),
        "pwcca": pwcca(X, Y),
        "shape_distance": shape_distance(X, Y),
        "cca_shape_distance": shape_distance(X, Y, alpha=0.0),
        "rsa": rsa(X, Y),
    }
    for name, value in expect.items():
        assert res[name]["estimate"] == pytest.approx(value, abs=1e-10), name
    for name, r in res.items():
        assert r["higher_is_better"] == SIMILARITY_MEASURES[name].higher_is_better
        assert r["low"] < r["high"] and r["n_boot"] == 20 and isinstance(r["estimate"], float)
    # the shared-QR linear family sees the same resamples as each measure alone
    alone = compare_with_intervals(X, Y, measures=("svcca",), n_boot=20)["svcca"]
    assert alone == res["svcca"]
    bca = compare_with_intervals(X, Y, measures=("pwcca",), n_boot=30, method="bca")["pwcca"]
    assert bca["method"] == "bca"


def test_bad_input():
    X = np.random.default_rng(9).normal(size=(30, 3))
    with pytest.raises(TypeError, match="callable"):
        bootstrap_ci("cka", X, X)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_ci(linear_cka, X, X, n_boot=1)
    with pytest.raises(ValueError, match="level"):
        bootstrap_ci(linear_cka, X, X, level=1.0)
    with pytest.raises(ValueError, match="method"):
        bootstrap_ci(linear_cka, X, X, method="normal")
    with pytest.raises(ValueError, match="subsample_size"):
        bootstrap_ci(linear_cka, X, X, method="subsample", subsample_size=30)
    with pytest.raises(ValueError, match="only used"):
        bootstrap_ci(linear_cka, X, X, subsample_size=10)
    with pytest.raises(ValueError, match="same number of samples"):
        bootstrap_ci(linear_cka, X, X[:-1])
    nan = X.copy()
    nan[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci(linear_cka, nan, X)
    with pytest.raises(TypeError, match="single number"):
        bootstrap_ci(lambda a: a[:2, 0], X)
    with pytest.raises(TypeError, match="Y is required"):
        permutation_test(linear_cka, X, None)
    with pytest.raises(ValueError, match="alternative"):
        permutation_test(linear_cka, X, X, alternative="bigger")
    with pytest.raises(ValueError, match="measures"):
        compare_with_intervals(X, X, measures=("cka2",))
    with pytest.raises(TypeError, match="sequence"):
        compare_with_intervals(X, X, measures="linear_cka")
    with pytest.raises(ValueError, match="at least one"):
        compare_with_intervals(X, X, measures=())


@pytest.mark.parametrize("shape", [(60, 90, 40), (200, 5, 7)])  # Gram form, covariance form
def test_linear_cka_alone_equals_the_shared_qr_path(shape):
    # asked alone, linear CKA takes GEMMs instead of the joint QR + SVDs: same resamples, so the
    # same estimate and interval as when it shares the QR with the CCA family
    n, p, q = shape
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, p))
    Y = np.tanh(X[:, :3] @ rng.normal(size=(3, q))) + 0.5 * rng.normal(size=(n, q))
    alone = compare_with_intervals(X, Y, measures=("linear_cka",), n_boot=15, random_state=1)
    shared = compare_with_intervals(
        X, Y, measures=("linear_cka", "mean_cca"), n_boot=15, random_state=1
    )
    for key in ("estimate", "low", "high"):
        assert alone["linear_cka"][key] == pytest.approx(shared["linear_cka"][key], abs=1e-12)
    with pytest.raises(ValueError, match="zero variance"):
        compare_with_intervals(np.ones((n, p)), Y, measures=("linear_cka",), n_boot=5)
