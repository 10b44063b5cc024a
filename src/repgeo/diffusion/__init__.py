"""Diffusion geometry of point clouds and representations.

* :mod:`~repgeo.diffusion.graph` — sparse kNN affinity graphs (alpha-decay / Gaussian kernels,
  anisotropy, normalised or combinatorial Laplacians), built once and cached.
* :mod:`~repgeo.diffusion.heat` — heat kernels ``exp(-tL)``: exact, Chebyshev, Krylov.
* :mod:`~repgeo.diffusion.geodesic` — heat-geodesic distances, automatic ``t`` and the
  :class:`HeatGeodesic` embedding.
* :mod:`~repgeo.diffusion.entropy` — diffusion spectral entropy and mutual information (exact,
  and stochastic Lanczos quadrature for large ``n``).
* :mod:`~repgeo.diffusion.phate` and :mod:`~repgeo.diffusion.baselines` — PHATE potential,
  diffusion maps, shortest paths, Euclidean distances.
* :mod:`~repgeo.diffusion.evaluation` — row-wise Spearman/Pearson, P@k, trustworthiness
  against ground-truth geodesics (Swiss roll and branching tree live in :mod:`repgeo.data`), and
  :func:`geodesic_method_distances` (every distance method from source rows on one graph).
"""

from .baselines import diffusion_map, euclidean_distances, shortest_path_distances
from .entropy import (
    DiffusionSpectralEntropy,
    DSEAccuracyWarning,
    DSEResult,
    DSMIResult,
    diffusion_spectral_entropy,
    diffusion_spectral_mutual_information,
    gaussian_bandwidth,
)
from .evaluation import (
    evaluate_distances,
    geodesic_method_distances,
    precision_at_k,
    rowwise_correlation,
    trustworthiness,
)
from .geodesic import (
    HeatGeodesic,
    SaturationWarning,
    heat_entropy_curve,
    heat_geodesic_distances,
    kneedle,
    select_t,
)
from .graph import DiffusionGraph, DisconnectedGraphWarning, build_graph
from .heat import chebyshev_order, heat_kernel
from .mds import classical_mds, smacof
from .phate import PHATE, phate_potential_distances, von_neumann_entropy

__all__ = [
    "PHATE",
    "DSEAccuracyWarning",
    "DSEResult",
    "DSMIResult",
    "DiffusionGraph",
    "DiffusionSpectralEntropy",
    "DisconnectedGraphWarning",
    "HeatGeodesic",
    "SaturationWarning",
    "build_graph",
    "chebyshev_order",
    "classical_mds",
    "diffusion_map",
    "diffusion_spectral_entropy",
    "diffusion_spectral_mutual_information",
    "euclidean_distances",
    "evaluate_distances",
    "gaussian_bandwidth",
    "geodesic_method_distances",
    "heat_entropy_curve",
    "heat_geodesic_distances",
    "heat_kernel",
    "kneedle",
    "phate_potential_distances",
    "precision_at_k",
    "rowwise_correlation",
    "select_t",
    "shortest_path_distances",
    "smacof",
    "trustworthiness",
    "von_neumann_entropy",
]
