"""Jinja2 rendering in the sandbox, and the rendered prompt that providers send.

Templates render in Jinja2's immutable sandbox with undefined variables as errors. Variable
values are data: a value containing ``{{ ... }}`` is inserted as text and never rendered again.

Rendering is bounded, so a template cannot hang a run or exhaust its memory: the output of one
template is at most ``MAX_OUTPUT`` characters, repetition (``*``, ``**``) and padding filters
may not build more, ranges hold at most Jinja's 100,000 items and all the ranges of one render
at most ``MAX_RANGE_ITEMS``, and recursion ends at Python's limit. Each bound is a
``RenderLimitError`` naming the limit; the prompt turns it into the case's error.
"""

from __future__ import annotations

import contextvars
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.filters
import jinja2.meta
import jinja2.sandbox

from ..results import Message

__all__ = [
    "MAX_OUTPUT",
    "MAX_RANGE_ITEMS",
    "RenderLimitError",
    "RenderedPrompt",
    "compile_template",
    "render_template",
    "template_variables",
]

#: Characters one template may render to (a prompt of a million characters is far past any model).
MAX_OUTPUT = 1_000_000
#: Items all the ``range()`` calls of one render may hold together (nested loops multiply).
MAX_RANGE_ITEMS = 1_000_000


class RenderLimitError(jinja2.TemplateError):
    """A template went past one of the rendering bounds (see the module docstring)."""


_range_budget: contextvars.ContextVar[list[int]] = contextvars.ContextVar("llmops_range_budget")


def _bounded_range(*args: int) -> range:
    made = range(*args)
    if len(made) > jinja2.sandbox.MAX_RANGE:
        raise RenderLimitError(f"range() of {len(made)} items: at most {jinja2.sandbox.MAX_RANGE}")
    budget = _range_budget.get(None)
    if budget is not None:
        budget[0] -= len(made)
        if budget[0] < 0:
            raise RenderLimitError(
                f"the ranges of this template hold more than {MAX_RANGE_ITEMS} items in all"
            )
    return made


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise RenderLimitError(f"{what} would build {size} characters or items: at most {MAX_OUTPUT}")


def _width(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _center(value: str, width: int = 80) -> str:
    _check_size(_width(width), "center()")
    return jinja2.filters.do_center(value, width)


def _indent(s: str, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    _check_size(_width(width) * max(1, str(s).count("\n") + 1), "indent()")
    return jinja2.filters.do_indent(s, width, first, blank)


class _Environment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """Sandboxed, strict, bounded, and without autoescaping (prompts are not HTML)."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                    _check_size(len(seq) * count, "repetition with *")
            return operator.mul(left, right)
        if isinstance(left, int) and isinstance(right, int) and right > 0:
            _check_size(int(right * max(1, abs(left)).bit_length() / 3.3), "the power **")
        return operator.pow(left, right)


_ENV = _Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
_ENV.globals["range"] = _bounded_range
_ENV.filters["center"] = _center
_ENV.filters["indent"] = _indent


@lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render_template(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template string within the bounds; plain strings skip Jinja entirely."""
    if "{" not in source:
        return source
    token = _range_budget.set([MAX_RANGE_ITEMS])
    try:
        parts: list[str] = []
        size = 0
        for piece in compile_template(source).generate(variables):
            size += len(piece)
            if size > MAX_OUTPUT:
                raise RenderLimitError(f"the template renders to more than {MAX_OUTPUT} characters")
            parts.append(piece)
        return "".join(parts)
    except RecursionError:
        raise RenderLimitError("the template recurses without end (a macro that calls itself?)") from None
    except OverflowError as exc:  # the sandbox's own range() limit, or a number too large
        raise RenderLimitError(str(exc)) from None
    finally:
        _range_budget.reset(token)


def template_variables(source: str) -> frozenset[str]:
    """The variables a template reads."""
    if "{" not in source:
        return frozenset()
    return frozenset(jinja2.meta.find_undeclared_variables(_ENV.parse(source)))


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """Messages ready to send, with the model and parameters the prompt file asked for."""

    messages: tuple[Message, ...]
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    name: str | None = None
    version: str | None = None
    #: The values the templates were rendered with (an application under test may need them).
    variables: Mapping[str, Any] = field(default_factory=dict)

    def to_messages(self) -> list[dict[str, str]]:
        """Messages in the ``[{"role": ..., "content": ...}]`` shape every SDK accepts."""
        return [m.to_dict() for m in self.messages]

    @property
    def system(self) -> str | None:
        """The system messages joined, for APIs that take the system prompt apart."""
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None
