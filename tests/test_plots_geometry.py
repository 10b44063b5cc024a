"""repgeo.plots.geometry: every figure's structure, that it draws the numbers it is given, and
that bad input raises before anything is drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

from repgeo.plots import geometry as G

SHAPE = (4, 5)
EXTENT = (-1.0, 1.0, -2.0, 2.0)
M = SHAPE[0] * SHAPE[1]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _grid_result(seed: int, *, n_classes: int = 2, magnification: float | None = 0.25) -> dict:
    """A decision_geometry-like result on the SHAPE grid: logits a - b (class 0 right of a = b)."""
    rng = np.random.default_rng(seed)
    A, B = np.meshgrid(np.linspace(*EXTENT[:2], SHAPE[1]), np.linspace(*EXTENT[2:], SHAPE[0]))
    logits = np.zeros((M, n_classes))
    logits[:, 0] = (A - B).ravel()
    logits[:, 1:] = rng.normal(scale=0.01, size=(M, n_classes - 1))
    out = {
        "logits": logits,
        "pred": logits.argmax(1),
        "entropy": rng.uniform(0, 1, M),
        "margin": np.abs(logits[:, 0]),
        "log_volume": rng.normal(size=M),
        "K": rng.normal(size=M),
    }
    if magnification is not None:
        out["magnification"] = magnification
    return out


def _titles(fig) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


# ----------------------------------------------------------------------------- overlay_boundary
def test_overlay_boundary_draws_the_zero_level_set_on_the_diagonal():
    a = np.linspace(-1, 1, 30)
    A, B = np.meshgrid(a, a)
    _fig, ax = plt.subplots()
    G.overlay_boundary(ax, np.stack([A, B], -1), (-1, 1, -1, 1), color="red")
    assert len(ax.collections) == 1
    verts = np.vstack([p.vertices for p in ax.collections[0].get_paths()])
    # ℓ0 − ℓ1 = a − b vanishes on a = b, which linear interpolation recovers exactly
    np.testing.assert_allclose(verts[:, 0], verts[:, 1], atol=1e-12)
    assert verts[:, 0].min() < -0.9 and verts[:, 0].max() > 0.9


def test_overlay_boundary_one_contour_per_class_that_changes_sign():
    a = np.linspace(-1, 1, 30)
    A, B = np.meshgrid(a, a)
    three = np.stack([A, -A, B], -1)  # class 0 right, 1 left, 2 on top
    _fig, ax = plt.subplots()
    G.overlay_boundary(ax, three, (-1, 1, -1, 1))
    assert len(ax.collections) == 3
    constant = np.stack([np.ones_like(A), np.zeros_like(A)], -1)
    _fig, ax = plt.subplots()
    G.overlay_boundary(ax, constant, (-1, 1, -1, 1))
    assert len(ax.collections) == 0


@pytest.mark.parametrize(
    "logits, extent, exc, match",
    [
        (np.zeros((4, 5)), EXTENT, ValueError, "3-D"),
        (np.zeros((4, 5, 1)), EXTENT, ValueError, "at least 2 classes"),
        (np.full((4, 5, 2), np.nan), EXTENT, ValueError, "NaN"),
        (np.zeros((4, 5, 2)), (0, 1, 2), ValueError, "four finite numbers"),
        (np.zeros((4, 5, 2)), None, TypeError, "extent"),
    ],
)
def test_overlay_boundary_rejects_bad_input(logits, extent, exc, match):
    _fig, ax = plt.subplots()
    with pytest.raises(exc, match=match):
        G.overlay_boundary(ax, logits, extent)
    assert len(ax.collections) == 0


# ----------------------------------------------------------------------------- decision panels
def test_plot_decision_panels_rows_are_sorted_epochs_and_show_the_given_values():
    res = {30: _grid_result(1), 0: _grid_result(0, magnification=None)}
    fig = G.plot_decision_panels(res, shape=SHAPE, extent=EXTENT, title="t")
    assert len(fig.axes) == 2 * 3 + 2 * 2  # panels + colour bars on entropy and volume
    titles = _titles(fig)
    assert titles[0] == "predicted class\ninitialisation"
    assert titles[2] == "log10 volume element\ninitialisation"  # no magnification given
    assert titles[5] == "log10 volume element\nepoch 30 (magnif. +0.25)"
    row1 = fig.axes[3:6]
    np.testing.assert_array_equal(row1[0].images[0].get_array(), res[30]["pred"].reshape(SHAPE))
    np.testing.assert_allclose(row1[2].images[0].get_array(), res[30]["log_volume"].reshape(SHAPE))
    # the volume colours span the 1-99 % range over both rows
    lv = np.concatenate([res[0]["log_volume"], res[30]["log_volume"]])
    np.testing.assert_allclose(row1[2].images[0].get_clim(), np.percentile(lv, [1, 99]))
    assert fig._suptitle.get_text() == "t"


def test_plot_decision_panels_mask_anchors_and_points():
    mask = np.zeros(M, bool)
    mask[: M // 2] = True
    anchors = np.array([[-0.5, 0.3], [0.5, 0.3], [0.0, -0.6]])
    fig = G.plot_decision_panels(
        {0: _grid_result(0)},
        shape=SHAPE,
        extent=EXTENT,
        mask=mask,
        anchors=anchors,
        anchor_labels=["7", "6", "1"],
        points=np.zeros((3, 2)),
        point_labels=np.array([0, 1, 0]),
        triangle=True,
    )
    img = np.asarray(fig.axes[0].images[0].get_array().filled(np.nan))
    assert np.isnan(img.ravel()[~mask]).all() and np.isfinite(img.ravel()[mask]).all()
    assert [t.get_text() for t in fig.axes[0].texts] == ["7", "6", "1"]
    tri = fig.axes[0].get_lines()[0].get_xydata()
    np.testing.assert_allclose(tri, np.vstack([anchors, anchors[:1]]))


def test_plot_decision_panels_rejects_bad_input():
    good = _grid_result(0)
    before = set(plt.get_fignums())
    with pytest.raises(ValueError, match="results is empty"):
        G.plot_decision_panels({}, shape=SHAPE, extent=EXTENT)
    with pytest.raises(TypeError, match="mapping"):
        G.plot_decision_panels([good], shape=SHAPE, extent=EXTENT)
    short = {**good, "log_volume": good["log_volume"][:-1]}
    with pytest.raises(ValueError, match=r"has 19 points; expected 20 for a 4×5 grid"):
        G.plot_decision_panels({0: short}, shape=SHAPE, extent=EXTENT)
    no_entropy = {k: v for k, v in good.items() if k != "entropy"}
    with pytest.raises(ValueError, match="no 'entropy'"):
        G.plot_decision_panels({0: no_entropy}, shape=SHAPE, extent=EXTENT)
    with pytest.raises(ValueError, match=r"mask must have shape \(20,\)"):
        G.plot_decision_panels({0: good}, shape=SHAPE, extent=EXTENT, mask=np.ones(5, bool))
    with pytest.raises(TypeError, match="shape must be"):
        G.plot_decision_panels({0: good}, shape=4, extent=EXTENT)
    with pytest.raises(ValueError, match="extent"):
        G.plot_decision_panels({0: good}, shape=SHAPE, extent=(0, 1))
    with pytest.raises(TypeError, match="keyed by epochs"):
        G.plot_decision_panels({"init": good}, shape=SHAPE, extent=EXTENT)
    assert set(plt.get_fignums()) == before  # nothing drawn half


# ----------------------------------------------------------------------------- volume and curvature
def test_plot_volume_curvature_draws_volume_and_R_equals_2K():
    init, trained = _grid_result(0), {**_grid_result(1), "epoch": 300}
    X = np.zeros((3, 2))
    fig = G.plot_volume_curvature(
        [{"name": "a", "init": init, "trained": trained, "X": X, "y": np.array([0, 1, 0])}],
        extent=EXTENT,
        shape=SHAPE,
    )
    assert len(fig.axes) == 8
    titles = _titles(fig)
    assert titles[:4] == [
        "a: log10 √det g\ninitialisation, magnif. +0.25",
        "a: log10 √det g\nepoch 300, magnif. +0.25",
        "a: scalar curvature R = 2K\ninitialisation",
        "a: scalar curvature R = 2K\nepoch 300",
    ]
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), 2 * trained["K"].reshape(SHAPE))
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), init["log_volume"].reshape(SHAPE))
    assert fig.axes[0].get_xlim() == EXTENT[:2]


def test_plot_volume_curvature_rejects_bad_input():
    good = _grid_result(0)
    no_k = {k: v for k, v in good.items() if k != "K"}
    with pytest.raises(ValueError, match="no 'K'"):
        G.plot_volume_curvature(
            [{"name": "a", "init": good, "trained": no_k}], extent=EXTENT, shape=SHAPE
        )
    with pytest.raises(ValueError, match="no 'trained'"):
        G.plot_volume_curvature([{"name": "a", "init": good}], extent=EXTENT, shape=SHAPE)
    with pytest.raises(TypeError, match="list of dicts"):
        G.plot_volume_curvature({"name": "a"}, extent=EXTENT, shape=SHAPE)
    with pytest.raises(ValueError, match="entries is empty"):
        G.plot_volume_curvature([], extent=EXTENT, shape=SHAPE)
    with pytest.raises(ValueError, match="expected 30"):
        G.plot_volume_curvature(
            [{"name": "a", "init": good, "trained": good}], extent=EXTENT, shape=(5, 6)
        )
    assert not plt.get_fignums()


# ----------------------------------------------------------------------------- magnification
def test_plot_magnification_sorts_epochs_numerically_and_puts_epoch_0_at_1():
    fig = G.plot_magnification({"m": {"100": 0.3, "0": -0.1, "30": 0.1}, "n": {5: 0.2}})
    ax = fig.axes[0]
    m, n = ax.get_lines()[:2]
    np.testing.assert_array_equal(m.get_xdata(), [1, 30, 100])
    np.testing.assert_allclose(m.get_ydata(), [-0.1, 0.1, 0.3])
    assert n.get_label() == "n" and list(n.get_xdata()) == [5]
    assert ax.get_xscale() == "log"
    assert ax.get_lines()[2].get_ydata()[0] == 0.0  # the reference line at 0


@pytest.mark.parametrize(
    "bad, exc, match",
    [
        ({}, ValueError, "magnification is empty"),
        ({"m": {}}, ValueError, r"magnification\['m'\] is empty"),
        ({"m": {"init": 0.1}}, TypeError, "keyed by epochs"),
        ({"m": {"0": float("nan")}}, ValueError, "NaN"),
        ([0.1, 0.2], TypeError, "mapping"),
    ],
)
def test_plot_magnification_rejects_bad_input(bad, exc, match):
    with pytest.raises(exc, match=match):
        G.plot_magnification(bad)
    assert not plt.get_fignums()


# ----------------------------------------------------------------------------- volume by layer
def _by_layer():
    return {
        layer: {e: _grid_result(10 * i + e, magnification=0.1 * e) for e in (0, 5, 9)}
        for i, layer in enumerate(("act1", "act2", "act3"))
    }


def test_plot_volume_by_layer_default_rows_are_first_and_last_epoch():
    res = _by_layer()
    fig = G.plot_volume_by_layer(res, shape=SHAPE, extent=EXTENT)
    assert len(fig.axes) == 2 * 3 * 2  # 2 rows x 3 layers, with colour bars
    assert _titles(fig)[:6] == [
        "act1: initialisation (+0.00)",
        "act2: initialisation (+0.00)",
        "act3: initialisation (+0.00)",
        "act1: epoch 9 (+0.90)",
        "act2: epoch 9 (+0.90)",
        "act3: epoch 9 (+0.90)",
    ]
    # column act2 shares the 1-99 % range of its two rows
    lv = np.concatenate([res["act2"][0]["log_volume"], res["act2"][9]["log_volume"]])
    for ax in (fig.axes[1], fig.axes[4]):
        np.testing.assert_allclose(ax.images[0].get_clim(), np.percentile(lv, [1, 99]))
    np.testing.assert_allclose(
        fig.axes[4].images[0].get_array(), res["act2"][9]["log_volume"].reshape(SHAPE)
    )
    fig = G.plot_volume_by_layer(res, shape=SHAPE, extent=EXTENT, epochs=[5])
    assert _titles(fig)[0] == "act1: epoch 5 (+0.50)" and len(fig.axes) == 6


def test_plot_volume_by_layer_rejects_bad_input():
    res = _by_layer()
    with pytest.raises(ValueError, match=r"results\['act1'\] has no epoch 7"):
        G.plot_volume_by_layer(res, shape=SHAPE, extent=EXTENT, epochs=[0, 7])
    with pytest.raises(ValueError, match="epochs is empty"):
        G.plot_volume_by_layer(res, shape=SHAPE, extent=EXTENT, epochs=[])
    with pytest.raises(ValueError, match="results is empty"):
        G.plot_volume_by_layer({}, shape=SHAPE, extent=EXTENT)
    with pytest.raises(ValueError, match=r"results\['act1'\] is empty"):
        G.plot_volume_by_layer({"act1": {}}, shape=SHAPE, extent=EXTENT)
    with pytest.raises(ValueError, match="expected 30"):
        G.plot_volume_by_layer(res, shape=(5, 6), extent=EXTENT)
    assert not plt.get_fignums()


# ----------------------------------------------------------------------------- spectra
def test_plot_spectra_one_panel_per_anchor_one_line_per_epoch():
    rng = np.random.default_rng(0)
    spectra = {e: -np.sort(-rng.uniform(0.1, 1, size=(3, 6)), axis=1) for e in (10, 0, 100)}
    fig = G.plot_spectra(spectra, anchor_labels=["7", "6", "1"])
    assert len(fig.axes) == 3
    assert _titles(fig) == ["anchor 7", "anchor 6", "anchor 1"]
    lines = fig.axes[1].get_lines()
    assert [ln.get_label() for ln in lines] == ["initialisation", "epoch 10", "epoch 100"]
    np.testing.assert_allclose(lines[2].get_ydata(), spectra[100][1])
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(1, 7))
    assert fig.axes[0].get_yscale() == "log"


def test_plot_spectra_rejects_bad_input():
    with pytest.raises(ValueError, match="expected 2"):
        G.plot_spectra({0: np.ones((3, 4))}, anchor_labels=["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        G.plot_spectra({0: np.ones(4)}, anchor_labels=["a"])
    with pytest.raises(ValueError, match="spectra is empty"):
        G.plot_spectra({}, anchor_labels=["a"])
    with pytest.raises(ValueError, match="anchor_labels is empty"):
        G.plot_spectra({0: np.ones((1, 4))}, anchor_labels=[])
    assert not plt.get_fignums()


# ----------------------------------------------------------------------------- infinite width
def _iw_result(seed: int, widths=(10, 100, 1000), m: int = 5, n_seeds: int = 3) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "widths": list(widths),
        "log_volume_inf": rng.normal(size=m),
        "log_volume": rng.normal(size=(len(widths), n_seeds, m)),
        "max_rel_error": np.array([0.4, 0.15, 0.05])[: len(widths)],
        "mean_rel_error": np.array([0.2, 0.07, 0.02])[: len(widths)],
    }


def test_plot_infinite_width_draws_monte_carlo_means_the_limit_and_the_error_slope():
    r = np.linspace(0, 3, 5)
    res = {"erf": _iw_result(0), "relu": _iw_result(1)}
    fig = G.plot_infinite_width(res, r)
    assert len(fig.axes) == 4
    top, bottom = fig.axes[0], fig.axes[2]  # erf column
    assert top.get_title() == "erf: volume element √det g"
    lines = top.get_lines()
    assert len(lines) == 3 + 1
    np.testing.assert_allclose(lines[1].get_ydata(), (10.0 ** res["erf"]["log_volume"][1]).mean(0))
    np.testing.assert_allclose(lines[-1].get_ydata(), 10.0 ** res["erf"]["log_volume_inf"])
    np.testing.assert_allclose(lines[0].get_xdata(), r)
    mx, mean, ref = bottom.get_lines()
    np.testing.assert_allclose(mx.get_ydata(), res["erf"]["max_rel_error"])
    np.testing.assert_allclose(mean.get_ydata(), res["erf"]["mean_rel_error"])
    slope = np.diff(np.log(ref.get_ydata())) / np.diff(np.log(ref.get_xdata()))
    np.testing.assert_allclose(slope, -0.5)
    assert fig.axes[1].get_title().startswith("relu")


def test_plot_infinite_width_rejects_bad_input():
    r = np.linspace(0, 3, 5)
    with pytest.raises(ValueError, match=r"expected 6 \(len\(radii\)\)"):
        G.plot_infinite_width({"erf": _iw_result(0)}, np.linspace(0, 3, 6))
    missing = {k: v for k, v in _iw_result(0).items() if k != "mean_rel_error"}
    with pytest.raises(ValueError, match="no 'mean_rel_error'"):
        G.plot_infinite_width({"erf": missing}, r)
    bad = {**_iw_result(0), "widths": [10, 100]}
    with pytest.raises(ValueError, match="one row per width"):
        G.plot_infinite_width({"erf": bad}, r)
    with pytest.raises(ValueError, match="results is empty"):
        G.plot_infinite_width({}, r)
    with pytest.raises(ValueError, match="radii must be a 1-D"):
        G.plot_infinite_width({"erf": _iw_result(0)}, r[:, None])
    assert not plt.get_fignums()


def test_plot_infinite_width_curvature_draws_R_equals_2K():
    r = np.linspace(0, 3, 7)
    K = {"erf": -np.linspace(0.1, 0.01, 7), "relu": np.zeros(7)}
    fig = G.plot_infinite_width_curvature(K, r)
    erf, relu, zero = fig.axes[0].get_lines()
    assert set(zero.get_ydata()) == {0.0}
    assert (erf.get_label(), relu.get_label()) == ("erf", "relu")
    np.testing.assert_allclose(erf.get_ydata(), 2 * K["erf"])
    np.testing.assert_allclose(erf.get_xdata(), r)
    assert fig.axes[0].get_ylabel() == "R = 2K"


def test_plot_infinite_width_curvature_rejects_bad_input():
    r = np.linspace(0, 3, 7)
    with pytest.raises(ValueError, match=r"K\['erf'\] has 6 points; expected 7"):
        G.plot_infinite_width_curvature({"erf": np.zeros(6)}, r)
    with pytest.raises(ValueError, match="NaN"):
        G.plot_infinite_width_curvature({"erf": np.full(7, np.nan)}, r)
    with pytest.raises(ValueError, match="K is empty"):
        G.plot_infinite_width_curvature({}, r)
    assert not plt.get_fignums()


# ----------------------------------------------------------------------------- the module
def test_every_public_function_is_documented_with_an_example():
    import repgeo.plots

    for name in G.__all__:
        fn = getattr(G, name)
        assert getattr(repgeo.plots, name) is fn
        doc = fn.__doc__ or ""
        for section in ("Parameters", "Examples"):
            assert section in doc, f"{name} has no {section} section"


def test_plots_from_real_analysis_results():
    """The figures accept what repgeo.geometry returns (not only hand-built dicts)."""
    from repgeo.geometry import geometry_over_training, grid_2d
    from repgeo.models import MLP, hidden_layers, over_checkpoints

    A, _, U = grid_2d(-1, 1, 6)
    cks = [(0, MLP([2, 5, 5, 2], activation="sigmoid", seed=s)) for s in (0,)]
    cks.append((4, MLP([2, 5, 5, 2], activation="sigmoid", seed=1)))
    res = over_checkpoints(
        cks,
        lambda _Z, s: geometry_over_training(s.model, U, layer=s.layer)[0],
        U,
        layers=hidden_layers,
    )
    fig = G.plot_volume_by_layer(res, shape=A.shape, extent=(-1, 1, -1, 1))
    assert len(fig.axes) == 8
    fig = G.plot_magnification({"net": {e: r["magnification"] for e, r in res["act2"].items()}})
    assert list(fig.axes[0].get_lines()[0].get_xdata()) == [1, 4]
