"""Shared machinery of :mod:`repgeo.geometry`: feature-map preparation, Jacobian-vector
products (generic ``torch.func`` and a structure-aware path for Linear/activation stacks),
Gram matrices and chunking.

Nothing here is public API; the public functions validate their inputs first and then call in.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import jacfwd, jacrev, jvp, vjp, vmap

from .._backend import chunk_rows, get_memory_budget
from .._validation import check_choice
from ..features import FeatureMap
from ..models.layers import Erf, ScaledLinear

__all__: list[str] = []

MODES = ("auto", "forward", "reverse")


class ArcCos(nn.Module):
    """σ(z) = z^p Θ(z): the activation of the arc-cosine kernel of degree p (p=1: ReLU)."""

    def __init__(self, degree: int = 1) -> None:
        super().__init__()
        self.degree = int(degree)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z.clamp_min(0.0) ** self.degree

    def extra_repr(self) -> str:
        return f"degree={self.degree}"


class Elementwise(nn.Module):
    """Wrap an *elementwise* torch callable as a module."""

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.fn(z)


# Elementwise activations whose derivative the structure-aware path takes with one jvp.
_ELEMENTWISE = (
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.GELU,
    nn.Softplus,
    nn.SiLU,
    nn.ELU,
    nn.LeakyReLU,
    nn.Softsign,
    nn.Tanhshrink,
    Erf,
    ArcCos,
    Elementwise,
)


# ----------------------------------------------------------------------------- structure
@dataclass
class _Linear:
    weight: torch.Tensor  # (out, in), scale folded in
    bias: torch.Tensor | None


@dataclass
class _Act:
    module: nn.Module


def _structure_of(module: nn.Module, eval_mode: bool) -> list[Any] | None:
    """Ops of a flat ``nn.Sequential`` of Linear / elementwise activations, else ``None``."""
    if not isinstance(module, nn.Sequential):
        return None
    ops: list[Any] = []
    for child in module.children():
        if type(child) in (nn.Linear, ScaledLinear):
            scale = child.scale if isinstance(child, ScaledLinear) else 1.0
            w = child.weight * scale if scale != 1.0 else child.weight
            ops.append(_Linear(w.detach(), None if child.bias is None else child.bias.detach()))
        elif isinstance(child, _ELEMENTWISE):
            ops.append(_Act(child))
        elif isinstance(child, (nn.Identity, nn.Flatten)) or (
            isinstance(child, nn.Dropout) and eval_mode
        ):
            continue
        else:
            return None
    if not ops or not isinstance(ops[0], _Linear):
        return None
    return ops


def _act_and_derivative(act: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """σ(z) and σ'(z) of an elementwise activation in one forward-mode pass."""
    return jvp(act, (z,), (torch.ones_like(z),))


