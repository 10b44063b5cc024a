"""repgeo.diffusion: graphs, heat kernels, heat geodesics, DSE/DSMI, PHATE, evaluation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg
import torch
from scipy.spatial.distance import cdist
from scipy.stats import spearmanr
from sklearn.exceptions import NotFittedError

from repgeo.data import branching_tree, spiral_arc_length, swiss_roll
from repgeo.diffusion import (
    PHATE,
    DiffusionSpectralEntropy,
    DisconnectedGraphWarning,
    HeatGeodesic,
    build_graph,
    classical_mds,
    diffusion_map,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    euclidean_distances,
    evaluate_distances,
    gaussian_bandwidth,
    heat_entropy_curve,
    heat_geodesic_distances,
    heat_kernel,
    kneedle,
    phate_potential_distances,
    precision_at_k,
    rowwise_correlation,
    select_t,
    shortest_path_distances,
    smacof,
    trustworthiness,
    von_neumann_entropy,
)
from repgeo.diffusion.mds import landmark_placement


def circle(n, noise=0.0, seed=0):
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    X = np.c_[np.cos(theta), np.sin(theta)]
    if noise:
        X = X + noise * np.random.default_rng(seed).normal(size=X.shape)
    return X, theta


def fibonacci_sphere(n):
    i = np.arange(n) + 0.5
    phi = np.arccos(1 - 2 * i / n)
    theta = np.pi * (1 + 5**0.5) * i
    return np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]


# ----------------------------------------------------------------------------- graph
def _dense_alpha_kernel(X, k, decay, thresh, self_loops=False):
    D = cdist(X, X)
    eps = np.sort(D, axis=1)[:, k]  # column 0 is self
    K = np.exp(-((D / eps[:, None]) ** decay))
    K[K < thresh] = 0
    np.fill_diagonal(K, 0)
    W = 0.5 * (K + K.T)
    np.fill_diagonal(W, 1.0 if self_loops else 0.0)
    return W


@pytest.mark.parametrize("self_loops", [False, True])
def test_alpha_graph_matches_dense_formula(rng, self_loops):
    X = rng.normal(size=(80, 3))
    g = build_graph(X, k=5, decay=10, self_loops=self_loops)
    W = g.to_scipy().toarray()
    np.testing.assert_allclose(W, _dense_alpha_kernel(X, 5, 10.0, 1e-4, self_loops), atol=1e-12)
    assert np.allclose(W, W.T) and g.n_components == 1
    np.testing.assert_allclose(g.degrees, W.sum(1))


def test_gaussian_graph_anisotropy_and_laplacians(rng):
    X = rng.normal(size=(60, 2))
    g = build_graph(
        X,
        kernel="gaussian",
        bandwidth=0.5,
        threshold=1e-8,
        anisotropy=1.0,
        laplacian="combinatorial",
        self_loops=True,
    )
    G = np.exp(-(cdist(X, X) ** 2) / (2 * 0.25))
    G[G < 1e-8] = 0
    q = G.sum(1)
    Wa = G / np.outer(q, q)
    np.testing.assert_allclose(g.to_scipy().toarray(), Wa, rtol=1e-10, atol=1e-14)
    L = g.laplacian_dense().numpy()
    np.testing.assert_allclose(L, np.diag(Wa.sum(1)) - Wa, atol=1e-12)
    gn = build_graph(X, kernel="gaussian", bandwidth=0.5)
    Ln = gn.laplacian_dense().numpy()
    ev = np.linalg.eigvalsh(Ln)
    assert ev[0] > -1e-12 and ev[-1] <= 2 + 1e-12 and gn.lambda_max() >= ev[-1] - 1e-9


def test_disconnected_graph_warns(rng):
    X = np.vstack([rng.normal(size=(30, 2)), rng.normal(size=(30, 2)) + 100])
    with pytest.warns(DisconnectedGraphWarning, match="2 components"):
        g = build_graph(X, k=5)
    assert g.n_components == 2


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"X": np.full((10, 2), np.nan)}, ValueError, "NaN"),
        ({"X": np.zeros(10)}, ValueError, "2-D"),
        ({"X": np.zeros((0, 2))}, ValueError, "at least 3"),
        ({"X": np.ones((10, 2), dtype=complex)}, TypeError, "real"),
        ({"k": 20}, ValueError, "k must be <="),
        ({"kernel": "cosine"}, ValueError, "kernel must be one of"),
        ({"laplacian": "random"}, ValueError, "laplacian must be one of"),
        ({"anisotropy": 2.0}, ValueError, "anisotropy"),
        ({"bandwidth": -1.0, "kernel": "gaussian"}, ValueError, "bandwidth"),
    ],
)
def test_build_graph_bad_input(kwargs, exc, match):
    kw = {"X": np.random.default_rng(0).normal(size=(10, 2)), **kwargs}
    with pytest.raises(exc, match=match):
        build_graph(kw.pop("X"), **kw)


# ----------------------------------------------------------------------------- heat kernel
@pytest.mark.parametrize("laplacian", ["normalized", "combinatorial"])
def test_heat_backends_agree_with_expm(rng, laplacian):
    X = rng.normal(size=(120, 2))
    g = build_graph(X, k=6, laplacian=laplacian)
    L = g.laplacian_dense().numpy()
    for t in (0.3, 4.0, 40.0):
        ref = scipy.linalg.expm(-t * L)  # independent: Padé scaling-and-squaring
        for method in ("exact", "chebyshev", "krylov"):
            H = heat_kernel(g, t, method=method)
            np.testing.assert_allclose(H, ref, atol=1e-11, err_msg=f"{method} t={t}")
    cols = [3, 50, 7]
    np.testing.assert_allclose(
        heat_kernel(g, 2.0, columns=cols), scipy.linalg.expm(-2.0 * L)[:, cols], atol=1e-11
    )


def test_chebyshev_keeps_tiny_entries_relatively_accurate():
    """Far entries (1e-40) of a path graph's heat kernel vs a 50-digit reference."""
    mpmath = pytest.importorskip("mpmath")
    n = 40
    X = np.c_[np.arange(n, dtype=float), np.zeros(n)]
    g = build_graph(X, k=1)
    L = g.laplacian_dense().numpy()
    mpmath.mp.dps = 50
    ref = mpmath.expm(mpmath.matrix((-1.0 * L).tolist()))
    H, info = heat_kernel(g, 1.0, columns=[0], return_info=True)
    assert info["order"] >= g.hop_diameter() + 10 and g.hop_diameter() == n - 1
    truth = np.array([float(ref[i, 0]) for i in range(n)])
    assert truth[-1] < 1e-30
    np.testing.assert_allclose(H[:, 0], truth, rtol=1e-8)


