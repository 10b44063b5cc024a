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
panel) → ``summary``. The measurements are :mod:`repgeo.hashing` (over training:
:mod:`repgeo.hashing.training`), the figures :mod:`repgeo.plots.hashing`; this module holds the
data, the training sweep and the report's prose. The compact version wired into the default
study is the panel :mod:`repgeo.panels.hashing`.

Metrics (layouts in ``docs/metrics.md``; dataset ``randnet`` or ``digitwarp``): ``hashing.auroc``,
``hashing.invariance_ratio``, ``hashing.recoverability``, ``hashing.effective_rank`` (base model,
embedding layer, per epoch), ``hashing.collision``, ``hashing.one_shot`` / ``hashing.one_shot_ci``
(base model vs untrained, raw input, PCA), ``hashing.sweep`` (every model),
``hashing.beats_baselines``, and the coding/ID panel's ``coding.*`` / ``id.*`` for the base models.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._io import read_json
from ..data import Dataset, DigitTransformManifolds, split_classes
from ..data.manifolds import ClassManifolds
from ..hashing import (
    analyse_checkpoints,
    baseline_embeddings,
    collision_baselines,
    invariance,
    k_shot_baselines,
    one_shot_baselines,
    separation_snapshots,
)
from ..models import MLP, TrainConfig, hidden_layers, train
from ..panels._common import checkpoints, datasets, manifold_generator, save_datasets
from ..panels.hashing import HISTOGRAM_CAPTION, by_epoch
from ..plots import (
    plot_collision_curves,
    plot_hashing_over_training,
    plot_one_shot_transfer,
    plot_separation_histograms,
)
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY"]

