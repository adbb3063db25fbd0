"""YAML loading that remembers the line of every key, so errors can point at it.

Parsing uses libyaml (``CSafeLoader``) when available; the node tree it composes carries the
marks we turn into a map from a data path such as ``("tests", 2, "assert", 0)`` to a line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ..errors import SuiteError

try:  # libyaml is about 10x faster; fall back to pure Python where it was not built
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the platform's PyYAML build
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

__all__ = ["LineMap", "load_yaml", "load_yaml_file"]

DataPath = tuple[str | int, ...]


class LineMap:
    """Lines (1-based) of the keys and items of a YAML document."""

    __slots__ = ("_lines",)

    def __init__(self, lines: dict[DataPath, int] | None = None) -> None:
        self._lines = lines or {}

    def line(self, path: Sequence[object]) -> int | None:
        """The line of ``path``, or of its longest prefix that has one."""
        parts = tuple(p for p in path if isinstance(p, (str, int)))
        while parts:
            found = self._lines.get(parts)
            if found is not None:
                return found
            parts = parts[:-1]
        return self._lines.get((), None)


#: Nodes a document may expand to through aliases: far above any real suite, far below a
#: "billion laughs" document whose aliases multiply until memory runs out.
MAX_NODES = 200_000


class _ShapeError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _walk(root: yaml.Node, lines: dict[DataPath, int]) -> None:
    """Note the line of every key and item; refuse aliases that loop or explode.

    Iterative, so deep nesting cannot exhaust Python's stack.
    """
    stack: list[tuple[yaml.Node, DataPath, frozenset[int]]] = [(root, (), frozenset())]
    visited = 0
    while stack:
        node, path, above = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            raise _ShapeError(f"the document expands to more than {MAX_NODES} values (aliases?)", 1)
        if id(node) in above:
            raise _ShapeError("an alias refers to a collection that contains it", node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            children = [
                ((*path, key.value), key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode)
            ]
        elif isinstance(node, yaml.SequenceNode):
            children = [((*path, index), item, item) for index, item in enumerate(node.value)]
        else:
            continue
        inside = above | {id(node)}
        for child_path, marker, _ in children:  # a repeated key: the last one wins, as in the data
            lines[child_path] = marker.start_mark.line + 1
        stack.extend((child, child_path, inside) for child_path, _, child in reversed(children))


def load_yaml(text: str, path: object) -> tuple[Any, LineMap]:
    """Parse one YAML document; syntax errors become a ``SuiteError`` with the line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap()
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        if mark is not None and mark.index < len(text) and text[mark.index] == "\t":
            context += "; a tab: YAML indents with spaces"
        raise SuiteError(f"invalid YAML: {problem}{context}", path=path, line=line) from None
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {exc}", path=path) from None
    except Exception as exc:  # PyYAML's constructors raise plain errors: `!!int ;`, `!!float`
        problem = f"invalid YAML: a value cannot be read ({type(exc).__name__}: {exc})"
        raise SuiteError(problem, path=path) from None
    finally:
        loader.dispose()
    lines: dict[DataPath, int] = {(): node.start_mark.line + 1}
    try:
        _walk(node, lines)
    except _ShapeError as exc:
        raise SuiteError(f"invalid YAML: {exc}", path=path, line=exc.line) from None
    return data, LineMap(lines)


def load_yaml_file(path: Path) -> tuple[Any, LineMap]:
    """Read and parse a YAML file, naming the file in every error."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise SuiteError(f"cannot read file: {exc.strerror}", path=path) from None
    return load_yaml(text, path)
