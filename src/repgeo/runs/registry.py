"""The registry of ``metrics.json`` keys: each key declared once, with its layout and direction.

A key is a dotted name (``area.quantity``); its value is a nest of JSON objects whose levels are
named by ``axes`` (outermost first), ending in leaves of one ``kind``. A stage may write only the
keys it declares (:class:`repgeo.runs.Stage` ``metrics=``), and ``ctx.metric`` checks every value
against its declaration, so the documentation in ``docs/metrics.md`` — generated from this module
by ``repgeo metrics --markdown`` — cannot drift from what runs write.

Conventions
-----------
* No parameter values inside keys or axis labels (``precision_at_k`` with ``k`` stored in its own
  key, not ``p_at_10``); no prose in metrics (stages write sentences with ``ctx.text``).
* An uncertainty is stored beside its value: ``<key>_ci`` holds ``[low, high]`` intervals and
  ``<key>_stderr`` standard errors, with the same axes as ``<key>``.
* Epochs are strings in JSON (``"0"`` = initialisation); ``null`` marks an undefined value (for
  example a cosine between spaces of different dimension), never a failed computation.

Examples
--------
>>> from repgeo.runs.registry import REGISTRY
>>> spec = REGISTRY["coding.delta_r"]
>>> spec.axes, spec.higher_is_better
(('model', 'layer', 'epoch'), True)
>>> spec.check({"digits": {"act1": {"0": 0.4, "10": 1.2}}})
>>> spec.check({"digits": 0.4})
Traceback (most recent call last):
...
ValueError: metric 'coding.delta_r': value at 'digits' must be an object keyed by layer; got float.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BUILTIN", "KINDS", "REGISTRY", "RENAMED", "MetricSpec", "metrics_markdown", "register"]

#: leaf kinds and what each accepts (after JSON conversion)
KINDS = {
    "float": "a number (null where undefined)",
    "int": "an integer",
    "bool": "true or false",
    "interval": "[low, high]",
}


@dataclass(frozen=True)
class MetricSpec:
    """One ``metrics.json`` key.

    Parameters
    ----------
    key : str
        Dotted name.
    axes : tuple of str
        Names of the nesting levels, outermost first (``()`` for a bare value).
    kind : {"float", "int", "bool", "interval"}
        What the leaves hold.
    higher_is_better : bool or None
        Direction where one makes sense; None for descriptive quantities.
    doc : str
        One line: what the value is, with its convention and unit.
    """

    key: str
    axes: tuple[str, ...]
    kind: str
    higher_is_better: bool | None
    doc: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"metric {self.key!r}: kind must be one of {sorted(KINDS)}.")
        if not self.key or any(not part for part in self.key.split(".")):
            raise ValueError(f"metric key must be a dotted name; got {self.key!r}.")

    @property
    def layout(self) -> str:
        """The value's shape in words, e.g. ``{model: {epoch: float}}``."""
        leaf = {"interval": "[low, high]"}.get(self.kind, self.kind)
        for axis in reversed(self.axes):
            leaf = f"{{{axis}: {leaf}}}"
        return leaf

    def _check_leaf(self, v: Any, where: str) -> None:
        ok = {
            "float": v is None
            or (isinstance(v, (int, float)) and not isinstance(v, bool))
            or v in ("inf", "-inf"),
            "int": isinstance(v, int) and not isinstance(v, bool),
            "bool": isinstance(v, bool),
            "interval": isinstance(v, (list, tuple))
            and len(v) == 2
            and all(
                x is None or (isinstance(x, (int, float)) and not isinstance(x, bool)) for x in v
            ),
        }[self.kind]
        if not ok:
            raise ValueError(
                f"metric {self.key!r}: value{where} must be {KINDS[self.kind]}; got {v!r}."
            )
        if self.kind == "float" and isinstance(v, float) and math.isnan(v):
            raise ValueError(f"metric {self.key!r}: value{where} is NaN; store null instead.")

    def check(self, value: Any) -> None:
        """Raise :class:`ValueError` unless ``value`` has this key's layout (JSON values)."""

        def walk(v: Any, depth: int, path: str) -> None:
            where = f" at {path!r}" if path else ""
            if depth == len(self.axes):
                self._check_leaf(v, where)
                return
            if not isinstance(v, Mapping):
                raise ValueError(
                    f"metric {self.key!r}: value{where} must be an object keyed by "
                    f"{self.axes[depth]}; got {type(v).__name__}."
                )
            for k, sub in v.items():
                walk(sub, depth + 1, f"{path}.{k}" if path else str(k))

        walk(value, 0, "")


