"""Feature maps: a model truncated at a named layer, as a function of the input.

:class:`FeatureMap` is the entry point every analysis shares. Given any ``nn.Module`` and a
layer name it returns Φ: R^d → R^n (the layer's output, flattened per sample) that works on
batches and under ``torch.func`` transforms (``vmap``, ``jvp``, ``vjp``, ``jacfwd``):

* ``nn.Sequential`` models are sliced up to the named child (no copy, no wasted compute);
* other models are truncated with ``torch.fx`` at the named module or graph node;
* models that ``torch.fx`` cannot trace fall back to a forward hook on the named module.

Inputs are flat vectors; models that expect images get ``input_shape=(C, H, W)`` and the
feature map reshapes, so every geometric quantity is defined on R^d with d = C·H·W.

Examples
--------
>>> import torch
>>> from repgeo.models import MLP
>>> from repgeo.features import FeatureMap, extract
>>> net = MLP([4, 16, 8, 3], seed=0)
>>> phi = FeatureMap(net, "act2")
>>> phi(torch.randn(5, 4)).shape
torch.Size([5, 8])
>>> extract(net, torch.randn(10, 4), layer="act1").shape
(10, 16)
"""

from __future__ import annotations

import contextlib
import copy
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._backend import chunk_rows, iter_chunks, resolve_device
from ._progress import progress
from ._typing import ArrayLike, Device
from ._validation import check_array, check_positive_int

__all__ = ["FeatureMap", "extract", "layer_names"]


def _fx_trace(model: nn.Module) -> torch.fx.GraphModule | None:
    try:
        return torch.fx.symbolic_trace(model)
    except Exception:
        return None


def layer_names(model: nn.Module) -> list[str]:
    """Names accepted by :class:`FeatureMap` for ``model`` (children of a Sequential, else
    traced module names and graph nodes, else all named submodules)."""
    if isinstance(model, nn.Sequential):
        return [name for name, _ in model.named_children()]
    gm = _fx_trace(model)
    if gm is not None:
        names: list[str] = []
        for node in gm.graph.nodes:
            if node.op == "call_module" and node.target not in names:
                names.append(str(node.target))
        for node in gm.graph.nodes:
            if node.op not in ("placeholder", "output", "get_attr") and node.name not in names:
                names.append(node.name)
        return names
    return [name for name, _ in model.named_modules() if name]


@contextlib.contextmanager
def _eval_mode(model: nn.Module, enabled: bool) -> Iterator[None]:
    if not enabled or not model.training:
        yield
        return
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode


