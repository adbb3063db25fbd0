"""The transport that replays from, or records to, one case's cassette, for every client.

Every provider call of a case goes through a ``CassetteTransport``: a replay builds the response
from the cassette, a live call goes out through the run's one connection pool, is read whole
(timed chunk by chunk, for time to first token) and held until the provider accepts it. The
application's own calls reach the same object: through httpx (``handle_request``) or through
vcrpy's stubs of requests, urllib3, ``http.client``, aiohttp and botocore (``replay``/``keep``,
see ``clients.py``), so one journal (``exchanges``) lists every exchange of the case.

Secrets never reach disk: requests are stored in the scrubbed form of ``scrub.Scrubber``,
compared in that form on both sides, response cookies and organisation ids are dropped, and the
values of the API-key variables are replaced as a last guard when the cassette is saved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from vcr.request import Request as VcrRequest

from .cassette import CaseCassette
from .scrub import Scrubber

__all__ = [
    "DEADLINE",
    "EXTENSION",
    "SECRET_PARAMS",
    "CassetteTransport",
    "Exchange",
    "LiveTransportFactory",
]

#: Key of ``httpx.Response.extensions`` where the cassette transport leaves timing and replay facts.
EXTENSION = "llmops"
#: ``request.extensions`` key: a ``time.monotonic()`` by which the whole response must be read.
DEADLINE = "llmops_deadline"
#: ``request.extensions`` key: names of query parameters whose values are secrets (a provider's
#: ``query`` values read from the environment); stored and matched as ``REDACTED``, so a replay
#: without the variable matches the recording made with it.
SECRET_PARAMS = "llmops_secret_params"

LiveTransportFactory = Callable[[], httpx.BaseTransport]


@dataclass
class Exchange:
    """One exchange of a case, replayed or live, whichever client made it."""

    replayed: bool
    #: The stored facts (latency...): for a live exchange, the very mapping saved with it.
    facts: dict[str, Any]
    body: bytes
    status: int
    client: str = "httpx"


def serialize_response(
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]],
    content: bytes,
    facts: dict[str, Any],
    scrubber: Scrubber,
) -> dict[str, Any]:
    """A response in vcrpy's stored form, with the facts replays report."""
    return {
        "status": {"code": status, "message": reason},
        "headers": scrubber.response_headers(headers),
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

    def __init__(
        self,
        cassette: CaseCassette | None,
        live: LiveTransportFactory,
        *,
        scrubber: Scrubber | None = None,
        nodeid: str = "",
    ) -> None:
        self.cassette = cassette
        self._live = live
        self.scrubber = scrubber or Scrubber()
        self.nodeid = nodeid
        #: Every exchange of the case, in order (read by the ``python:`` provider).
        self.exchanges: list[Exchange] = []
        #: Why calls of this case could not be attributed to it (fails the case).
        self.failures: list[str] = []
        #: Provider calls in flight: exchanges made outside one are kept at once.
        self.calls_in_flight = 0
        self._lock = threading.Lock()

    @property
    def replayed_latency_ms(self) -> float:
        """Recorded latency of the exchanges replayed so far."""
        return sum(float(e.facts.get("latency_ms", 0.0)) for e in self.exchanges if e.replayed)

    @property
    def live_calls(self) -> int:
        return sum(1 for e in self.exchanges if not e.replayed)

    # -- shared by every client -------------------------------------------------------------------
    def stored_request(
        self, method: str, url: str, body: Any, headers: Any, secret_params: Iterable[str] = ()
    ) -> VcrRequest:
        """The scrubbed form a request is stored and matched in."""
        return self.scrubber.request(method, url, body, headers, secret_params=secret_params)

    def replay(self, stored: VcrRequest, *, client: str = "httpx") -> dict[str, Any] | None:
        """The recorded response, or None when the call may go live; raises when it may not."""
        cassette = self.cassette
        if cassette is None:
            return None
        if cassette.may_replay:
            response = cassette.play(stored)
            if response is not None:
                body = response["body"].get("string") or b""
                facts = dict(response.get("llmops") or {})
                self._journal(
                    Exchange(
                        True,
                        facts,
                        body.encode("utf-8") if isinstance(body, str) else body,
                        response["status"]["code"],
                        client,
                    )
                )
                return response
        if not cassette.may_record:
            raise cassette.miss(stored)
        return None

    def keep(self, stored: VcrRequest, response: dict[str, Any], *, client: str = "httpx") -> None:
        """Note a live exchange, and hold its recording until its provider call succeeds."""
        status = int(response["status"]["code"])
        body = response["body"].get("string") or b""
        facts = response.setdefault("llmops", {})
        self._journal(
            Exchange(False, facts, body if isinstance(body, bytes) else body.encode(), status, client)
        )
        cassette = self.cassette
        if cassette is not None and 200 <= status < 300:
            cassette.add_pending(stored, response)
            if self.calls_in_flight == 0:  # made by a test's own code, outside a provider call
                cassette.commit()

    def _journal(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def live(self) -> httpx.BaseTransport:
        """The run's connection pool (raises ``BudgetExhaustedError`` once the budget is spent)."""
        return self._live()

    # -- httpx ------------------------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        stored_request = self.stored_request(
            request.method,
            str(request.url),
            body,
            request.headers.multi_items(),
            request.extensions.get(SECRET_PARAMS) or (),
        )
        stored = self.replay(stored_request)
        if stored is not None:
            return _replayed_response(stored, request)
        live = self._live()
        started = time.perf_counter()
        response = live.handle_request(request)
        content, chunk_times = _read_all(response, request, started)
        latency_ms = (time.perf_counter() - started) * 1000.0
        facts: dict[str, Any] = {"latency_ms": round(latency_ms, 3)}
        self.keep(
            stored_request,
            serialize_response(
                response.status_code,
                response.reason_phrase,
                response.headers.multi_items(),
                content,
                facts,
                self.scrubber,
            ),
        )
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