def _declare(specs: Iterable[MetricSpec]) -> dict[str, MetricSpec]:
    out: dict[str, MetricSpec] = {}
    for s in specs:
        if s.key in out:
            raise ValueError(f"metric {s.key!r} is declared twice.")
        out[s.key] = s
    return out


M = MetricSpec
REGISTRY: dict[str, MetricSpec] = _declare(
    [
        # ------------------------------------------------------------------ training
        M("train.accuracy", ("model", "split"), "float", True,
          "accuracy at the last epoch on the training and held-out splits (`train`, `test`)"),
        M("train.final_test_accuracy", ("model",), "float", True,
          "held-out accuracy of the final checkpoint reloaded from disk (checks the checkpoint)"),
        # ------------------------------------------------------------------ manifold hashing
        M("hashing.one_shot", ("dataset", "method"), "float", True,
          "N-way 1-shot accuracy on unseen classes (nearest prototype, cosine); methods "
          "`trained`, `untrained`, `raw`, `pca`"),
        M("hashing.one_shot_ci", ("dataset", "method"), "interval", None,
          "95 % interval of `hashing.one_shot` over episodes"),
        M("hashing.beats_baselines", ("dataset",), "bool", True,
          "the trained network's one-shot interval lies above every baseline's interval"),
        M("hashing.invariance_ratio", ("dataset", "epoch"), "float", False,
          "(‖∂h/∂θ‖/‖∂x/∂θ‖)/(‖∂h/∂γ‖/‖∂x/∂γ‖) through the composed map on seen-class points, "
          "embedding layer; 1 ≈ like the input, 0 = a function of γ alone"),
        M("hashing.auroc", ("dataset", "split", "epoch"), "float", True,
          "AUROC of same- vs different-manifold pairs by cosine, embedding layer; splits "
          "`seen`, `unseen`"),
        M("hashing.recoverability", ("dataset", "target", "epoch"), "float", None,
          "held-out ridge R² of the generator's coordinates from the embedding; targets "
          "`gamma_r2` (held-out samples), `gamma_r2_new_classes` (held-out classes), `theta_r2`"),
        M("hashing.effective_rank", ("dataset", "epoch"), "float", None,
          "effective rank (exp of the spectral entropy) of the unseen-class embedding"),
        M("hashing.collision", ("dataset", "model", "rate"), "float", None,
          "SimHash collision rates of the embedding: `same_rate` (same γ), `diff_rate` "
          "(different γ), `diff_theory` (1 − angle/π at the mean angle)"),
        M("hashing.sweep", ("dataset", "model", "field"), "float", None,
          "per trained model: `n_train_classes`, `width`, `depth`, one-shot accuracy of "
          "`trained`/`untrained`/`raw`/`pca` and `invariance_ratio`"),
        # ------------------------------------------------------------------ coding and ID
        M("coding.delta_r", ("model", "layer", "epoch"), "float", True,
          "MCR² rate reduction ΔR = R − R_c in nats (unit-norm rows, class labels) of held-out "
          "samples of the training classes"),
        M("coding.delta_r_unseen", ("model", "layer", "epoch"), "float", True,
          "ΔR of samples of classes never trained on"),
        M("coding.delta_r_input", ("model",), "float", None, "ΔR of the raw input, for reference"),
        M("id.twonn", ("model", "layer", "epoch"), "float", None,
          "TwoNN intrinsic dimension of the representation of training-class samples"),
        M("id.twonn_input", ("model",), "float", None, "TwoNN intrinsic dimension of the raw input"),
        # ------------------------------------------------------------------ geometry
        M("geometry.boundary_magnification", ("model", "epoch"), "float", True,
          "mean log10 volume on the 10 % of grid points with the smallest logit margin minus "
          "that on the 50 % with the largest (+0.3 ≈ twice the volume near the boundary)"),
        M("geometry.infinite_width.max_rel_error", ("activation", "width"), "float", False,
          "max relative error of a finite random network's volume element against the "
          "infinite-width closed form / quadrature"),
        # ------------------------------------------------------------------ latent spaces
        M("latent.stitching", ("dataset", "method"), "float", True,
          "mean zero-shot stitching accuracy over encoder ≠ head pairs; methods `absolute`, "
          "`relative`, `procrustes` (and variants of `relative` in the stitching study)"),
        M("latent.jaccard", ("dataset", "pair", "method"), "float", True,
          "mean Jaccard overlap of the k nearest neighbours in two spaces (null where the "
          "method does not apply, e.g. absolute spaces of different dimension)"),
        M("latent.mrr", ("dataset", "pair", "method"), "float", True,
          "mean reciprocal rank of each sample's own counterpart among its k neighbours"),
        M("latent.cosine", ("dataset", "pair", "method"), "float", True,
          "mean cosine between a sample's vectors in the two spaces (null where dimensions differ)"),
        M("latent.cka", ("dataset", "pair", "kernel"), "float", True,
          "centred kernel alignment of two spaces; kernels `linear`, `rbf`"),
        M("latent.cka_ci", ("dataset", "pair"), "interval", None,
          "95 % half-sampling interval of the linear `latent.cka` (bias-corrected) on a random "
          "subset of test rows (size in the report)"),
        # ------------------------------------------------------------------ diffusion geometry
        M("diffusion.geodesic_spearman", ("dataset", "method"), "float", True,
          "mean per-row Spearman correlation of a method's distances with the ground-truth "
          "geodesic distances"),
        M("diffusion.geodesic_scores", ("dataset", "method", "score"), "float", True,
          "`spearman`, `pearson`, `precision_at_k` (k in `diffusion.geodesic_k`) and "
          "`trustworthiness` of each method's distances against the ground truth"),
        M("diffusion.geodesic_k", (), "int", None,
          "neighbourhood size of `precision_at_k` and `trustworthiness`"),
        M("diffusion.heat_t", ("dataset",), "float", None,
          "diffusion time chosen automatically (knee of the heat-kernel entropy)"),
        M("diffusion.dse", ("model", "epoch"), "float", None,
          "diffusion spectral entropy of the embedding in bits (data-adaptive bandwidth)"),
        M("diffusion.dse_stderr", ("model", "epoch"), "float", False,
          "standard error of `diffusion.dse` (0 for the exact spectrum)"),
        M("diffusion.dsmi", ("model", "epoch"), "float", True,
          "size-matched diffusion spectral mutual information DSMI(Z; Y) in bits"),
        M("diffusion.dsmi_stderr", ("model", "epoch"), "float", False,
          "spread of `diffusion.dsmi` over its random size-matched subsets"),
        M("diffusion.sigma", ("model", "epoch"), "float", None,
          "the Gaussian kernel bandwidth used"),
        # ------------------------------------------------------------------ repgeo analyze
        M("embeddings.cka", ("layer", "other_layer"), "float", None,
          "linear CKA between two layers of the analysed embeddings (1 on the diagonal)"),
        M("embeddings.cka_ci", ("layer", "other_layer"), "interval", None,
          "95 % half-sampling interval of `embeddings.cka` (bias-corrected) for adjacent layers, "
          "on a random subset of rows (size in the report)"),
        M("embeddings.cka_cross", ("layer", "compare_layer"), "float", None,
          "linear CKA between a layer of the embeddings and a layer of the `--compare` embeddings"),
        M("embeddings.cka_cross_ci", ("layer", "compare_layer"), "interval", None,
          "95 % half-sampling interval of `embeddings.cka_cross` for matched layers"),
        M("embeddings.jaccard", ("layer_pair", "method"), "float", True,
          "mean Jaccard@k of neighbourhoods in a layer and its `--compare` counterpart "
          "(`a|b`); methods `absolute`, `relative`, `procrustes` (null where undefined)"),
        M("embeddings.mrr", ("layer_pair", "method"), "float", True,
          "mean reciprocal rank of each sample's counterpart among its k neighbours"),
        M("embeddings.cosine", ("layer_pair", "method"), "float", True,
          "mean cosine between a sample's vectors in the two spaces (null where dimensions differ)"),
        M("embeddings.twonn", ("layer",), "float", None,
          "TwoNN intrinsic dimension of each layer (a random subset of rows, size in the report)"),
        M("embeddings.levina_bickel", ("layer",), "float", None,
          "Levina–Bickel maximum-likelihood intrinsic dimension (k neighbours, harmonic mean)"),
        M("embeddings.delta_r", ("layer",), "float", True,
          "MCR² rate reduction ΔR = R − R_c in nats of each layer (unit-norm rows, class labels)"),
        M("embeddings.dse", ("layer",), "float", None,
          "diffusion spectral entropy of each layer in bits (median-heuristic bandwidth)"),
        M("embeddings.dse_stderr", ("layer",), "float", False,
          "standard error of `embeddings.dse` (0 for the exact spectrum)"),
        M("embeddings.dsmi", ("layer",), "float", True,
          "diffusion spectral mutual information DSMI(Z; Y) of each layer in bits"),
        M("embeddings.dsmi_stderr", ("layer",), "float", False,
          "standard error of `embeddings.dsmi` (stochastic estimates; 0 when exact)"),
        M("embeddings.auroc", ("layer",), "float", True,
          "AUROC of same- vs different-class pairs by cosine similarity (1 = classes separated)"),
        M("embeddings.within_between", ("layer",), "float", False,
          "mean within-class over mean between-class Euclidean distance"),
        M("embeddings.k_shot", ("layer", "shots"), "float", True,
          "N-way k-shot accuracy (nearest class mean, cosine) over episodes of held-out samples"),
        M("embeddings.k_shot_ci", ("layer", "shots"), "interval", None,
          "95 % interval of `embeddings.k_shot` over episodes"),
        M("embeddings.checkpoint_cka", ("layer", "checkpoint"), "float", None,
          "linear CKA of a layer at each checkpoint with the same layer at the last checkpoint"),
        M("embeddings.checkpoint_twonn", ("layer", "checkpoint"), "float", None,
          "TwoNN intrinsic dimension of a layer at each checkpoint"),
        M("embeddings.checkpoint_delta_r", ("layer", "checkpoint"), "float", True,
          "ΔR of a layer at each checkpoint (with labels)"),
        M("embeddings.checkpoint_auroc", ("layer", "checkpoint"), "float", True,
          "same- vs different-class AUROC of a layer at each checkpoint (with labels)"),
        M("embeddings.effective_volume", ("layer",), "float", None,
          "mean log10 effective volume (top-k log10 singular values of J/√n) of a layer on the "
          "plane through three inputs"),
    ]
)  # fmt: skip