class FeatureMap:
    """Φ(x): the output of ``layer`` of ``model`` for input ``x``, flattened per sample.

    Parameters
    ----------
    model : nn.Module
        Any PyTorch module mapping a batch of inputs to outputs.
    layer : str, optional
        Layer name (see :func:`layer_names`); ``None`` means the model's output. An unknown
        name raises a :class:`ValueError` listing the valid names.
    input_shape : sequence of int, optional
        Per-sample shape the model expects (e.g. ``(1, 28, 28)``); flat inputs of length
        ``prod(input_shape)`` are reshaped to it.
    eval_mode : bool, default=True
        Evaluate in eval mode (BatchNorm/Dropout would otherwise couple or perturb samples);
        the model's own train/eval flags are restored after each call.

    Attributes
    ----------
    module : nn.Module
        The truncated module actually evaluated.
    method : {"identity", "sequential", "fx", "hook"}
        How the truncation was done.
    """

    def __init__(
        self,
        model: nn.Module,
        layer: str | None = None,
        *,
        input_shape: Sequence[int] | None = None,
        eval_mode: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if layer is not None and not isinstance(layer, str):
            raise TypeError(f"layer must be a str or None; got {type(layer).__name__}.")
        self.model = model
        self.layer = layer
        self.eval_mode = eval_mode
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self._hook_module: nn.Module | None = None
        if layer is None:
            self.module, self.method = model, "identity"
        elif isinstance(model, nn.Sequential):
            names = [n for n, _ in model.named_children()]
            if layer not in names:
                raise ValueError(f"unknown layer {layer!r}; valid layer names are: {names}.")
            children = list(model.named_children())[: names.index(layer) + 1]
            self.module, self.method = nn.Sequential(OrderedDict(children)), "sequential"
        else:
            gm = _fx_trace(model)
            if gm is not None:
                self.module, self.method = self._truncate_fx(gm, layer), "fx"
            else:
                modules = dict(model.named_modules())
                if layer not in modules or not layer:
                    valid = [n for n in modules if n]
                    raise ValueError(f"unknown layer {layer!r}; valid layer names are: {valid}.")
                self.module, self.method = model, "hook"
                self._hook_module = modules[layer]

    @staticmethod
    def _truncate_fx(gm: torch.fx.GraphModule, layer: str) -> torch.fx.GraphModule:
        nodes = list(gm.graph.nodes)
        target = None
        for node in nodes:  # a module called several times: its last call
            if node.op == "call_module" and node.target == layer:
                target = node
        if target is None:
            target = next(
                (n for n in nodes if n.name == layer and n.op not in ("placeholder", "output")),
                None,
            )
        if target is None:
            raise ValueError(f"unknown layer {layer!r}; valid layer names are: {layer_names(gm)}.")
        graph = torch.fx.Graph()
        env: dict[torch.fx.Node, torch.fx.Node] = {}
        for node in nodes:
            if node.op == "output":
                break
            env[node] = graph.node_copy(node, lambda n: env[n])
            if node is target:
                break
        graph.output(env[target])
        out = torch.fx.GraphModule(gm, graph)
        out.graph.eliminate_dead_code()
        out.recompile()
        return out

    # ----------------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method != "hook":
            return self.module(x)
        captured: list[torch.Tensor] = []

        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            captured.append(out[0] if isinstance(out, (tuple, list)) else out)

        handle = self._hook_module.register_forward_hook(hook)  # type: ignore[union-attr]
        try:
            self.model(x)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"layer {self.layer!r} was not called during the forward pass.")
        return captured[-1]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Batched Φ: ``x`` of shape (batch, d) → (batch, n_features)."""
        if x.ndim != 2:
            raise ValueError(f"FeatureMap input must have shape (batch, d); got {tuple(x.shape)}.")
        if self.input_shape is not None:
            x = x.reshape(x.shape[0], *self.input_shape)
        with _eval_mode(self.model, self.eval_mode):
            out = self._forward(x)
        return out.reshape(out.shape[0], -1)

    def single(self, x: torch.Tensor) -> torch.Tensor:
        """Unbatched Φ for ``torch.func``: ``x`` of shape (d,) → (n_features,)."""
        return self(x.unsqueeze(0)).squeeze(0)

    @property
    def parameters_device(self) -> torch.device:
        try:
            return next(self.model.parameters()).device
        except StopIteration:
            return torch.device("cpu")

    @property
    def parameters_dtype(self) -> torch.dtype:
        try:
            return next(self.model.parameters()).dtype
        except StopIteration:
            return torch.get_default_dtype()

    def n_features(self, d: int) -> int:
        """Output size for inputs of dimension ``d``."""
        x = torch.zeros(1, d, device=self.parameters_device, dtype=self.parameters_dtype)
        with torch.no_grad():
            return int(self(x).shape[1])

    def __repr__(self) -> str:
        return (
            f"FeatureMap({type(self.model).__name__}, layer={self.layer!r}, method={self.method!r})"
        )


def _on(fm: FeatureMap, device: torch.device, dtype: torch.dtype) -> FeatureMap:
    """``fm`` itself when its model already lives on ``device`` in ``dtype``; otherwise a feature
    map over a moved copy, so the caller's model keeps its device and dtype."""
    tensors = [*fm.model.parameters(), *fm.model.buffers()]
    if all(t.device == device and (t.dtype == dtype or not t.is_floating_point()) for t in tensors):
        return fm
    moved = copy.deepcopy(fm.model).to(device=device, dtype=dtype)
    return FeatureMap(moved, fm.layer, input_shape=fm.input_shape, eval_mode=fm.eval_mode)


def extract(
    model: nn.Module | FeatureMap,
    X: ArrayLike,
    *,
    layer: str | None = None,
    input_shape: Sequence[int] | None = None,
    batch_size: int | None = None,
    device: Device = "auto",
    dtype: torch.dtype = torch.float32,
    show_progress: bool = True,
) -> np.ndarray:
    """Embeddings of ``X`` at ``layer``, computed in chunks without gradients, in eval mode.

    Parameters
    ----------
    model : nn.Module or FeatureMap
    X : array_like or Tensor of shape (n_samples, d), or a :class:`repgeo.data.Dataset`
    layer : str, optional
        Layer name (ignored when ``model`` is already a FeatureMap).
    batch_size : int, optional
        Rows per forward pass; by default sized from the memory budget.
    device : {"auto", "cpu", "cuda"}
        Where to compute. A model on another device or in another dtype is copied there; the
        caller's model is left exactly as it was (device, dtype, training mode).
    dtype : torch.dtype, default=torch.float32

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features)
    """
    if hasattr(X, "X") and hasattr(X, "ids"):  # a repgeo.data.Dataset
        X = X.X
    X = check_array(X, name="X")
    fm = (
        model
        if isinstance(model, FeatureMap)
        else FeatureMap(model, layer, input_shape=input_shape)
    )
    dev = resolve_device(device)
    fm = _on(fm, dev, dtype)
    Xt = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
    n, d = Xt.shape
    n_out = fm.n_features(d)
    if batch_size is None:
        batch_size = chunk_rows(4.0 * (d + 8 * n_out), maximum=8192)
    batch_size = check_positive_int(batch_size, "batch_size")
    out = np.empty((n, n_out), dtype=np.float32 if dtype == torch.float32 else np.float64)
    chunks = list(iter_chunks(n, batch_size))
    it = progress(chunks, "extracting embeddings") if show_progress and len(chunks) > 4 else chunks
    with torch.no_grad():
        for sl in it:
            out[sl] = fm(Xt[sl].to(device=dev, dtype=dtype)).cpu().numpy()
    return out
