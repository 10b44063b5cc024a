"""``repgeo analyze`` on embeddings: the run directory, numbers checked independently, resume,
changed inputs, and every bad input refused before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from repgeo._io import sha256_file
from repgeo.cli import app
from repgeo.dimension import twonn
from repgeo.latent import linear_cka, random_orthogonal
from repgeo.runs import ConfigError, Stage, Study, run_study
from repgeo.runs.registry import REGISTRY
from repgeo.studies.analyze import STUDY, analyze

runner = CliRunner()


def _layers(n_per_class=30, n_classes=3, seed=0):
    """Three layers: noise (no class), a blurred class code, a clean class code."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    centres = 5.0 * rng.normal(size=(n_classes, 8))
    return {
        "noise": rng.normal(size=(len(y), 6)).astype(np.float32),
        "blurred": (centres[y] + 3.0 * rng.normal(size=(len(y), 8))).astype(np.float32),
        "clean": (centres[y] + 0.05 * rng.normal(size=(len(y), 8))).astype(np.float32),
    }, y


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("analyze")
    layers, y = _layers()
    np.savez(d / "emb.npz", **layers, y=y)
    out = d / "run"
    result = runner.invoke(
        app, ["analyze", str(d / "emb.npz"), "--labels", "y", "--out", str(out), "--quick"]
    )
    assert result.exit_code == 0, result.output
    return d, out, layers, y


