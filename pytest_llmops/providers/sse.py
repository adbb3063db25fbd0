"""Server-sent events: parsing a recorded or live stream, and the answer assembled from it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ProviderConnectionError
from ..recording.transport import EXTENSION
from ..results import LLMResponse, Usage
from .http import exchange_latency

__all__ = ["SSEEvent", "first_token_ms", "iter_sse", "streamed_response"]


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One server-sent event; ``end`` is the byte offset where it ends in the body."""

    event: str
    data: str
    end: int


def iter_sse(body: bytes) -> Iterator[SSEEvent]:
    """Parse a complete ``text/event-stream`` body (LF or CRLF line ends)."""
    text = body.replace(b"\r\n", b"\n")
    offset = 0
    for block in text.split(b"\n\n"):
        offset += len(block) + 2
        event, data = "message", []
        for line in block.decode("utf-8", "replace").split("\n"):
            if line.startswith(":") or not line:
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)
        if data:
            yield SSEEvent(event, "\n".join(data), min(offset, len(text)))


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
    return LLMResponse(
        text="".join(parts),
        provider=provider,
        model=model,
        usage=usage,
        finish_reason=finish_reason,
        latency_ms=latency_ms,
        ttft_ms=first_token_ms(response, first_content),
        replayed=replayed,
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
