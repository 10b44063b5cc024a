"""Shared fixtures: quiet progress bars, a fixed torch thread count, small run configs."""

from __future__ import annotations

import os

import pytest
import torch

# The modules that define repgeo's warning classes, imported once here: pytest-xdist's controller
# imports a warning's module when a worker reports it, from one thread per worker, and two
# workers reporting warnings of one not-yet-imported module at once deadlock on its import lock
# (an INTERNALERROR seen in `make test`).
import repgeo.diffusion.entropy
import repgeo.diffusion.geodesic
import repgeo.diffusion.graph
import repgeo.geometry.metric  # noqa: F401

os.environ.setdefault("REPGEO_PROGRESS", "0")
torch.set_num_threads(1)

try:  # property-based tests: the same examples on every run (CI must not be a lottery)
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("repgeo", derandomize=True, print_blob=True)
    _hyp_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repgeo"))
except ImportError:  # pragma: no cover - hypothesis is a dev dependency
    pass


@pytest.fixture(autouse=True)
def _close_figures():
    """Close the figures a test leaves open (a worker process runs hundreds of tests)."""
    yield
    import sys

    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close("all")


HAS_CUDA = torch.cuda.is_available()

# The devices a public-API test runs on: CPU always, CUDA when there is one. Each CUDA case
# carries the ``cuda`` marker (``pytest -m cuda`` selects them: scripts/device-check.sh) and
# skips, rather than disappears, on a machine without a GPU.
DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=[pytest.mark.cuda, pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device")],
    ),
]


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each available device in turn (``cpu``; ``cuda`` when present, else skipped)."""
    return torch.device(request.param)


def pytest_collection_modifyitems(config, items):
    """Tests that exercise CUDA by name (``test_cuda_*``, ``..._cuda``) get the ``cuda`` marker
    too, so ``pytest -m cuda`` runs every GPU test of the suite, not only the parametrised ones."""
    for item in items:
        if "cuda" in item.name.lower() and item.get_closest_marker("cuda") is None:
            item.add_marker(pytest.mark.cuda)


@pytest.fixture
def rng():
    import numpy as np

    return np.random.default_rng(0)


# A tiny default-study configuration for tests (seconds, not minutes).
TINY_DEFAULT = {
    "manifold": {
        "n_classes": 8,
        "n_seen": 4,
        "n_per_class": 30,
        "n_per_class_unseen": 10,
        "ambient_dim": 30,
        "hidden": 32,
    },
    "manifold_model": {"hidden": [32, 16]},
    "manifold_train": {"epochs": 3, "checkpoints": 2},
    "digits_model": {"hidden": [32]},
    "digits_train": {"epochs": 3, "checkpoints": 2},
}


@pytest.fixture
def tiny_default():
    return TINY_DEFAULT


def default_panel_study(*panels, train=("manifold", "digits"), config=None):
    """The default study's training stages (``train``) followed by ``panels`` — how a panel is
    tested on a tiny run. ``config`` maps a panel's name to option overrides for that panel."""
    import dataclasses

    from repgeo.runs import Study, deep_merge
    from repgeo.studies import default

    config = dict(config or {})
    panels = [
        dataclasses.replace(p, config=deep_merge(p.config, config.pop(p.name)))
        if p.name in config
        else p
        for p in panels
    ]
    if config:
        raise ValueError(f"config names no panel under test: {sorted(config)}")
    wanted = {f"train_{name}" for name in train}
    stages = [s for s in default.STAGES if s.name in wanted]
    return Study(
        name="panel-test",
        summary="training stages of the default study, then the panels under test",
        stages=[*stages, *panels],
        config=default.CONFIG,
        quick=default.QUICK,
    )
