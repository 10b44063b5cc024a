"""Benchmark: vectorised N-way k-shot evaluation vs a straightforward NumPy loop over episodes.

100,000 embeddings (d = 64) of 1,000 unseen classes (100 samples each, Gaussian clusters). For each
case both implementations draw their own random episodes (same distribution) and classify queries
by the nearest cosine prototype; the mean accuracies must agree within their confidence intervals.

    .venv/bin/python benchmarks/hashing.py            # full
    .venv/bin/python benchmarks/hashing.py --quick    # 10,000 embeddings of 100 classes
    .venv/bin/python benchmarks/hashing.py --device cuda   # ours on the GPU, the loop on the CPU

Both sides run single-threaded (OpenBLAS and torch), so the ratio measures the algorithm, not the
thread count.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("REPGEO_PROGRESS", "0")

import argparse
import time

import numpy as np
import torch

from _common import add_common_args, device_or_skip, sync
from repgeo.hashing import one_shot_accuracy


def loop_one_shot(Z, y, *, n_way, k_shot, n_query, n_episodes, seed):
    """The anchor: one episode at a time, one class at a time, plain NumPy."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    members = {c: np.flatnonzero(y == c) for c in classes}
    accs = np.empty(n_episodes)
    for e in range(n_episodes):
        ways = rng.choice(classes, n_way, replace=False)
        protos, queries = [], []
        for c in ways:
            idx = rng.choice(members[c], k_shot + n_query, replace=False)
            p = Z[idx[:k_shot]] / np.linalg.norm(Z[idx[:k_shot]], axis=1, keepdims=True)
            protos.append(p.mean(0))
            queries.append(Z[idx[k_shot:]])
        P = np.array(protos)
        P /= np.linalg.norm(P, axis=1, keepdims=True)
        Q = np.concatenate(queries)
        Q = Q / np.linalg.norm(Q, axis=1, keepdims=True)
        pred = np.argmax(Q @ P.T, axis=1)
        accs[e] = np.mean(pred == np.repeat(np.arange(n_way), n_query))
    return accs


def main() -> str | None:
    ap = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    args = ap.parse_args()
    device = device_or_skip(args.device, "benchmarks/hashing.py")
    if device is None:
        return None
    torch.set_num_threads(1)
    n_classes, per_class, d = (100, 100, 64) if args.quick else (1000, 100, 64)
    scale = 10 if args.quick else 1
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(n_classes), per_class)
    Z = (rng.normal(size=(n_classes, d))[y] + 1.3 * rng.normal(size=(y.size, d))).astype(np.float32)
    print(
        f"# {Z.shape[0]:,} embeddings (d={d}) of {n_classes:,} classes; single-threaded; "
        f"ours on {device}"
    )
    Zd = Z if device == "cpu" else torch.from_numpy(Z).to(device)
    sfx = "" if device == "cpu" else f"-{device}"
    cases = [
        (f"5way-1shot{sfx}", 5, 1, 15, 10_000 // scale),
        (f"20way-5shot{sfx}", 20, 5, 15, 2_000 // scale),
        (f"{n_classes}way-1shot{sfx}", n_classes, 1, 5, 20),
    ]
    # warm-up (imports, allocator) outside the timings
    one_shot_accuracy(Zd[:500], y[:500], n_way=5, n_episodes=10)
    loop_one_shot(Z[:500], y[:500], n_way=5, k_shot=1, n_query=1, n_episodes=10, seed=0)
    for name, n_way, k, q, n_ep in cases:
        t0 = time.perf_counter()
        ours = one_shot_accuracy(
            Zd, y, n_way=n_way, k_shot=k, n_query=q, n_episodes=n_ep, random_state=1
        )
        sync(device)
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = loop_one_shot(Z, y, n_way=n_way, k_shot=k, n_query=q, n_episodes=n_ep, seed=1)
        t_ref = time.perf_counter() - t0
        print(f"BENCH {name} ours={t_ours:.4f} anchor={t_ref:.4f} ratio={t_ref / t_ours:.1f}")
        if n_way == n_classes:  # many-way episodes are GEMM-bound: time the bare score products
            Zt = torch.as_tensor(Z, device=device)
            P, Q = Zt[: n_way * k], Zt[: n_way * q]
            sync(device)
            t0 = time.perf_counter()
            for _ in range(n_ep):
                (Q @ P.T).argmax(1)
            sync(device)
            t_bound = time.perf_counter() - t0
            print(
                f"BENCH {name}-bound ours={t_ours:.4f} bound={t_bound:.4f} ratio={t_ours / t_bound:.1f}"
            )
        se = np.hypot(ours["sem"], ref.std(ddof=1) / np.sqrt(ref.size))
        diff = ours["mean"] - ref.mean()
        print(
            f"  {n_ep} episodes: accuracy ours={ours['mean']:.4f} ± {ours['sem']:.4f}, "
            f"loop={ref.mean():.4f} ± {ref.std(ddof=1) / np.sqrt(ref.size):.4f}; "
            f"difference {diff:+.4f} ({abs(diff) / se:.1f} combined SE) — "
            + ("consistent" if abs(diff) < 4 * se else "INCONSISTENT")
        )
    return device


def small_cases(device: str = "cpu") -> None:
    """Issue 14 item 8: a layer-sized case (2,000 embeddings, d = 64, 20 classes, 200 episodes)
    where fixed overhead would show; best of 7 runs each."""

    def best(fn, repeat: int = 7) -> float:
        t_best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            t_best = min(t_best, time.perf_counter() - t0)
        return t_best

    rng = np.random.default_rng(1)
    y = np.repeat(np.arange(20), 100)
    Z = rng.normal(size=(20, 64))[y] + 1.3 * rng.normal(size=(y.size, 64))
    Zd = Z if device == "cpu" else torch.from_numpy(Z).to(device)
    kw = {"n_way": 5, "k_shot": 1, "n_query": 15, "n_episodes": 200}
    t_ours = best(lambda: one_shot_accuracy(Zd, y, random_state=1, **kw))
    t_ref = best(lambda: loop_one_shot(Z, y, seed=1, **kw))
    suffix = "" if device == "cpu" else f"-{device}"
    print(
        f"BENCH 5way-1shot-small_n2000_d64{suffix} ours={t_ours:.4f} anchor={t_ref:.4f} "
        f"ratio={t_ref / t_ours:.1f}"
    )


if __name__ == "__main__":
    used = main()
    if used is not None:
        small_cases(used)
