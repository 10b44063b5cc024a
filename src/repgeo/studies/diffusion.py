"""Study ``diffusion``: heat-geodesic distances against ground truth, and the diffusion spectral
entropy (DSE) and mutual information (DSMI) of network embeddings over training.

Stages
------
``geodesics``
    Swiss roll (arc-length ground truth) and a branching tree (tree-metric ground truth). One
    alpha-decay kNN graph per dataset, shared by every diffusion method. Distances from
    ``n_rows`` random source points are compared with the truth: per-row Spearman and Pearson,
    precision at k and trustworthiness, for heat geodesics (automatic ``t``), the PHATE
    potential, diffusion maps, graph shortest paths and Euclidean distances; 2-D embeddings
    (HeatGeodesic, PHATE) are drawn.
``training``
    An MLP on sklearn digits, checkpoints over training; DSE and DSMI(Z; Y) of the held-out
    embedding (last hidden layer) at each checkpoint, with the data-adaptive bandwidth.

Metrics
-------
``diffusion.geodesic_spearman``  ``{dataset: {method: mean per-row Spearman}}``
``diffusion.geodesic_scores``    ``{dataset: {method: {spearman, pearson, precision_at_k, trustworthiness}}}``
``diffusion.heat_t``             ``{dataset: t chosen automatically}``
``diffusion.dse``                ``{model: {epoch: DSE in bits}}``
``diffusion.dsmi``               ``{model: {epoch: DSMI(Z; Y) in bits}}``
``diffusion.sigma``              ``{model: {epoch: bandwidth used}}``

:func:`default_panel` is the default study's stage: DSE and DSMI(Z; Y) of the "manifold" and
"digits" embeddings per checkpoint (same metric keys).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from ..data import Dataset, branching_tree, load_digits, swiss_roll
from ..diffusion import (
    PHATE,
    HeatGeodesic,
    build_graph,
    diffusion_map,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    euclidean_distances,
    evaluate_distances,
    heat_geodesic_distances,
    phate_potential_distances,
    select_t,
    shortest_path_distances,
)
from ..diffusion.graph import DisconnectedGraphWarning
from ..features import extract
from ..latent import pca_project
from ..models import MLP, TrainConfig, hidden_layers, list_checkpoints, load_model, train
from ..panels._common import checkpoints, datasets
from ..plots import new_figure
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY", "default_panel", "measure_dse"]

METHODS = ("heat_geodesic", "phate", "diffusion_maps", "shortest_path", "euclidean")

CONFIG: dict[str, Any] = {
    "geodesic": {
        "n": 2000,
        "n_rows": 300,
        "k": {"swiss_roll": 5, "tree": 10},
        "p_at_k": 10,
        "roll_noise": 0.0,
        "tree": {"n_branches": 7, "dim": 10, "noise": 0.01},
        "dm_components": 10,
        "embed": True,
    },
    "training": {
        "hidden": [64, 32],
        "activation": "relu",
        "epochs": 40,
        "lr": 1e-3,
        "checkpoints": [0, 1, 2, 5, 10, 20, 40],
    },
    "dse": {"t": 1.0, "bandwidth": "median", "n_repetitions": 5},
}

QUICK: dict[str, Any] = {
    "geodesic": {"n": 500, "n_rows": 80},
    "training": {"epochs": 8, "checkpoints": [0, 1, 2, 4, 8]},
    "dse": {"n_repetitions": 3},
}


# --------------------------------------------------------------------------- geodesics
def _methods(
    sample, k: int, cfg: dict[str, Any], rows: np.ndarray, seed: int
) -> tuple[dict[str, np.ndarray], dict]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DisconnectedGraphWarning)
        g = build_graph(sample.X, k=k)
    t, _, _ = select_t(g, random_state=seed)
    D_heat, info = heat_geodesic_distances(g, t, rows=rows, return_info=True)
    D_phate, t_phate = phate_potential_distances(g, rows=rows, random_state=seed, return_t=True)
    psi = diffusion_map(g, cfg["dm_components"], random_state=seed)
    D_sp = shortest_path_distances(g, sample.X, rows=rows)
    if not np.all(np.isfinite(D_sp)):  # disconnected: beyond every finite path
        D_sp = np.where(
            np.isfinite(D_sp), D_sp, 2.0 * np.nanmax(np.where(np.isfinite(D_sp), D_sp, np.nan))
        )
    dists = {
        "heat_geodesic": D_heat,
        "phate": D_phate,
        "diffusion_maps": euclidean_distances(psi, rows=rows),
        "shortest_path": D_sp,
        "euclidean": euclidean_distances(sample.X, rows=rows),
    }
    meta = {
        "t": t,
        "t_phate": t_phate,
        "order": info.get("order"),
        "saturated": info["saturated_fraction"],
        "components": g.n_components,
        "warnings": [str(w.message) for w in caught],
    }
    return dists, meta


def geodesics(ctx: RunContext) -> None:
    cfg = ctx.config["geodesic"]
    n, k_p = int(cfg["n"]), int(cfg["p_at_k"])
    samples = {
        "swiss_roll": swiss_roll(n, noise=cfg["roll_noise"], random_state=ctx.seed_for("roll")),
        "tree": branching_tree(n, random_state=ctx.seed_for("tree"), **cfg["tree"]),
    }
    scores: dict[str, dict[str, dict[str, float]]] = {}
    table = []
    embeds = {}
    for name, sample in ctx.progress(list(samples.items()), "geodesic benchmarks"):
        rows = np.sort(ctx.rng(f"rows-{name}").choice(n, min(int(cfg["n_rows"]), n), replace=False))
        truth = sample.geodesic_distances(rows)
        k = int(cfg["k"][name])
        dists, meta = _methods(sample, k, cfg, rows, ctx.seed_for(f"methods-{name}"))
        scores[name] = {}
        for method in METHODS:
            ev = evaluate_distances(dists[method], truth, rows=rows, k=k_p)
            scores[name][method] = ev
            table.append(
                {"dataset": name, "method": method, **{a: round(b, 4) for a, b in ev.items()}}
            )
        ctx.metric("diffusion.heat_t", {name: meta["t"]})
        ctx.text(
            f"{name}: n={n}, k={k}; heat geodesics at automatic t={meta['t']:.3g} "
            f"(Chebyshev order {meta['order']}, saturated fraction {meta['saturated']:.3g}); PHATE "
            f"t={meta['t_phate']}; graph components: {meta['components']}."
            + (" Warnings: " + "; ".join(meta["warnings"]) if meta["warnings"] else "")
        )
        if cfg.get("embed", True):
            embeds[name] = (
                sample,
                HeatGeodesic(
                    k=k, t=meta["t"], random_state=ctx.seed_for(f"hg-{name}")
                ).fit_transform(sample.X),
                PHATE(k=k, random_state=ctx.seed_for(f"phate-{name}")).fit_transform(sample.X),
            )
    ctx.metric(
        "diffusion.geodesic_spearman",
        {d: {m: s["spearman"] for m, s in v.items()} for d, v in scores.items()},
    )
    ctx.metric("diffusion.geodesic_scores", scores)
    ctx.metric("diffusion.geodesic_k", k_p)
    ctx.table(
        "Geodesic preservation (distances from random source points vs ground truth)",
        table,
        caption=f"Mean per-row Spearman / Pearson correlation, precision at {k_p}, trustworthiness at {k_p}.",
    )
    _plot_scores(ctx, scores)
    if embeds:
        _plot_embeddings(ctx, embeds)


def _plot_scores(ctx: RunContext, scores: dict[str, dict[str, dict[str, float]]]) -> None:
    fig, axes = new_figure(1, len(scores), size=(4.2 * len(scores), 3.2), squeeze=False)
    for ax, (name, by_method) in zip(axes[0], scores.items()):
        vals = [by_method[m]["spearman"] for m in METHODS]
        ax.barh(range(len(METHODS)), vals, color=["C0", "C1", "C2", "C3", "C7"])
        ax.set_yticks(range(len(METHODS)), [m.replace("_", " ") for m in METHODS])
        ax.set_xlim(min(0.0, min(vals)), 1.0)
        ax.set_xlabel("mean per-row Spearman vs true geodesic")
        ax.set_title(name.replace("_", " "))
        ax.invert_yaxis()
    ctx.figure(
        fig,
        "diffusion_geodesic_spearman",
        caption="Rank agreement of each distance with the true geodesic distance.",
    )


def _plot_embeddings(ctx: RunContext, embeds: dict[str, tuple]) -> None:
    fig, axes = new_figure(len(embeds), 3, size=(10.5, 3.3 * len(embeds)), squeeze=False)
    for row, (name, (sample, Yh, Yp)) in enumerate(embeds.items()):
        X = sample.X
        view = X[:, [0, 2]] if name == "swiss_roll" else pca_project(X, X, 2)
        for ax, Y, title in zip(
            axes[row], (view, Yh, Yp), ("data", "heat geodesic (MDS)", "PHATE potential (MDS)")
        ):
            ax.scatter(Y[:, 0], Y[:, 1], c=sample.color, s=3, cmap="viridis", linewidths=0)
            ax.set_title(f"{name.replace('_', ' ')}: {title}")
            ax.set_xticks([])
            ax.set_yticks([])
    ctx.figure(
        fig,
        "diffusion_embeddings",
        caption="Colour = position along the manifold (arc length / distance from the root). "
        "A geodesic-preserving embedding unrolls the roll into a strip.",
    )


# --------------------------------------------------------------------------- DSE over training
def measure_dse(
    ckpts: Sequence[tuple[int, nn.Module]],
    data: Dataset,
    *,
    layer: str | None = None,
    t: float = 1.0,
    bandwidth: Any = "median",
    n_repetitions: int = 5,
    random_state: int = 0,
    device: Any = "cpu",
) -> dict[str, dict[str, float]]:
    """DSE, DSMI(Z; Y) and the bandwidth of ``data``'s embedding at each checkpoint.

    ``layer`` defaults to the last hidden layer (the embedding). Returns
    ``{"dse": {epoch: v}, "dse_stderr": {epoch: se}, "dsmi": {epoch: v}, "sigma": {epoch: σ}}`` with string epochs.
    """
    out: dict[str, dict[str, float]] = {"dse": {}, "dse_stderr": {}, "dsmi": {}, "sigma": {}}
    for epoch, model in ckpts:
        name = layer or hidden_layers(model)[-1]
        Z = extract(model, data.X, layer=name, device=device, show_progress=False).astype(
            np.float64
        )
        dse = diffusion_spectral_entropy(Z, t=t, bandwidth=bandwidth, random_state=random_state)
        out["dse"][str(epoch)] = dse.entropy
        out["dse_stderr"][str(epoch)] = dse.stderr
        out["sigma"][str(epoch)] = dse.sigma
        if data.y is not None:
            mi = diffusion_spectral_mutual_information(
                Z,
                data.y,
                t=t,
                bandwidth=bandwidth,
                n_repetitions=n_repetitions,
                random_state=random_state,
            )
            out["dsmi"][str(epoch)] = mi.mi
    return out


def _plot_dse(
    ctx: RunContext, results: dict[str, dict[str, dict[str, float]]], name: str, caption: str
) -> None:
    fig, axes = new_figure(1, 2, size=(8.0, 3.0), squeeze=False)
    for model, res in results.items():
        ep = [int(e) for e in res["dse"]]
        axes[0, 0].plot(ep, list(res["dse"].values()), "o-", label=model)
        if res["dsmi"]:
            axes[0, 1].plot(ep, list(res["dsmi"].values()), "o-", label=model)
    for ax, lab in zip(axes[0], ("DSE (bits)", "DSMI(Z; Y) (bits)")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(lab)
        ax.set_xscale("symlog", linthresh=1)
        ax.legend(frameon=False, fontsize=8)
    ctx.figure(fig, name, caption=caption)


def training(ctx: RunContext) -> None:
    cfg, dcfg = ctx.config["training"], ctx.config["dse"]
    ds = load_digits()
    train_ds, test_ds = ds.train_test_split(
        test_fraction=0.25, random_state=ctx.seed_for("digits-split")
    )
    widths = [ds.n_features, *cfg["hidden"], 10]
    model = MLP(widths, activation=cfg["activation"], seed=ctx.seed_for("digits-init"))
    folder = ctx.checkpoint_dir("digits_dse")
    hist = train(
        model,
        train_ds.X,
        train_ds.y,
        X_val=test_ds.X,
        y_val=test_ds.y,
        config=TrainConfig(
            epochs=int(cfg["epochs"]), lr=float(cfg["lr"]), checkpoints=list(cfg["checkpoints"])
        ),
        random_state=ctx.seed_for("digits-train"),
        device=ctx.device,
        checkpoint_dir=folder,
        description="training digits MLP",
    )
    ckpts = [(e, load_model(p, device=ctx.device).eval()) for e, p in list_checkpoints(folder)]
    res = measure_dse(
        ckpts,
        test_ds,
        t=float(dcfg["t"]),
        bandwidth=dcfg["bandwidth"],
        n_repetitions=int(dcfg["n_repetitions"]),
        random_state=ctx.seed_for("dse"),
        device=ctx.device,
    )
    ctx.metric("diffusion.dse", {"digits": res["dse"]})
    ctx.metric("diffusion.dse_stderr", {"digits": res["dse_stderr"]})
    ctx.metric("diffusion.dsmi", {"digits": res["dsmi"]})
    ctx.metric("diffusion.sigma", {"digits": res["sigma"]})
    acc = dict(zip(hist["epoch"], hist["val_acc"]))
    ctx.table(
        "DSE and DSMI of the held-out digits embedding over training",
        [
            {
                "epoch": int(e),
                "test accuracy": round(float(acc.get(int(e), float("nan"))), 4),
                "DSE (bits)": round(v, 4),
                "DSMI(Z;Y) (bits)": round(res["dsmi"][e], 4),
                "σ": round(res["sigma"][e], 4),
            }
            for e, v in res["dse"].items()
        ],
        caption=f"Last hidden layer of an MLP {widths}; Gaussian bandwidth σ = {dcfg['bandwidth']} heuristic, t = {dcfg['t']}.",
    )
    _plot_dse(
        ctx,
        {"digits": res},
        "diffusion_dse_training",
        "DSE and DSMI of the embedding of held-out digits over training (bandwidth re-chosen from the data at each checkpoint).",
    )
    ctx.text(
        "DSE is the entropy of the diffusion spectrum: high when the points look like many "
        "independent bumps at the kernel scale, low when a few diffusion modes carry the mass. "
        "DSMI measures how much knowing the label lowers it (size-matched, so it is not an artefact "
        "of smaller class subsets). The bandwidth is the median pairwise distance, so both are "
        "invariant to the overall scale of the embedding."
    )


def default_panel(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Default-study stage: DSE and DSMI(Z; Y) of the "manifold" and "digits" embeddings
    (held-out samples, last hidden layer) at each checkpoint.

    Writes ``diffusion.dse``, ``diffusion.dsmi`` and ``diffusion.sigma`` as
    ``{model: {epoch: value}}`` and one figure. Options come from an optional ``dse`` config
    section (``t`` = 1, ``bandwidth`` = "median", ``n_repetitions`` = 5).
    """
    results = {}
    for name in ctx.progress(["manifold", "digits"], "DSE over checkpoints"):
        data = datasets(ctx, name)["test"]
        results[name] = measure_dse(
            checkpoints(ctx, name),
            data,
            t=float(opts["t"]),
            bandwidth=opts["bandwidth"],
            n_repetitions=int(opts["n_repetitions"]),
            random_state=ctx.seed_for(f"dse-{name}"),
            device=ctx.device,
        )
    for key in ("dse", "dse_stderr", "dsmi", "sigma"):
        ctx.metric(f"diffusion.{key}", {name: res[key] for name, res in results.items()})
    ctx.table(
        "Diffusion spectral entropy over training",
        [
            {
                "model": name,
                "epoch": int(e),
                "DSE (bits)": round(v, 4),
                "DSMI(Z;Y) (bits)": round(res["dsmi"][e], 4),
            }
            for name, res in results.items()
            for e, v in res["dse"].items()
        ],
        caption="Held-out samples, last hidden layer, bandwidth = median pairwise distance at each checkpoint.",
    )
    _plot_dse(
        ctx,
        results,
        "diffusion_dse_panel",
        "Diffusion spectral entropy and mutual information with the labels of the held-out embeddings over training.",
    )


STUDY = Study(
    name="diffusion",
    summary="Heat-geodesic distances vs ground truth (Swiss roll, tree) and diffusion spectral entropy / MI over training.",
    stages=[
        Stage(
            "geodesics",
            geodesics,
            title="Geodesic preservation: heat geodesics vs PHATE, diffusion maps, shortest paths",
            metrics=(
                "diffusion.heat_t",
                "diffusion.geodesic_spearman",
                "diffusion.geodesic_scores",
                "diffusion.geodesic_k",
            ),
        ),
        Stage(
            "training",
            training,
            title="Diffusion spectral entropy and mutual information over training",
            metrics=("diffusion.dse", "diffusion.dse_stderr", "diffusion.dsmi", "diffusion.sigma"),
        ),
    ],
    config=CONFIG,
    quick=QUICK,
)
