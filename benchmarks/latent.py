"""Benchmark: cross-space similarity (Jaccard@k / MRR@k / cosine) and CKA at scale.

Cases (full; ``--quick`` shrinks every size):

* ``jaccard_mrr_200k_d256`` — ``repgeo.latent.cross_space_similarity`` (two exact faiss searches
  through ``repgeo.neighbors.knn``, chunked by the memory budget) vs a direct dense computation:
  cosine-similarity rows against the whole target space and ``torch.topk``, in row blocks
  (the full 200,000² matrix would need 160 GB).
* ``jaccard_mrr_20k_d256_dense`` — the same vs the fully dense n × n similarity matrices.
* ``linear_cka_100k_d512`` — ``repgeo.latent.linear_cka`` (feature space, chunked, float32 products
  accumulated in float64) vs the direct dense feature-space formula in NumPy float64 (Kornblith
  et al.'s ``feature_space_linear_cka``: full centred copies). The n × n Gram formula would need
  80 GB at this size; it is the anchor of the next case.
* ``linear_cka_5k_d512_gram`` — ours vs the n × n Gram formula tr(KHLH) (NumPy float64).
* ``linear_cka_5k_d512_latentis`` / ``rbf_cka_5k_d512_latentis`` — ours vs the ``latentis`` package
  (``latentis.measure.functional.cka``: dense n × n kernels, centred with H K H), run in its own
  virtual environment ``.peers/latentis`` (built by ``make peers`` from the pins in
  ``benchmarks/peers/latentis.txt``, or by this script on first use through ``scripts/peers.sh``).
  latentis has no Jaccard/MRR implementation, so it appears only in the CKA cases.
* ``small`` — sizes a loop over layers × checkpoints meets (n = 2,000, d = 64): linear CKA,
  cosine relative representation (300 anchors) and a Procrustes fit with its residual, against
  the direct NumPy formulas, in this process (best of 9 runs each).

Inputs are generated once per case and saved as .npy; every measurement runs in a fresh process
that loads them before the clock starts, and the peak resident memory added by the computation
(over the loaded inputs) is reported. Both sides use the
same number of threads (``--threads``, default 1: the development machine is shared).

    .venv/bin/python benchmarks/latent.py             # full (the 200k case takes a long time)
    .venv/bin/python benchmarks/latent.py --quick
    .venv/bin/python benchmarks/latent.py --quick --device cuda   # ours on the GPU (``_cuda`` cases)

With ``--device cuda`` ours receives CUDA tensors (moved there before the clock starts; GPU work
is synchronised before it stops); the dense anchors and latentis stay on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from _common import add_common_args, device_or_skip

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".peers" / "latentis"
DEVICE = "cpu"  # where ours runs (``--device``)


def tag(case: str) -> str:
    """Case name, with the device appended off the CPU (``..._cuda``)."""
    return case if DEVICE == "cpu" else f"{case}_{DEVICE}"


# ----------------------------------------------------------------------------- data (seeded)
def retrieval_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Target Y (low-rank + noise) and a comparable source X = Y + noise, float32."""
    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(n, 32)).astype(np.float32) @ rng.normal(size=(32, d)).astype(np.float32)
    Y += 0.5 * rng.normal(size=(n, d)).astype(np.float32)
    X = Y + 6.0 * rng.normal(size=(n, d)).astype(np.float32)
    return X, Y


def cka_data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = np.tanh(X @ (rng.normal(size=(d, d)).astype(np.float32) / np.sqrt(d))) + 0.3 * rng.normal(
        size=(n, d)
    ).astype(np.float32)
    return X, Y.astype(np.float32)


# ----------------------------------------------------------------------------- anchors (direct dense)
def dense_topk(Q, Y, k: int, block: int | None):
    import torch

    Qn = torch.nn.functional.normalize(torch.from_numpy(Q), dim=1)
    Yn = torch.nn.functional.normalize(torch.from_numpy(Y), dim=1)
    if block is None:  # the full n × n matrix at once
        return torch.topk(Qn @ Yn.T, k, dim=1).indices.numpy()
    out = np.empty((Q.shape[0], k), dtype=np.int64)
    for s in range(0, Q.shape[0], block):
        out[s : s + block] = torch.topk(Qn[s : s + block] @ Yn.T, k, dim=1).indices.numpy()
    return out


