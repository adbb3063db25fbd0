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


#: How far aliases may multiply a document: its values after expansion may number at most this
#: many times those written, plus ``ALIAS_SLACK``. A suite that reuses a block of defaults in
#: every case stays far below; a "billion laughs" document, whose aliases multiply until memory
#: runs out, is refused before anything walks it. A large suite without aliases is never refused.
ALIAS_FACTOR = 10
ALIAS_SLACK = 100_000
#: Merge keys (``<<: *defaults``) may repeat; any other repeated key is an error.
_MERGE_KEY = "<<"


class _ShapeError(ValueError):
    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases loop, or expand it far beyond what was written.

    One pass over the node graph as composed (an alias is the same node object reached twice),
    iterative so deep nesting cannot exhaust Python's stack: each node's expanded size is known
    from its children's, whatever their number of references.
    """
    size: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(child)] for child in _children(node))
            continue
        if key in size:
            continue
        if key in on_path:
            raise _ShapeError("an alias refers to a collection that contains it", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) in on_path:
                raise _ShapeError(
                    "an alias refers to a collection that contains it", child.start_mark.line + 1
                )
            if id(child) not in size:
                stack.append((child, False))
    written = len(size)
    limit = written * ALIAS_FACTOR + ALIAS_SLACK
    if size[id(root)] > limit:
        raise _ShapeError(f"the document expands to more than {limit} values (aliases?)", 1)


def _walk(root: yaml.Node, lines: dict[DataPath, int]) -> None:
    """Note the line of every key and item; a key written twice in one mapping is an error.

    Runs after ``_check_expansion``, so what it visits is bounded; iterative, for deep nesting.
    """
    stack: list[tuple[yaml.Node, DataPath]] = [(root, ())]
    checked: set[int] = set()
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            if id(node) not in checked:
                checked.add(id(node))
                _check_duplicate_keys(node)
            children = [
                ((*path, key.value), key, value)
                for key, value in node.value
                if isinstance(key, yaml.ScalarNode)
            ]
        elif isinstance(node, yaml.SequenceNode):
            children = [((*path, index), item, item) for index, item in enumerate(node.value)]
        else:
            continue
        for child_path, marker, _ in children:
            lines[child_path] = marker.start_mark.line + 1
        stack.extend((child, child_path) for child_path, _, child in reversed(children))


def _check_duplicate_keys(node: yaml.MappingNode) -> None:
    """YAML keeps the last of two equal keys, silently: a second ``tests:`` would drop the first."""
    first: dict[tuple[str, str], int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == _MERGE_KEY:
            continue
        line = key.start_mark.line + 1
        seen = first.get((key.tag, key.value))
        if seen is not None:
            where = f"lines {seen} and {line}" if seen != line else f"line {line}"
            raise _ShapeError(
                f"key {key.value!r} is written twice in one mapping ({where}); YAML would keep only "
                "the second: merge the two, or rename one",
                line,
            )
        first[(key.tag, key.value)] = line


def load_yaml(text: str, path: object) -> tuple[Any, LineMap]:
    """Parse one YAML document; syntax errors become a ``SuiteError`` with the line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, LineMap()
        if "&" in text:  # no anchor, no alias: nothing can loop or multiply
            _check_expansion(node)
        data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        context = f" ({exc.context})" if exc.context else ""
        if mark is not None and mark.index < len(text) and text[mark.index] == "\t":
            context += "; a tab: YAML indents with spaces"
        raise SuiteError(f"invalid YAML: {problem}{context}", path=path, line=line) from None
    except _ShapeError as exc:
        raise SuiteError(f"invalid YAML: {exc}", path=path, line=exc.line) from None
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
