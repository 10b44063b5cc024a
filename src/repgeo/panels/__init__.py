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
"""

from .coding_id import PANEL as CODING_ID
from .diffusion import PANEL as DIFFUSION
from .geometry import PANEL as GEOMETRY
from .hashing import PANEL as HASHING
from .stitching import PANEL as STITCHING

PANELS = {p.name: p for p in (HASHING, GEOMETRY, CODING_ID, STITCHING, DIFFUSION)}

__all__ = ["CODING_ID", "DIFFUSION", "GEOMETRY", "HASHING", "PANELS", "STITCHING"]
