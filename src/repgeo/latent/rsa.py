"""Representational similarity analysis (RSA): dissimilarity matrices and their comparison.

An **RDM** (representational dissimilarity matrix) of X (n × p) holds the dissimilarity of every
pair of rows (conditions, stimuli, samples); only its upper triangle is kept, as the condensed
vector of n(n − 1)/2 values in :func:`scipy.spatial.distance.pdist`'s order
(``scipy.spatial.distance.squareform`` turns it into the square matrix). Dissimilarities:

* ``"correlation"`` — 1 − Pearson correlation between the two rows (rows are centred);
* ``"cosine"`` — 1 − cosine similarity of the rows;
* ``"euclidean"`` — Euclidean distance; ``"sqeuclidean"`` — its square. rsatoolbox's
  ``calc_rdm(method="euclidean")`` is ``sqeuclidean / p`` (squared, divided by the channels).

Two representations of the same n conditions are compared by correlating their RDMs
(Kriegeskorte et al. 2008): ``"spearman"`` (rank correlation, the classic choice),
``"pearson"``, ``"kendall_tau_a"`` (preferred when a model predicts ties; Nili et al. 2014) or
``"cosine"`` (rsatoolbox's default). All are **similarities** (1 = the same geometry up to the
comparison's invariance; higher is better), in [−1, 1].

Memory. An RDM of n = 20,000 conditions has 2·10⁸ entries (1.6 GB in float64), the square
matrix twice that. :func:`rdm` computes row blocks sized by the memory budget and writes only the
condensed vector. :func:`rsa` with ``compare="cosine"`` or ``"pearson"`` never stores an RDM: both
are reduced block by block to five running sums. Spearman and Kendall need every value at once
(they rank them), so both condensed vectors are built in float64 and ranked in place (the two
vectors and one argsort: about 3 · 8 · n(n − 1)/2 bytes at the peak, 4.8 GB at n = 20,000, and
no square matrix; Kendall's τ_a through scipy needs several times more); or
pass ``max_pairs`` to estimate any comparison on a seeded uniform sample of pairs, computed
directly from the rows (the estimator is stated in :class:`RSA`'s ``n_pairs_used_``).

References
----------
N. Kriegeskorte, M. Mur, P. Bandettini. "Representational similarity analysis — connecting the
branches of systems neuroscience". Front. Syst. Neurosci. 2 (2008). — H. Nili et al. "A toolbox
for representational similarity analysis". PLoS Comput. Biol. 10 (2014). — rsatoolbox
(rsatoolbox.readthedocs.io).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from scipy import stats

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_positive_int,
    check_random_state,
)
from ._paired import _PairedEstimator, check_target

__all__ = ["RDM_COMPARISONS", "RDM_METRICS", "RSA", "compare_rdms", "rdm", "rsa"]

RDM_METRICS = ("correlation", "cosine", "euclidean", "sqeuclidean")
RDM_COMPARISONS = ("spearman", "pearson", "kendall_tau_a", "cosine")
_F64 = torch.float64


# ----------------------------------------------------------------------------- RDM blocks
def _prepare_rows(X: Any, metric: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Float64 rows ready for inner products; squared norms for the Euclidean metrics."""
    Xt, _ = to_torch(X)
    Z = Xt.to(_F64)
    if metric in ("correlation", "cosine"):
        if metric == "correlation":
            Z = Z - Z.mean(1, keepdim=True)
        norms = torch.linalg.vector_norm(Z, dim=1)
        bad = int((norms <= 1e-300).sum())
        if bad:
            what = "constant (zero variance)" if metric == "correlation" else "all-zero"
            raise ValueError(
                f"{bad} row(s) are {what}: the {metric} dissimilarity is undefined for them."
            )
        return Z / norms[:, None], None
    Z = Z - Z.mean(0)  # distances are shift invariant; centring limits cancellation
    return Z, (Z * Z).sum(1)


