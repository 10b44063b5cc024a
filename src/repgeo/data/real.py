"""Real data: sklearn digits, the user's own arrays, and MNIST / CIFAR-10 files on disk.

Nothing here downloads: loaders read files the user already has. Arrays are read with
``allow_pickle=False``.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._io import load_npy, load_npz
from .._validation import check_array, check_labels
from .base import Dataset, make_ids

__all__ = ["from_arrays", "load_arrays", "load_cifar10", "load_digits", "load_mnist"]


def load_digits(*, scale: bool = True) -> Dataset:
    """sklearn's 8×8 digits (1,797 images, 10 classes) as a :class:`Dataset`.

    Parameters
    ----------
    scale : bool, default=True
        Divide pixel values by 16 so inputs lie in [0, 1].

    Examples
    --------
    >>> from repgeo.data import load_digits
    >>> ds = load_digits()
    >>> ds.X.shape, str(ds.ids[0])
    ((1797, 64), 'digits/00000')
    """
    from sklearn.datasets import load_digits as _load

    d = _load()
    X = d.data / 16.0 if scale else d.data
    return Dataset(
        X=X,
        y=d.target,
        ids=make_ids("digits", len(X)),
        name="digits",
        meta={
            "input_shape": [1, 8, 8],
            "class_names": [str(c) for c in d.target_names],
            "scaled": scale,
        },
    )


def from_arrays(
    X: Any, y: Any = None, *, ids: Any = None, name: str = "user", input_shape: Any = None
) -> Dataset:
    """Wrap in-memory NumPy arrays or torch tensors as a validated :class:`Dataset`.

    ``X`` of shape (n_samples, ...) is flattened to (n_samples, n_features); its original
    per-sample shape is kept in ``meta["input_shape"]``.
    """
    X = to_numpy(check_array(X, name="X", ndim=None, shape_hint="(n_samples, ...)"))
    if X.ndim < 2:
        raise ValueError(
            f"X must have shape (n_samples, n_features) or (n_samples, ...); got {X.shape}."
        )
    shape = list(input_shape) if input_shape is not None else list(X.shape[1:])
    X = X.reshape(X.shape[0], -1)
    if y is not None:
        y = check_labels(to_numpy(y), n_samples=X.shape[0])
    if ids is None:
        ids = make_ids(name, X.shape[0])
    else:
        ids = np.asarray(ids)
        if ids.shape != (X.shape[0],):
            raise ValueError(f"ids must have shape ({X.shape[0]},); got {ids.shape}.")
    return Dataset(X=X, y=y, ids=ids, name=name, meta={"input_shape": shape})


def load_arrays(
    path: str | os.PathLike, *, x_key: str = "X", y_key: str | None = "y", ids_key: str = "ids"
) -> Dataset:
    """Load a user's ``.npy`` (inputs only) or ``.npz`` (``X``, optional ``y`` and ``ids``) file.

    Never unpickles; a truncated or garbage file raises :class:`repgeo._io.DamagedFileError`
    (a ValueError) naming it, before any array larger than the file is allocated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"array file {path} does not exist.")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return from_arrays(load_npy(path), name=path.stem)
    if suffix != ".npz":
        raise ValueError(f"array file must be .npy or .npz; got {path.name!r}.")
    data = load_npz(path)
    if x_key not in data:
        raise ValueError(f"{path.name} has no array {x_key!r}; it holds {sorted(data)}.")
    X = data[x_key]
    y = data[y_key] if y_key and y_key in data else None
    ids = data[ids_key] if ids_key in data else None
    return from_arrays(X, y, ids=ids, name=path.stem)


# ---------------------------------------------------------------------------- MNIST (idx)
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
#: Largest IDX payload read (4 GiB): a bound on what a crafted header can make us allocate.
MAX_IDX_BYTES = 2**32


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _read_at_most(fh: Any, n: int, path: Path) -> bytes:
    """Read ``n`` bytes in chunks (memory grows with what the file really holds)."""
    buf = bytearray()
    try:
        while len(buf) < n:
            block = fh.read(min(n - len(buf), 1 << 24))
            if not block:
                break
            buf += block
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path} cannot be read: {exc} (damaged gzip?).") from None
    return bytes(buf)


