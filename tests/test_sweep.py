"""Sweeps on a local Ray with 2 CPUs: cells, sweep.json, the aggregate report, a failed cell, a
worker killed mid-cell and ``resume``, the CLI, and quick sweeps of the two seed studies.

One Ray session serves the whole module (starting Ray takes seconds); the sweep uses a Ray
already initialised in its process. The toy study below is defined here, so it is pickled by
value for the workers.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import t as student_t
from typer.testing import CliRunner

from repgeo.cli import app
from repgeo.runs import Stage, Study
from repgeo.runs.registry import MetricSpec, register

ray = pytest.importorskip("ray")

from repgeo.sweep import SweepExistsError, load_sweep, sweep  # noqa: E402

register(MetricSpec("sweep_test.score", ("model", "epoch"), "float", True, "test score"))


def make(ctx):
    counts = ctx.out.parent.parent / "counts"
    counts.mkdir(exist_ok=True)
    with open(counts / ctx.out.name, "a") as fh:
        fh.write("make\n")
    w = ctx.config["toy"]["width"]
    ctx.save_arrays("data", x=ctx.rng("x").normal(size=(20, w)))


def score(ctx):
    sweep_dir = ctx.out.parent.parent
    hold = sweep_dir.with_name(sweep_dir.name + ".hold")
    deadline = time.time() + 120
    while hold.exists() and time.time() < deadline:  # the kill test holds cells here
        time.sleep(0.05)
    if ctx.config["toy"]["fail"]:
        raise RuntimeError("this cell was told to fail")
    x = ctx.load_arrays("data")["x"]
    w = ctx.config["toy"]["width"]
    ctx.metric(
        "sweep_test.score",
        {f"m{w}": {"0": float(x[:, 0].mean()), "5": float(x.mean() * ctx.config["toy"]["scale"])}},
    )


STUDY = Study(
    name="sweep-toy",
    summary="two stages, one metric, one model per cell named after its width",
    stages=[
        Stage("make", make, title="Make"),
        Stage("score", score, title="Score", metrics=("sweep_test.score",)),
    ],
    config={"toy": {"width": 2, "scale": 1.0, "fail": False}},
    headline=("sweep_test.score",),
)
GRID = {"toy.width": [2, 4]}
SEEDS = [0, 1]


@pytest.fixture(scope="module")
def ray_session():
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="ERROR",
        object_store_memory=128 * 2**20,
        _system_config={"worker_niceness": 0},
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def reference(ray_session, tmp_path_factory):
    """An uninterrupted 2 × 2 sweep (two widths × two seeds)."""
    out = tmp_path_factory.mktemp("sweeps") / "reference"
    result = sweep(STUDY, GRID, SEEDS, out=out)
    return out, result


def _cell_metrics(out: Path, name: str) -> bytes:
    return (out / "cells" / name / "metrics.json").read_bytes()


def test_two_by_two_sweep(reference):
    out, result = reference
    assert result.failed == [] and result.n_complete == 4
    assert result.report == out / "report.html" and result.report.is_file()
    rec = load_sweep(out)
    assert rec["status"] == "complete" and rec["definition"]["grid"] == GRID
    names = [c["name"] for c in rec["cells"]]
    assert names == ["width-2_seed-0", "width-2_seed-1", "width-4_seed-0", "width-4_seed-1"]
    for cell in rec["cells"]:
        run = out / cell["dir"]
        manifest = json.loads((run / "manifest.json").read_text())
        assert manifest["format"] == "repgeo-run" and manifest["status"] == "complete"
        assert manifest["seed"] == cell["seed"]
        assert manifest["config"]["toy"]["width"] == cell["point"]["toy.width"]
        assert cell["metrics"] == json.loads((run / "metrics.json").read_text())
        assert (run / "report.html").is_file()
    # the aggregate, recomputed here from the cells' own metrics.json
    rows = {(r["point"]["toy.width"], tuple(r["series"])): r for r in rec["aggregate"]}
    assert set(rows) == {(w, ("*", v)) for w in (2, 4) for v in ("initial", "final", "change")}
    for w in (2, 4):
        vals = [
            json.loads(_cell_metrics(out, f"width-{w}_seed-{s}"))["sweep_test.score"][f"m{w}"]
            for s in SEEDS
        ]
        for view, x in (
            ("initial", [v["0"] for v in vals]),
            ("final", [v["5"] for v in vals]),
            ("change", [v["5"] - v["0"] for v in vals]),
        ):
            r = rows[(w, ("*", view))]
            half = student_t.ppf(0.975, 1) * np.std(x, ddof=1) / np.sqrt(2)
            assert r["n"] == 2 and r["values"] == pytest.approx(x)
            assert r["mean"] == pytest.approx(np.mean(x))
            assert r["ci"] == pytest.approx([np.mean(x) - half, np.mean(x) + half])
            assert r["collapsed"] == {"model": [f"m{w}"]}
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and 'href="cells/width-4_seed-1/report.html"' in html
    assert (out / "figures" / "sweep__sweep_test.score__toy.width.svg").is_file()
    # a second sweep into the same directory is refused; resume finds nothing to redo
    with pytest.raises(SweepExistsError, match="--resume"):
        sweep(STUDY, GRID, SEEDS, out=out)
    before = {n: _cell_metrics(out, n) for n in names}
    again = sweep(STUDY, GRID, SEEDS, out=out, resume=True)
    assert again.failed == [] and all(c["attempts"] == 1 for c in again.cells)
    assert {n: _cell_metrics(out, n) for n in names} == before
    assert (out / "counts" / "width-2_seed-0").read_text() == "make\n"
    with pytest.raises(ValueError, match=r"toy.width.*\[2, 4\] -> \[2, 8\]"):
        sweep(STUDY, {"toy.width": [2, 8]}, SEEDS, out=out, resume=True)


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(ray_session, tmp_path):
    out = tmp_path / "fails"
    result = sweep(STUDY, {"toy.fail": [False, True]}, [0], out=out)
    assert result.failed == ["fail-true_seed-0"] and result.n_complete == 1
    rec = load_sweep(out)
    bad = next(c for c in rec["cells"] if c["name"] == "fail-true_seed-0")
    assert rec["status"] == "failed" and bad["status"] == "failed" and bad["stage"] == "score"
    assert "this cell was told to fail" in bad["error"] and "Traceback" in bad["traceback"]
    manifest = json.loads((out / bad["dir"] / "manifest.json").read_text())
    assert manifest["stages"]["score"]["status"] == "failed"
    html = (out / "report.html").read_text()
    assert "this cell was told to fail" in html and "Not every cell is complete" in html


def _wait_for(cond, what: str, timeout: float = 180.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = cond()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_resume_keeps_the_sweeps_metric_and_only_choice(ray_session, tmp_path):
    """The printed --resume line carries no --metric/--only: a resume must not drop them."""
    out = tmp_path / "only"
    sweep(STUDY, {"toy.width": [2]}, [0], out=out, only={"epoch": ["change"]})
    assert {r["series"][1] for r in load_sweep(out)["aggregate"]} == {"change"}
    sweep(STUDY, {"toy.width": [2]}, [0], out=out, resume=True)
    rec = load_sweep(out)
    assert rec["metrics"] == ["sweep_test.score"] and rec["only"] == {"epoch": ["change"]}
    assert {r["series"][1] for r in rec["aggregate"]} == {"change"}
    # an explicit choice on resume still wins
    sweep(STUDY, {"toy.width": [2]}, [0], out=out, resume=True, only={"epoch": ["final"]})
    assert {r["series"][1] for r in load_sweep(out)["aggregate"]} == {"final"}


def test_killed_worker_then_resume_gives_the_uninterrupted_metrics(reference, tmp_path):
    ref_out, _ = reference
    out = tmp_path / "killed"
    hold = tmp_path / "killed.hold"
    hold.write_text("")  # cells wait in stage 'score' until it is removed
    results: list = []
    thread = threading.Thread(
        target=lambda: results.append(sweep(STUDY, GRID, SEEDS, out=out)), daemon=True
    )
    thread.start()

    def running_cell():
        for cell in sorted((out / "cells").glob("*")) if (out / "cells").is_dir() else []:
            try:
                man = json.loads((cell / "manifest.json").read_text())
                pid = int((cell / ".lock").read_text())
            except (OSError, ValueError):
                continue
            if man["stages"].get("score", {}).get("status") == "running":
                return cell.name, pid
        return None

    name, pid = _wait_for(running_cell, "a cell inside stage 'score'")
    os.kill(pid, signal.SIGKILL)  # the Ray worker running that cell dies mid-stage
    hold.unlink()
    thread.join(timeout=300)
    assert not thread.is_alive() and results
    first = results[0]
    assert first.failed == [name]
    rec = load_sweep(out)
    dead = next(c for c in rec["cells"] if c["name"] == name)
    assert dead["status"] == "failed" and dead["error"]
    man = json.loads((out / dead["dir"] / "manifest.json").read_text())
    assert man["stages"]["make"]["status"] == "complete"
    assert man["stages"]["score"]["status"] == "running"  # killed: no chance to record it

    again = sweep(STUDY, GRID, SEEDS, out=out, resume=True)
    assert again.failed == []
    attempts = {c["name"]: c["attempts"] for c in again.cells}
    assert attempts == {c: 2 if c == name else 1 for c in attempts}
    assert (out / "counts" / name).read_text() == "make\n"  # the finished stage was kept
    for cell in attempts:  # the same numbers as the sweep that was never interrupted
        assert _cell_metrics(out, cell) == _cell_metrics(ref_out, cell)
    assert load_sweep(out)["aggregate"] == load_sweep(ref_out)["aggregate"]


TINY_HASHING = """
[randnet]
n_classes = 20
n_unseen = 8
n_per_class = 10
n_test_per_class = 4
n_unseen_per_class = 6
ambient_dim = 20
[digitwarp]
n_classes = 12
n_per_class = 8
n_test_per_class = 4
n_unseen_per_class = 6
image_size = 8
[model]
width = 32
[train]
epochs = 2
checkpoints = 2
[sweep.randnet]
n_train_classes = []
width = []
depth = []
[sweep.digitwarp]
n_train_classes = []
base_classes = 6
width = []
depth = []
[analysis]
n_invariance_points = 10
n_episodes = 50
shots = [1]
n_way = 5
pca_components = 4
"""


def test_manifold_hashing_quick_sweep_from_the_command_line(ray_session, tmp_path):
    """The manifold-hashing seed sweep in miniature, through `repgeo sweep`: one-shot accuracy
    on unseen classes and the invariance ratio vs the number of training classes."""
    (tmp_path / "tiny.toml").write_text(TINY_HASHING)
    out = tmp_path / "hashing"
    args = ["sweep", "manifold-hashing", "--quick", "--config", str(tmp_path / "tiny.toml")]
    args += ["--set", "sweep.randnet.base_classes=5,10", "--seeds", "0-1", "--out", str(out)]
    args += ["--stage", "train", "--stage", "one_shot"]
    args += ["--metric", "hashing.one_shot", "--metric", "hashing.sweep"]
    args += ["--only", "field=trained,invariance_ratio", "--only", "dataset=randnet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    rec = load_sweep(out)
    assert [c["name"] for c in rec["cells"]] == [
        "base_classes-5_seed-0",
        "base_classes-5_seed-1",
        "base_classes-10_seed-0",
        "base_classes-10_seed-1",
    ]
    rows = rec["aggregate"]
    one_shot = [r for r in rows if r["key"] == "hashing.one_shot"]
    assert {tuple(r["series"]) for r in one_shot} == {
        ("randnet", m) for m in ("trained", "untrained", "raw", "pca")
    }
    inv = [r for r in rows if r["key"] == "hashing.sweep"]
    assert {tuple(r["series"]) for r in inv} == {
        ("randnet", "*", "trained"),
        ("randnet", "*", "invariance_ratio"),
    }  # the model's name carries the swept class count: one per cell, collapsed
    for r in inv:
        c = r["point"]["sweep.randnet.base_classes"]
        assert r["collapsed"] == {"model": [f"randnet-c{c}-w32-d2"]}
        vals = [
            json.loads((out / "cells" / f"base_classes-{c}_seed-{s}" / "metrics.json").read_text())[
                "hashing.sweep"
            ]["randnet"][f"randnet-c{c}-w32-d2"][r["series"][2]]
            for s in (0, 1)
        ]
        assert r["mean"] == pytest.approx(np.mean(vals)) and r["n"] == 2
    # re-render with other keys and names
    res = CliRunner().invoke(
        app, ["sweep-report", str(out), "--metric", "hashing.one_shot", "--only", "method=trained"]
    )
    assert res.exit_code == 0, res.output
    rec = load_sweep(out)
    assert rec["metrics"] == ["hashing.one_shot"]
    assert {tuple(r["series"]) for r in rec["aggregate"]} == {
        ("randnet", "trained"),
        ("digitwarp", "trained"),
    }
    res = CliRunner().invoke(app, ["sweep-report", str(out), "--metric", "hashing.auroc"])
    assert res.exit_code == 2 and "not written by the chosen stages" in res.output


TINY_RIEMANN = {
    "toy": {"n_points": 100, "epochs": 30, "checkpoints": [0, 10, 30], "grid": 15},
    "deep_toy": {"epochs": 2, "checkpoints": [0, 2]},
}


@pytest.mark.slow
def test_riemann_quick_sweep(ray_session, tmp_path):
    """The riemann seed sweep in miniature: boundary magnification vs width."""
    out = tmp_path / "riemann"
    result = sweep(
        "riemann",
        {"toy.widths": [20, 250], "toy.tasks": ["sinusoid"]},
        [0, 1],
        out=out,
        quick=True,
        config=TINY_RIEMANN,
        stages=["train_toys", "toy_geometry"],
    )
    assert result.failed == [], [c.get("error") for c in result.cells]
    rec = load_sweep(out)
    assert [c["name"] for c in rec["cells"]] == [
        "widths-20_tasks-sinusoid_seed-0",
        "widths-20_tasks-sinusoid_seed-1",
        "widths-250_tasks-sinusoid_seed-0",
        "widths-250_tasks-sinusoid_seed-1",
    ]
    assert rec["metrics"] == ["geometry.boundary_magnification"]  # the study's headline
    for w in (20, 250):
        mags = [
            json.loads((out / "cells" / f"widths-{w}_tasks-sinusoid_seed-{s}" / "metrics.json")
                       .read_text())["geometry.boundary_magnification"][f"sinusoid-w{w}"]
            for s in (0, 1)
        ]  # fmt: skip
        change = next(
            r
            for r in rec["aggregate"]
            if r["point"]["toy.widths"] == [w] and r["series"] == ["*", "change"]
        )
        assert change["mean"] == pytest.approx(np.mean([m["30"] - m["0"] for m in mags]))
