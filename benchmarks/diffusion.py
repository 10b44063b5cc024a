"""Benchmark repgeo.diffusion against its peers (separate virtual environments).

    .venv/bin/python benchmarks/diffusion.py            # full (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/diffusion.py --quick    # smoke version (a few minutes)
    .venv/bin/python benchmarks/diffusion.py --device cuda --quick --baseline ../main/src

Cases (one ``BENCH`` line each: ``ours``/``anchor`` in seconds, ``ratio = anchor / ours``):

(a) Heat geodesics on a Swiss roll (k = 5, t = τ = 10, normalised Laplacian in both) against
    ``heatgeo`` (KrishnaswamyLab, ``HeatGeo(knn=5, tau=10)``: Chebyshev order 32, full ``n × n``):
    * ``heatgeo_full_n<N>`` — the full distance matrix (ours with its default order, which
      covers the graph's hop diameter);
    * ``heatgeo_rows_n<N>`` — what an evaluation needs: distances from 300 source points to all
      points (ours computes only those columns; heatgeo has no such path, so its full run is
      the anchor);
    * ``heatgeo_full_n<N>_matched`` — the full matrix at heatgeo's accuracy: ours with the
      smallest order (of 32, 48, …, 128) whose Spearman is at least heatgeo's;
    * ``heatgeo_full_n<N>_<C>cores`` — the default full matrix with every core on both sides;
    * ``heatgeo_embed_n<N>`` (N ≤ 2,000) — the embedding: ``HeatGeodesic(k=5, t=10)
      .fit_transform`` against ``HeatGeo(knn=5, tau=10).fit_transform`` (classical MDS, then
      SMACOF in ours and s_gd2's SGD in heatgeo).
    Spearman (mean per row) against the arc-length ground truth is printed for both.
(b) Diffusion spectral entropy against ``dse-dsmi`` at the same σ (our median heuristic handed
    to the peer), exact path, n = 2,000 and 10,000 (``dse_exact_n<N>``); values must agree to
    1e-6.
(c) Our large-n estimator (sparse Gaussian kernel + deflated stochastic Lanczos quadrature,
    local bandwidth) at n = 100,000 (``dse_slq_n100000_vs_extrapolated_exact``, anchor = our exact path extrapolated
    as O(n³) from n = 10,000 — no peer can run there), and its error against the exact value at
    n = 10,000 (``dse_slq_n10000``, anchor = exact).

(d) Heat-geodesic accuracy at large n (``heat_spearman_n<N>``, N = 20,000 and 100,000): Swiss
    roll, k = 5, ``t="auto"``, 300 sources; Spearman against the arc-length geodesics and the
    saturated fraction, against the same call in ``--baseline SRC`` (an earlier source tree, e.g.
    ``/path/to/main/src``; the log-domain series came after main's floor-at-1e-300 one). With
    ``--baseline`` the DSE at n = 100,000 is also compared with it (``dse_slq_n100000_vs_baseline``).

``--device cuda`` runs ours on the GPU (peers stay on the CPU); ``--only {heat,heat-large,dse}``
runs one group. Every measurement runs in a fresh subprocess after a small warm-up call. Memory is the peak of the
resident set size sampled every 2 ms during the measured call, minus its value at the start
("+MB over start"; ``ru_maxrss`` alone would hide allocations that reuse memory freed after the
imports), and the process CPU time is printed too. The peer comparisons (a, b) run
single-threaded on both sides (``OMP/MKL/OPENBLAS_NUM_THREADS = 1``, one torch thread): on a
shared machine multi-threaded regions stall on descheduled threads and wall times swing by an
order of magnitude. The large-n cases (c, d) — targets stated "on 2 cores" — give ours one torch
thread per core (its heat-kernel column blocks and sparse products run on worker threads).
Peers live in ``.peers/heatgeo`` and ``.peers/dse`` (see the module docs); when a peer is
missing or crashes the line says so and ours still runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEERS = {
    "heatgeo": ROOT / ".peers" / "heatgeo" / "bin" / "python",
    "dse": ROOT / ".peers" / "dse" / "bin" / "python",
}
OURS = sys.executable
CORES = len(os.sched_getaffinity(0))  # the large-n cases (issue 14 items 2, 3) use every core

MEMORY_PROLOGUE = """
import threading, time as _time
class PeakRSS:
    # samples the resident set size (VmRSS) every 2 ms; peak() is the most seen above the start
    def __init__(self):
        self.start = self.now(); self.max = self.start; self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True); self.t.start()
    @staticmethod
    def now():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    def loop(self):
        while not self.stop:
            self.max = max(self.max, self.now()); _time.sleep(0.002)
    def peak(self):
        self.stop = True; self.t.join(); self.max = max(self.max, self.now())
        return self.max - self.start