def _read_idx(path: Path) -> np.ndarray:
    """An IDX array, streamed: the header is read first, then exactly the bytes it declares
    (never more: a gzip bomb stops at the declared size), then the end of the file."""
    with _open(path) as fh:
        header = _read_at_most(fh, 4, path)
        if len(header) < 4:
            raise ValueError(
                f"{path} is truncated: {len(header)} bytes, shorter than an IDX header."
            )
        if header[0] != 0 or header[1] != 0:
            raise ValueError(f"{path.name} is not an IDX file (bad magic number).")
        dtype_code, ndim = header[2], header[3]
        if dtype_code not in _IDX_TYPES:
            raise ValueError(f"{path.name}: unknown IDX data type 0x{dtype_code:02x}.")
        if not 1 <= ndim <= 4:
            raise ValueError(f"{path} declares {ndim} dimensions; IDX images/labels have 1 to 4.")
        raw_dims = _read_at_most(fh, 4 * ndim, path)
        if len(raw_dims) < 4 * ndim:
            raise ValueError(
                f"{path} is truncated: its header declares {ndim} dimensions but ends after "
                f"{len(raw_dims)} of their {4 * ndim} bytes."
            )
        dims = struct.unpack(f">{ndim}I", raw_dims)
        dtype = np.dtype(_IDX_TYPES[dtype_code])
        expected = 1
        for d in dims:
            expected *= d
        nbytes = expected * dtype.itemsize
        if nbytes > MAX_IDX_BYTES:
            raise ValueError(
                f"{path} declares shape {dims} ({nbytes} bytes), more than the {MAX_IDX_BYTES} "
                "bytes repgeo reads from an IDX file."
            )
        data = _read_at_most(fh, nbytes, path)
        if len(data) < nbytes:
            raise ValueError(
                f"{path} is truncated: its header declares shape {dims} ({nbytes} bytes of "
                f"data), the file holds {len(data)}."
            )
        if _read_at_most(fh, 1, path):
            raise ValueError(
                f"{path} is longer than its header declares (shape {dims}, {nbytes} bytes of "
                "data); it is not a valid IDX file."
            )
    return np.frombuffer(data, dtype=dtype).reshape(dims)


def _find(directory: Path, stem: str) -> Path:
    for cand in (
        stem,
        stem + ".gz",
        stem.replace("-idx", ".idx"),
        stem.replace("-idx", ".idx") + ".gz",
    ):
        p = directory / cand
        if p.exists():
            return p
    raise FileNotFoundError(f"{stem}[.gz] not found in {directory}.")


def load_mnist(
    directory: str | os.PathLike, *, split: str = "train", scale: bool = True
) -> Dataset:
    """MNIST (or Fashion-MNIST) from the standard IDX files in ``directory``.

    Expects ``{train,t10k}-images-idx3-ubyte[.gz]`` and ``{train,t10k}-labels-idx1-ubyte[.gz]``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"MNIST directory {directory} does not exist.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    prefix = "train" if split == "train" else "t10k"
    image_path = _find(directory, f"{prefix}-images-idx3-ubyte")
    label_path = _find(directory, f"{prefix}-labels-idx1-ubyte")
    images = _read_idx(image_path)
    labels = _read_idx(label_path)
    if images.ndim != 3:
        raise ValueError(f"{image_path} holds shape {images.shape}; MNIST images are (n, h, w).")
    if labels.ndim != 1:
        raise ValueError(f"{label_path} holds shape {labels.shape}; MNIST labels are (n,).")
    if len(images) == 0:
        raise ValueError(f"{image_path} holds no images (its header declares 0).")
    if len(images) != len(labels):
        raise ValueError(
            f"MNIST files disagree: {image_path.name} has {len(images)} images, "
            f"{label_path.name} {len(labels)} labels."
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 9:
        raise ValueError(
            f"{label_path} holds labels in [{labels.min()}, {labels.max()}] ({labels.dtype}); "
            "MNIST labels are integers 0..9."
        )
    X = images.reshape(len(images), -1).astype(np.float32)
    if scale:
        X /= 255.0
    return Dataset(
        X=X,
        y=labels.astype(np.int64),
        ids=make_ids(f"mnist-{split}", len(X)),
        name=f"mnist-{split}",
        meta={"input_shape": [1, *images.shape[1:]]},
    )


# ---------------------------------------------------------------------------- CIFAR-10 (binary)
def load_cifar10(
    directory: str | os.PathLike, *, split: str = "train", scale: bool = True
) -> Dataset:
    """CIFAR-10 from the binary version (``data_batch_{1..5}.bin``, ``test_batch.bin``).

    Each record is 1 label byte followed by 3,072 pixel bytes (channel-major 3×32×32).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"CIFAR-10 directory {directory} does not exist.")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test'; got {split!r}.")
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if split == "train" else ["test_batch.bin"]
    files = [directory / n for n in names if (directory / n).exists()]
    if not files:
        raise FileNotFoundError(f"no CIFAR-10 binary batches ({names[0]} ...) in {directory}.")
    records = []
    for f in files:
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size == 0:
            raise ValueError(f"{f} is empty; a CIFAR-10 batch holds records of 3073 bytes.")
        if raw.size % 3073:
            raise ValueError(
                f"{f} is not a CIFAR-10 binary batch (size {raw.size} not a multiple of 3073)."
            )
        rec = raw.reshape(-1, 3073)
        if rec[:, 0].max() > 9:
            raise ValueError(
                f"{f} holds labels up to {rec[:, 0].max()}; CIFAR-10 labels are 0..9 (corrupt "
                "file?)."
            )
        records.append(rec)
    data = np.concatenate(records)
    X = data[:, 1:].astype(np.float32)
    if scale:
        X /= 255.0
    y = data[:, 0].astype(np.int64)
    return Dataset(
        X=X,
        y=y,
        ids=make_ids(f"cifar10-{split}", len(X)),
        name=f"cifar10-{split}",
        meta={"input_shape": [3, 32, 32]},
    )
