"""The user's own files for ``repgeo analyze``: embeddings, labels, sentences and images.

Nothing here unpickles: ``.npy``/``.npz`` are read with ``allow_pickle=False`` (an object array
is refused), ``.safetensors`` with safetensors. Every problem raises an error that names the file
and says how to fix it, before anything is computed or written.

* :func:`load_embeddings` — embeddings of the same samples at several layers: a ``.npz`` with one
  array per layer, a ``.safetensors`` file (one tensor per layer), a ``.npy`` (one layer), or a
  directory of such files, one per checkpoint (an over-training axis, ordered by the number in
  each file name). Labels may sit in the same file (``labels="y"``) or in their own file.
* :func:`load_labels` — class labels from a ``.npy``, a ``.npz`` or a text file (one per line;
  names or integers).
* :func:`load_texts` — a text file with one sentence per line.
* :func:`load_images` — a folder of images (sub-folders = classes), as ``(N, C, H, W)`` floats
  in [0, 1].
* :func:`load_inputs` — the ``--data`` of ``repgeo analyze --model``: sentences, arrays or images.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> import numpy as np
>>> from repgeo.data import load_embeddings
>>> rng = np.random.default_rng(0)
>>> path = Path(tempfile.mkdtemp()) / "emb.npz"
>>> np.savez(path, layer0=rng.normal(size=(30, 8)), layer1=rng.normal(size=(30, 4)),
...          y=np.repeat([0, 1, 2], 10))
>>> emb = load_embeddings(path, labels="y")
>>> list(emb.layers), emb.n_samples, emb.class_names
(['layer0', 'layer1'], 30, ['0', '1', '2'])
"""

from __future__ import annotations

import difflib
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import DamagedFileError, load_npy, load_npz, sha256_bytes

__all__ = [
    "EMBEDDING_SUFFIXES",
    "IMAGE_SUFFIXES",
    "Embeddings",
    "ModelInputs",
    "load_embeddings",
    "load_images",
    "load_inputs",
    "load_labels",
    "load_texts",
]

EMBEDDING_SUFFIXES = (".npz", ".safetensors", ".npy")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


# ----------------------------------------------------------------------------- records
@dataclass
class Embeddings:
    """Embeddings of the same samples at several layers, with labels and their sources.

    Attributes
    ----------
    layers : dict of str to ndarray of shape (n_samples, n_features)
        One array per layer (float32 or float64), in the file's order; of the last checkpoint
        when the source is a directory.
    y : ndarray of shape (n_samples,), int64, or None
        Class labels.
    class_names : list of str or None
        The name of each class id (the label strings, or the integers as strings).
    steps : list of int or None
        The checkpoints (numbers in the file names, ascending) of a directory source.
    files : dict of str to str
        SHA-256 of every file read (path -> digest), labels file included.
    source : Path
        The file or directory given.
    notes : list of str
        What was done on the way (arrays flattened, 1-D arrays left out, ...).
    """

    layers: dict[str, np.ndarray]
    y: np.ndarray | None = None
    class_names: list[str] | None = None
    steps: list[int] | None = None
    files: dict[str, str] = field(default_factory=dict)
    source: Path = Path(".")
    notes: list[str] = field(default_factory=list)
    _paths: dict[int, Path] = field(default_factory=dict, repr=False)
    _labels: Any = field(default=None, repr=False)
    _select: list[str] | None = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        return next(iter(self.layers.values())).shape[0]

    def at(self, step: int) -> dict[str, np.ndarray]:
        """The layers of checkpoint ``step`` (read again from its file, which must still have
        the SHA-256 it had when first read)."""
        if self.steps is None:
            raise ValueError(f"{self.source} is one file, not a directory of checkpoints.")
        if step not in self._paths:
            raise KeyError(f"no checkpoint {step} in {self.source}; it holds {self.steps}.")
        path = self._paths[step]
        if step == self.steps[-1]:
            return self.layers
        layers, _, _, _ = _read_file(path, self._labels, self._select, sha256=self.files[str(path)])
        return layers


