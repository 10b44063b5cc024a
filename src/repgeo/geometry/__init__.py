"""Riemannian geometry of feature maps: pullback metric, volume, curvature, infinite width.

A network truncated at a layer is a feature map Φ: ℝ^d → ℝ^n (:class:`repgeo.features.FeatureMap`).
It induces on input space the pullback metric g(x) = J(x)ᵀJ(x)/n; this package computes it and
what derives from it, fast (batched ``torch.func``, structure-aware paths for MLPs, chunked by
the memory budget) and in the standard conventions (scalar curvature R = 2K).

* :mod:`~repgeo.geometry.metric` — Jacobians, metric, log10 volume element, effective volume
  (top-k singular values), slice metric (k JVPs), singular-value spectra;
* :mod:`~repgeo.geometry.slices` — lines, planes through three inputs, grids, ternary mask;
* :mod:`~repgeo.geometry.curvature` — Gaussian / scalar curvature (Gauss equation for feature
  maps, Brioschi formula for metrics given as functions), float64;
* :mod:`~repgeo.geometry.infinite_width` — the kernel-regime metric (erf, ReLU, arc-cosine
  closed forms; Gauss–Hermite quadrature for any activation) and finite-width comparisons;
* :mod:`~repgeo.geometry.training` — decision panels over checkpoints and the
  boundary-magnification statistic.

Reference: Zavatone-Veth, Yang, Rubinfien, Pehlevan, "Neural networks learn to magnify areas
near decision boundaries", arXiv:2301.11375 (2023).

Examples
--------
>>> import numpy as np
>>> from repgeo.models import MLP
>>> from repgeo.features import FeatureMap
>>> from repgeo.geometry import log_volume_element, grid_2d
>>> phi = FeatureMap(MLP([2, 250, 2], activation="sigmoid", init="paper", seed=0), "act1")
>>> log_volume_element(phi, grid_2d(-1.5, 1.5, 11)[2]).shape
(121,)
"""

from .curvature import gaussian_curvature, metric_curvature, scalar_curvature
from .infinite_width import (
    finite_width_comparison,
    infinite_width_curvature,
    infinite_width_log_volume,
    infinite_width_metric,
    kernel_F,
    random_feature_map,
)
from .metric import (
    GeometryAccuracyWarning,
    SpectralInfo,
    effective_volume,
    jacobian,
    log_volume_element,
    pullback_metric,
    singular_values,
    slice_log_volume,
    slice_metric,
)
from .slices import Plane, grid_2d, line_slice, plane_slice, triangle_mask
from .training import (
    boundary_magnification,
    decision_geometry,
    geometry_over_training,
    logit_margin,
    softmax_entropy,
    spectra_over_training,
)

__all__ = [
    "GeometryAccuracyWarning",
    "Plane",
    "SpectralInfo",
    "boundary_magnification",
    "decision_geometry",
    "effective_volume",
    "finite_width_comparison",
    "gaussian_curvature",
    "geometry_over_training",
    "grid_2d",
    "infinite_width_curvature",
    "infinite_width_log_volume",
    "infinite_width_metric",
    "jacobian",
    "kernel_F",
    "line_slice",
    "log_volume_element",
    "logit_margin",
    "metric_curvature",
    "plane_slice",
    "pullback_metric",
    "random_feature_map",
    "scalar_curvature",
    "singular_values",
    "slice_log_volume",
    "slice_metric",
    "softmax_entropy",
    "spectra_over_training",
    "triangle_mask",
]
