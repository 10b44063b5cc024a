"""``repgeo analyze``: your own embeddings, or your own model's layers, in a run directory.

The study is built at run time from what is given (:func:`prepare`): the ``data`` panel
(:mod:`repgeo.panels.embeddings_data`) followed by the panels that apply — layer × layer
similarity, intrinsic dimension, entropy, with labels ΔR / DSMI / class separation / k-shot, a
2-D view, over checkpoints for a directory, and the plane geometry for a model with continuous
inputs. Everything the user gave is read and checked before the first write; the SHA-256 of
every input file goes into ``manifest.json`` (``run_study(inputs=...)``), so ``--resume``
refuses inputs that changed, and the run directory is the usual one (manifest, metrics.json
with registry keys, report.html, atomic writes, resume).

:data:`STUDY` holds every panel (it documents the keys in ``docs/metrics.md``); run it through
:func:`analyze` (or the command line), which fills in the data.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data import load_embeddings, load_inputs, load_labels
from ..features import POOLINGS, check_layer_names, extract
from ..models import load_model_spec
from ..panels import ANALYZE_PANELS, _analyze
from ..runs import ConfigError, Study, run_study

__all__ = ["NAME", "STUDY", "analyze", "build_study", "prepare"]

NAME = "analyze"
_SUMMARY = "your own embeddings or model: similarity, dimension, information, separation per layer"


def build_study(
    data: Mapping[str, Any] | None = None,
    *,
    labels: bool = True,
    compare: bool = True,
    checkpoints: bool = True,
    geometry: bool = True,
) -> Study:
    """The analyze study for a data section, with the panels that apply.

    Parameters
    ----------
    data : mapping, optional
        The ``data`` section (see :mod:`repgeo.panels.embeddings_data`).
    labels, compare, checkpoints, geometry : bool
        Include the panels that need labels (separation), ``--compare`` (none: the similarity
        panel handles it), a directory of checkpoints (over_training), or a model with
        continuous inputs (geometry).
    """
    del compare  # the similarity panel compares when the data section names --compare
    p = ANALYZE_PANELS
    first = dataclasses.replace(p["data"], config={**p["data"].config, **dict(data or {})})
    stages = [first, p["similarity"], p["dimension"], p["information"]]
    if labels:
        stages.append(p["separation"])
    stages.append(p["view"])
    if checkpoints:
        stages.append(p["over_training"])
    if geometry:
        stages.append(p["geometry"])
    return Study(
        name=NAME,
        summary=_SUMMARY,
        stages=stages,
        headline=("embeddings.auroc", "embeddings.twonn"),
    )


STUDY = build_study()


def _split_layers(layers: Sequence[str] | None) -> list[str] | None:
    if not layers:
        return None
    out = [p.strip() for item in layers for p in str(item).split(",") if p.strip()]
    return out or None


def _abs(path: Any) -> str:
    return str(Path(path).resolve())


def _inputs(files: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Input records for the runner, named by absolute path."""
    return {_abs(p): {"path": _abs(p), "sha256": d} for p, d in files.items()}


