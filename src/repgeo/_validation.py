"""Input validation at the public boundary.

Every public function of repgeo validates its inputs here, once, and raises a
:class:`ValueError` or :class:`TypeError` whose message states what was expected and what
was received (scikit-learn style). Inner functions trust their inputs.

Arrays may be NumPy arrays or torch tensors; validation keeps the kind (a tensor stays a
tensor on its device) so the backend seam in :mod:`repgeo._backend` can return outputs of
the same kind, dtype and device as the inputs.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from ._typing import ArrayLike, Labels, RandomState

__all__ = [
    "check_array",
    "check_choice",
    "check_consistent_length",
    "check_labels",
    "check_positive_int",
    "check_random_state",
    "check_scalar",
    "torch_generator",
]

_FLOAT_DTYPES = (np.float32, np.float64)


def _kind(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return "tensor"
    if isinstance(x, np.ndarray):
        return "ndarray"
    return type(x).__name__


def check_array(
    X: ArrayLike,
    *,
    name: str = "X",
    ndim: int | Sequence[int] | None = 2,
    min_samples: int = 1,
    min_features: int = 1,
    allow_nan: bool = False,
    dtype: str = "float",
    shape_hint: str | None = None,
) -> np.ndarray | torch.Tensor:
    """Validate an array-like and return it as a NumPy array or torch tensor.

    Parameters
    ----------
    X : array_like or torch.Tensor
        The input. Lists and other array-likes are converted to NumPy.
    name : str, default="X"
        Name used in error messages.
    ndim : int or sequence of int or None, default=2
        Accepted number(s) of dimensions; ``None`` accepts any.
    min_samples, min_features : int
        Minimum size of axis 0 and (for ``ndim >= 2``) axis 1.
    allow_nan : bool, default=False
        Whether NaN/inf entries are accepted.
    dtype : {"float", "int", "any"}, default="float"
        ``"float"`` converts integer/bool inputs to float64 (NumPy) or float32 (torch) and keeps
        float32/float64; complex and object dtypes raise :class:`TypeError`.
    shape_hint : str, optional
        Expected shape written into messages, e.g. ``"(n_samples, n_features)"``.

    Returns
    -------
    X : ndarray or Tensor
        Same kind as the input (array-likes become ndarrays).
    """
    hint = shape_hint or ("(n_samples, n_features)" if ndim == 2 else None)
    arr: Any  # a tensor stays a tensor; everything else becomes an ndarray
    if isinstance(X, torch.Tensor):
        arr = X
        if arr.is_complex():
            raise TypeError(
                f"{name} must be real-valued; got a complex tensor of dtype {arr.dtype}."
            )
        if dtype == "float" and not arr.is_floating_point():
            arr = arr.to(torch.get_default_dtype())
        if dtype == "int" and (arr.is_floating_point() or arr.dtype == torch.bool):
            raise TypeError(f"{name} must hold integers; got a tensor of dtype {arr.dtype}.")
        shape = tuple(arr.shape)
    else:
        if X is None:
            raise TypeError(f"{name} must be an array; got None.")
        if hasattr(X, "tocsr") and hasattr(X, "nnz"):  # scipy.sparse, without importing it
            raise TypeError(
                f"{name} is a scipy sparse matrix; sparse input is not supported, pass "
                f"{name}.toarray() (a dense copy) instead."
            )
        if isinstance(X, (str, bytes, dict)):
            raise TypeError(f"{name} must be an array; got {type(X).__name__}.")
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists etc.
            raise ValueError(f"{name} could not be converted to an array: {exc}") from exc
        if arr.dtype == object:
            raise TypeError(
                f"{name} must be numeric; got an array of dtype object (ragged or mixed input?)."
            )
        if np.iscomplexobj(arr):
            raise TypeError(f"{name} must be real-valued; got dtype {arr.dtype}.")
        if dtype == "float":
            if arr.dtype.kind in "biu":
                arr = arr.astype(np.float64)
            elif arr.dtype.kind != "f":
                raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
            elif arr.dtype not in _FLOAT_DTYPES:
                arr = arr.astype(np.float64)
        elif dtype == "int":
            if arr.dtype.kind not in "iu":
                if (
                    arr.dtype.kind == "f"
                    and arr.size
                    and np.all(np.isfinite(arr))
                    and np.all(arr == np.round(arr))
                ):
                    arr = arr.astype(np.int64)
                else:
                    raise TypeError(f"{name} must hold integers; got dtype {arr.dtype}.")
        shape = arr.shape

    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if len(shape) not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            msg = f"{name} must be a {want} array"
            if hint:
                msg += f" of shape {hint}"
            raise ValueError(f"{msg}; got shape {shape}.")
    if len(shape) >= 1 and shape[0] < min_samples:
        raise ValueError(
            f"{name} must have at least {min_samples} sample(s) along axis 0; got shape {shape}."
        )
    if len(shape) >= 2 and shape[1] < min_features:
        raise ValueError(
            f"{name} must have at least {min_features} feature(s) along axis 1; got shape {shape}."
        )
    if not allow_nan and dtype != "int":
        finite = (
            bool(torch.isfinite(arr).all())
            if isinstance(arr, torch.Tensor)
            else bool(np.isfinite(arr).all())
        )
        if not finite:
            raise ValueError(f"{name} contains NaN or infinity; clean or impute it first.")
    return arr


def check_consistent_length(*arrays: Any, names: Sequence[str] | None = None) -> int:
    """Check that all arrays share their first dimension; return it."""
    lengths = [len(a) for a in arrays if a is not None]
    if len(set(lengths)) > 1:
        labels = names or [f"array {i}" for i in range(len(arrays))]
        desc = ", ".join(f"{n}: {length}" for n, length in zip(labels, lengths))
        raise ValueError(f"Inputs must have the same number of samples; got {desc}.")
    return lengths[0] if lengths else 0


def check_labels(y: Labels, *, n_samples: int | None = None, name: str = "y") -> np.ndarray:
    """Validate integer class labels and return them as a 1-D int64 NumPy array."""
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    arr = np.asarray(
        check_array(y, name=name, ndim=1, dtype="any", allow_nan=True, shape_hint="(n_samples,)")
    )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or infinity; labels must be integers.")
        if not np.all(arr == np.round(arr)):
            raise TypeError(
                f"{name} must hold integer class labels; got non-integer floats "
                "(cluster a continuous reference first)."
            )
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class labels; got dtype {arr.dtype}.")
    arr = arr.astype(np.int64)
    if n_samples is not None and arr.shape[0] != n_samples:
        raise ValueError(
            f"{name} must have {n_samples} entries (one per sample); got {arr.shape[0]}."
        )
    return arr


def check_scalar(
    x: Any,
    name: str,
    *,
    kind: type | tuple[type, ...] = numbers.Real,
    min_val: float | None = None,
    max_val: float | None = None,
    include_min: bool = True,
    include_max: bool = True,
) -> Any:
    """Validate a scalar's type and range (scikit-learn's ``check_scalar`` semantics)."""
    if isinstance(x, bool) or not isinstance(x, kind):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        want = " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be {want}; got {type(x).__name__} ({x!r}).")
    value: Any = x
    if isinstance(x, numbers.Real) and not np.isfinite(float(x)):
        raise ValueError(f"{name} must be finite; got {x!r}.")
    if min_val is not None and (value < min_val or (not include_min and value == min_val)):
        op = ">=" if include_min else ">"
        raise ValueError(f"{name} must be {op} {min_val}; got {x!r}.")
    if max_val is not None and (value > max_val or (not include_max and value == max_val)):
        op = "<=" if include_max else "<"
        raise ValueError(f"{name} must be {op} {max_val}; got {x!r}.")
    return x


def check_positive_int(x: Any, name: str, *, min_val: int = 1, max_val: int | None = None) -> int:
    """Validate an integer ``>= min_val`` (and ``<= max_val``); NumPy integers accepted."""
    return int(check_scalar(x, name, kind=numbers.Integral, min_val=min_val, max_val=max_val))


def check_choice(value: Any, name: str, options: Iterable[Any]) -> Any:
    """Validate that ``value`` is one of ``options``."""
    opts = list(options)
    if value not in opts:
        raise ValueError(f"{name} must be one of {opts}; got {value!r}.")
    return value


def check_random_state(seed: RandomState | np.random.SeedSequence) -> np.random.Generator:
    """Turn ``None``, an int, a SeedSequence or a Generator into a ``np.random.Generator``."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, (numbers.Integral, np.random.SeedSequence)):
        if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed < 0:
            raise ValueError(f"random_state must be a non-negative int; got {seed}.")
        return np.random.default_rng(int(seed) if isinstance(seed, numbers.Integral) else seed)
    if isinstance(seed, np.random.RandomState):
        return np.random.default_rng(seed.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state must be None, an int or a numpy Generator; got {type(seed).__name__}."
    )


def torch_generator(seed: Any, device: torch.device | str = "cpu") -> torch.Generator:
    """A seeded ``torch.Generator`` derived from ``seed`` (int, None or numpy Generator)."""
    rng = check_random_state(seed)
    g = torch.Generator(device=device)
    g.manual_seed(int(rng.integers(0, 2**62)))
    return g