def test_heat_kernel_bad_input(rng):
    g = build_graph(rng.normal(size=(30, 2)), k=4)
    with pytest.raises(TypeError, match="DiffusionGraph"):
        heat_kernel(np.eye(3), 1.0)
    with pytest.raises(ValueError, match="t must be >= 0"):
        heat_kernel(g, -1.0)
    with pytest.raises(ValueError, match="columns must be node indices"):
        heat_kernel(g, 1.0, columns=[0, 30])
    with pytest.raises(TypeError, match="integer node indices"):
        heat_kernel(g, 1.0, columns=[0.5])
    with pytest.raises(ValueError, match="method must be one of"):
        heat_kernel(g, 1.0, method="euler")
    with pytest.raises(TypeError, match="t must be Real"):
        heat_kernel(g, "1.0")


# ----------------------------------------------------------------------------- heat geodesics
def test_heat_geodesic_matches_arc_length_on_circle():
    X, theta = circle(400)
    g = build_graph(X, k=5)
    rows = np.arange(0, 400, 40)
    D, info = heat_geodesic_distances(g, 20.0, rows=rows, return_info=True)
    arc = np.abs(theta[rows][:, None] - theta[None, :])
    arc = np.minimum(arc, 2 * np.pi - arc)
    assert info["saturated_fraction"] == 0.0
    assert rowwise_correlation(D, arc, rows=rows, method="pearson") > 0.99
    assert np.all(D[np.arange(len(rows)), rows] == 0) and np.all(D >= 0)


