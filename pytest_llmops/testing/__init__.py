"""Test helpers for pytest-llmops users: a scripted LLM HTTP server."""

from __future__ import annotations

from .rules import (
    FAULTS,
    Endpoint,
    Fault,
    Matcher,
    RecordedRequest,
    ReplyFn,
    Rule,
    ScriptedToolCall,
    TokenLogprob,
    UsageOverride,
)
from .server import DEFAULT_MODELS, DEFAULT_REPLY, ScriptedLLMServer
from .text import EMBEDDING_DIMENSIONS, HUGE_REPLY_CHARS, count_tokens, embed, tokenize
from .wire import MESSAGE_OVERHEAD_TOKENS

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
    "ScriptedToolCall",
    "TokenLogprob",
    "UsageOverride",
    "count_tokens",
    "embed",
    "tokenize",
]