"""

HEATGEO_SCRIPT = (
    MEMORY_PROLOGUE
    + """
import json, resource, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
from heatgeo.embedding import HeatGeo
X = np.load(sys.argv[1])
_w = HeatGeo(knn=5, tau=1.0); _w.fit(X[:100]); _w.metric_computation(X[:100])  # warm-up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mon = PeakRSS()
t0, c0 = time.perf_counter(), time.process_time()
h = HeatGeo(knn=int(sys.argv[3]), tau=float(sys.argv[4]))
h.fit(X)
h.metric_computation(X)
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
rows = np.load(sys.argv[5])
np.save(sys.argv[2], h.dist[rows])
print(json.dumps({"seconds": secs, "cpu": cpu, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024}))
"""
)

DSE_SCRIPT = (
    MEMORY_PROLOGUE
    + """
import json, resource, sys, time
import numpy as np
from dse_dsmi import diffusion_spectral_entropy
X = np.load(sys.argv[1])
diffusion_spectral_entropy(X[:50], gaussian_kernel_sigma=float(sys.argv[2]), t=1, max_N=None)  # warm-up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mon = PeakRSS()
t0, c0 = time.perf_counter(), time.process_time()
v = diffusion_spectral_entropy(X, gaussian_kernel_sigma=float(sys.argv[2]), t=1, max_N=None)
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"value": float(v), "seconds": secs, "cpu": cpu, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024}))
"""
)

OURS_HEAT = (
    MEMORY_PROLOGUE
    + """
import json, resource, sys, time, warnings
import os
import numpy as np, torch
torch.set_num_threads(int(os.environ.get("REPGEO_BENCH_THREADS", "1")))
from repgeo.diffusion import build_graph, heat_geodesic_distances
X = np.load(sys.argv[1]); rows = np.load(sys.argv[5]); mode = sys.argv[6]; dev = sys.argv[7]
tt = sys.argv[4] if sys.argv[4] == "auto" else float(sys.argv[4])
warnings.filterwarnings("ignore")
heat_geodesic_distances(build_graph(X[:100], k=5, device=dev), 1.0)  # warm-up
sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mon = PeakRSS()
t0, c0 = time.perf_counter(), time.process_time()
g = build_graph(X, k=int(sys.argv[3]), device=dev)
order = int(sys.argv[8]) if len(sys.argv) > 8 else None
D, info = heat_geodesic_distances(g, tt, rows=None if mode == "full" else rows, order=order, return_info=True)
sync()
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
D = D.cpu().numpy() if torch.is_tensor(D) else D
np.save(sys.argv[2], D[rows] if mode == "full" else D)
print(json.dumps({"seconds": secs, "cpu": cpu, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024,
                  "order": info["order"], "saturated": info["saturated_fraction"], "t": info["t"],
                  "gpu_peak_mb": torch.cuda.max_memory_allocated() / 2**20 if dev == "cuda" else None}))
"""
)

HEATGEO_EMBED_SCRIPT = (
    MEMORY_PROLOGUE
    + """
