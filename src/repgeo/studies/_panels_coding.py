"""Coding-rate reduction and intrinsic dimension per layer over training (study panels).

Two entry points, both writing the metrics

* ``coding.delta_r`` — MCR² rate reduction ΔR (ε² = 0.5, rows L2-normalised, class labels) of the
  held-out samples of the training classes, ``{model: {layer: {epoch: value}}}``;
* ``id.twonn`` — TwoNN (MLE) intrinsic dimension of the training-class samples (train and
  held-out together, at most ``max_points``), same nesting;

plus, where the data have held-out classes, ``coding.delta_r_unseen`` (ΔR of the unseen classes'
samples, which the network never saw labelled), and the input-space references
``coding.delta_r_input`` / ``id.twonn_input`` (``{model: value}``).

:func:`default_panel` is the default study's stage (models "manifold" and "digits");
:func:`hashing_panel` is called by the manifold-hashing study with its own models and data.
Options come from an optional ``coding_id`` config section: ``eps2`` (0.5) and ``max_points``
(4000).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from ..coding import coding_rate, coding_rate_reduction
from ..data import Dataset
from ..dimension import levina_bickel, twonn
from ..features import extract
from ..models import hidden_layers
from ..panels._common import checkpoints, datasets
from ..plots import new_figure
from ..runs.context import RunContext

__all__ = ["default_panel", "hashing_panel", "measure_checkpoints"]

DEFAULTS: dict[str, Any] = {"eps2": 0.5, "max_points": 4000}


def _options(ctx: RunContext) -> dict[str, Any]:
    opts = dict(DEFAULTS)
    opts.update(ctx.config.get("coding_id", {}) or {})
    return opts


def _id_points(data: Sequence[Dataset], max_points: int, rng: np.random.Generator) -> np.ndarray:
    X = np.vstack([d.X for d in data])
    if X.shape[0] > max_points:
        X = X[np.sort(rng.choice(X.shape[0], max_points, replace=False))]
    return X


def measure_checkpoints(
    ckpts: Sequence[tuple[int, nn.Module]],
    *,
    eval_set: Dataset,
    id_points: np.ndarray,
    unseen: Dataset | None = None,
    layers: Sequence[str] | Callable[[nn.Module], list[str]] = hidden_layers,
    eps2: float = 0.5,
    device: Any = "cpu",
) -> dict[str, dict[str, dict[str, float]]]:
    """ΔR and TwoNN ID of each layer at each checkpoint.

    Parameters
    ----------
    ckpts : sequence of (epoch, model)
    eval_set : Dataset
        Labelled samples for ΔR (held-out samples of the training classes).
    id_points : ndarray of shape (n, d)
        Inputs whose representations' intrinsic dimension is estimated.
    unseen : Dataset, optional
        Labelled samples of classes the model was not trained on (ΔR of unseen classes).
    layers : list of str or callable
        Layer names, or a function of the model returning them (default: ``act1, act2, ...``).
    eps2 : float
    device : torch device for the forward passes.

    Returns
    -------
    results : dict
        ``{"delta_r": {layer: {epoch: v}}, "twonn": {...}, "delta_r_unseen": {...}}`` with
        epochs as strings (JSON keys).
    """
    out: dict[str, dict[str, dict[str, float]]] = {"delta_r": {}, "twonn": {}, "delta_r_unseen": {}}
    for epoch, model in ckpts:
        names = list(layers(model) if callable(layers) else layers)
        if not names:
            raise ValueError("no hidden layers to measure; pass layer names explicitly.")
        for layer in names:
            Ze = extract(model, eval_set.X, layer=layer, device=device, show_progress=False)
            Zi = extract(model, id_points, layer=layer, device=device, show_progress=False)
            out["delta_r"].setdefault(layer, {})[str(epoch)] = coding_rate_reduction(
                Ze, eval_set.y, eps2=eps2
            )
            out["twonn"].setdefault(layer, {})[str(epoch)] = twonn(Zi)
            if unseen is not None:
                Zu = extract(model, unseen.X, layer=layer, device=device, show_progress=False)
                out["delta_r_unseen"].setdefault(layer, {})[str(epoch)] = coding_rate_reduction(
                    Zu, unseen.y, eps2=eps2
                )
    if unseen is None:
        del out["delta_r_unseen"]
    return out


def _plot(
    ctx: RunContext,
    results: Mapping[str, Mapping[str, Any]],
    refs: Mapping[str, Mapping[str, float]],
    name: str,
) -> None:
    models = list(results)
    fig, axes = new_figure(len(models), 2, size=(8.0, 2.9 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        res = results[model]
        ax_r, ax_d = axes[row]
        for i, (layer, series) in enumerate(res["delta_r"].items()):
            ep = [int(e) for e in series]
            colour = f"C{i}"
            ax_r.plot(ep, list(series.values()), "o-", color=colour, ms=3, label=f"{layer} (seen)")
            if "delta_r_unseen" in res:
                su = res["delta_r_unseen"][layer]
                ax_r.plot(
                    [int(e) for e in su],
                    list(su.values()),
                    "s--",
                    color=colour,
                    ms=3,
                    label=f"{layer} (unseen)",
                )
            sd = res["twonn"][layer]
            ax_d.plot(
                [int(e) for e in sd], list(sd.values()), "o-", color=colour, ms=3, label=layer
            )
        ax_r.axhline(refs[model]["delta_r"], color="0.5", ls=":", lw=1, label="input")
        ax_d.axhline(refs[model]["twonn"], color="0.5", ls=":", lw=1, label="input")
        for ax in (ax_r, ax_d):
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(left=0)
            ax.set_xlabel("epoch")
        ax_r.set(ylabel="ΔR (nats)", title=f"{model}: coding rate reduction")
        ax_d.set(ylabel="TwoNN ID", title=f"{model}: intrinsic dimension")
        ax_r.legend(loc="best", fontsize=7)
        ax_d.legend(loc="best", fontsize=7)
    ctx.figure(
        fig,
        name,
        caption="Per hidden layer over training: MCR² rate reduction ΔR = R − R_c (ε² = 0.5, unit-norm "
        "rows, class labels; solid: held-out samples of the training classes, dashed: unseen classes) "
        "and the TwoNN intrinsic dimension of the training-class representations. Dotted: the same "
        "quantities of the raw input.",
    )


def _r(v: Any) -> Any:
    return round(float(v), 3) if isinstance(v, (int, float)) else v


def _report(
    ctx: RunContext,
    results: Mapping[str, Mapping[str, Any]],
    refs: Mapping[str, Mapping[str, float]],
    extra: Mapping[str, Mapping[str, float]],
    name: str,
) -> None:
    rows = []
    for model, res in results.items():
        rows.append(
            {
                "model": model,
                "layer": "input",
                "epoch": "-",
                "ΔR seen": _r(refs[model]["delta_r"]),
                "ΔR unseen": _r(refs[model].get("delta_r_unseen", "")),
                "TwoNN": _r(refs[model]["twonn"]),
                "Levina–Bickel (k=20)": _r(extra[model]["input"]),
            }
        )
        for layer, series in res["delta_r"].items():
            first, last = next(iter(series)), list(series)[-1]
            for epoch in dict.fromkeys((first, last)):
                rows.append(
                    {
                        "model": model,
                        "layer": layer,
                        "epoch": int(epoch),
                        "ΔR seen": _r(series[epoch]),
                        "ΔR unseen": _r(
                            res.get("delta_r_unseen", {}).get(layer, {}).get(epoch, "")
                        ),
                        "TwoNN": _r(res["twonn"][layer][epoch]),
                        "Levina–Bickel (k=20)": _r(extra[model].get(f"{layer}@{epoch}", "")),
                    }
                )
    ctx.table("Coding rate reduction and intrinsic dimension (first and last checkpoint)", rows)
    ctx.metric("coding.delta_r", {m: r["delta_r"] for m, r in results.items()})
    ctx.metric("id.twonn", {m: r["twonn"] for m, r in results.items()})
    unseen = {m: r["delta_r_unseen"] for m, r in results.items() if "delta_r_unseen" in r}
    if unseen:
        ctx.metric("coding.delta_r_unseen", unseen)
    ctx.metric("coding.delta_r_input", {m: v["delta_r"] for m, v in refs.items()})
    ctx.metric("id.twonn_input", {m: v["twonn"] for m, v in refs.items()})
    _plot(ctx, results, refs, name)


def _run(
    ctx: RunContext,
    entries: Mapping[
        str, tuple[Sequence[tuple[int, nn.Module]], Dataset, Sequence[Dataset], Dataset | None]
    ],
    layers: Sequence[str] | Callable[[nn.Module], list[str]],
    name: str,
) -> dict[str, dict[str, Any]]:
    opts = _options(ctx)
    eps2, max_points = float(opts["eps2"]), int(opts["max_points"])
    results: dict[str, dict[str, Any]] = {}
    refs: dict[str, dict[str, float]] = {}
    extra: dict[str, dict[str, float]] = {}
    for model_name, (ckpts, eval_set, id_sets, unseen) in entries.items():
        Xi = _id_points(id_sets, max_points, ctx.rng(f"coding-id-{name}-{model_name}"))
        res = measure_checkpoints(
            ckpts,
            eval_set=eval_set,
            id_points=Xi,
            unseen=unseen,
            layers=layers,
            eps2=eps2,
            device=ctx.device,
        )
        results[model_name] = res
        refs[model_name] = {
            "delta_r": coding_rate_reduction(eval_set.X, eval_set.y, eps2=eps2),
            "twonn": twonn(Xi),
            "coding_rate": coding_rate(eval_set.X, eps2=eps2),
        }
        if unseen is not None:
            refs[model_name]["delta_r_unseen"] = coding_rate_reduction(
                unseen.X, unseen.y, eps2=eps2
            )
        # a second estimator at the first and last checkpoint, as a cross-check of TwoNN
        extra[model_name] = {"input": levina_bickel(Xi, 20, aggregate="harmonic")}
        for epoch, model in (ckpts[0], ckpts[-1]):
            for layer in res["twonn"]:
                Z = extract(model, Xi, layer=layer, device=ctx.device, show_progress=False)
                extra[model_name][f"{layer}@{epoch}"] = levina_bickel(Z, 20, aggregate="harmonic")
    _report(ctx, results, refs, extra, name)
    return results


def default_panel(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Default-study stage: ΔR and TwoNN ID per hidden layer over the checkpoints of the
    "manifold" and "digits" models."""
    entries = {}
    for model_name in ("manifold", "digits"):
        ds = datasets(ctx, model_name)
        entries[model_name] = (
            checkpoints(ctx, model_name),
            ds["test"],
            [ds["train"], ds["test"]],
            ds.get("unseen"),
        )
    results = _run(ctx, entries, hidden_layers, "coding_id")

    def change(model: str, key: str) -> str:
        series = results[model][key]
        return ", ".join(
            f"{layer} {next(iter(s.values())):.2f} → {list(s.values())[-1]:.2f}"
            for layer, s in series.items()
        )

    ctx.text(
        "Rate reduction ΔR = R − R_c measures how much the classes are individually compressed and "
        "jointly spread out (Yu et al., 2020; nats, ε² = 0.5); the TwoNN estimate (Facco et al., 2017) "
        "is the intrinsic dimension of the representation at the scale of nearest neighbours. From "
        f"initialisation to the end of training, ΔR of the seen classes moves as: class manifolds "
        f"{change('manifold', 'delta_r')}; digits {change('digits', 'delta_r')}. TwoNN dimension: "
        f"class manifolds {change('manifold', 'twonn')}; digits {change('digits', 'twonn')}. The "
        "dashed curves (classes never seen in training) show whether the compression transfers."
    )


