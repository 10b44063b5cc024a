"""Does an embedding hash class manifolds? Separation, invariance, recoverability, rank.

All functions take an embedding ``Z`` of shape (n_samples, n_features) (NumPy or torch) and,
where needed, the class labels ``y`` or the generator's parameters γ, θ. Pair statistics use
*sampled* pairs (or all pairs when there are few), never an n × n matrix.

References
----------
.. [1] N. Dikkala, G. Kaplun, R. Panigrahy. "For Manifold Learning, Deep Neural Networks can be
   Locality Sensitive Hash Functions." arXiv:2103.06875 (2021).
.. [2] O. Roy, M. Vetterli. "The effective rank: a measure of effective dimensionality."
   EUSIPCO (2007).
.. [3] G. Golub, M. Heath, G. Wahba. "Generalized cross-validation as a method for choosing a
   good ridge parameter." Technometrics 21 (1979).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._backend import chunk_rows, iter_chunks, to_numpy, to_torch
from .._validation import (
    check_array,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_random_state,
    check_scalar,
    torch_generator,
)
from ..data.manifolds import ClassManifolds
from ..features import FeatureMap

__all__ = [
    "GeneratorTangents",
    "InvarianceRatio",
    "RidgeProbe",
    "Separation",
    "auroc",
    "effective_rank",
    "generator_tangents",
    "invariance",
    "invariance_from_tangents",
    "pair_similarities",
    "ridge_r2",
    "sample_pairs",
    "separation",
]


# ----------------------------------------------------------------------------- pairs
def sample_pairs(
    y: Any, n_pairs: int, *, same: bool, random_state: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs ``(i, j)``, ``i != j``, of same-class or different-class samples.

    When the number of such unordered pairs is at most ``n_pairs`` all of them are returned
    (exact statistics); otherwise ``n_pairs`` pairs are drawn uniformly with replacement from
    them. Never materialises the n × n pair set.

    Parameters
    ----------
    y : array_like of shape (n_samples,)
        Class labels.
    n_pairs : int
        Number of pairs to draw (upper bound when enumerating).
    same : bool
        Same-class pairs (``True``) or different-class pairs (``False``).
    random_state : int, Generator or None

    Returns
    -------
    i, j : ndarray of shape (n_pairs_returned,), int64

    Examples
    --------
    >>> i, j = sample_pairs([0, 0, 1, 1, 1], 100, same=True)
    >>> sorted(zip(i.tolist(), j.tolist()))
    [(0, 1), (2, 3), (2, 4), (3, 4)]
    """
    y = check_labels(y)
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    rng = check_random_state(random_state)
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    n = y.size
    n_same = int((counts * (counts - 1) // 2).sum())
    n_diff = n * (n - 1) // 2 - n_same
    total = n_same if same else n_diff
    if total == 0:
        what = "two samples of one class" if same else "two classes"
        raise ValueError(
            f"y must contain at least {what} to form {'same' if same else 'different'}-class pairs; got {classes.size} class(es) of sizes {counts.tolist()}."
        )
    if total <= n_pairs:
        if n <= 4096:
            ii, jj = np.triu_indices(n, 1)
            keep = (y[ii] == y[jj]) == same
            return ii[keep].astype(np.int64), jj[keep].astype(np.int64)
        if same:  # enumerate within classes only
            order = np.argsort(inverse, kind="stable")
            starts = np.concatenate([[0], np.cumsum(counts)])
            out_i, out_j = [], []
            for c in range(classes.size):
                members = order[starts[c] : starts[c + 1]]
                a, b = np.triu_indices(members.size, 1)
                out_i.append(members[a])
                out_j.append(members[b])
            return np.concatenate(out_i).astype(np.int64), np.concatenate(out_j).astype(np.int64)
    if same:
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        weights = counts * (counts - 1) / 2.0
        c = rng.choice(classes.size, size=n_pairs, p=weights / weights.sum())
        size = counts[c]
        a = (rng.random(n_pairs) * size).astype(np.int64)
        b = (rng.random(n_pairs) * (size - 1)).astype(np.int64)
        b = b + (b >= a)
        return order[starts[c] + a].astype(np.int64), order[starts[c] + b].astype(np.int64)
    # different-class pairs: rejection sampling from uniform pairs i != j
    frac = n_diff / (n * (n - 1) / 2.0)
    out_i, out_j, got = [], [], 0
    while got < n_pairs:
        m = int(1.2 * (n_pairs - got) / frac) + 16
        a = rng.integers(0, n, size=m)
        b = rng.integers(0, n - 1, size=m)
        b = b + (b >= a)
        keep = y[a] != y[b]
        out_i.append(a[keep])
        out_j.append(b[keep])
        got += int(keep.sum())
    return np.concatenate(out_i)[:n_pairs].astype(np.int64), np.concatenate(out_j)[:n_pairs].astype(
        np.int64
    )


def _pow2_exponent(Zt: torch.Tensor) -> int:
    """``e`` with ``max |Z| · 2^-e`` in [0.5, 1) (0 for an all-zero ``Z``)."""
    amax = float(Zt.abs().amax()) if Zt.numel() else 0.0
    return max(math.frexp(amax)[1], -1000) if amax > 0 else 0  # 2^1000: subnormals too


def _pair_values(
    Zt: torch.Tensor, i: np.ndarray, j: np.ndarray
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarity and Euclidean distance of row pairs, chunked.

    Computed on ``Z · 2^-e`` (an exact rescaling to magnitude < 1, see :func:`_pow2_exponent`),
    so neither overflows nor underflows; the distances are those of the rescaled rows.
    """
    d = Zt.shape[1]
    Zs = Zt * math.ldexp(1.0, -_pow2_exponent(Zt))
    tiny = torch.finfo(Zt.dtype).tiny
    cos = torch.empty(i.size, dtype=Zt.dtype, device=Zt.device)
    dist = torch.empty_like(cos)
    it = torch.as_tensor(i, device=Zt.device)
    jt = torch.as_tensor(j, device=Zt.device)
    for sl in iter_chunks(i.size, chunk_rows(3 * d * Zt.element_size(), maximum=1 << 18)):
        a, b = Zs[it[sl]], Zs[jt[sl]]
        dist[sl] = (a - b).norm(dim=1)
        a = a / a.abs().amax(1, keepdim=True).clamp_min(tiny)  # unit rows without underflow
        b = b / b.abs().amax(1, keepdim=True).clamp_min(tiny)
        na, nb = a.norm(dim=1), b.norm(dim=1)
        cos[sl] = (a * b).sum(1) / (na * nb).clamp_min(tiny)
    return cos, dist


def pair_similarities(
    Z: Any, y: Any, *, n_pairs: int = 20000, random_state: Any = 0
) -> dict[str, Any]:
    """Cosine similarities and distances of same-class and different-class pairs.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Embeddings.
    y : array_like of shape (n_samples,)
        Class (manifold) labels.
    n_pairs : int, default=20000
        Pairs of each kind (all pairs when there are fewer; see :func:`sample_pairs`).
    random_state : int, Generator or None

    Returns
    -------
    dict
        ``cos_same``, ``cos_diff``, ``dist_same``, ``dist_diff``: arrays of shape (n_pairs_*,)
        of ``Z``'s kind and dtype.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    >>> p = pair_similarities(Z, [0, 0, 1])
    >>> p["cos_same"].tolist(), p["dist_same"].tolist()
    ([1.0], [1.0])
    """
    Z = check_array(Z, name="Z", min_samples=2)
    y = check_labels(y, n_samples=Z.shape[0])
    rng = check_random_state(random_state)
    Zt, back = to_torch(Z)
    e = _pow2_exponent(Zt)
    out = {}
    for same, tag in ((True, "same"), (False, "diff")):
        i, j = sample_pairs(y, n_pairs, same=same, random_state=rng)
        cos, dist = _pair_values(Zt, i, j)
        out[f"cos_{tag}"], out[f"dist_{tag}"] = back(cos), back(torch.ldexp(dist, torch.tensor(e)))
    return out


def auroc(positive: Any, negative: Any) -> float:
    """Area under the ROC curve of scores: P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) (Mann–Whitney U).

    Parameters
    ----------
    positive : array_like of shape (n_pos,)
        Scores of positive examples (e.g. cosine similarity of same-class pairs).
    negative : array_like of shape (n_neg,)

    Returns
    -------
    float in [0, 1]; 0.5 is chance, 1 perfect separation.

    Examples
    --------
    >>> auroc([0.9, 0.8], [0.1, 0.85])
    0.75
    """
    from scipy.stats import rankdata

    pos = to_numpy(check_array(positive, name="positive", ndim=1, shape_hint="(n_pos,)")).astype(
        np.float64
    )
    neg = to_numpy(check_array(negative, name="negative", ndim=1, shape_hint="(n_neg,)")).astype(
        np.float64
    )
    ranks = rankdata(np.concatenate([pos, neg]))
    u = ranks[: pos.size].sum() - pos.size * (pos.size + 1) / 2.0
    return float(u / (pos.size * neg.size))


def separation(Z: Any, y: Any, *, n_pairs: int = 20000, random_state: Any = 0) -> dict[str, Any]:
    """How well an embedding separates same-manifold from different-manifold pairs.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
    y : array_like of shape (n_samples,)
        Manifold (class) identifiers.
    n_pairs : int, default=20000
        Same-class and different-class pairs sampled (all pairs when fewer exist).
    random_state : int, Generator or None

    Returns
    -------
    dict of float
        ``auroc`` — AUROC of cosine similarity for same-vs-different pairs (1 = a perfect
        hash); ``within_between_ratio`` — mean within-class over mean between-class Euclidean
        distance (0 = every manifold collapsed to a point; NaN, with a warning, when it is
        undefined: a constant embedding); ``cos_same``, ``cos_diff`` — mean cosine
        similarities; ``n_same``, ``n_diff`` — pairs used; ``warnings`` — the text of every
        warning issued (a dead, constant layer; all-zero rows), so a loop over layers keeps
        them. Every statistic is invariant to the scale of ``Z``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> centres = rng.normal(size=(4, 8))
    >>> y = np.repeat(np.arange(4), 10)
    >>> s = separation(centres[y] + 0.01 * rng.normal(size=(40, 8)), y)
    >>> s["auroc"], s["within_between_ratio"] < 0.02
    (1.0, True)
    """
    Z = check_array(Z, name="Z", min_samples=2)
    y = check_labels(y, n_samples=Z.shape[0])
    rng = check_random_state(random_state)
    Zt, _ = to_torch(Z)
    p: dict[str, np.ndarray] = {}
    for same, tag in ((True, "same"), (False, "diff")):
        i, j = sample_pairs(y, n_pairs, same=same, random_state=rng)
        cos, dist = _pair_values(Zt, i, j)  # distances of the rescaled rows: only ratios used
        p[f"cos_{tag}"], p[f"dist_{tag}"] = (to_numpy(v).astype(np.float64) for v in (cos, dist))
    notes: list[str] = []
    n_zero = int((Zt.abs().amax(1) == 0).sum())
    if bool((Zt == Zt[:1]).all()):
        notes.append(
            "Z is constant (a dead layer?): every pair has the same similarity, so the AUROC is "
            "0.5 (chance) and the within/between distance ratio is undefined (NaN)."
        )
    elif n_zero:
        notes.append(
            f"{n_zero} of {Zt.shape[0]} rows of Z are all zero (dead units): their cosine "
            "similarity to anything is undefined and counted as 0."
        )
    between = p["dist_diff"].mean()
    if between <= 0 and not notes:
        notes.append(
            "all different-class pairs coincide: the within/between distance ratio is undefined (NaN)."
        )
    for note in notes:
        warnings.warn(note, RuntimeWarning, stacklevel=2)
    return {
        "auroc": auroc(p["cos_same"], p["cos_diff"]),
        "within_between_ratio": float(p["dist_same"].mean() / between)
        if between > 0
        else float("nan"),
        "cos_same": float(p["cos_same"].mean()),
        "cos_diff": float(p["cos_diff"].mean()),
        "n_same": int(p["cos_same"].size),
        "n_diff": int(p["cos_diff"].size),
        "warnings": notes,
    }


class Separation(BaseEstimator):
    """AUROC of same-vs-different manifold pairs as a scorer (see :func:`separation`).

    The score is the AUROC of the cosine *similarity* of same- vs different-manifold pairs, in
    [0, 1] (0.5 is chance); higher is better. Nothing is fitted: the scorer holds options only.

    Parameters
    ----------
    n_pairs : int, default=20000
    random_state : int, Generator or None, default=0

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0], [0.1, 1.0]])
    >>> Separation().score(Z, [0, 0, 1, 1])
    1.0
    """

    higher_is_better = True

    def __init__(self, *, n_pairs: int = 20000, random_state: Any = 0) -> None:
        self.n_pairs = n_pairs
        self.random_state = random_state

    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """All statistics of :func:`separation` for embeddings ``X`` and manifold labels ``y``."""
        return separation(X, y, n_pairs=self.n_pairs, random_state=self.random_state)

    def score(self, X: Any, y: Any) -> float:
        """AUROC in [0, 1] of embeddings ``X`` (n_samples, n_features) with labels ``y``; higher is better."""
        return self.evaluate(X, y)["auroc"]


# ----------------------------------------------------------------------------- rank
def effective_rank(Z: Any, *, center: bool = True) -> float:
    """Effective rank exp(H(p)), p = σ / Σσ the normalised singular values of ``Z`` [2]_.

    Ranges from 1 (one direction) to min(n_samples, n_features) (flat spectrum). Computed from
    the (n_features × n_features) covariance accumulated in chunks when n_features ≤
    n_samples, so memory does not grow with n_samples.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
    center : bool, default=True
        Subtract the mean embedding first.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> round(effective_rank(np.eye(5), center=False), 6)
    5.0
    >>> round(effective_rank(np.outer(np.arange(1.0, 7.0), [1.0, 2.0, 3.0])), 6)
    1.0
    """
    Z = check_array(Z, name="Z", min_samples=2)
    Zt, _ = to_torch(Z)
    Zt = Zt.to(torch.float64)
    Zt = Zt * math.ldexp(1.0, -_pow2_exponent(Zt))  # scale-free: exact rescaling, no overflow
    n, d = Zt.shape
    if center:  # spread at the rounding level of the mean: centring leaves only noise
        lo, hi = torch.aminmax(Zt, dim=0)
        if float((hi - lo).max()) <= 64 * torch.finfo(Zt.dtype).eps * float(Zt.abs().amax()):
            Zt = torch.zeros_like(Zt)
    mu = Zt.mean(0) if center else torch.zeros(d, dtype=Zt.dtype, device=Zt.device)
    if d <= n:
        C = torch.zeros(d, d, dtype=Zt.dtype, device=Zt.device)
        for sl in iter_chunks(n, chunk_rows(16.0 * d, maximum=1 << 16)):
            A = Zt[sl] - mu
            C += A.T @ A
        s = torch.linalg.eigvalsh(C).clamp_min(0).sqrt()
    else:
        s = torch.linalg.svdvals(Zt - mu)
    total = s.sum()
    if total <= 0:
        warnings.warn(
            "Z has no variation (all rows equal, or all zero): its effective rank is undefined; "
            "returning 0.0.",
            RuntimeWarning,
            stacklevel=2,
        )
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(torch.exp(-(p * p.log()).sum()))


# ----------------------------------------------------------------------------- invariance
def _single_fn(
    model: Any, layer: str | None
) -> tuple[Callable[[torch.Tensor], torch.Tensor], torch.device, torch.dtype]:
    """An unbatched function x (d,) -> h (n,), with the device and dtype to evaluate it in."""
    if isinstance(model, FeatureMap) or isinstance(model, nn.Module):
        fm = model if isinstance(model, FeatureMap) else FeatureMap(model, layer)
        return fm.single, fm.parameters_device, fm.parameters_dtype
    if callable(model):
        return (lambda x: model(x[None])[0]), torch.device("cpu"), torch.get_default_dtype()
    raise TypeError(
        f"model must be a FeatureMap, a torch.nn.Module or a callable (batch, d) -> (batch, n); got {type(model).__name__}."
    )


@dataclass
class GeneratorTangents:
    """Generator outputs and tangents ∂x/∂γ·v, ∂x/∂θ·v at a set of points (see
    :func:`generator_tangents`); reusable across models, layers and checkpoints.

    Attributes
    ----------
    x : Tensor of shape (n_points, ambient_dim)
    dx : Tensor of shape (n_points, n_directions_gamma + n_directions_theta, ambient_dim)
        Tangents along the γ directions first, then the θ directions.
    n_gamma : int
        Number of γ directions.
    scale : float
        1 for coordinate directions, 1 / n_directions for random ones.
    back : callable
        Converts per-point results to the kind of the ``gamma`` given.
    """

    x: torch.Tensor
    dx: torch.Tensor
    n_gamma: int
    scale: float
    back: Callable[[Any], Any]

    def __len__(self) -> int:
        return int(self.x.shape[0])


def _check_generator_points(generator: Any, gamma: Any, theta: Any) -> tuple[Any, Any]:
    if not isinstance(generator, ClassManifolds):
        raise TypeError(
            f"generator must be a repgeo ClassManifolds; got {type(generator).__name__}."
        )
    gamma_arr = check_array(gamma, name="gamma", shape_hint="(n_points, k_gamma)")
    theta_arr = check_array(theta, name="theta", shape_hint="(n_points, k_theta)")
    check_consistent_length(gamma_arr, theta_arr, names=["gamma", "theta"])
    if gamma_arr.shape[1] != generator.k_gamma or theta_arr.shape[1] != generator.k_theta:
        raise ValueError(
            f"gamma and theta must have {generator.k_gamma} and {generator.k_theta} columns for this "
            f"generator; got shapes {tuple(gamma_arr.shape)} and {tuple(theta_arr.shape)}."
        )
    return gamma_arr, theta_arr


def _directions(
    generator: ClassManifolds, n_directions: int | None, random_state: Any
) -> tuple[torch.Tensor, torch.Tensor, int, float]:
    dtype, dev = generator.gammas.dtype, generator.gammas.device
    kg, kt = generator.k_gamma, generator.k_theta
    if n_directions is None:
        Vg, Vt, scale = torch.eye(kg, dtype=dtype), torch.eye(kt, dtype=dtype), 1.0
    else:
        n_directions = check_positive_int(n_directions, "n_directions")
        g = torch_generator(random_state)
        Vg = torch.randn(n_directions, kg, generator=g, dtype=dtype)
        Vt = torch.randn(n_directions, kt, generator=g, dtype=dtype)
        scale = 1.0 / n_directions
    Dg = torch.cat([Vg, torch.zeros(Vt.shape[0], kg, dtype=dtype)]).to(dev)
    Dt = torch.cat([torch.zeros(Vg.shape[0], kt, dtype=dtype), Vt]).to(dev)
    return Dg, Dt, Vg.shape[0], scale


def _gen_chunk(
    generator: ClassManifolds, g: torch.Tensor, t: torch.Tensor, Dg: torch.Tensor, Dt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """x (b, D) and tangents (b, K, D) by vmapped JVPs of the generator."""

    def gen_single(gi: torch.Tensor, ti: torch.Tensor) -> torch.Tensor:
        return generator.generate(gi[None], ti[None])[0]

    def point(gi: torch.Tensor, ti: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, dx = torch.func.vmap(lambda dg, dt: torch.func.jvp(gen_single, (gi, ti), (dg, dt)))(
            Dg, Dt
        )
        return x[0], dx

    x, dx = torch.func.vmap(point)(g, t)
    return x.detach(), dx.detach()


def generator_tangents(
    generator: ClassManifolds,
    gamma: Any,
    theta: Any,
    *,
    n_directions: int | None = None,
    random_state: Any = 0,
) -> GeneratorTangents:
    """The generator's tangents at (γ, θ), to evaluate :func:`invariance_from_tangents` for
    many models, layers or checkpoints without recomputing them.

    Parameters
    ----------
    generator, gamma, theta, n_directions, random_state
        As in :func:`invariance`.

    Returns
    -------
    GeneratorTangents
        Holds ``n_points × (k_gamma + k_theta) × ambient_dim`` numbers (or ``2 · n_directions``
        directions); :func:`invariance` itself streams them in chunks instead.

    Examples
    --------
    >>> from repgeo.data import LinearSubspaces
    >>> gen = LinearSubspaces(n_classes=3, k_gamma=2, k_theta=3, ambient_dim=10, random_state=0)
    >>> ds = gen.sample(2)
    >>> tan = generator_tangents(gen, ds.extra["gamma"], ds.extra["theta"])
    >>> tuple(tan.dx.shape), tan.n_gamma
    ((6, 5, 10), 2)
    """
    gamma_arr, theta_arr = _check_generator_points(generator, gamma, theta)
    Dg, Dt, n_g, scale = _directions(generator, n_directions, random_state)
    g_t, back = to_torch(gamma_arr)
    t_t, _ = to_torch(theta_arr)
    dtype, dev = generator.gammas.dtype, generator.gammas.device
    x, dx = _gen_chunk(generator, g_t.to(dev, dtype), t_t.to(dev, dtype), Dg, Dt)
    return GeneratorTangents(x=x, dx=dx, n_gamma=n_g, scale=scale, back=back)


def _net_sq(
    single: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, dx: torch.Tensor
) -> torch.Tensor:
    """Squared norms (b, K) of J_h(x) dx by vmapped JVPs of the network."""

    def point(xi: torch.Tensor, dxi: torch.Tensor) -> torch.Tensor:
        return torch.func.vmap(lambda v: torch.func.jvp(single, (xi,), (v,))[1])(dxi)

    dh = torch.func.vmap(point)(x, dx)
    return dh.detach().to(torch.float64).pow(2).sum(-1).cpu()


def _summarise(sq: dict[str, torch.Tensor], back: Callable[[Any], Any]) -> dict[str, Any]:
    gain_t = float((sq["h_theta"].sum() / sq["x_theta"].sum().clamp_min(1e-300)).sqrt())
    gain_g = float((sq["h_gamma"].sum() / sq["x_gamma"].sum().clamp_min(1e-300)).sqrt())
    out: dict[str, Any] = {
        "ratio": gain_t / gain_g if gain_g > 0 else float("inf"),
        "gain_theta": gain_t,
        "gain_gamma": gain_g,
    }
    for k, v in sq.items():
        out[k] = back(v.sqrt().to(torch.float32))
    return out


def _accumulate(
    sq: dict[str, torch.Tensor],
    sl: slice,
    dx: torch.Tensor,
    dh2: torch.Tensor,
    n_g: int,
    scale: float,
) -> None:
    dx2 = dx.to(torch.float64).pow(2).sum(-1).cpu()
    sq["x_gamma"][sl] = dx2[:, :n_g].sum(1) * scale
    sq["x_theta"][sl] = dx2[:, n_g:].sum(1) * scale
    sq["h_gamma"][sl] = dh2[:, :n_g].sum(1) * scale
    sq["h_theta"][sl] = dh2[:, n_g:].sum(1) * scale


def _rows(K: int, D: int, n_out: int) -> int:
    return chunk_rows(8.0 * K * (4 * D + 8 * n_out) * 4, maximum=4096)


def _new_sq(n: int) -> dict[str, torch.Tensor]:
    return {
        k: torch.empty(n, dtype=torch.float64) for k in ("h_theta", "h_gamma", "x_theta", "x_gamma")
    }


def invariance(
    model: Any,
    generator: ClassManifolds,
    gamma: Any,
    theta: Any,
    *,
    layer: str | None = None,
    n_directions: int | None = None,
    random_state: Any = 0,
) -> dict[str, Any]:
    """Invariance vs sensitivity of an embedding through the composed map γ, θ ↦ h(G(γ, θ)).

    For each point, the Frobenius norms of the composed Jacobians ‖∂h/∂θ‖, ‖∂h/∂γ‖ and of the
    generator's ‖∂x/∂θ‖, ‖∂x/∂γ‖ are computed exactly with Jacobian-vector products along
    the coordinate directions of θ and γ (``k_theta + k_gamma`` JVPs per point, batched with
    ``torch.func.vmap``): first through the generator (on its device), then through the
    network at x (on the model's device), ∂h/∂θ · v = J_h(x) (∂x/∂θ · v). The gains

    .. math:: g_θ = \\sqrt{Σ_i ‖∂h/∂θ(x_i)‖_F^2 / Σ_i ‖∂x/∂θ(x_i)‖_F^2}, \\quad
              g_γ = \\text{likewise},

    measure how much the network amplifies motion along the manifold (θ) and across
    manifolds (γ), each relative to how much that motion moves the input. The **invariance
    ratio** g_θ / g_γ is 1 for the identity map and 0 for a perfect hash (h a function of γ
    alone); it does not depend on the overall scale of h.

    Parameters
    ----------
    model : FeatureMap, nn.Module or callable
        The embedding h. An ``nn.Module`` is cut at ``layer`` with :class:`FeatureMap`; a
        callable must map a batch (b, D) to (b, n) and be ``torch.func``-compatible.
    generator : ClassManifolds
        The generator G (e.g. :class:`repgeo.data.RandomNetworkManifolds`).
    gamma : array_like of shape (n_points, k_gamma)
    theta : array_like of shape (n_points, k_theta)
        Where to evaluate (e.g. ``dataset.extra["gamma"]``, ``dataset.extra["theta"]``).
    layer : str, optional
        Layer name when ``model`` is an ``nn.Module``.
    n_directions : int, optional
        Estimate the Frobenius norms with this many random Gaussian directions per point
        (Hutchinson, E‖Jv‖² = ‖J‖_F²) instead of all coordinate directions — for large k_γ.
    random_state : int, Generator or None
        Seeds the random directions.

    Returns
    -------
    dict
        ``ratio``, ``gain_theta``, ``gain_gamma`` (float) and per-point arrays (of
        ``gamma``'s kind) ``h_theta``, ``h_gamma``, ``x_theta``, ``x_gamma``: the Frobenius
        norms of ∂h/∂θ, ∂h/∂γ, ∂x/∂θ, ∂x/∂γ.

    References
    ----------
    Dikkala, Kaplun & Panigrahy (2021) [1]_.

    Examples
    --------
    On linear subspaces the projector that annihilates span(B) is exactly θ-invariant:

    >>> import torch
    >>> from repgeo.data import LinearSubspaces
    >>> gen = LinearSubspaces(n_classes=5, k_gamma=3, k_theta=2, ambient_dim=20, random_state=0)
    >>> ds = gen.sample(4)
    >>> P = gen.invariant_projection()
    >>> res = invariance(lambda x: x @ P.T, gen, ds.extra["gamma"], ds.extra["theta"])
    >>> res["ratio"] < 1e-6
    True
    >>> round(invariance(lambda x: x, gen, ds.extra["gamma"], ds.extra["theta"])["ratio"], 6)
    1.0
    """
    gamma_arr, theta_arr = _check_generator_points(generator, gamma, theta)
    single, dev, dtype = _single_fn(model, layer)
    Dg, Dt, n_g, scale = _directions(generator, n_directions, random_state)
    g_t, back = to_torch(gamma_arr)
    t_t, _ = to_torch(theta_arr)
    gdtype, gdev = generator.gammas.dtype, generator.gammas.device
    g_t, t_t = g_t.to(gdev, gdtype), t_t.to(gdev, gdtype)
    n, D = g_t.shape[0], generator.ambient_dim
    n_out = _n_out(single, D, dev, dtype)
    sq = _new_sq(n)
    for sl in iter_chunks(n, _rows(Dg.shape[0], D, n_out)):
        x, dx = _gen_chunk(generator, g_t[sl], t_t[sl], Dg, Dt)
        dh2 = _net_sq(single, x.to(dev, dtype), dx.to(dev, dtype))
        _accumulate(sq, sl, dx, dh2, n_g, scale)
    return _summarise(sq, back)


def _n_out(single: Callable[[torch.Tensor], torch.Tensor], D: int, dev: Any, dtype: Any) -> int:
    with torch.no_grad():
        return int(single(torch.zeros(D, dtype=dtype, device=dev)).numel())


def invariance_from_tangents(
    model: Any, tangents: GeneratorTangents, *, layer: str | None = None
) -> dict[str, Any]:
    """:func:`invariance` with the generator's tangents precomputed by
    :func:`generator_tangents` (same results, no generator JVPs).

    Examples
    --------
    >>> from repgeo.data import LinearSubspaces
    >>> gen = LinearSubspaces(n_classes=3, k_gamma=2, k_theta=3, ambient_dim=10, random_state=0)
    >>> ds = gen.sample(2)
    >>> tan = generator_tangents(gen, ds.extra["gamma"], ds.extra["theta"])
    >>> round(invariance_from_tangents(lambda x: 3.0 * x, tan)["ratio"], 6)
    1.0
    """
    if not isinstance(tangents, GeneratorTangents):
        raise TypeError(
            f"tangents must come from generator_tangents(); got {type(tangents).__name__}."
        )
    single, dev, dtype = _single_fn(model, layer)
    n, K, D = tangents.dx.shape
    n_out = _n_out(single, D, dev, dtype)
    sq = _new_sq(n)
    for sl in iter_chunks(n, _rows(K, D, n_out)):
        dx = tangents.dx[sl]
        dh2 = _net_sq(single, tangents.x[sl].to(dev, dtype), dx.to(dev, dtype))
        _accumulate(sq, sl, dx, dh2, tangents.n_gamma, tangents.scale)
    return _summarise(sq, tangents.back)


class InvarianceRatio(BaseEstimator):
    """The invariance ratio g_θ / g_γ of :func:`invariance` as a scorer (lower is better).

    The ratio compares squared *distances* moved along θ and along γ (each normalised by the
    generator's): 0 is perfectly θ-invariant, 1 is like the input; lower is better. Nothing is
    fitted: the scorer holds options only.

    Parameters
    ----------
    generator : ClassManifolds
        Required.
    layer : str, optional
    n_directions : int, optional
    random_state : int, Generator or None, default=0

    Examples
    --------
    >>> from repgeo.data import LinearSubspaces
    >>> gen = LinearSubspaces(n_classes=3, k_gamma=2, k_theta=2, ambient_dim=10, random_state=0)
    >>> ds = gen.sample(3)
    >>> scorer = InvarianceRatio(generator=gen)
    >>> round(scorer.score(lambda x: 2.0 * x, ds.extra["gamma"], ds.extra["theta"]), 6)
    1.0
    """

    higher_is_better = False

    def __init__(
        self,
        *,
        generator: ClassManifolds,
        layer: str | None = None,
        n_directions: int | None = None,
        random_state: Any = 0,
    ) -> None:
        self.generator = generator
        self.layer = layer
        self.n_directions = n_directions
        self.random_state = random_state

    def evaluate(self, model: Any, gamma: Any, theta: Any) -> dict[str, Any]:
        """All outputs of :func:`invariance`."""
        return invariance(
            model,
            self.generator,
            gamma,
            theta,
            layer=self.layer,
            n_directions=self.n_directions,
            random_state=self.random_state,
        )

    def score(self, model: Any, gamma: Any, theta: Any) -> float:
        """The invariance ratio (0 = perfectly θ-invariant, 1 = like the input)."""
        return self.evaluate(model, gamma, theta)["ratio"]


# ----------------------------------------------------------------------------- recoverability
class RidgeProbe(RegressorMixin, BaseEstimator):
    """Linear ridge regression with the penalty chosen by generalised cross-validation [3]_.

    :meth:`score` is the variance-weighted R² on held-out data (neither a similarity nor a
    distance); higher is better.

    The fit is an SVD of the centred features, so every candidate penalty costs one matrix
    product; the default grid spans ``σ_max² · 10^[-8, 2]``, which makes the choice invariant
    to the scale of the features.

    Parameters
    ----------
    alphas : sequence of float, optional
        Candidate penalties (absolute). Default: 41 values relative to σ_max² as above.

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    coef_ : ndarray of shape (n_features, n_targets)
    intercept_ : ndarray of shape (n_targets,)
    n_features_in_ : int
    higher_is_better : bool
        ``True`` (class attribute): :meth:`score` is an R² (not a distance).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(200, 5))
    >>> T = Z @ rng.normal(size=(5, 2))
    >>> probe = RidgeProbe().fit(Z[:150], T[:150])
    >>> probe.score(Z[150:], T[150:]) > 0.999
    True
    """

    higher_is_better = True

    def __init__(self, *, alphas: Any = None) -> None:
        self.alphas = alphas

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # several targets are fitted at once
        return tags

    def fit(self, X: Any, y: Any) -> RidgeProbe:
        """Fit on features ``X`` (n, d) and targets ``y`` (n,) or (n, t).

        Returns
        -------
        self
        """
        if y is None:
            raise ValueError(
                "RidgeProbe requires y to be passed, but the target y is None (give the targets)."
            )
        Z = check_array(X, name="X", min_samples=2)
        T = check_array(
            y, name="y", ndim=(1, 2), shape_hint="(n_samples,) or (n_samples, n_targets)"
        )
        check_consistent_length(Z, T, names=["X", "y"])
        single_target = T.ndim == 1
        Zt, _ = to_torch(Z, dtype=torch.float64)
        Tt, _ = to_torch(T, dtype=torch.float64)
        Tt = Tt.reshape(Tt.shape[0], -1).to(Zt.device)
        # fit on 2^-a·Z and 2^-b·T (exact rescalings: no Gram entry overflows or underflows);
        # the coefficients, intercept and penalty are mapped back to the original units below
        ez, et = _pow2_exponent(Zt), _pow2_exponent(Tt)
        Zt, Tt = torch.ldexp(Zt, torch.tensor(-ez)), torch.ldexp(Tt, torch.tensor(-et))
        zm, tm = Zt.mean(0), Tt.mean(0)
        Zc, Tc = Zt - zm, Tt - tm
        n, d = Zc.shape
        # eigen-decomposition of the smaller Gram matrix: O(n d min(n, d)), no n × n when n > d
        w, E = torch.linalg.eigh(Zc.T @ Zc if d <= n else Zc @ Zc.T)
        keep = w > 1e-12 * max(float(w.max()), 1e-300)
        s2, E = w[keep], E[:, keep]
        if d <= n:  # E = right singular vectors V; U^T T = V^T Z^T T / s
            B = E.T @ (Zc.T @ Tc)
            UtT = B / s2.sqrt()[:, None]
        else:  # E = left singular vectors U
            UtT = E.T @ Tc
        if self.alphas is None:
            smax2 = float(s2.max()) if s2.numel() else 1.0
            alphas = (smax2 * np.logspace(-8, 2, 41)).tolist()
        else:
            alphas = to_numpy(check_array(self.alphas, name="alphas", ndim=1)).astype(np.float64)
            if np.any(alphas <= 0):
                raise ValueError(f"alphas must be positive; got {alphas.tolist()}.")
            with np.errstate(over="ignore", under="ignore"):
                alphas = np.ldexp(alphas, -2 * ez).tolist()  # penalties of the rescaled fit
        a = torch.as_tensor(alphas, dtype=torch.float64, device=Zt.device)[:, None]  # (A, 1)
        f = s2[None, :] / (s2[None, :] + a)  # (A, r)
        resid_out = (Tc**2).sum() - (UtT**2).sum()  # part of T outside span(U)
        rss = resid_out + (((1 - f) ** 2) * (UtT**2).sum(1)[None, :]).sum(1)
        # the intercept uses one degree of freedom: df = 1 + Σ f (interpolation → GCV = ∞)
        gcv = n * rss / (n - 1 - f.sum(1)).clamp_min(1e-12) ** 2
        best = alphas[int(torch.argmin(gcv))]
        with np.errstate(over="ignore", under="ignore"):  # the penalty in the input's units
            self.alpha_ = float(np.ldexp(float(best), 2 * ez))
        if d <= n:
            coef = E @ (B / (s2 + best)[:, None])
        else:
            coef = Zc.T @ (E @ (UtT / (s2 + best)[:, None]))
        intercept = torch.ldexp(tm - zm @ coef, torch.tensor(et))
        self.coef_ = to_numpy(torch.ldexp(coef, torch.tensor(et - ez)))
        self.intercept_ = to_numpy(intercept)
        self.n_features_in_ = int(d)
        self._single_target = bool(single_target)
        return self

    def _predict_2d(self, X: Any) -> Any:
        check_is_fitted(self)
        Z = check_array(X, name="X")
        if Z.shape[1] != self.coef_.shape[0]:
            raise ValueError(
                f"X has {Z.shape[1]} features, but RidgeProbe is expecting {self.coef_.shape[0]} "
                "features as input (as in fit)."
            )
        Zt, back = to_torch(Z)
        coef = torch.as_tensor(self.coef_, device=Zt.device)
        out = Zt.to(torch.float64) @ coef + torch.as_tensor(self.intercept_, device=Zt.device)
        return back(out)

    def predict(self, X: Any) -> Any:
        """Predicted targets of ``X``'s kind: shape (n,) after a 1-D ``y``, else (n, t).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        out = self._predict_2d(X)
        return out[:, 0] if self._single_target else out

    def score(self, X: Any, y: Any) -> float:
        """Variance-weighted R² = 1 − Σ residual² / Σ (y − mean y)² over all targets (higher is better)."""
        P = to_numpy(self._predict_2d(X)).astype(np.float64)
        T = to_numpy(check_array(y, name="y", ndim=(1, 2))).astype(np.float64)
        check_consistent_length(P, T, names=["X", "y"])
        T = T.reshape(P.shape[0], -1)
        if T.shape[1] != P.shape[1]:
            raise ValueError(f"y must have {P.shape[1]} target(s) as in fit; got {T.shape[1]}.")
        scale = math.ldexp(1.0, -_pow2_exponent(torch.from_numpy(T)))  # R² is a ratio
        T, P = T * scale, P * scale
        ss_tot = ((T - T.mean(0)) ** 2).sum()
        ss_res = ((T - P) ** 2).sum()
        if ss_tot > 0:
            return float(1.0 - ss_res / ss_tot)
        warnings.warn(
            "R² is undefined: the held-out targets are constant (zero variance); returning NaN.",
            RuntimeWarning,
            stacklevel=2,
        )
        return float("nan")


def ridge_r2(
    Z: Any,
    T: Any,
    *,
    groups: Any = None,
    test_fraction: float = 0.3,
    random_state: Any = 0,
) -> float:
    """Held-out R² of a ridge regression (:class:`RidgeProbe`) of targets ``T`` from ``Z``.

    Used as *recoverability*: R² of γ from h(x) should stay high (the embedding identifies
    the manifold), R² of θ from h(x) should fall (the embedding forgets where on the manifold
    the input lies).

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
    T : array_like of shape (n_samples,) or (n_samples, n_targets)
    groups : array_like of shape (n_samples,), optional
        Hold out whole groups (e.g. classes, so γ must be predicted for unseen manifolds);
        by default samples are held out at random.
    test_fraction : float, default=0.3
        Fraction of samples (or groups) held out.
    random_state : int, Generator or None

    Returns
    -------
    float
        Variance-weighted R² on the held-out part (1 = perfect, ≤ 0 = no better than the mean).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(300, 4))
    >>> round(ridge_r2(Z, Z[:, :2] * 3.0 + 1.0), 6)
    1.0
    >>> ridge_r2(Z, rng.normal(size=300)) < 0.05
    True
    """
    Z = check_array(Z, name="Z", min_samples=4)
    T = check_array(
        T, name="T", ndim=(1, 2), min_samples=4, shape_hint="(n_samples,) or (n_samples, n_targets)"
    )
    n = check_consistent_length(Z, T, names=["Z", "T"])
    check_scalar(
        test_fraction,
        "test_fraction",
        min_val=0.0,
        max_val=1.0,
        include_min=False,
        include_max=False,
    )
    rng = check_random_state(random_state)
    if groups is None:
        perm = rng.permutation(n)
        n_test = min(max(round(test_fraction * n), 2), n - 2)
        test = np.zeros(n, dtype=bool)
        test[perm[:n_test]] = True
    else:
        g = check_labels(groups, n_samples=n, name="groups")
        uniq = np.unique(g)
        if uniq.size < 2:
            raise ValueError(
                f"groups must contain at least 2 distinct groups to hold some out; got {uniq.size}."
            )
        n_test = min(max(round(test_fraction * uniq.size), 1), uniq.size - 1)
        test = np.isin(g, rng.permutation(uniq)[:n_test])
    Zn, Tn = to_numpy(Z), to_numpy(T)
    return RidgeProbe().fit(Zn[~test], Tn[~test]).score(Zn[test], Tn[test])
