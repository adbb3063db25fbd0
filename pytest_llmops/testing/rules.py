"""Rules of the scripted server (what to answer, and when) and the record of what it was asked."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Literal, get_args

__all__ = [
    "FAULTS",
    "FINISH_REASONS",
    "Endpoint",
    "Fault",
    "Matcher",
    "RecordedRequest",
    "ReplyFn",
    "Rule",
    "Script",
    "ScriptedToolCall",
    "TokenLogprob",
    "ToolCallsFn",
    "UsageOverride",
    "canonical_finish",
    "reply_text",
    "scripted_tool_calls",
]

Fault = Literal[
    "malformed_json",
    "missing_choices",
    "empty_body",
    "reset",
    "hang",
    "truncated_stream",
    "endless_stream",
    "huge",
]
"""Transport or payload faults a rule can inject."""

FAULTS: Final[tuple[str, ...]] = get_args(Fault)

Endpoint = Literal["chat", "messages", "embeddings", "azure", "responses", "gemini", "bedrock", "ollama"]
"""Endpoint families a rule can be restricted to: the `endpoint` of each registered wire format."""

Matcher = str | re.Pattern[str] | Callable[[Any], bool] | None
"""None (always), a regex searched in the last user text, or a predicate."""

ReplyFn = Callable[[Any], str]
"""Computes the reply text from the decoded request JSON."""

# Replies carry OpenAI's finish reasons; each wire format translates them to its own.
FINISH_REASONS: Final = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
# Anthropic's stop reasons are accepted too, read as the OpenAI reason they mean.
_FINISH_ALIASES: Final[Mapping[str, str]] = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
}


def canonical_finish(reason: str) -> str:
    """The OpenAI finish reason a scripted `finish_reason` stands for."""
    return _FINISH_ALIASES.get(reason, reason)


@dataclass(frozen=True, slots=True)
class UsageOverride:
    """Replaces computed token counts; None keeps the computed value.

    `input_tokens` is the whole prompt (OpenAI `prompt_tokens`); Anthropic's
    `input_tokens` is reported without the cached and cache-creation parts.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    cache_creation_tokens: int = 0


