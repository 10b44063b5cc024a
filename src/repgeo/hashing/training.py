"""Manifold hashing over training: the measures of :mod:`repgeo.hashing` at every checkpoint and
hidden layer, and one-shot transfer against baselines.

* :func:`analyse_checkpoints` — separation (AUROC, within/between distance ratio), invariance
  ratio, ridge recoverability of γ and θ and effective rank of every checkpoint × hidden layer,
  on held-out samples of the training classes (``"seen"``) and on unseen classes, as one row per
  (epoch, layer); built on :func:`repgeo.models.over_checkpoints`, with the generator's tangents
  computed once and shared by every checkpoint;
* :func:`layer_series` — one quantity of those rows as ``{epoch: value}`` for one layer;
* :func:`separation_snapshots` — the same/different-manifold cosine similarities of chosen
  checkpoints (the histograms of the report);
* :func:`baseline_embeddings` — a trained and an untrained network's embedding of the same
  inputs, the raw input and its PCA (fitted on other inputs), the four things one-shot transfer
  is compared across;
* :func:`one_shot_baselines` / :func:`k_shot_baselines` — N-way 1-shot accuracy and k-shot
  curves of those embeddings, all scored on the same episodes;
* :func:`collision_baselines` — SimHash collision curves of those embeddings against the angle
  between the samples' γ's, all on the same pairs.

Every function takes its randomness from ``random_state``; an int seed is handed unchanged to
each measure (so every checkpoint and embedding sees the same pairs, splits and episodes), a
``Generator`` or ``None`` is first turned into one int seed.

References
----------
.. [1] N. Dikkala, G. Kaplun, R. Panigrahy. "For Manifold Learning, Deep Neural Networks can be
   Locality Sensitive Hash Functions." arXiv:2103.06875 (2021).
.. [2] J. Snell, K. Swersky, R. Zemel. "Prototypical networks for few-shot learning."
   NeurIPS (2017).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from torch import nn

from .._validation import (
    check_array,
    check_consistent_length,
    check_labels,
    check_positive_int,
    check_random_state,
)
from ..data import Dataset
from ..data.manifolds import ClassManifolds
from ..features import extract
from ..latent import pca_project
from ..models import hidden_layers, over_checkpoints
from .measures import (
    effective_rank,
    generator_tangents,
    invariance_from_tangents,
    pair_similarities,
    ridge_r2,
    separation,
)
from .oneshot import k_shot_curve, one_shot_accuracy
from .simhash import collision_curve

__all__ = [
    "MEASURES",
    "analyse_checkpoints",
    "baseline_embeddings",
    "collision_baselines",
    "k_shot_baselines",
    "layer_series",
    "one_shot_baselines",
    "separation_snapshots",
]

MEASURES = ("separation", "invariance", "recoverability", "rank")
"""What :func:`analyse_checkpoints` can measure, and the row keys each one writes."""

_ROW_KEYS = {
    "separation": ("auroc_seen", "auroc_unseen", "wb_seen", "wb_unseen"),
    "invariance": ("inv_seen", "inv_unseen", "gain_theta", "gain_gamma"),
    "recoverability": ("r2_gamma", "r2_gamma_new", "r2_theta"),
    "rank": ("erank",),
}


def _seed(random_state: Any) -> int:
    """An int seed: an int as given, otherwise one drawn from ``check_random_state``."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int; got {random_state}.")
        return int(random_state)
    return int(check_random_state(random_state).integers(2**62))


def _check_split(splits: Any, name: str, extras: Sequence[str] = ()) -> Dataset:
    if not isinstance(splits, Mapping):
        raise TypeError(f"splits must be a mapping of split name to Dataset; got {type(splits)}.")
    if name not in splits:
        raise ValueError(f"splits must hold a {name!r} Dataset; got keys {sorted(splits)}.")
    ds = splits[name]
    if not isinstance(ds, Dataset):
        raise TypeError(f"splits[{name!r}] must be a repgeo.data.Dataset; got {type(ds).__name__}.")
    if ds.y is None:
        raise ValueError(f"splits[{name!r}] has no labels; the hashing measures need classes.")
    missing = [k for k in extras if k not in ds.extra]
    if missing:
        raise ValueError(
            f"splits[{name!r}] lacks the generator parameters {missing} (extra arrays); "
            f"got {sorted(ds.extra)}."
        )
    return ds


