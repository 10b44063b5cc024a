"""Manifold-hashing figures: separation histograms, invariance and AUROC over training, collision
curves, one-shot accuracy against baselines, vs the number of training classes and vs shots.

Every function takes results or arrays (what :mod:`repgeo.hashing` returns, or the run
directory's ``metrics.json`` regrouped) and returns a matplotlib Figure. Functions that draw
one panel take ``ax=`` to draw into an existing axes (and return its figure).

=============================== ======================================================
function                        input
=============================== ======================================================
plot_separation_histograms      :func:`repgeo.hashing.separation_snapshots` per dataset
plot_hashing_over_training      :func:`repgeo.hashing.analyse_checkpoints` rows per dataset
plot_collision_curves           :func:`repgeo.hashing.collision_curve` per embedding
plot_one_shot_bars              :func:`repgeo.hashing.one_shot_baselines`
plot_one_shot_vs_classes        one-shot accuracies of models trained on C classes
plot_k_shot_curves              :func:`repgeo.hashing.k_shot_baselines`
plot_one_shot_transfer          the two above, one column per dataset
plot_hashing_panel              invariance, AUROC and one-shot bars in one row
=============================== ======================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..hashing import simhash_collision_probability
from ._style import new_figure

__all__ = [
    "plot_collision_curves",
    "plot_hashing_over_training",
    "plot_hashing_panel",
    "plot_k_shot_curves",
    "plot_one_shot_bars",
    "plot_one_shot_transfer",
    "plot_one_shot_vs_classes",
    "plot_separation_histograms",
]

# what plot_hashing_over_training can draw: axis labels and (row key, style, legend) per line
_QUANTITIES: dict[str, dict[str, Any]] = {
    "invariance": {
        "title": "invariance ratio",
        "ylabel": "‖∂h/∂θ‖ / ‖∂h/∂γ‖ (normalised)",
        "lines": (("inv_seen", "-o", "{layer} seen"), ("inv_unseen", "--", "{layer} unseen")),
        "reference": 1.0,
    },
    "auroc": {
        "title": "separation",
        "ylabel": "AUROC same vs different γ",
        "lines": (
            ("auroc_seen", "-o", "{layer} seen"),
            ("auroc_unseen", "--", "{layer} unseen"),
        ),
    },
    "recoverability": {
        "title": "recoverability",
        "ylabel": "held-out ridge R²",
        "lines": (
            ("r2_gamma", "-o", "{layer}: γ"),
            ("r2_gamma_new", "--", "{layer}: γ, new classes"),
            ("r2_theta", ":", "{layer}: θ"),
        ),
    },
    "rank": {
        "title": "effective rank",
        "ylabel": "effective rank (unseen)",
        "lines": (("erank", "-o", "{layer}"),),
    },
}
_BASELINES = ("trained", "untrained", "raw", "pca")
_DISPLAY = {"raw": "raw input"}


def _nonempty(results: Any, name: str) -> None:
    if not isinstance(results, Mapping) or not results:
        raise ValueError(f"{name} must be a non-empty mapping; got {results!r:.80}.")


def _figure_or_axes(ax: Any, size: tuple[float, float]) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = new_figure(1, 1, size=size)
        return fig, ax
    return ax.figure, ax


# ----------------------------------------------------------------------------- separation
def plot_separation_histograms(
    snapshots: Mapping[str, Mapping[int, Mapping[str, Mapping[str, Any]]]],
    *,
    layers: str | Mapping[str, str] | None = None,
) -> Any:
    """Cosine similarity of same- and different-class pairs, one row per dataset, one column
    per checkpoint.

    Parameters
    ----------
    snapshots : mapping of str to dict
        ``{label: {epoch: {"seen": sims, "unseen": sims}}}`` with ``sims`` holding ``cos_same``
        and ``cos_diff`` arrays — :func:`repgeo.hashing.separation_snapshots` per dataset.
        Same-class pairs are drawn as lines, different-class pairs shaded; seen classes in
        blue, unseen in red.
    layers : str or mapping of str to str, optional
        The layer shown (per label), for the titles.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.plots import plot_separation_histograms
    >>> rng = np.random.default_rng(0)
    >>> sims = {"cos_same": rng.uniform(0.5, 1, 100), "cos_diff": rng.uniform(-0.2, 0.6, 100)}
    >>> fig = plot_separation_histograms({"manifolds": {0: {"seen": sims}, 10: {"seen": sims}}},
    ...                                  layers="act2")
    >>> len(fig.axes)
    2
    """
    _nonempty(snapshots, "snapshots")
    for label, snap in snapshots.items():
        _nonempty(snap, f"snapshots[{label!r}]")
        for epoch, tags in snap.items():
            _nonempty(tags, f"snapshots[{label!r}][{epoch!r}]")
            for tag, sims in tags.items():
                missing = {"cos_same", "cos_diff"} - set(sims)
                if missing:
                    raise ValueError(
                        f"snapshots[{label!r}][{epoch!r}][{tag!r}] lacks {sorted(missing)}; "
                        "expected what repgeo.hashing.pair_similarities returns."
                    )
    ncols = max(len(s) for s in snapshots.values())
    nrows = len(snapshots)
    fig, axes = new_figure(nrows, ncols, size=(4.0 * ncols, 2.8 * nrows), squeeze=False)
    colours = {"seen": "C0", "unseen": "C3"}
    for r, (label, snap) in enumerate(snapshots.items()):
        layer = layers.get(label) if isinstance(layers, Mapping) else layers
        diffs = [np.asarray(s["cos_diff"]) for tags in snap.values() for s in tags.values()]
        lo = min((float(d.min()) for d in diffs if d.size), default=-1.0)
        bins = np.linspace(max(-1.0, np.floor(lo * 10) / 10), 1.0, 61)
        for c, (epoch, tags) in enumerate(snap.items()):
            ax = axes[r, c]
            for i, (tag, sims) in enumerate(tags.items()):
                colour = colours.get(tag, f"C{i + 4}")
                ax.hist(
                    np.asarray(sims["cos_same"]),
                    bins=bins,
                    density=True,
                    histtype="step",
                    color=colour,
                    label=f"{tag}: same γ",
                )
                ax.hist(
                    np.asarray(sims["cos_diff"]),
                    bins=bins,
                    density=True,
                    histtype="stepfilled",
                    alpha=0.25,
                    color=colour,
                    label=f"{tag}: different γ",
                )
            when = "initialisation" if int(epoch) == 0 else f"epoch {epoch}"
            where = f"{label}, {layer}" if layer else f"{label}"
            ax.set(title=f"{where}: {when}", xlabel="cosine similarity", ylabel="density")
            if r == 0 and c == 0:
                ax.legend(loc="upper left")
        for c in range(len(snap), ncols):
            axes[r, c].axis("off")
    return fig


# ----------------------------------------------------------------------------- over training
def _check_rows(rows: Any, quantities: Sequence[str], name: str) -> None:
    if not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"{name} must be a non-empty list of rows (analyse_checkpoints).")
    for q in quantities:
        keys = [k for k, _, _ in _QUANTITIES[q]["lines"]]
        missing = sorted({k for r in rows for k in [*keys, "epoch", "layer"] if k not in r})
        if missing:
            raise ValueError(
                f"{name}: drawing {q!r} needs the row keys {missing}; measure it in "
                "analyse_checkpoints."
            )


def _draw_quantity(ax: Any, rows: Sequence[Mapping[str, Any]], quantity: str, title: str) -> None:
    spec = _QUANTITIES[quantity]
    for li, layer in enumerate(dict.fromkeys(r["layer"] for r in rows)):
        lr = [r for r in rows if r["layer"] == layer]
        epx = np.maximum([r["epoch"] for r in lr], 0.5)  # epoch 0 drawn at 0.5 on the log axis
        for key, fmt, legend in spec["lines"]:
            extra = {"ms": 3} if "o" in fmt else {}
            ax.plot(
                epx,
                [r[key] for r in lr],
                fmt,
                color=f"C{li}",
                label=legend.format(layer=layer),
                **extra,
            )
    if "reference" in spec:
        ax.axhline(spec["reference"], color="0.6", lw=0.8)
    ax.set(xscale="log", xlabel="epoch (0 at 0.5)", ylabel=spec["ylabel"], title=title)
    ax.legend(fontsize=6)


def plot_hashing_over_training(
    results: Mapping[str, Sequence[Mapping[str, Any]]],
    *,
    quantities: Sequence[str] = ("invariance", "auroc", "recoverability"),
) -> Any:
    """Hashing measures per hidden layer over training: one row per dataset, one column per
    quantity.

    Parameters
    ----------
    results : mapping of str to list of dict
        ``{label: rows}`` with the rows of :func:`repgeo.hashing.analyse_checkpoints`. Each
        layer has its colour; seen classes solid, unseen dashed.
    quantities : sequence of str, default=("invariance", "auroc", "recoverability")
        Columns, from ``"invariance"`` (ratio g_θ/g_γ, grey line at 1 = like the input),
        ``"auroc"`` (same vs different class), ``"recoverability"`` (ridge R² of γ on held-out
        samples and classes, of θ) and ``"rank"`` (effective rank).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_hashing_over_training
    >>> rows = [{"epoch": e, "layer": "act1", "inv_seen": 1 / (1 + e), "inv_unseen": 1.0,
    ...          "auroc_seen": 0.6 + e / 40, "auroc_unseen": 0.6} for e in (0, 5, 10)]
    >>> fig = plot_hashing_over_training({"manifolds": rows}, quantities=("invariance", "auroc"))
    >>> len(fig.axes), len(fig.axes[0].lines)
    (2, 3)
    """
    _nonempty(results, "results")
    quantities = list(quantities)
    unknown = [q for q in quantities if q not in _QUANTITIES]
    if unknown or not quantities:
        raise ValueError(
            f"quantities must be a non-empty subset of {tuple(_QUANTITIES)}; got {quantities}."
        )
    for label, rows in results.items():
        _check_rows(rows, quantities, f"results[{label!r}]")
    n = len(results)
    size = (11.0 * len(quantities) / 3, 2.9 * n)
    fig, axes = new_figure(n, len(quantities), size=size, squeeze=False)
    for r, (label, rows) in enumerate(results.items()):
        for c, q in enumerate(quantities):
            title = _QUANTITIES[q]["title"]
            _draw_quantity(axes[r, c], rows, q, f"{label}: {title}" if c == 0 else title)
    return fig


# ----------------------------------------------------------------------------- collisions
def plot_collision_curves(curves: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Any:
    """SimHash collision rate against the angle between the pairs' γ's, one panel per dataset,
    with the rate of hashing γ itself, (1 − ∠/π)^m.

    Parameters
    ----------
    curves : mapping of str to dict
        ``{title: {embedding: curve}}`` with ``curve`` what :func:`repgeo.hashing.collision_curve`
        returns (``angle``, ``rate``, ``n_bits`` and, when labels were given, ``same_rate``).
        All curves share ``n_bits``. The embedding ``"raw"`` is labelled "raw input".

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.hashing import collision_curve
    >>> from repgeo.plots import plot_collision_curves
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(8), 5)
    >>> gamma = rng.normal(size=(8, 3))[y]
    >>> Z = np.hstack([gamma, 0.1 * rng.normal(size=(40, 2))])
    >>> c = collision_curve(Z, reference=gamma, y=y, n_bits=4, n_pairs=200)
    >>> fig = plot_collision_curves({"unseen classes": {"net": c}})
    >>> len(fig.axes), len(fig.axes[0].lines)
    (1, 2)
    """
    _nonempty(curves, "curves")
    bits = set()
    for title, per in curves.items():
        _nonempty(per, f"curves[{title!r}]")
        for name, cv in per.items():
            missing = {"angle", "rate", "n_bits"} - set(cv)
            if missing:
                raise ValueError(
                    f"curves[{title!r}][{name!r}] lacks {sorted(missing)}; expected what "
                    "repgeo.hashing.collision_curve returns."
                )
            bits.add(int(cv["n_bits"]))
    if len(bits) != 1:
        raise ValueError(f"every curve must use the same n_bits; got {sorted(bits)}.")
    m = bits.pop()
    n = len(curves)
    fig, axes = new_figure(1, n, size=(4.2 * n, 3.3), squeeze=False)
    grid = np.linspace(0, np.pi, 100)
    for ax, (title, per) in zip(axes[0], curves.items()):
        for i, (name, cv) in enumerate(per.items()):
            label = _DISPLAY.get(name, name)
            if "same_rate" in cv:
                label += f" (same γ: {cv['same_rate']:.2f})"
            ax.plot(cv["angle"], cv["rate"], "-o", ms=3, color=f"C{i}", label=label)
        ax.plot(
            grid,
            simhash_collision_probability(grid, m),
            "k--",
            lw=1,
            label=f"SimHash of γ: (1−∠/π)^{m}",
        )
        ax.set(
            yscale="log",
            ylim=(1e-4, 1.2),
            xlabel="angle between γ's (rad)",
            ylabel=f"P(all {m} bits collide)",
            title=title,
        )
        ax.legend(fontsize=6, loc="lower left")
    return fig


# ----------------------------------------------------------------------------- one-shot
def _check_results(results: Any, name: str, keys: Sequence[str]) -> None:
    _nonempty(results, name)
    for k, v in results.items():
        missing = set(keys) - set(v)
        if missing:
            raise ValueError(
                f"{name}[{k!r}] lacks {sorted(missing)}; expected what "
                "repgeo.hashing.one_shot_accuracy returns."
            )


def plot_one_shot_bars(results: Mapping[str, Mapping[str, Any]], *, ax: Any = None) -> Any:
    """N-way 1-shot accuracy of several embeddings as bars with their intervals, and chance.

    Parameters
    ----------
    results : mapping of str to dict
        ``{embedding: result}`` — :func:`repgeo.hashing.one_shot_baselines` (``mean``,
        ``ci_high``, ``chance``, ``n_way``).
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_one_shot_bars
    >>> res = {k: {"mean": m, "ci_high": m + 0.02, "chance": 0.1, "n_way": 10}
    ...        for k, m in (("trained", 0.8), ("raw", 0.4))}
    >>> fig = plot_one_shot_bars(res)
    >>> len(fig.axes[0].patches)
    2
    """
    _check_results(results, "results", ("mean", "ci_high", "chance", "n_way"))
    fig, ax = _figure_or_axes(ax, (3.6, 3.0))
    names = list(results)
    first = results[names[0]]
    ax.bar(
        names,
        [results[k]["mean"] for k in names],
        yerr=[results[k]["ci_high"] - results[k]["mean"] for k in names],
        color=[f"C{i}" for i in range(len(names))],
        capsize=3,
    )
    ax.axhline(first["chance"], color="0.5", ls=":", lw=1)
    ax.set(ylim=(0, 1.02), ylabel=f"{first['n_way']}-way 1-shot accuracy", title="unseen classes")
    return fig


def plot_one_shot_vs_classes(
    points: Sequence[Mapping[str, Any]],
    *,
    chance: float | None = None,
    title: str = "one-shot vs classes",
    keys: Sequence[str] = _BASELINES,
    ax: Any = None,
) -> Any:
    """1-shot accuracy on unseen classes against the number of classes the network was trained
    on, for the trained network and its baselines.

    Parameters
    ----------
    points : sequence of dict
        One per model: ``n_train_classes`` and the accuracy of each of ``keys`` (the
        ``hashing.sweep`` entries of models that differ only in their number of classes).
    chance : float, optional
        Drawn as a dotted line.
    title : str, default="one-shot vs classes"
    keys : sequence of str, default=("trained", "untrained", "raw", "pca")
        Lines, in colours C0, C1, ...
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_one_shot_vs_classes
    >>> pts = [{"n_train_classes": c, "trained": a, "raw": 0.3} for c, a in ((5, 0.4), (20, 0.7))]
    >>> fig = plot_one_shot_vs_classes(pts, chance=0.1, keys=("trained", "raw"))
    >>> len(fig.axes[0].lines)
    3
    """
    if not isinstance(points, Sequence) or not points:
        raise ValueError("points must be a non-empty list of dicts (one per model).")
    keys = list(keys)
    missing = sorted({k for p in points for k in ["n_train_classes", *keys] if k not in p})
    if missing:
        raise ValueError(f"every point needs n_train_classes and {keys}; missing {missing}.")
    fig, ax = _figure_or_axes(ax, (4.3, 3.2))
    pts = sorted(points, key=lambda p: p["n_train_classes"])
    x = [p["n_train_classes"] for p in pts]
    for i, key in enumerate(keys):
        ax.plot(x, [p[key] for p in pts], "-o", ms=3, color=f"C{i}", label=key)
    if chance is not None:
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    ax.set(
        xscale="log",
        xlabel="training classes",
        ylabel="1-shot accuracy (unseen)",
        title=title,
        ylim=(0, 1.02),
    )
    ax.set_xticks(x, [str(v) for v in x])
    ax.minorticks_off()
    ax.legend(fontsize=6)
    return fig


def plot_k_shot_curves(
    curves: Mapping[str, Mapping[int, Mapping[str, Any]]],
    *,
    title: str = "k-shot",
    ax: Any = None,
) -> Any:
    """N-way accuracy against the number of shots per class, with 95 % intervals and chance.

    Parameters
    ----------
    curves : mapping of str to dict
        ``{embedding: {k: result}}`` — :func:`repgeo.hashing.k_shot_baselines` (each result
        with ``mean``, ``ci_high``, ``n_way``). The x ticks are the first curve's shots.
    title : str, default="k-shot"
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_k_shot_curves
    >>> cv = {k: {"mean": m, "ci_high": m + 0.03, "n_way": 5} for k, m in ((1, 0.5), (5, 0.8))}
    >>> fig = plot_k_shot_curves({"trained": cv, "raw": cv})
    >>> len(fig.axes[0].containers), len(fig.axes[0].get_legend().texts)
    (2, 3)
    """
    _nonempty(curves, "curves")
    for name, cv in curves.items():
        _check_results(cv, f"curves[{name!r}]", ("mean", "ci_high", "n_way"))
    fig, ax = _figure_or_axes(ax, (4.3, 3.2))
    first = next(iter(curves.values()))
    n_way = int(next(iter(first.values()))["n_way"])
    for i, (name, cv) in enumerate(curves.items()):
        ks = sorted(cv)
        mean = np.array([cv[k]["mean"] for k in ks])
        err = np.array([cv[k]["ci_high"] - cv[k]["mean"] for k in ks])
        ax.errorbar(ks, mean, yerr=err, fmt="-o", ms=3, capsize=2, color=f"C{i}", label=name)
    ax.axhline(1.0 / n_way, color="0.5", ls=":", lw=1, label="chance")
    ax.set(
        xscale="log",
        xlabel="shots per class (k)",
        ylabel=f"{n_way}-way accuracy",
        title=title,
        ylim=(0, 1.02),
    )
    ax.set_xticks(sorted(first), [str(k) for k in sorted(first)])
    ax.minorticks_off()
    ax.legend(fontsize=6)
    return fig


def plot_one_shot_transfer(
    points: Mapping[str, Sequence[Mapping[str, Any]]],
    k_shot: Mapping[str, Mapping[str, Mapping[int, Mapping[str, Any]]]],
    *,
    chance: Mapping[str, float] | None = None,
    models: Mapping[str, str] | None = None,
) -> Any:
    """One column per dataset: 1-shot accuracy vs training classes (top) and the k-shot curves
    of one model (bottom).

    Parameters
    ----------
    points : mapping of str to list of dict
        ``{dataset: points}`` for :func:`plot_one_shot_vs_classes`.
    k_shot : mapping of str to dict
        ``{dataset: curves}`` for :func:`plot_k_shot_curves`, same datasets.
    chance : mapping of str to float, optional
        Chance level of the top panels per dataset.
    models : mapping of str to str, optional
        The model of each dataset's k-shot curves, for the titles.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_one_shot_transfer
    >>> pts = [{"n_train_classes": c, "trained": a, "untrained": 0.2, "raw": 0.3, "pca": 0.3}
    ...        for c, a in ((5, 0.4), (20, 0.7))]
    >>> cv = {k: {"mean": m, "ci_high": m + 0.03, "n_way": 5} for k, m in ((1, 0.5), (5, 0.8))}
    >>> fig = plot_one_shot_transfer({"a": pts, "b": pts}, {"a": {"trained": cv}, "b": {"trained": cv}})
    >>> len(fig.axes)
    4
    """
    _nonempty(points, "points")
    _nonempty(k_shot, "k_shot")
    if set(points) != set(k_shot):
        raise ValueError(
            f"points and k_shot must name the same datasets; got {sorted(points)} and "
            f"{sorted(k_shot)}."
        )
    n = len(points)
    fig, axes = new_figure(2, n, size=(4.3 * n, 6.4), squeeze=False)
    for col, label in enumerate(points):
        plot_one_shot_vs_classes(
            points[label],
            chance=None if chance is None else chance[label],
            title=f"{label}: one-shot vs classes",
            ax=axes[0, col],
        )
        model = None if models is None else models.get(label)
        plot_k_shot_curves(
            k_shot[label], title=f"k-shot ({model})" if model else "k-shot", ax=axes[1, col]
        )
    return fig


def plot_hashing_panel(
    rows: Sequence[Mapping[str, Any]],
    one_shot: Mapping[str, Mapping[str, Any]],
    *,
    label: str | None = None,
) -> Any:
    """One row: invariance ratio and AUROC per layer over training, then 1-shot accuracy on
    unseen classes against baselines.

    Parameters
    ----------
    rows : list of dict
        :func:`repgeo.hashing.analyse_checkpoints` rows with the separation and invariance
        measures.
    one_shot : mapping of str to dict
        :func:`repgeo.hashing.one_shot_baselines`.
    label : str, optional
        The dataset, for the first title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from repgeo.plots import plot_hashing_panel
    >>> rows = [{"epoch": e, "layer": "act1", "inv_seen": 1 / (1 + e), "inv_unseen": 1.0,
    ...          "auroc_seen": 0.6 + e / 40, "auroc_unseen": 0.6} for e in (0, 5, 10)]
    >>> res = {k: {"mean": m, "ci_high": m + 0.02, "chance": 0.1, "n_way": 10}
    ...        for k, m in (("trained", 0.8), ("raw", 0.4))}
    >>> fig = plot_hashing_panel(rows, res, label="manifolds")
    >>> len(fig.axes)
    3
    """
    _check_rows(rows, ("invariance", "auroc"), "rows")
    _check_results(one_shot, "one_shot", ("mean", "ci_high", "chance", "n_way"))
    fig, axes = new_figure(1, 3, size=(11.0, 3.0))
    first = _QUANTITIES["invariance"]["title"]
    _draw_quantity(axes[0], rows, "invariance", f"{label}: {first}" if label else first)
    _draw_quantity(axes[1], rows, "auroc", _QUANTITIES["auroc"]["title"])
    plot_one_shot_bars(one_shot, ax=axes[2])
    return fig
