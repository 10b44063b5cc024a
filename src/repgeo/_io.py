"""Atomic file writes, checksums and safe loads (the base layer's I/O: run directories,
checkpoints, reports).

Every file is written to a temporary name in the destination folder and moved into place with
:func:`os.replace`, so a reader (or a resumed run) sees either the old file or the complete new
one, never a half-written file. Files get the permissions the user's umask gives a new file
(``0o666 & ~umask``), so a shared results folder works. Loads never unpickle: arrays use
``allow_pickle=False`` and model weights use safetensors.

Checksums are computed from the bytes as they are written: inside :func:`recording`, every
atomic write under a folder reports ``(path, sha256, size)``, so a run directory knows the
SHA-256 of each of its files without reading any of them back. A reader passes the expected
digest to :func:`read_bytes` (or :func:`load_npz`) and a damaged file raises
:class:`DamagedFileError`, which names the file.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from repgeo._io import atomic_write_bytes, read_bytes, recording, sha256_bytes
>>> folder = Path(tempfile.mkdtemp())
>>> with recording(folder) as written:
...     _ = atomic_write_bytes(folder / "a.bin", b"hello")
>>> written["a.bin"]["sha256"] == sha256_bytes(b"hello"), written["a.bin"]["bytes"]
(True, 5)
>>> read_bytes(folder / "a.bin", sha256=written["a.bin"]["sha256"])
b'hello'
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DamagedFileError",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "file_mode",
    "jsonable",
    "load_npy",
    "load_npz",
    "read_bytes",
    "read_json",
    "recording",
    "resolve_inside",
    "save_npz",
    "sha256_bytes",
    "sha256_file",
]


class DamagedFileError(ValueError):
    """A file is missing, truncated, unparsable or fails its checksum.

    Attributes
    ----------
    path : Path
        The damaged file.
    reason : str
        What is wrong with it.
    """

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path} is damaged: {reason}")


# ----------------------------------------------------------------------------- permissions
_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    try:  # Linux: read it without changing it (thread-safe, reflects later os.umask calls)
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore it
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The permission bits a new file gets under this process's umask (``0o666 & ~umask``)."""
    return 0o666 & ~_umask()


# ----------------------------------------------------------------------------- checksums
def sha256_bytes(data: bytes | bytearray | memoryview) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


_Recorder = tuple[
    str, dict[str, dict[str, Any]], Callable[[dict[str, dict[str, Any]]], None] | None
]
_RECORDERS: list[_Recorder] = []
_RECORDERS_LOCK = threading.Lock()


@contextlib.contextmanager
def recording(
    root: str | os.PathLike,
    *,
    on_write: Callable[[dict[str, dict[str, Any]]], None] | None = None,
) -> Iterator[dict[str, dict[str, Any]]]:
    """Record every atomic write under ``root`` while the block runs.

    Yields a dict that fills with ``{relative posix path: {"sha256": hex, "bytes": size}}``
    (the digest of the bytes written, computed before they reach the disk). ``on_write``, if
    given, is called with that dict after each recorded write (e.g. to journal it; its own
    writes should pass ``record=False``).
    """
    base = os.path.abspath(root)
    written: dict[str, dict[str, Any]] = {}
    entry: _Recorder = (base, written, on_write)
    with _RECORDERS_LOCK:
        _RECORDERS.append(entry)
    try:
        yield written
    finally:
        with _RECORDERS_LOCK:
            _RECORDERS.remove(entry)


def _record(path: Path, digest: str, size: int) -> None:
    full = os.path.abspath(path)
    callbacks = []
    with _RECORDERS_LOCK:
        for base, written, on_write in _RECORDERS:
            if full.startswith(base + os.sep):
                rel = Path(os.path.relpath(full, base)).as_posix()
                written[rel] = {"sha256": digest, "bytes": size}
                if on_write is not None:
                    callbacks.append((on_write, written))
    for on_write, written in callbacks:
        on_write(written)


# ----------------------------------------------------------------------------- writes
def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, record: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, fsync, rename).

    The file gets the umask's permissions (``0o666 & ~umask``). Inside :func:`recording`, the
    SHA-256 of ``data`` is recorded (unless ``record=False``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), file_mode())
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if record and _RECORDERS:
        _record(path, sha256_bytes(data), len(data))
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def jsonable(obj: Any) -> Any:
    """Convert NumPy/torch scalars and arrays (recursively) into JSON-serialisable values."""
    try:
        import torch

        if isinstance(obj, torch.Tensor):
            obj = obj.detach().cpu().numpy()
    except ImportError:  # pragma: no cover
        pass
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Write ``obj`` as indented JSON atomically (NumPy values converted)."""
    return atomic_write_text(path, json.dumps(jsonable(obj), indent=2, sort_keys=False) + "\n")


# ----------------------------------------------------------------------------- reads
def resolve_inside(root: str | os.PathLike, rel: Any) -> Path | None:
    """``root / rel`` when ``rel`` is a relative POSIX path that stays inside ``root``: no
    absolute path, drive, scheme (``javascript:``), backslash, empty or ``..`` part, and no
    symlink on the way. None otherwise (nothing is read or followed).

    Examples
    --------
    >>> from repgeo._io import resolve_inside
    >>> resolve_inside("/run", "figures/a.png").as_posix()
    '/run/figures/a.png'
    >>> [resolve_inside("/run", r) for r in ("../secret", "/etc/hostname", "javascript:x")]
    [None, None, None]
    """
    if not isinstance(rel, str) or not rel or len(rel) > 1024:
        return None
    if rel.startswith("/") or "\\" in rel or ":" in rel or "\x00" in rel:
        return None
    parts = rel.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return None
    path = Path(root)
    for part in parts:
        path = path / part
        if path.is_symlink():
            return None
    return path


def read_bytes(path: str | os.PathLike, *, sha256: str | None = None) -> bytes:
    """The bytes of ``path``; with ``sha256``, :class:`DamagedFileError` unless they match.

    A missing file raises :class:`FileNotFoundError` naming it.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist.") from None
    except IsADirectoryError:
        raise DamagedFileError(path, "it is a directory, not a file") from None
    if sha256 is not None:
        found = sha256_bytes(data)
        if found != sha256:
            raise DamagedFileError(
                path,
                f"its SHA-256 is {found[:12]}…, the run recorded {sha256[:12]}… "
                f"({len(data)} bytes now)",
            )
    return data


