"""Benchmark: intrinsic dimension vs scikit-dimension and DADApy; coding rate vs the direct formula.

Run ``.venv/bin/python benchmarks/coding_id.py`` (``--quick`` for a small smoke version;
``--device cuda`` runs ours on CUDA tensors, the peers and direct anchors stay on the CPU).

Peers live in their own virtual environments (never project dependencies), built with the
pinned versions of ``benchmarks/peers/skdim.txt`` and ``benchmarks/peers/dadapy.txt`` by::

    make peers        # .peers/skdim, .peers/dadapy (and the other benchmarks' peers)

Each peer is called through its venv's python on a small script; data go through ``.npy`` files
in a temporary directory and the peer reports its own fit time (interpreter start-up and imports
excluded). Where a peer is missing or crashes, the benchmark says so and compares ours with the
direct anchor (brute-force distances / dense d×d log-determinants in NumPy) instead.

Output, one line per timed case::

    BENCH <case> ours=<s> anchor=<s> ratio=<anchor/ours>

followed by the values (ours, the anchor's, their difference and the estimator's standard
error); ``VALUES`` lines compare estimates on samples of known dimension.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import torch

from _common import add_common_args, device_or_skip, sync
from repgeo.coding import coding_rate, coding_rate_reduction
from repgeo.dimension import levina_bickel, twonn

ROOT = Path(__file__).resolve().parents[1]
PEERS = {
    "skdim": ROOT / ".peers" / "skdim" / "bin" / "python",
    "dadapy": ROOT / ".peers" / "dadapy" / "bin" / "python",
}

PEER_SCRIPTS = {
    "skdim": textwrap.dedent(
        """
        import json, sys, time, warnings
        import numpy as np
        import skdim
        X = np.load(sys.argv[1]); task = json.loads(sys.argv[2])
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        if task["est"] == "twonn_linear":
            d = skdim.id.TwoNN(discard_fraction=0.1, method="linear").fit(X).dimension_
        elif task["est"] == "twonn_mle":
            d = skdim.id.TwoNN(discard_fraction=0.0, method="mle").fit(X).dimension_
        elif task["est"] == "mle":
            d = skdim.id.MLE().fit(X, n_neighbors=task["k"], comb="mle").dimension_
        elif task["est"] == "twonn_default":
            d = skdim.id.TwoNN().fit(X).dimension_
        elif task["est"] == "mle_default":
            d = skdim.id.MLE().fit(X).dimension_
        else:
            raise ValueError(task)
        print(json.dumps({"value": float(d), "seconds": time.perf_counter() - t}))
        """
    ),
    "dadapy": textwrap.dedent(
        """
        import json, sys, time, io, contextlib
        import numpy as np
        from dadapy import Data
        X = np.load(sys.argv[1]); task = json.loads(sys.argv[2])
        t = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            data = Data(coordinates=X, maxk=3)
            algo = "base" if task["est"] == "twonn_linear" else "ml"
            d = data.compute_id_2NN(algorithm=algo, mu_fraction=0.9)[0]
        print(json.dumps({"value": float(d), "seconds": time.perf_counter() - t}))
        """
    ),
}


def run_peer(name: str, X: np.ndarray, task: dict, tmp: Path, timeout: float = 1800) -> dict:
    """Run a peer estimator in its own venv; returns {"value", "seconds"} or {"error"}."""
    py = PEERS[name]
    if not py.exists():
        return {"error": f"{name} venv not found at {py.parent.parent} (see this file's docstring)"}
    path = tmp / "X.npy"
    np.save(path, X)
    script = tmp / f"{name}_peer.py"
    script.write_text(PEER_SCRIPTS[name])
    try:
        proc = subprocess.run(
            [str(py), str(script), str(path), json.dumps(task)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"{name} timed out after {timeout:.0f} s"}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"{name} crashed (rc={proc.returncode}): {' | '.join(tail)}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- device
DEVICE = "cpu"  # where ours runs (``--device``); peers and direct anchors stay on the CPU


def ours_input(X: np.ndarray):
    """``X`` as ours receives it: the NumPy array on the CPU, a tensor on ``DEVICE`` otherwise."""
    return X if DEVICE == "cpu" else torch.from_numpy(X).to(DEVICE)


def tag(case: str) -> str:
    """Case name, with the device appended off the CPU (``..._cuda``)."""
    return case if DEVICE == "cpu" else f"{case}_{DEVICE}"


# ----------------------------------------------------------------------------- samples
def sample(kind: str, n: int, d: int, D: int, rng: np.random.Generator) -> np.ndarray:
    """n points of a d-dimensional cube or sphere (S^d), isometrically embedded in R^D."""
    if kind == "cube":
        P = rng.uniform(size=(n, d))
    elif kind == "sphere":
        P = rng.standard_normal((n, d + 1))
        P /= np.linalg.norm(P, axis=1, keepdims=True)
    elif kind == "gauss":
        P = rng.standard_normal((n, d))
    else:
        raise ValueError(kind)
    Q = np.linalg.qr(rng.standard_normal((D, P.shape[1])))[0]
    return P @ Q.T


# ----------------------------------------------------------------------------- direct anchors
def brute_distances(X: np.ndarray, k: int) -> np.ndarray:
    """Sorted distances to the k nearest neighbours by chunked dense NumPy distances."""
    out = np.empty((len(X), k))
    sq = (X**2).sum(1)
    for s in range(0, len(X), 2048):
        D2 = sq[s : s + 2048, None] + sq[None] - 2 * X[s : s + 2048] @ X.T
        D2[np.arange(D2.shape[0]), np.arange(s, s + D2.shape[0])] = np.inf
        part = np.partition(D2, k, axis=1)[:, :k]
        out[s : s + 2048] = np.sqrt(np.maximum(np.sort(part, axis=1), 0))
    return out


def direct_twonn(X: np.ndarray) -> float:
    r = brute_distances(X, 2)
    return (len(X) - 1) / np.log(r[:, 1] / r[:, 0]).sum()


def direct_delta_r(Z: np.ndarray, y: np.ndarray, eps2: float = 0.5) -> float:
    """MCR² straight from the definition: d × d log-determinants, no identity, no chunking."""
    m, d = Z.shape
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    R = 0.5 * np.linalg.slogdet(np.eye(d) + d / (m * eps2) * Zn.T @ Zn)[1]
    Rc = 0.0
    for c in np.unique(y):
        Zc = Zn[y == c]
        Rc += len(Zc) / (2 * m) * np.linalg.slogdet(np.eye(d) + d / (len(Zc) * eps2) * Zc.T @ Zc)[1]
    return R - Rc


def timed(fn, *args, repeat: int = 1, **kw):
    """Value and wall time of ``fn(*args, **kw)``; the best of ``repeat`` runs (small cases run
    several times: on a shared machine one run of a few milliseconds is mostly noise)."""
    best = float("inf")
    for _ in range(repeat):
        sync(DEVICE)
        t = time.perf_counter()
        value = fn(*args, **kw)
        sync(DEVICE)
        best = min(best, time.perf_counter() - t)
    return value, best


def bench_line(case: str, ours: float, anchor: float) -> str:
    return f"BENCH {case} ours={ours:.4f} anchor={anchor:.4f} ratio={anchor / ours:.2f}"


# ----------------------------------------------------------------------------- cases
SAMPLES = (("cube", 2), ("cube", 5), ("sphere", 3), ("sphere", 7), ("gauss", 10))


def values_table(n: int, tmp: Path, samples=SAMPLES) -> None:
    """Estimates on samples of known dimension: ours, skdim and DADApy side by side."""
    print(
        f"# ID estimates on n={n} samples of known dimension, ambient D=20 (se = d/sqrt(n) for the MLE)"
    )
    rng = np.random.default_rng(0)
    for kind, d in samples:
        X = sample(kind, n, d, 20, rng)
        Xo = ours_input(X)
        se = d / np.sqrt(n)
        for est, ours in (
            ("twonn_linear", twonn(Xo, method="linear")),
            ("twonn_mle", twonn(Xo, method="mle")),
            ("mle", levina_bickel(Xo, 20, aggregate="harmonic")),
            # the defaults against the defaults: twonn(X) vs TwoNN(), levina_bickel(X) vs MLE()
            ("twonn_default", twonn(Xo)),
            ("mle_default", levina_bickel(Xo)),
        ):
            peers = {}
            for peer in ("skdim", "dadapy"):
                if peer == "dadapy" and (est.startswith("mle") or est.endswith("default")):
                    continue  # DADApy has no Levina–Bickel estimator; defaults: skdim's
                res = run_peer(peer, X, {"est": est, "k": 20}, tmp)
                peers[peer] = f"{res['value']:.4f}" if "value" in res else f"ERROR({res['error']})"
            peer_txt = " ".join(f"{p}={v}" for p, v in peers.items())
            print(
                f"VALUES {tag(f'{kind}{d}_{est}')} true={d} ours={ours:.4f} {peer_txt} se={se:.3f}"
            )


def timing_twonn(n: int, D: int, tmp: Path, methods: tuple[str, ...] = ("linear", "mle")) -> None:
    rng = np.random.default_rng(1)
    X = sample("cube", n, 5, D, rng)
    Xo = ours_input(X)
    twonn(Xo[:1000])  # warm-up (faiss / torch initialisation)
    repeat = 7 if n <= 5000 else 1
    for method in methods:
        est = f"twonn_{method}"
        ours_val, ours_t = timed(twonn, Xo, method=method, repeat=repeat)
        for peer in ("skdim", "dadapy"):
            res = run_peer(peer, X, {"est": est}, tmp)
            case = tag(f"{est}_n{n}_D{D}_vs_{peer}")
            if "error" in res:
                print(
                    f"# {peer} unavailable for {case}: {res['error']}; falling back to the direct anchor"
                )
                val, t = timed(direct_twonn, X, repeat=repeat)
                print(bench_line(tag(f"{est}_n{n}_D{D}_vs_direct"), ours_t, t))
                print(f"  ours={ours_val:.4f} direct_mle={val:.4f}")
                continue
            print(bench_line(case, ours_t, res["seconds"]))
            print(
                f"  ours={ours_val:.4f} {peer}={res['value']:.4f} diff={ours_val - res['value']:.2e} se={ours_val / np.sqrt(n):.3f}"
            )


def timing_overhead_twonn(n: int, D: int) -> None:
    """Fixed overhead of ``twonn`` over its work, the neighbour search it asks
    ``repgeo.neighbors.knn`` for (issue 14 item 8: at most 20 %, i.e. ratio >= 0.83), and the
    direct computation (dense NumPy distances) for scale."""
    from repgeo.neighbors import knn

    X = sample("cube", n, 5, D, np.random.default_rng(1))
    Xo = ours_input(X)
    twonn(Xo[:1000])
    _, t_ours = timed(twonn, Xo, repeat=9)
    _, t_knn = timed(knn, Xo, 2, repeat=9)
    _, t_direct = timed(direct_twonn, X, repeat=9)
    print(bench_line(tag(f"twonn_overhead_n{n}_D{D}_vs_knn"), t_ours, t_knn))
    print(bench_line(tag(f"twonn_n{n}_D{D}_vs_direct"), t_ours, t_direct))


def timing_mle(n: int, D: int, tmp: Path) -> None:
    rng = np.random.default_rng(2)
    X = sample("sphere", n, 4, D, rng)
    ours_val, ours_t = timed(levina_bickel, ours_input(X), 20, aggregate="harmonic")
    res = run_peer("skdim", X, {"est": "mle", "k": 20}, tmp)
    case = tag(f"levina_bickel_k20_n{n}_D{D}_vs_skdim")
    if "error" in res:
        print(f"# skdim unavailable: {res['error']}; no direct anchor timed for k=20")
        return
    print(bench_line(case, ours_t, res["seconds"]))
    print(
        f"  ours={ours_val:.4f} skdim={res['value']:.4f} diff={ours_val - res['value']:.2e} se={ours_val / np.sqrt(n):.3f}"
    )


def timing_coding(m: int, d: int, n_classes: int) -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, n_classes, m)
    Z = rng.standard_normal((m, d)) + 2 * rng.standard_normal((n_classes, d))[y]
    Zo = ours_input(Z)
    coding_rate(Zo[:10])  # warm-up
    repeat = 9 if m * d <= 1 << 20 else 1
    ours_val, ours_t = timed(coding_rate_reduction, Zo, y, repeat=repeat)
    anchor_val, anchor_t = timed(direct_delta_r, Z, y, repeat=repeat)
    print(bench_line(tag(f"delta_r_m{m}_d{d}_k{n_classes}_vs_direct"), ours_t, anchor_t))
    print(
        f"  ours={ours_val:.8f} direct={anchor_val:.8f} rel_diff={(ours_val - anchor_val) / abs(anchor_val):.1e}"
    )


def main(argv: list[str] | None = None) -> int:
    global DEVICE
    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    device = device_or_skip(args.device, "benchmarks/coding_id.py")
    if device is None:
        return 0
    DEVICE = device
    print(f"# ours on {DEVICE}; peers and direct anchors on the CPU")
    n_values = 1000 if args.quick else 5000
    n_time = 5000 if args.quick else 100_000
    for name, py in PEERS.items():
        state = "found" if py.exists() else "MISSING (make peers builds it)"
        print(f"# peer {name}: {state} ({py})")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        values_table(n_values, tmp, SAMPLES[1:3] if args.quick else SAMPLES)
        timing_twonn(n_time, 20, tmp)
        timing_mle(n_time, 20, tmp)
        # representation-like ambient dimension: scikit-dimension switches to dense sorted
        # distance rows above D = 25, DADApy to scikit-learn's brute-force search
        timing_twonn(2000 if args.quick else 20_000, 100, tmp, methods=("mle",))
    # small sizes (a loop over layers × checkpoints): fixed overhead against the work
    timing_overhead_twonn(2000, 100)
    if args.quick:
        timing_coding(2000, 64, 10)
        timing_coding(500, 1024, 10)
    else:
        timing_coding(2000, 64, 10)
        timing_coding(100_000, 128, 10)
        timing_coding(2000, 2048, 20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
