"""HTTP for providers: POST JSON with a whole-response deadline, and errors that say what failed.

Transport failures and error statuses become ``ProviderError`` subclasses that name the
provider, the URL and the cause (the API's own error message when its body has one).
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping
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
from ..results import LLMResponse
from .base import read_api_key

__all__ = [
    "as_mapping",
    "exchange_latency",
    "json_body",
    "malformed",
    "parse_arguments",
    "parse_structured",
    "post",
    "read_recorded_body",
    "retry_after",
    "short",
    "stream_event_json",
    "token_counter",
]

#: More tokens than any model reads or writes in one call (the largest windows hold a few
#: million): a count above it is a broken reply, not a bill to pay.
MAX_TOKENS = 100_000_000


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
    _check_headers(headers, provider=provider, url=url, key_env=key_env)
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
    except httpx.InvalidURL as exc:  # a typo in a base URL (`:80a`, `http://[::1/v1`)
        raise ProviderError(
            f"{provider}: {url!r} is not a URL that can be called ({exc}); check the provider's "
            "`base_url` and the *_BASE_URL variables",
            provider=provider,
            url=url,
        ) from None
    except httpx.DecodingError as exc:  # e.g. `content-encoding: gzip` on a body that is not
        raise ProviderResponseError(
            f"{provider}: {url} answered with a body that cannot be decoded ({exc})",
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


def _check_headers(headers: Mapping[str, str], *, provider: str, url: str, key_env: str | None) -> None:
    """Header values must be ASCII; a key pasted with a stray character says which, not what."""
    for name, value in headers.items():
        if not isinstance(value, str) or value.isascii():
            continue
        position = next(i for i, char in enumerate(value) if not char.isascii())
        source = f" (is the key in {key_env} copied correctly?)" if key_env else ""
        raise ProviderError(
            f"{provider}: the `{name}` header has a non-ASCII character at position {position}, "
            f"which HTTP headers cannot carry{source}",
            provider=provider,
            url=url,
        )


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


def stream_event_json(
    data: str | bytes, *, provider: str, url: str, what: str = "event"
) -> Mapping[str, Any] | None:
    """One stream event's JSON object; None for a JSON value that is not an object (skipped).

    Data that is not JSON at all is an error: a stream that garbles one event garbles the answer.
    """
    try:
        value = json.loads(data)
    except ValueError:
        raise ProviderResponseError(
            f"{provider}: {url} sent a stream {what} that is not JSON: {data[:200]!r}",
            provider=provider,
            url=url,
        ) from None
    return value if isinstance(value, Mapping) else None


def read_recorded_body(
    body: bytes,
    provider: str,
    *,
    plain: Callable[..., LLMResponse],
    stream: Callable[..., LLMResponse],
    is_plain: Callable[[bytes], bool] = lambda body: body.lstrip().startswith(b"{"),
) -> LLMResponse | None:
    """The answer in a recorded body, read by a provider's parsers (``plain(data, response, ...)``
    for one JSON reply, ``stream(response, ...)`` for a stream); None when it is not one.

    The prompt review reads old answers from cassettes with the same parsers that replay them.
    """
    response = httpx.Response(200, content=body)
    try:
        where = {"provider": provider, "url": "(recorded)", "model": ""}
        return plain(json.loads(body), response, **where) if is_plain(body) else stream(response, **where)
    except (ProviderError, ValueError):
        return None


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


def token_counter(usage: Any, *, provider: str, url: str, where: str = "usage") -> Callable[[str], int]:
    """A reader of ``usage``'s token counts: each must be a whole number from 0 to ``MAX_TOKENS``.

    Every provider reads its usage through this, so a count of ``"abc"``, ``-100000000``,
    ``1e400`` or ``true`` is a provider error naming the provider and the field, never a crash
    in pricing nor a negative cost that lets a budget gate hold. A missing count is 0.
    """
    fields = as_mapping(usage)

    def count(name: str) -> int:
        value = fields.get(name)
        if value is None:
            return 0
        whole = isinstance(value, float) and math.isfinite(value) and value.is_integer()
        if isinstance(value, bool) or not (isinstance(value, int) or whole) or not 0 <= value <= MAX_TOKENS:
            raise ProviderResponseError(
                f"{provider}: {url} answered with `{where}.{name}` = {short(repr(value), 60)}; "
                f"expected a whole number of tokens from 0 to {MAX_TOKENS:,}",
                provider=provider,
                url=url,
            )
        return int(value)

    return count


def as_mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (for reading untrusted JSON)."""
    return value if isinstance(value, Mapping) else {}
