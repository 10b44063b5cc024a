"""Streaming (minibatch) similarity and coding-rate accumulators, with torchmetrics adapters.

Activations of a large evaluation set rarely fit in memory at once. The accumulators here are
incremental scikit-learn estimators (like ``IncrementalPCA``): ``partial_fit(X, y)`` adds a batch
(``update`` is the same, torchmetrics' name), ``fit(X, y)`` starts afresh from one batch, and
``compute()`` gives the value of everything seen so far (it is a method, not an attribute, so that
ΔR's log-determinants are not recomputed after every batch):

* :class:`StreamingCKA` with ``estimator="minibatch"`` — the minibatch CKA of Nguyen, Raghu &
  Kornblith (2021): the *unbiased* HSIC (Song et al. 2012) of each batch is averaged over
  batches, CKA = mean HSIC₁(K, L) / √(mean HSIC₁(K, K) · mean HSIC₁(L, L)). Averaging unbiased
  estimates gives an estimate whose bias does not depend on the batch size (averaging biased
  HSIC would). The unbiased HSIC needs at least 4 rows (its normaliser is n(n − 3)): a smaller
  batch is **held back and merged with the next one** instead of producing NaN; rows still held
  at ``compute()`` are left out and counted in ``n_dropped_``.
* :class:`StreamingCKA` with ``estimator="full"`` (linear kernel) — exact: it accumulates the
  centred second moments (shifted by the first batch's mean to avoid cancellation) and gives
  exactly :func:`repgeo.latent.linear_cka` of all the rows seen, in O((p + q)²) memory.
* :class:`StreamingRateReduction` — ΔR = R − R_c of MCR² (:func:`repgeo.coding.coding_rate_reduction`
  with ``normalize=True``) is a function of ZᵀZ and of each class's Z_jᵀZ_j only, so it is
  accumulated exactly in O(k d²) memory.

When ``torchmetrics`` is installed (``pip install 'repgeo[torchmetrics]'``),
``from repgeo.latent.streaming import CKAMetric, RateReductionMetric`` gives
``torchmetrics.Metric`` subclasses with the same mathematics and sum-reduced states (so they
synchronise across processes): ``CKAMetric(kernel="linear")`` (minibatch CKA) and
``RateReductionMetric(num_classes, num_features)``; both declare ``higher_is_better = True``.
They are built on first access (:func:`torchmetrics_cka`, :func:`torchmetrics_rate_reduction`),
so importing this module never imports torchmetrics.

References
----------
T. Nguyen, M. Raghu, S. Kornblith. "Do wide and deep networks learn the same things?" ICLR 2021
(minibatch CKA). — L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. "Feature selection via
dependence maximization". JMLR 13 (2012). — Y. Yu et al. "Learning diverse and discriminative
representations via the principle of maximal coding rate reduction". NeurIPS 2020.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import to_torch
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_scalar,
)
from ._paired import check_target, check_width
from .similarity import hsic

__all__ = [
    "CKA_ESTIMATORS",
    "StreamingCKA",
    "StreamingRateReduction",
    "torchmetrics_available",
    "torchmetrics_cka",
    "torchmetrics_rate_reduction",
]

CKA_ESTIMATORS = ("minibatch", "full")
_F64 = torch.float64
_MIN_BATCH = 4  # the unbiased HSIC divides by n (n - 3)
_SAME_WIDTHS = "(batch widths must stay those of the first batch)."
_NOT_FITTED = "no batch seen yet: call fit or partial_fit(X, y) first (%(name)s is not fitted)."


def _batch(X: Any, Y: Any) -> tuple[torch.Tensor, torch.Tensor]:
    X = check_array(X, name="X")
    Y = check_target(Y, "StreamingCKA", min_samples=1)
    check_consistent_length(X, Y, names=["X", "y"])
    Xt, _ = to_torch(X)
    Yt, _ = to_torch(Y)
    return Xt.to(_F64), Yt.to(device=Xt.device, dtype=_F64)


def _cka_ratio(hxy: float, hxx: float, hyy: float) -> float:
    den = hxx * hyy
    if not den > 0.0:
        raise ValueError(
            "CKA is undefined: a representation has zero (or negative estimated) self-similarity "
            "HSIC — constant features, or too few rows for the unbiased estimator."
        )
    return hxy / math.sqrt(den)


def _minibatch_hsics(X: torch.Tensor, Y: torch.Tensor, kernel: str, sigma: Any) -> torch.Tensor:
    kw: dict[str, Any] = {"kernel": kernel, "unbiased": True}
    if kernel == "rbf":
        kw["sigma"] = sigma
    return torch.tensor([hsic(X, Y, **kw), hsic(X, X, **kw), hsic(Y, Y, **kw)], dtype=_F64)


def _check_cka_options(estimator: Any, kernel: Any, sigma: Any) -> None:
    check_choice(estimator, "estimator", CKA_ESTIMATORS)
    check_choice(kernel, "kernel", ("linear", "rbf"))
    if kernel == "rbf":
        if estimator == "full":
            raise ValueError(
                "estimator='full' is exact for the linear kernel only; use 'minibatch'."
            )
        if sigma is None or isinstance(sigma, str):
            raise ValueError(
                "kernel='rbf' needs a fixed sigma in a stream (a per-batch median would change "
                f"the kernel between batches); got {sigma!r}. Use e.g. median_bandwidth(first_batch)."
            )
        check_scalar(sigma, "sigma", min_val=0.0, include_min=False)


def _forget(est: Any, names: tuple[str, ...]) -> None:
    """Drop an accumulator's state (``fit`` starts afresh)."""
    for name in names:
        est.__dict__.pop(name, None)