def test_heat_geodesic_matches_great_circle_on_sphere():
    X = fibonacci_sphere(1200)
    g = build_graph(X, k=8)
    rows = np.arange(0, 1200, 60)
    D = heat_geodesic_distances(g, 10.0, rows=rows)
    gc = np.arccos(np.clip(X[rows] @ X.T, -1, 1))
    assert rowwise_correlation(D, gc, rows=rows, method="pearson") > 0.99
    assert rowwise_correlation(D, gc, rows=rows) > 0.99


def test_capped_order_saturates_far_pairs_and_is_reported():
    X, _ = circle(300)
    g = build_graph(X, k=5)
    D, info = heat_geodesic_distances(g, 5.0, rows=[0], order=20, return_info=True)
    assert info["order"] == 20 and info["saturated_fraction"] > 0.3
    sat = D[0] == D[0].max()
    np.testing.assert_allclose(D[0][sat], info["saturated_distance"][0])


def test_sigma_regulariser_and_backends(rng):
    X, _ = circle(150, noise=0.01)
    g = build_graph(X, k=5)
    rows = [0, 10, 75]
    De = heat_geodesic_distances(g, 8.0, sigma=0.5, rows=rows, method="exact")
    Dc = heat_geodesic_distances(g, 8.0, sigma=0.5, rows=rows, method="chebyshev")
    # away from the exact backend's 1e-15 floor the two agree
    H = heat_kernel(g, 8.0, method="exact")
    ok = H[:, rows].T > 1e-10
    np.testing.assert_allclose(De[ok], Dc[ok], rtol=1e-6)
    # closed form on the full matrix
    Hd = np.diag(H)
    ok = H > 1e-10
    ref = np.sqrt(
        np.maximum(0, -32 * np.log(H[ok]) + 0.5 * 32 * np.log(0.5 * (Hd[:, None] + Hd[None]))[ok])
    )
    full = heat_geodesic_distances(g, 8.0, sigma=0.5, method="exact")
    off = ~np.eye(len(H), dtype=bool)[ok]
    np.testing.assert_allclose(full[ok][off], ref[off], rtol=1e-8)
    assert np.all(np.diag(full) == 0)
    # multiscale t = mean over times
    Dm = heat_geodesic_distances(g, [4.0, 8.0], rows=rows)
    np.testing.assert_allclose(
        Dm,
        0.5
        * (heat_geodesic_distances(g, 4.0, rows=rows) + heat_geodesic_distances(g, 8.0, rows=rows)),
    )


def test_auto_t_entropy_curve(rng):
    g = build_graph(rng.normal(size=(300, 2)), k=5)
    t, ts, S = select_t(g)
    assert ts[0] <= t <= ts[-1] and np.all(np.diff(S) < 0)
    lam = np.linalg.eigvalsh(g.laplacian_dense().numpy())
    p = np.exp(-5 * lam) / np.exp(-5 * lam).sum()
    assert heat_entropy_curve(g, [5.0])[0] == pytest.approx(-(p * np.log(p)).sum(), rel=1e-8)
    # the SLQ path (large graphs) agrees with the exact curve
    big = build_graph(np.random.default_rng(1).normal(size=(600, 2)), k=5)
    S_slq = heat_entropy_curve(big, [2.0, 20.0], n_probes=40)
    lam = np.linalg.eigvalsh(big.laplacian_dense().numpy())
    for s, t in zip(S_slq, (2.0, 20.0)):
        p = np.exp(-t * lam) / np.exp(-t * lam).sum()
        assert s == pytest.approx(-(p * np.log(p)).sum(), rel=0.03)  # stochastic (SLQ) estimate


