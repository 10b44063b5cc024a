"""Shape metrics: a brute-force netrep-style reference, and the metric axioms over random triples."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from repgeo.latent.cca import cca
from repgeo.latent.shape import ShapeDistance, shape_distance


def reference(X, Y, alpha, method="angular"):
    """Data-space preprocessing (centre, partial whitening with the covariance, variance kept,
    zero-pad) and scipy's orthogonal Procrustes, as in Williams et al. / netrep."""
    n = len(X)
    out = []
    for Z in (X, Y):
        Z = Z - Z.mean(0)
        lam, V = np.linalg.eigh(Z.T @ Z / n)
        keep = lam > lam.max() * 1e-12
        lam, V = lam[keep], V[:, keep]
        d = alpha + (1 - alpha) / np.sqrt(lam)
        d *= np.sqrt(lam.sum() / np.sum((alpha * np.sqrt(lam) + (1 - alpha)) ** 2))
        out.append(Z @ (V * d) @ V.T)
    a, b = out
    m = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, m - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, m - b.shape[1])))
    R, _ = orthogonal_procrustes(a, b)
    a = a @ R
    if method == "angular":
        return np.arccos(np.clip(np.sum(a * b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))
    return np.linalg.norm(a - b) / np.sqrt(n)


def pair(n=150, p=5, q=7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)) @ rng.normal(size=(p, p))
    Y = np.tanh(X @ rng.normal(size=(p, q))) + 0.2 * rng.normal(size=(n, q))
    return X, Y


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("method", ["angular", "euclidean"])
def test_matches_brute_force_reference(alpha, method):
    X, Y = pair()
    assert shape_distance(X, Y, alpha=alpha, method=method) == pytest.approx(
        reference(X, Y, alpha, method), rel=1e-9, abs=1e-12
    )


def test_alpha_zero_is_arccos_mean_cca():
    X, Y = pair(p=6, q=6)
    assert shape_distance(X, Y, alpha=0.0) == pytest.approx(
        np.arccos(np.mean(cca(X, Y))), abs=1e-12
    )


def test_zero_for_rotated_copies_and_scale_for_angular():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    for alpha in (0.0, 0.5, 1.0):
        assert shape_distance(X, X @ Q + 2.0, alpha=alpha) < 1e-6
        if alpha in (0.0, 1.0):  # 0 < α < 1 mixes 1 with λ^{-1/2}: not scale-free
            assert shape_distance(X, 4.0 * X @ Q, alpha=alpha) < 1e-6
        else:
            assert shape_distance(X, 4.0 * X @ Q, alpha=alpha) > 1e-3
        assert shape_distance(X, X @ Q + 2.0, alpha=alpha, method="euclidean") < 1e-6
    # a zero-padded copy is the same shape
    assert shape_distance(X, np.hstack([X @ Q, np.zeros((100, 3))])) < 1e-6
    # angular ignores scale, Euclidean does not
    assert shape_distance(X, 3 * X, method="euclidean") == pytest.approx(
        2 * np.sqrt(np.sum((X - X.mean(0)) ** 2) / 100)
    )


def test_metric_axioms_over_random_triples():
    """netrep's test: symmetry, identity, triangle inequality, for mixed widths and α."""
    rng = np.random.default_rng(2)
    for t in range(12):
        n = 40
        widths = rng.integers(2, 8, size=3)
        Z = rng.normal(size=(n, 3))
        spaces = [
            np.tanh(Z @ rng.normal(size=(3, w))) + rng.uniform(0.1, 1.0) * rng.normal(size=(n, w))
            for w in widths
        ]
        alpha = [0.0, 0.5, 1.0][t % 3]
        method = ["angular", "euclidean"][t % 2]
        D = np.zeros((3, 3))
        for i, j in itertools.product(range(3), repeat=2):
            D[i, j] = shape_distance(spaces[i], spaces[j], alpha=alpha, method=method)
        assert np.all(np.abs(np.diag(D)) < 1e-6)
        np.testing.assert_allclose(D, D.T, atol=1e-10)
        assert np.all(D >= 0)
        for i, j, k in itertools.permutations(range(3)):
            assert D[i, k] <= D[i, j] + D[j, k] + 1e-9


