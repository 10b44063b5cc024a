"""repgeo.diffusion, issue 11: defaults and edge cases that used to return a wrong number silently.

Disconnected graphs (every spectral method), the heat-geodesic time unit (self-loops), DSMI's
subset spread and labels, extreme scales and the validation of the public helpers. Each test
states the independent reference it checks against.
"""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
import scipy.linalg
from scipy.spatial.distance import cdist

from repgeo.data import swiss_roll
from repgeo.diffusion import (
    PHATE,
    DisconnectedGraphWarning,
    HeatGeodesic,
    SaturationWarning,
    build_graph,
    chebyshev_order,
    diffusion_map,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    euclidean_distances,
    heat_entropy_curve,
    heat_geodesic_distances,
    kneedle,
    phate_potential_distances,
    select_t,
    von_neumann_entropy,
)


def _blobs(sizes, offset=60.0, seed=0, dim=2):
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(size=(m, dim)) + offset * i for i, m in enumerate(sizes)])


def _quiet_graph(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisconnectedGraphWarning)
        return build_graph(X, **kw)


# ----------------------------------------------------------------------------- item 5: components
def _brute_diffusion_distance(W, t, alpha):
    """``D_t(i, j)² = Σ_z (P^t_iz − P^t_jz)² / π_z`` from the dense kernel (no eigenvectors)."""
    q = W.sum(1)
    Wa = W / np.outer(q**alpha, q**alpha)
    d = Wa.sum(1)
    Pt = np.linalg.matrix_power(Wa / d[:, None], int(t))
    pi = d / d.sum()
    return np.sqrt(((Pt[:, None, :] - Pt[None, :, :]) ** 2 / pi).sum(-1)), Wa, d


@pytest.mark.parametrize(
    ("t", "alpha", "kernel"), [(2.0, 1.0, "alpha"), (1.0, 0.0, "alpha"), (2.0, 0.5, "gaussian")]
)
def test_diffusion_map_on_disconnected_graph_gives_diffusion_distances(t, alpha, kernel):
    # three clusters and a far point: 3 components with the alpha kernel (the far point joins its
    # k neighbours), 4 with a Gaussian kernel (an isolated point with its self-loop). main
    # returned NaN, inf or arbitrary numbers here
    X = np.vstack([_blobs([15, 12, 10]), [[500.0, 500.0]]])
    kw = {"kernel": "gaussian", "bandwidth": 3.0, "threshold": 1e-8} if kernel == "gaussian" else {}
    g = _quiet_graph(X, k=4, self_loops=True, **kw)
    c_n = 4 if kernel == "gaussian" else 3
    assert g.n_components == c_n
    n = g.n
    psi = np.asarray(diffusion_map(g, n - 2, t=t, alpha=alpha))
    assert np.isfinite(psi).all()
    D_true, Wa, d = _brute_diffusion_distance(g.to_scipy().toarray(), t, alpha)
    # n - 2 coordinates hold every non-trivial eigenpair but the one of smallest |λ|; add its
    # (tiny) term from a dense eigendecomposition of the symmetric form
    S = Wa / np.sqrt(np.outer(d, d))
    lam, U = np.linalg.eigh(S)
    j = np.argmin(np.abs(lam))
    psi_min = U[:, j] * np.sqrt(d.sum() / d)
    missing = np.abs(lam[j]) ** (2 * t) * (psi_min[:, None] - psi_min[None, :]) ** 2
    D_map = cdist(psi, psi)
    np.testing.assert_allclose(D_map**2 + missing, D_true**2, atol=1e-9 * D_true.max() ** 2)
    # the c - 1 leading coordinates (eigenvalue 1) are constant on each component
    labels = g.component_labels
    for c in range(c_n):
        block = psi[labels == c, : c_n - 1]
        assert np.ptp(block, axis=0).max() < 1e-9


def test_diffusion_map_separates_five_components():
    X = _blobs([60, 60, 60, 60, 60])  # 5 components, the MiniLM case: main gave all-NaN here
    g = _quiet_graph(X, k=5)
    psi = np.asarray(diffusion_map(g, 4))
    assert psi.shape == (300, 4) and np.isfinite(psi).all()
    # the c - 1 = 4 eigenvalue-1 coordinates separate the clusters
    labels = g.component_labels
    means = np.stack([psi[labels == c].mean(0) for c in range(5)])
    assert cdist(means, means)[np.triu_indices(5, 1)].min() > 0.1


