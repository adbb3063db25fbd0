"""Jinja2 rendering in the sandbox, and the rendered prompt that providers send.

Templates render in Jinja2's immutable sandbox with undefined variables as errors. Variable
values are data: a value containing ``{{ ... }}`` is inserted as text and never rendered again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.meta
import jinja2.sandbox

from ..results import Message

__all__ = ["RenderedPrompt", "compile_template", "render_template", "template_variables"]


class _Environment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """Sandboxed, strict, and without autoescaping (prompts are not HTML)."""


_ENV = _Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render_template(source: str, variables: Mapping[str, Any]) -> str:
    """Render one template string; plain strings skip Jinja entirely."""
    if "{" not in source:
        return source
    return compile_template(source).render(variables)


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
