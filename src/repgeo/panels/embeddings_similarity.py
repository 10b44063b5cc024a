"""Layer × layer similarity of the analysed embeddings, and against ``--compare`` embeddings.

* Linear CKA between every two layers (:func:`repgeo.latent.similarity_matrix`), with a 95 %
  half-sampling interval (:func:`repgeo.latent.compare_with_intervals`, bias-corrected) for each
  pair of adjacent layers;
* with ``--compare``: linear CKA between every layer of one and every layer of the other; for
  matched layers (same names, else the same relative depth) an interval, and Jaccard@k, MRR@k
  and mean cosine of neighbourhoods made comparable three ways — as they are, by relative
  representations w.r.t. shared anchor samples, after an orthogonal Procrustes map fitted on the
  anchors (:func:`repgeo.latent.pairwise_similarity`).

Metrics: ``embeddings.cka`` / ``_ci``, ``embeddings.cka_cross`` / ``_ci``, ``embeddings.jaccard``,
``embeddings.mrr``, ``embeddings.cosine``.

Options (section ``similarity``): ``max_points`` (rows used for CKA; 0 = all, 4000),
``n_boot`` (half-samples per interval; 0 skips them, 50), ``interval_points`` (rows of each
interval, 1000), ``k`` (neighbours of Jaccard/MRR, 10), ``n_anchors`` (300),
``neighbour_points`` (rows compared by Jaccard/MRR, 2000).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..latent import (
    RelativeProjection,
    compare_with_intervals,
    linear_cka,
    pairwise_similarity,
    similarity_matrix,
)
from ..plots import plot_cross_similarity, plot_similarity_matrices
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["DEFAULTS", "PANEL", "match_layers"]

DEFAULTS: dict[str, Any] = {
    "max_points": 4000,
    "n_boot": 50,
    "interval_points": 1000,
    "k": 10,
    "n_anchors": 300,
    "neighbour_points": 2000,
}
QUICK: dict[str, Any] = {"max_points": 1000, "n_boot": 0, "neighbour_points": 500}


def match_layers(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """Pairs of layers to compare across two models: by name when both have the same layers,
    else by relative depth (first with first, last with last).

    Examples
    --------
    >>> from repgeo.panels.embeddings_similarity import match_layers
    >>> match_layers(["x", "y"], ["y", "x"])
    [('x', 'x'), ('y', 'y')]
    >>> match_layers(["a0", "a1", "a2"], ["b0", "b1", "b2", "b3", "b4"])
    [('a0', 'b0'), ('a1', 'b2'), ('a2', 'b4')]
    """
    if set(a) == set(b):
        return [(n, n) for n in a]
    if len(a) == 1:
        return [(a[0], b[-1])]
    return [(n, b[round(i * (len(b) - 1) / (len(a) - 1))]) for i, n in enumerate(a)]


def _interval(X: np.ndarray, Y: np.ndarray, n_boot: int, seed: int) -> list[float]:
    res = compare_with_intervals(X, Y, measures=("linear_cka",), n_boot=n_boot, random_state=seed)
    r = res["linear_cka"]
    return [round(float(r["low"]), 4), round(float(r["high"]), 4)]


def _r(v: Any) -> Any:
    return None if v is None else round(float(v), 4)


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """CKA between layers (and models), intervals, neighbourhood agreement."""
    src = _analyze.source(ctx)
    names = list(src.layers)
    n = src.n_samples
    idx = _analyze.rows(n, int(opts["max_points"]), ctx.rng("similarity-rows"))
    S, _ = similarity_matrix({k: src.layers[k][idx] for k in names}, metric="linear_cka")
    ctx.metric(
        "embeddings.cka",
        {a: {b: _r(S[i, j]) for j, b in enumerate(names)} for i, a in enumerate(names)},
    )
    n_boot = int(opts["n_boot"])
    sub = _analyze.rows(n, int(opts["interval_points"]), ctx.rng("similarity-interval-rows"))
    rows = []
    cis: dict[str, dict[str, list[float]]] = {}
    for i in range(len(names) - 1):
        a, b = names[i], names[i + 1]
        row: dict[str, Any] = {"layer": a, "next layer": b, "linear CKA": _r(S[i, i + 1])}
        if n_boot > 0:
            ci = _interval(src.layers[a][sub], src.layers[b][sub], n_boot, ctx.seed_for(f"ci-{a}"))
            cis.setdefault(a, {})[b] = ci
            row["95 % interval"] = f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        rows.append(row)
    if cis:
        ctx.metric("embeddings.cka_ci", cis)
    ctx.figure(
        plot_similarity_matrices({f"{src.name}: layer × layer linear CKA": (S, names)}, vmin=None),
        "similarity_layers",
        caption=f"Linear CKA between the layers ({len(idx)} of {n} samples; 1 on the diagonal).",
    )
    where = f"on {len(idx)} of {n} samples" if len(idx) < n else f"on all {n} samples"
    how = (
        f"95 % half-sampling intervals ({n_boot} half-samples of {len(sub)} random rows, "
        "bias-corrected: linear CKA is biased upwards by about features / samples, and the "
        "interval estimates the value without that bias, so it may lie below the number)"
        if n_boot > 0
        else "no intervals (n_boot = 0, e.g. --quick)"
    )
    if rows:
        ctx.table("Adjacent layers: linear CKA", rows, caption=f"CKA {where}; {how}.")
    if src.compare is None:
        ctx.text(
            "Linear CKA (Kornblith et al. 2019) compares two layers up to rotation and isotropic "
            f"scaling; a high value between adjacent layers means the step changes little. {how[0].upper() + how[1:]}."
        )
        return
    _compare(ctx, opts, src, names, idx)


def _compare(ctx: RunContext, opts: dict[str, Any], src: Any, names: list[str], idx: Any) -> None:
    other = list(src.compare)
    C = np.array(
        [[linear_cka(src.layers[a][idx], src.compare[b][idx]) for b in other] for a in names]
    )
    ctx.metric(
        "embeddings.cka_cross",
        {a: {b: _r(C[i, j]) for j, b in enumerate(other)} for i, a in enumerate(names)},
    )
    ctx.figure(
        plot_cross_similarity(
            C,
            names,
            other,
            title="linear CKA across models",
            ylabel=src.name,
            xlabel=src.compare_name,
            vmin=None,
        ),
        "similarity_cross",
        caption=f"Linear CKA between each layer of {src.name} (rows) and of {src.compare_name} "
        f"(columns), {len(idx)} samples.",
    )
    n = src.n_samples
    rng = ctx.rng("similarity-anchors")
    n_anchors = min(int(opts["n_anchors"]), max(n // 2, 1))
    perm = rng.permutation(n)
    anchors_rows = np.sort(perm[:n_anchors])
    rest = perm[n_anchors:]
    test_rows = np.sort(rest[: int(opts["neighbour_points"])]) if len(rest) else anchors_rows
    k = min(int(opts["k"]), len(test_rows) - 1)
    n_boot = int(opts["n_boot"])
    sub = _analyze.rows(n, int(opts["interval_points"]), ctx.rng("similarity-interval-rows"))
    rows, cis = [], {}
    retrieval: dict[str, dict[str, dict[str, Any]]] = {"jaccard": {}, "mrr": {}, "cosine": {}}
    for a, b in match_layers(names, other):
        X, Y = src.layers[a], src.compare[b]
        sim = pairwise_similarity(
            {"x": X[anchors_rows], "y": Y[anchors_rows]},
            {"x": X[test_rows], "y": Y[test_rows]},
            np.arange(len(anchors_rows)),
            relative=RelativeProjection(transforms="center"),
            k=max(k, 1),
            random_state=ctx.seed_for("similarity-rbf"),
        )[("x", "y")]
        pair = f"{a}|{b}"
        for key in retrieval:
            retrieval[key][pair] = {m: _r(v) for m, v in sim[key].items()}
        row = {
            "layer": a,
            "compare layer": b,
            "linear CKA": _r(C[names.index(a), other.index(b)]),
            "Jaccard abs.": retrieval["jaccard"][pair]["absolute"],
            "Jaccard rel.": retrieval["jaccard"][pair]["relative"],
            "Jaccard Procr.": retrieval["jaccard"][pair]["procrustes"],
            "MRR rel.": retrieval["mrr"][pair]["relative"],
            "MRR Procr.": retrieval["mrr"][pair]["procrustes"],
        }
        if n_boot > 0:
            ci = _interval(X[sub], Y[sub], n_boot, ctx.seed_for(f"ci-cross-{a}"))
            cis.setdefault(a, {})[b] = ci
            row["CKA 95 % interval"] = f"[{ci[0]:.3f}, {ci[1]:.3f}]"
        rows.append(row)
    for key, values in retrieval.items():
        ctx.metric(f"embeddings.{key}", values)
    if cis:
        ctx.metric("embeddings.cka_cross_ci", cis)
    ctx.table(
        f"Matched layers: {src.name} vs {src.compare_name}",
        [{k: ("n/a" if v is None else v) for k, v in r.items()} for r in rows],
        caption=f"Jaccard@{k} / MRR@{k} of {len(test_rows)} samples' neighbourhoods; relative "
        f"representations (centred cosine) and Procrustes w.r.t. {len(anchors_rows)} shared "
        "anchor samples; absolute only where the dimensions agree.",
    )
    ctx.text(
        "Layers are matched by name when both sets of embeddings have the same layers, else by "
        "relative depth. Absolute neighbourhoods agree only if the coordinates do; relative "
        "representations and a Procrustes map recover spaces that differ by a rotation "
        "(Moschella et al. 2023)."
    )


PANEL = Panel(
    name="similarity",
    title="Similarity of layers (and models)",
    fn=run,
    config=DEFAULTS,
    quick=QUICK,
    schema={
        "max_points": Option(type="int", ge=0, doc="rows used for CKA; 0 = all"),
        "n_boot": Option(type="int", ge=0, doc="half-samples per interval; 0 = none"),
        "interval_points": Option(type="int", ge=8),
        "neighbour_points": Option(type="int", ge=8),
    },
    metrics=(
        "embeddings.cka",
        "embeddings.cka_ci",
        "embeddings.cka_cross",
        "embeddings.cka_cross_ci",
        "embeddings.jaccard",
        "embeddings.mrr",
        "embeddings.cosine",
    ),
    requires=("data",),
    summary="layer × layer linear CKA with intervals; across models with --compare",
)
