"""repgeo.hashing: generators, separation, invariance, recoverability, SimHash, few-shot episodes.

Checked against independent references: torch's grid_sample, finite differences, exact
rotations/shifts, sklearn's roc_auc_score and Ridge, brute-force Jacobians (jacrev) and loops,
the SimHash law, and the linear-subspace control where a projection is a perfect hash.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from repgeo._backend import memory_budget
from repgeo.data import (
    DigitTransformManifolds,
    LinearSubspaces,
    RandomNetworkManifolds,
    bilinear_warp,
)
from repgeo.features import FeatureMap
from repgeo.hashing import (
    FewShotEvaluator,
    InvarianceRatio,
    RidgeProbe,
    Separation,
    SimHash,
    auroc,
    collision_curve,
    effective_rank,
    episode_accuracy,
    generator_tangents,
    invariance,
    invariance_from_tangents,
    k_shot_curve,
    one_shot_accuracy,
    pair_similarities,
    ridge_r2,
    sample_episodes,
    sample_pairs,
    separation,
    simhash_collision_probability,
)
from repgeo.models import MLP


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def linear():
    gen = LinearSubspaces(n_classes=12, k_gamma=4, k_theta=3, ambient_dim=30, random_state=0)
    ds = gen.sample(10, random_state=1)
    P = gen.invariant_projection()
    return gen, ds, P


# ----------------------------------------------------------------------------- family 3
def test_bilinear_warp_matches_grid_sample():
    g = torch.Generator().manual_seed(0)
    img = torch.randn(6, 8, 8, generator=g)
    A = torch.eye(2, 3).repeat(6, 1, 1) + 0.3 * torch.randn(6, 2, 3, generator=g)
    grid = torch.nn.functional.affine_grid(A, (6, 1, 16, 16), align_corners=False)
    ref = torch.nn.functional.grid_sample(img[:, None], grid, align_corners=False)
    assert torch.allclose(bilinear_warp(img, A, 16), ref.reshape(6, -1), atol=1e-5)


def test_digit_manifolds_reproduce_exemplars_and_exact_transforms():
    from sklearn.datasets import load_digits

    gen = DigitTransformManifolds(n_classes=20, image_size=8, random_state=3)
    x = gen(gen.gammas, torch.zeros(20, gen.k_theta)).numpy()
    d = load_digits()
    np.testing.assert_allclose(x, d.data[gen.exemplar_index] / 16.0, atol=1e-5)
    assert (d.target[gen.exemplar_index] == gen.digit_of_class).all()
    x0 = x[0].reshape(8, 8)
    # a quarter turn is an exact pixel permutation (clockwise on screen)
    rot = DigitTransformManifolds(
        n_classes=10, image_size=8, transforms=("rotation",), rotation=np.pi / 2, random_state=3
    )
    x1 = rot(rot.gammas[:1], torch.ones(1, 1)).numpy().reshape(8, 8)
    np.testing.assert_allclose(x1, np.rot90(x0, -1), atol=1e-5)
    # one pixel = 2/8 in normalised coordinates: translation 0.25 moves the digit one pixel
    tr = DigitTransformManifolds(
        n_classes=10, image_size=8, transforms=("translation",), translation=0.25, random_state=3
    )
    x1 = tr(tr.gammas[:1], torch.tensor([[1.0, 0.0]])).numpy().reshape(8, 8)
    shifted = np.zeros_like(x0)
    shifted[:, 1:] = x0[:, :-1]
    np.testing.assert_allclose(x1, shifted, atol=1e-6)
    br = DigitTransformManifolds(
        n_classes=10, image_size=8, transforms=("brightness",), brightness=0.5, random_state=3
    )
    x1 = br(br.gammas[:1], torch.ones(1, 1)).numpy().reshape(8, 8)
    np.testing.assert_allclose(x1, np.exp(0.5) * x0, rtol=1e-5, atol=1e-6)


def test_digit_manifolds_jacobians_match_finite_differences():
    gen = DigitTransformManifolds(n_classes=10, image_size=12, random_state=0)
    ds = gen.sample(1, random_state=2)
    g = torch.as_tensor(ds.extra["gamma"][:2], dtype=torch.float64)
    t = torch.as_tensor(ds.extra["theta"][:2], dtype=torch.float64)
    Jg, Jt = gen.jacobians(g, t)
    eps = 1e-6
    for i in range(gen.k_theta):
        e = torch.zeros_like(t)
        e[:, i] = eps
        fd = (gen(g, t + e) - gen(g, t - e)) / (2 * eps)
        torch.testing.assert_close(fd, Jt[:, :, i], atol=1e-6, rtol=1e-5)
    for i in (0, 7, 63):
        e = torch.zeros_like(g)
        e[:, i] = eps
        fd = (gen(g + e, t) - gen(g - e, t)) / (2 * eps)
        torch.testing.assert_close(fd, Jg[:, :, i], atol=1e-6, rtol=1e-5)


def test_digit_manifolds_split_and_sample():
    gen = DigitTransformManifolds(n_classes=30, random_state=0)
    seen, unseen = gen.split_by_digit([3, 7])
    assert set(gen.digit_of_class[unseen]) == {3, 7}
    assert not set(gen.digit_of_class[seen]) & {3, 7}
    assert np.union1d(seen, unseen).tolist() == list(range(30))
    ds = gen.sample(4, classes=unseen, random_state=0)
    assert ds.X.shape == (24, 256) and set(ds.y) == set(unseen.tolist())
    assert ds.meta["input_shape"] == [1, 16, 16]
    again = DigitTransformManifolds(n_classes=30, random_state=0).sample(
        4, classes=unseen, random_state=0
    )
    np.testing.assert_array_equal(ds.X, again.X)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"transforms": ("rotation", "shear")}, ValueError, "transforms"),
        ({"transforms": ()}, ValueError, "at least one"),
        ({"digits": [1, 1]}, ValueError, "distinct"),
        ({"digits": [3, 12]}, ValueError, r"\[0, 9\]"),
        ({"n_classes": 10_000}, ValueError, "n_classes"),
        ({"k_gamma": 65}, ValueError, "k_gamma"),
        ({"image_size": 1}, ValueError, "image_size"),
        ({"rotation": -1.0}, ValueError, "rotation"),
        ({"image_size": 8.5}, TypeError, "image_size"),
    ],
)
def test_digit_manifolds_bad_parameters(kwargs, err, match):
    with pytest.raises(err, match=match):
        DigitTransformManifolds(**kwargs)


def test_split_by_digit_bad_input():
    gen = DigitTransformManifolds(n_classes=20, digits=[0, 1, 2, 3], random_state=0)
    with pytest.raises(ValueError, match="among the generator's digits"):
        gen.split_by_digit([7])
    with pytest.raises(ValueError, match="both must be non-empty"):
        gen.split_by_digit([0, 1, 2, 3])


# ----------------------------------------------------------------------------- the perfect hash
def test_linear_projection_is_a_perfect_hash(linear):
    gen, ds, P = linear
    H = ds.X @ P.numpy().T
    sep = separation(H, ds.y)
    assert sep["auroc"] == 1.0
    assert sep["within_between_ratio"] < 1e-5
    assert sep["n_same"] == 12 * 45  # every same-class pair enumerated
    inv = invariance(lambda x: x @ P.T, gen, ds.extra["gamma"], ds.extra["theta"])
    assert inv["ratio"] < 1e-6 and inv["gain_gamma"] > 0.1
    assert one_shot_accuracy(H, ds.y, n_way=5, n_episodes=200)["mean"] == 1.0
    assert one_shot_accuracy(H, ds.y, n_way=None, n_episodes=50)["mean"] == 1.0
    # the same projection as an nn.Module through FeatureMap
    lin = torch.nn.Linear(30, 30, bias=False)
    with torch.no_grad():
        lin.weight.copy_(P)
    net = torch.nn.Sequential(lin, torch.nn.Identity())
    assert (
        invariance(FeatureMap(net, "1"), gen, ds.extra["gamma"], ds.extra["theta"])["ratio"] < 1e-6
    )
    assert (
        InvarianceRatio(generator=gen, layer="1").score(net, ds.extra["gamma"], ds.extra["theta"])
        < 1e-6
    )
    # the raw input is no hash: ratio 1 exactly, AUROC < 1, one-shot < 1
    assert invariance(lambda x: x, gen, ds.extra["gamma"], ds.extra["theta"])[
        "ratio"
    ] == pytest.approx(1.0, abs=1e-6)
    assert separation(ds.X, ds.y)["auroc"] < 0.99
    assert one_shot_accuracy(ds.X, ds.y, n_way=5, n_episodes=200)["mean"] < 0.99


def test_invariance_matches_brute_force_jacobians():
    gen = RandomNetworkManifolds(
        n_classes=4, k_gamma=3, k_theta=2, ambient_dim=12, hidden=16, random_state=0
    )
    ds = gen.sample(3, random_state=0)
    net = MLP([12, 20, 10, 4], activation="tanh", seed=0).double()
    g = torch.as_tensor(ds.extra["gamma"], dtype=torch.float64)
    t = torch.as_tensor(ds.extra["theta"], dtype=torch.float64)
    Jg, Jt = gen.jacobians(g, t)
    x = gen(g, t)
    fm = FeatureMap(net, "act2")
    Jh = torch.stack([torch.func.jacrev(fm.single)(xi) for xi in x]).detach()  # (n, 10, 12)
    hg = (Jh @ Jg).pow(2).sum((1, 2))
    ht = (Jh @ Jt).pow(2).sum((1, 2))
    expected = float((ht.sum() / Jt.pow(2).sum()).sqrt() / (hg.sum() / Jg.pow(2).sum()).sqrt())
    gen.gammas = gen.gammas.double()  # evaluate the tangents in float64 too
    res = invariance(net, gen, g, t, layer="act2")
    assert res["ratio"] == pytest.approx(expected, rel=1e-9)
    torch.testing.assert_close(res["h_theta"], ht.sqrt())
    torch.testing.assert_close(res["x_gamma"], Jg.pow(2).sum((1, 2)).sqrt())
    assert isinstance(res["h_theta"], torch.Tensor)  # kind of gamma
    tan = generator_tangents(gen, g, t)
    assert invariance_from_tangents(net, tan, layer="act2")["ratio"] == pytest.approx(
        expected, rel=1e-9
    )
    # the Hutchinson estimate converges to the exact value
    approx = invariance(net, gen, g, t, layer="act2", n_directions=400, random_state=0)["ratio"]
    assert approx == pytest.approx(expected, rel=0.1)


def test_invariance_through_digit_warp_runs_on_flat_images():
    gen = DigitTransformManifolds(n_classes=10, image_size=8, random_state=0)
    ds = gen.sample(2, random_state=0)
    net = MLP([64, 16, 10], seed=0)
    res = invariance(net, gen, ds.extra["gamma"], ds.extra["theta"], layer="act1")
    assert np.isfinite(res["ratio"]) and res["ratio"] > 0
    assert res["h_theta"].shape == (20,) and isinstance(res["h_theta"], np.ndarray)


def test_invariance_bad_input(linear):
    gen, ds, _ = linear
    g, t = ds.extra["gamma"], ds.extra["theta"]
    with pytest.raises(TypeError, match="ClassManifolds"):
        invariance(lambda x: x, "gen", g, t)
    with pytest.raises(ValueError, match="columns"):
        invariance(lambda x: x, gen, g[:, :2], t)
    with pytest.raises(ValueError, match="same number of samples"):
        invariance(lambda x: x, gen, g[:5], t)
    bad = g.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        invariance(lambda x: x, gen, bad, t)
    with pytest.raises(TypeError, match="callable"):
        invariance(3, gen, g, t)
    with pytest.raises(ValueError, match="n_directions"):
        invariance(lambda x: x, gen, g, t, n_directions=0)
    with pytest.raises(TypeError, match="generator_tangents"):
        invariance_from_tangents(lambda x: x, (g, t))


# ----------------------------------------------------------------------------- separation
def test_sample_pairs_enumerates_or_samples_uniformly():
    y = np.repeat([0, 1, 2], [2, 3, 5])
    i, j = sample_pairs(y, 1000, same=True)
    assert sorted(zip(i.tolist(), j.tolist())) == [
        (a, b) for a in range(10) for b in range(a + 1, 10) if y[a] == y[b]
    ]
    i, j = sample_pairs(y, 1000, same=False)
    assert i.size == 45 - 14 and (y[i] != y[j]).all()
    # sampling: class frequencies proportional to the number of same-class pairs
    y = np.repeat(np.arange(3), [30, 60, 120])
    pairs = np.array([435, 1770, 7140])  # 9345 same-class pairs > 8000: sampled
    i, j = sample_pairs(y, 8000, same=True, random_state=0)
    assert i.size == 8000 and (i != j).all() and (y[i] == y[j]).all()
    np.testing.assert_allclose(np.bincount(y[i]) / 8000, pairs / pairs.sum(), atol=0.02)
    # within a class, every member appears equally often
    members = np.bincount(np.r_[i, j][np.r_[y[i], y[j]] == 2] - 90, minlength=120)
    assert members.min() > 0.6 * members.mean()
    i, j = sample_pairs(y, 5000, same=False, random_state=0)
    assert i.size == 5000 and (y[i] != y[j]).all() and (i != j).all()


def test_auroc_matches_sklearn_with_ties():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    pos = np.round(rng.normal(1.0, 1.0, 300), 1)
    neg = np.round(rng.normal(0.0, 1.0, 500), 1)
    ref = roc_auc_score(np.r_[np.ones(300), np.zeros(500)], np.r_[pos, neg])
    assert auroc(pos, neg) == pytest.approx(ref, abs=1e-12)
    assert auroc([1.0, 1.0], [1.0]) == 0.5


def test_separation_sampled_close_to_exact():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(10), 40)
    Z = rng.normal(size=(10, 6))[y] + 0.8 * rng.normal(size=(400, 6))
    exact = separation(Z, y, n_pairs=10**6)
    assert exact["n_same"] == 10 * 780
    sampled = separation(Z, y, n_pairs=4000, random_state=0)
    assert sampled["n_same"] == 4000
    assert sampled["auroc"] == pytest.approx(exact["auroc"], abs=0.02)
    assert sampled["within_between_ratio"] == pytest.approx(exact["within_between_ratio"], abs=0.02)
    assert Separation(n_pairs=10**6).score(Z, y) == exact["auroc"] and Separation.higher_is_better
    # invariances: rotation and positive scaling of Z leave the cosine AUROC unchanged
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    assert separation(3.0 * Z @ Q, y, n_pairs=10**6)["auroc"] == pytest.approx(
        exact["auroc"], abs=1e-12
    )
    p = pair_similarities(torch.as_tensor(Z, dtype=torch.float32), y)
    assert isinstance(p["cos_same"], torch.Tensor) and p["cos_same"].dtype == torch.float32


@pytest.mark.parametrize("fn", [separation, pair_similarities])
def test_separation_bad_input(fn):
    Z = np.random.default_rng(0).normal(size=(10, 3))
    y = np.repeat([0, 1], 5)
    with pytest.raises(ValueError, match="same number|must have 10"):
        fn(Z, y[:9])
    with pytest.raises(ValueError, match="NaN"):
        fn(np.where(np.eye(10, 3) > 0, np.nan, Z), y)
    with pytest.raises(ValueError, match="2-D"):
        fn(Z[:, 0], y)
    with pytest.raises(ValueError, match="at least 2"):
        fn(Z[:1], y[:1])
    with pytest.raises(ValueError, match="two classes"):
        fn(Z, np.zeros(10, dtype=int))
    with pytest.raises(ValueError, match="two samples of one class"):
        fn(Z, np.arange(10))
    with pytest.raises(TypeError, match="integer class labels"):
        fn(Z, y + 0.5)
    with pytest.raises(TypeError, match="numeric|real"):
        fn(Z.astype(complex), y)
    with pytest.raises(ValueError, match="n_pairs"):
        fn(Z, y, n_pairs=0)


def test_auroc_bad_input():
    with pytest.raises(ValueError, match="at least 1"):
        auroc([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        auroc([np.nan], [1.0])
    with pytest.raises(ValueError, match="1-D"):
        auroc([[1.0]], [1.0])


# ----------------------------------------------------------------------------- effective rank
def test_effective_rank_matches_svd_entropy():
    rng = np.random.default_rng(0)
    for shape in ((200, 12), (8, 30)):  # covariance branch and SVD branch
        Z = rng.normal(size=shape) * np.linspace(0.1, 3, shape[1])
        s = np.linalg.svd(Z - Z.mean(0), compute_uv=False)
        p = s / s.sum()
        p = p[p > 1e-15]
        assert effective_rank(Z) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-8)
    assert effective_rank(np.eye(7), center=False) == pytest.approx(7.0)
    with pytest.warns(RuntimeWarning, match="effective rank is undefined"):
        assert effective_rank(np.ones((5, 3))) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        effective_rank(np.array([[np.nan, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="at least 2"):
        effective_rank(np.ones((1, 3)))


# ----------------------------------------------------------------------------- recoverability
def test_ridge_probe_matches_sklearn_ridge():
    from sklearn.linear_model import Ridge
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(0)
    for n, d in ((150, 8), (20, 50)):
        Z = rng.normal(size=(n, d))
        T = Z[:, :3] @ rng.normal(size=(3, 2)) + 0.5 * rng.normal(size=(n, 2))
        probe = RidgeProbe().fit(Z, T)
        ref = Ridge(alpha=probe.alpha_).fit(Z, T)
        np.testing.assert_allclose(probe.coef_, ref.coef_.T, atol=1e-9)
        np.testing.assert_allclose(probe.predict(Z), ref.predict(Z), atol=1e-9)
        r2 = r2_score(T, ref.predict(Z), multioutput="variance_weighted")
        assert probe.score(Z, T) == pytest.approx(r2, abs=1e-9)
    fixed = RidgeProbe(alphas=[2.5]).fit(Z, T)
    np.testing.assert_allclose(fixed.coef_, Ridge(alpha=2.5).fit(Z, T).coef_.T, atol=1e-9)


def test_ridge_r2_closed_forms_and_groups():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(400, 5))
    assert ridge_r2(Z, 2 * Z[:, 0] - Z[:, 3] + 1) == pytest.approx(1.0, abs=1e-6)
    assert ridge_r2(Z, rng.normal(size=400)) < 0.05
    # γ constant per class: recoverable for held-out samples, not for held-out classes when the
    # embedding only memorises the class (one-hot)
    y = np.repeat(np.arange(40), 10)
    gamma = rng.normal(size=(40, 3))[y]
    onehot = np.eye(40)[y]
    assert ridge_r2(onehot, gamma) == pytest.approx(1.0, abs=1e-3)
    assert ridge_r2(onehot, gamma, groups=y) < 0.05
    assert ridge_r2(gamma @ rng.normal(size=(3, 6)), gamma, groups=y) == pytest.approx(
        1.0, abs=1e-6
    )


def test_ridge_bad_input():
    Z = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="same number"):
        ridge_r2(Z, Z[:10, 0])
    with pytest.raises(ValueError, match="test_fraction"):
        ridge_r2(Z, Z[:, 0], test_fraction=1.0)
    with pytest.raises(ValueError, match="2 distinct groups"):
        ridge_r2(Z, Z[:, 0], groups=np.zeros(20, dtype=int))
    with pytest.raises(ValueError, match="NaN"):
        ridge_r2(np.full((20, 3), np.nan), Z[:, 0])
    with pytest.raises(NotFittedError, match="not fitted"):
        RidgeProbe().predict(Z)
    with pytest.raises(ValueError, match="3 features"):
        RidgeProbe().fit(Z, Z[:, 0]).predict(Z[:, :2])
    with pytest.raises(ValueError, match="alphas must be positive"):
        RidgeProbe(alphas=[0.0]).fit(Z, Z[:, 0])


# ----------------------------------------------------------------------------- SimHash
def test_simhash_bit_agreement_is_one_minus_angle_over_pi():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 10))
    codes = SimHash(n_bits=20000, random_state=1).fit_transform(X)
    i, j = np.triu_indices(30, 1)
    cos = (X[i] * X[j]).sum(1) / np.linalg.norm(X[i], axis=1) / np.linalg.norm(X[j], axis=1)
    agree = (codes[i] == codes[j]).mean(1)
    # each agreement is a mean of 20000 Bernoulli(1 - a/π): sd ≤ 0.0036
    np.testing.assert_allclose(agree, 1 - np.arccos(cos) / np.pi, atol=0.02)


@pytest.mark.parametrize("m", [1, 4, 10])
def test_collision_curve_follows_simhash_law(m):
    Z = np.random.default_rng(m).normal(size=(300, 12))
    c = collision_curve(Z, n_bits=m, n_tables=64, n_pairs=8000, center=False, random_state=0)
    ok = c["count"] >= 200
    # bin means of 8000 pairs × 64 tables: sampling error well below 0.03
    assert ok.sum() >= 3
    np.testing.assert_allclose(c["rate"][ok], c["theory"][ok], atol=0.03)
    np.testing.assert_allclose(c["theory"], simhash_collision_probability(c["angle"], m), atol=0.05)


def test_collision_curve_of_a_perfect_hash():
    gen = LinearSubspaces(n_classes=15, k_gamma=6, k_theta=3, ambient_dim=40, random_state=0)
    ds = gen.sample(8, random_state=0)
    H = ds.X @ gen.invariant_projection().numpy().T
    c = collision_curve(
        H, reference=ds.extra["gamma"], y=ds.y, n_bits=4, n_pairs=3000, center=False, random_state=0
    )
    assert c["same_rate"] == 1.0 and c["same_theory"] == pytest.approx(1.0)
    assert c["diff_rate"] < 0.5
    raw = collision_curve(
        ds.X,
        reference=ds.extra["gamma"],
        y=ds.y,
        n_bits=4,
        n_pairs=3000,
        center=False,
        random_state=0,
    )
    assert raw["same_rate"] < 0.9


def test_simhash_bad_input():
    with pytest.raises(NotFittedError, match="not fitted"):
        SimHash().transform(np.ones((2, 3)))
    h = SimHash(n_bits=4).fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match="3 features"):
        h.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match="n_bits"):
        SimHash(n_bits=0).fit(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\[0, π\]"):
        simhash_collision_probability([4.0], 2)
    with pytest.raises(ValueError, match="same number"):
        collision_curve(np.ones((5, 2)), reference=np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        collision_curve(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="must have 5"):
        collision_curve(np.ones((5, 2)), y=[0, 1])


# ----------------------------------------------------------------------------- few-shot
def test_episodes_are_valid_and_uniform():
    y = np.repeat(np.arange(8), [6, 7, 8, 9, 10, 11, 12, 3])  # class 7 too small for 1+5
    cls, sup, qry = sample_episodes(
        y, n_way=4, k_shot=1, n_query=5, n_episodes=3000, random_state=0
    )
    assert sup.shape == (3000, 4, 1) and qry.shape == (3000, 4, 5)
    assert (y[sup[..., 0]] == cls).all() and (y[qry] == cls[..., None]).all()
    both = np.concatenate([sup, qry], axis=2)
    srt = np.sort(both, axis=2)
    assert (np.diff(srt, axis=2) > 0).all()  # distinct samples within a class
    assert (np.sort(cls, axis=1)[:, 1:] != np.sort(cls, axis=1)[:, :-1]).all()
    assert 7 not in cls
    freq = np.bincount(cls.ravel(), minlength=8)[:7] / cls.size
    np.testing.assert_allclose(freq, 1 / 7, atol=0.015)
    # within class 6 (12 samples) every sample is a support equally often
    members = np.flatnonzero(y == 6)
    s6 = sup[..., 0][cls == 6]
    counts = np.array([(s6 == m).sum() for m in members])
    assert counts.min() > 0.5 * counts.mean()
    # the first draws are not biased towards low positions: support vs query spread the same
    assert abs(np.mean(sup[cls == 6]) - np.mean(qry[cls == 6])) < 0.5


def _loop_accuracy(Z, sup, qry, metric, classifier):
    """Brute-force reference: one episode and one query at a time."""
    out = []
    for e in range(sup.shape[0]):
        W = sup.shape[1]
        correct = 0
        for w in range(W):
            for q in qry[e, w]:
                scores = []
                for c in range(W):
                    S = Z[sup[e, c]]
                    cands = [S.mean(0)] if classifier == "prototype" else list(S)
                    vals = []
                    for p in cands:
                        if metric == "cosine":
                            vals.append(Z[q] @ p / np.linalg.norm(Z[q]) / np.linalg.norm(p))
                        else:
                            vals.append(-np.sum((Z[q] - p) ** 2))
                    scores.append(max(vals))
                correct += int(np.argmax(scores) == w)
        out.append(correct / (W * qry.shape[2]))
    return np.array(out)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
@pytest.mark.parametrize("classifier", ["prototype", "nearest"])
def test_episode_accuracy_matches_loop(metric, classifier):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(9), 8)
    Z = rng.normal(size=(9, 5))[y] + 1.2 * rng.normal(size=(72, 5))
    if metric == "cosine":  # cosine on normalised rows: the prototype of normalised supports
        Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    _, sup, qry = sample_episodes(y, n_way=4, k_shot=3, n_query=4, n_episodes=40, random_state=1)
    fast = episode_accuracy(Z, sup, qry, metric=metric, classifier=classifier)
    np.testing.assert_allclose(fast, _loop_accuracy(Z, sup, qry, metric, classifier), atol=1e-12)
    assert 0.3 < fast.mean() < 1.0


def test_one_shot_random_embeddings_are_at_chance():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(30), 12)
    Z = rng.normal(size=(360, 64))
    for n_way in (5, 20):
        r = one_shot_accuracy(Z, y, n_way=n_way, n_episodes=1500, random_state=1)
        assert r["chance"] == 1 / n_way
        assert abs(r["mean"] - 1 / n_way) < 4 * r["sem"] + 0.005
        assert r["ci_low"] < r["mean"] < r["ci_high"]
    ev = FewShotEvaluator(n_way=5, classifier="nearest", metric="euclidean", n_episodes=1500)
    assert abs(ev.score(Z, y) - 0.2) < 4 * ev.result_["sem"] + 0.005
    assert FewShotEvaluator.higher_is_better


def test_one_shot_is_deterministic_and_budget_independent():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(20), 10)
    Z = rng.normal(size=(20, 8))[y] + rng.normal(size=(200, 8))
    a = one_shot_accuracy(Z, y, n_way=10, n_episodes=600, random_state=5)
    with memory_budget(20_000):
        b = one_shot_accuracy(Z, y, n_way=10, n_episodes=600, random_state=5)
    np.testing.assert_array_equal(a["accuracies"], b["accuracies"])
    c = one_shot_accuracy(
        torch.as_tensor(Z), torch.as_tensor(y), n_way=10, n_episodes=600, random_state=5
    )
    np.testing.assert_allclose(a["accuracies"], c["accuracies"])
    curve = k_shot_curve(Z, y, shots=(1, 3, 9), n_way=5, n_query=1, n_episodes=400)
    assert curve[1]["mean"] < curve[3]["mean"] < curve[9]["mean"]
    assert set(k_shot_curve(Z, y, shots=(1, 20), n_way=5, n_episodes=50)) == {1}


def test_one_shot_bad_input():
    Z = np.random.default_rng(0).normal(size=(20, 3))
    y = np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="need 5 classes"):
        one_shot_accuracy(Z, y, n_way=5)
    with pytest.raises(ValueError, match="at least 7 samples"):
        one_shot_accuracy(Z, y, n_way=2, k_shot=2, n_query=5)
    with pytest.raises(ValueError, match="k_shot"):
        one_shot_accuracy(Z, y, n_way=2, k_shot=0)
    with pytest.raises(ValueError, match="n_way"):
        one_shot_accuracy(Z, y, n_way=1)
    with pytest.raises(ValueError, match="metric"):
        one_shot_accuracy(Z, y, n_way=2, metric="manhattan")
    with pytest.raises(ValueError, match="classifier"):
        one_shot_accuracy(Z, y, n_way=2, classifier="svm")
    with pytest.raises(ValueError, match="confidence"):
        one_shot_accuracy(Z, y, n_way=2, confidence=1.5)
    with pytest.raises(ValueError, match="must have 20"):
        one_shot_accuracy(Z, y[:10], n_way=2)
    with pytest.raises(ValueError, match="NaN"):
        one_shot_accuracy(np.full((20, 3), np.nan), y, n_way=2)
    with pytest.raises(ValueError, match="at least 1 sample"):
        one_shot_accuracy(np.ones((0, 3)), [], n_way=2)
    with pytest.raises(TypeError, match="integers"):
        episode_accuracy(Z, np.zeros((1, 2, 1)) + 0.5, np.zeros((1, 2, 1), dtype=int))
    with pytest.raises(ValueError, match="indices must lie"):
        episode_accuracy(Z, np.full((1, 2, 1), 99), np.zeros((1, 2, 1), dtype=int))
    with pytest.raises(ValueError, match="agree on"):
        episode_accuracy(Z, np.zeros((1, 2, 1), dtype=int), np.zeros((1, 3, 1), dtype=int))
    with pytest.raises(ValueError, match="3-D"):
        episode_accuracy(Z, np.zeros((2, 1), dtype=int), np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match="empty"):
        k_shot_curve(Z, y, shots=())


# ----------------------------------------------------------------------------- issue 11
@pytest.mark.parametrize("scale", [1e-300, 1e300])
def test_hashing_measures_do_not_depend_on_magnitude(scale):
    """Issue 11 item 9: one-shot accuracy (main: off by 0.8 at 1e300 — every row normalised
    to zero), separation, effective rank, pair cosines and SimHash codes are scale-free."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(20), 10)
    Z = rng.normal(size=(20, 16))[y] + 0.5 * rng.normal(size=(200, 16))
    for metric in ("cosine", "euclidean"):
        for classifier in ("prototype", "nearest"):
            kw = {"metric": metric, "classifier": classifier, "n_episodes": 200}
            a0 = one_shot_accuracy(Z, y, **kw)["mean"]
            assert one_shot_accuracy(Z * scale, y, **kw)["mean"] == a0
    s0, s1 = separation(Z, y), separation(Z * scale, y)
    for key in ("auroc", "within_between_ratio", "cos_same", "cos_diff"):
        assert s1[key] == pytest.approx(s0[key], rel=1e-12)
    assert effective_rank(Z * scale) == pytest.approx(effective_rank(Z), rel=1e-12)
    p0, p1 = pair_similarities(Z, y), pair_similarities(Z * scale, y)
    np.testing.assert_allclose(p1["cos_same"], p0["cos_same"], rtol=1e-12)
    np.testing.assert_allclose(p1["dist_same"] / scale, p0["dist_same"], rtol=1e-12)
    h = SimHash(n_bits=32).fit(Z)
    np.testing.assert_array_equal(h.transform(Z * scale), h.transform(Z))
    c0 = collision_curve(Z, y=y, n_pairs=500)
    c1 = collision_curve(Z * scale, y=y, n_pairs=500)
    np.testing.assert_allclose(c1["theory"], c0["theory"], rtol=1e-9)


