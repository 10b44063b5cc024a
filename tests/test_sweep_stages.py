"""``run_study(stages=...)``: run a subset of a study's stages (what a sweep cell runs), and
complete the rest later with ``resume=True``."""

import json

import numpy as np
import pytest

from repgeo.runs import Stage, Study, run_study
from repgeo.runs.registry import MetricSpec, register

register(MetricSpec("sweep_stages.value", ("stage",), "float", None, "test"))


def _study(log: list[str]) -> Study:
    def make(name, reads=None):
        def fn(ctx):
            log.append(name)
            base = 0.0 if reads is None else float(ctx.load_arrays(reads)["x"].sum())
            x = np.arange(3) * ctx.config["s"]["scale"] + base
            ctx.save_arrays(name, x=x)
            ctx.metric("sweep_stages.value", {name: float(x.sum())})

        return fn

    return Study(
        name="subset",
        summary="test",
        stages=[
            Stage("a", make("a"), metrics=("sweep_stages.value",)),
            Stage("b", make("b", reads="a"), metrics=("sweep_stages.value",)),
            Stage("c", make("c", reads="a"), metrics=("sweep_stages.value",)),
        ],
        config={"s": {"scale": 2}},
    )


def test_subset_then_resume_the_rest(tmp_path):
    log: list[str] = []
    out = tmp_path / "run"
    run_study(_study(log), out, device="cpu", stages=["c", "a"])  # runs in the study's order
    assert log == ["a", "c"]
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "complete" and man["stages_selected"] == ["a", "c"]
    assert list(man["stages"]) == ["a", "c"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics == {"sweep_stages.value": {"a": 6.0, "c": 24.0}}
    # later: every stage; a and c are verified and skipped, b runs, metrics merge over all
    run_study(_study(log), out, device="cpu", resume=True)
    assert log == ["a", "c", "b"]
    man = json.loads((out / "manifest.json").read_text())
    assert "stages_selected" not in man and all(
        man["stages"][s]["status"] == "complete" for s in "abc"
    )
    full: list[str] = []
    run_study(_study(full), tmp_path / "full", device="cpu")
    assert (out / "metrics.json").read_bytes() == (tmp_path / "full" / "metrics.json").read_bytes()


def test_a_resume_of_one_stage_keeps_the_metrics_of_the_others(tmp_path):
    log: list[str] = []
    out = tmp_path / "run"
    run_study(_study(log), out, device="cpu")
    before = (out / "metrics.json").read_bytes()
    (out / "arrays" / "c.npz").write_bytes(b"damaged")
    run_study(_study(log), out, device="cpu", resume=True, stages=["c"])
    assert log == ["a", "b", "c", "c"]  # only c, the damaged one, is redone
    assert (out / "metrics.json").read_bytes() == before


@pytest.mark.parametrize(
    ("stages", "err", "match"),
    [
        (["a", "nope"], ValueError, r"no stage\(s\) \['nope'\]; its stages are \['a', 'b', 'c'\]"),
        ([], ValueError, "stages is empty"),
        (["a", "a"], ValueError, "names a stage twice"),
        ("a", TypeError, "sequence of stage names"),
    ],
)
def test_bad_selection_is_refused_before_any_write(tmp_path, stages, err, match):
    with pytest.raises(err, match=match):
        run_study(_study([]), tmp_path / "run", device="cpu", stages=stages)
    assert not (tmp_path / "run").exists()