@dataclass
class ModelInputs:
    """What ``repgeo analyze --model`` feeds the model.

    Attributes
    ----------
    kind : {"text", "array", "tokens", "images"}
        ``"tokens"``: an integer ``.npy``/``.npz`` (token ids, kept as int64).
    data : list of str, or ndarray
        Sentences, or arrays of shape (n, ...) (images: (n, C, H, W) in [0, 1]).
    y : ndarray or None
        Labels (image sub-folders, or a ``y`` array of a ``.npz``).
    class_names : list of str or None
    files : dict of str to str
        SHA-256 of every file read.
    source : Path
    """

    kind: str
    data: Any
    y: np.ndarray | None = None
    class_names: list[str] | None = None
    files: dict[str, str] = field(default_factory=dict)
    source: Path = Path(".")

    @property
    def n_samples(self) -> int:
        return len(self.data)

    @property
    def model_input(self) -> Any:
        """What the model is called on: token ids as an int64 tensor (so that extraction keeps
        them integer), everything else as loaded."""
        if self.kind == "tokens":
            import torch

            return torch.from_numpy(self.data)
        return self.data

    @property
    def continuous(self) -> bool:
        """Whether the inputs live in a vector space (float arrays, images), not token ids or
        sentences."""
        return self.kind in ("array", "images")


# ----------------------------------------------------------------------------- reading files
def _read(path: Path) -> tuple[bytes, str]:
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist.")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; expected a file.")
    data = path.read_bytes()
    return data, sha256_bytes(data)


def _npz(path: Path) -> dict[str, np.ndarray]:
    try:
        return load_npz(path)
    except ValueError as exc:
        if "unpickles" in str(exc) and not isinstance(exc, DamagedFileError):
            raise ValueError(
                f"{path} holds an object array, which repgeo never unpickles; save numeric "
                "arrays (np.savez(path, layer=np.asarray(x, dtype=np.float32), ...))."
            ) from None
        raise


def _safetensors(path: Path, data: bytes) -> dict[str, np.ndarray]:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load as st_load

    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise DamagedFileError(path, f"it is not a valid safetensors file ({exc})") from None
    out = {}
    for k, t in tensors.items():
        if t.dtype in (torch.bfloat16, torch.float16):  # NumPy has no bfloat16
            t = t.float()
        out[k] = t.numpy()
    return out


def _arrays(path: Path, data: bytes) -> dict[str, np.ndarray]:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(path)
    if suffix == ".safetensors":
        return _safetensors(path, data)
    if suffix == ".npy":
        return {path.stem: load_npy(path, data)}
    raise ValueError(
        f"{path.name}: embeddings must be a .npz (one array per layer), a .safetensors file, a "
        f".npy or a directory of them; got {path.suffix or 'no suffix'!r}."
    )


def _closest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=3, cutoff=0.5)
    return (
        f"closest: {', '.join(repr(c) for c in close)}"
        if close
        else f"it holds {list(options)[:10]}"
    )


def _layer(path: Path, name: str, a: np.ndarray, notes: list[str]) -> np.ndarray:
    """A validated layer: numeric, finite, (n, features) float."""
    if a.dtype.kind not in "fiu":
        what = {"b": "boolean", "U": "text", "S": "bytes", "O": "object", "c": "complex"}.get(
            a.dtype.kind, str(a.dtype)
        )
        raise ValueError(
            f"{path.name}: layer {name!r} holds {what} values ({a.dtype}); embeddings must be "
            "real numbers. Save it with np.asarray(x, dtype=np.float32), or pass it as labels."
        )
    if a.shape[0] == 0:
        raise ValueError(f"{path.name}: layer {name!r} has no rows (shape {a.shape}).")
    if a.ndim > 2:
        notes.append(f"{path.name}: layer {name!r} of shape {a.shape} flattened per sample")
        a = a.reshape(a.shape[0], -1)
    if a.shape[1] == 0:
        raise ValueError(f"{path.name}: layer {name!r} has no features (shape {a.shape}).")
    a = a.astype(np.float64 if a.dtype == np.float64 else np.float32, copy=False)
    bad = ~np.isfinite(a).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        shown = ", ".join(str(r) for r in rows[:5]) + (" ..." if rows.size > 5 else "")
        raise ValueError(
            f"{path.name}: layer {name!r} has NaN or infinite values in {rows.size} row(s) "
            f"(rows {shown}); drop those rows from every layer and from the labels, or impute them."
        )
    return a


