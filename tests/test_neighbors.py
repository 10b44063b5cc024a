import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

import repgeo.neighbors as nbr
from repgeo._backend import cpu_workers, memory_budget
from repgeo.neighbors import knn

BACKENDS = ["torch", "faiss", "tree"]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def brute(X, Q, k, metric, exclude_self):
    """Float64 brute force: direct differences (cdist), ordered by (value, index)."""
    X64, Q64 = np.asarray(X, dtype=np.float64), np.asarray(Q, dtype=np.float64)
    if metric in ("euclidean", "sqeuclidean"):
        V = cdist(Q64, X64, "sqeuclidean")
        key = V.copy()
    else:
        V = Q64 @ X64.T
        if metric == "cosine":
            V = V / np.linalg.norm(Q64, axis=1)[:, None] / np.linalg.norm(X64, axis=1)[None]
        key = -V
    if exclude_self:
        np.fill_diagonal(key, np.inf)
    idx = np.argsort(key, axis=1, kind="stable")[:, :k]  # stable: equal values by index
    vals = np.take_along_axis(V, idx, 1)
    return (np.sqrt(vals) if metric == "euclidean" else vals), idx


def backends_for(metric):
    return [b for b in BACKENDS if b != "tree" or metric in ("euclidean", "sqeuclidean")]


@pytest.mark.parametrize(
    ("metric", "backend"),
    [
        ("euclidean", "faiss"),
        ("euclidean", "tree"),
        ("euclidean", "torch"),
        ("sqeuclidean", "auto"),
        ("sqeuclidean", "torch"),
        ("cosine", "auto"),
        ("cosine", "faiss"),
        ("inner", "faiss"),
        ("inner", "torch"),
    ],
)
def test_knn_matches_brute_force(metric, backend, rng):
    X = rng.standard_normal((200, 7))
    Q = rng.standard_normal((50, 7))
    vals, idx = knn(X, 5, query=Q, metric=metric, backend=backend)
    ref, ref_idx = brute(X, Q, 5, metric, exclude_self=False)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(vals, ref, rtol=1e-10, atol=1e-10)
    assert vals.dtype == np.float64 and idx.dtype == np.int64


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "inner"])
@pytest.mark.parametrize("k", [1, 5])
def test_every_backend_is_exact_on_the_grouped_path(metric, k, rng, monkeypatch):
    # groups of 8 columns: n = 603 is enough for the torch path's two-stage selection, and
    # the last group is padded
    monkeypatch.setattr(nbr, "_GROUP", 8)
    X = rng.standard_normal((603, 10))
    ref, ref_idx = brute(X, X, k, metric, exclude_self=True)
    assert 608 // nbr._GROUP >= 4 * (k + nbr._margin(k))  # the grouped selection is used
    for backend in backends_for(metric):
        vals, idx = knn(X, k, metric=metric, backend=backend)
        np.testing.assert_array_equal(idx, ref_idx, err_msg=backend)
        np.testing.assert_allclose(vals, ref, rtol=1e-12, atol=1e-12, err_msg=backend)


def _near_duplicates(rng, n_clusters=60, size=12, d=16, jitter=1e-4, offset=0.0):
    """Clusters of ``size`` points within ``jitter`` of each other, far apart, optionally shifted.

    Inside a cluster the squared distances (~1e-8) are far below the float32 GEMM's rounding
    error on these norms, so a plain float32 search cannot order them.
    """
    centres = 3.0 * rng.standard_normal((n_clusters, d))
    X = np.repeat(centres, size, 0) + jitter * rng.standard_normal((n_clusters * size, d))
    return X + offset


def _naive_float32(X, k):
    Xf = torch.from_numpy(X).float()
    D = (Xf * Xf).sum(1)[None] + (Xf * Xf).sum(1)[:, None] - 2 * Xf @ Xf.T
    D.fill_diagonal_(float("inf"))
    return torch.topk(D, k, largest=False).indices.numpy()


