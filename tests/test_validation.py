import numpy as np
import pytest
import torch

from repgeo._backend import chunk_rows, memory_budget, resolve_device, set_memory_budget, to_torch
from repgeo._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_random_state,
    check_scalar,
)


def test_check_array_keeps_kind_and_converts_ints():
    a = check_array(np.arange(6).reshape(3, 2))
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    t = check_array(torch.ones(3, 2, dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float64
    assert check_array([[1, 2]]).shape == (1, 2)


@pytest.mark.parametrize(
    ("bad", "exc", "msg"),
    [
        (
            np.zeros(3),
            ValueError,
            r"2-D array of shape \(n_samples, n_features\); got shape \(3,\)",
        ),
        (np.zeros((0, 3)), ValueError, "at least 1 sample"),
        (np.zeros((3, 0)), ValueError, "at least 1 feature"),
        (np.array([[np.nan, 1.0]]), ValueError, "NaN or infinity"),
        (torch.tensor([[float("inf")]]), ValueError, "NaN or infinity"),
        (np.array([["a", "b"]]), TypeError, "numeric"),
        (np.zeros((2, 2), dtype=complex), TypeError, "real-valued"),
        (None, TypeError, "got None"),
        ("abc", TypeError, "got str"),
    ],
)
def test_check_array_bad_input(bad, exc, msg):
    with pytest.raises(exc, match=msg):
        check_array(bad)


def test_check_labels_and_lengths():
    assert check_labels([0, 1, 2.0]).dtype == np.int64
    with pytest.raises(TypeError, match="integer class labels"):
        check_labels([0.5, 1.0])
    with pytest.raises(ValueError, match="must have 3 entries"):
        check_labels([0, 1], n_samples=3)
    with pytest.raises(ValueError, match="same number of samples; got X: 3, y: 2"):
        check_consistent_length(np.zeros((3, 1)), np.zeros(2), names=["X", "y"])


def test_scalars_and_choices():
    assert check_positive_int(np.int64(3), "k") == 3
    with pytest.raises(TypeError, match="k must be Integral"):
        check_positive_int(2.5, "k")
    with pytest.raises(ValueError, match="k must be >= 1; got 0"):
        check_positive_int(0, "k")
    with pytest.raises(TypeError):
        check_scalar(True, "x")
    with pytest.raises(ValueError, match="must be finite"):
        check_scalar(float("nan"), "x")
    with pytest.raises(ValueError, match=r"metric must be one of \['a', 'b'\]; got 'c'"):
        check_choice("c", "metric", ["a", "b"])
    assert check_random_state(3).integers(100) == np.random.default_rng(3).integers(100)
    with pytest.raises(TypeError):
        check_random_state("seed")


def test_backend_round_trip_keeps_kind_dtype():
    x32 = np.ones((2, 2), dtype=np.float32)
    t, back = to_torch(x32)
    out = back(t * 2)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32 and out[0, 0] == 2
    t64 = torch.ones(2, dtype=torch.float64)
    t, back = to_torch(t64, dtype=torch.float32)
    assert back(t).dtype == torch.float64
    idx = back(torch.tensor([1, 2]))
    assert idx.dtype == torch.int64


def test_memory_budget_and_devices():
    with memory_budget("1MB"):
        assert chunk_rows(1024) == 1024
    with pytest.raises(ValueError, match="parse"):
        set_memory_budget("lots")
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")


def test_sparse_input_is_refused_with_a_message_that_says_so():
    import scipy.sparse as sp

    X = sp.random(20, 4, density=0.3, random_state=0)
    for fmt in ("csr", "csc", "coo", "dok", "lil"):
        with pytest.raises(TypeError, match="sparse input is not supported.*toarray"):
            check_array(X.asformat(fmt))


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (None, TypeError, "NoneType"),
        (True, TypeError, "bool"),
        ([1024], TypeError, "list"),
        (float("nan"), ValueError, "finite"),
        (float("inf"), ValueError, "finite"),
        (0.5, ValueError, "at least 1 byte"),
        (0, ValueError, "at least 1 byte"),
        (-3, ValueError, "at least 1 byte"),
        ("0MB", ValueError, "at least 1 byte"),
        ("-1GB", ValueError, "at least 1 byte"),
        ("nanGB", ValueError, "finite"),
        ("lots", ValueError, "could not parse"),
    ],
)
def test_set_memory_budget_validates(value, error, match):
    """Issue 11 item 9 (main: 0.5 set a budget of 0 bytes, NaN/inf raised bare conversion
    errors, None and True were accepted); the budget is unchanged after a refusal."""
    with memory_budget("64MB"):
        with pytest.raises(error, match=match):
            set_memory_budget(value)
        assert set_memory_budget("64MB") == 64 * 2**20


