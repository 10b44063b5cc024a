"""The diffusion study (quick, shrunk further), its default-study panel on a tiny run, and the
panel module's public functions against direct computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import default_panel_study
from repgeo.data import Dataset, make_ids
from repgeo.diffusion import (
    DisconnectedGraphWarning,
    build_graph,
    diffusion_map,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    euclidean_distances,
    geodesic_method_distances,
    heat_geodesic_distances,
    phate_potential_distances,
    select_t,
    shortest_path_distances,
)
from repgeo.diffusion.evaluation import METHODS
from repgeo.features import extract
from repgeo.models import MLP, hidden_layers
from repgeo.panels import DIFFUSION
from repgeo.panels._common import checkpoints, datasets
from repgeo.panels.diffusion import measure_dse, report_dse
from repgeo.runs import RunContext, run_study
from repgeo.studies.diffusion import STUDY

SMALL = {
    "geodesic": {"n": 400, "n_rows": 40, "embed": True},
    "training": {"hidden": [32], "epochs": 3, "checkpoints": [0, 1, 3]},
    "dse": {"n_repetitions": 2},
}


def test_diffusion_study_quick(tmp_path):
    out = tmp_path / "run"
    run_study(STUDY, out, quick=True, device="cpu", config_overrides=SMALL)
    metrics = json.loads((out / "metrics.json").read_text())
    spear = metrics["diffusion.geodesic_spearman"]
    assert set(spear) == {"swiss_roll", "tree"}
    for scores in spear.values():
        assert set(scores) == set(METHODS)
        assert all(-1 <= v <= 1 for v in scores.values())
    # the roll is where Euclidean distance fails and heat geodesics do not
    assert spear["swiss_roll"]["heat_geodesic"] > 0.95 > 0.6 > spear["swiss_roll"]["euclidean"]
    assert set(metrics["diffusion.dse"]) == {"digits"} == set(metrics["diffusion.dsmi"])
    assert list(metrics["diffusion.dse"]["digits"]) == ["0", "1", "3"]
    assert all(0 < v < np.log2(450) for v in metrics["diffusion.dse"]["digits"].values())
    for name in ("diffusion_geodesic_spearman", "diffusion_embeddings", "diffusion_dse_training"):
        assert (out / "figures" / f"{name}.png").exists()


TINY = {
    "manifold": {
        "n_classes": 6,
        "n_seen": 3,
        "n_per_class": 40,
        "n_per_class_unseen": 10,
        "ambient_dim": 30,
        "hidden": 32,
    },
    "manifold_model": {"hidden": [32, 16]},
    "manifold_train": {"epochs": 2, "checkpoints": [0, 2]},
    "digits_model": {"hidden": [32]},
    "digits_train": {"epochs": 2, "checkpoints": [0, 2]},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    study = default_panel_study(DIFFUSION)
    out = tmp_path_factory.mktemp("run") / "run"
    run_study(study, out, quick=True, device="cpu", config_overrides=TINY)
    return out, study


def test_default_panel_metrics_match_direct_computation(tiny_run):
    out, study = tiny_run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("diffusion.dse", "diffusion.dsmi", "diffusion.dsmi_stderr", "diffusion.sigma"):
        assert set(metrics[key]) == {"manifold", "digits"}
        assert list(metrics[key]["manifold"]) == ["0", "2"]
    assert (out / "figures" / "diffusion_dse_panel.png").exists()
    # recompute the last digits checkpoint directly
    cfg = study.resolve_config(quick=True, overrides=TINY)
    ctx = RunContext(out, config=cfg, seed=0, quick=True, device=torch.device("cpu"))
    epoch, model = checkpoints(ctx, "digits")[-1]
    test = datasets(ctx, "digits")["test"]
    Z = extract(
        model, test.X, layer=hidden_layers(model)[-1], device="cpu", show_progress=False
    ).astype(np.float64)
    assert metrics["diffusion.dse"]["digits"][str(epoch)] == pytest.approx(
        float(diffusion_spectral_entropy(Z)), abs=1e-9
    )
    mi = metrics["diffusion.dsmi"]["digits"][str(epoch)]
    direct = diffusion_spectral_mutual_information(
        Z, test.y, random_state=ctx.seed_for("dse-digits")
    )
    assert mi == pytest.approx(direct.mi, abs=1e-9)
    se = metrics["diffusion.dsmi_stderr"]["digits"][str(epoch)]
    assert se == pytest.approx(direct.stderr, abs=1e-12) and se > 0


# ----------------------------------------------------------------------------- public functions
def _labelled(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return Dataset(rng.normal(size=(n, d)), np.arange(n) % 3, make_ids("p", n), name="toy")


def _direct(model, data, layer, **kw):
    Z = extract(model, data.X, layer=layer, device="cpu", show_progress=False).astype(np.float64)
    return diffusion_spectral_entropy(Z, **kw), Z


def test_measure_dse_matches_direct_computation():
    data = _labelled()
    m0, m7 = MLP([5, 16, 8, 3], seed=0), MLP([5, 16, 8, 3], seed=1)
    # given out of order: results come back in ascending epoch order
    res = measure_dse([(7, m7), (0, m0)], data, n_repetitions=2, random_state=3, bandwidth="knn")
    assert list(res["dse"]) == ["0", "7"] == list(res["dsmi"]) == list(res["sigma"])
    for epoch, model in ((0, m0), (7, m7)):
        dse, Z = _direct(model, data, "act2", bandwidth="knn", random_state=3)
        assert res["dse"][str(epoch)] == dse.entropy
        assert res["dse_stderr"][str(epoch)] == dse.stderr
        assert res["sigma"][str(epoch)] == dse.sigma
        mi = diffusion_spectral_mutual_information(
            Z, data.y, bandwidth="knn", n_repetitions=2, random_state=3
        )
        assert res["dsmi"][str(epoch)] == mi.mi
        assert res["dsmi_stderr"][str(epoch)] == mi.stderr > 0
        assert res["estimator"][str(epoch)] == "exact" and res["warnings"][str(epoch)] == []
    # an explicit layer, a bare model, and t are passed through
    res1 = measure_dse(m0, data, layer="act1", t=2.0, n_repetitions=2)
    assert list(res1["dse"]) == ["0"]
    assert res1["dse"]["0"] == _direct(m0, data, "act1", t=2.0)[0].entropy
    assert res1["dse"]["0"] != res["dse"]["0"]


def test_measure_dse_without_labels_and_bad_input():
    data = _labelled()
    unlabelled = Dataset(data.X, None, data.ids)
    res = measure_dse([(0, MLP([5, 16, 8, 3], seed=0))], unlabelled)
    assert res["dsmi"] == {} and set(res["dse"]) == {"0"}
    with pytest.raises(TypeError, match="Dataset"):
        measure_dse([(0, MLP([5, 8, 3]))], data.X)
    with pytest.raises(ValueError, match="n_repetitions"):
        measure_dse([(0, MLP([5, 8, 3]))], data, n_repetitions=0)
    with pytest.raises(ValueError, match="empty"):
        measure_dse([], data)


def test_geodesic_method_distances_match_direct_computation():
    rng = np.random.default_rng(0)
    theta = np.sort(rng.uniform(0, 3 * np.pi, 200))
    X = np.c_[theta * np.cos(theta), rng.uniform(0, 5, 200), theta * np.sin(theta)]
    rows = np.array([0, 50, 199])
    D, info = geodesic_method_distances(X, rows=rows, k=6, dm_components=4, random_state=5)
    assert list(D) == list(METHODS)
    g = build_graph(X, k=6)
    t = select_t(g, random_state=5)[0]
    assert info["t"] == t and info["components"] == 1 and info["warnings"] == []
    heat, hinfo = heat_geodesic_distances(g, t, rows=rows, return_info=True)
    np.testing.assert_allclose(D["heat_geodesic"], heat, rtol=1e-12, atol=0)
    assert info["order"] == hinfo["order"] and info["saturated"] == hinfo["saturated_fraction"]
    phate, t_phate = phate_potential_distances(g, rows=rows, random_state=5, return_t=True)
    np.testing.assert_allclose(D["phate"], phate, rtol=1e-12, atol=1e-12)
    assert info["t_phate"] == t_phate
    psi = diffusion_map(g, 4, random_state=5)
    np.testing.assert_allclose(
        D["diffusion_maps"], euclidean_distances(psi, rows=rows), rtol=1e-9, atol=1e-12
    )
    np.testing.assert_array_equal(D["shortest_path"], shortest_path_distances(g, X, rows=rows))
    brute = np.linalg.norm(X[rows][:, None] - X[None], axis=-1)
    np.testing.assert_allclose(D["euclidean"], brute, rtol=1e-12, atol=1e-12)
    for M in D.values():
        assert M.shape == (3, 200)


def test_geodesic_method_distances_disconnected_and_bad_input():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 1000.0])
    D, info = geodesic_method_distances(X, rows=[0, 70], k=5, dm_components=3)
    assert info["components"] == 2 and info["warnings"]
    assert all(np.isfinite(M).all() for M in D.values())  # diffusion maps included
    with pytest.warns(DisconnectedGraphWarning):
        graph = build_graph(X, k=5)
    direct = shortest_path_distances(graph, X, rows=[0, 70])
    finite = np.isfinite(direct)
    assert not finite.all()
    np.testing.assert_array_equal(D["shortest_path"][finite], direct[finite])
    # beyond every finite path: twice the longest one
    assert np.all(D["shortest_path"][~finite] == 2.0 * direct[finite].max())
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        geodesic_method_distances(bad, rows=[0], k=5)
    with pytest.raises(ValueError, match="k"):
        geodesic_method_distances(X, rows=[0], k=0)
    with pytest.raises(ValueError, match="2-D"):
        geodesic_method_distances(X[:, 0], rows=[0], k=5)
    with pytest.raises(ValueError, match="rows"):
        geodesic_method_distances(X, rows=[0, 500], k=5)


def test_report_dse_writes_metrics_table_and_figure(tmp_path):
    ctx = RunContext(tmp_path, config={}, seed=0, quick=True, device=torch.device("cpu"))
    res = measure_dse([(0, MLP([5, 16, 8, 3], seed=0))], _labelled(), n_repetitions=2)
    report_dse(
        ctx,
        {"toy": res},
        name="dse_fig",
        title="t",
        caption="c",
        accuracy={"toy": {0: 0.25}},
    )
    for key in ("dse", "dse_stderr", "dsmi", "dsmi_stderr", "sigma"):
        assert ctx.metrics[f"diffusion.{key}"] == {"toy": res[key]}
    assert (tmp_path / "figures" / "dse_fig.png").exists()
    # invalid results: nothing is written
    ctx2 = RunContext(tmp_path / "b", config={}, seed=0, quick=True, device=torch.device("cpu"))
    with pytest.raises(ValueError, match="at least one model"):
        report_dse(ctx2, {}, name="x", title="t", caption="c")
    with pytest.raises(ValueError, match="'dse'"):
        report_dse(ctx2, {"toy": {"dsmi": {}}}, name="x", title="t", caption="c")
    assert ctx2.metrics == {}
    assert not (tmp_path / "b" / "figures" / "x.png").exists()