@pytest.mark.parametrize("offset", [0.0, 1e4])
@pytest.mark.parametrize("backend", BACKENDS)
def test_near_duplicates_and_large_offset_match_float64(backend, offset, rng):
    X = _near_duplicates(rng, offset=offset)
    k = 8
    ref, ref_idx = brute(X, X, k, "euclidean", exclude_self=True)
    # the case is hard: a float32 GEMM-form search gets the order wrong
    assert (np.sort(_naive_float32(X, k), 1) != np.sort(ref_idx, 1)).any()
    vals, idx = knn(X, k, backend=backend)
    np.testing.assert_array_equal(idx, ref_idx)
    # direct differences in float64: relative error a few ulps of the coordinates' difference
    np.testing.assert_allclose(vals, ref, rtol=1e-9, atol=0)


def test_large_offset_gaussian_matches_float64(rng):
    X = rng.standard_normal((2100, 6)) + 1e4
    assert 2112 // nbr._GROUP >= 4 * (10 + nbr._margin(10))  # real group size, grouped path
    ref, ref_idx = brute(X, X, 10, "euclidean", exclude_self=True)
    for backend in BACKENDS:
        vals, idx = knn(X, 10, backend=backend)
        np.testing.assert_array_equal(idx, ref_idx, err_msg=backend)
        np.testing.assert_allclose(vals, ref, rtol=1e-10, err_msg=backend)


