"""The default study (``make demo``): train reference models and look at their representations.

Stages
------
train_manifold
    An MLP on the seen classes of a random-network class-manifold dataset (family 1), with
    checkpoints over training; held-out samples of seen classes and samples of unseen classes
    are kept for the analyses.
train_digits
    An MLP [64, 200, 10] (sigmoid, Adam lr 0.01) on sklearn digits, with checkpoints.
embeddings
    Training curves, accuracies and 2-D PCA pictures of the penultimate layer at initialisation
    vs trained (seen vs unseen classes).
Later stages are panels contributed by the analysis modules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..data import load_digits, split_classes
from ..features import extract
from ..latent import pca_project
from ..models import MLP, TrainConfig, accuracy, hidden_layers, train
from ..panels import CODING_ID, DIFFUSION, GEOMETRY, HASHING, STITCHING
from ..panels._common import checkpoints, datasets, manifold_generator, save_datasets
from ..plots import new_figure
from ..runs import RunContext, Stage, Study

__all__ = ["STUDY"]

CONFIG: dict[str, Any] = {
    "manifold": {
        "n_classes": 40,
        "n_seen": 20,
        "k_gamma": 8,
        "k_theta": 4,
        "ambient_dim": 100,
        "depth": 2,
        "hidden": 128,
        "activation": "tanh",
        "theta_scale": 1.0,
        "noise": 0.05,
        "n_per_class": 100,
        "n_per_class_unseen": 30,
        "test_fraction": 0.25,
    },
    "manifold_model": {"hidden": [256, 128], "activation": "relu", "init": "default"},
    "manifold_train": {
        "epochs": 30,
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 1e-3,
        "checkpoints": 6,
    },
    "digits": {"test_fraction": 0.25},
    "digits_model": {"hidden": [200], "activation": "sigmoid", "init": "default"},
    "digits_train": {
        "epochs": 200,
        "batch_size": 128,
        "optimizer": "adam",
        "lr": 0.01,
        "checkpoints": 6,
    },
}

QUICK: dict[str, Any] = {
    "manifold": {"n_classes": 20, "n_seen": 10, "n_per_class": 60, "n_per_class_unseen": 20},
    "manifold_train": {"epochs": 15, "checkpoints": 4},
    "digits_train": {"epochs": 25, "checkpoints": 4},
}


def _history(ctx: RunContext, name: str) -> dict[str, Any]:
    return ctx.read_json(f"checkpoints/{name}/history.json")


def train_manifold(ctx: RunContext) -> None:
    cfg = ctx.config["manifold"]
    gen = manifold_generator(ctx)
    seen, unseen = split_classes(
        cfg["n_classes"], cfg["n_seen"], random_state=ctx.seed_for("class-split")
    )
    seen_ds = gen.sample(
        cfg["n_per_class"], classes=seen, random_state=ctx.seed_for("manifold-seen")
    )
    unseen_ds = gen.sample(
        cfg["n_per_class_unseen"], classes=unseen, random_state=ctx.seed_for("manifold-unseen")
    )
    train_ds, test_ds = seen_ds.train_test_split(
        test_fraction=cfg["test_fraction"], random_state=ctx.seed_for("manifold-split")
    )
    save_datasets(
        ctx,
        "manifold",
        {"train": train_ds, "test": test_ds, "unseen": unseen_ds},
        seen_classes=seen,
        unseen_classes=unseen,
    )

    mcfg = ctx.config["manifold_model"]
    widths = [gen.ambient_dim, *mcfg["hidden"], len(seen)]
    model = MLP(
        widths, activation=mcfg["activation"], init=mcfg["init"], seed=ctx.seed_for("manifold-init")
    )
    label_map = {int(c): i for i, c in enumerate(seen)}
    hist = train(
        model,
        train_ds.X,
        train_ds.y,
        X_val=test_ds.X,
        y_val=test_ds.y,
        label_map=label_map,
        config=TrainConfig.from_dict(ctx.config["manifold_train"]),
        random_state=ctx.seed_for("manifold-train"),
        device=ctx.device,
        checkpoint_dir=ctx.checkpoint_dir("manifold"),
        description="training manifold MLP",
    )
    ctx.text(
        f"Random-network class manifolds: {cfg['n_classes']} classes (k_γ={cfg['k_gamma']}, "
        f"k_θ={cfg['k_theta']}, D={cfg['ambient_dim']}); an MLP {widths} ({mcfg['activation']}) trained on "
        f"{len(seen)} seen classes; {len(unseen)} classes are held out for one-shot analyses."
    )
    ctx.metric(
        "train.accuracy",
        {"manifold": {"train": hist["train_acc"][-1], "test": hist["val_acc"][-1]}},
    )


def train_digits(ctx: RunContext) -> None:
    ds = load_digits()
    train_ds, test_ds = ds.train_test_split(
        test_fraction=ctx.config["digits"]["test_fraction"],
        random_state=ctx.seed_for("digits-split"),
    )
    save_datasets(ctx, "digits", {"train": train_ds, "test": test_ds})
    mcfg = ctx.config["digits_model"]
    widths = [ds.n_features, *mcfg["hidden"], 10]
    model = MLP(
        widths, activation=mcfg["activation"], init=mcfg["init"], seed=ctx.seed_for("digits-init")
    )
    hist = train(
        model,
        train_ds.X,
        train_ds.y,
        X_val=test_ds.X,
        y_val=test_ds.y,
        config=TrainConfig.from_dict(ctx.config["digits_train"]),
        random_state=ctx.seed_for("digits-train"),
        device=ctx.device,
        checkpoint_dir=ctx.checkpoint_dir("digits"),
        description="training digits MLP",
    )
    ctx.text(
        f"sklearn digits (8×8, {len(ds)} images): an MLP {widths} ({mcfg['activation']}), 75/25 split."
    )
    ctx.metric(
        "train.accuracy", {"digits": {"train": hist["train_acc"][-1], "test": hist["val_acc"][-1]}}
    )


def embeddings(ctx: RunContext) -> None:
    """Training curves, accuracies and PCA pictures at init vs trained."""
    fig, axes = new_figure(1, 2, size=(8.0, 3.0))
    rows = []
    for (name, label), color in zip(
        (("manifold", "class manifolds (seen)"), ("digits", "digits")), ("C0", "C1")
    ):
        h = _history(ctx, name)
        axes[0].plot(h["epoch"], h["train_loss"], color=color, label=label)
        axes[1].plot(h["epoch"], h["train_acc"], color=color, label=f"{label}: train")
        axes[1].plot(h["epoch"], h["val_acc"], "--", color=color, label=f"{label}: test")
        rows.append(
            {
                "model": name,
                "epochs": h["epoch"][-1],
                "train accuracy": h["train_acc"][-1],
                "test accuracy": h["val_acc"][-1],
                "initial test accuracy": h["val_acc"][0],
            }
        )
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="training loss", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    axes[1].legend(loc="lower right")
    ctx.figure(fig, "training_curves", caption="Training loss and train/test accuracy over epochs.")
    ctx.table("Accuracy", rows)

    # PCA of the penultimate layer at initialisation and after training
    man = datasets(ctx, "manifold")
    dig = datasets(ctx, "digits")
    man_ck, dig_ck = checkpoints(ctx, "manifold"), checkpoints(ctx, "digits")
    panels = [("manifold", man_ck, man), ("digits", dig_ck, dig)]
    fig, axes = new_figure(2, 2, size=(8.0, 7.0))
    for row, (name, cks, ds) in enumerate(panels):
        for col, (epoch, model) in enumerate((cks[0], cks[-1])):
            layer = hidden_layers(model)[-1]
            ax = axes[row, col]
            Zt = extract(model, ds["test"].X, layer=layer, device=ctx.device, show_progress=False)
            if "unseen" in ds:
                Zu = extract(
                    model, ds["unseen"].X, layer=layer, device=ctx.device, show_progress=False
                )
                Z = np.vstack([Zt, Zu])
                P = pca_project(Z, Z)
                Pt, Pu = P[: len(Zt)], P[len(Zt) :]
                ax.scatter(*Pt.T, c=ds["test"].y, cmap="tab20", s=5, alpha=0.7, label="seen (test)")
                ax.scatter(
                    *Pu.T, c="0.35", marker="x", s=6, linewidths=0.5, alpha=0.6, label="unseen"
                )
                ax.legend(loc="best", markerscale=2)
            else:
                P = pca_project(Zt, Zt)
                sc = ax.scatter(*P.T, c=ds["test"].y, cmap="tab10", s=5, alpha=0.8)
                if col == 1:
                    fig.colorbar(sc, ax=ax, label="digit")
            ax.set(
                title=f"{name}, {layer}: {'initialisation' if epoch == 0 else f'epoch {epoch}'}",
                xlabel="PC 1",
                ylabel="PC 2",
            )
    ctx.figure(
        fig,
        "pca_embeddings",
        caption="PCA of the penultimate hidden layer on held-out samples, at initialisation (left) and "
        "after training (right). Top: class manifolds, seen classes coloured, unseen classes as grey crosses. "
        "Bottom: digits coloured by class.",
    )
    acc = {}
    for name, cks, ds in panels:
        _, model = cks[-1]
        if name == "manifold":
            seen = ctx.load_arrays("manifold_data")["seen_classes"]
            lut = {int(c): i for i, c in enumerate(seen)}
            y = np.array([lut[int(v)] for v in ds["test"].y])
        else:
            y = ds["test"].y
        acc[name] = accuracy(model, ds["test"].X, y, device=ctx.device)
    ctx.metric("train.final_test_accuracy", acc)


STAGES = [
    Stage(
        "train_manifold",
        train_manifold,
        title="Training on class manifolds",
        metrics=("train.accuracy",),
    ),
    Stage("train_digits", train_digits, title="Training on digits", metrics=("train.accuracy",)),
    Stage(
        "embeddings",
        embeddings,
        title="Training curves and embeddings",
        metrics=("train.final_test_accuracy",),
    ),
]
PANELS = [HASHING, GEOMETRY, CODING_ID, STITCHING, DIFFUSION]

STUDY = Study(
    name="default",
    summary="Train reference MLPs on class manifolds and digits; training curves, embeddings and every analysis panel.",
    stages=[*STAGES, *PANELS],
    config=CONFIG,
    quick=QUICK,
    headline=(
        "train.final_test_accuracy",
        "hashing.one_shot",
        "hashing.invariance_ratio",
        "geometry.boundary_magnification",
        "latent.stitching",
    ),
)