FAMILIES = ("randnet", "digitwarp")
LABELS = {"randnet": "random-network manifolds", "digitwarp": "warped digits"}

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
def separation_stage(ctx: RunContext) -> None:
    """Separation, invariance and recoverability over training for each family's base model."""
    a = ctx.config["analysis"]
    results, snaps, layers = {}, {}, {}
    metric_auroc, metric_inv, metric_rec, metric_rank = {}, {}, {}, {}
    for family in FAMILIES:
        base = _base(ctx, family)
        cks = checkpoints(ctx, base["name"])
        splits = _model_splits(ctx, family, base["n_train_classes"])
        rows = analyse_checkpoints(
            cks,
            splits,
            _generator(ctx, family),
            n_pairs=a["n_pairs"],
            n_invariance_points=a["n_invariance_points"],
            device=ctx.device,
            random_state=ctx.seed_for(f"analysis:{family}"),
        )
        layer = hidden_layers(cks[-1][1])[-1]  # the embedding
        results[LABELS[family]], layers[LABELS[family]] = rows, layer
        metric_auroc[family] = {
            "seen": by_epoch(rows, "auroc_seen", layer=layer),
            "unseen": by_epoch(rows, "auroc_unseen", layer=layer),
        }
        metric_inv[family] = by_epoch(rows, "inv_seen", layer=layer)
        metric_rec[family] = {
            "gamma_r2": by_epoch(rows, "r2_gamma", layer=layer),
            "gamma_r2_new_classes": by_epoch(rows, "r2_gamma_new", layer=layer),
            "theta_r2": by_epoch(rows, "r2_theta", layer=layer),
        }
        metric_rank[family] = by_epoch(rows, "erank", layer=layer)
        snaps[LABELS[family]] = separation_snapshots(
            [cks[0], cks[-1]],
            splits,
            layer=layer,
            n_pairs=a["n_pairs"],
            device=ctx.device,
            random_state=ctx.seed_for("hist"),
        )
        ctx.save_arrays(
            f"hashing_{family}_rows", **{k: np.array([r[k] for r in rows]) for k in rows[0]}
        )
        ctx.table(
            f"{LABELS[family]}: {base['name']} over training",
            [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
        )
    ctx.figure(
        plot_separation_histograms(snaps, layers=layers),
        "separation_histograms",
        caption=HISTOGRAM_CAPTION,
    )
    ctx.figure(
        plot_hashing_over_training(results),
        "invariance_over_training",
        caption="Over training, per hidden layer. Left: invariance ratio g_θ/g_γ (1 = like the "
        "input, 0 = a function of γ alone), on held-out points of the training manifolds (solid) "
        "and of unseen manifolds (dashed). Middle: AUROC of same- vs different-manifold pairs. "
        "Right: held-out ridge R² of γ (held-out samples, solid; held-out classes, dashed) and of "
        "θ (dotted) from the embedding.",
    )
    ctx.metric("hashing.auroc", metric_auroc)
    ctx.metric("hashing.invariance_ratio", metric_inv)
    ctx.metric("hashing.recoverability", metric_rec)
    ctx.metric("hashing.effective_rank", metric_rank)


def collisions_stage(ctx: RunContext) -> None:
    """SimHash collision curves on unseen classes: trained vs untrained vs raw input vs ideal."""
    a = ctx.config["analysis"]
    m = int(a["simhash_bits"])
    curves: dict[str, Any] = {}
    metric: dict[str, Any] = {}
    for family in FAMILIES:
        base = _base(ctx, family)
        cks = checkpoints(ctx, base["name"])
        unseen = _model_splits(ctx, family, base["n_train_classes"])["unseen"]
        embeddings = baseline_embeddings(
            cks[-1][1], cks[0][1], unseen.X, layer=hidden_layers(cks[-1][1])[-1], device=ctx.device
        )
        per = collision_baselines(
            embeddings,
            unseen.y,
            reference=unseen.extra["gamma"],
            n_bits=m,
            n_tables=a["simhash_tables"],
            n_pairs=a["n_pairs"],
            random_state=ctx.seed_for(f"simhash:{family}"),
        )
        curves[f"{LABELS[family]}: unseen classes"] = per
        metric[family] = {
            name: {
                "same_rate": cv["same_rate"],
                "diff_rate": cv.get("diff_rate"),
                "diff_theory": cv.get("diff_theory"),
            }
            for name, cv in per.items()
        }
    ctx.figure(
        plot_collision_curves(curves),
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
    points, k_shot, chance, base_names = {}, {}, {}, {}
    for family in FAMILIES:
        seed = ctx.seed_for(f"oneshot:{family}")
        sweep[family] = {}
        gen = _generator(ctx, family)
        label = LABELS[family]
        for spec in _models(ctx, family):
            cks = checkpoints(ctx, spec["name"])
            splits = _model_splits(ctx, family, spec["n_train_classes"])
            unseen = splits["unseen"]
            layer = hidden_layers(cks[-1][1])[-1]
            embeddings = baseline_embeddings(
                cks[-1][1],
                cks[0][1],
                unseen.X,
                pca_fit=splits["train"].X,
                pca_components=a["pca_components"],
                layer=layer,
                device=ctx.device,
            )
            res = one_shot_baselines(
                embeddings,
                unseen.y,
                n_way=a["n_way"],
                n_query=a["n_query"],
                n_episodes=a["n_episodes"],
                random_state=seed,
            )
            n_inv = a["n_invariance_points"]
            inv = invariance(
                cks[-1][1],
                gen,
                splits["test"].extra["gamma"][:n_inv],
                splits["test"].extra["theta"][:n_inv],
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
                base_names[label] = spec["name"]
                chance[label] = 1.0 / min(a["n_way"], np.unique(unseen.y).size)
                k_shot[label] = k_shot_baselines(
                    embeddings,
                    unseen.y,
                    shots=a["shots"],
                    n_way=res["trained"]["n_way"],
                    n_query=a["n_query"],
                    n_episodes=a["n_episodes"],
                    random_state=seed,
                )
        # accuracy vs number of training classes (width and depth at the base model's)
        base = _base(ctx, family)
        points[label] = [
            v
            for v in sweep[family].values()
            if v["width"] == base["width"] and v["depth"] == base["depth"]
        ]
    ctx.figure(
        plot_one_shot_transfer(points, k_shot, chance=chance, models=base_names),
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
    headline=("hashing.one_shot", "hashing.invariance_ratio"),
)
