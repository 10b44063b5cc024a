"""Zero-shot model stitching: an encoder from one model, a classification head from another.

For every ordered pair (encoder space *i*, head space *j*) a head is trained on space *j*'s
training embeddings and evaluated, without any further training, on space *i*'s test
embeddings after a method-specific translation:

* ``"absolute"`` — no translation (only defined when the dimensions agree): the baseline that
  fails when the spaces differ by a rotation;
* ``"relative"`` — both heads and encoders work on relative representations w.r.t. their own
  embedding of the **same** anchor samples (:class:`~repgeo.latent.RelativeProjection`);
* ``"procrustes"`` / ``"affine"`` / ``"lstsq_ortho"`` — space *i* is mapped into space *j* by a
  :class:`~repgeo.latent.LatentAligner` fitted on the anchors, then head *j* is applied.

The result holds the accuracy and weighted-F1 matrices, rows = encoder, columns = head; the
diagonal is ordinary (non-stitched) accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._backend import to_numpy
from .._validation import check_array, check_choice, check_consistent_length, check_labels
from .alignment import LatentAligner
from .anchors import select_anchors
from .relative import RelativeProjection, check_parallel

__all__ = ["STITCH_METHODS", "StitchingHead", "StitchingResult", "zero_shot_stitching"]

STITCH_METHODS = ("absolute", "relative", "procrustes", "affine", "lstsq_ortho")
_ALIGN = {"procrustes": "orthogonal", "affine": "affine", "lstsq_ortho": "lstsq_ortho"}


class StitchingHead(ClassifierMixin, BaseEstimator):
    """A linear classification head: input scaling + multinomial logistic regression.

    :meth:`score` is the accuracy (neither a similarity nor a distance); higher is better.

    The scaling is part of the head: it is fitted on the head's own training space and reused
    unchanged on stitched inputs (nothing is re-fitted on the encoder's data).

    Parameters
    ----------
    C : float, default=1.0
        Inverse L2 regularisation strength.
    max_iter : int, default=1000
    scaling : {"isotropic", "standard", "none"}, default="isotropic"
        ``"isotropic"`` centres and divides by one global RMS norm, which commutes with
        rotations (a rotated copy of the training space is scaled the same way);
        ``"standard"`` scales every feature to unit variance, which is *not* rotation
        equivariant and blows up near-constant directions — stitched inputs that differ there
        (after an alignment fitted on few anchors, say) then break the head.

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features,)
        The fitted input scaling.
    clf_ : sklearn.linear_model.LogisticRegression
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : ndarray of shape (1,)
        Solver iterations of the logistic regression.
    n_features_in_ : int
    higher_is_better : bool
        ``True`` (class attribute): :meth:`score` is the accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import StitchingHead
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> Z = rng.normal(size=(300, 5)) + 3 * np.eye(3, 5)[y]
    >>> StitchingHead().fit(Z, y).score(Z, y) > 0.9
    True
    """

    higher_is_better = True

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000, scaling: str = "isotropic") -> None:
        self.C = C
        self.max_iter = max_iter
        self.scaling = scaling

    def _scale(self, Z: np.ndarray) -> np.ndarray:
        return (Z - self.mean_) / self.scale_

    def fit(self, X: Any, y: Any) -> StitchingHead:
        """Fit the scaling and the classifier on ``X`` (n_samples, n_features) and labels ``y``."""
        from sklearn.linear_model import LogisticRegression

        check_choice(self.scaling, "scaling", ("isotropic", "standard", "none"))
        if y is None:
            raise ValueError(
                "StitchingHead requires y to be passed, but the target y is None (give class labels)."
            )
        Z = to_numpy(check_array(X, name="X")).astype(np.float64)
        y = check_labels(y, n_samples=Z.shape[0])
        if self.scaling == "none":
            self.mean_, self.scale_ = np.zeros(Z.shape[1]), np.ones(Z.shape[1])
        else:
            self.mean_ = Z.mean(0)
            if self.scaling == "standard":
                self.scale_ = np.maximum(Z.std(0), 1e-12)
            else:
                self.scale_ = np.full(
                    Z.shape[1], max(float(np.sqrt(((Z - self.mean_) ** 2).sum(1).mean())), 1e-12)
                )
        self.clf_ = LogisticRegression(C=self.C, max_iter=self.max_iter)
        # small dense problem: multi-threaded BLAS only adds overhead (and spins badly when the
        # machine is oversubscribed), so fit single-threaded
        with threadpool_limits(limits=1, user_api="blas"):
            self.clf_.fit(self._scale(Z), y)
        self.classes_ = self.clf_.classes_
        self.n_iter_ = self.clf_.n_iter_
        self.n_features_in_ = Z.shape[1]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted labels for ``X`` of shape (n_samples, n_features)."""
        check_is_fitted(self)
        Z = to_numpy(check_array(X, name="X")).astype(np.float64)
        if Z.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {Z.shape[1]} features, but StitchingHead is expecting {self.n_features_in_} "
                "features as input (the head's input size)."
            )
        with threadpool_limits(limits=1, user_api="blas"):
            return self.clf_.predict(self._scale(Z))


