"""The httpx transport that replays from, or records to, one case's cassette.

Every provider call of a case goes through a ``CassetteTransport``: a replay builds the response
from the cassette, a live call goes out through the run's one connection pool, is read whole
(timed chunk by chunk, for time to first token) and held until the provider accepts it.

Secrets never reach disk: request headers are kept from an allow-list, response cookies and
organisation ids are dropped, keys in query strings are redacted, and the values of the API-key
variables are replaced as a last guard when the cassette is saved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from vcr.request import Request as VcrRequest

from .cassette import CaseCassette
from .redaction import REDACTED

__all__ = [
    "DEADLINE",
    "EXTENSION",
    "SECRET_PARAMS",
    "CassetteTransport",
    "LiveTransportFactory",
    "vcr_request",
]

#: Key of ``httpx.Response.extensions`` where the cassette transport leaves timing and replay facts.
EXTENSION = "llmops"
#: ``request.extensions`` key: a ``time.monotonic()`` by which the whole response must be read.
DEADLINE = "llmops_deadline"
#: ``request.extensions`` key: names of query parameters whose values are secrets (read from the
#: environment); they are stored and matched as ``REDACTED``.
SECRET_PARAMS = "llmops_secret_params"

#: Request headers worth keeping; everything else (authorization, api keys, cookies,
#: organisation and project ids, user agents) is dropped before a request is stored.
KEPT_REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta"}
)
#: Response headers never stored: cookies and account identifiers, and framing headers that no
#: longer describe the stored (decoded, complete) body.
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "set-cookie",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
    }
)
SECRET_QUERY_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "code"}
)


def _scrub_url(url: str, secret: frozenset[str] = frozenset()) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, REDACTED if k.lower() in SECRET_QUERY_PARAMS or k in secret else v)
        for k, v in parse_qsl(parts.query, True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def vcr_request(request: httpx.Request, body: bytes) -> VcrRequest:
    """The request as it is stored and matched: scrubbed of secrets."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_REQUEST_HEADERS}
    secret = frozenset(request.extensions.get(SECRET_PARAMS) or ())
    return VcrRequest(request.method, _scrub_url(str(request.url), secret), body, headers)


LiveTransportFactory = Callable[[], httpx.BaseTransport]


def _serialize_response(response: httpx.Response, content: bytes, facts: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        if name.lower() not in DROPPED_RESPONSE_HEADERS:
            headers.setdefault(name, []).append(value)
    return {
        "status": {"code": response.status_code, "message": response.reason_phrase},
        "headers": headers,
        "body": {"string": content},
        # Not part of vcrpy's format but kept by it: what replays report as latency and TTFT.
        "llmops": facts,
    }


def _replayed_response(stored: Mapping[str, Any], request: httpx.Request) -> httpx.Response:
    # As bytes: a header value recorded with non-ASCII text must replay, not fail to encode.
    stored_headers = stored.get("headers", {})
    headers = [(name, value.encode("utf-8")) for name, values in stored_headers.items() for value in values]
    body = stored["body"]["string"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    facts = dict(stored.get("llmops") or {})
    return httpx.Response(
        stored["status"]["code"],
        headers=headers,
        content=body or b"",
        request=request,
        extensions={
            EXTENSION: {"replayed": True, "latency_ms": float(facts.get("latency_ms", 0.0)), "facts": facts}
        },
    )


class CassetteTransport(httpx.BaseTransport):
    """Replays from, or records to, one case's cassette; measures each live exchange.

    The facts of an exchange (latency, and time to first token once a provider has found it
    in a stream) travel in ``response.extensions["llmops"]``. For a live exchange the same
    ``facts`` mapping is stored with the recording, so what a provider adds to it is replayed.
    """

    def __init__(self, cassette: CaseCassette | None, live: LiveTransportFactory) -> None:
        self.cassette = cassette
        self._live = live
        #: Recorded latency of the exchanges replayed so far (for callers that time themselves).
        self.replayed_latency_ms = 0.0
        self.live_calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        cassette = self.cassette
        body = request.read()
        stored_request = vcr_request(request, body)
        if cassette is not None:
            if cassette.may_replay:
                stored = cassette.play(stored_request)
                if stored is not None:
                    response = _replayed_response(stored, request)
                    self.replayed_latency_ms += response.extensions[EXTENSION]["latency_ms"]
                    return response
            if not cassette.may_record:
                raise cassette.miss(stored_request)
        live = self._live()
        self.live_calls += 1
        started = time.perf_counter()
        response = live.handle_request(request)
        content, chunk_times = _read_all(response, request, started)
        latency_ms = (time.perf_counter() - started) * 1000.0
        facts: dict[str, Any] = {"latency_ms": round(latency_ms, 3)}
        if cassette is not None and 200 <= response.status_code < 300:
            cassette.add_pending(stored_request, _serialize_response(response, content, facts))
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions={
                EXTENSION: {
                    "replayed": False,
                    "latency_ms": latency_ms,
                    "facts": facts,
                    "chunk_times": chunk_times,
                }
            },
        )


def _read_all(
    response: httpx.Response, request: httpx.Request, started: float
) -> tuple[bytes, list[tuple[int, float]]]:
    """Read the body chunk by chunk, noting when each arrived, within the request's deadline.

    A stream that never ends is cut at the deadline with a timeout naming it.
    """
    deadline = request.extensions.get(DEADLINE)
    chunks: list[bytes] = []
    chunk_times: list[tuple[int, float]] = []
    received = 0
    try:
        for chunk in response.iter_bytes():
            if chunk:
                chunks.append(chunk)
                received += len(chunk)
                chunk_times.append((received, (time.perf_counter() - started) * 1000.0))
            if deadline is not None and time.monotonic() > deadline:
                raise httpx.ReadTimeout(
                    f"the response was still arriving when its time ran out ({received} bytes read)",
                    request=request,
                )
    finally:
        response.close()
    return b"".join(chunks), chunk_times
