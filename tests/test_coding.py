"""Coding rate / MCR²: closed forms, the m < d identity, ΔR ≥ 0, subspace geometry, MLC, bad input."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
import torch

from repgeo._backend import memory_budget
from repgeo.coding import (
    CodingRateReduction,
    ManifoldClustering,
    clustering_accuracy,
    coding_rate,
    coding_rate_reduction,
    compressed_coding_rate,
    doubly_stochastic_membership,
    membership_clustering,
)


def _unit(Z: np.ndarray) -> np.ndarray:
    return Z / np.linalg.norm(Z, axis=1, keepdims=True)


def _direct_rate(Z: np.ndarray, eps2: float) -> float:
    """½ logdet(I_d + d/(m ε²) ZᵀZ) on the d × d side, straight from the definition."""
    m, d = Z.shape
    Zn = _unit(Z)
    return 0.5 * np.linalg.slogdet(np.eye(d) + d / (m * eps2) * Zn.T @ Zn)[1]


def _direct_rate_c(Z: np.ndarray, y: np.ndarray, eps2: float) -> float:
    m, d = Z.shape
    Zn = _unit(Z)
    total = 0.0
    for c in np.unique(y):
        Zc = Zn[y == c]
        mc = len(Zc)
        total += mc / (2 * m) * np.linalg.slogdet(np.eye(d) + d / (mc * eps2) * Zc.T @ Zc)[1]
    return total


# ----------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("eps2", [0.1, 0.5, 2.0])
def test_closed_form_orthonormal_groups(eps2):
    # group j = n_j copies of the basis vector e_j: ZᵀZ = diag(n_j) on the span
    counts = np.array([3, 5, 8])
    d = 6
    Z = np.repeat(np.eye(d)[:3], counts, axis=0) * 2.5  # scale is removed by normalisation
    y = np.repeat([0, 1, 2], counts)
    m = counts.sum()
    R = 0.5 * np.sum(np.log1p(d * counts / (m * eps2)))
    Rc = np.sum(counts / (2 * m) * np.log1p(d / eps2))
    assert coding_rate(Z, eps2=eps2) == pytest.approx(R, rel=1e-12)
    assert compressed_coding_rate(Z, y, eps2=eps2) == pytest.approx(Rc, rel=1e-12)
    assert coding_rate_reduction(Z, y, eps2=eps2) == pytest.approx(R - Rc, rel=1e-12)


def test_single_direction_gives_zero_reduction():
    Z = np.tile([[1.0, 2.0, -1.0]], (12, 1))
    y = np.repeat([0, 1, 2], 4)
    assert coding_rate_reduction(Z, y) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- m < d identity
@pytest.mark.parametrize("m,d", [(10, 60), (60, 10), (40, 40)])
def test_small_side_identity_matches_direct_formula(m, d):
    rng = np.random.default_rng(m * d)
    Z = rng.standard_normal((m, d))
    y = rng.integers(0, 3, m)
    for eps2 in (0.05, 0.5):
        assert coding_rate(Z, eps2=eps2) == pytest.approx(_direct_rate(Z, eps2), rel=1e-10)
        assert compressed_coding_rate(Z, y, eps2=eps2) == pytest.approx(
            _direct_rate_c(Z, y, eps2), rel=1e-10
        )


def test_chunked_gram_matches_direct():
    rng = np.random.default_rng(11)
    Z = rng.standard_normal((3000, 16))
    y = np.random.default_rng(12).integers(0, 40, 3000)  # classes of ~75 > d and some < d
    y[:5] = 99  # one class smaller than d (dual side)
    with memory_budget(4096):  # forces many small chunks / one class per batch
        r = coding_rate(Z)
        rc = compressed_coding_rate(Z, y)
    assert r == pytest.approx(_direct_rate(Z, 0.5), rel=1e-10)
    assert rc == pytest.approx(_direct_rate_c(Z, y, 0.5), rel=1e-10)
    Zw = np.random.default_rng(13).standard_normal((60, 100))  # all classes < d: batched dual side
    yw = np.random.default_rng(14).integers(0, 7, 60)
    with memory_budget(200_000):
        rc_small_budget = compressed_coding_rate(Zw, yw)
    assert rc_small_budget == pytest.approx(_direct_rate_c(Zw, yw, 0.5), rel=1e-10)
    assert compressed_coding_rate(Zw, yw) == pytest.approx(rc_small_budget, rel=1e-12)


# ----------------------------------------------------------------------------- ΔR properties
@pytest.mark.parametrize("seed", range(6))
def test_delta_r_nonnegative_random(seed):
    rng = np.random.default_rng(seed)
    m, d = int(rng.integers(5, 80)), int(rng.integers(2, 40))
    Z = rng.standard_normal((m, d))
    y = rng.integers(0, int(rng.integers(1, 6)), m)
    assert coding_rate_reduction(Z, y, eps2=float(rng.uniform(0.05, 2))) >= -1e-12
    W = rng.dirichlet(np.ones(4), size=m)
    assert coding_rate_reduction(Z, membership=W) >= -1e-12


def _subspace_samples(bases, n, rng):
    return np.vstack([rng.standard_normal((n, B.shape[1])) @ B.T for B in bases])


def test_orthogonal_subspaces_beat_coincident():
    rng = np.random.default_rng(12)
    D, k, C, n = 24, 4, 3, 200
    Q = np.linalg.qr(rng.standard_normal((D, D)))[0]
    y = np.repeat(np.arange(C), n)
    orth = _subspace_samples([Q[:, k * c : k * (c + 1)] for c in range(C)], n, rng)
    same = _subspace_samples([Q[:, :k]] * C, n, rng)
    # partially overlapping: each class shares 2 of its 4 directions with a common subspace
    part = _subspace_samples(
        [np.c_[Q[:, :2], Q[:, 2 + 2 * c : 4 + 2 * c]] for c in range(C)], n, rng
    )
    dr_orth, dr_part, dr_same = (coding_rate_reduction(Z, y) for Z in (orth, part, same))
    assert dr_orth > dr_part > dr_same >= 0
    assert dr_same < 0.05 * dr_orth  # identical class distributions: only sampling noise
    # orthogonal classes: R_c is unchanged by merging spans, R grows with the joint span
    assert dr_orth > 1.0


def test_invariances():
    rng = np.random.default_rng(13)
    Z = rng.standard_normal((90, 12))
    y = rng.integers(0, 4, 90)
    base = coding_rate_reduction(Z, y)
    Q = np.linalg.qr(rng.standard_normal((12, 12)))[0]
    scale = rng.uniform(0.1, 10, (90, 1))
    perm = rng.permutation(90)
    relabel = np.array([7, -3, 12, 0])[y]
    assert coding_rate_reduction(Z @ Q, y) == pytest.approx(base, rel=1e-10)
    assert coding_rate_reduction(Z * scale, y) == pytest.approx(base, rel=1e-10)
    assert coding_rate_reduction(Z[perm], y[perm]) == pytest.approx(base, rel=1e-10)
    assert coding_rate_reduction(Z, relabel) == pytest.approx(base, rel=1e-10)


def test_normalize_false_uses_raw_rows():
    rng = np.random.default_rng(14)
    Z = rng.standard_normal((30, 5))
    m, d = Z.shape
    direct = 0.5 * np.linalg.slogdet(np.eye(d) + d / (m * 0.5) * Z.T @ Z)[1]
    assert coding_rate(Z, normalize=False) == pytest.approx(direct, rel=1e-10)
    assert coding_rate(3 * Z, normalize=False) > coding_rate(Z, normalize=False)


@pytest.mark.parametrize("m,d", [(40, 8), (12, 30)])
def test_one_hot_membership_equals_labels(m, d):
    rng = np.random.default_rng(m + d)
    Z = rng.standard_normal((m, d))
    y = rng.integers(0, 3, m)
    W = np.eye(3)[y]
    assert compressed_coding_rate(Z, membership=W) == pytest.approx(
        compressed_coding_rate(Z, y), rel=1e-10
    )


def test_block_uniform_mlc_membership_equals_labels():
    # Π_ij = 1/n_c within class c: MLC's n "soft groups" reproduce the supervised R_c exactly
    rng = np.random.default_rng(15)
    y = np.repeat([0, 1, 2], [5, 9, 6])
    Z = rng.standard_normal((len(y), 7))
    Pi = (y[:, None] == y[None, :]) / np.bincount(y)[y][:, None]
    assert np.allclose(Pi.sum(1), 1)
    assert coding_rate_reduction(Z, membership=Pi) == pytest.approx(
        coding_rate_reduction(Z, y), rel=1e-10
    )


def test_torch_input_and_float32():
    rng = np.random.default_rng(16)
    Z = rng.standard_normal((50, 20)).astype(np.float32)
    y = rng.integers(0, 3, 50)
    ref = coding_rate_reduction(Z.astype(np.float64), y)
    assert coding_rate_reduction(torch.from_numpy(Z), torch.from_numpy(y)) == pytest.approx(
        ref, rel=1e-6
    )
    assert coding_rate_reduction(Z, y) == pytest.approx(ref, rel=1e-6)


def test_zero_rows_warn():
    Z = np.vstack([np.eye(3), np.zeros((1, 3))])
    with pytest.warns(UserWarning, match="all-zero row"):
        r = coding_rate(Z)
    # the zero row stays zero but still counts in m: R = ½ logdet(I_3 + 3/(4·0.5) I_3)
    assert r == pytest.approx(1.5 * np.log(1 + 3 / (4 * 0.5)), rel=1e-12)


# ----------------------------------------------------------------------------- k-means, wrapper
def test_kmeans_clusters_and_wrapper():
    rng = np.random.default_rng(17)
    Q = np.linalg.qr(rng.standard_normal((10, 10)))[0]
    centres = Q[:3]
    y = np.repeat([0, 1, 2], 40)
    Z = centres[y] + 0.05 * rng.standard_normal((120, 10))
    dr_km = coding_rate_reduction(Z, n_clusters=3, random_state=0)
    assert dr_km == pytest.approx(coding_rate_reduction(Z, y), rel=1e-10)  # k-means recovers y
    crr = CodingRateReduction(n_clusters=3, random_state=0).fit(Z)
    assert CodingRateReduction.higher_is_better is True
    assert clustering_accuracy(y, crr.labels_) == 1.0
    assert crr.delta_r_ == pytest.approx(crr.coding_rate_ - crr.compressed_coding_rate_)
    sup = CodingRateReduction().fit(Z, y)
    assert sup.delta_r_ == pytest.approx(dr_km, rel=1e-10)
    assert CodingRateReduction().score(Z, y) == pytest.approx(sup.delta_r_)
    with pytest.raises(ValueError, match="labels y or n_clusters"):
        CodingRateReduction().fit(Z)


# ----------------------------------------------------------------------------- MLC membership
def _sinkhorn_knopp(K: np.ndarray, iters: int = 5000) -> np.ndarray:
    """Plain alternating row/column scaling (independent of the symmetric log-domain solver)."""
    P = K.copy()
    for _ in range(iters):
        P /= P.sum(1, keepdims=True)
        P /= P.sum(0, keepdims=True)
    return P


def test_membership_is_the_unique_doubly_stochastic_scaling():
    rng = np.random.default_rng(18)
    C = rng.standard_normal((40, 6))
    eta = 0.3
    P = doubly_stochastic_membership(C, eta=eta, tol=1e-10)
    Cn = _unit(C)
    K = np.exp(np.abs(Cn @ Cn.T) / eta)
    np.testing.assert_allclose(P, _sinkhorn_knopp(K), atol=1e-8)
    np.testing.assert_allclose(P.sum(0), 1, atol=1e-9)
    np.testing.assert_allclose(P, P.T, atol=1e-14)
    # Π = diag(u) K diag(u): log Π − log K has the additive form a_i + a_j
    L = np.log(P) - np.log(K)
    a = np.diag(L) / 2
    np.testing.assert_allclose(L, a[:, None] + a[None, :], atol=1e-8)


def test_membership_keeps_tensor_kind():
    C = torch.randn(20, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float32)
    P = doubly_stochastic_membership(C)
    assert isinstance(P, torch.Tensor) and P.dtype == torch.float32 and P.shape == (20, 20)


def _union_of_curves(rng, n_classes=4, n=80, D=30, noise=0.02):
    """Closed curves t ↦ (cos t, sin t, ½cos 2t, ½sin 2t) in random 4-D subspaces of R^D."""
    Z = []
    for _ in range(n_classes):
        t = rng.uniform(0, 2 * np.pi, n)
        U = np.linalg.qr(rng.standard_normal((D, 4)))[0]
        Z.append(np.c_[np.cos(t), np.sin(t), 0.5 * np.cos(2 * t), 0.5 * np.sin(2 * t)] @ U.T)
    return np.vstack(Z) + noise * rng.standard_normal((n_classes * n, D)), np.repeat(
        np.arange(n_classes), n
    )


def test_mlc_clusters_union_of_manifolds():
    rng = np.random.default_rng(19)
    Z, y = _union_of_curves(rng)
    mc = ManifoldClustering(n_clusters=4, eta=0.05, random_state=0).fit(Z)
    assert clustering_accuracy(y, mc.labels_) >= 0.98
    assert mc.delta_r_ > 0
    np.testing.assert_array_equal(mc.fit_predict(Z), mc.labels_)
    # the curves pass through common directions, so centroid-based k-means on the sphere fails
    km = CodingRateReduction(n_clusters=4, random_state=0).fit(Z)
    assert clustering_accuracy(y, km.labels_) < 0.8


def test_membership_clustering_on_blocks():
    P = np.kron(np.eye(3), np.full((4, 4), 0.25))
    labels = membership_clustering(P, 3, random_state=0)
    assert clustering_accuracy(np.repeat([0, 1, 2], 4), labels) == 1.0


# ----------------------------------------------------------------------------- clustering accuracy
def test_clustering_accuracy_brute_force():
    rng = np.random.default_rng(20)
    for _ in range(5):
        a = rng.integers(0, 3, 30)
        b = rng.integers(0, 3, 30)
        best = max(np.mean(np.array(p)[b] == a) for p in itertools.permutations(range(3)))
        assert clustering_accuracy(a, b) == pytest.approx(best)
    assert clustering_accuracy([1, 1, 2, 2], [8, 8, 3, 3]) == 1.0


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_rates():
    Z = np.random.default_rng(0).standard_normal((10, 4))
    y = np.repeat([0, 1], 5)
    bad = Z.copy()
    bad[0, 0] = np.nan
    for fn in (
        coding_rate,
        lambda A: coding_rate_reduction(A, y),
        lambda A: compressed_coding_rate(A, y),
    ):
        with pytest.raises(ValueError, match="NaN"):
            fn(bad)
        with pytest.raises(ValueError, match="2-D"):
            fn(Z[:, 0])
        with pytest.raises(ValueError, match="at least 1 sample"):
            fn(np.empty((0, 4)))
        with pytest.raises(TypeError, match="real-valued"):
            fn(Z.astype(complex))
    with pytest.raises(ValueError, match="10 entries"):
        coding_rate_reduction(Z, y[:7])
    with pytest.raises(TypeError, match="integer class labels"):
        coding_rate_reduction(Z, y + 0.5)
    with pytest.raises(ValueError, match="eps2 must be > 0"):
        coding_rate(Z, eps2=0.0)
    with pytest.raises(TypeError, match="eps2"):
        coding_rate(Z, eps2="0.5")
    with pytest.raises(ValueError, match="exactly one"):
        coding_rate_reduction(Z)
    with pytest.raises(ValueError, match="exactly one"):
        coding_rate_reduction(Z, y, n_clusters=2)
    with pytest.raises(ValueError, match="exactly one"):
        compressed_coding_rate(Z)
    with pytest.raises(ValueError, match="n_clusters must be <= n_samples"):
        coding_rate_reduction(Z, n_clusters=11)
    with pytest.raises(ValueError, match="n_clusters must be >= 1"):
        coding_rate_reduction(Z, n_clusters=0)


def test_bad_membership():
    Z = np.random.default_rng(0).standard_normal((6, 3))
    with pytest.raises(ValueError, match="one row per sample"):
        compressed_coding_rate(Z, membership=np.full((5, 2), 0.5))
    with pytest.raises(ValueError, match="non-negative"):
        compressed_coding_rate(Z, membership=np.tile([[1.5, -0.5]], (6, 1)))
    with pytest.raises(ValueError, match="sum to 1"):
        compressed_coding_rate(Z, membership=np.full((6, 2), 0.4))
    with pytest.raises(ValueError, match="square"):
        membership_clustering(np.ones((4, 3)) / 3, 2)
    with pytest.raises(ValueError, match="symmetric"):
        membership_clustering(np.array([[0.5, 0.5], [0.2, 0.8]]), 2)
    with pytest.raises(ValueError, match="n_clusters must be <= 2"):
        membership_clustering(np.eye(2), 3)
    with pytest.raises(ValueError, match="eta must be > 0"):
        doubly_stochastic_membership(Z, eta=0)
    with pytest.raises(ValueError, match="at least 2 sample"):
        doubly_stochastic_membership(Z[:1])
    with memory_budget(10_000), pytest.raises(ValueError, match="memory budget"):
        doubly_stochastic_membership(np.random.default_rng(0).standard_normal((100, 3)))
    nan = np.random.default_rng(0).standard_normal((8, 3))
    nan[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        doubly_stochastic_membership(nan)
    with pytest.raises(ValueError, match="NaN"):
        membership_clustering(np.full((3, 3), np.nan), 2)
    with pytest.raises(ValueError, match="NaN"):
        ManifoldClustering(n_clusters=2).fit(nan)
    with pytest.raises(ValueError, match="n_clusters must be <= 6"):
        ManifoldClustering(n_clusters=7).fit(Z)
    with pytest.raises(TypeError, match="n_clusters"):
        ManifoldClustering(n_clusters=2.0).fit(Z)
    with pytest.raises(ValueError, match="same length"):
        clustering_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        clustering_accuracy([0, np.nan], [0, 1])


def test_sinkhorn_non_convergence_warns():
    C = np.random.default_rng(0).standard_normal((30, 3))
    with pytest.warns(RuntimeWarning, match="did not reach"):
        doubly_stochastic_membership(C, eta=0.01, max_iter=2, tol=1e-12)


# ----------------------------------------------------------------------------- issue 11
@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e200, 1e300])
def test_normalised_rates_do_not_depend_on_magnitude(scale):
    """Issue 11 item 9: with unit rows the rates are scale-free (main: off by 2.7–9.6 nats at
    1e±300, norms overflowed or underflowed)."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 10))
    y = np.repeat(np.arange(4), 50)
    assert coding_rate(Z * scale) == pytest.approx(coding_rate(Z), rel=1e-12)
    assert coding_rate_reduction(Z * scale, y) == pytest.approx(
        coding_rate_reduction(Z, y), rel=1e-10
    )
    assert compressed_coding_rate(Z[:8] * scale, y[:8]) == pytest.approx(
        compressed_coding_rate(Z[:8], y[:8]), rel=1e-12
    )