def _labels_array(where: str, y: Any, n: int | None) -> tuple[np.ndarray, list[str]]:
    """Integer class ids and class names from an array of ids or names."""
    y = np.asarray(y)
    if y.ndim != 1:
        if y.ndim == 2 and 1 in y.shape:
            y = y.reshape(-1)
        else:
            raise ValueError(f"{where}: labels must be 1-D (one per sample); got shape {y.shape}.")
    if n is not None and y.shape[0] != n:
        raise ValueError(
            f"{where}: {y.shape[0]} labels for {n} samples; give exactly one label per row of the "
            "embeddings, in the same order."
        )
    if y.dtype.kind in "US":
        names, ids = np.unique(y.astype(str), return_inverse=True)
        return ids.astype(np.int64), [str(s) for s in names]
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise ValueError(
                f"{where}: labels contain NaN or infinity; every sample needs a class."
            )
        if not np.all(y == np.round(y)):
            raise ValueError(
                f"{where}: labels are non-integer numbers; labels are class ids (integers) or names."
            )
    if y.dtype.kind not in "iuf":
        raise ValueError(f"{where}: labels of dtype {y.dtype} are neither class ids nor names.")
    values = np.unique(y)
    ids = np.searchsorted(values, y).astype(np.int64)
    return ids, [str(int(v)) for v in values]


def _check_classes(where: str, y: np.ndarray) -> None:
    if len(np.unique(y)) < 2:
        raise ValueError(
            f"{where}: the labels hold a single class; the label panels compare classes, so give "
            "labels of at least two classes (or none)."
        )


def _read_file(
    path: Path,
    labels_key: str | None,
    select: Sequence[str] | None,
    *,
    sha256: str | None = None,
    notes: list[str] | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray | None, str, list[str]]:
    """Layers (validated, same row count), the labels under ``labels_key``, the digest, and
    the names of 1-D arrays left out."""
    notes = notes if notes is not None else []
    data, digest = _read(path)
    if sha256 is not None and digest != sha256:
        raise DamagedFileError(
            path, f"it changed since it was first read (SHA-256 {digest[:12]}…, was {sha256[:12]}…)"
        )
    arrays = _arrays(path, data)
    if not arrays:
        raise ValueError(f"{path.name} holds no arrays.")
    y = None
    if labels_key is not None:
        if labels_key not in arrays:
            raise ValueError(
                f"{path.name} has no labels array {labels_key!r} ({_closest(labels_key, list(arrays))}); "
                "name the labels array the file holds, or give a labels file (one label per line)."
            )
        y = arrays.pop(labels_key)
    left_out = [k for k, a in arrays.items() if a.ndim == 1]
    layers_raw = {k: a for k, a in arrays.items() if a.ndim != 1}
    if select is not None:
        missing = [s for s in select if s not in layers_raw]
        if missing:
            raise ValueError(
                f"{path.name} has no layer {missing[0]!r} ({_closest(missing[0], list(layers_raw))})."
            )
        layers_raw = {s: layers_raw[s] for s in select}
    if not layers_raw:
        raise ValueError(
            f"{path.name} holds no 2-D arrays (one per layer, shape (n_samples, n_features)); "
            f"it holds {', '.join(f'{k} {a.shape}' for k, a in arrays.items())}."
        )
    for k, a in layers_raw.items():
        if a.ndim == 0:
            raise ValueError(f"{path.name}: {k!r} is a scalar, not a layer of embeddings.")
    rows = {k: int(a.shape[0]) for k, a in layers_raw.items()}
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"{k}: {r}" for k, r in rows.items())
        raise ValueError(
            f"{path.name}: the layers have different numbers of rows ({shown}); every layer must "
            "embed the same samples in the same order."
        )
    layers = {k: _layer(path, k, a, notes) for k, a in layers_raw.items()}
    return layers, y, digest, left_out