def _check_measures(measures: Any) -> tuple[str, ...]:
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    unknown = [m for m in measures if m not in MEASURES]
    if unknown or not measures:
        raise ValueError(f"measures must be a non-empty subset of {MEASURES}; got {measures}.")
    return measures


def analyse_checkpoints(
    checkpoints: Sequence[tuple[int, nn.Module]] | nn.Module,
    splits: Mapping[str, Dataset],
    generator: ClassManifolds | None = None,
    *,
    layers: Sequence[str] | None = None,
    measures: Sequence[str] = MEASURES,
    n_pairs: int = 20000,
    n_invariance_points: int = 150,
    device: Any = "cpu",
    random_state: Any = 0,
) -> list[dict[str, Any]]:
    """Hashing measures of every checkpoint and hidden layer, one row per (epoch, layer).

    Parameters
    ----------
    checkpoints : sequence of (epoch, model), or a model (epoch 0)
        What :func:`repgeo.models.load_checkpoints` returns.
    splits : mapping of str to Dataset
        ``"test"`` (held-out samples of the training classes, "seen") and ``"unseen"`` (samples
        of classes the network never saw), labelled, with ``extra["gamma"]`` and
        ``extra["theta"]`` for the invariance and recoverability measures.
    generator : ClassManifolds, optional
        The generator of the data, for the Jacobians of the invariance ratio (required when
        ``"invariance"`` is measured).
    layers : sequence of str, optional
        Default: :func:`repgeo.models.hidden_layers` of each model.
    measures : sequence of str, default=MEASURES
        Subset of ``("separation", "invariance", "recoverability", "rank")``.
    n_pairs : int, default=20000
        Same- and different-class pairs of each split for the separation measures.
    n_invariance_points : int, default=150
        Points of each split (drawn once, shared by every checkpoint) for the invariance ratio.
    device : str or torch.device, default="cpu"
        Where the forward passes run.
    random_state : int, Generator or None, default=0
        One int seed for the point draw and every measure (pairs, probe splits).

    Returns
    -------
    rows : list of dict
        Epochs ascending, layers in model order within an epoch. Each row holds ``epoch``,
        ``layer`` and, per measure: ``auroc_seen``, ``auroc_unseen``, ``wb_seen``,
        ``wb_unseen`` (separation: AUROC of same- vs different-class cosine similarity and the
        within/between distance ratio); ``inv_seen``, ``inv_unseen`` (invariance ratio
        g_θ/g_γ), ``gain_theta``, ``gain_gamma`` (its gains on the seen points);
        ``r2_gamma`` (ridge R² of γ on held-out samples, seen and unseen pooled),
        ``r2_gamma_new`` (on held-out classes), ``r2_theta`` (of θ on unseen classes);
        ``erank`` (effective rank of the unseen-class embedding).

    See Also
    --------
    repgeo.hashing.separation, repgeo.hashing.invariance_from_tangents, repgeo.hashing.ridge_r2,
    repgeo.hashing.effective_rank, repgeo.models.over_checkpoints, layer_series

    Examples
    --------
    >>> from repgeo.data import RandomNetworkManifolds
    >>> from repgeo.hashing import analyse_checkpoints
    >>> from repgeo.models import MLP
    >>> gen = RandomNetworkManifolds(n_classes=6, k_gamma=3, k_theta=2, ambient_dim=12,
    ...                              random_state=0)
    >>> splits = {"test": gen.sample(8, classes=[0, 1, 2], random_state=1),
    ...           "unseen": gen.sample(8, classes=[3, 4, 5], random_state=2)}
    >>> cks = [(0, MLP([12, 16, 8, 3], seed=0)), (5, MLP([12, 16, 8, 3], seed=1))]
    >>> rows = analyse_checkpoints(cks, splits, gen, n_pairs=200, n_invariance_points=10)
    >>> [(r["epoch"], r["layer"]) for r in rows]
    [(0, 'act1'), (0, 'act2'), (5, 'act1'), (5, 'act2')]
    >>> 0.0 <= rows[0]["auroc_unseen"] <= 1.0 and rows[0]["inv_seen"] > 0
    True
    """
    measures = _check_measures(measures)
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    n_invariance_points = check_positive_int(n_invariance_points, "n_invariance_points")
    needs_gamma = {"invariance", "recoverability"} & set(measures)
    test = _check_split(splits, "test", ("gamma", "theta") if needs_gamma else ())
    unseen = _check_split(splits, "unseen", ("gamma", "theta") if needs_gamma else ())
    if "invariance" in measures and not isinstance(generator, ClassManifolds):
        raise TypeError(
            "measuring 'invariance' needs the data's generator (a repgeo.data.ClassManifolds); "
            f"got {type(generator).__name__}."
        )
    seed = _seed(random_state)

    rng = np.random.default_rng(seed)
    idx_s = rng.choice(len(test), size=min(n_invariance_points, len(test)), replace=False)
    idx_u = rng.choice(len(unseen), size=min(n_invariance_points, len(unseen)), replace=False)
    if "invariance" in measures:  # the generator's tangents are shared by every checkpoint
        tan_s = generator_tangents(
            generator, test.extra["gamma"][idx_s], test.extra["theta"][idx_s]
        )
        tan_u = generator_tangents(
            generator, unseen.extra["gamma"][idx_u], unseen.extra["theta"][idx_u]
        )
    if "recoverability" in measures:
        pooled_gamma = np.vstack([test.extra["gamma"], unseen.extra["gamma"]])
        pooled_y = np.concatenate([test.y, unseen.y])

    def measure(Z: Mapping[str, np.ndarray], step: Any) -> dict[str, Any]:
        Zs, Zu = Z["test"], Z["unseen"]
        row: dict[str, Any] = {}
        if "separation" in measures:
            ss = separation(Zs, test.y, n_pairs=n_pairs, random_state=seed)
            su = separation(Zu, unseen.y, n_pairs=n_pairs, random_state=seed)
            row.update(
                auroc_seen=ss["auroc"],
                auroc_unseen=su["auroc"],
                wb_seen=ss["within_between_ratio"],
                wb_unseen=su["within_between_ratio"],
            )
        if "invariance" in measures:
            inv_s = invariance_from_tangents(step.model, tan_s, layer=step.layer)
            inv_u = invariance_from_tangents(step.model, tan_u, layer=step.layer)
            row.update(
                inv_seen=inv_s["ratio"],
                inv_unseen=inv_u["ratio"],
                gain_theta=inv_s["gain_theta"],
                gain_gamma=inv_s["gain_gamma"],
            )
        if "recoverability" in measures:
            Zp = np.vstack([Zs, Zu])
            row["r2_gamma"] = ridge_r2(Zp, pooled_gamma, random_state=seed)
            row["r2_gamma_new"] = ridge_r2(Zp, pooled_gamma, groups=pooled_y, random_state=seed)
            row["r2_theta"] = ridge_r2(Zu, unseen.extra["theta"], random_state=seed)
        if "rank" in measures:
            row["erank"] = effective_rank(Zu)
        return row

    res = over_checkpoints(
        checkpoints,
        measure,
        {"test": test.X, "unseen": unseen.X},
        layers=layers,
        device=device,
    )
    epochs = sorted({e for series in res.values() for e in series})
    return [
        {"epoch": int(epoch), "layer": layer, **series[epoch]}
        for epoch in epochs
        for layer, series in res.items()
        if epoch in series
    ]


