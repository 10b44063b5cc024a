"""The riemann study and the geometry panel of the default study, on tiny configurations, and
the over-training functions of repgeo.geometry.training they are built on."""

from __future__ import annotations

import ast
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch

import repgeo
from conftest import default_panel_study
from repgeo.data import Dataset
from repgeo.geometry import (
    decision_geometry,
    geometry_over_training,
    grid_2d,
    spectra_over_training,
)
from repgeo.models import MLP, hidden_layers, over_checkpoints
from repgeo.panels import GEOMETRY
from repgeo.panels.geometry import pick_anchors
from repgeo.runs import run_study
from repgeo.studies.riemann import STUDY

TINY_RIEMANN = {
    "toy": {"n_points": 200, "widths": [20], "epochs": 100, "checkpoints": [0, 100], "grid": 25},
    "deep_toy": {"epochs": 20, "checkpoints": [0, 20], "grid": 15},
    "infinite_width": {
        "widths": [16, 256],
        "n_seeds": 2,
        "n_radii": 9,
        "activations": ["erf", "relu", "gelu"],
    },
}


def test_riemann_study_quick(tmp_path):
    out = tmp_path / "run"
    run_study(STUDY, out, quick=True, device="cpu", config_overrides=TINY_RIEMANN)
    metrics = json.loads((out / "metrics.json").read_text())
    mag = metrics["geometry.boundary_magnification"]
    assert set(mag) == {"sinusoid-w20", "xor-w20", "deep-toy"}
    assert set(mag["sinusoid-w20"]) == {"0", "100"}
    # training magnifies the volume element near the boundary (seeded; measured +0.3 vs ~0)
    assert mag["sinusoid-w20"]["100"] > mag["sinusoid-w20"]["0"] + 0.1
    err = metrics["geometry.infinite_width.max_rel_error"]
    assert set(err) == {"erf", "relu", "gelu"}
    for act in err:
        assert set(err[act]) == {"16", "256"}
        assert err[act]["256"] < err[act]["16"]
    for name in (
        "toy_volume_curvature",
        "toy_magnification",
        "deep_toy_layers",
        "infinite_width",
        "infinite_width_curvature",
    ):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").exists()


