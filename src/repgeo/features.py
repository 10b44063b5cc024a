"""Feature maps and embeddings: a model's layers, named as the model names them.

A layer is named exactly as ``model.named_modules()`` names it — ``"layer2"`` of a ResNet,
``"blocks.3"`` of a ViT, ``"encoder.layer.2"`` of BERT, ``"enc"`` of your own module — and
:func:`layer_names` lists those names (with depth and type filters). Names of ``torch.fx`` graph
nodes (``"add"``, ``"relu"`` for a functional call) are accepted as well when no module has the
name and the model is fx-traceable (``layer_names(model, kind="fx")`` lists them). An unknown
name raises a :class:`ValueError` with the closest matches.

* :func:`extract` — embeddings of inputs at one or several layers in **one** forward pass
  (forward hooks), batched, without gradients, in eval mode, the caller's model left as it was.
  Inputs are numeric arrays (flat rows or images ``(N, C, H, W)``), a Hugging Face tokenised
  batch (a mapping of ``input_ids``, ``attention_mask``, ...), or a list of strings with a
  tokenizer (or a sentence-transformers model, which tokenises itself). Sequence outputs
  ``(N, T, H)`` are pooled: ``"mean"`` over the tokens the attention mask keeps, ``"cls"`` (the
  first token), ``"last"`` (the last kept token) or ``"none"`` (every token).
* :class:`FeatureMap` — Φ: R^d → R^n, the output of a layer as a function of the (flattened)
  input, batched and usable under ``torch.func`` (``vmap``, ``jvp``, ``vjp``, ``jacfwd``):

  - ``nn.Sequential`` models are sliced up to the named child (no copy, no wasted compute);
  - fx-traceable models are truncated with ``torch.fx`` at the named module (traced as a leaf,
    so containers such as ``"layer2"`` are cut too) or graph node;
  - other models run whole with a forward hook on the named module;
  - an input adapter (``input_fn``, ``forward_kwargs``) makes Φ a function of something other
    than the model's first argument: e.g. of a transformer's input embeddings
    (``input_fn=lambda e: {"inputs_embeds": e}``) with the attention mask held fixed
    (``forward_kwargs={"attention_mask": mask}``), so pullback metrics are taken there.

* :func:`block_layers` — the block outputs of a model (its ``hidden_layers``, the ``layer1 …``
  stages of a ResNet, the repeated blocks of a transformer with its embeddings first).

Inputs of a feature map are flat vectors; models that expect images get ``input_shape=(C, H,
W)`` and the feature map reshapes, so every geometric quantity is defined on R^d with d = C·H·W.

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
>>> Z = extract(net, torch.randn(10, 4), layers=["act1", "act2"])   # one forward pass
>>> {name: z.shape for name, z in Z.items()}
{'act1': (10, 16), 'act2': (10, 8)}
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ._backend import chunk_rows, iter_chunks, resolve_device
from ._progress import progress
from ._typing import Device
from ._validation import check_array, check_choice, check_positive_int

__all__ = [
    "POOLINGS",
    "FeatureMap",
    "block_layers",
    "check_layer_names",
    "extract",
    "layer_names",
]

POOLINGS = ("auto", "mean", "cls", "last", "none", "flatten")
"""How a layer's output becomes one row per sample (see :func:`extract`)."""

#: keys looked up, in order, when a layer returns a mapping (a Hugging Face ``ModelOutput``, a
#: sentence-transformers features dict)
_OUTPUT_KEYS = ("sentence_embedding", "last_hidden_state", "token_embeddings", "logits")
#: names of the module giving a transformer's input embeddings (hidden state 0)
_EMBEDDING_NAMES = ("embeddings", "embed_tokens", "patch_embed")
_TEXT_BATCH = 64


# ----------------------------------------------------------------------------- layer names
class _LeafTracer(torch.fx.Tracer):
    """A tracer that keeps the named modules whole (a container becomes one graph node)."""

    def __init__(self, leaves: Sequence[str] = ()) -> None:
        super().__init__()
        self.leaves = set(leaves)

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return qualname in self.leaves or super().is_leaf_module(m, qualname)


def _fx_trace(model: nn.Module, leaves: Sequence[str] = ()) -> torch.fx.GraphModule | None:
    try:
        tracer = _LeafTracer(leaves)
        graph = tracer.trace(model)
        return torch.fx.GraphModule(tracer.root, graph, type(model).__name__)
    except Exception:
        return None


def _module_names(model: nn.Module) -> list[str]:
    return [name for name, _ in model.named_modules() if name]


def _fx_names(gm: torch.fx.GraphModule) -> list[str]:
    names: list[str] = []
    for node in gm.graph.nodes:
        if node.op == "call_module" and str(node.target) not in names:
            names.append(str(node.target))
    for node in gm.graph.nodes:
        if node.op not in ("placeholder", "output", "get_attr") and node.name not in names:
            names.append(node.name)
    return names


def _unknown_layer(name: Any, model: nn.Module, extra: Sequence[str] = ()) -> ValueError:
    """An unknown layer name: the closest valid names, never the whole list."""
    names = _module_names(model)
    pool = list(dict.fromkeys([*names, *extra]))
    close = difflib.get_close_matches(str(name), pool, n=5, cutoff=0.6)
    if not close and isinstance(name, str):  # "layer1_0_conv1" (an fx node) -> "layer1.0.conv1"
        close = difflib.get_close_matches(name.replace("_", "."), pool, n=5, cutoff=0.6)
    hint = (
        f"closest matches: {', '.join(repr(c) for c in close)}"
        if close
        else "top-level modules: " + ", ".join(repr(n) for n, _ in list(model.named_children())[:8])
    )
    return ValueError(
        f"unknown layer {name!r} for {type(model).__name__}; {hint}. "
        f"repgeo.layer_names(model) lists all {len(names)} module names."
    )


