"""The ``riemann`` study: how training shapes the Riemannian geometry of representations.

Reproduces the toy experiments of Zavatone-Veth, Yang, Rubinfien & Pehlevan (arXiv:2301.11375)
with :mod:`repgeo.geometry`:

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
    The deep toy network layer by layer (act1, act2, act3), at initialisation and trained.
infinite_width
    The kernel-regime metric (erf, ReLU, GELU) against random networks of growing width:
    volume element vs |x| with Monte Carlo overlays, relative error vs width, and the
    infinite-width curvature.

The module also provides :func:`default_panel`, the geometry stage of the default study (the
digits plane through a 7, a 6 and a 1).

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
from ..features import FeatureMap
from ..geometry import (
    decision_geometry,
    finite_width_comparison,
    geometry_over_training,
    grid_2d,
    infinite_width_curvature,
    plane_slice,
    spectra_over_training,
)
from ..models import MLP, TrainConfig, hidden_layers, list_checkpoints, load_model, train
from ..plots import new_figure
from ..plots.geometry import (
    overlay_boundary,
    plot_decision_panels,
    plot_spectra,
    plot_volume_curvature,
)
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY", "default_panel"]

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


def _load_checkpoints(ctx: RunContext, name: str) -> list[tuple[int, torch.nn.Module]]:
    found = list_checkpoints(ctx.checkpoint_dir(name))
    if not found:
        raise FileNotFoundError(
            f"no checkpoints for {name!r}; the train_toys stage must run first."
        )
    out = []
    for epoch, path in found:
        model = load_model(path, device=ctx.device)
        model.eval()
        out.append((epoch, model))
    return out


def _magnification_figure(per_model: dict[str, dict[int, float]]):
    fig, ax = new_figure(1, 1, size=(5.0, 3.2))
    for name, vals in per_model.items():
        ep = sorted(vals)
        ax.plot([max(e, 1) for e in ep], [vals[e] for e in ep], "o-", label=name)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set(
        xscale="log",
        xlabel="epoch (0 plotted at 1)",
        ylabel="Δ mean log10 volume",
        title="boundary magnification",
    )
    ax.legend(fontsize=7)
    return fig


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
        cks = _load_checkpoints(ctx, name)
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
        _magnification_figure(per_model),
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
    cks = _load_checkpoints(ctx, "deep-toy")
    layers = [n for n, _ in cks[0][1].named_children() if n.startswith("act")]
    first, last = cks[0][0], cks[-1][0]
    fig, axes = new_figure(2, len(layers), size=(3.8 * len(layers), 6.4), squeeze=False)
    rows, mags = [], {}
    for j, layer in enumerate(layers):
        res = geometry_over_training(cks, U, layer=layer)
        if layer == layers[-1]:
            mags = {e: r["magnification"] for e, r in res.items()}
        lv = np.concatenate([res[first]["log_volume"], res[last]["log_volume"]])
        lo, hi = np.percentile(lv, [1, 99])
        for i, epoch in enumerate((first, last)):
            ax = axes[i, j]
            im = ax.imshow(
                res[epoch]["log_volume"].reshape(A.shape),
                extent=(-ext, ext, -ext, ext),
                origin="lower",
                cmap="viridis",
                vmin=lo,
                vmax=hi,
            )
            overlay_boundary(
                ax,
                res[epoch]["logits"].reshape(*A.shape, -1),
                (-ext, ext, -ext, ext),
                color="white",
            )
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
            ax.set(
                title=f"{layer}: {'initialisation' if epoch == 0 else f'epoch {epoch}'} ({res[epoch]['magnification']:+.2f})"
            )
        rows.append(
            {
                "layer": layer,
                "magnification at init": round(res[first]["magnification"], 3),
                f"magnification at epoch {last}": round(res[last]["magnification"], 3),
            }
        )
    ctx.figure(
        fig,
        "deep_toy_layers",
        caption=f"Deep toy network {cfg['widths']} (sigmoid): log10 volume element of the metric pulled back "
        "from each hidden layer (g = JᵀJ/n, n = 8), at initialisation (top) and after training (bottom); "
        "white: decision boundary; titles give the boundary magnification.",
    )
    ctx.table("Deep toy network, layer by layer", rows)
    ctx.metric("geometry.boundary_magnification", {"deep-toy": mags})


def infinite_width(ctx: RunContext) -> None:
    """Kernel-regime metric vs finite random networks."""
    cfg = ctx.config["infinite_width"]
    d = int(cfg["d"])
    r = np.linspace(0.0, float(cfg["r_max"]), int(cfg["n_radii"]))
    X = np.zeros((len(r), d))
    X[:, 0] = r
    acts = list(cfg["activations"])
    fig, axes = new_figure(2, len(acts), size=(3.8 * len(acts), 6.4), squeeze=False)
    metric: dict[str, dict[str, float]] = {}
    rows = []
    for j, act in enumerate(acts):
        res = finite_width_comparison(
            X,
            act,
            cfg["widths"],
            n_seeds=int(cfg["n_seeds"]),
            sigma_w=float(cfg["sigma_w"]),
            sigma_b=float(cfg["sigma_b"]),
            random_state=ctx.seed_for(f"infinite-width-{act}"),
        )
        ax = axes[0, j]
        cmap = __import__("matplotlib").colormaps["plasma"]
        for i, w in enumerate(res["widths"]):
            vol = 10.0 ** res["log_volume"][i]
            mu, sd = vol.mean(0), vol.std(0)
            c = cmap(i / max(len(res["widths"]), 2))
            ax.plot(r, mu, color=c, lw=1, label=f"n = {w} (MC mean ± sd)")
            ax.fill_between(r, mu - sd, mu + sd, color=c, alpha=0.15)
        ax.plot(r, 10.0 ** res["log_volume_inf"], "k--", lw=1.5, label="infinite width")
        ax.set(title=f"{act}: volume element √det g", xlabel="|x|", ylabel="√det g")
        ax.legend(fontsize=6)
        ax = axes[1, j]
        ax.loglog(res["widths"], res["max_rel_error"], "o-", label="max over |x| (mean over nets)")
        ax.loglog(res["widths"], res["mean_rel_error"], "s-", label="mean")
        ref = res["max_rel_error"][0] * (np.asarray(res["widths"]) / res["widths"][0]) ** -0.5
        ax.loglog(res["widths"], ref, "k:", label="∝ n^(−1/2)")
        ax.set(title=f"{act}: ‖g_n − g_∞‖_F / ‖g_∞‖_F", xlabel="width n", ylabel="relative error")
        ax.legend(fontsize=6)
        metric[act] = {str(w): float(e) for w, e in zip(res["widths"], res["max_rel_error"])}
        for w, e in zip(res["widths"], res["max_rel_error"]):
            rows.append({"activation": act, "width": w, "max relative error": round(float(e), 4)})
    ctx.figure(
        fig,
        "infinite_width",
        caption=f"Top: volume element √det g (g = JᵀJ/n) along a ray |x| in ℝ^{d} for single-layer random "
        f"networks (w ~ N(0, {cfg['sigma_w']}²), b ~ N(0, {cfg['sigma_b']}²)): closed form / Gauss–Hermite "
        "quadrature at infinite width (dashed) and Monte Carlo over random networks of growing width. "
        "erf: σ(z) = erf(z/√2). Bottom: relative Frobenius error of the metric vs width.",
    )
    # curvature at infinite width (2-D inputs)
    if d == 2:
        fig, ax = new_figure(1, 1, size=(5.0, 3.2))
        for act in acts:
            K = infinite_width_curvature(
                X, act, sigma_w=float(cfg["sigma_w"]), sigma_b=float(cfg["sigma_b"])
            )
            ax.plot(r, 2.0 * K, label=act)
        ax.axhline(0.0, color="0.6", lw=0.8)
        ax.set(
            xlabel="|x|", ylabel="R = 2K", title="scalar curvature at infinite width (2-D inputs)"
        )
        ax.legend()
        ctx.figure(
            fig,
            "infinite_width_curvature",
            caption="Scalar curvature R = 2K of the infinite-width metric for 2-D inputs (Brioschi formula, float64): ReLU is flat.",
        )
    ctx.table("Infinite-width comparison", rows)
    ctx.metric("geometry.infinite_width.max_rel_error", metric)


# ------------------------------------------------------------------------------ default panel
DEFAULT_PANEL = {"resolution": 60, "k": 10, "anchors": [7, 6, 1], "spectrum_k": 64}


def _pick_anchors(ds: Any, digits: list[int]) -> tuple[np.ndarray, list[str]]:
    X, y, ids = ds.X, ds.y, ds.ids
    idx = []
    for c in digits:
        where = np.flatnonzero(y == c)
        if where.size == 0:
            raise ValueError(f"no test sample of class {c} for the digits plane.")
        idx.append(int(where[0]))
    return X[idx], [f"{c} ({ids[i]})" for c, i in zip(digits, idx)]


def default_panel(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Geometry panel of the default study: the digits plane through a 7, a 6 and a 1.

    Effective volume (top-k singular values of J/√n of the embedding layer) on a 60×60 grid of
    the plane in the paper's convention, with predicted class, softmax entropy and the decision
    boundary, at initialisation and after training; spectra at the three anchors at every
    checkpoint; the boundary-magnification statistic at every checkpoint
    (``geometry.boundary_magnification`` -> ``digits`` -> epoch).
    """
    from ..panels import _common

    cfg = {**DEFAULT_PANEL, **opts}
    cks = _common.checkpoints(ctx, "digits")
    test = _common.datasets(ctx, "digits")["test"]
    anchors_x, labels = _pick_anchors(test, [int(c) for c in cfg["anchors"]])
    plane = plane_slice(*anchors_x, resolution=int(cfg["resolution"]))
    layer = hidden_layers(cks[0][1])[-1]
    n = FeatureMap(cks[0][1], layer).n_features(plane.points.shape[1])
    k = min(int(cfg["k"]), n, plane.points.shape[1])
    res = geometry_over_training(cks, plane.points, layer=layer, quantity="effective", k=k)
    mags = {e: r["magnification"] for e, r in res.items()}
    first, last = cks[0][0], cks[-1][0]
    ctx.figure(
        plot_decision_panels(
            {first: res[first], last: res[last]},
            shape=plane.A.shape,
            extent=plane.extent,
            anchors=plane.anchors,
            anchor_labels=[s.split(" ")[0] for s in labels],
            n_classes=10,
            volume_label=f"log10 effective volume (top {k})",
            triangle=True,
        ),
        "digits_plane_geometry",
        caption=f"Digits plane through test images {', '.join(labels)} (paper's convention: x(a, b) = O + a·right "
        f"+ b·up, anchors at the triangle's corners, grid {plane.resolution}×{plane.resolution} on [−1, 1]²). "
        f"Columns: predicted class, softmax entropy (base 10), log10 effective volume of layer {layer} "
        f"(sum of the top {k} log10 singular values of J/√n) with the decision boundary in white (dashed: the anchor triangle); "
        "rows: initialisation and trained.",
    )
    spectra = spectra_over_training(
        cks, anchors_x, layer=layer, k=min(int(cfg["spectrum_k"]), n, plane.points.shape[1])
    )
    ctx.figure(
        plot_spectra(spectra, anchor_labels=[s.split(" ")[0] for s in labels]),
        "digits_anchor_spectra",
        caption=f"Singular values of J/√n (layer {layer}) at the three anchor images, at every checkpoint.",
    )
    ctx.table(
        "Digits plane: boundary magnification",
        [
            {
                "epoch": e,
                "magnification": round(v, 3),
                "mean log10 effective volume": round(float(res[e]["log_volume"].mean()), 3),
            }
            for e, v in sorted(mags.items())
        ],
        caption="Mean log10 effective volume on the 10 % of plane points with the smallest logit margin minus that on the 50 % with the largest.",
    )
    ctx.metric("geometry.boundary_magnification", {"digits": mags})


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
)
