"""Latent-space communication panel: zero-shot stitching and cross-space similarity of two seeds.

The default study's trained digits MLP and a second one with the same architecture and training
recipe from another seed are two latent spaces of the same images (their last hidden layers). A
linear head trained on one space is fed the other's test embeddings: as they are (absolute),
through relative representations w.r.t. the same anchor images (centred cosine), or after an
orthogonal Procrustes map fitted on the anchors. The two spaces are also compared directly.

Metrics
-------
``latent.stitching``
    ``{"digits": {method: accuracy}}``, the mean test accuracy over the two stitched directions,
    methods ``absolute``, ``relative``, ``procrustes``;
``latent.jaccard`` / ``latent.mrr`` / ``latent.cosine``
    ``{"digits": {"default model|second seed": {method: value}}}`` (test set, k = ``k``);
``latent.cka``
    ``{"digits": {"default model|second seed": {"linear": v, "rbf": v}}}``;
``latent.cka_ci``
    ``{"digits": {"default model|second seed": [low, high]}}``, the 95 % half-sampling interval
    of the linear CKA (:func:`repgeo.latent.compare_with_intervals`, bias-corrected), written when
    ``n_boot > 0``.

Options (section ``stitching``): ``max_epochs`` (at most this many epochs for the second model,
200), ``n_anchors`` (uniform anchors, 300), ``k`` (neighbourhood size of Jaccard/MRR, 10),
``n_boot`` (half-samples of the CKA interval, 50; 0 skips it), ``interval_points`` (test rows
the interval resamples, 1000).

:data:`PANEL` is the default study's stage; :func:`report_stitching` writes the same section for
any spaces (the ``stitching`` study uses its pieces: :func:`similarity_rows`,
:func:`write_similarity`); the computations are :func:`repgeo.latent.stitching_matrices` and
:func:`repgeo.latent.pairwise_similarity`, the figure :func:`repgeo.plots.plot_stitching_matrices`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..features import extract
from ..latent import (
    COMPARISON_METHODS,
    RelativeProjection,
    compare_with_intervals,
    pairwise_similarity,
    select_anchors,
    stitching_matrices,
)
from ..models import TrainConfig, build_model, hidden_layers, train
from ..plots import plot_stitching_matrices
from ..runs import Option, Panel, RunContext
from ._common import checkpoints, datasets

__all__ = [
    "METHODS",
    "METHOD_LABELS",
    "PANEL",
    "report_stitching",
    "rounded_similarity",
    "similarity_rows",
    "write_similarity",
]

METHODS = COMPARISON_METHODS
METHOD_LABELS = {
    "absolute": "absolute",
    "relative": "relative (centred cosine)",
    "procrustes": "Procrustes-aligned",
}
DEFAULTS: dict[str, Any] = {
    "max_epochs": 200,
    "n_anchors": 300,
    "k": 10,
    "n_boot": 50,
    "interval_points": 1000,
}
_RETRIEVAL = ("jaccard", "mrr", "cosine")


def rounded_similarity(
    sim: Mapping[tuple[str, str], Mapping[str, Any]], digits: int = 4
) -> dict[str, dict[str, Any]]:
    """:func:`repgeo.latent.pairwise_similarity` with ``"a|b"`` keys and values rounded."""

    def r(v: Any) -> Any:
        return None if v is None else round(v, digits)

    return {
        f"{a}|{b}": {
            **{key: {m: r(v) for m, v in rec[key].items()} for key in _RETRIEVAL},
            "cka_linear": r(rec["cka_linear"]),
            "cka_rbf": r(rec["cka_rbf"]),
        }
        for (a, b), rec in sim.items()
    }


def write_similarity(ctx: RunContext, dataset: str, sim: Mapping[str, Mapping[str, Any]]) -> None:
    """``latent.jaccard`` / ``latent.mrr`` / ``latent.cosine`` / ``latent.cka`` of one dataset."""
    for key in _RETRIEVAL:
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


def similarity_rows(sim: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table row per pair of :func:`rounded_similarity` ("n/a": undefined)."""
    rows = []
    for pair, rec in sim.items():
        row: dict[str, Any] = {"pair": pair.replace("|", " vs ")}
        for key in _RETRIEVAL:
            for m in METHODS:
                v = rec[key][m]
                row[f"{key} {m[:3]}."] = "n/a" if v is None else v
        row["linear CKA"] = rec["cka_linear"]
        if "cka_linear_ci" in rec:
            low, high = rec["cka_linear_ci"]
            row["linear CKA 95 % interval"] = f"[{low:.3f}, {high:.3f}]"
        row["RBF CKA"] = rec["cka_rbf"]
        rows.append(row)
    return rows


