"""Diffusion figures: what each draws is the data it was given; bad input raises before drawing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from repgeo.plots import plot_dse_over_training, plot_embeddings_2d, plot_geodesic_scores


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


SCORES = {
    "swiss_roll": {
        "heat_geodesic": {"spearman": 0.99, "pearson": 0.97},
        "phate": {"spearman": 0.8, "pearson": 0.7},
        "euclidean": {"spearman": -0.2, "pearson": 0.1},
    },
    "tree": {
        "heat_geodesic": {"spearman": 0.9, "pearson": 0.85},
        "phate": {"spearman": 0.7, "pearson": 0.6},
        "euclidean": {"spearman": 0.6, "pearson": 0.5},
    },
}


def _bars(ax):
    return [p.get_width() for p in ax.patches]


def _ticks(ax):
    return [t.get_text() for t in ax.get_yticklabels()]


def test_geodesic_scores_draws_one_bar_per_method_and_dataset():
    fig = plot_geodesic_scores(SCORES)
    assert [ax.get_title() for ax in fig.axes] == ["swiss roll", "tree"]
    assert _bars(fig.axes[0]) == pytest.approx([0.99, 0.8, -0.2])
    assert _bars(fig.axes[1]) == pytest.approx([0.9, 0.7, 0.6])
    assert _ticks(fig.axes[0]) == ["heat geodesic", "phate", "euclidean"]
    # a negative score widens the axis to show it; otherwise it starts at 0
    assert fig.axes[0].get_xlim()[0] == pytest.approx(-0.2)
    assert fig.axes[1].get_xlim() == pytest.approx((0.0, 1.0))
    # another score, a chosen subset of methods in a chosen order, flat values
    fig = plot_geodesic_scores(SCORES, score="pearson", methods=["euclidean", "heat_geodesic"])
    assert _bars(fig.axes[0]) == pytest.approx([0.1, 0.97])
    assert fig.axes[0].get_xlabel() == "mean per-row Pearson vs true geodesic"
    flat = {d: {m: s["spearman"] for m, s in v.items()} for d, v in SCORES.items()}
    assert _bars(plot_geodesic_scores(flat).axes[1]) == pytest.approx([0.9, 0.7, 0.6])


@pytest.mark.parametrize(
    "scores, kw, err, match",
    [
        ({}, {}, ValueError, "at least one dataset"),
        ([("roll", {})], {}, TypeError, "mapping"),
        ({"roll": {}}, {}, ValueError, "at least one method"),
        (SCORES, {"methods": ["heat_geodesic", "isomap"]}, ValueError, "lacks method"),
        (SCORES, {"methods": []}, ValueError, "at least one method"),
        (SCORES, {"score": "kendall"}, ValueError, "no score 'kendall'"),
        ({"roll": {"heat_geodesic": float("nan")}}, {}, ValueError, "NaN"),
    ],
)
def test_geodesic_scores_bad_input(scores, kw, err, match):
    with pytest.raises(err, match=match):
        plot_geodesic_scores(scores, **kw)


def test_embeddings_2d_grid_points_and_colours():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(40, 2)), rng.normal(size=(25, 2))
    colour = np.linspace(0, 1, 40)
    fig = plot_embeddings_2d(
        {"roll": {"data": A, "heat": 2 * A}, "tree": {"data": B, "heat": B + 1}},
        {"roll": colour},
    )
    assert [ax.get_title() for ax in fig.axes] == [
        "roll: data",
        "roll: heat",
        "tree: data",
        "tree: heat",
    ]
    np.testing.assert_array_equal(fig.axes[1].collections[0].get_offsets(), 2 * A)
    np.testing.assert_array_equal(fig.axes[3].collections[0].get_offsets(), B + 1)
    np.testing.assert_array_equal(fig.axes[0].collections[0].get_array(), colour)
    assert fig.axes[2].collections[0].get_array() is None  # no colours given for the tree
    assert all(len(ax.get_xticks()) == 0 for ax in fig.axes)


@pytest.mark.parametrize(
    "embeddings, colors, err, match",
    [
        ({}, None, ValueError, "at least one dataset"),
        ({"roll": {}}, None, ValueError, "at least one view"),
        ({"roll": {"data": np.zeros((5, 3))}}, None, ValueError, r"shape \(n, 2\)"),
        ({"roll": {"data": np.zeros(5)}}, None, ValueError, "2-D"),
        ({"roll": {"a": np.zeros((5, 2)), "b": np.zeros((6, 2))}}, None, ValueError, "share n"),
        (
            {
                "roll": {"a": np.zeros((5, 2))},
                "tree": {"a": np.zeros((5, 2)), "b": np.zeros((5, 2))},
            },
            None,
            ValueError,
            "same number of views",
        ),
        ({"roll": {"a": np.full((5, 2), np.nan)}}, None, ValueError, "NaN"),
        ({"roll": {"a": np.zeros((5, 2))}}, {"roll": np.zeros(4)}, ValueError, "one value per"),
        ({"roll": {"a": np.zeros((5, 2))}}, {"roll": np.zeros((5, 2))}, ValueError, "1-D"),
    ],
)
def test_embeddings_2d_bad_input(embeddings, colors, err, match):
    with pytest.raises(err, match=match):
        plot_embeddings_2d(embeddings, colors)


def test_dse_over_training_draws_each_series():
    res = {
        "digits": {"dse": {"0": 7.0, "2": 6.0, "8": 5.0}, "dsmi": {"0": 0.5, "2": 1.0, "8": 1.5}},
        "manifold": {"dse": {0: 4.0, 8: 3.0}, "dsmi": {}, "sigma": {0: 1.0, 8: 2.0}},
    }
    fig = plot_dse_over_training(res)
    ax_dse, ax_mi = fig.axes
    assert (ax_dse.get_ylabel(), ax_mi.get_ylabel()) == ("DSE (bits)", "DSMI(Z; Y) (bits)")
    assert [line.get_label() for line in ax_dse.lines] == ["digits", "manifold"]
    np.testing.assert_array_equal(ax_dse.lines[0].get_xdata(), [0, 2, 8])
    np.testing.assert_array_equal(ax_dse.lines[0].get_ydata(), [7.0, 6.0, 5.0])
    np.testing.assert_array_equal(ax_dse.lines[1].get_ydata(), [4.0, 3.0])
    assert len(ax_mi.lines) == 1  # the manifold has no DSMI
    np.testing.assert_array_equal(ax_mi.lines[0].get_ydata(), [0.5, 1.0, 1.5])
    assert ax_dse.get_xscale() == "symlog"


@pytest.mark.parametrize(
    "results, err, match",
    [
        ({}, ValueError, "at least one model"),
        ([1, 2], TypeError, "mapping"),
        ({"m": {"dsmi": {"0": 1.0}}}, ValueError, "'dse'"),
        ({"m": {"dse": {}}}, ValueError, "empty"),
        ({"m": {"dse": [1.0, 2.0]}}, TypeError, "epoch to value"),
        ({"m": {"dse": {"first": 1.0}}}, ValueError, "integer epochs"),
    ],
)
def test_dse_over_training_bad_input(results, err, match):
    with pytest.raises(err, match=match):
        plot_dse_over_training(results)