def test_kneedle_bad_input():
    with pytest.raises(ValueError, match="same length"):
        kneedle([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="curve must be one of"):
        kneedle([1, 2, 3], [3, 2, 1], curve="up")


def test_heat_geodesic_estimator_landmarks_reuse_and_torch():
    roll = swiss_roll(700, random_state=0)
    hg = HeatGeodesic(k=8, t=10.0, n_landmarks=200, random_state=0)
    Y = hg.fit_transform(roll.X)
    assert Y.shape == (700, 2) and hg.landmarks_.shape == (200,)
    rows = np.arange(0, 700, 35)
    truth = roll.geodesic_distances(rows)
    emb = euclidean_distances(Y, rows=rows)
    assert rowwise_correlation(emb, truth, rows=rows) > 0.9  # the roll is unrolled
    graph = hg.graph_
    hg.t = 20.0
    hg.fit(roll.X)
    assert hg.graph_ is graph  # same data and graph parameters: no new neighbour search
    D20 = hg.distances(rows=[0])
    assert D20.shape == (1, 700) and hg.graph_ is graph
    Yt = HeatGeodesic(t=5.0, random_state=0).fit_transform(torch.from_numpy(roll.X[:200]).float())
    assert isinstance(Yt, torch.Tensor) and Yt.dtype == torch.float32 and Yt.shape == (200, 2)


def test_heat_geodesic_bad_input(rng):
    g = build_graph(rng.normal(size=(30, 2)), k=4)
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        heat_geodesic_distances(g, 1.0, sigma=-1.0)
    with pytest.raises(ValueError, match="t must be one of"):
        heat_geodesic_distances(g, "fast")
    with pytest.raises(ValueError, match="empty"):
        heat_geodesic_distances(g, [])
    with pytest.raises(NotFittedError, match="not fitted"):
        HeatGeodesic().distances()
    with pytest.raises(ValueError, match="NaN"):
        HeatGeodesic().fit(np.full((10, 2), np.nan))
    with pytest.raises(ValueError, match="mds must be one of"):
        HeatGeodesic(mds="tsne").fit(rng.normal(size=(20, 2)))


# ----------------------------------------------------------------------------- MDS
def test_mds_recovers_euclidean_configurations(rng):
    X = rng.normal(size=(50, 3))
    D = cdist(X, X)
    np.testing.assert_allclose(cdist(*(2 * [classical_mds(D, 3)])), D, atol=1e-9)
    Y, stress = smacof(D, 3, return_stress=True)
    assert stress < 1e-8
    np.testing.assert_allclose(cdist(Y, Y), D, atol=1e-4)
    Yt = torch.from_numpy(X[:20])
    Xl = torch.from_numpy(X)
    placed = landmark_placement(torch.cdist(Yt, Xl), Yt)
    np.testing.assert_allclose(placed.numpy(), X, atol=1e-6)
    with pytest.raises(ValueError, match="square"):
        classical_mds(np.ones((3, 4)))
    with pytest.raises(ValueError, match="init must have shape"):
        smacof(D, 2, init=np.zeros((3, 2)))


# ----------------------------------------------------------------------------- DSE / DSMI
def _reference_dse(X, sigma, t=1.0):
    """Formula of Liao et al. in plain NumPy (dense, as the reference package)."""
    G = np.exp(-cdist(X, X, "sqeuclidean") / (2 * sigma**2))
    d = G.sum(1)
    lam = np.abs(np.linalg.eigvalsh(G / np.sqrt(np.outer(d, d)))) ** t
    p = lam / lam.sum()
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def test_dse_matches_reference_formula(rng):
    X = rng.uniform(size=(300, 20))
    for sigma, t in ((1.0, 1.0), (0.8, 2.0), (3.0, 1.0)):
        r = diffusion_spectral_entropy(X, bandwidth=sigma, t=t)
        assert r.entropy == pytest.approx(_reference_dse(X, sigma, t), abs=1e-9)
        assert r.method == "exact" and r.sigma == sigma


def test_dse_closed_forms():
    far = np.eye(32) * 50.0  # n well-separated points
    assert float(diffusion_spectral_entropy(far, bandwidth=1.0)) == pytest.approx(
        np.log2(32), abs=1e-9
    )
    tight = 1e-4 * np.random.default_rng(0).normal(size=(200, 5))  # one tight cluster
    assert float(diffusion_spectral_entropy(tight, bandwidth=1.0)) < 1e-3
    assert float(diffusion_spectral_entropy(np.zeros((1, 3)))) == 0.0


@pytest.mark.parametrize("bandwidth", ["median", "knn"])
def test_dse_scale_invariant_with_adaptive_bandwidth(rng, bandwidth):
    X = rng.normal(size=(250, 6))
    a = diffusion_spectral_entropy(X, bandwidth=bandwidth)
    b = diffusion_spectral_entropy(1e3 * X, bandwidth=bandwidth)
    assert b.entropy == pytest.approx(a.entropy, abs=1e-8)
    assert b.sigma == pytest.approx(1e3 * a.sigma, rel=1e-10)
    fixed = [float(diffusion_spectral_entropy(s * X, bandwidth=1.0)) for s in (0.3, 1.0, 3.0)]
    assert fixed[0] < fixed[1] < fixed[2]  # a fixed sigma is scale-dependent


def test_median_bandwidth_matches_brute_force(rng):
    X = rng.normal(size=(100, 3))
    assert gaussian_bandwidth(X) == pytest.approx(np.median(cdist(X, X)[np.triu_indices(100, 1)]))
    big = rng.normal(size=(4000, 3))  # sampled pairs beyond 3000 points
    exact = np.median(cdist(big[:1500], big[1500:]))
    assert gaussian_bandwidth(big, random_state=0) == pytest.approx(exact, rel=0.02)


def test_dse_slq_agrees_with_exact_within_error_bar():
    roll = swiss_roll(1500, random_state=1).X
    ex = diffusion_spectral_entropy(roll, bandwidth="knn", method="exact")
    sq = diffusion_spectral_entropy(
        roll, bandwidth="knn", method="slq", n_probes=32, lanczos_steps=40
    )
    assert sq.method == "slq" and sq.stderr > 0 and sq.info["dropped_kernel_mass"] < 1e-3
    assert abs(sq.entropy - ex.entropy) < 4 * sq.stderr + 0.01
    # a wide (median) bandwidth: the matrix-free exact operator plus deflation
    X = np.random.default_rng(2).normal(size=(800, 5))
    ex = diffusion_spectral_entropy(X, method="exact")
    sq = diffusion_spectral_entropy(
        X, method="slq", operator="dense", n_probes=16, lanczos_steps=30
    )
    assert abs(sq.entropy - ex.entropy) < 4 * sq.stderr + 0.01
    with pytest.warns(UserWarning, match="drops"):
        r = diffusion_spectral_entropy(
            X, method="slq", operator="sparse", max_neighbors=20, n_probes=4, lanczos_steps=10
        )
    assert r.dropped_kernel_mass > 0.5 and any("drops" in w for w in r.warnings)


def test_dsmi_shuffled_labels_vs_true_labels():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 80)
    Z = rng.normal(size=(400, 10)) + 5 * np.eye(10)[y]
    true = diffusion_spectral_mutual_information(Z, y)
    shuffled = diffusion_spectral_mutual_information(Z, rng.permutation(y))
    assert true.mi > 1.0 and abs(shuffled.mi) < 0.1
    assert set(true.per_class) == set(range(5))
    # a continuous reference is clustered first; the blob centres recover the labels
    centres = 5 * np.eye(10)[y] + 0.01 * rng.normal(size=(400, 10))
    assert diffusion_spectral_mutual_information(Z, centres, n_clusters=5).mi == pytest.approx(
        true.mi, abs=0.05
    )
    # scale invariance carries over (sigma is resolved once on Z)
    assert diffusion_spectral_mutual_information(10 * Z, y).mi == pytest.approx(true.mi, abs=1e-8)


