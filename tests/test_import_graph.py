"""The packages' import graph, read from the source (every import, those made inside functions
and those for type checking only included): no cycle anywhere; training imports neither
functions nor local, and functions (what is deployed) never imports local."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("training", "functions", "local")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            if "versions" in path.parts:  # Alembic's migrations are loaded by Alembic alone
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imported(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project's modules a file imports (a package's name stands for its __init__)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if name in known)


GRAPH = {name: set(imported(path, modules())) - {name} for name, path in modules().items()}


def test_no_module_imports_itself_back() -> None:
    try:
        tuple(TopologicalSorter(GRAPH).static_order())
    except CycleError as cycle:
        pytest.fail(f"an import cycle: {' -> '.join(cycle.args[1])}")


@pytest.mark.parametrize(
    ("package", "never"), [("training", ("functions", "local")), ("functions", ("local",))]
)
def test_what_a_package_never_imports(package: str, never: tuple[str, ...]) -> None:
    crossing = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if name.split(".")[0] == package
        for target in targets
        if target.split(".")[0] in never
    )
    assert crossing == []


def test_the_graph_is_read() -> None:
    assert "functions.retraining" in GRAPH["functions.instance"]
    assert "training.schedule" in GRAPH["functions.retraining"]
