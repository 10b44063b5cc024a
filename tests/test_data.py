import gzip
import struct

import numpy as np
import pytest
import torch

from repgeo.data import (
    Dataset,
    LinearSubspaces,
    RandomNetworkManifolds,
    from_arrays,
    load_arrays,
    load_cifar10,
    load_digits,
    load_mnist,
    sinusoid,
    split_classes,
    xor,
)


@pytest.mark.parametrize("cls", [RandomNetworkManifolds, LinearSubspaces])
def test_generator_shapes_ids_and_determinism(cls):
    kw = dict(n_classes=6, k_gamma=3, k_theta=2, ambient_dim=20)
    a = cls(**kw, random_state=1).sample(5, random_state=7)
    b = cls(**kw, random_state=1).sample(5, random_state=7)
    c = cls(**kw, random_state=2).sample(5, random_state=7)
    assert a.X.shape == (30, 20) and a.y.shape == (30,)
    assert a.extra["gamma"].shape == (30, 3) and a.extra["theta"].shape == (30, 2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.ids, b.ids)
    assert not np.allclose(a.X, c.X)
    assert len(set(a.ids)) == 30
    # gamma depends only on the class
    for cl in range(6):
        g = a.extra["gamma"][a.y == cl]
        assert np.allclose(g, g[0])


@pytest.mark.parametrize("cls", [RandomNetworkManifolds, LinearSubspaces])
def test_generator_jacobians_match_finite_differences(cls):
    gen = cls(n_classes=4, k_gamma=3, k_theta=2, ambient_dim=12, random_state=0)
    rng = np.random.default_rng(0)
    gamma = torch.tensor(rng.standard_normal((3, 3)))
    theta = torch.tensor(rng.standard_normal((3, 2)))
    Jg, Jt = gen.jacobians(gamma, theta)
    assert Jg.shape == (3, 12, 3) and Jt.shape == (3, 12, 2)
    eps = 1e-6
    for j in range(3):
        e = torch.zeros(3, 3, dtype=torch.float64)
        e[:, j] = eps
        fd = (gen(gamma + e, theta) - gen(gamma - e, theta)) / (2 * eps)
        torch.testing.assert_close(Jg[:, :, j], fd, rtol=1e-5, atol=1e-6)
    for j in range(2):
        e = torch.zeros(3, 2, dtype=torch.float64)
        e[:, j] = eps
        fd = (gen(gamma, theta + e) - gen(gamma, theta - e)) / (2 * eps)
        torch.testing.assert_close(Jt[:, :, j], fd, rtol=1e-5, atol=1e-6)


def test_linear_subspace_exact_jacobians_and_projection():
    gen = LinearSubspaces(n_classes=4, k_gamma=3, k_theta=2, ambient_dim=12, random_state=0)
    g, t = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64)
    Jg, Jt = gen.jacobians(g, t)
    torch.testing.assert_close(Jg[0], gen.A.double())
    torch.testing.assert_close(Jt[4], gen.B.double())
    P = gen.invariant_projection().double()
    torch.testing.assert_close(
        P @ gen.B.double(), torch.zeros(12, 2, dtype=torch.float64), atol=1e-6, rtol=0
    )


