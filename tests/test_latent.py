"""Tests of repgeo.latent: invariances, closed forms, brute-force references and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from sklearn.exceptions import NotFittedError

from repgeo._backend import memory_budget
from repgeo.latent import (
    CKA,
    AnchorSelector,
    CrossSpaceSimilarity,
    LatentAligner,
    RelativeProjection,
    StitchingHead,
    align,
    check_parallel,
    cka,
    cka_from_gram,
    cross_space_similarity,
    hsic,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    median_bandwidth,
    mrr_at_k,
    orthogonal_procrustes,
    rbf_cka,
    relative_projection,
    select_anchors,
    similarity_matrix,
    zero_shot_stitching,
)
from repgeo.plots import plot_similarity_matrix


def rotation(d: int, seed: int = 0) -> np.ndarray:
    Q, R = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return Q * np.sign(np.diag(R))


# ----------------------------------------------------------------------------- brute-force references
def ref_hsic(K: np.ndarray, L: np.ndarray, unbiased: bool = False) -> float:
    """HSIC from n × n Gram matrices: tr(KHLH)/(n-1)^2, or Song et al.'s unbiased estimator."""
    n = K.shape[0]
    if not unbiased:
        H = np.eye(n) - np.ones((n, n)) / n
        return float(np.trace(K @ H @ L @ H)) / (n - 1) ** 2
    Kt, Lt = K - np.diag(np.diag(K)), L - np.diag(np.diag(L))
    one = np.ones(n)
    return float(
        (
            np.trace(Kt @ Lt)
            + (one @ Kt @ one) * (one @ Lt @ one) / ((n - 1) * (n - 2))
            - 2 / (n - 2) * one @ Kt @ Lt @ one
        )
        / (n * (n - 3))
    )


def ref_cka(K: np.ndarray, L: np.ndarray, unbiased: bool = False) -> float:
    return ref_hsic(K, L, unbiased) / np.sqrt(ref_hsic(K, K, unbiased) * ref_hsic(L, L, unbiased))


def rbf_gram(X: np.ndarray, sigma: float) -> np.ndarray:
    return np.exp(-cdist(X, X, "sqeuclidean") / (2 * sigma**2))


def ref_neighbourhoods(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[float, float]:
    """Jaccard@k and MRR@k with dense cosine matrices and argsort."""

    def unit(Z):
        return Z / np.linalg.norm(Z, axis=1, keepdims=True)

    Sx = unit(X) @ unit(Y).T
    Sy = unit(Y) @ unit(Y).T
    nx = np.argsort(-Sx, axis=1)[:, :k]
    ny = np.argsort(-Sy, axis=1)[:, :k]
    jac = np.mean([len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nx, ny)])
    rr = [1.0 / (list(row).index(i) + 1) if i in row else 0.0 for i, row in enumerate(nx)]
    return float(jac), float(np.mean(rr))


