"""Panels are units: each brings its config section to the study, and ``--config`` reaches every
option — one override per panel changes what that panel computes."""

from __future__ import annotations

import json

import pytest
import torch

from conftest import TINY_DEFAULT
from repgeo.panels import PANELS
from repgeo.runs import ConfigError, RunContext, Study, load_config_file, run_study
from repgeo.studies import default

# options that keep each panel fast on the tiny run, then one override that must change a number
FAST = {
    "hashing": {"n_pairs": 1000, "n_invariance_points": 20, "n_episodes": 100},
    "geometry": {"resolution": 10, "spectrum_k": 4},
    "coding_id": {"max_points": 300},
    "stitching": {"n_anchors": 60, "max_epochs": 3},
    "diffusion": {"n_repetitions": 2},
}
CHANGE = {
    "hashing": ({"n_way": 3}, "hashing.one_shot"),
    "geometry": ({"k": 3}, "geometry.boundary_magnification"),
    "coding_id": ({"eps2": 0.1}, "coding.delta_r"),
    "stitching": ({"n_anchors": 20}, "latent.stitching"),
    "diffusion": ({"t": 3.0}, "diffusion.dse"),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The default study's training stages on the tiny configuration, run once."""
    out = tmp_path_factory.mktemp("panels") / "run"
    study = Study(
        name="panels-training",
        summary="training stages only",
        stages=list(default.STAGES[:2]),
        config=default.CONFIG,
        quick=default.QUICK,
    )
    run_study(study, out, quick=True, device="cpu", config_overrides=TINY_DEFAULT)
    return out


def test_every_panel_has_a_section_in_the_default_study():
    assert set(CHANGE) == set(PANELS)
    for name, panel in PANELS.items():
        assert default.STUDY.config[name] == dict(panel.config)
        assert name in [s.name for s in default.STUDY.stages]
        assert panel.metrics and set(panel.metrics) <= set(default.STUDY.metric_keys)


def _run_panel(trained, name: str, extra: dict) -> dict:
    cfg = default.STUDY.resolve_config(
        quick=True, overrides={**TINY_DEFAULT, name: {**FAST[name], **extra}}
    )
    stage = next(s for s in default.STUDY.stages if s.name == name)
    ctx = RunContext(
        trained,
        config=cfg,
        seed=0,
        quick=True,
        device=torch.device("cpu"),
        stage=name,
        metrics=stage.metrics,
    )
    torch.manual_seed(0)
    stage.fn(ctx)
    return ctx.metrics


@pytest.mark.parametrize("name", sorted(CHANGE))
def test_one_override_changes_what_the_panel_computes(trained, name):
    override, key = CHANGE[name]
    base = _run_panel(trained, name, {})
    changed = _run_panel(trained, name, override)
    assert key in base and key in changed
    assert changed[key] != base[key], f"override {override} of panel {name!r} changed nothing"


def test_config_file_reaches_a_panel_and_bad_keys_are_refused(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text("[hashing]\nn_way = 5\n\n[geometry]\nanchors = [1, 2, 3]\n")
    cfg = default.STUDY.resolve_config(overrides=load_config_file(path))
    assert cfg["hashing"]["n_way"] == 5 and cfg["hashing"]["n_pairs"] == 5000
    assert cfg["geometry"]["anchors"] == [1, 2, 3]
    for bad, match in (
        ({"hashing": {"n_wya": 5}}, "unknown key 'hashing.n_wya' in section 'hashing'"),
        ({"latent_panel": {"k": 3}}, "unknown top-level section 'latent_panel'"),
        ({"hashing": 3}, "hashing must be a table"),
    ):
        with pytest.raises(ConfigError, match=match):
            default.STUDY.resolve_config(overrides=bad)
    # refused before anything is written
    with pytest.raises(ConfigError):
        run_study(default.STUDY, tmp_path / "x", config_overrides={"hashing": {"n_wya": 5}})
    assert not (tmp_path / "x").exists()
    json.dumps(cfg)  # the resolved config is what the manifest stores
