"""SimHash (random-hyperplane LSH) of embeddings and collision curves.

Hashing a vector ``h`` with ``m`` random Gaussian hyperplanes, ``sign(R h)``, makes two vectors
at angle ``a`` agree on one bit with probability ``1 − a/π`` and on all ``m`` bits with
probability ``(1 − a/π)^m`` (Charikar 2002). If a network's embedding is a locality-sensitive
hash of the manifold identifier γ (Dikkala et al. 2021), then hashing the embedding should make
pairs collide as if γ itself had been hashed: collision rate ≈ (1 − ∠(γ_i, γ_j)/π)^m, and
same-manifold pairs (angle 0) collide with probability → 1.

References
----------
.. [1] M. Charikar. "Similarity estimation techniques from rounding algorithms." STOC (2002).
.. [2] N. Dikkala, G. Kaplun, R. Panigrahy. arXiv:2103.06875 (2021).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import chunk_rows, iter_chunks, to_numpy, to_torch
from .._validation import (
    check_array,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_random_state,
    torch_generator,
)
from .measures import sample_pairs

__all__ = ["SimHash", "collision_curve", "simhash_collision_probability"]


def simhash_collision_probability(angle: Any, n_bits: int) -> np.ndarray:
    """Probability ``(1 − angle/π)^n_bits`` that two vectors at ``angle`` share all bits.

    Parameters
    ----------
    angle : array_like
        Angles in radians, in [0, π].
    n_bits : int

    Returns
    -------
    ndarray of the shape of ``angle``

    Examples
    --------
    >>> import numpy as np
    >>> simhash_collision_probability([0.0, np.pi / 2, np.pi], 2).tolist()
    [1.0, 0.25, 0.0]
    """
    a = to_numpy(check_array(angle, name="angle", ndim=None, min_samples=0)).astype(np.float64)
    n_bits = check_positive_int(n_bits, "n_bits")
    if np.any(a < -1e-12) or np.any(a > np.pi + 1e-12):
        raise ValueError(f"angle must lie in [0, π]; got values in [{a.min()}, {a.max()}].")
    return np.clip(1.0 - a / np.pi, 0.0, 1.0) ** n_bits


class SimHash(TransformerMixin, BaseEstimator):
    """Random-hyperplane hash: ``code(h) = sign(R (h − μ)) ∈ {0, 1}^n_bits``.

    Parameters
    ----------
    n_bits : int, default=16
        Number of hyperplanes.
    center : bool, default=False
        Subtract the mean of the fitted data first (hyperplanes through the data's centre,
        useful for non-negative embeddings such as ReLU features).
    random_state : int, Generator or None, default=0
        Seeds the hyperplanes.

    Attributes
    ----------
    planes_ : Tensor of shape (n_bits, n_features)
        Rows drawn i.i.d. N(0, I).
    mean_ : Tensor of shape (n_features,)
        Zero unless ``center``.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [2.0, 0.1], [-1.0, 0.0]])
    >>> codes = SimHash(n_bits=32, random_state=0).fit_transform(X)
    >>> codes.shape, codes.dtype
    ((3, 32), dtype('bool'))
    >>> bool((codes[0] == codes[1]).mean() > 0.9), bool((codes[0] != codes[2]).all())
    (True, True)
    """

    def __init__(self, *, n_bits: int = 16, center: bool = False, random_state: Any = 0) -> None:
        self.n_bits = n_bits
        self.center = center
        self.random_state = random_state

    def __sklearn_tags__(self):  # scikit-learn >= 1.6
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # codes are booleans, whatever the input
        return tags

    def fit(self, X: Any, y: Any = None) -> SimHash:
        """Draw the hyperplanes for inputs of ``X``'s dimension (and the mean if ``center``)."""
        n_bits = check_positive_int(self.n_bits, "n_bits")
        X = check_array(X, name="X")
        Xt, _ = to_torch(X)
        g = torch_generator(self.random_state)
        self.planes_ = torch.randn(n_bits, Xt.shape[1], generator=g, dtype=torch.float64)
        if self.center:
            self.mean_ = Xt.to(torch.float64).mean(0).cpu()
        else:
            self.mean_ = torch.zeros(Xt.shape[1], dtype=torch.float64)
        self.n_features_in_ = int(Xt.shape[1])
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Boolean codes of shape (n_samples, n_bits) (True where ``R (x − μ) > 0``).

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        X = check_array(X, name="X")
        Xt, _ = to_torch(X)
        if Xt.shape[1] != self.planes_.shape[1]:
            raise ValueError(
                f"X has {Xt.shape[1]} features, but SimHash is expecting {self.planes_.shape[1]} "
                "features as input (as in fit)."
            )
        R = self.planes_.to(Xt.device, Xt.dtype)
        mu = self.mean_.to(Xt.device, Xt.dtype)
        out = np.empty((Xt.shape[0], R.shape[0]), dtype=bool)
        for sl in iter_chunks(
            Xt.shape[0], chunk_rows(8.0 * (Xt.shape[1] + R.shape[0]), maximum=1 << 16)
        ):
            z = Xt[sl] - mu
            # the signs do not change under a positive rescaling: an exact power of two keeps
            # the products of rows of magnitude 1e300 from overflowing (1e-300: underflowing)
            amax = float(z.abs().amax()) if z.numel() else 0.0
            if amax > 0 and math.isfinite(amax):
                z = z * math.ldexp(1.0, -max(math.frexp(amax)[1], -1000))
            out[sl] = to_numpy(z @ R.T > 0)
        return out

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)


