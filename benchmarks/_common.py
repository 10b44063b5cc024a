"""Shared command-line options of the benchmark scripts (``--quick``, ``--device``) and timing.

Each script runs as ``python benchmarks/<name>.py``, so this folder is first on ``sys.path`` and
``from _common import ...`` finds this module.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

DEVICES = ("cpu", "cuda")


def add_common_args(parser: argparse.ArgumentParser, *, quick_help: str = "small smoke version"):
    """Add ``--quick`` and ``--device {cpu,cuda}`` to a benchmark's parser.

    ``--device`` says where repgeo's side runs (inputs are moved there before the clock starts);
    peers and NumPy anchors stay on the CPU.
    """
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument(
        "--device",
        default="cpu",
        choices=DEVICES,
        help="where repgeo runs (default cpu); peers and direct anchors run on the CPU",
    )
    return parser


def device_or_skip(device: str, script: str) -> str | None:
    """``device`` when it can be used; ``None`` (after printing why) for ``cuda`` without a GPU,
    so that ``--device cuda`` on a CPU machine exits cleanly instead of failing."""
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print(f"# {script}: --device cuda but no CUDA device; skipped")
            return None
    return device


def sync(device: str) -> None:
    """Wait for queued GPU work before reading the clock (no-op on the CPU)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


def timed(fn, repeat: int, sync=None) -> tuple[float, float, object]:
    """Best and median wall time of ``fn()`` over ``repeat`` runs after one warm-up."""
    out = fn()
    if sync:
        sync()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t)
    return min(times), float(np.median(times)), out
