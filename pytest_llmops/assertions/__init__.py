"""Assertions: the registry that maps a YAML ``type:`` to its check, and the built-in types."""

from __future__ import annotations

from . import heuristics as heuristics  # registers the built-in heuristic types
from . import judges as judges  # registers the LLM-judged types
from . import similarity as similarity  # registers `similar`
from .registry import (
    AssertionContext,
    AssertionFactory,
    AssertionRegistry,
    Check,
    PreparedAssertion,
    default_registry,
    register_assertion,
)

__all__ = [
    "AssertionContext",
    "AssertionFactory",
    "AssertionRegistry",
    "Check",
    "PreparedAssertion",
    "default_registry",
    "register_assertion",
]
