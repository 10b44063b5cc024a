"""Class-manifold generators x = G(γ, θ) with exact Jacobians ∂x/∂γ and ∂x/∂θ.

Each class c has a manifold identifier γ_c; each example a transformation parameter θ that
moves it along its class manifold (Dikkala, Kaplun & Panigrahy 2021). Families:

1. :class:`RandomNetworkManifolds` — x = G([γ; θ]) for a fixed random MLP G.
2. :class:`LinearSubspaces` — x = A γ + B θ, a control in which a linear projection already
   hashes perfectly (:meth:`LinearSubspaces.invariant_projection`).

Family 3 (transformation manifolds of real images) lives in :mod:`repgeo.hashing`.

All generators are differentiable torch functions, so the Jacobians are exact (autograd via
``torch.func.jacfwd`` under ``vmap``), and the whole composed map γ, θ ↦ h(G(γ, θ)) can be
differentiated with JVPs.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np
import torch

from .._validation import (
    check_array,
    check_choice,
    check_positive_int,
    check_random_state,
    check_scalar,
    torch_generator,
)
from .base import Dataset

__all__ = ["ClassManifolds", "LinearSubspaces", "RandomNetworkManifolds", "split_classes"]


def split_classes(
    n_classes: int, n_seen: int, *, random_state: Any = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(n_classes)`` into sorted seen and unseen class indices."""
    n_classes = check_positive_int(n_classes, "n_classes", min_val=2)
    n_seen = check_positive_int(n_seen, "n_seen", max_val=n_classes - 1)
    perm = check_random_state(random_state).permutation(n_classes)
    return np.sort(perm[:n_seen]), np.sort(perm[n_seen:])