# ----------------------------------------------------------------------------- relative projection
class TestRelative:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.X = rng.normal(size=(120, 10)) + 0.5
        self.A = self.X[:15]
        self.Q = rotation(10, 1)

    def test_cosine_invariant_to_rotation_and_isotropic_scale(self):
        R = relative_projection(self.X, self.A)
        R2 = relative_projection(4.0 * self.X @ self.Q, 4.0 * self.A @ self.Q)
        np.testing.assert_allclose(R, R2, atol=1e-12)
        assert R.shape == (120, 15) and np.all(np.abs(R) <= 1 + 1e-12)

    def test_cosine_not_invariant_to_translation_unless_centred(self):
        shift = 3.0 * np.ones(10)
        R = relative_projection(self.X, self.A)
        Rs = relative_projection(self.X + shift, self.A + shift)
        assert np.abs(R - Rs).max() > 0.1
        Rc = relative_projection(self.X, self.A, transforms="center")
        Rcs = relative_projection(
            self.X @ self.Q + shift, self.A @ self.Q + shift, transforms="center"
        )
        np.testing.assert_allclose(Rc, Rcs, atol=1e-12)

    def test_not_invariant_to_anisotropic_scaling(self):
        D = np.diag(np.linspace(0.2, 5.0, 10))
        assert (
            np.abs(
                relative_projection(self.X, self.A) - relative_projection(self.X @ D, self.A @ D)
            ).max()
            > 0.05
        )

    def test_closed_forms_of_every_projection(self):
        X, A = self.X, self.A
        d = X.shape[1]
        cos = (X / np.linalg.norm(X, axis=1, keepdims=True)) @ (
            A / np.linalg.norm(A, axis=1, keepdims=True)
        ).T
        np.testing.assert_allclose(
            relative_projection(X, A, projection="inner"), X @ A.T / np.sqrt(d), rtol=1e-12
        )
        np.testing.assert_allclose(
            relative_projection(X, A, projection="angular"),
            np.arccos(np.clip(cos, -1, 1)) / np.pi,
            atol=1e-7,
        )
        np.testing.assert_allclose(
            relative_projection(X, A, projection="euclidean"), cdist(X, A), rtol=1e-10
        )
        np.testing.assert_allclose(
            relative_projection(X, A, projection="l1"), cdist(X, A, "cityblock"), rtol=1e-12
        )
        # change of basis: least-squares coefficients reconstruct X exactly when the anchors span R^d
        C = relative_projection(X, A, projection="basis")
        np.testing.assert_allclose(C @ A, X, atol=1e-10)
        ref = np.linalg.lstsq(A.T, X.T, rcond=None)[0].T
        np.testing.assert_allclose(C, ref, atol=1e-10)

    def test_invariances_of_distance_and_basis_projections(self):
        X, A, Q = self.X, self.A, self.Q
        shift = np.arange(10.0)
        np.testing.assert_allclose(
            relative_projection(X, A, projection="euclidean"),
            relative_projection(X @ Q + shift, A @ Q + shift, projection="euclidean"),
            atol=1e-9,
        )
        M = np.random.default_rng(3).normal(size=(10, 10))  # any invertible linear map
        np.testing.assert_allclose(
            relative_projection(X, A, projection="basis"),
            relative_projection(X @ M, A @ M, projection="basis"),
            atol=1e-8,
        )

    def test_transforms_are_fitted_on_the_anchors(self):
        X, A = self.X, self.A
        mu, sd = A.mean(0), A.std(0)
        ref = relative_projection((X - mu) / sd, (A - mu) / sd)
        np.testing.assert_allclose(
            relative_projection(X, A, transforms="standard"), ref, atol=1e-12
        )
        Z = (X - A.mean(0)) / np.linalg.norm(X - A.mean(0), axis=1, keepdims=True)
        B = (A - A.mean(0)) / np.linalg.norm(A - A.mean(0), axis=1, keepdims=True)
        np.testing.assert_allclose(
            relative_projection(X, A, transforms=["center", "l2"], projection="inner"),
            Z @ B.T / np.sqrt(10),
            atol=1e-12,
        )

    def test_output_normalisation_is_per_sample(self):
        R = relative_projection(self.X, self.A, normalization="l2")
        np.testing.assert_allclose(np.linalg.norm(R, axis=1), 1.0, atol=1e-12)
        rel = RelativeProjection(normalization="layernorm").fit(self.A)
        L = rel.transform(self.X)
        R = relative_projection(self.X, self.A)
        ref = (R - R.mean(1, keepdims=True)) / np.sqrt(
            R.var(1, keepdims=True) + 1e-5
        )  # LayerNorm, eps 1e-5
        np.testing.assert_allclose(L, ref, atol=1e-10)
        np.testing.assert_allclose(L.mean(1), 0.0, atol=1e-10)
        # no batch dependence: a sub-batch gets exactly the same rows
        np.testing.assert_allclose(rel.transform(self.X[:7]), L[:7], atol=1e-14)

    def test_kind_dtype_device_preserved_and_chunking(self):
        rel = RelativeProjection().fit(self.A)
        Xt = torch.tensor(self.X, dtype=torch.float32)
        out = rel.transform(Xt)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        out32 = rel.transform(self.X.astype(np.float32))
        assert isinstance(out32, np.ndarray) and out32.dtype == np.float32
        with memory_budget(2000):  # forces many tiny chunks
            small = rel.transform(self.X)
        np.testing.assert_allclose(small, rel.transform(self.X), atol=0)
        assert rel.fit_transform(self.A).shape == (15, 15)

    def test_anchor_ids_and_parallel_check(self):
        ids = np.array([f"s{i}" for i in range(15)])
        a = RelativeProjection().fit(self.A, anchor_ids=ids)
        b = RelativeProjection().fit(self.A @ self.Q, anchor_ids=ids)
        check_parallel(a, b)
        c = RelativeProjection().fit(self.A[::-1], anchor_ids=ids[::-1])
        with pytest.raises(ValueError, match="not parallel"):
            check_parallel(a, c)
        with pytest.raises(ValueError, match="15 anchors vs 14"):
            check_parallel(a, ids[:14])
        with pytest.raises(ValueError, match="shape"):
            RelativeProjection().fit(self.A, anchor_ids=ids[:3])
        with pytest.raises(ValueError, match="unique"):
            RelativeProjection().fit(self.A, anchor_ids=np.repeat("x", 15))

    def test_bad_input(self):
        rel = RelativeProjection()
        with pytest.raises(NotFittedError, match="not fitted"):
            rel.transform(self.X)
        with pytest.raises(ValueError, match="NaN"):
            rel.fit(np.full((3, 2), np.nan))
        with pytest.raises(ValueError, match="at least 1 sample"):
            rel.fit(np.empty((0, 3)))
        with pytest.raises(ValueError, match="2-D"):
            rel.fit(np.ones(5))
        with pytest.raises(TypeError, match="complex"):
            rel.fit(np.ones((3, 2), dtype=complex))
        rel.fit(self.A)
        with pytest.raises(ValueError, match="10 features"):
            rel.transform(np.ones((4, 3)))
        with pytest.raises(ValueError, match="projection"):
            RelativeProjection(projection="dot").fit(self.A)
        with pytest.raises(ValueError, match="transforms"):
            RelativeProjection(transforms="whiten").fit(self.A)
        with pytest.raises(TypeError, match="transforms"):
            RelativeProjection(transforms=3).fit(self.A)
        with pytest.raises(ValueError, match="normalization"):
            RelativeProjection(normalization="batch").fit(self.A)


