"""The import contract, over every module found on disk (none listed by hand), counting imports inside functions:
the engine never imports the tui nor Textual, its layers import downwards only, analysis reads no store, and no
module reaches itself through its imports."""

from __future__ import annotations

import ast
import functools
import graphlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

# Lowest first: a module may import its own layer and those before it. The top's shared modules come first.
ENGINE_LAYERS = ("engine", "engine.analysis", "engine.experiments", "engine.training", "engine.store", "engine.jobs")
TUI_LAYERS = ("tui", "tui.text", "tui.views", "tui.report", "tui.app", "tui.cli")


def modules() -> dict[str, Path]:
    found = {}
    for package in ("engine", "tui"):
        for file in (REPO / package).rglob("*.py"):
            name = ".".join(file.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = file
    return found


def imported(name: str, file: Path, known: dict[str, Path]) -> set[str]:
    """The project's modules this one imports anywhere in its text, functions included."""
    targets = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert not node.level, f"{name}: use absolute imports"
            targets |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return {resolved for target in targets if (resolved := nearest(target, known)) and resolved != name}


def nearest(target: str, known: dict[str, Path]) -> str | None:
    """The module a dotted name lives in (`engine.store.runs.Store` -> `engine.store.runs`)."""
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


@functools.cache
def graph() -> dict[str, set[str]]:
    """Each module's imports of the project, read once, by the first test that asks (not at collection)."""
    known = modules()
    return {name: imported(name, file, known) for name, file in known.items()}


def layer(name: str, layers: tuple[str, ...]) -> int:
    """A module's layer: the deepest package of `layers` it is in; a top module (`engine.errors`) is the base."""
    packages = [i for i, package in enumerate(layers) if name == package or name.startswith(package + ".")]
    depth = max(packages, key=lambda i: layers[i].count("."))
    return 0 if layers[depth].count(".") == 0 else depth


@pytest.mark.parametrize("layers", [ENGINE_LAYERS, TUI_LAYERS], ids=["engine", "tui"])
def test_each_layer_imports_only_its_own_and_those_below(layers):
    upward = [f"{module} imports {target}" for module, targets in graph().items() if module.startswith(layers[0])
              for target in targets if target.startswith(layers[0]) and layer(target, layers) > layer(module, layers)]
    assert upward == []


def test_the_engine_never_imports_the_tui():
    assert [module for module, targets in graph().items()
            if module.startswith("engine") and any(t.startswith("tui") for t in targets)] == []


def test_no_module_reaches_itself_through_its_imports():
    try:
        graphlib.TopologicalSorter(graph()).prepare()
    except graphlib.CycleError as circle:
        pytest.fail(f"import circle: {' -> '.join(circle.args[1])}")


def test_analysis_reads_no_store():
    """Intervals, metrics and screening work on arrays; reading runs for them is the store's readers' job."""
    reached, todo = set(), [m for m in graph() if m.startswith("engine.analysis")]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph()[module])
    assert sorted(m for m in reached if m.startswith(("engine.store", "engine.jobs"))) == []


@pytest.mark.processes
@pytest.mark.slow
def test_the_whole_engine_loads_no_textual():
    """Every engine module imported, as Python does it (rich may appear: scikit-learn uses it for progress)."""
    names = sorted(m for m in graph() if m.startswith("engine"))
    code = (f"import importlib, sys; [importlib.import_module(m) for m in {names!r}]; "
            "print([m for m in sys.modules if m.split('.')[0] in ('textual', 'textual_plotext', 'plotext', 'tui')])")
    loaded = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_few_plain_modules_sit_at_the_top_of_each_package():
    """The rest live in sub-packages named for what they own, so the tree reads as the architecture."""
    for package in ("engine", "tui"):
        top = [f.name for f in (REPO / package).glob("*.py") if f.name != "__init__.py"]
        assert len(top) <= 8, f"{package}/ has {len(top)} modules at its top: {sorted(top)}"
