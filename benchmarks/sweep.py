"""Benchmark: what a sweep costs beyond its cells, and what two workers buy on two cores.

Run ``.venv/bin/python benchmarks/sweep.py`` (``--quick`` for a small smoke version,
``--repeat N`` to repeat each case). Needs Ray (``pip install "repgeo[sweep]"``).

sweep-overhead
    20 trivial cells (a two-stage study writing one array and one metric) on a local Ray with
    one CPU, so the cells run one after another: ``ours`` is the sweep's wall time (Ray already
    started, its worker warm), ``anchor`` the same 20 runs one after another in this process
    (:func:`repgeo.runs.run_study`). The overhead per cell — Ray task start, result collection,
    ``sweep.json`` updates, beyond the cell's own run time as the worker measured it — is
    printed on an ``OVERHEAD`` line (target: at most 1 s), with the one-off costs (starting Ray,
    a worker's first import of repgeo and torch, the aggregate report).
sweep-2x2
    ``repgeo sweep riemann --quick --set toy.widths=20,250 --set toy.tasks=sinusoid,xor`` with
    two workers (a local Ray with two CPUs, started and stopped by the sweep: what a user
    waits for) against the same four runs one after another in this process (target: at most
    0.6× the time).

Output::

    BENCH <case> ours=<s> anchor=<s> ratio=<anchor/ours>

Timings on a shared, busy machine vary with what else runs: the script prints the load average
before and after each case, and ``--repeat`` repeats the case.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from repgeo.runs import Stage, Study, run_study
from repgeo.runs.registry import MetricSpec, register
from repgeo.studies import get_study
from repgeo.sweep import check_grid, grid_points, load_sweep, sweep
from repgeo.sweep._grid import point_overrides

register(MetricSpec("bench_sweep.value", ("item",), "float", None, "benchmark"))


def _make(ctx):
    ctx.save_arrays("x", x=ctx.rng("x").normal(size=100) * ctx.config["t"]["x"])


def _use(ctx):
    ctx.metric("bench_sweep.value", {"sum": float(ctx.load_arrays("x")["x"].sum())})


TRIVIAL = Study(
    name="bench-trivial",
    summary="two trivial stages",
    stages=[Stage("make", _make), Stage("use", _use, metrics=("bench_sweep.value",))],
    config={"t": {"x": 1}},
)


def _load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


def overhead(tmp: Path, n: int) -> None:
    import ray

    grid = {"t.x": list(range(n // 2))}
    seeds = [0, 1]
    t0 = time.perf_counter()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR",
             object_store_memory=128 * 2**20, _system_config={"worker_niceness": 0})  # fmt: skip
    t_init = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        sweep(TRIVIAL, {"t.x": [99]}, [0], out=tmp / "warm")  # the worker's first imports
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        sweep(TRIVIAL, grid, seeds, out=tmp / "ours")
        ours = time.perf_counter() - t0
    finally:
        ray.shutdown()
    rec = load_sweep(tmp / "ours")
    assert all(c["status"] == "complete" for c in rec["cells"]), "a cell failed"
    cells = sum(c["seconds"] for c in rec["cells"])
    report = ours - rec["seconds_this_invocation"]  # aggregate, figure, report.html, checks
    t0 = time.perf_counter()
    for p in grid_points(check_grid(TRIVIAL, grid)):
        for s in seeds:
            run_study(TRIVIAL, tmp / "anchor" / f"{p['t.x']}-{s}", seed=s, device="cpu",
                      config_overrides=point_overrides(p, None))  # fmt: skip
    anchor = time.perf_counter() - t0
    print(f"BENCH sweep-overhead ours={ours:.2f} anchor={anchor:.2f} ratio={anchor / ours:.2f}")
    print(
        f"OVERHEAD cells={len(rec['cells'])} per_cell={(rec['seconds_this_invocation'] - cells) / len(rec['cells']):.3f}s "
        f"(target <= 1 s; sweep loop {rec['seconds_this_invocation']:.2f} s - cells' own {cells:.2f} s) "
        f"vs_sequential_per_cell={(ours - anchor) / len(rec['cells']):.3f}s report={report:.2f}s "
        f"one-off: ray_init={t_init:.1f}s first_cell_cold_worker={t_cold:.1f}s  [{_load()}]"
    )


def two_by_two(tmp: Path, quick: bool) -> None:
    study = get_study("riemann")
    grid = {"toy.widths": [20, 250], "toy.tasks": ["sinusoid", "xor"]}
    config = (
        {"toy": {"epochs": 30, "checkpoints": [0, 30], "grid": 21}, "deep_toy": {"epochs": 30,
         "checkpoints": [0, 30], "grid": 21}, "infinite_width": {"widths": [32, 512], "n_seeds": 2}}
        if quick else None
    )  # fmt: skip
    print(f"# sweep-2x2 start [{_load()}]")
    t0 = time.perf_counter()
    res = sweep(study, grid, [0], out=tmp / "ours", quick=True, config=config, num_cpus=2)
    ours = time.perf_counter() - t0
    assert not res.failed, res.failed
    loop = load_sweep(tmp / "ours")["seconds_this_invocation"]
    print(f"# sweep-2x2 sweep done in {ours:.1f} s (cells {loop:.1f} s) [{_load()}]")
    t0 = time.perf_counter()
    for p in grid_points(check_grid(study, grid, quick=True, config=config)):
        name = f"{p['toy.widths'][0]}-{p['toy.tasks'][0]}"
        run_study(study, tmp / "anchor" / name, quick=True, device="cpu",
                  config_overrides=point_overrides(p, config))  # fmt: skip
    anchor = time.perf_counter() - t0
    # same numbers either way
    for c in load_sweep(tmp / "ours")["cells"]:
        name = f"{c['point']['toy.widths'][0]}-{c['point']['toy.tasks'][0]}"
        seq = (tmp / "anchor" / name / "metrics.json").read_bytes()
        assert (tmp / "ours" / c["dir"] / "metrics.json").read_bytes() == seq, name
    print(f"BENCH sweep-2x2 ours={ours:.1f} anchor={anchor:.1f} ratio={anchor / ours:.2f}")
    print(
        f"# sweep-2x2 ours/anchor={ours / anchor:.2f} (target <= 0.6); without starting Ray: "
        f"{loop / anchor:.2f}  [{_load()}]"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small smoke version")
    ap.add_argument("--repeat", type=int, default=1, help="repeat each case")
    ap.add_argument("--case", choices=("overhead", "2x2", "all"), default="all")
    ap.add_argument("--device", choices=("cpu",), default="cpu", help="cells run on the CPU")
    args = ap.parse_args()
    os.environ.setdefault("REPGEO_PROGRESS", "0")
    for _ in range(args.repeat):
        tmp = Path(tempfile.mkdtemp(prefix="repgeo-bench-sweep-"))
        try:
            if args.case in ("overhead", "all"):
                overhead(tmp / "overhead", 6 if args.quick else 20)
            if args.case in ("2x2", "all"):
                two_by_two(tmp / "2x2", args.quick)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
