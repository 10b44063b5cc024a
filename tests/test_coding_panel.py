"""Coding-rate / intrinsic-dimension panels on a tiny default-study run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import default_panel_study
from repgeo.coding import coding_rate_reduction
from repgeo.dimension import twonn
from repgeo.features import extract
from repgeo.models import MLP
from repgeo.panels import CODING_ID
from repgeo.panels._common import checkpoints, datasets
from repgeo.panels.coding_id import report_coding_id
from repgeo.runs import RunContext, run_study

TINY = {
    "manifold": {
        "n_classes": 6,
        "n_seen": 3,
        "n_per_class": 40,
        "n_per_class_unseen": 20,
        "ambient_dim": 30,
        "hidden": 32,
    },
    "manifold_model": {"hidden": [32, 16]},
    "manifold_train": {"epochs": 4, "checkpoints": [0, 2, 4]},
    "digits_train": {"epochs": 2, "checkpoints": [0, 2]},
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    study = default_panel_study(CODING_ID)
    out = tmp_path_factory.mktemp("run") / "run"
    run_study(study, out, quick=True, device="cpu", config_overrides=TINY)
    return out


def test_default_panel_writes_metrics_and_figure(tiny_run):
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    for key in ("coding.delta_r", "id.twonn"):
        assert set(metrics[key]) == {"manifold", "digits"}
        assert set(metrics[key]["manifold"]) == {"act1", "act2"}
        assert set(metrics[key]["digits"]) == {"act1"}
        assert list(metrics[key]["manifold"]["act2"]) == ["0", "2", "4"]
        assert list(metrics[key]["digits"]["act1"]) == ["0", "2"]
    assert set(metrics["coding.delta_r_unseen"]) == {"manifold"}
    for layer in metrics["coding.delta_r"]["manifold"].values():
        assert all(v >= 0 for v in layer.values())
    for layer in metrics["id.twonn"]["digits"].values():
        assert all(0 < v < 200 for v in layer.values())
    assert (tiny_run / "figures" / "coding_id.png").stat().st_size > 0
    assert (tiny_run / "figures" / "coding_id.svg").exists()


def test_default_panel_values_are_recomputable(tiny_run):
    """The metric for (digits, act1, last epoch) is ΔR of the test split at that checkpoint."""
    metrics = json.loads((tiny_run / "metrics.json").read_text())
    ctx = RunContext(tiny_run, config={}, seed=0, quick=True, device=torch.device("cpu"))
    epoch, model = checkpoints(ctx, "digits")[-1]
    test = datasets(ctx, "digits")["test"]
    Z = extract(model, test.X, layer="act1", device="cpu", show_progress=False)
    assert metrics["coding.delta_r"]["digits"]["act1"][str(epoch)] == pytest.approx(
        coding_rate_reduction(Z, test.y), rel=1e-6
    )


def test_report_coding_id_on_given_models(tmp_path):
    from repgeo.data import RandomNetworkManifolds

    gen = RandomNetworkManifolds(n_classes=6, k_gamma=3, k_theta=2, ambient_dim=20, random_state=0)
    seen = gen.sample(30, classes=[0, 1, 2], random_state=1)
    unseen = gen.sample(30, classes=[3, 4, 5], random_state=2)
    m0 = MLP([20, 24, 12, 3], seed=0)
    m1 = MLP([20, 24, 12, 3], seed=1)
    ctx = RunContext(tmp_path, config={}, seed=0, quick=True, device=torch.device("cpu"))
    res = report_coding_id(
        ctx, {"a": [(0, m0), (5, m1)], "b": m1}, seen=seen, unseen=unseen, layers=["act2"]
    )
    assert set(res) == {"a", "b"}
    assert list(res["a"]["twonn"]["act2"]) == ["0", "5"]
    assert ctx.metrics["coding.delta_r"]["b"]["act2"]["0"] == pytest.approx(
        coding_rate_reduction(extract(m1, seen.X, layer="act2", show_progress=False), seen.y)
    )
    assert ctx.metrics["id.twonn"]["a"]["act2"]["5"] == pytest.approx(
        twonn(extract(m1, seen.X, layer="act2", show_progress=False))
    )
    assert "coding.delta_r_unseen" in ctx.metrics
    assert (tmp_path / "figures" / "coding_id.png").exists()
    with pytest.raises(ValueError, match="at least one model"):
        report_coding_id(ctx, {}, seen=seen)
    assert np.isfinite(ctx.metrics["id.twonn_input"]["a"])
