"""Diffusion panel: spectral entropy and mutual information of the embeddings over training.

Metrics
-------
``diffusion.dse``         ``{model: {epoch: DSE in bits}}``
``diffusion.dse_stderr``  ``{model: {epoch: standard error of the DSE}}`` (0 for the exact spectrum)
``diffusion.dsmi``        ``{model: {epoch: DSMI(Z; Y) in bits}}``
``diffusion.dsmi_stderr`` ``{model: {epoch: standard error of the DSMI}}`` (spread over its random
                          size-matched subsets, and the SLQ errors if any)
``diffusion.sigma``       ``{model: {epoch: Gaussian bandwidth used}}``

The report's table also names the estimator of each DSE (exact, or SLQ with its operator and
dropped kernel mass) and lists every accuracy warning, so none is lost in a loop over
checkpoints.

Options (section ``diffusion``): ``t`` (diffusion power, 1), ``bandwidth`` (``"median"``,
``"knn"`` or a float σ; default ``"median"``), ``n_repetitions`` (size-matched random subsets per
class for DSMI, 5).

:data:`PANEL` is the default study's stage (held-out samples of "manifold" and "digits", last
hidden layer, every checkpoint). The pieces are public so the ``diffusion`` study and users reuse
them:

* :func:`measure_dse` — DSE, its standard error, DSMI(Z; Y) and σ of an embedding at every
  checkpoint (through :func:`repgeo.models.over_checkpoints`);
* :func:`report_dse` — the metrics, table and figure of such results in a run.

:func:`repgeo.diffusion.geodesic_method_distances` (the distances the ``diffusion`` study scores
against ground-truth geodesics) lives in :mod:`repgeo.diffusion.evaluation`; it and
:data:`METHODS` are re-exported here for older imports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from .._validation import check_positive_int
from ..data import Dataset
from ..diffusion import (
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
)
from ..diffusion.evaluation import METHODS, geodesic_method_distances
from ..models import hidden_layers, over_checkpoints
from ..plots import plot_dse_over_training
from ..runs import Panel, RunContext
from ._common import checkpoints, datasets

__all__ = [
    "DEFAULTS",
    "METHODS",
    "PANEL",
    "geodesic_method_distances",
    "measure_dse",
    "report_dse",
]

DEFAULTS: dict[str, Any] = {"t": 1.0, "bandwidth": "median", "n_repetitions": 5}

_QUANTITIES = ("dse", "dse_stderr", "dsmi", "dsmi_stderr", "sigma")


# ----------------------------------------------------------------------------- DSE over training
def measure_dse(
    ckpts: Sequence[tuple[int, nn.Module]] | nn.Module,
    data: Dataset,
    *,
    layer: str | None = None,
    t: float = 1.0,
    bandwidth: Any = "median",
    n_repetitions: int = 5,
    random_state: int = 0,
    device: Any = "cpu",
) -> dict[str, dict[str, float]]:
    """DSE, its standard error, DSMI(Z; Y) and the bandwidth of an embedding at each checkpoint.

    The embedding of ``data.X`` at ``layer`` (float64) is measured with
    :func:`repgeo.diffusion.diffusion_spectral_entropy` and, when ``data`` has labels,
    :func:`repgeo.diffusion.diffusion_spectral_mutual_information`; the loop over checkpoints is
    :func:`repgeo.models.over_checkpoints`.

    Parameters
    ----------
    ckpts : sequence of (epoch, model), or a model
        Checkpoints, e.g. from :func:`repgeo.models.load_checkpoints`; a bare model is epoch 0.
    data : Dataset
        Inputs to embed, with labels for DSMI (held-out samples).
    layer : str, optional
        Layer to measure (default: the last of :func:`repgeo.models.hidden_layers`).
    t : float, default=1.0
        Diffusion power.
    bandwidth : {"median", "knn"} or float, default="median"
        Gaussian bandwidth, re-chosen from each checkpoint's embedding unless a float.
    n_repetitions : int, default=5
        Size-matched random subsets per class for DSMI.
    random_state : int, default=0
        Seed of every estimate (the same at each checkpoint).
    device : str or torch.device, default="cpu"
        Where the forward passes run.

    Returns
    -------
    results : dict
        ``{"dse": {epoch: bits}, "dse_stderr": {epoch: se}, "dsmi": {epoch: bits},
        "dsmi_stderr": {epoch: se}, "sigma": {epoch: σ}, "estimator": {epoch: str},
        "warnings": {epoch: [str]}}``, epochs as strings (JSON keys) in ascending order;
        ``"dsmi"`` and ``"dsmi_stderr"`` are empty when ``data`` has no labels.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.data import Dataset, make_ids
    >>> from repgeo.models import MLP
    >>> from repgeo.panels.diffusion import measure_dse
    >>> rng = np.random.default_rng(0)
    >>> data = Dataset(rng.normal(size=(60, 4)), np.repeat([0, 1, 2], 20), make_ids("x", 60))
    >>> res = measure_dse([(0, MLP([4, 16, 8, 3], seed=0)), (5, MLP([4, 16, 8, 3], seed=1))],
    ...                   data, n_repetitions=2)
    >>> sorted(res), list(res["dse"])
    (['dse', 'dse_stderr', 'dsmi', 'dsmi_stderr', 'estimator', 'sigma', 'warnings'], ['0', '5'])
    >>> all(0 < v < np.log2(60) for v in res["dse"].values())
    True
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a repgeo.data.Dataset; got {type(data).__name__}.")
    n_repetitions = check_positive_int(n_repetitions, "n_repetitions")
    layers = [layer] if layer is not None else (lambda model: hidden_layers(model)[-1:])

    def measure(Z: Any, _step: Any) -> tuple[Any, Any]:
        Z = np.asarray(Z, dtype=np.float64)
        dse = diffusion_spectral_entropy(Z, t=t, bandwidth=bandwidth, random_state=random_state)
        mi = None
        if data.y is not None:
            mi = diffusion_spectral_mutual_information(
                Z,
                data.y,
                t=t,
                bandwidth=bandwidth,
                n_repetitions=n_repetitions,
                random_state=random_state,
            )
        return dse, mi

    per_epoch: dict[int, tuple[Any, Any]] = {}
    for series in over_checkpoints(ckpts, measure, data.X, layers=layers, device=device).values():
        per_epoch.update(series)
    out: dict[str, dict[str, Any]] = {q: {} for q in (*_QUANTITIES, "estimator", "warnings")}
    for epoch in sorted(per_epoch):
        dse, mi = per_epoch[epoch]
        e = str(epoch)
        out["dse"][e] = dse.entropy
        out["dse_stderr"][e] = dse.stderr
        out["sigma"][e] = dse.sigma
        out["estimator"][e] = _describe(dse)
        notes = list(dse.warnings)
        if mi is not None:
            out["dsmi"][e] = mi.mi
            out["dsmi_stderr"][e] = None if math.isnan(mi.stderr) else mi.stderr
            notes.extend(w for w in mi.warnings if w not in notes)
        out["warnings"][e] = notes
    return out


