"""Coding-rate and intrinsic-dimension panel: ΔR and TwoNN per hidden layer over training.

Metrics
-------
``coding.delta_r``
    MCR² rate reduction ΔR (rows L2-normalised, class labels) of held-out samples of the
    training classes, ``{model: {layer: {epoch: value}}}``;
``id.twonn``
    TwoNN intrinsic dimension of training-class samples (train and held-out, at most
    ``max_points``), same nesting;
``coding.delta_r_unseen``
    ΔR of the samples of classes the network never saw labelled (where the data have them);
``coding.delta_r_input`` / ``id.twonn_input``
    the same quantities of the raw input, ``{model: value}``.

Options (section ``coding_id``): ``eps2`` (distortion ε², 0.5), ``max_points`` (4000),
``lb_k`` (neighbours of the Levina–Bickel cross-check, 20).

:data:`PANEL` is the default study's stage (models "manifold" and "digits");
:func:`report_coding_id` writes the same section for any models and data (the manifold-hashing
study uses it for its base models); :func:`measure_coding_id` is the computation alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from ..coding import coding_rate_reduction
from ..data import Dataset
from ..dimension import levina_bickel, twonn
from ..models import by_quantity, over_checkpoints
from ..plots import plot_coding_id
from ..runs import Panel, RunContext
from ._common import checkpoints, datasets

__all__ = ["PANEL", "measure_coding_id", "report_coding_id"]

DEFAULTS: dict[str, Any] = {"eps2": 0.5, "max_points": 4000, "lb_k": 20}

_CAPTION = (
    "Per hidden layer over training: MCR² rate reduction ΔR = R − R_c (ε² = {eps2}, unit-norm "
    "rows, class labels; solid: held-out samples of the training classes, dashed: unseen classes) "
    "and the TwoNN intrinsic dimension of the training-class representations. Dotted: the same "
    "quantities of the raw input."
)


def _id_points(data: Sequence[Dataset], max_points: int, rng: np.random.Generator) -> np.ndarray:
    X = np.vstack([d.X for d in data])
    if X.shape[0] > max_points:
        X = X[np.sort(rng.choice(X.shape[0], max_points, replace=False))]
    return X


def measure_coding_id(
    ckpts: Sequence[tuple[int, nn.Module]],
    *,
    eval_set: Dataset,
    id_points: np.ndarray,
    unseen: Dataset | None = None,
    layers: Sequence[str] | Callable[[nn.Module], Sequence[str]] | None = None,
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
    layers : list of str or callable, optional
        Layer names, or a function of the model returning them (default: the hidden layers).
    eps2 : float, default=0.5
    device : torch device for the forward passes.

    Returns
    -------
    results : dict
        ``{"delta_r": {layer: {epoch: v}}, "twonn": {...}[, "delta_r_unseen": {...}]}`` with
        epochs as strings (JSON keys).
    """
    data = {"eval": eval_set.X, "id": id_points}
    if unseen is not None:
        data["unseen"] = unseen.X

    def measure(Z: Mapping[str, np.ndarray], _step: Any) -> dict[str, float]:
        out = {
            "delta_r": coding_rate_reduction(Z["eval"], eval_set.y, eps2=eps2),
            "twonn": twonn(Z["id"]),
        }
        if unseen is not None:
            out["delta_r_unseen"] = coding_rate_reduction(Z["unseen"], unseen.y, eps2=eps2)
        return out

    res = by_quantity(over_checkpoints(ckpts, measure, data, layers=layers, device=device))
    return {
        q: {layer: {str(e): v for e, v in series.items()} for layer, series in per.items()}
        for q, per in res.items()
    }


def _r(v: Any) -> Any:
    return round(float(v), 3) if isinstance(v, (int, float)) else v


def _table_rows(
    results: Mapping[str, Mapping[str, Any]],
    refs: Mapping[str, Mapping[str, float]],
    lb: Mapping[str, Mapping[str, float]],
) -> list[dict[str, Any]]:
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
                "Levina–Bickel": _r(lb[model]["input"]),
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
                        "Levina–Bickel": _r(lb[model].get(f"{layer}@{epoch}", "")),
                    }
                )
    return rows


def _per_model(value: Any, model: str, what: str) -> Any:
    if isinstance(value, Mapping):
        if model not in value:
            raise ValueError(f"{what} has no entry for model {model!r}; got {sorted(value)}.")
        return value[model]
    return value


