"""RSA: RDMs against scipy's pdist, comparisons against scipy and brute force, chunking."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats
from scipy.spatial.distance import pdist
from sklearn.base import clone

from repgeo._backend import memory_budget
from repgeo.latent.rsa import RDM_METRICS, RSA, _pair_rows, compare_rdms, rdm, rsa


def pair(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 7))
    return X, np.tanh(X @ rng.normal(size=(7, 5))) + 0.3 * rng.normal(size=(n, 5))


def tau_a_brute(a, b):
    s = 0.0
    for i, j in itertools.combinations(range(len(a)), 2):
        s += np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])
    return s / (len(a) * (len(a) - 1) / 2)


@pytest.mark.parametrize("metric", RDM_METRICS)
def test_rdm_matches_pdist(metric):
    X, _ = pair()
    np.testing.assert_allclose(rdm(X, metric=metric), pdist(X, metric), atol=1e-12, rtol=1e-10)


def test_rdm_kind_dtype_and_chunking():
    X, _ = pair(n=300)
    full = rdm(X)
    with memory_budget("16KB"):  # one or two rows per block
        np.testing.assert_allclose(rdm(X), full, rtol=0, atol=1e-14)  # BLAS blocking: ulps
    r32 = rdm(X.astype(np.float32))
    assert r32.dtype == np.float32 and r32.shape == (300 * 299 // 2,)
    rt = rdm(torch.from_numpy(X))
    assert isinstance(rt, torch.Tensor)
    np.testing.assert_allclose(rt.numpy(), full)


@pytest.mark.parametrize("metric", ["correlation", "euclidean"])
def test_rsa_matches_scipy(metric):
    X, Y = pair()
    a, b = pdist(X, metric), pdist(Y, metric)
    assert rsa(X, Y, metric=metric) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert rsa(X, Y, metric=metric, compare="pearson") == pytest.approx(
        stats.pearsonr(a, b).statistic, abs=1e-12
    )
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert rsa(X, Y, metric=metric, compare="cosine") == pytest.approx(cos, abs=1e-12)
    assert rsa(X[:20], Y[:20], metric=metric, compare="kendall_tau_a") == pytest.approx(
        tau_a_brute(pdist(X[:20], metric), pdist(Y[:20], metric)), abs=1e-12
    )


def test_streamed_comparisons_equal_materialised_under_tiny_budget():
    X, Y = pair(n=200)
    with memory_budget("16KB"):
        for compare in ("pearson", "cosine"):
            assert rsa(X, Y, compare=compare) == pytest.approx(
                compare_rdms(pdist(X, "correlation"), pdist(Y, "correlation"), method=compare),
                abs=1e-12,
            )


def test_kendall_tau_a_and_spearman_with_ties():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, size=60).astype(float)  # a "model RDM" with many ties
    b = a + rng.integers(0, 3, size=60)
    assert compare_rdms(a, b, method="kendall_tau_a") == pytest.approx(tau_a_brute(a, b), abs=1e-12)
    assert compare_rdms(a, b, method="kendall_tau_a") < stats.kendalltau(a, b).statistic  # τ_b
    assert compare_rdms(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert compare_rdms(np.ones(10), np.arange(10.0), method="kendall_tau_a") == 0.0
    a_copy = a.copy()
    compare_rdms(a, b)
    np.testing.assert_array_equal(a, a_copy)  # the ranking never overwrites the caller's data


def test_pair_rows_and_subsampled_estimate():
    for n in (2, 3, 17, 101):
        i, j = _pair_rows(np.arange(n * (n - 1) // 2), n)
        ii, jj = np.triu_indices(n, 1)
        np.testing.assert_array_equal(i, ii)
        np.testing.assert_array_equal(j, jj)
    X, Y = pair(n=120)
    exact = rsa(X, Y)
    assert rsa(X, Y, max_pairs=10**6) == exact  # more than there are: exact
    est = RSA(max_pairs=2000).fit(X, Y)
    assert est.n_pairs_ == 120 * 119 // 2 and est.n_pairs_used_ == 2000
    assert abs(est.score_ - exact) < 0.05
    assert est.score_ == RSA(max_pairs=2000).fit(X, Y).score_  # seeded
    assert clone(est).get_params()["max_pairs"] == 2000 and RSA.higher_is_better


def test_invariances():
    X, _ = pair()
    rng = np.random.default_rng(2)
    Q, _ = np.linalg.qr(rng.normal(size=(7, 7)))
    assert rsa(X, X @ Q, metric="euclidean") == pytest.approx(1.0, abs=1e-12)
    assert rsa(X, 3 * X + 1, metric="correlation", compare="pearson") == pytest.approx(
        1.0, abs=1e-12
    )


def test_bad_input():
    X, Y = pair()
    with pytest.raises(ValueError, match="metric"):
        rdm(X, metric="manhattan")
    with pytest.raises(ValueError, match="compare"):
        rsa(X, Y, compare="kendall")
    with pytest.raises(ValueError, match="same number of samples"):
        rsa(X, Y[:-1])
    with pytest.raises(ValueError, match="at least 3"):
        rsa(X[:2], Y[:2])
    const = X.copy()
    const[4] = 1.0
    with pytest.raises(ValueError, match="constant"):
        rdm(const)
    with pytest.raises(ValueError, match="all-zero"):
        rsa(np.vstack([np.zeros(7), X[1:]]), Y, metric="cosine")
    nan = X.copy()
    nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rsa(nan, Y)
    with pytest.raises(ValueError, match="max_pairs"):
        rsa(X, Y, max_pairs=1)
    with pytest.raises(ValueError, match="constant"):
        compare_rdms(np.ones(5), np.arange(5.0), method="pearson")
    with pytest.raises(ValueError, match="1-D"):
        compare_rdms(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="same number"):
        compare_rdms(np.arange(4.0), np.arange(5.0))


def test_estimator_one_column_y_and_score_afresh():
    X, Y = pair(n=30)
    y = Y[:, 0]
    ref = stats.spearmanr(pdist(X), pdist(y[:, None])).statistic  # |y_i − y_j| as its RDM
    est = RSA(metric="euclidean").fit(X, y)
    assert est.score_ == pytest.approx(ref, abs=1e-12)
    assert est.n_features_in_ == 7 and est.n_pairs_ == 30 * 29 // 2
    assert RSA().score(X, Y) == pytest.approx(rsa(X, Y), abs=1e-15)  # no fit needed
    assert RSA()(X, Y) == RSA().fit(X, Y).score_
    with pytest.raises(ValueError, match="requires y"):
        RSA().fit(X, None)