def layer_series(rows: Sequence[Mapping[str, Any]], key: str, *, layer: str) -> dict[int, float]:
    """One quantity of :func:`analyse_checkpoints`' rows for one layer, as ``{epoch: value}``.

    Parameters
    ----------
    rows : sequence of dict
        Rows with ``epoch``, ``layer`` and ``key``.
    key : str
        The quantity (``"inv_seen"``, ``"auroc_unseen"``, ...).
    layer : str

    Returns
    -------
    dict of int to float
        Epochs in row order; rows of other layers, or without ``key``, are skipped.

    Examples
    --------
    >>> from repgeo.hashing import layer_series
    >>> rows = [{"epoch": 0, "layer": "act1", "erank": 3.0},
    ...         {"epoch": 0, "layer": "act2", "erank": 2.0},
    ...         {"epoch": 5, "layer": "act2", "erank": 1.5}]
    >>> layer_series(rows, "erank", layer="act2")
    {0: 2.0, 5: 1.5}
    """
    if not any(r.get("layer") == layer for r in rows):
        raise ValueError(
            f"no row of layer {layer!r}; the rows hold {sorted({r.get('layer') for r in rows})}."
        )
    return {int(r["epoch"]): float(r[key]) for r in rows if r["layer"] == layer and key in r}


