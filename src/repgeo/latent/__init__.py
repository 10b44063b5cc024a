"""Latent-space communication: relative representations, alignment, stitching, similarity.

Two networks trained with different seeds learn latent spaces that differ by (roughly) an
angle-preserving map. This package makes them comparable without training:

* :mod:`~repgeo.latent.relative` — relative representations (similarities to shared anchors);
* :mod:`~repgeo.latent.anchors` — choosing anchors (uniform, stratified, farthest-point,
  k-means snapped to samples, fixed ids), tracked by sample id;
* :mod:`~repgeo.latent.alignment` — orthogonal Procrustes / affine / orthogonalised least-squares
  translation between spaces;
* :mod:`~repgeo.latent.similarity` — Jaccard@k, MRR@k, cosine, linear and RBF CKA, HSIC, and
  layer × layer similarity matrices with heatmaps;
* :mod:`~repgeo.latent.stitching` — zero-shot stitching of encoders and heads.

Examples
--------
>>> import numpy as np
>>> from repgeo.latent import relative_projection, linear_cka
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 16))
>>> Q, _ = np.linalg.qr(rng.normal(size=(16, 16)))
>>> Y = 0.5 * X @ Q                                    # "another seed": rotated and rescaled
>>> anchors = np.arange(20)
>>> R_x, R_y = relative_projection(X, X[anchors]), relative_projection(Y, Y[anchors])
>>> bool(np.allclose(R_x, R_y)), round(linear_cka(X, Y), 6)
(True, 1.0)
"""

from .alignment import ALIGN_METHODS, LatentAligner, align, orthogonal_procrustes
from .anchors import ANCHOR_METHODS, AnchorSelector, select_anchors
from .cca import CCA, PWCCA, SVCCA, cca, pwcca, svcca
from .compare import (
    COMPARISON_METHODS,
    pairwise_similarity,
    random_orthogonal,
    rotated_copy,
    stitching_matrices,
)
from .pca import pca_project
from .relative import (
    NORMALIZATIONS,
    PROJECTIONS,
    TRANSFORMS,
    RelativeProjection,
    check_parallel,
    relative_projection,
)
from .rsa import RDM_COMPARISONS, RDM_METRICS, RSA, compare_rdms, rdm, rsa
from .shape import SHAPE_METHODS, ShapeDistance, shape_distance
from .similarity import (
    CKA,
    CrossSpaceSimilarity,
    cka,
    cka_from_gram,
    cross_space_similarity,
    hsic,
    jaccard_at_k,
    linear_cka,
    mean_cosine,
    median_bandwidth,
    mrr_at_k,
    rbf_cka,
    similarity_matrix,
)
from .stitching import STITCH_METHODS, StitchingHead, StitchingResult, zero_shot_stitching
from .streaming import CKA_ESTIMATORS, StreamingCKA, StreamingRateReduction
from .uncertainty import (
    BOOTSTRAP_METHODS,
    SIMILARITY_MEASURES,
    BootstrapResult,
    Measure,
    PermutationResult,
    bootstrap_ci,
    compare_with_intervals,
    permutation_test,
)

__all__ = [
    "ALIGN_METHODS",
    "ANCHOR_METHODS",
    "BOOTSTRAP_METHODS",
    "CCA",
    "CKA",
    "CKA_ESTIMATORS",
    "COMPARISON_METHODS",
    "NORMALIZATIONS",
    "PROJECTIONS",
    "PWCCA",
    "RDM_COMPARISONS",
    "RDM_METRICS",
    "RSA",
    "SHAPE_METHODS",
    "SIMILARITY_MEASURES",
    "STITCH_METHODS",
    "SVCCA",
    "TRANSFORMS",
    "AnchorSelector",
    "BootstrapResult",
    "CrossSpaceSimilarity",
    "LatentAligner",
    "Measure",
    "PermutationResult",
    "RelativeProjection",
    "ShapeDistance",
    "StitchingHead",
    "StitchingResult",
    "StreamingCKA",
    "StreamingRateReduction",
    "align",
    "bootstrap_ci",
    "cca",
    "check_parallel",
    "cka",
    "cka_from_gram",
    "compare_rdms",
    "compare_with_intervals",
    "cross_space_similarity",
    "hsic",
    "jaccard_at_k",
    "linear_cka",
    "mean_cosine",
    "median_bandwidth",
    "mrr_at_k",
    "orthogonal_procrustes",
    "pairwise_similarity",
    "pca_project",
    "permutation_test",
    "pwcca",
    "random_orthogonal",
    "rbf_cka",
    "rdm",
    "relative_projection",
    "rotated_copy",
    "rsa",
    "select_anchors",
    "shape_distance",
    "similarity_matrix",
    "stitching_matrices",
    "svcca",
    "zero_shot_stitching",
]
