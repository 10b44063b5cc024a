"""The diffusion study (quick, shrunk further) and its default-study panel on a tiny run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from conftest import default_panel_study
from repgeo.diffusion import diffusion_spectral_entropy, diffusion_spectral_mutual_information
from repgeo.features import extract
from repgeo.models import hidden_layers
from repgeo.panels import DIFFUSION
from repgeo.panels._common import checkpoints, datasets
from repgeo.runs import RunContext, run_study
from repgeo.studies.diffusion import METHODS, STUDY

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
    for key in ("diffusion.dse", "diffusion.dsmi", "diffusion.sigma"):
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
