"""repgeo — the geometry of what neural networks learn.

Subpackages
-----------
data        datasets with stable ids: class manifolds, toy tasks, digits, user arrays
models      reference MLP / CNN, seeded resumable training, safetensors checkpoints
features    FeatureMap (model + layer -> function of the input) and extract()
neighbors   exact kNN (faiss), shared by every neighbour statistic
runs        studies, stages, run directories, manifest, resume
report      HTML report and figures
studies     the studies `repgeo run` knows
"""

from ._backend import memory_budget, resolve_device, set_memory_budget
from .features import FeatureMap, extract, layer_names

__version__ = "0.1.0"

__all__ = [
    "FeatureMap",
    "__version__",
    "extract",
    "layer_names",
    "memory_budget",
    "resolve_device",
    "set_memory_budget",
]