#: the keys repgeo's own studies and panels write (the documented set)
BUILTIN: frozenset[str] = frozenset(REGISTRY)


def register(*specs: MetricSpec) -> None:
    """Declare metric keys for your own studies and stages.

    Re-declaring a key with the identical spec is a no-op; a different spec for a known key is
    an error (a key keeps its meaning).

    Examples
    --------
    >>> from repgeo.runs.registry import MetricSpec, register
    >>> register(MetricSpec("mystudy.score", ("model",), "float", True, "my score"))
    """
    for spec in specs:
        if not isinstance(spec, MetricSpec):
            raise TypeError(f"register takes MetricSpec objects; got {type(spec).__name__}.")
        old = REGISTRY.get(spec.key)
        if old is not None and old != spec:
            raise ValueError(f"metric {spec.key!r} is already declared as {old}.")
        REGISTRY[spec.key] = spec


#: keys (or config sections) renamed or removed, with what replaces them
RENAMED: dict[str, str] = {
    "latent.similarity": "split into `latent.jaccard`, `latent.mrr`, `latent.cosine` "
    "(`{dataset: {pair: {method: v}}}`) and `latent.cka` (`{dataset: {pair: {kernel: v}}}`, "
    "kernels `linear`/`rbf` for the former `cka_linear`/`cka_rbf`)",
    "diffusion.geodesic_scores (`p_at_10`, `trustworthiness_10`)": "scores `precision_at_k` and "
    "`trustworthiness`, with k in `diffusion.geodesic_k`",
    "hashing.summary": "removed: the answer in sentences is in the report text; the verdict is "
    "`hashing.beats_baselines`",
    "config sections `geometry`, `latent_panel`, `dse`, `coding_id` of the default study": "the "
    "panels' sections `geometry`, `stitching`, `diffusion`, `coding_id`, `hashing` (see "
    "`docs/architecture.md`)",
}