def _describe(res: Any) -> str:
    """One line naming how a DSE was estimated and its accuracy diagnostics."""
    if res.method == "exact":
        return "exact"
    text = f"SLQ ({res.operator} kernel"
    if res.operator == "sparse":
        text += f", dropped mass {100 * res.dropped_kernel_mass:.2g}%"
    return text + ")"


def report_dse(
    ctx: RunContext,
    results: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    name: str,
    title: str,
    caption: str,
    table_caption: str = "",
    accuracy: Mapping[str, Mapping[Any, float]] | None = None,
) -> None:
    """Write ``diffusion.dse``, ``.dse_stderr``, ``.dsmi``, ``.dsmi_stderr`` and ``.sigma``, a
    table (with the estimator of each value) and a figure, and list any accuracy warnings.

    Parameters
    ----------
    ctx : RunContext
        The calling stage's context.
    results : mapping of str to dict
        ``{model: measure_dse(...)}``.
    name : str
        Figure name (:func:`repgeo.plots.plot_dse_over_training`).
    title, caption, table_caption : str
        Table title, figure caption and table caption.
    accuracy : mapping of str to mapping of epoch to float, optional
        ``{model: {epoch: test accuracy}}``, shown as a column of the table.
    """
    if not results:
        raise ValueError("results must name at least one model.")
    fig = plot_dse_over_training(results)  # validates results before the first write
    for key in _QUANTITIES:
        ctx.metric(f"diffusion.{key}", {model: res.get(key, {}) for model, res in results.items()})
    rows = []
    notes = []
    for model, res in results.items():
        acc = {int(e): float(a) for e, a in (accuracy or {}).get(model, {}).items()}
        dsmi, dsmi_se = res.get("dsmi", {}), res.get("dsmi_stderr", {})
        for e, v in res["dse"].items():
            row: dict[str, Any] = {"model": model, "epoch": int(e)}
            if accuracy is not None:
                row["test accuracy"] = round(acc.get(int(e), float("nan")), 4)
            row["DSE (bits)"] = round(v, 4)
            row["DSMI(Z;Y) (bits)"] = round(dsmi[e], 4) if e in dsmi else ""
            se = dsmi_se.get(e)
            row["DSMI stderr"] = round(se, 4) if se is not None else ""
            row["σ"] = round(res["sigma"][e], 4)
            row["estimator"] = res.get("estimator", {}).get(e, "")
            rows.append(row)
            notes.extend(f"{model}, epoch {e}: {w}" for w in res.get("warnings", {}).get(e, []))
    ctx.table(title, rows, caption=table_caption)
    ctx.figure(fig, name, caption=caption)
    if notes:
        ctx.text("Accuracy warnings: " + " ".join(notes))


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """DSE and DSMI(Z; Y) of the "manifold" and "digits" held-out embeddings per checkpoint."""
    results = {}
    for name in ctx.progress(["manifold", "digits"], "DSE over checkpoints"):
        results[name] = measure_dse(
            checkpoints(ctx, name),
            datasets(ctx, name)["test"],
            t=float(opts["t"]),
            bandwidth=opts["bandwidth"],
            n_repetitions=int(opts["n_repetitions"]),
            random_state=ctx.seed_for(f"dse-{name}"),
            device=ctx.device,
        )
    report_dse(
        ctx,
        results,
        name="diffusion_dse_panel",
        title="Diffusion spectral entropy over training",
        caption="Diffusion spectral entropy and mutual information with the labels of the "
        "held-out embeddings over training.",
        table_caption=f"Held-out samples, last hidden layer, bandwidth = {opts['bandwidth']} "
        f"heuristic (re-chosen at each checkpoint), t = {opts['t']}.",
    )


PANEL = Panel(
    name="diffusion",
    title="Diffusion spectral entropy over training",
    fn=run,
    config=DEFAULTS,
    metrics=(
        "diffusion.dse",
        "diffusion.dse_stderr",
        "diffusion.dsmi",
        "diffusion.dsmi_stderr",
        "diffusion.sigma",
    ),
    requires=("train_manifold", "train_digits"),
    summary="diffusion spectral entropy and DSMI(Z; Y) of the embeddings per checkpoint",
)
