"""Sweeps without Ray: parsing --set and --seeds, checking a grid against a study, cell names,
the aggregate (against an independent computation), the sweep figure, the report's safety, and
every refusal that must come before any cell starts."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from repgeo.cli import app
from repgeo.plots import plot_sweep_metric
from repgeo.runs import ConfigError
from repgeo.studies import get_study
from repgeo.sweep import (
    SweepExistsError,
    aggregate,
    cell_names,
    check_grid,
    interval95,
    parse_seeds,
    parse_set,
    render_sweep_report,
    sweep,
)

RIEMANN = get_study("riemann")


# ----------------------------------------------------------------------------- parsing
def test_parse_set_values():
    assert parse_set("toy.widths=20,50") == ("toy.widths", [20, 50])
    assert parse_set('a.b=[1, 2],"x, y",true,null,0.5,word') == (
        "a.b",
        [[1, 2], "x, y", True, None, 0.5, "word"],
    )
    assert parse_set("a.b.c=1") == ("a.b.c", [1])


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("toy.widths", "must read SECTION.KEY=V1,V2"),
        ("widths=20", "must read SECTION.KEY=V1,V2"),
        ("toy.widths=", "no values"),
        ("toy.widths=20,,50", "empty value"),
        ("toy.widths=[20,", "neither valid JSON"),
    ],
)
def test_parse_set_refuses(item, match):
    with pytest.raises(ValueError, match=match):
        parse_set(item)


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("7, 0-1") == [7, 0, 1]
    for bad, match in (
        ("", "like 0,1,2"),
        ("-1", "not a seed"),
        ("a", "not a seed"),
        ("5-3", "empty"),
        ("1,0-2", "more than once"),
    ):
        with pytest.raises(ValueError, match=match):
            parse_seeds(bad)


# ----------------------------------------------------------------------------- the grid
def test_check_grid_wraps_only_where_a_scalar_is_not_acceptable():
    grid = check_grid(
        RIEMANN,
        {"toy.widths": [20, [50, 250]], "toy.checkpoints": [5, [0, 10]], "toy.lr": [0.1, 1]},
    )
    assert grid == {
        "toy.widths": [[20], [50, 250]],  # a list option: 20 means [20]
        "toy.checkpoints": [5, [0, 10]],  # an int is a number of checkpoints: kept
        "toy.lr": [0.1, 1],
    }


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"nope.x": [1]}, "unknown top-level section 'nope'"),
        ({"toy.nope": [1]}, "unknown key 'toy.nope'"),
        ({"toy.lr": [0.1, "fast"]}, r"toy.lr='fast'.*must be a number > 0; got 'fast' \(str\)"),
        ({"toy.epochs": [0]}, "must be an int >= 1; got 0"),
        ({"toy.widths": [["a"]]}, "toy.widths"),
        ({"toy.lr": []}, "no values"),
        ({"toy.lr": 0.1}, "must be a list"),
        ({"toy": [1]}, "dotted option path"),
        ({"deep_toy.widths": [[2, 2], [2, 2]]}, "more than once"),
        ({"infinite_width.activations": [["erf"]], "toy.tasks": [{"a": 1}]}, "toy.tasks"),
    ],
)
def test_check_grid_refuses(grid, match):
    with pytest.raises(ConfigError, match=match):
        check_grid(RIEMANN, grid)


def test_check_grid_refuses_a_section_and_a_bad_fixed_config():
    with pytest.raises(ConfigError, match="names a section"):
        check_grid(get_study("manifold-hashing"), {"sweep.randnet": [1]})
    with pytest.raises(ConfigError, match="unknown key 'toy.nope'"):
        check_grid(RIEMANN, {"toy.lr": [0.1]}, config={"toy": {"nope": 1}})


def test_cell_names_are_readable_safe_and_distinct():
    names = cell_names(
        [{"a.x": "p/q", "b.x": 1.5}, {"a.x": "p q", "b.x": 1.5}, {"a.x": "z" * 200, "b.x": 2}],
        [0, 3],
    )
    assert len(set(names)) == 6
    assert all(len(n) <= 100 and all(c.isalnum() or c in "._+-" for c in n) for n in names)
    assert names[0].startswith("a.x-p_q_b.x-1.5_") and names[0].endswith("_seed-0")  # hashed
    assert names[2].startswith("a.x-p_q_b.x-1.5_") and names[0] != names[2]
    assert cell_names([{}], [4]) == ["seed-4"]


# ----------------------------------------------------------------------------- aggregate
def test_interval95_against_the_t_table():
    x = [0.2, 0.5, 0.3, 0.4, 0.6]
    mean, std, (lo, hi) = interval95(x)
    half = 2.776445105 * np.std(x, ddof=1) / math.sqrt(5)  # t(0.975, 4), from a table
    assert mean == pytest.approx(0.4) and std == pytest.approx(np.std(x, ddof=1))
    assert (lo, hi) == pytest.approx((0.4 - half, 0.4 + half))
    with pytest.raises(ValueError, match="at least one"):
        interval95([])
    with pytest.raises(ValueError, match="finite"):
        interval95([1.0, float("nan")])


def _cells():
    out = []
    for c in (5, 10):
        for s in range(3):
            out.append(
                {
                    "name": f"c{c}_s{s}",
                    "point": {"sweep.randnet.base_classes": c, "model.width": 64},
                    "seed": s,
                    "status": "complete",
                    "metrics": {
                        "hashing.one_shot": {
                            "randnet": {"trained": 0.5 + 0.01 * c + 0.1 * s, "raw": 0.3}
                        },
                        "hashing.beats_baselines": {"randnet": s != 1},
                        "hashing.invariance_ratio": {"randnet": {"0": 1.0, "12": 0.5 - 0.1 * s}},
                        "hashing.sweep": {
                            "randnet": {f"randnet-c{c}-w64-d2": {"trained": 0.1 * s, "width": 64}}
                        },
                    },
                }
            )
    out.append({**out[0], "name": "failed", "status": "failed", "metrics": None})
    return out


def test_aggregate_against_numpy():
    params = ["sweep.randnet.base_classes", "model.width"]
    rows = aggregate(
        _cells(),
        ["hashing.one_shot", "hashing.beats_baselines", "hashing.invariance_ratio"],
        params=params,
    )
    by = {(r["key"], r["point"]["sweep.randnet.base_classes"], tuple(r["series"])): r for r in rows}
    r = by[("hashing.one_shot", 10, ("randnet", "trained"))]
    x = [0.6, 0.7, 0.8]
    assert r["n"] == 3 and r["seeds"] == [0, 1, 2] and r["values"] == pytest.approx(x)
    assert r["mean"] == pytest.approx(np.mean(x)) and r["std"] == pytest.approx(np.std(x, ddof=1))
    half = 4.302652730 * np.std(x, ddof=1) / math.sqrt(3)  # t(0.975, 2)
    assert r["ci"] == pytest.approx([np.mean(x) - half, np.mean(x) + half])
    assert r["point"] == {"sweep.randnet.base_classes": 10, "model.width": 64}
    raw = by[("hashing.one_shot", 5, ("randnet", "raw"))]
    assert raw["mean"] == pytest.approx(0.3) and raw["ci"] == pytest.approx([0.3, 0.3])
    flag = by[("hashing.beats_baselines", 5, ("randnet",))]
    assert flag["mean"] == pytest.approx(2 / 3)  # a fraction of the seeds
    inv = {
        s[1]: by[("hashing.invariance_ratio", 5, s)]
        for s in (("randnet", v) for v in ("initial", "final", "change"))
    }
    assert inv["initial"]["mean"] == pytest.approx(1.0)
    assert inv["final"]["values"] == pytest.approx([0.5, 0.4, 0.3])
    assert inv["change"]["values"] == pytest.approx([-0.5, -0.6, -0.7])
    assert all(r["collapsed"] == {} for r in rows)  # dataset names are shared: nothing collapsed


def test_aggregate_collapse_only_and_refusals():
    rows = aggregate(
        _cells(), ["hashing.sweep"], params=["sweep.randnet.base_classes"],
        only={"field": ["trained"]},
    )  # fmt: skip
    assert {tuple(r["series"]) for r in rows} == {("randnet", "*", "trained")}
    assert [r["collapsed"] for r in rows] == [
        {"model": ["randnet-c5-w64-d2"]},
        {"model": ["randnet-c10-w64-d2"]},
    ]
    assert aggregate(_cells(), ["hashing.invariance_ratio"], only={"epoch": ["final"]})[0][
        "series"
    ] == ["randnet", "final"]
    with pytest.raises(ValueError, match="unknown metric key"):
        aggregate(_cells(), ["nope.key"])
    with pytest.raises(ValueError, match="per-run intervals"):
        aggregate(_cells(), ["hashing.one_shot_ci"])
    with pytest.raises(ValueError, match="no chosen key has"):
        aggregate(_cells(), ["hashing.one_shot"], only={"epoch": ["final"]})


def test_aggregate_undefined_values():
    cells = _cells()[:3]
    cells[1] = {**cells[1], "metrics": {"hashing.one_shot": {"randnet": {"trained": None}}}}
    cells[2] = {**cells[2], "metrics": {"hashing.one_shot": {"randnet": {"trained": "inf"}}}}
    rows = aggregate(cells, ["hashing.one_shot"], only={"method": ["trained"]})
    assert rows[0]["n"] == 2 and rows[0]["mean"] is None and "non-finite" in rows[0]["note"]
    rows = aggregate(cells[:2], ["hashing.one_shot"], only={"method": ["trained"]})
    assert rows[0]["n"] == 1 and rows[0]["mean"] == pytest.approx(0.55) and rows[0]["ci"] is None


# ----------------------------------------------------------------------------- the figure
def test_plot_sweep_metric_axes_and_refusals():
    rows = aggregate(
        _cells(), ["hashing.one_shot"], params=["sweep.randnet.base_classes", "model.width"]
    )
    fig = plot_sweep_metric(rows, "sweep.randnet.base_classes")
    assert [ax.get_title() for ax in fig.axes] == ["randnet · trained", "randnet · raw"]
    assert fig.axes[0].get_xscale() == "linear"
    assert "higher is better" in fig.axes[0].get_ylabel()
    fig = plot_sweep_metric(rows, "sweep.randnet.base_classes", max_panels=1)
    assert "first 1 of 2 series" in fig._suptitle.get_text()
    fig = plot_sweep_metric(rows)  # every series side by side
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == [
        "randnet · trained",
        "randnet · raw",
    ]
    logrows = [{**r, "point": {"w": [20 * 100**i]}} for i, r in enumerate(rows[:2])]
    for r in logrows:
        r["series"] = ["x", "y"]
    assert plot_sweep_metric(logrows, "w").axes[0].get_xscale() == "log"
    cat = [{**r, "point": {"task": ["sinusoid", "xor"][i]}} for i, r in enumerate(logrows)]
    ax = plot_sweep_metric(cat, "task").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["sinusoid", "xor"]
    with pytest.raises(ValueError, match="at least one"):
        plot_sweep_metric([])
    with pytest.raises(ValueError, match="one metric key"):
        plot_sweep_metric([*rows, {**rows[0], "key": "other"}])
    with pytest.raises(ValueError, match="not a swept parameter"):
        plot_sweep_metric(rows, "nope")


# ----------------------------------------------------------------------------- the report
def test_report_escapes_and_never_links_outside(tmp_path):
    cells = _cells()
    cells[-1] = {
        **cells[-1],
        "error": "<script>alert(1)</script>",
        "dir": "../../etc",
    }
    for c in cells[:-1]:
        c["dir"] = f"cells/{c['name']}"
    (tmp_path / "cells" / "c5_s0").mkdir(parents=True)
    (tmp_path / "cells" / "c5_s0" / "report.html").write_text("cell report")
    record = {
        "format": "repgeo-sweep",
        "study": "manifold-hashing",
        "definition": {
            "study": "manifold-hashing",
            "quick": False,
            "grid": {"sweep.randnet.base_classes": [5, 10], "model.width": [64]},
            "seeds": [0, 1, 2],
            "config": {},
            "stages": None,
        },
        "metrics": ["hashing.one_shot"],
        "only": {},
        "resources": {"address": "local", "cpus_per_cell": 1, "gpus_per_cell": 0, "device": "cpu"},
        "status": "failed",
        "cells": cells,
    }
    (tmp_path / "sweep.json").write_text(json.dumps(record))
    html = render_sweep_report(tmp_path).read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert 'href="cells/c5_s0/report.html"' in html and "etc" not in html.split("Cells")[-1].split(
        "Definition"
    )[0].replace("cells/", "")
    assert "data:image/png;base64," in html
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert saved["aggregate"] and saved["figures"] == [
        "figures/sweep__hashing.one_shot__sweep.randnet.base_classes.png"
    ]
    with pytest.raises(ValueError, match="not written by"):
        render_sweep_report(tmp_path, metrics=["geometry.boundary_magnification"])
    (tmp_path / "sweep.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ValueError, match="not a repgeo sweep"):
        render_sweep_report(tmp_path)


# ----------------------------------------------------------------------------- refusals
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"grid": {"nope.x": [1]}}, ConfigError, "unknown top-level section 'nope'"),
        ({"grid": {"toy.nope": [1]}}, ConfigError, "unknown key 'toy.nope'"),
        ({"grid": {"toy.lr": ["fast"]}}, ConfigError, "must be a number > 0"),
        ({"grid": {"toy.lr": []}}, ConfigError, "no values"),
        ({"seeds": []}, ValueError, "seeds is empty"),
        ({"seeds": [0, -1]}, ValueError, "ints >= 0"),
        ({"stages": ["nope"]}, ValueError, "no stage"),
        ({"metrics": ["hashing.auroc"]}, ValueError, "not written by"),
        ({"only": {"layer": ["x"]}}, ValueError, "no chosen metric has an axis 'layer'"),
        ({"cpus_per_cell": 0}, ValueError, "cpus_per_cell must be a number > 0"),
        ({"gpus_per_cell": -1}, ValueError, "gpus_per_cell must be a number >= 0"),
        ({"device": "tpu"}, ValueError, "device must be one of"),
        ({"address": "nowhere"}, ValueError, "--address must be"),
        ({"resume": True}, FileNotFoundError, "nothing to resume"),
    ],
)
def test_bad_input_is_refused_before_anything_starts(tmp_path, kwargs, err, match):
    out = tmp_path / "sweep"
    kwargs = {"grid": {"toy.widths": [20]}, "seeds": [0], **kwargs}
    with pytest.raises(err, match=match):
        sweep("riemann", out=out, **kwargs)
    assert not out.exists()


def test_unreachable_address_is_refused_before_anything_starts(tmp_path):
    out = tmp_path / "sweep"
    for address in (f"127.0.0.1:{_free_port()}", f"ray://127.0.0.1:{_free_port()}"):
        with pytest.raises(ConnectionError, match="cannot reach Ray at .*no cell was started"):
            sweep("riemann", {"toy.widths": [20]}, [0], out=out, address=address)
    assert not out.exists()


def test_an_existing_directory_that_is_not_a_sweep_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(SweepExistsError, match="not a repgeo sweep"):
        sweep("riemann", {"toy.widths": [20]}, [0], out=tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["--set", "toy.nope=1"], "unknown key 'toy.nope'"),
        (["--set", "toy.lr=fast"], "must be a number > 0"),
        (["--set", "toy.widths="], "no values"),
        (["--set", "toy.lr=0.1", "--set", "toy.lr=0.2"], "given twice"),
        (["--seeds", "3-1"], "empty"),
        (["--only", "epoch"], "AXIS=NAME1"),
        (["--address", "127.0.0.1:{port}"], "cannot reach Ray"),
    ],
)
def test_cli_refuses_with_one_line_and_status_2(tmp_path, args, match):
    out = tmp_path / "sweep"
    args = [a.replace("{port}", str(_free_port())) for a in args]
    res = CliRunner().invoke(app, ["sweep", "riemann", "--out", str(out), *args])
    assert res.exit_code == 2, res.output
    assert match in " ".join(res.output.split()) and not out.exists()
    res = CliRunner().invoke(app, ["sweep-report", str(tmp_path)])
    assert res.exit_code == 2 and "not a repgeo sweep" in res.output


def test_import_repgeo_does_not_need_ray(tmp_path):
    code = (
        "import sys\n"
        "import repgeo, repgeo.sweep, repgeo.cli, repgeo.plots\n"
        "assert 'ray' not in sys.modules, 'ray was imported'\n"
        "sys.modules['ray'] = None  # as if it were not installed\n"
        "from repgeo.sweep import sweep\n"
        "try:\n"
        "    sweep('riemann', {'toy.widths': [20]}, [0], out=sys.argv[1])\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert 'pip install "repgeo[sweep]"' in res.stdout
    assert not (tmp_path / "s").exists()


def test_the_printed_resume_line_keeps_the_resources(tmp_path, monkeypatch):
    # a GPU sweep resumed from the printed line must still reserve GPUs and use the device
    import repgeo.sweep as sweep_pkg

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sweep_pkg, "sweep", interrupted)
    out = tmp_path / "sw"
    res = CliRunner().invoke(
        app,
        ["sweep", "riemann", "--quick", "--set", "toy.widths=20,50", "--out", str(out),
         "--num-cpus", "3", "--cpus-per-cell", "1.5", "--gpus-per-cell", "0.5",
         "--device", "cuda"],
    )  # fmt: skip
    assert res.exit_code == 130, res.output
    line = " ".join(res.output.split())
    for flag in ("--num-cpus 3", "--cpus-per-cell 1.5", "--gpus-per-cell 0.5", "--device cuda"):
        assert flag in line, line
    assert line.count("--resume") == 1
