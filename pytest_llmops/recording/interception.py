"""Route httpx calls made by the user's own code to the cassette of the case they belong to.

A ``python:`` provider runs the application under test, and a Python test using the ``llmops``
fixture may call an SDK itself; both make their own HTTP calls, often through the OpenAI or
Anthropic SDK, which use httpx (``httpx2``, the fork newer SDKs use, is patched the same way
when installed). While any case is active, ``HTTPTransport.handle_request`` and
``AsyncHTTPTransport.handle_async_request`` send each request to the ``CassetteTransport`` of
the case it belongs to (``routing.owner``). Our own transport (``httpx`` with the per-exchange
timing that time to first token needs) is used rather than vcrpy's httpx stub; the other
clients go through vcrpy's stubs (``clients.py``).

The patches sit on top of whatever was there when the first case started (pytest-recording's
own, say), and the plugin's live pool (``OwnedHTTPTransport``) calls httpx's original method,
below every patch, so no other recorder ever sees the plugin's requests or their keys.
"""

from __future__ import annotations

import asyncio
import importlib
from types import ModuleType
from typing import Any
from unittest import mock

import httpx

from . import routing

__all__ = ["OWNED", "OwnedHTTPTransport", "install"]

#: Transports the plugin owns (its live pool) are never rerouted.
OWNED = "_llmops_owned"
_ORIGINAL_HANDLE_REQUEST = httpx.HTTPTransport.handle_request


class OwnedHTTPTransport(httpx.HTTPTransport):
    """The plugin's live pool: httpx's own ``handle_request``, below any patch of the class."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return _ORIGINAL_HANDLE_REQUEST(self, request)


def _to_httpx(request: Any, body: bytes) -> httpx.Request:
    return httpx.Request(
        request.method,
        str(request.url),
        headers=list(request.headers.multi_items()),
        content=body,
        extensions=dict(request.extensions),
    )


def _from_httpx(module: ModuleType, response: httpx.Response, request: Any) -> Any:
    return module.Response(
        response.status_code,
        headers=list(response.headers.multi_items()),
        content=response.content,
        request=request,
        extensions=dict(response.extensions),
    )


def _patchers(module: ModuleType) -> list[Any]:
    sync_cls = module.HTTPTransport
    async_cls = module.AsyncHTTPTransport
    previous_sync = sync_cls.handle_request
    previous_async = async_cls.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        if getattr(self, OWNED, False):
            return previous_sync(self, request)
        target = routing.owner(module.__name__, str(request.url))
        response = target.handle_request(_to_httpx(request, request.read()))
        return response if module is httpx else _from_httpx(module, response, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        if getattr(self, OWNED, False):
            return await previous_async(self, request)
        target = routing.owner(module.__name__, str(request.url))
        body = await request.aread()
        # The cassette transport is synchronous; a live call must not block the event loop.
        # to_thread copies the context, so the exchange stays the case's.
        response = await asyncio.to_thread(target.handle_request, _to_httpx(request, body))
        return _from_httpx(module, response, request)

    return [
        mock.patch.object(sync_cls, "handle_request", handle_request),
        mock.patch.object(async_cls, "handle_async_request", handle_async_request),
    ]


def _build() -> list[Any]:
    patchers: list[Any] = []
    for name in ("httpx", "httpx2"):
        try:
            module = httpx if name == "httpx" else importlib.import_module(name)
        except ImportError:
            continue
        patchers += _patchers(module)
    return patchers


def install() -> None:
    """Route httpx (and httpx2) while cases are active."""
    routing.register_patches(_build)
