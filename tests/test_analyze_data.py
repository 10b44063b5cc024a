"""The user's files for ``repgeo analyze``: every input kind, and every bad input named with its fix."""

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch

from repgeo._io import DamagedFileError
from repgeo.data import load_embeddings, load_images, load_inputs, load_labels, load_texts


@pytest.fixture
def layers(rng):
    return {
        "enc.0": rng.normal(size=(40, 6)).astype(np.float32),
        "enc.1": rng.normal(size=(40, 3)),
    }


def test_npz_with_labels_inside(tmp_path, layers):
    y = np.repeat(["cat", "dog"], 20)
    np.savez(tmp_path / "e.npz", **layers, y=y, ids=np.arange(40))
    emb = load_embeddings(tmp_path / "e.npz", labels="y")
    assert list(emb.layers) == ["enc.0", "enc.1"]
    assert emb.layers["enc.0"].dtype == np.float32 and emb.layers["enc.1"].dtype == np.float64
    np.testing.assert_array_equal(emb.layers["enc.1"], layers["enc.1"])
    assert emb.class_names == ["cat", "dog"] and emb.y.tolist() == [0] * 20 + [1] * 20
    assert any("'ids'" in n for n in emb.notes)  # a 1-D array left out, and said so
    assert (
        list(emb.files) == [str(tmp_path / "e.npz")]
        and len(emb.files[str(tmp_path / "e.npz")]) == 64
    )
    sub = load_embeddings(tmp_path / "e.npz", labels="y", layers=["enc.1"])
    assert list(sub.layers) == ["enc.1"]


def test_safetensors_npy_and_label_files(tmp_path, layers):
    save_numpy({k: np.ascontiguousarray(v) for k, v in layers.items()}, tmp_path / "e.safetensors")
    save_torch({"h": torch.randn(40, 5, dtype=torch.bfloat16)}, tmp_path / "bf16.safetensors")
    np.save(tmp_path / "one.npy", layers["enc.0"].reshape(40, 2, 3))  # flattened per sample
    (tmp_path / "labels.txt").write_text("\n".join(["3", "7"] * 20) + "\n")
    emb = load_embeddings(tmp_path / "e.safetensors", labels=tmp_path / "labels.txt")
    np.testing.assert_array_equal(emb.layers["enc.0"], layers["enc.0"])
    assert emb.class_names == ["3", "7"] and emb.y[:2].tolist() == [0, 1]
    assert load_embeddings(tmp_path / "bf16.safetensors").layers["h"].dtype == np.float32
    one = load_embeddings(tmp_path / "one.npy")
    assert list(one.layers) == ["one"] and one.layers["one"].shape == (40, 6)
    np.save(tmp_path / "y.npy", np.arange(40) % 4)
    y, names = load_labels(tmp_path / "y.npy", n_samples=40)
    assert names == ["0", "1", "2", "3"] and y[:5].tolist() == [0, 1, 2, 3, 0]


def test_directory_of_checkpoints_in_numeric_order(tmp_path, rng):
    y = np.arange(30) % 3
    for step in (2, 10, 100):  # lexicographic order would put 100 before 2
        np.savez(tmp_path / f"epoch_{step}.npz", a=np.full((30, 2), step, dtype=np.float32), y=y)
    emb = load_embeddings(tmp_path, labels="y")
    assert emb.steps == [2, 10, 100] and emb.layers["a"][0, 0] == 100
    assert emb.at(10)["a"][0, 0] == 10 and emb.y.tolist() == y.tolist()
    np.savez(tmp_path / "epoch_10.npz", a=np.zeros((30, 2), dtype=np.float32), y=y)
    with pytest.raises(DamagedFileError, match="changed since it was first read"):
        emb.at(10)


def test_directory_files_must_agree(tmp_path):
    np.savez(tmp_path / "ck_1.npz", a=np.zeros((5, 2)))
    np.savez(tmp_path / "ck_2.npz", b=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="same layers"):
        load_embeddings(tmp_path)
    np.savez(tmp_path / "ck_2.npz", a=np.zeros((6, 2)))
    with pytest.raises(ValueError, match="same samples"):
        load_embeddings(tmp_path)
    np.savez(tmp_path / "final.npz", a=np.zeros((5, 2)))
    with pytest.raises(ValueError, match="final.npz .* has no number"):
        load_embeddings(tmp_path)