# ----------------------------------------------------------------------------- anchors
class TestAnchors:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.X = rng.normal(size=(200, 3))
        self.y = np.repeat(np.arange(4), [100, 50, 30, 20])

    def test_uniform_seeded_and_distinct(self):
        a = select_anchors(self.X, 30, random_state=1)
        assert len(set(a.tolist())) == 30 and a.min() >= 0 and a.max() < 200
        np.testing.assert_array_equal(a, select_anchors(self.X, 30, random_state=1))
        assert not np.array_equal(a, select_anchors(self.X, 30, random_state=2))

    def test_stratified_round_robin(self):
        a = select_anchors(self.X, 40, method="stratified", y=self.y, random_state=0)
        counts = np.bincount(self.y[a], minlength=4)
        assert counts.tolist() == [10, 10, 10, 10]
        np.testing.assert_array_equal(self.y[a[:8]], [0, 1, 2, 3, 0, 1, 2, 3])
        # a small class runs out: the others keep going
        b = select_anchors(self.X, 100, method="stratified", y=self.y, random_state=0)
        assert np.bincount(self.y[b], minlength=4)[3] == 20 and len(set(b.tolist())) == 100

    def test_fps_matches_brute_force_greedy(self):
        a = select_anchors(self.X, 12, method="fps", random_state=5)
        D = cdist(self.X, self.X)
        ref = [int(a[0])]
        for _ in range(11):
            ref.append(int(np.argmax(D[:, ref].min(1))))
        assert a.tolist() == ref
        # FPS spreads anchors: its minimum pairwise distance beats a uniform sample's
        u = select_anchors(self.X, 12, random_state=5)
        mind = lambda idx: cdist(self.X[idx], self.X[idx])[np.triu_indices(len(idx), 1)].min()  # noqa: E731
        assert mind(a) > mind(u)

    def test_kmeans_snaps_to_distinct_real_samples(self):
        rng = np.random.default_rng(0)
        centers = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=float)
        X = np.vstack([c + 0.1 * rng.normal(size=(25, 2)) for c in centers])
        a = select_anchors(X, 4, method="kmeans", random_state=0)
        assert sorted((a // 25).tolist()) == [0, 1, 2, 3]  # one anchor per cluster
        b = select_anchors(self.X, 150, method="kmeans", random_state=0)
        assert len(set(b.tolist())) == 150

    def test_fixed_ids_and_selector(self):
        ids = np.array([f"id{i}" for i in range(200)])
        a = select_anchors(self.X, 0, method="fixed", ids=ids, anchor_ids=["id9", "id2", "id150"])
        assert a.tolist() == [9, 2, 150]
        sel = AnchorSelector(n_anchors=5, method="stratified", random_state=0).fit(
            self.X, self.y, ids=ids
        )
        np.testing.assert_array_equal(sel.ids_, ids[sel.indices_])
        np.testing.assert_array_equal(sel.take(self.X), self.X[sel.indices_])
        assert torch.equal(sel.take(torch.tensor(self.X)), torch.tensor(self.X)[sel.indices_])

    def test_bad_input(self):
        with pytest.raises(ValueError, match="<= the number of samples"):
            select_anchors(self.X, 201)
        with pytest.raises(ValueError, match=">= 1"):
            select_anchors(self.X, 0)
        with pytest.raises(ValueError, match="needs class labels"):
            select_anchors(self.X, 5, method="stratified")
        with pytest.raises(ValueError, match="must have 200 entries"):
            select_anchors(self.X, 5, method="stratified", y=self.y[:10])
        with pytest.raises(ValueError, match="needs both ids"):
            select_anchors(self.X, 5, method="fixed")
        ids = np.array([f"id{i}" for i in range(200)])
        with pytest.raises(ValueError, match="not among ids"):
            select_anchors(self.X, 0, method="fixed", ids=ids, anchor_ids=["nope"])
        with pytest.raises(ValueError, match="method"):
            select_anchors(self.X, 5, method="random")
        with pytest.raises(ValueError, match="NaN"):
            select_anchors(np.full((4, 2), np.nan), 2)
        with pytest.raises(NotFittedError, match="not fitted"):
            AnchorSelector(n_anchors=3).take(self.X)


# ----------------------------------------------------------------------------- alignment
class TestAlignment:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.X = rng.normal(size=(300, 8))
        self.Q = rotation(8, 2)

    def test_procrustes_recovers_planted_rotation(self):
        noise = 0.01 * np.random.default_rng(1).normal(size=self.X.shape)
        Y = self.X @ self.Q + noise
        R = orthogonal_procrustes(self.X, Y)
        assert np.abs(R - self.Q).max() < 0.01
        np.testing.assert_allclose(R @ R.T, np.eye(8), atol=1e-12)
        al = LatentAligner(center=False, scale=False).fit(self.X, Y)
        assert al.residual_ < 0.02
        assert al.residual(self.X, Y) == pytest.approx(al.residual_)

    def test_agrees_with_scipy(self):
        from scipy.linalg import orthogonal_procrustes as scipy_op

        Y = np.random.default_rng(4).normal(size=(300, 8))
        np.testing.assert_allclose(
            orthogonal_procrustes(self.X, Y), scipy_op(self.X, Y)[0], atol=1e-10
        )

    def test_similarity_transform_and_shift_recovered_exactly(self):
        Y = 3.0 * self.X @ self.Q - 2.0
        Yh, res = align(self.X, Y)
        np.testing.assert_allclose(Yh, Y, atol=1e-10)
        assert res < 1e-12

    def test_affine_and_projected_least_squares(self):
        rng = np.random.default_rng(5)
        W, b = rng.normal(size=(8, 5)), rng.normal(size=5)
        Y = self.X @ W + b
        Yh, res = align(self.X, Y, method="affine")
        np.testing.assert_allclose(Yh, Y, atol=1e-9)
        assert res < 1e-10
        # on a pure rotation, least squares projected to orthogonal is the rotation
        al = LatentAligner(method="lstsq_ortho").fit(self.X, self.X @ self.Q)
        np.testing.assert_allclose(al.R_.numpy(), self.Q, atol=1e-10)

    def test_different_dimensions_semi_orthogonal(self):
        E = rotation(12, 3)[:, :8].T  # 8 -> 12 isometric embedding
        Y = self.X @ E
        al = LatentAligner().fit(self.X, Y)
        R = al.R_.numpy()
        assert R.shape == (8, 12)
        np.testing.assert_allclose(R @ R.T, np.eye(8), atol=1e-10)
        np.testing.assert_allclose(al.transform(self.X), Y, atol=1e-9)
        back = LatentAligner().fit(Y, self.X)
        np.testing.assert_allclose(back.transform(Y), self.X, atol=1e-9)

    def test_fewer_anchors_than_dimensions_keeps_the_span(self):
        # 5 anchors in 8-d: the null space is mapped to zero, not rotated arbitrarily
        A = self.X[:5]
        al = LatentAligner(center=False, scale=False).fit(A, A)
        P = al.R_.numpy()
        U = np.linalg.svd(A.T, full_matrices=False)[0]
        np.testing.assert_allclose(P, U @ U.T, atol=1e-10)

    def test_torch_kind_and_chunking(self):
        Y = self.X @ self.Q
        al = LatentAligner().fit(torch.tensor(self.X), torch.tensor(Y))
        out = al.transform(torch.tensor(self.X, dtype=torch.float32))
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
        with memory_budget(3000):
            al2 = LatentAligner(method="affine").fit(self.X, Y)
        np.testing.assert_allclose(al2.transform(self.X), Y, atol=1e-8)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="same number of samples"):
            LatentAligner().fit(self.X, self.X[:10])
        with pytest.raises(ValueError, match="NaN"):
            LatentAligner().fit(np.full((5, 2), np.nan), np.ones((5, 2)))
        with pytest.raises(ValueError, match="at least 2"):
            LatentAligner().fit(self.X[:1], self.X[:1])
        with pytest.raises(ValueError, match="method"):
            LatentAligner(method="cca").fit(self.X, self.X)
        with pytest.raises(TypeError, match="center must be a bool"):
            LatentAligner(center=1).fit(self.X, self.X)
        with pytest.raises(NotFittedError, match="not fitted"):
            LatentAligner().transform(self.X)
        al = LatentAligner().fit(self.X, self.X)
        with pytest.raises(ValueError, match="8 features"):
            al.transform(np.ones((3, 2)))
        with pytest.raises(ValueError, match="features"):
            al.residual(self.X, np.ones((300, 3)))


# ----------------------------------------------------------------------------- similarity
class TestNeighbourhoods:
    def test_identical_spaces_score_one(self):
        Y = np.random.default_rng(0).normal(size=(300, 12))
        assert cross_space_similarity(Y, Y, k=10) == {
            "jaccard": 1.0,
            "mrr": 1.0,
            "cosine": pytest.approx(1.0),
        }
        # relative representations of a rotated, rescaled copy are identical too
        Q = rotation(12, 1)
        R1, R2 = relative_projection(Y, Y[:40]), relative_projection(2 * Y @ Q, 2 * Y[:40] @ Q)
        s = cross_space_similarity(R1, R2, k=10)
        assert s["jaccard"] == 1.0 and s["mrr"] == 1.0

    def test_independent_spaces_are_at_chance(self):
        rng = np.random.default_rng(1)
        n, k = 2000, 10
        X, Y = rng.normal(size=(n, 16)), rng.normal(size=(n, 16))
        s = cross_space_similarity(X, Y, k=k)
        assert s["jaccard"] < 10 * k / (2 * n)  # chance ≈ k / (2n − k)
        assert s["mrr"] < 10 * np.sum(1 / np.arange(1, k + 1)) / n  # chance ≈ H_k / n
        assert abs(s["cosine"]) < 0.02

    def test_matches_dense_brute_force(self):
        rng = np.random.default_rng(2)
        Y = rng.normal(size=(150, 6))
        X = Y + 0.7 * rng.normal(size=Y.shape)
        for k in (1, 5, 20):
            jac, mrr = ref_neighbourhoods(X, Y, k)
            assert jaccard_at_k(X, Y, k) == pytest.approx(jac, abs=1e-12)
            assert mrr_at_k(X, Y, k) == pytest.approx(mrr, abs=1e-12)
        cos = np.mean(np.sum(X * Y, 1) / np.linalg.norm(X, axis=1) / np.linalg.norm(Y, axis=1))
        assert mean_cosine(X, Y) == pytest.approx(cos, abs=1e-12)
        with memory_budget(5000):  # many small faiss/overlap chunks
            assert jaccard_at_k(X, Y, 5) == pytest.approx(ref_neighbourhoods(X, Y, 5)[0], abs=1e-12)
        assert CrossSpaceSimilarity(k=5)(torch.tensor(X), torch.tensor(Y))["mrr"] == pytest.approx(
            ref_neighbourhoods(X, Y, 5)[1]
        )

    def test_bad_input(self):
        Y = np.ones((10, 3)) + np.arange(30).reshape(10, 3)
        with pytest.raises(ValueError, match="same number of features"):
            jaccard_at_k(Y, Y[:, :2])
        with pytest.raises(ValueError, match="same number of samples"):
            mrr_at_k(Y, Y[:5])
        with pytest.raises(ValueError, match="k must be <="):
            jaccard_at_k(Y, Y, k=11)
        with pytest.raises(ValueError, match=">= 1"):
            mrr_at_k(Y, Y, k=0)
        with pytest.raises(TypeError, match="k must be"):
            cross_space_similarity(Y, Y, k=2.5)
        with pytest.raises(ValueError, match="NaN"):
            mean_cosine(np.full((3, 2), np.nan), np.ones((3, 2)))
        with pytest.raises(ValueError, match="at least 1 sample"):
            mean_cosine(np.empty((0, 2)), np.empty((0, 2)))


class TestCKA:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.X = rng.normal(size=(80, 6))
        self.Y = np.tanh(self.X @ rng.normal(size=(6, 9))) + 0.3 * rng.normal(size=(80, 9))

    def test_axioms_and_invariances(self):
        X, Y = self.X, self.Y
        for kernel in ("linear", "rbf"):
            assert cka(X, X, kernel=kernel) == pytest.approx(1.0, abs=1e-12)
            assert cka(X, Y, kernel=kernel) == pytest.approx(cka(Y, X, kernel=kernel), abs=1e-12)
            base = cka(X, Y, kernel=kernel)
            assert 0 < base < 1
            moved = cka(5.0 * X @ rotation(6, 3) + 7.0, Y, kernel=kernel)  # rotation, scale, shift
            assert moved == pytest.approx(base, abs=1e-10)
        D = np.diag(np.linspace(0.1, 3, 6))
        assert (
            abs(linear_cka(X @ D, Y) - linear_cka(X, Y)) > 1e-3
        )  # not invariant to anisotropic scaling

    def test_linear_matches_gram_formula_feature_and_gram_paths(self):
        for n, d in ((80, 6), (12, 40)):  # feature-space path (n > d) and Gram path (n <= d)
            rng = np.random.default_rng(n)
            X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d + 3)) + rng.normal(size=(n, 1))
            for unbiased in (False, True):
                ref = ref_cka(X @ X.T, Y @ Y.T, unbiased)
                assert cka(X, Y, unbiased=unbiased) == pytest.approx(ref, rel=1e-10)
                assert hsic(X, Y, unbiased=unbiased) == pytest.approx(
                    ref_hsic(X @ X.T, Y @ Y.T, unbiased), rel=1e-10
                )
        with memory_budget(4000):  # chunked feature-space accumulation
            assert linear_cka(self.X, self.Y) == pytest.approx(
                ref_cka(self.X @ self.X.T, self.Y @ self.Y.T), rel=1e-10
            )

    def test_rbf_matches_gram_formula(self):
        X, Y = self.X, self.Y
        sx, sy = median_bandwidth(X), median_bandwidth(Y)
        for unbiased in (False, True):
            ref = ref_cka(rbf_gram(X, sx), rbf_gram(Y, sy), unbiased)
            assert rbf_cka(X, Y, unbiased=unbiased) == pytest.approx(ref, rel=1e-10)
        ref = ref_cka(rbf_gram(X, 2.0), rbf_gram(Y, 0.5))
        assert cka(X, Y, kernel="rbf", sigma=(2.0, 0.5)) == pytest.approx(ref, rel=1e-10)
        with memory_budget(20000):  # row blocks of a few rows
            assert cka(X, Y, kernel="rbf", sigma=1.3) == pytest.approx(
                ref_cka(rbf_gram(X, 1.3), rbf_gram(Y, 1.3)), rel=1e-10
            )
        assert hsic(X, Y, kernel="rbf", sigma=1.3, unbiased=True) == pytest.approx(
            ref_hsic(rbf_gram(X, 1.3), rbf_gram(Y, 1.3), True), rel=1e-10
        )

    def test_median_bandwidth_and_gram_input(self):
        d = cdist(self.X, self.X)[np.triu_indices(80, 1)]
        assert median_bandwidth(self.X, threshold=0.5) == pytest.approx(0.5 * np.median(d))
        big = np.random.default_rng(0).normal(size=(3000, 2))
        assert median_bandwidth(big, max_samples=500) == pytest.approx(
            median_bandwidth(big, max_samples=500)
        )
        K, L = self.X @ self.X.T, self.Y @ self.Y.T
        assert cka_from_gram(K, L) == pytest.approx(linear_cka(self.X, self.Y), rel=1e-10)
        assert CKA(kernel="rbf")(self.X, self.X) == pytest.approx(1.0)

    def test_float32_and_torch_inputs(self):
        X32 = torch.tensor(self.X, dtype=torch.float32)
        assert linear_cka(X32, self.Y) == pytest.approx(linear_cka(self.X, self.Y), rel=1e-5)
        big = np.random.default_rng(1).normal(size=(20000, 8)).astype(np.float32) + 100.0
        assert linear_cka(big, big @ rotation(8).astype(np.float32)) == pytest.approx(1.0, abs=1e-5)

    def test_bad_input(self):
        with pytest.raises(ValueError, match="same number of samples"):
            cka(self.X, self.Y[:10])
        with pytest.raises(ValueError, match="at least 4"):
            cka(self.X[:3], self.Y[:3], unbiased=True)
        with pytest.warns(RuntimeWarning, match="zero variance"):  # undefined: NaN, said so
            assert np.isnan(cka(np.ones((10, 3)), self.Y[:10]))
        with pytest.raises(ValueError, match="kernel"):
            cka(self.X, self.Y, kernel="poly")
        with pytest.raises(ValueError, match="sigma must be >"):
            cka(self.X, self.Y, kernel="rbf", sigma=-1.0)
        with pytest.raises(ValueError, match="sigma"):
            cka(self.X, self.Y, kernel="rbf", sigma="mean")
        with pytest.raises(ValueError, match="median pairwise distance is 0"):
            median_bandwidth(np.zeros((5, 2)))
        with pytest.raises(ValueError, match="NaN"):
            hsic(np.full((5, 2), np.nan), np.ones((5, 2)))
        with pytest.raises(TypeError, match="unbiased must be a bool"):
            cka(self.X, self.Y, unbiased=1)
        with pytest.raises(ValueError, match="square"):
            cka_from_gram(np.ones((4, 3)), np.ones((4, 3)))


