"""Family 3: transformation manifolds of real images (canonical sklearn digits, warped).

Each class is one *canonical image* — an exemplar of a handwritten digit from scikit-learn's
8×8 digits — and each example applies a transformation θ = (rotation, translation, scale,
brightness) to it with a differentiable bilinear warp, rendered at ``image_size × image_size``.

Choice of γ for images
----------------------
A canonical image is a discrete identity, but the composed-map measurements need ∂x/∂γ. We
define γ as the canonical image's coordinates in the principal-component basis of all 1,797
sklearn digits: the unwarped image is ``b(γ) = μ + U γ`` (``U`` the top ``k_gamma``
principal axes, ``μ`` the mean digit). With ``k_gamma=64`` (the default) ``U`` is a full
orthonormal basis, so ``b(γ_c)`` *is* the exemplar; a smaller ``k_gamma`` uses its PCA
reconstruction. Moving γ continuously morphs one digit into another, ∂x/∂γ is exact, and the
angle between two γ's is the angle between the centred canonical images — the quantity the
SimHash collision curve is plotted against.

Implementation note: ``torch.nn.functional.grid_sample`` has no forward-mode derivative in
torch (``jvp``/``jacfwd`` raise), so the warp is a hand-written bilinear sampler (gather of
the four neighbouring pixels, zero padding) that supports ``vmap``, ``jvp`` and ``vjp``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .._validation import (
    check_array,
    check_positive_int,
    check_random_state,
    check_scalar,
)
from .manifolds import ClassManifolds

__all__ = ["DigitTransformManifolds", "bilinear_warp"]

_TRANSFORMS = {"rotation": 1, "translation": 2, "scale": 1, "brightness": 1}


def _check_warp_args(images: Any, matrices: Any, size: Any) -> int:
    size = check_positive_int(size, "size")
    for name, t, hint in (("images", images, "(n, H, W)"), ("matrices", matrices, "(n, 2, 3)")):
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor of shape {hint}; got {type(t).__name__} "
                "(convert with torch.as_tensor)."
            )
        if not t.is_floating_point():
            raise TypeError(f"{name} must be a floating-point tensor; got dtype {t.dtype}.")
        if t.ndim != 3:
            raise ValueError(
                f"{name} must be a 3-D tensor of shape {hint}; got shape {tuple(t.shape)}."
            )
        # values can be checked only outside torch.func transforms (data-dependent control flow)
        if not torch._C._functorch.is_functorch_wrapped_tensor(t):
            check_array(t, name=name, ndim=3, shape_hint=hint)
    if images.shape[1] < 1 or images.shape[2] < 1:
        raise ValueError(f"images must have H, W >= 1; got shape {tuple(images.shape)}.")
    if tuple(matrices.shape[1:]) != (2, 3) or matrices.shape[0] != images.shape[0]:
        raise ValueError(
            f"matrices must have shape (n, 2, 3) with n = {images.shape[0]} (one per image); "
            f"got {tuple(matrices.shape)}."
        )
    return size


def bilinear_warp(images: torch.Tensor, matrices: torch.Tensor, size: int) -> torch.Tensor:
    """Affine warp of single-channel images with bilinear interpolation and zero padding.

    Uses the conventions of ``torch.nn.functional.affine_grid`` / ``grid_sample`` with
    ``align_corners=False`` (normalised coordinates in [-1, 1]) but is built from ``gather``,
    so it supports forward-mode AD (``torch.func.jvp``/``jacfwd``) as well as ``vmap``.

    Parameters
    ----------
    images : Tensor of shape (n, H, W)
    matrices : Tensor of shape (n, 2, 3)
        Maps each *output* location (x, y, 1) to the *input* location it samples.
    size : int
        Output images are ``size × size``.

    Returns
    -------
    Tensor of shape (n, size * size)

    Raises
    ------
    TypeError
        If ``images`` or ``matrices`` is not a floating-point tensor, or ``size`` not an int.
    ValueError
        On wrong shapes, mismatched ``n``, ``size < 1``, or NaN/inf entries (the values are
        checked on plain tensors; under ``torch.func`` transforms only shapes are).

    Examples
    --------
    >>> import torch
    >>> img = torch.arange(16.0).reshape(1, 4, 4)
    >>> eye = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    >>> torch.equal(bilinear_warp(img, eye, 4), img.reshape(1, 16))
    True
    """
    size = _check_warp_args(images, matrices, size)
    n, H, W = images.shape
    dtype = images.dtype
    lin = (torch.arange(size, dtype=dtype, device=images.device) * 2 + 1) / size - 1
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack(
        [gx.reshape(-1), gy.reshape(-1), torch.ones_like(gx).reshape(-1)], -1
    )  # (P, 3)
    src = torch.einsum("pk,nik->npi", base, matrices.to(dtype))  # (n, P, 2): x, y normalised
    u = ((src[..., 0] + 1) * W - 1) / 2  # pixel coordinates (align_corners=False)
    v = ((src[..., 1] + 1) * H - 1) / 2
    u0 = torch.floor(u.detach())
    v0 = torch.floor(v.detach())
    wu = u - u0
    wv = v - v0
    flat = images.reshape(n, H * W)
    out = torch.zeros_like(u)
    for du, dv, w in (
        (0, 0, (1 - wu) * (1 - wv)),
        (1, 0, wu * (1 - wv)),
        (0, 1, (1 - wu) * wv),
        (1, 1, wu * wv),
    ):
        uu = u0 + du
        vv = v0 + dv
        valid = (uu >= 0) & (uu <= W - 1) & (vv >= 0) & (vv <= H - 1)
        idx = (vv.clamp(0, H - 1) * W + uu.clamp(0, W - 1)).long()
        out = out + w * torch.gather(flat, 1, idx) * valid.to(dtype)
    return out


class DigitTransformManifolds(ClassManifolds):
    """Family 3: x = β · warp_θ(canonical digit image of class c).

    Class ``c`` is the ``c // len(digits)``-th exemplar (in a seeded order) of digit
    ``digits[c % len(digits)]``, so classes cycle through the digit identities and
    :meth:`split_by_digit` can hold out whole identities; :func:`repgeo.data.split_classes`
    holds out exemplars at random.

    θ is given in standardised units (``θ ~ N(0, theta_scale² I)`` by default) and mapped to
    physical parameters by fixed ranges, in this order (only the active ``transforms``):

    ============  =========  ==============================================================
    transform     θ entries  effect
    ============  =========  ==============================================================
    rotation      1          ``rotation · θ`` radians about the centre (clockwise on screen)
    translation   2          shift ``translation · θ`` right / down (half image widths)
    scale         1          zoom ``exp(scale · θ)``
    brightness    1          intensity gain ``exp(brightness · θ)``
    ============  =========  ==============================================================

    Parameters
    ----------
    n_classes : int, default=30
        Number of canonical images (at most ``174 · len(digits)``).
    image_size : int, default=16
        Output side length; the 8×8 digits are resampled bilinearly, so
        ``ambient_dim = image_size²``.
    transforms : sequence of str, default=("rotation", "translation", "scale", "brightness")
    rotation, translation, scale, brightness : float
        Ranges of the transformations (see the table).
    k_gamma : int, default=64
        Number of principal components defining γ (64 reproduces the exemplars exactly).
    digits : sequence of int, default=range(10)
        Digit identities the classes cycle through.
    theta_scale : float, default=1.0
    noise : float, default=0.0
        Std of additive pixel noise in :meth:`sample` (not part of the Jacobians).
    random_state : int or Generator, default=0
        Seeds the choice of exemplars.

    Examples
    --------
    >>> from repgeo.data import DigitTransformManifolds
    >>> gen = DigitTransformManifolds(n_classes=20, random_state=0)
    >>> ds = gen.sample(5)
    >>> ds.X.shape, ds.extra["theta"].shape, gen.digit_of_class[:12].tolist()
    ((100, 256), (100, 5), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    >>> seen, unseen = gen.split_by_digit([8, 9])
    >>> unseen.tolist()
    [8, 9, 18, 19]
    """

    name = "digitwarp"

    def __init__(
        self,
        *,
        n_classes: int = 30,
        image_size: int = 16,
        transforms: Sequence[str] = ("rotation", "translation", "scale", "brightness"),
        rotation: float = 0.35,
        translation: float = 0.15,
        scale: float = 0.12,
        brightness: float = 0.2,
        k_gamma: int = 64,
        digits: Sequence[int] = tuple(range(10)),
        theta_scale: float = 1.0,
        noise: float = 0.0,
        random_state: Any = 0,
    ) -> None:
        if isinstance(transforms, str):
            transforms = (transforms,)
        transforms = tuple(transforms)
        if not transforms:
            raise ValueError("transforms must name at least one transformation; got an empty list.")
        unknown = [t for t in transforms if t not in _TRANSFORMS]
        if unknown or len(set(transforms)) != len(transforms):
            raise ValueError(
                f"transforms must be distinct entries of {sorted(_TRANSFORMS)}; got {list(transforms)}."
            )
        digits_arr = np.asarray(check_array(list(digits), name="digits", ndim=1, dtype="int"))
        if (
            np.unique(digits_arr).size != digits_arr.size
            or digits_arr.min() < 0
            or digits_arr.max() > 9
        ):
            raise ValueError(
                f"digits must be distinct integers in [0, 9]; got {digits_arr.tolist()}."
            )
        image_size = check_positive_int(image_size, "image_size", min_val=2, max_val=256)
        k_gamma = check_positive_int(k_gamma, "k_gamma", max_val=64)
        n_classes = check_positive_int(
            n_classes, "n_classes", min_val=2, max_val=174 * digits_arr.size
        )
        super().__init__(
            n_classes=n_classes,
            k_gamma=k_gamma,
            k_theta=sum(_TRANSFORMS[t] for t in transforms),
            ambient_dim=image_size * image_size,
            theta_scale=theta_scale,
            noise=noise,
            random_state=random_state,
        )
        self.image_size = image_size
        self.transforms = transforms
        self.ranges = {
            "rotation": float(check_scalar(rotation, "rotation", min_val=0.0)),
            "translation": float(check_scalar(translation, "translation", min_val=0.0)),
            "scale": float(check_scalar(scale, "scale", min_val=0.0)),
            "brightness": float(check_scalar(brightness, "brightness", min_val=0.0)),
        }
        self.digits = digits_arr

        from sklearn.datasets import load_digits

        d = load_digits()
        images = d.data / 16.0
        centred = torch.as_tensor(images - images.mean(0), dtype=torch.float64)
        _, vecs = torch.linalg.eigh(centred.T @ centred)  # principal axes, ascending variance
        self.mean_image = torch.as_tensor(images.mean(0), dtype=torch.float32)
        self.basis = vecs.flip(1)[:, :k_gamma].to(torch.float32).contiguous()  # (64, k_gamma)
        rng = check_random_state(self._rng)
        order = {int(k): rng.permutation(np.flatnonzero(d.target == k)) for k in digits_arr}
        n_digits = digits_arr.size
        self.digit_of_class = digits_arr[np.arange(n_classes) % n_digits]
        self.exemplar_index = np.array(
            [order[int(self.digit_of_class[c])][c // n_digits] for c in range(n_classes)],
            dtype=np.int64,
        )
        canon = torch.as_tensor(images[self.exemplar_index], dtype=torch.float32)
        self.gammas = (canon - self.mean_image) @ self.basis  # (n_classes, k_gamma)

    # ------------------------------------------------------------------ generator
    def canonical_images(self, gamma: torch.Tensor) -> torch.Tensor:
        """Unwarped 8×8 images ``μ + U γ`` of shape (n, 64)."""
        return self.mean_image.to(gamma) + gamma @ self.basis.to(gamma).T

    def _matrices(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = theta.shape[0]
        zero = torch.zeros(n, dtype=theta.dtype, device=theta.device)
        angle, tx, ty, log_s, log_b = zero, zero, zero, zero, zero
        col = 0
        for t in self.transforms:
            r = self.ranges[t]
            if t == "rotation":
                angle = r * theta[:, col]
            elif t == "translation":
                tx, ty = r * theta[:, col], r * theta[:, col + 1]
            elif t == "scale":
                log_s = r * theta[:, col]
            else:
                log_b = r * theta[:, col]
            col += _TRANSFORMS[t]
        # output p -> input M (p - t) with M = R(-angle) / s: the image is rotated by +angle,
        # zoomed by s and moved by t.
        inv_s = torch.exp(-log_s)
        c, s = torch.cos(angle) * inv_s, torch.sin(angle) * inv_s
        row0 = torch.stack([c, s, -(c * tx + s * ty)], -1)
        row1 = torch.stack([-s, c, -(-s * tx + c * ty)], -1)
        return torch.stack([row0, row1], -2), torch.exp(log_b)

    def generate(self, gamma: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        """x = exp(b) · warp(μ + U γ) of shape (n, image_size²) for ``gamma (n, k_gamma)``,
        ``theta (n, k_theta)``."""
        imgs = self.canonical_images(gamma).reshape(-1, 8, 8)
        mats, gain = self._matrices(theta)
        return gain[:, None] * bilinear_warp(imgs, mats, self.image_size)

    # ------------------------------------------------------------------ splits
    def split_by_digit(self, unseen_digits: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Seen / unseen class indices holding out whole digit identities.

        Parameters
        ----------
        unseen_digits : sequence of int
            Digits whose every exemplar class is unseen.

        Returns
        -------
        seen, unseen : ndarray of int64
            Sorted class indices.
        """
        held = np.asarray(
            check_array(list(unseen_digits), name="unseen_digits", ndim=1, dtype="int")
        )
        bad = sorted(set(held.tolist()) - set(self.digits.tolist()))
        if bad:
            raise ValueError(
                f"unseen_digits must be among the generator's digits {self.digits.tolist()}; got {bad}."
            )
        mask = np.isin(self.digit_of_class, held)
        if mask.all() or not mask.any():
            raise ValueError(
                f"holding out digits {held.tolist()} leaves {int((~mask).sum())} seen and "
                f"{int(mask.sum())} unseen classes; both must be non-empty."
            )
        return np.flatnonzero(~mask).astype(np.int64), np.flatnonzero(mask).astype(np.int64)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "image_size": self.image_size,
            "transforms": list(self.transforms),
            "ranges": dict(self.ranges),
            "digits": self.digits.tolist(),
            "gamma": "PCA coordinates of the canonical digit image",
            "input_shape": [1, self.image_size, self.image_size],
        }
