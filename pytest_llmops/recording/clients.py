"""requests, urllib3, ``http.client``/``urllib.request``, aiohttp and botocore/boto3, through vcrpy.

vcrpy has stubs for these libraries (``vcr/stubs/``) and patches them through
``vcr.patch.CassettePatcherBuilder``, which hands every stub ONE cassette for the whole process.
Here that cassette is a router, ``CaseRouter``: it answers the stubs' questions
(``can_play_response_for``, ``play_response``, ``write_protected``, ``append``...) for the
case the call belongs to (``routing.owner``), through that case's ``CassetteTransport``. So the
stubs, their replayed response objects and their file format are vcrpy's own, while concurrent
cases still each reach their own cassette and the request is stored in our scrubbed form.

vcrpy's httpx and httpx2 patches are skipped (``interception.py`` routes httpx with per-chunk
timing); tornado and httplib2 are patched too, when installed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any
from unittest import mock

from vcr.request import Request as VcrRequest

from . import routing
from .transport import CassetteTransport, serialize_response

__all__ = ["RECORDED_CLIENTS", "CaseRouter", "install"]

#: The clients whose calls are recorded and replayed, as error messages and the docs name them.
RECORDED_CLIENTS = (
    "httpx (sync and async; the OpenAI and Anthropic SDKs)",
    "requests",
    "urllib3",
    "http.client and urllib.request",
    "aiohttp",
    "botocore/boto3",
)

#: vcrpy patcher groups left out: httpx is routed by ``interception.py``.
_SKIPPED = ("httpx", "httpx2")


class CaseRouter:
    """Stands in for the vcrpy ``Cassette`` that vcrpy's stubs are given; routes per call."""

    #: vcrpy names its patched connection classes after the cassette's path.
    _path = "llmops"
    custom_patches: tuple[Any, ...] = ()
    skip_patchers = _SKIPPED

    def __init__(self) -> None:
        self._local = threading.local()

    # The stubs call `can_play_response_for`, then `play_response` (replay) or check
    # `write_protected`, send the request and `append` the response (live). The stored form and
    # the case are decided once per request, in `can_play_response_for`.
    def _ticket(self, request: VcrRequest) -> dict[str, Any]:
        tickets: dict[int, dict[str, Any]] = self._local.__dict__.setdefault("tickets", {})
        ticket = tickets.get(id(request))
        if ticket is None or ticket["request"] is not request:
            transport = routing.owner(_client_of(request), request.uri)
            # `body_bytes`: a file or iterator body, read once by vcrpy, as the bytes it sends.
            body = request.body_bytes if hasattr(request, "body_bytes") else request.body
            stored = transport.stored_request(request.method, request.uri, body, request.headers.items())
            ticket = tickets[id(request)] = {"request": request, "transport": transport, "stored": stored}
        return ticket

    def can_play_response_for(self, request: VcrRequest) -> bool:
        ticket = self._ticket(request)
        if "decided" in ticket:  # a stub may ask twice (before connecting, and for the response)
            return bool(ticket["decided"])
        transport: CassetteTransport = ticket["transport"]
        response = transport.replay(ticket["stored"], client=_client_of(request))
        if response is None:
            transport.live()  # the budget is checked before anything goes out
            ticket["started"] = time.perf_counter()
            ticket["decided"] = False
            return False
        ticket["response"] = response
        ticket["decided"] = True
        return True

    def play_response(self, request: VcrRequest) -> dict[str, Any]:
        ticket = self._forget(request)
        response = ticket["response"]
        body = response["body"].get("string") or b""
        return {
            "status": dict(response["status"]),
            # vcrpy's response stub deletes Transfer-Encoding from what it is given: a copy.
            "headers": {k: list(v) for k, v in response.get("headers", {}).items()},
            "body": {"string": body.encode("utf-8") if isinstance(body, str) else body},
        }

    @property
    def write_protected(self) -> bool:
        # A request that may not go live raised in `can_play_response_for` already.
        return False

    def filter_request(self, request: VcrRequest) -> VcrRequest:
        return request

    def append(self, request: VcrRequest, response: dict[str, Any]) -> None:
        ticket = self._forget(request)
        transport: CassetteTransport = ticket["transport"]
        started = ticket.get("started")
        latency = (time.perf_counter() - started) * 1000.0 if started is not None else 0.0
        headers = [(k, v) for k, values in (response.get("headers") or {}).items() for v in values]
        body = response.get("body", {}).get("string") or b""
        stored = serialize_response(
            response["status"]["code"],
            response["status"].get("message", ""),
            headers,
            body if isinstance(body, bytes) else str(body).encode("utf-8"),
            {"latency_ms": round(latency, 3)},
            transport.scrubber,
        )
        transport.keep(ticket["stored"], stored, client=_client_of(request))

    def find_requests_with_most_matches(self, request: VcrRequest) -> list[Any]:
        # aiohttp's stub asks this while following a recorded redirect: recorded redirects are
        # matched like any request, through `can_play_response_for`.
        return [(request, [], [])]

    def _forget(self, request: VcrRequest) -> dict[str, Any]:
        tickets: dict[int, dict[str, Any]] = self._local.__dict__.setdefault("tickets", {})
        ticket = tickets.pop(id(request), None)
        if ticket is None or ticket["request"] is not request:
            ticket = self._ticket(request)
            tickets.pop(id(request), None)
        return ticket


def _client_of(request: VcrRequest) -> str:
    # The stubs do not say which library called; the stored form does not need it.
    return "http"


_ROUTER = CaseRouter()


def _build() -> list[Any]:
    import vcr.patch  # imports the installed clients' stubs

    return [
        *vcr.patch.CassettePatcherBuilder(_ROUTER).build(),
        # vcrpy's stubs call `force_reset()` around each real connect and send: it un-patches
        # the process for the moment, which under concurrent cases lets another thread build an
        # unpatched (unrecorded) connection, and restores out of order across threads. The real
        # connection classes the stubs wrap are the originals anyway, so nothing needs resetting.
        mock.patch.object(vcr.patch, "force_reset", contextlib.nullcontext),
    ]


def install() -> None:
    """Route requests, urllib3, http.client, aiohttp and botocore while cases are active."""
    routing.register_patches(_build)
