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
effvol-resnet18 top-10 effective volume of a ResNet-18 (torchvision's architecture, repgeo.models.ResNet:
                BasicBlocks, layer1..layer4, BatchNorm in eval mode with calibrated running
                statistics, random weights) truncated after ``layer2``, at 32×32×3 inputs
                (d = 3,072, n = 2,048). Ours: ``method="auto"`` = randomised block Krylov on
                JᵀJ from batched JVPs/VJPs (~100 products per point). Anchor: the exact
                full-Jacobian path (``method="gram"``: vmap(jacrev), 2,048 VJPs per point, float64
                Gram matrix, eigenvalues) — the algorithm of repgeo's previous default. The
                accuracy line compares ours with the anchor's exact values on the anchor's points.
relu-resnet18-k512 the ReLU-dead case of issue 14: ResNet-18 (ReLU), features after average
                pooling (n = 512), d = 3,072, k = 512. Dead (zero) features make J rank-deficient;
                the exact answer is -inf. Checks that ours says so (GeometryAccuracyWarning,
                ``info.rank`` < 512, ``info.ok`` False) where the reference method returns
                finite log10 of rounding-level singular values, silently. Anchor: the reference.
effvol-resnet34 the seed paper's image experiment: ResNet-34 (GELU, random weights), features after
                global average pooling (n = 512), CIFAR-sized inputs (d = 3,072), k = 512 (the
                full log pseudo-determinant), a 60×60 plane through three images; target ≤ 60 s
                for the plane on an H200. Ours: reverse-mode Jacobians, float64 Gram, Cholesky
                with condition estimates. Anchor: the authors' reference method (above). GPU
                only: runs with ``--device cuda`` (or when named in ``--cases``).

Each method runs in a fresh subprocess so that its peak memory (``VmHWM`` after resetting it,
minus the resident size before the run; CUDA: ``max_memory_allocated``) is its own. Times are per
point: ours over the whole plane, the anchor over its first ``--anchor-points`` points (it is
~100× slower), after a warm-up. Output: one ``BENCH`` line per case, details below it.

Usage::

    .venv/bin/python benchmarks/geometry.py            # full (several minutes on 2 CPU cores)
    .venv/bin/python benchmarks/geometry.py --quick    # smoke version (a few minutes)
    .venv/bin/python benchmarks/geometry.py --device cuda [--memory-budget 32GB]

``--device cuda`` without a CUDA device prints a note and exits cleanly (status 0).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from torch import nn  # noqa: E402

from repgeo._backend import set_memory_budget  # noqa: E402
from repgeo.data import load_digits  # noqa: E402
from repgeo.features import FeatureMap, layer_names  # noqa: E402
from repgeo.geometry import (  # noqa: E402
    GeometryAccuracyWarning,
    effective_volume,
    plane_slice,
    slice_metric,
)
from repgeo.models import MLP, ResNet, SmallCNN  # noqa: E402

CASES = (
    "effvol-mlp784",
    "slice-mlp784",
    "effvol-cnn",
    "effvol-resnet18",
    "relu-resnet18-k512",
    "effvol-resnet34",
)
RESNET = ("effvol-resnet18", "relu-resnet18-k512", "effvol-resnet34")
GPU_ONLY = ("effvol-resnet34",)