def test_generator_bad_input():
    gen = RandomNetworkManifolds(n_classes=4, k_gamma=3, k_theta=2, ambient_dim=10)
    with pytest.raises(ValueError, match=r"gamma must have shape \(n, 3\)"):
        gen(np.zeros((2, 4)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="same number of rows"):
        gen(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        gen(np.full((2, 3), np.nan), np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"classes must lie in \[0, 3\]"):
        gen.sample(2, classes=[5])
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        RandomNetworkManifolds(n_classes=1)
    with pytest.raises(ValueError, match="activation must be one of"):
        RandomNetworkManifolds(activation="swish")
    with pytest.raises(ValueError, match="k_gamma \\+ k_theta must be <= ambient_dim"):
        LinearSubspaces(k_gamma=8, k_theta=4, ambient_dim=10)


def test_split_classes():
    seen, unseen = split_classes(10, 6, random_state=0)
    assert len(seen) == 6 and len(unseen) == 4 and not set(seen) & set(unseen)
    with pytest.raises(ValueError):
        split_classes(5, 5)


def test_toy_tasks():
    ds = sinusoid(400, random_state=0)
    assert ds.X.shape == (400, 2) and np.all(np.abs(ds.X) <= 1)
    y_ref = (ds.X[:, 1] > 0.6 * np.sin(7 * ds.X[:, 0] - 1)).astype(int)
    np.testing.assert_array_equal(ds.y, y_ref)
    corners = xor()
    assert corners.X.shape == (4, 2) and corners.y.tolist() == [0, 1, 1, 0]
    noisy = xor(200, noise=0.15, random_state=0)
    by_sign = (np.sign(noisy.X[:, 0]) != np.sign(noisy.X[:, 1])).astype(int)
    assert (noisy.y == by_sign).mean() > 0.98  # N(corner, 0.15²) rarely crosses an axis
    with pytest.raises(ValueError):
        sinusoid(0)


def test_digits_and_subsets():
    ds = load_digits()
    assert ds.X.shape == (1797, 64) and ds.X.max() <= 1.0
    tr, te = ds.train_test_split(test_fraction=0.25, random_state=0)
    assert len(tr) + len(te) == 1797 and not set(tr.ids) & set(te.ids)
    sub = ds.select_classes([1, 7])
    assert set(sub.y) == {1, 7}
    # ids follow the samples
    i = np.where(ds.ids == sub.ids[3])[0][0]
    np.testing.assert_array_equal(ds.X[i], sub.X[3])
    with pytest.raises(ValueError, match="ids must be unique"):
        Dataset(X=np.zeros((2, 2)), y=None, ids=np.array(["a", "a"]))


def test_user_arrays(tmp_path):
    X = np.random.default_rng(0).standard_normal((6, 2, 3))
    ds = from_arrays(torch.from_numpy(X), [0, 1, 0, 1, 0, 1])
    assert ds.X.shape == (6, 6) and ds.meta["input_shape"] == [2, 3]
    np.savez(
        tmp_path / "emb.npz",
        X=X.reshape(6, -1),
        y=np.arange(6),
        ids=np.array([f"s{i}" for i in range(6)]),
    )
    ds2 = load_arrays(tmp_path / "emb.npz")
    assert ds2.ids[2] == "s2"
    np.save(tmp_path / "emb.npy", X.reshape(6, -1))
    assert load_arrays(tmp_path / "emb.npy").X.shape == (6, 6)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_arrays(tmp_path / "missing.npz")
    np.savez(tmp_path / "obj.npz", X=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="never unpickles"):
        load_arrays(tmp_path / "obj.npz")
    with pytest.raises(ValueError, match="no array 'Z'"):
        load_arrays(tmp_path / "emb.npz", x_key="Z")
    with pytest.raises(ValueError, match="must have 6 entries"):
        from_arrays(X, [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        from_arrays(np.full((2, 2), np.nan))


def _write_idx(path, arr, code):
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.astype(">u1" if code == 8 else arr.dtype).tobytes()
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def test_mnist_and_cifar_loaders(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=7, dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs, 8)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, 8)
    ds = load_mnist(tmp_path)
    assert ds.X.shape == (7, 784)
    np.testing.assert_allclose(ds.X[3], imgs[3].ravel() / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y, labels)
    with pytest.raises(FileNotFoundError, match="t10k-images"):
        load_mnist(tmp_path, split="test")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x03\x04")
    _write_idx(tmp_path / "bad" / "train-labels-idx1-ubyte", labels, 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        load_mnist(tmp_path / "bad")

    rec = np.zeros((5, 3073), dtype=np.uint8)
    rec[:, 0] = np.arange(5)
    rec[:, 1:] = rng.integers(0, 256, size=(5, 3072))
    rec.tofile(tmp_path / "test_batch.bin")
    c = load_cifar10(tmp_path, split="test")
    assert c.X.shape == (5, 3072) and c.y.tolist() == [0, 1, 2, 3, 4]
    (tmp_path / "data_batch_1.bin").write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="not a CIFAR-10 binary batch"):
        load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_cifar10(tmp_path / "nope")


# ----------------------------------------------------------------------------- hostile files
def test_values_beyond_float32_are_refused_not_turned_into_inf(tmp_path):
    big = np.array([[1.0, 1e300], [0.0, 2.0]])
    for make in (
        lambda: from_arrays(big),
        lambda: Dataset(X=big, y=None, ids=np.array(["a", "b"])),
    ):
        with pytest.raises(ValueError, match="beyond float32"):
            make()
    np.savez(tmp_path / "big.npz", X=big)
    with pytest.raises(ValueError, match="beyond float32"):
        load_arrays(tmp_path / "big.npz")
    ok = from_arrays(np.array([[1.0, 3e38]]))  # the largest float32 values still load
    assert np.isfinite(ok.X).all()


def test_garbage_and_truncated_array_files_name_themselves(tmp_path):
    np.savez(tmp_path / "ok.npz", X=np.ones((50, 4)))
    data = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "garbage.npz").write_bytes(b"not a zip at all")
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    np.save(tmp_path / "ok.npy", np.ones((50, 4)))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:300])
    for name in ("garbage.npz", "cut.npz", "cut.npy"):
        with pytest.raises(ValueError, match=name):
            load_arrays(tmp_path / name)


