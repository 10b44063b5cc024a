"""repgeo.latent.compare: stitching matrices and pairwise similarity over a panel of spaces,
checked against brute-force computations and the one-pair functions they run."""

from __future__ import annotations

import numpy as np
import pytest

from repgeo.latent import (
    COMPARISON_METHODS,
    LatentAligner,
    RelativeProjection,
    cka,
    cross_space_similarity,
    pairwise_similarity,
    random_orthogonal,
    rotated_copy,
    stitching_matrices,
    zero_shot_stitching,
)


# ----------------------------------------------------------------------------- references
def _topk_cosine(Q: np.ndarray, T: np.ndarray, k: int) -> np.ndarray:
    """Brute force: indices of the k rows of T with the largest cosine to each row of Q."""
    Qn = Q / np.linalg.norm(Q, axis=1, keepdims=True)
    Tn = T / np.linalg.norm(T, axis=1, keepdims=True)
    return np.argsort(-(Qn @ Tn.T), axis=1, kind="stable")[:, :k]


def _brute_retrieval(X: np.ndarray, Y: np.ndarray, k: int) -> dict[str, float]:
    nx, ny = _topk_cosine(X, Y, k), _topk_cosine(Y, Y, k)
    jac = [len(set(a) & set(b)) / len(set(a) | set(b)) for a, b in zip(nx, ny)]
    rr = [1.0 / (list(row).index(i) + 1) if i in row else 0.0 for i, row in enumerate(nx)]
    cos = np.sum(X * Y, 1) / (np.linalg.norm(X, axis=1) * np.linalg.norm(Y, axis=1))
    return {"jaccard": float(np.mean(jac)), "mrr": float(np.mean(rr)), "cosine": float(cos.mean())}


def _brute_linear_cka(X: np.ndarray, Y: np.ndarray) -> float:
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    K, L = Xc @ Xc.T, Yc @ Yc.T
    return float((K * L).sum() / (np.linalg.norm(K) * np.linalg.norm(L)))


def _panel(rng: np.random.Generator, n: int = 160, n_train: int = 100):
    """Three spaces of the same samples: a base, a rotated+scaled copy, a 6-d nonlinear view."""
    y = rng.integers(0, 3, size=n)
    Z = rng.normal(size=(n, 4)) + 3.0 * np.eye(3, 4)[y]
    Q = random_orthogonal(4, random_state=1)
    W = rng.normal(size=(4, 6))
    spaces = {"base": Z, "rot": 2.0 * Z @ Q, "wide": np.tanh(Z @ W)}
    tr = {k: v[:n_train] for k, v in spaces.items()}
    te = {k: v[n_train:] for k, v in spaces.items()}
    return tr, te, y[:n_train], y[n_train:]


# ----------------------------------------------------------------------------- stitching_matrices
def test_stitching_matrices_equals_zero_shot_stitching_per_method(rng):
    tr, te, ytr, yte = _panel(rng)
    anchors = rng.choice(len(ytr), 30, replace=False)
    ids = np.array([f"s/{i}" for i in range(len(ytr))])
    rel = RelativeProjection(transforms="center")
    methods = ("absolute", "relative", "procrustes", "affine")
    res = stitching_matrices(
        tr, ytr, te, yte, anchors=anchors, methods=methods, relative=rel, ids=ids
    )
    assert list(res) == list(methods)
    for m in methods:
        direct = zero_shot_stitching(
            tr, ytr, te, yte, method=m, anchors=anchors, relative=rel, ids=ids
        )
        assert res[m].names == ["base", "rot", "wide"]
        np.testing.assert_array_equal(res[m].accuracy, direct.accuracy)
        np.testing.assert_array_equal(res[m].f1, direct.f1)
        np.testing.assert_array_equal(res[m].anchor_index, np.asarray(anchors))
    # absolute stitching is undefined across dimensions, defined otherwise
    acc = res["absolute"].accuracy
    assert np.isnan(acc[0, 2]) and np.isnan(acc[2, 1]) and np.isfinite(acc[0, 1])
    # the rotated copy is read through relative representations and Procrustes
    assert res["relative"].accuracy[1, 0] > 0.9 and res["procrustes"].accuracy[1, 0] > 0.9


