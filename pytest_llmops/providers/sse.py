"""Server-sent events: parsing a recorded or live stream, and the answer assembled from it."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..errors import ProviderConnectionError
from ..recording.transport import EXTENSION
from ..results import LLMResponse, ToolCall, Usage
from .http import exchange_latency, parse_arguments, parse_structured

__all__ = ["SSEEvent", "ToolCallParts", "first_token_ms", "iter_sse", "streamed_response"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event; ``end`` is the byte offset where it ends in the body."""

    event: str
    data: str
    end: int
    id: str | None = None


def _lines(body: bytes) -> Iterator[tuple[bytes, int]]:
    """Each line of ``body`` and the offset just past its line end (CRLF, LF or a lone CR)."""
    position, size = 0, len(body)
    while position < size:
        lf = body.find(b"\n", position)
        cr = body.find(b"\r", position)
        if lf < 0 and cr < 0:
            # The last line has no end: the event it belongs to is never dispatched.
            return
        if cr < 0 or (0 <= lf < cr):
            yield body[position:lf], lf + 1
            position = lf + 1
        else:
            after = cr + 2 if body[cr + 1 : cr + 2] == b"\n" else cr + 1
            yield body[position:cr], after
            position = after


def iter_sse(body: bytes) -> Iterator[SSEEvent]:
    """Parse a complete ``text/event-stream`` body as the HTML spec's event-stream parser does.

    Lines end in CRLF, LF or a lone CR; a blank line dispatches the event; ``data`` lines join
    with LF; a line starting with ``:`` is a comment; a field without ``:`` has an empty value;
    one leading space of a value is dropped; a leading byte-order mark is ignored; an event with
    no ``data`` is not dispatched, and neither is the last event when the body ends before its
    blank line (an unterminated event is an incomplete one).
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
        shift = 3
    else:
        shift = 0
    event, last_id = "", None
    data: list[str] = []
    for raw, end in _lines(body):
        if not raw:
            if data:
                yield SSEEvent(event or "message", "\n".join(data), end + shift, last_id)
            event, data = "", []
            continue
        line = raw.decode("utf-8", "replace")
        if line.startswith(":"):
            continue
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
        # `retry` and unknown fields change nothing a recorded body's reader needs.


@dataclass
class ToolCallParts:
    """Tool calls assembled from a stream: each arrives as a name, an id and argument pieces."""

    _calls: dict[Any, dict[str, Any]] = field(default_factory=dict)

    def add(self, key: Any, *, name: Any = None, call_id: Any = None, arguments: Any = None) -> None:
        """A piece of the call ``key`` (its index or id): any of its name, id and arguments."""
        call = self._calls.setdefault(key, {"name": "", "id": None, "arguments": []})
        if isinstance(name, str) and name:
            call["name"] = name
        if isinstance(call_id, str) and call_id:
            call["id"] = call_id
        if isinstance(arguments, str):
            call["arguments"].append(arguments)
        elif arguments is not None:  # some APIs send whole objects
            call["arguments"].append(json.dumps(arguments, ensure_ascii=False))

    def calls(self) -> tuple[ToolCall, ...]:
        out = []
        for call in self._calls.values():
            # A call without arguments streams no pieces (or empty ones): it was called with {}.
            raw = "".join(call["arguments"]) or "{}"
            out.append(ToolCall(call["name"], raw, parse_arguments(raw), call["id"]))
        return tuple(out)


def streamed_response(
    response: httpx.Response,
    *,
    provider: str,
    url: str,
    model: str,
    parts: list[str],
    usage: Usage,
    finish_reason: str | None,
    first_content: int | None,
    ended: bool,
    end_marker: str,
    tool_calls: Sequence[ToolCall] = (),
    structured: bool = False,
) -> LLMResponse:
    """The answer assembled from a stream, or an error when the stream stopped before its end."""
    if not ended:
        # The connection closed before the end: a transport fault, so a retry may complete it.
        raise ProviderConnectionError(
            f"{provider}: the stream from {url} ended early ({len(response.content)} bytes, "
            f"{end_marker}); the answer is incomplete",
            provider=provider,
            url=url,
        )
    latency_ms, replayed = exchange_latency(response)
    text = "".join(parts)
    return LLMResponse(
        text=text,
        provider=provider,
        model=model,
        usage=usage,
        finish_reason=finish_reason,
        latency_ms=latency_ms,
        ttft_ms=first_token_ms(response, first_content),
        replayed=replayed,
        tool_calls=tuple(tool_calls),
        structured=parse_structured(text, structured),
    )


def first_token_ms(response: httpx.Response, byte_offset: int | None) -> float | None:
    """Time to first token: when the byte ending the first content event arrived.

    Live exchanges know when each chunk arrived; the figure is stored with the recording, so
    a replay reports what was measured live.
    """
    facts = response.extensions.get(EXTENSION) or {}
    stored: Any = (facts.get("facts") or {}).get("ttft_ms")
    if stored is not None or byte_offset is None:
        return None if stored is None else float(stored)
    for received, ms in facts.get("chunk_times") or ():
        if received >= byte_offset:
            ttft = round(float(ms), 3)
            if isinstance(facts.get("facts"), dict):
                facts["facts"]["ttft_ms"] = ttft
            return ttft
    return None