def _preflight(
    lm: Any,
    inputs: Any,
    layers: Sequence[str],
    model: Any,
    data: Any,
    pooling: str,
    max_length: int,
) -> None:
    """Run the model on the first two inputs before anything is written, so that inputs the
    model cannot read (float token ids, a wrong image size, ...) are refused up front rather than
    by a stage of a half-written run."""
    try:
        extract(
            lm.model,
            inputs.model_input[:2],
            layers=list(layers),
            tokenizer=lm.tokenizer,
            pooling=pooling,
            max_length=int(max_length) if inputs.kind == "text" else None,
            batch_size=2,
            device="cpu",
            show_progress=False,
        )
    except (RuntimeError, TypeError, ValueError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{model} cannot read the inputs of {Path(str(data)).name} ({inputs.kind}, first "
            f"shaped {tuple(getattr(inputs.data, 'shape', (len(inputs.data),))[1:])}): "
            f"{type(exc).__name__}: {first}. Nothing was written; check that --data holds what "
            "the model's forward takes (token ids as integers, images at the model's size)."
        ) from exc


def prepare(
    embeddings: str | os.PathLike | None = None,
    *,
    labels: str | None = None,
    compare: str | os.PathLike | None = None,
    layers: Sequence[str] | None = None,
    model: str | None = None,
    data: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    pooling: str = "auto",
    image_size: int | None = None,
    batch_size: int = 64,
    max_length: int = 256,
) -> tuple[Study, dict[str, dict[str, Any]]]:
    """Read and check everything an analyze run needs; return its study and its input files.

    Exactly one of ``embeddings`` (a file or a directory of checkpoints) and ``model`` (with
    ``data``) is given. Nothing is written; every problem raises here, naming the file.

    Returns
    -------
    study : Study
    inputs : dict
        ``{name: {"path", "sha256"}}`` of every file read (for :func:`repgeo.runs.run_study`).
    """
    layers = _split_layers(layers)
    if (embeddings is None) == (model is None):
        raise ValueError(
            "give either embeddings (repgeo analyze EMB) or a model (repgeo analyze --model SPEC "
            "--data DATA), not both and not neither."
        )
    if pooling not in POOLINGS:
        raise ValueError(f"--pooling must be one of {list(POOLINGS)}; got {pooling!r}.")
    if embeddings is not None:
        if data is not None or weights is not None:
            raise ValueError("--data and --weights go with --model, not with embeddings.")
        emb = load_embeddings(embeddings, labels=labels, layers=layers)
        label_value = _abs(labels) if labels and Path(labels).is_file() else (labels or "")
        cfg: dict[str, Any] = {
            "kind": "embeddings",
            "embeddings": _abs(embeddings),
            "labels": label_value,
            "layers": list(emb.layers),
        }
        _analyze.register("embeddings", emb, cfg["embeddings"], label_value, cfg["layers"])
        files = dict(emb.files)
        if compare is not None:
            other = load_embeddings(compare, require_classes=False)
            if other.n_samples != emb.n_samples:
                raise ValueError(
                    f"--compare {Path(compare).name} has {other.n_samples} rows but "
                    f"{Path(embeddings).name} has {emb.n_samples}; both must embed the same "
                    "samples in the same order."
                )
            cfg["compare"], cfg["compare_layers"] = _abs(compare), list(other.layers)
            _analyze.register("embeddings", other, cfg["compare"], "", cfg["compare_layers"])
            files.update(other.files)
        study = build_study(
            cfg, labels=emb.y is not None, checkpoints=bool(emb.steps), geometry=False
        )
        return study, _inputs(files)
    if data is None:
        raise ValueError(
            "--model needs --data: a text file, a .npz/.npy of inputs or an image folder."
        )
    if compare is not None:
        raise ValueError("--compare goes with embeddings; extract both models' embeddings first.")
    label_file = labels if labels and Path(labels).is_file() else None
    inputs = load_inputs(
        data, image_size=image_size, labels=None if label_file or labels is None else labels
    )
    lm = load_model_spec(model, weights=weights)  # type: ignore[arg-type]
    if inputs.kind == "text" and not lm.takes_text:
        raise ValueError(
            f"{Path(data).name} holds sentences but {model} has no tokenizer; give a Hugging Face "
            "or sentence-transformers model directory, or inputs as arrays."
        )
    if inputs.kind == "text" and labels and not label_file:
        raise ValueError(
            f"--labels {labels!r}: for sentences, labels come from a file with one label per line."
        )
    if lm.takes_text and inputs.kind != "text":
        raise ValueError(
            f"{model} reads sentences; --data {Path(data).name} holds {inputs.kind}. Give a text "
            "file with one sentence per line."
        )
    chosen = layers if layers else lm.default_layers()
    check_layer_names(lm.model, chosen)
    _preflight(lm, inputs, chosen, model, data, pooling, max_length)
    files = dict(lm.files)
    files.update(inputs.files)
    if label_file:
        y, _ = load_labels(label_file, n_samples=inputs.n_samples)
        if len(set(y.tolist())) < 2:
            raise ValueError(f"{label_file}: the labels hold a single class; give at least two.")
        from .._io import sha256_file

        files[_abs(label_file)] = sha256_file(label_file)
    has_labels = label_file is not None or inputs.y is not None
    spec_is_dir = Path(str(model)).is_dir()
    cfg = {
        "kind": "model",
        "model": _abs(model) if spec_is_dir else str(model),
        "weights": _abs(weights) if weights else "",
        "inputs": _abs(data),
        "labels": _abs(label_file) if label_file else (labels or ""),
        "layers": list(chosen),
        "pooling": pooling,
        "batch_size": int(batch_size),
        "max_length": int(max_length),
        "image_size": int(image_size or 0),
    }
    _analyze.register("model", lm, cfg["model"], cfg["weights"])
    _analyze.register("inputs", inputs, cfg["inputs"], cfg["image_size"], cfg["labels"])
    study = build_study(cfg, labels=has_labels, checkpoints=False, geometry=inputs.continuous)
    return study, _inputs(files)


def analyze(
    embeddings: str | os.PathLike | None = None,
    *,
    out: str | os.PathLike,
    labels: str | None = None,
    compare: str | os.PathLike | None = None,
    layers: Sequence[str] | None = None,
    model: str | None = None,
    data: str | os.PathLike | None = None,
    weights: str | os.PathLike | None = None,
    pooling: str = "auto",
    image_size: int | None = None,
    seed: int = 0,
    quick: bool = False,
    device: str = "auto",
    config_overrides: Mapping[str, Any] | None = None,
    resume: bool = False,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Run ``repgeo analyze`` from Python; returns the path of ``report.html``.

    The arguments are those of the command (see :func:`prepare`); ``config_overrides`` sets
    panel options (``{"similarity": {"n_boot": 0}}``) but not the ``data`` section.
    """
    if config_overrides and "data" in config_overrides:
        raise ConfigError(
            "the data section comes from the command line (EMB, --labels, --layers, --model, "
            "--data ...); remove it from the config."
        )
    study, inputs = prepare(
        embeddings,
        labels=labels,
        compare=compare,
        layers=layers,
        model=model,
        data=data,
        weights=weights,
        pooling=pooling,
        image_size=image_size,
    )
    overrides = {k: v for k, v in (config_overrides or {}).items() if k in study.config}
    unknown = [k for k in (config_overrides or {}) if k not in study.config]
    if unknown and any(k not in STUDY.config for k in unknown):
        raise ConfigError(
            f"config for study 'analyze': unknown section(s) {unknown}; expected some of "
            f"{sorted(k for k in STUDY.config if k != 'data')}."
        )
    return run_study(
        study,
        out,
        seed=seed,
        quick=quick,
        device=device,
        config_overrides=overrides or None,
        resume=resume,
        force=force,
        log=log,
        inputs=inputs,
    )
