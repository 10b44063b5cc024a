"""Benchmark: repgeo.geometry against the reference method of Zavatone-Veth et al. (2023).

The reference (the authors' public code) computes Jacobians with
``torch.autograd.functional.jacobian(lambda x: phi(x).sum(0), batch)`` — one backward pass per
output feature (``vectorize=False``) on batches of 5 inputs — and then the SVD of each J/√n.

Cases
-----
effvol-mlp784   effective volume (top k = 784 singular values of J/√n, i.e. the log
                pseudo-determinant) of the hidden layer of an MLP [784, 2000, 10] (sigmoid) on a
                60×60 plane through three 784-d inputs. Ours: structure-aware Gram (one GEMM for
                all metrics of a chunk) + batched Cholesky.
slice-mlp784    the slice metric G = (JE)ᵀ(JE)/n on the same plane. Anchor: the reference full
                Jacobian projected on the slice. Bound: k+1 = 3 plain batched forward passes.
effvol-cnn      effective volume (top k = 10) of the 64-d hidden layer of a small CNN (GELU) on
                sklearn digits, on a 60×60 plane through a 7, a 6 and a 1 (generic vmap(jacfwd)
                path: the CNN has no special structure).

Each method runs in a fresh subprocess so that its peak memory (``VmHWM`` after resetting it,
minus the resident size before the run; CUDA: ``max_memory_allocated``) is its own. Times are per
point: ours over the whole plane, the anchor over its first ``--anchor-points`` points (it is
~100× slower), after a warm-up. Output: one ``BENCH`` line per case, details below it.

Usage::

    .venv/bin/python benchmarks/geometry.py            # full (several minutes on 2 CPU cores)
    .venv/bin/python benchmarks/geometry.py --quick    # smoke version (~1 min)
    .venv/bin/python benchmarks/geometry.py --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from repgeo.data import load_digits  # noqa: E402
from repgeo.features import FeatureMap  # noqa: E402
from repgeo.geometry import effective_volume, plane_slice, slice_metric  # noqa: E402
from repgeo.models import MLP, SmallCNN  # noqa: E402

CASES = ("effvol-mlp784", "slice-mlp784", "effvol-cnn")


# ----------------------------------------------------------------------------- set-ups
def _smooth_images(n: int, seed: int) -> np.ndarray:
    """Deterministic 28×28 'images' in [0, 1] (smoothed noise), flattened."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 28, 28))
    k = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    k /= k.sum()
    for axis in (1, 2):
        x = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, x)
    x = (x - x.min(axis=(1, 2), keepdims=True)) / np.ptp(x, axis=(1, 2), keepdims=True)
    return x.reshape(n, -1)


def build(case: str, resolution: int, device: str):
    """(feature map, plane points float32 tensor, plane basis, k)."""
    if case in ("effvol-mlp784", "slice-mlp784"):
        net = MLP([784, 2000, 10], activation="sigmoid", seed=0)
        fm = FeatureMap(net.to(device), "act1")
        x1, x2, x3 = _smooth_images(3, seed=1)
        k = 784
    else:
        cnn = SmallCNN(activation="gelu", seed=0)
        fm = FeatureMap(cnn.to(device), "act3")
        ds = load_digits()
        x1, x2, x3 = (ds.X[np.flatnonzero(ds.y == c)[0]] for c in (7, 6, 1))
        k = 10
    plane = plane_slice(x1, x2, x3, resolution=resolution)
    X = torch.as_tensor(plane.points, dtype=torch.float32, device=device)
    E = torch.as_tensor(plane.basis, dtype=torch.float32, device=device)
    return fm, X, E, k


def reference_jacobian(fm: FeatureMap, X: torch.Tensor, batch: int = 5) -> torch.Tensor:
    """The authors' method: jacobian of x -> Φ(x).sum(0), vectorize off, batches of 5."""
    out = []
    for s in range(0, X.shape[0], batch):
        J = torch.autograd.functional.jacobian(
            lambda x: fm(x).sum(0), X[s : s + batch]
        )  # (n, b, d)
        out.append(J.permute(1, 0, 2))
    return torch.cat(out)


def run_method(
    case: str, method: str, fm: FeatureMap, X: torch.Tensor, E: torch.Tensor, k: int
) -> torch.Tensor:
    if method == "ours":
        if case == "slice-mlp784":
            return slice_metric(fm, X, E)
        return effective_volume(fm, X, k=k)
    if method == "ours-generic":  # the batched-tangent jvp path, no structure
        return slice_metric(fm, X, E, use_structure=False)
    if method == "anchor":
        J = reference_jacobian(fm, X)
        n = J.shape[1]
        if case == "slice-mlp784":
            JE = J @ E
            return JE.transpose(1, 2) @ JE / n
        s = torch.linalg.svdvals(J / n**0.5)
        return torch.log10(s[:, :k]).sum(1)
    if method == "bound":
        with torch.no_grad():
            for _ in range(E.shape[1] + 1):
                out = fm(X)
        return out[:, :1]
    raise ValueError(method)


