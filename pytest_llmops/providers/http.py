"""HTTP for providers: POST JSON with a whole-response deadline, and errors that say what failed.

Transport failures and error statuses become ``ProviderError`` subclasses that name the
provider, the URL and the cause (the API's own error message when its body has one).
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ..errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from ..recording.transport import DEADLINE, EXTENSION, SECRET_PARAMS
from .base import read_api_key

__all__ = [
    "as_mapping",
    "exchange_latency",
    "json_body",
    "malformed",
    "parse_arguments",
    "parse_structured",
    "post",
    "retry_after",
    "short",
]


def exchange_latency(response: httpx.Response) -> tuple[float, bool]:
    """(latency in ms, replayed) as measured by the cassette transport."""
    facts = response.extensions.get(EXTENSION) or {}
    return float(facts.get("latency_ms", 0.0)), bool(facts.get("replayed", False))


def short(text: str, limit: int = 300) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"…({len(text) - limit} more chars)"


def retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, else ``Retry-After`` as seconds
    or as an HTTP date (RFC 9110); None when neither says anything usable."""
    lowered = {k.lower(): v for k, v in headers.items()}
    milliseconds = lowered.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000.0
            if value == value and value != float("inf"):  # NaN and infinity say nothing
                return max(0.0, value)
        except ValueError:
            pass
    text = lowered.get("retry-after")
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, value) if value == value and value != float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT by definition
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _error_detail(response: httpx.Response) -> str:
    """The API's own error message when the body has one (OpenAI and Anthropic shapes)."""
    try:
        body = response.json()
    except ValueError:
        return short(response.text) or response.reason_phrase
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            # OpenAI and Anthropic name a type; Google a status (RESOURCE_EXHAUSTED).
            kind = error.get("type") or error.get("status") or error.get("code")
            return f"{error['message']}" + (f" ({kind})" if kind else "")
        if isinstance(error, str):
            return error
        # AWS: {"message": ...} with the error's name in a header (or in `__type`).
        message = body.get("message") or body.get("Message")
        if isinstance(message, str):
            kind = response.headers.get("x-amzn-errortype", "").split(":")[0] or body.get("__type")
            return message + (f" ({kind})" if kind else "")
    return short(response.text)


def post(
    client: httpx.Client,
    *,
    provider: str,
    url: str,
    payload: Mapping[str, Any] | None = None,
    headers: Mapping[str, str],
    key_env: str | None = None,
    timeout: float | None = None,
    params: Mapping[str, str] | None = None,
    secret_params: frozenset[str] = frozenset(),
    content: bytes | None = None,
    hint: str = "",
) -> httpx.Response:
    """POST JSON (``payload``, or ``content`` already encoded, e.g. signed); transport failures
    and error statuses become ``ProviderError``s.

    The whole response (a stream included) must arrive within the timeout: a read timeout
    alone would never fire on a stream that keeps trickling. ``secret_params`` name query
    parameters the cassette stores as ``REDACTED``; ``hint`` is added to a 401/403 message.
    """
    seconds = timeout if timeout is not None else (client.timeout.read or 60.0)
    if content is None:
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    extensions: dict[str, Any] = {DEADLINE: time.monotonic() + seconds}
    if secret_params:
        extensions[SECRET_PARAMS] = secret_params
    try:
        response = client.post(
            url,
            content=content,
            params=dict(params) if params else None,
            headers={"content-type": "application/json", **headers},
            timeout=seconds,
            extensions=extensions,
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
        why = ""
        if response.status_code in (401, 403):
            if key_env and read_api_key(key_env) is None:
                why = f" ({key_env} is not set)"
            elif hint:
                why = f" ({hint})"
        raise ProviderHTTPError(
            f"{provider}: {url} answered HTTP {response.status_code}: {_error_detail(response)}{why}",
            provider=provider,
            url=url,
            status=response.status_code,
            retry_after=retry_after(response.headers),
        )
    return response


def json_body(response: httpx.Response, *, provider: str, url: str) -> Any:
    """The parsed JSON body of a 2xx response."""
    try:
        return response.json()
    except ValueError:
        raise ProviderResponseError(
            f"{provider}: {url} answered HTTP {response.status_code} with a body that is not JSON: "
            f"{short(response.text) or '(empty body)'}",
            provider=provider,
            url=url,
            status=response.status_code,
        ) from None


def malformed(provider: str, url: str, what: str, body: Any) -> ProviderError:
    """A 2xx body without the fields we need."""
    return ProviderResponseError(
        f"{provider}: {url} answered without {what}: {short(json.dumps(body, default=str))}",
        provider=provider,
        url=url,
    )


def parse_arguments(text: str) -> dict[str, Any] | None:
    """A tool call's arguments parsed as a JSON object, or None when they are not one."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_structured(text: str, wanted: bool) -> Any:
    """Structured output: the answer parsed as JSON when the request asked for JSON, else None.

    A model may wrap the JSON in a ```json fence even when asked for JSON; the fence is dropped.
    An answer that is not JSON stays None (the json assertions report why).
    """
    if not wanted or not text.strip():
        return None
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[-1].rsplit("```", 1)[0]
    try:
        return json.loads(stripped)
    except ValueError:
        return None


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (for reading untrusted JSON)."""
    return value if isinstance(value, Mapping) else {}
