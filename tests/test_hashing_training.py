"""repgeo.hashing.training: the hashing measures over checkpoints and layers, and one-shot
transfer against baselines, checked against direct computations on tiny models."""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from repgeo.data import RandomNetworkManifolds
from repgeo.features import FeatureMap, extract
from repgeo.hashing import (
    analyse_checkpoints,
    baseline_embeddings,
    collision_baselines,
    collision_curve,
    k_shot_baselines,
    k_shot_curve,
    layer_series,
    one_shot_accuracy,
    one_shot_baselines,
    pair_similarities,
    ridge_r2,
    separation_snapshots,
)
from repgeo.latent import pca_project
from repgeo.models import MLP

SEED = 7


@pytest.fixture(scope="module")
def setup():
    gen = RandomNetworkManifolds(
        n_classes=6, k_gamma=3, k_theta=2, ambient_dim=12, hidden=16, random_state=0
    )
    splits = {
        "train": gen.sample(10, classes=[0, 1, 2], random_state=3),
        "test": gen.sample(6, classes=[0, 1, 2], random_state=1),
        "unseen": gen.sample(6, classes=[3, 4, 5], random_state=2),
    }
    cks = [
        (0, MLP([12, 16, 8, 3], activation="tanh", seed=0)),
        (4, MLP([12, 16, 8, 3], activation="tanh", seed=1)),
    ]
    rows = analyse_checkpoints(
        cks, splits, gen, n_pairs=1000, n_invariance_points=5, random_state=SEED
    )
    return gen, splits, cks, rows


def _all_pairs_auroc(Z: np.ndarray, y: np.ndarray) -> float:
    """AUROC of same- vs different-class cosine similarity over every pair (brute force)."""
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    i, j = np.triu_indices(len(y), k=1)
    return roc_auc_score((y[i] == y[j]).astype(int), (Zn[i] * Zn[j]).sum(1))


def _brute_force_ratio(model, layer, gen, gamma, theta) -> float:
    """g_θ / g_γ from full Jacobians of the composed map (float64)."""
    g = torch.as_tensor(gamma, dtype=torch.float64)
    t = torch.as_tensor(theta, dtype=torch.float64)
    gammas = gen.gammas
    gen.gammas = gammas.double()
    try:
        Jg, Jt = gen.jacobians(g, t)
        x = gen(g, t)
    finally:
        gen.gammas = gammas
    fm = FeatureMap(model.double(), layer)
    Jh = torch.stack([torch.func.jacrev(fm.single)(xi) for xi in x]).detach()
    model.float()
    g_theta = ((Jh @ Jt).pow(2).sum() / Jt.pow(2).sum()).sqrt()
    g_gamma = ((Jh @ Jg).pow(2).sum() / Jg.pow(2).sum()).sqrt()
    return float(g_theta / g_gamma)


def _effective_rank(Z: np.ndarray) -> float:
    s = np.linalg.svd(Z - Z.mean(0), compute_uv=False)
    p = s / s.sum()
    p = p[p > 1e-15]
    return float(np.exp(-(p * np.log(p)).sum()))


def test_analyse_checkpoints_rows_in_epoch_then_layer_order(setup):
    _, _, _, rows = setup
    assert [(r["epoch"], r["layer"]) for r in rows] == [
        (0, "act1"),
        (0, "act2"),
        (4, "act1"),
        (4, "act2"),
    ]
    assert list(rows[0]) == [
        "epoch",
        "layer",
        "auroc_seen",
        "auroc_unseen",
        "wb_seen",
        "wb_unseen",
        "inv_seen",
        "inv_unseen",
        "gain_theta",
        "gain_gamma",
        "r2_gamma",
        "r2_gamma_new",
        "r2_theta",
        "erank",
    ]


