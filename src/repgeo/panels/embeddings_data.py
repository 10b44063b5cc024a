"""The first stage of ``repgeo analyze``: what is analysed, and (for a model) the extraction.

Its section ``data`` describes the source; the command line fills it in (it is not meant for
``--config``):

* ``kind = "embeddings"``: ``embeddings`` (a file or a directory of checkpoints), ``labels`` (an
  array name in the file or a labels file), ``layers`` (the layers analysed, in order),
  ``compare`` / ``compare_layers`` (a second set of embeddings of the same samples);
* ``kind = "model"``: ``model`` (a model directory or ``package.module:factory``), ``weights``,
  ``inputs`` (sentences, arrays or images), ``labels``, ``layers``, ``pooling``, ``batch_size``,
  ``max_length`` (tokens), ``image_size``.

For embeddings the stage reports the layers, samples, labels and anything done on the way; for
a model it extracts every layer in one forward pass per batch (:func:`repgeo.features.extract`)
and writes ``arrays/embeddings.npz``, which the later panels read.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..data import load_labels
from ..features import POOLINGS, extract
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["DEFAULTS", "PANEL", "labels_of_inputs"]

DEFAULTS: dict[str, Any] = {
    "kind": "",
    "embeddings": "",
    "labels": "",
    "compare": "",
    "layers": [],
    "compare_layers": [],
    "model": "",
    "weights": "",
    "inputs": "",
    "pooling": "auto",
    "batch_size": 64,
    "max_length": 256,
    "image_size": 0,
}
SCHEMA = {
    "kind": Option(type="str", choices=("", "embeddings", "model")),
    "layers": Option(type="list", items=Option(type="str")),
    "compare_layers": Option(type="list", items=Option(type="str")),
    "pooling": Option(type="str", choices=POOLINGS),
    "max_length": Option(type="int", ge=1),
    "image_size": Option(type="int", ge=0),
}


def labels_of_inputs(cfg: dict[str, Any], inputs: Any) -> tuple[Any, Any]:
    """The labels of a model run: a labels file (``cfg["labels"]`` naming a file), else those
    the inputs carry (image sub-folders, a labels array of a ``.npz``)."""
    if cfg["labels"] and Path(cfg["labels"]).is_file():
        return load_labels(cfg["labels"], n_samples=inputs.n_samples)
    return inputs.y, inputs.class_names


def _class_counts(y: Any, names: Any) -> str:
    if y is None:
        return "none"
    ids, counts = np.unique(y, return_counts=True)
    parts = [f"{names[i] if names else i}: {c}" for i, c in zip(ids, counts)]
    return f"{len(ids)} classes ({', '.join(parts[:12])}{' ...' if len(parts) > 12 else ''})"


def _embeddings(ctx: RunContext, cfg: dict[str, Any]) -> None:
    src = _analyze.source(ctx)
    emb = _analyze._embeddings(cfg["embeddings"], cfg["labels"], list(cfg["layers"]))
    ctx.table(
        f"Layers of {src.name}",
        [{"layer": k, "samples": v.shape[0], "features": v.shape[1], "dtype": str(v.dtype)}
         for k, v in src.layers.items()],
    )  # fmt: skip
    lines = [
        f"{src.n_samples} samples at {len(src.layers)} layers from {emb.source}"
        + (
            f", {len(src.steps)} checkpoints ({src.steps[0]} … {src.steps[-1]})"
            if src.steps
            else ""
        )
        + f". Labels: {_class_counts(src.y, src.class_names)}."
    ]
    if src.compare is not None:
        lines.append(
            f"Compared with {src.compare_name}: layers {', '.join(src.compare)} "
            f"({', '.join(str(v.shape[1]) for v in src.compare.values())} features)."
        )
    lines += [f"Note: {n}." for n in emb.notes]
    ctx.text(" ".join(lines))


def _model(ctx: RunContext, cfg: dict[str, Any]) -> None:
    lm = _analyze.loaded_model(ctx)
    inputs = _analyze.model_inputs(ctx)
    y, names = labels_of_inputs(cfg, inputs)
    layers = list(cfg["layers"])
    t0 = time.perf_counter()
    Z = extract(
        lm.model,
        inputs.model_input,
        layers=layers,
        tokenizer=lm.tokenizer,
        pooling=cfg["pooling"],
        max_length=int(cfg["max_length"]) if inputs.kind == "text" else None,
        batch_size=int(cfg["batch_size"]),
        device=ctx.device,
    )
    seconds = time.perf_counter() - t0
    arrays: dict[str, Any] = {_analyze.layer_key(k): v for k, v in Z.items()}
    if y is not None:
        arrays["y"] = np.asarray(y, dtype=np.int64)
        arrays["class_names"] = np.array(names if names else [str(i) for i in np.unique(y)])
    ctx.save_arrays(_analyze.ARRAYS, **arrays)
    ctx.table(
        f"Layers of {Path(cfg['model']).name or cfg['model']}",
        [{"layer": k, "samples": v.shape[0], "features": v.shape[1]} for k, v in Z.items()],
    )
    pooled = (
        f"token outputs pooled by {cfg['pooling'] if cfg['pooling'] != 'auto' else 'mean'} "
        "over the attention mask"
        if inputs.kind == "text"
        else "outputs flattened per sample"
        if cfg["pooling"] in ("auto", "flatten")
        else f"outputs pooled by {cfg['pooling']}"
    )
    ctx.text(
        f"{lm.kind} model {cfg['model']}: {len(layers)} layers of {inputs.n_samples} "
        f"{'sentences' if inputs.kind == 'text' else inputs.kind} from {inputs.source} extracted "
        f"in one forward pass per batch of {cfg['batch_size']} ({seconds:.1f} s on "
        f"{ctx.device}); {pooled}. Labels: {_class_counts(y, names)}."
    )


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Report the embeddings (or extract them from the model) of an analyze run."""
    if opts["kind"] == "model":
        _model(ctx, opts)
    else:
        _analyze.source(ctx)  # refuses a run without data, before anything is written
        _embeddings(ctx, opts)
    digests = _analyze.input_digests(opts)
    ctx.save_arrays(
        _analyze.INPUTS,
        paths=np.array(list(digests), dtype=str),
        sha256=np.array(list(digests.values()), dtype=str),
    )


PANEL = Panel(
    name="data",
    title="What is analysed",
    fn=run,
    config=DEFAULTS,
    schema=SCHEMA,
    summary="the embeddings (or the model's layers, extracted in one pass) and their labels",
)
