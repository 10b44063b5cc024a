"""Compare several latent spaces of the same samples: stitching matrices and pairwise similarity.

The building blocks (:func:`~repgeo.latent.zero_shot_stitching`,
:func:`~repgeo.latent.cross_space_similarity`, :func:`~repgeo.latent.cka`) compare one pair or
one method at a time. This module runs them over a whole panel of spaces, as the ``stitching``
study and the default study's stitching panel do:

* :func:`stitching_matrices` — one :class:`~repgeo.latent.StitchingResult` (encoder × head
  accuracy) per stitching method, all with the **same** anchors;
* :func:`pairwise_similarity` — for every unordered pair of spaces, Jaccard@k, MRR@k and mean
  cosine between the test embeddings made comparable three ways (``absolute``: as they are, only
  when the dimensions agree; ``relative``: relative representations w.r.t. each space's own
  embedding of the anchor samples; ``procrustes``: the first space mapped into the second by an
  orthogonal Procrustes map fitted on the anchors), plus linear and RBF CKA of the embeddings
  themselves (all similarities: higher is more similar);
* :func:`random_orthogonal` and :func:`rotated_copy` — a control space that differs from a given
  one only by an orthogonal map (and optional Gaussian noise): relative representations and
  Procrustes must recover it, absolute stitching must not.

Every space is an array of shape ``(n_samples, d_space)``; row *i* of every space is the same
sample (paired spaces), and ``anchors`` index rows of the training embeddings, so the anchors of
all spaces are the same samples (parallel anchors).

References
----------
L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello, E. Rodolà. "Relative
representations enable zero-shot latent space communication". ICLR 2023. — S. Kornblith,
M. Norouzi, H. Lee, G. Hinton. "Similarity of neural network representations revisited".
ICML 2019. — P. H. Schönemann. "A generalized solution of the orthogonal Procrustes problem".
Psychometrika 31 (1966).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import clone

from .._backend import to_numpy
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from .alignment import LatentAligner
from .relative import RelativeProjection
from .similarity import cka, cross_space_similarity
from .stitching import STITCH_METHODS, StitchingResult, zero_shot_stitching

__all__ = [
    "COMPARISON_METHODS",
    "pairwise_similarity",
    "random_orthogonal",
    "rotated_copy",
    "stitching_matrices",
]

COMPARISON_METHODS = ("absolute", "relative", "procrustes")
"""How two spaces are made comparable: as they are, relative representations, Procrustes."""

_RETRIEVAL = ("jaccard", "mrr", "cosine")


def _check_spaces(spaces: Any, name: str) -> dict[str, np.ndarray]:
    if not isinstance(spaces, Mapping) or not spaces:
        raise TypeError(
            f"{name} must be a non-empty mapping space name -> embeddings; got "
            f"{type(spaces).__name__}."
        )
    out = {str(k): to_numpy(check_array(v, name=f"{name}[{k!r}]")) for k, v in spaces.items()}
    check_consistent_length(*out.values(), names=[f"{name}[{n!r}]" for n in out])
    return out


def _check_train_test(train: Any, test: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    tr, te = _check_spaces(train, "train"), _check_spaces(test, "test")
    if list(tr) != list(te):
        raise ValueError(
            f"train and test must name the same spaces in the same order; got {list(tr)} and "
            f"{list(te)}."
        )
    for n in tr:
        if tr[n].shape[1] != te[n].shape[1]:
            raise ValueError(
                f"space {n!r} has {tr[n].shape[1]} features in train but {te[n].shape[1]} in test."
            )
    return tr, te


def _check_anchors(anchors: Any, n_train: int) -> np.ndarray:
    idx = np.asarray(
        check_array(anchors, name="anchors", ndim=1, dtype="int", shape_hint="(n_anchors,)")
    )
    if idx.min() < 0 or idx.max() >= n_train:
        raise ValueError(
            f"anchors must be row indices in [0, {n_train - 1}]; got [{idx.min()}, {idx.max()}]."
        )
    if len(np.unique(idx)) != len(idx):
        raise ValueError("anchors must be distinct row indices.")
    return idx


def _check_methods(methods: Any, options: Sequence[str]) -> tuple[str, ...]:
    if isinstance(methods, str) or not isinstance(methods, Sequence) or not methods:
        raise TypeError(
            f"methods must be a non-empty sequence of names from {tuple(options)}; got {methods!r}."
        )
    for m in methods:
        check_choice(m, "method", options)
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods must be distinct; got {list(methods)}.")
    return tuple(methods)


def stitching_matrices(
    train: Mapping[str, Any],
    y_train: Any,
    test: Mapping[str, Any],
    y_test: Any,
    *,
    anchors: Any,
    methods: Sequence[str] = COMPARISON_METHODS,
    relative: RelativeProjection | None = None,
    ids: Any = None,
) -> dict[str, StitchingResult]:
    """Zero-shot stitching of every encoder with every head, once per method, same anchors.

    Parameters
    ----------
    train : mapping name -> array_like of shape (n_train, d_name)
        Training embeddings of the same samples (row-aligned) in each space.
    y_train : array_like of shape (n_train,)
    test : mapping name -> array_like of shape (n_test, d_name)
        Test embeddings (row-aligned), same names as ``train``.
    y_test : array_like of shape (n_test,)
    anchors : array_like of int, shape (n_anchors,)
        Distinct rows of ``train`` used as anchors by every method (relative representations and
        alignment fits).
    methods : sequence of str, default=("absolute", "relative", "procrustes")
        Any of :data:`~repgeo.latent.STITCH_METHODS`.
    relative : RelativeProjection, optional
        Template of the relative representation (default: plain cosine).
    ids : array_like of shape (n_train,) or mapping name -> ids, optional
        Sample ids of the training rows; anchors are then checked to be parallel.

    Returns
    -------
    results : dict
        ``{method: StitchingResult}`` in the order of ``methods``; ``accuracy[i, j]`` is the
        test accuracy of head ``j`` fed encoder ``i`` (higher is better).

    See Also
    --------
    repgeo.latent.zero_shot_stitching : one method.
    repgeo.plots.plot_stitching_matrices : the heatmaps of the result.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import stitching_matrices, zero_shot_stitching
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 3, size=300)
    >>> Z = rng.normal(size=(300, 4)) + 4 * np.eye(3, 4)[y]
    >>> Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    >>> tr = {"a": Z[:200], "b": Z[:200] @ Q}
    >>> te = {"a": Z[200:], "b": Z[200:] @ Q}
    >>> res = stitching_matrices(tr, y[:200], te, y[200:], anchors=np.arange(40))
    >>> list(res), res["relative"].accuracy.shape
    (['absolute', 'relative', 'procrustes'], (2, 2))
    >>> direct = zero_shot_stitching(tr, y[:200], te, y[200:], method="procrustes",
    ...                              anchors=np.arange(40))
    >>> bool(np.array_equal(res["procrustes"].accuracy, direct.accuracy))
    True
    """
    methods = _check_methods(methods, STITCH_METHODS)
    tr, te = _check_train_test(train, test)
    idx = _check_anchors(anchors, next(iter(tr.values())).shape[0])
    return {
        m: zero_shot_stitching(
            tr, y_train, te, y_test, method=m, anchors=idx, relative=relative, ids=ids
        )
        for m in methods
    }


def pairwise_similarity(
    train: Mapping[str, Any],
    test: Mapping[str, Any],
    anchors: Any,
    *,
    relative: RelativeProjection | None = None,
    k: int = 10,
    random_state: Any = 0,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Jaccard@k, MRR@k, cosine (three ways) and linear / RBF CKA of every pair of spaces.

    For each unordered pair (a, b), in the order the spaces are given, the test embeddings
    ``X = test[a]`` and ``Y = test[b]`` are compared:

    * ``absolute`` — ``X`` vs ``Y`` as they are (None when the dimensions differ);
    * ``relative`` — relative representations of ``X`` and ``Y`` w.r.t. each space's own
      training embedding of the anchor rows (``relative`` fitted per space);
    * ``procrustes`` — ``X`` mapped into ``Y``'s space by an orthogonal
      :class:`~repgeo.latent.LatentAligner` fitted on the anchors, vs ``Y``;

    with :func:`~repgeo.latent.cross_space_similarity`, and ``cka(X, Y)`` with a linear and an
    RBF kernel (median-heuristic bandwidth per space).

    Parameters
    ----------
    train : mapping name -> array_like of shape (n_train, d_name)
        Training embeddings (the anchors are rows of these).
    test : mapping name -> array_like of shape (n_test, d_name)
        Test embeddings, row-aligned across spaces: the samples that are compared.
    anchors : array_like of int, shape (n_anchors,)
        Distinct row indices of ``train``.
    relative : RelativeProjection, optional
        Template of the relative representation (default: plain cosine).
    k : int, default=10
        Neighbourhood size of Jaccard@k and MRR@k, at most ``n_test``.
    random_state : int, Generator or None, default=0
        Handed to every pair's RBF CKA (the subsample of the median heuristic); an int gives
        every pair the same subsample.

    Returns
    -------
    similarity : dict
        ``{(a, b): {"jaccard": {method: float or None}, "mrr": {...}, "cosine": {...},
        "cka_linear": float, "cka_rbf": float}}`` with methods
        :data:`COMPARISON_METHODS`. All are similarities (higher is more similar).

    Examples
    --------
    A rotated copy is recovered exactly by relative representations and by Procrustes:

    >>> import numpy as np
    >>> from repgeo.latent import pairwise_similarity, random_orthogonal
    >>> rng = np.random.default_rng(0)
    >>> Z = rng.normal(size=(250, 8))
    >>> Q = random_orthogonal(8, random_state=0)
    >>> tr, te = {"a": Z[:150], "b": Z[:150] @ Q}, {"a": Z[150:], "b": Z[150:] @ Q}
    >>> sim = pairwise_similarity(tr, te, np.arange(30), k=5)
    >>> rec = sim[("a", "b")]
    >>> [round(rec[key]["relative"], 6) for key in ("jaccard", "mrr", "cosine")]
    [1.0, 1.0, 1.0]
    >>> round(rec["mrr"]["procrustes"], 6), round(rec["cka_linear"], 6)
    (1.0, 1.0)
    >>> rec["jaccard"]["absolute"] < 0.5                  # unaligned coordinates disagree
    True
    """
    tr, te = _check_train_test(train, test)
    names = list(tr)
    idx = _check_anchors(anchors, tr[names[0]].shape[0])
    k = check_positive_int(k, "k", max_val=te[names[0]].shape[0])
    template = RelativeProjection() if relative is None else relative
    R = {n: clone(template).fit(tr[n][idx]).transform(te[n]) for n in names}
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            i, j = names[a], names[b]
            X, Y = te[i], te[j]
            views = {"relative": (R[i], R[j])}
            if X.shape[1] == Y.shape[1]:
                views["absolute"] = (X, Y)
            al = LatentAligner(method="orthogonal").fit(tr[i][idx], tr[j][idx])
            views["procrustes"] = (al.transform(X), Y)
            rec: dict[str, Any] = {key: {} for key in _RETRIEVAL}
            for method in COMPARISON_METHODS:
                s = cross_space_similarity(*views[method], k=k) if method in views else None
                for key in _RETRIEVAL:
                    rec[key][method] = None if s is None else s[key]
            rec["cka_linear"] = cka(X, Y)
            rec["cka_rbf"] = cka(X, Y, kernel="rbf", random_state=random_state)
            out[(i, j)] = rec
    return out


