"""Concurrent model calls inside pytest's one-item-at-a-time loop.

pytest runs items one after another, and an LLM call takes seconds. The ``Prefetcher`` starts
the cases ahead of the current item in worker threads, at most ``limit`` not yet taken, in
collection order; each item then takes its own result when pytest reaches it. Results,
reports and cassettes are the same as a serial run's: each case still runs alone, against its
own cassette, in its own thread.

- ``-x`` / ``--maxfail``: no new case starts once pytest decides to stop; calls already in
  flight finish (and are recorded) but are not reported.
- Rate limits: on HTTP 429 the limit halves (the call itself waits as ``Retry-After`` says),
  and grows by one after ``GROW_AFTER`` successes in a row, up to the configured maximum.
- pytest-xdist: a worker does not know which items it will be given, so it looks ahead only
  to the next item xdist hands it; process parallelism (``-n``) does the rest.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from ..results import CaseResult

__all__ = ["AdaptiveLimit", "Prefetcher"]

#: Successes in a row after which a limit lowered by rate limiting grows by one.
GROW_AFTER = 4


@dataclass
class AdaptiveLimit:
    """How many cases may be started ahead: halves on 429, grows back after successes."""

    maximum: int
    current: int = 0
    peak_in_flight: int = 0
    rate_limited: int = 0
    _streak: int = 0

    def __post_init__(self) -> None:
        self.current = self.current or self.maximum
        self._lock = threading.Lock()

    def on_rate_limit(self) -> None:
        with self._lock:
            self.rate_limited += 1
            self._streak = 0
            self.current = max(1, self.current // 2)

    def on_success(self) -> None:
        with self._lock:
            self._streak += 1
            if self.current < self.maximum and self._streak >= GROW_AFTER:
                self.current += 1
                self._streak = 0


class Prefetcher:
    """Runs cases ahead of pytest in a thread pool; ``take`` hands each item its result."""

    def __init__(
        self,
        order: Sequence[str],
        start: Callable[[str], CaseResult],
        limit: AdaptiveLimit,
        should_stop: Callable[[], bool],
    ) -> None:
        self._order = list(order)
        self._position = {nodeid: i for i, nodeid in enumerate(self._order)}
        self._start = start
        self._limit = limit
        self._should_stop = should_stop
        self._pool = ThreadPoolExecutor(max_workers=limit.maximum, thread_name_prefix="llmops-call")
        self._futures: dict[str, Future[CaseResult]] = {}
        self._next = 0  # index in order of the next case not yet started
        self._lock = threading.Lock()
        self._closed = False

    def take(self, nodeid: str) -> CaseResult:
        """This item's result: started ahead, or run now if it was not."""
        with self._lock:
            future = self._futures.pop(nodeid, None)
            position = self._position.get(nodeid)
            if future is None and position is not None and position >= self._next:
                self._next = position + 1  # run it here; never start it twice
        if future is None:
            self._fill(after=position)
            return self._start(nodeid)
        try:
            return future.result()
        finally:
            self._fill(after=position)

    def hint(self, nodeid: str) -> None:
        """Start ``nodeid`` ahead (xdist: the next item this worker was given)."""
        with self._lock:
            if self._closed or nodeid in self._futures or self._should_stop():
                return
            self._submit(nodeid)

    def _fill(self, after: int | None) -> None:
        with self._lock:
            if self._closed:
                return
            if after is not None and self._next <= after:
                self._next = after + 1
            while (
                self._next < len(self._order)
                and len(self._futures) < self._limit.current
                and not self._should_stop()
            ):
                nodeid = self._order[self._next]
                self._next += 1
                if nodeid not in self._futures:
                    self._submit(nodeid)

    def _submit(self, nodeid: str) -> None:
        self._futures[nodeid] = self._pool.submit(self._start, nodeid)
        self._limit.peak_in_flight = max(self._limit.peak_in_flight, len(self._futures))

    def close(self) -> None:
        """Start nothing more; let calls in flight finish so their recordings are complete."""
        with self._lock:
            self._closed = True
            pending = list(self._futures.values())
            self._futures.clear()
        for future in pending:
            future.cancel()
        self._pool.shutdown(wait=True)
