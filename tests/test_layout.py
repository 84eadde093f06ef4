"""The package is laid out along the flow of a measurement, and stays that way.

spec -> count -> time -> energy -> cost -> record -> store -> analysis -> report: no module
imports from a later stage (lazy imports inside functions included), module-level imports have
no cycles, only the CLI imports the command layer, and modules and functions stay small.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"

# Stages in flow order; a module may import its own stage and earlier ones.
FLOW = (
    "errors",
    "vocab",
    "console",
    "watchdog",
    "paths",
    "output_files",
    "user_files",
    "data",
    "catalog",
    "arch",
    "hardware",
    "counting",
    "timing",
    "energy",
    "cost",
    "pipeline",
    "launch",
    "sweep",
    "analysis",
    "present",
    "commands",
    "cli",
    "__main__",
)
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "harness" or len(parts) == 1:
        return None  # the package root (its version) belongs to no stage
    return FLOW.index(parts[1]) if parts[1] in FLOW else None


def _imports(tree: ast.AST, *, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)  # type: ignore[attr-defined]
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m.split(".")[0] == "harness"}


def test_every_package_of_the_harness_has_a_place_in_the_flow():
    tops = {name.split(".")[1] for name in MODULES if name.count(".") >= 1}
    assert tops <= set(FLOW), tops - set(FLOW)


def test_no_module_imports_from_a_later_stage():
    backwards = []
    for name, tree in TREES.items():
        mine = _stage(name)
        for target in _imports(tree, top_level_only=False):
            theirs = _stage(target)
            if mine is not None and theirs is not None and theirs > mine:
                backwards.append(f"{name} imports {target}")
    assert backwards == []


def test_only_the_cli_imports_the_command_layer():
    offenders = [
        f"{name} imports {target}"
        for name, tree in TREES.items()
        if not name.startswith(("harness.commands", "harness.cli"))
        for target in _imports(tree, top_level_only=False)
        if target.startswith("harness.commands")
    ]
    assert offenders == []


def test_module_level_imports_have_no_cycles():
    graph = {
        name: {t for t in _imports(tree, top_level_only=True) if t in MODULES and t != name}
        for name, tree in TREES.items()
    }
    # A package's __init__ is part of importing any of its modules.
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt] if nxt in stack else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_modules_stay_small():
    big = {
        name: n
        for name, path in MODULES.items()
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert big == {}


def test_functions_stay_short():
    long = []
    for name, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {n} lines")
    assert long == []


OUTSIDE = re.compile(r"shared/|MEASUREMENT\.md|STYLE\.md|DESIGN\.md|\bissue \d+\b")


@pytest.mark.parametrize("folder", ["harness", "models", "benchmarks", "tests"])
def test_comments_do_not_point_outside_the_repository(folder):
    hits = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix not in (".py", ".md", ".toml") or path == Path(__file__):
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert hits == []
