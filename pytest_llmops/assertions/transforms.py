"""``transform:``: what the assertions see, made from the output before they run.

A transform is written on the suite's ``defaults``, on a case (which replaces the default), or
on one assertion (applied after the case's, for that assertion only). It is a one-line Python
expression over ``output``, ``vars``, ``expected`` and ``context`` (``json.loads(output)``,
``output.strip().removeprefix("Answer:")``), checked like a ``python`` check's expression, or a
function named ``module:function`` / ``file.py:function``, called as ``fn(output, context)``.

The value it returns is what the assertions check: text as it is, anything else (a parsed
object) as its JSON text for the text checks, and as the object itself for ``python`` checks.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .expressions import ExpressionError, compile_expression
from .functions import FunctionRefError, load_function

__all__ = ["TRANSFORM_NAMES", "Transform", "TransformError", "as_text", "compile_transform"]

TRANSFORM_NAMES = frozenset({"output", "vars", "expected", "context"})
_EXAMPLE = "transform: 'json.loads(output)' or transform: 'checks.py:clean'"


class TransformError(ValueError):
    """A transform that cannot be used; the message says what to write."""


def as_text(value: Any) -> str:
    """How the text checks see a transformed value: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)


@dataclass(frozen=True, slots=True)
class Transform:
    """A compiled transform; ``apply`` runs it (and lets its exceptions through)."""

    source: str
    run: Callable[[Any, Any], Any]

    def apply(self, value: Any, context: Any) -> Any:
        """The transformed value of ``value``; ``context`` is the assertion context."""
        return self.run(value, context)


def _looks_like_function(text: str) -> bool:
    target, sep, name = text.strip().removeprefix("file://").rpartition(":")
    if text.strip().startswith("file://"):
        return True
    operators = set("()[]{}\"'=<>!+*,%&|^~ ")
    return bool(sep and target and name.isidentifier() and not operators & set(target))


def compile_transform(source: str, base_dir: Path) -> Transform:
    """Check ``source`` and compile it; raises ``TransformError``."""
    text = source.strip()
    if _looks_like_function(text):
        try:
            fn, _ = load_function(text, base_dir, arguments=("output", "context"), example=_EXAMPLE)
        except FunctionRefError as exc:
            raise TransformError(str(exc)) from None
        return Transform(text, lambda value, context: fn(value, context))
    try:
        expression = compile_expression(text, TRANSFORM_NAMES)
    except ExpressionError as exc:
        raise TransformError(f"{exc}; e.g. {_EXAMPLE}") from None

    def run(value: Any, context: Any) -> Any:
        names = {
            "output": value,
            "vars": getattr(context, "vars", {}),
            "expected": getattr(context, "expected", None),
            "context": context,
        }
        return expression.evaluate(names)

    return Transform(text, run)