def test_estimator_fit_transform_distance():
    X, Y = pair(n=200)
    est = ShapeDistance(alpha=0.5)
    with pytest.raises(NotFittedError):
        est.transform(X, Y)
    est.fit(X, Y)
    assert est.distance_ == pytest.approx(shape_distance(X, Y, alpha=0.5), abs=1e-10)
    assert est.distance(X, Y) == pytest.approx(est.distance_, abs=1e-8)  # same rows, fitted maps
    Xa, Ya = est.transform(X, Y)
    assert Xa.shape == Ya.shape == (200, 7)
    R = est.rotation_  # X (5 columns) is zero-padded to 7: only its 5 rows are determined
    np.testing.assert_allclose(R[:5] @ R[:5].T, np.eye(5), atol=1e-8)
    np.testing.assert_allclose(R[5:], 0.0, atol=1e-12)
    assert ShapeDistance.higher_is_better is False and est(X, Y) == pytest.approx(est.distance_)
    assert clone(est).get_params() == {"alpha": 0.5, "method": "angular"}
    # held-out: a noisy rotation fitted on one half stays close on the other
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    Z = rng.normal(size=(400, 5))
    W = Z @ Q + 0.05 * rng.normal(size=(400, 5))
    held = ShapeDistance().fit(Z[:200], W[:200]).distance(Z[200:], W[200:])
    assert held < 0.1
    with pytest.raises(ValueError, match="features"):
        est.transform(X[:, :2], Y)


def test_tensor_input():
    X, Y = pair()
    d = shape_distance(torch.from_numpy(X).float(), torch.from_numpy(Y).float())
    assert d == pytest.approx(
        reference(X.astype(np.float32).astype(float), Y.astype(np.float32).astype(float), 1.0),
        abs=1e-5,
    )


def test_bad_input():
    X, Y = pair(n=30)
    with pytest.raises(ValueError, match="alpha"):
        shape_distance(X, Y, alpha=1.5)
    with pytest.raises(ValueError, match="method"):
        shape_distance(X, Y, method="cosine")
    with pytest.raises(ValueError, match="same number of samples"):
        shape_distance(X, Y[:10])
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinity"):
        shape_distance(bad, Y)
    with pytest.raises(ValueError, match="zero variance"):
        shape_distance(np.zeros_like(X), Y)
    with pytest.raises(ValueError, match="2-D"):
        shape_distance(np.ones(30), Y)
    with pytest.raises(ValueError, match="zero variance"):
        ShapeDistance().fit(X, np.ones_like(Y))


def test_transform_keeps_the_input_kind_and_is_what_distance_compares():
    X, Y = pair(n=120)
    est = ShapeDistance(alpha=0.5).fit(X, Y)
    Xa, Ya = est.transform(X, Y)
    np.testing.assert_array_equal(est.transform(X), Xa)  # y is optional
    np.testing.assert_array_equal(est.fit_transform(X, Y), Xa)  # sklearn: fit(X, y).transform(X)
    # the angle between the transformed sides is the fitted distance, which is the function's
    cos = np.sum(Xa * Ya) / np.linalg.norm(Xa) / np.linalg.norm(Ya)
    assert np.arccos(cos) == pytest.approx(reference(X, Y, 0.5), abs=1e-8)
    Xt = est.transform(torch.from_numpy(X).float(), align=False)
    assert isinstance(Xt, torch.Tensor) and Xt.dtype == torch.float32
    np.testing.assert_allclose(Xt.numpy(), est.transform(X, align=False), rtol=1e-4, atol=1e-5)
    # a distance: no `score` (scikit-learn's model selection would maximise it)
    assert not hasattr(est, "score") and est.n_features_in_ == 5
    assert ShapeDistance()(X, Y) == pytest.approx(shape_distance(X, Y), abs=1e-15)
    # a 1-D y is one column: the same as passing it as (n, 1)
    d1 = ShapeDistance().fit(X, Y[:, 0]).distance_
    assert d1 == ShapeDistance().fit(X, Y[:, :1]).distance_
    assert d1 == pytest.approx(reference(X, Y[:, :1], 1.0), abs=1e-10)
    with pytest.raises(ValueError, match="y has 3 features, but ShapeDistance is expecting 7"):
        est.distance(X, Y[:, :3])
    with pytest.raises(ValueError, match="requires y"):
        ShapeDistance().fit(X, None)
