"""The package's shape: imports flow one way (no cycles, services never import the facade), modules stay small.

Every ``import`` of a fastdos module counts, including the ones inside functions (a lazy import that points
back up is still a cycle, only hidden); imports under ``if TYPE_CHECKING:`` do not, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fastdos"

# The facade and the entry points above it: the only modules allowed to import fastdos.backend.
ABOVE_THE_FACADE = {"fastdos", "fastdos.cli", "fastdos.demo", "fastdos.generate", "fastdos.alembic_cli"}
MAX_LINES = 520


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("fastdos"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("fastdos"):
                found.add(target)
                # ``from . import db`` imports the submodule db.
                found.update(f"{target}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(path, name) if target in modules and target != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = [0]

    def strongconnect(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)
    return result


def _without_package_inits(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A submodule importing a sibling through its package's ``__init__`` is not a cycle of the package."""
    return {
        name: {t for t in targets if not (name.startswith(t + ".") and (PACKAGE.parent / t.replace(".", "/")).is_dir())}
        for name, targets in graph.items()
    }


def test_no_import_cycles() -> None:
    assert _cycles(_without_package_inits(_graph())) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_services_never_import_the_facade() -> None:
    offenders = sorted(
        name
        for name, targets in _graph().items()
        if "fastdos.backend" in targets and name not in ABOVE_THE_FACADE and not name.startswith("fastdos.cli")
    )
    assert offenders == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(PACKAGE.parent)} has {lines} lines; split it by concern"


def test_every_public_name_resolves_and_the_package_imports_light() -> None:
    import subprocess
    import sys

    import fastdos

    for name in fastdos.__all__:
        assert getattr(fastdos, name) is not None, name
    assert "EntityTypes" in fastdos.__all__  # aiida users look for it beside Backend
    # Importing the package (which every submodule and the CLI do first) loads none of the heavy libraries.
    heavy = "('alembic', 'sqlalchemy', 'psycopg_pool')"
    code = f"import sys, fastdos; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
