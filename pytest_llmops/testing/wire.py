"""The seam between HTTP plumbing and wire formats: the WireFormat protocol and what formats share.

A wire format reads the prompt text out of a request, builds its reply as a `Body`, a `Stream`
or `Empty`, and shapes its errors; `http.Handler` does the rest (rules, delays, faults, framing).
A new format is one module with a `WireFormat` (and, if it lists models, a `ModelList`),
registered in `formats.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from .rules import (
    Fault,
    Rule,
    ScriptedToolCall,
    TokenLogprob,
    canonical_finish,
    reply_text,
    scripted_tool_calls,
)
from .text import count_tokens, deltas, huge_reply, tokenize

__all__ = [
    "JSON_TYPE",
    "MESSAGE_OVERHEAD_TOKENS",
    "SSE_TYPE",
    "Answer",
    "BadRequest",
    "Body",
    "Call",
    "Empty",
    "ModelList",
    "Render",
    "Reply",
    "Stream",
    "WireFormat",
    "choose_reply",
    "compose_answer",
    "content_text",
    "last_user_text",
    "list_or_lookup",
    "prompt_tokens",
    "sse",
    "token_limit",
    "tool_arguments_object",
    "tool_arguments_text",
]

JSON_TYPE: Final = "application/json"
SSE_TYPE: Final = "text/event-stream; charset=utf-8"
# Fixed per-message cost, like the real chat formats spend on role markers.
MESSAGE_OVERHEAD_TOKENS: Final = 4

Render = Callable[[int, str], bytes]
"""Renders one content delta (its index, its text) as one stream event."""


class BadRequest(Exception):
    """The request lacks what the format requires; the message becomes a 400 error."""


@dataclass(frozen=True, slots=True)
class Call:
    """One request a wire format answers: its JSON, the rule that matched, the server's defaults."""

    payload: dict[str, Any]
    rule: Rule | None
    default_reply: str
    next_id: Callable[[], str]
    #: The request path without the /v1 prefix and query: formats that put the model or the
    #: method in the path (Gemini, Bedrock) read it here.
    path: str = ""

    @property
    def fault(self) -> Fault | None:
        return self.rule.fault if self.rule is not None else None

    def model(self, default: str) -> str:
        """The model a reply names: the rule's, else the requested one, else `default`."""
        if self.rule is not None and self.rule.model:
            return self.rule.model
        requested = self.payload.get("model")
        return requested if isinstance(requested, str) and requested else default

    def input_tokens(self, counted: int) -> int:
        """`counted`, unless the rule's usage override fixes the size of the prompt."""
        usage = self.rule.usage if self.rule is not None else None
        return usage.input_tokens if usage is not None and usage.input_tokens is not None else counted


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything needed to render one successful completion, in any chat format."""

    text: str
    finish: str  # OpenAI's vocabulary; each format translates it
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_creation_tokens: int
    logprobs: Mapping[str, float] | None
    chunk_delay: float
    huge: bool
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    #: Every token scripted, with its alternatives (`Rule.tokens`).
    tokens: tuple[TokenLogprob, ...] | None = None

    @property
    def cache_read(self) -> int:
        """Cached prompt tokens, never more than the prompt holds."""
        return min(self.cached_tokens, self.prompt_tokens)

    def deltas(self) -> list[str]:
        """The content deltas a stream of this answer sends (the scripted tokens, when given)."""
        if self.tokens is not None and "".join(t.token for t in self.tokens) == self.text:
            return [t.token for t in self.tokens]
        return deltas(self.text, huge=self.huge)


def compose_answer(call: Call, *, prompt_tokens: int, limit: int | None, choices: int = 1) -> Answer:
    """The answer `call.rule` scripts, cut at `limit` tokens, with usage counted like a real API."""
    rule = call.rule
    huge = rule is not None and rule.fault == "huge"
    known_tokens: int | None = None
    tool_calls = scripted_tool_calls(rule, call.payload)
    if huge:
        text, known_tokens = huge_reply()
    elif rule is not None and rule.reply is None and rule.tokens:
        text = "".join(t.token for t in rule.tokens)
    elif rule is not None and rule.reply is None and tool_calls:
        text = ""  # a reply that is only tool calls has no text
    elif rule is not None and rule.reply is None and rule.logprobs:
        # A scripted distribution with no text answers with its most likely token.
        text = max(rule.logprobs.items(), key=lambda kv: kv[1])[0]
    else:
        text = reply_text(rule, call.payload, call.default_reply)
    finish = "tool_calls" if tool_calls else "stop"
    if not huge and limit is not None:
        tokens = tokenize(text)
        if len(tokens) > limit:
            text = "".join(tokens[:limit])
            finish = "length"
    if rule is not None and rule.finish_reason is not None:
        finish = canonical_finish(rule.finish_reason)
    usage = rule.usage if rule is not None else None
    completion = (count_tokens(text) if known_tokens is None else known_tokens) * choices
    if usage is not None and usage.output_tokens is not None:
        completion = usage.output_tokens
    return Answer(
        text=text,
        finish=finish,
        model=call.model("scripted-model"),
        prompt_tokens=call.input_tokens(prompt_tokens),
        completion_tokens=completion,
        cached_tokens=usage.cached_tokens if usage is not None else 0,
        cache_creation_tokens=usage.cache_creation_tokens if usage is not None else 0,
        logprobs=rule.logprobs if rule is not None else None,
        chunk_delay=rule.chunk_delay if rule is not None else 0.0,
        huge=huge,
        tool_calls=tool_calls,
        tokens=tuple(rule.tokens) if rule is not None and rule.tokens else None,
    )


@dataclass(frozen=True, slots=True)
class Body:
    """A complete JSON reply; the `missing_choices` fault drops its `content_key`."""

    data: dict[str, Any]
    content_key: str


@dataclass(frozen=True, slots=True)
class Stream:
    """A streamed reply: `head` events, one rendered event per piece, then `tail` events."""

    head: Sequence[bytes]
    pieces: Sequence[str]
    render: Render
    tail: Sequence[bytes]
    chunk_delay: float = 0.0
    content_type: str = SSE_TYPE


@dataclass(frozen=True, slots=True)
class Empty:
    """No body at all (the `empty_body` fault), typed like the reply it replaces."""

    content_type: str


Reply = Body | Stream | Empty


def choose_reply(
    call: Call, *, streaming: bool, body: Callable[[], Body], stream: Callable[[], Stream]
) -> Reply:
    """Nothing for `empty_body`, a stream when asked for (or for `endless_stream`), else the body.

    The builders are called only when chosen, so ids are drawn for the reply actually sent.
    """
    if call.fault == "empty_body":
        return Empty(SSE_TYPE if streaming else JSON_TYPE)
    if streaming or call.fault == "endless_stream":
        return stream()
    return body()


class WireFormat(Protocol):
    """One POST endpoint family in one provider's dialect (chat completions, messages, ...)."""

    @property
    def endpoint(self) -> str:
        """The name a `Rule(endpoint=...)` uses to restrict itself to this format."""

    @property
    def request_id_header(self) -> str:
        """The response header that carries a request id."""

    def serves(self, path: str) -> bool:
        """Whether this format answers POSTs to `path` (without the leading /v1)."""

    def prompt_text(self, payload: dict[str, Any]) -> str:
        """The text a regex rule searches; raises `BadRequest` when a required field is missing."""

    def reply(self, call: Call) -> Reply:
        """The successful reply to `call`, with the payload faults that change its content."""

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        """The JSON error body this dialect sends with `status`."""


