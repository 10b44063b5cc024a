"""Datasets with stable sample ids, and the generators of synthetic data — the one home of data.

* :mod:`~repgeo.data.manifolds` — class-manifold generators x = G(γ, θ): family 1 (random
  networks) and family 2 (linear subspaces), with exact Jacobians;
* :mod:`~repgeo.data.warped_digits` — family 3: canonical sklearn digits under rotation,
  translation, scale and brightness;
* :mod:`~repgeo.data.geodesic` — Swiss roll and branching tree with ground-truth geodesics;
* :mod:`~repgeo.data.toy` — the sinusoid and XOR tasks of the Riemannian-geometry paper;
* :mod:`~repgeo.data.real` — sklearn digits, user arrays (.npy/.npz), MNIST idx and CIFAR-10
  binary files;
* :mod:`~repgeo.data.text` — a seeded topic-labelled sentence corpus and the offline
  sentence-model loader;
* :mod:`~repgeo.data.embeddings` — the user's files for ``repgeo analyze``: embeddings per layer
  (and per checkpoint), labels, sentences, images.
"""

from .base import Dataset, make_ids
from .embeddings import (
    Embeddings,
    ModelInputs,
    load_embeddings,
    load_images,
    load_inputs,
    load_labels,
    load_texts,
)
from .geodesic import GeodesicSample, branching_tree, spiral_arc_length, swiss_roll
from .manifolds import ClassManifolds, LinearSubspaces, RandomNetworkManifolds, split_classes
from .real import from_arrays, load_arrays, load_cifar10, load_digits, load_mnist
from .text import TOPICS, load_sentence_model, topic_sentences
from .toy import sinusoid, xor
from .warped_digits import DigitTransformManifolds, bilinear_warp

__all__ = [
    "TOPICS",
    "ClassManifolds",
    "Dataset",
    "DigitTransformManifolds",
    "Embeddings",
    "GeodesicSample",
    "LinearSubspaces",
    "ModelInputs",
    "RandomNetworkManifolds",
    "bilinear_warp",
    "branching_tree",
    "from_arrays",
    "load_arrays",
    "load_cifar10",
    "load_digits",
    "load_embeddings",
    "load_images",
    "load_inputs",
    "load_labels",
    "load_mnist",
    "load_sentence_model",
    "load_texts",
    "make_ids",
    "sinusoid",
    "spiral_arc_length",
    "split_classes",
    "swiss_roll",
    "topic_sentences",
    "xor",
]
