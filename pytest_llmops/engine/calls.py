"""A case's model calls: one channel (cassette, transport, record mode), retries and fallbacks.

Every call of a case, the application's and its judges', goes through the case's ``Channel``:
its one record mode decides both what the cassette may replay or record and what the network
guard lets out, so the two can never disagree.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import BudgetExhaustedError, CassetteError, ProviderError
from ..prompts.render import RenderedPrompt
from ..recording.cassette import CaseCassette
from ..recording.modes import RecordMode
from ..recording.network import guard as network_guard
from ..recording.routing import calling
from ..recording.transport import CassetteTransport
from ..results import LLMResponse, Usage
from ..spec.schema import ProviderSpec
from .session import Session

__all__ = ["CallFailed", "CallOutcome", "CaseJudge", "Channel", "call_with_fallbacks"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A case's way to the model: its cassette, the transport over it, a client, one record mode."""

    session: Session
    mode: RecordMode
    cassette: CaseCassette
    transport: CassetteTransport
    client: httpx.Client

    @classmethod
    def open(cls, session: Session, path: Path, *, mode: RecordMode, nodeid: str) -> Channel:
        """Load (or start) the cassette at ``path``; raises ``CassetteError`` if it is unreadable."""
        scrubber = session.scrubber()
        cassette = CaseCassette(
            path,
            mode,
            record_command=session.record_command(nodeid),
            secrets=session.secrets,  # asked when saving: keys of providers first used later count
            rescrub=lambda r: scrubber.request(r.method, r.uri, r.body, r.headers.items()),
        )
        transport = CassetteTransport(cassette, session.live_transport, scrubber=scrubber, nodeid=nodeid)
        return cls(
            session, mode, cassette, transport, httpx.Client(transport=transport, timeout=session.timeout)
        )

    def close(self) -> None:
        self.client.close()


@dataclass(frozen=True, slots=True)
class CallOutcome:
    response: LLMResponse
    answered_by: str
    retries: int


class CallFailed(Exception):
    """Every provider in the chain failed; the message lists each one's last error."""

    def __init__(self, message: str, retries: int, *, budget_exhausted: bool = False) -> None:
        super().__init__(message)
        self.retries = retries
        self.budget_exhausted = budget_exhausted


def call_with_fallbacks(channel: Channel, spec: ProviderSpec, rendered: RenderedPrompt) -> CallOutcome:
    """Call ``spec`` with retries, then each ``fallback`` in order, within the case's time.

    On replay the chain is walked the same way: a provider whose call was never recorded
    (because it failed while recording) misses, and the fallback that answered then replays.
    """
    session = channel.session
    deadline = time.monotonic() + session.case_timeout
    errors: list[str] = []
    retries = 0
    budget_exhausted = False
    for candidate in (spec, *spec.fallback):
        provider = session.provider(candidate)
        limit = candidate.max_retries if candidate.max_retries is not None else session.max_retries
        attempt = 0
        while True:
            try:
                with session.budget_guard(), calling(channel.transport), network_guard(channel.mode):
                    response = session.priced(provider.complete(rendered, channel.client), candidate)
                channel.cassette.commit()
                return CallOutcome(response, candidate.display, retries)
            except (ProviderError, CassetteError) as exc:
                channel.cassette.discard()  # nothing half-recorded: a failed try leaves no trace
                budget_exhausted = budget_exhausted or isinstance(exc, BudgetExhaustedError)
                status = getattr(exc, "status", None)
                if session.on_rate_limit is not None and status == 429:
                    session.on_rate_limit()
                retryable = isinstance(exc, ProviderError) and exc.retryable
                if retryable and attempt < limit:
                    wait = session.backoff(candidate, attempt, getattr(exc, "retry_after", None))
                    if time.monotonic() + wait < deadline:
                        time.sleep(wait)
                        attempt += 1
                        retries += 1
                        continue
                    errors.append(f"{exc} (no time left for a retry within llmops_case_timeout)")
                else:
                    tries = f" (after {attempt + 1} tries)" if attempt else ""
                    errors.append(f"{exc}{tries}")
                break
        if time.monotonic() >= deadline:
            break
    if len(errors) == 1:
        raise CallFailed(errors[0], retries, budget_exhausted=budget_exhausted)
    listed = "\n".join(f"- {e}" for e in errors)
    raise CallFailed(
        f"every provider failed (the provider, then its fallbacks):\n{listed}",
        retries,
        budget_exhausted=budget_exhausted,
    )


class CaseJudge:
    """Model calls made by a case's assertions: through the case's channel, counted apart.

    Judge calls use the same retries and budget as the application's; their usage and cost
    are kept apart so reports can show what judging cost.
    """

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self.usage = Usage()
        self.cost_usd: float | None = 0.0
        self.retries = 0
        #: Whether every call so far was replayed from the cassette (None: no call yet).
        self.replayed: bool | None = None
        self._lock = threading.Lock()

    def _count(self, response: LLMResponse) -> LLMResponse:
        """Add a priced judge response to the judge's totals."""
        cost = response.cost_usd
        with self._lock:
            self.usage = self.usage + response.usage
            self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
            self.replayed = response.replayed and self.replayed is not False
        return response

    def complete(self, prompt: RenderedPrompt, provider: ProviderSpec) -> LLMResponse:
        try:
            outcome = call_with_fallbacks(self._channel, provider, prompt)
        except CallFailed as exc:
            self.retries += exc.retries
            raise ProviderError(f"judge call failed: {exc}") from None
        self.retries += outcome.retries
        return self._count(outcome.response)

    def embed(self, texts: list[str], provider: ProviderSpec) -> list[list[float]]:
        channel = self._channel
        session = channel.session
        instance = session.provider(provider)
        embed = getattr(instance, "embed", None)
        if embed is None:
            raise ProviderError(f"provider {provider.id!r} cannot embed text; use an openai: embedding model")
        try:
            with session.budget_guard(), calling(channel.transport), network_guard(channel.mode):
                vectors, response = embed(texts, channel.client)
                response = session.priced(response, provider)
            channel.cassette.commit()
        except (ProviderError, CassetteError):
            channel.cassette.discard()
            raise
        self._count(response)
        return vectors  # type: ignore[no-any-return]