def test_uncertified_rows_are_retried_in_float64(rng, monkeypatch):
    # clusters larger than the candidate list: the k-th and the first left-out point are both
    # near-duplicates, closer than the float32 error bound, so the row cannot be certified
    X = _near_duplicates(rng, n_clusters=30, size=40, offset=1e4)
    calls = []
    inner = nbr._search_torch

    def spy(*args, **kwargs):
        calls.append((kwargs.get("dtype"), args[1].shape[0]))
        return inner(*args, **kwargs)

    monkeypatch.setattr(nbr, "_search_torch", spy)
    vals, idx = knn(X, 8, backend="torch")
    ref, ref_idx = brute(X, X, 8, "euclidean", exclude_self=True)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(vals, ref, rtol=1e-9)
    retried = [m for dtype, m in calls if dtype == torch.float64]
    assert retried and 0 < retried[0] <= X.shape[0]
    # well-separated data never needs the retry
    calls.clear()
    knn(rng.standard_normal((3000, 16)), 8, backend="torch")
    assert [dtype for dtype, _ in calls] == [None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ties_values_exact_and_ordered_by_index(backend, rng):
    # integer data: many exact ties, at the k-th distance too
    X = rng.integers(0, 3, size=(400, 6)).astype(np.float64)
    k = 10
    vals, idx = knn(X, k, backend=backend)
    ref, _ = brute(X, X, k, "euclidean", exclude_self=True)
    np.testing.assert_array_equal(vals, ref)  # the values are exact (small integers)
    D = cdist(X, X)
    np.fill_diagonal(D, np.inf)
    np.testing.assert_array_equal(np.take_along_axis(D, idx, 1), vals)  # indices carry them
    assert not np.any(idx == np.arange(400)[:, None])
    assert all(len(set(r)) == k for r in idx.tolist())
    # every point strictly closer than the k-th value is returned
    for i in range(0, 400, 37):
        closer = set(np.flatnonzero(D[i] < vals[i, -1]).tolist())
        assert closer <= set(idx[i].tolist())
    if backend != "tree":  # equal values ordered by index (the tree keeps its own tie order)
        same = vals[:, 1:] == vals[:, :-1]
        assert np.all(idx[:, 1:][same] > idx[:, :-1][same])


@pytest.mark.parametrize("backend", BACKENDS)
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_duplicates_keep_zero_distance(backend):
    X = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    d, i = knn(X, 1, backend=backend)
    assert d[0, 0] == 0 and i[0, 0] == 1 and i[1, 0] == 0


def test_k_up_to_all_points_and_exclude_self_false(rng):
    X = rng.standard_normal((40, 5))
    for backend in BACKENDS:
        vals, idx = knn(X, 39, backend=backend)
        ref, ref_idx = brute(X, X, 39, "euclidean", exclude_self=True)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(vals, ref, rtol=1e-12)
        vals, idx = knn(X, 40, exclude_self=False, backend=backend)
        np.testing.assert_array_equal(idx[:, 0], np.arange(40))  # itself first, at 0
        assert np.all(vals[:, 0] == 0)


def test_inner_product_with_a_large_norm_outlier(rng):
    X = rng.standard_normal((2500, 12))
    X[7] *= 1e3
    Q = rng.standard_normal((30, 12))
    ref, ref_idx = brute(X, Q, 5, "inner", exclude_self=False)
    for backend in ("torch", "faiss"):
        vals, idx = knn(X, 5, query=Q, metric="inner", backend=backend)
        np.testing.assert_array_equal(idx, ref_idx)
        np.testing.assert_allclose(vals, ref, rtol=1e-12)


def test_zero_vectors_under_cosine(rng):
    X = rng.standard_normal((50, 4))
    X[3] = 0.0
    vals, idx = knn(X, 49, metric="cosine", backend="torch")
    row = vals[3]
    assert np.all(row == 0.0)  # a zero vector is at cosine 0 from everything
    np.testing.assert_array_equal(idx[3], np.delete(np.arange(50), 3))  # ties: by index


def test_backend_choice():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert nbr._choose_backend(20000, 20000, 3, "euclidean", cpu) == "tree"
    assert nbr._choose_backend(20000, 20000, nbr._TREE_MAX_DIM, "sqeuclidean", cpu) == "tree"
    assert nbr._choose_backend(20000, 20000, nbr._TREE_MAX_DIM + 1, "euclidean", cpu) == "torch"
    assert nbr._choose_backend(20000, 20000, 8, "euclidean", cpu) == "torch"
    assert nbr._choose_backend(100000, 100000, 8, "euclidean", cpu) == "tree"
    assert nbr._choose_backend(100000, 100000, 12, "euclidean", cpu) == "torch"
    assert nbr._choose_backend(20000, 20000, 64, "euclidean", cpu) == "torch"
    assert nbr._choose_backend(2000, 2000, 100, "euclidean", cpu) == "torch"
    assert nbr._choose_backend(20000, 20000, 3, "cosine", cpu) == "torch"  # tree: Euclidean only
    assert nbr._choose_backend(20000, 20000, 3, "euclidean", cuda) == "torch"


def test_auto_runs_the_chosen_backend(rng, monkeypatch):
    seen = []
    for name in ("_tree_candidates", "_faiss_candidates"):
        fn = getattr(nbr, name)

        def spy(*a, _fn=fn, _name=name, **kw):
            seen.append(_name)
            yield from _fn(*a, **kw)

        monkeypatch.setattr(nbr, name, spy)
    torch_fn = nbr._search_torch
    monkeypatch.setattr(
        nbr, "_search_torch", lambda *a, **kw: seen.append("torch") or torch_fn(*a, **kw)
    )
    knn(rng.standard_normal((100, 3)), 2)
    knn(rng.standard_normal((100, 30)), 2)
    assert seen == ["_tree_candidates", "torch"]


def test_tiny_blocks_threads_and_reduced_precision_give_the_same_answer(rng):
    X = rng.standard_normal((1500, 10)) + 50.0
    ref = knn(X, 6, backend="torch")
    old_threads = torch.get_num_threads()
    with memory_budget("64KB"):  # many blocks
        torch.set_num_threads(2)  # the CPU block loop runs on worker threads
        try:
            assert cpu_workers(torch.device("cpu"), -(-X.shape[0] // nbr._CPU_MAX_ROWS)) == 2
            got = knn(X, 6, backend="torch")
            assert torch.get_num_threads() == 2  # the worker pool restored the thread count
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(3) as pool:  # concurrent searches share the save/restore
                many = list(pool.map(lambda _: knn(X, 6, backend="torch"), range(3)))
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(old_threads)
    np.testing.assert_array_equal(got[1], ref[1])
    np.testing.assert_array_equal(got[0], ref[0])
    for other in many:
        np.testing.assert_array_equal(other[1], ref[1])
    old = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("medium")  # bf16 matmuls: the search must stay exact
    try:
        got = knn(X, 6, backend="torch")
    finally:
        torch.set_float32_matmul_precision(old)
    np.testing.assert_array_equal(got[1], ref[1])
    assert nbr._unit_roundoff(torch.float32, torch.device("cpu")) == 2.0**-24


def test_output_kinds(rng):
    X = rng.standard_normal((60, 5))
    Xt = torch.from_numpy(X)
    d, i = knn(Xt, 3)  # default: NumPy, as before
    assert isinstance(d, np.ndarray) and isinstance(i, np.ndarray)
    dt, it = knn(Xt, 3, output="input")
    assert isinstance(dt, torch.Tensor) and dt.dtype == torch.float64 and it.dtype == torch.int64
    np.testing.assert_array_equal(dt.numpy(), d)
    np.testing.assert_array_equal(it.numpy(), i)
    dn, _ = knn(X, 3, output="input")  # NumPy input stays NumPy
    assert isinstance(dn, np.ndarray)
    d16, _ = knn(Xt.to(torch.float16), 3, output="input")
    assert d16.dtype == torch.float32
    for backend in BACKENDS:  # half precision is widened exactly, on every backend
        Xh = Xt.to(torch.bfloat16)
        dh, ih = knn(Xh, 3, backend=backend)
        ref, ref_idx = brute(Xh.float().numpy(), Xh.float().numpy(), 3, "euclidean", True)
        np.testing.assert_array_equal(ih, ref_idx)
        np.testing.assert_allclose(dh, ref, rtol=1e-6)


def test_same_answer_on_repeat(rng):
    X = rng.standard_normal((2500, 40)).astype(np.float32)
    a, b = knn(X, 7), knn(X, 7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


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
    with pytest.raises(ValueError, match="NaN"):
        knn(X, 1, query=np.array([[np.inf, 0.0, 0.0]]))
    with pytest.raises(ValueError, match="backend must be one of"):
        knn(X, 2, backend="annoy")
    with pytest.raises(ValueError, match="output must be one of"):
        knn(X, 2, output="cupy")
    with pytest.raises(ValueError, match="euclidean metrics only"):
        knn(X, 2, metric="cosine", backend="tree")
    with pytest.raises(ValueError, match="at least 1 sample"):
        knn(np.zeros((0, 2)), 1)
    with pytest.raises(ValueError, match="2-D"):
        knn(np.zeros(5), 1)
    with pytest.raises(TypeError, match="real-valued"):
        knn(np.ones((4, 2), dtype=complex), 1)
    with pytest.raises(ValueError, match="exclude_self=True needs query=None"):
        knn(X, 2, query=X, exclude_self=True)
    with pytest.raises(ValueError, match="k must be <= 10"):
        knn(X, 11, query=X[:2])


# ----------------------------------------------------------------------------- CUDA
@CUDA
@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "inner"])
def test_cuda_stays_on_device_and_matches_cpu(metric, rng):
    X = rng.standard_normal((3000, 24))
    Xc = torch.from_numpy(X).cuda()
    vals, idx = knn(Xc, 10, metric=metric, output="input")
    assert vals.device.type == "cuda" and idx.device.type == "cuda"
    ref, ref_idx = brute(X, X, 10, metric, exclude_self=True)
    np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)
    np.testing.assert_allclose(vals.cpu().numpy(), ref, rtol=1e-12, atol=1e-12)
    # float32 on the device, a NumPy query, and the default NumPy output
    v32, i32 = knn(Xc.float(), 5, query=X[:50].astype(np.float32), metric=metric)
    assert isinstance(v32, np.ndarray) and v32.dtype == np.float32
    r32, ri32 = brute(X.astype(np.float32), X[:50].astype(np.float32), 5, metric, False)
    np.testing.assert_array_equal(i32, ri32)
    np.testing.assert_allclose(v32, r32, rtol=1e-6)


@CUDA
def test_cuda_near_duplicates_offset_and_tf32(rng):
    X = _near_duplicates(rng, offset=1e4)
    ref, ref_idx = brute(X, X, 8, "euclidean", exclude_self=True)
    Xc = torch.from_numpy(X).cuda()
    old = torch.backends.cuda.matmul.allow_tf32
    try:
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            vals, idx = knn(Xc, 8, output="input")
            np.testing.assert_array_equal(idx.cpu().numpy(), ref_idx)
            np.testing.assert_allclose(vals.cpu().numpy(), ref, rtol=1e-9)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


@CUDA
def test_cuda_input_with_host_backends(rng):
    X = rng.standard_normal((500, 6))
    ref = knn(X, 4)
    for backend in BACKENDS:
        vals, idx = knn(torch.from_numpy(X).cuda(), 4, backend=backend, output="input")
        assert idx.device.type == "cuda" and vals.device.type == "cuda"
        np.testing.assert_array_equal(idx.cpu().numpy(), ref[1])
        np.testing.assert_allclose(vals.cpu().numpy(), ref[0], rtol=1e-12)
