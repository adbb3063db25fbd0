"""HTTP for providers: POST JSON with a whole-response deadline, and errors that say what failed.

Transport failures and error statuses become ``ProviderError`` subclasses that name the
provider, the URL and the cause (the API's own error message when its body has one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ..errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderResponseError,
    ProviderTimeoutError,
)
from ..recording.transport import DEADLINE, EXTENSION
from .base import read_api_key

__all__ = ["exchange_latency", "json_body", "malformed", "parse_arguments", "post", "short"]


def exchange_latency(response: httpx.Response) -> tuple[float, bool]:
    """(latency in ms, replayed) as measured by the cassette transport."""
    facts = response.extensions.get(EXTENSION) or {}
    return float(facts.get("latency_ms", 0.0)), bool(facts.get("replayed", False))


def short(text: str, limit: int = 300) -> str:
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
        return short(response.text) or response.reason_phrase
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping) and error.get("message"):
            kind = error.get("type") or error.get("code")
            return f"{error['message']}" + (f" ({kind})" if kind else "")
        if isinstance(error, str):
            return error
    return short(response.text)


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