def layer_names(
    model: nn.Module,
    *,
    depth: int | None = None,
    types: type | str | Sequence[type | str] | None = None,
    kind: str = "module",
) -> list[str]:
    """The layer names :func:`extract` and :class:`FeatureMap` accept for ``model``.

    Parameters
    ----------
    model : nn.Module
    depth : int, optional
        Keep names with at most ``depth`` dotted components (1 = the top-level children).
    types : type, str or sequence of them, optional
        Keep modules of these classes (a class, or a class name such as ``"BertLayer"``).
    kind : {"module", "fx"}, default="module"
        ``"module"``: the names of ``model.named_modules()`` (model order, the root left out);
        ``"fx"``: the call_module targets and the other node names of the model's ``torch.fx``
        graph (:class:`ValueError` when it cannot be traced).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from torch import nn
    >>> from repgeo.features import layer_names
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    >>> layer_names(net)
    ['0', '1', '1.0', '1.1']
    >>> layer_names(net, depth=1), layer_names(net, types=nn.Linear)
    (['0', '1'], ['0', '1.1'])
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    check_choice(kind, "kind", ("module", "fx"))
    if depth is not None:
        depth = check_positive_int(depth, "depth")
    if kind == "fx":
        gm = _fx_trace(model)
        if gm is None:
            raise ValueError(
                f"{type(model).__name__} cannot be traced with torch.fx; use its module names "
                "(kind='module')."
            )
        names = _fx_names(gm)
        return [n for n in names if depth is None or n.count(".") < depth]
    wanted: tuple[Any, ...] = ()
    if types is not None:
        wanted = tuple(types) if isinstance(types, (list, tuple)) else (types,)
        for t in wanted:
            if not (isinstance(t, str) or (isinstance(t, type) and issubclass(t, nn.Module))):
                raise TypeError(f"types must be module classes or class names; got {t!r}.")
    out = []
    for name, module in model.named_modules():
        if not name or (depth is not None and name.count(".") >= depth):
            continue
        if wanted and not any(
            type(module).__name__ == t if isinstance(t, str) else isinstance(module, t)
            for t in wanted
        ):
            continue
        out.append(name)
    return out


def block_layers(model: nn.Module) -> list[str]:
    """The block outputs of ``model``, input side first: what a layer-by-layer analysis reads.

    In order, the first rule that applies:

    1. the model declares ``hidden_layers`` (repgeo's MLP and SmallCNN), or has children named
       ``act1, act2, ...``: those;
    2. top-level children named ``layer1, layer2, ...`` (the stages of a ResNet): those;
    3. the longest run of same-class blocks in a ``ModuleList`` or ``Sequential`` (the
       ``encoder.layer.N`` of BERT, the ``blocks.N`` of a ViT, the ``h.N`` of GPT-2), preceded by
       the input embeddings (a module named ``embeddings``, ``embed_tokens`` or ``patch_embed``
       beside the stack or above it) when there is one — hidden state 0 of a transformer;
    4. otherwise every top-level child.

    Examples
    --------
    >>> from torch import nn
    >>> from repgeo.features import block_layers
    >>> class Encoder(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embeddings = nn.Embedding(10, 4)
    ...         self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(3))
    ...         self.head = nn.Linear(4, 2)
    >>> block_layers(Encoder())
    ['embeddings', 'blocks.0', 'blocks.1', 'blocks.2']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    declared = getattr(model, "hidden_layers", None)
    if declared is not None and not callable(declared):
        return [str(n) for n in declared]
    children = [n for n, _ in model.named_children()]
    acts = [n for n in children if re.fullmatch(r"act\d+", n)]
    if acts:
        return acts
    stages = sorted((n for n in children if re.fullmatch(r"layer\d+", n)), key=lambda n: int(n[5:]))
    if len(stages) >= 2:
        return stages
    best: tuple[int, int, str] | None = None  # (-length, depth, name)
    for name, module in model.named_modules():
        if not isinstance(module, (nn.ModuleList, nn.Sequential)):
            continue
        kids = list(module.children())
        if len(kids) < 2 or len({type(k) for k in kids}) != 1:
            continue
        key = (-len(kids), name.count(".") if name else -1, name)
        if best is None or key < best:
            best = key
    if best is not None:
        stack = best[2]
        prefix = f"{stack}." if stack else ""
        names = [f"{prefix}{n}" for n, _ in dict(model.named_modules())[stack].named_children()]
        modules = dict(model.named_modules())
        parts = stack.split(".") if stack else []
        for i in range(len(parts) - 1, -1, -1):
            base = ".".join(parts[:i])
            for emb in _EMBEDDING_NAMES:
                cand = f"{base}.{emb}" if base else emb
                if cand in modules:
                    return [cand, *names]
        return names
    if not children:
        raise ValueError(
            f"{type(model).__name__} has no submodules to take as blocks; name the layers "
            "explicitly (repgeo.layer_names(model))."
        )
    return children


# ----------------------------------------------------------------------------- running models
@contextlib.contextmanager
def _eval_mode(model: nn.Module, enabled: bool) -> Iterator[None]:
    if not enabled or not any(m.training for m in model.modules()):
        yield
        return
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode


def _is_sentence_transformer(model: nn.Module) -> bool:
    """A sentence-transformers model: a Sequential that takes a features dict and tokenises."""
    return isinstance(model, nn.Sequential) and callable(getattr(model, "tokenize", None))


def _call(model: nn.Module, inp: Any, forward_kwargs: Mapping[str, Any] | None) -> Any:
    """Call ``model`` on one prepared input: a mapping becomes keyword arguments (a
    sentence-transformers model takes the mapping itself), a tuple positional arguments."""
    kw = dict(forward_kwargs or {})
    if isinstance(inp, Mapping):
        if _is_sentence_transformer(model):
            return model(dict(inp), **kw)
        return model(**inp, **kw)
    if isinstance(inp, tuple):
        return model(*inp, **kw)
    return model(inp, **kw)


def _as_tensor(out: Any, layer: str) -> torch.Tensor:
    """The tensor a layer produced: itself, the first tensor of a tuple, or the main entry of a
    mapping (``last_hidden_state``, ``sentence_embedding``, ...)."""
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for item in out:
            if isinstance(item, torch.Tensor):
                return item
    if isinstance(out, Mapping):
        for key in _OUTPUT_KEYS:
            if isinstance(out.get(key), torch.Tensor):
                return out[key]
        keys = [k for k, v in out.items() if isinstance(v, torch.Tensor)]
        if len(keys) == 1:
            return out[keys[0]]
        raise TypeError(
            f"layer {layer!r} returns a mapping with tensors {keys}; none of {list(_OUTPUT_KEYS)}. "
            "Name a submodule that returns one tensor."
        )
    raise TypeError(
        f"layer {layer!r} returns {type(out).__name__}, not a tensor; name a submodule that "
        "returns one."
    )


def _snapshot(out: Any, layer: str) -> Any:
    """A copy of what a layer produced, taken inside its forward hook.

    What the hook receives can change before the forward pass ends: a following
    ``ReLU(inplace=True)`` overwrites the tensor, and sentence-transformers' ``Normalize`` rewrites
    the output mapping it shares with ``Pooling``. Reading it after the pass would silently
    return the later module's values. The clone stays differentiable (``FeatureMap``).
    """
    try:
        return _as_tensor(out, layer).clone()
    except TypeError:  # reported with its message where the output is read
        return out


def _last_index(mask: torch.Tensor) -> torch.Tensor:
    """Index of the last kept token of each row (left or right padding)."""
    T = mask.shape[1]
    flipped = torch.flip(mask.to(torch.int64), dims=[1])
    return (T - 1) - torch.argmax(flipped, dim=1)


def _pool(h: torch.Tensor, mask: torch.Tensor | None, pooling: str, layer: str) -> torch.Tensor:
    """One row per sample from a layer's output ``h`` of shape (b, ...)."""
    if pooling == "flatten" or h.ndim == 2:
        return h.reshape(h.shape[0], -1)
    if pooling == "none":
        return h
    if h.ndim == 3:
        if mask is not None and mask.shape[:2] != h.shape[:2]:
            raise ValueError(
                f"layer {layer!r} outputs shape {tuple(h.shape)}, which does not line up with the "
                f"attention mask {tuple(mask.shape)}; use pooling='cls', 'flatten' or 'none'."
            )
        if pooling == "cls":
            return h[:, 0]
        if pooling == "last":
            if mask is None:
                return h[:, -1]
            idx = _last_index(mask).to(h.device)
            return h[torch.arange(h.shape[0], device=h.device), idx]
        if mask is None:  # "mean"
            return h.mean(1)
        w = mask.to(device=h.device, dtype=h.dtype).unsqueeze(-1)
        return (h * w).sum(1) / w.sum(1).clamp_min(1.0)
    if pooling == "mean":  # a feature map (b, C, H, W, ...): the mean over positions
        return h.flatten(2).mean(2)
    raise ValueError(
        f"pooling={pooling!r} applies to sequence outputs (batch, tokens, features); layer "
        f"{layer!r} outputs shape {tuple(h.shape)}. Use pooling='mean' (average over positions), "
        "'flatten' or 'none'."
    )


def _expand(value: Any, b: int) -> Any:
    """A fixed keyword argument for a batch of ``b``: tensors with a leading 1 are expanded."""
    if isinstance(value, torch.Tensor) and value.ndim >= 1 and value.shape[0] == 1 and b != 1:
        return value.expand(b, *value.shape[1:])
    return value


def _check_pooling(pooling: Any) -> str:
    if not isinstance(pooling, str):
        raise TypeError(f"pooling must be a str; got {type(pooling).__name__}.")
    return check_choice(pooling, "pooling", POOLINGS)


# ----------------------------------------------------------------------------- FeatureMap
class FeatureMap:
    """Φ(x): the output of ``layer`` of ``model`` for input ``x``, one row per sample.

    Parameters
    ----------
    model : nn.Module
        Any PyTorch module.
    layer : str, optional
        A module name as ``model.named_modules()`` gives it (see :func:`layer_names`), or the
        name of a ``torch.fx`` graph node of a traceable model; ``None`` means the model's
        output. An unknown name raises a :class:`ValueError` with the closest matches.
    input_shape : sequence of int, optional
        Per-sample shape the model (or ``input_fn``) expects, e.g. ``(1, 28, 28)`` or the
        ``(tokens, hidden)`` of input embeddings; flat inputs of length ``prod(input_shape)``
        are reshaped to it.
    input_fn : callable, optional
        Maps the (reshaped) batch to the model's input: a tensor, a tuple of positional
        arguments, or a mapping of keyword arguments, e.g. ``lambda e: {"inputs_embeds": e}``.
    forward_kwargs : mapping, optional
        Keyword arguments passed unchanged on every call, e.g. ``{"attention_mask": mask}``;
        a tensor whose first dimension is 1 is expanded to the batch. An ``attention_mask``
        here is the mask of ``pooling``.
    pooling : {"flatten", "mean", "cls", "last"}, default="flatten"
        How the output becomes one row per sample: flattened, or pooled over tokens as in
        :func:`extract`.
    eval_mode : bool, default=True
        Evaluate in eval mode (BatchNorm/Dropout would otherwise couple or perturb samples);
        the model's own train/eval flags are restored after each call.

    Attributes
    ----------
    module : nn.Module
        The truncated module actually evaluated (the model itself for ``"hook"`` and ``"call"``).
    method : {"identity", "sequential", "fx", "hook", "call"}
        How the truncation was done (``"call"``: the model's output through an input adapter).

    Examples
    --------
    A module's output, addressed by its name (``enc`` is a container: fx keeps it whole):

    >>> import torch
    >>> from torch import nn
    >>> from repgeo.features import FeatureMap
    >>> class AutoEncoder(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.enc = nn.Sequential(nn.Linear(6, 3), nn.Tanh())
    ...         self.dec = nn.Linear(3, 6)
    ...     def forward(self, x):
    ...         return self.dec(self.enc(x))
    >>> net = AutoEncoder()
    >>> phi = FeatureMap(net, "enc")
    >>> phi.method, phi(torch.randn(4, 6)).shape
    ('fx', torch.Size([4, 3]))
    >>> J = torch.func.jacrev(phi.single)(torch.zeros(6))      # dΦ/dx at 0: tanh'(b) · W
    >>> bool(torch.allclose(J, (1 - torch.tanh(net.enc[0].bias) ** 2)[:, None] * net.enc[0].weight))
    True
    """

    def __init__(
        self,
        model: nn.Module,
        layer: str | None = None,
        *,
        input_shape: Sequence[int] | None = None,
        input_fn: Callable[[torch.Tensor], Any] | None = None,
        forward_kwargs: Mapping[str, Any] | None = None,
        pooling: str = "flatten",
        eval_mode: bool = True,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
        if layer is not None and not isinstance(layer, str):
            raise TypeError(f"layer must be a str or None; got {type(layer).__name__}.")
        if input_fn is not None and not callable(input_fn):
            raise TypeError(f"input_fn must be callable; got {type(input_fn).__name__}.")
        if forward_kwargs is not None and not isinstance(forward_kwargs, Mapping):
            raise TypeError(
                f"forward_kwargs must be a mapping; got {type(forward_kwargs).__name__}."
            )
        pooling = _check_pooling(pooling)
        if pooling in ("auto", "none"):
            raise ValueError(
                f"a FeatureMap returns one row per sample: pooling must be 'flatten', 'mean', "
                f"'cls' or 'last'; got {pooling!r}."
            )
        self.model = model
        self.layer = layer
        self.eval_mode = eval_mode
        self.input_shape = tuple(int(s) for s in input_shape) if input_shape is not None else None
        self.input_fn = input_fn
        self.forward_kwargs = dict(forward_kwargs) if forward_kwargs is not None else None
        self.pooling = pooling
        self._hook_module: nn.Module | None = None
        adapted = input_fn is not None or forward_kwargs is not None or pooling != "flatten"
        modules = dict(model.named_modules())
        if layer == "":
            raise _unknown_layer(layer, model)
        if layer is None:
            self.module, self.method = model, ("call" if adapted else "identity")
        elif adapted:
            if layer not in modules:
                raise _unknown_layer(layer, model)
            self.module, self.method = model, "hook"
            self._hook_module = modules[layer]
        elif isinstance(model, nn.Sequential) and layer in dict(model.named_children()):
            names = [n for n, _ in model.named_children()]
            children = list(model.named_children())[: names.index(layer) + 1]
            self.module, self.method = nn.Sequential(OrderedDict(children)), "sequential"
        else:
            gm = _fx_trace(model, leaves=[layer] if layer in modules else ())
            if gm is not None:
                self.module, self.method = self._truncate_fx(gm, layer, model), "fx"
            elif layer in modules:
                self.module, self.method = model, "hook"
                self._hook_module = modules[layer]
            else:
                raise _unknown_layer(layer, model)

    @staticmethod
    def _truncate_fx(
        gm: torch.fx.GraphModule, layer: str, model: nn.Module
    ) -> torch.fx.GraphModule:
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
            raise _unknown_layer(layer, model, _fx_names(gm))
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

    def with_model(self, model: nn.Module) -> FeatureMap:
        """The same feature map (layer, input adapter, pooling) on another model, e.g. a copy
        moved to another device or dtype."""
        return FeatureMap(
            model,
            self.layer,
            input_shape=self.input_shape,
            input_fn=self.input_fn,
            forward_kwargs=self.forward_kwargs,
            pooling=self.pooling,
            eval_mode=self.eval_mode,
        )

    # ----------------------------------------------------------------------------------
    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.method in ("identity", "sequential", "fx"):
            return self.module(x)
        b = x.shape[0]
        kwargs = (
            {k: _expand(v, b) for k, v in self.forward_kwargs.items()}
            if self.forward_kwargs
            else None
        )
        inp = self.input_fn(x) if self.input_fn is not None else x
        if self.method == "call":
            return _as_tensor(_call(self.model, inp, kwargs), "<output>")
        captured: list[Any] = []

        def hook(_m: nn.Module, _inp: Any, out: Any) -> None:
            captured.append(_snapshot(out, str(self.layer)))

        handle = self._hook_module.register_forward_hook(hook)  # type: ignore[union-attr]
        try:
            _call(self.model, inp, kwargs)
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"layer {self.layer!r} was not called during the forward pass.")
        return _as_tensor(captured[-1], str(self.layer))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Batched Φ: ``x`` of shape (batch, d) → (batch, n_features)."""
        if x.ndim != 2:
            raise ValueError(f"FeatureMap input must have shape (batch, d); got {tuple(x.shape)}.")
        if self.input_shape is not None:
            x = x.reshape(x.shape[0], *self.input_shape)
        with _eval_mode(self.model, self.eval_mode):
            out = self._forward(x)
        mask = None
        if self.pooling != "flatten" and self.forward_kwargs:
            m = self.forward_kwargs.get("attention_mask")
            mask = _expand(m, out.shape[0]) if isinstance(m, torch.Tensor) else None
        return _pool(out, mask, self.pooling, str(self.layer)).reshape(out.shape[0], -1)

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


def _needs_copy(model: nn.Module, device: torch.device, dtype: torch.dtype) -> bool:
    tensors = [*model.parameters(), *model.buffers()]
    return not all(
        t.device == device and (t.dtype == dtype or not t.is_floating_point()) for t in tensors
    )


def _on(fm: FeatureMap, device: torch.device, dtype: torch.dtype) -> FeatureMap:
    """``fm`` itself when its model already lives on ``device`` in ``dtype``; otherwise the same
    feature map over a moved copy, so the caller's model keeps its device and dtype."""
    if not _needs_copy(fm.model, device, dtype):
        return fm
    return fm.with_model(copy.deepcopy(fm.model).to(device=device, dtype=dtype))


# ----------------------------------------------------------------------------- inputs
class _Batches:
    """The user's inputs as batches for the model: numeric arrays, a tokenised mapping, or
    strings tokenised per batch (padding to the longest sequence of each batch)."""

    def __init__(
        self,
        X: Any,
        model: nn.Module,
        *,
        tokenizer: Any,
        max_length: int | None,
        input_shape: Sequence[int] | None,
        dtype: torch.dtype,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.dtype = dtype
        if hasattr(X, "X") and hasattr(X, "ids"):  # a repgeo.data.Dataset
            X = X.X
        if isinstance(X, str):
            raise TypeError(
                "inputs is one string; pass a list of strings (one per sample) with a tokenizer."
            )
        texts = isinstance(X, (list, tuple)) and len(X) > 0 and isinstance(X[0], str)
        texts = texts or (isinstance(X, np.ndarray) and X.dtype.kind == "U")
        if texts:
            self.kind = "text"
            bad = [i for i, s in enumerate(X) if not isinstance(s, str)]
            if bad:
                raise TypeError(
                    f"inputs mixes strings with other values (first at index {bad[0]}: "
                    f"{type(X[bad[0]]).__name__}); pass only strings."
                )
            self.texts = [str(s) for s in X]
            self.n = len(self.texts)
            if tokenizer is None and not callable(getattr(model, "tokenize", None)):
                raise TypeError(
                    f"inputs are strings but {type(model).__name__} does not tokenise them: pass "
                    "tokenizer= (e.g. transformers.AutoTokenizer.from_pretrained(path, "
                    "local_files_only=True))."
                )
        elif isinstance(X, Mapping):
            self.kind = "tokens"
            if not X:
                raise ValueError(
                    "inputs is an empty mapping; expected input_ids, attention_mask ..."
                )
            arrays = {}
            for k, v in X.items():
                try:
                    t = v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))
                except (ValueError, TypeError) as exc:
                    raise ValueError(
                        f"inputs[{k!r}] could not be made a tensor ({exc}); tokenise with "
                        "padding=True, return_tensors='pt'."
                    ) from None
                if t.ndim == 0:
                    raise ValueError(
                        f"inputs[{k!r}] is a scalar; every entry needs one row per sample."
                    )
                arrays[str(k)] = t
            lengths = {k: int(t.shape[0]) for k, t in arrays.items()}
            if len(set(lengths.values())) != 1:
                raise ValueError(
                    f"the entries of inputs must have the same number of rows; got {lengths}."
                )
            self.arrays = arrays
            self.n = next(iter(lengths.values()))
        else:
            if isinstance(X, (list, tuple)) and len(X) == 0:
                raise ValueError("inputs is empty; expected at least one sample.")
            if not (isinstance(X, torch.Tensor) and X.dtype in (torch.int32, torch.int64)):
                # an int32/int64 *tensor* is token ids and stays integer (an nn.Embedding reads
                # it); arrays and other dtypes (uint8 pixels) are numeric inputs made floats
                X = check_array(X, name="X", ndim=None, shape_hint="(n_samples, ...)")
            if X.ndim < 2:
                raise ValueError(
                    f"X must be a 2-D array of shape (n_samples, n_features) or images (n_samples, "
                    f"C, H, W); got shape {tuple(X.shape)}."
                )
            self.kind = "array"
            self.X = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
            if input_shape is not None:
                shape = tuple(int(s) for s in input_shape)
                if int(np.prod(shape)) != int(np.prod(self.X.shape[1:])):
                    raise ValueError(
                        f"input_shape {shape} does not match the {tuple(self.X.shape[1:])} of each "
                        "sample of X."
                    )
                self.X = self.X.reshape(self.X.shape[0], *shape)
            self.n = int(self.X.shape[0])
        if self.n == 0:
            raise ValueError("inputs hold no samples.")

    @property
    def is_sequence(self) -> bool:
        return self.kind in ("text", "tokens")

    def row_bytes(self) -> float:
        if self.kind == "array":
            return 4.0 * float(np.prod(self.X.shape[1:]))
        return 0.0

    def get(self, sl: slice, device: torch.device) -> tuple[Any, torch.Tensor | None]:
        """The model input of rows ``sl`` on ``device``, and the attention mask if any."""
        if self.kind == "array":
            x = self.X[sl]
            return x.to(device=device, dtype=self.dtype if x.is_floating_point() else x.dtype), None
        if self.kind == "text":
            batch = self.texts[sl]
            if self.tokenizer is not None:
                kw: dict[str, Any] = {"padding": True, "truncation": True, "return_tensors": "pt"}
                if self.max_length is not None:
                    kw["max_length"] = self.max_length
                enc = dict(self.tokenizer(batch, **kw))
            else:  # sentence-transformers: `preprocess` (v6+) or `tokenize`
                own = getattr(self.model, "preprocess", None)
                if not (callable(own) and _is_sentence_transformer(self.model)):
                    own = self.model.tokenize
                enc = dict(own(batch))  # type: ignore[operator]
        else:
            enc = {k: v[sl] for k, v in self.arrays.items()}
        out = {}
        for k, v in enc.items():
            if isinstance(v, torch.Tensor):
                v = v.to(device=device, dtype=self.dtype if v.is_floating_point() else v.dtype)
            out[k] = v
        mask = out.get("attention_mask")
        return out, mask if isinstance(mask, torch.Tensor) else None