def test_similarity_matrix_and_heatmap():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    spaces = {"a": X, "b": X @ rotation(4), "c": rng.normal(size=(60, 7))}
    S, names = similarity_matrix(spaces)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(np.diag(S), 1.0, atol=1e-12)
    np.testing.assert_allclose(S, S.T)
    assert S[0, 1] == pytest.approx(1.0) and S[0, 2] < 0.5
    S2, _ = similarity_matrix([X, X], metric=lambda a, b: 0.5, symmetric=False)
    assert np.all(S2 == 0.5)
    fig = plot_similarity_matrix(np.array([[1.0, np.nan], [0.3, 1.0]]), ["p", "q"], title="t")
    assert fig.axes[0].get_title() == "t"
    with pytest.raises(ValueError, match="same number of samples"):
        similarity_matrix({"a": X, "b": X[:5]})
    with pytest.raises(ValueError, match="metric"):
        similarity_matrix({"a": X}, metric="svcca")
    with pytest.raises(TypeError, match="mapping"):
        similarity_matrix(X)
    with pytest.raises(ValueError, match="one label per row"):
        plot_similarity_matrix(np.eye(2), ["a"])


# ----------------------------------------------------------------------------- stitching
class TestStitching:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.y = rng.integers(0, 4, size=500)
        Z = rng.normal(size=(500, 6)) + 3.0 * np.eye(4, 6)[self.y] + 1.0
        E = rotation(9, 4)[:, :6].T
        self.spaces = {"a": Z, "rot": 2.0 * Z @ rotation(6, 5), "wide": Z @ E}

    def split(self):
        tr = {k: v[:350] for k, v in self.spaces.items()}
        te = {k: v[350:] for k, v in self.spaces.items()}
        return tr, self.y[:350], te, self.y[350:]

    def test_relative_and_procrustes_work_where_absolute_fails(self):
        tr, ytr, te, yte = self.split()
        kw = {"n_anchors": 60, "random_state": 0}
        ab = zero_shot_stitching(tr, ytr, te, yte, method="absolute", **kw)
        assert np.isnan(ab.accuracy[0, 2]) and np.isnan(
            ab.accuracy[2, 1]
        )  # undefined across dimensions
        assert ab.accuracy[0, 1] < 0.6 and ab.diagonal_mean() > 0.9
        rel = zero_shot_stitching(
            tr,
            ytr,
            te,
            yte,
            method="relative",
            relative=RelativeProjection(transforms="center"),
            **kw,
        )
        pro = zero_shot_stitching(tr, ytr, te, yte, method="procrustes", **kw)
        for r in (rel, pro):
            assert r.off_diagonal_mean() > 0.9
            assert r.off_diagonal_mean() == pytest.approx(r.diagonal_mean(), abs=0.03)
        assert np.all(pro.residuals < 1e-8)
        assert rel.f1.shape == (3, 3) and rel.anchor_index.shape == (60,)

    def test_non_parallel_ids_are_caught(self):
        tr, ytr, te, yte = self.split()
        ids = np.array([f"s{i}" for i in range(350)])
        res = zero_shot_stitching(tr, ytr, te, yte, ids=ids, n_anchors=20)
        assert res.off_diagonal_mean() > 0.5
        shuffled = {"a": ids, "rot": ids[::-1], "wide": ids}
        with pytest.raises(ValueError, match="not parallel"):
            zero_shot_stitching(tr, ytr, te, yte, ids=shuffled, n_anchors=20)
        with pytest.raises(ValueError, match="not parallel"):
            zero_shot_stitching(tr, ytr, te, yte, ids=shuffled, n_anchors=20, method="procrustes")

    def test_head(self):
        tr, ytr, te, yte = self.split()
        for scaling in ("isotropic", "standard", "none"):
            assert StitchingHead(scaling=scaling).fit(tr["a"], ytr).score(te["a"], yte) > 0.9
        with pytest.raises(NotFittedError, match="not fitted"):
            StitchingHead().predict(te["a"])
        with pytest.raises(ValueError, match="6 features"):
            StitchingHead().fit(tr["a"], ytr).predict(te["wide"])
        with pytest.raises(ValueError, match="scaling"):
            StitchingHead(scaling="minmax").fit(tr["a"], ytr)

    def test_bad_input(self):
        tr, ytr, te, yte = self.split()
        with pytest.raises(ValueError, match="same spaces"):
            zero_shot_stitching(tr, ytr, {"a": te["a"]}, yte)
        with pytest.raises(ValueError, match="y_train must have 350"):
            zero_shot_stitching(tr, ytr[:10], te, yte)
        with pytest.raises(ValueError, match="anchors must be row indices"):
            zero_shot_stitching(tr, ytr, te, yte, anchors=[0, 400])
        with pytest.raises(ValueError, match="distinct"):
            zero_shot_stitching(tr, ytr, te, yte, anchors=[1, 1, 2])
        with pytest.raises(ValueError, match="method"):
            zero_shot_stitching(tr, ytr, te, yte, method="cca")
        with pytest.raises(TypeError, match="mapping"):
            zero_shot_stitching([tr["a"]], ytr, te, yte)
        with pytest.raises(ValueError, match="features in train"):
            zero_shot_stitching({"a": tr["a"]}, ytr, {"a": te["wide"]}, yte)
        bad = dict(tr)
        bad["a"] = tr["a"].copy()
        bad["a"][0, 0] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            zero_shot_stitching(bad, ytr, te, yte)


