"""Heat kernels ``H_t = exp(-t L)`` of a :class:`~repgeo.diffusion.DiffusionGraph`.

Three backends, which agree on small graphs (tested):

* ``"exact"`` — full eigendecomposition of the Laplacian (cached on the graph, so every further
  ``t`` is one matrix product); small graphs only.
* ``"chebyshev"`` — ``exp(-t φ (x + 1)) = ive(0, tφ) + 2 Σ_j (-1)^j ive(j, tφ) T_j(x)`` on
  ``x = L/φ - I`` with ``φ = λ_max / 2`` (``ive`` the exponentially scaled modified Bessel
  function). A degree-``K`` polynomial of ``L`` is ``K``-hop local: pairs farther than ``K`` hops
  get exactly 0. The default order is therefore the larger of the truncation order (the
  smallest ``K ≥ min_order`` with ``2 Σ_{j>K} ive(j, tφ) ≤ tol``) and the graph's hop diameter
  plus 10 (capped at 1000), so that every pair gets a positive, relatively accurate value; it is
  reported. Pass ``order`` to trade global resolution for speed.
* ``"krylov"`` — Lanczos approximation ``‖b‖ Q_m exp(-t T_m) e_1`` per column, ``m`` at least
  the hop diameter (for the same reason) and grown until the a-posteriori error is below ``tol``.

Only the requested columns are computed (``H_t`` is symmetric, so columns are rows), in chunks
that fit the memory budget.

References
----------
Hammond, Vandergheynst & Gribonval, "Wavelets on graphs via spectral graph theory", ACHA 30
(2011) (Chebyshev filters). Marcotte et al., "Fast multiscale diffusion on graphs", ICASSP 2022.
Saad (1992), Krylov approximations of the matrix exponential.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from scipy.special import ive

from .._backend import chunk_rows, iter_chunks
from .._validation import check_choice, check_positive_int, check_scalar
from .graph import _MAX_EXACT, DiffusionGraph
from .spectral import expm_krylov

__all__ = ["chebyshev_coefficients", "chebyshev_order", "heat_kernel"]

_METHODS = ("auto", "exact", "chebyshev", "krylov")
MAX_ORDER = 1000
# terms beyond the hop distance h decay like (tφ/2j)^j, so a few extra orders make the entries
# of the farthest pairs relatively accurate too (tested against 50-digit arithmetic)
HOP_MARGIN = 10


_MAX_TPHI = 1e7  # the series needs ~tφ terms; beyond this the polynomial is not a sensible tool


def chebyshev_order(t: float, phi: float, *, tol: float = 1e-14, min_order: int = 32) -> int:
    """Smallest Chebyshev order ``K ≥ min_order`` whose truncation error bound
    ``2 Σ_{j>K} ive(j, tφ)`` is at most ``tol`` (entries of ``H_t`` are in ``[0, 1]``).

    Parameters
    ----------
    t : float
        Diffusion time, ``>= 0``.
    phi : float
        Half the spectral bound, ``φ = λ_max / 2 >= 0``; ``t · φ <= 1e7``.
    tol : float, default=1e-14
        Truncation tolerance in ``(0, 1)``.
    min_order : int, default=32

    Returns
    -------
    int

    Examples
    --------
    >>> from repgeo.diffusion.heat import chebyshev_order
    >>> chebyshev_order(1.0, 1.0), chebyshev_order(100.0, 1.0)
    (32, 79)
    """
    t = float(check_scalar(t, "t", min_val=0.0))
    phi = float(check_scalar(phi, "phi", min_val=0.0))
    tol = float(
        check_scalar(tol, "tol", min_val=0.0, max_val=1.0, include_min=False, include_max=False)
    )
    min_order = check_positive_int(min_order, "min_order")
    z = t * phi
    if z > _MAX_TPHI:
        raise ValueError(
            f"t * phi = {z:.3g} needs a Chebyshev order above {_MAX_TPHI:.0e}; use a smaller t "
            "or method='exact'/'krylov'."
        )
    top = int(z + 30 * math.sqrt(z + 1) + 80)
    tail = 2.0 * np.cumsum(ive(np.arange(top, -1, -1), z))[::-1]  # tail[j] = 2 Σ_{i>=j} ive
    ok = np.nonzero(tail[1:] <= tol)[0]
    K = int(ok[0]) if ok.size else top
    return max(K, int(min_order))


def chebyshev_coefficients(t: float, phi: float, order: int) -> np.ndarray:
    """Coefficients ``c_j`` of ``exp(-t φ (x+1)) = Σ_j c_j T_j(x)``, ``j = 0..order``."""
    j = np.arange(order + 1)
    c = 2.0 * ive(j, float(t) * float(phi)) * np.where(j % 2 == 0, 1.0, -1.0)
    c[0] *= 0.5
    return c


def _chebyshev_apply(
    graph: DiffusionGraph, B: torch.Tensor, ts: Sequence[float], order: int
) -> list[torch.Tensor]:
    """``exp(-t L) B`` for several ``t`` sharing one Chebyshev recurrence."""
    phi = graph.lambda_max() / 2.0
    coefs = [
        torch.as_tensor(chebyshev_coefficients(t, phi, order), dtype=B.dtype, device=B.device)
        for t in ts
    ]

    if graph.laplacian == "normalized":
        # x V = (L/φ - I) V = (1/φ - 1) V - (1/φ) A V with A = D^{-1/2} W D^{-1/2}
        def xmul_into(V: torch.Tensor, out: torch.Tensor, scale: float) -> torch.Tensor:
            """out <- scale · x V + out (in place, three passes, no temporaries but A V)."""
            AV = graph.matmul(V, normalize="symmetric")
            return out.add_(V, alpha=scale * (1.0 / phi - 1.0)).add_(AV, alpha=-scale / phi)
    else:
        deg = graph._degrees_t()

        def xmul_into(V: torch.Tensor, out: torch.Tensor, scale: float) -> torch.Tensor:
            xV = (deg[:, None] * V - graph.matmul(V)) / phi - V
            return out.add_(xV, alpha=scale)

    T0 = B
    T1 = xmul_into(B, torch.zeros_like(B), 1.0)
    outs = [c[0] * T0 + c[1] * T1 for c in coefs]
    T0 = T0.clone()  # the recurrence overwrites it
    for j in range(2, order + 1):
        # T_j = 2 x T_{j-1} - T_{j-2}, written into T_{j-2}'s buffer
        T0, T1 = T1, xmul_into(T1, T0.neg_(), 2.0)
        for o, c in zip(outs, coefs):
            o.add_(T1, alpha=float(c[j]))
    return outs


def _check_ts(t: Any) -> list[float]:
    if np.ndim(t) == 0:
        ts = [check_scalar(t, "t", min_val=0.0)]
    else:
        try:
            ts = list(np.asarray(t, dtype=float).ravel())
        except (TypeError, ValueError) as exc:
            raise TypeError(f"t must be a number or a sequence of numbers; got {t!r}.") from exc
    if not ts:
        raise ValueError(
            "t must be a positive number or a non-empty sequence of them; got an empty sequence."
        )
    return [float(check_scalar(float(x), "t", min_val=0.0)) for x in ts]


def _columns(graph: DiffusionGraph, columns: Any) -> np.ndarray:
    if columns is None:
        return np.arange(graph.n)
    cols = np.asarray(columns)
    if cols.ndim != 1 or cols.dtype.kind not in "iu":
        raise TypeError(
            f"columns must be a 1-D array of integer node indices; got dtype {cols.dtype}, shape {cols.shape}."
        )
    if cols.size and (cols.min() < 0 or cols.max() >= graph.n):
        raise ValueError(
            f"columns must be node indices in [0, {graph.n}); got range [{cols.min()}, {cols.max()}]."
        )
    return cols.astype(np.int64)


def resolve_method(graph: DiffusionGraph, method: str, n_columns: int) -> str:
    """``"auto"`` is Chebyshev: it needs no dense step and keeps the small far-away entries of
    ``H_t`` to good relative accuracy (the exact backend has an absolute error of ~1e-16)."""
    check_choice(method, "method", _METHODS)
    return "chebyshev" if method == "auto" else method


def heat_columns(
    graph: DiffusionGraph,
    ts: Sequence[float],
    cols: np.ndarray,
    *,
    method: str,
    order: int | None = None,
    tol: float = 1e-14,
    min_order: int = 32,
    info: dict[str, Any] | None = None,
):
    """Generator over column chunks: yields ``(slice, [H_t[:, cols[slice]] for t in ts])``;
    backend details (order, ``λ_max``, Krylov dimension) are written into ``info``."""
    n = graph.n
    dev = graph.device
    info = {} if info is None else info
    info["method"] = method
    if method == "exact":
        evals, U = graph.eigh()
        weights = [torch.exp(-t * evals) for t in ts]
        size = chunk_rows(8.0 * n * (len(ts) + 1), maximum=max(len(cols), 1))
        for sl in iter_chunks(len(cols), size):
            Uc = U[torch.as_tensor(cols[sl], device=dev)]  # (c, n)
            yield sl, [U @ (w[:, None] * Uc.T) for w in weights]
        return
    if method == "chebyshev":
        phi = graph.lambda_max() / 2.0
        if order is None:
            order = max(chebyshev_order(t, phi, tol=tol, min_order=min_order) for t in ts)
            order = max(order, min(graph.hop_diameter() + HOP_MARGIN, MAX_ORDER))
        info.update(
            order=int(order), lambda_max=graph.lambda_max(), hop_diameter=graph.hop_diameter()
        )
        size = chunk_rows(8.0 * n * (len(ts) + 4), maximum=max(len(cols), 1))
        for sl in iter_chunks(len(cols), size):
            B = torch.zeros(n, sl.stop - sl.start, dtype=torch.float64, device=dev)
            B[torch.as_tensor(cols[sl], device=dev), torch.arange(B.shape[1], device=dev)] = 1.0
            yield sl, _chebyshev_apply(graph, B, ts, order)
        return
    # krylov
    steps_used = 0
    min_steps = min(graph.hop_diameter() + HOP_MARGIN, MAX_ORDER) if order is None else order
    size = chunk_rows(8.0 * n * (min_steps + 8), maximum=max(len(cols), 1))
    for sl in iter_chunks(len(cols), size):
        B = torch.zeros(n, sl.stop - sl.start, dtype=torch.float64, device=dev)
        B[torch.as_tensor(cols[sl], device=dev), torch.arange(B.shape[1], device=dev)] = 1.0
        outs = []
        for t in ts:
            o, m = expm_krylov(
                graph.laplacian_matvec,
                B,
                t,
                tol=tol,
                min_steps=min_steps,
                max_steps=max(min_steps, 200),
            )
            steps_used = max(steps_used, m)
            outs.append(o)
        info["krylov_steps"] = steps_used
        yield sl, outs


def heat_kernel(
    graph: DiffusionGraph,
    t: float,
    *,
    columns: Any = None,
    method: str = "auto",
    order: int | None = None,
    tol: float = 1e-14,
    min_order: int = 32,
    return_info: bool = False,
):
    """Columns of the heat kernel ``H_t = exp(-t L)`` of a graph.

    Parameters
    ----------
    graph : DiffusionGraph
        From :func:`~repgeo.diffusion.build_graph`; its Laplacian sets the time unit.
    t : float
        Diffusion time (``>= 0``).
    columns : array_like of int, optional
        Node indices of the wanted columns (= rows, ``H_t`` is symmetric). Default: all, which
        is a dense ``n × n`` result — ask for it only on small graphs.
    method : {"auto", "exact", "chebyshev", "krylov"}, default="auto"
        Backend (see the module docstring); ``"auto"`` is Chebyshev.
    order : int, optional
        Chebyshev order (Krylov: minimum dimension); default: the larger of
        :func:`chebyshev_order` and the hop diameter.
    tol : float, default=1e-14
        Truncation tolerance of the Chebyshev series / Krylov error estimate.
    min_order : int, default=32
        Smallest Chebyshev order.
    return_info : bool, default=False
        Also return a dict with the backend, the Chebyshev order and ``λ_max`` or the Krylov
        dimension.

    Returns
    -------
    H : ndarray or Tensor of shape (n, n_columns), float64
        ``H_t[:, columns]``; a tensor on the graph's device when the graph was built from one.
    info : dict
        Only with ``return_info=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, heat_kernel
    >>> X = np.random.default_rng(0).normal(size=(150, 2))
    >>> g = build_graph(X, k=6)
    >>> He = heat_kernel(g, 2.0, method="exact")
    >>> Hc, info = heat_kernel(g, 2.0, method="chebyshev", return_info=True)
    >>> bool(np.abs(He - Hc).max() < 1e-10), info["order"] == max(32, g.hop_diameter() + 10)
    (True, True)
    """
    if not isinstance(graph, DiffusionGraph):
        raise TypeError(
            f"graph must be a DiffusionGraph (see build_graph); got {type(graph).__name__}."
        )
    ts = _check_ts(t)
    if len(ts) != 1:
        raise ValueError(f"heat_kernel takes one t; got {len(ts)} (call it once per t).")
    cols = _columns(graph, columns)
    tol = float(check_scalar(tol, "tol", min_val=0.0, include_min=False))
    min_order = check_positive_int(min_order, "min_order")
    if order is not None:
        order = check_positive_int(order, "order", min_val=2)
    meth = resolve_method(graph, method, len(cols))
    if meth == "exact" and graph.n > 4 * _MAX_EXACT:
        raise ValueError(
            f"method='exact' needs a dense eigendecomposition; n={graph.n} is too large."
        )
    out = torch.empty(graph.n, len(cols), dtype=torch.float64, device=graph.device)
    info: dict[str, Any] = {}
    for sl, (Hc,) in heat_columns(
        graph, ts, cols, method=meth, order=order, tol=tol, min_order=min_order, info=info
    ):
        out[:, sl] = Hc
    res = graph.back(out)
    return (res, info) if return_info else res