def separation_snapshots(
    checkpoints: Sequence[tuple[int, nn.Module]] | nn.Module,
    splits: Mapping[str, Dataset],
    *,
    layer: str | None = None,
    n_pairs: int = 20000,
    device: Any = "cpu",
    random_state: Any = 0,
) -> dict[int, dict[str, dict[str, Any]]]:
    """Same- and different-class pair similarities of one layer at the given checkpoints.

    Parameters
    ----------
    checkpoints : sequence of (epoch, model), or a model (epoch 0)
        Typically the first and the last checkpoint.
    splits : mapping of str to Dataset
        ``"test"`` (reported as ``"seen"``) and ``"unseen"``, labelled.
    layer : str, optional
        Default: the last hidden layer of the last checkpoint (the embedding).
    n_pairs : int, default=20000
        Pairs of each kind per split.
    device : str or torch.device, default="cpu"
    random_state : int, Generator or None, default=0
        The same pairs are drawn at every checkpoint.

    Returns
    -------
    dict
        ``{epoch: {"seen": sims, "unseen": sims}}`` with ``sims`` what
        :func:`repgeo.hashing.pair_similarities` returns (``cos_same``, ``cos_diff``,
        ``dist_same``, ``dist_diff``).

    Examples
    --------
    >>> from repgeo.data import RandomNetworkManifolds
    >>> from repgeo.hashing import separation_snapshots
    >>> from repgeo.models import MLP
    >>> gen = RandomNetworkManifolds(n_classes=4, k_gamma=3, k_theta=2, ambient_dim=12,
    ...                              random_state=0)
    >>> splits = {"test": gen.sample(6, classes=[0, 1], random_state=1),
    ...           "unseen": gen.sample(6, classes=[2, 3], random_state=2)}
    >>> snaps = separation_snapshots([(0, MLP([12, 8, 2], seed=0))], splits, n_pairs=50)
    >>> sorted(snaps[0]), sorted(snaps[0]["seen"])
    (['seen', 'unseen'], ['cos_diff', 'cos_same', 'dist_diff', 'dist_same'])
    """
    n_pairs = check_positive_int(n_pairs, "n_pairs")
    test = _check_split(splits, "test")
    unseen = _check_split(splits, "unseen")
    seed = _seed(random_state)
    if layer is None:
        last = checkpoints if isinstance(checkpoints, nn.Module) else list(checkpoints)[-1][1]
        layer = hidden_layers(last)[-1]
    labels = {"seen": test.y, "unseen": unseen.y}

    def measure(Z: Mapping[str, np.ndarray], _step: Any) -> dict[str, Any]:
        return {
            tag: pair_similarities(Z[tag], labels[tag], n_pairs=n_pairs, random_state=seed)
            for tag in ("seen", "unseen")
        }

    res = over_checkpoints(
        checkpoints, measure, {"seen": test.X, "unseen": unseen.X}, layers=[layer], device=device
    )
    return res[layer]