def report_coding_id(
    ctx: RunContext,
    models: Mapping[str, Sequence[tuple[int, nn.Module]] | nn.Module],
    *,
    seen: Dataset | Mapping[str, Dataset],
    unseen: Dataset | Mapping[str, Dataset | None] | None = None,
    id_data: Sequence[Dataset] | Dataset | Mapping[str, Any] | None = None,
    layers: Sequence[str] | None = None,
    name: str = "coding_id",
    options: Mapping[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure and report ΔR (seen / unseen classes) and TwoNN ID per layer for ``models``.

    Parameters
    ----------
    ctx : RunContext
        The calling stage's context (figure, table and metrics are written through it).
    models : mapping of str to list of (epoch, model), or to a model
        E.g. ``{"width=256": [(0, m0), (10, m10), ...]}``; a bare model counts as epoch 0.
    seen : Dataset, or mapping of model name to Dataset
        Labelled held-out samples of the training classes (ΔR).
    unseen : Dataset or mapping, optional
        Labelled samples of held-out classes (ΔR of unseen manifolds).
    id_data : Dataset, list of Dataset, or mapping of model name to either, optional
        Inputs for the intrinsic dimension (default: ``seen``).
    layers : list of str, optional
        Layers to measure (default: the model's hidden layers).
    name : str, default="coding_id"
        Figure name.
    options : mapping, optional
        ``eps2``, ``max_points``, ``lb_k`` (defaults: :data:`DEFAULTS`).

    Returns
    -------
    results : dict
        ``{model: {"delta_r": {layer: {epoch: v}}, "twonn": ..., "delta_r_unseen": ...}}``; the
        same values are written to ``coding.delta_r``, ``id.twonn`` and ``coding.delta_r_unseen``.
    """
    if not models:
        raise ValueError("models must name at least one model.")
    opts = {**DEFAULTS, **dict(options or {})}
    eps2, max_points, lb_k = float(opts["eps2"]), int(opts["max_points"]), int(opts["lb_k"])
    results: dict[str, dict[str, Any]] = {}
    refs: dict[str, dict[str, float]] = {}
    lb: dict[str, dict[str, float]] = {}
    for model_name, value in models.items():
        ckpts = [(0, value)] if isinstance(value, nn.Module) else list(value)
        if not ckpts:
            raise ValueError(f"model {model_name!r} has no checkpoints.")
        seen_m = _per_model(seen, model_name, "seen")
        unseen_m = _per_model(unseen, model_name, "unseen")
        ids = _per_model(id_data, model_name, "id_data")
        id_sets = [seen_m] if ids is None else [ids] if isinstance(ids, Dataset) else list(ids)
        Xi = _id_points(id_sets, max_points, ctx.rng(f"coding-id-{name}-{model_name}"))
        res = measure_coding_id(
            ckpts,
            eval_set=seen_m,
            id_points=Xi,
            unseen=unseen_m,
            layers=layers,
            eps2=eps2,
            device=ctx.device,
        )
        results[model_name] = res
        refs[model_name] = {
            "delta_r": coding_rate_reduction(seen_m.X, seen_m.y, eps2=eps2),
            "twonn": twonn(Xi),
        }
        if unseen_m is not None:
            refs[model_name]["delta_r_unseen"] = coding_rate_reduction(
                unseen_m.X, unseen_m.y, eps2=eps2
            )
        # a second estimator at the first and last checkpoint, as a cross-check of TwoNN
        lb[model_name] = {"input": levina_bickel(Xi, lb_k, aggregate="harmonic")}
        ends = over_checkpoints(
            [ckpts[0], ckpts[-1]] if len(ckpts) > 1 else ckpts,
            lambda Z, _s: levina_bickel(Z, lb_k, aggregate="harmonic"),
            Xi,
            layers=list(res["twonn"]),
            device=ctx.device,
        )
        for layer, series in ends.items():
            for epoch, v in series.items():
                lb[model_name][f"{layer}@{epoch}"] = v
    ctx.table(
        "Coding rate reduction and intrinsic dimension (first and last checkpoint)",
        _table_rows(results, refs, lb),
        caption=f"Levina–Bickel: maximum-likelihood estimate with k = {lb_k} neighbours "
        "(harmonic mean over points), a cross-check of TwoNN.",
    )
    ctx.metric("coding.delta_r", {m: r["delta_r"] for m, r in results.items()})
    ctx.metric("id.twonn", {m: r["twonn"] for m, r in results.items()})
    unseen_res = {m: r["delta_r_unseen"] for m, r in results.items() if "delta_r_unseen" in r}
    if unseen_res:
        ctx.metric("coding.delta_r_unseen", unseen_res)
    ctx.metric("coding.delta_r_input", {m: v["delta_r"] for m, v in refs.items()})
    ctx.metric("id.twonn_input", {m: v["twonn"] for m, v in refs.items()})
    ctx.figure(plot_coding_id(results, refs), name, caption=_CAPTION.format(eps2=eps2))
    return results


def _change(results: Mapping[str, Any], model: str, key: str) -> str:
    return ", ".join(
        f"{layer} {next(iter(s.values())):.2f} → {list(s.values())[-1]:.2f}"
        for layer, s in results[model][key].items()
    )


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """ΔR and TwoNN ID per hidden layer over the checkpoints of "manifold" and "digits"."""
    models, seen, ids, unseen = {}, {}, {}, {}
    for name in ("manifold", "digits"):
        ds = datasets(ctx, name)
        models[name] = checkpoints(ctx, name)
        seen[name], ids[name], unseen[name] = (
            ds["test"],
            [ds["train"], ds["test"]],
            ds.get("unseen"),
        )
    results = report_coding_id(
        ctx, models, seen=seen, unseen=unseen, id_data=ids, name="coding_id", options=opts
    )
    ctx.text(
        "Rate reduction ΔR = R − R_c measures how much the classes are individually compressed and "
        "jointly spread out (Yu et al., 2020; nats, ε² = "
        f"{opts['eps2']}); the TwoNN estimate (Facco et al., 2017) is the intrinsic dimension of "
        "the representation at the scale of nearest neighbours. From initialisation to the end of "
        f"training, ΔR of the seen classes moves as: class manifolds "
        f"{_change(results, 'manifold', 'delta_r')}; digits {_change(results, 'digits', 'delta_r')}. "
        f"TwoNN dimension: class manifolds {_change(results, 'manifold', 'twonn')}; digits "
        f"{_change(results, 'digits', 'twonn')}. The dashed curves (classes never seen in "
        "training) show whether the compression transfers."
    )


PANEL = Panel(
    name="coding_id",
    title="Coding rate and intrinsic dimension over training",
    fn=run,
    config=DEFAULTS,
    metrics=(
        "coding.delta_r",
        "coding.delta_r_unseen",
        "coding.delta_r_input",
        "id.twonn",
        "id.twonn_input",
    ),
    requires=("train_manifold", "train_digits"),
    summary="MCR² rate reduction and TwoNN intrinsic dimension per hidden layer",
)