@dataclass(frozen=True, slots=True)
class ScriptedToolCall:
    """A tool call a rule answers with: OpenAI `message.tool_calls`, Anthropic `tool_use` blocks.

    `arguments` is an object, or the raw text the model wrote (which may be malformed JSON).
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    """One token of a reply with its log-probability and alternatives, served as scripted.

    A rule's `tokens` spell its reply (when it has no `reply`) and become OpenAI's
    `logprobs.content` verbatim (alternatives cut to the request's `top_logprobs`), so a test
    controls exactly how a score is tokenized: `"1"` then `"0"`, or `"3"` beside `" 3"`.
    """

    token: str
    logprob: float = 0.0
    top: Mapping[str, float] = field(default_factory=dict)


ToolCallsFn = Callable[[Any], Sequence[ScriptedToolCall]]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased).

    `connection` numbers the TCP connection that carried it, 1 for the first the
    server accepted: requests sharing a number came over one kept-alive connection.
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # None when the body was not JSON
    body: bytes
    connection: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """How to answer requests that match; first matching rule wins.

    `reply` is the answer text, or the error message when `status` is set.
    `times` limits how often the rule applies before it is skipped.
    `logprobs` maps candidate tokens to log-probabilities (see `wire_openai.logprob_entries`);
    `tokens` script every token instead (see `TokenLogprob`).
    `tool_calls` (or a function of the request returning them) answer with tool calls; the
    finish reason is then `tool_calls` unless `finish_reason` says otherwise.
    Rules compare by identity: two equal-looking rules count uses separately.
    """

    match: Matcher = None
    reply: str | ReplyFn | None = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fault: Fault | None = None
    times: int | None = None
    usage: UsageOverride | None = None
    finish_reason: str | None = None
    model: str | None = None
    logprobs: Mapping[str, float] | None = None
    chunk_delay: float = 0.0
    error_type: str | None = None
    endpoint: Endpoint | None = None
    tool_calls: Sequence[ScriptedToolCall] | ToolCallsFn = ()
    tokens: Sequence[TokenLogprob] | None = None

    def __post_init__(self) -> None:
        """Validate eagerly so a typo fails at setup, not mid-request."""
        if isinstance(self.match, str):
            try:
                object.__setattr__(self, "match", re.compile(self.match))
            except re.error as exc:
                raise ValueError(f"invalid match pattern {self.match!r}: {exc}") from exc
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error code 400-599, got {self.status}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")
        if self.delay < 0 or self.chunk_delay < 0:
            raise ValueError("delay and chunk_delay must be >= 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.finish_reason is not None and canonical_finish(self.finish_reason) not in FINISH_REASONS:
            raise ValueError(f"unknown finish_reason {self.finish_reason!r}")
        if self.endpoint is not None and self.endpoint not in get_args(Endpoint):
            raise ValueError(f"unknown endpoint {self.endpoint!r}")
        if self.logprobs is not None:
            if not self.logprobs or any(v > 0 for v in self.logprobs.values()):
                raise ValueError("logprobs must be a non-empty mapping of values <= 0")
            object.__setattr__(self, "logprobs", MappingProxyType(dict(self.logprobs)))
        if self.tokens is not None:
            if not self.tokens or self.logprobs is not None:
                raise ValueError("tokens must be non-empty, and cannot be combined with logprobs")
            for entry in self.tokens:
                if entry.logprob > 0 or any(v > 0 for v in entry.top.values()):
                    raise ValueError(f"token {entry.token!r}: log-probabilities must be <= 0")
            object.__setattr__(self, "tokens", tuple(self.tokens))
        if not callable(self.tool_calls):
            object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        # Copy so later mutation of the caller's dict cannot change the rule.
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    def matches(self, text: str, request_json: Any) -> bool:
        """Whether this rule applies to a request with last user text `text`."""
        if self.match is None:
            return True
        if isinstance(self.match, re.Pattern):
            return self.match.search(text) is not None
        if callable(self.match):
            return bool(self.match(request_json))
        return False  # pragma: no cover - __post_init__ compiled str patterns


def scripted_tool_calls(rule: Rule | None, payload: Any) -> tuple[ScriptedToolCall, ...]:
    """The tool calls `rule` answers `payload` with (none without a rule)."""
    if rule is None:
        return ()
    calls = rule.tool_calls(payload) if callable(rule.tool_calls) else rule.tool_calls
    return tuple(calls)


def reply_text(rule: Rule | None, payload: Any, default: str) -> str:
    """The text `rule` answers `payload` with (its error message when it has a status)."""
    if rule is None or rule.reply is None:
        return default
    if isinstance(rule.reply, str):
        return rule.reply
    return str(rule.reply(payload))


class _RuleSlot:
    """A rule plus its mutable use counter (kept out of the frozen Rule)."""

    __slots__ = ("rule", "used")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.used = 0

    def exhausted(self) -> bool:
        return self.rule.times is not None and self.used >= self.rule.times


class Script:
    """One server's rules, defaults and record, shared by its scripting API and its handler threads."""

    def __init__(self, default_reply: str, models: Sequence[str]) -> None:
        self.default_reply = default_reply
        self.models: tuple[str, ...] = tuple(models)
        self._lock = threading.Lock()
        self._slots: list[_RuleSlot] = []
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._ids = itertools.count(1)

    def add(self, rule: Rule) -> None:
        """Append `rule`; earlier rules take precedence."""
        with self._lock:
            self._slots.append(_RuleSlot(rule))

    def clear(self) -> None:
        """Forget all rules, recorded requests and recorded errors."""
        with self._lock:
            self._slots.clear()
            self._requests.clear()
            self._errors.clear()

    @property
    def rules(self) -> tuple[Rule, ...]:
        with self._lock:
            return tuple(slot.rule for slot in self._slots)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        with self._lock:
            return list(self._errors)

    def uses(self, rule: Rule) -> int:
        with self._lock:
            return sum(slot.used for slot in self._slots if slot.rule is rule)

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def next_id(self) -> str:
        """A fresh serial for response and request ids, unique within this server."""
        return f"{next(self._ids):012d}"

    def select(self, endpoint: str, text: str, request_json: Any) -> Rule | None:
        """The first rule left that applies, counting the use; None when no rule does."""
        with self._lock:
            slots = list(self._slots)
        for slot in slots:
            rule = slot.rule
            if slot.exhausted() or (rule.endpoint is not None and rule.endpoint != endpoint):
                continue
            # User predicates run unlocked so they may call back into the server.
            if not rule.matches(text, request_json):
                continue
            with self._lock:
                # Re-check: a concurrent request may have used the last turn.
                if slot.exhausted():
                    continue
                slot.used += 1
            return rule
        return None
