"""Manifold hashing: do trained networks hash class manifolds, and does that give one-shot learning?

Following Dikkala, Kaplun & Panigrahy (2021), inputs are x = G(γ, θ): γ identifies a class
manifold and θ moves along it. This package measures whether an embedding h(x) is a
locality-sensitive hash of γ — a function of γ alone, invariant to θ — and whether that gives
one-shot recognition of classes the network never saw:

* the generators of class-manifold data (families 1–3) are in :mod:`repgeo.data`;
* :func:`separation` / :class:`Separation` — same- vs different-manifold pairs: cosine
  distributions, AUROC, within/between distance ratio;
* :func:`invariance` / :class:`InvarianceRatio` — ‖∂h/∂θ‖ vs ‖∂h/∂γ‖ through the composed map,
  each normalised by the generator's, by JVPs (:func:`generator_tangents` +
  :func:`invariance_from_tangents` reuse the generator's tangents across checkpoints);
* :func:`ridge_r2` / :class:`RidgeProbe` — held-out linear recoverability of γ and θ;
* :class:`SimHash`, :func:`collision_curve` — random-hyperplane hashing of embeddings vs the
  SimHash law (1 − angle/π)^m;
* :func:`one_shot_accuracy`, :func:`k_shot_curve`, :class:`FewShotEvaluator` — N-way k-shot
  episodes on unseen classes, vectorised;
* :func:`effective_rank`.
* :func:`analyse_checkpoints`, :func:`separation_snapshots`, :func:`baseline_embeddings`,
  :func:`one_shot_baselines`, :func:`k_shot_baselines`, :func:`collision_baselines` — all of
  it over training checkpoints and against baselines (:mod:`repgeo.hashing.training`).

See ``docs/hashing.md``.
"""

from .measures import (
    GeneratorTangents,
    InvarianceRatio,
    RidgeProbe,
    Separation,
    auroc,
    effective_rank,
    generator_tangents,
    invariance,
    invariance_from_tangents,
    pair_similarities,
    ridge_r2,
    sample_pairs,
    separation,
)
from .oneshot import (
    FewShotEvaluator,
    episode_accuracy,
    k_shot_curve,
    one_shot_accuracy,
    sample_episodes,
)
from .simhash import SimHash, collision_curve, simhash_collision_probability
from .training import (
    analyse_checkpoints,
    baseline_embeddings,
    collision_baselines,
    k_shot_baselines,
    layer_series,
    one_shot_baselines,
    separation_snapshots,
)

__all__ = [
    "analyse_checkpoints",
    "baseline_embeddings",
    "collision_baselines",
    "k_shot_baselines",
    "layer_series",
    "one_shot_baselines",
    "separation_snapshots",
]
__all__ += [
    "FewShotEvaluator",
    "GeneratorTangents",
    "InvarianceRatio",
    "RidgeProbe",
    "Separation",
    "SimHash",
    "auroc",
    "collision_curve",
    "effective_rank",
    "episode_accuracy",
    "generator_tangents",
    "invariance",
    "invariance_from_tangents",
    "k_shot_curve",
    "one_shot_accuracy",
    "pair_similarities",
    "ridge_r2",
    "sample_episodes",
    "sample_pairs",
    "separation",
    "simhash_collision_probability",
]
