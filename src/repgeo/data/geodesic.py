"""Point clouds with known geodesic distances: Swiss roll and a branching tree.

Each generator returns a :class:`GeodesicSample` holding the points and the intrinsic
coordinates from which :meth:`GeodesicSample.geodesic_distances` computes ground-truth
geodesics for any set of rows (never more than ``n_rows × n``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_positive_int, check_random_state, check_scalar

__all__ = ["GeodesicSample", "branching_tree", "spiral_arc_length", "swiss_roll"]


def spiral_arc_length(t: Any) -> np.ndarray:
    """Arc length of the spiral ``t ↦ (t cos t, t sin t)`` from 0: ``½ (t √(t²+1) + asinh t)``.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.data import spiral_arc_length
    >>> s = np.linspace(0, 3, 30001)
    >>> numeric = np.sum(np.hypot(np.diff(s * np.cos(s)), np.diff(s * np.sin(s))))
    >>> bool(abs(spiral_arc_length(3.0) - numeric) < 1e-6)
    True
    """
    t = np.asarray(t, dtype=float)
    return 0.5 * (t * np.sqrt(t * t + 1.0) + np.arcsinh(t))


@dataclass
class GeodesicSample:
    """Points with ground-truth intrinsic geometry.

    Attributes
    ----------
    X : ndarray of shape (n, d)
        Ambient points (float64).
    name : str
    color : ndarray of shape (n,)
        A scalar for plots (arc length for the roll, distance to the root for the tree).
    coords : ndarray
        Intrinsic coordinates (roll: (arc length, height); tree: (branch, position)).
    meta : dict
        Generator parameters and, for the tree, its branch structure.
    """

    X: np.ndarray
    name: str
    color: np.ndarray
    coords: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.X.shape[0]

    def geodesic_distances(self, rows: Any = None) -> np.ndarray:
        """Ground-truth geodesic distances from ``rows`` (default all) to every point, ``(m, n)``."""
        rows = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        if self.name == "swiss_roll":
            c = self.coords
            return np.sqrt(((c[rows][:, None, :] - c[None, :, :]) ** 2).sum(-1))
        from scipy.sparse.csgraph import dijkstra

        return dijkstra(self.meta["tree_graph"], directed=False, indices=rows)[:, : len(self)]


def swiss_roll(
    n: int = 2000,
    *,
    noise: float = 0.0,
    height: float = 21.0,
    t_range: tuple[float, float] = (1.5 * np.pi, 4.5 * np.pi),
    random_state: Any = 0,
) -> GeodesicSample:
    """Swiss roll sampled uniformly on its surface, with arc-length ground truth.

    Points are ``(t cos t, y, t sin t)`` with ``t`` drawn so that the arc length ``s(t)`` is
    uniform (uniform density on the surface) and ``y ~ U(0, height)``. Geodesic distances
    are Euclidean distances in ``(s, y)`` (exact for the noiseless roll).

    Examples
    --------
    >>> from repgeo.data import swiss_roll
    >>> roll = swiss_roll(500, random_state=0)
    >>> roll.X.shape, roll.geodesic_distances([0, 1]).shape
    ((500, 3), (2, 500))
    """
    n = check_positive_int(n, "n", min_val=2)
    noise = float(check_scalar(noise, "noise", min_val=0.0))
    height = float(check_scalar(height, "height", min_val=0.0, include_min=False))
    rng = check_random_state(random_state)
    lo, hi = float(t_range[0]), float(t_range[1])
    if not 0 <= lo < hi:
        raise ValueError(f"t_range must satisfy 0 <= lo < hi; got {t_range}.")
    grid = np.linspace(lo, hi, 20001)
    s_grid = spiral_arc_length(grid)
    s = rng.uniform(s_grid[0], s_grid[-1], n)
    t = np.interp(s, s_grid, grid)
    y = rng.uniform(0.0, height, n)
    X = np.c_[t * np.cos(t), y, t * np.sin(t)]
    if noise > 0:
        X = X + noise * rng.normal(size=X.shape)
    coords = np.c_[s - s_grid[0], y]
    return GeodesicSample(
        X=X,
        name="swiss_roll",
        color=coords[:, 0],
        coords=coords,
        meta={"noise": noise, "height": height},
    )


def _polyline_points(start: np.ndarray, dirs: np.ndarray, seg: float, s: np.ndarray) -> np.ndarray:
    """Points at arc lengths ``s`` along the polyline from ``start`` with unit segment directions."""
    verts = start + np.vstack([np.zeros_like(start), np.cumsum(dirs * seg, axis=0)])
    i = np.clip((s // seg).astype(int), 0, len(dirs) - 1)
    return verts[i] + (s - i * seg)[:, None] * dirs[i]


def branching_tree(
    n: int = 2000,
    *,
    n_branches: int = 7,
    dim: int = 10,
    length: float = 1.0,
    curvature: float = 0.6,
    n_segments: int = 20,
    noise: float = 0.0,
    random_state: Any = 0,
) -> GeodesicSample:
    """A random tree of curved branches in ``R^dim`` with tree-metric ground truth.

    Each branch is a polyline of ``n_segments`` equal segments whose direction drifts (each step
    adds ``curvature``-scaled Gaussian noise to the unit direction), so branches bend and the
    Euclidean distance under-estimates the distance along the tree. Branch 0 starts at the
    origin; every further branch starts at a uniformly drawn arc length of a uniformly drawn
    earlier branch. Points are uniform in arc length (plus optional isotropic noise).
    Ground-truth geodesics are shortest paths along the noiseless tree (arc length along
    branches, through the branch points).

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.data import branching_tree
    >>> tree = branching_tree(400, n_branches=4, random_state=0)
    >>> D = tree.geodesic_distances()
    >>> E = np.linalg.norm(tree.X[:, None] - tree.X[None], axis=-1)
    >>> bool(np.allclose(D, D.T)), bool(np.all(D >= E - 1e-9))
    (True, True)
    """
    import scipy.sparse as sp

    n = check_positive_int(n, "n", min_val=2)
    n_branches = check_positive_int(n_branches, "n_branches")
    dim = check_positive_int(dim, "dim", min_val=2)
    n_segments = check_positive_int(n_segments, "n_segments")
    length = float(check_scalar(length, "length", min_val=0.0, include_min=False))
    curvature = float(check_scalar(curvature, "curvature", min_val=0.0))
    noise = float(check_scalar(noise, "noise", min_val=0.0))
    rng = check_random_state(random_state)
    seg = length / n_segments
    starts = np.zeros((n_branches, dim))
    dirs = np.empty((n_branches, n_segments, dim))
    for b in range(n_branches):
        d = rng.normal(size=dim)
        for j in range(n_segments):
            d = d / np.linalg.norm(d)
            dirs[b, j] = d
            d = d + curvature * rng.normal(size=dim) / np.sqrt(dim)
    parent = np.full(n_branches, -1)
    attach = np.zeros(n_branches)
    for b in range(1, n_branches):
        parent[b] = int(rng.integers(b))
        attach[b] = rng.uniform(0.2, 1.0) * length
        starts[b] = _polyline_points(
            starts[parent[b]], dirs[parent[b]], seg, np.array([attach[b]])
        )[0]
    branch = rng.integers(n_branches, size=n)
    pos = rng.uniform(0.0, length, n)
    clean = np.empty((n, dim))
    for b in range(n_branches):
        m = branch == b
        clean[m] = _polyline_points(starts[b], dirs[b], seg, pos[m])
    X = clean + (noise * rng.normal(size=clean.shape) if noise > 0 else 0.0)
    # Path graph along each branch: sample points plus branch starts (nodes n..n+B-1) and the
    # attachment points on the parents (nodes n+B..), consecutive nodes joined by their gap.
    node_branch = [branch, np.arange(n_branches), parent[1:]]
    node_pos = [pos, np.zeros(n_branches), attach[1:]]
    b_all = np.concatenate(node_branch)
    p_all = np.concatenate(node_pos)
    m = b_all.size
    rows, cols, vals = [], [], []
    for b in range(n_branches):
        idx = np.nonzero(b_all == b)[0]
        idx = idx[np.argsort(p_all[idx], kind="stable")]
        rows.append(idx[:-1])
        cols.append(idx[1:])
        vals.append(np.maximum(np.diff(p_all[idx]), 1e-12))
    # a child's start coincides with its attachment node on the parent
    for b in range(1, n_branches):
        rows.append(np.array([n + b]))
        cols.append(np.array([n + n_branches + b - 1]))
        vals.append(np.array([1e-12]))
    G = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    ).tocsr()
    depth = np.zeros(n_branches)
    for b in range(1, n_branches):
        depth[b] = depth[parent[b]] + attach[b]
    return GeodesicSample(
        X=X,
        name="tree",
        color=depth[branch] + pos,
        coords=np.c_[branch, pos],
        meta={
            "parent": parent,
            "attach": attach,
            "tree_graph": G,
            "noise": noise,
            "dim": dim,
            "curvature": curvature,
        },
    )
