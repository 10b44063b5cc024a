"""CCA, SVCCA, PWCCA: exact against QR/SVD references, closed forms, null distributions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from repgeo.latent.cca import CCA, PWCCA, SVCCA, cca, pwcca, svcca


def qr_reference(X, Y):
    """Canonical correlations: singular values of Q_xᵀQ_y (numpy QR of the centred data)."""
    qx, _ = np.linalg.qr(X - X.mean(0))
    qy, _ = np.linalg.qr(Y - Y.mean(0))
    return np.linalg.svd(qx.T @ qy, compute_uv=False)


def svd_basis(Z):
    Zc = Z - Z.mean(0)
    U, S, Vt = np.linalg.svd(Zc, full_matrices=False)
    r = int((S > S[0] * max(Zc.shape) * np.finfo(float).eps).sum())
    return U[:, :r], S[:r], Vt[:r]


def correlated(n=300, p=6, q=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))
    Y = np.tanh(X[:, :q] @ rng.normal(size=(q, q))) + 0.5 * rng.normal(size=(n, q))
    return X, Y


def test_exact_against_qr_reference():
    X, Y = correlated()
    rho = cca(X, Y)
    np.testing.assert_allclose(rho, qr_reference(X, Y), atol=1e-12)
    assert np.all(np.diff(rho) <= 0) and rho.shape == (4,)
    np.testing.assert_allclose(cca(Y, X), rho, atol=1e-12)  # symmetric


def test_kind_and_dtype_follow_x():
    X, Y = correlated()
    r32 = cca(X.astype(np.float32), Y.astype(np.float32))
    assert r32.dtype == np.float32
    np.testing.assert_allclose(
        r32,
        qr_reference(X.astype(np.float32).astype(float), Y.astype(np.float32).astype(float)),
        atol=1e-5,
    )
    rt = cca(torch.from_numpy(X), torch.from_numpy(Y))
    assert isinstance(rt, torch.Tensor) and rt.dtype == torch.float64


def test_chunked_equals_one_block():
    from repgeo._backend import memory_budget

    X, Y = correlated(n=2000)
    full = cca(X, Y)
    with memory_budget("4KB"):  # many tall-skinny QR steps
        np.testing.assert_allclose(cca(X, Y), full, atol=1e-12)


def test_identical_and_invertible_maps_give_ones():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5))
    np.testing.assert_allclose(cca(X, X), 1.0, atol=1e-12)
    np.testing.assert_allclose(cca(X, X @ rng.normal(size=(5, 5)) - 4.0), 1.0, atol=1e-10)
    assert svcca(X, 7 * X, keep=1.0) == pytest.approx(1.0, abs=1e-12)
    assert pwcca(X, X @ rng.normal(size=(5, 5))) == pytest.approx(1.0, abs=1e-10)


def test_rank_deficient_side_counts_its_rank():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(100, 3))
    Xd = np.column_stack([X, X[:, 0] + X[:, 1], np.full(100, 3.0)])  # rank 3 of 5 after centring
    Y = X @ rng.normal(size=(3, 4)) + rng.normal(size=(100, 4))
    rho = cca(Xd, Y)
    assert rho.shape == (3,)
    np.testing.assert_allclose(rho, qr_reference(X, Y), atol=1e-10)
    est = CCA().fit(Xd, Y)
    assert (est.rank_x_, est.rank_y_, est.n_trivial_) == (3, 4, 0)


def test_too_few_samples_warns_and_reports_trivial_correlations():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(10, 6)), rng.normal(size=(10, 6))
    with pytest.warns(UserWarning, match="equal 1 by construction"):
        rho = cca(X, Y)
    # two 6-D subspaces of the 9-D centred space share at least 3 directions
    np.testing.assert_allclose(rho[:3], 1.0, atol=1e-10)
    with pytest.warns(UserWarning):
        assert CCA().fit(X, Y).n_trivial_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg = cca(X, Y, regularization=0.1)
    assert reg.shape == (6,) and np.all(reg < 1.0)


def test_regularised_matches_brute_force():
    X, Y = correlated(n=80, p=5, q=3)
    eps = 0.3
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    cxx, cyy, cxy = Xc.T @ Xc, Yc.T @ Yc, Xc.T @ Yc

    def inv_sqrt(C):
        lam, V = np.linalg.eigh(C + eps * np.trace(C) / len(C) * np.eye(len(C)))
        return (V / np.sqrt(lam)) @ V.T

    ref = np.linalg.svd(inv_sqrt(cxx) @ cxy @ inv_sqrt(cyy), compute_uv=False)
    np.testing.assert_allclose(cca(X, Y, regularization=eps), ref, atol=1e-12)
    # the ridge is relative to each side's variance: rescaling a side changes nothing
    np.testing.assert_allclose(cca(1e3 * X, Y, regularization=eps), ref, atol=1e-12)


def test_null_single_pair_is_beta():
    """p = q = 1: ρ² of independent normals (centred, n samples) ~ Beta(1/2, (n − 2)/2)."""
    rng = np.random.default_rng(4)
    n = 12
    r2 = np.array(
        [cca(rng.normal(size=(n, 1)), rng.normal(size=(n, 1)))[0] ** 2 for _ in range(400)]
    )
    assert stats.kstest(r2, stats.beta(0.5, (n - 2) / 2).cdf).pvalue > 0.01


def test_null_expected_sum_of_squares():
    """Σρ² = tr(P_X P_Y) for random subspaces of the (n−1)-D centred space: E = p q / (n − 1)."""
    rng = np.random.default_rng(5)
    n, p, q = 40, 3, 5
    s = np.array(
        [np.sum(cca(rng.normal(size=(n, p)), rng.normal(size=(n, q))) ** 2) for _ in range(300)]
    )
    assert abs(s.mean() - p * q / (n - 1)) < 4 * s.std(ddof=1) / np.sqrt(s.size)


def test_null_largest_correlation_near_wachter_edge():
    rng = np.random.default_rng(6)
    n, p = 3000, 40
    est = CCA().fit(rng.normal(size=(n, p)), rng.normal(size=(n, p)))
    g = p / (n - 1)
    edge = 2 * np.sqrt(g * (1 - g))  # √λ₊ for γ_x = γ_y
    assert est.chance_level_ == pytest.approx(edge, rel=1e-12)
    assert abs(est.correlations_[0] - edge) < 0.1 * edge


def test_svcca_keeps_the_variance_asked():
    rng = np.random.default_rng(7)
    Z = rng.normal(size=(500, 3)) * [10.0, 5.0, 3.0]
    X = np.hstack([Z, 1e-3 * rng.normal(size=(500, 4))])
    Y = np.hstack([Z @ rng.normal(size=(3, 3)), rng.normal(size=(500, 2))])
    est = SVCCA(keep=0.99).fit(X, Y)
    assert est.n_components_x_ == 3 and est.variance_kept_x_ >= 0.99
    # reference: project each side on its kept singular directions, then QR-CCA
    ux, sx, _ = svd_basis(X)
    uy, sy, _ = svd_basis(Y)
    kx = int(np.searchsorted(np.cumsum(sx**2) / np.sum(sx**2), 0.99 - 1e-12) + 1)
    ky = int(np.searchsorted(np.cumsum(sy**2) / np.sum(sy**2), 0.99 - 1e-12) + 1)
    ref = qr_reference(ux[:, :kx] * sx[:kx], uy[:, :ky] * sy[:ky]).mean()
    assert est.score_ == pytest.approx(ref, abs=1e-12)
    assert svcca(X, Y) == pytest.approx(ref, abs=1e-12)
    X2, Y2 = correlated()
    assert svcca(X2, Y2, keep=1.0) == pytest.approx(np.mean(qr_reference(X2, Y2)), abs=1e-12)


def test_pwcca_matches_morcos_weights_brute_force():
    X, Y = correlated(n=400, p=5, q=3, seed=8)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    qx, _ = np.linalg.qr(Xc)
    qy, _ = np.linalg.qr(Yc)
    U, rho, _ = np.linalg.svd(qx.T @ qy, full_matrices=False)
    H = qx @ U[:, :3]  # unit-norm canonical variates on X's side
    alpha = np.abs(H.T @ Xc).sum(1)
    alpha /= alpha.sum()
    assert pwcca(X, Y) == pytest.approx(float(alpha @ rho[:3]), abs=1e-12)
    est = PWCCA().fit(X, Y)
    np.testing.assert_allclose(est.weights_, alpha, atol=1e-12)
    assert pwcca(X, Y) != pytest.approx(pwcca(Y, X), abs=1e-6)  # asymmetric


def test_estimator_contract_and_transform():
    X, Y = correlated()
    est = CCA()
    with pytest.raises(NotFittedError):
        est.transform(X, Y)
    est.fit(X, Y)
    U, V = est.transform(X, Y)
    np.testing.assert_allclose(np.linalg.norm(U, axis=0), 1.0, atol=1e-10)
    np.testing.assert_allclose(np.diag(U.T @ V), est.correlations_, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-10)
    assert est(X, Y) == pytest.approx(est.score_) and est.higher_is_better
    for cls in (CCA, SVCCA, PWCCA):
        e = cls(regularization=0.2)
        assert clone(e).get_params() == e.get_params() and e.higher_is_better
    with pytest.raises(TypeError):
        CCA(0.1)  # keyword-only
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :3], Y)


@pytest.mark.parametrize("fn", [cca, svcca, pwcca, lambda X, Y: CCA().fit(X, Y)])
def test_bad_input(fn):
    X, Y = correlated(n=50)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fn(bad, Y)
    with pytest.raises(ValueError, match="same number of samples"):
        fn(X, Y[:-1])
    with pytest.raises(ValueError, match="2-D"):
        fn(X[:, 0], Y)
    with pytest.raises(ValueError, match="at least 2"):
        fn(X[:1], Y[:1])
    with pytest.raises(TypeError):
        fn(X.astype(complex), Y)
    with pytest.raises(ValueError, match="zero variance"):
        fn(np.ones_like(X), Y)


def test_bad_options():
    X, Y = correlated(n=50)
    with pytest.raises(ValueError, match="regularization"):
        cca(X, Y, regularization=-1.0)
    with pytest.raises(TypeError, match="regularization"):
        cca(X, Y, regularization="big")
    for keep in (0.0, 1.5):
        with pytest.raises(ValueError, match="keep"):
            svcca(X, Y, keep=keep)


def test_one_column_y_gives_the_multiple_correlation():
    """CCA of X with one variable y: the single ρ is the multiple correlation R = √(R² of OLS)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 4))
    y = X @ rng.normal(size=4) + rng.normal(size=200)
    A = np.column_stack([np.ones(200), X])
    resid = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    R = np.sqrt(1 - resid @ resid / np.sum((y - y.mean()) ** 2))
    est = CCA().fit(X, y)  # a 1-D y is one column
    assert est.correlations_.shape == (1,)
    assert est.correlations_[0] == pytest.approx(R, abs=1e-12)
    np.testing.assert_array_equal(est.correlations_, CCA().fit(X, y[:, None]).correlations_)
    for cls in (SVCCA, PWCCA):
        assert cls().fit(X, y).score_ == pytest.approx(R, abs=1e-12)
    assert est.n_features_in_ == 4


