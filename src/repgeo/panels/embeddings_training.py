"""Over training (``repgeo analyze`` on a directory of checkpoints): each layer per checkpoint.

For every checkpoint file and layer, on one random subset of rows: linear CKA with the same
layer at the last checkpoint (``embeddings.checkpoint_cka``), the TwoNN intrinsic dimension
(``embeddings.checkpoint_twonn``), and with labels ΔR (``embeddings.checkpoint_delta_r``) and
same- vs different-class AUROC (``embeddings.checkpoint_auroc``).

Options (section ``over_training``): ``max_points`` (2000), ``eps2`` (0.5), ``n_pairs`` (10000).
"""

from __future__ import annotations

from typing import Any

from ..coding import coding_rate_reduction
from ..dimension import twonn
from ..hashing import separation
from ..latent import linear_cka
from ..plots import plot_over_checkpoints
from ..runs import Option, Panel, RunContext
from . import _analyze

__all__ = ["PANEL"]


def run(ctx: RunContext, opts: dict[str, Any]) -> None:
    """Quantities of every layer at every checkpoint."""
    src = _analyze.source(ctx)
    if not src.steps or src.at is None:
        ctx.text("One set of embeddings, not a directory of checkpoints: nothing over training.")
        return
    idx = _analyze.rows(src.n_samples, int(opts["max_points"]), ctx.rng("over-training-rows"))
    final = {k: v[idx] for k, v in src.layers.items()}
    y = None if src.y is None else src.y[idx]
    out: dict[str, dict[str, dict[str, Any]]] = {"cka": {}, "twonn": {}, "delta_r": {}, "auroc": {}}
    for step in ctx.progress(src.steps, "checkpoints"):
        layers = src.at(step)
        for layer, Z_all in layers.items():
            Z = Z_all[idx]
            s = str(step)
            out["cka"].setdefault(layer, {})[s] = round(linear_cka(Z, final[layer]), 4)
            out["twonn"].setdefault(layer, {})[s] = round(twonn(Z), 3)
            if y is not None:
                out["delta_r"].setdefault(layer, {})[s] = round(
                    coding_rate_reduction(Z, y, eps2=float(opts["eps2"])), 4
                )
                out["auroc"].setdefault(layer, {})[s] = round(
                    separation(Z, y, n_pairs=int(opts["n_pairs"]), random_state=ctx.seed_for("p"))[
                        "auroc"
                    ],
                    4,
                )
    titles = {
        "cka": "CKA with the last checkpoint",
        "twonn": "TwoNN intrinsic dimension",
        "delta_r": "rate reduction ΔR (nats)",
        "auroc": "AUROC (same vs different class)",
    }
    shown = {}
    for key, values in out.items():
        if values:
            ctx.metric(f"embeddings.checkpoint_{key}", values)
            shown[titles[key]] = values
    ctx.figure(
        plot_over_checkpoints(shown),
        "over_training",
        caption=f"Every layer at every checkpoint ({len(idx)} of {src.n_samples} samples).",
    )
    first, last = str(src.steps[0]), str(src.steps[-1])
    ctx.table(
        f"First ({first}) and last ({last}) checkpoint",
        [
            {
                "layer": layer,
                f"CKA {first}→{last}": out["cka"][layer][first],
                f"TwoNN {first}": out["twonn"][layer][first],
                f"TwoNN {last}": out["twonn"][layer][last],
                **(
                    {
                        f"AUROC {first}": out["auroc"][layer][first],
                        f"AUROC {last}": out["auroc"][layer][last],
                    }
                    if y is not None
                    else {}
                ),
            }
            for layer in src.layers
        ],
    )


PANEL = Panel(
    name="over_training",
    title="Over training: every layer per checkpoint",
    fn=run,
    config={"max_points": 2000, "eps2": 0.5, "n_pairs": 10000},
    quick={"max_points": 500, "n_pairs": 2000},
    schema={"max_points": Option(type="int", ge=10), "eps2": Option(type="number", gt=0)},
    metrics=(
        "embeddings.checkpoint_cka",
        "embeddings.checkpoint_twonn",
        "embeddings.checkpoint_delta_r",
        "embeddings.checkpoint_auroc",
    ),
    requires=("data",),
    summary="CKA with the final checkpoint, TwoNN, ΔR and AUROC of each layer over checkpoints",
)
