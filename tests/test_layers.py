"""The package's layers import downward only, and only ``plugin/`` imports pytest.

Read from the source with ``ast`` (every import, at the top or inside a function), so a new
module that imports upward, or a cycle between two modules, fails here before anyone relies on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "pytest_llmops"

#: Bottom to top. A module may import its own layer and the layers below it, never above.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "results", "fileio", "settings", "testing"),
    ("spec",),
    ("prompts",),
    ("recording",),
    ("providers",),
    ("assertions",),
    ("engine",),
    ("gates",),
    ("review",),
    ("report",),
    ("importer",),
    ("plugin", "__main__"),
)
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> list[tuple[str, int]]:
    """(module imported, line) for every import of ``name``, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((target, node.lineno))
            # `from . import openai` names modules, not attributes.
            found += [
                (f"{target}.{a.name}", node.lineno) for a in node.names if f"{target}.{a.name}" in MODULES
            ]
    return found


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "pytest_llmops" or len(parts) == 1:
        return None
    return parts[1]


def test_every_module_has_a_layer() -> None:
    unplaced = {m for m in MODULES if _layer(m) is not None and _layer(m) not in RANK}
    assert not unplaced, f"add these to LAYERS: {sorted(unplaced)}"


@pytest.mark.parametrize("name", sorted(m for m in MODULES if _layer(m) is not None))
def test_imports_go_downward_and_only_the_plugin_imports_pytest(name: str) -> None:
    layer = _layer(name)
    assert layer is not None
    for target, line in _imports(name, MODULES[name]):
        where = f"{MODULES[name].relative_to(PACKAGE.parent)}:{line}"
        if target.split(".")[0] in ("pytest", "_pytest", "pluggy"):
            assert layer == "plugin", f"{where}: only plugin/ imports {target}"
        target_layer = _layer(target)
        if target_layer is None:
            continue  # the package root's lazy names, or another distribution
        assert RANK[target_layer] <= RANK[layer], f"{where}: {layer}/ imports {target}, a layer above it"


def test_no_module_imports_itself_through_a_cycle() -> None:
    graph = {
        name: {t for t, _ in _imports(name, path) if t in MODULES and t != name and _layer(t) is not None}
        for name, path in MODULES.items()
        if _layer(name) is not None
    }
    # Package faces (__init__) hand names on; their arrows are not the modules' own.
    faces = {n for n, p in MODULES.items() if p.name == "__init__.py"}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt in faces:
                continue
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state and node not in faces:
            visit(node)


def test_no_module_is_over_800_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert not long, f"split these modules: {long}"