def test_stitching_matrices_bad_input(rng):
    tr, te, ytr, yte = _panel(rng)
    a = np.arange(20)
    with pytest.raises(ValueError, match="method must be one of"):
        stitching_matrices(tr, ytr, te, yte, anchors=a, methods=("relative", "bogus"))
    with pytest.raises(TypeError, match="non-empty sequence"):
        stitching_matrices(tr, ytr, te, yte, anchors=a, methods="relative")
    with pytest.raises(TypeError, match="non-empty sequence"):
        stitching_matrices(tr, ytr, te, yte, anchors=a, methods=())
    with pytest.raises(ValueError, match="distinct"):
        stitching_matrices(tr, ytr, te, yte, anchors=a, methods=("relative", "relative"))
    with pytest.raises(ValueError, match="anchors must be row indices"):
        stitching_matrices(tr, ytr, te, yte, anchors=np.array([0, 100]))
    with pytest.raises(ValueError, match="distinct row indices"):
        stitching_matrices(tr, ytr, te, yte, anchors=np.array([1, 1, 2]))
    with pytest.raises(TypeError):
        stitching_matrices(tr, ytr, te, yte, anchors=np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="same spaces"):
        stitching_matrices(tr, ytr, {"base": te["base"]}, yte, anchors=a)
    bad = dict(te, rot=te["rot"][:, :3])
    with pytest.raises(ValueError, match="features in train"):
        stitching_matrices(tr, ytr, bad, yte, anchors=a)
    with pytest.raises(ValueError):
        stitching_matrices(tr, ytr[:-1], te, yte, anchors=a)


# ----------------------------------------------------------------------------- pairwise_similarity
def test_pairwise_similarity_against_direct_computation(rng):
    tr, te, _, _ = _panel(rng)
    anchors = rng.choice(100, 25, replace=False)
    rel = RelativeProjection(transforms="center")
    k = 7
    sim = pairwise_similarity(tr, te, anchors, relative=rel, k=k, random_state=3)
    assert list(sim) == [("base", "rot"), ("base", "wide"), ("rot", "wide")]
    for (a, b), rec in sim.items():
        X, Y = te[a], te[b]
        Ra = RelativeProjection(transforms="center").fit(tr[a][anchors]).transform(X)
        Rb = RelativeProjection(transforms="center").fit(tr[b][anchors]).transform(Y)
        aligned = LatentAligner(method="orthogonal").fit(tr[a][anchors], tr[b][anchors])
        views = {"relative": (Ra, Rb), "procrustes": (aligned.transform(X), Y)}
        if X.shape[1] == Y.shape[1]:
            views["absolute"] = (X, Y)
        for method in COMPARISON_METHODS:
            if method not in views:
                assert all(rec[key][method] is None for key in ("jaccard", "mrr", "cosine"))
                continue
            brute = _brute_retrieval(*views[method], k)
            for key in ("jaccard", "mrr", "cosine"):
                assert rec[key][method] == pytest.approx(brute[key], abs=1e-9), (a, b, method, key)
        assert rec["cka_linear"] == pytest.approx(_brute_linear_cka(X, Y), rel=1e-9)
        assert rec["cka_rbf"] == cka(X, Y, kernel="rbf", random_state=3)
    # the rotated, rescaled copy: relative representations and Procrustes recover it exactly
    rot = sim[("base", "rot")]
    for key in ("jaccard", "mrr", "cosine"):
        assert rot[key]["relative"] == pytest.approx(1.0, abs=1e-9)
        assert rot[key]["procrustes"] == pytest.approx(1.0, abs=1e-9)
    assert rot["cka_linear"] == pytest.approx(1.0, abs=1e-9)
    assert rot["jaccard"]["absolute"] < 0.9


def test_pairwise_similarity_default_relative_is_plain_cosine(rng):
    tr, te, _, _ = _panel(rng)
    anchors = np.arange(20)
    got = pairwise_similarity(tr, te, anchors, k=5)[("base", "wide")]
    R = {n: RelativeProjection().fit(tr[n][anchors]).transform(te[n]) for n in ("base", "wide")}
    want = cross_space_similarity(R["base"], R["wide"], k=5)
    assert {key: got[key]["relative"] for key in want} == want


