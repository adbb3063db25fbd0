"""One-line Python expressions in suites: ``len(output) < 200``, ``json.loads(output)["country"]``.

An expression (a ``python`` check's ``value``, or a ``transform:``) is compiled once, at
collection, and checked before it ever runs. What it may use:

- the names it is given (``output``, ``vars``, ``expected``, ``context``), literals,
  comprehensions, conditional expressions, lambdas, f-strings, operators and item access;
- these builtins: ``abs all any bool chr dict divmod enumerate filter float frozenset int
  isinstance len list map max min next ord range repr reversed round set sorted str sum tuple
  zip``;
- ``json`` (``loads``, ``dumps``), ``re`` (``search match fullmatch findall finditer sub subn
  split escape compile`` and the flags) and ``math`` (its functions and constants), each a
  plain namespace holding those functions, not the module.

What it may not: statements of any kind (so no ``import``, assignment or ``del``), any name or
attribute starting with ``_`` (no ``__class__``, ``__globals__``, ``__import__``), the frame,
code and generator attributes (``gi_frame``, ``f_globals``, ``co_code``, ...), ``mro``,
``format`` and ``format_map`` (which reach attributes from a string), ``await`` and ``yield``,
and any name it is not given. ``*``, ``**`` and ``<<`` may build at most ``MAX_SIZE`` items
or digits, ``range`` at most ``MAX_SIZE`` items in one evaluation.

Why that is safe enough: an expression is written by the suite's author, who can already run
any Python through a ``python: module:function`` check; the restrictions are not a sandbox
against that author, but keep a one-line check what it claims to be, a read-only function of
the case (no I/O, no imports, no reaching into the interpreter), and keep the values it reads
(model outputs, variables) data that is never evaluated. An expression can still loop for a long
time or build a large string through a method (``"x".ljust(10**8)``); time limits are not
enforced here.
"""

from __future__ import annotations

import ast
import builtins
import json
import math
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_SIZE", "Expression", "ExpressionError", "compile_expression", "looks_like_reference"]

#: Items or digits one ``*``, ``**``, ``<<`` or all the ``range`` calls of an evaluation may build.
MAX_SIZE = 10_000_000

_UNSAFE_ATTRIBUTES = frozenset({"mro", "format", "format_map"})
_UNSAFE_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "tb_", "co_", "im_", "func_")
_FORBIDDEN_NODES: dict[type[ast.AST], str] = {
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield from",
}
_REFERENCE = re.compile(
    r"^(?:file://)?(?:[\w.\\/-]+\.py|[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)(?::[A-Za-z_]\w*)?$"
)


class ExpressionError(ValueError):
    """An expression that cannot be compiled or uses something it may not."""


def looks_like_reference(text: str) -> bool:
    """``module:function``, ``file.py:function`` or ``file://file.py``: a reference, not an expression."""
    text = text.strip()
    if not _REFERENCE.match(text):
        return False
    return ":" in text.removeprefix("file://") or text.removeprefix("file://").endswith(".py")


def _namespace(name: str, module: types.ModuleType, names: list[str]) -> types.SimpleNamespace:
    namespace = types.SimpleNamespace(**{n: getattr(module, n) for n in names})
    namespace.__doc__ = f"the functions of `{name}` an expression may use"
    return namespace


_MODULES: dict[str, Any] = {
    "json": _namespace("json", json, ["loads", "dumps"]),
    "re": _namespace(
        "re",
        re,
        [
            *("search", "match", "fullmatch", "findall", "finditer", "sub", "subn", "split"),
            *("escape", "compile", "IGNORECASE", "I", "MULTILINE", "M", "DOTALL", "S"),
            *("VERBOSE", "X", "ASCII", "A"),
        ],
    ),
    "math": _namespace("math", math, [n for n in dir(math) if not n.startswith("_")]),
}
_BUILTIN_NAMES = (
    *("abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float"),
    *("frozenset", "int", "isinstance", "len", "list", "map", "max", "min", "next", "ord", "repr"),
    *("reversed", "round", "set", "sorted", "str", "sum", "tuple", "zip"),
)
_BUILTINS: dict[str, Any] = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
_HIDDEN = "__llmops_"


def _check_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise OverflowError(f"{what} would build {size} items or digits: at most {MAX_SIZE}")


def _mul(left: Any, right: Any) -> Any:
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            _check_size(len(seq) * count, "repetition with *")
    return left * right