def load_labels(
    path: str | os.PathLike, *, n_samples: int | None = None, key: str | None = None
) -> tuple[np.ndarray, list[str]]:
    """Class labels from a file: ``.npy``, ``.npz`` (``key``, or its only array, or ``y``), or
    text (one label per line: class names or integers).

    Parameters
    ----------
    path : path
    n_samples : int, optional
        The number of samples the labels must cover.
    key : str, optional
        The array of a ``.npz`` holding the labels.

    Returns
    -------
    y : ndarray of shape (n_samples,), int64
        Class ids 0 … C−1 (names sorted, integers in increasing order).
    class_names : list of str

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from repgeo.data import load_labels
    >>> path = Path(tempfile.mkdtemp()) / "labels.txt"
    >>> _ = path.write_text("cat\\ndog\\ncat\\n")
    >>> y, names = load_labels(path)
    >>> y.tolist(), names
    ([0, 1, 0], ['cat', 'dog'])
    """
    path = Path(path)
    data, _ = _read(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        raw: Any = load_npy(path, data)
    elif suffix == ".npz":
        arrays = _npz(path)
        if key is not None:
            if key not in arrays:
                raise ValueError(
                    f"{path.name} has no array {key!r} ({_closest(key, list(arrays))})."
                )
            raw = arrays[key]
        elif len(arrays) == 1:
            raw = next(iter(arrays.values()))
        elif "y" in arrays or "labels" in arrays:
            raw = arrays["y" if "y" in arrays else "labels"]
        else:
            raise ValueError(
                f"{path.name} holds several arrays ({sorted(arrays)}) and none is called 'y' or "
                "'labels'; name the labels array."
            )
    elif suffix in (".safetensors",):
        raise ValueError(f"{path.name}: labels come from a .npy, a .npz or a text file.")
    else:
        lines = _text_lines(path, data, what="labels")
        raw = np.array(lines)
        try:
            raw = raw.astype(np.int64)
        except ValueError:
            pass
    y, names = _labels_array(path.name, raw, n_samples)
    return y, names


def load_embeddings(
    path: str | os.PathLike,
    *,
    labels: str | os.PathLike | None = None,
    layers: Sequence[str] | None = None,
    require_classes: bool = True,
) -> Embeddings:
    """Embeddings of the same samples at several layers, from a file or a directory.

    Parameters
    ----------
    path : path
        * ``.npz`` — one array per layer, shape (n_samples, n_features) (more dimensions are
          flattened per sample); 1-D arrays are not layers (labels, ids) and are left out;
        * ``.safetensors`` — one tensor per layer (bf16/fp16 read as float32);
        * ``.npy`` — one layer, named after the file;
        * a directory of such files, one per checkpoint, ordered by the number in each file
          name (``epoch_10.npz``), every file with the same layers and samples.
    labels : str or path, optional
        The name of a labels array inside the file(s), or a labels file (:func:`load_labels`).
        A value naming an existing file is read as a file.
    layers : sequence of str, optional
        Keep these layers, in this order (default: all, in the file's order).
    require_classes : bool, default=True
        Refuse labels of a single class.

    Returns
    -------
    Embeddings

    Raises
    ------
    ValueError
        Layers with different row counts, non-numeric or object arrays, NaN rows, a missing
        labels array, labels of the wrong length, a directory whose files disagree — each with
        the file's name and the fix.
    FileNotFoundError
        ``path`` (or a labels file) does not exist.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"embeddings {path} do not exist.")
    select = None
    if layers is not None:
        if isinstance(layers, str) or not isinstance(layers, Sequence) or not layers:
            raise TypeError(f"layers must be a non-empty list of names; got {layers!r}.")
        select = [str(s) for s in dict.fromkeys(layers)]
    label_file: Path | None = None
    key: str | None = None
    if labels is not None:
        cand = Path(labels)
        if cand.is_file():
            label_file = cand
        elif isinstance(labels, str) and os.sep not in labels and "/" not in labels:
            key = labels
        else:
            raise FileNotFoundError(
                f"labels {labels!r} is neither a file nor the name of an array in {path.name}."
            )
    notes: list[str] = []
    files: dict[str, str] = {}
    if path.is_dir():
        found = _checkpoint_files(path, exclude=label_file)
        steps = [s for s, _ in found]
        last_layers: dict[str, np.ndarray] = {}
        y = None
        names: list[str] | None = None
        rows = None
        for step, f in found:
            lay, yk, digest, left = _read_file(f, key, select, notes=notes)
            files[str(f)] = digest
            if names is None:
                names, rows = list(lay), next(iter(lay.values())).shape[0]
            elif list(lay) != names:
                raise ValueError(
                    f"{f.name} holds layers {list(lay)} but {found[0][1].name} holds {names}; every "
                    "checkpoint file must hold the same layers."
                )
            elif next(iter(lay.values())).shape[0] != rows:
                raise ValueError(
                    f"{f.name} has {next(iter(lay.values())).shape[0]} rows but {found[0][1].name} "
                    f"has {rows}; every checkpoint must embed the same samples."
                )
            if key is not None:
                if y is None:
                    y = yk
                elif not np.array_equal(np.asarray(yk), np.asarray(y)):
                    raise ValueError(
                        f"{f.name}: its labels {key!r} differ from those of {found[0][1].name}; the "
                        "checkpoints must share one set of labels."
                    )
            if step == steps[-1]:
                last_layers = lay
            if left:
                notes.append(f"{f.name}: 1-D arrays {left} are not layers (left out)")
        emb = Embeddings(
            layers=last_layers,
            steps=steps,
            files=files,
            source=path,
            _paths={s: f for s, f in found},
            _labels=key,
            _select=select,
        )
    else:
        lay, y, digest, left = _read_file(path, key, select, notes=notes)
        files[str(path)] = digest
        if left:
            notes.append(
                f"{path.name}: 1-D arrays {left} are not layers (left out; pass --labels "
                f"{left[0]} to use one as labels)"
            )
        emb = Embeddings(layers=lay, files=files, source=path)
    n = emb.n_samples
    if label_file is not None:
        y_ids, names_ = load_labels(label_file, n_samples=n)
        files[str(label_file)] = _read(label_file)[1]
    elif y is not None:
        y_ids, names_ = _labels_array(f"{path.name}: labels {key!r}", y, n)
    else:
        y_ids, names_ = None, None
    if y_ids is not None and require_classes:
        _check_classes(str(label_file or path.name), y_ids)
    emb.y, emb.class_names = y_ids, names_
    emb.notes = list(dict.fromkeys(notes))
    return emb


def _checkpoint_files(folder: Path, exclude: Path | None = None) -> list[tuple[int, Path]]:
    files = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in EMBEDDING_SUFFIXES and not p.name.startswith(".")
    )
    if exclude is not None:
        files = [p for p in files if p.resolve() != exclude.resolve()]
    if not files:
        raise ValueError(
            f"{folder} holds no embeddings files ({', '.join(EMBEDDING_SUFFIXES)}); a directory "
            "holds one file per checkpoint."
        )
    numbered = []
    for p in files:
        found = re.findall(r"\d+", p.stem)
        if not found:
            raise ValueError(
                f"{p.name} in {folder} has no number in its name; name the checkpoint files by "
                "their step (epoch_10.npz, epoch_20.npz, ...)."
            )
        numbered.append((int(found[-1]), p))
    steps = [s for s, _ in numbered]
    dup = sorted({s for s in steps if steps.count(s) > 1})
    if dup:
        names = [p.name for s, p in numbered if s == dup[0]]
        raise ValueError(f"{folder}: files {names} carry the same checkpoint number {dup[0]}.")
    return sorted(numbered)


# ----------------------------------------------------------------------------- model inputs
def _text_lines(path: Path, data: bytes, *, what: str) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc}); save it as UTF-8.") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{path} is empty; expected one {what[:-1]} per line.")
    blank = [i + 1 for i, s in enumerate(lines) if not s.strip()]
    if blank:
        raise ValueError(
            f"{path}: line {blank[0]} is empty; write one {what[:-1]} per line (remove the blank "
            f"line{'s' if len(blank) > 1 else ''}: {blank[:5]})."
        )
    return [s.strip() for s in lines]


def load_texts(path: str | os.PathLike) -> list[str]:
    """Sentences from a UTF-8 text file, one per line (a trailing blank line is fine).

    Raises
    ------
    ValueError
        The file is empty, is not UTF-8, or has a blank line among the sentences.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from repgeo.data import load_texts
    >>> path = Path(tempfile.mkdtemp()) / "s.txt"
    >>> _ = path.write_text("The striker scored.\\nRain all weekend.\\n")
    >>> load_texts(path)
    ['The striker scored.', 'Rain all weekend.']
    """
    path = Path(path)
    data, _ = _read(path)
    return _text_lines(path, data, what="sentences")


def load_images(
    folder: str | os.PathLike, *, image_size: int | Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, dict[str, str]]:
    """A folder of images as ``(N, C, H, W)`` float32 in [0, 1].

    Images directly in ``folder`` are unlabelled; images in its sub-folders are labelled by the
    sub-folder's name (the ``ImageFolder`` layout). Files are read in name order. Grey images
    give C = 1, colour images C = 3 (a folder mixing them is read as colour).

    Parameters
    ----------
    folder : path
    image_size : int or (int, int), optional
        Resize every image to this (height, width); without it all images must have one size.

    Returns
    -------
    X : ndarray of shape (N, C, H, W), float32
    y : ndarray of shape (N,) or None
    class_names : list of str or None
    files : dict of str to str
        SHA-256 of each image file.
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"image folder {folder} does not exist or is not a directory.")
    top = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    subs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    entries: list[tuple[Path, str | None]] = [(p, None) for p in top]
    for d in subs:
        entries += [
            (p, d.name)
            for p in sorted(d.iterdir())
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        ]
    if not entries:
        raise ValueError(
            f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}), directly or in class "
            "sub-folders."
        )
    if top and subs and any(lbl is not None for _, lbl in entries):
        raise ValueError(
            f"{folder} holds images both at its top level and in sub-folders; put every image in "
            "a class sub-folder, or all of them at the top level (unlabelled)."
        )
    size = None
    if image_size is not None:
        size = (
            (int(image_size), int(image_size))
            if np.isscalar(image_size)
            else tuple(
                int(s)
                for s in image_size  # type: ignore[union-attr]
            )
        )
    files: dict[str, str] = {}
    images = []
    for p, _ in entries:
        data, digest = _read(p)
        files[str(p)] = digest
        try:
            img = Image.open(io.BytesIO(data))
            img.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise DamagedFileError(p, f"it is not a readable image ({exc})") from None
        images.append(img)
    colour = any(img.mode not in ("L", "1", "I", "I;16", "F") for img in images)
    arrays = []
    first = None
    for (p, _), img in zip(entries, images):
        img = img.convert("RGB" if colour else "L")
        if size is not None:
            img = img.resize((size[1], size[0]), Image.BILINEAR)
        a = np.asarray(img, dtype=np.float32) / 255.0
        a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        if first is None:
            first = (p, a.shape)
        elif a.shape != first[1]:
            raise ValueError(
                f"{p.name} is {a.shape[2]}×{a.shape[1]} pixels but {first[0].name} is "
                f"{first[1][2]}×{first[1][1]}; resize them to one size (or pass an image size)."
            )
        arrays.append(a)
    X = np.stack(arrays)
    labels = [lbl for _, lbl in entries]
    if labels[0] is None:
        return X, None, None, files
    names, ids = np.unique(np.array(labels), return_inverse=True)
    return X, ids.astype(np.int64), [str(s) for s in names], files