def test_analyse_checkpoints_matches_direct_computation(setup):
    gen, splits, cks, rows = setup
    test, unseen = splits["test"], splits["unseen"]
    rng = np.random.default_rng(SEED)  # the documented draw of the invariance points
    idx_s = rng.choice(len(test), size=5, replace=False)
    idx_u = rng.choice(len(unseen), size=5, replace=False)
    for row, ((epoch, model), layer) in zip(rows, itertools.product(cks, ("act1", "act2"))):
        assert (row["epoch"], row["layer"]) == (epoch, layer)
        Zs = extract(model, test.X, layer=layer, show_progress=False)
        Zu = extract(model, unseen.X, layer=layer, show_progress=False)
        # 18 samples per split: every pair is used, so the AUROC is the exact all-pairs value
        assert row["auroc_seen"] == pytest.approx(_all_pairs_auroc(Zs, test.y), abs=1e-9)
        assert row["auroc_unseen"] == pytest.approx(_all_pairs_auroc(Zu, unseen.y), abs=1e-9)
        ratio_s = _brute_force_ratio(
            model, layer, gen, test.extra["gamma"][idx_s], test.extra["theta"][idx_s]
        )
        ratio_u = _brute_force_ratio(
            model, layer, gen, unseen.extra["gamma"][idx_u], unseen.extra["theta"][idx_u]
        )
        assert row["inv_seen"] == pytest.approx(ratio_s, rel=1e-4)
        assert row["inv_unseen"] == pytest.approx(ratio_u, rel=1e-4)
        assert row["gain_theta"] / row["gain_gamma"] == pytest.approx(row["inv_seen"], rel=1e-6)
        pooled = np.vstack([test.extra["gamma"], unseen.extra["gamma"]])
        Zp = np.vstack([Zs, Zu])
        assert row["r2_gamma"] == ridge_r2(Zp, pooled, random_state=SEED)
        assert row["r2_gamma_new"] == ridge_r2(
            Zp, pooled, groups=np.concatenate([test.y, unseen.y]), random_state=SEED
        )
        assert row["r2_theta"] == ridge_r2(Zu, unseen.extra["theta"], random_state=SEED)
        assert row["erank"] == pytest.approx(_effective_rank(Zu.astype(np.float64)), rel=1e-4)


def test_analyse_checkpoints_subsets_layers_and_seeds(setup):
    gen, splits, cks, rows = setup
    sub = analyse_checkpoints(
        cks, splits, None, measures=("separation", "rank"), layers=["act2"], random_state=SEED
    )
    assert [(r["epoch"], r["layer"]) for r in sub] == [(0, "act2"), (4, "act2")]
    assert set(sub[0]) == {
        "epoch",
        "layer",
        "auroc_seen",
        "auroc_unseen",
        "wb_seen",
        "wb_unseen",
        "erank",
    }
    full = [r for r in rows if r["layer"] == "act2"]
    for a, b in zip(sub, full):
        assert a["erank"] == b["erank"] and a["wb_unseen"] == b["wb_unseen"]
    # a bare model counts as epoch 0; the same int seed gives the same numbers
    again = analyse_checkpoints(cks[1][1], splits, gen, measures="invariance", random_state=SEED)
    assert again[-1]["epoch"] == 0
    assert layer_series(rows, "inv_seen", layer="act2") == {
        0: rows[1]["inv_seen"],
        4: rows[3]["inv_seen"],
    }