def test_heat_geodesics_on_disconnected_graph_equal_per_component_values():
    X = _blobs([40, 30])
    g = _quiet_graph(X, k=5)
    alone = build_graph(X[:40], k=5)
    D, info = heat_geodesic_distances(g, 4.0, rows=[0, 7], method="exact", return_info=True)
    Da = heat_geodesic_distances(alone, 4.0, rows=[0, 7], method="exact")
    # normalised Laplacian of a block-diagonal graph is block diagonal: same heat kernel
    np.testing.assert_allclose(D[:, :40], Da, rtol=1e-9)
    assert np.all(D[:, 40:] == info["saturated_distance"][0])
    assert info["saturated_connected_fraction"] == 0.0 and info["warnings"] == []
    assert info["saturated_fraction"] == pytest.approx(30 / 70)
    # the Chebyshev backend and the automatic t work too
    Dc = heat_geodesic_distances(g, 4.0, rows=[0, 7])
    np.testing.assert_allclose(Dc[:, :40], Da, rtol=1e-7)
    t, _, _ = select_t(g)
    assert np.isfinite(t) and t > 0
    Y = HeatGeodesic(t=4.0).fit_transform(X)
    assert np.isfinite(Y).all()


def test_phate_on_disconnected_graph_equals_per_component_potential():
    X = _blobs([40, 30])
    g = _quiet_graph(X, k=5, self_loops=True)
    alone = build_graph(X[:40], k=5, self_loops=True)
    D = phate_potential_distances(g, 5, rows=[0, 9])
    Da = phate_potential_distances(alone, 5, rows=[0, 9])
    # P^t is block diagonal; the other block adds the same constant -log(1e-7) to every row
    np.testing.assert_allclose(D[:, :40], Da, rtol=1e-10)
    assert np.isfinite(D).all() and D[:, 40:].min() > D[:, :40].max()
    H = von_neumann_entropy(g, [1, 5, 20])
    assert np.isfinite(H).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisconnectedGraphWarning)
        Y = PHATE(t=5).fit_transform(X)
    assert np.isfinite(Y).all()


def test_dse_of_two_separated_copies_is_one_bit_more():
    # block-diagonal kernel with two identical blocks: every eigenvalue doubles, p_i halves,
    # so DSE(two copies) = DSE(one copy) + 1 bit exactly (at the same sigma)
    A = np.random.default_rng(0).normal(size=(150, 3))
    X = np.vstack([A, A + 1e3])
    one = diffusion_spectral_entropy(A, bandwidth=1.0)
    two = diffusion_spectral_entropy(X, bandwidth=1.0)
    assert two.entropy == pytest.approx(one.entropy + 1.0, abs=1e-9)
    slq = diffusion_spectral_entropy(X, bandwidth=1.0, method="slq", n_probes=16)
    assert slq.operator == "sparse" and slq.dropped_kernel_mass < 1e-6
    assert abs(slq.entropy - two.entropy) < 3 * slq.stderr + 1e-3


# ----------------------------------------------------------------------------- item 6: time unit
def test_heat_geodesic_time_unit_is_heatgeos_laplacian_without_self_loops():
    X = swiss_roll(300, random_state=0).X
    g = build_graph(X, k=5)  # default: HeatGeo's convention
    W = g.to_scipy().toarray()
    assert np.all(np.diag(W) == 0) and g.params["self_loops"] is False
    d = W.sum(1)
    L = np.eye(300) - W / np.sqrt(np.outer(d, d))
    H = scipy.linalg.expm(-10.0 * L)
    rows = [0, 150]
    truth = np.sqrt(np.maximum(-40.0 * np.log(H[rows]), 0))
    truth[[0, 1], rows] = 0
    D = heat_geodesic_distances(g, 10.0, rows=rows)
    np.testing.assert_allclose(D, truth, rtol=1e-8)
    # with self-loops (PHATE/DSE convention) the same tau gives larger distances: at k = 5 on
    # this roll the median ratio is ~1.05 (about 5 %), the gap the issue measured against HeatGeo
    gs = build_graph(X, k=5, self_loops=True)
    assert np.all(np.diag(gs.to_scipy().toarray()) == 1)
    Ds = heat_geodesic_distances(gs, 10.0, rows=rows)
    ratio = np.median(Ds[D > 0] / D[D > 0])
    assert 1.02 < ratio < 1.08
    with pytest.raises(TypeError, match="self_loops"):
        build_graph(X, self_loops="no")
    assert HeatGeodesic().get_params()["self_loops"] is False


