"""Property-based tests (issue 11 item 10) over the public numeric functions of the coding,
dimension, latent-similarity and hashing modules.

Inputs are drawn with random shapes, magnitudes from 1e-300 to 1e300, duplicated rows,
constant columns, wholly constant (dead) spaces and tiny n. Two kinds of property:

* **honest outputs** — a function either raises a clear ``ValueError``/``TypeError`` or returns;
  a NaN or inf in what it returns comes with a warning;
* **promised invariances** — row permutation, rotation and isotropic scaling for CKA and the
  cosine relative representation; scale invariance for TwoNN, Levina–Bickel, the normalised
  coding rates, separation, effective rank and few-shot accuracy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from repgeo import coding, dimension  # noqa: E402
from repgeo.hashing import (  # noqa: E402
    SimHash,
    collision_curve,
    effective_rank,
    one_shot_accuracy,
    pair_similarities,
    ridge_r2,
    separation,
)
from repgeo.latent import (  # noqa: E402
    LatentAligner,
    cka,
    cka_from_gram,
    cross_space_similarity,
    hsic,
    median_bandwidth,
    relative_projection,
    similarity_matrix,
)

SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same examples on every run: a failure reproduces
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXPONENTS = st.sampled_from([-300, -150, -30, 0, 0, 30, 150, 300])


@st.composite
def clouds(draw: Any, min_n: int = 2, max_n: int = 30, max_d: int = 6) -> np.ndarray:
    """A point cloud with the awkward features real layers have: any magnitude, duplicated
    rows, constant columns, occasionally a wholly constant (dead) space."""
    n = draw(st.integers(min_n, max_n))
    d = draw(st.integers(1, max_d))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n, d))
    kind = draw(st.sampled_from(["plain", "plain", "duplicates", "constant_column", "dead"]))
    if kind == "duplicates" and n >= 4:
        X[: n // 3] = X[n - n // 3 :]
    elif kind == "constant_column":
        X[:, draw(st.integers(0, d - 1))] = rng.standard_normal()
    elif kind == "dead":
        X[:] = rng.standard_normal(d) * draw(st.sampled_from([0.0, 1.0]))
    return X * 10.0 ** draw(EXPONENTS)


def _nonfinite(out: Any) -> bool:
    if isinstance(out, dict):
        return any(_nonfinite(v) for v in out.values())
    if isinstance(out, (tuple, list)):
        return any(_nonfinite(v) for v in out if not isinstance(v, str))
    if isinstance(out, torch.Tensor):
        return bool(out.is_floating_point() and not torch.isfinite(out).all())
    if isinstance(out, np.ndarray):
        return out.dtype.kind == "f" and not bool(np.isfinite(out).all())
    if isinstance(out, float):
        return not math.isfinite(out)
    return False


def honest(fn: Callable[[], Any]) -> Any:
    """Run ``fn``: a clear error, or an output whose NaN/inf entries come with a warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn()
        except (ValueError, TypeError) as exc:
            assert str(exc), "errors must say what was expected"
            return None
    if _nonfinite(out):
        said = [w for w in caught if issubclass(w.category, (RuntimeWarning, UserWarning))]
        assert said, f"non-finite output without a warning: {out!r}"
    return out


def _labels(n: int, k: int = 2) -> np.ndarray:
    return np.arange(n) % k


# ----------------------------------------------------------------------------- honest outputs
@SETTINGS
@given(X=clouds(min_n=3))
def test_dimension_outputs_are_honest(X):
    n = X.shape[0]
    k = min(5, n - 1)
    honest(lambda: dimension.twonn(X))
    honest(lambda: dimension.twonn(X, method="mle"))
    honest(lambda: dimension.twonn_ratios(X))
    honest(lambda: dimension.levina_bickel(X, k))
    honest(lambda: dimension.levina_bickel(X, k, aggregate="mean"))
    honest(lambda: dimension.local_id(X, k))
    honest(lambda: dimension.local_id(X, k, method="twonn"))
    honest(lambda: dimension.TwoNN().fit(X).dimension_)
    honest(lambda: dimension.LevinaBickel(k=k).fit(X).dimension_)


@SETTINGS
@given(X=clouds(), normalize=st.booleans())
def test_coding_outputs_are_honest(X, normalize):
    y = _labels(X.shape[0], 3)
    honest(lambda: coding.coding_rate(X, normalize=normalize))
    honest(lambda: coding.compressed_coding_rate(X, y, normalize=normalize))
    honest(lambda: coding.coding_rate_reduction(X, y, normalize=normalize))
    honest(lambda: coding.CodingRateReduction(normalize=normalize).fit(X, y).delta_r_)
    W = np.full((X.shape[0], 2), 0.5)
    honest(lambda: coding.coding_rate_reduction(X, membership=W, normalize=normalize))
    P = honest(lambda: coding.doubly_stochastic_membership(X, eta=0.5, normalize=normalize))
    if P is not None and not _nonfinite(P):
        honest(lambda: coding.membership_clustering(P, 2))


@SETTINGS
@given(X=clouds(min_n=4), Y=clouds(min_n=4))
def test_similarity_outputs_are_honest(X, Y):
    n = min(X.shape[0], Y.shape[0])
    X, Y = X[:n], Y[:n]
    for kw in ({}, {"kernel": "rbf"}, {"unbiased": True}, {"kernel": "rbf", "unbiased": True}):
        honest(lambda kw=kw: cka(X, Y, **kw))
        honest(lambda kw=kw: hsic(X, Y, **kw))
    honest(lambda: cka_from_gram(X @ X.T, Y @ Y.T))
    honest(lambda: median_bandwidth(X))
    honest(lambda: similarity_matrix([X, Y]))
    Z = Y[:, :1].repeat(X.shape[1], axis=1) if Y.shape[1] else Y
    honest(lambda: cross_space_similarity(X, Z, k=min(3, n)))


