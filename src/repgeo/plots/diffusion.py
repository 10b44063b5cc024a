"""Diffusion-geometry figures: geodesic scores, 2-D embeddings, DSE and DSMI over training.

Every function takes results or arrays and returns a matplotlib Figure.
"""

from __future__ import annotations

__all__: list[str] = []
