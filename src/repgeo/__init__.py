"""repgeo — the geometry of what neural networks learn.

Three layers (see ``docs/architecture.md``):

base
    ``_validation`` (input checks), ``_backend`` (device, dtype, memory budget), ``_io`` (atomic
    writes, safe loads), ``_progress``, ``neighbors`` (exact kNN), ``features`` (FeatureMap,
    extract).
analysis
    ``data``, ``models``, ``geometry``, ``hashing``, ``latent``, ``diffusion``, ``coding``,
    ``dimension`` — pure functions on models and arrays, scikit-learn style estimators; no
    plotting, no run directories.
orchestration
    ``plots`` (every figure), ``report`` (HTML), ``runs`` (stages, panels, metric registry, run
    directories), ``panels``, ``studies``, ``cli``.

Subpackages load on first use: ``import repgeo; repgeo.geometry.effective_volume(...)``.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._backend import memory_budget, resolve_device, set_memory_budget
from .features import FeatureMap, extract, layer_names

__version__ = "0.1.0"

_SUBPACKAGES = (
    "coding",
    "data",
    "diffusion",
    "dimension",
    "geometry",
    "hashing",
    "latent",
    "models",
    "neighbors",
    "panels",
    "plots",
    "report",
    "runs",
    "studies",
)

__all__ = [
    "FeatureMap",
    "__version__",
    "extract",
    "layer_names",
    "memory_budget",
    "resolve_device",
    "set_memory_budget",
    *_SUBPACKAGES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'repgeo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBPACKAGES))
