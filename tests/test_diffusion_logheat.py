"""Log-domain Chebyshev heat kernel and heat geodesics far below float64 (issue 14, item 2).

References are independent of the code under test: 40-digit modified Bessel functions
(mpmath) in the closed forms of the heat kernel on a cycle and on a torus, ``H_t[0, d] =
e^{-s} Σ_m I_{d + m n}(s)`` per cycle factor, and a dense float64 eigendecomposition where
the entries are representable.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from repgeo.diffusion import heat_geodesic_distances, heat_kernel
from repgeo.diffusion.geodesic import SaturationWarning
from repgeo.diffusion.graph import DiffusionGraph
from repgeo.diffusion.heat import chebyshev_log_columns, log_ive

mpmath = pytest.importorskip("mpmath")


def _cycle(n: int, laplacian: str = "normalized") -> DiffusionGraph:
    i = np.arange(n)
    j = (i + 1) % n
    return DiffusionGraph(np.r_[i, j], np.r_[j, i], np.ones(2 * n), n, laplacian=laplacian)


def _cycle_log_heat(n: int, s: float) -> np.ndarray:
    """log(e^{-s} Σ_m I_{d+mn}(s)) for d = 0..n-1, 40 digits (the heat kernel of the cycle's
    combinatorial Laplacian at time s/2, of its normalised one at time s)."""
    with mpmath.workdps(40):
        return np.array(
            [
                float(mpmath.log(sum(mpmath.besseli(abs(d + m * n), s) for m in range(-3, 4))) - s)
                for d in range(n)
            ]
        )


def _indicator(n: int, j: int = 0) -> torch.Tensor:
    B = torch.zeros(n, 1, dtype=torch.float64)
    B[j, 0] = 1.0
    return B


@pytest.mark.parametrize("z", [0.5, 5.0, 60.0])
def test_log_ive_matches_40_digit_bessel_far_below_float64(z):
    li = log_ive(z, 800)
    for k in (0, 1, 7, 100, 400, 800):
        with mpmath.workdps(40):
            ref = float(mpmath.log(mpmath.besseli(k, z)) - z)
        assert abs(li[k] - ref) <= 1e-13 * max(1.0, abs(ref)), (k, li[k], ref)
    assert li[800] < -700  # ive itself underflows there: the point of the log domain


def test_log_ive_at_zero():
    li = log_ive(0.0, 3)
    assert li[0] == 0.0 and np.all(np.isneginf(li[1:]))


@pytest.mark.parametrize("laplacian", ["normalized", "combinatorial"])
@pytest.mark.parametrize("t", [1.0, 10.0, 60.0])
def test_cycle_log_heat_kernel_matches_the_closed_form(laplacian, t):
    # an even cycle is bipartite, and with the combinatorial Laplacian T_k e_0 lives on the two
    # nodes exactly k hops away: the order must still follow the real hop distance (n/2)
    n = 300
    g = _cycle(n, laplacian)
    s = t if laplacian == "normalized" else 2.0 * t
    ref = _cycle_log_heat(n, s)
    (L,), order, _ = chebyshev_log_columns(g, _indicator(n), [t])
    L = L[:, 0].numpy()
    if t == 1.0:  # far below what a float64 heat kernel can hold (about e^-745)
        assert ref.min() < -600
    assert n // 2 + 10 <= order <= n
    np.testing.assert_allclose(L, ref, rtol=1e-12, atol=1e-12)


def test_torus_log_heat_kernel_matches_the_closed_form():
    # odd sizes: not bipartite, many paths per pair (a 2-D lattice), both Laplacians
    a, b = 23, 17
    idx = np.arange(a * b).reshape(a, b)
    r = np.r_[idx.ravel(), idx.ravel()]
    c = np.r_[np.roll(idx, 1, 0).ravel(), np.roll(idx, 1, 1).ravel()]
    for laplacian, scale in (("combinatorial", 2.0), ("normalized", 0.5)):
        g = DiffusionGraph(
            np.r_[r, c], np.r_[c, r], np.ones(2 * r.size), a * b, laplacian=laplacian
        )
        for t in (0.3, 3.0, 30.0):
            s = scale * t  # the torus kernel is the product of two cycle kernels at time s
            ref = (_cycle_log_heat(a, s)[:, None] + _cycle_log_heat(b, s)[None, :]).ravel()
            (L,), _, _ = chebyshev_log_columns(g, _indicator(a * b), [t])
            np.testing.assert_allclose(L[:, 0].numpy(), ref, rtol=1e-9, atol=1e-9)


def test_log_heat_agrees_with_the_dense_eigendecomposition_on_a_knn_graph():
    from repgeo.diffusion import build_graph

    X = np.random.default_rng(0).normal(size=(200, 2))
    g = build_graph(X, k=6)
    cols = np.array([0, 17, 150])
    for t in (0.5, 4.0):
        He = heat_kernel(g, t, columns=cols, method="exact")
        B = torch.zeros(200, 3, dtype=torch.float64)
        B[cols, np.arange(3)] = 1.0
        (L,), _, _ = chebyshev_log_columns(g, B, [t])
        big = He > 1e-8  # where the exact backend's absolute error 1e-16 is relatively small
        np.testing.assert_allclose(np.exp(L.numpy()[big]), He[big], rtol=1e-6)
        assert np.all(np.isfinite(L.numpy()))  # connected: every entry resolved


def test_a_capped_order_saturates_instead_of_returning_wrong_logs():
    # order = the hop distance + 2: the farthest entries are reached but their series has not
    # converged; they must come back as -inf (saturated), and every finite one must be right
    n, t = 200, 20.0
    g = _cycle(n)
    ref = _cycle_log_heat(n, t)
    (L,), order, _ = chebyshev_log_columns(g, _indicator(n), [t], order=40)
    L = L[:, 0].numpy()
    hop = np.minimum(np.arange(n), n - np.arange(n))
    assert order == 40
    assert np.all(np.isneginf(L[hop > 40]))  # never reached
    assert np.isneginf(L[hop == 40]).all()  # reached at the last step: not converged
    fin = np.isfinite(L)
    assert fin.sum() >= 40  # the near field is resolved
    np.testing.assert_allclose(L[fin], ref[fin], rtol=1e-4 / 30)


def test_heat_geodesics_on_a_long_cycle_do_not_saturate_and_match_varadhan():
    # pairs up to 250 hops apart at t = 2: H_t ~ e^{-1300}; the former 1e-300 floor saturated
    # every pair beyond ~ 110 hops
    n, t = 500, 2.0
    g = _cycle(n)
    rows = np.array([0, 123])
    with warnings.catch_warnings():
        warnings.simplefilter("error", SaturationWarning)
        D, info = heat_geodesic_distances(g, t, rows=rows, return_info=True)
    ref0 = np.sqrt(np.maximum(0.0, -4.0 * t * _cycle_log_heat(n, t)))
    ref0[0] = 0.0
    np.testing.assert_allclose(D[0], ref0, rtol=1e-10)
    np.testing.assert_allclose(D[1], np.roll(ref0, 123), rtol=1e-10)
    assert info["saturated_fraction"] == 0.0 and info["method"] == "chebyshev"
    assert np.all(np.diff(D[0][: n // 2 + 1]) > 0)  # strictly increasing: no ties
    assert ref0.max() > math.sqrt(4 * t * math.log(1e300))  # beyond the old saturation distance


def test_heat_geodesics_report_the_saturated_fraction_of_a_capped_order():
    n, t = 200, 20.0
    g = _cycle(n)
    with pytest.warns(SaturationWarning, match="saturated"):
        D, info = heat_geodesic_distances(g, t, rows=np.array([0]), order=40, return_info=True)
    hop = np.minimum(np.arange(n), n - np.arange(n))
    frac = info["saturated_fraction"]
    assert (hop >= 40).mean() <= frac <= (hop >= 38).mean()
    sat = D[0] == D[0].max()
    assert sat.sum() == round(frac * n)  # the saturated pairs tie at the floor
    assert info["saturated_connected_fraction"] == frac


def test_heat_geodesics_eps_floor_is_honoured():
    n, t = 300, 2.0
    g = _cycle(n)
    ref = _cycle_log_heat(n, t)
    with pytest.warns(SaturationWarning):
        _, info = heat_geodesic_distances(g, t, rows=np.array([0]), eps=1e-200, return_info=True)
    assert info["saturated_fraction"] == pytest.approx((ref <= math.log(1e-200)).mean())


# ------------------------------------------------------------------ MDS speed-ups (issue 14 item 5)
def test_classical_mds_lanczos_path_matches_a_dense_numpy_reference():
    # n > 400 with 2 components takes ARPACK's Lanczos instead of a dense eigh
    from scipy.spatial.distance import cdist

    from repgeo.diffusion import classical_mds

    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3)) * np.array([10.0, 3.0, 1.0])  # distinct principal variances
    D = cdist(X, X)
    Y = classical_mds(D, 2)
    J = np.eye(600) - 1.0 / 600
    w, U = np.linalg.eigh(-0.5 * J @ (D**2) @ J)
    ref = U[:, ::-1][:, :2] * np.sqrt(w[::-1][:2])
    for a in range(2):  # each axis up to its sign
        s = np.sign(ref[:, a] @ Y[:, a])
        np.testing.assert_allclose(Y[:, a], s * ref[:, a], atol=1e-8 * np.abs(ref).max())


def test_smacof_guttman_transform_matches_the_explicit_b_matrix():
    from repgeo.diffusion.mds import _smacof

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    D = torch.from_numpy(np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1)) * 1.3)
    Y0 = torch.from_numpy(rng.normal(size=(80, 2)))
    Y1, stress, it = _smacof(D, Y0.clone(), 1, 0.0)
    # one Guttman step with B(Y) formed explicitly (de Leeuw 1977)
    dY = torch.cdist(Y0, Y0)
    R = torch.where(dY > 1e-12, D / dY.clamp_min(1e-12), torch.zeros_like(dY))
    R.fill_diagonal_(0)
    Bm = -R
    Bm.diagonal().copy_(R.sum(1))
    np.testing.assert_allclose(Y1.numpy(), (Bm @ Y0 / 80).numpy(), rtol=1e-12, atol=1e-12)
    assert it == 1
    assert stress < float(((dY - D) ** 2).sum() / 2)  # the majorisation step lowers the stress


# ----------------------------------------------------------------------------- fast CPU path
@pytest.mark.parametrize("laplacian", ["normalized", "combinatorial"])
@pytest.mark.parametrize("self_loops", [False, True])
def test_chebyshev_step_is_twice_the_shifted_laplacian_in_its_node_order(laplacian, self_loops):
    from repgeo.diffusion import build_graph
    from repgeo.diffusion.heat import ChebyshevStep

    X = np.random.default_rng(0).normal(size=(300, 3))
    g = build_graph(X, k=6, laplacian=laplacian, self_loops=self_loops)
    phi = g.lambda_max() / 2
    step = ChebyshevStep(g, phi)
    L = g.laplacian_dense().numpy()
    M_ref = 2.0 * (L / phi - np.eye(g.n))  # the reference: the dense Laplacian
    V = torch.from_numpy(np.random.default_rng(1).normal(size=(g.n, 7)))
    Y0 = torch.from_numpy(np.random.default_rng(2).normal(size=(g.n, 7)))
    for k, sg in ((0, 1.0), (1, -1.0)):  # P_{k+1} = P_{k-1} ± M P_k, in the inner order
        inner = step.next_(step.to_inner(V), step.to_inner(Y0), k)
        want = Y0.numpy() + sg * (M_ref @ V.numpy())
        np.testing.assert_allclose(step.to_outer(inner).numpy(), want, atol=1e-12)
    np.testing.assert_allclose(
        step.to_outer(step.first(step.to_inner(V))).numpy(), 0.5 * M_ref @ V.numpy(), atol=1e-12
    )
    assert [step.sign(k) for k in range(6)] == [1, 1, -1, -1, 1, 1]
    assert not np.array_equal(step.perm.numpy(), np.arange(g.n))  # it did reorder the nodes
    np.testing.assert_array_equal(step.to_outer(step.to_inner(V)).numpy(), V.numpy())
    with pytest.raises(ValueError, match="contiguous"):
        step.addmul_(step.to_inner(V)[:, ::2], step.to_inner(V)[:, ::2])
    with pytest.raises(ValueError, match="float64"):
        step.addmul_(step.to_inner(V).float(), step.to_inner(V).float())


def test_heat_geodesic_rows_do_not_depend_on_blocks_or_threads():
    """Many column blocks (a small budget), two CPU worker threads or one: the same distances,
    with d(i, i) = 0 in every block (a block after the first once zeroed the first's rows)."""
    from repgeo._backend import memory_budget
    from repgeo.data import swiss_roll
    from repgeo.diffusion import build_graph

    roll = swiss_roll(1500, random_state=0)
    g = build_graph(roll.X, k=5)
    rows = np.sort(np.random.default_rng(1).choice(1500, 70, replace=False))
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with memory_budget("1GB"):
            one = heat_geodesic_distances(g, 10.0, rows=rows)  # one block per 128 columns
        torch.set_num_threads(2)
        with memory_budget("1GB"):
            two = heat_geodesic_distances(g, 10.0, rows=rows)  # two blocks of 35, two threads
        with memory_budget(f"{8 * 1500 * 9 * 8 + 1500 * 8}"):
            many = heat_geodesic_distances(g, 10.0, rows=rows)  # blocks of a few columns
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
    np.testing.assert_array_equal(one[np.arange(70), rows], 0.0)
    np.testing.assert_array_equal(many[np.arange(70), rows], 0.0)
    np.testing.assert_allclose(two, one, rtol=1e-12, atol=0)
    np.testing.assert_allclose(many, one, rtol=1e-9, atol=0)  # per-block orders differ
    ref = heat_geodesic_distances(g, 10.0, rows=rows, method="exact")
    ok = ref < np.sqrt(4 * 10.0 * np.log(1e6))  # H > 1e-6: the exact backend's error is 1e-16
    np.testing.assert_allclose(one[ok], ref[ok], rtol=1e-8)


def test_eccentricity_estimate_is_exact_on_paths_and_a_lower_bound_elsewhere():
    from scipy.sparse.csgraph import shortest_path

    from repgeo.diffusion import build_graph

    # two paths (two components) of 7 and 4 nodes: exact eccentricities
    i = np.r_[np.arange(6), np.arange(7, 10)]
    j = i + 1
    with pytest.warns(UserWarning, match="disconnected"):
        g = DiffusionGraph(np.r_[i, j], np.r_[j, i], np.ones(2 * len(i)), 11)
    want = np.r_[[6, 5, 4, 3, 4, 5, 6], [3, 2, 2, 3]]
    np.testing.assert_array_equal(g.eccentricity_estimate(), want)
    X = np.random.default_rng(0).uniform(size=(600, 2)) * [10.0, 1.0]  # a strip, like a manifold
    g = build_graph(X, k=5)
    true = shortest_path(g.to_scipy(), unweighted=True).max(1)
    est = g.eccentricity_estimate()
    assert np.all(est <= true) and est.max() == g.hop_diameter() >= 0.9 * true.max()
    assert np.corrcoef(est, true)[0, 1] > 0.9


@pytest.mark.parametrize("split", [False, True])
def test_full_matrix_from_the_sweep_equals_the_rows_computed_one_by_one(split):
    """The full matrix takes each pair from whichever row the sweep computes first (each block
    only resolves the nodes at or after it); it must equal rows computed independently, on a
    connected graph and on one with two components (whose pairs saturate either way)."""
    from repgeo._backend import memory_budget
    from repgeo.data import swiss_roll
    from repgeo.diffusion import build_graph

    X = swiss_roll(700, random_state=3).X
    if split:
        X = np.r_[X[:350], X[350:] + 100.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = build_graph(X, k=5)
        with memory_budget("1GB"):
            full, info = heat_geodesic_distances(g, 10.0, return_info=True)
            some = heat_geodesic_distances(g, 10.0, rows=np.arange(0, 700, 3))  # not the full set
    same = g.component_labels[::3, None] == g.component_labels[None, :]
    # pairs across components saturate at their block's floor, which depends on its order
    np.testing.assert_allclose(full[::3][same], some[same], rtol=1e-11)
    np.testing.assert_allclose(full, full.T, rtol=1e-12)  # pairs within a block: both ways
    np.testing.assert_array_equal(np.diag(full), 0.0)
    if split:
        assert info["saturated_fraction"] > 0.3  # the pairs across the components
    else:
        assert info["saturated_fraction"] == 0.0