def test_default_panel_on_tiny_digits_run(tmp_path):
    study = default_panel_study(
        GEOMETRY,
        train=("digits",),
        config={"geometry": {"resolution": 16, "k": 5}},
    )
    out = tmp_path / "run"
    run_study(
        study,
        out,
        device="cpu",
        config_overrides={
            "digits_model": {"hidden": [32]},
            "digits_train": {"epochs": 30, "checkpoints": [0, 30]},
        },
    )
    metrics = json.loads((out / "metrics.json").read_text())
    mag = metrics["geometry.boundary_magnification"]["digits"]
    assert set(mag) == {"0", "30"}
    assert all(np.isfinite(v) for v in mag.values())
    for name in ("digits_plane_geometry", "digits_anchor_spectra"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    stage = json.loads((out / "stages" / "geometry.json").read_text())
    assert any(item["type"] == "table" for item in stage["items"])


# ----------------------------------------------------------------------------- geometry.training
class _Declared(torch.nn.Sequential):
    """A model whose hidden layer is not called act*, but declared (as repgeo's models do)."""

    hidden_layers = ("h",)

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(
            OrderedDict(
                lin=torch.nn.Linear(2, 6),
                h=torch.nn.Tanh(),
                out=torch.nn.Linear(6, 3),
            )
        )


def _plain() -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def test_auto_layer_is_the_last_of_models_hidden_layers():
    U = grid_2d(-1, 1, 5)[2]
    net = _Declared()
    assert hidden_layers(net) == ["h"]
    auto = decision_geometry(net, U)
    named = decision_geometry(net, U, layer="h")
    logits = decision_geometry(net, U, layer=None)
    np.testing.assert_array_equal(auto["log_volume"], named["log_volume"])
    assert not np.allclose(auto["log_volume"], logits["log_volume"])  # not the logits
    # the same for the spectra, checked against the metric of the Tanh layer by hand
    s = spectra_over_training(net, U[:3])[0]
    W, b = net.lin.weight.detach().double().numpy(), net.lin.bias.detach().double().numpy()
    for x, sv in zip(U[:3], s):
        J = (1 - np.tanh(W @ x + b) ** 2)[:, None] * W
        np.testing.assert_allclose(sv, np.linalg.svd(J / np.sqrt(6), compute_uv=False), rtol=1e-10)
    # an MLP: the deepest act* layer
    mlp = MLP([2, 4, 3, 2], activation="sigmoid", seed=0)
    np.testing.assert_array_equal(
        decision_geometry(mlp, U, quantity="effective", k=2)["log_volume"],
        decision_geometry(mlp, U, layer="act2", quantity="effective", k=2)["log_volume"],
    )


def test_auto_layer_refuses_a_model_without_hidden_layers():
    U = grid_2d(-1, 1, 4)[2]
    with pytest.raises(ValueError, match="cannot tell the hidden layers"):
        decision_geometry(_plain(), U)
    with pytest.raises(ValueError, match="cannot tell the hidden layers"):
        spectra_over_training([(0, _plain())], U[:2])
    with pytest.raises(ValueError, match="cannot tell the hidden layers"):
        geometry_over_training([(0, _plain())], U)
    # naming the layer (here the logits) works
    assert decision_geometry(_plain(), U, layer=None, quantity="effective", k=2)[
        "log_volume"
    ].shape == (16,)


def test_over_training_checks_checkpoints_like_repgeo_models():
    U = grid_2d(-1, 1, 4)[2]
    net = MLP([2, 6, 2], activation="sigmoid", seed=0)
    bare = geometry_over_training(net, U)
    assert list(bare) == [0]
    np.testing.assert_array_equal(bare[0]["log_volume"], decision_geometry(net, U)["log_volume"])
    for fn, X in ((geometry_over_training, U), (spectra_over_training, U[:2])):
        with pytest.raises(ValueError, match="checkpoints is empty"):
            fn([], X)
        with pytest.raises(TypeError, match="must be a torch.nn.Module"):
            fn([(0, "model")], X)
        with pytest.raises(TypeError, match=r"sequence of \(epoch, model\) pairs"):
            fn([net], X)


def test_every_layer_through_over_checkpoints_matches_one_layer_at_a_time():
    """The riemann study's deep-toy loop (over_checkpoints x geometry_over_training) gives the
    numbers of geometry_over_training run layer by layer."""
    U = grid_2d(-1, 1, 6)[2]
    cks = [(e, MLP([2, 5, 5, 2], activation="sigmoid", seed=e)) for e in (0, 3)]
    res = over_checkpoints(
        cks, lambda _Z, s: geometry_over_training(s.model, U, layer=s.layer)[0], U
    )
    assert list(res) == ["act1", "act2"]
    for layer, series in res.items():
        direct = geometry_over_training(cks, U, layer=layer)
        assert list(series) == list(direct) == [0, 3]
        for e in series:
            assert series[e]["magnification"] == direct[e]["magnification"]
            np.testing.assert_array_equal(series[e]["log_volume"], direct[e]["log_volume"])


# ----------------------------------------------------------------------------- panel and study
def test_pick_anchors():
    ds = Dataset(X=np.arange(10.0).reshape(5, 2), y=np.array([3, 1, 3, 2, 1]), ids=list("abcde"))
    X, labels = pick_anchors(ds, [1, 3])
    np.testing.assert_array_equal(X, [[2.0, 3.0], [0.0, 1.0]])
    assert labels == ["1 (b)", "3 (a)"]
    with pytest.raises(ValueError, match=r"no sample of class 7 .* present: \[1, 2, 3\]"):
        pick_anchors(ds, [1, 7])
    with pytest.raises(ValueError, match="no labels"):
        pick_anchors(Dataset(X=np.zeros((2, 2)), y=None, ids=["a", "b"]), [1])


def test_geometry_panel_options_and_layering():
    assert GEOMETRY.config == {"resolution": 60, "k": 10, "anchors": [7, 6, 1], "spectrum_k": 64}
    assert GEOMETRY.metrics == ("geometry.boundary_magnification",)
    src = Path(repgeo.__file__).parent
    for rel in ("panels/geometry.py", "studies/riemann.py"):
        tree = ast.parse((src / rel).read_text(encoding="utf-8"))
        names = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names.add(("." * node.level) + (node.module or ""))
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
        assert not any("matplotlib" in n for n in names), f"{rel} imports matplotlib"
        assert "new_figure" not in names, f"{rel} draws inline; use repgeo.plots"
        if rel.startswith("panels"):
            assert not any("studies" in n for n in names), "a panel imports a study"
