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

from .._backend import CsrProduct, chunk_rows, iter_chunks, locality_order
from .._validation import check_choice, check_positive_int, check_scalar
from .graph import _MAX_EXACT, DiffusionGraph
from .spectral import expm_krylov

__all__ = [
    "chebyshev_coefficients",
    "chebyshev_log_columns",
    "chebyshev_order",
    "heat_kernel",
    "log_ive",
]

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

    step = ChebyshevStep.of(graph, phi)
    T0 = step.to_inner(B)  # a copy: the recurrence overwrites it
    T1 = step.first(T0)
    outs = [c[0] * T0 + c[1] * T1 for c in coefs]
    for j in range(2, order + 1):
        T0, T1 = T1, step.next_(T1, T0, j - 1)  # P_j in P_{j-2}'s buffer
        for o, c in zip(outs, coefs):
            o.add_(T1, alpha=float(c[j]) * step.sign(j))
    return [step.to_outer(o) for o in outs]


class ChebyshevStep:
    """The Chebyshev recurrence ``T_{k+1} = M T_k - T_{k-1}``, ``M = 2 (L/φ - I)``, in place.

    The terms are kept with the signs ``s_k = +, +, -, -, +, +, …`` (``P_k = s_k T_k``), for
    which the recurrence reads ``P_{k+1} = P_{k-1} + (±M) P_k`` (``+`` for even ``k``): one
    sparse product accumulated into ``P_{k-1}``'s buffer, with no other pass over the block.
    Callers fold ``s_k`` (:meth:`sign`) into the series coefficients.

    ``M`` (diagonal included) is built once per graph and ``φ``. On the CPU it is a SciPy CSR
    matrix in reverse Cuthill–McKee order (neighbours close in memory: the sparse product on a
    100,000-node kNN graph is ~4× faster than in the data's order) and the product is SciPy's
    CSR kernel writing into the buffer (no temporary, GIL released, so column blocks run on
    parallel threads); callers work in the permuted order (:meth:`to_inner`,
    :meth:`to_outer`). On an accelerator it is a torch CSR product and ``perm`` is ``None``.
    """

    def __init__(self, graph: DiffusionGraph, phi: float) -> None:
        import scipy.sparse as sp

        self.n = graph.n
        self.device = graph.device
        if graph.laplacian == "normalized":
            W = graph.to_scipy(normalize="symmetric")
            diag = np.full(graph.n, 2.0 * (1.0 / phi - 1.0))
        else:
            W = graph.to_scipy()
            diag = 2.0 * graph.degrees / phi - 2.0
        M = (sp.diags(diag) - (2.0 / phi) * W).tocsr()
        M.sum_duplicates()
        self.perm: torch.Tensor | None = None
        self.inv: torch.Tensor | None = None
        if self.device.type == "cpu":
            p = locality_order(M)
            M = M[p][:, p]
            self.perm = torch.from_numpy(p)
            self.inv = torch.from_numpy(np.argsort(p))
            # one thread each: callers run column blocks on parallel threads
            self._csr = {1: CsrProduct(M), -1: CsrProduct(-M)}
        else:
            from .graph import _sparse_csr

            coo = M.tocoo()
            self._M = {
                sg: _sparse_csr(coo.row, coo.col, sg * coo.data, graph.n, self.device)
                for sg in (1, -1)
            }

    @classmethod
    def of(cls, graph: DiffusionGraph, phi: float) -> ChebyshevStep:
        """The step for ``graph`` and ``φ``, cached on the graph."""
        key = ("cheb_step", float(phi))
        if key not in graph._cache:
            graph._cache[key] = cls(graph, phi)
        return graph._cache[key]

    def to_inner(self, V: torch.Tensor) -> torch.Tensor:
        """Rows of ``V`` (node order of the graph) in the operator's order (a contiguous copy)."""
        return V.contiguous().clone() if self.perm is None else V[self.perm].contiguous()

    def to_outer(self, V: torch.Tensor) -> torch.Tensor:
        """Rows of ``V`` back in the graph's node order."""
        return V if self.inv is None else V[self.inv]

    @staticmethod
    def sign(k: int) -> float:
        """``s_k``: ``+1`` for ``k mod 4 ∈ {0, 1}``, else ``-1``."""
        return 1.0 if k % 4 < 2 else -1.0

    def addmul_(self, X: torch.Tensor, Y: torch.Tensor, sign: int = 1) -> torch.Tensor:
        """``Y <- ±M X + Y`` (in place); returns ``Y``."""
        if self.perm is None:
            return Y.add_(self._M[sign] @ X)
        if not (X.is_contiguous() and Y.is_contiguous() and X.shape == Y.shape):
            raise ValueError("ChebyshevStep needs two contiguous (n, b) tensors of one shape.")
        if X.shape[0] != self.n or X.dtype != torch.float64 or Y.dtype != torch.float64:
            raise ValueError(f"ChebyshevStep needs float64 tensors with {self.n} rows.")
        self._csr[sign].addmul_(X.numpy(), Y.numpy())
        return Y

    def first(self, B: torch.Tensor) -> torch.Tensor:
        """``P_1 = T_1 = (L/φ - I) B = M B / 2`` (a new tensor) for ``B = P_0`` (inner order)."""
        return self.addmul_(B, torch.zeros_like(B)).mul_(0.5)

    def next_(self, P1: torch.Tensor, P0: torch.Tensor, k: int) -> torch.Tensor:
        """``P_{k+1}`` from ``P_k`` (``P1``) and ``P_{k-1}`` (``P0``), written into ``P0``."""
        return self.addmul_(P1, P0, 1 if k % 2 == 0 else -1)