# ----------------------------------------------------------------------------- every public function, bad input
GOOD = np.random.default_rng(9).normal(size=(12, 3))
NAN = GOOD.copy()
NAN[2, 1] = np.nan
PAIRED = [
    ("relative_projection", lambda X, Y: relative_projection(X, Y)),
    ("align", lambda X, Y: align(X, Y)),
    ("orthogonal_procrustes", lambda X, Y: orthogonal_procrustes(X, Y)),
    ("jaccard_at_k", lambda X, Y: jaccard_at_k(X, Y, 3)),
    ("mrr_at_k", lambda X, Y: mrr_at_k(X, Y, 3)),
    ("mean_cosine", mean_cosine),
    ("cross_space_similarity", lambda X, Y: cross_space_similarity(X, Y, k=3)),
    ("cka", cka),
    ("linear_cka", linear_cka),
    ("rbf_cka", rbf_cka),
    ("hsic", hsic),
    ("cka_from_gram", lambda X, Y: cka_from_gram(_gram(X), _gram(Y))),
]


def _gram(Z):
    return Z @ Z.T if isinstance(Z, np.ndarray) else Z


@pytest.mark.parametrize(("name", "fn"), PAIRED, ids=[p[0] for p in PAIRED])
def test_public_functions_reject_bad_input(name, fn):
    with pytest.raises(ValueError, match="NaN"):
        fn(NAN, GOOD)
    with pytest.raises(ValueError, match="NaN"):
        fn(GOOD, NAN)
    with pytest.raises(ValueError):
        fn(np.empty((0, 3)), np.empty((0, 3)))
    with pytest.raises(ValueError, match="2-D"):
        fn(GOOD[:, 0], GOOD)
    with pytest.raises(TypeError):
        fn(GOOD.astype(complex), GOOD)
    with pytest.raises(TypeError):
        fn("not an array", GOOD)
    if name not in ("relative_projection",):  # paired: lengths must match
        with pytest.raises(ValueError, match="same number of samples|must be a square"):
            fn(GOOD, GOOD[:7])
    fn(GOOD, GOOD)  # and the good input works