def test_dse_estimator():
    X = np.random.default_rng(0).normal(size=(120, 4))
    y = np.repeat([0, 1], 60)
    est = DiffusionSpectralEntropy().fit(X, y)
    assert est.entropy_ == pytest.approx(float(diffusion_spectral_entropy(X)))
    assert est.sigma_ > 0 and hasattr(est, "mutual_information_") and est.higher_is_better is None


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: diffusion_spectral_entropy(np.full((5, 2), np.nan)), ValueError, "NaN"),
        (lambda: diffusion_spectral_entropy(np.zeros((0, 2))), ValueError, "at least 1"),
        (lambda: diffusion_spectral_entropy(np.zeros(5)), ValueError, "2-D"),
        (lambda: diffusion_spectral_entropy(np.ones((5, 2)), t=0), ValueError, "t must be >"),
        (
            lambda: diffusion_spectral_entropy(np.ones((5, 2)), bandwidth=-1.0),
            ValueError,
            "bandwidth",
        ),
        (lambda: diffusion_spectral_entropy(np.ones((5, 2))), ValueError, "bandwidth of X is 0"),
        (
            lambda: diffusion_spectral_entropy(np.eye(5), method="eig"),
            ValueError,
            "method must be one of",
        ),
        (
            lambda: diffusion_spectral_entropy(np.eye(5), operator="fft"),
            ValueError,
            "operator must be one of",
        ),
        (
            lambda: diffusion_spectral_entropy(np.eye(5), bandwidth="mean"),
            ValueError,
            "bandwidth must be one of",
        ),
        (
            lambda: diffusion_spectral_mutual_information(np.eye(5), [0, 1, 0]),
            ValueError,
            "5 entries",
        ),
        (
            lambda: diffusion_spectral_mutual_information(np.eye(5), np.ones((4, 2))),
            ValueError,
            "5 rows",
        ),
        (lambda: diffusion_spectral_mutual_information(np.eye(5), ["a"] * 5), TypeError, "numeric"),
        (
            lambda: diffusion_spectral_mutual_information(np.eye(5), [0] * 5, n_repetitions=0),
            ValueError,
            "n_repetitions",
        ),
    ],
)
def test_entropy_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ----------------------------------------------------------------------------- PHATE and baselines
def test_phate_potential_and_embedding():
    X, theta = circle(200, noise=0.005)
    g = build_graph(X, k=5)
    D, t = phate_potential_distances(g, rows=[0, 50], return_t=True)
    arc = np.abs(theta[[0, 50]][:, None] - theta[None])
    arc = np.minimum(arc, 2 * np.pi - arc)
    assert t >= 1 and rowwise_correlation(D, arc, rows=[0, 50]) > 0.8
    H = von_neumann_entropy(g, np.arange(1, 30))
    assert np.all(np.diff(H) <= 1e-12)
    Y = PHATE(random_state=0, t=t).fit_transform(X)
    assert Y.shape == (200, 2)
    Yl = PHATE(random_state=0, n_landmarks=40).fit(X)
    assert Yl.embedding_.shape == (200, 2) and Yl.potential_.shape == (200, 40)
    with pytest.raises(ValueError, match="max_dense"):
        phate_potential_distances(g, 3, max_dense=100)
    with pytest.raises(NotFittedError, match="not fitted"):
        PHATE().distances()


