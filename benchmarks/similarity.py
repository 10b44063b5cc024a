"""Benchmark: RSA against rsatoolbox, CCA against a NumPy QR/SVD reference, bootstrap cost.

Cases (full; ``--quick`` shrinks every size):

* ``rdm_correlation_{2k,5k}`` — ``repgeo.latent.rsa.rdm`` (row blocks, condensed vector) vs
  rsatoolbox's ``calc_rdm(method="correlation")``.
* ``rsa_spearman_{2k,5k}`` / ``rsa_cosine_{2k,5k}`` — ``repgeo.latent.rsa.rsa`` (both RDMs and
  their comparison; cosine is streamed, never storing an RDM) vs rsatoolbox's ``calc_rdm`` twice
  and ``compare(method="spearman" | "cosine")``.
* ``cca_20k_d64`` — ``repgeo.latent.cca.cca`` (chunked tall-skinny QR) vs the textbook NumPy
  reference: ``np.linalg.qr`` of each centred side, singular values of Q_xᵀQ_y.
* ``compare_with_intervals_2k_d64`` — the report's call (five measures, 200 half-sample
  replicates) with no anchor; its time is printed for the record.

rsatoolbox runs in its own virtual environment ``.peers/rsatoolbox`` (created on first use with
``pip install rsatoolbox``) in a subprocess, so repgeo never imports it. Both sides use the same
number of threads (``--threads``, default 1). Inputs are float64 and seeded; the values of both
sides and their largest difference are printed under each BENCH line.

    .venv/bin/python benchmarks/similarity.py --quick
    .venv/bin/python benchmarks/similarity.py --device cuda      # ours on the GPU, anchors on CPU
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / ".peers" / "rsatoolbox"

PEER_SCRIPT = r"""
import json, sys, time
import numpy as np
import rsatoolbox
X, Y = np.load(sys.argv[1]), np.load(sys.argv[2])
what = sys.argv[3]
t0 = time.perf_counter()
rx = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(X), method="correlation")
if what == "rdm":
    sec = time.perf_counter() - t0
    v = rx.dissimilarities.ravel()
    np.save(sys.argv[4], v)
    print(json.dumps({"seconds": sec}))
else:
    ry = rsatoolbox.rdm.calc_rdm(rsatoolbox.data.Dataset(Y), method="correlation")
    v = float(np.asarray(rsatoolbox.rdm.compare(rx, ry, method=what)).ravel()[0])
    sec = time.perf_counter() - t0
    print(json.dumps({"seconds": sec, "value": v}))