import json, resource, sys, time, warnings, contextlib, io
import numpy as np
warnings.filterwarnings("ignore")
from heatgeo.embedding import HeatGeo
X = np.load(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):  # s_gd2 prints
    HeatGeo(knn=5, tau=1.0).fit_transform(X[:100])  # warm-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mon = PeakRSS()
    t0, c0 = time.perf_counter(), time.process_time()
    Y = HeatGeo(knn=int(sys.argv[3]), tau=float(sys.argv[4])).fit_transform(X)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
np.save(sys.argv[2], Y)
print(json.dumps({"seconds": secs, "cpu": cpu, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024}))
"""
)

OURS_EMBED = (
    MEMORY_PROLOGUE
    + """
import json, os, resource, sys, time, warnings
import numpy as np, torch
torch.set_num_threads(int(os.environ.get("REPGEO_BENCH_THREADS", "1")))
from repgeo.diffusion import HeatGeodesic
X = np.load(sys.argv[1]); dev = sys.argv[5]
warnings.filterwarnings("ignore")
HeatGeodesic(k=5, t=1.0, device=dev).fit_transform(X[:100])  # warm-up
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mon = PeakRSS()
t0, c0 = time.perf_counter(), time.process_time()
h = HeatGeodesic(k=int(sys.argv[3]), t=float(sys.argv[4]), device=dev)
Y = h.fit_transform(X)
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
np.save(sys.argv[2], Y.cpu().numpy() if torch.is_tensor(Y) else Y)
print(json.dumps({"seconds": secs, "cpu": cpu, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024,
                  "n_iter": getattr(h, "n_iter_", None), "order": h.heat_info_.get("order")}))
"""
)

OURS_DSE = (
    MEMORY_PROLOGUE
    + """
import json, resource, sys, time, warnings
import os
import numpy as np, torch
torch.set_num_threads(int(os.environ.get("REPGEO_BENCH_THREADS", "1")))
from repgeo import set_memory_budget
from repgeo.diffusion import diffusion_spectral_entropy
X = np.load(sys.argv[1]); kw = json.loads(sys.argv[2]); dev = sys.argv[3]
if kw.get("method") == "exact":  # the reference needs its dense kernel (n = 10,000: ~1.6 GB)
    set_memory_budget("6GB")
X = torch.from_numpy(X).to(dev) if dev == "cuda" else X
diffusion_spectral_entropy(X[:200], **{**kw, "method": "exact"})  # warm-up
sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
mon = PeakRSS()
t0, c0 = time.perf_counter(), time.process_time()
r = diffusion_spectral_entropy(X, **kw)
sync()
secs, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"value": r.entropy, "stderr": r.stderr, "sigma": r.sigma, "seconds": secs, "cpu": cpu, "method": r.method,
                  "info": r.info, "peak_extra_mb": mon.peak(), "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "base_mb": base / 1024}))
