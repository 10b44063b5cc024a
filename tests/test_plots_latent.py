"""repgeo.plots.latent: structure of the stitching and similarity figures, and bad input."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from repgeo.latent import StitchingResult
from repgeo.plots import plot_similarity_matrices, plot_stitching_matrices


def _result(method: str, acc: np.ndarray, names=("a", "b", "c")) -> StitchingResult:
    return StitchingResult(
        method=method, names=list(names), accuracy=acc, f1=acc, anchor_index=np.arange(4)
    )


def _cell_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_stitching_figure_one_heatmap_per_method():
    acc_abs = np.array([[0.9, np.nan, 0.1], [np.nan, 0.8, 0.2], [0.3, 0.4, 0.7]])
    acc_rel = np.full((3, 3), 0.5)
    res = {"absolute": _result("absolute", acc_abs), "relative": _result("relative", acc_rel)}
    fig = plot_stitching_matrices(res, labels={"relative": "rel."}, title="my title")
    try:
        heat = [ax for ax in fig.axes if ax.images]
        assert len(fig.axes) == 4 and len(heat) == 2  # two heatmaps, two colour bars
        off = np.nanmean([0.1, 0.2, 0.3, 0.4])  # i ≠ j where defined
        assert heat[0].get_title() == f"absolute: off-diag {off:.2f}"
        assert heat[1].get_title() == "rel.: off-diag 0.50"
        assert fig._suptitle.get_text() == "my title"
        data = heat[0].images[0].get_array()
        np.testing.assert_array_equal(data.filled(-1), np.nan_to_num(acc_abs, nan=-1))
        assert data.mask.sum() == 2
        assert heat[0].images[0].get_clim() == (0.0, 1.0)
        assert _cell_texts(heat[0]).count("n/a") == 2
        assert heat[0].get_xlabel() == "head (decoder) trained on"
        assert heat[0].get_ylabel() == "encoder"
        assert [t.get_text() for t in heat[0].get_yticklabels()] == ["a", "b", "c"]
    finally:
        plt.close(fig)


def test_stitching_figure_single_method():
    fig = plot_stitching_matrices({"procrustes": _result("procrustes", np.eye(3))})
    try:
        assert [ax.get_title() for ax in fig.axes if ax.images] == ["procrustes: off-diag 0.00"]
    finally:
        plt.close(fig)


def test_stitching_figure_bad_input():
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_stitching_matrices({})
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_stitching_matrices([_result("absolute", np.eye(3))])
    with pytest.raises(TypeError, match="StitchingResult"):
        plot_stitching_matrices({"absolute": np.eye(3)})
    with pytest.raises(ValueError, match="square"):
        plot_stitching_matrices({"absolute": _result("absolute", np.eye(3)[:2])})


def test_similarity_matrices_side_by_side():
    S = np.array([[1.0, 0.6], [0.6, 1.0]])
    L = np.array([[1.0, 0.7, 0.5], [0.7, 1.0, 0.8], [0.5, 0.8, 1.0]])
    fig = plot_similarity_matrices(
        {"model × model": (S, ["m1", "m2"]), "layer × layer": (L, ["l1", "l2", "l3"])},
        vmin=None,
        suptitle="CKA",
    )
    try:
        heat = [ax for ax in fig.axes if ax.images]
        assert len(fig.axes) == 4 and [ax.get_title() for ax in heat] == [
            "model × model",
            "layer × layer",
        ]
        # vmin=None: each colour scale starts at its own smallest value
        assert heat[0].images[0].get_clim() == (0.6, 1.0)
        assert heat[1].images[0].get_clim() == (0.5, 1.0)
        np.testing.assert_array_equal(heat[1].images[0].get_array(), L)
        assert [t.get_text() for t in heat[1].get_yticklabels()] == ["l1", "l2", "l3"]
        assert "0.70" in _cell_texts(heat[1])
        assert fig._suptitle.get_text() == "CKA"
        assert tuple(fig.get_size_inches()) == (11.0, 4.6)
    finally:
        plt.close(fig)


def test_similarity_matrices_bad_input():
    with pytest.raises(ValueError, match="non-empty mapping"):
        plot_similarity_matrices({})
    with pytest.raises(ValueError, match="pair"):
        plot_similarity_matrices({"m": np.eye(2)})
    with pytest.raises(ValueError, match="one label per row"):
        plot_similarity_matrices({"m": (np.eye(2), ["only one"])})
    with pytest.raises(ValueError):
        plot_similarity_matrices({"m": (np.ones(3), ["a", "b", "c"])})
