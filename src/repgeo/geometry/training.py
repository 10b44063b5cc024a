"""Geometry over training: decision panels on a grid or a plane, spectra at anchors, and the
boundary-magnification statistic.

Zavatone-Veth et al. (2023) find that training magnifies the volume element near the decision
boundary. :func:`boundary_magnification` quantifies it on a grid of points: the mean log10
volume on the points closest to the boundary (smallest logit margin, default 10 %) minus that
on the points farthest from it (largest margin, default 50 %). At initialisation it is near 0 (or
negative); after training it should rise.

Which layer is "the last hidden layer" (``layer="auto"``) is decided by the one rule
:func:`repgeo.models.hidden_layers`, and checkpoints are checked as in
:func:`repgeo.models.over_checkpoints`; to measure every layer of every checkpoint, call
:func:`geometry_over_training` on each step's model inside
:func:`repgeo.models.over_checkpoints` (its second example).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._backend import to_numpy
from .._validation import (
    check_array,
    check_choice,
    check_consistent_length,
    check_positive_int,
    check_scalar,
)
from ..features import FeatureMap
from ..models import check_checkpoints, hidden_layers
from .curvature import gaussian_curvature
from .metric import effective_volume, log_volume_element, singular_values, slice_log_volume

__all__ = [
    "boundary_magnification",
    "decision_geometry",
    "geometry_over_training",
    "logit_margin",
    "softmax_entropy",
    "spectra_over_training",
]

QUANTITIES = ("volume", "effective", "slice")


def _logits(logits: Any) -> np.ndarray:
    L = to_numpy(
        check_array(logits, name="logits", ndim=2, shape_hint="(m, n_classes)", min_features=2)
    )
    return np.asarray(L, dtype=np.float64)


def softmax_entropy(logits: Any) -> np.ndarray:
    """Entropy of softmax(logits) in log base C (the number of classes), so in [0, 1].

    Parameters
    ----------
    logits : array_like of shape (m, C), C >= 2

    Returns
    -------
    H : ndarray of shape (m,)

    Examples
    --------
    >>> from repgeo.geometry import softmax_entropy
    >>> softmax_entropy([[0.0, 0.0, 0.0], [50.0, 0.0, 0.0]]).round(6).tolist()
    [1.0, 0.0]
    """
    L = _logits(logits)
    Z = L - L.max(1, keepdims=True)
    logp = Z - np.log(np.exp(Z).sum(1, keepdims=True))
    H = -(np.exp(logp) * logp).sum(1) / np.log(L.shape[1])
    return np.clip(H, 0.0, 1.0)


def logit_margin(logits: Any) -> np.ndarray:
    """Top logit minus the runner-up (|ℓ₁ − ℓ₀| for two classes): small near the boundary.

    Examples
    --------
    >>> from repgeo.geometry import logit_margin
    >>> logit_margin([[1.0, 3.0, 2.5], [0.0, -1.0, 0.0]]).tolist()
    [0.5, 0.0]
    """
    L = _logits(logits)
    top2 = np.sort(L, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def boundary_magnification(
    log_volume: Any,
    logits: Any = None,
    *,
    margin: Any = None,
    near: float = 0.1,
    far: float = 0.5,
) -> float:
    """Mean log10 volume near the decision boundary minus far from it.

    Parameters
    ----------
    log_volume : array_like of shape (m,)
        log10 volume element (or effective / slice volume) at grid points.
    logits : array_like of shape (m, C), optional
        The model's logits at the same points (the margin is computed from them).
    margin : array_like of shape (m,), optional
        A precomputed distance-to-boundary proxy instead of ``logits`` (exactly one of them).
    near : float, default=0.1
        Fraction of points with the smallest margin.
    far : float, default=0.5
        Fraction of points with the largest margin (``near + far <= 1``).

    Returns
    -------
    float
        ``mean(log_volume[near set]) − mean(log_volume[far set])`` (log10 units: 0.3 means the
        volume element is on average 2× larger near the boundary).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import boundary_magnification
    >>> margin = np.linspace(0, 1, 10)
    >>> logvol = 1.0 - margin                 # largest at the boundary
    >>> round(boundary_magnification(logvol, margin=margin, near=0.2, far=0.4), 6)   # (1 + 8/9)/2 - (3+2+1+0)/36
    0.777778
    """
    lv = np.asarray(
        to_numpy(
            check_array(log_volume, name="log_volume", ndim=1, shape_hint="(m,)", allow_nan=True)
        ),
        dtype=np.float64,
    )
    if np.isnan(lv).any() or np.isposinf(lv).any():
        raise ValueError("log_volume contains NaN or +inf; expected finite log10 volumes.")
    if np.isneginf(lv).any():
        raise ValueError(
            f"log_volume is -inf (a singular metric) at {int(np.isneginf(lv).sum())} point(s): "
            "the mean is undefined. Compute in float64 (float32 sigmoids saturate at |z| ≈ 17, "
            "making σ' exactly 0) or use effective_volume with a floor."
        )
    if (logits is None) == (margin is None):
        raise ValueError("pass exactly one of logits (m, C) or margin (m,).")
    if logits is not None:
        mg = logit_margin(logits)
        check_consistent_length(lv, mg, names=["log_volume", "logits"])
    else:
        mg = np.asarray(
            to_numpy(check_array(margin, name="margin", ndim=1, shape_hint="(m,)")),
            dtype=np.float64,
        )
        check_consistent_length(lv, mg, names=["log_volume", "margin"])
    near = float(check_scalar(near, "near", min_val=0.0, max_val=1.0, include_min=False))
    far = float(check_scalar(far, "far", min_val=0.0, max_val=1.0, include_min=False))
    if near + far > 1.0:
        raise ValueError(f"near + far must be <= 1 (disjoint sets); got near={near}, far={far}.")
    m = lv.shape[0]
    n_near = max(1, round(near * m))
    n_far = max(1, round(far * m))
    if n_near + n_far > m:
        raise ValueError(
            f"need at least {n_near + n_far} points for near={near}, far={far}; got {m}."
        )
    order = np.argsort(mg, kind="stable")
    return float(lv[order[:n_near]].mean() - lv[order[-n_far:]].mean())


def _resolve_layer(model: nn.Module, layer: str | None) -> str | None:
    """``"auto"`` -> the last of :func:`repgeo.models.hidden_layers`; anything else unchanged."""
    return hidden_layers(model)[-1] if layer == "auto" else layer


def decision_geometry(
    model: nn.Module,
    X: Any,
    *,
    layer: str | None = "auto",
    quantity: str = "volume",
    k: int | None = None,
    basis: Any = None,
    curvature: bool = False,
    dtype: Any = torch.float64,
) -> dict[str, np.ndarray]:
    """Predictions and geometry of one model at a batch of points (e.g. a grid or a plane).

    Parameters
    ----------
    model : nn.Module
        A classifier mapping (m, d) inputs to (m, C) logits; used in eval mode.
    X : array_like of shape (m, d)
    layer : str or None, default="auto"
        Feature map layer; ``"auto"`` = the last of :func:`repgeo.models.hidden_layers` (a
        :class:`ValueError` for a model whose hidden layers cannot be told: name the layer);
        ``None`` = the logits.
    quantity : {"volume", "effective", "slice"}, default="volume"
        ``"volume"``: log10 √det g (needs d <= n); ``"effective"``: top-k effective volume;
        ``"slice"``: log10 √det G on the plane spanned by ``basis``.
    k : int, optional
        For ``"effective"``.
    basis : array_like of shape (d, 2), optional
        For ``"slice"`` and for the curvature of a slice (d > 2).
    curvature : bool, default=False
        Also compute the Gaussian curvature K (float64) — of the input metric for d = 2, of the
        slice metric otherwise.
    dtype : torch.dtype or None, default=torch.float64
        Compute dtype of the volume (``None``: the model's). float64 by default: grids are
        cheap, and in float32 saturated sigmoids (|z| > 17) have σ' exactly 0, i.e. a spurious
        singular metric.

    Returns
    -------
    dict
        ``logits`` (m, C), ``pred`` (m,), ``entropy`` (m,), ``margin`` (m,), ``log_volume`` (m,)
        and, with ``curvature=True``, ``K`` (m,).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.models import MLP
    >>> from repgeo.geometry import decision_geometry, grid_2d
    >>> net = MLP([2, 20, 2], activation="sigmoid", init="paper", seed=0)
    >>> res = decision_geometry(net, grid_2d(-1, 1, 5)[2], curvature=True)
    >>> sorted(res), res["log_volume"].shape
    (['K', 'entropy', 'log_volume', 'logits', 'margin', 'pred'], (25,))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    check_choice(quantity, "quantity", QUANTITIES)
    if not isinstance(curvature, bool):
        raise TypeError(f"curvature must be a bool; got {type(curvature).__name__}.")
    Xa = check_array(X, name="X", ndim=2, shape_hint="(m, d)")
    Xn = np.asarray(to_numpy(Xa))
    layer = _resolve_layer(model, layer)
    fm = FeatureMap(model, layer)
    out_fm = FeatureMap(model)
    dev = fm.parameters_device
    with torch.no_grad():
        logits = (
            torch.cat(
                [
                    out_fm(torch.as_tensor(Xn[s : s + 8192], dtype=fm.parameters_dtype, device=dev))
                    for s in range(0, len(Xn), 8192)
                ]
            )
            .cpu()
            .numpy()
            .astype(np.float64)
        )
    if quantity == "volume":
        lv = log_volume_element(fm, Xn, dtype=dtype)
    elif quantity == "effective":
        lv = effective_volume(fm, Xn, k=k, dtype=dtype)
    else:
        if basis is None:
            raise ValueError("quantity='slice' needs basis of shape (d, 2).")
        lv = slice_log_volume(fm, Xn, basis, dtype=dtype)
    res = {
        "logits": logits,
        "pred": logits.argmax(1),
        "entropy": softmax_entropy(logits),
        "margin": logit_margin(logits),
        "log_volume": np.asarray(lv, dtype=np.float64),
    }
    if curvature:
        res["K"] = np.asarray(
            gaussian_curvature(fm, Xn, basis=basis if Xn.shape[1] != 2 else None), dtype=np.float64
        )
    return res


def geometry_over_training(
    checkpoints: Sequence[tuple[int, nn.Module]],
    X: Any,
    *,
    near: float = 0.1,
    far: float = 0.5,
    **kwargs: Any,
) -> dict[int, dict[str, Any]]:
    """:func:`decision_geometry` at every checkpoint, plus its boundary magnification.

    One layer at every checkpoint; for every hidden layer, call it on each step's model inside
    :func:`repgeo.models.over_checkpoints` (the second example).

    Parameters
    ----------
    checkpoints : sequence of (epoch, model), or a model (epoch 0)
        E.g. ``repgeo.models.load_checkpoints(folder)``; the result keeps their order.
    X : array_like of shape (m, d)
        Grid or plane points.
    near, far : float
        See :func:`boundary_magnification`.
    **kwargs
        Passed to :func:`decision_geometry` (layer, quantity, k, basis, curvature, dtype).

    Returns
    -------
    dict
        epoch -> the arrays of :func:`decision_geometry` and ``"magnification"`` (float).

    Examples
    --------
    >>> from repgeo.models import MLP
    >>> from repgeo.geometry import geometry_over_training, grid_2d
    >>> cks = [(0, MLP([2, 8, 2], activation="sigmoid", seed=0)), (5, MLP([2, 8, 2], activation="sigmoid", seed=1))]
    >>> res = geometry_over_training(cks, grid_2d(-1, 1, 6)[2])
    >>> sorted(res), isinstance(res[5]["magnification"], float)
    ([0, 5], True)

    Every hidden layer of every checkpoint, ``{layer: {epoch: result}}`` (a bare model is
    epoch 0):

    >>> from repgeo.models import over_checkpoints
    >>> U = grid_2d(-1, 1, 6)[2]
    >>> deep = [(0, MLP([2, 8, 8, 2], activation="sigmoid", seed=0)), (5, MLP([2, 8, 8, 2], seed=1))]
    >>> def measure(_Z, step):
    ...     return geometry_over_training(step.model, U, layer=step.layer)[0]
    >>> per_layer = over_checkpoints(deep, measure, U)
    >>> {layer: sorted(series) for layer, series in per_layer.items()}
    {'act1': [0, 5], 'act2': [0, 5]}
    """
    items = check_checkpoints(checkpoints)
    out: dict[int, dict[str, Any]] = {}
    for epoch, model in items:
        res: dict[str, Any] = decision_geometry(model, X, **kwargs)
        res["magnification"] = boundary_magnification(
            res["log_volume"], margin=res["margin"], near=near, far=far
        )
        out[epoch] = res
    return out


def spectra_over_training(
    checkpoints: Sequence[tuple[int, nn.Module]],
    anchors: Any,
    *,
    layer: str | None = "auto",
    k: int | None = None,
) -> dict[int, np.ndarray]:
    """Singular values of J/√n at anchor inputs for every checkpoint (computed in float64).

    Parameters
    ----------
    checkpoints : sequence of (epoch, model), or a model (epoch 0)
    anchors : array_like of shape (a, d)
    layer : str or None, default="auto"
        As in :func:`decision_geometry` (``"auto"``: the last of
        :func:`repgeo.models.hidden_layers`).
    k : int, optional
        Keep the k largest.

    Returns
    -------
    dict
        epoch -> ndarray of shape (a, k), decreasing along axis 1.

    Examples
    --------
    >>> from repgeo.models import MLP
    >>> from repgeo.geometry import spectra_over_training
    >>> s = spectra_over_training([(0, MLP([3, 10, 2], seed=0))], [[0.0, 1.0, 2.0]], k=2)
    >>> s[0].shape
    (1, 2)
    """
    items = check_checkpoints(checkpoints)
    A = np.asarray(to_numpy(check_array(anchors, name="anchors", ndim=2, shape_hint="(a, d)")))
    if k is not None:
        check_positive_int(k, "k")
    out = {}
    for epoch, model in items:
        fm = FeatureMap(model, _resolve_layer(model, layer))
        # float64 Gram eigenvalues: accurate to ~1e-16·cond², and batched SVDs of many small
        # matrices parallelise poorly on busy CPUs
        out[epoch] = np.asarray(
            singular_values(fm, A, k=k, method="gram", dtype=torch.float64), dtype=np.float64
        )
    return out
