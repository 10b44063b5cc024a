"""The studies ``repgeo run`` knows, discovered from the modules of this package.

Each module here defines ``STUDY = repgeo.runs.Study(...)``; adding a study is adding a module.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..runs.study import Study

__all__ = ["get_study", "list_studies"]


def _discover() -> dict[str, Study]:
    found: dict[str, Study] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        study = getattr(module, "STUDY", None)
        if isinstance(study, Study):
            if study.name in found:
                raise RuntimeError(f"two modules define study {study.name!r}.")
            found[study.name] = study
    return found


def list_studies() -> dict[str, Study]:
    """All studies by name (the default study first)."""
    studies = _discover()
    return dict(sorted(studies.items(), key=lambda kv: (kv[0] != "default", kv[0])))


def get_study(name: str) -> Study:
    """The study called ``name``; an unknown name lists the valid ones."""
    studies = _discover()
    if name not in studies:
        raise ValueError(f"unknown study {name!r}; available studies: {sorted(studies)}.")
    return studies[name]