class StreamingCKA(BaseEstimator):
    """CKA accumulated over batches of paired rows: a **similarity**, higher is better.

    An incremental estimator in scikit-learn's sense (like ``IncrementalPCA``):
    :meth:`partial_fit` adds a batch of paired rows ``X[i] ↔ y[i]`` (``y`` the second
    representation), :meth:`fit` starts afresh from one batch, and :meth:`compute` gives the CKA
    of everything seen so far. ``update`` is the torchmetrics name of :meth:`partial_fit`.

    Parameters
    ----------
    estimator : {"minibatch", "full"}, default="minibatch"
        ``"minibatch"``: mean unbiased HSIC over batches (Nguyen et al. 2021; any batch
        size — batches under 4 rows are merged into the next). ``"full"``: exact linear CKA of
        all rows seen (linear kernel only).
    kernel : {"linear", "rbf"}, default="linear"
    sigma : float, optional
        RBF bandwidth, fixed for the whole stream (required for ``kernel="rbf"``).

    Attributes
    ----------
    n_samples_seen_ : int
        Rows that entered a computed term.
    n_batches_ : int
        Unbiased-HSIC terms averaged (``"minibatch"``).
    n_dropped_ : int
        Rows held back (fewer than 4 since the last term) and not yet counted.
    n_features_in_ : int
        The width of ``X`` (fixed by the first batch).
    higher_is_better : bool
        ``True`` (class attribute): :meth:`compute` is a similarity.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import linear_cka
    >>> from repgeo.latent.streaming import StreamingCKA
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 8))
    >>> Y = np.tanh(X @ rng.normal(size=(8, 5)))
    >>> full, mb = StreamingCKA(estimator="full"), StreamingCKA()
    >>> for s in range(0, 1000, 128):                      # the last batch has 104 rows
    ...     _ = full.partial_fit(X[s : s + 128], Y[s : s + 128])    # returns the estimator
    ...     _ = mb.partial_fit(X[s : s + 128], Y[s : s + 128])
    >>> bool(np.isclose(full.compute(), linear_cka(X, Y)))
    True
    >>> bool(abs(mb.compute() - linear_cka(X, Y, unbiased=True)) < 0.05)
    True
    >>> tiny = StreamingCKA().fit(X[:2], Y[:2]).partial_fit(X[2:5], Y[2:5])   # 2 + 3 rows: merged
    >>> tiny.n_batches_, tiny.n_dropped_
    (1, 0)
    """

    higher_is_better = True

    def __init__(
        self, *, estimator: str = "minibatch", kernel: str = "linear", sigma: Any = None
    ) -> None:
        self.estimator = estimator
        self.kernel = kernel
        self.sigma = sigma

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the second representation
        tags.target_tags.multi_output = True
        return tags

    def fit(self, X: Any, y: Any) -> StreamingCKA:
        """Forget every earlier batch and add this one; returns ``self``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, p)
        y : array_like or Tensor of shape (n_samples, q) or (n_samples,)
            The second representation of the same rows (1-D: one column).
        """
        _forget(self, ("_sums", "_buf", "_mom", "_dims", "n_samples_seen_", "n_batches_",
                       "n_dropped_", "n_features_in_"))  # fmt: skip
        return self.partial_fit(X, y)

    def _start(self, p: int, q: int) -> None:
        _check_cka_options(self.estimator, self.kernel, self.sigma)
        self.n_samples_seen_, self.n_batches_, self.n_dropped_ = 0, 0, 0
        self.n_features_in_ = p
        self._sums = torch.zeros(3, dtype=_F64)
        self._buf: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._mom: dict[str, torch.Tensor] | None = None
        self._dims = (p, q)

    def partial_fit(self, X: Any, y: Any) -> StreamingCKA:
        """Add a batch of paired rows (any number >= 1); returns ``self``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, p)
        y : array_like or Tensor of shape (n_samples, q) or (n_samples,)
        """
        Xt, Yt = _batch(X, y)
        if not hasattr(self, "_sums"):
            self._start(Xt.shape[1], Yt.shape[1])
        for Z, name, width in ((Xt, "X", self._dims[0]), (Yt, "y", self._dims[1])):
            check_width(Z, width, "StreamingCKA", name, _SAME_WIDTHS)
        if self.estimator == "full":
            self._update_full(Xt, Yt)
            return self
        if self._buf:
            Xt = torch.cat([b[0].to(Xt.device) for b in self._buf] + [Xt])
            Yt = torch.cat([b[1].to(Xt.device) for b in self._buf] + [Yt])
            self._buf = []
        if Xt.shape[0] < _MIN_BATCH:
            self._buf.append((Xt, Yt))
            self.n_dropped_ = Xt.shape[0]
            return self
        self._sums += _minibatch_hsics(Xt, Yt, self.kernel, self.sigma)
        self.n_batches_ += 1
        self.n_samples_seen_ += Xt.shape[0]
        self.n_dropped_ = 0
        return self

    def update(self, X: Any, y: Any) -> StreamingCKA:
        """Same as :meth:`partial_fit` (the torchmetrics name); returns ``self``."""
        return self.partial_fit(X, y)

    def _update_full(self, X: torch.Tensor, Y: torch.Tensor) -> None:
        if self._mom is None:
            self._mom = {
                "cx": X.mean(0), "cy": Y.mean(0),
                "sx": torch.zeros(X.shape[1], dtype=_F64, device=X.device),
                "sy": torch.zeros(Y.shape[1], dtype=_F64, device=X.device),
                "xx": torch.zeros(X.shape[1], X.shape[1], dtype=_F64, device=X.device),
                "yy": torch.zeros(Y.shape[1], Y.shape[1], dtype=_F64, device=X.device),
                "xy": torch.zeros(X.shape[1], Y.shape[1], dtype=_F64, device=X.device),
            }  # fmt: skip
        m = self._mom
        x, y = X - m["cx"].to(X.device), Y - m["cy"].to(X.device)
        m["sx"] += x.sum(0)
        m["sy"] += y.sum(0)
        m["xx"] += x.T @ x
        m["yy"] += y.T @ y
        m["xy"] += x.T @ y
        self.n_samples_seen_ += X.shape[0]

    def compute(self) -> float:
        """The CKA of everything seen so far (a similarity; higher is better).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before the first :meth:`fit` / :meth:`partial_fit`.
        ValueError
            When no term can be computed yet (fewer than 4 rows for ``"minibatch"``, fewer
            than 2 for ``"full"``) or a side has zero variance.
        """
        check_is_fitted(self, "n_samples_seen_", msg=_NOT_FITTED)
        if self.estimator == "full":
            n, m = self.n_samples_seen_, self._mom
            if n < 2:
                raise ValueError(f"CKA needs at least 2 rows; {n} seen.")
            mx, my = m["sx"] / n, m["sy"] / n
            cxx = m["xx"] - n * torch.outer(mx, mx)
            cyy = m["yy"] - n * torch.outer(my, my)
            cxy = m["xy"] - n * torch.outer(mx, my)
            return _cka_ratio(float((cxy**2).sum()), float((cxx**2).sum()), float((cyy**2).sum()))
        if self.n_batches_ == 0:
            raise ValueError(
                f"no batch of at least {_MIN_BATCH} rows yet ({self.n_dropped_} row(s) held back): "
                "the unbiased HSIC needs 4."
            )
        hxy, hxx, hyy = (float(v) for v in self._sums)
        return _cka_ratio(hxy, hxx, hyy)


