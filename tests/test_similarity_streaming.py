"""Streaming CKA and ΔR: exact against the batch functions; minibatch CKA against Song et al.'s
unbiased HSIC written out by hand; small batches never give NaN; torchmetrics adapters."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from repgeo.coding import coding_rate_reduction
from repgeo.latent import linear_cka
from repgeo.latent.streaming import (
    StreamingCKA,
    StreamingRateReduction,
    torchmetrics_available,
    torchmetrics_cka,
)


def hsic_unbiased(K, L):
    """Song et al. (2012), eq. 5, written out with explicit zero-diagonal kernels."""
    n = len(K)
    K, L = K.copy(), L.copy()
    np.fill_diagonal(K, 0)
    np.fill_diagonal(L, 0)
    one = np.ones(n)
    return (
        np.trace(K @ L)
        + (one @ K @ one) * (one @ L @ one) / ((n - 1) * (n - 2))
        - 2 / (n - 2) * (one @ K @ L @ one)
    ) / (n * (n - 3))


def data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)) + 50.0  # a large mean: the shift must avoid cancellation
    return X, np.tanh(X @ rng.normal(size=(6, 4)) / 10) + 0.2 * rng.normal(size=(n, 4))


def test_full_estimator_is_exact_linear_cka_for_any_batching():
    X, Y = data()
    for sizes in ([300], [1] * 5 + [295], [7, 93, 100, 100]):
        acc, s = StreamingCKA(estimator="full"), 0
        for b in sizes:
            acc.update(X[s : s + b], Y[s : s + b])
            s += b
        assert acc.compute() == pytest.approx(linear_cka(X, Y), abs=1e-12)
        assert acc.n_samples_seen_ == 300


def test_minibatch_is_mean_unbiased_hsic():
    X, Y = data()
    acc = StreamingCKA()
    terms = np.zeros(3)
    for s in range(0, 300, 50):
        x, y = X[s : s + 50], Y[s : s + 50]
        acc.update(x, y)
        x, y = x - x.mean(0), y - y.mean(0)  # HSIC₁ is shift invariant; uncentred K cancels
        K, L = x @ x.T, y @ y.T
        terms += [hsic_unbiased(K, L), hsic_unbiased(K, K), hsic_unbiased(L, L)]
    assert acc.compute() == pytest.approx(terms[0] / np.sqrt(terms[1] * terms[2]), rel=1e-10)
    assert acc.n_batches_ == 6


def test_rbf_minibatch_against_hand_kernel():
    X, Y = data(n=60)
    acc = StreamingCKA(kernel="rbf", sigma=2.0).update(X[:30], Y[:30]).update(X[30:], Y[30:])

    def rbf(Z):
        d = ((Z[:, None] - Z[None]) ** 2).sum(-1)
        return np.exp(-d / (2 * 2.0**2))

    t = np.zeros(3)
    for sl in (slice(0, 30), slice(30, 60)):
        K, L = rbf(X[sl]), rbf(Y[sl])
        t += [hsic_unbiased(K, L), hsic_unbiased(K, K), hsic_unbiased(L, L)]
    assert acc.compute() == pytest.approx(t[0] / np.sqrt(t[1] * t[2]), rel=1e-10)


def test_small_batches_are_merged_not_nan():
    X, Y = data(n=40)
    acc = StreamingCKA()
    for s in range(0, 40, 3):  # batches of 3 (and a last one of 1)
        acc.update(X[s : s + 3], Y[s : s + 3])
        assert acc.n_dropped_ < 4
    v = acc.compute()
    assert np.isfinite(v) and acc.n_samples_seen_ + acc.n_dropped_ == 40
    one = StreamingCKA().update(X[:2], Y[:2])
    with pytest.raises(ValueError, match="held back"):
        one.compute()


def test_accumulator_contract():
    X, Y = data(n=50)
    acc = StreamingCKA(estimator="full")
    with pytest.raises(ValueError, match="no batch"):
        acc.compute()
    acc.update(X, Y)
    with pytest.raises(ValueError, match="widths"):
        acc.update(X[:, :3], Y)
    assert acc.fit(X[:20], Y[:20]).n_samples_seen_ == 20
    assert clone(acc).get_params() == {"estimator": "full", "kernel": "linear", "sigma": None}
    assert StreamingCKA.higher_is_better and StreamingRateReduction.higher_is_better
    assert acc.partial_fit(X[20:], Y[20:]).compute() == pytest.approx(linear_cka(X, Y), abs=1e-12)


def test_bad_input():
    X, Y = data(n=20)
    with pytest.raises(ValueError, match="sigma"):
        StreamingCKA(kernel="rbf").update(X, Y)
    with pytest.raises(ValueError, match="linear kernel only"):
        StreamingCKA(estimator="full", kernel="rbf", sigma=1.0).update(X, Y)
    with pytest.raises(ValueError, match="estimator"):
        StreamingCKA(estimator="exact").update(X, Y)
    with pytest.raises(ValueError, match="same number of samples"):
        StreamingCKA().update(X, Y[:-1])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        StreamingCKA().update(bad, Y)
    with pytest.raises(ValueError, match="undefined"):
        StreamingCKA(estimator="full").update(np.ones((10, 3)), Y[:10]).compute()
    with pytest.raises(TypeError, match="integer"):
        StreamingRateReduction().update(X, np.linspace(0, 1, 20))
    with pytest.raises(ValueError, match="eps2"):
        StreamingRateReduction(eps2=0.0).update(X, np.zeros(20, dtype=int))


def test_rate_reduction_is_exact():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(500, 10))
    y = rng.integers(0, 4, size=500)
    acc = StreamingRateReduction(eps2=0.3)
    for s in range(0, 500, 70):
        acc.update(torch.from_numpy(Z[s : s + 70]), y[s : s + 70])
    assert acc.compute() == pytest.approx(coding_rate_reduction(Z, y, eps2=0.3), abs=1e-10)
    np.testing.assert_array_equal(acc.classes_, [0, 1, 2, 3])


@pytest.mark.skipif(not torchmetrics_available(), reason="torchmetrics is not installed")
def test_torchmetrics_adapters():
    from repgeo.latent.streaming import CKAMetric, RateReductionMetric

    X, Y = (torch.from_numpy(a) for a in data())
    m, ref = CKAMetric(), StreamingCKA()
    for s in range(0, 300, 64):
        m.update(X[s : s + 64], Y[s : s + 64])
        ref.update(X[s : s + 64], Y[s : s + 64])
    assert float(m.compute()) == pytest.approx(ref.compute(), rel=1e-12)
    assert CKAMetric.higher_is_better and torchmetrics_cka() is CKAMetric
    y = torch.from_numpy(np.random.default_rng(2).integers(0, 3, size=300))
    r = RateReductionMetric(num_classes=3, num_features=6)
    for s in range(0, 300, 64):
        r.update(X[s : s + 64], y[s : s + 64])
    assert float(r.compute()) == pytest.approx(
        coding_rate_reduction(X.numpy(), y.numpy()), abs=1e-10
    )
    with pytest.raises(ValueError, match="labels must lie"):
        r.update(X[:4], torch.tensor([0, 1, 2, 3]))


def test_adapters_say_what_is_missing_without_torchmetrics():
    if torchmetrics_available():
        pytest.skip("torchmetrics is installed")
    with pytest.raises(ImportError, match="torchmetrics"):
        torchmetrics_cka()


def test_fit_starts_afresh_and_partial_fit_accumulates():
    X, Y = data(n=120)
    for kw in ({"estimator": "full"}, {}):
        acc = StreamingCKA(**kw)
        with pytest.raises(NotFittedError):
            acc.compute()
        for s in range(0, 120, 40):
            acc.partial_fit(X[s : s + 40], Y[s : s + 40])
        fresh = StreamingCKA(**kw).fit(X[:40], Y[:40])
        assert acc.fit(X[:40], Y[:40]).compute() == fresh.compute()  # fit forgot the rest
        assert acc.n_samples_seen_ == 40 and acc.n_features_in_ == 6
    assert StreamingCKA(estimator="full").fit(X, Y).compute() == pytest.approx(
        linear_cka(X, Y), abs=1e-12
    )
    # a 1-D y is one column
    one = StreamingCKA(estimator="full").fit(X, Y[:, 0]).compute()
    assert one == pytest.approx(linear_cka(X, Y[:, :1]), abs=1e-12)
    with pytest.raises(ValueError, match="y has 3 features, but StreamingCKA is expecting 4"):
        StreamingCKA().fit(X, Y).partial_fit(X, Y[:, :3])
    y = np.random.default_rng(3).integers(0, 3, size=120)
    rr = StreamingRateReduction()
    with pytest.raises(NotFittedError):
        rr.compute()
    rr.partial_fit(X[:60], y[:60]).update(X[60:], y[60:])  # update is partial_fit
    assert rr.compute() == pytest.approx(coding_rate_reduction(X, y), abs=1e-10)
    assert rr.fit(X[:60], y[:60]).n_samples_seen_ == 60 and rr.n_features_in_ == 6
    assert rr.compute() == pytest.approx(coding_rate_reduction(X[:60], y[:60]), abs=1e-10)
    with pytest.raises(ValueError, match="X has 5 features, but StreamingRateReduction"):
        rr.partial_fit(X[:, :5], y)
    with pytest.raises(ValueError, match="requires y"):
        rr.fit(X, None)
