import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from repgeo._io import atomic_write_bytes, load_npz, save_npz
from repgeo.runs import RunExistsError, Stage, Study, load_config_file, run_study
from repgeo.runs.registry import MetricSpec, register

register(
    *(MetricSpec(f"{n}.value", ("item",), "float", None, "test") for n in ("one", "two", "three"))
)


def _counting_study(counter: Path, fail_in: str | None = None) -> Study:
    def make(name):
        def fn(ctx):
            with open(counter, "a") as fh:
                fh.write(name + "\n")
            if name == fail_in:
                raise KeyboardInterrupt
            ctx.save_arrays(name, x=np.arange(3) * ctx.config["s"]["scale"])
            ctx.metric(f"{name}.value", {"a": float(ctx.rng(name).random())})
            ctx.table("t", [{"a": 1, "b": 2.5}])
            ctx.text(f"stage {name}")

        return fn

    return Study(
        name="counting",
        summary="test",
        stages=[
            Stage(n, make(n), title=n.upper(), metrics=(f"{n}.value",))
            for n in ("one", "two", "three")
        ],
        config={"s": {"scale": 2}},
        quick={"s": {"scale": 1}},
    )


def test_run_writes_manifest_metrics_report(tmp_path):
    out = tmp_path / "run"
    report = run_study(_counting_study(tmp_path / "c"), out, seed=3, device="cpu")
    assert report == out / "report.html" and report.exists()
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["seed"] == 3 and man["config"] == {"s": {"scale": 2}}
    assert set(man["versions"]) >= {"python", "torch", "numpy", "repgeo"}
    assert all(s["status"] == "complete" and s["seconds"] >= 0 for s in man["stages"].values())
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"one.value", "two.value", "three.value"}
    assert load_npz(out / "arrays" / "two.npz")["x"].tolist() == [0, 2, 4]
    html = report.read_text()
    assert "ONE" in html and "stage three" in html
    assert not list(out.rglob("*.tmp")) and not (out / ".lock").exists()


def test_same_seed_same_numbers_and_quick(tmp_path):
    a = run_study(_counting_study(tmp_path / "c"), tmp_path / "a", seed=1, device="cpu").parent
    b = run_study(_counting_study(tmp_path / "c"), tmp_path / "b", seed=1, device="cpu").parent
    c = run_study(
        _counting_study(tmp_path / "c"), tmp_path / "q", seed=2, quick=True, device="cpu"
    ).parent
    ma, mb, mc = (json.loads((d / "metrics.json").read_text()) for d in (a, b, c))
    assert ma == mb and ma != mc
    assert load_npz(c / "arrays" / "one.npz")["x"].tolist() == [0, 1, 2]


def test_existing_run_is_never_overwritten(tmp_path):
    out = tmp_path / "run"
    st = _counting_study(tmp_path / "c")
    run_study(st, out, device="cpu")
    before = (out / "metrics.json").read_bytes()
    with pytest.raises(RunExistsError, match="--resume .* or --force"):
        run_study(st, out, device="cpu")
    assert (out / "metrics.json").read_bytes() == before
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thesis.tex").write_text("precious")
    with pytest.raises(RunExistsError, match="not a repgeo run"):
        run_study(st, tmp_path / "other", device="cpu", force=True)
    assert (tmp_path / "other" / "thesis.tex").read_text() == "precious"
    with pytest.raises(ValueError, match="mutually exclusive"):
        run_study(st, out, resume=True, force=True)
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        run_study(st, tmp_path / "fresh", resume=True)