"""
)


# One thread for every library in every process (ours and the peers'): on a shared 2-core machine
# multi-threaded BLAS/OpenMP regions wait on descheduled threads and wall times swing tenfold.
ENV = {
    **os.environ,
    **dict.fromkeys(("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), "1"),
}


def run(
    python: Path | str,
    script: str,
    *args: str,
    tmp: Path,
    timeout: float = 3600,
    src: Path | None = None,
    threads: int = 1,
) -> dict:
    """Run ``script`` in a fresh process; ``src`` puts another repgeo source tree first on the
    path (the ``--baseline`` anchor); ``threads`` is torch's thread count in ours (the peer
    comparisons run one thread on both sides; the large-n targets are "on the machine's cores")."""
    path = tmp / f"script_{abs(hash(script))}.py"
    path.write_text(textwrap.dedent(script))
    env = {**ENV, "REPGEO_BENCH_THREADS": str(threads)}
    if threads > 1:  # the process (ours or a peer's) may use that many BLAS/OpenMP threads too
        env.update(
            dict.fromkeys(
                ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), str(threads)
            )
        )
    if src is not None:
        env["PYTHONPATH"] = f"{src}:{ENV.get('PYTHONPATH', '')}"
    try:
        res = subprocess.run(
            [str(python), str(path), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if res.returncode != 0:
        return {"error": (res.stderr.strip().splitlines() or ["no output"])[-1][:300]}
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench(case: str, ours: dict, anchor: dict, extra: str = "") -> None:
    if "error" in ours:
        print(f"BENCH {case} ours=nan anchor={anchor.get('seconds', float('nan')):.3f} ratio=nan")
        print(f"  {case}: ours failed: {ours['error']}")
        return
    if "error" in anchor:
        print(f"BENCH {case} ours={ours['seconds']:.3f} anchor=nan ratio=nan")
        print(f"  {case}: anchor unavailable: {anchor['error']}")
    else:
        print(
            f"BENCH {case} ours={ours['seconds']:.3f} anchor={anchor['seconds']:.3f} ratio={anchor['seconds'] / ours['seconds']:.2f}"
        )
    if extra:
        print(f"  {case}: {extra}")


def mem(d: dict) -> str:
    if "maxrss_mb" not in d:
        return "n/a"
    return f"+{d['peak_extra_mb']:.0f} MB over start (ru_maxrss {d['maxrss_mb']:.0f} MB), CPU {d.get('cpu', float('nan')):.1f} s"


def heat_cases(sizes: list[int], tmp: Path, dev: str) -> None:
    from repgeo.data import swiss_roll
    from repgeo.diffusion import rowwise_correlation

    for n in sizes:
        roll = swiss_roll(n, random_state=0)
        rows = np.sort(np.random.default_rng(1).choice(n, min(300, n), replace=False))
        truth = roll.geodesic_distances(rows)
        xp, rp = tmp / f"roll{n}.npy", tmp / f"rows{n}.npy"
        np.save(xp, roll.X)
        np.save(rp, rows)
        peer = (
            run(PEERS["heatgeo"], HEATGEO_SCRIPT, xp, tmp / "hg.npy", 5, 10.0, rp, tmp=tmp)
            if PEERS["heatgeo"].exists()
            else {"error": "peer venv .peers/heatgeo not installed"}
        )
        sp_peer = (
            rowwise_correlation(np.load(tmp / "hg.npy"), truth, rows=rows)
            if "error" not in peer
            else float("nan")
        )
        if n <= 2000:  # the embedding (HeatGeodesic vs HeatGeo fit_transform, both full MDS)
            embed_case(n, xp, rows, truth, tmp, dev)
        for mode in ("full", "rows"):
            ours, sp = ours_heat(xp, rp, mode, dev, tmp, rows, truth)
            bench(
                f"heatgeo_{mode}_n{n}",
                ours,
                peer,
                f"Spearman ours={sp:.4f} heatgeo={sp_peer:.4f}; order={ours.get('order')} saturated={ours.get('saturated', float('nan')):.3g}; "
                f"peak RSS ours={mem(ours)} heatgeo={mem(peer)}",
            )
        if np.isfinite(sp_peer):
            matched_case(n, xp, rp, rows, truth, sp_peer, peer, tmp, dev)
        if CORES > 1:  # the full matrix with every core on both sides
            peer_c = (
                run(
                    PEERS["heatgeo"],
                    HEATGEO_SCRIPT,
                    xp,
                    tmp / "hg.npy",
                    5,
                    10.0,
                    rp,
                    tmp=tmp,
                    threads=CORES,
                )
                if PEERS["heatgeo"].exists()
                else {"error": "peer venv .peers/heatgeo not installed"}
            )
            ours_c = run(
                OURS,
                OURS_HEAT,
                xp,
                tmp / "ours.npy",
                5,
                10.0,
                rp,
                "full",
                dev,
                tmp=tmp,
                threads=CORES,
            )
            bench(
                f"heatgeo_full_n{n}_{CORES}cores",
                ours_c,
                peer_c,
                f"both processes with {CORES} threads (ours: two blocks of sources at a time; "
                f"heatgeo: its BLAS/OpenMP); order={ours_c.get('order')}; peak RSS ours={mem(ours_c)} heatgeo={mem(peer_c)}",
            )


def ours_heat(
    xp: Path,
    rp: Path,
    mode: str,
    dev: str,
    tmp: Path,
    rows: np.ndarray,
    truth: np.ndarray,
    order: int | None = None,
) -> tuple[dict, float]:
    """Our heat-geodesic distances (t = 10, k = 5) in a fresh process, and their Spearman
    against the arc-length geodesics (NaN when the run failed)."""
    from repgeo.diffusion import rowwise_correlation

    extra = () if order is None else (order,)
    r = run(OURS, OURS_HEAT, xp, tmp / "ours.npy", 5, 10.0, rp, mode, dev, *extra, tmp=tmp)
    if "error" in r:
        return r, float("nan")
    return r, rowwise_correlation(np.load(tmp / "ours.npy"), truth, rows=rows)


def matched_case(
    n: int,
    xp: Path,
    rp: Path,
    rows: np.ndarray,
    truth: np.ndarray,
    sp_peer: float,
    peer: dict,
    tmp: Path,
    dev: str,
) -> None:
    """``heatgeo_full_n<N>_matched``: the full matrix at the accuracy heatgeo reaches. Our default
    order covers the hop diameter (every pair resolved: Spearman ~0.998); heatgeo's fixed order 32
    saturates most far pairs. The smallest order in 32, 48, 64, 96, 128 whose Spearman (300
    source rows, a cheap run) is at least heatgeo's is then timed on the full matrix."""

    for order in (32, 48, 64, 96, 128):
        r, sp = ours_heat(xp, rp, "rows", dev, tmp, rows, truth, order)
        if "error" in r:
            return
        if sp >= sp_peer:
            break
    ours, sp = ours_heat(xp, rp, "full", dev, tmp, rows, truth, order)
    bench(
        f"heatgeo_full_n{n}_matched",
        ours,
        peer,
        f"Spearman ours={sp:.4f} (order={order}) heatgeo={sp_peer:.4f} (order 32); saturated "
        f"{ours.get('saturated', float('nan')):.3g}; peak RSS ours={mem(ours)} heatgeo={mem(peer)}",
    )


