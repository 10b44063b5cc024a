"""The riemann study and the geometry panel of the default study, on tiny configurations."""

from __future__ import annotations

import json

import numpy as np

from conftest import default_panel_study
from repgeo.panels import GEOMETRY
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
