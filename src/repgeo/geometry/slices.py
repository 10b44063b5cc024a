r"""Low-dimensional slices through input space: lines between inputs, planes through three
inputs, 2-D grids, and the triangle mask of ternary plots.

The plane convention is that of Zavatone-Veth et al. (2023): for inputs x₁, x₂, x₃ with
centroid O = (x₁+x₂+x₃)/3,

.. math:: x(a, b) = O + a\,(x_2 - x_1) + b\,2\sqrt{3}\left(\tfrac{x_1+x_2}{2} - O\right),

so that in (a, b) the anchors sit at (−½, 1/(2√3)), (½, 1/(2√3)), (0, −1/√3): an equilateral
triangle of side 1. The two directions are *not* orthonormal in input space;
``orthonormal=True`` uses a Gram–Schmidt basis of the same plane instead (anchor coordinates
then follow from the geometry), and :attr:`Plane.convention` records which one was used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import to_numpy
from .._validation import check_array, check_positive_int, check_scalar

__all__ = ["Plane", "grid_2d", "line_slice", "plane_slice", "triangle_mask"]

PAPER_ANCHORS = np.array(
    [[-0.5, 0.5 / math.sqrt(3.0)], [0.5, 0.5 / math.sqrt(3.0)], [0.0, -1.0 / math.sqrt(3.0)]]
)


def _vector(x: Any, name: str) -> np.ndarray:
    arr = to_numpy(check_array(x, name=name, ndim=(1, 2), shape_hint="(d,)"))
    if arr.ndim == 2:
        if arr.shape[0] != 1:
            raise ValueError(
                f"{name} must be one input of shape (d,) or (1, d); got shape {arr.shape}."
            )
        arr = arr[0]
    return np.asarray(arr, dtype=np.float64)


def _same_dim(vectors: dict[str, np.ndarray]) -> int:
    dims = {k: v.shape[0] for k, v in vectors.items()}
    if len(set(dims.values())) != 1:
        raise ValueError(f"inputs must have the same dimension; got {dims}.")
    return next(iter(dims.values()))


def line_slice(x1: Any, x2: Any, n_steps: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Points x(t) = x₁ + t (x₂ − x₁) for t on a uniform grid of [0, 1].

    Parameters
    ----------
    x1, x2 : array_like of shape (d,)
    n_steps : int, default=64

    Returns
    -------
    t : ndarray of shape (n_steps,)
    X : ndarray of shape (n_steps, d), float64
        The 1-D slice; its direction (basis of the slice) is ``(x2 - x1)[:, None]``.

    Examples
    --------
    >>> from repgeo.geometry import line_slice
    >>> t, X = line_slice([0.0, 0.0], [1.0, 2.0], n_steps=3)
    >>> X.tolist()
    [[0.0, 0.0], [0.5, 1.0], [1.0, 2.0]]
    """
    a, b = _vector(x1, "x1"), _vector(x2, "x2")
    _same_dim({"x1": a, "x2": b})
    n_steps = check_positive_int(n_steps, "n_steps", min_val=2)
    t = np.linspace(0.0, 1.0, n_steps)
    return t, a[None, :] + t[:, None] * (b - a)[None, :]