def test_unnormalised_rate_of_huge_data_is_exact():
    """normalize=False: ``R(sZ) = ½ Σ log(1 + c s² λ_i)`` stays finite and exact at s = 1e300
    (main: inf), on both sides of the determinant identity."""
    rng = np.random.default_rng(1)
    for m, d in ((200, 10), (8, 10)):
        Z = rng.normal(size=(m, d))
        lam = np.linalg.eigvalsh(Z.T @ Z)
        c = d / (m * 0.5)
        expected = 0.5 * np.sum(np.log(c * lam[lam > 1e-12]) + 2 * np.log(1e300))
        assert coding_rate(Z * 1e300, normalize=False) == pytest.approx(expected, rel=1e-12)


def test_half_precision_inputs():
    """Issue 11 item 9: float16/bfloat16 tensors reach the float64 Cholesky paths; soft
    memberships given in half precision are accepted to that precision (main: refused)."""
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(60, 8))
    y = np.repeat([0, 1, 2], 20)
    for dt in (torch.float16, torch.bfloat16):
        Zt = torch.tensor(Z, dtype=dt)
        ref = coding_rate_reduction(Zt.double(), y)
        assert coding_rate_reduction(Zt, y) == pytest.approx(ref, rel=1e-12)
        W = torch.full((60, 3), 1 / 3, dtype=dt)  # every group = the whole set: ΔR = 0
        assert abs(coding_rate_reduction(Zt, membership=W)) < 1e-12
        mc = ManifoldClustering(n_clusters=3).fit(Zt)
        assert np.isfinite(mc.delta_r_)


