"""The layering rules of docs/architecture.md and the metric registry, enforced.

Layers: base → analysis → orchestration. A module may import from its own layer and the layers
below it, never above; the analysis layer never imports matplotlib. The registry is the single
source of docs/metrics.md.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import repgeo

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "repgeo"

BASE = {"_validation", "_backend", "_io", "_progress", "_typing", "neighbors", "features"}
ANALYSIS = {"data", "models", "geometry", "hashing", "latent", "diffusion", "coding", "dimension"}
# orchestration, bottom to top: each may import those before it, never those after it
ORCHESTRATION = ["plots", "report", "runs", "panels", "studies", "sweep", "cli"]


def _top(module: str) -> str:
    """``repgeo.geometry.metric`` -> ``geometry``; ``repgeo`` -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path, module: str) -> list[tuple[str, int]]:
    """Absolute names imported by a module file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                if node.module is None:  # from . import x
                    out += [(f"{name}.{a.name}", node.lineno) for a in node.names]
                    continue
            else:
                name = node.module or ""
            out.append((name, node.lineno))
    return out


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _layer(top: str) -> tuple[str, int]:
    if top in BASE:
        return "base", 0
    if top in ANALYSIS:
        return "analysis", 1
    if top in ORCHESTRATION:
        return "orchestration", 2 + ORCHESTRATION.index(top)
    return "root", 100


def test_every_module_belongs_to_a_layer():
    tops = {_top(m) for m, _ in _modules()} - {""}
    unknown = tops - BASE - ANALYSIS - set(ORCHESTRATION) - {"__main__"}
    assert not unknown, f"modules outside the documented layers: {sorted(unknown)}"


def test_imports_follow_the_layers():
    violations = []
    for module, path in _modules():
        top = _top(module)
        if not top:
            continue
        kind, rank = _layer(top)
        for name, line in _imports(path, module):
            if kind == "analysis" and name.split(".")[0] == "matplotlib":
                violations.append(f"{module}:{line} imports matplotlib (analysis layer)")
            if not name.startswith("repgeo.") or name == "repgeo":
                continue
            other = _top(name)
            if other == top or not other:
                continue
            okind, orank = _layer(other)
            if orank > rank and not (kind == okind == "base"):
                violations.append(f"{module}:{line} ({kind}) imports {name} ({okind})")
            elif kind == "base" and okind != "base":
                violations.append(f"{module}:{line} (base) imports {name} ({okind})")
    assert not violations, "layering violations:\n" + "\n".join(violations)


def test_analysis_layer_imports_without_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import repgeo.data, repgeo.models, repgeo.geometry, repgeo.hashing, repgeo.latent, "
        "repgeo.diffusion, repgeo.coding, repgeo.dimension\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib' "
        "or m.startswith(('repgeo.runs', 'repgeo.report', 'repgeo.plots', 'repgeo.studies', "
        "'repgeo.panels')))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert r.returncode == 0, f"importing the analysis layer loaded: {r.stdout}{r.stderr}"


def test_lazy_subpackages_and_py_typed():
    assert (SRC / "py.typed").exists()
    for name in ("geometry", "hashing", "latent", "diffusion", "coding", "dimension", "plots"):
        mod = getattr(repgeo, name)
        assert mod is importlib.import_module(f"repgeo.{name}")
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        repgeo.nope  # noqa: B018


def test_docs_metrics_is_generated_from_the_registry():
    from repgeo.runs.registry import metrics_markdown
    from repgeo.studies import list_studies

    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    assert text == metrics_markdown(list_studies()), (
        "docs/metrics.md differs from the registry: run `repgeo metrics --markdown > docs/metrics.md`"
    )


def test_every_registered_key_is_written_by_a_stage_and_every_stage_key_is_registered():
    from repgeo.runs.registry import BUILTIN, REGISTRY
    from repgeo.studies import list_studies

    declared = {k for s in list_studies().values() for k in s.metric_keys}
    assert declared <= set(REGISTRY)
    unused = BUILTIN - declared
    assert not unused, f"registered keys no stage declares: {sorted(unused)}"


def test_registry_rejects_bad_values():
    from repgeo.runs.registry import REGISTRY

    spec = REGISTRY["hashing.one_shot_ci"]
    spec.check({"manifold": {"trained": [0.5, 0.7]}})
    for bad in ({"manifold": {"trained": 0.5}}, {"manifold": [0.5, 0.7]}, [0.5]):
        with pytest.raises(ValueError, match="hashing.one_shot_ci"):
            spec.check(bad)
    with pytest.raises(ValueError, match="NaN"):
        REGISTRY["diffusion.dse"].check({"m": {"0": float("nan")}})
    assert REGISTRY["diffusion.dse"].check({"m": {"0": None}}) is None  # null = undefined


def test_metric_refuses_undeclared_and_malformed(tmp_path):
    import torch

    from repgeo.runs import RunContext

    ctx = RunContext(
        tmp_path,
        config={},
        seed=0,
        quick=False,
        device=torch.device("cpu"),
        stage="s",
        metrics=("diffusion.dse",),
    )
    with pytest.raises(ValueError, match="not declared in repgeo.runs.registry"):
        ctx.metric("diffusion.nonsense", 1.0)
    with pytest.raises(ValueError, match="declares only"):
        ctx.metric("diffusion.dsmi", {"m": {"0": 1.0}})
    with pytest.raises(ValueError, match="object keyed by epoch"):
        ctx.metric("diffusion.dse", {"m": 1.0})
    ctx.metric("diffusion.dse", {"m": {"0": 1.0}})
    ctx.metric("diffusion.dse", {"m": {"5": 2.0}})
    assert ctx.metrics == {"diffusion.dse": {"m": {"0": 1.0, "5": 2.0}}}


def test_study_modules_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (SRC / "studies").glob("*.py")}
    big = {k: v for k, v in sizes.items() if v > 650}
    assert not big, f"study modules over ~600 lines (move analysis to the analysis layer): {big}"


def test_all_modules_import():
    for info in pkgutil.walk_packages(repgeo.__path__, prefix="repgeo."):
        importlib.import_module(info.name)
