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

from typing import Any

import torch

from .._backend import iter_chunks, to_torch
from .._validation import check_array, check_choice, check_positive_int, check_scalar
from ._core import (
    LOG10,
    Prepared,
    _act_and_derivative,
    batch_rows,
    generic_tangents,
    gram_chunk,
    jacobian_chunk,
    logdet_psd,
    resolve_mode,
    structured_tangents,
    weighted_gram,
)

__all__ = [
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


def _spectral_log_volume(S: torch.Tensor, k: int, floor: float | None, full: bool) -> torch.Tensor:
    """Σ top-k log10 s_i from Gram matrices S (b, r, r) whose eigenvalues are s_i²."""
    if full and floor is None:
        return logdet_psd(S) / (2.0 * LOG10)
    ev = torch.linalg.eigvalsh(S)[..., -k:].clamp_min(0.0)
    logs = torch.log10(ev) / 2.0
    if floor is not None:
        logs = torch.where(logs >= floor, logs, torch.zeros_like(logs))
    return logs.sum(-1)


def log_volume_element(
    fmap: Any,
    X: Any,
    *,
    normalize: bool = True,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
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

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)
        ``0.5 * log10 det g(x)`` (Cholesky; eigenvalues where that fails); ``-inf`` where g is
        singular.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import log_volume_element
    >>> f = lambda x: 2.0 * x          # R² -> R²: g = 4 I / 2 = 2 I, √det g = 2
    >>> np.round(log_volume_element(f, np.zeros((1, 2))), 6)
    array([0.30103])
    """
    _check_bool(normalize, "normalize")
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    if d > n:
        raise ValueError(
            f"the volume element needs d <= n (a full-rank metric); got d={d} inputs and n={n} "
            "features. Use effective_volume (top-k singular values) or slice_log_volume instead."
        )
    m = resolve_mode(mode, d, n, prep)
    item = torch.finfo(prep.dtype).bits // 8
    per = item * 3.0 * d * d + (0 if prep.single_layer else _bytes_jacobian(prep, d, n, m))
    rows = batch_rows(per, batch_size)
    out = torch.empty(Xt.shape[0], dtype=prep.dtype, device=Xt.device)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            S = gram_chunk(prep, Xt[sl], side="input", mode=m, normalize=normalize, n=n)
            out[sl] = _spectral_log_volume(S, d, None, True)
    return back(out)


def effective_volume(
    fmap: Any,
    X: Any,
    *,
    k: int | None = None,
    floor: float | None = None,
    normalize: bool = True,
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
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
        Drop terms with log10 s_i < floor (a floor on log10 singular values, e.g. -6).
    normalize, mode, use_structure, dtype, batch_size
        See :func:`pullback_metric`.

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)

    Notes
    -----
    The singular values come from the smaller Gram matrix (JᵀJ/n if d <= n, else JJᵀ/n): with
    ``k = min(n, d)`` and no floor a batched Cholesky gives the log-determinant, otherwise a
    batched symmetric eigensolver. Relative error of small singular values is then of order
    ``eps·cond(J)²``; use ``dtype=torch.float64`` for ill-conditioned maps, or
    :func:`singular_values` (SVD of J).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import effective_volume
    >>> W = torch.diag(torch.tensor([4.0, 2.0, 1.0], dtype=torch.float64))
    >>> f = lambda x: x @ W.T           # singular values of J/√3: 4/√3, 2/√3, 1/√3
    >>> v = effective_volume(f, np.zeros((1, 3)), k=2)
    >>> bool(np.isclose(v[0], np.log10(4 / 3**0.5) + np.log10(2 / 3**0.5)))
    True
    """
    _check_bool(normalize, "normalize")
    if floor is not None:
        check_scalar(floor, "floor")
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    r = min(n, d)
    k = r if k is None else check_positive_int(k, "k", max_val=r)
    m = resolve_mode(mode, d, n, prep)
    side = "input" if d <= n else "feature"
    item = torch.finfo(prep.dtype).bits // 8
    per = item * 4.0 * r * r + (0 if prep.single_layer else _bytes_jacobian(prep, d, n, m))
    rows = batch_rows(per, batch_size)
    out = torch.empty(Xt.shape[0], dtype=prep.dtype, device=Xt.device)
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            S = gram_chunk(prep, Xt[sl], side=side, mode=m, normalize=normalize, n=n)
            out[sl] = _spectral_log_volume(S, k, None if floor is None else float(floor), k == r)
    return back(out)


def singular_values(
    fmap: Any,
    X: Any,
    *,
    k: int | None = None,
    normalize: bool = True,
    method: str = "svd",
    mode: str = "auto",
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
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
    method : {"svd", "gram"}, default="svd"
        ``"svd"``: SVD of J (accurate small values); ``"gram"``: eigenvalues of the smaller
        Gram matrix (faster when J is large, relative error ~ eps·cond²).
    mode, use_structure, dtype, batch_size
        See :func:`jacobian`.

    Returns
    -------
    s : ndarray or Tensor of shape (m, k)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import singular_values
    >>> f = lambda x: torch.cat([3 * x, 4 * x], 1)   # J = [3I; 4I]: s = 5/√(2d)
    >>> np.round(singular_values(f, np.zeros((1, 2)), normalize=False), 6)
    array([[5., 5.]])
    """
    _check_bool(normalize, "normalize")
    check_choice(method, "method", ("svd", "gram"))
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    r = min(n, d)
    k = r if k is None else check_positive_int(k, "k", max_val=r)
    m = resolve_mode(mode, d, n, prep)
    rows = batch_rows(_bytes_jacobian(prep, d, n, m) + 4.0 * r * r * 8, batch_size)
    out = torch.empty(Xt.shape[0], k, dtype=prep.dtype, device=Xt.device)
    scale = 1.0 / n if normalize else 1.0
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            if method == "svd":
                s = torch.linalg.svdvals(jacobian_chunk(prep, Xt[sl], m)) * scale**0.5
            else:
                side = "input" if d <= n else "feature"
                S = gram_chunk(prep, Xt[sl], side=side, mode=m, normalize=normalize, n=n)
                s = torch.linalg.eigvalsh(S).clamp_min(0.0).sqrt().flip(-1)
            out[sl] = s[:, :k]
    return back(out)


def _slice_gram_chunk(
    prep: Prepared, X: torch.Tensor, E: torch.Tensor, scale: float
) -> torch.Tensor:
    if prep.single_layer:
        lin = prep.ops[0]
        z = torch.nn.functional.linear(X, lin.weight, lin.bias)
        dz = (
            _act_and_derivative(prep.ops[1].module, z)[1]
            if len(prep.ops) == 2
            else torch.ones_like(z)
        )
        return weighted_gram(dz.square() * scale, lin.weight @ E)
    if prep.ops is not None:
        _, T = structured_tangents(prep.ops, X, E.T)
    else:
        T = generic_tangents(prep.f, X, E.T)
    return torch.bmm(T, T.transpose(1, 2)) * scale


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
    _check_bool(normalize, "normalize")
    prep, Xt, back, d, n = setup(
        fmap, X, dtype=dtype, batch_size=batch_size, use_structure=use_structure
    )
    E = _check_basis(basis, d).to(device=Xt.device, dtype=prep.dtype)
    k = E.shape[1]
    item = torch.finfo(prep.dtype).bits // 8
    rows = batch_rows(item * (k + 1) * 3.0 * prep.activation_numel(d), batch_size)
    out = torch.empty(Xt.shape[0], k, k, dtype=prep.dtype, device=Xt.device)
    scale = 1.0 / n if normalize else 1.0
    with torch.no_grad():  # differentiate w.r.t. inputs only: no graph to the weights
        for sl in iter_chunks(Xt.shape[0], rows):
            out[sl] = _slice_gram_chunk(prep, Xt[sl], E, scale)
    return back(out)


def slice_log_volume(
    fmap: Any,
    X: Any,
    basis: Any,
    *,
    normalize: bool = True,
    use_structure: bool = True,
    dtype: Any = None,
    batch_size: int | None = None,
) -> Any:
    """log10 √det G of the slice metric G = (JE)ᵀ(JE)/n (see :func:`slice_metric`).

    Under a change of slice basis E → E A the value shifts by log10 |det A|.

    Returns
    -------
    log10_vol : ndarray or Tensor of shape (m,)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from repgeo.geometry import slice_log_volume
    >>> f = lambda x: 3.0 * x
    >>> E = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    >>> np.round(slice_log_volume(f, np.zeros((1, 3)), E, normalize=False), 6)   # log10 9
    array([0.954243])
    """
    G = slice_metric(
        fmap,
        X,
        basis,
        normalize=normalize,
        use_structure=use_structure,
        dtype=dtype,
        batch_size=batch_size,
    )
    Gt, back = to_torch(G)
    return back(logdet_psd(Gt) / (2.0 * LOG10))
