"""Datasets with stable sample ids: class manifolds, toy tasks, real data, user arrays."""

from .base import Dataset, make_ids
from .manifolds import ClassManifolds, LinearSubspaces, RandomNetworkManifolds, split_classes
from .real import from_arrays, load_arrays, load_cifar10, load_digits, load_mnist
from .toy import sinusoid, xor

__all__ = [
    "ClassManifolds",
    "Dataset",
    "LinearSubspaces",
    "RandomNetworkManifolds",
    "from_arrays",
    "load_arrays",
    "load_cifar10",
    "load_digits",
    "load_mnist",
    "make_ids",
    "sinusoid",
    "split_classes",
    "xor",
]
