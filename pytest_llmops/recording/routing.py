"""Which case a call belongs to: the case's context, carried into its threads, or the only case.

While a case runs (a YAML case, or a Python test that uses the ``llmops`` fixture) its cassette
transport is *active*: it sits in a context variable of the case's own context, and the
process's HTTP clients are patched to send every request to the transport of the case it
belongs to (``interception.py`` for httpx, ``clients.py`` for vcrpy's stubs). A call belongs to:

1. the case in its context: the case's own thread, its asyncio tasks (which copy the context),
   and threads and executor jobs started while it runs (``threads.py`` carries the context in);
2. otherwise, when exactly one case is active in the process, that case (a serial run: an
   application's long-lived worker thread, started before the case, still records);
3. otherwise nobody can say: the call fails with ``UnattributedCallError`` and every active case
   fails with the reason, so it is never silently live and never lands in the wrong cassette.

The patches are applied when the first case becomes active and removed when the last one ends:
between cases, the process's HTTP clients are exactly as the libraries made them.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import UnattributedCallError

if TYPE_CHECKING:
    from .transport import CassetteTransport

__all__ = ["active", "calling", "current", "owner", "patching", "register_patches"]

_current: contextvars.ContextVar[CassetteTransport | None] = contextvars.ContextVar(
    "llmops_case_transport", default=None
)
_active: list[CassetteTransport] = []
_lock = threading.RLock()
#: Builders of the patches applied while any case is active; each returns started patchers.
_builders: list[Callable[[], list[Any]]] = []
_started: list[Any] = []


def register_patches(builder: Callable[[], list[Any]]) -> None:
    """Add a builder of ``unittest.mock`` patchers, started with the first active case."""
    with _lock:
        if builder not in _builders:
            _builders.append(builder)


def current() -> CassetteTransport | None:
    """The case in this context, if any."""
    return _current.get()


def owner(client: str, target: str) -> CassetteTransport:
    """The case a call belongs to (see the module docstring); raises ``UnattributedCallError``."""
    transport = _current.get()
    if transport is not None:
        return transport
    with _lock:
        if len(_active) == 1:
            return _active[0]
        cases = [t.nodeid for t in _active]
    message = (
        f"a {client} call to {target} was made outside any case's context while "
        f"{len(cases)} cases ran ({', '.join(cases) or 'none'}), so no cassette can be chosen "
        "for it. Calls from the case's own thread, its asyncio tasks and the threads and "
        "executors it starts are attributed; a thread started earlier is not. Start the "
        "thread inside the case (or submit the work to an executor there), or run these "
        "cases serially (--llmops-concurrency=1, no -n)."
    )
    for case in cases_snapshot():
        case.failures.append(message)
    raise UnattributedCallError(message)


def cases_snapshot() -> list[CassetteTransport]:
    with _lock:
        return list(_active)


def active() -> bool:
    """Whether any case is active in the process."""
    with _lock:
        return bool(_active)


@contextlib.contextmanager
def patching(transport: CassetteTransport) -> Iterator[None]:
    """While the block runs, ``transport``'s case is active (see the module docstring)."""
    with _lock:
        if not _active:
            _start_patches()
        _active.append(transport)
    token = _current.set(transport)
    try:
        yield
    finally:
        try:
            _current.reset(token)
        except ValueError:  # ended from another context (a fixture torn down elsewhere)
            _current.set(None)
        with _lock:
            _active.remove(transport)
            if not _active:
                _stop_patches()


@contextlib.contextmanager
def calling(transport: CassetteTransport) -> Iterator[None]:
    """One provider call of the case: its exchanges are kept only if the call succeeds."""
    token = _current.set(transport)
    with transport._lock:
        transport.calls_in_flight += 1
    try:
        yield
    finally:
        with transport._lock:
            transport.calls_in_flight -= 1
        _current.reset(token)


def _start_patches() -> None:
    for builder in _builders:
        for patcher in builder():
            patcher.start() if hasattr(patcher, "start") else patcher.__enter__()
            _started.append(patcher)


def _stop_patches() -> None:
    # In reverse: a patch restores what the one before it left.
    while _started:
        patcher = _started.pop()
        patcher.stop() if hasattr(patcher, "stop") else patcher.__exit__(None, None, None)