def log_ive(z: float, K: int) -> np.ndarray:
    """``log ive(k, z)`` for ``k = 0..K``, finite far beyond where ``ive`` underflows.

    The ratios ``r_k = I_k(z) / I_{k-1}(z)`` come from the backward recurrence
    ``r_k = 1 / (2k/z + r_{k+1})`` (stable; Miller's algorithm), so
    ``log ive(k, z) = log ive(0, z) + Σ_{j ≤ k} log r_j``.
    """
    z = float(z)
    out = np.full(K + 1, -np.inf)
    out[0] = math.log(ive(0, z))
    if z == 0.0 or K == 0:
        return out
    top = K + 60 + int(z)
    r = 0.0
    ratios = np.empty(top + 1)
    for k in range(top, 0, -1):
        r = 1.0 / (2.0 * k / z + r)
        ratios[k] = r
    out[1:] = out[0] + np.cumsum(np.log(ratios[1 : K + 1]))
    return out


_NEAR_LOG = math.log(1e-280)  # coefficients above this are summed directly, below in log blocks
_BLOCK_SPAN = math.log(1e-250)  # dynamic range of one block of the log-domain tail
_CONVERGED_LOG = math.log(1e-12)  # the last terms must be below this relative to an entry
_CHECK_EVERY = 16  # steps between convergence checks once every node was reached


