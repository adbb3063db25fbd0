"""Assertions: the registry that maps a YAML ``type:`` to its check, and the built-in types."""

from __future__ import annotations

# Importing the modules registers the built-in types.
from . import json_output as json_output  # is-json, contains-json, json-schema
from . import judges as judges  # the LLM-judged types (closedqa, answer-relevance, context-* too)
from . import measure as measure  # latency, ttft, cost, tokens
from . import moderation as moderation  # moderation (OpenAI's endpoint, recorded)
from . import overlap as overlap  # rouge-n, bleu (the [metrics] extra)
from . import python as python  # python
from . import refusal as refusal  # is-refusal
from . import similarity as similarity  # similar
from . import text as text  # equals, contains..., regex, lengths, levenshtein
from . import tools as tools  # is-valid-openai-tools-call, tool-call-f1, tool-called
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
