import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from repgeo.neighbors import knn


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "inner"])
def test_knn_matches_brute_force(metric, rng):
    X = rng.standard_normal((200, 7))
    Q = rng.standard_normal((50, 7))
    vals, idx = knn(X, 5, query=Q, metric=metric)
    if metric in ("euclidean", "sqeuclidean"):
        D = cdist(Q, X, "sqeuclidean" if metric == "sqeuclidean" else "euclidean")
        ref_idx = np.argsort(D, 1)[:, :5]
        ref = np.take_along_axis(D, ref_idx, 1)
    else:
        S = Q @ X.T
        if metric == "cosine":
            S = S / np.linalg.norm(Q, axis=1)[:, None] / np.linalg.norm(X, axis=1)[None]
        ref_idx = np.argsort(-S, 1)[:, :5]
        ref = np.take_along_axis(S, ref_idx, 1)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(vals, ref, rtol=1e-10, atol=1e-10)
    assert vals.dtype == np.float64


def test_knn_excludes_self_and_keeps_float32(rng):
    X = rng.standard_normal((100, 3)).astype(np.float32)
    d, i = knn(X, 3)
    assert not np.any(i == np.arange(100)[:, None])
    assert d.dtype == np.float32
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(d, np.sort(D, 1)[:, :3], rtol=1e-5)
    # torch input works too
    d2, _ = knn(torch.from_numpy(X), 3)
    np.testing.assert_allclose(d, d2)


def test_knn_bad_input(rng):
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="k must be <= 9"):
        knn(X, 10)
    with pytest.raises(ValueError, match="same number of features"):
        knn(X, 2, query=np.zeros((2, 4)))
    with pytest.raises(ValueError, match="metric must be one of"):
        knn(X, 2, metric="manhattan")
    with pytest.raises(ValueError, match="NaN"):
        knn(np.full((3, 2), np.nan), 1)
    with pytest.raises(ValueError, match="at least 1 sample"):
        knn(np.zeros((0, 2)), 1)