# ----------------------------------------------------------------------------- ResNets
def _images(n: int, seed: int, size: int = 32) -> np.ndarray:
    """Deterministic smooth colour 'images' in [0, 1], (n, 3*size*size)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3, size, size))
    k = np.exp(-0.5 * (np.arange(-3, 4) / 1.5) ** 2)
    k /= k.sum()
    for axis in (2, 3):
        x = np.apply_along_axis(lambda v: np.convolve(v, k, mode="same"), axis, x)
    x = (x - x.min(axis=(1, 2, 3), keepdims=True)) / np.ptp(x, axis=(1, 2, 3), keepdims=True)
    return x.reshape(n, -1)


def resnet(depth: int, act: type[nn.Module], seed: int = 0) -> ResNet:
    """A random ResNet-18/34 with BatchNorm statistics calibrated on random images (so that
    eval-mode BN normalises like a trained network's), in eval mode."""
    torch.manual_seed(seed)
    net = ResNet(depth, act=act)
    calib = torch.as_tensor(_images(64, seed + 100), dtype=torch.float32).reshape(64, 3, 32, 32)
    net.train()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None  # cumulative average
        for _ in range(2):
            net(calib)
    return net.eval()


def resnet_layer(net: nn.Module, block: str) -> str:
    """The FeatureMap layer name for a ResNet stage's output: the module name where FeatureMap
    accepts container modules, else the traced node of its last activation."""
    names = layer_names(net)
    if block in names:
        return block
    if block == "avgpool":
        return "avgpool"
    last = [n for n in names if n.startswith(block.replace(".", "_") + "_") and "relu" in n]
    return last[-1]


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
    elif case == "effvol-cnn":
        cnn = SmallCNN(activation="gelu", seed=0)
        fm = FeatureMap(cnn.to(device), "act3")
        ds = load_digits()
        x1, x2, x3 = (ds.X[np.flatnonzero(ds.y == c)[0]] for c in (7, 6, 1))
        k = 10
    elif case == "effvol-resnet18":
        net = resnet(18, nn.ReLU).to(device)
        fm = FeatureMap(net, resnet_layer(net, "layer2"), input_shape=(3, 32, 32))
        x1, x2, x3 = _images(3, seed=1)
        k = 10
    elif case == "relu-resnet18-k512":
        net = resnet(18, nn.ReLU).to(device)
        fm = FeatureMap(net, "avgpool", input_shape=(3, 32, 32))
        x1, x2, x3 = _images(3, seed=1)
        k = 512
    else:  # effvol-resnet34
        net = resnet(34, nn.GELU).to(device)
        fm = FeatureMap(net, "avgpool", input_shape=(3, 32, 32))
        x1, x2, x3 = _images(3, seed=1)
        k = 512
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
        if case in RESNET:
            return effective_volume(fm, X, k=k, return_info=True)
        return effective_volume(fm, X, k=k)
    if method == "exact":  # the full-Jacobian path: vmap(jacrev) + float64 Gram + eigenvalues
        return effective_volume(fm, X, k=k, method="gram")
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
    budget: str | None = None,
) -> None:
    if threads:
        torch.set_num_threads(threads)
    if budget:
        set_memory_budget(budget)
    fm, X, E, k = build(case, resolution, device)
    X = X[:n_points]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GeometryAccuracyWarning)
        run_method(case, method, fm, X[: 1 if case in RESNET else 5], E, k)  # warm-up
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
    t0, c0 = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = run_method(case, method, fm, X, E, k)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0  # all threads: less sensitive to a shared machine
    peak = torch.cuda.max_memory_allocated() if cuda else _rss_kb("VmHWM:") * 1024
    extra = {}
    if isinstance(res, tuple):  # (values, SpectralInfo)
        res, info = res
        extra = {
            "method": info.method,
            "error_estimate": float(np.max(info.error_estimate)),
            "unreliable": int(np.sum(info.unreliable)),
            "min_rank": int(np.min(info.rank)),
            "ok": bool(info.ok),
            "warned": sum(issubclass(w.category, GeometryAccuracyWarning) for w in caught),
        }
        if info.n_products is not None:
            extra["products"] = float(np.mean(info.n_products))
            extra["converged"] = bool(np.all(info.converged))
    np.save(out, res.detach().cpu().numpy().astype(np.float64))
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "n": int(X.shape[0]),
                "peak_mb": max(peak - base, 0) / 2**20,
                **extra,
            }
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
    budget: str | None = None,
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
    if budget:
        cmd += ["--memory-budget", budget]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{case}/{method} failed:\n{proc.stderr[-2000:]}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    info["values"] = np.load(out)
    info["per_point"] = info["seconds"] / info["n"]
    return info