# ----------------------------------------------------------------------------- ΔR
def _logdet_eye_plus(G: torch.Tensor, c: float) -> float:
    M = c * (G + G.T) / 2
    M.diagonal().add_(1.0)
    L, info = torch.linalg.cholesky_ex(M)
    if int(info) == 0:
        return float(2.0 * torch.log(torch.diagonal(L)).sum())
    return float(torch.log(torch.linalg.eigvalsh(M).clamp_min(1.0)).sum())


def _delta_r(G: torch.Tensor, grams: torch.Tensor, counts: torch.Tensor, eps2: float) -> float:
    m, d = float(counts.sum()), G.shape[0]
    if m <= 0:
        raise ValueError("no rows seen yet: call update(Z, labels) first.")
    r = 0.5 * _logdet_eye_plus(G, d / (m * eps2))
    rc = 0.0
    for Gj, mj in zip(grams, counts.tolist()):
        if mj > 0:
            rc += mj / (2.0 * m) * _logdet_eye_plus(Gj, d / (mj * eps2))
    return r - rc


def _normalised_rows(Z: Any, name: str = "X") -> torch.Tensor:
    Z = check_array(Z, name=name)
    Zt, _ = to_torch(Z)
    Zt = Zt.to(_F64)
    return Zt / torch.linalg.vector_norm(Zt, dim=1, keepdim=True).clamp_min(1e-300)