def load_inputs(
    path: str | os.PathLike,
    *,
    image_size: int | Sequence[int] | None = None,
    x_key: str = "X",
    labels: str | None = None,
) -> ModelInputs:
    """The inputs ``repgeo analyze --model`` feeds the model, by what ``path`` is.

    * a text file (``.txt``, or any suffix other than below) — sentences, one per line;
    * ``.npy`` — an array of inputs (n, ...); ``.npz`` — the array ``x_key`` (or the only one;
      ``labels`` names a labels array in it); integer arrays are token ids (kept as int64, no
      geometry panel), float arrays continuous inputs (float32);
    * a folder — images (:func:`load_images`).

    Returns
    -------
    ModelInputs
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data {path} does not exist.")
    if path.is_dir():
        X, y, names, files = load_images(path, image_size=image_size)
        return ModelInputs("images", X, y, names, files, path)
    data, digest = _read(path)
    suffix = path.suffix.lower()
    files = {str(path): digest}
    if suffix in (".npy", ".npz"):
        if suffix == ".npy":
            arrays = {"X": load_npy(path, data)}
            key = "X"
        else:
            arrays = _npz(path)
            key = x_key if x_key in arrays else (next(iter(arrays)) if len(arrays) == 1 else None)
            if key is None:
                raise ValueError(
                    f"{path.name} has no inputs array {x_key!r} ({_closest(x_key, list(arrays))}); "
                    "save the inputs as X (np.savez(path, X=inputs, y=labels))."
                )
        X = arrays[key]
        if X.dtype.kind not in "fiu" or X.ndim < 2:
            raise ValueError(
                f"{path.name}: inputs {key!r} must be a numeric array of shape (n_samples, ...); "
                f"got {X.dtype} of shape {X.shape}."
            )
        if X.dtype.kind in "iu":  # token ids (an nn.Embedding reads them): kept as integers
            if X.size and int(X.min()) < 0:
                raise ValueError(
                    f"{path.name}: integer inputs {key!r} are read as token ids and must be >= 0; "
                    f"the smallest is {int(X.min())}. Save continuous inputs as floats."
                )
            X = X.astype(np.int64)
            kind = "tokens"
        else:
            X = _layer(path, key, X.reshape(X.shape[0], -1), []).reshape(X.shape)
            X = X.astype(np.float32)
            kind = "array"
        y = names = None
        if labels is not None:
            if labels not in arrays:
                raise ValueError(
                    f"{path.name} has no labels array {labels!r} ({_closest(labels, list(arrays))})."
                )
            y, names = _labels_array(f"{path.name}: labels {labels!r}", arrays[labels], len(X))
        return ModelInputs(kind, X, y, names, files, path)
    if suffix in (".safetensors", ".pt", ".pth", ".bin", ".pkl", ".pickle"):
        raise ValueError(
            f"{path.name}: --data takes a text file (one sentence per line), a .npy/.npz of inputs "
            "or a folder of images."
        )
    return ModelInputs("text", _text_lines(path, data, what="sentences"), None, None, files, path)
