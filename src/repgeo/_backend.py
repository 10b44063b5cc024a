"""The one place that handles device, dtype and memory budgets.

Numerical cores compute in torch. Public functions accept NumPy arrays or torch tensors and,
like POT, return results of the *same kind, dtype and device* as their main input::

    Xt, back = to_torch(X)           # NumPy -> tensor (no copy on CPU), tensor stays as is
    out = core(Xt)                    # torch computation
    return back(out)                  # -> ndarray of X's dtype, or tensor on X's device

Chunking is driven by a global memory budget (bytes), settable with
:func:`set_memory_budget` or the ``REPGEO_MEMORY_BUDGET`` environment variable (e.g. ``"2GB"``).
"""

from __future__ import annotations

import math
import numbers
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ._typing import ArrayLike

__all__ = [
    "chunk_rows",
    "get_memory_budget",
    "iter_chunks",
    "memory_budget",
    "resolve_device",
    "set_memory_budget",
    "to_numpy",
    "to_torch",
]

_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def _parse_bytes(value: str | int | float) -> int:
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
        raise TypeError(
            "memory budget must be a number of bytes or a string such as '512MB'; got "
            f"{type(value).__name__} ({value!r})."
        )
    if isinstance(value, numbers.Real):
        if not math.isfinite(float(value)):
            raise ValueError(f"memory budget must be finite; got {value!r}.")
        if value < 1:
            raise ValueError(f"memory budget must be at least 1 byte; got {value!r}.")
        return int(value)
    s = str(value).strip().upper().replace("IB", "B")
    number, factor = s, 1
    for unit in sorted(_UNITS, key=len, reverse=True):
        if s.endswith(unit):
            number, factor = s[: -len(unit)].strip(), _UNITS[unit]
            break
    try:
        parsed = float(number) * factor
    except ValueError as exc:
        raise ValueError(
            f"could not parse memory budget {value!r} (try '512MB' or '2GB')."
        ) from exc
    return _parse_bytes(parsed)


_MEMORY_BUDGET = _parse_bytes(os.environ.get("REPGEO_MEMORY_BUDGET", "1GB"))


def get_memory_budget() -> int:
    """Current working-memory budget in bytes used to size chunks."""
    return _MEMORY_BUDGET


def set_memory_budget(budget: str | int) -> int:
    """Set the working-memory budget (bytes or a string such as ``"512MB"``); return the old one.

    Raises
    ------
    TypeError
        If ``budget`` is neither a real number nor a string (``None``, a bool, a list).
    ValueError
        If it is not finite, below 1 byte, or a string that does not parse.

    Examples
    --------
    >>> from repgeo._backend import get_memory_budget, set_memory_budget
    >>> old = set_memory_budget("512MB")
    >>> get_memory_budget() == 512 * 2**20
    True
    >>> _ = set_memory_budget(old)
    """
    global _MEMORY_BUDGET
    old = _MEMORY_BUDGET
    _MEMORY_BUDGET = _parse_bytes(budget)
    return old


@contextmanager
def memory_budget(budget: str | int) -> Iterator[int]:
    """Context manager that temporarily sets the memory budget."""
    old = set_memory_budget(budget)
    try:
        yield _MEMORY_BUDGET
    finally:
        set_memory_budget(old)