@dataclass
class StitchingResult:
    """Accuracy (and weighted F1) of every encoder × head pair for one method.

    Attributes
    ----------
    method : str
    names : list of str
        Space names; ``accuracy[i, j]`` uses encoder ``names[i]`` and head ``names[j]``.
    accuracy, f1 : ndarray of shape (n_spaces, n_spaces)
        NaN where the method is undefined (absolute stitching across dimensions).
    anchor_index : ndarray
        Indices (into the training rows) of the anchors used.
    residuals : ndarray of shape (n_spaces, n_spaces)
        Alignment residual on the anchors for aligned methods (NaN otherwise).
    """

    method: str
    names: list[str]
    accuracy: np.ndarray
    f1: np.ndarray
    anchor_index: np.ndarray
    residuals: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))

    def off_diagonal_mean(self, which: str = "accuracy") -> float:
        """Mean over stitched pairs (i ≠ j) where defined; NaN when none is."""
        M = getattr(self, which)
        mask = ~np.eye(len(self.names), dtype=bool) & np.isfinite(M)
        return float(M[mask].mean()) if mask.any() else float("nan")

    def diagonal_mean(self, which: str = "accuracy") -> float:
        """Mean of the un-stitched (i = j) scores."""
        return float(np.nanmean(np.diag(getattr(self, which))))


def _spaces(spaces: Mapping[str, Any], name: str) -> dict[str, Any]:
    if not isinstance(spaces, Mapping) or not spaces:
        raise TypeError(
            f"{name} must be a non-empty mapping space name -> embeddings; got {type(spaces).__name__}."
        )
    return {str(k): to_numpy(check_array(v, name=f"{name}[{k!r}]")) for k, v in spaces.items()}


