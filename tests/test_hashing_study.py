"""The manifold-hashing study end to end on a tiny configuration, and its default-study panel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import default_panel_study
from repgeo.features import extract
from repgeo.hashing import one_shot_accuracy
from repgeo.models import hidden_layers
from repgeo.panels._common import checkpoints, datasets
from repgeo.runs import RunContext, run_study
from repgeo.studies import get_study

TINY = {
    "randnet": {
        "n_classes": 16,
        "n_unseen": 6,
        "ambient_dim": 30,
        "hidden": 32,
        "n_per_class": 20,
        "n_test_per_class": 6,
        "n_unseen_per_class": 8,
    },
    "digitwarp": {
        "n_classes": 20,
        "image_size": 10,
        "n_per_class": 12,
        "n_test_per_class": 4,
        "n_unseen_per_class": 6,
    },
    "model": {"width": 48},
    "train": {"epochs": 6, "checkpoints": 3},
    "sweep": {
        "randnet": {"n_train_classes": [4, 10], "base_classes": 10, "width": [48], "depth": [1, 2]},
        "digitwarp": {"n_train_classes": [16], "base_classes": 16, "width": [48], "depth": [2]},
    },
    "analysis": {
        "n_pairs": 2000,
        "n_invariance_points": 20,
        "n_way": 4,
        "n_episodes": 100,
        "shots": [1, 2],
        "pca_components": 8,
        "simhash_tables": 8,
    },
}


def test_manifold_hashing_study(tmp_path):
    study = get_study("manifold-hashing")
    out = tmp_path / "run"
    run_study(study, out, quick=True, device="cpu", config_overrides=TINY)
    m = json.loads((out / "metrics.json").read_text())
    for family in ("randnet", "digitwarp"):
        one = m["hashing.one_shot"][family]
        assert set(one) == {"trained", "untrained", "raw", "pca"}
        assert all(0.0 <= v <= 1.0 for v in one.values())
        lo, hi = m["hashing.one_shot_ci"][family]["trained"]
        assert lo <= one["trained"] <= hi
        inv = m["hashing.invariance_ratio"][family]
        assert set(inv) == {"0", "1", "6"}  # checkpoints of the base model
        assert all(np.isfinite(v) and v > 0 for v in inv.values())
        au = m["hashing.auroc"][family]
        assert set(au) == {"seen", "unseen"} and set(au["seen"]) == set(inv)
        assert all(0.0 <= v <= 1.0 for s in au.values() for v in s.values())
    # the sweep: base + classes + depth variations, deduplicated
    assert set(m["hashing.sweep"]["randnet"]) == {
        "randnet-c10-w48-d2",
        "randnet-c4-w48-d2",
        "randnet-c10-w48-d1",
    }
    # untrained networks are not invariant; training on family 1 makes the embedding more so
    assert 0.7 < m["hashing.invariance_ratio"]["randnet"]["0"] < 1.3
    assert (
        m["hashing.invariance_ratio"]["randnet"]["6"]
        < m["hashing.invariance_ratio"]["randnet"]["0"]
    )
    assert set(m["hashing.beats_baselines"]) == {"randnet", "digitwarp"}
    summary = json.loads((out / "stages" / "summary.json").read_text())["items"]
    assert sum(i["type"] == "text" for i in summary) == 4  # the answer, in the report's text
    assert "randnet-c10-w48-d2" in m["coding.delta_r"]
    for name in (
        "separation_histograms",
        "invariance_over_training",
        "collision_curves",
        "one_shot",
        "coding_id_randnet",
    ):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
        assert (out / "figures" / f"{name}.svg").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_default_panel_on_a_tiny_default_run(tmp_path, tiny_default):
    from repgeo.panels import HASHING

    study = default_panel_study(HASHING, train=("manifold",))
    out = tmp_path / "run"
    overrides = {k: v for k, v in tiny_default.items() if k.startswith("manifold")}
    run_study(study, out, quick=True, device="cpu", config_overrides=overrides)
    m = json.loads((out / "metrics.json").read_text())
    assert set(m["hashing.one_shot"]["manifold"]) == {"trained", "untrained", "raw", "pca"}
    epochs = set(m["hashing.invariance_ratio"]["manifold"])
    assert "0" in epochs and len(epochs) >= 2
    assert set(m["hashing.auroc"]["manifold"]["unseen"]) == epochs
    for name in ("hashing_separation", "hashing_panel"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 1000
    # the trained network's 1-shot accuracy is that of its last checkpoint's embedding (last
    # hidden layer) on the unseen classes, on the panel's episodes
    ctx = RunContext(out, config={}, seed=0, quick=True, device=torch.device("cpu"))
    epoch, model = checkpoints(ctx, "manifold")[-1]
    unseen = datasets(ctx, "manifold")["unseen"]
    Z = extract(model, unseen.X, layer=hidden_layers(model)[-1], show_progress=False)
    opts = HASHING.config
    n_way = min(opts["n_way"], np.unique(unseen.y).size)
    ref = one_shot_accuracy(
        Z,
        unseen.y,
        n_way=n_way,
        n_query=opts["n_query"],
        n_episodes=opts["n_episodes"],
        random_state=ctx.seed_for("hashing-panel"),
    )
    assert m["hashing.one_shot"]["manifold"]["trained"] == ref["mean"]
    assert str(epoch) in epochs


def test_study_config_rejects_unknown_sections(tmp_path):
    with pytest.raises(ValueError, match="unknown top-level section"):
        run_study(
            get_study("manifold-hashing"),
            tmp_path / "x",
            quick=True,
            device="cpu",
            config_overrides={"bogus": {}},
        )
