"""Route httpx calls made by the user's own code to the current case's cassette.

A ``python:`` provider runs the application under test, which makes its own HTTP calls (often
through the OpenAI or Anthropic SDK). While a case runs, its cassette transport sits in a
context variable; the patched httpx transports send requests there instead of to the network.
A context variable, not a global, so that concurrent cases in threads or tasks each reach
their own cassette. ``httpx2`` (the fork newer SDKs use) is patched the same way when installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib
import threading
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import httpx

__all__ = ["install", "routed_to"]

_current: contextvars.ContextVar[httpx.BaseTransport | None] = contextvars.ContextVar(
    "llmops_case_transport", default=None
)
_installed: set[str] = set()
_lock = threading.Lock()
#: Transports the plugin owns (its live pool) are never rerouted.
OWNED = "_llmops_owned"


@contextlib.contextmanager
def routed_to(transport: httpx.BaseTransport) -> Iterator[None]:
    """While the block runs, httpx requests in this context go through ``transport``."""
    token = _current.set(transport)
    try:
        yield
    finally:
        _current.reset(token)


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


def _patch(module: ModuleType) -> None:
    sync_cls = module.HTTPTransport
    async_cls = module.AsyncHTTPTransport
    original_sync = sync_cls.handle_request
    original_async = async_cls.handle_async_request

    def handle_request(self: Any, request: Any) -> Any:
        target = _current.get()
        if target is None or getattr(self, OWNED, False):
            return original_sync(self, request)
        response = target.handle_request(_to_httpx(request, request.read()))
        return response if module is httpx else _from_httpx(module, response, request)

    async def handle_async_request(self: Any, request: Any) -> Any:
        target = _current.get()
        if target is None or getattr(self, OWNED, False):
            return await original_async(self, request)
        body = await request.aread()
        # The cassette transport is synchronous; a live call must not block the event loop.
        response = await asyncio.to_thread(target.handle_request, _to_httpx(request, body))
        return _from_httpx(module, response, request)

    sync_cls.handle_request = handle_request
    async_cls.handle_async_request = handle_async_request


def install() -> None:
    """Patch httpx (and httpx2 when present) once per process."""
    with _lock:
        for name in ("httpx", "httpx2"):
            if name in _installed:
                continue
            try:
                module = httpx if name == "httpx" else importlib.import_module(name)
            except ImportError:
                continue
            _patch(module)
            _installed.add(name)