def embed_case(n: int, xp: Path, rows: np.ndarray, truth: np.ndarray, tmp: Path, dev: str) -> None:
    """``HeatGeodesic(k=5, t=10).fit_transform`` against ``HeatGeo(knn=5, tau=10).fit_transform``
    (its default SGD metric MDS); accuracy: Spearman of the embedding's distances against the
    arc-length geodesics, from 300 source points."""
    from scipy.spatial.distance import cdist

    from repgeo.diffusion import rowwise_correlation

    def spearman(path: Path) -> float:
        Y = np.load(path)
        return rowwise_correlation(cdist(Y[rows], Y), truth, rows=rows)

    peer = (
        run(PEERS["heatgeo"], HEATGEO_EMBED_SCRIPT, xp, tmp / "hg_emb.npy", 5, 10.0, tmp=tmp)
        if PEERS["heatgeo"].exists()
        else {"error": "peer venv .peers/heatgeo not installed"}
    )
    ours = run(OURS, OURS_EMBED, xp, tmp / "ours_emb.npy", 5, 10.0, dev, tmp=tmp)
    sp = spearman(tmp / "ours_emb.npy") if "error" not in ours else float("nan")
    sp_peer = spearman(tmp / "hg_emb.npy") if "error" not in peer else float("nan")
    bench(
        f"heatgeo_embed_n{n}",
        ours,
        peer,
        f"embedding Spearman ours={sp:.4f} heatgeo={sp_peer:.4f}; SMACOF iterations "
        f"{ours.get('n_iter')}, order {ours.get('order')}; peak RSS ours={mem(ours)} heatgeo={mem(peer)}",
    )


