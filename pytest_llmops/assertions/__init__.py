"""Assertions: the registry that maps a YAML ``type:`` to its check, and the built-in types."""

from __future__ import annotations

# Importing the modules registers the built-in types.
from . import json_output as json_output  # is-json, contains-json, json-schema
from . import judges as judges  # the LLM-judged types
from . import measure as measure  # latency, ttft, cost, tokens
from . import python as python  # python
from . import similarity as similarity  # similar
from . import text as text  # equals, contains..., regex, lengths, levenshtein
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