# ----------------------------------------------------------------------------- extract
def _resolve_layers(model: nn.Module, names: Sequence[Any]) -> tuple[list[str], list[str]]:
    """Split requested names into module names and fx node names (unknown: ValueError)."""
    modules = dict(model.named_modules())
    mods, fx = [], []
    gm: torch.fx.GraphModule | None = None
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"layer names must be str; got {type(name).__name__} ({name!r}).")
        if name in modules and name:
            mods.append(name)
            continue
        if gm is None:
            gm = _fx_trace(model)
        if gm is not None and name in _fx_names(gm):
            fx.append(name)
        else:
            raise _unknown_layer(name, model, _fx_names(gm) if gm is not None else ())
    return mods, fx


def check_layer_names(model: nn.Module, names: Sequence[str]) -> list[str]:
    """``names`` if every one names a layer of ``model`` (a module, or a node of its fx graph);
    otherwise a :class:`ValueError` with the closest matches of the first unknown name.

    Examples
    --------
    >>> from torch import nn
    >>> from repgeo.features import check_layer_names
    >>> net = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    >>> check_layer_names(net, ["0", "1"])
    ['0', '1']
    >>> check_layer_names(net, ["2"])
    Traceback (most recent call last):
    ...
    ValueError: unknown layer '2' for Sequential; top-level modules: '0', '1'. ... module names.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TypeError(f"names must be a sequence of layer names; got {type(names).__name__}.")
    _resolve_layers(model, list(names))
    return list(names)


def _fx_multi(model: nn.Module, names: Sequence[str]) -> torch.fx.GraphModule:
    """One graph returning the outputs of every named module (kept whole) and node."""
    modules = dict(model.named_modules())
    gm = _fx_trace(model, leaves=[n for n in names if n in modules])
    if gm is None:  # pragma: no cover - resolved as traceable before
        raise ValueError(f"{type(model).__name__} cannot be traced with torch.fx.")
    nodes = list(gm.graph.nodes)
    targets = []
    for name in names:
        found = None
        for node in nodes:  # a module called several times: its last call
            if node.op == "call_module" and node.target == name:
                found = node
        if found is None:
            found = next(n for n in nodes if n.name == name and n.op != "output")
        targets.append(found)
    last = max(nodes.index(t) for t in targets)
    graph = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    for node in nodes[: last + 1]:
        env[node] = graph.node_copy(node, lambda n: env[n])
    graph.output(tuple(env[t] for t in targets))
    out = torch.fx.GraphModule(gm, graph)
    out.graph.eliminate_dead_code()
    out.recompile()
    return out


def extract(
    model: nn.Module | FeatureMap,
    X: Any,
    *,
    layer: str | None = None,
    layers: Sequence[str] | None = None,
    pooling: str = "auto",
    tokenizer: Any = None,
    max_length: int | None = None,
    input_shape: Sequence[int] | None = None,
    input_fn: Callable[[Any], Any] | None = None,
    forward_kwargs: Mapping[str, Any] | None = None,
    batch_size: int | None = None,
    device: Device = "auto",
    dtype: torch.dtype = torch.float32,
    show_progress: bool = True,
) -> np.ndarray | dict[str, np.ndarray]:
    """Embeddings of ``X`` at one layer, or at several in one forward pass per batch.

    Computed in batches, without gradients, in eval mode, on a copy of the model when it must
    move to another device or dtype: the caller's model is left exactly as it was (device,
    dtype, training mode, weights).

    Parameters
    ----------
    model : nn.Module or FeatureMap
    X : array_like, Tensor, mapping, list of str, or Dataset
        * numeric, shape (n_samples, d) or images (n_samples, C, H, W) (a
          :class:`repgeo.data.Dataset` gives its ``X``);
        * a Hugging Face tokenised batch: a mapping of tensors with one row per sample
          (``input_ids``, ``attention_mask``, ...), passed as keyword arguments (a
          sentence-transformers model takes the mapping itself);
        * a list of strings, tokenised per batch by ``tokenizer`` (or by the model's own
          ``tokenize``, as a sentence-transformers model has).
    layer : str, optional
        One layer (see :func:`layer_names`); ``None`` is the model's output. Returns an array.
    layers : sequence of str, optional
        Several layers, all read in the same forward pass (forward hooks; fx node names through
        one traced graph). Returns ``{layer: array}`` in the order given.
    pooling : {"auto", "mean", "cls", "last", "none", "flatten"}, default="auto"
        How an output becomes one row per sample. ``"auto"``: ``"mean"`` for token inputs,
        ``"flatten"`` otherwise. Sequence outputs (n, T, H): ``"mean"`` over the tokens the
        attention mask keeps (all tokens without a mask), ``"cls"`` the first token, ``"last"``
        the last kept token, ``"none"`` every token — shape (n, T, H), padded to the longest
        sequence with NaN where the attention mask is 0. Feature maps (n, C, H, W):
        ``"mean"`` over positions, ``"flatten"`` all values. 2-D outputs are returned as they are.
    tokenizer : callable, optional
        A Hugging Face tokenizer for string inputs (called with ``padding=True,
        truncation=True, return_tensors="pt"``).
    max_length : int, optional
        Truncation length of the tokenizer.
    input_shape : sequence of int, optional
        Per-sample shape flat numeric rows are reshaped to (e.g. ``(1, 28, 28)``).
    input_fn : callable, optional
        Maps each batch (a tensor, or a mapping of tensors) to the model's input: a tensor, a
        tuple of positional arguments or a mapping of keyword arguments.
    forward_kwargs : mapping, optional
        Keyword arguments passed on every call.
    batch_size : int, optional
        Rows per forward pass; by default 64 for token inputs, else sized from the memory budget.
    device : {"auto", "cpu", "cuda"}
        Where to compute.
    dtype : torch.dtype, default=torch.float32
        Compute dtype of the model and of floating inputs (integer token ids are kept).
    show_progress : bool, default=True

    Returns
    -------
    Z : ndarray of shape (n_samples, n_features), or dict of str to ndarray
        float32 (float64 when ``dtype=torch.float64``).

    Examples
    --------
    Several layers of your own module in one pass, and a tokenised batch:

    >>> import torch
    >>> from torch import nn
    >>> from repgeo.features import extract
    >>> class Tiny(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.embed = nn.Embedding(20, 4)
    ...         self.blocks = nn.ModuleList(nn.Linear(4, 4) for _ in range(2))
    ...     def forward(self, input_ids, attention_mask=None):
    ...         h = self.embed(input_ids)
    ...         for block in self.blocks:
    ...             h = torch.tanh(block(h))
    ...         return h
    >>> batch = {"input_ids": torch.tensor([[1, 2, 3], [4, 5, 0]]),
    ...          "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]])}
    >>> Z = extract(Tiny(), batch, layers=["blocks.0", "blocks.1"])    # mean over kept tokens
    >>> {k: v.shape for k, v in Z.items()}
    {'blocks.0': (2, 4), 'blocks.1': (2, 4)}
    >>> extract(Tiny(), batch, layer="embed", pooling="none").shape     # every token
    (2, 3, 4)
    """
    if layer is not None and layers is not None:
        raise TypeError("pass either layer= (one layer, an array) or layers= (a dict), not both.")
    pooling = _check_pooling(pooling)
    if max_length is not None:
        max_length = check_positive_int(max_length, "max_length")
    if isinstance(model, FeatureMap):
        if layers is not None or layer is not None:
            raise TypeError("model is a FeatureMap (a layer already); do not pass layer or layers.")
        return _extract_feature_map(model, X, batch_size, device, dtype, show_progress)
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"model must be a torch.nn.Module or a FeatureMap; got {type(model).__name__}."
        )
    single = layers is None
    if layers is not None:
        if isinstance(layers, str) or not isinstance(layers, Sequence):
            raise TypeError(
                f"layers must be a sequence of layer names; got {type(layers).__name__}."
            )
        names = list(dict.fromkeys(layers))
        if not names:
            raise ValueError("layers is empty; name at least one layer.")
    else:
        names = [layer] if layer is not None else [""]
    dev = resolve_device(device)
    batches = _Batches(
        X, model, tokenizer=tokenizer, max_length=max_length, input_shape=input_shape, dtype=dtype
    )
    if pooling == "auto":
        pooling = "mean" if batches.is_sequence else "flatten"
    if (
        single
        and batches.kind == "array"
        and (batches.X.ndim == 2 or input_shape is not None)
        and pooling == "flatten"
        and input_fn is None
        and forward_kwargs is None
    ):  # one layer of a numeric model: the truncated feature map computes no more than needed
        fm = FeatureMap(model, layer, input_shape=input_shape)
        flat = batches.X.reshape(batches.n, -1)
        return _extract_feature_map(fm, flat, batch_size, dev, dtype, show_progress)
    out = _extract_many(
        model, batches, names, pooling, input_fn, forward_kwargs, batch_size, dev, dtype,
        show_progress,
    )  # fmt: skip
    return out[names[0]] if single else out


def _extract_feature_map(
    fm: FeatureMap, X: Any, batch_size: Any, device: Any, dtype: torch.dtype, show: bool
) -> np.ndarray:
    if hasattr(X, "X") and hasattr(X, "ids"):  # a repgeo.data.Dataset
        X = X.X
    X = check_array(X, name="X")
    dev = resolve_device(device)
    fm = _on(fm, dev, dtype)
    Xt = X if isinstance(X, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(X))
    if Xt.ndim != 2:
        Xt = Xt.reshape(Xt.shape[0], -1)
    n, d = Xt.shape
    n_out = fm.n_features(d)
    if batch_size is None:
        batch_size = chunk_rows(4.0 * (d + 8 * n_out), maximum=8192)
    batch_size = check_positive_int(batch_size, "batch_size")
    out = np.empty((n, n_out), dtype=np.float64 if dtype == torch.float64 else np.float32)
    chunks = list(iter_chunks(n, batch_size))
    it = progress(chunks, "extracting embeddings") if show and len(chunks) > 4 else chunks
    with torch.no_grad():
        for sl in it:
            out[sl] = fm(Xt[sl].to(device=dev, dtype=dtype)).cpu().numpy()
    return out


def _extract_many(
    model: nn.Module,
    batches: _Batches,
    names: list[str],
    pooling: str,
    input_fn: Any,
    forward_kwargs: Any,
    batch_size: Any,
    dev: torch.device,
    dtype: torch.dtype,
    show: bool,
) -> dict[str, np.ndarray]:
    if input_fn is not None and not callable(input_fn):
        raise TypeError(f"input_fn must be callable; got {type(input_fn).__name__}.")
    if forward_kwargs is not None and not isinstance(forward_kwargs, Mapping):
        raise TypeError(f"forward_kwargs must be a mapping; got {type(forward_kwargs).__name__}.")
    _, fx = _resolve_layers(model, [n for n in names if n])
    if fx and (batches.kind != "array" or input_fn is not None or forward_kwargs):
        raise ValueError(
            f"layers {fx} are torch.fx graph nodes, which need plain tensor inputs; name modules "
            "(repgeo.layer_names(model)) for token inputs or an input adapter."
        )
    if _needs_copy(model, dev, dtype):
        model = copy.deepcopy(model).to(device=dev, dtype=dtype)
    if batch_size is None:
        batch_size = (
            _TEXT_BATCH
            if batches.is_sequence
            else chunk_rows(16.0 * batches.row_bytes() + 4096.0 * len(names), maximum=8192)
        )
    batch_size = check_positive_int(batch_size, "batch_size")
    n = batches.n
    out_dtype = np.float64 if dtype == torch.float64 else np.float32
    results: dict[str, Any] = {}
    tokens: dict[str, list[np.ndarray]] = {}
    chunks = list(iter_chunks(n, batch_size))
    it = progress(chunks, "extracting embeddings") if show and len(chunks) > 4 else chunks
    captured: dict[str, list[Any]] = {name: [] for name in names}
    handles = []
    graph = _fx_multi(model, names) if fx else None
    try:
        if graph is None:
            modules = dict(model.named_modules())
            for name in names:
                target = modules[name] if name else model

                def hook(_m: nn.Module, _i: Any, o: Any, name: str = name) -> None:
                    captured[name].append(_snapshot(o, name or "<output>"))

                handles.append(target.register_forward_hook(hook))
        with torch.no_grad(), _eval_mode(model, True):
            for sl in it:
                inp, mask = batches.get(sl, dev)
                for v in captured.values():
                    v.clear()
                if graph is not None:
                    outs = graph(inp)
                    for name, o in zip(names, outs if isinstance(outs, tuple) else (outs,)):
                        captured[name].append(o)
                else:
                    _call(model, input_fn(inp) if input_fn is not None else inp, forward_kwargs)
                for name in names:
                    if not captured[name]:
                        raise RuntimeError(
                            f"layer {name!r} was not called during the forward pass of "
                            f"{type(model).__name__}; choose another layer."
                        )
                    h = _as_tensor(captured[name][-1], name or "<output>")
                    z = _pool(h, mask, pooling, name or "<output>")
                    if pooling == "none" and z.ndim == 3 and mask is not None:
                        if tuple(mask.shape) != tuple(z.shape[:2]):
                            raise ValueError(
                                f"layer {name!r} outputs shape {tuple(z.shape)}, which does not "
                                f"line up with the attention mask {tuple(mask.shape)}."
                            )
                        keep = mask.to(device=z.device, dtype=torch.bool)[..., None]
                        z = z.masked_fill(~keep, float("nan"))
                    z = z.detach().to(
                        "cpu", torch.float64 if out_dtype == np.float64 else torch.float32
                    )
                    if pooling == "none" and batches.is_sequence and z.ndim == 3:
                        tokens.setdefault(name, []).append(z.numpy())
                        continue
                    if name not in results:
                        results[name] = np.empty((n, *z.shape[1:]), dtype=out_dtype)
                    elif results[name].shape[1:] != tuple(z.shape[1:]):
                        raise ValueError(
                            f"layer {name!r} gives rows of shape {tuple(z.shape[1:])} in one batch "
                            f"and {results[name].shape[1:]} in another; use pooling='mean' or 'cls'."
                        )
                    results[name][sl] = z.numpy()
    finally:
        for handle in handles:
            handle.remove()
    for name, parts in tokens.items():
        T = max(p.shape[1] for p in parts)
        arr = np.full((n, T, parts[0].shape[2]), np.nan, dtype=out_dtype)
        row = 0
        for p in parts:
            arr[row : row + p.shape[0], : p.shape[1]] = p
            row += p.shape[0]
        results[name] = arr
    return {name: results[name] for name in names}