def heat_large_cases(sizes: list[int], tmp: Path, dev: str, baseline: Path | None) -> None:
    """Heat-geodesic accuracy at large n (issue 14 item 2): Swiss roll, k = 5, ``t="auto"``,
    distances from 300 sources to all points; Spearman against the arc-length geodesics and the
    saturated fraction. The anchor is the same call in ``--baseline`` (an earlier source tree,
    e.g. main's), if given."""
    from repgeo.data import swiss_roll
    from repgeo.diffusion import rowwise_correlation

    for n in sizes:
        roll = swiss_roll(n, random_state=0)
        rows = np.sort(np.random.default_rng(1).choice(n, 300, replace=False))
        truth = roll.geodesic_distances(rows)
        xp, rp = tmp / f"roll{n}.npy", tmp / f"rows{n}.npy"
        np.save(xp, roll.X)
        np.save(rp, rows)
        res = {}
        for who, src in (("ours", None), ("baseline", baseline)):
            if who == "baseline" and src is None:
                res[who] = {"error": "no --baseline source tree given"}
                continue
            out = tmp / f"{who}{n}.npy"
            r = run(
                OURS,
                OURS_HEAT,
                xp,
                out,
                5,
                "auto",
                rp,
                "rows",
                dev,
                tmp=tmp,
                src=src,
                threads=CORES,
            )
            if "error" not in r:
                r["spearman"] = rowwise_correlation(np.load(out), truth, rows=rows)
            res[who] = r

        def desc(r: dict) -> str:
            if "error" in r:
                return "n/a"
            return (
                f"Spearman {r['spearman']:.4f}, saturated {r['saturated']:.3g}, t={r['t']:.3g}, "
                f"order {r['order']}, peak RSS {mem(r)}"
                + (f", GPU peak {r['gpu_peak_mb']:.0f} MB" if r.get("gpu_peak_mb") else "")
            )

        bench(
            f"heat_spearman_n{n}",
            res["ours"],
            res["baseline"],
            f"ours: {desc(res['ours'])}; baseline: {desc(res['baseline'])}",
        )


