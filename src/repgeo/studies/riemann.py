"""The ``riemann`` study: how training shapes the Riemannian geometry of representations.

Reproduces the toy experiments of Zavatone-Veth, Yang, Rubinfien & Pehlevan (arXiv:2301.11375)
with :mod:`repgeo.geometry`; every figure comes from :mod:`repgeo.plots.geometry`.

train_toys
    Sigmoid MLPs [2, w, 2] (w = 20 and 250, the paper's N(0, 1) initialisation with a 1/√w
    readout, SGD lr 0.1, momentum 0.9, batch 50) on the sinusoid task (400 points uniform on
    [−1, 1]², label 1[y > 0.6 sin(7x − 1)]) and on noisy XOR (400 points around the corners),
    and the deep toy network [2, 8, 8, 8, 2] on the sinusoid task. 10,000 epochs as in the paper
    (4,000 for the deep toy network); ``--quick`` trains 300 and says so in the report.
toy_geometry
    log10 volume element √det g of the hidden layer (g = JᵀJ/n) and scalar curvature R = 2K on a
    grid of [−1.5, 1.5]², at initialisation and after training, with the decision boundary; the
    boundary-magnification statistic at every checkpoint.
deep_toy
    The deep toy network layer by layer (every hidden layer of every checkpoint, through
    :func:`repgeo.models.over_checkpoints`), at initialisation and trained.
infinite_width
    The kernel-regime metric (erf, ReLU, GELU) against random networks of growing width:
    volume element vs |x| with Monte Carlo overlays, relative error vs width, and the
    infinite-width curvature.

The default study's geometry panel (the digits plane through a 7, a 6 and a 1) lives in
:mod:`repgeo.panels.geometry`.

metrics.json keys: ``geometry.boundary_magnification`` (model -> epoch -> value) and
``geometry.infinite_width.max_rel_error`` (activation -> width -> value).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from ..data import sinusoid, xor
from ..geometry import (
    decision_geometry,
    finite_width_comparison,
    geometry_over_training,
    grid_2d,
    infinite_width_curvature,
)
from ..models import MLP, TrainConfig, hidden_layers, over_checkpoints, train
from ..panels._common import checkpoints
from ..plots import (
    plot_infinite_width,
    plot_infinite_width_curvature,
    plot_magnification,
    plot_volume_by_layer,
    plot_volume_curvature,
)
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY"]

CONFIG: dict[str, Any] = {
    "toy": {
        "n_points": 400,
        "tasks": ["sinusoid", "xor"],
        "widths": [20, 250],
        "xor_noise": 0.15,
        "epochs": 10000,
        "checkpoints": [0, 100, 300, 1000, 3000, 10000],
        "batch_size": 50,
        "lr": 0.1,
        "momentum": 0.9,
        "grid": 101,
        "extent": 1.5,
    },
    "deep_toy": {
        "widths": [2, 8, 8, 8, 2],
        "task": "sinusoid",
        "epochs": 4000,
        "checkpoints": [0, 300, 1000, 4000],
        "grid": 81,
    },
    "infinite_width": {
        "activations": ["erf", "relu", "gelu"],
        "widths": [32, 128, 512, 2048, 8192],
        "n_seeds": 8,
        "r_max": 3.0,
        "n_radii": 61,
        "sigma_w": 1.0,
        "sigma_b": 1.0,
        "d": 2,
    },
}

QUICK: dict[str, Any] = {
    "toy": {"epochs": 300, "checkpoints": [0, 100, 300], "grid": 51},
    "deep_toy": {"epochs": 300, "checkpoints": [0, 300], "grid": 41},
    "infinite_width": {"widths": [32, 512, 8192], "n_seeds": 4, "n_radii": 31},
}


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    """Tiny models train fastest on one thread (no OpenMP hand-offs); restore afterwards."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def _task(ctx: RunContext, task: str):
    cfg = ctx.config["toy"]
    if task == "sinusoid":
        return sinusoid(cfg["n_points"], random_state=ctx.seed_for("sinusoid-data"))
    if task == "xor":
        return xor(cfg["n_points"], noise=cfg["xor_noise"], random_state=ctx.seed_for("xor-data"))
    raise ValueError(f"toy task must be 'sinusoid' or 'xor'; got {task!r}.")


def _toy_models(ctx: RunContext) -> list[tuple[str, str, list[int]]]:
    cfg = ctx.config["toy"]
    out = [(f"{t}-w{w}", t, [2, int(w), 2]) for t in cfg["tasks"] for w in cfg["widths"]]
    out.append(("deep-toy", ctx.config["deep_toy"]["task"], list(ctx.config["deep_toy"]["widths"])))
    return out