def test_separation_of_a_dead_layer_says_so():
    """Issue 11 items 9 and 11: a constant (dead) layer's within/between ratio is undefined —
    NaN with a warning that is also kept in the result (main: NaN, silently)."""
    y = np.repeat(np.arange(4), 10)
    for Z in (np.zeros((40, 5)), np.full((40, 5), 3.0)):
        with pytest.warns(RuntimeWarning, match="constant"):
            s = separation(Z, y)
        assert np.isnan(s["within_between_ratio"]) and s["auroc"] == 0.5
        assert len(s["warnings"]) == 1 and "dead layer" in s["warnings"][0]
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(40, 5))
    assert separation(Z, y)["warnings"] == []
    Z[:2] = 0.0
    with pytest.warns(RuntimeWarning, match="all zero"):
        assert "2 of 40" in separation(Z, y)["warnings"][0]


def test_bilinear_warp_validates():
    img = torch.arange(16.0).reshape(1, 4, 4)
    eye = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    with pytest.raises(TypeError, match="torch.Tensor"):
        bilinear_warp(img.numpy(), eye, 4)
    with pytest.raises(TypeError, match="floating-point"):
        bilinear_warp(img.long(), eye, 4)
    with pytest.raises(ValueError, match="3-D"):
        bilinear_warp(img[0], eye, 4)
    with pytest.raises(ValueError, match=r"\(n, 2, 3\)"):
        bilinear_warp(img, eye[:, :, :2], 4)
    with pytest.raises(ValueError, match=r"\(n, 2, 3\)"):
        bilinear_warp(img, eye.repeat(2, 1, 1), 4)
    with pytest.raises(ValueError, match=">= 1"):
        bilinear_warp(img, eye, 0)
    with pytest.raises(TypeError, match="size"):
        bilinear_warp(img, eye, 4.0)
    with pytest.raises(ValueError, match="NaN"):
        bilinear_warp(img * float("nan"), eye, 4)
    # shapes only under torch.func transforms: jvp through the warp still works
    out, tangent = torch.func.jvp(
        lambda m: bilinear_warp(img, m, 4), (eye,), (torch.ones_like(eye),)
    )
    assert out.shape == tangent.shape == (1, 16)