def _pow(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
        _check_size(int(right * abs(left).bit_length() / 3.3), "the power **")
    return left**right


def _lshift(left: Any, right: Any) -> Any:
    if isinstance(left, int) and isinstance(right, int):
        _check_size(int(right / 3.3), "the shift <<")
    return left << right


_BOUNDED = {ast.Mult: ("mul", _mul), ast.Pow: ("pow", _pow), ast.LShift: ("lshift", _lshift)}


class _Bound(ast.NodeTransformer):
    """Rewrites ``a * b``, ``a ** b`` and ``a << b`` into calls of the bounded versions."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        bounded = _BOUNDED.get(type(node.op))
        if bounded is None:
            return node
        call = ast.Call(ast.Name(_HIDDEN + bounded[0], ast.Load()), [node.left, node.right], [])
        return ast.copy_location(call, node)


def _bound_names(tree: ast.AST) -> set[str]:
    """Names an expression binds itself: comprehension targets, lambda arguments, ``:=``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
    return found


def _problem(tree: ast.AST, available: frozenset[str]) -> str | None:
    local = _bound_names(tree)
    for node in ast.walk(tree):
        for kind, what in _FORBIDDEN_NODES.items():
            if isinstance(node, kind):
                return f"`{what}` is not allowed in an expression"
        if isinstance(node, ast.Attribute):
            attr = node.attr
            if attr.startswith(_UNSAFE_PREFIXES) or attr in _UNSAFE_ATTRIBUTES:
                return (
                    f"the attribute `.{attr}` is not allowed (names starting with `_`, frame and"
                    " code attributes, `mro`, `format`)"
                )
        elif isinstance(node, ast.Name):
            if node.id.startswith("_"):
                return f"the name `{node.id}` is not allowed (names starting with `_`)"
            if isinstance(node.ctx, ast.Load) and node.id not in available and node.id not in local:
                given = ", ".join(sorted(available - set(_BUILTINS) - {"range"}))
                return (
                    f"unknown name `{node.id}`; an expression may use {given} and the builtins (no imports)"
                )
        elif isinstance(node, ast.arg) and node.arg.startswith("_"):
            return f"the name `{node.arg}` is not allowed (names starting with `_`)"
        elif isinstance(node, ast.keyword) and node.arg is not None and node.arg.startswith("_"):
            return f"the keyword `{node.arg}` is not allowed (names starting with `_`)"
        elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
            spec = ast.unparse(node.format_spec)
            if re.search(r"\d{6,}", spec):
                return f"the format spec {spec!r} asks for a width of a million characters or more"
    return None


@dataclass(frozen=True, slots=True)
class Expression:
    """A checked, compiled expression."""

    source: str
    names: frozenset[str]
    code: types.CodeType

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The expression's value with ``values`` bound to its names."""
        budget = [MAX_SIZE]

        def bounded_range(*args: int) -> range:
            made = range(*args)
            budget[0] -= len(made)
            if budget[0] < 0:
                raise OverflowError(f"the ranges of this expression hold more than {MAX_SIZE} items in all")
            return made

        scope: dict[str, Any] = {
            "__builtins__": {**_BUILTINS, "range": bounded_range},
            **_MODULES,
            **{_HIDDEN + name: fn for name, fn in _BOUNDED.values()},
        }
        scope.update({name: values.get(name) for name in self.names})
        # Checked by compile_expression (see the module docstring) before it can get here.
        return eval(self.code, scope)


def compile_expression(source: str, names: frozenset[str] | set[str]) -> Expression:
    """Parse and check ``source``; ``names`` are the values it will be given."""
    text = source.strip()
    if not text:
        raise ExpressionError("the expression is empty")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        try:
            ast.parse(text, mode="exec")
        except SyntaxError:
            raise ExpressionError(f"not a Python expression: {exc.msg} (at char {exc.offset})") from None
        raise ExpressionError(
            "an inline check is one Python expression, not statements (`import`, `=`, `return`);"
            " put statements in a function in a .py file and name it `file.py:function`"
        ) from None
    available = frozenset(names) | frozenset(_MODULES) | frozenset(_BUILTINS) | {"range"}
    problem = _problem(tree, available)
    if problem is not None:
        raise ExpressionError(problem)
    bounded = ast.fix_missing_locations(_Bound().visit(tree))
    code = compile(bounded, "<expression>", "eval")
    return Expression(text, frozenset(names), code)