def test_interrupt_then_resume_skips_finished_stages(tmp_path):
    out, counter = tmp_path / "run", tmp_path / "c"
    with pytest.raises(KeyboardInterrupt):
        run_study(_counting_study(counter, fail_in="two"), out, seed=4, device="cpu")
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "interrupted"
    assert (
        man["stages"]["one"]["status"] == "complete"
        and man["stages"]["two"]["status"] == "interrupted"
    )
    assert (out / "report.html").exists()  # partial report after stage one
    with pytest.raises(ValueError, match="config/seed/quick differ"):
        run_study(_counting_study(counter), out, seed=5, device="cpu", resume=True)
    run_study(_counting_study(counter), out, seed=4, device="cpu", resume=True)
    assert counter.read_text().split() == ["one", "two", "two", "three"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and len(man["resumed_at"]) == 1
    # a forced run starts over
    run_study(_counting_study(counter), out, seed=4, device="cpu", force=True)
    assert counter.read_text().split()[-3:] == ["one", "two", "three"]


def test_killed_process_resumes(tmp_path):
    """SIGKILL in the middle of a stage: --resume completes without redoing finished stages."""
    mod = tmp_path / "slowstudy.py"
    mod.write_text(
        textwrap.dedent(
            """
            import sys, time
            from pathlib import Path
            from repgeo.runs import Stage, Study, run_study
            counter = Path(sys.argv[2])
            def first(ctx):
                counter.open("a").write("first\\n")
                ctx.save_arrays("a", x=[1.0])
            def slow(ctx):
                counter.open("a").write("slow\\n")
                if len(counter.read_text().split()) < 3:
                    time.sleep(60)
                ctx.save_arrays("b", x=[2.0])
            st = Study("slow", "test", [Stage("first", first), Stage("slow", slow)])
            run_study(st, sys.argv[1], device="cpu", resume=len(sys.argv) > 3)
            """
        )
    )
    out, counter = tmp_path / "run", tmp_path / "count"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, str(mod), str(out), str(counter)], env=env)
    deadline = time.time() + 180  # a cold interpreter importing torch on a busy machine
    while time.time() < deadline:
        if counter.exists() and "slow" in counter.read_text():
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    man = json.loads((out / "manifest.json").read_text())
    assert (
        man["stages"]["first"]["status"] == "complete"
        and man["stages"]["slow"]["status"] == "running"
    )
    subprocess.run(
        [sys.executable, str(mod), str(out), str(counter), "resume"],
        env=env,
        check=True,
        timeout=240,
    )
    assert counter.read_text().split() == ["first", "slow", "slow"]
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    p = tmp_path / "f.bin"
    atomic_write_bytes(p, b"old")

    class Boom:
        def __len__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        atomic_write_bytes(p, Boom())
    assert p.read_bytes() == b"old" and [q.name for q in tmp_path.iterdir()] == ["f.bin"]
    with pytest.raises(TypeError, match="dtype object"):
        save_npz(tmp_path / "x.npz", a=np.array([object()]))
    assert not (tmp_path / "x.npz").exists()


def test_config_files(tmp_path):
    (tmp_path / "c.toml").write_text("[s]\nscale = 5\n")
    (tmp_path / "c.json").write_text('{"s": {"scale": 6}}')
    (tmp_path / "bad.json").write_text("{nope")
    (tmp_path / "c.yaml").write_text("s: 1")
    assert load_config_file(tmp_path / "c.toml") == {"s": {"scale": 5}}
    st = _counting_study(tmp_path / "cnt")
    out = run_study(
        st, tmp_path / "r", config_overrides=load_config_file(tmp_path / "c.json"), device="cpu"
    ).parent
    assert load_npz(out / "arrays" / "one.npz")["x"].tolist() == [0, 6, 12]
    with pytest.raises(ValueError, match="not valid JSON"):
        load_config_file(tmp_path / "bad.json")
    with pytest.raises(ValueError, match=".json or .toml"):
        load_config_file(tmp_path / "c.yaml")
    with pytest.raises(FileNotFoundError):
        load_config_file(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="unknown top-level section"):
        run_study(st, tmp_path / "r2", config_overrides={"nope": {}}, device="cpu")
    assert not (tmp_path / "r2").exists()  # nothing written on bad input