class ModelList(Protocol):
    """GET routes that list and look up models in one provider's dialect."""

    @property
    def errors(self) -> WireFormat:
        """The format whose error shape a 404 takes."""

    def serves(self, headers: Mapping[str, str]) -> bool:
        """Whether a GET with these headers is meant for this dialect."""

    def body(self, path: str, models: Sequence[str]) -> dict[str, Any] | None:
        """The listing or the one model `path` asks for; None for a 404."""


def list_or_lookup(
    path: str,
    models: Sequence[str],
    listing: Callable[[Sequence[str]], dict[str, Any]],
    entry: Callable[[str], dict[str, Any]],
) -> dict[str, Any] | None:
    """`/models` lists every model and `/models/<id>` looks one up, as both OpenAI and Anthropic do."""
    if path == "/models":
        return listing(models)
    model_id = path.removeprefix("/models/")
    return entry(model_id) if path.startswith("/models/") and model_id in models else None


def tool_arguments_text(call: ScriptedToolCall) -> str:
    """The arguments as the JSON text OpenAI sends (raw text is sent as written)."""
    return call.arguments if isinstance(call.arguments, str) else json.dumps(dict(call.arguments))


def tool_arguments_object(call: ScriptedToolCall) -> Any:
    """The arguments as the object Anthropic sends (raw text that is no JSON is sent as a string)."""
    if not isinstance(call.arguments, str):
        return dict(call.arguments)
    try:
        return json.loads(call.arguments)
    except ValueError:
        return call.arguments


def sse(obj: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying `obj` as JSON, named `event` when given."""
    data = f"data: {json.dumps(obj)}\n\n"
    return (f"event: {event}\n{data}" if event else data).encode()


def content_text(content: Any) -> str:
    """Plain text of a message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif "content" in part:  # Anthropic tool_result blocks nest content
                    parts.append(content_text(part["content"]))
        return "\n".join(parts)
    return ""


def last_user_text(messages: Sequence[Any]) -> str:
    """The text of the last user message: what regex rules search in a chat request."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def prompt_tokens(messages: Sequence[Any], system: Any = None) -> int:
    """Tokens of a chat prompt: each message's text (the system prompt's too) plus its overhead."""
    contents: list[Any] = [system] if system else []
    contents.extend(m.get("content") for m in messages if isinstance(m, dict))
    return sum(count_tokens(content_text(c)) + MESSAGE_OVERHEAD_TOKENS for c in contents)


def token_limit(payload: Mapping[str, Any]) -> int | None:
    """The reply's token limit: OpenAI's newer `max_completion_tokens`, else `max_tokens`."""
    limit = payload.get("max_completion_tokens", payload.get("max_tokens"))
    return limit if isinstance(limit, int) and limit >= 0 else None