def test_analyse_checkpoints_bad_input(setup):
    gen, splits, cks, _ = setup
    with pytest.raises(ValueError, match="subset"):
        analyse_checkpoints(cks, splits, gen, measures=("curvature",))
    with pytest.raises(ValueError, match="subset"):
        analyse_checkpoints(cks, splits, gen, measures=())
    with pytest.raises(TypeError, match="generator"):
        analyse_checkpoints(cks, splits, None, measures=("invariance",))
    with pytest.raises(ValueError, match="'unseen'"):
        analyse_checkpoints(cks, {"test": splits["test"]}, gen)
    with pytest.raises(TypeError, match="Dataset"):
        analyse_checkpoints(cks, {"test": splits["test"].X, "unseen": splits["unseen"]}, gen)
    no_gamma = {"test": splits["test"], "unseen": splits["unseen"].subset(np.arange(10))}
    no_gamma["unseen"].extra.pop("gamma")
    with pytest.raises(ValueError, match="generator parameters"):
        analyse_checkpoints(cks, no_gamma, gen)
    with pytest.raises(ValueError, match="n_pairs"):
        analyse_checkpoints(cks, splits, gen, n_pairs=0)
    with pytest.raises(ValueError, match="non-negative"):
        analyse_checkpoints(cks, splits, gen, random_state=-1)
    with pytest.raises(ValueError, match="empty"):
        analyse_checkpoints([], splits, gen)
    with pytest.raises(ValueError, match="no row of layer"):
        layer_series([{"epoch": 0, "layer": "act1", "x": 1.0}], "x", layer="act9")


def test_separation_snapshots_match_pair_similarities(setup):
    _, splits, cks, _ = setup
    snaps = separation_snapshots(cks, splits, n_pairs=30, random_state=SEED)
    assert sorted(snaps) == [0, 4]
    for epoch, model in cks:
        for tag, split in (("seen", "test"), ("unseen", "unseen")):
            Z = extract(model, splits[split].X, layer="act2", show_progress=False)  # last hidden
            ref = pair_similarities(Z, splits[split].y, n_pairs=30, random_state=SEED)
            for key in ("cos_same", "cos_diff", "dist_same"):
                np.testing.assert_array_equal(snaps[epoch][tag][key], ref[key])
    first = separation_snapshots(cks[:1], splits, layer="act1", n_pairs=30)
    assert list(first) == [0]
    with pytest.raises(ValueError, match="n_pairs"):
        separation_snapshots(cks, splits, n_pairs=-3)
    with pytest.raises(ValueError, match="'test'"):
        separation_snapshots(cks, {"unseen": splits["unseen"]})


def test_baseline_embeddings_are_the_models_and_pca(setup):
    _, splits, cks, _ = setup
    X, fit = splits["unseen"].X, splits["train"].X
    emb = baseline_embeddings(cks[1][1], cks[0][1], X, pca_fit=fit, pca_components=4)
    assert list(emb) == ["trained", "untrained", "raw", "pca"]
    net = cks[1][1]
    with torch.no_grad():  # by hand: act2 is tanh(fc2(tanh(fc1(x))))
        h = torch.tanh(net.fc2(torch.tanh(net.fc1(torch.as_tensor(X))))).numpy()
    np.testing.assert_allclose(emb["trained"], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(emb["raw"], X)
    np.testing.assert_allclose(
        emb["pca"], pca_project(fit.astype(np.float64), X.astype(np.float64), 4)
    )
    # the PCA coordinates are centred projections: their covariance is diagonal on the fit data
    P = pca_project(fit.astype(np.float64), fit.astype(np.float64), 4)
    C = np.cov(P.T)
    np.testing.assert_allclose(C - np.diag(np.diag(C)), 0.0, atol=1e-8)
    only = baseline_embeddings(cks[1][1], cks[0][1], X, layer="act1")
    assert list(only) == ["trained", "untrained", "raw"] and only["trained"].shape[1] == 16


def test_baseline_embeddings_bad_input(setup):
    _, splits, cks, _ = setup
    X = splits["unseen"].X
    with pytest.raises(TypeError, match="trained"):
        baseline_embeddings("net", cks[0][1], X)
    with pytest.raises(ValueError, match="NaN"):
        baseline_embeddings(cks[1][1], cks[0][1], np.full_like(X, np.nan))
    with pytest.raises(ValueError, match="features"):
        baseline_embeddings(cks[1][1], cks[0][1], X, pca_fit=X[:, :5])
    with pytest.raises(ValueError, match="pca_components"):
        baseline_embeddings(cks[1][1], cks[0][1], X, pca_fit=X, pca_components=0)


def test_one_shot_baselines_share_episodes_and_cap_sizes():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(5), 4)  # 5 classes of 4: n_way capped at 5, n_query at 3
    Z = rng.normal(size=(5, 6))[y] + 0.5 * rng.normal(size=(20, 6))
    emb = {"a": Z, "b": Z.copy(), "c": rng.normal(size=(20, 6))}
    res = one_shot_baselines(emb, y, n_way=10, n_query=9, n_episodes=150, random_state=3)
    for name, Zn in emb.items():
        ref = one_shot_accuracy(Zn, y, n_way=5, k_shot=1, n_query=3, n_episodes=150, random_state=3)
        np.testing.assert_array_equal(res[name]["accuracies"], ref["accuracies"])
    assert res["a"]["n_way"] == 5 and res["a"]["n_query"] == 3
    np.testing.assert_array_equal(res["a"]["accuracies"], res["b"]["accuracies"])
    assert one_shot_baselines(emb, y, n_way=None, n_episodes=20)["a"]["n_way"] == 5
    # a Generator is turned into one seed, so every embedding still sees the same episodes
    gres = one_shot_baselines(emb, y, n_way=3, n_episodes=50, random_state=np.random.default_rng(1))
    np.testing.assert_array_equal(gres["a"]["accuracies"], gres["b"]["accuracies"])