def test_pairwise_similarity_bad_input(rng):
    tr, te, _, _ = _panel(rng)
    a = np.arange(20)
    with pytest.raises(TypeError, match="non-empty mapping"):
        pairwise_similarity({}, te, a)
    with pytest.raises(TypeError, match="non-empty mapping"):
        pairwise_similarity(list(tr.values()), te, a)
    nan = dict(te, base=te["base"].copy())
    nan["base"][3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN|finite"):
        pairwise_similarity(tr, nan, a)
    with pytest.raises(ValueError):
        pairwise_similarity(tr, dict(te, rot=te["rot"][:-2]), a)  # unpaired rows
    with pytest.raises(ValueError, match="same spaces"):
        pairwise_similarity(tr, dict(reversed(te.items())), a)
    with pytest.raises(ValueError, match="k must be <="):
        pairwise_similarity(tr, te, a, k=61)
    with pytest.raises(ValueError, match="k must be >="):
        pairwise_similarity(tr, te, a, k=0)
    with pytest.raises(ValueError, match="anchors must be row indices"):
        pairwise_similarity(tr, te, np.array([-1, 3]))
    with pytest.raises(ValueError):
        pairwise_similarity(tr, te, np.array([], dtype=int))
    with pytest.raises(ValueError):
        pairwise_similarity(tr, te, a.reshape(4, 5))


# ----------------------------------------------------------------------------- rotated copies
def test_random_orthogonal_is_the_q_of_a_seeded_gaussian():
    Q = random_orthogonal(6, random_state=7)
    np.testing.assert_allclose(Q.T @ Q, np.eye(6), atol=1e-12)
    np.testing.assert_array_equal(Q, np.linalg.qr(np.random.default_rng(7).normal(size=(6, 6)))[0])
    np.testing.assert_array_equal(Q, random_orthogonal(6, random_state=np.random.default_rng(7)))
    assert not np.allclose(Q, random_orthogonal(6, random_state=8))
    for bad in (0, -2):
        with pytest.raises(ValueError):
            random_orthogonal(bad)
    with pytest.raises(TypeError):
        random_orthogonal(2.5)


def test_rotated_copy_matches_the_formula_and_keeps_geometry(rng):
    X = rng.normal(size=(50, 5)).astype(np.float32)
    Q = random_orthogonal(5, random_state=2)
    # exactly what the stitching study computed inline before (X @ Q + noise · std(X) · ε)
    want = (X @ Q + 0.2 * X.std() * np.random.default_rng(4).normal(size=X.shape)).astype(
        np.float32
    )
    got = rotated_copy(X, noise=0.2, rotation=Q, random_state=np.random.default_rng(4))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)
    # no noise: an isometry, undone by Qᵀ; the default Q comes from random_state
    Y = rotated_copy(X.astype(np.float64), random_state=2)
    np.testing.assert_allclose(Y, X @ Q, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(Y @ Q.T, X, atol=1e-6)
    # the noise has the requested scale (relative to the std of X)
    big = rng.normal(size=(4000, 8))
    R = random_orthogonal(8, random_state=0)
    resid = rotated_copy(big, noise=0.5, rotation=R, random_state=1) - big @ R
    assert resid.std() == pytest.approx(0.5 * big.std(), rel=0.03)


def test_rotated_copy_bad_input(rng):
    X = rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="orthogonal"):
        rotated_copy(X, rotation=2.0 * np.eye(3))
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        rotated_copy(X, rotation=np.eye(4))
    with pytest.raises(ValueError, match="noise must be >="):
        rotated_copy(X, noise=-0.1)
    with pytest.raises(TypeError):
        rotated_copy(X, noise="big")
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError):
        rotated_copy(Xn)
    with pytest.raises(ValueError):
        rotated_copy(np.empty((0, 3)))
    with pytest.raises(ValueError):
        rotated_copy(np.ones(3))