def read_json(path: str | os.PathLike, *, sha256: str | None = None) -> Any:
    """Read a JSON file; an empty, truncated or non-UTF-8 file raises :class:`DamagedFileError`."""
    data = read_bytes(path, sha256=sha256)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        what = "it is empty" if not data.strip() else f"it is not valid JSON ({exc})"
        raise DamagedFileError(path, what) from None


def save_npz(path: str | os.PathLike, **arrays: Any) -> Path:
    """Save arrays to a compressed ``.npz`` atomically; object arrays are refused."""
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v)
        if a.dtype == object:
            raise TypeError(f"array {k!r} has dtype object; only numeric/string arrays are saved.")
        clean[k] = a
    buf = io.BytesIO()
    np.savez_compressed(buf, **clean)
    return atomic_write_bytes(path, buf.getvalue())


def _check_npz_members(zf: zipfile.ZipFile, path: Path) -> None:
    """Refuse members whose ``.npy`` header declares more data than the member holds (before
    anything is allocated), and members that are not ``.npy`` at all."""
    for info in zf.infolist():
        if not info.filename.endswith(".npy"):
            raise DamagedFileError(path, f"member {info.filename!r} is not a .npy array")
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0), (3, 0)):
                raise DamagedFileError(path, f"member {info.filename!r}: .npy version {version}")
            reader = {
                (1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0,
            }.get(version, np.lib.format.read_array_header_2_0)
            shape, _fortran, dtype = reader(fh)
            if dtype.hasobject:
                raise ValueError(
                    f"{path} holds object arrays (member {info.filename!r}); repgeo never "
                    "unpickles files."
                )
            need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            if need > info.file_size:
                raise DamagedFileError(
                    path,
                    f"member {info.filename!r} declares shape {shape} ({need} bytes) but holds "
                    f"{info.file_size} bytes",
                )


def load_npy(path: str | os.PathLike, data: bytes | None = None) -> np.ndarray:
    """Load a ``.npy`` file (never unpickles), its header checked against its size first.

    ``data`` are the file's bytes when the caller has read (and hashed) them already. A file
    that is not a ``.npy`` or whose size differs from what its header declares raises
    :class:`DamagedFileError` before any array is allocated; an object array is refused
    with ``ValueError``.
    """
    path = Path(path)
    if data is None:
        data = path.read_bytes()
    try:
        fh = io.BytesIO(data)
        version = np.lib.format.read_magic(fh)
        reader = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _fortran, dtype = reader(fh)
        offset = fh.tell()
    except (ValueError, EOFError, OSError) as exc:
        raise DamagedFileError(path, f"it is not a valid .npy file ({exc})") from None
    if dtype.hasobject:
        raise ValueError(
            f"{path} holds an object array, which repgeo never unpickles; save numbers "
            "(np.save(path, np.asarray(x, dtype=np.float32)))."
        )
    need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
    have = len(data) - offset
    if have != need:
        what = "truncated" if have < need else "longer than its header declares"
        raise DamagedFileError(
            path, f"{what}: shape {shape} of {dtype} needs {need} bytes, it holds {have}"
        )
    return np.asarray(np.load(io.BytesIO(data), allow_pickle=False))


def load_npz(path: str | os.PathLike, *, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file (never unpickles).

    A file that is not a valid ``.npz`` (truncated, garbage, a member whose header declares
    more data than it holds) raises :class:`DamagedFileError` naming it, and no array larger
    than what the file really holds is allocated. With ``sha256``, the file's bytes are checked
    first.
    """
    path = Path(path)
    data = read_bytes(path, sha256=sha256)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _check_npz_members(zf, path)
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except DamagedFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError) as exc:
        raise DamagedFileError(path, f"it is not a valid .npz archive ({exc})") from None
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc):
            raise ValueError(f"{path} holds object arrays; repgeo never unpickles files.") from None
        raise DamagedFileError(path, f"it is not a valid .npz archive ({exc})") from None