def test_transform_score_and_fit_transform_follow_sklearn():
    X, Y = correlated()
    est = CCA().fit(X, Y)
    U, V = est.transform(X, Y)
    np.testing.assert_array_equal(est.transform(X), U)  # y is optional
    U2, V2 = CCA().fit_transform(X, Y)  # sklearn's CCA convention: the pair
    np.testing.assert_allclose(U2, U, atol=1e-12)
    np.testing.assert_allclose(V2, V, atol=1e-12)
    # score: the metric of new data afresh, no fit needed, the estimator unchanged
    assert CCA().score(X, Y) == pytest.approx(float(np.mean(qr_reference(X, Y))), abs=1e-12)
    assert est.score(X[:100, :3], Y[:100]) == pytest.approx(
        float(np.mean(qr_reference(X[:100, :3], Y[:100]))), abs=1e-12
    )
    assert est.n_features_in_ == 6 and est.n_samples_ == 300
    assert SVCCA().score(X, Y) == pytest.approx(svcca(X, Y), abs=1e-15)
    assert PWCCA().score(X, Y) == pytest.approx(pwcca(X, Y), abs=1e-15)
    # float32 tensors in, float32 tensors out
    Ut = est.transform(torch.from_numpy(X).float())
    assert isinstance(Ut, torch.Tensor) and Ut.dtype == torch.float32
    np.testing.assert_allclose(Ut.numpy(), U, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="y has 3 features, but CCA is expecting 4"):
        est.transform(X, Y[:, :3])
    with pytest.raises(ValueError, match="X has 3 features, but CCA is expecting 6"):
        est.transform(X[:, :3])
    for cls in (CCA, SVCCA, PWCCA):
        with pytest.raises(ValueError, match="requires y"):
            cls().fit(X, None)
