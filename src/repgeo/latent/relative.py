"""Relative representations: each sample described by its similarities to shared anchors.

Given anchors ``A`` (k × d), the cosine relative representation of ``X`` (n × d) is

    R = normalize(X) · normalize(A)ᵀ  ∈ R^{n × k}            (Moschella et al., 2023)

It does not change when the latent space is rotated/reflected or rescaled isotropically, so two
networks whose spaces differ by such a map give (approximately) the same relative
representation for the same inputs — provided the anchors are **parallel**: the same input
samples embedded by each network's own encoder. :class:`RelativeProjection` keeps the anchors'
sample ids (``anchor_ids_``) so that :func:`check_parallel` can catch non-parallel anchors.

Projections (``projection=``)

=============  ======================================================  ============================
name           R_ij                                                     invariant to
=============  ======================================================  ============================
``cosine``     cos(x_i, a_j)                                            orthogonal maps, scaling
``inner``      ⟨x_i, a_j⟩ / √d                                          orthogonal maps
``basis``      coefficients of x_i in the anchor basis (least squares)  invertible linear maps
``euclidean``  ‖x_i − a_j‖₂                                             isometries (incl. shifts)
``l1``         ‖x_i − a_j‖₁                                             shifts, axis permutations
``angular``    arccos(cos(x_i, a_j)) / π  ∈ [0, 1]                       orthogonal maps, scaling
=============  ======================================================  ============================

Transforms fitted on the anchors (``transforms=``, applied in order to anchors and inputs before
projecting): ``"center"`` (subtract the anchor mean — adds translation invariance),
``"standard"`` (anchor mean and per-feature standard deviation; a constant anchor feature is
divided by the anchors' overall RMS deviation instead), ``"l2"`` (unit rows).
Output normalisation (``normalization=``): ``"none"``, ``"l2"`` or ``"layernorm"``, applied to
each output row on its own — never across the batch (the research code's InstanceNorm over a
permuted axis made predictions depend on batch composition).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import chunk_rows, iter_chunks, to_torch
from .._validation import check_array, check_choice

__all__ = [
    "NORMALIZATIONS",
    "PROJECTIONS",
    "TRANSFORMS",
    "RelativeProjection",
    "check_parallel",
    "relative_projection",
]

PROJECTIONS = ("cosine", "inner", "basis", "euclidean", "l1", "angular")
TRANSFORMS = ("center", "standard", "l2")
NORMALIZATIONS = ("none", "l2", "layernorm")


def _check_transforms(transform: str | Sequence[str] | None) -> tuple[str, ...]:
    if transform is None:
        return ()
    if isinstance(transform, str):
        transform = (transform,)
    if not isinstance(transform, (list, tuple)):
        raise TypeError(
            f"transforms must be None, a str or a sequence of str from {list(TRANSFORMS)}; "
            f"got {type(transform).__name__}."
        )
    out = tuple(transform)
    for t in out:
        check_choice(t, "transforms", TRANSFORMS)
    return out


def _l2_rows(Z: torch.Tensor) -> torch.Tensor:
    """Unit rows (zero rows stay zero), exact for every magnitude: each row is divided by its
    largest entry first, so the norm neither overflows (rows of 1e300) nor underflows (1e-300)."""
    tiny = torch.finfo(Z.dtype).tiny
    Z = Z / Z.abs().amax(1, keepdim=True).clamp_min(tiny)
    return Z / Z.norm(dim=1, keepdim=True).clamp_min(tiny)


def _pow2_scale(amax: float) -> float:
    """The power of two that brings ``amax`` into [0.5, 1) (an exact rescaling)."""
    if amax > 0 and math.isfinite(amax):  # capped: 2^1000 keeps subnormal data finite
        return math.ldexp(1.0, -max(math.frexp(amax)[1], -1000))
    return 1.0


def _normalize_output(R: torch.Tensor, normalization: str) -> torch.Tensor:
    if normalization == "l2":
        return _l2_rows(R)
    if normalization == "layernorm":
        # rows of huge entries would overflow the variance (and read as 0): bring them down by
        # a power of two to magnitude ~2^32, where eps = 1e-5 is as negligible as it was
        amax = R.abs().amax(1, keepdim=True)
        big = amax > 2.0**64
        if bool(big.any()):
            R = torch.where(big, torch.ldexp(R, 32 - torch.frexp(amax).exponent), R)
        return torch.nn.functional.layer_norm(R, (R.shape[1],), eps=1e-5)
    return R


class RelativeProjection(TransformerMixin, BaseEstimator):
    """Relative representation with respect to anchors fitted once (scikit-learn style).

    Parameters
    ----------
    projection : {"cosine", "inner", "basis", "euclidean", "l1", "angular"}, default="cosine"
        Similarity or distance to each anchor (see the module docstring).
    transforms : str or sequence of str or None, default=None
        Transforms fitted on the anchors and applied to anchors and inputs before projecting,
        in order: ``"center"``, ``"standard"``, ``"l2"``.
    normalization : {"none", "l2", "layernorm"}, default="none"
        Normalisation of each output row (per sample; never across the batch).

    Attributes
    ----------
    anchors_ : Tensor of shape (n_anchors, n_features)
        The anchors after the fitted transforms (the input's dtype, on the input's device).
    anchor_ids_ : ndarray of shape (n_anchors,) or None
        Sample ids of the anchors, when given to :meth:`fit`.
    n_anchors_, n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import RelativeProjection
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 8))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(8, 8)))         # a random rotation
    >>> rel = RelativeProjection().fit(X[:10])                 # 10 anchors
    >>> rel_rot = RelativeProjection().fit(3.0 * X[:10] @ Q)   # the same anchors, rotated and scaled
    >>> R, R_rot = rel.transform(X), rel_rot.transform(3.0 * X @ Q)
    >>> R.shape, bool(np.allclose(R, R_rot))
    ((100, 10), True)

    References
    ----------
    L. Moschella, V. Maiorca, M. Fumero, A. Norelli, F. Locatello, E. Rodolà. "Relative
    representations enable zero-shot latent space communication". ICLR 2023.
    """

    def __init__(
        self,
        *,
        projection: str = "cosine",
        transforms: str | Sequence[str] | None = None,
        normalization: str = "none",
    ) -> None:
        self.projection = projection
        self.transforms = transforms
        self.normalization = normalization

    # ------------------------------------------------------------------ fit
    def fit(self, X: Any, y: Any = None, *, anchor_ids: Any = None) -> RelativeProjection:
        """Fit the transforms on the anchors and store them.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_anchors, n_features)
            The anchors, embedded by this space's encoder.
        y : ignored
        anchor_ids : array_like of shape (n_anchors,), optional
            Sample ids of the anchors (see :func:`check_parallel`).
        """
        check_choice(self.projection, "projection", PROJECTIONS)
        check_choice(self.normalization, "normalization", NORMALIZATIONS)
        steps = _check_transforms(self.transforms)
        A = check_array(X, name="anchors", shape_hint="(n_anchors, n_features)")
        if anchor_ids is not None:
            ids = np.asarray(
                anchor_ids.detach().cpu() if isinstance(anchor_ids, torch.Tensor) else anchor_ids
            )
            if ids.shape != (A.shape[0],):
                raise ValueError(
                    f"anchor_ids must have shape ({A.shape[0]},) (one per anchor); got {ids.shape}."
                )
            if len(np.unique(ids)) != len(ids):
                raise ValueError("anchor_ids must be unique; got repeated ids.")
            self.anchor_ids_ = ids
        else:
            self.anchor_ids_ = None
        At, _ = to_torch(A)
        self._steps: list[tuple[str, torch.Tensor | None, torch.Tensor | None]] = []
        for step in steps:
            if step == "center":
                mu = At.mean(0)
                self._steps.append(("center", mu, None))
                At = At - mu
            elif step == "standard":
                # deviations are squared on anchors rescaled by a power of two (exact), so
                # they neither underflow (anchors of 1e-200) nor overflow (1e200)
                p = _pow2_scale(float(At.abs().amax()))
                mu, sd = At.mean(0), (At * p).std(0, correction=0) / p
                # a constant anchor column (spread at the rounding level of its mean) has no
                # scale of its own: it takes the anchors' overall RMS deviation (1 if all the
                # anchors coincide), so the transform stays invariant to isotropic scaling
                amax = At.abs().amax(0)
                rms = float(torch.sqrt((((At - mu) * p) ** 2).mean())) / p
                sd = torch.where(sd > 64 * torch.finfo(At.dtype).eps * amax, sd, rms or 1.0)
                self._steps.append(("standard", mu, sd))
                At = (At - mu) / sd
            else:
                self._steps.append(("l2", None, None))
                At = _l2_rows(At)
        self.anchors_ = At
        self.n_anchors_, self.n_features_in_ = int(At.shape[0]), int(At.shape[1])
        if self.projection == "basis":
            # coefficients c with Aᵀc ≈ x for every row x: C = X · pinv(A)  (d × k)
            self._pinv = torch.linalg.pinv(At.double()).to(At.dtype)
        return self

    def _prepare(self, Z: torch.Tensor) -> torch.Tensor:
        for step, mu, sd in self._steps:
            if step == "center":
                Z = Z - mu.to(Z)
            elif step == "standard":
                Z = (Z - mu.to(Z)) / sd.to(Z)
            else:
                Z = _l2_rows(Z)
        return Z

    def _project(self, Z: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
        p = self.projection
        if p in ("cosine", "angular"):
            R = _l2_rows(Z) @ _l2_rows(A).T
            if p == "angular":
                R = torch.arccos(R.clamp(-1.0, 1.0)) / math.pi
            return R
        if p == "inner":
            return (Z @ A.T) / math.sqrt(A.shape[1])
        if p == "basis":
            return Z @ self._pinv.to(Z)
        # direct differences (not the |x|² + |a|² − 2x·a expansion, whose cancellation costs
        # √eps absolute error near coincident points); exactly shift-invariant. Distances scale
        # with the data: compute them on data rescaled by a power of two (exact), scale back.
        s = _pow2_scale(max(float(Z.abs().amax()) if Z.numel() else 0.0, float(A.abs().amax())))
        D = torch.cdist(
            Z * s,
            A * s,
            p=2.0 if p == "euclidean" else 1.0,
            compute_mode="donot_use_mm_for_euclid_dist",
        )
        return D / s

    # ------------------------------------------------------------------ transform
    def transform(self, X: Any) -> Any:
        """Relative representation of ``X``.

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)
            Embeddings from the same space as the anchors.

        Returns
        -------
        R : ndarray or Tensor of shape (n_samples, n_anchors)
            Same kind, dtype and device as ``X``: similarities (``"cosine"``, ``"inner"``),
            coefficients (``"basis"``) or distances (``"euclidean"``, ``"l1"``, ``"angular"``)
            to each anchor.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        X = check_array(X, name="X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but RelativeProjection is expecting "
                f"{self.n_features_in_} features as input (like the anchors)."
            )
        Xt, back = to_torch(X)
        dtype = torch.promote_types(Xt.dtype, self.anchors_.dtype)
        A = self.anchors_.to(device=Xt.device, dtype=dtype)
        n, d, k = Xt.shape[0], self.n_features_in_, self.n_anchors_
        itemsize = torch.finfo(dtype).bits // 8
        per_row = itemsize * (
            3 * d + 3 * k + (k * d if self.projection in ("l1", "euclidean") else 0)
        )
        out = torch.empty((n, k), dtype=dtype, device=Xt.device)
        for sl in iter_chunks(n, chunk_rows(per_row, maximum=16384)):
            Z = self._prepare(Xt[sl].to(dtype))
            out[sl] = _normalize_output(self._project(Z, A), self.normalization)
        if not bool(torch.isfinite(out).all()):
            warnings.warn(
                f"the {self.projection!r} relative representation overflows {dtype} (inputs too "
                "large for a projection that is not scale-invariant); use projection='cosine' or "
                "'angular', or rescale the inputs.",
                RuntimeWarning,
                stacklevel=2,
            )
        return back(out)


