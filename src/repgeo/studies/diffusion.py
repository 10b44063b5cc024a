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
``diffusion.dse``                ``{model: {epoch: DSE in bits}}`` (and ``dse_stderr``)
``diffusion.dsmi``               ``{model: {epoch: DSMI(Z; Y) in bits}}`` (and ``dsmi_stderr``)
``diffusion.sigma``              ``{model: {epoch: bandwidth used}}``

The computations live in :mod:`repgeo.diffusion` (:func:`~repgeo.diffusion.geodesic_method_distances`)
and :mod:`repgeo.panels.diffusion` (:func:`measure_dse`, :func:`report_dse`, which also make the
default study's panel); the figures in :mod:`repgeo.plots.diffusion`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import branching_tree, load_digits, swiss_roll
from ..diffusion import PHATE, HeatGeodesic, evaluate_distances, geodesic_method_distances
from ..latent import pca_project
from ..models import MLP, TrainConfig, train
from ..panels._common import checkpoints
from ..panels.diffusion import DEFAULTS, measure_dse, report_dse
from ..plots import plot_embeddings_2d, plot_geodesic_scores
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY"]

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
    "dse": dict(DEFAULTS),
}

QUICK: dict[str, Any] = {
    "geodesic": {"n": 500, "n_rows": 80},
    "training": {"epochs": 8, "checkpoints": [0, 1, 2, 4, 8]},
    "dse": {"n_repetitions": 3},
}


def geodesics(ctx: RunContext) -> None:
    cfg = ctx.config["geodesic"]
    n, k_p = int(cfg["n"]), int(cfg["p_at_k"])
    samples = {
        "swiss_roll": swiss_roll(n, noise=cfg["roll_noise"], random_state=ctx.seed_for("roll")),
        "tree": branching_tree(n, random_state=ctx.seed_for("tree"), **cfg["tree"]),
    }
    scores: dict[str, dict[str, dict[str, float]]] = {}
    embeds: dict[str, dict[str, np.ndarray]] = {}
    for name, sample in ctx.progress(list(samples.items()), "geodesic benchmarks"):
        rows = np.sort(ctx.rng(f"rows-{name}").choice(n, min(int(cfg["n_rows"]), n), replace=False))
        k = int(cfg["k"][name])
        dists, info = geodesic_method_distances(
            sample.X,
            rows=rows,
            k=k,
            dm_components=cfg["dm_components"],
            random_state=ctx.seed_for(f"methods-{name}"),
        )
        truth = sample.geodesic_distances(rows)
        scores[name] = {m: evaluate_distances(D, truth, rows=rows, k=k_p) for m, D in dists.items()}
        ctx.metric("diffusion.heat_t", {name: info["t"]})
        ctx.text(
            f"{name}: n={n}, k={k}; heat geodesics at automatic t={info['t']:.3g} "
            f"(Chebyshev order {info['order']}, saturated fraction {info['saturated']:.3g}); PHATE "
            f"t={info['t_phate']}; graph components: {info['components']}."
            + (" Warnings: " + "; ".join(info["warnings"]) if info["warnings"] else "")
        )
        if cfg.get("embed", True):
            X = sample.X
            embeds[name] = {
                "data": X[:, [0, 2]] if name == "swiss_roll" else pca_project(X, X, 2),
                "heat geodesic (MDS)": HeatGeodesic(
                    k=k, t=info["t"], random_state=ctx.seed_for(f"hg-{name}")
                ).fit_transform(X),
                "PHATE potential (MDS)": PHATE(
                    k=k, random_state=ctx.seed_for(f"phate-{name}")
                ).fit_transform(X),
            }
    ctx.metric(
        "diffusion.geodesic_spearman",
        {d: {m: s["spearman"] for m, s in v.items()} for d, v in scores.items()},
    )
    ctx.metric("diffusion.geodesic_scores", scores)
    ctx.metric("diffusion.geodesic_k", k_p)
    ctx.table(
        "Geodesic preservation (distances from random source points vs ground truth)",
        [
            {"dataset": d, "method": m, **{a: round(b, 4) for a, b in ev.items()}}
            for d, by_method in scores.items()
            for m, ev in by_method.items()
        ],
        caption=f"Mean per-row Spearman / Pearson correlation, precision at {k_p}, trustworthiness at {k_p}.",
    )
    ctx.figure(
        plot_geodesic_scores(scores),
        "diffusion_geodesic_spearman",
        caption="Rank agreement of each distance with the true geodesic distance.",
    )
    if embeds:
        ctx.figure(
            plot_embeddings_2d(embeds, {name: samples[name].color for name in embeds}),
            "diffusion_embeddings",
            caption="Colour = position along the manifold (arc length / distance from the root). "
            "A geodesic-preserving embedding unrolls the roll into a strip.",
        )


def training(ctx: RunContext) -> None:
    cfg, dcfg = ctx.config["training"], ctx.config["dse"]
    ds = load_digits()
    train_ds, test_ds = ds.train_test_split(
        test_fraction=0.25, random_state=ctx.seed_for("digits-split")
    )
    widths = [ds.n_features, *cfg["hidden"], 10]
    hist = train(
        MLP(widths, activation=cfg["activation"], seed=ctx.seed_for("digits-init")),
        train_ds.X,
        train_ds.y,
        X_val=test_ds.X,
        y_val=test_ds.y,
        config=TrainConfig(
            epochs=int(cfg["epochs"]), lr=float(cfg["lr"]), checkpoints=list(cfg["checkpoints"])
        ),
        random_state=ctx.seed_for("digits-train"),
        device=ctx.device,
        checkpoint_dir=ctx.checkpoint_dir("digits_dse"),
        description="training digits MLP",
    )
    res = measure_dse(
        checkpoints(ctx, "digits_dse"),
        test_ds,
        t=float(dcfg["t"]),
        bandwidth=dcfg["bandwidth"],
        n_repetitions=int(dcfg["n_repetitions"]),
        random_state=ctx.seed_for("dse"),
        device=ctx.device,
    )
    report_dse(
        ctx,
        {"digits": res},
        name="diffusion_dse_training",
        title="DSE and DSMI of the held-out digits embedding over training",
        caption="DSE and DSMI of the embedding of held-out digits over training (bandwidth "
        "re-chosen from the data at each checkpoint).",
        table_caption=f"Last hidden layer of an MLP {widths}; Gaussian bandwidth σ = "
        f"{dcfg['bandwidth']} heuristic, t = {dcfg['t']}.",
        accuracy={"digits": dict(zip(hist["epoch"], hist["val_acc"]))},
    )
    ctx.text(
        "DSE is the entropy of the diffusion spectrum: high when the points look like many "
        "independent bumps at the kernel scale, low when a few diffusion modes carry the mass. "
        "DSMI measures how much knowing the label lowers it (size-matched, so it is not an artefact "
        "of smaller class subsets). The bandwidth is the median pairwise distance, so both are "
        "invariant to the overall scale of the embedding."
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
            metrics=(
                "diffusion.dse",
                "diffusion.dse_stderr",
                "diffusion.dsmi",
                "diffusion.dsmi_stderr",
                "diffusion.sigma",
            ),
        ),
    ],
    config=CONFIG,
    quick=QUICK,
)
