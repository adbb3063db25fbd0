"""Concurrent calls while recording: a prefetcher runs the cases ahead of pytest's loop."""

from __future__ import annotations

import pytest

from ..engine.concurrency import AdaptiveLimit, Prefetcher
from ..recording.modes import RecordMode
from ..results import CaseResult, Outcome
from .items import CaseItem
from .state import LlmopsState

__all__ = ["start_prefetcher"]


def start_prefetcher(session: pytest.Session, state: LlmopsState) -> Prefetcher | None:
    """A prefetcher for this run's (or this xdist worker's) cases, or None when it would not help."""
    limit = AdaptiveLimit(state.settings.concurrency)
    cases = {item.nodeid: item for item in session.items if isinstance(item, CaseItem) and not item.skipped}
    # In `none` mode every call replays from disk in microseconds: threads would only add
    # switching, so cases run in pytest's own loop.
    if not cases or limit.maximum <= 1 or state.session.record_mode is RecordMode.NONE:
        return None
    state.session.on_rate_limit = limit.on_rate_limit
    worker = hasattr(session.config, "workerinput")

    def start(nodeid: str) -> CaseResult:
        result = cases[nodeid].run_plan()
        if result.outcome is not Outcome.ERROR:
            limit.on_success()
        return result

    prefetcher = Prefetcher(
        [] if worker else list(cases),
        start,
        limit,
        should_stop=lambda: bool(session.shouldstop or session.shouldfail),
    )
    state.prefetcher = prefetcher
    state.concurrency = limit
    return prefetcher