def _train_config(ctx: RunContext, name: str) -> TrainConfig:
    cfg = ctx.config["toy"]
    section = ctx.config["deep_toy"] if name == "deep-toy" else cfg
    return TrainConfig(
        epochs=int(section["epochs"]),
        batch_size=int(cfg["batch_size"]),
        optimizer="sgd",
        lr=float(cfg["lr"]),
        momentum=float(cfg["momentum"]),
        checkpoints=[int(e) for e in section["checkpoints"] if int(e) <= int(section["epochs"])],
    )


def train_toys(ctx: RunContext) -> None:
    """Train the toy models (resumable: checkpoints live in the run directory)."""
    rows = []
    arrays = {}
    for name, task, widths in _toy_models(ctx):
        ds = _task(ctx, task)
        arrays[f"{task}__X"], arrays[f"{task}__y"] = ds.X, ds.y
        model = MLP(widths, activation="sigmoid", init="paper", seed=ctx.seed_for(f"{name}-init"))
        tcfg = _train_config(ctx, name)
        t0 = time.perf_counter()
        with _threads(1):
            hist = train(
                model,
                ds.X,
                ds.y,
                config=tcfg,
                random_state=ctx.seed_for(f"{name}-train"),
                device="cpu",
                checkpoint_dir=ctx.checkpoint_dir(name),
                description=f"training {name}",
            )
        rows.append(
            {
                "model": name,
                "task": task,
                "widths": str(widths),
                "epochs": tcfg.epochs,
                "initial accuracy": round(hist["train_acc"][0], 3),
                "final accuracy": round(hist["train_acc"][-1], 3),
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
    ctx.save_arrays("toy_data", **arrays)
    epochs = ctx.config["toy"]["epochs"]
    budget = (
        "as in the paper"
        if epochs >= 10000
        else "fewer than the paper's 10,000, to fit the time budget of this configuration; the "
        "width-250 sinusoid network has then not yet resolved every wiggle of the boundary"
    )
    ctx.text(
        "Sigmoid MLPs with the paper's initialisation (weights and biases N(0, 1), readout scaled by "
        "1/√width), trained with SGD (lr 0.1, momentum 0.9, batch 50, cross-entropy) for "
        f"{epochs} epochs ({budget}); the deep toy network for {ctx.config['deep_toy']['epochs']} "
        "epochs. Accuracies are in the table."
    )
    ctx.table("Toy models", rows)


def toy_geometry(ctx: RunContext) -> None:
    """Volume and curvature heatmaps at init and trained; magnification at every checkpoint."""
    cfg = ctx.config["toy"]
    data = ctx.load_arrays("toy_data")
    A, _, U = grid_2d(-cfg["extent"], cfg["extent"], int(cfg["grid"]))
    extent = (-cfg["extent"], cfg["extent"], -cfg["extent"], cfg["extent"])
    entries, per_model, rows = [], {}, []
    for name, task, _ in _toy_models(ctx):
        if name == "deep-toy":
            continue
        cks = checkpoints(ctx, name)
        res = geometry_over_training(cks, U, layer="act1")
        per_model[name] = {e: r["magnification"] for e, r in res.items()}
        first, last = cks[0][0], cks[-1][0]
        ends = {}
        for key, epoch in (("init", first), ("trained", last)):
            model = dict(cks)[epoch]
            r = decision_geometry(model, U, layer="act1", curvature=True)
            r["magnification"], r["epoch"] = res[epoch]["magnification"], epoch
            ends[key] = r
        entries.append({"name": name, **ends, "X": data[f"{task}__X"], "y": data[f"{task}__y"]})
        R_tr = 2.0 * ends["trained"]["K"]
        rows.append(
            {
                "model": name,
                "magnification at init": round(per_model[name][first], 3),
                f"magnification at epoch {last}": round(per_model[name][last], 3),
                "median R (trained)": float(np.median(R_tr)),
                "R range (trained, 1–99 %)": f"{np.percentile(R_tr, 1):.3g} … {np.percentile(R_tr, 99):.3g}",
            }
        )
    ctx.figure(
        plot_volume_curvature(entries, extent=extent, shape=A.shape),
        "toy_volume_curvature",
        caption="Hidden-layer geometry of the toy networks on [−1.5, 1.5]²: log10 volume element √det g "
        "(g = JᵀJ/n) and scalar curvature R = 2K (standard convention, float64; symmetric-log colours), "
        "at initialisation and after training. Decision boundary: white on volume panels, black on curvature "
        "panels; dots: training points.",
    )
    ctx.figure(
        plot_magnification(per_model),
        "toy_magnification",
        caption="Boundary magnification over training: mean log10 volume on the 10 % of grid points with "
        "the smallest logit margin minus that on the 50 % with the largest.",
    )
    ctx.table("Toy geometry", rows)
    ctx.metric("geometry.boundary_magnification", per_model)


def deep_toy(ctx: RunContext) -> None:
    """The deep toy network, layer by layer, at initialisation and after training."""
    cfg = ctx.config["deep_toy"]
    ext = ctx.config["toy"]["extent"]
    A, _, U = grid_2d(-ext, ext, int(cfg["grid"]))
    cks = checkpoints(ctx, "deep-toy")
    res = over_checkpoints(
        cks,
        lambda _Z, step: geometry_over_training(step.model, U, layer=step.layer)[0],
        U,
        layers=hidden_layers,
        device=ctx.device,
    )
    first, last = cks[0][0], cks[-1][0]
    ctx.figure(
        plot_volume_by_layer(
            res, shape=A.shape, extent=(-ext, ext, -ext, ext), epochs=(first, last)
        ),
        "deep_toy_layers",
        caption=f"Deep toy network {cfg['widths']} (sigmoid): log10 volume element of the metric pulled back "
        "from each hidden layer (g = JᵀJ/n, n = 8), at initialisation (top) and after training (bottom); "
        "white: decision boundary; titles give the boundary magnification.",
    )
    rows = [
        {
            "layer": layer,
            "magnification at init": round(series[first]["magnification"], 3),
            f"magnification at epoch {last}": round(series[last]["magnification"], 3),
        }
        for layer, series in res.items()
    ]
    ctx.table("Deep toy network, layer by layer", rows)
    last_layer = list(res)[-1]
    mags = {e: r["magnification"] for e, r in res[last_layer].items()}
    ctx.metric("geometry.boundary_magnification", {"deep-toy": mags})


def infinite_width(ctx: RunContext) -> None:
    """Kernel-regime metric vs finite random networks."""
    cfg = ctx.config["infinite_width"]
    d = int(cfg["d"])
    r = np.linspace(0.0, float(cfg["r_max"]), int(cfg["n_radii"]))
    X = np.zeros((len(r), d))
    X[:, 0] = r
    sigmas = {"sigma_w": float(cfg["sigma_w"]), "sigma_b": float(cfg["sigma_b"])}
    results = {
        act: finite_width_comparison(
            X,
            act,
            cfg["widths"],
            n_seeds=int(cfg["n_seeds"]),
            random_state=ctx.seed_for(f"infinite-width-{act}"),
            **sigmas,
        )
        for act in cfg["activations"]
    }
    ctx.figure(
        plot_infinite_width(results, r),
        "infinite_width",
        caption=f"Top: volume element √det g (g = JᵀJ/n) along a ray |x| in ℝ^{d} for single-layer random "
        f"networks (w ~ N(0, {cfg['sigma_w']}²), b ~ N(0, {cfg['sigma_b']}²)): closed form / Gauss–Hermite "
        "quadrature at infinite width (dashed) and Monte Carlo over random networks of growing width. "
        "erf: σ(z) = erf(z/√2). Bottom: relative Frobenius error of the metric vs width.",
    )
    if d == 2:  # the curvature of the infinite-width metric needs 2-D inputs
        K = {act: infinite_width_curvature(X, act, **sigmas) for act in cfg["activations"]}
        ctx.figure(
            plot_infinite_width_curvature(K, r),
            "infinite_width_curvature",
            caption="Scalar curvature R = 2K of the infinite-width metric for 2-D inputs (Brioschi formula, float64): ReLU is flat.",
        )
    metric = {
        act: {str(w): float(e) for w, e in zip(res["widths"], res["max_rel_error"])}
        for act, res in results.items()
    }
    rows = [
        {"activation": act, "width": int(w), "max relative error": round(e, 4)}
        for act, errs in metric.items()
        for w, e in errs.items()
    ]
    ctx.table("Infinite-width comparison", rows)
    ctx.metric("geometry.infinite_width.max_rel_error", metric)


STUDY = Study(
    name="riemann",
    summary="Riemannian geometry of toy networks: volume element and curvature over training, deep toy net, infinite width.",
    stages=[
        Stage("train_toys", train_toys, title="Training the toy networks"),
        Stage(
            "toy_geometry",
            toy_geometry,
            title="Volume element and curvature: sinusoid and XOR",
            metrics=("geometry.boundary_magnification",),
        ),
        Stage(
            "deep_toy",
            deep_toy,
            title="Deep toy network, layer by layer",
            metrics=("geometry.boundary_magnification",),
        ),
        Stage(
            "infinite_width",
            infinite_width,
            title="Infinite width",
            metrics=("geometry.infinite_width.max_rel_error",),
        ),
    ],
    config=CONFIG,
    quick=QUICK,
    headline=("geometry.boundary_magnification",),
)
