"""The ``python`` assertion: a function of the user's, or a one-line Python expression.

A function is named ``module:function``, ``file.py:function`` or ``file://file.py`` (whose
``get_assert`` is called, as promptfoo does); it is found and its signature checked at
collection, and called as ``fn(output, ctx)``. An expression (``len(output) < 200``) is
compiled and checked at collection (``expressions``). Either may return a bool, a score between
0 and 1, a dict with ``pass``, ``score`` and/or ``reason``, or a ``Grade``; anything else cannot
grade (it fails under ``not-`` too). ``output`` is what the assertion sees: the output text, or
what a ``transform:`` made of it.
"""

from __future__ import annotations

from pathlib import Path

from ..results import Grade
from ..spec.schema import AssertionSpec
from .config import assertion_type, config_error, got, number
from .expressions import ExpressionError, compile_expression
from .functions import FunctionRefError, grade_returned, load_function
from .reasons import num, truncate
from .registry import AssertionContext, Check

__all__: list[str] = []

_PYTHON_EXAMPLE = "value: 'checks.refunds:mentions_policy' or value: 'checks/refunds.py:mentions_policy'"
_EXPRESSION_EXAMPLE = "value: 'len(output) < 200'"
#: The names an inline expression is given.
_EXPRESSION_NAMES = frozenset({"output", "vars", "expected", "context"})
_EXPRESSION_CHARS = frozenset("()[]{}\"'=<>!+*,%&|^~")


def _is_reference(value: str) -> bool:
    """Whether ``value`` names a function (``module:fn``, ``file.py:fn``, ``file://x.py``).

    Anything else is an inline expression. A colon that ends ``target:identifier`` where the
    target holds no operator or bracket (which an expression would) makes a reference, so a
    misspelt module name reads as one, not as a broken expression.
    """
    text = value.strip()
    if text.startswith("file://"):
        return True
    target, sep, name = text.rpartition(":")
    if sep and target and name.isidentifier() and not text.startswith("lambda"):
        return not (_EXPRESSION_CHARS & set(target))
    return target == "" and text.endswith(".py")


def _threshold(spec: AssertionSpec) -> float:
    if spec.threshold is None:
        return 0.5
    threshold = number(spec, spec.threshold, "threshold", "threshold: 0.7")
    if not 0.0 <= threshold <= 1.0:
        raise config_error(
            spec, f"`threshold` must be between 0 and 1, e.g. threshold: 0.7; got {num(threshold)}"
        )
    return threshold


@assertion_type("python", "value", "threshold")
def _python(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """``value: module:function``, ``file.py:function`` or a one-line expression over the output.

    A function is called as fn(output, ctx); an expression sees ``output``, ``vars``,
    ``expected`` and ``context`` (see ``expressions`` for what it may use).
    """
    value = spec.value
    if not isinstance(value, str):
        raise config_error(
            spec, f"`value` must name a function, e.g. {_PYTHON_EXAMPLE}, or be an expression; {got(value)}"
        )
    threshold = _threshold(spec)
    if not _is_reference(value):
        return _expression_check(spec, value, threshold)
    try:
        fn, _ = load_function(
            value,
            base_dir,
            arguments=("output", "ctx"),
            example=_PYTHON_EXAMPLE,
            default_function="get_assert",
        )
    except FunctionRefError as exc:
        message = str(exc)
        if message.startswith("write 'module:function'"):
            message = "`value` must be 'module:function' or 'file.py:function'" + message.removeprefix(
                "write 'module:function' or 'file.py:function'"
            )
        raise config_error(spec, message) from None
    where = f"python check {value.strip()!r}"

    def check(ctx: AssertionContext) -> Grade:
        return grade_returned(fn(ctx.value, ctx), threshold, where)

    return check


def _expression_check(spec: AssertionSpec, value: str, threshold: float) -> Check:
    try:
        expression = compile_expression(value, _EXPRESSION_NAMES)
    except ExpressionError as exc:
        raise config_error(
            spec,
            "`value` must be 'module:function' or 'file.py:function', e.g. "
            f"{_PYTHON_EXAMPLE}, or a one-line Python expression, e.g. {_EXPRESSION_EXAMPLE};"
            f" got {truncate(value.strip(), 120)!r}: {exc}",
        ) from None
    where = f"python expression {truncate(expression.source, 80)!r}"

    def check(ctx: AssertionContext) -> Grade:
        names = {"output": ctx.value, "vars": ctx.vars, "expected": ctx.expected, "context": ctx}
        return grade_returned(expression.evaluate(names), threshold, where)

    return check