# ----------------------------------------------------------------------------- feature maps
class Prepared:
    """A feature map ready for computation in one dtype on one device.

    Attributes
    ----------
    f : callable
        Batched Φ: (b, d) -> (b, n).
    ops : list or None
        Linear/activation structure when the map is such a stack (structure-aware fast paths).
    dtype, device : compute dtype and device.
    """

    def __init__(
        self,
        fmap: Any,
        dtype: torch.dtype | None,
        *,
        fallback_dtype: torch.dtype = torch.float32,
        fallback_device: torch.device | None = None,
        use_structure: bool = True,
    ) -> None:
        model: nn.Module | None = None
        if isinstance(fmap, FeatureMap):
            fm = fmap
        elif isinstance(fmap, nn.Module):
            fm = FeatureMap(fmap)
        elif callable(fmap):
            fm = None
        else:
            raise TypeError(
                "fmap must be a repgeo.features.FeatureMap, a torch.nn.Module or a callable mapping "
                f"(batch, d) tensors to (batch, n); got {type(fmap).__name__}."
            )
        if fm is None:
            self.f: Callable[[torch.Tensor], torch.Tensor] = fmap
            self.dtype = dtype or fallback_dtype
            self.device = fallback_device or torch.device("cpu")
            self.ops = None
            self.param_device: torch.device | None = None
            return
        model = fm.model
        p_dtype, p_device = fm.parameters_dtype, fm.parameters_device
        target = dtype or p_dtype
        if target != p_dtype and any(True for _ in model.parameters()):
            model = copy.deepcopy(model).to(dtype=target)
            fm = FeatureMap(model, fm.layer, input_shape=fm.input_shape, eval_mode=fm.eval_mode)
        self.f = fm
        self.dtype = target
        self.device = p_device
        self.param_device = p_device
        self.ops = None
        if use_structure and fm.input_shape is None and fm.method in ("sequential", "identity"):
            self.ops = _structure_of(fm.module, fm.eval_mode)
        self._fm = fm

    def single(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x.unsqueeze(0)).squeeze(0)

    def n_features(self, d: int) -> int:
        with torch.no_grad():
            return int(
                self.f(torch.zeros(1, d, dtype=self.dtype, device=self.device))
                .reshape(1, -1)
                .shape[1]
            )

    def activation_numel(self, d: int) -> int:
        """Activations per input point (all layers), from the structure or a probe forward
        pass with hooks on the leaf modules; sizes the chunks of tangent computations."""
        cached = getattr(self, "_act_numel", None)
        if cached is not None:
            return cached
        n = self.n_features(d)
        total = 0
        if self.ops is not None:
            total = 2 * sum(op.weight.shape[0] for op in self.ops if isinstance(op, _Linear))
        elif hasattr(self, "_fm"):
            root = self._fm.module if self._fm.method != "hook" else self._fm.model
            sizes: list[int] = []

            def hook(_m: nn.Module, _i: Any, out: Any) -> None:
                if isinstance(out, torch.Tensor):
                    sizes.append(out.numel())

            handles = [
                m.register_forward_hook(hook) for m in root.modules() if not list(m.children())
            ]
            try:
                with torch.no_grad():
                    self.f(torch.zeros(1, d, dtype=self.dtype, device=self.device))
            finally:
                for h in handles:
                    h.remove()
            total = sum(sizes)
        self._act_numel = max(total, n + d)
        return self._act_numel

    @property
    def single_layer(self) -> bool:
        """Φ(x) = σ(W x + b) (or W x + b): the metric is linear in σ'(z)², see :func:`weighted_gram`."""
        if self.ops is None:
            return False
        kinds = [type(op) for op in self.ops]
        return kinds in ([_Linear], [_Linear, _Act])


def resolve_mode(mode: str, d: int, n: int, prep: Prepared | None = None) -> str:
    """ "forward" (d JVPs) when d <= n or the map is a single Linear(+activation) layer,
    else "reverse" (n VJPs); an explicit choice is kept."""
    check_choice(mode, "mode", MODES)
    if mode == "auto":
        if prep is not None and prep.single_layer:
            return "forward"
        return "forward" if d <= n else "reverse"
    return mode


def batch_rows(bytes_per_row: float, batch_size: int | None) -> int:
    if batch_size is not None:
        return int(batch_size)
    return chunk_rows(bytes_per_row, maximum=65536)