def baseline_embeddings(
    trained: nn.Module,
    untrained: nn.Module,
    X: Any,
    *,
    pca_fit: Any = None,
    pca_components: int = 32,
    layer: str | None = None,
    device: Any = "cpu",
) -> dict[str, Any]:
    """What one-shot transfer is compared across: two networks' embeddings, the input, its PCA.

    Parameters
    ----------
    trained, untrained : torch.nn.Module
        The trained network and the same architecture at initialisation.
    X : array_like of shape (n_samples, n_features)
        Inputs (typically samples of unseen classes).
    pca_fit : array_like of shape (n_fit, n_features), optional
        Inputs the PCA baseline is fitted on (typically the training inputs, seen classes);
        without it there is no ``"pca"`` entry.
    pca_components : int, default=32
        Principal components kept (at most ``n_features``).
    layer : str, optional
        Default: the last hidden layer of ``trained``.
    device : str or torch.device, default="cpu"

    Returns
    -------
    dict
        ``"trained"``, ``"untrained"`` (ndarray of shape (n_samples, width)), ``"raw"`` (``X``
        itself) and, with ``pca_fit``, ``"pca"`` (float64 of shape (n_samples, pca_components)).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.hashing import baseline_embeddings
    >>> from repgeo.models import MLP
    >>> X = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    >>> emb = baseline_embeddings(MLP([6, 16, 3], seed=1), MLP([6, 16, 3], seed=0), X,
    ...                           pca_fit=X, pca_components=4)
    >>> {k: v.shape for k, v in emb.items()}
    {'trained': (20, 16), 'untrained': (20, 16), 'raw': (20, 6), 'pca': (20, 4)}
    """
    for name, model in (("trained", trained), ("untrained", untrained)):
        if not isinstance(model, nn.Module):
            raise TypeError(f"{name} must be a torch.nn.Module; got {type(model).__name__}.")
    X = check_array(X, name="X", shape_hint="(n_samples, n_features)")
    if pca_fit is not None:
        pca_fit = check_array(pca_fit, name="pca_fit", shape_hint="(n_fit, n_features)")
        if pca_fit.shape[1] != X.shape[1]:
            raise ValueError(
                f"pca_fit must have X's {X.shape[1]} features; got shape {tuple(pca_fit.shape)}."
            )
        pca_components = check_positive_int(pca_components, "pca_components")
    layer = layer if layer is not None else hidden_layers(trained)[-1]
    out = {
        "trained": extract(trained, X, layer=layer, device=device, show_progress=False),
        "untrained": extract(untrained, X, layer=layer, device=device, show_progress=False),
        "raw": X,
    }
    if pca_fit is not None:
        out["pca"] = pca_project(
            np.asarray(pca_fit).astype(np.float64), np.asarray(X).astype(np.float64), pca_components
        )
    return out


def _check_embeddings(embeddings: Any, y: Any) -> np.ndarray:
    if not isinstance(embeddings, Mapping) or not embeddings:
        raise ValueError("embeddings must be a non-empty mapping of name to (n, d) array.")
    y = check_labels(y)
    for name, Z in embeddings.items():
        Z = check_array(Z, name=f"embeddings[{name!r}]", shape_hint="(n_samples, n_features)")
        check_consistent_length(Z, y, names=[f"embeddings[{name!r}]", "y"])
    return y


def _episode_sizes(y: np.ndarray, n_way: int | None, n_query: int) -> tuple[int, int]:
    counts = np.unique(y, return_counts=True)[1]
    n_way = int(min(n_way or counts.size, counts.size))
    n_query = int(min(check_positive_int(n_query, "n_query"), counts.min() - 1))
    return n_way, n_query


def one_shot_baselines(
    embeddings: Mapping[str, Any],
    y: Any,
    *,
    n_way: int | None = 10,
    n_query: int = 5,
    n_episodes: int = 1000,
    random_state: Any = 0,
) -> dict[str, dict[str, Any]]:
    """N-way 1-shot accuracy of several embeddings of the same samples, on the same episodes.

    Parameters
    ----------
    embeddings : mapping of str to array_like of shape (n_samples, n_features)
        E.g. :func:`baseline_embeddings` of samples of unseen classes.
    y : array_like of shape (n_samples,)
        Class labels.
    n_way : int or None, default=10
        Classes per episode, capped at the number of classes (``None``: every class).
    n_query : int, default=5
        Queries per class, capped at the smallest class size minus the one support sample.
    n_episodes : int, default=1000
    random_state : int, Generator or None, default=0
        One int seed: every embedding is scored on the same episodes.

    Returns
    -------
    dict
        ``{name: result}`` with ``result`` what :func:`repgeo.hashing.one_shot_accuracy`
        returns (nearest prototype, cosine): ``mean``, ``ci_low``, ``ci_high``, ``chance``,
        ``n_way``, ...

    Examples
    --------
    Identical embeddings score identically (same episodes); class means beat noise:

    >>> import numpy as np
    >>> from repgeo.hashing import one_shot_baselines
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(6), 8)
    >>> Z = rng.normal(size=(6, 5))[y] + 0.3 * rng.normal(size=(48, 5))
    >>> res = one_shot_baselines({"a": Z, "b": Z.copy(), "noise": rng.normal(size=(48, 5))}, y,
    ...                          n_way=4, n_episodes=200)
    >>> res["a"]["mean"] == res["b"]["mean"] > res["noise"]["mean"]
    True
    """
    y = _check_embeddings(embeddings, y)
    n_way, n_query = _episode_sizes(y, n_way, n_query)
    seed = _seed(random_state)
    return {
        name: one_shot_accuracy(
            Z,
            y,
            n_way=n_way,
            k_shot=1,
            n_query=n_query,
            n_episodes=n_episodes,
            random_state=seed,
        )
        for name, Z in embeddings.items()
    }