# ----------------------------------------------------------------------------- worker
def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def worker(
    case: str,
    method: str,
    n_points: int,
    resolution: int,
    device: str,
    out: str,
    threads: int | None,
) -> None:
    if threads:
        torch.set_num_threads(threads)
    fm, X, E, k = build(case, resolution, device)
    X = X[:n_points]
    run_method(case, method, fm, X[:5], E, k)  # warm-up
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        try:
            with open("/proc/self/clear_refs", "w") as fh:  # reset the peak resident size
                fh.write("5")
        except OSError:
            pass
        base = _rss_kb("VmRSS:") * 1024
    t0 = time.perf_counter()
    res = run_method(case, method, fm, X, E, k)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated() if cuda else _rss_kb("VmHWM:") * 1024
    np.save(out, res.detach().cpu().numpy().astype(np.float64))
    print(
        json.dumps(
            {"seconds": seconds, "n": int(X.shape[0]), "peak_mb": max(peak - base, 0) / 2**20}
        )
    )


def spawn(
    case: str,
    method: str,
    n_points: int,
    resolution: int,
    device: str,
    tmp: str,
    threads: int | None,
) -> dict:
    out = os.path.join(tmp, f"{case}_{method}.npy")
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        case,
        method,
        "--n",
        str(n_points),
        "--resolution",
        str(resolution),
        "--device",
        device,
        "--out",
        out,
    ]
    if threads:
        cmd += ["--threads", str(threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{case}/{method} failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["values"] = np.load(out)
    info["per_point"] = info["seconds"] / info["n"]
    return info


# ----------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small smoke version")
    ap.add_argument("--device", default="cpu")
    ap.add_argument(
        "--anchor-points", type=int, default=None, help="points timed for the reference method"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads in every worker (default: torch's)",
    )
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    ap.add_argument("--worker", nargs=2, metavar=("CASE", "METHOD"), help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--resolution", type=int, default=60, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(
            args.worker[0],
            args.worker[1],
            args.n,
            args.resolution,
            args.device,
            args.out,
            args.threads,
        )
        return
    resolution = 60
    ours_points = 400 if args.quick else resolution * resolution
    anchor_points = args.anchor_points or (10 if args.quick else 20)
    print(
        f"# repgeo.geometry benchmark: torch {torch.__version__}, device {args.device}, "
        f"{args.threads or torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; "
        f"plane {resolution}x{resolution}; ours timed on {ours_points} points, anchor on {anchor_points}; "
        "seconds are per point"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            n_ours = resolution * resolution if case == "slice-mlp784" else ours_points
            ours = spawn(case, "ours", n_ours, resolution, args.device, tmp, args.threads)
            anchor = spawn(
                case, "anchor", anchor_points, resolution, args.device, tmp, args.threads
            )
            a, o = anchor["per_point"], ours["per_point"]
            print(f"BENCH {case} ours={o:.3g} anchor={a:.3g} ratio={a / o:.1f}")
            m = anchor_points
            diff = np.abs(ours["values"][:m] - anchor["values"][:m])
            scale = np.abs(anchor["values"][:m]).max()
            print(
                f"  {case}: ours {o * 1e3:.3g} ms/point ({ours['seconds']:.1f} s for {ours['n']} points, peak +{ours['peak_mb']:.0f} MB); "
                f"reference {a * 1e3:.3g} ms/point (peak +{anchor['peak_mb']:.0f} MB); "
                f"max |ours - reference| = {diff.max():.3g} (values up to {scale:.3g})"
            )
            if case == "slice-mlp784":
                bound = spawn(case, "bound", ours["n"], resolution, args.device, tmp, args.threads)
                b = bound["per_point"]
                print(f"BENCH {case}-bound ours={o:.3g} bound={b:.3g} ratio={o / b:.2f}")
                gen = spawn(
                    case, "ours-generic", ours["n"], resolution, args.device, tmp, args.threads
                )
                g = gen["per_point"]
                gdiff = np.abs(gen["values"] - ours["values"]).max() / np.abs(ours["values"]).max()
                print(
                    f"  {case}: bound = 3 batched forward passes, {b * 1e3:.3g} ms/point; generic batched-tangent "
                    f"jvp path {g * 1e3:.3g} ms/point = {g / b:.2f}x the bound, {a / g:.0f}x faster than the "
                    f"reference (rel. diff to ours {gdiff:.2g}, peak +{gen['peak_mb']:.0f} MB)"
                )


if __name__ == "__main__":
    main()