def dense_similarity(X, Y, k: int, block: int | None) -> dict:
    nx, ny = dense_topk(X, Y, k, block), dense_topk(Y, Y, k, block)
    inter = (nx[:, :, None] == ny[:, None, :]).any(-1).sum(1)
    hit = nx == np.arange(len(nx))[:, None]
    rr = np.where(hit.any(1), 1.0 / (hit.argmax(1) + 1), 0.0)
    Xd, Yd = X.astype(np.float64), Y.astype(np.float64)
    cos = np.sum(Xd * Yd, 1) / np.linalg.norm(Xd, axis=1) / np.linalg.norm(Yd, axis=1)
    return {
        "jaccard": float(np.mean(inter / (2 * k - inter))),
        "mrr": float(rr.mean()),
        "cosine": float(cos.mean()),
    }


def dense_feature_cka(X, Y) -> float:
    """Kornblith et al.'s feature_space_linear_cka: full centred float64 copies."""
    X = X.astype(np.float64) - X.mean(0, dtype=np.float64)
    Y = Y.astype(np.float64) - Y.mean(0, dtype=np.float64)
    return float(np.linalg.norm(X.T @ Y) ** 2 / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def gram_cka(X, Y) -> float:
    """tr(K H L H) with the n × n Gram matrices, centred by row and column means."""

    def centred_gram(Z):
        K = Z.astype(np.float64) @ Z.astype(np.float64).T
        return K - K.mean(0) - K.mean(1)[:, None] + K.mean()

    K, L = centred_gram(X), centred_gram(Y)
    return float(np.sum(K * L) / np.sqrt(np.sum(K * K) * np.sum(L * L)))


# ----------------------------------------------------------------------------- small sizes
def _best(fn, repeat: int = 9) -> float:
    """Best wall time of ``repeat`` runs (a few milliseconds: one run is mostly noise)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def small_cases(threads: int) -> None:
    """Issue 14 item 8: sizes a loop over layers × checkpoints meets (n = 2,000, d = 64), in this
    process, ours vs the direct NumPy formula; fixed overhead shows as ratio < 1."""
    import torch

    from repgeo.latent import LatentAligner, linear_cka, relative_projection

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 64))
    Y = X @ rng.normal(size=(64, 64)) + rng.normal(size=(2000, 64))
    A = X[:300]
    if DEVICE == "cpu":
        Xo, Yo, Ao = X, Y, A
    else:  # ours on the device; the timed call ends with its result on the host (a float) or
        # with torch.cuda.synchronize (relative_projection, LatentAligner), see ``sync``
        Xo, Yo, Ao = (torch.from_numpy(a).to(DEVICE) for a in (X, Y, A))

    def sync(out):
        if DEVICE != "cpu":
            torch.cuda.synchronize()
        return out

    def direct_relative() -> np.ndarray:
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        return Xn @ (A / np.linalg.norm(A, axis=1, keepdims=True)).T

    def direct_procrustes() -> float:  # the fit and its residual, as LatentAligner reports them
        mx, my = X.mean(0), Y.mean(0)
        Xc, Yc = X - mx, Y - my
        sx, sy = np.sqrt((Xc**2).sum() / len(X)), np.sqrt((Yc**2).sum() / len(Y))
        U, _, Vt = np.linalg.svd((Xc / sx).T @ (Yc / sy))
        res = (Xc / sx) @ (U @ Vt) * sy - Yc
        return float(np.sqrt((res**2).sum() / (Yc**2).sum()))

    linear_cka(Xo[:100], Yo[:100])  # warm-up
    pairs = (
        ("linear_cka_small_n2000_d64", lambda: linear_cka(Xo, Yo), lambda: dense_feature_cka(X, Y)),
        (
            "relative_small_n2000_d64_k300",
            lambda: sync(relative_projection(Xo, Ao)),
            direct_relative,
        ),
        (
            "procrustes_small_n2000_d64",
            lambda: sync(LatentAligner().fit(Xo, Yo)),
            direct_procrustes,
        ),
    )
    for case, ours, anchor in pairs:
        t_ours, t_anchor = _best(ours), _best(anchor)
        print(
            f"BENCH {tag(case)} ours={t_ours:.4f} anchor={t_anchor:.4f} ratio={t_anchor / t_ours:.2f}",
            flush=True,
        )


# ----------------------------------------------------------------------------- one measurement
def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return float(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> float:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux clear_refs); return current RSS.

    ``ru_maxrss`` is useless here: Linux keeps it across fork/exec, so a child would inherit the
    parent's peak (the benchmark driver generated the inputs).
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover - not Linux / not permitted
        pass
    return _status_mb("VmRSS")


def _extra_peak_mb(base: float) -> float:
    return max(_status_mb("VmHWM") - base, 0.0)


def measure(job: dict) -> dict:
    """Run one side of one case in this (fresh) process; inputs are loaded from .npy files."""
    os.environ["REPGEO_PROGRESS"] = "0"
    import torch

    torch.set_num_threads(job["threads"])
    try:
        import faiss

        faiss.omp_set_num_threads(job["threads"])
    except ImportError:  # pragma: no cover
        pass
    from threadpoolctl import threadpool_limits

    import repgeo.latent  # imports are not timed
    import repgeo.neighbors

    repgeo.neighbors._faiss()
    X, Y = np.load(job["X"]), np.load(job["Y"])
    device = job.get("device", "cpu")
    if device != "cpu" and job["what"].startswith("ours"):
        X, Y = torch.from_numpy(X).to(device), torch.from_numpy(Y).to(device)
        _run(job, X[:256], Y[:256])  # warm-up: CUDA context and kernels outside the clock
        torch.cuda.synchronize()
    base = _reset_peak()
    with threadpool_limits(job["threads"]):
        t0 = time.perf_counter()
        value = _run(job, X, Y)
        if device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "value": value,
        "extra_peak_mb": _extra_peak_mb(base),
        "input_mb": (X.nbytes + Y.nbytes) / 2**20,  # tensors have .nbytes too
    }


def _run(job: dict, X, Y):
    from repgeo.latent import cka, cross_space_similarity, linear_cka

    what = job["what"]
    if what == "ours_similarity":
        return cross_space_similarity(X, Y, k=job["k"])
    if what == "dense_similarity":
        return dense_similarity(X, Y, job["k"], job["block"])
    if what == "ours_linear_cka":
        return linear_cka(X, Y)
    if what == "ours_rbf_cka":
        return cka(X, Y, kernel="rbf", sigma=job["sigma"])
    if what == "dense_feature_cka":
        return dense_feature_cka(X, Y)
    if what == "gram_cka":
        return gram_cka(X, Y)
    raise ValueError(what)


def run_job(data: tuple[str, str], **job) -> dict:
    job["X"], job["Y"] = data
    job.setdefault("device", DEVICE)
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as ex:
        return ex.submit(measure, job).result()


def saved(tmp: str, kind: str, n: int, d: int) -> tuple[str, str]:
    """Generate a case's inputs once and save them; measurements load them from disk."""
    X, Y = (retrieval_data if kind == "retrieval" else cka_data)(n, d)
    px, py = f"{tmp}/{kind}_{n}_{d}_X.npy", f"{tmp}/{kind}_{n}_{d}_Y.npy"
    np.save(px, X)
    np.save(py, Y)
    return px, py


# ----------------------------------------------------------------------------- latentis (peer)
PEER_SCRIPT = r"""
import json, sys, time
import numpy as np, torch
torch.set_num_threads(int(sys.argv[4]))
from latentis.measure.functional.cka import linear_cka, rbf_cka
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return float(line.split()[1]) / 1024.0
X = torch.from_numpy(np.load(sys.argv[1])).double()
Y = torch.from_numpy(np.load(sys.argv[2])).double()
kind = sys.argv[3]
try:
    open("/proc/self/clear_refs", "w").write("5")
except OSError:
    pass
base = status("VmRSS")
t0 = time.perf_counter()
v = linear_cka(X, Y) if kind == "linear" else rbf_cka(X, Y, sigma=float(sys.argv[5]))
sec = time.perf_counter() - t0
print(json.dumps({"seconds": sec, "value": float(v), "extra_peak_mb": max(status("VmHWM") - base, 0.0)}))
"""


def ensure_peer() -> str | None:
    """Build .peers/latentis on first use (``scripts/peers.sh latentis``: the pinned versions of
    ``benchmarks/peers/latentis.txt``, as ``make peers`` does); None when it works, else why."""
    py = PEER / "bin" / "python"
    if not py.exists():
        proc = subprocess.run(
            ["bash", str(ROOT / "scripts" / "peers.sh"), "latentis"],
            capture_output=True,
            text=True,
            timeout=3600,
        )
        if not py.exists():
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:]
            return f"could not build .peers/latentis (make peers): {' '.join(tail)}"
    probe = subprocess.run(
        [str(py), "-c", "import latentis.measure.functional.cka"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"latentis does not import: {probe.stderr.strip().splitlines()[-1] if probe.stderr else probe.returncode}"
    return None


def run_peer(kind: str, data: tuple[str, str], threads: int, sigma: float = 0.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        Path(f"{tmp}/peer.py").write_text(PEER_SCRIPT)
        proc = subprocess.run(
            [
                str(PEER / "bin" / "python"),
                f"{tmp}/peer.py",
                data[0],
                data[1],
                kind,
                str(threads),
                str(sigma),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
        )
    if proc.returncode != 0:
        raise RuntimeError(
            proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- report
def bench_line(case: str, ours: dict, anchor: dict, extra: str = "") -> None:
    ratio = anchor["seconds"] / max(ours["seconds"], 1e-12)
    print(
        f"BENCH {case} ours={ours['seconds']:.3f} anchor={anchor['seconds']:.3f} ratio={ratio:.2f}",
        flush=True,
    )
    print(
        f"  {case}: peak memory over inputs ({ours.get('input_mb', 0):.0f} MB): ours {ours['extra_peak_mb']:.0f} MB, "
        f"anchor {anchor['extra_peak_mb']:.0f} MB{extra}",
        flush=True,
    )


def similarity_case(
    tmp: str, case: str, n: int, d: int, k: int, block: int | None, threads: int
) -> None:
    data = saved(tmp, "retrieval", n, d)
    ours = run_job(data, what="ours_similarity", k=k, threads=threads)
    anchor = run_job(data, what="dense_similarity", k=k, block=block, threads=threads)
    o, a = ours["value"], anchor["value"]
    bench_line(tag(case), ours, anchor)
    print(
        f"  {case}: n={n} d={d} k={k}; ours jaccard={o['jaccard']:.6f} mrr={o['mrr']:.6f} cosine={o['cosine']:.6f}; "
        f"anchor jaccard={a['jaccard']:.6f} mrr={a['mrr']:.6f} cosine={a['cosine']:.6f}; "
        f"|diff| max={max(abs(o[key] - a[key]) for key in o):.2e} (float32 near-ties may order differently)",
        flush=True,
    )


def cka_case(tmp: str, case: str, what_anchor: str, n: int, d: int, threads: int) -> None:
    data = saved(tmp, "cka", n, d)
    ours = run_job(data, what="ours_linear_cka", threads=threads)
    anchor = run_job(data, what=what_anchor, threads=threads)
    bench_line(tag(case), ours, anchor)
    print(
        f"  {case}: n={n} d={d}; ours CKA={ours['value']:.8f} anchor CKA={anchor['value']:.8f} |diff|={abs(ours['value'] - anchor['value']):.1e}",
        flush=True,
    )


def latentis_cases(tmp: str, n: int, d: int, threads: int) -> None:
    reason = ensure_peer()
    if reason is not None:
        print(
            f"  latentis: skipped ({reason}); ours is compared with the dense anchors above only.",
            flush=True,
        )
        return
    from repgeo.latent import median_bandwidth

    data = saved(tmp, "cka", n, d)
    sigma = median_bandwidth(np.load(data[0]))
    for kind in ("linear", "rbf"):
        case = f"{kind}_cka_{n // 1000}k_d{d}_latentis"
        try:
            peer = run_peer(kind, data, threads, sigma)
        except Exception as exc:
            print(f"  {case}: latentis failed ({exc}); ours not compared with it.", flush=True)
            continue
        what = "ours_linear_cka" if kind == "linear" else "ours_rbf_cka"
        ours = run_job(data, what=what, threads=threads, sigma=sigma)
        bench_line(tag(case), ours, peer, extra=" (latentis: dense n×n kernels, H K H centring)")
        print(
            f"  {case}: n={n} d={d}{f' σ={sigma:.4f} (shared)' if kind == 'rbf' else ''}; ours CKA={ours['value']:.8f} "
            f"latentis CKA={peer['value']:.8f} |diff|={abs(ours['value'] - peer['value']):.1e}",
            flush=True,
        )


def main() -> None:
    global DEVICE
    p = add_common_args(
        argparse.ArgumentParser(description=__doc__.split("\n")[0]),
        quick_help="small sizes (smoke test)",
    )
    p.add_argument("--threads", type=int, default=1, help="threads for both sides (default 1)")
    p.add_argument(
        "--skip-200k", action="store_true", help="leave out the (long) 200k retrieval case"
    )
    p.add_argument(
        "--only",
        nargs="+",
        metavar="CASE",
        help="run only these cases ('latentis' = the peer cases)",
    )
    args = p.parse_args()
    device = device_or_skip(args.device, "benchmarks/latent.py")
    if device is None:
        return
    DEVICE = device
    t = args.threads
    with tempfile.TemporaryDirectory(prefix="repgeo-bench-latent-") as tmp:
        if args.quick:
            cases = {
                "jaccard_mrr_5k_d64": lambda: similarity_case(
                    tmp, "jaccard_mrr_5k_d64", 5000, 64, 10, 1024, t
                ),
                "jaccard_mrr_5k_d64_dense": lambda: similarity_case(
                    tmp, "jaccard_mrr_5k_d64_dense", 5000, 64, 10, None, t
                ),
                "linear_cka_20k_d128": lambda: cka_case(
                    tmp, "linear_cka_20k_d128", "dense_feature_cka", 20000, 128, t
                ),
                "linear_cka_1k_d128_gram": lambda: cka_case(
                    tmp, "linear_cka_1k_d128_gram", "gram_cka", 1000, 128, t
                ),
                "latentis": lambda: latentis_cases(tmp, 1000, 128, t),
                "small": lambda: small_cases(t),
            }
        else:
            cases = {
                "linear_cka_100k_d512": lambda: cka_case(
                    tmp, "linear_cka_100k_d512", "dense_feature_cka", 100_000, 512, t
                ),
                "linear_cka_5k_d512_gram": lambda: cka_case(
                    tmp, "linear_cka_5k_d512_gram", "gram_cka", 5000, 512, t
                ),
                "latentis": lambda: latentis_cases(tmp, 5000, 512, t),
                "jaccard_mrr_20k_d256_dense": lambda: similarity_case(
                    tmp, "jaccard_mrr_20k_d256_dense", 20_000, 256, 10, None, t
                ),
                "jaccard_mrr_200k_d256": lambda: similarity_case(
                    tmp, "jaccard_mrr_200k_d256", 200_000, 256, 10, 1024, t
                ),
                "small": lambda: small_cases(t),
            }
        unknown = set(args.only or ()) - set(cases)
        if unknown:
            p.error(f"unknown case(s) {sorted(unknown)}; choose from {sorted(cases)}")
        for name, run in cases.items():
            if args.only and name not in args.only:
                continue
            if args.skip_200k and name.startswith("jaccard_mrr_200k"):
                continue
            run()


if __name__ == "__main__":
    main()