def k_shot_baselines(
    embeddings: Mapping[str, Any],
    y: Any,
    *,
    shots: Sequence[int] = (1, 2, 5, 10),
    n_way: int | None = 10,
    n_query: int = 5,
    n_episodes: int = 1000,
    random_state: Any = 0,
) -> dict[str, dict[int, dict[str, Any]]]:
    """k-shot accuracy curves (:func:`repgeo.hashing.k_shot_curve`) of several embeddings.

    Parameters
    ----------
    embeddings : mapping of str to array_like of shape (n_samples, n_features)
    y : array_like of shape (n_samples,)
    shots : sequence of int, default=(1, 2, 5, 10)
        Support examples per class; infeasible ones are skipped (see ``k_shot_curve``).
    n_way : int or None, default=10
        Classes per episode, capped at the number of classes (``None``: every class).
    n_query : int, default=5
        Queries per class (not capped: shots with too few samples are skipped).
    n_episodes : int, default=1000
    random_state : int, Generator or None, default=0
        One int seed: every embedding is scored on the same episodes.

    Returns
    -------
    dict
        ``{name: {k: result}}``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.hashing import k_shot_baselines
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(6), 12)
    >>> Z = rng.normal(size=(6, 5))[y] + rng.normal(size=(72, 5))
    >>> curves = k_shot_baselines({"net": Z}, y, shots=(1, 5), n_way=4, n_episodes=200)
    >>> sorted(curves["net"]), curves["net"][5]["mean"] > curves["net"][1]["mean"]
    ([1, 5], True)
    """
    y = _check_embeddings(embeddings, y)
    counts = np.unique(y, return_counts=True)[1]
    n_way = int(min(n_way or counts.size, counts.size))
    seed = _seed(random_state)
    return {
        name: k_shot_curve(
            Z,
            y,
            shots=shots,
            n_way=n_way,
            n_query=n_query,
            n_episodes=n_episodes,
            random_state=seed,
        )
        for name, Z in embeddings.items()
    }


def collision_baselines(
    embeddings: Mapping[str, Any],
    y: Any,
    *,
    reference: Any,
    n_bits: int = 8,
    n_tables: int = 32,
    n_pairs: int = 20000,
    random_state: Any = 0,
) -> dict[str, dict[str, Any]]:
    """SimHash collision curves (:func:`repgeo.hashing.collision_curve`) of several embeddings
    of the same samples, binned by the angle between their ``reference`` vectors.

    Parameters
    ----------
    embeddings : mapping of str to array_like of shape (n_samples, n_features)
        E.g. :func:`baseline_embeddings` of samples of unseen classes.
    y : array_like of shape (n_samples,)
        Manifold labels (for the same-manifold collision rate).
    reference : array_like of shape (n_samples, k)
        Per-sample manifold identifiers γ; the x-axis is the angle between a pair's γ's.
    n_bits : int, default=8
        Bits per table (m); a perfect hash of γ collides with probability (1 − angle/π)^m.
    n_tables : int, default=32
    n_pairs : int, default=20000
    random_state : int, Generator or None, default=0
        One int seed: every embedding is scored on the same pairs.

    Returns
    -------
    dict
        ``{name: curve}`` (``angle``, ``rate``, ``theory``, ``same_rate``, ``diff_rate``, ...).

    Examples
    --------
    Hashing γ itself follows the SimHash law, and same-γ pairs always collide:

    >>> import numpy as np
    >>> from repgeo.hashing import collision_baselines
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(np.arange(20), 4)
    >>> gamma = rng.normal(size=(20, 5))[y]
    >>> c = collision_baselines({"gamma": gamma}, y, reference=gamma, n_bits=2, n_pairs=500)
    >>> c["gamma"]["same_rate"]
    1.0
    """
    y = _check_embeddings(embeddings, y)
    seed = _seed(random_state)
    return {
        name: collision_curve(
            Z,
            reference=reference,
            y=y,
            n_bits=n_bits,
            n_tables=n_tables,
            n_pairs=n_pairs,
            random_state=seed,
        )
        for name, Z in embeddings.items()
    }