def metrics_markdown(studies: Mapping[str, Any]) -> str:
    """``docs/metrics.md``: every key grouped by area, with the stages and studies writing it.

    Parameters
    ----------
    studies : mapping of str to Study
        E.g. ``repgeo.studies.list_studies()``; used to say which study writes which key.
    """
    writers: dict[str, list[str]] = {k: [] for k in BUILTIN}
    for name, study in studies.items():
        for stage in study.stages:
            for key in stage.metrics:
                if key in writers:
                    writers[key].append(f"{name}/{stage.name}")
    lines = [
        "# metrics.json keys",
        "",
        "<!-- Generated by `repgeo metrics --markdown > docs/metrics.md` from",
        "     src/repgeo/runs/registry.py; a test fails when this file differs. -->",
        "",
        "`metrics.json` in a run directory is a flat mapping from dotted keys to JSON values. Each",
        "key is declared once in `repgeo.runs.registry` with the layout of its value (the named",
        "nesting levels, outermost first), whether higher is better, and one line of meaning; a stage",
        "can write only the keys it declares, and every value is checked against its layout.",
        "",
        'Conventions: epochs are strings (`"0"` = initialisation); `null` marks an undefined value;',
        "an uncertainty sits beside its value as `<key>_ci` (`[low, high]`) or `<key>_stderr`; no",
        "parameter values inside keys; no prose in metrics (the report's text carries sentences).",
        "",
    ]
    areas: dict[str, list[MetricSpec]] = {}
    for spec in (REGISTRY[k] for k in REGISTRY if k in BUILTIN):
        areas.setdefault(spec.key.split(".")[0], []).append(spec)
    better = {True: "higher", False: "lower", None: "—"}
    for area, specs in areas.items():
        lines += [f"## `{area}.*`", "", "| key | value | better | meaning | written by |"]
        lines += ["| --- | --- | --- | --- | --- |"]
        for s in specs:
            who = ", ".join(f"`{w}`" for w in writers[s.key]) or "—"
            lines.append(
                f"| `{s.key}` | `{s.layout}` | {better[s.higher_is_better]} | {s.doc} | {who} |"
            )
        lines.append("")
    lines += ["## Renamed and removed keys", "", "| was | now |", "| --- | --- |"]
    lines += [
        f"| `{old}` | {new} |" if "`" not in old else f"| {old} | {new} |"
        for old, new in RENAMED.items()
    ]
    return "\n".join(lines) + "\n"