def hashing_panel(
    ctx: RunContext,
    models: Mapping[str, Sequence[tuple[int, nn.Module]] | nn.Module],
    *,
    seen: Dataset,
    unseen: Dataset | None = None,
    id_data: Sequence[Dataset] | Dataset | None = None,
    layers: Sequence[str] | None = None,
    name: str = "coding_id",
) -> dict[str, dict[str, Any]]:
    """Manifold-hashing study panel: ΔR (seen / unseen classes) and TwoNN ID per layer.

    Parameters
    ----------
    ctx : RunContext
        The calling stage's context (figure, table and metrics are written through it).
    models : mapping of str to list of (epoch, model), or to a model
        E.g. ``{"width=256": [(0, m0), (10, m10), ...]}``; a bare model counts as epoch 0.
    seen : Dataset
        Labelled held-out samples of the training classes (ΔR).
    unseen : Dataset, optional
        Labelled samples of held-out classes (ΔR of unseen manifolds).
    id_data : Dataset or list of Dataset, optional
        Inputs for the intrinsic dimension (default: ``seen``).
    layers : list of str, optional
        Layers to measure (default: the model's ``act*`` hidden layers).
    name : str, default="coding_id"
        Figure name.

    Returns
    -------
    results : dict
        ``{model: {"delta_r": {layer: {epoch: v}}, "twonn": ..., "delta_r_unseen": ...}}``; the same
        values are written to the metrics ``coding.delta_r``, ``id.twonn`` and
        ``coding.delta_r_unseen``.
    """
    if not models:
        raise ValueError("models must name at least one model.")
    if id_data is None:
        id_sets: list[Dataset] = [seen]
    elif isinstance(id_data, Dataset):
        id_sets = [id_data]
    else:
        id_sets = list(id_data)
    entries = {}
    for model_name, value in models.items():
        ckpts = [(0, value)] if isinstance(value, nn.Module) else list(value)
        if not ckpts:
            raise ValueError(f"model {model_name!r} has no checkpoints.")
        entries[model_name] = (ckpts, seen, id_sets, unseen)
    return _run(ctx, entries, list(layers) if layers is not None else hidden_layers, name)
