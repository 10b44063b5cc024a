import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from repgeo.neighbors import knn


@pytest.mark.parametrize(
    ("metric", "backend"),
    [
        ("euclidean", "faiss"),
        ("euclidean", "tree"),
        ("sqeuclidean", "auto"),
        ("cosine", "auto"),
        ("inner", "faiss"),
    ],
)
def test_knn_matches_brute_force(metric, backend, rng):
    X = rng.standard_normal((200, 7))
    Q = rng.standard_normal((50, 7))
    vals, idx = knn(X, 5, query=Q, metric=metric, backend=backend)
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


@pytest.mark.parametrize("backend", ["faiss", "tree"])
def test_knn_excludes_self_and_keeps_float32(backend, rng):
    X = rng.standard_normal((100, 3)).astype(np.float32)
    d, i = knn(X, 3, backend=backend)
    assert not np.any(i == np.arange(100)[:, None])
    assert d.dtype == np.float32
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_allclose(d, np.sort(D, 1)[:, :3], rtol=1e-5)
    # torch input works too
    d2, _ = knn(torch.from_numpy(X), 3, backend=backend)
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
    with pytest.raises(ValueError, match="backend must be one of"):
        knn(X, 2, backend="annoy")
    with pytest.raises(ValueError, match="euclidean metrics only"):
        knn(X, 2, metric="cosine", backend="tree")
    with pytest.raises(ValueError, match="at least 1 sample"):
        knn(np.zeros((0, 2)), 1)


@pytest.mark.parametrize("backend", ["faiss", "tree"])
def test_knn_duplicates_keep_zero_distance(backend):
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    d, i = knn(X, 1, backend=backend)
    assert d[0, 0] == 0 and i[0, 0] == 1 and i[1, 0] == 0