def test_fit_diagnostics_travel_with_the_estimators():
    """Issue 11 item 11: zero rows and an unconverged Sinkhorn are kept on the estimators."""
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(40, 5))
    Z[:3] = 0.0
    y = np.repeat([0, 1], 20)
    with pytest.warns(UserWarning, match="all-zero"):
        crr = CodingRateReduction().fit(Z, y)
    assert crr.n_zero_rows_ == 3 and "3 all-zero" in crr.warnings_[0]
    assert CodingRateReduction().fit(Z[3:], y[3:]).warnings_ == []
    mc = ManifoldClustering(n_clusters=2, eta=0.5).fit(Z[3:])
    assert mc.converged_ and mc.n_iter_ >= 1 and mc.warnings_ == []


@pytest.mark.parametrize("normalize", [True, False])
def test_numpy_and_torch_paths_agree(monkeypatch, normalize):
    """Small CPU inputs take the NumPy path (issue 14 item 8: no per-operation thread-pool cost);
    the torch path (large or GPU inputs) must give the same numbers."""
    import repgeo.coding as coding_module

    rng = np.random.default_rng(21)
    cases = []
    for m, d, k, scale in (
        (300, 16, 5, 1.0),
        (40, 64, 6, 1.0),
        (200, 10, 3, 1e300),
        (30, 8, 30, 1e-300),
    ):
        Z = rng.standard_normal((m, d)) * scale
        Z[:2] = 0.0
        cases.append((Z, rng.integers(0, k, m)))

    def values():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the zero rows
            return [
                (
                    coding_rate(Z, normalize=normalize),
                    coding_rate_reduction(Z, y, normalize=normalize),
                )
                for Z, y in cases
            ]

    fast = values()
    monkeypatch.setattr(coding_module, "_SMALL", 0)
    slow = values()
    np.testing.assert_allclose(np.array(fast), np.array(slow), rtol=1e-10, atol=1e-12)