# ----------------------------------------------------------------------------- items 3, 8: DSMI
def _reference_dsmi(Z, labels, sigma, subsets):
    """DSMI from the formula with a dense numpy eigendecomposition (independent of repgeo)."""

    def dse(A):
        G = np.exp(-cdist(A, A, "sqeuclidean") / (2 * sigma**2))
        s = G.sum(1)
        lam = np.abs(np.linalg.eigvalsh(G / np.sqrt(np.outer(s, s))))
        p = lam / lam.sum()
        p = p[p > 0]
        return -(p * np.log2(p)).sum()

    n = len(Z)
    mi = 0.0
    for c in np.unique(labels):
        cond = dse(Z[labels == c])
        marg = np.mean([dse(Z[s]) for s in subsets[c]])
        mi += (labels == c).sum() / n * (marg - cond)
    return mi


def test_dsmi_reports_subset_spread_and_reproduces_reference_subsets():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 40)
    Z = rng.normal(size=(160, 6)) + 2.0 * np.eye(6)[y]
    res = diffusion_spectral_mutual_information(Z, y, bandwidth=2.0, n_repetitions=5)
    # main returned stderr 0.0 although the subsets move the value
    assert res.stderr > 0 and res.estimator_stderr == 0.0
    w = np.bincount(y) / len(y)
    spread = np.sqrt(sum(w[c] ** 2 * res.subset_entropies[c].var(ddof=1) / 5 for c in range(4)))
    assert res.subset_stderr == pytest.approx(spread) and res.stderr == pytest.approx(spread)
    # the same subsets give the same value; the seed alone does too
    again = diffusion_spectral_mutual_information(Z, y, bandwidth=2.0, subsets=res.subsets)
    assert again.mi == res.mi
    assert diffusion_spectral_mutual_information(Z, y, bandwidth=2.0).mi == res.mi
    # the reference package (dse-dsmi) draws, per class, random.seed(0) then 5 times
    # random.sample(range(n), k=n_y); those subsets reproduce its value exactly
    ref_subsets = {}
    for c in range(4):
        random.seed(0)
        ref_subsets[c] = np.array([random.sample(range(160), k=40) for _ in range(5)])
    ours = diffusion_spectral_mutual_information(Z, y, bandwidth=2.0, subsets=ref_subsets)
    assert ours.mi == pytest.approx(_reference_dsmi(Z, y, 2.0, ref_subsets), abs=1e-10)
    one = diffusion_spectral_mutual_information(Z, y, bandwidth=2.0, n_repetitions=1)
    assert np.isnan(one.subset_stderr) and np.isnan(one.stderr)


@pytest.mark.parametrize(
    ("subsets", "exc", "match"),
    [
        ([[0, 1]], TypeError, "mapping"),
        ({0: np.zeros((2, 40), dtype=int)}, ValueError, "one entry per class"),
        ({c: np.zeros((2, 39), dtype=int) for c in range(4)}, ValueError, "size n_y = 40"),
        ({c: np.zeros((2, 40), dtype=int) for c in range(4)}, ValueError, "repeated"),
        ({c: np.full((1, 40), 500) for c in range(4)}, ValueError, "in \\[0, 160\\)"),
        ({c: np.zeros((1, 40)) + 0.5 for c in range(4)}, TypeError, "integers"),
    ],
)
def test_dsmi_bad_subsets(subsets, exc, match):
    y = np.repeat(np.arange(4), 40)
    Z = np.random.default_rng(0).normal(size=(160, 3))
    with pytest.raises(exc, match=match):
        diffusion_spectral_mutual_information(Z, y, subsets=subsets)