def chunk_rows(
    bytes_per_row: float, *, budget: int | None = None, minimum: int = 1, maximum: int | None = None
) -> int:
    """Number of rows whose working memory (``bytes_per_row`` each) fits into the budget."""
    budget = get_memory_budget() if budget is None else budget
    rows = int(budget // max(float(bytes_per_row), 1.0))
    rows = max(rows, minimum)
    if maximum is not None:
        rows = min(rows, maximum)
    return rows


def iter_chunks(n: int, size: int) -> Iterator[slice]:
    """Yield consecutive slices of ``range(n)`` of at most ``size`` elements."""
    size = max(int(size), 1)
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Resolve ``"auto" | "cpu" | "cuda" | "cuda:N" | torch.device`` to a :class:`torch.device`.

    ``"auto"`` (or ``None``) picks CUDA when available, else CPU. Asking for CUDA where none
    is available raises a :class:`ValueError` that says so.
    """
    if isinstance(device, torch.device):
        dev = device
    else:
        name = "auto" if device is None else str(device).lower()
        if name == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(name)
        except RuntimeError as exc:
            raise ValueError(
                f"device must be 'auto', 'cpu' or 'cuda[:N]'; got {device!r}."
            ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was requested but no CUDA device is available; use 'cpu' or 'auto'."
        )
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]'; got {device!r}.")
    return dev


_NP_TO_TORCH = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def to_torch(
    X: ArrayLike,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
) -> tuple[torch.Tensor, Callable[[Any], Any]]:
    """Convert ``X`` to a tensor and return it with a function that converts results back.

    The returned ``back(result)`` maps a tensor (or a tuple/dict of tensors) to the kind of
    ``X``: a NumPy array of ``X``'s dtype when ``X`` was NumPy, otherwise a tensor on ``X``'s
    device with ``X``'s dtype. Integer results (indices) keep their integer dtype.
    """
    orig_dtype: Any  # torch.dtype for tensors, numpy dtype for arrays
    if isinstance(X, torch.Tensor):
        orig_dtype, orig_device, is_numpy = X.dtype, X.device, False
        t = X.detach()
    else:
        arr = np.asarray(X)
        orig_dtype, orig_device, is_numpy = arr.dtype, torch.device("cpu"), True
        if arr.dtype not in _NP_TO_TORCH and arr.dtype.kind == "f":
            arr = arr.astype(np.float64)
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if dtype is not None or device is not None:
        t = t.to(
            device=resolve_device(device) if device is not None else t.device,
            dtype=dtype or t.dtype,
        )

    def back(result: Any) -> Any:
        if isinstance(result, tuple):
            return tuple(back(r) for r in result)
        if isinstance(result, dict):
            return {k: back(v) for k, v in result.items()}
        if not isinstance(result, torch.Tensor):
            return result
        result = result.detach()
        if is_numpy:
            out = result.cpu().numpy()
            if out.dtype.kind == "f" and np.dtype(orig_dtype).kind == "f":
                out = out.astype(orig_dtype, copy=False)
            return out
        if result.is_floating_point() and orig_dtype.is_floating_point:
            result = result.to(dtype=orig_dtype)
        return result.to(orig_device)

    return t, back


def to_numpy(x: Any) -> np.ndarray:
    """Any tensor / array-like to a NumPy array (detached, on CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


# ----------------------------------------------------------------------------- CPU threads
_THREADS_LOCK = threading.Lock()
_THREADS_STATE = {"users": 0, "saved": 1}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Set torch's intra-op threads to 1 while worker threads run, then restore.

    torch has no per-thread setting, so this is process-wide for the duration; concurrent users
    share one save/restore (the last one out restores the count).
    """
    with _THREADS_LOCK:
        if _THREADS_STATE["users"] == 0:
            _THREADS_STATE["saved"] = torch.get_num_threads()
            torch.set_num_threads(1)
        _THREADS_STATE["users"] += 1
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _THREADS_STATE["users"] -= 1
            if _THREADS_STATE["users"] == 0:
                torch.set_num_threads(_THREADS_STATE["saved"])


def cpu_workers(device: torch.device, n_blocks: int) -> int:
    """Worker threads for a CPU block loop: one per torch thread, at most one per block; 1 on
    accelerators (their kernels are already parallel)."""
    if device.type != "cpu":
        return 1
    return max(1, min(torch.get_num_threads(), int(n_blocks)))


def map_blocks(fn: Any, items: Any, workers: int) -> Iterator[Any]:
    """Yield ``fn(item)`` for every item, in order.

    With ``workers > 1`` the items run in waves of ``workers`` on threads of one-thread torch
    (NumPy, SciPy's sparse kernels and torch release the GIL), so the memory in flight is
    ``workers`` blocks' worth: size the blocks with ``budget / workers``. torch's thread count is
    lowered only while a wave runs, never across a ``yield`` (a caller that stops early must not
    leave the process on one thread). Each result must not depend on which thread computed it;
    then the output is the same as the serial loop.
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for it in items:
            yield fn(it)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(items), workers):
            with one_torch_thread():
                results = list(pool.map(fn, items[start : start + workers]))
            yield from results


# ----------------------------------------------------------------------------- sparse products
_POOL: dict[int, Any] = {}


def _pool(workers: int) -> Any:
    """A process-wide thread pool per size (sparse products are called thousands of times)."""
    if workers not in _POOL:
        from concurrent.futures import ThreadPoolExecutor

        _POOL[workers] = ThreadPoolExecutor(workers, thread_name_prefix="repgeo-csr")
    return _POOL[workers]


def locality_order(A: Any) -> np.ndarray:
    """Reverse Cuthill–McKee order of a symmetric SciPy sparse matrix: neighbours end up close
    in memory, which makes sparse products on kNN graphs and kernels 3–5× faster on the CPU
    than in the data's (random) order."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee

    return reverse_cuthill_mckee(A.tocsr(), symmetric_mode=True).astype(np.int64)


class CsrProduct:
    """``Y += A X`` for a SciPy CSR matrix ``A`` and C-contiguous NumPy blocks, in place.

    SciPy's CSR kernel (``csr_matvecs``) accumulates into ``Y`` with no temporary and releases
    the GIL; with ``workers > 1`` the rows are split into ranges of equal non-zeros that run on
    a shared thread pool. Each output row is computed by one thread in the same order, so the
    result does not depend on ``workers``.

    Parameters
    ----------
    A : scipy.sparse matrix of shape (n_rows, n_cols)
    workers : int, default=1
    """

    def __init__(self, A: Any, *, workers: int = 1) -> None:
        A = A.tocsr()
        A.sum_duplicates()
        A.sort_indices()
        self.shape = A.shape
        self.dtype = A.data.dtype
        self.indptr, self.indices, self.data = A.indptr, A.indices, A.data
        workers = max(1, int(workers))
        cuts = np.searchsorted(self.indptr, np.linspace(0, A.nnz, workers + 1)[1:-1])
        edges = np.unique(np.r_[0, cuts, A.shape[0]])
        self.ranges = [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        try:  # SciPy's private kernel (tested); a SciPy without it falls back to A @ X
            from scipy.sparse._sparsetools import csr_matvecs

            self._kernel: Any = csr_matvecs
        except ImportError:  # pragma: no cover
            self._kernel = None

    def addmul_(self, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """``Y += A X``; ``X`` of shape (n_cols, b), ``Y`` (n_rows, b), both C-contiguous in
        ``A``'s dtype. Returns ``Y``."""
        n_rows, n_cols = self.shape
        if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
            raise ValueError(f"X and Y must be 2-D with equal columns; got {X.shape}, {Y.shape}.")
        if X.shape[0] != n_cols or Y.shape[0] != n_rows:
            raise ValueError(
                f"A has shape {self.shape}: X needs {n_cols} rows and Y {n_rows}; got "
                f"{X.shape[0]} and {Y.shape[0]}."
            )
        if X.dtype != self.dtype or Y.dtype != self.dtype:
            raise TypeError(f"X and Y must be {self.dtype}; got {X.dtype} and {Y.dtype}.")
        if not (X.flags.c_contiguous and Y.flags.c_contiguous and Y.flags.writeable):
            raise ValueError("X and Y must be C-contiguous (and Y writeable).")
        if self._kernel is None:  # pragma: no cover
            import scipy.sparse as sp

            A = sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)
            Y += A @ X
            return Y
        b, x = X.shape[1], X.reshape(-1)

        def part(r: tuple[int, int]) -> None:
            r0, r1 = r
            self._kernel(
                r1 - r0, n_cols, b, self.indptr[r0 : r1 + 1], self.indices, self.data,
                x, Y[r0:r1].reshape(-1),
            )  # fmt: skip

        if len(self.ranges) <= 1:
            part(self.ranges[0]) if self.ranges else None
        else:
            list(_pool(len(self.ranges)).map(part, self.ranges))
        return Y
