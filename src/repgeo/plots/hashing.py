"""Manifold-hashing figures: separation histograms, invariance and AUROC over training, collision and k-shot curves.

Every function takes results or arrays and returns a matplotlib Figure.
"""

from __future__ import annotations

__all__: list[str] = []