# ----------------------------------------------------------------------------- main
def _points(case: str, quick: bool, device: str, resolution: int) -> tuple[int, int]:
    """(points timed for ours, points timed for the anchor)."""
    full = resolution * resolution
    if case == "slice-mlp784":
        return full, 10 if quick else 20
    if case == "effvol-resnet18":
        return (16, 2) if quick else (64, 4)
    if case == "relu-resnet18-k512":
        return (2, 1) if quick else (4, 2)
    if case == "effvol-resnet34":
        return (400 if quick else full), (5 if quick else 10)
    return (400 if quick else full), (10 if quick else 20)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="small smoke version")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument(
        "--anchor-points", type=int, default=None, help="points timed for the reference method"
    )
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads in every worker (default: torch's)",
    )
    ap.add_argument(
        "--memory-budget",
        default=None,
        help="repgeo memory budget in every worker (default: 1GB on CPU, 32GB on CUDA)",
    )
    ap.add_argument(
        "--cases",
        nargs="*",
        default=None,
        choices=CASES,
        help="default: all; effvol-resnet34 only with --device cuda",
    )
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
            args.memory_budget,
        )
        return
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        print(f"# repgeo.geometry benchmark: --device {args.device} but no CUDA device; skipped")
        return
    budget = args.memory_budget or ("32GB" if cuda else None)
    cases = args.cases if args.cases is not None else [
        c for c in CASES if cuda or c not in GPU_ONLY
    ]  # fmt: skip
    resolution = 60
    print(
        f"# repgeo.geometry benchmark: torch {torch.__version__}, device {args.device}, "
        f"{args.threads or torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}; "
        f"plane {resolution}x{resolution}; memory budget {budget or '1GB (default)'}; "
        "seconds are per point"
    )
    if not cuda:
        skipped = [c for c in GPU_ONLY if c not in cases]
        if skipped:
            print(f"# {', '.join(skipped)}: GPU case, skipped on CPU (run with --device cuda)")
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            n_ours, n_anchor = _points(case, args.quick, args.device, resolution)
            n_anchor = args.anchor_points or n_anchor
            anchor_method = "exact" if case == "effvol-resnet18" else "anchor"

            def run(method: str, n: int, case: str = case) -> dict:
                return spawn(case, method, n, resolution, args.device, tmp, args.threads, budget)

            ours = run("ours", n_ours)
            anchor = run(anchor_method, n_anchor)
            a, o = anchor["per_point"], ours["per_point"]
            print(f"BENCH {case} ours={o:.3g} anchor={a:.3g} ratio={a / o:.1f}")
            co, ca = ours["cpu_seconds"] / ours["n"], anchor["cpu_seconds"] / anchor["n"]
            print(
                f"  {case}: CPU time per point (all threads; steadier than wall time on a shared "
                f"machine): ours {co:.3g} s, anchor {ca:.3g} s, ratio {ca / co:.1f}; load average "
                f"now {os.getloadavg()[0]:.1f}"
            )
            m = n_anchor
            with np.errstate(invalid="ignore"):  # -inf - -inf
                diff = np.abs(ours["values"][:m] - anchor["values"][:m])
            scale = np.abs(anchor["values"][:m]).max()
            what = "exact full-Jacobian path" if anchor_method == "exact" else "reference"
            print(
                f"  {case}: ours {o * 1e3:.3g} ms/point ({ours['seconds']:.1f} s for {ours['n']} points, peak +{ours['peak_mb']:.0f} MB); "
                f"{what} {a * 1e3:.3g} ms/point on {anchor['n']} points (peak +{anchor['peak_mb']:.0f} MB); "
                f"max |ours - {what}| = {diff.max():.3g} (values up to {scale:.3g})"
            )
            if "method" in ours:
                extra = (
                    f", {ours['products']:.0f} JVP+VJP pairs per point"
                    if "products" in ours
                    else ""
                )
                print(
                    f"  {case}: ours used method {ours['method']!r}{extra}; reported error estimate "
                    f"up to {ours['error_estimate']:.2g} decades; {ours['unreliable']} unreliable "
                    f"points; smallest resolved rank {ours['min_rank']} of k"
                )
            if case == "relu-resnet18-k512":
                print(
                    f"  {case}: ours {np.round(ours['values'], 2).tolist()} with "
                    f"{ours['warned']} GeometryAccuracyWarning(s), info.ok={ours['ok']}, "
                    f"resolved rank >= {ours['min_rank']} of k=512; reference (no warning): "
                    f"{np.round(anchor['values'], 2).tolist()}"
                )
            if case == "effvol-resnet34":
                print(
                    f"  {case}: the {resolution}x{resolution} plane took {ours['seconds']:.1f} s for "
                    f"{ours['n']} points (target: 3,600 points in <= 60 s on an H200)"
                )
            if case == "slice-mlp784":
                bound = run("bound", ours["n"])
                b = bound["per_point"]
                print(f"BENCH {case}-bound ours={o:.3g} bound={b:.3g} ratio={o / b:.2f}")
                gen = run("ours-generic", ours["n"])
                g = gen["per_point"]
                gdiff = np.abs(gen["values"] - ours["values"]).max() / np.abs(ours["values"]).max()
                print(
                    f"  {case}: bound = 3 batched forward passes, {b * 1e3:.3g} ms/point; generic batched-tangent "
                    f"jvp path {g * 1e3:.3g} ms/point = {g / b:.2f}x the bound, {a / g:.0f}x faster than the "
                    f"reference (rel. diff to ours {gdiff:.2g}, peak +{gen['peak_mb']:.0f} MB)"
                )


if __name__ == "__main__":
    main()
