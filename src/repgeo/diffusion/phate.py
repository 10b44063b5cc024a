"""PHATE-style potential distance and embedding (a baseline; our own implementation).

From the alpha-decay graph (with self-loops ``K_ii = 1``, as in PHATE), the diffusion operator ``P = D^{-1} W`` is powered to a time ``t``
(by default the knee of the von Neumann entropy ``H(t)`` of the spectrum ``|μ_i|^t`` of ``P``), the
*potential* ``U = -log(P^t + 1e-7)`` is formed row by row, and the potential distance is the
Euclidean distance between rows of ``U``. The embedding is metric MDS of those distances.

The dense path keeps ``U`` (``n × n``), so :func:`phate_potential_distances` is for
``n <= max_dense``; the :class:`PHATE` estimator switches to landmarks beyond ``n_landmarks``
(k-means clusters of the data; transitions to and from clusters; diffusion on the landmark
operator; the potential of every point over the ``m`` landmarks), as PHATE does.

References
----------
Moon et al., "Visualizing structure and transitions in high-dimensional biological data",
Nat. Biotechnol. 37 (2019).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._backend import chunk_rows, iter_chunks, to_numpy, to_torch
from .._validation import check_array, check_choice, check_positive_int, check_random_state
from .geodesic import _spectral_quadrature, kneedle
from .graph import DiffusionGraph, build_graph
from .heat import _check_ts, _columns
from .mds import _classical, _smacof

__all__ = ["PHATE", "phate_potential_distances", "von_neumann_entropy"]

_POT_EPS = 1e-7


def von_neumann_entropy(graph: DiffusionGraph, ts: Any, *, random_state: Any = 0) -> np.ndarray:
    """Von Neumann entropy (nats) of ``P^t`` for each ``t``: the Shannon entropy of
    ``|μ_i|^t / Σ_j |μ_j|^t`` over the eigenvalues ``μ`` of ``P = D^{-1}W`` (exact for
    ``n <= 500``, stochastic Lanczos quadrature beyond).

    Parameters
    ----------
    graph : DiffusionGraph
    ts : float or sequence of float
        Powers ``t >= 0`` (finite).
    random_state : int, optional
        Seed of the stochastic estimate on large graphs.

    Returns
    -------
    ndarray of shape (len(ts),)

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph
    >>> from repgeo.diffusion.phate import von_neumann_entropy
    >>> g = build_graph(np.random.default_rng(0).normal(size=(80, 2)), k=5)
    >>> H = von_neumann_entropy(g, [1, 10, 100])
    >>> bool(H[0] > H[1] > H[2] >= 0)
    True
    """
    if not isinstance(graph, DiffusionGraph):
        raise TypeError(
            f"graph must be a DiffusionGraph (see build_graph); got {type(graph).__name__}."
        )
    ts = _check_ts(ts)
    check_random_state(random_state)
    if graph.laplacian != "normalized":
        graph = DiffusionGraph(
            graph.rows,
            graph.cols,
            graph.weights,
            graph.n,
            laplacian="normalized",
            device=graph.device,
        )
    nodes, weights = _spectral_quadrature(graph, n_probes=20, steps=60, random_state=random_state)
    mu = np.abs(1.0 - nodes)  # eigenvalues of D^{-1/2} W D^{-1/2} = I - L
    out = []
    for t in np.atleast_1d(np.asarray(ts, dtype=float)):
        a = mu**t
        Z = (weights * a).sum(1).mean()
        S = (weights * np.where(a > 0, a * np.log(np.where(a > 0, a, 1.0)), 0.0)).sum(1).mean()
        out.append(np.log(Z) - S / Z)
    return np.asarray(out)


def _select_t(graph: DiffusionGraph, t_max: int, random_state: Any) -> int:
    ts = np.arange(1, t_max + 1)
    return int(ts[kneedle(ts, von_neumann_entropy(graph, ts, random_state=random_state))])


def _potential_rows(graph: DiffusionGraph, t: int) -> torch.Tensor:
    """Dense ``U = -log(P^t + 1e-7)`` (n × n): rows of ``P^t`` are ``(Pᵀ)^t e_i``."""
    n = graph.n
    U = torch.empty(n, n, dtype=torch.float64, device=graph.device)
    cols = chunk_rows(8.0 * n * 3, maximum=n)
    for sl in iter_chunks(n, cols):
        B = torch.zeros(n, sl.stop - sl.start, dtype=torch.float64, device=graph.device)
        B[torch.arange(sl.start, sl.stop), torch.arange(sl.stop - sl.start)] = 1.0
        for _ in range(t):
            B = graph.matmul(B, normalize="row", transpose=True)
        U[sl] = -torch.log(B.T + _POT_EPS)
    return U


def _row_distances(U: torch.Tensor, rows: np.ndarray) -> torch.Tensor:
    r = torch.as_tensor(rows, device=U.device)
    out = torch.cdist(U[r], U)
    out[torch.arange(len(rows)), r] = 0.0
    return out


def phate_potential_distances(
    graph: DiffusionGraph,
    t: Any = "auto",
    *,
    rows: Any = None,
    t_max: int = 100,
    max_dense: int = 6000,
    random_state: Any = 0,
    return_t: bool = False,
):
    """PHATE potential distances from ``rows`` to all nodes (dense path, ``n <= max_dense``).

    Parameters
    ----------
    graph : DiffusionGraph
        Usually the alpha-decay graph; PHATE's own operator keeps the kernel's diagonal
        (``build_graph(X, k=5, decay=40, self_loops=True)``, what :class:`PHATE` uses).
    t : int or "auto", default="auto"
        Number of diffusion steps; ``"auto"``: knee of the von Neumann entropy over ``1..t_max``.
    rows : array_like of int, optional
        Source nodes (default all).
    max_dense : int, default=6000
        Refuse larger graphs (the potential is ``n × n``); use :class:`PHATE` with landmarks.
    return_t : bool, default=False
        Also return the ``t`` used.

    Returns
    -------
    D : ndarray or Tensor of shape (n_rows, n)

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import build_graph, phate_potential_distances
    >>> theta = np.linspace(0, 2 * np.pi, 150, endpoint=False)
    >>> g = build_graph(np.c_[np.cos(theta), np.sin(theta)], k=5)
    >>> D, t = phate_potential_distances(g, rows=[0], return_t=True)
    >>> arc = np.minimum(theta, 2 * np.pi - theta)
    >>> bool(np.corrcoef(D[0], arc)[0, 1] > 0.9), t >= 1
    (True, True)
    """
    if not isinstance(graph, DiffusionGraph):
        raise TypeError(
            f"graph must be a DiffusionGraph (see build_graph); got {type(graph).__name__}."
        )
    max_dense = check_positive_int(max_dense, "max_dense")
    if graph.n > max_dense:
        raise ValueError(
            f"the dense potential needs an n × n matrix; n={graph.n} > max_dense={max_dense}. "
            "Use PHATE(n_landmarks=...) for large n."
        )
    t_max = check_positive_int(t_max, "t_max", min_val=3)
    if isinstance(t, str):
        check_choice(t, "t", ("auto",))
        t = _select_t(graph, t_max, random_state)
    t = check_positive_int(t, "t")
    cols = _columns(graph, rows)
    D = graph.back(_row_distances(_potential_rows(graph, t), cols))
    return (D, t) if return_t else D


class PHATE(TransformerMixin, BaseEstimator):
    """PHATE-style embedding: alpha-decay graph → ``P^t`` → log potential → metric MDS.

    An embedding of the fitted points only (like t-SNE it has ``fit_transform`` but no
    ``transform`` of new points). :meth:`distances` returns potential *distances*.

    Parameters
    ----------
    n_components : int, default=2
    k : int, default=5
    decay : float, default=40
    t : int or "auto", default="auto"
    n_landmarks : int, default=2000
        Above this many points, k-means landmarks (see the module docstring).
    mds : {"smacof", "classical"}, default="smacof"
    max_iter : int, default=200
    random_state : int, Generator or None, default=0
        Seeds the automatic ``t`` and the landmark k-means.

    Attributes
    ----------
    graph_ : DiffusionGraph
    t_ : int
    potential_ : Tensor of shape (n, n) or (n, n_landmarks)
        The log potential (float64, on the graph's device).
    landmark_labels_ : ndarray of shape (n,) or None
        Landmark (k-means cluster) of each point; ``None`` without landmarks.
    stress_ : float
        Raw stress of the SMACOF MDS (only with ``mds="smacof"``).
    embedding_ : ndarray or Tensor of shape (n, n_components)
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from repgeo.diffusion import PHATE
    >>> X = np.random.default_rng(0).normal(size=(120, 3))
    >>> PHATE(random_state=0).fit_transform(X).shape
    (120, 2)
    """

    def __init__(
        self,
        *,
        n_components: int = 2,
        k: int = 5,
        decay: float = 40.0,
        t: Any = "auto",
        n_landmarks: int = 2000,
        mds: str = "smacof",
        max_iter: int = 200,
        random_state: Any = 0,
    ) -> None:
        self.n_components = n_components
        self.k = k
        self.decay = decay
        self.t = t
        self.n_landmarks = n_landmarks
        self.mds = mds
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> PHATE:
        """Build the graph, choose ``t``, form the potential and embed ``X`` (``y`` is ignored).

        Parameters
        ----------
        X : array_like or Tensor of shape (n_samples, n_features)

        Returns
        -------
        self
        """
        X = check_array(X, name="X", min_samples=3)
        n = X.shape[0]
        nc = check_positive_int(self.n_components, "n_components", max_val=n)
        m = check_positive_int(self.n_landmarks, "n_landmarks", min_val=nc + 1)
        check_choice(self.mds, "mds", ("smacof", "classical"))
        rng = check_random_state(self.random_state)
        self.graph_ = build_graph(X, k=self.k, decay=self.decay, self_loops=True)
        g = self.graph_
        if isinstance(self.t, str):
            check_choice(self.t, "t", ("auto",))
            self.t_ = _select_t(g, 100, int(rng.integers(2**31)))
        else:
            self.t_ = check_positive_int(self.t, "t")
        if n <= m:
            self.landmark_labels_ = None
            U = _potential_rows(g, self.t_)
            D = torch.cdist(U, U)
            D.fill_diagonal_(0.0)
            Y = self._mds(D, nc)
        else:
            from sklearn.cluster import MiniBatchKMeans

            labels = MiniBatchKMeans(
                n_clusters=m, random_state=int(rng.integers(2**31)), n_init=3
            ).fit_predict(np.asarray(to_numpy(X), dtype=np.float64))
            self.landmark_labels_ = labels
            P = g.to_scipy(normalize="row")
            import scipy.sparse as sp

            A = sp.csr_matrix((np.ones(n), (np.arange(n), labels)), shape=(n, m))
            pnm = np.asarray((P @ A).todense())  # (n, m) transitions to landmarks
            pmn = np.asarray((A.T @ P).todense())
            pmn /= pmn.sum(1, keepdims=True)
            PL = torch.from_numpy(pmn @ pnm).to(g.device)  # (m, m) landmark operator
            PLt = torch.linalg.matrix_power(PL, self.t_)
            U_l = -torch.log(PLt + _POT_EPS)
            D_l = torch.cdist(U_l, U_l)
            D_l.fill_diagonal_(0.0)
            Y_l = self._mds(D_l, nc)
            pnm_t = torch.from_numpy(pnm).to(g.device)
            U = -torch.log(pnm_t @ torch.linalg.matrix_power(PL, self.t_ - 1) + _POT_EPS)
            Y = pnm_t @ Y_l  # PHATE's interpolation of the landmark embedding
        self.potential_ = U
        _, back = to_torch(X)
        self.embedding_ = back(Y)
        self.n_features_in_ = int(X.shape[1])
        return self

    def _mds(self, D: torch.Tensor, nc: int) -> torch.Tensor:
        Y = _classical(D, nc)
        if self.mds == "smacof":
            Y, self.stress_, _ = _smacof(D, Y, check_positive_int(self.max_iter, "max_iter"), 1e-4)
        return Y

    def fit_transform(self, X: Any, y: Any = None) -> Any:
        """Fit and return :attr:`embedding_` of shape (n_samples, n_components)."""
        return self.fit(X).embedding_

    def distances(self, rows: Any = None) -> Any:
        """Potential distances from ``rows`` (default all) to every point, ``(n_rows, n)``.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self)
        cols = _columns(self.graph_, rows)
        return self.graph_.back(_row_distances(self.potential_, cols))