class StreamingRateReduction(BaseEstimator):
    """MCR² rate reduction ΔR accumulated over batches of (features, labels); exact.

    Equals :func:`repgeo.coding.coding_rate_reduction` ``(X, y, eps2=eps2)`` (rows
    L2-normalised) of all rows seen. ΔR scores one representation given its labels (it is
    neither a similarity nor a distance between two); **higher is better**.

    An incremental estimator in scikit-learn's sense (like ``IncrementalPCA``):
    :meth:`partial_fit` adds a batch, :meth:`fit` starts afresh from one batch, and
    :meth:`compute` gives ΔR of everything seen so far. ``update`` is the torchmetrics name of
    :meth:`partial_fit`.

    Parameters
    ----------
    eps2 : float, default=0.5
        Squared distortion ε².

    Attributes
    ----------
    n_samples_seen_ : int
    classes_ : ndarray
        Labels seen so far.
    n_features_in_ : int
        The width of ``X`` (fixed by the first batch).
    higher_is_better : bool
        ``True`` (class attribute).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.coding import coding_rate_reduction
    >>> from repgeo.latent.streaming import StreamingRateReduction
    >>> rng = np.random.default_rng(0)
    >>> Z, y = rng.normal(size=(600, 12)), rng.integers(0, 3, size=600)
    >>> acc = StreamingRateReduction()
    >>> for s in range(0, 600, 100):
    ...     _ = acc.partial_fit(Z[s : s + 100], y[s : s + 100])
    >>> bool(np.isclose(acc.compute(), coding_rate_reduction(Z, y)))
    True
    """

    higher_is_better = True

    def __init__(self, *, eps2: float = 0.5) -> None:
        self.eps2 = eps2

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the class labels
        return tags

    def fit(self, X: Any, y: Any) -> StreamingRateReduction:
        """Forget every earlier batch and add this one; returns ``self``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
            Integer class labels.
        """
        _forget(self, ("_G", "_grams", "n_samples_seen_", "classes_", "n_features_in_"))
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any) -> StreamingRateReduction:
        """Add a batch of rows ``X`` (n, d) with integer labels ``y`` (n,); returns ``self``."""
        check_scalar(self.eps2, "eps2", min_val=0.0, include_min=False)
        z = _normalised_rows(X)
        if y is None:
            raise ValueError(
                "StreamingRateReduction requires y to be passed, but the target y is None "
                "(give the integer class label of every row)."
            )
        y = check_labels(y, n_samples=z.shape[0], name="y")
        if hasattr(self, "_G"):
            check_width(z, self._G.shape[0], "StreamingRateReduction", "X", _SAME_WIDTHS)
        else:
            self._G = torch.zeros(z.shape[1], z.shape[1], dtype=_F64, device=z.device)
            self._grams: dict[int, list[Any]] = {}
            self.n_samples_seen_ = 0
            self.n_features_in_ = int(z.shape[1])
        self._G += z.T @ z
        for c in np.unique(y):
            zc = z[torch.as_tensor(y == c, device=z.device)]
            entry = self._grams.setdefault(int(c), [torch.zeros_like(self._G), 0])
            entry[0] += zc.T @ zc
            entry[1] += zc.shape[0]
        self.n_samples_seen_ += z.shape[0]
        self.classes_ = np.array(sorted(self._grams))
        return self

    def update(self, X: Any, y: Any) -> StreamingRateReduction:
        """Same as :meth:`partial_fit` (the torchmetrics name); returns ``self``."""
        return self.partial_fit(X, y)

    def compute(self) -> float:
        """ΔR (nats) of everything seen so far; higher is better.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before the first :meth:`fit` / :meth:`partial_fit`.
        """
        check_is_fitted(self, "n_samples_seen_", msg=_NOT_FITTED)
        grams = torch.stack([self._grams[c][0] for c in self.classes_])
        counts = torch.tensor([self._grams[c][1] for c in self.classes_], dtype=_F64)
        return _delta_r(self._G, grams, counts, float(self.eps2))