def _dissimilarity(
    G: torch.Tensor, metric: str, na: torch.Tensor | None, nb: torch.Tensor | None
) -> torch.Tensor:
    if metric in ("correlation", "cosine"):
        return 1.0 - G
    sq = (na[:, None] + nb[None, :] - 2.0 * G).clamp_min(0.0)
    return sq.sqrt() if metric == "euclidean" else sq


def _blocks(
    Z: torch.Tensor, sq: torch.Tensor | None, metric: str
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (slice of the condensed vector, values) for consecutive row blocks."""
    n = Z.shape[0]
    rows = chunk_rows(8 * 4 * n, maximum=4096)
    pos = 0
    for sl in iter_chunks(n - 1, rows):
        cols = Z[sl.start :]
        G = Z[sl] @ cols.T
        D = _dissimilarity(
            G, metric, None if sq is None else sq[sl], None if sq is None else sq[sl.start :]
        )
        i = torch.arange(sl.stop - sl.start, device=Z.device)
        mask = torch.arange(cols.shape[0], device=Z.device)[None, :] > i[:, None]
        vals = D[mask]
        yield slice(pos, pos + vals.numel()), vals
        pos += vals.numel()


def _pair_rows(k: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (i, j), i < j, of condensed indices k (pdist order)."""
    k = k.astype(np.int64)

    def start(i: np.ndarray) -> np.ndarray:  # condensed index of the pair (i, i + 1)
        return i * (2 * n - i - 1) // 2

    # the largest i with start(i) <= k solves a quadratic; float rounding is fixed up after
    i = np.floor((2 * n - 1 - np.sqrt((2.0 * n - 1) ** 2 - 8.0 * k)) / 2).astype(np.int64)
    i = np.where(start(i) > k, i - 1, i)
    i = np.where(start(i + 1) <= k, i + 1, i)
    return i, k - start(i) + i + 1


def _pair_values(
    Z: torch.Tensor, sq: torch.Tensor | None, metric: str, i: np.ndarray, j: np.ndarray
) -> torch.Tensor:
    out = torch.empty(i.shape[0], dtype=_F64, device=Z.device)
    for sl in iter_chunks(i.shape[0], chunk_rows(8 * 3 * Z.shape[1], maximum=1 << 16)):
        ii = torch.as_tensor(i[sl], device=Z.device)
        jj = torch.as_tensor(j[sl], device=Z.device)
        g = (Z[ii] * Z[jj]).sum(1)
        if metric in ("correlation", "cosine"):
            out[sl] = 1.0 - g
        else:
            d = (sq[ii] + sq[jj] - 2.0 * g).clamp_min(0.0)
            out[sl] = d.sqrt() if metric == "euclidean" else d
    return out


def _check_rows(X: Any, name: str = "X") -> Any:
    return check_array(X, name=name, min_samples=2)


def rdm(X: Any, *, metric: str = "correlation") -> Any:
    """Condensed representational dissimilarity matrix (the upper triangle, pdist order).

    Parameters
    ----------
    X : array_like or Tensor of shape (n_conditions, n_features)
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean"}, default="correlation"
        See the module docstring (rsatoolbox's "euclidean" is ``sqeuclidean / n_features``).

    Returns
    -------
    rdm : ndarray or Tensor of shape (n_conditions * (n_conditions - 1) // 2,)
        Dissimilarities (higher = more different), same kind and dtype as ``X``; computed in
        float64 by row blocks, never as a square matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.spatial.distance import pdist
    >>> from repgeo.latent.rsa import rdm
    >>> X = np.random.default_rng(0).normal(size=(6, 4))
    >>> all(np.allclose(rdm(X, metric=m), pdist(X, m)) for m in ("correlation", "euclidean"))
    True
    >>> rdm([[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]], metric="sqeuclidean")
    array([2., 5., 5.])
    """
    check_choice(metric, "metric", RDM_METRICS)
    X = _check_rows(X)
    _, back = to_torch(X)
    Z, sq = _prepare_rows(X, metric)
    n = Z.shape[0]
    out = torch.empty(n * (n - 1) // 2, dtype=Z.dtype, device=Z.device)
    for sl, vals in _blocks(Z, sq, metric):
        out[sl] = vals
    return back(out)


# ----------------------------------------------------------------------------- comparisons
def _average_ranks(v: np.ndarray) -> np.ndarray:
    """Ranks 1..N with ties averaged (scipy's ``rankdata``), overwriting ``v`` to save memory."""
    N = v.shape[0]
    order = np.argsort(v, kind="stable")
    starts = [np.zeros(1, dtype=np.int64)]
    step = 1 << 22
    for s in range(0, N - 1, step):  # positions k where sorted[k] != sorted[k - 1]
        e = min(s + step, N - 1)
        sv = v[order[s : e + 1]]
        starts.append(np.flatnonzero(sv[1:] != sv[:-1]).astype(np.int64) + s + 1)
    first = np.concatenate(starts)
    last = np.append(first[1:], N) - 1
    avg = (first + last) / 2.0 + 1.0
    for s in range(0, N, step):  # sorted position k belongs to the tie group with first <= k
        k = np.arange(s, min(s + step, N))
        v[order[s : s + k.shape[0]]] = avg[np.searchsorted(first, k, side="right") - 1]
    return v


def _pearson(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    at = torch.as_tensor(a, dtype=_F64)
    bt = torch.as_tensor(b, dtype=_F64)
    ma, mb = at.mean(), bt.mean()
    sab = saa = sbb = 0.0
    for sl in iter_chunks(at.shape[0], 1 << 22):
        x, y = at[sl] - ma, bt[sl] - mb
        sab += float(x @ y)
        saa += float(x @ x)
        sbb += float(y @ y)
    return _ratio(sab, saa, sbb, "pearson")


def _ratio(sab: float, saa: float, sbb: float, what: str) -> float:
    if saa <= 0.0 or sbb <= 0.0:
        raise ValueError(
            f"the {what} comparison is undefined: one RDM is constant (all dissimilarities equal)."
        )
    return float(np.clip(sab / math.sqrt(saa * sbb), -1.0, 1.0))


def _ties(v: np.ndarray) -> float:
    _, counts = np.unique(v, return_counts=True)
    counts = counts.astype(np.float64)
    return float((counts * (counts - 1.0) / 2.0).sum())


def _tau_a(a: np.ndarray, b: np.ndarray) -> float:
    N = a.shape[0]
    n0 = N * (N - 1) / 2.0
    n1, n2 = _ties(a), _ties(b)
    if n1 == n0 or n2 == n0:  # a constant vector: no concordant or discordant pair
        return 0.0
    tau_b = stats.kendalltau(a, b, variant="b").statistic
    # τ_b = (n_c − n_d) / √((n0 − n1)(n0 − n2)), τ_a = (n_c − n_d) / n0
    return float(tau_b * math.sqrt((n0 - n1) * (n0 - n2)) / n0)


def _compare(a: np.ndarray, b: np.ndarray, method: str) -> float:
    if method == "cosine":
        at, bt = torch.as_tensor(a, dtype=_F64), torch.as_tensor(b, dtype=_F64)
        return _ratio(float(at @ bt), float(at @ at), float(bt @ bt), "cosine")
    if method == "pearson":
        return _pearson(a, b)
    if method == "spearman":
        return _pearson(
            _average_ranks(np.array(a, dtype=np.float64)),
            _average_ranks(np.array(b, dtype=np.float64)),
        )
    return _tau_a(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))


def compare_rdms(a: Any, b: Any, *, method: str = "spearman") -> float:
    """Similarity of two condensed RDMs of the same conditions.

    Parameters
    ----------
    a, b : array_like or Tensor of shape (n_pairs,)
        Condensed RDMs (e.g. from :func:`rdm`, or a model RDM), the same pairs in the same order.
    method : {"spearman", "pearson", "kendall_tau_a", "cosine"}, default="spearman"
        rsatoolbox names: ``"spearman"``, ``"corr"``, ``"tau-a"``, ``"cosine"``.

    Returns
    -------
    similarity : float in [-1, 1]
        Higher is more similar.

    Examples
    --------
    >>> from repgeo.latent.rsa import compare_rdms
    >>> a, b = [1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 2.0, 8.0]
    >>> compare_rdms(a, b, method="spearman") > compare_rdms(a, b, method="pearson")
    True
    >>> round(compare_rdms(a, b, method="kendall_tau_a"), 4)     # 5 of 6 pairs concordant, 1 tied
    0.8333
    """
    check_choice(method, "method", RDM_COMPARISONS)
    a = check_array(a, name="a", ndim=1, min_samples=2, shape_hint="(n_pairs,)")
    b = check_array(b, name="b", ndim=1, min_samples=2, shape_hint="(n_pairs,)")
    check_consistent_length(a, b, names=["a", "b"])
    to_np = lambda v: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v  # noqa: E731
    return _compare(to_np(a), to_np(b), method)


def _check_max_pairs(max_pairs: Any) -> int | None:
    return None if max_pairs is None else check_positive_int(max_pairs, "max_pairs", min_val=3)


def _rsa(
    X: Any, Y: Any, metric: str, compare: str, max_pairs: Any, random_state: Any
) -> tuple[float, int, int]:
    check_choice(metric, "metric", RDM_METRICS)
    check_choice(compare, "compare", RDM_COMPARISONS)
    m = _check_max_pairs(max_pairs)
    X = check_array(X, name="X", min_samples=3)
    Y = check_array(Y, name="Y", min_samples=3)
    check_consistent_length(X, Y, names=["X", "Y"])
    rng = check_random_state(random_state)
    Zx, sqx = _prepare_rows(X, metric)
    Zy, sqy = _prepare_rows(Y, metric)
    Zy = Zy.to(Zx.device)
    sqy = None if sqy is None else sqy.to(Zx.device)
    n = Zx.shape[0]
    N = n * (n - 1) // 2
    if m is not None and m < N:
        k = np.sort(rng.choice(N, size=m, replace=False))
        i, j = _pair_rows(k, n)
        a = _pair_values(Zx, sqx, metric, i, j).cpu().numpy()
        b = _pair_values(Zy, sqy, metric, i, j).cpu().numpy()
        return _compare(a, b, compare), N, m
    if compare in ("cosine", "pearson"):  # streamed: five running sums, no RDM stored
        s = torch.zeros(5, dtype=_F64, device=Zx.device)  # Σa, Σb, Σa², Σb², Σab (shifted)
        shift = None
        for (_, a), (_, b) in zip(_blocks(Zx, sqx, metric), _blocks(Zy, sqy, metric)):
            if compare == "pearson" and shift is None:
                shift = (a.mean(), b.mean())
            if shift is not None:
                a, b = a - shift[0], b - shift[1]
            s += torch.stack([a.sum(), b.sum(), a @ a, b @ b, a @ b])
        sa, sb, saa, sbb, sab = (float(v) for v in s)
        if compare == "pearson":
            saa, sbb, sab = saa - sa * sa / N, sbb - sb * sb / N, sab - sa * sb / N
        return _ratio(sab, saa, sbb, compare), N, N
    a = np.empty(N, dtype=np.float64)
    for sl, vals in _blocks(Zx, sqx, metric):
        a[sl] = vals.cpu().numpy()
    if compare == "spearman":
        a = _average_ranks(a)
    b = np.empty(N, dtype=np.float64)
    for sl, vals in _blocks(Zy, sqy, metric):
        b[sl] = vals.cpu().numpy()
    if compare == "spearman":
        return _pearson(a, _average_ranks(b)), N, N
    return _tau_a(a, b), N, N


def rsa(
    X: Any,
    Y: Any,
    *,
    metric: str = "correlation",
    compare: str = "spearman",
    max_pairs: int | None = None,
    random_state: Any = 0,
) -> float:
    """RSA similarity: the correlation between the RDMs of two representations.

    Parameters
    ----------
    X : array_like or Tensor of shape (n_conditions, p)
    Y : array_like or Tensor of shape (n_conditions, q)
        Row i of both is the same condition; widths may differ.
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean"}, default="correlation"
        Dissimilarity used for both RDMs (see :func:`rdm`).
    compare : {"spearman", "pearson", "kendall_tau_a", "cosine"}, default="spearman"
        How the RDMs are compared (see :func:`compare_rdms`).
    max_pairs : int, optional
        When the RDMs have more pairs than this, compare them on a seeded uniform sample of
        ``max_pairs`` pairs (without replacement) instead of all of them.
    random_state : int, Generator or None, default=0
        Seeds the pair sample.

    Returns
    -------
    similarity : float in [-1, 1]
        Higher is more similar.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.rsa import rsa
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 20))
    >>> round(rsa(X, 2 * X + 1), 6), round(rsa(X, X, compare="kendall_tau_a"), 6)
    (1.0, 1.0)
    >>> bool(abs(rsa(X, rng.normal(size=(100, 20)))) < 0.1)       # unrelated: near 0
    True
    >>> bool(abs(rsa(X, X ** 3, max_pairs=1000) - rsa(X, X ** 3)) < 0.05)
    True
    """
    return _rsa(X, Y, metric, compare, max_pairs, random_state)[0]


rsa.higher_is_better = True  # type: ignore[attr-defined]
compare_rdms.higher_is_better = True  # type: ignore[attr-defined]


class RSA(_PairedEstimator):
    """RSA as an estimator: a **similarity** in [−1, 1], higher is better; see :func:`rsa`.

    ``fit(X, y)`` pairs rows ``X[i] ↔ y[i]`` (``y`` the second representation of the same
    conditions) and stores the RSA similarity with how many pairs it used; :meth:`score` (or
    calling the object) computes the RSA of new data afresh, like :class:`CKA`.

    Parameters
    ----------
    metric : {"correlation", "cosine", "euclidean", "sqeuclidean"}, default="correlation"
    compare : {"spearman", "pearson", "kendall_tau_a", "cosine"}, default="spearman"
    max_pairs : int, optional
    random_state : int, Generator or None, default=0

    Attributes
    ----------
    score_ : float
        The RSA similarity on the fitted data.
    n_pairs_ : int
        Pairs in each RDM, n(n − 1)/2.
    n_pairs_used_ : int
        Pairs the comparison used (``n_pairs_`` unless subsampled by ``max_pairs``).
    n_features_in_ : int
        The width of ``X``.
    higher_is_better : bool
        ``True`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent.rsa import RSA
    >>> X = np.random.default_rng(0).normal(size=(50, 5))
    >>> est = RSA(compare="pearson").fit(X, X)
    >>> round(est.score_, 6), est.n_pairs_, RSA.higher_is_better
    (1.0, 1225, True)
    """

    higher_is_better = True

    def __init__(
        self,
        *,
        metric: str = "correlation",
        compare: str = "spearman",
        max_pairs: int | None = None,
        random_state: Any = 0,
    ) -> None:
        self.metric = metric
        self.compare = compare
        self.max_pairs = max_pairs
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> RSA:
        """Fit on paired rows ``X[i] ↔ y[i]``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_conditions, p)
        y : array_like or Tensor of shape (n_conditions, q) or (n_conditions,)
            The second representation of the same conditions (1-D: one column).

        Returns
        -------
        self
        """
        X = check_array(X, name="X", min_samples=3)
        Y = check_target(y, "RSA", min_samples=3)
        self.score_, self.n_pairs_, self.n_pairs_used_ = _rsa(
            X, Y, self.metric, self.compare, self.max_pairs, self.random_state
        )
        self.n_features_in_ = int(X.shape[1])
        return self

    def score(self, X: Any, y: Any) -> float:
        """RSA of ``X`` and ``y`` computed afresh (needs no :meth:`fit`); higher is better."""
        return self._metric(X, y)

    def _metric(self, X: Any, y: Any) -> float:
        return rsa(
            X,
            check_target(y, "RSA", min_samples=3),
            metric=self.metric,
            compare=self.compare,
            max_pairs=self.max_pairs,
            random_state=self.random_state,
        )
