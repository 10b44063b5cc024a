"""Per-layer panels of ``repgeo analyze``: intrinsic dimension, information, class separation.

* ``dimension`` — TwoNN (Facco et al. 2017) and Levina–Bickel (k neighbours, harmonic mean)
  intrinsic dimension of every layer, on the same random subset of rows
  (``embeddings.twonn``, ``embeddings.levina_bickel``); options ``max_points`` (2000), ``lb_k``
  (20).
* ``information`` — diffusion spectral entropy of every layer (``embeddings.dse``), and with
  labels the MCR² rate reduction ΔR (``embeddings.delta_r``) and DSMI(Z; Y)
  (``embeddings.dsmi``); options ``max_points`` (2000), ``eps2`` (0.5), ``t`` (1),
  ``n_repetitions`` (3).
* ``separation`` (labels) — AUROC of same- vs different-class pairs by cosine and the
  within/between distance ratio (``embeddings.auroc``, ``embeddings.within_between``), and
  N-way k-shot accuracy of a nearest-class-mean classifier over random episodes
  (``embeddings.k_shot`` and ``_ci``); options ``n_pairs`` (20000), ``shots`` ([1, 5]),
  ``n_way`` (5), ``n_query`` (5), ``n_episodes`` (500), ``classes`` (class names the episodes
  draw from — e.g. the classes a model never saw; default all).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..coding import coding_rate_reduction
from ..diffusion import diffusion_spectral_entropy, diffusion_spectral_mutual_information
from ..dimension import levina_bickel, twonn
from ..hashing import k_shot_curve, separation
from ..plots import plot_layer_profiles
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["DIMENSION", "INFORMATION", "SEPARATION", "best_layer"]


def _r(v: Any, digits: int = 4) -> Any:
    return None if v is None or not np.isfinite(v) else round(float(v), digits)


def best_layer(values: dict[str, Any]) -> tuple[str, float]:
    """The layer with the largest value (ties: the earliest).

    Examples
    --------
    >>> from repgeo.panels.embeddings_layers import best_layer
    >>> best_layer({"a": 0.7, "b": 0.9, "c": 0.9})
    ('b', 0.9)
    """
    finite = {k: float(v) for k, v in values.items() if v is not None and np.isfinite(v)}
    if not finite:
        raise ValueError("no layer has a finite value.")
    top = max(finite.values())
    return next(k for k, v in finite.items() if v == top), top


# ----------------------------------------------------------------------------- dimension
def run_dimension(ctx: RunContext, opts: dict[str, Any]) -> None:
    """TwoNN and Levina–Bickel intrinsic dimension per layer."""
    src = _analyze.source(ctx)
    idx = _analyze.rows(src.n_samples, int(opts["max_points"]), ctx.rng("dimension-rows"))
    k = int(opts["lb_k"])
    two, lb = {}, {}
    for layer in ctx.progress(list(src.layers), "intrinsic dimension"):
        Z = src.layers[layer][idx]
        two[layer] = _r(twonn(Z), 3)
        lb[layer] = _r(levina_bickel(Z, min(k, len(idx) - 1), aggregate="harmonic"), 3)
    ctx.metric("embeddings.twonn", two)
    ctx.metric("embeddings.levina_bickel", lb)
    ctx.table(
        "Intrinsic dimension per layer",
        [
            {
                "layer": n,
                "features": src.layers[n].shape[1],
                "TwoNN": two[n],
                "Levina–Bickel": lb[n],
            }
            for n in src.layers
        ],
        caption=f"{len(idx)} of {src.n_samples} samples; Levina–Bickel with k = {k} neighbours "
        "(harmonic mean over points), a cross-check of TwoNN.",
    )
    ctx.figure(
        plot_layer_profiles({"intrinsic dimension": {"TwoNN": two, f"Levina–Bickel (k={k})": lb}}),
        "dimension_layers",
        caption="Intrinsic dimension of each layer: how many directions the samples really vary "
        "in at the scale of nearest neighbours, against the layer's width in the table.",
    )
    lo, hi = min(two, key=lambda n: two[n] or np.inf), max(two, key=lambda n: two[n] or -np.inf)
    ctx.text(
        f"TwoNN intrinsic dimension ranges from {two[lo]} ({lo}) to {two[hi]} ({hi}); the "
        "Levina–Bickel estimate agrees when the two columns are close (both are biased low "
        "when the dimension is large for the number of samples)."
    )


DIMENSION = Panel(
    name="dimension",
    title="Intrinsic dimension per layer",
    fn=run_dimension,
    config={"max_points": 2000, "lb_k": 20},
    quick={"max_points": 500},
    schema={"max_points": Option(type="int", ge=10), "lb_k": Option(type="int", ge=2)},
    metrics=("embeddings.twonn", "embeddings.levina_bickel"),
    requires=("data",),
    summary="TwoNN and Levina–Bickel intrinsic dimension of every layer",
)


# ----------------------------------------------------------------------------- information
def run_information(ctx: RunContext, opts: dict[str, Any]) -> None:
    """DSE per layer; with labels ΔR and DSMI."""
    src = _analyze.source(ctx)
    idx = _analyze.rows(src.n_samples, int(opts["max_points"]), ctx.rng("information-rows"))
    y = None if src.y is None else src.y[idx]
    eps2, t = float(opts["eps2"]), float(opts["t"])
    out: dict[str, dict[str, Any]] = {"dse": {}, "dse_stderr": {}, "delta_r": {}, "dsmi": {}}
    out["dsmi_stderr"] = {}
    for layer in ctx.progress(list(src.layers), "entropy and rate reduction"):
        Z = np.asarray(src.layers[layer][idx], dtype=np.float64)
        seed = ctx.seed_for(f"information-{layer}")
        dse = diffusion_spectral_entropy(Z, t=t, random_state=seed)
        out["dse"][layer], out["dse_stderr"][layer] = _r(dse.entropy), _r(dse.stderr)
        if y is not None:
            out["delta_r"][layer] = _r(coding_rate_reduction(Z, y, eps2=eps2))
            mi = diffusion_spectral_mutual_information(
                Z, y, t=t, n_repetitions=int(opts["n_repetitions"]), random_state=seed
            )
            out["dsmi"][layer], out["dsmi_stderr"][layer] = _r(mi.mi), _r(mi.stderr)
    for key, values in out.items():
        if values:
            ctx.metric(f"embeddings.{key}", values)
    rows = []
    for layer in src.layers:
        row: dict[str, Any] = {"layer": layer, "DSE (bits)": out["dse"][layer]}
        if y is not None:
            row["ΔR (nats)"] = out["delta_r"][layer]
            row["DSMI(Z;Y) (bits)"] = out["dsmi"][layer]
        rows.append(row)
    ctx.table(
        "Entropy and rate reduction per layer",
        rows,
        caption=f"{len(idx)} of {src.n_samples} samples; DSE and DSMI with the median-heuristic "
        f"Gaussian bandwidth, t = {t}; ΔR with ε² = {eps2} on unit-norm rows.",
    )
    profiles: dict[str, dict[str, dict[str, Any]]] = {
        "diffusion spectral entropy (bits)": {"DSE": out["dse"]}
    }
    if y is not None:
        profiles["rate reduction ΔR (nats)"] = {"ΔR": out["delta_r"]}
        profiles["DSMI(Z; Y) (bits)"] = {"DSMI": out["dsmi"]}
    ctx.figure(
        plot_layer_profiles(profiles),
        "information_layers",
        caption="Diffusion spectral entropy (how many diffusion modes the samples spread over), "
        "and with labels the rate reduction ΔR (classes compressed apart) and DSMI (information "
        "the diffusion geometry carries about the class).",
    )
    if y is not None:
        best, v = best_layer(out["delta_r"])
        best_mi, v_mi = best_layer(out["dsmi"])
        ctx.text(
            f"ΔR is largest at {best} ({v:.3f} nats) and DSMI(Z; Y) at {best_mi} ({v_mi:.3f} "
            "bits): there the classes are most compressed individually and spread apart jointly."
        )


INFORMATION = Panel(
    name="information",
    title="Entropy and rate reduction per layer",
    fn=run_information,
    config={"max_points": 2000, "eps2": 0.5, "t": 1.0, "n_repetitions": 3},
    quick={"max_points": 500, "n_repetitions": 2},
    schema={
        "max_points": Option(type="int", ge=10),
        "eps2": Option(type="number", gt=0),
        "t": Option(type="number", gt=0),
    },
    metrics=(
        "embeddings.dse",
        "embeddings.dse_stderr",
        "embeddings.delta_r",
        "embeddings.dsmi",
        "embeddings.dsmi_stderr",
    ),
    requires=("data",),
    summary="diffusion spectral entropy; with labels ΔR and DSMI, per layer",
)


# ----------------------------------------------------------------------------- separation
def _episode_classes(src: Any, classes: list[str]) -> np.ndarray:
    """Rows of the classes the k-shot episodes draw from."""
    if not classes:
        return np.arange(src.n_samples)
    names = src.class_names or [str(c) for c in np.unique(src.y)]
    unknown = [c for c in classes if c not in names]
    if unknown:
        raise ValueError(
            f"separation.classes names {unknown}, which are not among the classes {names[:20]}."
        )
    ids = [names.index(c) for c in classes]
    return np.flatnonzero(np.isin(src.y, ids))


def run_separation(ctx: RunContext, opts: dict[str, Any]) -> None:
    """AUROC, within/between ratio and k-shot accuracy per layer."""
    src = _analyze.source(ctx)
    if src.y is None:
        ctx.text("No labels were given (--labels): class separation is not measured.")
        return
    auroc, ratio = {}, {}
    shots = [int(s) for s in opts["shots"]]
    keep = _episode_classes(src, list(opts["classes"]))
    n_classes = len(np.unique(src.y[keep]))
    n_way = min(int(opts["n_way"]), n_classes)
    acc: dict[str, dict[str, Any]] = {}
    ci: dict[str, dict[str, Any]] = {}
    skipped = ""
    for layer in ctx.progress(list(src.layers), "class separation"):
        Z = src.layers[layer]
        s = separation(Z, src.y, n_pairs=int(opts["n_pairs"]), random_state=ctx.seed_for("pairs"))
        auroc[layer], ratio[layer] = _r(s["auroc"]), _r(s["within_between_ratio"])
        if n_way < 2:
            skipped = "k-shot accuracy needs at least two classes among separation.classes"
            continue
        try:
            curve = k_shot_curve(
                Z[keep], src.y[keep], shots=shots, n_way=n_way, n_query=int(opts["n_query"]),
                n_episodes=int(opts["n_episodes"]), random_state=ctx.seed_for("episodes"),
            )  # fmt: skip
        except ValueError as exc:
            skipped = f"k-shot accuracy skipped: {exc}"
            continue
        acc[layer] = {str(k): _r(r["mean"]) for k, r in curve.items()}
        ci[layer] = {str(k): [_r(r["ci_low"]), _r(r["ci_high"])] for k, r in curve.items()}
    ctx.metric("embeddings.auroc", auroc)
    ctx.metric("embeddings.within_between", ratio)
    if acc:
        ctx.metric("embeddings.k_shot", acc)
        ctx.metric("embeddings.k_shot_ci", ci)
    rows = []
    for layer in src.layers:
        row: dict[str, Any] = {
            "layer": layer,
            "AUROC": auroc[layer],
            "within/between": ratio[layer],
        }
        for k, v in acc.get(layer, {}).items():
            lo, hi = ci[layer][k]
            row[f"{k}-shot"] = f"{v:.3f} [{lo:.3f}, {hi:.3f}]"
        rows.append(row)
    ctx.table(
        "Class separation per layer",
        rows,
        caption=f"AUROC of cosine similarity for same- vs different-class pairs "
        f"({opts['n_pairs']} of each); {n_way}-way k-shot accuracy of the nearest class mean "
        f"(cosine), {opts['n_episodes']} episodes with {opts['n_query']} queries per class, 95 % "
        f"intervals over episodes; episodes drawn from "
        + (f"classes {list(opts['classes'])}" if opts["classes"] else f"all {n_classes} classes")
        + (f". {skipped}." if skipped else "."),
    )
    profiles: dict[str, Any] = {"AUROC (same vs different class)": {"AUROC": auroc}}
    intervals: dict[str, Any] = {}
    reference = {"AUROC (same vs different class)": 0.5}
    if acc:
        title = f"{n_way}-way k-shot accuracy"
        profiles[title] = {
            f"{k}-shot": {layer: acc[layer].get(str(k)) for layer in acc} for k in shots
        }
        intervals[title] = {
            f"{k}-shot": {layer: ci[layer].get(str(k)) for layer in ci} for k in shots
        }
        reference[title] = 1.0 / n_way
    ctx.figure(
        plot_layer_profiles(profiles, intervals, reference=reference),
        "separation_layers",
        caption="How well each layer separates the classes: AUROC of same- vs different-class "
        "cosine similarity (dotted: chance), and few-shot accuracy with 95 % intervals (dotted: "
        "chance).",
    )
    best, v = best_layer(auroc)
    text = f"The classes are best separated at {best} (AUROC {v:.3f})"
    if acc:
        k0 = str(shots[0])
        best_k, vk = best_layer({layer: acc[layer].get(k0) for layer in acc})
        text += f"; {k0}-shot {n_way}-way accuracy is highest at {best_k} ({vk:.3f})"
    ctx.text(text + ".")


SEPARATION = Panel(
    name="separation",
    title="Class separation and few-shot accuracy per layer",
    fn=run_separation,
    config={
        "n_pairs": 20000,
        "shots": [1, 5],
        "n_way": 5,
        "n_query": 5,
        "n_episodes": 500,
        "classes": [],
    },
    quick={"n_pairs": 5000, "n_episodes": 200},
    schema={
        "shots": Option(type="list", items=Option(type="int", ge=1)),
        "n_way": Option(type="int", ge=2),
        "classes": Option(type="list", items=Option(type="str")),
    },
    metrics=(
        "embeddings.auroc",
        "embeddings.within_between",
        "embeddings.k_shot",
        "embeddings.k_shot_ci",
    ),
    requires=("data",),
    summary="same- vs different-class AUROC and k-shot accuracy, per layer (labels)",
)
