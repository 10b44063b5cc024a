"""Diffusion panel: spectral entropy and mutual information of the embeddings over training.

Metrics
-------
``diffusion.dse``         ``{model: {epoch: DSE in bits}}``
``diffusion.dse_stderr``  ``{model: {epoch: standard error of the DSE}}`` (0 for the exact spectrum)
``diffusion.dsmi``        ``{model: {epoch: DSMI(Z; Y) in bits}}``
``diffusion.sigma``       ``{model: {epoch: Gaussian bandwidth used}}``

Options (section ``diffusion``): ``t`` (diffusion power, 1), ``bandwidth`` (``"median"``,
``"knn"`` or a float σ; default ``"median"``), ``n_repetitions`` (size-matched random subsets per
class for DSMI, 5).

:data:`PANEL` is the default study's stage (held-out samples of "manifold" and "digits", last
hidden layer, every checkpoint). The pieces are public so the ``diffusion`` study and users reuse
them:

* :func:`measure_dse` — DSE, its standard error, DSMI(Z; Y) and σ of an embedding at every
  checkpoint (through :func:`repgeo.models.over_checkpoints`);
* :func:`report_dse` — the metrics, table and figure of such results in a run;
* :func:`geodesic_method_distances` — heat-geodesic, PHATE-potential, diffusion-map,
  shortest-path and Euclidean distances from source rows, on one shared graph (the ``diffusion``
  study scores them against ground-truth geodesics).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from .._backend import to_numpy
from .._validation import check_array, check_positive_int
from ..data import Dataset
from ..diffusion import (
    build_graph,
    diffusion_map,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    euclidean_distances,
    heat_geodesic_distances,
    phate_potential_distances,
    select_t,
    shortest_path_distances,
)
from ..diffusion.graph import DisconnectedGraphWarning
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

METHODS = ("heat_geodesic", "phate", "diffusion_maps", "shortest_path", "euclidean")
"""The distances :func:`geodesic_method_distances` returns, in this order."""

_QUANTITIES = ("dse", "dse_stderr", "dsmi", "sigma")


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
        "sigma": {epoch: σ}}``, epochs as strings (JSON keys) in ascending order; ``"dsmi"`` is
        empty when ``data`` has no labels.

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
    (['dse', 'dse_stderr', 'dsmi', 'sigma'], ['0', '5'])
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
    out: dict[str, dict[str, float]] = {q: {} for q in _QUANTITIES}
    for epoch in sorted(per_epoch):
        dse, mi = per_epoch[epoch]
        out["dse"][str(epoch)] = dse.entropy
        out["dse_stderr"][str(epoch)] = dse.stderr
        out["sigma"][str(epoch)] = dse.sigma
        if mi is not None:
            out["dsmi"][str(epoch)] = mi.mi
    return out


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
    """Write ``diffusion.dse``, ``.dse_stderr``, ``.dsmi`` and ``.sigma``, a table and a figure.

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
        ctx.metric(f"diffusion.{key}", {model: res[key] for model, res in results.items()})
    rows = []
    for model, res in results.items():
        acc = {int(e): float(a) for e, a in (accuracy or {}).get(model, {}).items()}
        for e, v in res["dse"].items():
            row: dict[str, Any] = {"model": model, "epoch": int(e)}
            if accuracy is not None:
                row["test accuracy"] = round(acc.get(int(e), float("nan")), 4)
            row["DSE (bits)"] = round(v, 4)
            row["DSMI(Z;Y) (bits)"] = round(res["dsmi"][e], 4) if e in res["dsmi"] else ""
            row["σ"] = round(res["sigma"][e], 4)
            rows.append(row)
    ctx.table(title, rows, caption=table_caption)
    ctx.figure(fig, name, caption=caption)


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