def zero_shot_stitching(
    train: Mapping[str, Any],
    y_train: Any,
    test: Mapping[str, Any],
    y_test: Any,
    *,
    method: str = "relative",
    anchors: Any = None,
    n_anchors: int = 300,
    anchor_method: str = "uniform",
    ids: Any = None,
    relative: RelativeProjection | None = None,
    head: Any = None,
    random_state: Any = 0,
) -> StitchingResult:
    """Stitch every encoder with every head and measure test accuracy.

    Parameters
    ----------
    train : mapping name -> array_like of shape (n_train, d_name)
        Training embeddings of the same samples (row-aligned) in each space.
    y_train : array_like of shape (n_train,)
    test : mapping name -> array_like of shape (n_test, d_name)
        Test embeddings (row-aligned), same keys as ``train``.
    y_test : array_like of shape (n_test,)
    method : {"absolute", "relative", "procrustes", "affine", "lstsq_ortho"}, default="relative"
    anchors : array_like of int, optional
        Indices of the anchor rows of ``train``; by default ``n_anchors`` rows chosen by
        :func:`~repgeo.latent.select_anchors` (``"fps"``/``"kmeans"`` run in the first space).
    n_anchors : int, default=300
    anchor_method : str, default="uniform"
    ids : array_like of shape (n_train,) or mapping name -> ids, optional
        Sample ids of the training rows. With one array per space, the spaces must list the
        same ids in the same order, otherwise the anchors would not be parallel (ValueError).
    relative : RelativeProjection, optional
        Template for ``method="relative"`` (default: cosine, no transform, no normalisation).
    head : classifier, optional
        Template head with ``fit``/``score`` (default :class:`StitchingHead`).
    random_state : int, Generator or None, default=0
        Seeds the anchor choice.

    Returns
    -------
    StitchingResult

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import zero_shot_stitching
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 4, size=600)
    >>> Z = rng.normal(size=(600, 6)) + 4 * np.eye(4, 6)[y]           # space "a"
    >>> Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    >>> spaces = {"a": Z, "b": 2.0 * Z @ Q}                             # "b": a rotated, scaled copy
    >>> tr, te = {k: v[:400] for k, v in spaces.items()}, {k: v[400:] for k, v in spaces.items()}
    >>> kw = dict(n_anchors=50, random_state=0)
    >>> rel = zero_shot_stitching(tr, y[:400], te, y[400:], method="relative", **kw)
    >>> ab = zero_shot_stitching(tr, y[:400], te, y[400:], method="absolute", **kw)
    >>> rel.off_diagonal_mean() > 0.9 > ab.off_diagonal_mean()
    True
    """
    check_choice(method, "method", STITCH_METHODS)
    tr = _spaces(train, "train")
    te = _spaces(test, "test")
    if set(tr) != set(te):
        raise ValueError(
            f"train and test must name the same spaces; got {sorted(tr)} and {sorted(te)}."
        )
    names = list(tr)
    check_consistent_length(*tr.values(), names=[f"train[{n!r}]" for n in names])
    check_consistent_length(*te.values(), names=[f"test[{n!r}]" for n in names])
    for n in names:
        if tr[n].shape[1] != te[n].shape[1]:
            raise ValueError(
                f"space {n!r} has {tr[n].shape[1]} features in train but {te[n].shape[1]} in test."
            )
    n_train = tr[names[0]].shape[0]
    ytr = check_labels(y_train, n_samples=n_train, name="y_train")
    yte = check_labels(y_test, n_samples=te[names[0]].shape[0], name="y_test")

    # sample ids: one array for all spaces, or one per space that must agree
    if isinstance(ids, Mapping):
        if set(map(str, ids)) != set(names):
            raise ValueError(
                f"ids must give one id array per space {names}; got {sorted(map(str, ids))}."
            )
        id_arrays = {str(k): np.asarray(v).astype(str) for k, v in ids.items()}
        for n, a in id_arrays.items():
            if a.shape != (n_train,):
                raise ValueError(f"ids[{n!r}] must have shape ({n_train},); got {a.shape}.")
    elif ids is not None:
        one = np.asarray(ids).astype(str)
        if one.shape != (n_train,):
            raise ValueError(
                f"ids must have shape ({n_train},) (one per training row); got {one.shape}."
            )
        id_arrays = dict.fromkeys(names, one)
    else:
        id_arrays = None

    if anchors is None:
        idx = select_anchors(
            tr[names[0]], n_anchors, method=anchor_method, y=ytr, random_state=random_state
        )
    else:
        idx = np.asarray(
            check_array(anchors, name="anchors", ndim=1, dtype="int", shape_hint="(n_anchors,)")
        )
        if idx.min() < 0 or idx.max() >= n_train:
            raise ValueError(
                f"anchors must be row indices in [0, {n_train - 1}]; got [{idx.min()}, {idx.max()}]."
            )
        if len(np.unique(idx)) != len(idx):
            raise ValueError("anchors must be distinct row indices.")
    anchor_ids = {n: (id_arrays[n][idx] if id_arrays is not None else None) for n in names}

    head = StitchingHead() if head is None else head
    template = RelativeProjection() if relative is None else relative
    proj: dict[str, RelativeProjection] = {}
    if method == "relative":
        for n in names:
            proj[n] = clone(template).fit(tr[n][idx], anchor_ids=anchor_ids[n])
    heads = {}
    for j in names:
        feats = proj[j].transform(tr[j]) if method == "relative" else tr[j]
        heads[j] = clone(head).fit(feats, ytr)

    from sklearn.metrics import f1_score

    m = len(names)
    acc, f1, res = np.full((m, m), np.nan), np.full((m, m), np.nan), np.full((m, m), np.nan)
    for a, i in enumerate(names):
        for b, j in enumerate(names):
            if method == "absolute":
                if tr[i].shape[1] != tr[j].shape[1]:
                    continue
                Z = te[i]
            elif method == "relative":
                check_parallel(proj[i], proj[j])
                Z = proj[i].transform(te[i])
            else:
                if anchor_ids[i] is not None:
                    check_parallel(anchor_ids[i], anchor_ids[j])
                al = LatentAligner(method=_ALIGN[method]).fit(tr[i][idx], tr[j][idx])
                res[a, b] = al.residual_
                Z = al.transform(te[i])
            pred = heads[j].predict(Z)
            acc[a, b] = float((pred == yte).mean())
            f1[a, b] = float(f1_score(yte, pred, average="weighted"))
    return StitchingResult(
        method=method, names=names, accuracy=acc, f1=f1, anchor_index=idx, residuals=res
    )
