"""Test helpers for pytest-llmops users: a scripted LLM HTTP server."""

from __future__ import annotations

from pytest_llmops.testing.server import (
    DEFAULT_MODELS,
    DEFAULT_REPLY,
    EMBEDDING_DIMENSIONS,
    FAULTS,
    HUGE_REPLY_CHARS,
    MESSAGE_OVERHEAD_TOKENS,
    Endpoint,
    Fault,
    Matcher,
    RecordedRequest,
    ReplyFn,
    Rule,
    ScriptedLLMServer,
    UsageOverride,
    count_tokens,
    embed,
    tokenize,
)

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_REPLY",
    "EMBEDDING_DIMENSIONS",
    "FAULTS",
    "HUGE_REPLY_CHARS",
    "MESSAGE_OVERHEAD_TOKENS",
    "Endpoint",
    "Fault",
    "Matcher",
    "RecordedRequest",
    "ReplyFn",
    "Rule",
    "ScriptedLLMServer",
    "UsageOverride",
    "count_tokens",
    "embed",
    "tokenize",
]
