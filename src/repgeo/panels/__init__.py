"""Panels: the units studies are composed of.

A panel (:class:`repgeo.runs.Panel`) declares its name, its config section with defaults and
quick overrides, the function that runs it and the metric keys it writes. The default study is
its training stages followed by a list of panels; each panel's options are set in the section
of the same name (``repgeo run default --config my.toml`` with ``[hashing] n_way = 5``).

=========== ======================================================= ============================
panel       what it shows                                           needs
=========== ======================================================= ============================
hashing     separation, θ-invariance over training, 1-shot transfer train_manifold
geometry    effective volume on a digits plane, spectra at anchors  train_digits
coding_id   ΔR and TwoNN intrinsic dimension per layer              train_manifold, train_digits
stitching   zero-shot stitching between two seeds, similarity       train_digits
diffusion   DSE and DSMI over training                              train_manifold, train_digits
=========== ======================================================= ============================

``repgeo analyze`` (embeddings or a model's layers, no training) is composed of its own panels,
:data:`ANALYZE_PANELS` (``data`` first; the others need it):

============== =================================================== =========================
panel          what it shows                                       applies
============== =================================================== =========================
data           the layers and labels (or the extraction)           always
similarity     layer × layer CKA; across models                    always; --compare
dimension      TwoNN and Levina–Bickel per layer                   always
information    DSE; ΔR and DSMI                                    always; labels
separation     AUROC, within/between ratio, k-shot accuracy         labels
view           PHATE / heat-geodesic 2-D view of one layer         always
over_training  each layer per checkpoint                           a directory of checkpoints
geometry       effective volume on a plane through three inputs    --model, continuous inputs
============== =================================================== =========================
"""

from .coding_id import PANEL as CODING_ID
from .diffusion import PANEL as DIFFUSION
from .embeddings_data import PANEL as DATA
from .embeddings_layers import DIMENSION, INFORMATION, SEPARATION
from .embeddings_similarity import PANEL as SIMILARITY
from .embeddings_training import PANEL as OVER_TRAINING
from .embeddings_view import PANEL as VIEW
from .geometry import PANEL as GEOMETRY
from .hashing import PANEL as HASHING
from .model_geometry import PANEL as MODEL_GEOMETRY
from .stitching import PANEL as STITCHING

PANELS = {p.name: p for p in (HASHING, GEOMETRY, CODING_ID, STITCHING, DIFFUSION)}
ANALYZE_PANELS = {
    p.name: p
    for p in (
        DATA, SIMILARITY, DIMENSION, INFORMATION, SEPARATION, VIEW, OVER_TRAINING, MODEL_GEOMETRY
    )
}  # fmt: skip

__all__ = ["ANALYZE_PANELS", "CODING_ID", "DIFFUSION", "GEOMETRY", "HASHING", "PANELS", "STITCHING"]
