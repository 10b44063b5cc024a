"""Principal-component projection of a latent space (2-D pictures, the PCA baseline embedding)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._backend import to_numpy
from .._validation import check_array, check_positive_int

__all__ = ["pca_project"]


def pca_project(fit: Any, X: Any, k: int = 2) -> np.ndarray:
    """Coordinates of ``X`` on the top ``k`` principal axes of ``fit`` (float64).

    Parameters
    ----------
    fit : array_like of shape (n_fit, d)
        Points whose principal axes are used (centred on their mean).
    X : array_like of shape (n, d)
        Points to project.
    k : int, default=2
        Number of axes (at most ``d``).

    Returns
    -------
    P : ndarray of shape (n, min(k, d)), float64

    Notes
    -----
    The eigendecomposition of the d×d scatter matrix runs in torch: next to torch, NumPy's
    threaded LAPACK can stall on a busy machine. Axis signs follow the eigensolver.

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.latent import pca_project
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 0.0]])
    >>> np.abs(pca_project(X, X, k=1)).ravel().tolist()
    [2.0, 0.0, 2.0]
    """
    F = to_numpy(check_array(fit, name="fit", ndim=2, shape_hint="(n_fit, d)"))
    Xa = to_numpy(check_array(X, name="X", ndim=2, shape_hint="(n, d)"))
    if F.shape[1] != Xa.shape[1]:
        raise ValueError(
            f"X must have the same number of columns as fit ({F.shape[1]}); got {Xa.shape[1]}."
        )
    k = check_positive_int(k, "k")
    Ft = torch.as_tensor(np.asarray(F), dtype=torch.float64)
    mu = Ft.mean(0)
    _, V = torch.linalg.eigh((Ft - mu).T @ (Ft - mu))
    top = V.flip(1)[:, : min(k, V.shape[1])]
    return ((torch.as_tensor(np.asarray(Xa), dtype=torch.float64) - mu) @ top).numpy()