class ClassManifolds(abc.ABC):
    """Base class: class identifiers γ_c, a θ distribution and a differentiable generator.

    Subclasses implement :meth:`generate` on batched tensors ``gamma (n, k_gamma)`` and
    ``theta (n, k_theta)``.
    """

    name = "manifolds"

    def __init__(
        self,
        *,
        n_classes: int,
        k_gamma: int,
        k_theta: int,
        ambient_dim: int,
        theta_scale: float = 1.0,
        noise: float = 0.0,
        random_state: Any = 0,
    ) -> None:
        self.n_classes = check_positive_int(n_classes, "n_classes", min_val=2)
        self.k_gamma = check_positive_int(k_gamma, "k_gamma")
        self.k_theta = check_positive_int(k_theta, "k_theta")
        self.ambient_dim = check_positive_int(ambient_dim, "ambient_dim")
        self.theta_scale = float(check_scalar(theta_scale, "theta_scale", min_val=0.0))
        self.noise = float(check_scalar(noise, "noise", min_val=0.0))
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        g = torch_generator(self._rng)
        self.gammas = torch.randn(self.n_classes, self.k_gamma, generator=g)

    # ------------------------------------------------------------------ generator
    @abc.abstractmethod
    def generate(self, gamma: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """x = G(γ, θ) for batched ``gamma (n, k_gamma)`` and ``theta (n, k_theta)``."""

    def _check_params(self, gamma: Any, theta: Any) -> tuple[torch.Tensor, torch.Tensor]:
        gamma = torch.as_tensor(check_array(gamma, name="gamma", shape_hint="(n, k_gamma)"))
        theta = torch.as_tensor(check_array(theta, name="theta", shape_hint="(n, k_theta)"))
        if gamma.shape[1] != self.k_gamma:
            raise ValueError(
                f"gamma must have shape (n, {self.k_gamma}); got {tuple(gamma.shape)}."
            )
        if theta.shape[1] != self.k_theta:
            raise ValueError(
                f"theta must have shape (n, {self.k_theta}); got {tuple(theta.shape)}."
            )
        if gamma.shape[0] != theta.shape[0]:
            raise ValueError(
                f"gamma and theta must have the same number of rows; got {gamma.shape[0]} and {theta.shape[0]}."
            )
        dtype = torch.promote_types(gamma.dtype, theta.dtype)
        return gamma.to(dtype), theta.to(dtype)

    def __call__(self, gamma: Any, theta: Any) -> torch.Tensor:
        gamma, theta = self._check_params(gamma, theta)
        return self.generate(gamma, theta)

    def jacobians(self, gamma: Any, theta: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact Jacobians of the generator.

        Returns
        -------
        J_gamma : Tensor of shape (n, ambient_dim, k_gamma)
            ∂x/∂γ at each (γ, θ).
        J_theta : Tensor of shape (n, ambient_dim, k_theta)
            ∂x/∂θ.
        """
        gamma, theta = self._check_params(gamma, theta)

        def single(g: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.generate(g[None], t[None])[0]

        jac = torch.func.vmap(torch.func.jacfwd(single, argnums=(0, 1)))
        Jg, Jt = jac(gamma, theta)
        return Jg, Jt

    # ------------------------------------------------------------------ sampling
    def sample_theta(self, n: int, *, random_state: Any = 0) -> torch.Tensor:
        """θ ~ N(0, theta_scale² I) of shape (n, k_theta)."""
        g = torch_generator(random_state)
        return self.theta_scale * torch.randn(n, self.k_theta, generator=g)

    def sample(
        self,
        n_per_class: int,
        *,
        classes: Any = None,
        random_state: Any = 0,
    ) -> Dataset:
        """Draw ``n_per_class`` examples of each class in ``classes`` (default: all).

        Sample ids are ``"<name>-<seed>/c<class>/<j>"``: stable for the same generator, seed
        and draw. ``extra`` holds ``gamma`` and ``theta`` per sample.
        """
        n_per_class = check_positive_int(n_per_class, "n_per_class")
        classes = (
            np.arange(self.n_classes) if classes is None else np.asarray(classes, dtype=np.int64)
        )
        if classes.ndim != 1 or classes.size == 0:
            raise ValueError(
                f"classes must be a non-empty 1-D list of class indices; got shape {classes.shape}."
            )
        if classes.min() < 0 or classes.max() >= self.n_classes:
            raise ValueError(
                f"classes must lie in [0, {self.n_classes - 1}]; got {classes.tolist()}."
            )
        rng = check_random_state(random_state)
        y = np.repeat(classes, n_per_class)
        theta = self.sample_theta(len(y), random_state=rng)
        gamma = self.gammas[torch.as_tensor(y)]
        with torch.no_grad():
            X = self.generate(gamma, theta)
            if self.noise > 0:
                X = X + self.noise * torch.randn(X.shape, generator=torch_generator(rng))
        seed_tag = random_state if isinstance(random_state, (int, np.integer)) else "r"
        ids = np.array(
            [
                f"{self.name}-{seed_tag}/c{c:04d}/{j:05d}"
                for c in classes
                for j in range(n_per_class)
            ]
        )
        return Dataset(
            X=X.numpy(),
            y=y,
            ids=ids,
            name=self.name,
            meta=self.describe(),
            extra={"gamma": gamma.numpy(), "theta": theta.numpy()},
        )

    def describe(self) -> dict[str, Any]:
        return {
            "generator": type(self).__name__,
            "n_classes": self.n_classes,
            "k_gamma": self.k_gamma,
            "k_theta": self.k_theta,
            "ambient_dim": self.ambient_dim,
            "theta_scale": self.theta_scale,
            "noise": self.noise,
        }


class RandomNetworkManifolds(ClassManifolds):
    """Family 1: x = G([γ; θ]) with G a fixed random MLP.

    Parameters
    ----------
    n_classes, k_gamma, k_theta, ambient_dim : int
        Number of classes, dimensions of γ and θ, and of x.
    depth : int, default=2
        Number of layers of G (1–3 in the reference set-up).
    hidden : int, default=128
        Width of G's hidden layers.
    activation : {"tanh", "relu"}, default="tanh"
    theta_scale : float, default=1.0
        θ ~ N(0, theta_scale² I).
    noise : float, default=0.0
        Std of additive Gaussian noise on x (not part of the Jacobians).
    random_state : int or Generator
        Seeds γ_c and G.

    Examples
    --------
    >>> from repgeo.data import RandomNetworkManifolds
    >>> gen = RandomNetworkManifolds(n_classes=5, k_gamma=4, k_theta=2, ambient_dim=30, random_state=0)
    >>> ds = gen.sample(10)
    >>> ds.X.shape, ds.extra["theta"].shape
    ((50, 30), (50, 2))
    """

    name = "randnet"

    def __init__(
        self,
        *,
        n_classes: int = 20,
        k_gamma: int = 8,
        k_theta: int = 4,
        ambient_dim: int = 100,
        depth: int = 2,
        hidden: int = 128,
        activation: str = "tanh",
        theta_scale: float = 1.0,
        noise: float = 0.0,
        random_state: Any = 0,
    ) -> None:
        super().__init__(
            n_classes=n_classes,
            k_gamma=k_gamma,
            k_theta=k_theta,
            ambient_dim=ambient_dim,
            theta_scale=theta_scale,
            noise=noise,
            random_state=random_state,
        )
        self.depth = check_positive_int(depth, "depth", max_val=8)
        self.hidden = check_positive_int(hidden, "hidden")
        self.activation = check_choice(activation, "activation", ("tanh", "relu"))
        g = torch_generator(self._rng)
        dims = [self.k_gamma + self.k_theta] + [self.hidden] * (self.depth - 1) + [self.ambient_dim]
        self.weights = [
            torch.randn(o, i, generator=g) / np.sqrt(i) for i, o in zip(dims[:-1], dims[1:])
        ]
        self.biases = [0.1 * torch.randn(o, generator=g) for o in dims[1:]]
        self._act = torch.tanh if self.activation == "tanh" else torch.relu
        # normalise the output scale so that x has unit variance per coordinate on average
        with torch.no_grad():
            probe_g = self.gammas[torch.arange(self.n_classes).repeat(20)]
            probe_t = self.theta_scale * torch.randn(probe_g.shape[0], self.k_theta, generator=g)
            x = self._raw(probe_g, probe_t)
            self.out_scale = float(1.0 / x.std().clamp_min(1e-6))

    def _raw(self, gamma: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        h = torch.cat([gamma, theta], dim=-1)
        for i, (W, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ W.to(h).T + b.to(h)
            if i < len(self.weights) - 1:
                h = self._act(h)
        return h

    def generate(self, gamma: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        if self.depth == 1:
            return self.out_scale * self._act(self._raw(gamma, theta))
        return self.out_scale * self._raw(gamma, theta)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "depth": self.depth,
            "hidden": self.hidden,
            "activation": self.activation,
        }


class LinearSubspaces(ClassManifolds):
    """Family 2: x = A γ + B θ (+ noise), with A and B fixed Gaussian matrices.

    A linear map that annihilates span(B) hashes these manifolds perfectly; see
    :meth:`invariant_projection`.

    Examples
    --------
    >>> from repgeo.data import LinearSubspaces
    >>> gen = LinearSubspaces(n_classes=4, k_gamma=3, k_theta=2, ambient_dim=20, random_state=1)
    >>> ds = gen.sample(5)
    >>> P = gen.invariant_projection().numpy()
    >>> import numpy as np
    >>> h = ds.X @ P.T
    >>> bool(np.allclose(h[0], h[1], atol=1e-4))  # same class, different θ
    True
    """

    name = "linear"

    def __init__(
        self,
        *,
        n_classes: int = 20,
        k_gamma: int = 8,
        k_theta: int = 4,
        ambient_dim: int = 100,
        theta_scale: float = 1.0,
        noise: float = 0.0,
        random_state: Any = 0,
    ) -> None:
        super().__init__(
            n_classes=n_classes,
            k_gamma=k_gamma,
            k_theta=k_theta,
            ambient_dim=ambient_dim,
            theta_scale=theta_scale,
            noise=noise,
            random_state=random_state,
        )
        if self.k_gamma + self.k_theta > self.ambient_dim:
            raise ValueError(
                f"k_gamma + k_theta must be <= ambient_dim for identifiable subspaces; "
                f"got {self.k_gamma} + {self.k_theta} > {self.ambient_dim}."
            )
        g = torch_generator(self._rng)
        self.A = torch.randn(self.ambient_dim, self.k_gamma, generator=g) / np.sqrt(self.k_gamma)
        self.B = torch.randn(self.ambient_dim, self.k_theta, generator=g) / np.sqrt(self.k_theta)

    def generate(self, gamma: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        return gamma @ self.A.to(gamma).T + theta @ self.B.to(theta).T

    def invariant_projection(self) -> torch.Tensor:
        """Orthogonal projector (D, D) onto the complement of span(B): P x depends on γ only."""
        Q, _ = torch.linalg.qr(self.B.double())
        P = torch.eye(self.ambient_dim, dtype=torch.float64) - Q @ Q.T
        return P.to(self.A.dtype)