"""


def data(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.tanh(X @ rng.normal(size=(d, d)) / np.sqrt(d)) + 0.5 * rng.normal(size=(n, d))
    return X, Y


def ensure_peer() -> str | None:
    py = PEER / "bin" / "python"
    if not py.exists():  # the pinned venv of `make peers` (benchmarks/peers/rsatoolbox.txt)
        try:
            subprocess.run(
                ["bash", str(ROOT / "scripts" / "peers.sh"), "rsatoolbox"],
                check=True,
                capture_output=True,
                text=True,
                timeout=3600,
            )
        except Exception as exc:
            return f"could not build .peers/rsatoolbox (scripts/peers.sh rsatoolbox): {exc}"
    probe = subprocess.run([str(py), "-c", "import rsatoolbox"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"rsatoolbox does not import: {probe.stderr.strip().splitlines()[-1:]}"
    return None


def run_peer(tmp: str, X: np.ndarray, Y: np.ndarray, what: str, threads: int) -> dict:
    np.save(f"{tmp}/X.npy", X)
    np.save(f"{tmp}/Y.npy", Y)
    Path(f"{tmp}/peer.py").write_text(PEER_SCRIPT)
    env = {
        **os.environ,
        **{k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
    }
    proc = subprocess.run(
        [
            str(PEER / "bin" / "python"),
            f"{tmp}/peer.py",
            f"{tmp}/X.npy",
            f"{tmp}/Y.npy",
            what,
            f"{tmp}/rdm.npy",
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            proc.stderr.strip().splitlines()[-1]
            if proc.stderr.strip()
            else f"exit {proc.returncode}"
        )
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if what == "rdm":
        out["value"] = np.load(f"{tmp}/rdm.npy")
    return out


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def line(case: str, ours: float, anchor: float) -> None:
    print(
        f"BENCH {case} ours={ours:.3f} anchor={anchor:.3f} ratio={anchor / max(ours, 1e-12):.2f}",
        flush=True,
    )


def to_device(A: np.ndarray, device: str):
    if device == "cpu":
        return A
    import torch

    return torch.from_numpy(A).to(device)


def host(v):
    import torch

    return v.cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def rsa_cases(sizes: list[int], d: int, device: str, threads: int) -> None:
    from repgeo.latent.rsa import rdm, rsa

    reason = ensure_peer()
    if reason is not None:
        print(f"  rsatoolbox: skipped ({reason})", flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="repgeo-bench-sim-") as tmp:
        for n in sizes:
            X, Y = data(n, d)
            Xd, Yd = to_device(X, device), to_device(Y, device)
            rdm(Xd[:10])  # warm-up
            case = f"rdm_correlation_{n // 1000}k"
            t, ours = timed(rdm, Xd)
            peer = run_peer(tmp, X, Y, "rdm", threads)
            line(case, t, peer["seconds"])
            diff = float(np.max(np.abs(host(ours) - peer["value"])))
            print(
                f"  {case}: n={n} d={d}; {ours.shape[0]} pairs; max |ours - rsatoolbox| = {diff:.1e}",
                flush=True,
            )
            for compare in ("spearman", "cosine"):
                case = f"rsa_{compare}_{n // 1000}k"
                t, v = timed(rsa, Xd, Yd, compare=compare)
                peer = run_peer(tmp, X, Y, compare, threads)
                line(case, t, peer["seconds"])
                print(
                    f"  {case}: ours={v:.12f} rsatoolbox={peer['value']:.12f} |diff|={abs(v - peer['value']):.1e}",
                    flush=True,
                )


def numpy_cca(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    qx, _ = np.linalg.qr(X - X.mean(0))
    qy, _ = np.linalg.qr(Y - Y.mean(0))
    return np.linalg.svd(qx.T @ qy, compute_uv=False)


def cca_case(n: int, d: int, device: str) -> None:
    from repgeo.latent.cca import cca

    X, Y = data(n, d, seed=1)
    Xd, Yd = to_device(X, device), to_device(Y, device)
    cca(Xd[:200], Yd[:200])  # warm-up
    case = f"cca_{n // 1000}k_d{d}"
    t, ours = timed(cca, Xd, Yd)
    ta, ref = timed(numpy_cca, X, Y)
    line(case, t, ta)
    print(
        f"  {case}: max |ours - numpy QR/SVD| over {d} correlations = {np.max(np.abs(host(ours) - ref)):.1e}; "
        f"top ρ ours={float(host(ours)[0]):.12f} numpy={ref[0]:.12f}",
        flush=True,
    )


def intervals_case(n: int, d: int, device: str, n_boot: int) -> None:
    from repgeo.latent.uncertainty import compare_with_intervals

    X, Y = data(n, d, seed=2)
    t, res = timed(
        compare_with_intervals, to_device(X, device), to_device(Y, device), n_boot=n_boot
    )
    print(
        f"  compare_with_intervals_{n // 1000}k_d{d}: {len(res)} measures, n_boot={n_boot}: {t:.2f} s",
        flush=True,
    )
    for name, r in res.items():
        print(
            f"    {name}: {r['estimate']:.4f} [{r['low']:.4f}, {r['high']:.4f}] ({r['method']})",
            flush=True,
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    p.add_argument(
        "--device", default="cpu", help="device for repgeo (cpu, cuda); anchors run on CPU"
    )
    p.add_argument("--threads", type=int, default=1, help="threads for both sides (default 1)")
    args = p.parse_args()
    os.environ.setdefault("REPGEO_PROGRESS", "0")
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    print(
        f"# repgeo.latent similarity benchmark: torch {torch.__version__}, device {args.device}, threads {args.threads}",
        flush=True,
    )
    with threadpool_limits(args.threads):
        if args.quick:
            rsa_cases([1000], 32, args.device, args.threads)
            cca_case(5000, 32, args.device)
            intervals_case(1000, 32, args.device, 50)
        else:
            rsa_cases([2000, 5000], 64, args.device, args.threads)
            cca_case(20000, 64, args.device)
            intervals_case(2000, 64, args.device, 200)


if __name__ == "__main__":
    main()