def test_dsmi_integer_valued_float_labels_are_labels():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(20), 15)
    Z = rng.normal(size=(300, 8)) + 1.5 * rng.normal(size=(20, 8))[y]
    a = diffusion_spectral_mutual_information(Z, y)
    b = diffusion_spectral_mutual_information(Z, y.astype(float))  # main: re-clustered into 10
    assert set(b.per_class) == set(range(20))
    assert b.mi == a.mi
    # a genuinely continuous reference is still clustered
    c = diffusion_spectral_mutual_information(Z, y + 0.5 * rng.random(300), n_clusters=5)
    assert len(c.per_class) == 5


# ----------------------------------------------------------------------------- item 9: extremes
@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e150, 1e-150])
def test_euclidean_distances_at_extreme_scales(scale):
    X = np.random.default_rng(0).normal(size=(40, 5))
    D = euclidean_distances(X * scale)
    assert np.isfinite(D).all()  # main: inf at 1e300 (the squares overflow), 0 at 1e-300
    np.testing.assert_allclose(D / scale, cdist(X, X), rtol=1e-12, atol=1e-12)


def test_euclidean_distances_exact_for_duplicates_and_offsets():
    X = np.random.default_rng(1).normal(size=(200, 3)) + 1e4
    X[3] = X[8]
    D = euclidean_distances(X)
    assert D[3, 8] == 0.0 and np.all(np.diag(D) == 0.0)
    np.testing.assert_allclose(D, cdist(X, X), rtol=1e-10, atol=1e-12)


def test_heat_geodesic_distances_refuse_t_zero():
    g = build_graph(np.random.default_rng(0).normal(size=(30, 2)), k=4)
    for bad in (0.0, [0.0, 1.0]):  # main returned an all-zero matrix
        with pytest.raises(ValueError, match="t must be > 0"):
            heat_geodesic_distances(g, bad)
    with pytest.raises(ValueError, match="t must be > 0"):
        HeatGeodesic(t=0.0).fit(np.random.default_rng(0).normal(size=(30, 2)))


def test_saturated_connected_pairs_warn_and_travel_with_the_result():
    X = swiss_roll(400, random_state=0).X
    g = build_graph(X, k=5)
    with pytest.warns(SaturationWarning, match="saturated"):
        _, info = heat_geodesic_distances(g, 1.0, rows=[0], order=10, return_info=True)
    assert info["saturated_connected_fraction"] > 0.5 and info["warnings"]


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda g: von_neumann_entropy("graph", [1]), TypeError, "DiffusionGraph"),
        (lambda g: von_neumann_entropy(g, [np.nan]), ValueError, "finite"),
        (lambda g: von_neumann_entropy(g, [-1.0]), ValueError, "t must be >="),
        (lambda g: von_neumann_entropy(g, []), ValueError, "empty"),
        (lambda g: heat_entropy_curve(g, [1.0], n_probes=0), ValueError, "n_probes"),
        (lambda g: heat_entropy_curve(g, [1.0], steps=1.5), TypeError, "steps"),
        (lambda g: heat_entropy_curve(g, [1.0], random_state=-1), ValueError, "random_state"),
        (lambda g: kneedle([0, 1, np.nan], [1, 2, 3]), ValueError, "NaN"),
        (lambda g: kneedle([0, 2, 1], [1, 2, 3]), ValueError, "strictly increasing"),
        (lambda g: kneedle([[0, 1, 2]], [[1, 2, 3]]), ValueError, "1-D"),
        (lambda g: kneedle(["a", "b", "c"], [1, 2, 3]), TypeError, "numeric"),
        (lambda g: chebyshev_order(-1.0, 1.0), ValueError, "t must be >="),
        (lambda g: chebyshev_order(np.nan, 1.0), ValueError, "finite"),
        (lambda g: chebyshev_order(1.0, -2.0), ValueError, "phi"),
        (lambda g: chebyshev_order(1.0, 1.0, tol=0.0), ValueError, "tol"),
        (lambda g: chebyshev_order(1.0, 1.0, min_order=0), ValueError, "min_order"),
        (lambda g: chebyshev_order(1e9, 1.0), ValueError, "order above"),
    ],
)
def test_public_helpers_validate(call, exc, match):
    g = build_graph(np.random.default_rng(0).normal(size=(40, 2)), k=4)
    with pytest.raises(exc, match=match):
        call(g)