@pytest.mark.parametrize(
    ("arrays", "labels", "match"),
    [
        (
            {"a": np.zeros((10, 2)), "b": np.zeros((9, 2))},
            None,
            r"e.npz: the layers have different numbers of rows \(a: 10, b: 9\)",
        ),
        (
            {"a": np.zeros((10, 2)), "y": np.arange(10)},
            "labels",
            r"e.npz has no labels array 'labels' \(it holds \['a', 'y'\]\); name the labels array",
        ),
        (
            {"a": np.r_[np.zeros((3, 2)), [[np.nan, 0]]]},
            None,
            r"layer 'a' has NaN or infinite values in 1 row\(s\) \(rows 3\); drop those rows",
        ),
        ({"a": np.array([["x", "y"], ["z", "w"]])}, None, r"layer 'a' holds text values"),
        ({"a": np.zeros((4, 2), dtype=bool)}, None, r"layer 'a' holds boolean values"),
        ({"a": np.zeros((4, 2)), "y": np.array([0, 0, 0, 0])}, "y", r"single class"),
        ({"a": np.zeros((4, 2)), "y": np.array([0.5, 1, 0, 1])}, "y", r"non-integer numbers"),
        ({"a": np.zeros((4, 2)), "y": np.array([np.nan, 1, 0, 1])}, "y", r"NaN"),
        ({"y": np.arange(4)}, "y", r"holds no 2-D arrays"),
    ],
)
def test_bad_embeddings_name_the_file_and_the_fix(tmp_path, arrays, labels, match):
    np.savez(tmp_path / "e.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        load_embeddings(tmp_path / "e.npz", labels=labels)


def test_never_unpickles_and_damaged_files(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array, which repgeo never unpickles"):
        load_embeddings(tmp_path / "obj.npy")
    np.savez(tmp_path / "obj.npz", a=np.array([[1, None]], dtype=object))
    with pytest.raises(ValueError, match="never unpickles"):
        load_embeddings(tmp_path / "obj.npz")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(DamagedFileError, match="bad.safetensors"):
        load_embeddings(tmp_path / "bad.safetensors")
    np.save(tmp_path / "t.npy", np.zeros((100, 8)))
    (tmp_path / "t.npy").write_bytes((tmp_path / "t.npy").read_bytes()[:300])
    with pytest.raises(DamagedFileError, match="t.npy"):
        load_embeddings(tmp_path / "t.npy")
    (tmp_path / "e.pt").write_bytes(b"x")
    with pytest.raises(ValueError, match="must be a .npz"):
        load_embeddings(tmp_path / "e.pt")
    with pytest.raises(FileNotFoundError, match="do not exist"):
        load_embeddings(tmp_path / "missing.npz")


def test_labels_of_the_wrong_length(tmp_path, layers):
    np.savez(tmp_path / "e.npz", **layers)
    (tmp_path / "y.txt").write_text("a\nb\n")
    with pytest.raises(
        ValueError, match=r"y.txt: 2 labels for 40 samples; give exactly one label per row"
    ):
        load_embeddings(tmp_path / "e.npz", labels=tmp_path / "y.txt")
    with pytest.raises(FileNotFoundError, match="neither a file nor the name"):
        load_embeddings(tmp_path / "e.npz", labels=str(tmp_path / "nope.txt"))


def test_texts(tmp_path):
    (tmp_path / "s.txt").write_text("First one.\nSecond one.\n\n")
    assert load_texts(tmp_path / "s.txt") == ["First one.", "Second one."]
    (tmp_path / "empty.txt").write_text("\n \n")
    with pytest.raises(ValueError, match="empty.txt is empty; expected one sentence per line"):
        load_texts(tmp_path / "empty.txt")
    (tmp_path / "gap.txt").write_text("a\n\nb\n")
    with pytest.raises(ValueError, match="gap.txt: line 2 is empty"):
        load_texts(tmp_path / "gap.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_texts(tmp_path / "latin.txt")


def test_image_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for cls in ("cats", "dogs"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(3):
            a = rng.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / "imgs" / cls / f"{i}.png")
    X, y, names, files = load_images(tmp_path / "imgs")
    assert X.shape == (6, 3, 6, 5) and X.dtype == np.float32 and 0 <= X.min() and X.max() <= 1
    assert names == ["cats", "dogs"] and y.tolist() == [0, 0, 0, 1, 1, 1] and len(files) == 6
    first = np.asarray(Image.open(tmp_path / "imgs" / "cats" / "0.png"), dtype=np.float32) / 255
    np.testing.assert_allclose(X[0], first.transpose(2, 0, 1))
    Image.fromarray(np.zeros((9, 9, 3), dtype=np.uint8)).save(tmp_path / "imgs" / "dogs" / "z.png")
    with pytest.raises(ValueError, match=r"z.png is 9×9 pixels but 0.png is 5×6; resize them"):
        load_images(tmp_path / "imgs")
    assert load_images(tmp_path / "imgs", image_size=4)[0].shape == (7, 3, 4, 4)
    (tmp_path / "imgs" / "dogs" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DamagedFileError, match="broken.png"):
        load_images(tmp_path / "imgs", image_size=4)
    inputs = load_inputs(tmp_path / "imgs" / "cats")
    assert inputs.kind == "images" and inputs.continuous and inputs.y is None


def test_model_inputs_from_arrays_and_text(tmp_path):
    np.savez(tmp_path / "x.npz", X=np.ones((8, 2, 2)), y=np.arange(8) % 2)
    inp = load_inputs(tmp_path / "x.npz", labels="y")
    assert inp.kind == "array" and inp.data.shape == (8, 2, 2) and inp.y.tolist() == [0, 1] * 4
    np.savez(tmp_path / "two.npz", a=np.ones((2, 2)), b=np.ones((2, 2)))
    with pytest.raises(ValueError, match="no inputs array 'X'"):
        load_inputs(tmp_path / "two.npz")
    (tmp_path / "s.txt").write_text("one\ntwo\n")
    assert load_inputs(tmp_path / "s.txt").data == ["one", "two"]
    (tmp_path / "w.pt").write_bytes(b"x")
    with pytest.raises(ValueError, match="--data takes"):
        load_inputs(tmp_path / "w.pt")
