r"""The pullback metric of a feature map and the quantities derived from it.

A feature map :math:`\Phi:\mathbb{R}^d\to\mathbb{R}^n` (a network truncated at a layer, see
:class:`repgeo.features.FeatureMap`) induces on its input space the metric

.. math:: g(x) = J(x)^\top J(x) / n, \qquad J(x) = \partial\Phi/\partial x \in \mathbb{R}^{n\times d},

the 1/n normalisation being the convention of Zavatone-Veth et al. (2023) (``normalize=False``
drops it). Equivalently, with the kernel :math:`k(x,y)=\Phi(x)\cdot\Phi(y)/n`,
:math:`g_{\mu\nu}(x)=\partial_{x_\mu}\partial_{y_\nu}k(x,y)|_{y=x}` (Burges 1999).

How it is computed
------------------
* **Generic path** (any FeatureMap, any callable): batched ``torch.func`` — ``vmap(jacfwd)``
  (d JVPs per point) or ``vmap(jacrev)`` (n VJPs per point), picked from d and n
  (``mode="auto"``) or forced with ``mode="forward"|"reverse"``.
* **Structure-aware path** (``nn.Sequential`` stacks of Linear / elementwise activations, e.g.
  :class:`repgeo.models.MLP` truncated at a hidden layer): the first layer's Jacobian ``W₁`` is
  the same at every point, so forward mode starts from it instead of multiplying the identity;
  for one hidden layer, :math:`g(x)=W^\top\mathrm{diag}(\sigma'(z)^2)W/n` is *linear* in
  :math:`\sigma'(z)^2`, so the metrics of a whole batch are one matrix product, and
  :math:`JJ^\top = D\,(WW^\top)\,D` is elementwise.
* **Slices**: for :math:`x(u)=x_0+Eu` with :math:`E\in\mathbb{R}^{d\times k}`, the slice
  metric :math:`G=(JE)^\top(JE)/n` needs only k JVPs per point.

Everything is chunked by the memory budget of :mod:`repgeo._backend`, runs on the model's
device, in float32 or float64 (``dtype``; by default the model's), and returns arrays of the
input's kind (NumPy in, NumPy out; tensors stay on their device).

References
----------
.. [1] J. A. Zavatone-Veth, S. Yang, J. A. Rubinfien, C. Pehlevan, "Neural networks learn to
   magnify areas near decision boundaries", arXiv:2301.11375 (2023).
.. [2] C. J. C. Burges, "Geometry and invariance in kernel based methods", in *Advances in
   Kernel Methods*, MIT Press (1999).
.. [3] S. Amari, S. Wu, "Improving support vector machine classifiers by modifying kernel
   functions", *Neural Networks* 12 (1999).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._backend import iter_chunks, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from ._core import (
    LOG10,
    Prepared,
    _act_and_derivative,
    batch_rows,
    cholesky_logdet,
    generic_tangents,
    gram_chunk,
    jacobian_chunk,
    krylov_topk,
    resolve_mode,
    structured_tangents,
    weighted_gram,
)

__all__ = [
    "GeometryAccuracyWarning",
    "SpectralInfo",
    "effective_volume",
    "jacobian",
    "log_volume_element",
    "pullback_metric",
    "singular_values",
    "slice_log_volume",
    "slice_metric",
]

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    torch.float32: torch.float32,
    torch.float64: torch.float64,
}


# ----------------------------------------------------------------------------- helpers
def check_dtype(dtype: Any) -> torch.dtype | None:
    """``None``, ``torch.float32/float64`` or ``"float32"/"float64"``."""
    if dtype is None:
        return None
    if dtype in _DTYPES:
        return _DTYPES[dtype]
    raise ValueError(
        f"dtype must be None, torch.float32 or torch.float64 (or their names); got {dtype!r}."
    )


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool; got {type(value).__name__} ({value!r}).")
    return value


def setup(
    fmap: Any,
    X: Any,
    *,
    dtype: Any = None,
    batch_size: Any = None,
    use_structure: bool = True,
) -> tuple[Prepared, torch.Tensor, Any, int, int]:
    """Validate (fmap, X, dtype, batch_size); return the prepared map, X as a tensor on the
    compute device and dtype, ``back``, d and n."""
    X = check_array(X, name="X", ndim=2, shape_hint="(n_points, d)")
    dt = check_dtype(dtype)
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
    _check_bool(use_structure, "use_structure")
    Xt, back = to_torch(X)
    prep = Prepared(
        fmap, dt, fallback_dtype=Xt.dtype, fallback_device=Xt.device, use_structure=use_structure
    )
    if prep.dtype not in (torch.float32, torch.float64):
        what = "the model's parameters are" if prep.param_device is not None else "X is"
        raise TypeError(
            f"geometry is computed in float32 or float64; {what} {prep.dtype}, where Jacobians, "
            "Gram matrices and log-determinants lose every digit that matters (float16 resolves "
            "singular values only to ~1e-3 of the largest, and torch has no half-precision "
            "Cholesky on CPU). Pass dtype=torch.float32 or torch.float64 (a model is then "
            "evaluated as a copy in that dtype)."
        )
    Xt = Xt.to(device=prep.device, dtype=prep.dtype)
    d = Xt.shape[1]
    try:
        n = prep.n_features(d)
    except Exception as exc:  # a model that cannot take d-dimensional inputs
        raise ValueError(
            f"the feature map cannot be evaluated on inputs of dimension d={d}: {exc}"
        ) from exc
    return prep, Xt, back, d, n


def _check_basis(basis: Any, d: int, *, k: int | None = None) -> torch.Tensor:
    B = check_array(basis, name="basis", ndim=2, shape_hint="(d, k)")
    if B.shape[0] != d:
        raise ValueError(
            f"basis must have shape (d, k) with d={d} rows like X; got {tuple(B.shape)}."
        )
    if k is not None and B.shape[1] != k:
        raise ValueError(
            f"basis must have {k} columns (a {k}-D slice); got shape {tuple(B.shape)}."
        )
    if B.shape[1] > d:
        raise ValueError(f"basis must have at most d={d} columns; got shape {tuple(B.shape)}.")
    Bt, _ = to_torch(B)
    return Bt


def _bytes_jacobian(prep: Prepared, d: int, n: int, mode: str) -> float:
    item = torch.finfo(prep.dtype).bits // 8
    t = d if mode == "forward" else n
    return item * (3.0 * n * d + 3.0 * t * prep.activation_numel(d))


# ----------------------------------------------------------------------------- public API
def jacobian(
    fmap: Any,
    X: Any,
    *,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
) -> Any:
    """Jacobians J(x) = ∂Φ/∂x of a feature map at a batch of points.

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
        Φ: (batch, d) -> (batch, n). A callable must be ``torch.func``-compatible.
    X : array_like or Tensor of shape (m, d)
        Points.
    mode : {"auto", "forward", "reverse"}, default="auto"
        Forward mode costs d JVPs per point, reverse mode n VJPs; ``"auto"`` picks forward when
        d <= n (or for a single Linear+activation layer, where forward mode is free of matmuls).
    use_structure : bool, default=True
        Use the structure-aware path for Linear/activation ``nn.Sequential`` stacks.
    dtype : {None, torch.float32, torch.float64}, default=None
        Compute dtype; ``None`` uses the model's (a float64 request evaluates a float64 copy).
    batch_size : int, optional
        Points per chunk (default: sized from the memory budget).

    Returns
    -------
    J : ndarray or Tensor of shape (m, n, d)
        Same kind as ``X`` (dtype of ``X`` for NumPy inputs).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import jacobian
    >>> lin = torch.nn.Linear(3, 5).double()
    >>> J = jacobian(lin, np.zeros((2, 3)))
    >>> J.shape, bool(np.allclose(J[0], lin.weight.detach().numpy()))
    ((2, 5, 3), True)
    """
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    m = resolve_mode(mode, d, n, prep)
    rows = batch_rows(_bytes_jacobian(prep, d, n, m), batch_size)
    out = torch.empty(Xt.shape[0], n, d, dtype=prep.dtype, device=Xt.device)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            out[sl] = jacobian_chunk(prep, Xt[sl], m)
    return back(out)


def pullback_metric(
    fmap: Any,
    X: Any,
    *,
    normalize: bool = True,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
) -> Any:
    """The pullback metric g(x) = J(x)ᵀ J(x) / n on input space.

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
        Φ: (batch, d) -> (batch, n).
    X : array_like or Tensor of shape (m, d)
    normalize : bool, default=True
        Divide by the number of features n (the paper's convention); ``False`` gives JᵀJ.
    mode, use_structure, dtype, batch_size
        See :func:`jacobian`.

    Returns
    -------
    g : ndarray or Tensor of shape (m, d, d)
        Symmetric positive semi-definite.

    Notes
    -----
    For Φ(x) = σ(Wx + b) the metric is g(x) = Wᵀ diag(σ'(z)²) W / n, linear in σ'(z)²: the
    metrics of a whole chunk are one matrix product (see ``_core.weighted_gram``).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import pullback_metric
    >>> W = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=torch.float64)
    >>> g = pullback_metric(lambda x: x @ W.T, np.zeros((1, 2)))   # a linear map: WᵀW / 3
    >>> np.round(g[0] * 3, 6)
    array([[2., 1.],
           [1., 5.]])
    """
    _check_bool(normalize, "normalize")
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    m = resolve_mode(mode, d, n, prep)
    item = torch.finfo(prep.dtype).bits // 8
    per = item * 3.0 * d * d + (0 if prep.single_layer else _bytes_jacobian(prep, d, n, m))
    rows = batch_rows(per, batch_size)
    out = torch.empty(Xt.shape[0], d, d, dtype=prep.dtype, device=Xt.device)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            out[sl] = gram_chunk(prep, Xt[sl], side="input", mode=m, normalize=normalize, n=n)
    return back(out)


# ----------------------------------------------------------------------------- diagnostics
EPS64 = float(torch.finfo(torch.float64).eps)
SHAKY = 0.1  # estimated relative error of a retained singular value that flags a result
KRYLOV_MIN_RANK = 512  # method="auto" uses Krylov when min(n, d) >= this ...
KRYLOV_RATIO = 16  # ... and k <= min(n, d) / this


class GeometryAccuracyWarning(UserWarning):
    """A geometric quantity is ``-inf`` (fewer than k resolved singular values), limited by
    floating-point resolution, or from an iteration that did not converge. The
    :class:`SpectralInfo` of the call (``return_info=True``) says at which points."""


@dataclass
class SpectralInfo:
    """Accuracy diagnostics of a spectral quantity of J(x)/√n, one entry per point.

    Returned beside the values by :func:`effective_volume`, :func:`log_volume_element`,
    :func:`singular_values` and :func:`slice_log_volume` with ``return_info=True``: a loop over
    layers or checkpoints keeps every point's diagnostics even where Python's warning filter
    shows a warning only once.

    Attributes
    ----------
    method : str
        ``"cholesky"`` (log-determinant of the float64 Gram matrix), ``"eigh"`` (eigenvalues of
        the float64 Gram matrix), ``"svd"`` (singular values of J), ``"krylov"`` (randomised
        block Krylov from JVPs/VJPs); several joined by ``"+"`` when points took different paths
        (e.g. ``"cholesky+svd"``: the points a Gram matrix could not resolve were redone by SVD).
    k : int
        Number of leading singular values used.
    rank : ndarray of int, shape (m,)
        How many of the top k singular values are *resolved* — distinguishable from zero at the
        method's precision, i.e. with estimated relative error e_i < 1 (see ``error_estimate``).
        Where ``rank < k`` the volume is ``-inf`` (dead ReLUs, saturated sigmoids, k above the
        rank of J) unless ``floor`` drops the unresolved values.
    condition_number : ndarray, shape (m,)
        s₁/s_k over the top k (``inf`` where rank < k); an estimate (power and inverse
        iteration) on the Cholesky path.
    error_estimate : ndarray, shape (m,)
        Estimated error of the value in decades: Σ_i log10(1 + e_i) over the retained values,
        with e_i = ε_J·s₁/s_i (ε_J: machine epsilon of the Jacobian's dtype) plus ε₆₄·(s₁/s_i)²
        through a float64 Gram matrix — a first-order, worst-case-signed estimate (observed
        errors are usually smaller) — plus, for Krylov, the change of the last iteration.
    unreliable : ndarray of bool, shape (m,)
        Points whose value is ``-inf``/NaN, whose retained singular values are known only to
        worse than 10 % (e_i ≥ 0.1), whose ``floor`` lies below the method's resolution while
        values were unresolved, or whose Krylov iteration did not converge.
    converged, residual, n_products : ndarray or None
        Krylov only: converged to ``tol``; the largest relative residual ‖A y − θ y‖/θ of the
        resolved top-k Ritz pairs (A = JᵀJ/n); Jacobian-vector + vector-Jacobian product pairs
        per point.
    messages : list of str
        The warnings this call issued.
    """

    method: str
    k: int
    rank: np.ndarray
    condition_number: np.ndarray
    error_estimate: np.ndarray
    unreliable: np.ndarray
    converged: np.ndarray | None = None
    residual: np.ndarray | None = None
    n_products: np.ndarray | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no point is flagged ``unreliable``."""
        return not bool(np.any(self.unreliable))


class _Diagnostics:
    """Per-point diagnostics filled chunk by chunk (tensors on the compute device)."""

    def __init__(
        self, m: int, k: int, device: torch.device, krylov: bool, eps: float = EPS64
    ) -> None:
        f64 = torch.float64
        self.m, self.k, self.eps = m, k, eps
        self.rank = torch.zeros(m, dtype=torch.long, device=device)
        self.cond = torch.zeros(m, dtype=f64, device=device)
        self.err = torch.zeros(m, dtype=f64, device=device)
        self.shaky = torch.zeros(m, dtype=torch.bool, device=device)
        self.floor_low = torch.zeros(m, dtype=torch.bool, device=device)
        self.gram_limited = torch.zeros(m, dtype=torch.bool, device=device)
        self.methods: set[str] = set()
        self.krylov = krylov
        if krylov:
            self.converged = torch.zeros(m, dtype=torch.bool, device=device)
            self.residual = torch.zeros(m, dtype=f64, device=device)
            self.products = torch.zeros(m, dtype=torch.long, device=device)

    def put(self, idx: Any, summ: dict[str, torch.Tensor], method: str) -> None:
        self.rank[idx] = summ["rank"]
        self.cond[idx] = summ["cond"]
        self.err[idx] = summ["err"]
        self.shaky[idx] = summ["shaky"]
        self.floor_low[idx] = summ["floor_low"]
        self.gram_limited[idx] = summ["gram_limited"]
        self.methods.add(method)

    def finish(
        self,
        name: str,
        values: torch.Tensor | None,
        *,
        tol: float = 0.0,
        max_dim: int = 0,
        stacklevel: int = 3,
        warn_shaky: bool = True,
    ) -> SpectralInfo:
        order = ("cholesky", "eigh", "svd", "krylov")
        method = "+".join(m for m in order if m in self.methods)
        bad_value = (
            ~torch.isfinite(values)
            if values is not None
            else torch.zeros_like(self.shaky, dtype=torch.bool)
        )
        unconverged = ~self.converged if self.krylov else torch.zeros_like(self.shaky)
        unreliable = bad_value | self.shaky | self.floor_low | unconverged
        msgs: list[str] = []
        m, k = self.m, self.k
        short = (self.rank < k) & bad_value
        if bool(short.any()):
            lo, hi = int(self.rank[short].min()), int(self.rank[short].max())
            rng = f"{lo}" if lo == hi else f"{lo}-{hi}"
            where = f"at {int(short.sum())} of {m} points"
            gram_note = (
                ' A Gram matrix squares the condition number: method="svd" resolves singular '
                "values down to ~1e-15 of the largest in float64 (a Gram matrix to ~1e-8)."
                if bool((self.gram_limited & short).any()) and self.eps < 1e-10
                else ""
            )
            if name == "effective_volume":
                fix = (
                    f"Pass k <= {lo} (the top singular values only) or a floor (e.g. floor=-6 "
                    "drops log10 s_i below -6)"
                    if lo > 0
                    else "J vanishes there at working precision; a floor (e.g. floor=-6) "
                    "drops the vanishing singular values"
                )
                msgs.append(
                    f"{name}: J/√n has fewer than k={k} resolved singular values {where} (rank "
                    f"{rng} there: dead ReLU units, saturated activations or k above the rank of "
                    f"J), so the result is -inf there. {fix}; return_info=True gives every "
                    f"point's rank.{gram_note}"
                )
            elif name == "log_volume_element":
                use64 = "dtype=torch.float64, or " if self.eps > 1e-10 else ""
                msgs.append(
                    f"{name}: the metric g is singular {where} (rank {rng} < d={k}: dead ReLU "
                    "units or saturated activations; float32 sigmoids saturate at |z| ≈ 17), so "
                    f"log10 √det g is -inf there. Use {use64}effective_volume with k <= the "
                    f"rank or with a floor; return_info=True gives every point's rank.{gram_note}"
                )
            else:
                msgs.append(
                    f"{name}: the slice metric G is singular {where} (rank {rng} < {k}: a "
                    "degenerate basis, or a map that does not vary along the slice), so "
                    "log10 √det G is -inf there; return_info=True gives every point's rank."
                )
        if bool(self.shaky.any()) and warn_shaky:
            sel = self.shaky
            if bool((self.gram_limited & sel).any()):
                hint = 'method="svd" (the Gram matrix squares the condition number), '
            elif self.eps > 1e-10:
                hint = "dtype=torch.float64, "
            else:
                hint = ""
            msgs.append(
                f"{name}: at {int(sel.sum())} of {m} points the smallest retained singular "
                f"values are known only to worse than {SHAKY:.0%} (condition number s_1/s_k up "
                f"to {float(self.cond[sel].max()):.3g}; error estimate up to "
                f"{float(self.err[sel].max()):.3g} decades). Use {hint}a smaller k or a floor."
            )
        if bool(self.floor_low.any()):
            msgs.append(
                f"{name}: floor lies below the precision of the computation at "
                f"{int(self.floor_low.sum())} of {m} points where some of the top k singular "
                "values are indistinguishable from zero; they were dropped, but their true "
                "values may lie above the floor. Raise the floor or use dtype=torch.float64."
            )
        if bool(unconverged.any()):
            msgs.append(
                f"{name}: the Krylov iteration did not reach tol={tol:g} decades within "
                f"max_dim={max_dim} at {int(unconverged.sum())} of {m} points (last change up to "
                f"{float(self.err[unconverged].max()):.3g} decades). Raise max_dim or tol, or "
                'use method="gram".'
            )
        for msg in msgs:
            warnings.warn(msg, GeometryAccuracyWarning, stacklevel=stacklevel)
        np_ = lambda t: t.detach().cpu().numpy()  # noqa: E731
        return SpectralInfo(
            method=method,
            k=k,
            rank=np_(self.rank),
            condition_number=np_(self.cond),
            error_estimate=np_(self.err),
            unreliable=np_(unreliable),
            converged=np_(self.converged) if self.krylov else None,
            residual=np_(self.residual) if self.krylov else None,
            n_products=np_(self.products) if self.krylov else None,
            messages=msgs,
        )


def _resolution(eps: float, gram: bool) -> float:
    """c* = s₁/s at which the estimated relative error e = ε c (+ ε₆₄ c²) reaches 1."""
    if not gram:
        return 1.0 / eps
    return (-eps + (eps * eps + 4.0 * EPS64) ** 0.5) / (2.0 * EPS64)


def _summarise(
    s: torch.Tensor, k: int, floor: float | None, eps: float, gram: bool
) -> dict[str, torch.Tensor]:
    """Σ_{i<=k} log10 s_i and its diagnostics from descending singular values s (b, >=k).

    A value is *resolved* when its estimated relative error e_i = ε·s₁/s_i (+ ε₆₄(s₁/s_i)² when
    it came through a Gram matrix) is below 1; unresolved values count as zero (log10 = -inf)
    unless ``floor`` drops them.
    """
    s = s[:, :k].to(torch.float64)
    with torch.no_grad():
        c = s[:, :1] / s  # inf where s_i == 0; NaN where s_1 == 0
        e = eps * c + (EPS64 * c * c if gram else 0.0)
        resolved = e < 1.0
        ls = torch.log10(s)
        neg_inf = torch.full_like(ls, -float("inf"))
        if floor is None:
            kept = resolved
            logs = torch.where(resolved, ls, neg_inf)
            floor_low = torch.zeros(s.shape[0], dtype=torch.bool, device=s.device)
        else:
            kept = resolved & (ls >= floor)
            logs = torch.where(kept, ls, torch.zeros_like(ls))
            limit = torch.log10(s[:, 0]) - float(np.log10(_resolution(eps, gram)))
            floor_low = (~resolved).any(1) & (limit > floor)
        value = logs.sum(1)
        rank = resolved.sum(1)
        cond = torch.where(rank == k, c[:, -1], torch.full_like(c[:, -1], float("inf")))
        ek = torch.where(kept, e, torch.zeros_like(e))
        err = torch.log10(1.0 + ek).sum(1)
        shaky = ek.max(1).values >= SHAKY
        gram_limited = (
            (EPS64 * c[:, -1] ** 2 > eps * c[:, -1]) | (rank < k)
            if gram
            else torch.zeros_like(shaky)
        )
    return {
        "value": value,
        "rank": rank,
        "cond": cond,
        "err": err,
        "shaky": shaky,
        "floor_low": floor_low,
        "gram_limited": gram_limited & (shaky | (rank < k)),
    }


def _gram_spectrum(S: torch.Tensor) -> torch.Tensor:
    """Singular values (descending) of J/√n from its float64 Gram matrices S (b, r, r)."""
    return torch.linalg.eigvalsh(S).flip(-1).clamp_min(0.0).sqrt()


def _cholesky_summary(S: torch.Tensor, k: int, eps: float) -> tuple[dict[str, torch.Tensor], Any]:
    """log det path for k = r: values and diagnostics from the Cholesky factor and spectral
    estimates; returns the summary and the mask of points it could not certify (those go
    through the eigenvalue path)."""
    logdet, ok, cond2, sum_c2 = cholesky_logdet(S)
    ck = cond2.sqrt()
    ek = eps * ck + EPS64 * cond2
    good = ok & (ek < 0.25)
    summ = {
        "value": logdet / (2.0 * LOG10),
        "rank": torch.full_like(ok, k, dtype=torch.long),
        "cond": ck,
        "err": (eps * (k * sum_c2).sqrt() + EPS64 * sum_c2) / LOG10,
        "shaky": ek >= SHAKY,
        "floor_low": torch.zeros_like(ok),
        "gram_limited": (EPS64 * cond2 > eps * ck) & (ek >= SHAKY),
    }
    return summ, ~good


def _merge(summ: dict[str, torch.Tensor], sub: dict[str, torch.Tensor], mask: Any) -> None:
    for key, val in sub.items():
        summ[key] = summ[key].clone()
        summ[key][mask] = val.to(summ[key].dtype)


def _check_method(method: Any, options: tuple[str, ...]) -> str:
    return check_choice(method, "method", options)


def _check_krylov_options(tol: Any, max_dim: Any) -> tuple[float, int | None]:
    tol = float(check_scalar(tol, "tol", min_val=0.0, include_min=False))
    if max_dim is not None:
        max_dim = check_positive_int(max_dim, "max_dim")
    return tol, max_dim


def _use_krylov(method: str, prep: Prepared, k: int, r: int) -> bool:
    if method == "krylov":
        return True
    if method != "auto" or prep.single_layer:
        return False
    return r >= KRYLOV_MIN_RANK and k * KRYLOV_RATIO <= r


class _Starts:
    """Random start blocks of the Krylov iteration, one independent stream per point (so that
    results do not depend on chunking or on which other points are in the batch)."""

    def __init__(self, random_state: Any, dim: int, block: int) -> None:
        self.base = int(check_random_state(random_state).integers(0, 2**62))
        self.dim, self.block = dim, block

    def __call__(self, sl: slice, device: torch.device) -> torch.Tensor:
        blocks = [
            np.random.default_rng([self.base, i]).standard_normal((self.dim, self.block))
            for i in range(sl.start, sl.stop)
        ]
        return torch.from_numpy(np.stack(blocks)).to(device)


def _krylov_chunk(
    prep: Prepared,
    X: torch.Tensor,
    starts: torch.Tensor,
    k: int,
    *,
    side: str,
    scale: float,
    tol: float,
    max_dim: int,
) -> dict[str, torch.Tensor]:
    eps = float(torch.finfo(prep.dtype).eps)
    return krylov_topk(
        prep.f, X, starts, k, side=side, scale=scale, tol=tol, max_dim=max_dim, eps=eps
    )


def _krylov_layout(
    prep: Prepared, d: int, n: int, k: int, max_dim: int | None
) -> tuple[str, int, int, int, float]:
    """(side, basis dimension, block, max_dim, bytes per point) of the Krylov path."""
    side = "input" if d <= n else "feature"
    dim = min(n, d)
    block = k
    mdim = min(dim, max(20 * k, 200)) if max_dim is None else min(dim, max(max_dim, k))
    item = torch.finfo(prep.dtype).bits // 8
    per = item * 6.0 * block * prep.activation_numel(d) + 8.0 * (2 * dim + max(n, d)) * (
        mdim + block
    )
    return side, dim, block, mdim, per


def _volume(
    name: str,
    fmap: Any,
    X: Any,
    *,
    k: int | None,
    floor: float | None,
    normalize: bool,
    method: str,
    mode: str,
    use_structure: bool,
    dtype: Any,
    batch_size: int | None,
    tol: float,
    max_dim: int | None,
    random_state: Any,
    full_volume: bool,
) -> tuple[Any, SpectralInfo]:
    """Shared body of log_volume_element (``full_volume``) and effective_volume."""
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    if full_volume and d > n:
        raise ValueError(
            f"the volume element needs d <= n (a full-rank metric); got d={d} inputs and n={n} "
            "features. Use effective_volume (top-k singular values) or slice_log_volume instead."
        )
    r = min(n, d)
    k = r if k is None else check_positive_int(k, "k", max_val=r)
    mo = resolve_mode(mode, d, n, prep)
    eps = float(torch.finfo(prep.dtype).eps)
    scale = 1.0 / n if normalize else 1.0
    krylov = _use_krylov(method, prep, k, r)
    m_pts = Xt.shape[0]
    out = torch.empty(m_pts, dtype=torch.float64, device=Xt.device)
    diag = _Diagnostics(m_pts, k, Xt.device, krylov, eps)
    if krylov:
        side, dim, block, mdim, per = _krylov_layout(prep, d, n, k, max_dim)
        starts = _Starts(random_state, dim, block)
        rows = batch_rows(per, batch_size)
        with torch.no_grad():
            for sl in iter_chunks(m_pts, rows):
                res = _krylov_chunk(
                    prep, Xt[sl], starts(sl, Xt.device), k, side=side, scale=scale, tol=tol,
                    max_dim=mdim,
                )  # fmt: skip
                summ = _summarise(res["s"], k, floor, eps, gram=False)
                summ["err"] = summ["err"] + res["error"]
                out[sl] = summ["value"]
                diag.put(sl, summ, "krylov")
                diag.converged[sl] = res["converged"]
                diag.residual[sl] = res["residual"]
                diag.products[sl] = res["products"]
        info = diag.finish(name, out, tol=tol, max_dim=mdim, stacklevel=4)
        return back(out.to(prep.dtype)), info
    side = "input" if d <= n else "feature"
    item = torch.finfo(prep.dtype).bits // 8
    per = 8.0 * 4.0 * r * r + item * 2.0 * n * d
    if not prep.single_layer or method == "svd":
        per += _bytes_jacobian(prep, d, n, mo)
    rows = batch_rows(per, batch_size)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(m_pts, rows):
            if method == "svd":
                J = jacobian_chunk(prep, Xt[sl], mo)
                summ = _summarise(torch.linalg.svdvals(J) * scale**0.5, k, floor, eps, gram=False)
                diag.methods.add("svd")
            else:
                S, c = gram_chunk(
                    prep, Xt[sl], side=side, mode=mo, normalize=normalize, n=n, rescale=True
                )
                if k == r and floor is None:
                    summ, redo = _cholesky_summary(S, k, eps)
                    summ["value"] = summ["value"] + k * torch.log10(c)
                    diag.methods.add("cholesky")
                else:
                    summ, redo = None, torch.ones(S.shape[0], dtype=torch.bool, device=S.device)
                if bool(redo.any()):
                    s_redo = _gram_spectrum(S[redo]) * c[redo, None]
                    sub = _summarise(s_redo, k, floor, eps, gram=True)
                    if summ is None:
                        summ = sub
                    else:
                        _merge(summ, sub, redo)
                    diag.methods.add("eigh")
                # Where the Gram matrix is the limit (float64 J only: float32 Jacobians are
                # limited by their own precision first), redo those points by SVD of J.
                again = summ["gram_limited"] & (summ["shaky"] | (summ["rank"] < k))
                if method == "auto" and eps < 1e-10 and bool(again.any()):
                    J = jacobian_chunk(prep, Xt[sl][again], mo)
                    sub = _summarise(
                        torch.linalg.svdvals(J) * scale**0.5, k, floor, eps, gram=False
                    )
                    _merge(summ, sub, again)
                    diag.methods.add("svd")
            out[sl] = summ["value"]
            diag.put(sl, summ, "")
    diag.methods.discard("")
    info = diag.finish(name, out, stacklevel=4)
    return back(out.to(prep.dtype)), info


def log_volume_element(
    fmap: Any,
    X: Any,
    *,
    normalize: bool = True,
    method: str = "auto",
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
    return_info: bool = False,
) -> Any:
    """log10 of the volume element √det g(x), by a stable log-determinant.

    Meaningful when d <= n (g can be full rank), e.g. 2-D toy inputs; for d > n use
    :func:`effective_volume` or a slice (:func:`slice_log_volume`).

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
    X : array_like or Tensor of shape (m, d)
    normalize, mode, use_structure, dtype, batch_size
        See :func:`pullback_metric`.
    method : {"auto", "gram", "svd"}, default="auto"
        ``"gram"``: Cholesky of g = JᵀJ/n accumulated in float64 (whatever the Jacobian's
        dtype), eigenvalues where the factorisation cannot be certified; ``"svd"``: singular
        values of J; ``"auto"``: the Gram path, and for float64 Jacobians the SVD at the points
        a Gram matrix cannot resolve (condition number above ~1e7).
    return_info : bool, default=False
        Also return a :class:`SpectralInfo` (rank, condition number, error estimate and an
        ``unreliable`` flag per point).

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)
        ``0.5 * log10 det g(x)``; ``-inf`` where g is singular at the computation's precision
        (with a :class:`GeometryAccuracyWarning`).
    info : SpectralInfo
        Only with ``return_info=True``.

    Notes
    -----
    Float32 Jacobians give the float64 answer to within the error estimate: the paper's MLP
    [784, 2000, 10] (sigmoid, paper init) in float32 at three uniform inputs gives
    −1854.6481, −1750.1250, −1760.6496 against −1854.6478, −1750.1254, −1760.6501 in float64
    (a float32 Gram matrix gave −inf at all three).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import log_volume_element
    >>> f = lambda x: 2.0 * x          # R² -> R²: g = 4 I / 2 = 2 I, √det g = 2
    >>> np.round(log_volume_element(f, np.zeros((1, 2))), 6)
    array([0.30103])
    >>> v, info = log_volume_element(f, np.zeros((1, 2)), return_info=True)
    >>> info.rank, info.condition_number.round(6), info.ok
    (array([2]), array([1.]), True)
    """
    _check_bool(normalize, "normalize")
    _check_bool(return_info, "return_info")
    _check_method(method, ("auto", "gram", "svd"))
    values, info = _volume(
        "log_volume_element", fmap, X, k=None, floor=None, normalize=normalize, method=method,
        mode=mode, use_structure=use_structure, dtype=dtype, batch_size=batch_size, tol=1.0,
        max_dim=None, random_state=0, full_volume=True,
    )  # fmt: skip
    return (values, info) if return_info else values


def effective_volume(
    fmap: Any,
    X: Any,
    *,
    k: int | None = None,
    floor: float | None = None,
    normalize: bool = True,
    method: str = "auto",
    tol: float = 1e-3,
    max_dim: int | None = None,
    random_state: Any = 0,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
    return_info: bool = False,
) -> Any:
    """log10 effective volume: Σ_{i<=k} log10 s_i(J/√n), the top-k singular values.

    With ``k = min(n, d)`` (the default) this is the log pseudo-determinant of g; for d <= n
    it equals :func:`log_volume_element`. The paper used k = 784 for an MNIST MLP of width
    2000 and k = 512 for ResNet-34 features.

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
    X : array_like or Tensor of shape (m, d)
    k : int, optional
        Number of leading singular values (1 <= k <= min(n, d)); default min(n, d).
    floor : float, optional
        Drop terms with log10 s_i < floor (a floor on log10 singular values, e.g. -6); values
        indistinguishable from zero (dead ReLUs) are dropped too.
    normalize, mode, use_structure, dtype, batch_size
        See :func:`pullback_metric`.
    method : {"auto", "gram", "svd", "krylov"}, default="auto"
        ``"gram"``: the smaller Gram matrix (JᵀJ/n or JJᵀ/n) accumulated in float64, its
        Cholesky log-determinant for k = min(n, d) without floor, else its eigenvalues;
        ``"svd"``: singular values of J; ``"krylov"``: randomised block Krylov on JᵀJ from
        k Jacobian-vector and k vector-Jacobian products per step — no full Jacobian, the fast
        path for k ≪ min(n, d) on large networks; ``"auto"``: Krylov when min(n, d) >= 512 and
        k <= min(n, d)/16 for maps without the one-layer structure, else the Gram path (with
        SVD at the points a Gram matrix cannot resolve, for float64 Jacobians).
    tol : float, default=1e-3
        Krylov: stop when one step changes Σ log10 s_i by at most ``tol`` decades. The Ritz
        values approach the exact ones from below and the change per step shrinks
        geometrically, so the remaining error is typically several times below ``tol``
        (ResNet-18 ``layer2``, k = 10: 1e-4 decades or less).
    max_dim : int, optional
        Krylov: largest basis per point (default max(20k, 200), at most min(n, d)).
    random_state : int, Generator or None, default=0
        Krylov: seed of the random start blocks (one stream per point: results do not depend
        on chunking).
    return_info : bool, default=False
        Also return a :class:`SpectralInfo` (rank, condition number, error estimate,
        ``unreliable``; Krylov: convergence, residuals, product counts).

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)
        ``-inf`` where fewer than k singular values are resolved and no floor drops them (a
        :class:`GeometryAccuracyWarning` names k and floor).
    info : SpectralInfo
        Only with ``return_info=True``.

    Notes
    -----
    Relative errors of the singular values are of order ε_J·s₁/s_i for the SVD and Krylov
    paths and ε_J·s₁/s_i + ε₆₄·(s₁/s_i)² through the float64 Gram matrix (ε_J the precision of
    the Jacobian), reported per point in ``info.error_estimate``; a point where a retained value
    is uncertain by 10 % or more is flagged and warned about.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import effective_volume
    >>> W = torch.diag(torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64))
    >>> f = lambda x: x @ W.T           # singular values of J/√3: 4/√3, 2/√3, 1/√3
    >>> v = effective_volume(f, np.zeros((1, 3)), k=2)
    >>> bool(np.isclose(v[0], np.log10(4 / 3**0.5) + np.log10(2 / 3**0.5)))
    True

    A ReLU layer with dead units has rank below min(n, d): the full pseudo-determinant is
    ``-inf`` (with a warning), the top singular values or a floor are finite:

    >>> relu = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU()).double()
    >>> with torch.no_grad():
    ...     _ = relu[0].bias.copy_(torch.tensor([1.0, 1.0, -1e3, -1e3]))   # two dead units
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     v, info = effective_volume(relu, np.zeros((1, 3)), return_info=True)
    >>> v, info.rank, info.unreliable
    (array([-inf]), array([2]), array([ True]))
    >>> bool(np.isfinite(effective_volume(relu, np.zeros((1, 3)), k=2)[0]))
    True
    """
    _check_bool(normalize, "normalize")
    _check_bool(return_info, "return_info")
    if floor is not None:
        floor = float(check_scalar(floor, "floor"))
    _check_method(method, ("auto", "gram", "svd", "krylov"))
    tol, max_dim = _check_krylov_options(tol, max_dim)
    check_random_state(random_state)
    values, info = _volume(
        "effective_volume", fmap, X, k=k, floor=floor, normalize=normalize, method=method,
        mode=mode, use_structure=use_structure, dtype=dtype, batch_size=batch_size, tol=tol,
        max_dim=max_dim, random_state=random_state, full_volume=False,
    )  # fmt: skip
    return (values, info) if return_info else values


def singular_values(
    fmap: Any,
    X: Any,
    *,
    k: int | None = None,
    normalize: bool = True,
    method: str = "auto",
    tol: float = 1e-3,
    max_dim: int | None = None,
    random_state: Any = 0,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
    return_info: bool = False,
) -> Any:
    """Singular values of J(x)/√n, in decreasing order (the spectrum of √g).

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
    X : array_like or Tensor of shape (m, d)
    k : int, optional
        Keep the k largest (default all min(n, d)).
    normalize : bool, default=True
        Divide J by √n.
    method : {"auto", "svd", "gram", "krylov"}, default="auto"
        ``"svd"``: SVD of J (accurate small values); ``"gram"``: eigenvalues of the smaller
        Gram matrix, accumulated in float64 (faster when J is large; relative error
        ~ ε₆₄·cond² on top of J's own); ``"krylov"``: top k by randomised block Krylov from
        JVPs/VJPs, no full Jacobian (see :func:`effective_volume`); ``"auto"``: Krylov when
        min(n, d) >= 512 and k <= min(n, d)/16 for maps without the one-layer structure, else
        SVD.
    tol, max_dim, random_state
        Krylov options, see :func:`effective_volume` (``tol`` bounds the change of
        Σ_{i<=k} log10 s_i in the last step, hence of every log10 s_i).
    mode, use_structure, dtype, batch_size
        See :func:`jacobian`.
    return_info : bool, default=False
        Also return a :class:`SpectralInfo`.

    Returns
    -------
    s : ndarray or Tensor of shape (m, k)
    info : SpectralInfo
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import singular_values
    >>> f = lambda x: torch.cat([3 * x, 4 * x], 1)   # J = [3I; 4I]: s = 5/√(2d)
    >>> np.round(singular_values(f, np.zeros((1, 2)), normalize=False), 6)
    array([[5., 5.]])
    """
    _check_bool(normalize, "normalize")
    _check_bool(return_info, "return_info")
    _check_method(method, ("auto", "svd", "gram", "krylov"))
    tol, max_dim = _check_krylov_options(tol, max_dim)
    check_random_state(random_state)
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    r = min(n, d)
    k = r if k is None else check_positive_int(k, "k", max_val=r)
    mo = resolve_mode(mode, d, n, prep)
    eps = float(torch.finfo(prep.dtype).eps)
    scale = 1.0 / n if normalize else 1.0
    m_pts = Xt.shape[0]
    out = torch.empty(m_pts, k, dtype=torch.float64, device=Xt.device)
    krylov = _use_krylov(method, prep, k, r)
    diag = _Diagnostics(m_pts, k, Xt.device, krylov, eps)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        if krylov:
            side, dim, block, mdim, per = _krylov_layout(prep, d, n, k, max_dim)
            starts = _Starts(random_state, dim, block)
            for sl in iter_chunks(m_pts, batch_rows(per, batch_size)):
                res = _krylov_chunk(
                    prep, Xt[sl], starts(sl, Xt.device), k, side=side, scale=scale, tol=tol,
                    max_dim=mdim,
                )  # fmt: skip
                summ = _summarise(res["s"], k, None, eps, gram=False)
                summ["err"] = summ["err"] + res["error"]
                out[sl] = res["s"]
                diag.put(sl, summ, "krylov")
                diag.converged[sl] = res["converged"]
                diag.residual[sl] = res["residual"]
                diag.products[sl] = res["products"]
            info = diag.finish("singular_values", None, tol=tol, max_dim=mdim, warn_shaky=False)
            return (back(out.to(prep.dtype)), info) if return_info else back(out.to(prep.dtype))
        rows = batch_rows(_bytes_jacobian(prep, d, n, mo) + 4.0 * r * r * 8, batch_size)
        side = "input" if d <= n else "feature"
        for sl in iter_chunks(m_pts, rows):
            if method == "gram":
                S, c = gram_chunk(
                    prep, Xt[sl], side=side, mode=mo, normalize=normalize, n=n, rescale=True
                )
                s = _gram_spectrum(S) * c[:, None]
            else:
                s = torch.linalg.svdvals(jacobian_chunk(prep, Xt[sl], mo)).to(torch.float64)
                s = s * scale**0.5
            out[sl] = s[:, :k]
            diag.put(sl, _summarise(s, k, None, eps, gram=method == "gram"), "")
            diag.methods.add("eigh" if method == "gram" else "svd")
    diag.methods.discard("")
    info = diag.finish("singular_values", None, warn_shaky=False)
    values = back(out.to(prep.dtype))
    return (values, info) if return_info else values


def _slice_gram_chunk(
    prep: Prepared, X: torch.Tensor, E: torch.Tensor, scale: float, rescale: bool = False
) -> Any:
    if prep.single_layer and not rescale:
        lin = prep.ops[0]
        z = torch.nn.functional.linear(X, lin.weight, lin.bias)
        dz = (
            _act_and_derivative(prep.ops[1].module, z)[1]
            if len(prep.ops) == 2
            else torch.ones_like(z)
        )
        f64 = torch.float64
        return weighted_gram(dz.to(f64).square() * scale, lin.weight.to(f64) @ E.to(f64))
    if prep.ops is not None:
        _, T = structured_tangents(prep.ops, X, E.T)
    else:
        T = generic_tangents(prep.f, X, E.T)
    T = T.to(torch.float64)  # accumulate the Gram matrix in float64 (see gram_chunk)
    if rescale:  # divide by the largest entry so that tiny tangents do not underflow
        c = T.abs().amax(dim=(1, 2)).clamp_min(torch.finfo(torch.float64).tiny)
        T = T / c[:, None, None]
        return torch.bmm(T, T.transpose(1, 2)) * scale, c
    return torch.bmm(T, T.transpose(1, 2)) * scale


def _slice_gram(
    fmap: Any,
    X: Any,
    basis: Any,
    *,
    normalize: bool,
    use_structure: bool,
    dtype: Any,
    batch_size: int | None,
    rescale: bool = False,
) -> tuple[torch.Tensor, Any, Prepared, torch.Tensor]:
    """Slice metrics in float64 (m, k, k), ``back``, the prepared map and the per-point scale
    (``rescale=True``: G of JE divided by its largest entry, see ``gram_chunk``; else ones)."""
    _check_bool(normalize, "normalize")
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    E = _check_basis(basis, d).to(device=Xt.device, dtype=prep.dtype)
    k = E.shape[1]
    item = torch.finfo(prep.dtype).bits // 8
    rows = batch_rows(item * (k + 1) * 3.0 * prep.activation_numel(d), batch_size)
    out = torch.empty(Xt.shape[0], k, k, dtype=torch.float64, device=Xt.device)
    cs = torch.ones(Xt.shape[0], dtype=torch.float64, device=Xt.device)
    scale = 1.0 / n if normalize else 1.0
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            if rescale:
                out[sl], cs[sl] = _slice_gram_chunk(prep, Xt[sl], E, scale, rescale=True)
            else:
                out[sl] = _slice_gram_chunk(prep, Xt[sl], E, scale)
    return out, back, prep, cs


def slice_metric(
    fmap: Any,
    X: Any,
    basis: Any,
    *,
    normalize: bool = True,
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
) -> Any:
    """The metric induced on an affine slice x(u) = x₀ + E u: G = (JE)ᵀ(JE)/n.

    Only k Jacobian-vector products per point (batched tangents): no full Jacobian. √det G is
    the volume element of the slice (:func:`slice_log_volume`); this is *not* the effective
    volume of :func:`effective_volume`, which uses all of input space.

    Parameters
    ----------
    fmap : FeatureMap, nn.Module or callable
    X : array_like or Tensor of shape (m, d)
        Points (on the slice or anywhere).
    basis : array_like or Tensor of shape (d, k)
        Columns span the slice (e.g. :attr:`Plane.basis`).
    normalize, use_structure, dtype, batch_size
        See :func:`pullback_metric`.

    Returns
    -------
    G : ndarray or Tensor of shape (m, k, k)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import slice_metric, pullback_metric
    >>> net = torch.nn.Sequential(torch.nn.Linear(5, 30), torch.nn.Tanh()).double()
    >>> X, E = np.random.default_rng(0).normal(size=(4, 5)), np.eye(5)[:, :2]
    >>> bool(np.allclose(slice_metric(net, X, E), pullback_metric(net, X)[:, :2, :2]))
    True
    """
    G, back, prep, _ = _slice_gram(
        fmap, X, basis, normalize=normalize, use_structure=use_structure, dtype=dtype,
        batch_size=batch_size,
    )  # fmt: skip
    return back(G.to(prep.dtype))


def slice_log_volume(
    fmap: Any,
    X: Any,
    basis: Any,
    *,
    normalize: bool = True,
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
    return_info: bool = False,
) -> Any:
    """log10 √det G of the slice metric G = (JE)ᵀ(JE)/n (see :func:`slice_metric`).

    Under a change of slice basis E → E A the value shifts by log10 |det A|. G is accumulated
    in float64 whatever the Jacobian's dtype; where it is singular at that precision (a
    degenerate basis, dead units along the slice) the value is ``-inf`` with a
    :class:`GeometryAccuracyWarning`.

    Parameters
    ----------
    fmap, X, basis, normalize, use_structure, dtype, batch_size
        See :func:`slice_metric`.
    return_info : bool, default=False
        Also return a :class:`SpectralInfo` over the singular values of JE/√n.

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)
    info : SpectralInfo
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import slice_log_volume
    >>> f = lambda x: 3.0 * x
    >>> E = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> np.round(slice_log_volume(f, np.zeros((1, 3)), E, normalize=False), 6)   # log10 9
    array([0.954243])
    """
    _check_bool(return_info, "return_info")
    G, back, prep, c = _slice_gram(
        fmap, X, basis, normalize=normalize, use_structure=use_structure, dtype=dtype,
        batch_size=batch_size, rescale=True,
    )  # fmt: skip
    k = G.shape[-1]
    eps = float(torch.finfo(prep.dtype).eps)
    summ = _summarise(_gram_spectrum(G) * c[:, None], k, None, eps, gram=True)
    diag = _Diagnostics(G.shape[0], k, G.device, krylov=False, eps=eps)
    diag.put(slice(None), summ, "eigh")
    info = diag.finish("slice_log_volume", summ["value"])
    values = back(summ["value"].to(prep.dtype))
    return (values, info) if return_info else values