@SETTINGS
@given(X=clouds(min_n=3), data=st.data())
def test_relative_and_alignment_outputs_are_honest(X, data):
    n = X.shape[0]
    A = X[: data.draw(st.integers(1, n))]
    for p in ("cosine", "inner", "basis", "euclidean", "l1", "angular"):
        for norm in ("none", "l2", "layernorm"):
            honest(
                lambda p=p, norm=norm: relative_projection(X, A, projection=p, normalization=norm)
            )
    honest(lambda: relative_projection(X, A, transforms=("center", "standard", "l2")))
    Y = data.draw(clouds(min_n=n, max_n=n))
    for method in ("orthogonal", "affine", "lstsq_ortho"):
        for scale in (True, False):
            honest(lambda m=method, s=scale: LatentAligner(method=m, scale=s).fit(X, Y).residual_)


@SETTINGS
@given(X=clouds(min_n=12, max_n=30))
def test_hashing_outputs_are_honest(X):
    n = X.shape[0]
    y = _labels(n, 3)
    honest(lambda: separation(X, y, n_pairs=200))
    honest(lambda: pair_similarities(X, y, n_pairs=200))
    honest(lambda: effective_rank(X))
    honest(lambda: effective_rank(X, center=False))
    for metric in ("cosine", "euclidean"):
        honest(
            lambda m=metric: one_shot_accuracy(X, y, n_way=3, n_query=2, n_episodes=20, metric=m)
        )
    honest(lambda: SimHash(n_bits=8).fit_transform(X))
    honest(lambda: collision_curve(X, y=y, n_pairs=100, n_tables=4))
    honest(lambda: ridge_r2(X, X[:, 0] * 2.0 + 1.0))


# ----------------------------------------------------------------------------- invariances
def _rotation(d: int, seed: int) -> np.ndarray:
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0]


def _close(a: float, b: float, rel: float = 1e-6) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=rel, abs=1e-9)


@SETTINGS
@given(
    X=clouds(min_n=5, max_n=40),
    data=st.data(),
    exponent=EXPONENTS,
    seed=st.integers(0, 2**16),
)
def test_cka_invariances(X, data, exponent, seed):
    """CKA is invariant to a shared row permutation, to rotating either space and to scaling
    either space isotropically, at any magnitude."""
    n = X.shape[0]
    Y = data.draw(clouds(min_n=n, max_n=n))
    perm = np.random.default_rng(seed).permutation(n)
    Q = _rotation(X.shape[1], seed)
    s = 10.0**exponent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # constant spaces: NaN with a warning
        for kw in ({}, {"kernel": "rbf"}, {"unbiased": True}):
            base = cka(X, Y, **kw)
            assert _close(cka(X[perm], Y[perm], **kw), base), kw
            assert _close(cka(X @ Q, Y, **kw), base), kw
            amax = np.abs(X).max()
            if amax == 0 or 1e-300 < amax * s < 1e300:
                assert _close(cka(X * s, Y, **kw), base), kw


@SETTINGS
@given(X=clouds(min_n=3), exponent=EXPONENTS, seed=st.integers(0, 2**16))
def test_cosine_relative_representation_invariances(X, exponent, seed):
    """R = cos(x_i, a_j) is unchanged when the space is rotated and scaled isotropically, and
    its rows follow a permutation of the inputs."""
    A = X[: max(1, X.shape[0] // 2)]
    Q = _rotation(X.shape[1], seed)
    s = 10.0**exponent
    if not 1e-300 < np.abs(X).max() * s < 1e300:
        return
    R = relative_projection(X, A)
    np.testing.assert_allclose(relative_projection(s * X @ Q, s * A @ Q), R, atol=1e-9)
    perm = np.random.default_rng(seed).permutation(X.shape[0])
    np.testing.assert_allclose(relative_projection(X[perm], A), R[perm], atol=1e-12)


@SETTINGS
@given(X=clouds(min_n=8, max_n=40), exponent=EXPONENTS)
def test_scale_free_statistics_ignore_scale(X, exponent):
    """TwoNN, Levina–Bickel, normalised coding rates, separation, effective rank and few-shot
    accuracy depend on the shape of the point cloud only."""
    s = 10.0**exponent
    amax = np.abs(X).max()
    if amax == 0 or not 1e-300 < amax * s < 1e300:
        return
    Xs = X * s
    y = _labels(X.shape[0], 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs: list[tuple[Callable[[np.ndarray], Any], float]] = [
            (lambda A: dimension.twonn(A), 1e-6),
            (lambda A: dimension.levina_bickel(A, 4), 1e-6),
            (lambda A: coding.coding_rate(A), 1e-9),
            (lambda A: coding.coding_rate_reduction(A, y), 1e-7),
            (lambda A: separation(A, y, n_pairs=100)["auroc"], 1e-12),
            (lambda A: separation(A, y, n_pairs=100)["within_between_ratio"], 1e-9),
            (lambda A: effective_rank(A), 1e-9),
            (lambda A: one_shot_accuracy(A, y, n_way=3, n_query=1, n_episodes=20)["mean"], 0),
        ]
        for f, rel in pairs:
            try:
                a = f(X)
            except ValueError:  # e.g. too few distinct points: the same refusal at any scale
                with pytest.raises(ValueError):
                    f(Xs)
                continue
            b = f(Xs)
            assert _close(b, a, rel=rel) if rel else b == a
