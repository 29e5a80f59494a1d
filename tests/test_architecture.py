"""The package's structure: no import circles, and a kind is one file.

The import graph is read from the source with ``ast`` — every ``import`` counts, also the
ones inside functions and under ``if TYPE_CHECKING:`` — because an import circle held
together by function-level imports is still a circle: the modules cannot be understood,
tested or changed one at a time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import SRC

PACKAGE = SRC / "netspec"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: set[str]
) -> set[str]:
    """The modules of ``modules`` that one import statement in ``module`` depends on."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    if node.level == 0:
        base = node.module or ""
    else:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join([*parts, *([node.module] if node.module else [])])
    # 'from pkg import sub' depends on the submodule; 'from pkg import name' on pkg.
    subs = {f"{base}.{alias.name}" for alias in node.names}
    found = subs & modules
    if subs - modules and base in modules:
        found.add(base)
    return found - {module}


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, anywhere in its source."""
    paths = _modules()
    names = set(paths)
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[name] |= _targets(node, name, path.name == "__init__.py", names)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_package_has_no_import_circle() -> None:
    found = circles(import_graph())
    assert not found, "import circles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_checker_sees_imports_inside_functions_and_type_checking() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .b import B\n"
        "def f():\n    from . import c\n"
    )
    modules = {"netspec", "netspec.a", "netspec.b", "netspec.c"}
    found = {
        target
        for node in ast.walk(ast.parse(source))
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for target in _targets(node, "netspec.a", False, modules)
    }
    assert found == {"netspec.b", "netspec.c"}
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_blocks_import_only_the_block_api() -> None:
    """A kind's file reaches the rest of netspec through ``blocks.api`` alone."""
    graph = import_graph()
    kinds = [m for m in graph if m.startswith("netspec.blocks.") and m.count(".") == 2]
    infrastructure = {"netspec.blocks.api", "netspec.blocks.registry"}
    for module in set(kinds) - infrastructure:
        lazy_runtime = {"netspec.modules"}  # nn.Module classes, imported inside builders
        assert graph[module] - lazy_runtime <= {"netspec.blocks.api"}, module
    assert "netspec.compiler" not in graph["netspec.blocks.api"]