def test_baselines(rng):
    X, _ = circle(150)
    g = build_graph(X, k=4)
    Psi = diffusion_map(g, 4)
    assert Psi.shape == (150, 4)
    r = np.linalg.norm(Psi[:, :2], axis=1)
    assert r.std() / r.mean() < 0.02
    line = np.c_[np.arange(20.0), np.zeros(20)]
    gl = build_graph(line, k=2)
    np.testing.assert_allclose(
        shortest_path_distances(gl, line, rows=[0, 5]),
        np.abs(np.arange(20.0)[[0, 5]][:, None] - np.arange(20.0)),
    )
    Z = rng.normal(size=(30, 3))
    np.testing.assert_allclose(euclidean_distances(Z, rows=[1, 2]), cdist(Z[[1, 2]], Z), atol=1e-12)
    with pytest.raises(ValueError, match="graph's 20 rows"):
        shortest_path_distances(gl, line[:10])
    with pytest.raises(ValueError, match="rows must be"):
        euclidean_distances(Z, rows=[40])


# ----------------------------------------------------------------------------- evaluation and data
def test_evaluation_against_scipy_and_sklearn(rng):
    from sklearn.manifold import trustworthiness as sk_trust

    X, Y = rng.normal(size=(60, 5)), rng.normal(size=(60, 2))
    DX, DY = cdist(X, X), cdist(Y, Y)
    assert trustworthiness(DY, DX, 7) == pytest.approx(sk_trust(X, Y, n_neighbors=7), abs=1e-12)
    rows = np.array([3, 10, 22])
    ref = np.mean([spearmanr(np.delete(DY[r], r), np.delete(DX[r], r))[0] for r in rows])
    assert rowwise_correlation(DY[rows], DX[rows], rows=rows) == pytest.approx(ref, abs=1e-12)
    ref_p = np.mean([np.corrcoef(np.delete(DY[r], r), np.delete(DX[r], r))[0, 1] for r in rows])
    assert rowwise_correlation(DY[rows], DX[rows], rows=rows, method="pearson") == pytest.approx(
        ref_p, abs=1e-12
    )
    k = 5
    hits = [
        len(set(np.argsort(np.delete(DY[r], r))[:k]) & set(np.argsort(np.delete(DX[r], r))[:k]))
        for r in rows
    ]
    assert precision_at_k(DY[rows], DX[rows], k, rows=rows) == pytest.approx(np.mean(hits) / k)
    assert evaluate_distances(DX, DX, k=5) == {
        "spearman": 1.0,
        "pearson": 1.0,
        "precision_at_k": 1.0,
        "trustworthiness": 1.0,
    }
    with pytest.raises(ValueError, match="same shape"):
        rowwise_correlation(DX, DY[:5])
    with pytest.raises(ValueError, match="rows must be given"):
        precision_at_k(DX[:5], DY[:5])
    with pytest.raises(ValueError, match="rows must be 5 integer"):
        trustworthiness(DX[:5], DY[:5], rows=[0, 1])
    with pytest.raises(ValueError, match="method must be one of"):
        rowwise_correlation(DX, DY, method="kendall")
    with pytest.raises(ValueError, match="NaN"):
        rowwise_correlation(DX * np.nan, DY)


