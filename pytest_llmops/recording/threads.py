"""Threads and executor jobs started while a case runs belong to that case.

Context variables do not follow new threads: ``threading.Thread`` and ``ThreadPoolExecutor``
start their work in an empty context (Python 3.14 adds an opt-in), so an application that calls
its model from a worker thread would escape anything keyed on the case's context. While a case
is active, ``Thread.start`` and ``ThreadPoolExecutor.submit`` called from a case's context run
the thread's ``run`` (or the submitted job) in a copy of that context: the case (and its network
guard) reaches it. asyncio tasks copy the context by themselves, and ``loop.run_in_executor``
submits to an executor, so both are covered. Threads started outside any case are untouched.
"""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from unittest import mock

from . import routing

__all__ = ["install"]


def _build() -> list[Any]:
    previous_start = threading.Thread.start
    previous_submit = ThreadPoolExecutor.submit

    def start(self: threading.Thread) -> None:
        if routing.current() is not None:
            context = contextvars.copy_context()
            run = self.run
            # An instance attribute: `_bootstrap_inner` calls `self.run()`.
            self.run = lambda: context.run(run)  # type: ignore[method-assign]
        previous_start(self)

    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if routing.current() is not None:
            return previous_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)
        return previous_submit(self, fn, *args, **kwargs)

    return [
        mock.patch.object(threading.Thread, "start", start),
        mock.patch.object(ThreadPoolExecutor, "submit", submit),
    ]


def install() -> None:
    """Carry the case's context into the threads and executor jobs it starts."""
    routing.register_patches(_build)
