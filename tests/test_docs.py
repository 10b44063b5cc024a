"""Every docstring example in the package and every ```python block in the docs runs."""

import doctest
import importlib
import os
import pkgutil
import re
from pathlib import Path

import pytest

import repgeo

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(repgeo.__path__, prefix="repgeo.")
    if not m.name.startswith("repgeo.studies.") or m.name.endswith("_common")
)
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=FLAGS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), flags=re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_markdown_python_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no python block")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REPGEO_PROGRESS", "0")
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(blocks):
        try:
            exec(compile(block, f"{path.name}[block {i}]", "exec"), namespace)
        except Exception as exc:  # pragma: no cover - the message is the point
            raise AssertionError(f"{path.name} python block {i} failed: {exc!r}\n{block}") from exc
    assert os.getcwd() == str(tmp_path)
