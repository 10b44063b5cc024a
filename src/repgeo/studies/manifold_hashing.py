"""Study ``manifold-hashing``: do trained networks hash class manifolds and transfer one-shot?

Following Dikkala, Kaplun & Panigrahy (2021), inputs are x = G(γ, θ). MLPs are trained to
classify the seen classes of two generator families — random-network manifolds (family 1) and
warped canonical digits (family 3, unseen = held-out digit identities) — over a small sweep of
the number of training classes, the width and the depth. For the base model of each family,
every checkpoint and hidden layer is measured: same- vs different-manifold separation (AUROC,
within/between distance ratio), the invariance ratio ‖∂h/∂θ‖/‖∂h/∂γ‖ through the composed map
(normalised by the generator's), held-out ridge R² of γ and θ, the effective rank, SimHash
collision curves, and N-way one-shot / k-shot accuracy on unseen classes against the raw input,
the untrained network and PCA.

Stages: ``train`` → ``separation`` (separation, invariance, recoverability, effective rank over
training) → ``collisions`` → ``one_shot`` → ``coding_id`` (ΔR and TwoNN ID, the coding module's
panel) → ``summary``. :func:`default_panel` is the compact version wired into the default study.

Metrics (``metrics.json``)
--------------------------
``hashing.one_shot``
    ``{dataset: {"trained", "untrained", "raw", "pca": mean N-way 1-shot accuracy}}``.
``hashing.one_shot_ci``
    Same layout, ``[low, high]`` 95 % intervals over episodes.
``hashing.invariance_ratio``
    ``{dataset: {epoch: ratio}}`` on seen-class points, embedding (last hidden) layer.
``hashing.auroc``
    ``{dataset: {"seen": {epoch: auroc}, "unseen": {epoch: auroc}}}``, embedding layer.
``hashing.sweep``
    ``{dataset: {model: {"n_train_classes", "width", "depth", "trained", "untrained", "raw",
    "pca", "invariance_ratio"}}}``.
``hashing.recoverability``, ``hashing.effective_rank``, ``hashing.collision``
    Per dataset (and epoch, embedding layer).
``hashing.summary``
    The answer in sentences, with the numbers.
``coding.delta_r``, ``coding.delta_r_unseen``, ``id.twonn`` (...)
    Written by the coding/dimension panel for the base models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._io import read_json
from ..data import Dataset, DigitTransformManifolds, split_classes
from ..data.manifolds import ClassManifolds
from ..features import extract
from ..hashing import (
    collision_curve,
    effective_rank,
    generator_tangents,
    invariance,
    invariance_from_tangents,
    k_shot_curve,
    one_shot_accuracy,
    pair_similarities,
    ridge_r2,
    separation,
)
from ..latent import pca_project
from ..models import MLP, TrainConfig, hidden_layers, train
from ..panels._common import checkpoints, datasets, manifold_generator, save_datasets
from ..plots import new_figure
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY", "analyse_checkpoints", "default_panel", "one_shot_baselines"]

FAMILIES = ("randnet", "digitwarp")
LABELS = {
    "randnet": "random-network manifolds",
    "digitwarp": "warped digits",
    "manifold": "class manifolds",
}

CONFIG: dict[str, Any] = {
    "randnet": {
        "n_classes": 120,
        "n_unseen": 40,
        "k_gamma": 8,
        "k_theta": 4,
        "ambient_dim": 100,
        "depth": 2,
        "hidden": 128,
        "activation": "tanh",
        "theta_scale": 1.0,
        "noise": 0.05,
        "n_per_class": 50,
        "n_test_per_class": 15,
        "n_unseen_per_class": 20,
    },
    "digitwarp": {
        "n_classes": 60,
        "unseen_digits": [8, 9],
        "image_size": 16,
        "theta_scale": 1.0,
        "noise": 0.02,
        "n_per_class": 150,
        "n_test_per_class": 20,
        "n_unseen_per_class": 30,
    },
    "model": {"width": 256, "depth": 2, "activation": "relu"},
    "train": {"epochs": 40, "batch_size": 128, "optimizer": "adam", "lr": 1e-3, "checkpoints": 6},
    "sweep": {
        "randnet": {
            "n_train_classes": [5, 10, 20, 40, 80],
            "base_classes": 20,
            "width": [64, 256, 1024],
            "depth": [1, 2, 3],
        },
        "digitwarp": {
            "n_train_classes": [6, 12, 24, 48],
            "base_classes": 48,
            "width": [256],
            "depth": [2],
        },
    },
    "analysis": {
        "n_pairs": 20000,
        "n_invariance_points": 150,
        "n_way": 10,
        "n_episodes": 1000,
        "n_query": 5,
        "shots": [1, 2, 5, 10],
        "pca_components": 32,
        "simhash_bits": 8,
        "simhash_tables": 32,
    },
}

QUICK: dict[str, Any] = {
    "randnet": {
        "n_classes": 50,
        "n_unseen": 20,
        "n_per_class": 30,
        "n_test_per_class": 10,
        "n_unseen_per_class": 15,
    },
    "digitwarp": {
        "n_classes": 30,
        "n_per_class": 30,
        "n_test_per_class": 10,
        "n_unseen_per_class": 15,
    },
    "train": {"epochs": 12, "checkpoints": 3},
    "sweep": {
        "randnet": {
            "n_train_classes": [5, 15, 30],
            "base_classes": 15,
            "width": [256],
            "depth": [2],
        },
        "digitwarp": {"n_train_classes": [24], "base_classes": 24, "width": [256], "depth": [2]},
    },
    "analysis": {"n_pairs": 5000, "n_invariance_points": 60, "n_episodes": 300, "shots": [1, 5]},
}


# ----------------------------------------------------------------------------- data and models
def _generator(ctx: RunContext, family: str) -> ClassManifolds:
    cfg = ctx.config[family]
    seed = ctx.seed_for(f"{family}-generator")
    if family == "randnet":
        return manifold_generator(ctx, family)
    return DigitTransformManifolds(
        n_classes=cfg["n_classes"],
        image_size=cfg["image_size"],
        theta_scale=cfg["theta_scale"],
        noise=cfg["noise"],
        random_state=seed,
    )


def _split(ctx: RunContext, family: str, gen: ClassManifolds) -> tuple[np.ndarray, np.ndarray]:
    """Seen-class pool in a seeded order (prefixes are the nested training sets) and unseen classes."""
    cfg = ctx.config[family]
    if family == "digitwarp":
        seen, unseen = gen.split_by_digit(cfg["unseen_digits"])  # type: ignore[attr-defined]
    else:
        seen, unseen = split_classes(
            cfg["n_classes"],
            cfg["n_classes"] - cfg["n_unseen"],
            random_state=ctx.seed_for("randnet-split"),
        )
    return ctx.rng(f"{family}-class-order").permutation(seen), unseen


def _models(ctx: RunContext, family: str) -> list[dict[str, Any]]:
    """The sweep: base model, then one factor varied at a time (deduplicated)."""
    sw, base = ctx.config["sweep"][family], ctx.config["model"]
    b = (int(sw["base_classes"]), int(base["width"]), int(base["depth"]))
    combos = [b]
    combos += [(int(c), b[1], b[2]) for c in sw["n_train_classes"]]
    combos += [(b[0], int(w), b[2]) for w in sw["width"]]
    combos += [(b[0], b[1], int(d)) for d in sw["depth"]]
    out, seen = [], set()
    for c, w, d in combos:
        if (c, w, d) in seen:
            continue
        seen.add((c, w, d))
        out.append(
            {
                "name": f"{family}-c{c}-w{w}-d{d}",
                "n_train_classes": c,
                "width": w,
                "depth": d,
                "base": (c, w, d) == b,
            }
        )
    return out


def _sample(ctx: RunContext, family: str) -> dict[str, Dataset]:
    cfg = ctx.config[family]
    gen = _generator(ctx, family)
    order, unseen = _split(ctx, family, gen)
    n_max = max(
        ctx.config["sweep"][family]["n_train_classes"]
        + [ctx.config["sweep"][family]["base_classes"]]
    )
    if n_max > order.size:
        raise ValueError(
            f"{family}: the sweep asks for {n_max} training classes but only {order.size} classes are seen."
        )
    return {
        "train": gen.sample(
            cfg["n_per_class"], classes=np.sort(order), random_state=ctx.seed_for(f"{family}-train")
        ),
        "test": gen.sample(
            cfg["n_test_per_class"],
            classes=np.sort(order),
            random_state=ctx.seed_for(f"{family}-test"),
        ),
        "unseen": gen.sample(
            cfg["n_unseen_per_class"], classes=unseen, random_state=ctx.seed_for(f"{family}-unseen")
        ),
    }


def _restrict(splits: dict[str, Dataset], classes: np.ndarray) -> dict[str, Dataset]:
    return {
        "train": splits["train"].select_classes(classes),
        "test": splits["test"].select_classes(classes),
        "unseen": splits["unseen"],
    }


def _model_splits(ctx: RunContext, family: str, n_train_classes: int) -> dict[str, Dataset]:
    order = ctx.load_arrays(f"{family}_data")["class_order"]
    return _restrict(datasets(ctx, family), order[:n_train_classes])


def train_models(ctx: RunContext) -> None:
    """Sample the datasets and train every model of the sweep (checkpoints, resumable)."""
    tcfg = ctx.config["train"]
    rows = []
    for family in FAMILIES:
        splits = _sample(ctx, family)
        gen = _generator(ctx, family)
        order, unseen = _split(ctx, family, gen)
        save_datasets(ctx, family, splits, class_order=order, unseen_classes=unseen)
        for spec in _models(ctx, family):
            classes = order[: spec["n_train_classes"]]
            sub = _restrict(splits, classes)
            widths = [gen.ambient_dim, *[spec["width"]] * spec["depth"], len(classes)]
            model = MLP(
                widths,
                activation=ctx.config["model"]["activation"],
                seed=ctx.seed_for(f"init:{spec['name']}"),
            )
            cfg = dict(tcfg) if spec["base"] else {**tcfg, "checkpoints": [tcfg["epochs"]]}
            hist = train(
                model,
                sub["train"].X,
                sub["train"].y,
                X_val=sub["test"].X,
                y_val=sub["test"].y,
                label_map={int(c): i for i, c in enumerate(classes)},
                config=TrainConfig.from_dict(cfg),
                random_state=ctx.seed_for(f"train:{spec['name']}"),
                device=ctx.device,
                checkpoint_dir=ctx.checkpoint_dir(spec["name"]),
                description=f"training {spec['name']}",
            )
            rows.append(
                {
                    "model": spec["name"],
                    "classes": spec["n_train_classes"],
                    "widths": str(widths),
                    "train acc": round(hist["train_acc"][-1], 4),
                    "test acc (seen)": round(hist["val_acc"][-1], 4),
                }
            )
    c = ctx.config
    ctx.text(
        f"Family 1: random-network manifolds, {c['randnet']['n_classes']} classes (k_γ={c['randnet']['k_gamma']}, "
        f"k_θ={c['randnet']['k_theta']}, D={c['randnet']['ambient_dim']}), {c['randnet']['n_unseen']} held out. "
        f"Family 3: {c['digitwarp']['n_classes']} canonical sklearn digits warped by rotation, translation, scale and "
        f"brightness ({c['digitwarp']['image_size']}×{c['digitwarp']['image_size']} images), digits "
        f"{c['digitwarp']['unseen_digits']} held out as unseen identities. MLPs ({c['model']['activation']}) trained "
        f"with {c['train']['optimizer']} for {c['train']['epochs']} epochs on the first C classes of a seeded order of the seen classes."
    )
    ctx.table("Trained models", rows)


def _base(ctx: RunContext, family: str) -> dict[str, Any]:
    return next(m for m in _models(ctx, family) if m["base"])


# ----------------------------------------------------------------------------- analyses
def analyse_checkpoints(
    cks: list[tuple[int, Any]],
    splits: dict[str, Dataset],
    gen: ClassManifolds,
    *,
    device: Any,
    seed: int,
    n_pairs: int = 20000,
    n_invariance_points: int = 150,
    layers: list[str] | None = None,
    measures: tuple[str, ...] = ("separation", "invariance", "recoverability", "rank"),
) -> list[dict[str, Any]]:
    """Hashing measures of every checkpoint and hidden layer.

    Parameters
    ----------
    cks : list of (epoch, model)
    splits : dict
        ``"test"`` (held-out samples of the training classes) and ``"unseen"`` datasets with
        ``extra["gamma"]`` and ``extra["theta"]``.
    gen : ClassManifolds
        The generator of the data (for the Jacobians).
    device : torch.device
    seed : int
    n_pairs, n_invariance_points : int
    layers : list of str, optional
        Default: every hidden layer.
    measures : tuple of str
        Subset of ``("separation", "invariance", "recoverability", "rank")``.

    Returns
    -------
    list of dict
        One row per (epoch, layer) with ``auroc_seen``, ``auroc_unseen``, ``wb_seen``,
        ``wb_unseen``, ``inv_seen``, ``inv_unseen``, ``gain_theta``, ``gain_gamma``,
        ``r2_gamma`` (held-out samples), ``r2_gamma_new`` (held-out classes), ``r2_theta``,
        ``erank`` (those measured).
    """
    test, unseen = splits["test"], splits["unseen"]
    rng = np.random.default_rng(seed)
    idx_s = rng.choice(len(test), size=min(n_invariance_points, len(test)), replace=False)
    idx_u = rng.choice(len(unseen), size=min(n_invariance_points, len(unseen)), replace=False)
    if "invariance" in measures:  # the generator's tangents are shared by all checkpoints
        tan_s = generator_tangents(gen, test.extra["gamma"][idx_s], test.extra["theta"][idx_s])
        tan_u = generator_tangents(gen, unseen.extra["gamma"][idx_u], unseen.extra["theta"][idx_u])
    pooled_gamma = np.vstack([test.extra["gamma"], unseen.extra["gamma"]])
    pooled_y = np.concatenate([test.y, unseen.y])
    rows = []
    for epoch, model in cks:
        for layer in layers or hidden_layers(model):
            Zs = extract(model, test.X, layer=layer, device=device, show_progress=False)
            Zu = extract(model, unseen.X, layer=layer, device=device, show_progress=False)
            row: dict[str, Any] = {"epoch": int(epoch), "layer": layer}
            if "separation" in measures:
                ss = separation(Zs, test.y, n_pairs=n_pairs, random_state=seed)
                su = separation(Zu, unseen.y, n_pairs=n_pairs, random_state=seed)
                row.update(
                    auroc_seen=ss["auroc"],
                    auroc_unseen=su["auroc"],
                    wb_seen=ss["within_between_ratio"],
                    wb_unseen=su["within_between_ratio"],
                )
            if "invariance" in measures:
                inv_s = invariance_from_tangents(model, tan_s, layer=layer)
                inv_u = invariance_from_tangents(model, tan_u, layer=layer)
                row.update(
                    inv_seen=inv_s["ratio"],
                    inv_unseen=inv_u["ratio"],
                    gain_theta=inv_s["gain_theta"],
                    gain_gamma=inv_s["gain_gamma"],
                )
            if "recoverability" in measures:
                Zp = np.vstack([Zs, Zu])
                row["r2_gamma"] = ridge_r2(Zp, pooled_gamma, random_state=seed)
                row["r2_gamma_new"] = ridge_r2(Zp, pooled_gamma, groups=pooled_y, random_state=seed)
                row["r2_theta"] = ridge_r2(Zu, unseen.extra["theta"], random_state=seed)
            if "rank" in measures:
                row["erank"] = effective_rank(Zu)
            rows.append(row)
    return rows


def one_shot_baselines(
    trained: Any,
    untrained: Any,
    splits: dict[str, Dataset],
    *,
    layer: str,
    device: Any,
    n_way: int | None,
    n_episodes: int,
    n_query: int,
    pca_components: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """N-way 1-shot accuracy on the unseen classes: trained and untrained network, raw input, PCA.

    All four embeddings are scored on the same episodes (same seed). PCA is fitted on the
    training inputs (seen classes) and keeps ``pca_components`` components.
    """
    unseen = splits["unseen"]
    counts = np.unique(unseen.y, return_counts=True)[1]
    n_way = int(min(n_way or counts.size, counts.size))
    n_query = int(min(n_query, counts.min() - 1))
    embeds = {
        "trained": extract(trained, unseen.X, layer=layer, device=device, show_progress=False),
        "untrained": extract(untrained, unseen.X, layer=layer, device=device, show_progress=False),
        "raw": unseen.X,
        "pca": pca_project(
            splits["train"].X.astype(np.float64), unseen.X.astype(np.float64), pca_components
        ),
    }
    return {
        k: one_shot_accuracy(
            Z,
            unseen.y,
            n_way=n_way,
            k_shot=1,
            n_query=n_query,
            n_episodes=n_episodes,
            random_state=seed,
        )
        for k, Z in embeds.items()
    }


def _embedding_rows(rows: list[dict[str, Any]], layer: str) -> list[dict[str, Any]]:
    return [r for r in rows if r["layer"] == layer]


def _by_epoch(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {str(r["epoch"]): float(r[key]) for r in rows if key in r}


def _hist_figure(
    ctx: RunContext,
    panels: list[tuple[str, Any, Any, Dataset, Dataset]],
    name: str,
    n_pairs: int,
    seed: int,
) -> None:
    """Cosine-similarity histograms of same/different pairs at init vs trained."""
    fig, axes = new_figure(len(panels), 2, size=(8.0, 2.8 * len(panels)), squeeze=False)
    for r, (label, (e0, m0), (e1, m1), test, unseen) in enumerate(panels):
        layer = hidden_layers(m1)[-1]
        sims = {}
        for epoch, model in ((e0, m0), (e1, m1)):
            for ds, tag in ((test, "seen"), (unseen, "unseen")):
                Z = extract(model, ds.X, layer=layer, device=ctx.device, show_progress=False)
                sims[epoch, tag] = pair_similarities(Z, ds.y, n_pairs=n_pairs, random_state=seed)
        lo = min(float(np.min(p["cos_diff"])) for p in sims.values())
        bins = np.linspace(max(-1.0, np.floor(lo * 10) / 10), 1.0, 61)
        for c, (epoch, _) in enumerate(((e0, m0), (e1, m1))):
            ax = axes[r, c]
            for tag, color in (("seen", "C0"), ("unseen", "C3")):
                p = sims[epoch, tag]
                ax.hist(
                    p["cos_same"],
                    bins=bins,
                    density=True,
                    histtype="step",
                    color=color,
                    label=f"{tag}: same γ",
                )
                ax.hist(
                    p["cos_diff"],
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.25,
                    color=color,
                    label=f"{tag}: different γ",
                )
            ax.set(
                title=f"{label}, {layer}: {'initialisation' if epoch == 0 else f'epoch {epoch}'}",
                xlabel="cosine similarity",
                ylabel="density",
            )
            if r == 0 and c == 0:
                ax.legend(loc="upper left")
    ctx.figure(
        fig,
        name,
        caption="Cosine similarity of embedding pairs from the same manifold (lines) and from different manifolds "
        "(shaded), on held-out samples of the training classes (blue) and of unseen classes (red), at initialisation "
        "(left) and after training (right). A hash of the manifolds puts same-γ pairs at 1, apart from the rest.",
    )


def _curves_figure(ctx: RunContext, results: dict[str, list[dict[str, Any]]], name: str) -> None:
    """Invariance ratio, AUROC and recoverability over training, per layer."""
    fig, axes = new_figure(len(results), 3, size=(11.0, 2.9 * len(results)), squeeze=False)
    for r, (family, rows) in enumerate(results.items()):
        layers = list(dict.fromkeys(x["layer"] for x in rows))
        for li, layer in enumerate(layers):
            lr = _embedding_rows(rows, layer)
            ep = np.array([x["epoch"] for x in lr])
            epx = np.maximum(ep, 0.5)  # epoch 0 drawn at 0.5 on the log axis
            col = f"C{li}"
            axes[r, 0].plot(
                epx, [x["inv_seen"] for x in lr], "-o", ms=3, color=col, label=f"{layer} seen"
            )
            axes[r, 0].plot(
                epx, [x["inv_unseen"] for x in lr], "--", color=col, label=f"{layer} unseen"
            )
            axes[r, 1].plot(
                epx, [x["auroc_seen"] for x in lr], "-o", ms=3, color=col, label=f"{layer} seen"
            )
            axes[r, 1].plot(
                epx, [x["auroc_unseen"] for x in lr], "--", color=col, label=f"{layer} unseen"
            )
            axes[r, 2].plot(
                epx, [x["r2_gamma"] for x in lr], "-o", ms=3, color=col, label=f"{layer}: γ"
            )
            axes[r, 2].plot(
                epx,
                [x["r2_gamma_new"] for x in lr],
                "--",
                color=col,
                label=f"{layer}: γ, new classes",
            )
            axes[r, 2].plot(epx, [x["r2_theta"] for x in lr], ":", color=col, label=f"{layer}: θ")
        axes[r, 0].axhline(1.0, color="0.6", lw=0.8)
        axes[r, 0].set(
            xscale="log",
            xlabel="epoch (0 at 0.5)",
            ylabel="‖∂h/∂θ‖ / ‖∂h/∂γ‖ (normalised)",
            title=f"{LABELS.get(family, family)}: invariance ratio",
        )
        axes[r, 1].set(
            xscale="log",
            xlabel="epoch (0 at 0.5)",
            ylabel="AUROC same vs different γ",
            title="separation",
        )
        axes[r, 2].set(
            xscale="log",
            xlabel="epoch (0 at 0.5)",
            ylabel="held-out ridge R²",
            title="recoverability",
        )
        for ax in axes[r]:
            ax.legend(fontsize=6)
    ctx.figure(
        fig,
        name,
        caption="Over training, per hidden layer. Left: invariance ratio g_θ/g_γ (1 = like the input, 0 = a function of γ "
        "alone), on held-out points of the training manifolds (solid) and of unseen manifolds (dashed). Middle: AUROC of "
        "same- vs different-manifold pairs. Right: held-out ridge R² of γ (held-out samples, solid; held-out classes, dashed) and of θ (dotted) from the embedding.",
    )


def separation_stage(ctx: RunContext) -> None:
    """Separation, invariance and recoverability over training for each family's base model."""
    a = ctx.config["analysis"]
    results, panels, metric_auroc, metric_inv, metric_rec, metric_rank = {}, [], {}, {}, {}, {}
    for family in FAMILIES:
        base = _base(ctx, family)
        cks = checkpoints(ctx, base["name"])
        splits = _model_splits(ctx, family, base["n_train_classes"])
        gen = _generator(ctx, family)
        rows = analyse_checkpoints(
            cks,
            splits,
            gen,
            device=ctx.device,
            seed=ctx.seed_for(f"analysis:{family}"),
            n_pairs=a["n_pairs"],
            n_invariance_points=a["n_invariance_points"],
        )
        results[family] = rows
        emb = _embedding_rows(rows, hidden_layers(cks[-1][1])[-1])
        metric_auroc[family] = {
            "seen": _by_epoch(emb, "auroc_seen"),
            "unseen": _by_epoch(emb, "auroc_unseen"),
        }
        metric_inv[family] = _by_epoch(emb, "inv_seen")
        metric_rec[family] = {
            "gamma_r2": _by_epoch(emb, "r2_gamma"),
            "gamma_r2_new_classes": _by_epoch(emb, "r2_gamma_new"),
            "theta_r2": _by_epoch(emb, "r2_theta"),
        }
        metric_rank[family] = _by_epoch(emb, "erank")
        panels.append((LABELS[family], cks[0], cks[-1], splits["test"], splits["unseen"]))
        ctx.save_arrays(
            f"hashing_{family}_rows", **{k: np.array([r[k] for r in rows]) for k in rows[0]}
        )
        ctx.table(
            f"{LABELS[family]}: {base['name']} over training",
            [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
        )
    _hist_figure(ctx, panels, "separation_histograms", a["n_pairs"], ctx.seed_for("hist"))
    _curves_figure(ctx, results, "invariance_over_training")
    ctx.metric("hashing.auroc", metric_auroc)
    ctx.metric("hashing.invariance_ratio", metric_inv)
    ctx.metric("hashing.recoverability", metric_rec)
    ctx.metric("hashing.effective_rank", metric_rank)


def collisions_stage(ctx: RunContext) -> None:
    """SimHash collision curves on unseen classes: trained vs untrained vs raw input vs ideal."""
    a = ctx.config["analysis"]
    m = int(a["simhash_bits"])
    fig, axes = new_figure(1, len(FAMILIES), size=(4.2 * len(FAMILIES), 3.3), squeeze=False)
    metric: dict[str, Any] = {}
    for ax, family in zip(axes[0], FAMILIES):
        base = _base(ctx, family)
        cks = checkpoints(ctx, base["name"])
        unseen = _model_splits(ctx, family, base["n_train_classes"])["unseen"]
        layer = hidden_layers(cks[-1][1])[-1]
        gamma = unseen.extra["gamma"]
        seed = ctx.seed_for(f"simhash:{family}")
        metric[family] = {}
        embeds = [
            (
                "trained",
                extract(cks[-1][1], unseen.X, layer=layer, device=ctx.device, show_progress=False),
                "C0",
            ),
            (
                "untrained",
                extract(cks[0][1], unseen.X, layer=layer, device=ctx.device, show_progress=False),
                "C1",
            ),
            ("raw input", unseen.X, "C2"),
        ]
        curve = None
        for label, Z, color in embeds:
            curve = collision_curve(
                Z,
                reference=gamma,
                y=unseen.y,
                n_bits=m,
                n_tables=a["simhash_tables"],
                n_pairs=a["n_pairs"],
                random_state=seed,
            )
            ax.plot(
                curve["angle"],
                curve["rate"],
                "-o",
                ms=3,
                color=color,
                label=f"{label} (same γ: {curve['same_rate']:.2f})",
            )
            metric[family][label.split()[0]] = {
                "same_rate": curve["same_rate"],
                "diff_rate": curve.get("diff_rate"),
                "diff_theory": curve.get("diff_theory"),
            }
        assert curve is not None
        grid = np.linspace(0, np.pi, 100)
        ax.plot(grid, (1 - grid / np.pi) ** m, "k--", lw=1, label=f"SimHash of γ: (1−∠/π)^{m}")
        ax.set(
            yscale="log",
            ylim=(1e-4, 1.2),
            xlabel="angle between γ's (rad)",
            ylabel=f"P(all {m} bits collide)",
            title=f"{LABELS[family]}: unseen classes",
        )
        ax.legend(fontsize=6, loc="lower left")
    ctx.figure(
        fig,
        "collision_curves",
        caption=f"SimHash ({m} random hyperplanes, {a['simhash_tables']} tables, embeddings centred) of pairs of unseen-class "
        "embeddings: collision rate against the angle between the pairs' manifold identifiers γ. The dashed line is the rate "
        "of hashing γ itself; a network embedding that hashes the manifolds follows it, with same-γ pairs (angle 0) colliding.",
    )
    ctx.metric("hashing.collision", metric)


def one_shot_stage(ctx: RunContext) -> None:
    """One-shot accuracy on unseen classes: baselines, k-shot curves, the sweep."""
    a = ctx.config["analysis"]
    one, ci, sweep, rows = {}, {}, {}, []
    fig, axes = new_figure(2, len(FAMILIES), size=(4.3 * len(FAMILIES), 6.4), squeeze=False)
    for col, family in enumerate(FAMILIES):
        seed = ctx.seed_for(f"oneshot:{family}")
        sweep[family] = {}
        gen = _generator(ctx, family)
        for spec in _models(ctx, family):
            cks = checkpoints(ctx, spec["name"])
            splits = _model_splits(ctx, family, spec["n_train_classes"])
            layer = hidden_layers(cks[-1][1])[-1]
            res = one_shot_baselines(
                cks[-1][1],
                cks[0][1],
                splits,
                layer=layer,
                device=ctx.device,
                n_way=a["n_way"],
                n_episodes=a["n_episodes"],
                n_query=a["n_query"],
                pca_components=a["pca_components"],
                seed=seed,
            )
            inv = invariance(
                cks[-1][1],
                gen,
                splits["test"].extra["gamma"][: a["n_invariance_points"]],
                splits["test"].extra["theta"][: a["n_invariance_points"]],
                layer=layer,
            )
            sweep[family][spec["name"]] = {
                "n_train_classes": spec["n_train_classes"],
                "width": spec["width"],
                "depth": spec["depth"],
                **{k: v["mean"] for k, v in res.items()},
                "invariance_ratio": inv["ratio"],
            }
            rows.append(
                {
                    "model": spec["name"],
                    **{
                        k: f"{v['mean']:.3f} ± {v['ci_high'] - v['mean']:.3f}"
                        for k, v in res.items()
                    },
                    "invariance ratio": round(inv["ratio"], 3),
                }
            )
            if spec["base"]:
                one[family] = {k: v["mean"] for k, v in res.items()}
                ci[family] = {k: [v["ci_low"], v["ci_high"]] for k, v in res.items()}
                n_way_used = res["trained"]["n_way"]
                unseen = splits["unseen"]
                curves = {}
                for label, Z in (
                    (
                        "trained",
                        extract(
                            cks[-1][1],
                            unseen.X,
                            layer=layer,
                            device=ctx.device,
                            show_progress=False,
                        ),
                    ),
                    (
                        "untrained",
                        extract(
                            cks[0][1], unseen.X, layer=layer, device=ctx.device, show_progress=False
                        ),
                    ),
                    ("raw", unseen.X),
                    (
                        "pca",
                        pca_project(
                            splits["train"].X.astype(np.float64),
                            unseen.X.astype(np.float64),
                            a["pca_components"],
                        ),
                    ),
                ):
                    curves[label] = k_shot_curve(
                        Z,
                        unseen.y,
                        shots=a["shots"],
                        n_way=n_way_used,
                        n_query=a["n_query"],
                        n_episodes=a["n_episodes"],
                        random_state=seed,
                    )
                ax = axes[1, col]
                for i, (label, cv) in enumerate(curves.items()):
                    ks = sorted(cv)
                    mean = np.array([cv[k]["mean"] for k in ks])
                    err = np.array([cv[k]["ci_high"] - cv[k]["mean"] for k in ks])
                    ax.errorbar(
                        ks, mean, yerr=err, fmt="-o", ms=3, capsize=2, color=f"C{i}", label=label
                    )
                ax.axhline(1.0 / n_way_used, color="0.5", ls=":", lw=1, label="chance")
                ax.set(
                    xscale="log",
                    xlabel="shots per class (k)",
                    ylabel=f"{n_way_used}-way accuracy",
                    title=f"k-shot ({spec['name']})",
                    ylim=(0, 1.02),
                )
                ax.set_xticks(
                    sorted(curves["trained"]), [str(k) for k in sorted(curves["trained"])]
                )
                ax.minorticks_off()
                ax.legend(fontsize=6)
        # accuracy vs number of training classes (width/depth at base)
        base = _base(ctx, family)
        pts = sorted(
            (
                v
                for v in sweep[family].values()
                if v["width"] == base["width"] and v["depth"] == base["depth"]
            ),
            key=lambda v: v["n_train_classes"],
        )
        ax = axes[0, col]
        x = [p["n_train_classes"] for p in pts]
        for i, key in enumerate(("trained", "untrained", "raw", "pca")):
            ax.plot(x, [p[key] for p in pts], "-o", ms=3, color=f"C{i}", label=key)
        n_unseen = np.unique(_model_splits(ctx, family, base["n_train_classes"])["unseen"].y).size
        ax.axhline(1.0 / min(a["n_way"], n_unseen), color="0.5", ls=":", lw=1, label="chance")
        ax.set(
            xscale="log",
            xlabel="training classes",
            ylabel="1-shot accuracy (unseen)",
            title=f"{LABELS[family]}: one-shot vs classes",
            ylim=(0, 1.02),
        )
        ax.set_xticks(x, [str(v) for v in x])
        ax.minorticks_off()
        ax.legend(fontsize=6)
    ctx.figure(
        fig,
        "one_shot",
        caption=f"Top: {a['n_way']}-way 1-shot accuracy (nearest prototype, cosine) on unseen classes vs the number of classes "
        "the network was trained on, against the untrained network, the raw input and PCA of the input (fitted on the seen "
        f"classes, {a['pca_components']} components). Bottom: k-shot curves of the base models with 95 % intervals over "
        f"{a['n_episodes']} episodes.",
    )
    ctx.table(
        "One-shot accuracy on unseen classes (mean ± 95 % half-width) and invariance ratio", rows
    )
    ctx.metric("hashing.one_shot", one)
    ctx.metric("hashing.one_shot_ci", ci)
    ctx.metric("hashing.sweep", sweep)


def _verdict(one: dict[str, float], ci: dict[str, list[float]]) -> bool:
    """Trained beats every baseline: its interval lies above each baseline's interval."""
    return all(ci["trained"][0] > ci[k][1] for k in ("untrained", "raw", "pca"))


def summary_stage(ctx: RunContext) -> None:
    """Answer the question with the numbers."""
    m = read_json(ctx.out / "metrics.json")
    n_way = ctx.config["analysis"]["n_way"]
    lines = []
    for family in FAMILIES:
        inv = m["hashing.invariance_ratio"][family]
        au = m["hashing.auroc"][family]
        one = m["hashing.one_shot"][family]
        ci = m["hashing.one_shot_ci"][family]
        rec = m["hashing.recoverability"][family]
        sweep = sorted(
            m["hashing.sweep"][family].values(),
            key=lambda v: (v["n_train_classes"], v["width"], v["depth"]),
        )
        e0, e1 = min(inv, key=int), max(inv, key=int)
        drop = 1.0 - inv[e1] / inv[e0]
        if drop >= 0.5:
            how = f"makes the embedding markedly more θ-invariant (ratio down {100 * drop:.0f} %)"
        elif drop >= 0.2:
            how = f"makes the embedding moderately more θ-invariant (ratio down {100 * drop:.0f} %)"
        else:
            how = (
                f"does not make the embedding much more θ-invariant (ratio down {100 * drop:.0f} %)"
            )
        by_classes = {v["n_train_classes"]: v["trained"] for v in sweep}
        lines.append(
            f"{LABELS[family]} — θ-invariance: the invariance ratio g_θ/g_γ of the embedding goes from {inv[e0]:.3f} at "
            f"initialisation to {inv[e1]:.3f} after {e1} epochs, so training "
            + how
            + f" ({'not' if inv[e1] > 0.05 else 'nearly'} a perfect hash, which would give 0). "
            + (
                f"θ remains linearly decodable to R² {rec['theta_r2'][e1]:.2f} (init {rec['theta_r2'][e0]:.2f}) — the θ "
                "directions are shrunk relative to γ, not removed —"
                if rec["theta_r2"][e1] > 0.5
                else f"θ is hardly linearly decodable (R² {rec['theta_r2'][e1]:.2f}, init {rec['theta_r2'][e0]:.2f}),"
            )
            + f" while γ is decodable to R² {rec['gamma_r2'][e1]:.2f} (init {rec['gamma_r2'][e0]:.2f}; "
            f"{rec['gamma_r2_new_classes'][e1]:.2f} for classes held out of the probe). Same- vs different-manifold AUROC: "
            f"{au['seen'][e0]:.3f} → {au['seen'][e1]:.3f} on training manifolds, {au['unseen'][e0]:.3f} → {au['unseen'][e1]:.3f} "
            f"on unseen ones."
        )
        lines.append(
            f"{LABELS[family]} — one-shot transfer: {n_way}-way 1-shot accuracy on unseen classes is {one['trained']:.3f} "
            f"[95 % CI {ci['trained'][0]:.3f}, {ci['trained'][1]:.3f}] for the trained network vs {one['untrained']:.3f} "
            f"untrained, {one['raw']:.3f} raw input and {one['pca']:.3f} PCA — "
            + (
                "beyond every baseline"
                if _verdict(one, ci)
                else "not clearly beyond every baseline"
            )
            + ". Over the sweep of training classes: "
            + ", ".join(f"{c}: {a:.3f}" for c, a in sorted(by_classes.items()))
            + "."
        )
    for line in lines:
        ctx.text(line)
    ctx.metric(
        "hashing.beats_baselines",
        {f: _verdict(m["hashing.one_shot"][f], m["hashing.one_shot_ci"][f]) for f in FAMILIES},
    )


def coding_stage(ctx: RunContext) -> None:
    """ΔR and TwoNN ID per layer over training for each family's base model (the coding/ID
    panel's :func:`repgeo.panels.coding_id.report_coding_id`)."""
    from ..panels.coding_id import report_coding_id

    for family in FAMILIES:
        base = _base(ctx, family)
        splits = _model_splits(ctx, family, base["n_train_classes"])
        report_coding_id(
            ctx,
            {base["name"]: checkpoints(ctx, base["name"])},
            seen=splits["test"],
            unseen=splits["unseen"],
            id_data=[splits["train"], splits["test"]],
            name=f"coding_id_{family}",
        )


# ----------------------------------------------------------------------------- default study
def default_panel(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Hashing panel of the default study (model "manifold", datasets and generator from ``_common``).

    Writes separation histograms at initialisation vs trained, the invariance ratio and AUROC per
    checkpoint (every hidden layer), and 1-shot accuracy on the unseen classes against the raw
    input, the untrained network and PCA. Metrics: ``hashing.auroc["manifold"]``,
    ``hashing.invariance_ratio["manifold"]``, ``hashing.one_shot["manifold"]``,
    ``hashing.one_shot_ci["manifold"]``.
    """
    cks = checkpoints(ctx, "manifold")
    splits = datasets(ctx, "manifold")
    gen = manifold_generator(ctx)
    seed = ctx.seed_for("hashing-panel")
    rows = analyse_checkpoints(
        cks,
        splits,
        gen,
        device=ctx.device,
        seed=seed,
        n_pairs=int(opts["n_pairs"]),
        n_invariance_points=int(opts["n_invariance_points"]),
        measures=("separation", "invariance"),
    )
    layer = hidden_layers(cks[-1][1])[-1]
    emb = _embedding_rows(rows, layer)
    _hist_figure(
        ctx,
        [(LABELS["manifold"], cks[0], cks[-1], splits["test"], splits["unseen"])],
        "hashing_separation",
        int(opts["n_pairs"]),
        seed,
    )
    fig, axes = new_figure(1, 3, size=(11.0, 3.0))
    for li, lay in enumerate(dict.fromkeys(r["layer"] for r in rows)):
        lr = _embedding_rows(rows, lay)
        epx = np.maximum([r["epoch"] for r in lr], 0.5)
        axes[0].plot(
            epx, [r["inv_seen"] for r in lr], "-o", ms=3, color=f"C{li}", label=f"{lay} seen"
        )
        axes[0].plot(
            epx, [r["inv_unseen"] for r in lr], "--", color=f"C{li}", label=f"{lay} unseen"
        )
        axes[1].plot(
            epx, [r["auroc_seen"] for r in lr], "-o", ms=3, color=f"C{li}", label=f"{lay} seen"
        )
        axes[1].plot(
            epx, [r["auroc_unseen"] for r in lr], "--", color=f"C{li}", label=f"{lay} unseen"
        )
    axes[0].axhline(1.0, color="0.6", lw=0.8)
    axes[0].set(
        xscale="log",
        xlabel="epoch (0 at 0.5)",
        ylabel="invariance ratio g_θ/g_γ",
        title="θ-invariance over training",
    )
    axes[1].set(
        xscale="log", xlabel="epoch (0 at 0.5)", ylabel="AUROC", title="same vs different manifold"
    )
    res = one_shot_baselines(
        cks[-1][1],
        cks[0][1],
        splits,
        layer=layer,
        device=ctx.device,
        n_way=int(opts["n_way"]),
        n_episodes=int(opts["n_episodes"]),
        n_query=int(opts["n_query"]),
        pca_components=int(opts["pca_components"]),
        seed=seed,
    )
    names = list(res)
    axes[2].bar(
        names,
        [res[k]["mean"] for k in names],
        yerr=[res[k]["ci_high"] - res[k]["mean"] for k in names],
        color=[f"C{i}" for i in range(len(names))],
        capsize=3,
    )
    axes[2].axhline(res["trained"]["chance"], color="0.5", ls=":", lw=1)
    axes[2].set(
        ylim=(0, 1.02),
        ylabel=f"{res['trained']['n_way']}-way 1-shot accuracy",
        title="unseen classes",
    )
    for ax in axes[:2]:
        ax.legend(fontsize=6)
    ctx.figure(
        fig,
        "hashing_panel",
        caption="Manifold hashing. Left: invariance ratio ‖∂h/∂θ‖/‖∂h/∂γ‖ through the composed map (each normalised by the "
        "generator's; 1 = like the input, 0 = a function of γ alone) per hidden layer over training. Middle: AUROC of "
        "same- vs different-manifold pairs. Right: 1-shot accuracy on classes never trained on, against baselines "
        "(95 % intervals; dotted: chance).",
    )
    ctx.metric(
        "hashing.auroc",
        {
            "manifold": {
                "seen": _by_epoch(emb, "auroc_seen"),
                "unseen": _by_epoch(emb, "auroc_unseen"),
            }
        },
    )
    ctx.metric("hashing.invariance_ratio", {"manifold": _by_epoch(emb, "inv_seen")})
    ctx.metric("hashing.one_shot", {"manifold": {k: v["mean"] for k, v in res.items()}})
    ctx.metric(
        "hashing.one_shot_ci",
        {"manifold": {k: [v["ci_low"], v["ci_high"]] for k, v in res.items()}},
    )
    e0, e1 = emb[0], emb[-1]
    ctx.text(
        f"Embedding layer {layer}: invariance ratio {e0['inv_seen']:.3f} at initialisation → {e1['inv_seen']:.3f} at epoch "
        f"{e1['epoch']}; AUROC (unseen manifolds) {e0['auroc_unseen']:.3f} → {e1['auroc_unseen']:.3f}; "
        f"{res['trained']['n_way']}-way 1-shot accuracy on unseen classes {res['trained']['mean']:.3f} (untrained "
        f"{res['untrained']['mean']:.3f}, raw input {res['raw']['mean']:.3f}, PCA {res['pca']['mean']:.3f})."
    )


STUDY = Study(
    name="manifold-hashing",
    summary="Do trained networks hash class manifolds (θ-invariant, γ-sensitive) and transfer one-shot to unseen classes?",
    stages=[
        Stage("train", train_models, title="Data and training sweep"),
        Stage(
            "separation",
            separation_stage,
            title="Separation, invariance and recoverability over training",
            metrics=(
                "hashing.auroc",
                "hashing.invariance_ratio",
                "hashing.recoverability",
                "hashing.effective_rank",
            ),
        ),
        Stage(
            "collisions",
            collisions_stage,
            title="SimHash collision curves",
            metrics=("hashing.collision",),
        ),
        Stage(
            "one_shot",
            one_shot_stage,
            title="One-shot transfer to unseen classes",
            metrics=("hashing.one_shot", "hashing.one_shot_ci", "hashing.sweep"),
        ),
        Stage(
            "coding_id",
            coding_stage,
            title="Coding rate and intrinsic dimension over training",
            metrics=(
                "coding.delta_r",
                "coding.delta_r_unseen",
                "coding.delta_r_input",
                "id.twonn",
                "id.twonn_input",
            ),
        ),
        Stage("summary", summary_stage, title="Answer", metrics=("hashing.beats_baselines",)),
    ],
    config=CONFIG,
    quick=QUICK,
)