def test_set_memory_budget_parses_units():
    with memory_budget("1GB"):
        for value, expected in (("512MB", 512 * 2**20), ("2 GiB", 2 * 2**30), (4096.9, 4096)):
            set_memory_budget(value)
            assert set_memory_budget("1GB") == expected


def test_map_blocks_keeps_order_bounds_work_in_flight_and_restores_threads():
    import threading
    import time

    from repgeo._backend import map_blocks

    lock = threading.Lock()
    state = {"now": 0, "most": 0}

    def fn(i):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        assert torch.get_num_threads() == 1  # workers run one-thread torch
        time.sleep(0.01 * (i % 3))
        with lock:
            state["now"] -= 1
        return i * i

    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert list(map_blocks(fn, range(9), 2)) == [i * i for i in range(9)]
        assert 1 <= state["most"] <= 2
        assert torch.get_num_threads() == 2
        assert list(map_blocks(lambda i: i + 1, [], 2)) == []
        with pytest.raises(ZeroDivisionError):  # a worker's exception reaches the caller
            list(map_blocks(lambda i: 1 // (i - 3), range(6), 2))
        assert torch.get_num_threads() == 2
        gen = map_blocks(fn, range(9), 2)
        assert next(gen) == 0  # a caller that stops early ...
        assert torch.get_num_threads() == 2  # ... runs its own code with the threads it had
    finally:
        torch.set_num_threads(old)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_csr_product_accumulates_like_scipy_for_any_split(dtype, workers):
    import scipy.sparse as sp

    from repgeo._backend import CsrProduct, locality_order

    rng = np.random.default_rng(0)
    A = sp.random(50, 40, density=0.1, random_state=1, format="csr", dtype=dtype)
    A = sp.vstack([A, sp.csr_matrix((5, 40), dtype=dtype)]).tocsr()  # empty last rows
    X = rng.normal(size=(40, 6)).astype(dtype)
    Y0 = rng.normal(size=(55, 6)).astype(dtype)
    prod = CsrProduct(A, workers=workers)
    got = prod.addmul_(X, Y0.copy())
    np.testing.assert_allclose(got, Y0 + A @ X, rtol=1e-5 if dtype == np.float32 else 1e-12)
    one = CsrProduct(A).addmul_(X, Y0.copy())
    np.testing.assert_array_equal(got, one)  # rows are summed the same way on any thread
    with pytest.raises(ValueError, match="X needs 40 rows"):
        prod.addmul_(X[:30], Y0.copy())
    with pytest.raises(TypeError, match="must be"):
        prod.addmul_(X.astype(np.float16), Y0.copy())
    with pytest.raises(ValueError, match="C-contiguous"):
        prod.addmul_(np.asfortranarray(X), Y0.copy())
    with pytest.raises(ValueError, match="2-D"):
        prod.addmul_(X[:, 0], Y0.copy())
    S = A[:40, :40] + A[:40, :40].T
    p = locality_order(S)
    assert sorted(p.tolist()) == list(range(40))  # a permutation