def grid_2d(
    lo: float | tuple[float, float] = -1.5,
    hi: float | tuple[float, float] = 1.5,
    resolution: int = 61,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A square grid of 2-D points (for 2-D inputs or plane coordinates).

    Parameters
    ----------
    lo, hi : float or (float, float)
        Bounds of each axis (the same for both when scalars).
    resolution : int, default=61
        Points per axis.

    Returns
    -------
    A, B : ndarray of shape (resolution, resolution)
        Coordinates (``np.meshgrid(..., indexing="xy")``: A varies along columns).
    U : ndarray of shape (resolution², 2)
        The grid points, row-major (reshape values with ``.reshape(resolution, resolution)``).

    Examples
    --------
    >>> from repgeo.geometry import grid_2d
    >>> A, B, U = grid_2d(-1, 1, 3)
    >>> U[:4].tolist()
    [[-1.0, -1.0], [0.0, -1.0], [1.0, -1.0], [-1.0, 0.0]]
    """
    resolution = check_positive_int(resolution, "resolution", min_val=2)
    lo2 = (lo, lo) if np.isscalar(lo) else tuple(lo)
    hi2 = (hi, hi) if np.isscalar(hi) else tuple(hi)
    if len(lo2) != 2 or len(hi2) != 2:
        raise ValueError(f"lo and hi must be scalars or pairs; got {lo!r} and {hi!r}.")
    for i in range(2):
        check_scalar(lo2[i], "lo")
        check_scalar(hi2[i], "hi")
        if not hi2[i] > lo2[i]:
            raise ValueError(f"hi must exceed lo on each axis; got lo={lo2}, hi={hi2}.")
    a = np.linspace(lo2[0], hi2[0], resolution)
    b = np.linspace(lo2[1], hi2[1], resolution)
    A, B = np.meshgrid(a, b, indexing="xy")
    return A, B, np.column_stack([A.ravel(), B.ravel()])


def triangle_mask(U: Any, vertices: Any = PAPER_ANCHORS) -> np.ndarray:
    """Which 2-D points lie inside (or on) a triangle — the mask of a ternary plot.

    Parameters
    ----------
    U : array_like of shape (m, 2)
    vertices : array_like of shape (3, 2), default: the paper's anchor triangle

    Returns
    -------
    inside : ndarray of bool, shape (m,)

    Examples
    --------
    >>> from repgeo.geometry import triangle_mask
    >>> triangle_mask([[0.0, 0.0], [0.0, 1.0]]).tolist()
    [True, False]
    """
    P = np.asarray(
        to_numpy(check_array(U, name="U", ndim=2, shape_hint="(m, 2)")), dtype=np.float64
    )
    V = np.asarray(
        to_numpy(check_array(vertices, name="vertices", ndim=2, shape_hint="(3, 2)")),
        dtype=np.float64,
    )
    if P.shape[1] != 2:
        raise ValueError(f"U must have shape (m, 2); got {P.shape}.")
    if V.shape != (3, 2):
        raise ValueError(f"vertices must have shape (3, 2); got {V.shape}.")
    T = np.column_stack([V[0] - V[2], V[1] - V[2]])
    if abs(np.linalg.det(T)) < 1e-14:
        raise ValueError("vertices are collinear; they do not span a triangle.")
    lam = np.linalg.solve(T, (P - V[2]).T).T
    l3 = 1.0 - lam.sum(1)
    tol = 1e-9
    return (lam[:, 0] >= -tol) & (lam[:, 1] >= -tol) & (l3 >= -tol)


@dataclass
class Plane:
    """A 2-D plane through three inputs, sampled on a grid.

    Attributes
    ----------
    origin : ndarray of shape (d,)
        The centroid O of the three inputs.
    basis : ndarray of shape (d, 2)
        Columns: the two in-plane directions (paper's ``right, up`` or orthonormal).
    convention : {"paper", "orthonormal"}
    anchors : ndarray of shape (3, 2)
        Plane coordinates of x₁, x₂, x₃.
    A, B : ndarray of shape (resolution, resolution)
        Grid coordinates.
    coords : ndarray of shape (resolution², 2)
        Grid coordinates as rows (row-major over the grid).
    points : ndarray of shape (resolution², d)
        The grid in input space: ``origin + coords @ basis.T``.
    mask : ndarray of bool, shape (resolution², )
        Grid points inside the anchor triangle (ternary plots).
    """

    origin: np.ndarray
    basis: np.ndarray
    convention: str
    anchors: np.ndarray
    A: np.ndarray
    B: np.ndarray
    coords: np.ndarray
    points: np.ndarray
    mask: np.ndarray

    @property
    def resolution(self) -> int:
        return self.A.shape[0]

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(a_min, a_max, b_min, b_max)`` for ``imshow(..., extent=..., origin="lower")``."""
        return (float(self.A.min()), float(self.A.max()), float(self.B.min()), float(self.B.max()))

    def to_grid(self, values: Any) -> np.ndarray:
        """Reshape per-point values (resolution²,) to the grid (resolution, resolution)."""
        v = np.asarray(to_numpy(values))
        return v.reshape(self.resolution, self.resolution, *v.shape[1:])


def plane_slice(
    x1: Any,
    x2: Any,
    x3: Any,
    *,
    resolution: int = 60,
    extent: float | None = None,
    orthonormal: bool = False,
) -> Plane:
    """The plane through three inputs on a square grid (paper's convention by default).

    Parameters
    ----------
    x1, x2, x3 : array_like of shape (d,)
        The anchors (e.g. three test images).
    resolution : int, default=60
        Grid points per axis (the paper used 60 to 80).
    extent : float, optional
        Half-width of the grid: coordinates span [−extent, extent]². Default 1 in the paper
        convention; with ``orthonormal=True``, 1.25 × the largest anchor coordinate.
    orthonormal : bool, default=False
        Use an orthonormal basis of the plane (Gram–Schmidt of ``right, up``) instead of the
        paper's ``right = x₂ − x₁``, ``up = 2√3((x₁+x₂)/2 − O)``; volumes on the slice then are
        per unit of Euclidean input area.

    Returns
    -------
    Plane

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.geometry import plane_slice
    >>> p = plane_slice([0, 0, 0], [1, 0, 0], [0, 1, 0], resolution=5)
    >>> p.points.shape, p.basis.shape
    ((25, 3), (3, 2))
    >>> bool(np.allclose(p.origin + p.anchors @ p.basis.T, [[0, 0, 0], [1, 0, 0], [0, 1, 0]]))
    True
    """
    v1, v2, v3 = _vector(x1, "x1"), _vector(x2, "x2"), _vector(x3, "x3")
    _same_dim({"x1": v1, "x2": v2, "x3": v3})
    resolution = check_positive_int(resolution, "resolution", min_val=2)
    if not isinstance(orthonormal, bool):
        raise TypeError(f"orthonormal must be a bool; got {type(orthonormal).__name__}.")
    origin = (v1 + v2 + v3) / 3.0
    right = v2 - v1
    up = 2.0 * math.sqrt(3.0) * ((v1 + v2) / 2.0 - origin)
    basis = np.column_stack([right, up])
    scale = max(float(np.abs(basis).max()), 1e-300)
    if np.linalg.matrix_rank(basis / scale, tol=1e-10) < 2:
        raise ValueError("x1, x2, x3 are collinear (or coincide); they do not span a plane.")
    if orthonormal:
        q, r = np.linalg.qr(basis)
        sign = np.sign(np.diag(r))
        sign[sign == 0] = 1.0
        basis = q * sign  # keep orientation: first axis along x2 - x1
        anchors = np.stack([v - origin for v in (v1, v2, v3)]) @ basis
        convention = "orthonormal"
        default_extent = 1.25 * float(np.abs(anchors).max())
    else:
        anchors = PAPER_ANCHORS.copy()
        convention = "paper"
        default_extent = 1.0
    if extent is None:
        extent = default_extent
    else:
        check_scalar(extent, "extent", min_val=0.0, include_min=False)
    A, B, coords = grid_2d(-extent, extent, resolution)
    points = origin[None, :] + coords @ basis.T
    return Plane(
        origin=origin,
        basis=basis,
        convention=convention,
        anchors=anchors,
        A=A,
        B=B,
        coords=coords,
        points=points,
        mask=triangle_mask(coords, anchors),
    )