# ----------------------------------------------------------------------------- products
def structured_tangents(
    ops: list[Any], X: torch.Tensor, V: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Φ(X) (b, n) and the directional derivatives T = J V (b, k, n) through a Linear/act stack.

    ``V`` is (k, d) (the same directions at every point) or (b, k, d). The first layer's
    tangent ``V Wᵀ`` does not depend on the point, so it is computed once for shared ``V``.
    """
    h = X
    t = V
    shared = V.ndim == 2
    for op in ops:
        if isinstance(op, _Linear):
            h = torch.nn.functional.linear(h, op.weight, op.bias)
            t = t @ op.weight.T
        else:
            h, dz = _act_and_derivative(op.module, h)
            t = dz.unsqueeze(1) * (t.unsqueeze(0) if shared else t)
            shared = False
    if shared:
        t = t.unsqueeze(0).expand(X.shape[0], *t.shape)
    return h, t


def generic_tangents(
    f: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, V: torch.Tensor
) -> torch.Tensor:
    """J V for a batched map by forward mode with batched tangents: (b, k, n)."""
    if V.ndim == 2:
        V = V.unsqueeze(1).expand(V.shape[0], X.shape[0], V.shape[1])
    else:
        V = V.transpose(0, 1)

    def push(v: torch.Tensor) -> torch.Tensor:
        return jvp(f, (X,), (v,))[1]

    T = vmap(push)(V)  # (k, b, n)
    return T.transpose(0, 1)


def jacobian_chunk(prep: Prepared, X: torch.Tensor, mode: str) -> torch.Tensor:
    """J(x) for a chunk of points: (b, n, d)."""
    d = X.shape[1]
    if mode == "forward" and prep.ops is not None:
        eye = torch.eye(d, dtype=X.dtype, device=X.device)
        _, T = structured_tangents(prep.ops, X, eye)
        return T.transpose(1, 2)
    jac = jacfwd if mode == "forward" else jacrev
    return vmap(jac(prep.single))(X)


def weighted_gram(C: torch.Tensor, A: torch.Tensor, budget: int | None = None) -> torch.Tensor:
    """Σ_j C[p, j] a_j a_jᵀ for every row p: (m, r, r) from C (m, n) and A (n, r).

    For Φ(x) = σ(W x + b) the pullback metric is g(x) = Wᵀ diag(σ'(z)²) W / n, *linear* in
    σ'(z)²: all points' metrics are one matrix product of C = σ'(Z)²/n with the products
    w_ja w_jb. Only the upper triangle is formed (row blocks sized by the budget) and mirrored.
    """
    m, n = C.shape
    r = A.shape[1]
    out = C.new_empty(m, r, r)
    budget = get_memory_budget() if budget is None else budget
    item = C.element_size()
    # per row-block: pair matrix n*rb*r and product m*rb*r
    rb = max(1, min(r, int(budget // 4 // max(item * r * (n + m), 1))))
    blocks = []
    for a0 in range(0, r, rb):
        a1 = min(a0 + rb, r)
        P = (A[:, a0:a1, None] * A[:, None, a0:]).reshape(n, -1)
        out[:, a0:a1, a0:] = (C @ P).view(m, a1 - a0, r - a0)
        blocks.append((a0, a1))
    for a0, a1 in blocks:
        if a1 < r:
            out[:, a1:, a0:a1] = out[:, a0:a1, a1:].transpose(1, 2)
    return out


def gram_chunk(
    prep: Prepared,
    X: torch.Tensor,
    *,
    side: str,
    mode: str,
    normalize: bool,
    n: int,
    accumulate: torch.dtype = torch.float64,
    rescale: bool = False,
) -> Any:
    """Gram matrix of J(x)/√n for a chunk: ``side="input"`` gives JᵀJ/n (b, d, d),
    ``side="feature"`` gives JJᵀ/n (b, n, n). Uses the structure when it helps.

    J is computed in the map's dtype; the Gram matrix is *accumulated* in ``accumulate``
    (float64 by default): forming JᵀJ squares the condition number, so a float32 Gram of a
    float32 Jacobian loses every singular value below ~3e-4 s₁ (the paper's MLP [784, 2000, 10]
    has s₁/s_min ≈ 1.5e4 and its float32 Gram is numerically singular), while the float64
    Gram of the same float32 J resolves it as well as an SVD of J does.

    ``rescale=True`` divides each point's J by its largest entry c first and returns
    ``(S, c)``: the singular values of J/√n are those of the returned S times c. Saturated
    networks have |J| ~ 1e-160 whose squares underflow; the rescaled Gram does not.
    """
    scale = 1.0 / n if normalize else 1.0
    tiny = torch.finfo(accumulate).tiny

    def scaled(A: torch.Tensor, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        if not rescale:
            return A, torch.ones(A.shape[0], dtype=A.dtype, device=A.device)
        c = A.abs().amax(dim=dims).clamp_min(tiny)
        return A / c.view(-1, *([1] * len(dims))), c

    def out(S: torch.Tensor, c: torch.Tensor) -> Any:
        return (S, c) if rescale else S

    if prep.single_layer and mode == "forward":
        lin = prep.ops[0]
        z = torch.nn.functional.linear(X, lin.weight, lin.bias)
        if len(prep.ops) == 2:
            _, dz = _act_and_derivative(prep.ops[1].module, z)
        else:
            dz = torch.ones_like(z)
        W = lin.weight.to(accumulate)
        dz, c = scaled(dz.to(accumulate), (1,))
        if side == "input":
            if X.device.type == "cuda":  # one big GEMM for the whole chunk (fast on GPUs)
                return out(weighted_gram(dz.square() * scale, W), c)
            J = dz.unsqueeze(2) * W  # on CPUs a batched GEMM of the Jacobians is ~2x faster
            return out(torch.bmm(J.transpose(1, 2), J) * scale, c)
        K = W @ W.T
        return out(dz.unsqueeze(2) * K * dz.unsqueeze(1) * scale, c)
    J, c = scaled(jacobian_chunk(prep, X, mode).to(accumulate), (1, 2))
    if side == "input":
        return out(torch.bmm(J.transpose(1, 2), J) * scale, c)
    return out(torch.bmm(J, J.transpose(1, 2)) * scale, c)


def logdet_psd(S: torch.Tensor) -> torch.Tensor:
    """log det of symmetric PSD matrices (b, r, r) via Cholesky; eigenvalues where it fails.

    Singular matrices give ``-inf``.
    """
    L, info = torch.linalg.cholesky_ex(S)
    out = 2.0 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    bad = info != 0
    if bool(bad.any()):
        ev = torch.linalg.eigvalsh(S[bad]).clamp_min(0.0)
        out[bad] = torch.log(ev).sum(-1)
    return out


def cholesky_logdet(
    S: torch.Tensor, *, iterations: int = 8, probes: int = 4, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """log det S by Cholesky with cheap spectral estimates, for SPD matrices S (b, r, r).

    Returns ``(logdet, ok, cond2, sum_c2)``: ``ok`` is False where the factorisation failed
    (``logdet`` is then meaningless); ``cond2`` estimates λ_max/λ_min (power iteration on S
    and inverse iteration with the factor, ``iterations`` steps on a block of ``probes``
    vectors: a lower estimate, typically within a factor 2); ``sum_c2`` estimates
    Σ_i λ_max/λ_i = λ_max · tr S⁻¹ (Hutchinson with the same probes). Together they cost
    O(r²) per step against the O(r³) factorisation, which is why the k = r paths use them
    instead of a full eigendecomposition (5x the Cholesky's cost).
    """
    L, info = torch.linalg.cholesky_ex(S)
    ok = info == 0
    diag = torch.diagonal(L, dim1=-2, dim2=-1)
    logdet = 2.0 * torch.log(diag.clamp_min(torch.finfo(S.dtype).tiny)).sum(-1)
    b, r = S.shape[0], S.shape[-1]
    g = torch.Generator(device="cpu").manual_seed(seed)
    Z0 = torch.randn(r, probes, generator=g, dtype=S.dtype).to(S.device)
    Z0 = Z0.expand(b, r, probes)
    Lsafe = torch.where(ok[:, None, None], L, torch.eye(r, dtype=S.dtype, device=S.device))
    Y = torch.cholesky_solve(Z0, Lsafe)
    trinv = (Z0 * Y).sum(1).mean(-1)  # Hutchinson: E[zᵀ S⁻¹ z] = tr S⁻¹
    Zmax = Z0
    Zmin = Y
    for _ in range(iterations):
        Zmax = torch.linalg.qr(S @ Zmax)[0]
        Zmin = torch.linalg.qr(torch.cholesky_solve(torch.linalg.qr(Zmin)[0], Lsafe))[0]
    lam_max = ((S @ Zmax) * Zmax).sum(1).max(-1).values
    lam_min = ((S @ Zmin) * Zmin).sum(1).min(-1).values
    lam_max = torch.maximum(lam_max, torch.diagonal(S, dim1=-2, dim2=-1).max(-1).values)
    tiny = torch.finfo(S.dtype).tiny
    cond2 = lam_max / lam_min.clamp_min(tiny)
    sum_c2 = torch.maximum(lam_max * trinv, cond2)
    bad = ~ok | ~torch.isfinite(logdet) | (lam_min <= 0)
    return logdet, ok & ~bad, cond2, sum_c2


# ----------------------------------------------------------------------------- top-k (Krylov)
def cotangent_products(
    f: Callable[[torch.Tensor], torch.Tensor], X: torch.Tensor, U: torch.Tensor
) -> torch.Tensor:
    """Jᵀ U for a batched map by reverse mode with batched cotangents: U (b, k, n) -> (b, k, d)."""
    _, pull = vjp(f, X)
    out = vmap(lambda u: pull(u)[0])(U.transpose(0, 1))  # (k, b, d)
    return out.transpose(0, 1)


def krylov_topk(
    f: Callable[[torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    starts: torch.Tensor,
    k: int,
    *,
    side: str,
    scale: float,
    tol: float,
    max_dim: int,
    eps: float,
) -> dict[str, torch.Tensor]:
    """Top-k singular values of J(x)·√scale at each point by randomised block Krylov.

    Block Lanczos with full reorthogonalisation on A = JᵀJ (``side="input"``, vectors in ℝ^d)
    or JJᵀ (``side="feature"``, vectors in ℝ^n), from the random start blocks ``starts``
    (b, dim, block). Every step applies A to one block: ``block`` Jacobian-vector products and
    as many vector-Jacobian products (batched ``torch.func.jvp``/``vjp``), never the full
    Jacobian. The Ritz singular values are those of J·Q over the orthonormal Krylov basis Q
    (an SVD of the tangents themselves, so small values are not squared away), and increase
    monotonically with the basis (Cauchy interlacing): the estimate of Σ log10 s_i approaches
    the exact value from below. A point stops when one step changes Σ_{i≤k} log10 s_i (over the
    values resolved above ``eps·s₁``) by at most ``tol``; the last change is its error estimate.

    Returns a dict of tensors over the points: ``s`` (b, k) float64, ``converged`` (b,) bool,
    ``error`` (b,) the last change in decades, ``residual`` (b,) max over the resolved top-k of
    ‖A y − θ y‖/θ, ``products`` (b,) JVP+VJP pairs per point, ``dim`` (b,) the basis size.
    """
    b, dim, block = starts.shape
    dev, cdt = X.device, X.dtype
    f64 = torch.float64
    root = scale**0.5

    def apply(Xa: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(first products T (a, w, ·), A V (a, w, dim)) for rows V (a, w, dim), float64."""
        Vc = V.to(cdt)
        if side == "input":
            T = generic_tangents(f, Xa, Vc)  # J v: (a, w, n)
            W = cotangent_products(f, Xa, T)  # Jᵀ J v
        else:
            T = cotangent_products(f, Xa, Vc)  # Jᵀ u: (a, w, d)
            W = generic_tangents(f, Xa, T)
        return T.to(f64) * root, W.to(f64) * scale

    def orth_rows(Z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Qz, Rz = torch.linalg.qr(Z.transpose(1, 2))
        return Qz.transpose(1, 2), Rz

    # Basis vectors are stored as rows so that every slice [:, :m] is contiguous.
    cap = max_dim + block
    Qa = torch.empty(b, cap, dim, dtype=f64, device=dev)  # orthonormal Krylov basis
    Wa = torch.empty(b, cap, dim, dtype=f64, device=dev)  # A applied to it
    Ua: torch.Tensor | None = None  # orthonormal basis of the first products J Qa
    Ra = torch.zeros(b, cap, cap, dtype=f64, device=dev)  # (J Qa)ᵀ = Raᵀ Ua in rows
    Q = orth_rows(starts.to(device=dev, dtype=f64).transpose(1, 2))[0]  # (b, block, dim)
    s_out = torch.zeros(b, k, dtype=f64, device=dev)
    err = torch.full((b,), float("inf"), dtype=f64, device=dev)
    res = torch.full((b,), float("inf"), dtype=f64, device=dev)
    products = torch.zeros(b, dtype=torch.long, device=dev)
    dims = torch.zeros(b, dtype=torch.long, device=dev)
    converged = torch.zeros(b, dtype=torch.bool, device=dev)
    active = torch.arange(b, device=dev)
    prev = torch.full((b,), -float("inf"), dtype=f64, device=dev)
    m = 0
    step = 0
    while active.numel():
        step += 1
        T, W = apply(X[active], Q)
        w = Q.shape[1]
        if Ua is None:
            Ua = torch.empty(b, cap, T.shape[2], dtype=f64, device=dev)
        Qa[:, m : m + w] = Q
        Wa[:, m : m + w] = W
        # extend the QR factorisation of J Qa by the new block (block Gram-Schmidt, CGS2)
        U = Ua[:, :m]
        C = U @ T.transpose(1, 2)  # (a, m, w)
        Z = T - C.transpose(1, 2) @ U
        C2 = U @ Z.transpose(1, 2)
        Z = Z - C2.transpose(1, 2) @ U
        Uj, Rj = orth_rows(Z)
        Ua[:, m : m + w] = Uj
        Ra[:, :m, m : m + w] = C + C2
        Ra[:, m : m + w, m : m + w] = Rj
        m += w
        # Ritz singular values of J over span(Qa): the singular values of Ra
        sv = torch.linalg.svdvals(Ra[:, :m, :m])
        kk = min(k, m)
        sv_k = sv[:, :kk]
        resolved = eps * sv_k[:, :1] < 0.5 * sv_k  # as in metric._summarise: eps·s₁/s_i < 1/2
        logs = torch.where(resolved, torch.log10(sv_k.clamp_min(1e-300)), torch.zeros_like(sv_k))
        total = logs.sum(1)
        if kk < k:
            total = total - float("inf")
        change = total - prev[active]
        idx = active
        s_out[idx, :kk] = sv_k
        err[idx] = torch.where(torch.isfinite(change), change.abs(), err[idx])
        products[idx] += w
        dims[idx] = m
        prev[idx] = total
        done = (kk == k) & (step >= 2) & torch.isfinite(change) & (change.abs() <= tol)
        if m >= dim:  # the basis spans the whole space: Rayleigh-Ritz is exact
            done = torch.ones_like(done)
            err[idx] = 0.0
        converged[idx] = done
        last = m >= max_dim
        fin = torch.ones_like(done) if last else done
        if bool(fin.any()):  # residuals ‖A y − θ y‖/θ of the finishing points' Ritz pairs
            Vh = torch.linalg.svd(Ra[:, :m, :m][fin])[2][:, :kk]
            Y = Vh @ Qa[:, :m][fin]
            AY = Vh @ Wa[:, :m][fin]
            theta = sv_k[fin].square()
            resid = (AY - theta[:, :, None] * Y).norm(dim=2) / theta.clamp_min(1e-300)
            res[idx[fin]] = torch.where(resolved[fin], resid, torch.zeros_like(resid)).max(1).values
        keep = ~done
        if not bool(keep.any()) or last:
            break
        if not bool(keep.all()):
            Qa, Wa, Ua, Ra = Qa[keep], Wa[keep], Ua[keep], Ra[keep]
            W = W[keep]
            active = active[keep]
        Qk = Qa[:, :m]
        if m + block <= dim:
            # next block: A Q_last orthogonalised against the whole basis (twice: CGS2)
            Wn = W
            for _ in range(2):
                Wn = Wn - (Wn @ Qk.transpose(1, 2)) @ Qk
            Q = orth_rows(Wn)[0]
        else:  # the last block completes the space
            Q = torch.linalg.qr(Qk.transpose(1, 2), mode="complete")[0][:, :, m:].transpose(1, 2)
    return {
        "s": s_out,
        "converged": converged,
        "error": err,
        "residual": res,
        "products": products,
        "dim": dims,
    }


LOG10 = math.log(10.0)
