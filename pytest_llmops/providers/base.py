"""The provider protocol, the registry that maps ``openai:`` to a provider, and shared helpers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ..errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from ..prompts import RenderedPrompt
from ..results import LLMResponse, Usage
from ..schema import ProviderSpec, suggest

__all__ = [
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "exchange_latency",
    "merged_params",
    "read_api_key",
]

#: Key of ``httpx.Response.extensions`` where the cassette transport leaves timing and replay facts.
EXTENSION = "llmops"
#: ``request.extensions`` key: a ``time.monotonic()`` by which the whole response must be read.
DEADLINE = "llmops_deadline"


class Provider(Protocol):
    """Calls one model API. Implementations raise ``ProviderError`` subclasses, nothing else."""

    @property
    def id(self) -> str:
        """How reports name this provider, e.g. ``openai:gpt-4o-mini`` (or the suite's label)."""
        ...

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        """Send the rendered prompt through ``client`` (whose transport records or replays)."""
        ...


class ProviderFactory(Protocol):
    """Builds a provider from the suite's provider spec; raise ``ValueError`` for bad settings."""

    def __call__(self, spec: ProviderSpec) -> Provider: ...


class ProviderRegistry:
    """Maps the part of a provider id before ``:`` (``openai``) to a factory."""

    def __init__(self) -> None:
        self._factories: dict[str, ProviderFactory] = {}

    def register(self, kind: str, factory: ProviderFactory, *, replace: bool = False) -> None:
        if kind in self._factories and not replace:
            raise ValueError(f"provider kind {kind!r} is already registered")
        self._factories[kind] = factory

    def kinds(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, kind: object) -> bool:
        return kind in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds())

    def create(self, spec: ProviderSpec) -> Provider:
        factory = self._factories.get(spec.kind)
        if factory is None:
            raise ValueError(
                f"unknown provider {spec.id!r}.{suggest(spec.kind, self.kinds())} "
                f"Known kinds: {', '.join(k + ':<model>' for k in self.kinds())}."
            )
        return factory(spec)


def read_api_key(env_name: str) -> str | None:
    """The key from the environment at call time; it is never stored anywhere else."""
    value = os.environ.get(env_name, "").strip()
    return value or None


def merged_params(prompt: RenderedPrompt, spec: ProviderSpec) -> dict[str, Any]:
    """Model parameters: the prompt file's, then the provider's (the suite's choice wins)."""
    return {**prompt.params, **spec.model_params()}


def exchange_latency(response: httpx.Response) -> tuple[float, bool]:
    """(latency in ms, replayed) as measured by the cassette transport."""
    facts = response.extensions.get(EXTENSION) or {}
    return float(facts.get("latency_ms", 0.0)), bool(facts.get("replayed", False))


def _short(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"…({len(text) - limit} more chars)"


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_detail(response: httpx.Response) -> str:
    """The API's own error message when the body has one (OpenAI and Anthropic shapes)."""
    try:
        body = response.json()
    except ValueError:
        return _short(response.text) or response.reason_phrase
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            kind = error.get("type") or error.get("code")
            return f"{error['message']}" + (f" ({kind})" if kind else "")
        if isinstance(error, str):
            return error
    return _short(response.text)


def post(
    client: httpx.Client,
    *,
    provider: str,
    url: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str],
    key_env: str | None = None,
    timeout: float | None = None,
) -> httpx.Response:
    """POST JSON; transport failures and error statuses become ``ProviderError``s.

    The whole response (a stream included) must arrive within the timeout: a read timeout
    alone would never fire on a stream that keeps trickling.
    """
    seconds = timeout if timeout is not None else (client.timeout.read or 60.0)
    try:
        response = client.post(
            url,
            content=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            headers={"content-type": "application/json", **headers},
            timeout=seconds,
            extensions={DEADLINE: time.monotonic() + seconds},
        )
    except httpx.TimeoutException as exc:
        kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for the response from"
        detail = f" ({exc})" if str(exc) and "timed out" not in str(exc) else ""
        raise ProviderTimeoutError(
            f"{provider}: timed out after {seconds:g} s {kind} {url}{detail}", provider=provider, url=url
        ) from None
    except httpx.ConnectError as exc:
        raise ProviderConnectionError(
            f"{provider}: cannot connect to {url}: {exc or 'connection refused'}", provider=provider, url=url
        ) from None
    except httpx.TransportError as exc:
        raise ProviderConnectionError(
            f"{provider}: the connection to {url} broke: {type(exc).__name__}: {exc}",
            provider=provider,
            url=url,
        ) from None
    if response.status_code >= 400:
        hint = ""
        if response.status_code in (401, 403) and key_env and read_api_key(key_env) is None:
            hint = f" ({key_env} is not set)"
        raise ProviderHTTPError(
            f"{provider}: {url} answered HTTP {response.status_code}: {_error_detail(response)}{hint}",
            provider=provider,
            url=url,
            status=response.status_code,
            retry_after=_retry_after(response),
        )
    return response


def json_body(response: httpx.Response, *, provider: str, url: str) -> Any:
    """The parsed JSON body of a 2xx response."""
    try:
        return response.json()
    except ValueError:
        raise ProviderResponseError(
            f"{provider}: {url} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{_short(response.text) or '(empty body)'}",
            provider=provider,
            url=url,
            status=response.status_code,
        ) from None


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


def malformed(provider: str, url: str, what: str, body: Any) -> ProviderError:
    """A 2xx body without the fields we need."""
    return ProviderResponseError(
        f"{provider}: {url} answered without {what}: {_short(json.dumps(body, default=str))}",
        provider=provider,
        url=url,
    )