def test_single_input_functions_reject_bad_input():
    for fn in (lambda X: select_anchors(X, 2), median_bandwidth):
        with pytest.raises(ValueError, match="NaN"):
            fn(NAN)
        with pytest.raises(ValueError):
            fn(np.empty((0, 3)))
        with pytest.raises(ValueError, match="2-D"):
            fn(GOOD[:, 0])
        with pytest.raises(TypeError):
            fn(None)


# ----------------------------------------------------------------------------- issue 11
@pytest.mark.parametrize("scale", [1e-300, 1e-150, 1e150, 1e300])
def test_scale_free_quantities_do_not_depend_on_magnitude(scale):
    """Issue 11 item 9: CKA (linear, RBF, debiased; Gram and feature-space paths), relative
    representations, cross-space similarity and the aligner's residual are scale-free (main:
    NaN for CKA, relative_projection off by 0.97–1.0 at 1e±300)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10))
    Y = X @ rng.normal(size=(10, 8)) + 0.5 * rng.normal(size=(200, 8))
    for kw in ({}, {"kernel": "rbf"}, {"unbiased": True}):
        assert cka(X * scale, Y, **kw) == pytest.approx(cka(X, Y, **kw), rel=1e-9)
    assert linear_cka(X[:6] * scale, Y[:6]) == pytest.approx(linear_cka(X[:6], Y[:6]), rel=1e-9)
    assert cka_from_gram(X @ X.T * scale, Y @ Y.T) == pytest.approx(linear_cka(X, Y), rel=1e-9)
    A = X[:10]
    for p in ("cosine", "angular"):
        np.testing.assert_allclose(
            relative_projection(X * scale, A, projection=p),
            relative_projection(X, A, projection=p),
            atol=1e-7 if p == "angular" else 1e-12,
        )
    np.testing.assert_allclose(
        relative_projection(X * scale, A * scale, projection="euclidean") / scale,
        relative_projection(X, A, projection="euclidean"),
        rtol=1e-12,
    )
    s0 = cross_space_similarity(X[:, :8], Y, k=5)
    s1 = cross_space_similarity(X[:, :8] * scale, Y, k=5)
    assert s1 == pytest.approx(s0, rel=1e-12)
    for method in ("orthogonal", "affine"):
        r0 = LatentAligner(method=method, scale=False).fit(X, Y).residual_
        r1 = LatentAligner(method=method, scale=False).fit(X * scale, Y * scale).residual_
        assert r1 == pytest.approx(r0, rel=1e-9)


def test_cka_of_a_constant_space_is_nan_with_a_warning():
    """Issue 11 item 9: undefined results say so (main: linear CKA 8e-34 with no warning, the
    debiased CKA -0.0098, RBF CKA a bandwidth error)."""
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(50, 4))
    for C in (np.tile(rng.normal(size=(1, 6)), (50, 1)), np.tile(rng.normal(size=(1, 3)), (50, 1))):
        for kw in ({}, {"kernel": "rbf"}, {"unbiased": True}):
            with pytest.warns(RuntimeWarning, match="zero variance"):
                assert np.isnan(cka(C, Y, **kw))
            with pytest.warns(RuntimeWarning, match="zero variance"):
                assert np.isnan(cka(Y, C, **kw))
    with pytest.warns(RuntimeWarning, match="zero variance"):
        assert np.isnan(cka_from_gram(np.full((50, 50), 3.0), Y @ Y.T))
    assert hsic(np.ones((50, 3)), Y) == 0.0  # HSIC itself is defined: 0 for a constant space
    with pytest.warns(RuntimeWarning, match="zero variance"):
        S, _ = similarity_matrix({"a": Y, "dead": np.zeros((50, 3))})
    assert np.isnan(S[0, 1]) and S[0, 0] == pytest.approx(1.0)


def test_hsic_of_huge_linear_kernels_overflows_with_a_warning():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 3))
    assert hsic(X * 1e-100, X) == pytest.approx(hsic(X, X) * 1e-200, rel=1e-9)
    with pytest.warns(RuntimeWarning, match="overflows"):
        assert hsic(X * 1e300, X) == np.inf


def test_relative_projection_warns_when_a_non_scale_free_projection_overflows():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4))
    with pytest.warns(RuntimeWarning, match="overflows"):
        relative_projection(X * 1e300, X[:5] * 1e300, projection="inner")
    # a constant anchor column under "standard" keeps scale 1 at any magnitude
    A = X[:6].copy()
    A[:, 0] = 5.0
    R0 = relative_projection(X, A, transforms="standard")
    R1 = relative_projection(X * 1e-200, A * 1e-200, transforms="standard")
    np.testing.assert_allclose(R1, R0, atol=1e-12)


def test_aligner_rank_travels_with_the_fit():
    """Issue 11 item 11: rank deficiency is an attribute of the fitted aligner."""
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(6, 10)), rng.normal(size=(6, 10))
    al = LatentAligner().fit(X, Y)
    assert al.rank_ == 5 and al.warnings_ == []  # 6 centred pairs span 5 directions
    with pytest.warns(RuntimeWarning, match="degenerate"):
        al = LatentAligner().fit(np.ones((6, 10)), Y)
    assert al.rank_ == 0 and "degenerate" in al.warnings_[0]
    assert al.residual_ == pytest.approx(1.0)


@pytest.mark.parametrize("unbiased", [False, True])
def test_linear_cka_numpy_and_torch_paths_agree(monkeypatch, unbiased):
    """Small CPU inputs are reduced in NumPy (issue 14 item 8); the torch path (large or GPU
    inputs, chunked) gives the same CKA and HSIC on both the feature-space and Gram forms."""
    import repgeo.latent.similarity as sim

    rng = np.random.default_rng(5)
    cases = [
        (rng.normal(size=(300, 8)), rng.normal(size=(300, 5))),  # feature space
        (rng.normal(size=(20, 40)), rng.normal(size=(20, 6))),  # n <= d: Gram form
        (rng.normal(size=(200, 6)).astype(np.float32) + 50.0, rng.normal(size=(200, 4))),
    ]
    fast = [(cka(X, Y, unbiased=unbiased), hsic(X, Y, unbiased=unbiased)) for X, Y in cases]
    monkeypatch.setattr(sim, "_SMALL", 0)
    slow = [(cka(X, Y, unbiased=unbiased), hsic(X, Y, unbiased=unbiased)) for X, Y in cases]
    np.testing.assert_allclose(np.array(fast), np.array(slow), rtol=1e-5)
    np.testing.assert_allclose(np.array(fast[:2]), np.array(slow[:2]), rtol=1e-10)
