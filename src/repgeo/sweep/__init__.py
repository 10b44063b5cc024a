"""Sweeps: one study over a grid of configurations × seeds, each cell a run directory executed as
a Ray task, and one aggregate report.

``repgeo sweep riemann --set toy.widths=20,50,250,1000 --set toy.tasks=sinusoid,xor --seeds
0-4`` (or :func:`sweep` from Python) checks the whole grid against the study's configuration,
starts a local Ray sized to the machine (or joins a cluster with ``address``), runs every cell
with :func:`repgeo.runs.run_study` into ``DIR/cells/<cell name>/``, records each cell's status,
error and metrics in ``DIR/sweep.json`` as it finishes, and writes ``DIR/report.html``: for each
chosen metric key, the mean and 95 % interval over seeds per grid point against each swept
parameter (:func:`aggregate`, :func:`repgeo.plots.plot_sweep_metric`). A failed cell is
recorded and the sweep goes on; ``resume=True`` keeps the finished cells and runs the rest.

Ray is an optional dependency (``pip install "repgeo[sweep]"``): this package imports it only
when a sweep starts. See ``docs/sweeps.md``.
"""

from ._engine import (
    FORMAT,
    SWEEP_JSON,
    SweepExistsError,
    SweepResult,
    default_metrics,
    load_sweep,
    sweep,
)
from ._grid import cell_names, check_grid, grid_points, parse_seeds, parse_set, parse_value
from .aggregate import EPOCH_VIEWS, aggregate, interval95
from .report import render_sweep_report

__all__ = [
    "EPOCH_VIEWS",
    "FORMAT",
    "SWEEP_JSON",
    "SweepExistsError",
    "SweepResult",
    "aggregate",
    "cell_names",
    "check_grid",
    "default_metrics",
    "grid_points",
    "interval95",
    "load_sweep",
    "parse_seeds",
    "parse_set",
    "parse_value",
    "render_sweep_report",
    "sweep",
]
