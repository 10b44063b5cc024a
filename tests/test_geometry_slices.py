"""Slices through input space and the over-training statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from repgeo.geometry import (
    boundary_magnification,
    decision_geometry,
    geometry_over_training,
    grid_2d,
    line_slice,
    logit_margin,
    plane_slice,
    slice_log_volume,
    softmax_entropy,
    spectra_over_training,
    triangle_mask,
)
from repgeo.models import MLP


def test_plane_paper_convention_reconstructs_anchors(rng):
    x1, x2, x3 = rng.normal(size=(3, 10))
    p = plane_slice(x1, x2, x3, resolution=7)
    assert p.convention == "paper" and p.points.shape == (49, 10) and p.basis.shape == (10, 2)
    np.testing.assert_allclose(p.origin + p.anchors @ p.basis.T, np.stack([x1, x2, x3]), atol=1e-12)
    # in (a, b) the anchors form an equilateral triangle of side 1
    sides = [np.linalg.norm(p.anchors[i] - p.anchors[j]) for i, j in ((0, 1), (1, 2), (0, 2))]
    np.testing.assert_allclose(sides, 1.0, rtol=1e-12)
    np.testing.assert_allclose(p.anchors[2], [0.0, -1 / math.sqrt(3)], atol=1e-15)
    np.testing.assert_allclose(p.points, p.origin + p.coords @ p.basis.T, atol=1e-12)
    assert p.extent == (-1.0, 1.0, -1.0, 1.0)
    assert p.to_grid(np.arange(49)).shape == (7, 7)


def test_plane_orthonormal_basis(rng):
    x1, x2, x3 = rng.normal(size=(3, 6))
    p = plane_slice(x1, x2, x3, resolution=9, orthonormal=True)
    assert p.convention == "orthonormal"
    np.testing.assert_allclose(p.basis.T @ p.basis, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(p.origin + p.anchors @ p.basis.T, np.stack([x1, x2, x3]), atol=1e-12)
    assert p.mask[np.argmin(np.linalg.norm(p.coords, axis=1))]  # the centroid is inside
    # same plane as the paper convention: the slice volumes differ only by log10|det A|
    q = plane_slice(x1, x2, x3, resolution=9)
    A = np.linalg.lstsq(p.basis, q.basis, rcond=None)[0]
    f = lambda x: torch.tanh(x @ torch.ones(6, 4, dtype=x.dtype) + x[:, :4])  # noqa: E731
    shift = slice_log_volume(f, q.points[:5], q.basis) - slice_log_volume(f, q.points[:5], p.basis)
    np.testing.assert_allclose(shift, np.log10(abs(np.linalg.det(A))), rtol=1e-9)


def test_line_grid_and_triangle():
    t, X = line_slice(np.array([1.0, 2.0]), np.array([3.0, 2.0]), n_steps=5)
    np.testing.assert_allclose(X[:, 0], [1, 1.5, 2, 2.5, 3])
    assert t[0] == 0 and t[-1] == 1
    A, B, U = grid_2d(-1, 1, 4)
    assert A.shape == (4, 4) and U.shape == (16, 2)
    np.testing.assert_allclose(U[:, 0].reshape(4, 4), A)
    np.testing.assert_allclose(U[:, 1].reshape(4, 4), B)
    V = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    inside = triangle_mask(np.array([[0.2, 0.2], [0.6, 0.6], [0.0, 0.0], [-0.1, 0.5]]), V)
    assert inside.tolist() == [True, False, True, False]
    # the fraction of a fine grid inside the paper triangle ≈ its area / 4
    _, _, U = grid_2d(-1, 1, 401)
    area = math.sqrt(3) / 4
    assert abs(triangle_mask(U).mean() - area / 4) < 0.01


def test_slices_bad_input():
    with pytest.raises(ValueError, match="collinear"):
        plane_slice([0, 0], [1, 1], [2, 2])
    with pytest.raises(ValueError, match="same dimension"):
        plane_slice([0, 0], [1, 0, 0], [0, 1])
    with pytest.raises(ValueError, match="NaN"):
        line_slice([0, np.nan], [1, 1])
    with pytest.raises(ValueError, match="n_steps must be >= 2"):
        line_slice([0, 0], [1, 1], n_steps=1)
    with pytest.raises(ValueError, match="hi must exceed lo"):
        grid_2d(1, -1, 5)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        triangle_mask(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="collinear"):
        triangle_mask(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="extent must be >"):
        plane_slice([0, 0], [1, 0], [0, 1], extent=0.0)


def test_entropy_margin_and_magnification():
    L = np.array([[0.0, 0.0], [10.0, -10.0], [1.0, 2.0]])
    H = softmax_entropy(L)
    assert H[0] == pytest.approx(1.0) and H[1] < 1e-6 and 0 < H[2] < 1
    np.testing.assert_allclose(logit_margin(L), [0.0, 20.0, 1.0])
    rng = np.random.default_rng(0)
    margin = rng.uniform(0, 5, 1000)
    assert boundary_magnification(np.exp(-margin), margin=margin) > 0.5
    assert boundary_magnification(np.ones(1000), margin=margin) == pytest.approx(0.0)
    assert boundary_magnification(margin, margin=margin) < -2
    # exact on a hand-made example: near = lowest 10 %, far = highest 50 %
    lv = np.arange(10.0)
    assert boundary_magnification(lv, margin=np.arange(10.0)) == pytest.approx(0.0 - 7.0)
    logits = np.column_stack([np.zeros(10), np.arange(10.0)])
    assert boundary_magnification(lv, logits) == pytest.approx(-7.0)


def test_statistics_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        boundary_magnification(np.ones(10))
    with pytest.raises(ValueError, match="same number of samples"):
        boundary_magnification(np.ones(10), margin=np.ones(9))
    with pytest.raises(ValueError, match="near \\+ far"):
        boundary_magnification(np.ones(10), margin=np.ones(10), near=0.6, far=0.5)
    with pytest.raises(ValueError, match="NaN"):
        boundary_magnification(np.array([np.nan, 1.0]), margin=np.ones(2))
    with pytest.raises(ValueError, match="singular metric"):
        boundary_magnification(np.array([-np.inf, 1.0, 2.0]), margin=np.arange(3.0))
    with pytest.raises(ValueError, match="at least 2 feature"):
        softmax_entropy(np.zeros((3, 1)))
    with pytest.raises(ValueError, match="at least"):
        logit_margin(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="quantity"):
        decision_geometry(MLP([2, 3, 2], seed=0), np.zeros((2, 2)), quantity="area")
    with pytest.raises(ValueError, match="basis"):
        decision_geometry(MLP([3, 3, 2], seed=0), np.zeros((2, 3)), quantity="slice")
    with pytest.raises(ValueError, match="empty"):
        geometry_over_training([], np.zeros((4, 2)))
    with pytest.raises(TypeError, match="nn.Module"):
        geometry_over_training([(0, "model")], np.zeros((4, 2)))


def test_float64_default_avoids_spurious_singular_metrics():
    """float32 sigmoids saturate (σ' exactly 0 for z > ~17): decision_geometry uses float64."""
    net = MLP([2, 4, 2], activation="sigmoid", seed=0)
    with torch.no_grad():
        net.fc1.weight.copy_(torch.tensor([[25.0, 0.0], [0.0, 25.0], [20.0, 5.0], [5.0, 20.0]]))
        net.fc1.bias.zero_()
    X = np.array([[1.0, 1.0], [0.1, -0.2]])
    from repgeo.features import FeatureMap
    from repgeo.geometry import GeometryAccuracyWarning, log_volume_element

    with pytest.warns(GeometryAccuracyWarning, match="singular at 1 of 2 points"):
        lv32 = log_volume_element(FeatureMap(net, "act1"), X.astype(np.float32))
    assert np.isneginf(lv32[0])
    lv = decision_geometry(net, X)["log_volume"]
    assert np.all(np.isfinite(lv)) and lv[0] < -15


def test_decision_geometry_and_spectra_on_small_nets():
    net = MLP([2, 30, 3], activation="sigmoid", init="paper", seed=0).double()
    _, _, U = grid_2d(-1, 1, 9)
    res = decision_geometry(net, U, curvature=True)
    with torch.no_grad():
        logits = net(torch.from_numpy(U)).numpy()
    np.testing.assert_allclose(res["logits"], logits, rtol=1e-12)
    assert (res["pred"] == logits.argmax(1)).all()
    assert res["log_volume"].shape == res["K"].shape == (81,)
    other = MLP([2, 30, 3], activation="sigmoid", init="paper", seed=1).double()
    over = geometry_over_training([(0, net), (7, other)], U)
    assert over[0]["magnification"] == pytest.approx(
        boundary_magnification(res["log_volume"], res["logits"])
    )
    anchors = np.array([[0.1, 0.2], [0.5, -0.5]])
    sp = spectra_over_training([(0, net), (7, other)], anchors)
    assert sp[7].shape == (2, 2) and np.all(np.diff(sp[7], axis=1) <= 0)
    # effective and slice quantities on a higher-dimensional input
    net5 = MLP([5, 12, 3], activation="tanh", seed=2).double()
    X = np.random.default_rng(0).normal(size=(6, 5))
    eff = decision_geometry(net5, X, quantity="effective", k=2)["log_volume"]
    sl = decision_geometry(net5, X, quantity="slice", basis=np.eye(5)[:, :2], curvature=True)
    assert eff.shape == sl["log_volume"].shape == sl["K"].shape == (6,)