def random_orthogonal(d: int, *, random_state: Any = 0) -> np.ndarray:
    """A random d × d orthogonal matrix: the Q factor of a standard Gaussian matrix.

    Q is taken as :func:`numpy.linalg.qr` returns it (the signs of R's diagonal are not
    normalised), so the distribution is not exactly Haar; it is a generic rotation or
    reflection, which is all a test of rotation invariance needs.

    Parameters
    ----------
    d : int
        Dimension, at least 1.
    random_state : int, Generator or None, default=0
        Draws ``d * d`` standard normals from it.

    Returns
    -------
    Q : ndarray of shape (d, d), float64
        QᵀQ = I.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import random_orthogonal
    >>> Q = random_orthogonal(5, random_state=0)
    >>> bool(np.allclose(Q.T @ Q, np.eye(5)))
    True
    """
    d = check_positive_int(d, "d")
    rng = check_random_state(random_state)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return Q


def rotated_copy(
    X: Any,
    *,
    noise: float = 0.0,
    rotation: Any = None,
    random_state: Any = 0,
) -> np.ndarray:
    """``X @ Q + noise · std(X) · ε``: a copy of a space up to an orthogonal map and noise.

    Parameters
    ----------
    X : array_like of shape (n_samples, d)
    noise : float, default=0.0
        Standard deviation of the Gaussian noise ε, in units of the standard deviation of all
        entries of ``X``. Zero adds none (and draws nothing).
    rotation : array_like of shape (d, d), optional
        The orthogonal map Q; by default :func:`random_orthogonal` drawn from ``random_state``
        (before the noise).
    random_state : int, Generator or None, default=0
        Draws Q (when not given) and the noise.

    Returns
    -------
    Y : ndarray of shape (n_samples, d)
        Same dtype as ``X``.

    Raises
    ------
    ValueError
        If ``rotation`` is not a d × d orthogonal matrix (QᵀQ = I to 1e-6), or ``noise < 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import rotated_copy
    >>> X = np.random.default_rng(0).normal(size=(100, 4))
    >>> Y = rotated_copy(X, random_state=1)                 # no noise: distances are kept
    >>> d = lambda Z: np.linalg.norm(Z[:, None] - Z[None], axis=-1)
    >>> bool(np.allclose(d(X), d(Y)))
    True
    """
    Xn = to_numpy(check_array(X, name="X"))
    noise = float(check_scalar(noise, "noise", min_val=0.0))
    rng = check_random_state(random_state)
    d = Xn.shape[1]
    if rotation is None:
        Q = random_orthogonal(d, random_state=rng)
    else:
        Q = to_numpy(check_array(rotation, name="rotation", shape_hint="(d, d)"))
        if Q.shape != (d, d):
            raise ValueError(f"rotation must have shape ({d}, {d}) to act on X; got {Q.shape}.")
        if not np.allclose(Q.T @ Q, np.eye(d), atol=1e-6):
            raise ValueError("rotation must be orthogonal (QᵀQ = I to 1e-6); it is not.")
    Y = Xn @ Q
    if noise > 0:
        Y = Y + noise * Xn.std() * rng.normal(size=Xn.shape)
    return Y.astype(Xn.dtype)