def test_run_directory_and_numbers(quick_run):
    d, out, layers, _ = quick_run
    manifest = json.loads((out / "manifest.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert manifest["study"] == "analyze" and manifest["status"] == "complete"
    assert [s for s in manifest["stages"]] == [
        "data",
        "similarity",
        "dimension",
        "information",
        "separation",
        "view",
    ]
    rec = manifest["inputs"][str((d / "emb.npz").resolve())]
    assert rec["sha256"] == sha256_file(d / "emb.npz")
    assert (out / "report.html").is_file() and (out / "figures" / "separation_layers.png").is_file()
    for key, value in metrics.items():
        REGISTRY[key].check(value)
    # all 90 rows are used by the quick configuration: the same numbers as the functions
    assert metrics["embeddings.cka"]["blurred"]["clean"] == pytest.approx(
        linear_cka(layers["blurred"], layers["clean"]), abs=1e-4
    )
    assert metrics["embeddings.cka"]["clean"]["clean"] == pytest.approx(1.0)
    assert metrics["embeddings.twonn"]["noise"] == pytest.approx(twonn(layers["noise"]), abs=1e-3)
    # planted structure: the clean class code separates perfectly, noise is at chance
    auroc = metrics["embeddings.auroc"]
    assert auroc["clean"] == pytest.approx(1.0) and abs(auroc["noise"] - 0.5) < 0.1
    assert auroc["noise"] < auroc["blurred"] < auroc["clean"]
    assert metrics["embeddings.k_shot"]["clean"]["1"] == pytest.approx(1.0)
    lo, hi = metrics["embeddings.k_shot_ci"]["noise"]["1"]
    assert lo < metrics["embeddings.k_shot"]["noise"]["1"] < hi
    assert metrics["embeddings.delta_r"]["clean"] > metrics["embeddings.delta_r"]["noise"]
    assert "embeddings.cka_ci" not in metrics  # --quick skips the intervals, and says so
    report = (out / "report.html").read_text()
    assert "no intervals (n_boot = 0" in report and "best separated at clean" in report


def test_resume_skips_and_refuses_a_changed_input(quick_run):
    d, out, layers, y = quick_run
    args = [
        "analyze",
        str(d / "emb.npz"),
        "--labels",
        "y",
        "--out",
        str(out),
        "--quick",
        "--resume",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "skip   separation" in result.output
    before = (out / "manifest.json").read_bytes()
    changed = dict(layers, noise=layers["noise"] + 1.0)
    np.savez(d / "emb.npz", **changed, y=y)
    try:
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert "changed since the run read it" in " ".join(result.output.split())
        assert (out / "manifest.json").read_bytes() == before
    finally:
        np.savez(d / "emb.npz", **layers, y=y)


def test_intervals_compare_and_config(tmp_path):
    layers, _ = _layers(n_per_class=20)
    Q = random_orthogonal(8, random_state=1)
    other = {
        "rotated": layers["clean"] @ Q,
        "noise2": np.random.default_rng(5).normal(size=(60, 4)),
    }
    np.savez(tmp_path / "a.npz", **layers)
    np.savez(tmp_path / "b.npz", **other)
    cfg = {"similarity": {"n_boot": 8, "interval_points": 60, "n_anchors": 20, "k": 5}}
    analyze(
        tmp_path / "a.npz", out=tmp_path / "run", layers=["blurred,clean"],
        compare=tmp_path / "b.npz", quick=True, config_overrides=cfg, device="cpu",
    )  # fmt: skip
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(m["embeddings.cka"]) == {"blurred", "clean"}
    assert m["embeddings.cka_cross"]["clean"]["rotated"] == pytest.approx(1.0, abs=1e-6)
    lo, hi = m["embeddings.cka_ci"]["blurred"]["clean"]
    assert 0 <= lo < hi <= 1
    # matched by relative depth: blurred -> rotated, clean -> noise2
    assert set(m["embeddings.jaccard"]) == {"blurred|rotated", "clean|noise2"}
    assert set(m["embeddings.cka_cross_ci"]["blurred"]) == {"rotated"}
    assert "embeddings.auroc" not in m  # no labels: no separation panel
    with pytest.raises(ConfigError, match="data section comes from the command line"):
        analyze(tmp_path / "a.npz", out=tmp_path / "r2", config_overrides={"data": {"kind": "x"}})
    with pytest.raises(ConfigError, match="unknown section"):
        analyze(tmp_path / "a.npz", out=tmp_path / "r2", config_overrides={"nope": {}})
    assert not (tmp_path / "r2").exists()


def test_directory_of_checkpoints(tmp_path):
    layers, y = _layers(n_per_class=15)
    folder = tmp_path / "ckpts"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for step, noise in ((1, 3.0), (5, 1.0), (20, 0.0)):
        noisy = {
            k: v + noise * rng.normal(size=v.shape).astype(np.float32) for k, v in layers.items()
        }
        np.savez(folder / f"epoch_{step}.npz", **noisy, y=y)
    analyze(folder, out=tmp_path / "run", labels="y", quick=True, device="cpu")
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    cka = m["embeddings.checkpoint_cka"]["clean"]
    assert list(cka) == ["1", "5", "20"] and cka["20"] == pytest.approx(1.0)
    assert cka["1"] < cka["5"] < 1.0
    auroc = m["embeddings.checkpoint_auroc"]["clean"]
    assert auroc["1"] < auroc["20"] == pytest.approx(1.0)
    assert m["embeddings.auroc"]["clean"] == pytest.approx(1.0)  # the last checkpoint


def _bad(tmp_path, name):
    rng = np.random.default_rng(0)
    if name == "rows":
        np.savez(tmp_path / "e.npz", a=rng.normal(size=(10, 2)), b=rng.normal(size=(9, 2)))
        return [str(tmp_path / "e.npz")], "different numbers of rows"
    if name == "label key":
        np.savez(tmp_path / "e.npz", a=rng.normal(size=(10, 2)))
        return [str(tmp_path / "e.npz"), "--labels", "y"], "no labels array 'y'"
    if name == "nan":
        a = rng.normal(size=(10, 2))
        a[4, 1] = np.nan
        np.savez(tmp_path / "e.npz", a=a)
        return [str(tmp_path / "e.npz")], "NaN or infinite values in 1 row(s) (rows 4)"
    if name == "object":
        np.save(tmp_path / "e.npy", np.array([[1, "x"]], dtype=object), allow_pickle=True)
        return [str(tmp_path / "e.npy")], "never unpickles"
    if name == "layer":
        np.savez(tmp_path / "e.npz", enc=rng.normal(size=(10, 2)))
        return [str(tmp_path / "e.npz"), "--layers", "encc"], "no layer 'encc' (closest: 'enc')"
    if name == "not a model":
        (tmp_path / "m").mkdir()
        (tmp_path / "m" / "notes.txt").write_text("hi")
        (tmp_path / "s.txt").write_text("a sentence\n")
        return [
            "--model",
            str(tmp_path / "m"),
            "--data",
            str(tmp_path / "s.txt"),
        ], "is not a model directory"
    if name == "empty text":
        (tmp_path / "s.txt").write_text("")
        return [
            "--model",
            "repgeo.models:SmallCNN",
            "--data",
            str(tmp_path / "s.txt"),
        ], "s.txt is empty"
    raise AssertionError(name)


@pytest.mark.parametrize(
    "name", ["rows", "label key", "nan", "object", "layer", "not a model", "empty text"]
)
def test_bad_input_is_one_clear_line_and_nothing_is_written(tmp_path, name):
    args, message = _bad(tmp_path, name)
    out = tmp_path / "run"
    result = runner.invoke(app, ["analyze", *args, "--out", str(out)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert message in text and "Traceback" not in text
    assert not out.exists()


def test_either_embeddings_or_a_model(tmp_path):
    result = runner.invoke(app, ["analyze", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "give either embeddings" in result.output
    assert not (tmp_path / "run").exists()


def test_the_template_study_needs_the_analyze_command(tmp_path):
    assert {"separation", "over_training", "geometry"} <= {s.name for s in STUDY.stages}
    result = runner.invoke(app, ["run", "analyze", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "repgeo analyze EMB" in " ".join(result.output.split())


def test_runner_records_inputs_and_refuses_changed_ones(tmp_path):
    src = tmp_path / "input.bin"
    src.write_bytes(b"first")

    def stage(ctx):
        ctx.save_arrays("x", x=np.frombuffer(src.read_bytes(), dtype=np.uint8))

    study = Study(name="inputs-demo", summary="reads a file", stages=[Stage("read", stage)])
    run_study(study, tmp_path / "run", device="cpu", inputs={"data": src})
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["inputs"]["data"]["sha256"] == sha256_file(src)
    run_study(study, tmp_path / "run", device="cpu", inputs={"data": src}, resume=True)
    src.write_bytes(b"second")
    with pytest.raises(ValueError, match="input data .* changed since the run read it"):
        run_study(study, tmp_path / "run", device="cpu", inputs={"data": src}, resume=True)
    (tmp_path / "run" / "manifest.json").write_text("")  # damaged: rebuilt from stage records
    with pytest.raises(ValueError, match="changed since the run read it"):
        run_study(study, tmp_path / "run", device="cpu", inputs={"data": src}, resume=True)
    with pytest.raises(FileNotFoundError, match="is not a file"):
        run_study(study, tmp_path / "r2", device="cpu", inputs={"data": tmp_path / "nope"})
    assert not (tmp_path / "r2").exists()


TOKEN_NETS = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 8)
        self.enc = nn.Linear(8, 8)

    def forward(self, ids):
        return self.enc(self.emb(ids)).mean(1)


def build():
    torch.manual_seed(0)
    return Net()
"""


def test_integer_inputs_are_token_ids_and_unreadable_inputs_are_refused_up_front(
    tmp_path, monkeypatch
):
    (tmp_path / "tok_nets_for_repgeo.py").write_text(TOKEN_NETS)
    monkeypatch.syspath_prepend(str(tmp_path))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, (40, 6))
    np.savez(tmp_path / "ids.npz", X=ids, y=np.arange(40) % 2)
    analyze(model="tok_nets_for_repgeo:build", data=tmp_path / "ids.npz", labels="y",
            out=tmp_path / "r", quick=True)  # fmt: skip
    # the layer's embeddings are those of the model on the integer ids (no float conversion)
    import importlib

    import torch

    net = importlib.import_module("tok_nets_for_repgeo").build().eval()
    with torch.no_grad():
        want = net.enc(net.emb(torch.from_numpy(ids))).mean(1).numpy()
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert "geometry" not in manifest["stages"]  # token ids are not a vector space
    got = np.load(tmp_path / "r" / "arrays" / "embeddings.npz")
    layer = [k for k in got.files if "enc" in k]
    assert layer, got.files
    np.testing.assert_allclose(got[layer[0]].reshape(40, 6, 8).mean(1), want, rtol=1e-5, atol=1e-6)
    # float inputs to the same model: refused before anything is written, naming the cause
    np.savez(tmp_path / "floats.npz", X=ids.astype(np.float32), y=np.arange(40) % 2)
    with pytest.raises(
        ValueError, match=r"cannot read the inputs of floats.npz.*Nothing was written"
    ):
        analyze(model="tok_nets_for_repgeo:build", data=tmp_path / "floats.npz", labels="y",
                out=tmp_path / "r2", quick=True)  # fmt: skip
    assert not (tmp_path / "r2").exists()
    np.savez(tmp_path / "neg.npz", X=ids - 100, y=np.arange(40) % 2)
    with pytest.raises(ValueError, match="token ids and must be >= 0"):
        analyze(model="tok_nets_for_repgeo:build", data=tmp_path / "neg.npz", labels="y",
                out=tmp_path / "r3", quick=True)  # fmt: skip
    assert not (tmp_path / "r3").exists()