def test_k_shot_baselines_match_k_shot_curve():
    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(6), 9)
    Z = rng.normal(size=(6, 5))[y] + rng.normal(size=(54, 5))
    curves = k_shot_baselines(
        {"net": Z}, y, shots=(1, 3), n_way=8, n_query=4, n_episodes=80, random_state=2
    )
    ref = k_shot_curve(Z, y, shots=(1, 3), n_way=6, n_query=4, n_episodes=80, random_state=2)
    assert sorted(curves["net"]) == [1, 3]
    for k in (1, 3):
        np.testing.assert_array_equal(curves["net"][k]["accuracies"], ref[k]["accuracies"])


def test_collision_baselines_match_collision_curve():
    rng = np.random.default_rng(2)
    y = np.repeat(np.arange(8), 5)
    gamma = rng.normal(size=(8, 4))[y]
    emb = {"hash": gamma.copy(), "noise": rng.normal(size=(40, 6))}
    res = collision_baselines(emb, y, reference=gamma, n_bits=3, n_tables=6, n_pairs=200)
    for name, Z in emb.items():
        ref = collision_curve(Z, reference=gamma, y=y, n_bits=3, n_tables=6, n_pairs=200)
        np.testing.assert_array_equal(res[name]["rate"], ref["rate"])
    assert res["hash"]["same_rate"] == 1.0  # a function of γ alone: same-γ pairs always collide
    with pytest.raises(ValueError, match="n_bits"):
        collision_baselines(emb, y, reference=gamma, n_bits=0)


@pytest.mark.parametrize("fn", [one_shot_baselines, k_shot_baselines, collision_baselines])
def test_baselines_bad_input(fn):
    y = np.repeat(np.arange(4), 5)
    Z = np.random.default_rng(0).normal(size=(20, 3))
    if fn is collision_baselines:
        fn = functools.partial(fn, reference=Z)
    with pytest.raises(ValueError, match="non-empty mapping"):
        fn({}, y)
    with pytest.raises(ValueError, match="same number of samples"):
        fn({"a": Z[:10]}, y)
    with pytest.raises(ValueError, match="NaN"):
        fn({"a": np.full_like(Z, np.nan)}, y)
    with pytest.raises(TypeError, match="integer"):
        fn({"a": Z}, y + 0.5)
    with pytest.raises(ValueError, match="2-D|ndim|dimension"):
        fn({"a": Z[:, 0]}, y)