def test_geodesic_datasets():
    t = np.linspace(0, 5, 200001)
    numeric = np.sum(np.hypot(np.diff(t * np.cos(t)), np.diff(t * np.sin(t))))
    assert spiral_arc_length(5.0) == pytest.approx(numeric, abs=1e-6)
    roll = swiss_roll(300, random_state=0)
    D = roll.geodesic_distances()
    assert np.all(D + 1e-9 >= cdist(roll.X, roll.X))  # geodesics never shorter than chords
    tree = branching_tree(300, n_branches=3, random_state=0)
    b, s = tree.coords[:, 0], tree.coords[:, 1]
    same = np.nonzero(b == 0)[0][:5]
    np.testing.assert_allclose(
        tree.geodesic_distances(same)[:, same], np.abs(s[same][:, None] - s[same]), atol=1e-9
    )
    with pytest.raises(ValueError, match="n must be >= 2"):
        swiss_roll(1)
    with pytest.raises(ValueError, match="curvature"):
        branching_tree(10, curvature=-1.0)


def test_disconnected_graph_in_evaluation_pipeline_warns_once(rng):
    X = np.vstack([rng.normal(size=(40, 2)), rng.normal(size=(40, 2)) + 50])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        g = build_graph(X, k=4)
        D, info = heat_geodesic_distances(g, 5.0, rows=[0], return_info=True)
    assert sum(issubclass(x.category, DisconnectedGraphWarning) for x in w) == 1
    assert info["saturated_fraction"] >= 0.5 - 1e-9  # the other component is unreachable
    np.testing.assert_allclose(D[0, 40:], info["saturated_distance"][0])


@pytest.mark.slow
@pytest.mark.parametrize(("bandwidth", "operator"), [("knn", "sparse"), ("median", "dense")])
def test_dse_slq_agrees_with_exact_at_5000(bandwidth, operator):
    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, 5000)
    X = rng.normal(size=(5000, 8)) * (0.5 + y[:, None] / 10) + 3.0 * rng.normal(size=(10, 8))[y]
    ex = diffusion_spectral_entropy(X, bandwidth=bandwidth, method="exact")
    sq = diffusion_spectral_entropy(X, bandwidth=bandwidth, method="slq", operator=operator)
    assert abs(sq.entropy - ex.entropy) < 4 * sq.stderr + 0.01


def test_heat_geodesic_tol_trades_smacof_iterations_for_stress():
    from repgeo.data import swiss_roll
    from repgeo.diffusion import HeatGeodesic

    X = swiss_roll(300, random_state=0).X
    loose = HeatGeodesic(t=10.0, tol=1e-2).fit(X)
    tight = HeatGeodesic(t=10.0, tol=1e-6).fit(X)
    assert loose.n_iter_ < tight.n_iter_ <= 200
    assert tight.stress_ <= loose.stress_  # SMACOF's stress never increases
    with pytest.raises(ValueError, match="tol must be"):
        HeatGeodesic(tol=-1.0).fit(X)