# ----------------------------------------------------------------------------- geodesic methods
def geodesic_method_distances(
    X: Any,
    *,
    rows: Any,
    k: int,
    dm_components: int = 10,
    random_state: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Distances from ``rows`` to every point by each method of :data:`METHODS`.

    One alpha-decay kNN graph (:func:`repgeo.diffusion.build_graph`) is shared by every graph
    method: heat geodesics at the automatic ``t`` (:func:`repgeo.diffusion.select_t`), the PHATE
    potential distance, Euclidean distances between ``dm_components`` diffusion-map coordinates,
    graph shortest paths (pairs in different components are set to twice the largest finite
    path) and plain Euclidean distances.

    Parameters
    ----------
    X : array_like of shape (n, d)
        Points.
    rows : array_like of int, shape (m,)
        Source points.
    k : int
        Neighbours of the graph.
    dm_components : int, default=10
        Diffusion-map coordinates.
    random_state : int, default=0
        Seed of the automatic ``t``, PHATE and the diffusion map.

    Returns
    -------
    distances : dict of str to ndarray of shape (m, n)
        ``{method: D}`` in the order of :data:`METHODS`.
    info : dict
        ``t`` (heat), ``t_phate``, ``order`` (Chebyshev order), ``saturated`` (fraction of
        saturated heat-geodesic distances), ``components`` (of the graph) and ``warnings``
        (messages of the graph's :class:`~repgeo.diffusion.DisconnectedGraphWarning`).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.panels.diffusion import geodesic_method_distances
    >>> theta = np.linspace(0, 2 * np.pi, 150, endpoint=False)
    >>> X = np.c_[np.cos(theta), np.sin(theta)]
    >>> D, info = geodesic_method_distances(X, rows=[0, 50], k=5)
    >>> list(D) == ["heat_geodesic", "phate", "diffusion_maps", "shortest_path", "euclidean"]
    True
    >>> D["shortest_path"].shape, info["components"]
    ((2, 150), 1)
    """
    X = to_numpy(check_array(X, name="X"))
    rows = to_numpy(check_array(rows, name="rows", ndim=1, dtype="int"))
    if rows.min() < 0 or rows.max() >= X.shape[0]:
        raise ValueError(
            f"rows must be indices in [0, {X.shape[0]}); got range [{rows.min()}, {rows.max()}]."
        )
    k = check_positive_int(k, "k")
    dm_components = check_positive_int(dm_components, "dm_components")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DisconnectedGraphWarning)
        g = build_graph(X, k=k)
    t, _, _ = select_t(g, random_state=random_state)
    D_heat, heat = heat_geodesic_distances(g, t, rows=rows, return_info=True)
    D_phate, t_phate = phate_potential_distances(
        g, rows=rows, random_state=random_state, return_t=True
    )
    psi = diffusion_map(g, dm_components, random_state=random_state)
    D_sp = shortest_path_distances(g, X, rows=rows)
    finite = np.isfinite(D_sp)
    if not finite.all():  # disconnected: beyond every finite path
        D_sp = np.where(finite, D_sp, 2.0 * np.nanmax(np.where(finite, D_sp, np.nan)))
    distances = {
        "heat_geodesic": D_heat,
        "phate": D_phate,
        "diffusion_maps": euclidean_distances(psi, rows=rows),
        "shortest_path": D_sp,
        "euclidean": euclidean_distances(X, rows=rows),
    }
    info = {
        "t": t,
        "t_phate": t_phate,
        "order": heat.get("order"),
        "saturated": heat["saturated_fraction"],
        "components": g.n_components,
        "warnings": [str(w.message) for w in caught],
    }
    return distances, info


PANEL = Panel(
    name="diffusion",
    title="Diffusion spectral entropy over training",
    fn=run,
    config=DEFAULTS,
    metrics=("diffusion.dse", "diffusion.dse_stderr", "diffusion.dsmi", "diffusion.sigma"),
    requires=("train_manifold", "train_digits"),
    summary="diffusion spectral entropy and DSMI(Z; Y) of the embeddings per checkpoint",
)