def _angles(A: torch.Tensor, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    out = np.empty(i.size)
    tiny = torch.finfo(A.dtype).tiny
    for sl in iter_chunks(i.size, chunk_rows(24.0 * A.shape[1], maximum=1 << 18)):
        a, b = A[i[sl]], A[j[sl]]
        # rows divided by their largest entry first: norms neither overflow nor underflow
        a = a / a.abs().amax(1, keepdim=True).clamp_min(tiny)
        b = b / b.abs().amax(1, keepdim=True).clamp_min(tiny)
        cos = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(tiny)
        out[sl] = to_numpy(torch.arccos(cos.clamp(-1.0, 1.0)))
    return out


def collision_curve(
    Z: Any,
    *,
    reference: Any = None,
    y: Any = None,
    n_bits: int = 8,
    n_tables: int = 32,
    n_pairs: int = 20000,
    n_bins: int = 10,
    center: bool = True,
    random_state: Any = 0,
) -> dict[str, Any]:
    """Empirical SimHash collision rate of embedding pairs vs an angle, with the SimHash law.

    ``n_tables`` independent ``n_bits``-bit SimHashes of ``Z`` are drawn; a pair *collides* in a
    table when all its bits agree, and its collision rate is the fraction of tables in which
    it does. Pairs are binned by the angle between their ``reference`` vectors (e.g. the
    manifold identifiers γ); by default, by the angle between the (centred) embeddings
    themselves — in which case the curve must follow (1 − angle/π)^m up to sampling error.

    Parameters
    ----------
    Z : array_like of shape (n_samples, n_features)
        Embeddings to hash.
    reference : array_like of shape (n_samples, k), optional
        Per-sample vectors whose angles define the x-axis (γ of each sample). Taken as given
        (not centred).
    y : array_like of shape (n_samples,), optional
        Manifold labels. When given, half of the pairs are same-manifold pairs and their mean
        collision rate is reported as ``same_rate`` (a hash of the manifolds gives 1).
    n_bits : int, default=8
        Bits per table (m).
    n_tables : int, default=32
        Independent tables averaged per pair.
    n_pairs : int, default=20000
        Pairs of each kind.
    n_bins : int, default=10
        Equal-width angle bins over [0, π]; empty bins are dropped.
    center : bool, default=True
        Centre ``Z`` on its mean before hashing.
    random_state : int, Generator or None

    Returns
    -------
    dict
        ``angle`` (mean angle per bin), ``rate`` (mean collision rate), ``theory`` (mean of
        (1 − angle/π)^m over the bin's pairs), ``count`` (pairs per bin), ``n_bits``, and when
        ``y`` is given ``same_rate``, ``same_theory``, ``diff_rate``, ``diff_theory``.

    Examples
    --------
    Collisions of random vectors follow the SimHash law:

    >>> import numpy as np
    >>> Z = np.random.default_rng(0).normal(size=(400, 16))
    >>> c = collision_curve(Z, n_bits=4, n_tables=64, center=False)
    >>> bool(np.max(np.abs(c["rate"] - c["theory"])[c["count"] > 200]) < 0.03)
    True
    """
    Z = check_array(Z, name="Z", min_samples=2)
    n = Z.shape[0]
    n_bits = check_positive_int(n_bits, "n_bits")
    n_tables = check_positive_int(n_tables, "n_tables")
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    n_bins = check_positive_int(n_bins, "n_bins")
    center = bool(center)
    if reference is not None:
        reference = check_array(reference, name="reference", shape_hint="(n_samples, k)")
        check_consistent_length(Z, reference, names=["Z", "reference"])
    if y is not None:
        y = check_labels(y, n_samples=n)
    rng = check_random_state(random_state)

    # pairs: uniform over i != j, plus same-manifold pairs when labels are known
    a = rng.integers(0, n, size=n_pairs)
    b = rng.integers(0, n - 1, size=n_pairs)
    b = b + (b >= a)
    pi, pj = [a], [b]
    if y is not None:
        si, sj = sample_pairs(y, n_pairs, same=True, random_state=rng)
        pi.append(si)
        pj.append(sj)
    i, j = np.concatenate(pi), np.concatenate(pj)

    Zt, _ = to_torch(Z)
    Zt = Zt.to(torch.float64)
    hasher = SimHash(n_bits=n_bits * n_tables, center=center, random_state=rng).fit(Zt)
    rows = np.unique(np.concatenate([i, j]))
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(rows.size)
    codes = hasher.transform(Zt[torch.as_tensor(rows, device=Zt.device)]).reshape(
        rows.size, n_tables, n_bits
    )
    rate = np.empty(i.size)
    for sl in iter_chunks(i.size, chunk_rows(2.0 * n_tables * n_bits, maximum=1 << 18)):
        agree = (codes[pos[i[sl]]] == codes[pos[j[sl]]]).all(-1)  # (pairs, tables)
        rate[sl] = agree.mean(1)

    Zc = Zt - hasher.mean_.to(Zt.device)
    own_angle = _angles(Zc, i, j)
    theory_pair = simhash_collision_probability(own_angle, n_bits) if reference is None else None
    if reference is not None:
        R, _ = to_torch(reference)
        ref_angle = _angles(R.to(torch.float64), i, j)
        theory_pair = simhash_collision_probability(ref_angle, n_bits)
        x = ref_angle
    else:
        x = own_angle
    edges = np.linspace(0.0, np.pi, n_bins + 1)
    which = np.clip(np.digitize(x, edges) - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    keep = count > 0

    def bin_mean(v: np.ndarray) -> np.ndarray:
        return (np.bincount(which, weights=v, minlength=n_bins)[keep] / count[keep]).astype(
            np.float64
        )

    out: dict[str, Any] = {
        "angle": bin_mean(x),
        "rate": bin_mean(rate),
        "theory": bin_mean(theory_pair),
        "count": count[keep],
        "n_bits": n_bits,
    }
    if y is not None:
        same = y[i] == y[j]
        out["same_rate"] = float(rate[same].mean())
        out["same_theory"] = float(theory_pair[same].mean())
        if (~same).any():
            out["diff_rate"] = float(rate[~same].mean())
            out["diff_theory"] = float(theory_pair[~same].mean())
    return out