def relative_projection(
    X: Any,
    anchors: Any,
    *,
    projection: str = "cosine",
    transforms: str | Sequence[str] | None = None,
    normalization: str = "none",
) -> Any:
    """Relative representation of ``X`` with respect to ``anchors`` (functional form).

    Parameters
    ----------
    X : array_like or Tensor of shape (n_samples, n_features)
    anchors : array_like or Tensor of shape (n_anchors, n_features)
        Anchors embedded in the same space as ``X``.
    projection, transforms, normalization
        See :class:`RelativeProjection`.

    Returns
    -------
    R : ndarray or Tensor of shape (n_samples, n_anchors)
        Same kind, dtype and device as ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import relative_projection
    >>> X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    >>> relative_projection(X, X[:2]).round(3)
    array([[1.   , 0.   ],
           [0.   , 1.   ],
           [0.707, 0.707]])
    >>> relative_projection(X, X[:2], projection="euclidean").round(3)
    array([[0.   , 2.236],
           [2.236, 0.   ],
           [1.   , 1.414]])
    """
    rel = RelativeProjection(
        projection=projection, transforms=transforms, normalization=normalization
    )
    return rel.fit(anchors).transform(X)


def check_parallel(a: Any, b: Any) -> None:
    """Raise if two spaces' anchors are not parallel (the same samples, in the same order).

    Parameters
    ----------
    a, b : RelativeProjection or array_like of anchor ids
        Fitted projections (their ``anchor_ids_`` are compared) or id arrays. When either side
        has no ids, only the number of anchors is checked.

    Raises
    ------
    ValueError
        If the numbers of anchors differ, or the ids differ (listing the first mismatches).

    Examples
    --------
    >>> from repgeo.latent import check_parallel
    >>> check_parallel(["d/1", "d/7"], ["d/1", "d/7"])
    >>> check_parallel(["d/1", "d/7"], ["d/7", "d/1"])
    Traceback (most recent call last):
        ...
    ValueError: anchors are not parallel: 2 of 2 anchor ids differ (first at position 0: 'd/1' vs 'd/7'); embed the same samples, in the same order, in both spaces.
    """

    def ids_of(obj: Any) -> tuple[np.ndarray | None, int]:
        if isinstance(obj, RelativeProjection):
            if not hasattr(obj, "anchors_"):
                raise ValueError("check_parallel needs fitted RelativeProjection objects.")
            return obj.anchor_ids_, obj.n_anchors_
        ids = np.asarray(obj)
        if ids.ndim != 1:
            raise ValueError(f"anchor ids must be a 1-D array; got shape {ids.shape}.")
        return ids, len(ids)

    ia, na = ids_of(a)
    ib, nb = ids_of(b)
    if na != nb:
        raise ValueError(f"anchors are not parallel: {na} anchors vs {nb} anchors.")
    if ia is None or ib is None:
        return
    diff = np.flatnonzero(ia.astype(str) != ib.astype(str))
    if diff.size:
        j = int(diff[0])
        raise ValueError(
            f"anchors are not parallel: {diff.size} of {na} anchor ids differ (first at position {j}: "
            f"{str(ia[j])!r} vs {str(ib[j])!r}); embed the same samples, in the same order, in both spaces."
        )