def chebyshev_log_columns(
    graph: DiffusionGraph,
    B: torch.Tensor,
    ts: Sequence[float],
    *,
    order: int | None = None,
    tol: float = 1e-14,
    min_order: int = 32,
    max_order: int = 20_000,
    margin: int = 10,
    targets: torch.Tensor | None = None,
) -> tuple[list[torch.Tensor], int, list[float]]:
    """``log(exp(-t L) B)`` entrywise for indicator columns ``B``, without underflow.

    The Chebyshev recurrence ``T_k`` is the same as :func:`heat_kernel`'s; only the sum
    ``Σ_k c_k T_k`` changes. Coefficients above 1e-280 are summed directly. Beyond, ``c_k``
    (which underflows float64 near ``k ≈ tφ + 30√(tφ) + ...``) is kept as a logarithm and the tail
    is summed in blocks, each relative to its first coefficient (dynamic range 1e-250), so
    entries of ``H_t`` far below 1e-308 — pairs hundreds of hops apart on a large graph — get
    their logarithm to the recurrence's relative accuracy instead of saturating. An entry first
    reached at step ``h`` (its hop distance) is dominated by the first block that reaches it
    (later terms are smaller by ``(tφ/2h)^{Δk}``).

    With ``order=None`` the recurrence runs until every node of each column's component has
    been reached, ``margin`` steps more and at least the truncation order of the near field
    (:func:`chebyshev_order`), then on (checked every 16 steps) until every entry passed the
    convergence check below, capped at ``max_order``: the order adapts to the real hop
    distances of the requested columns.

    After the loop, an entry against which the last two terms ``c_K T_K``, ``c_{K-1} T_{K-1}``
    are not negligible (relative ``1e-12``; beyond the hop distance and the near-field order the
    terms decay at least geometrically, so they bound the truncated tail) is *not converged* and
    returned as ``-inf``, like an entry that was never reached.

    Parameters
    ----------
    graph : DiffusionGraph
    B : Tensor of shape (n, b), float64
        Indicator columns (one 1 per column), on the graph's device.
    ts : sequence of float
        Diffusion times, sharing one recurrence.
    order : int, optional
        Fixed Chebyshev order; default: adaptive (above).
    tol, min_order : float, int
        Truncation tolerance and smallest order of the near field (:func:`chebyshev_order`).
    max_order : int, default=20000
        Cap of the adaptive order.
    margin : int, default=10
        Steps beyond the farthest hop distance.
    targets : bool Tensor of shape (n,), optional
        The nodes whose entries the caller will use (default: all). The adaptive order then
        only waits for these to be reached and converged; the other entries come back as they
        are (possibly ``-inf``). Used by the full distance matrix, which takes each pair from
        whichever of its two columns needs the fewer steps.

    Returns
    -------
    logs : list of Tensor of shape (n, b)
        ``log H_t[:, cols]`` per ``t``; ``-inf`` where a column never reached a node (another
        component, or beyond a capped ``order``) or did not converge there.
    order : int
        The order used.
    floors : list of float
        ``log|c_K|`` per ``t`` at the order used: the resolution of the series, at which
        :func:`~repgeo.diffusion.heat_geodesic_distances` saturates the ``-inf`` entries.

    Examples
    --------
    On a cycle of 400 nodes ``H_t[0, d] = e^{-t} Σ_m I_{d+400m}(t)`` (normalised Laplacian):
    the entry 200 hops away, about ``e^{-1043}``, far below the smallest float64, comes out with
    its logarithm exact to ~1e-15.

    >>> import numpy as np, torch
    >>> from repgeo.diffusion.graph import DiffusionGraph
    >>> from repgeo.diffusion.heat import chebyshev_log_columns, log_ive
    >>> i = np.arange(400); j = (i + 1) % 400
    >>> g = DiffusionGraph(np.r_[i, j], np.r_[j, i], np.ones(800), 400)
    >>> B = torch.zeros(400, 1, dtype=torch.float64); B[0, 0] = 1.0
    >>> (L,), order, _ = chebyshev_log_columns(g, B, [2.0])
    >>> ref = np.logaddexp(log_ive(2.0, 200)[200], log_ive(2.0, 200)[200])  # I_{200} twice (m=0, -1)
    >>> order, bool(abs(L[200, 0].item() - ref) < 1e-12 * abs(ref))
    (210, True)
    """
    dev = B.device
    phi = graph.lambda_max() / 2.0
    near_order = max(chebyshev_order(t, phi, tol=tol, min_order=min_order) for t in ts)
    K = int(order) if order is not None else int(max_order)
    logc = [log_ive(t * phi, K) + math.log(2.0) for t in ts]  # log|c_k| for k >= 1
    for lc, t in zip(logc, ts):
        lc[0] = math.log(ive(0, t * phi))
    step = ChebyshevStep.of(graph, phi)
    # how many nodes each column must reach: the size of its source's component
    cols = B.argmax(0).cpu().numpy()
    labels = graph.component_labels
    if targets is None:
        sizes = np.bincount(labels)[labels[cols]]
        tmask = None
    else:
        t_np = targets.cpu().numpy().astype(bool)
        sizes = np.bincount(labels[t_np], minlength=labels.max() + 1)[labels[cols]]
        tmask = step.to_inner(targets.to(dev))[:, None]
    need = torch.as_tensor(sizes, device=dev)
    B = step.to_inner(B)  # the operator's node order; logs go back to the graph's at the end
    near = [torch.zeros_like(B) for _ in ts]  # directly summed terms
    logs: list[torch.Tensor | None] = [None for _ in ts]  # log of the closed part of the sum
    block: list[Any] = [None for _ in ts]  # (log scale, accumulator) of the open tail block

    def merged(i: int) -> torch.Tensor:
        """log of near + closed blocks + the open block (a new tensor; nothing is closed)."""
        L = logs[i]
        if L is None:
            S = near[i]
            L = torch.where(S > 0, torch.log(S), -math.inf)
        if block[i] is None:
            return L
        g, A = block[i]
        logA = g + torch.log(A.abs())
        rel = torch.sign(A) * torch.exp(logA - L)  # A relative to the sum so far (inf: new)
        fin = torch.isfinite(L)
        # a relative change below -1 + 1e-3 is a cancellation the float64 sum cannot resolve
        upd = torch.where(rel > -1.0 + 1e-3, L + torch.log1p(rel.clamp_min(-1.0 + 1e-3)), -math.inf)
        return torch.where(fin, upd, torch.where(A > 0, logA, -math.inf))

    def add(i: int, k: int, T: torch.Tensor) -> None:
        lc = logc[i][k]
        sign = (-1.0 if k % 2 else 1.0) * step.sign(k)  # the coefficient's and the term's
        if lc > _NEAR_LOG:
            near[i].add_(T, alpha=sign * math.exp(lc))
            return
        if block[i] is None or lc - block[i][0] < _BLOCK_SPAN:
            if block[i] is not None or logs[i] is None:
                logs[i] = merged(i)
            block[i] = (lc, torch.zeros_like(T))
        block[i][1].add_(T, alpha=sign * math.exp(lc - block[i][0]))

    def unconverged(i: int, L: torch.Tensor, T0: torch.Tensor, T1: torch.Tensor, k: int):
        """Entries against which the last two terms are not negligible (relative 1e-12)."""
        last = torch.log(torch.maximum(T1.abs(), T0.abs()))
        bad = last + float(max(logc[i][k], logc[i][k - 1])) > L + _CONVERGED_LOG
        return bad if tmask is None else bad & tmask

    T0 = B  # a copy (to_inner), overwritten by the recurrence
    for i in range(len(ts)):
        add(i, 0, T0)
    T1 = step.first(T0)
    for i in range(len(ts)):
        add(i, 1, T1)
    done_at = None

    def all_reached() -> bool:
        """Whether every column has reached its whole component. An entry is reached once a
        term of the series was nonzero there, i.e. once its sum so far (near part, closed
        blocks, open block) is nonzero; an exact cancellation to 0 could only delay this, never
        declare an entry reached early. Checked every 8 steps: ~3 passes instead of 2 per step
        for tracking the support of every term."""
        i = 0
        got = near[i] != 0
        if logs[i] is not None:
            got |= torch.isfinite(logs[i])
        if block[i] is not None:
            got |= block[i][1] != 0
        if tmask is not None:
            got &= tmask
        return bool((got.sum(0) >= need).all())

    k = 1
    while k < K:
        k += 1
        T0, T1 = T1, step.next_(T1, T0, k - 1)
        for i in range(len(ts)):
            add(i, k, T1)
        if order is None:
            if done_at is None:
                # on the sums, not on T_k: the support of T_k is not monotone in k (on a cycle
                # with the combinatorial Laplacian T_k e_j lives on the two nodes k hops away)
                if k % 8 == 0 and all_reached():
                    done_at = k
            start = max(done_at + margin, near_order) if done_at is not None else K
            if (
                k >= start
                and (k - start) % _CHECK_EVERY == 0
                and not any(
                    bool(unconverged(i, merged(i), T0, T1, k).any()) for i in range(len(ts))
                )
            ):
                break
    out = []
    for i in range(len(ts)):
        L = merged(i)
        # a-posteriori truncation check: beyond the hop distance and the near-field order the
        # terms decay at least geometrically (|T_k| <= 1 and c_k falls like 1/k!), so the last
        # two bound what was cut off; an entry they are not negligible against is saturated
        out.append(step.to_outer(L.masked_fill_(unconverged(i, L, T0, T1, k), -math.inf)))
    return out, k, [float(lc[k]) for lc in logc]


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