# ----------------------------------------------------------------------------- torchmetrics
def torchmetrics_available() -> bool:
    """Whether ``torchmetrics`` can be imported (the adapters below need it)."""
    try:
        import torchmetrics  # noqa: F401
    except ImportError:
        return False
    return True


def _require_torchmetrics() -> Any:
    try:
        import torchmetrics
    except ImportError as exc:
        raise ImportError(
            "the torchmetrics adapters need the torchmetrics package: "
            "pip install 'repgeo[torchmetrics]' (or pip install torchmetrics)."
        ) from exc
    return torchmetrics


_CACHE: dict[str, type] = {}


def torchmetrics_cka() -> type:
    """The ``CKAMetric`` class: minibatch CKA as a ``torchmetrics.Metric`` (needs torchmetrics).

    ``CKAMetric(kernel="linear", sigma=None)``; ``update(x, y)`` adds the batch's three unbiased
    HSIC terms to sum-reduced states (batches under 4 rows are merged into the next on the same
    process), ``compute()`` returns the CKA as a float64 tensor.

    Examples
    --------
    >>> from repgeo.latent.streaming import torchmetrics_available, torchmetrics_cka
    >>> if torchmetrics_available():
    ...     CKAMetric = torchmetrics_cka()
    ...     assert CKAMetric.higher_is_better
    """
    if "cka" in _CACHE:
        return _CACHE["cka"]
    tm = _require_torchmetrics()

    class CKAMetric(tm.Metric):
        is_differentiable = False
        higher_is_better = True
        full_state_update = False

        def __init__(self, kernel: str = "linear", sigma: Any = None, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            _check_cka_options("minibatch", kernel, sigma)
            self.kernel, self.sigma = kernel, sigma
            self.add_state("hsics", default=torch.zeros(3, dtype=_F64), dist_reduce_fx="sum")
            self.add_state("n_batches", default=torch.zeros((), dtype=_F64), dist_reduce_fx="sum")
            self._held: list[tuple[torch.Tensor, torch.Tensor]] = []

        def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
            xt, yt = _batch(x, y)
            if self._held:
                xt = torch.cat([h[0] for h in self._held] + [xt])
                yt = torch.cat([h[1] for h in self._held] + [yt])
                self._held = []
            if xt.shape[0] < _MIN_BATCH:
                self._held.append((xt, yt))
                return
            self.hsics += _minibatch_hsics(xt, yt, self.kernel, self.sigma).to(self.hsics.device)
            self.n_batches += 1

        def compute(self) -> torch.Tensor:
            if float(self.n_batches) == 0:
                raise ValueError("no batch of at least 4 rows yet: the unbiased HSIC needs 4.")
            h = self.hsics.tolist()
            return torch.tensor(_cka_ratio(*h), dtype=_F64)

    _CACHE["cka"] = CKAMetric
    return CKAMetric


def torchmetrics_rate_reduction() -> type:
    """The ``RateReductionMetric`` class: exact ΔR as a ``torchmetrics.Metric`` (needs torchmetrics).

    ``RateReductionMetric(num_classes, num_features, eps2=0.5)``; ``update(z, labels)`` with
    labels in ``0 .. num_classes - 1``; states are Gram matrices and counts (sum-reduced).

    Examples
    --------
    >>> from repgeo.latent.streaming import torchmetrics_available, torchmetrics_rate_reduction
    >>> if torchmetrics_available():
    ...     assert torchmetrics_rate_reduction().higher_is_better
    """
    if "rr" in _CACHE:
        return _CACHE["rr"]
    tm = _require_torchmetrics()

    class RateReductionMetric(tm.Metric):
        is_differentiable = False
        higher_is_better = True
        full_state_update = False

        def __init__(
            self, num_classes: int, num_features: int, eps2: float = 0.5, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            k = check_positive_int(num_classes, "num_classes")
            d = check_positive_int(num_features, "num_features")
            self.eps2 = float(check_scalar(eps2, "eps2", min_val=0.0, include_min=False))
            self.add_state("gram", default=torch.zeros(d, d, dtype=_F64), dist_reduce_fx="sum")
            self.add_state("grams", default=torch.zeros(k, d, d, dtype=_F64), dist_reduce_fx="sum")
            self.add_state("counts", default=torch.zeros(k, dtype=_F64), dist_reduce_fx="sum")

        def update(self, z: torch.Tensor, labels: torch.Tensor) -> None:
            zt = _normalised_rows(z, name="z").to(self.gram.device)
            y = check_labels(labels, n_samples=zt.shape[0], name="labels")
            k, d = self.grams.shape[0], self.gram.shape[0]
            if zt.shape[1] != d:
                raise ValueError(f"z must have num_features={d} columns; got {zt.shape[1]}.")
            if y.size and (y.min() < 0 or y.max() >= k):
                raise ValueError(
                    f"labels must lie in 0..{k - 1} (num_classes={k}); got {y.min()}..{y.max()}."
                )
            self.gram += zt.T @ zt
            yt = torch.as_tensor(y, device=zt.device)
            onehot = torch.nn.functional.one_hot(yt, k).to(_F64)
            self.grams += torch.einsum("nk,ni,nj->kij", onehot, zt, zt)
            self.counts += onehot.sum(0)

        def compute(self) -> torch.Tensor:
            return torch.tensor(_delta_r(self.gram, self.grams, self.counts, self.eps2), dtype=_F64)

    _CACHE["rr"] = RateReductionMetric
    return RateReductionMetric


def __getattr__(name: str) -> Any:
    """``CKAMetric`` and ``RateReductionMetric`` are created on first access (need torchmetrics)."""
    if name == "CKAMetric":
        return torchmetrics_cka()
    if name == "RateReductionMetric":
        return torchmetrics_rate_reduction()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