def test_npz_member_declaring_more_than_it_holds_is_refused_before_allocating(tmp_path):
    """A crafted member header (shape 10^12) must not allocate 8 TB before failing."""
    import io
    import zipfile

    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (10**12,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as zf:
        zf.writestr("X.npy", buf.getvalue() + b"\0" * 64)
    with pytest.raises(ValueError, match=r"huge\.npz.*declares shape"):
        load_arrays(tmp_path / "huge.npz")


def _idx_bytes(arr, code=8):
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(">u1" if code == 8 else arr.dtype).tobytes()


def _mnist_dir(path, images, labels, *, gz_images=False, image_bytes=None, label_bytes=None):
    path.mkdir()
    data = image_bytes if image_bytes is not None else _idx_bytes(images)
    name = "train-images-idx3-ubyte" + (".gz" if gz_images else "")
    (path / name).write_bytes(gzip.compress(data) if gz_images else data)
    lab = label_bytes if label_bytes is not None else _idx_bytes(labels)
    (path / "train-labels-idx1-ubyte").write_bytes(lab)
    return path


def test_mnist_gzip_bomb_stops_at_the_declared_size(tmp_path):
    """Issue 13.7: a 1.5 MB gzip decompressed to 3.4 GB before the header was checked."""
    import tracemalloc

    imgs = np.zeros((2, 28, 28), dtype=np.uint8)
    bomb = _idx_bytes(imgs) + b"\0" * (64 * 2**20)  # 64 MB of zeros after the declared data
    d = _mnist_dir(tmp_path / "bomb", imgs, np.zeros(2, np.uint8), gz_images=True, image_bytes=bomb)
    assert (d / "train-images-idx3-ubyte.gz").stat().st_size < 2**20
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="longer than its header declares"):
            load_mnist(d)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_mnist_hostile_headers_and_labels(tmp_path):
    imgs = np.zeros((3, 28, 28), dtype=np.uint8)
    good = np.array([1, 2, 3], dtype=np.uint8)
    cases = {
        "short-header": (_idx_bytes(imgs)[:6], None, r"train-images-idx3-ubyte is truncated"),
        "no-images": (_idx_bytes(np.zeros((0, 28, 28), np.uint8)), None, "holds no images"),
        "cut-data": (_idx_bytes(imgs)[:-10], None, r"truncated: its header declares shape"),
        "too-long": (_idx_bytes(imgs) + b"\1", None, "longer than its header declares"),
        "labels": (None, _idx_bytes(np.array([0, 11, 255], np.uint8)), r"labels in \[0, 255\]"),
        "huge": (
            bytes([0, 0, 8, 3]) + struct.pack(">3I", 2**20, 2**12, 2**12),
            None,
            "more than the",
        ),
    }
    for name, (img_bytes, lab_bytes, match) in cases.items():
        d = _mnist_dir(tmp_path / name, imgs, good, image_bytes=img_bytes, label_bytes=lab_bytes)
        with pytest.raises(ValueError, match=match):
            load_mnist(d)


def test_cifar_empty_batch_names_the_file(tmp_path):
    (tmp_path / "test_batch.bin").write_bytes(b"")
    with pytest.raises(ValueError, match=r"test_batch\.bin is empty"):
        load_cifar10(tmp_path, split="test")
    rec = np.zeros((2, 3073), dtype=np.uint8)
    rec[1, 0] = 12
    rec.tofile(tmp_path / "test_batch.bin")
    with pytest.raises(ValueError, match=r"test_batch\.bin holds labels up to 12"):
        load_cifar10(tmp_path, split="test")