def report_stitching(
    ctx: RunContext,
    spaces_train: Mapping[str, np.ndarray],
    y_train: np.ndarray,
    spaces_test: Mapping[str, np.ndarray],
    y_test: np.ndarray,
    *,
    dataset: str,
    n_anchors: int = 300,
    k: int = 10,
    prefix: str = "latent_panel",
    title: str | None = None,
    n_boot: int = 0,
    interval_points: int = 1000,
) -> dict[str, float]:
    """Stitching matrices, similarity table and metrics of a few spaces of the same samples.

    Uniform anchors (``ctx.seed_for(f"{prefix}-anchors")``), centred-cosine relative
    representations; writes the figure ``<prefix>_stitching``, two tables, ``latent.stitching``
    and the similarity keys under ``dataset``; with ``n_boot > 0`` also the 95 % half-sampling
    interval of each pair's linear CKA on at most ``interval_points`` test rows
    (``latent.cka_ci``, a table column). Returns ``{method: mean stitched accuracy}``.
    """
    n_anchors = min(n_anchors, len(y_train))
    anchors = select_anchors(
        next(iter(spaces_train.values())), n_anchors, random_state=ctx.seed_for(f"{prefix}-anchors")
    )
    rel = RelativeProjection(transforms="center")
    results = stitching_matrices(
        spaces_train, y_train, spaces_test, y_test, anchors=anchors, relative=rel
    )
    ctx.figure(
        plot_stitching_matrices(
            results,
            labels=METHOD_LABELS,
            title=title or f"{dataset}: zero-shot stitching between two seeds",
        ),
        f"{prefix}_stitching",
        caption=f"Head trained on the column model, fed the row model's test embeddings; {n_anchors} uniform anchors. "
        "Absolute latents of another seed are unreadable to the head; relative representations and a Procrustes "
        "map fitted on the anchors make them readable without retraining.",
    )
    summary = {m: round(results[m].off_diagonal_mean(), 4) for m in METHODS}
    sim = rounded_similarity(
        pairwise_similarity(
            spaces_train,
            spaces_test,
            anchors,
            relative=rel,
            k=k,
            random_state=ctx.seed_for(f"{prefix}-rbf"),
        )
    )
    intervals: dict[str, list[float]] = {}
    if n_boot > 0:
        n_test = len(y_test)
        rows = np.sort(
            ctx.rng(f"{prefix}-interval-rows").choice(
                n_test, size=min(n_test, int(interval_points)), replace=False
            )
        )
        for (a, b), pair in zip(_pairs(spaces_test), sim, strict=True):
            res = compare_with_intervals(
                spaces_test[a][rows],
                spaces_test[b][rows],
                measures=("linear_cka",),
                n_boot=n_boot,
                random_state=ctx.seed_for(f"{prefix}-ci-{pair}"),
            )["linear_cka"]
            intervals[pair] = [round(float(res["low"]), 4), round(float(res["high"]), 4)]
            sim[pair]["cka_linear_ci"] = intervals[pair]
    ctx.table(
        f"{dataset}: stitching accuracy (mean over the two stitched directions)",
        [{"method": METHOD_LABELS[m], "accuracy": summary[m]} for m in METHODS],
    )
    caption = f"{dataset}: cross-space similarity (test set, k={k})"
    if intervals:
        caption += (
            f"; linear CKA with its 95 % half-sampling interval ({n_boot} half-samples of "
            f"{len(rows)} test rows; bias-corrected, so it may lie below the number)"
        )
    ctx.table(caption, similarity_rows(sim))
    ctx.metric("latent.stitching", {dataset: summary})
    write_similarity(ctx, dataset, sim)
    if intervals:
        ctx.metric("latent.cka_ci", {dataset: intervals})
    return summary


def _pairs(spaces: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The pairs of :func:`repgeo.latent.pairwise_similarity`, in its order."""
    names = list(spaces)
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Train a second digits MLP from another seed and compare its embedding layer with the
    default model's (about 5–10 s on 2 CPU cores)."""
    ds = datasets(ctx, "digits")
    _, model_a = checkpoints(ctx, "digits")[-1]
    layer = hidden_layers(model_a)[-1]
    tcfg = dict(ctx.config.get("digits_train", {}))
    tcfg["epochs"] = int(min(int(tcfg.get("epochs", 60)), int(opts["max_epochs"])))
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
    models = {"default model": model_a, "second seed": model_b}
    spaces = {
        split: {
            name: extract(m, ds[split].X, layer=layer, device=ctx.device, show_progress=False)
            for name, m in models.items()
        }
        for split in ("train", "test")
    }
    ctx.text(
        f"A second digits MLP ({model_a.config['widths']}, {model_a.config['activation']}) trained from another seed for "
        f"{tcfg['epochs']} epochs (test accuracy {hist['val_acc'][-1]:.3f}, {time.perf_counter() - t0:.1f} s). "
        f"Its layer {layer!r} and the default model's are two latent spaces of the same digits."
    )
    s = report_stitching(
        ctx,
        spaces["train"],
        ds["train"].y,
        spaces["test"],
        ds["test"].y,
        dataset="digits",
        n_anchors=int(opts["n_anchors"]),
        k=int(opts["k"]),
        n_boot=int(opts["n_boot"]),
        interval_points=int(opts["interval_points"]),
    )
    ctx.text(
        f"Stitched accuracy: absolute {s['absolute']:.2f}, relative {s['relative']:.2f}, Procrustes {s['procrustes']:.2f}."
    )


PANEL = Panel(
    name="stitching",
    title="Latent-space communication: zero-shot stitching",
    fn=run,
    config=DEFAULTS,
    metrics=(
        "latent.stitching",
        "latent.jaccard",
        "latent.mrr",
        "latent.cosine",
        "latent.cka",
        "latent.cka_ci",
    ),
    requires=("train_digits",),
    schema={
        "n_boot": Option(type="int", ge=0, doc="half-samples of the CKA interval; 0 = none"),
        "interval_points": Option(type="int", ge=10, doc="test rows the interval resamples"),
    },
    summary="absolute vs relative vs Procrustes stitching of two digits MLPs, similarity",
)