def dse_cases(sizes: list[int], big: int, tmp: Path, dev: str, baseline: Path | None) -> None:
    from repgeo.data import swiss_roll
    from repgeo.diffusion import gaussian_bandwidth

    rng = np.random.default_rng(0)
    for n in sizes:
        # a 10-class embedding-like cloud in 32-D (blobs of different spreads)
        y = rng.integers(0, 10, n)
        X = rng.normal(size=(n, 32)) * (0.5 + y[:, None] / 10) + 4.0 * rng.normal(size=(10, 32))[y]
        sigma = gaussian_bandwidth(X)
        xp = tmp / f"dse{n}.npy"
        np.save(xp, X)
        ours = run(
            OURS, OURS_DSE, xp, json.dumps({"bandwidth": sigma, "method": "exact"}), dev, tmp=tmp
        )
        peer = (
            run(PEERS["dse"], DSE_SCRIPT, xp, sigma, tmp=tmp)
            if PEERS["dse"].exists()
            else {"error": "peer venv .peers/dse not installed"}
        )
        diff = abs(ours.get("value", np.nan) - peer.get("value", np.nan))
        bench(
            f"dse_exact_n{n}",
            ours,
            peer,
            f"DSE ours={ours.get('value', float('nan')):.9f} dse-dsmi={peer.get('value', float('nan')):.9f} |diff|={diff:.2e} "
            f"(sigma={sigma:.4g}, agree to 1e-6: {bool(diff < 1e-6)}); peak RSS ours={mem(ours)} dse-dsmi={mem(peer)}",
        )
    # large-n estimator: local bandwidth, sparse kernel, deflated SLQ
    slq_kw = {"bandwidth": "knn", "method": "slq", "threshold": 1e-4, "max_neighbors": 400}
    ref_n = sizes[-1]
    roll = swiss_roll(ref_n, random_state=3).X
    xp = tmp / f"slq{ref_n}.npy"
    np.save(xp, roll)
    exact = run(
        OURS, OURS_DSE, xp, json.dumps({"bandwidth": "knn", "method": "exact"}), dev, tmp=tmp
    )
    approx = run(OURS, OURS_DSE, xp, json.dumps(slq_kw), dev, tmp=tmp)
    if "error" not in exact and "error" not in approx:
        err = approx["value"] - exact["value"]
        bench(
            f"dse_slq_n{ref_n}",
            approx,
            exact,
            f"SLQ {approx['value']:.4f} ± {approx['stderr']:.4f} vs exact {exact['value']:.4f}: error {err:+.4f} "
            f"({abs(err) / max(approx['stderr'], 1e-12):.1f} standard errors); dropped kernel mass "
            f"{approx['info'].get('dropped_kernel_mass', float('nan')):.2e}; peak RSS slq={mem(approx)} exact={mem(exact)}",
        )
    else:
        bench(f"dse_slq_n{ref_n}", approx, exact)
    roll_big = swiss_roll(big, random_state=4).X
    xp = tmp / f"slq{big}.npy"
    np.save(xp, roll_big)
    approx = run(OURS, OURS_DSE, xp, json.dumps(slq_kw), dev, tmp=tmp, threads=CORES)
    anchor = (
        {"seconds": exact["seconds"] * (big / ref_n) ** 3}
        if "seconds" in exact
        else {"error": "no exact reference"}
    )
    bench(
        f"dse_slq_n{big}_vs_extrapolated_exact",
        approx,
        anchor,
        f"DSE {approx.get('value', float('nan')):.4f} ± {approx.get('stderr', float('nan')):.4f}; kernel edges "
        f"{approx.get('info', {}).get('edges')}; dropped mass {approx.get('info', {}).get('dropped_kernel_mass', float('nan')):.2e}; "
        f"peak RSS {mem(approx)}; anchor = exact at n={ref_n} scaled by (n/{ref_n})^3 (dense: {8 * big**2 / 1e9:.1f} GB for the kernel alone)",
    )
    if baseline is not None:  # the same estimator in an earlier source tree (e.g. main)
        before = run(
            OURS, OURS_DSE, xp, json.dumps(slq_kw), dev, tmp=tmp, src=baseline, threads=CORES
        )
        bench(
            f"dse_slq_n{big}_vs_baseline",
            approx,
            before,
            f"DSE ours {approx.get('value', float('nan')):.4f} ± {approx.get('stderr', float('nan')):.4f} "
            f"(Lanczos steps {approx.get('info', {}).get('lanczos_steps_used')}, products "
            f"{approx.get('info', {}).get('matvec_dtype', 'float64')}) vs baseline "
            f"{before.get('value', float('nan')):.4f} ± {before.get('stderr', float('nan')):.4f}; "
            f"peak RSS ours={mem(approx)} baseline={mem(before)}; baseline = {baseline}",
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small smoke version")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where ours runs")
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="an earlier repgeo source tree (its src/ folder) run as the anchor of the large-n cases",
    )
    ap.add_argument(
        "--only", choices=("heat", "heat-large", "dse"), default=None, help="one group of cases"
    )
    args = ap.parse_args()
    baseline = args.baseline.resolve() if args.baseline is not None else None
    groups = {args.only} if args.only else {"heat", "heat-large", "dse"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.quick:
            if "heat" in groups:
                heat_cases([500], tmp, args.device)
            if "heat-large" in groups:
                heat_large_cases([2000], tmp, args.device, baseline)
            if "dse" in groups:
                dse_cases([500, 1000], 5000, tmp, args.device, baseline)
        else:
            if "heat" in groups:
                heat_cases([2000, 10000], tmp, args.device)
            if "heat-large" in groups:
                heat_large_cases([20_000, 100_000], tmp, args.device, baseline)
            if "dse" in groups:
                dse_cases([2000, 10000], 100_000, tmp, args.device, baseline)


if __name__ == "__main__":
    main()
