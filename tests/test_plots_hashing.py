"""repgeo.plots.hashing: every manifold-hashing figure from results, and bad input refused."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from repgeo.hashing import collision_curve, k_shot_baselines, one_shot_baselines
from repgeo.plots import (
    new_figure,
    plot_collision_curves,
    plot_hashing_over_training,
    plot_hashing_panel,
    plot_k_shot_curves,
    plot_one_shot_bars,
    plot_one_shot_transfer,
    plot_one_shot_vs_classes,
    plot_separation_histograms,
)

KEYS = ("inv_seen", "inv_unseen", "gain_theta", "gain_gamma", "auroc_seen", "auroc_unseen")
KEYS += ("wb_seen", "wb_unseen", "r2_gamma", "r2_gamma_new", "r2_theta", "erank")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _rows(layers=("act1", "act2"), epochs=(0, 3, 10)):
    rng = np.random.default_rng(0)
    return [
        {"epoch": e, "layer": layer, **{k: float(rng.uniform(0.1, 0.9)) for k in KEYS}}
        for e in epochs
        for layer in layers
    ]


def _sims(rng):
    return {"cos_same": rng.uniform(0.4, 1, 80), "cos_diff": rng.uniform(-0.5, 0.7, 200)}


@pytest.fixture
def few_shot():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(6), 8)
    Z = rng.normal(size=(6, 5))[y] + 0.5 * rng.normal(size=(48, 5))
    emb = {"trained": Z, "untrained": rng.normal(size=(48, 5)), "raw": Z[:, :3]}
    one = one_shot_baselines(emb, y, n_way=4, n_episodes=50)
    ks = k_shot_baselines(emb, y, shots=(1, 2, 5), n_way=4, n_query=2, n_episodes=50)
    return one, ks


def test_separation_histograms_one_row_per_dataset_one_column_per_epoch():
    rng = np.random.default_rng(0)
    snaps = {
        "family 1": {0: {"seen": _sims(rng), "unseen": _sims(rng)}, 9: {"seen": _sims(rng)}},
        "family 3": {0: {"seen": _sims(rng)}},
    }
    fig = plot_separation_histograms(snaps, layers={"family 1": "act2", "family 3": "act1"})
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    ax00, ax01, _, ax11 = fig.axes
    assert len(ax00.patches) == 4 and len(ax01.patches) == 2  # (same, different) per split
    assert ax00.get_title() == "family 1, act2: initialisation"
    assert ax01.get_title() == "family 1, act2: epoch 9"
    assert not ax11.axison  # family 3 has one checkpoint: the second cell is blank
    # shared bins per row start at the floor of the smallest different-class cosine
    lo = min(
        float(s["cos_diff"].min()) for tags in snaps["family 1"].values() for s in tags.values()
    )
    assert ax00.patches[0].get_xy()[0][0] == pytest.approx(np.floor(lo * 10) / 10)


def test_separation_histograms_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-empty"):
        plot_separation_histograms({})
    with pytest.raises(ValueError, match="non-empty"):
        plot_separation_histograms({"a": {}})
    with pytest.raises(ValueError, match="cos_diff"):
        plot_separation_histograms({"a": {0: {"seen": {"cos_same": rng.uniform(size=5)}}}})


def test_hashing_over_training_grid_and_lines():
    fig = plot_hashing_over_training({"f1": _rows(), "f3": _rows(layers=("act1",))})
    assert len(fig.axes) == 6  # 2 datasets x 3 quantities
    inv, au, rec = fig.axes[:3]
    assert len(inv.lines) == 2 * 2 + 1  # seen + unseen per layer, the reference at 1
    assert len(au.lines) == 4 and len(rec.lines) == 6  # γ, γ new classes, θ per layer
    assert inv.get_title() == "f1: invariance ratio" and au.get_xscale() == "log"
    np.testing.assert_allclose(inv.lines[0].get_xdata(), [0.5, 3, 10])  # epoch 0 at 0.5
    fig = plot_hashing_over_training({"f1": _rows()}, quantities=("rank",))
    assert len(fig.axes) == 1 and len(fig.axes[0].lines) == 2


def test_hashing_over_training_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        plot_hashing_over_training({})
    with pytest.raises(ValueError, match="subset"):
        plot_hashing_over_training({"f": _rows()}, quantities=("curvature",))
    with pytest.raises(ValueError, match="non-empty list"):
        plot_hashing_over_training({"f": []})
    rows = [{k: v for k, v in r.items() if k != "r2_theta"} for r in _rows()]
    with pytest.raises(ValueError, match="r2_theta"):
        plot_hashing_over_training({"f": rows})


def test_collision_curves_lines_and_law():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 6)
    gamma = rng.normal(size=(10, 4))[y]
    per = {
        name: collision_curve(Z, reference=gamma, y=y, n_bits=3, n_tables=8, n_pairs=300)
        for name, Z in (("trained", gamma), ("raw", rng.normal(size=(60, 7))))
    }
    fig = plot_collision_curves({"A": per, "B": {"trained": per["trained"]}})
    assert len(fig.axes) == 2
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and ax.get_yscale() == "log" and ax.get_title() == "A"
    labels = [t.get_text() for t in ax.get_legend().texts]
    assert labels[1].startswith("raw input (same γ: ") and "(1−∠/π)^3" in labels[2]
    law = ax.lines[-1]
    np.testing.assert_allclose(law.get_ydata(), (1 - law.get_xdata() / np.pi) ** 3)


def test_collision_curves_bad_input():
    rng = np.random.default_rng(0)
    c3 = collision_curve(rng.normal(size=(30, 4)), n_bits=3, n_pairs=100)
    c4 = collision_curve(rng.normal(size=(30, 4)), n_bits=4, n_pairs=100)
    with pytest.raises(ValueError, match="non-empty"):
        plot_collision_curves({"A": {}})
    with pytest.raises(ValueError, match="same n_bits"):
        plot_collision_curves({"A": {"a": c3, "b": c4}})
    with pytest.raises(ValueError, match="rate"):
        plot_collision_curves({"A": {"a": {"angle": c3["angle"], "n_bits": 3}}})


def test_one_shot_bars_and_k_shot_curves(few_shot):
    one, ks = few_shot
    fig = plot_one_shot_bars(one)
    ax = fig.axes[0]
    assert len(ax.patches) == 3 and len(ax.lines) >= 1
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([one[k]["mean"] for k in one])
    assert ax.lines[-1].get_ydata()[0] == pytest.approx(0.25)  # chance of 4-way
    fig = plot_k_shot_curves(ks, title="k-shot (net)")
    ax = fig.axes[0]
    assert len(ax.containers) == 3 and ax.get_title() == "k-shot (net)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "5"]
    # drawing into given axes returns their figure
    f, axes = new_figure(1, 2)
    assert plot_one_shot_bars(one, ax=axes[1]) is f and len(axes[1].patches) == 3


def test_one_shot_bars_and_k_shot_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        plot_one_shot_bars({})
    with pytest.raises(ValueError, match="chance"):
        plot_one_shot_bars({"a": {"mean": 0.5, "ci_high": 0.6, "n_way": 5}})
    with pytest.raises(ValueError, match="non-empty"):
        plot_k_shot_curves({"trained": {}})
    with pytest.raises(ValueError, match="n_way"):
        plot_k_shot_curves({"trained": {1: {"mean": 0.5, "ci_high": 0.6}}})


def test_one_shot_vs_classes_and_transfer(few_shot):
    _, ks = few_shot
    pts = [
        {"n_train_classes": c, "trained": a, "untrained": 0.2, "raw": 0.3, "pca": 0.3}
        for c, a in ((20, 0.7), (5, 0.4), (10, 0.5))
    ]
    fig = plot_one_shot_vs_classes(pts, chance=0.1, title="t")
    ax = fig.axes[0]
    assert len(ax.lines) == 5  # four baselines and chance
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), [5, 10, 20])  # sorted by classes
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.4, 0.5, 0.7])
    fig = plot_one_shot_transfer(
        {"A": pts, "B": pts[:1]},
        {"A": ks, "B": ks},
        chance={"A": 0.1, "B": 0.2},
        models={"A": "net-a"},
    )
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "A: one-shot vs classes"
    titles = {ax.get_title() for ax in fig.axes}
    assert {"k-shot (net-a)", "k-shot"} <= titles
    with pytest.raises(ValueError, match="non-empty list"):
        plot_one_shot_vs_classes([])
    with pytest.raises(ValueError, match="missing"):
        plot_one_shot_vs_classes([{"n_train_classes": 5, "trained": 0.5}])
    with pytest.raises(ValueError, match="same datasets"):
        plot_one_shot_transfer({"A": pts}, {"B": ks})


def test_hashing_panel(few_shot):
    one, _ = few_shot
    fig = plot_hashing_panel(_rows(), one, label="class manifolds")
    inv, au, bars = fig.axes
    assert inv.get_title() == "class manifolds: invariance ratio"
    assert len(inv.lines) == 5 and len(au.lines) == 4 and len(bars.patches) == 3
    rows = [{k: v for k, v in r.items() if k != "auroc_unseen"} for r in _rows()]
    with pytest.raises(ValueError, match="auroc_unseen"):
        plot_hashing_panel(rows, one)
    with pytest.raises(ValueError, match="non-empty"):
        plot_hashing_panel(_rows(), {})
