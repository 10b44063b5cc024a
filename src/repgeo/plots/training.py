"""Training curves and 2-D pictures of embeddings over training.

Every function takes results or arrays and returns a matplotlib Figure.
"""

from __future__ import annotations

__all__: list[str] = []
