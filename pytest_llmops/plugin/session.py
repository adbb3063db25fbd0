"""Build the engine's ``Session`` from the run's settings and the plugins' registrations.

Providers and assertion types come from ``pytest_llmops_register_*`` hooks on top of the
built-ins; each registry asks the hooks again on a miss, so a ``conftest.py`` that pytest loads
after the first suite still registers what later suites use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from .. import assertions as _builtin_assertions  # noqa: F401  (registers the built-in types)
from ..assertions.registry import AssertionRegistry, default_registry
from ..engine.pricing import PriceTable, default_prices
from ..engine.session import Session
from ..errors import LlmopsError
from ..providers import ProviderRegistry, default_providers
from ..recording.modes import RecordMode
from ..recording.network import allow_hosts
from ..recording.redaction import redact_logs
from ..recording.scrub import Redaction
from ..settings import Settings
from ..spec.schema import ProviderSpec

__all__ = ["build_session", "load_prices", "redaction", "worker_budget"]


def worker_budget(config: pytest.Config, budget: float | None) -> float | None:
    """The budget one process may spend.

    Each pytest-xdist worker counts its own live spending, so the budget is split evenly: the
    whole run never spends more than the budget plus the one call per process that crosses its
    share, at the price of a worker stopping while another still has budget left.
    """
    if budget is None:
        return None
    workerinput: Mapping[str, Any] | None = getattr(config, "workerinput", None)
    count = int(workerinput.get("workercount", 1)) if workerinput else 1
    return budget / max(count, 1)


def _providers(config: pytest.Config) -> ProviderRegistry:
    def refresh(registry: ProviderRegistry) -> None:
        late = ProviderRegistry()
        config.hook.pytest_llmops_register_providers(registry=late)
        registry.update(late)

    registry = default_providers()
    config.hook.pytest_llmops_register_providers(registry=registry)
    registry._refresh = refresh  # only now: the first round must not call itself
    return registry


def _assertions(config: pytest.Config) -> AssertionRegistry:
    def refresh(registry: AssertionRegistry) -> None:
        late = AssertionRegistry()
        config.hook.pytest_llmops_register_assertions(registry=late)
        registry.update(late)

    registry = AssertionRegistry(default_registry)
    config.hook.pytest_llmops_register_assertions(registry=registry)
    registry._refresh = refresh
    return registry


def load_prices(settings: Settings) -> PriceTable:
    """The built-in price table with the ``llmops_prices`` file over it; a usage error if it is bad."""
    prices = default_prices()
    if settings.prices is not None:
        try:
            prices = prices.load_overrides(settings.prices)
        except LlmopsError as exc:
            where = "--llmops-prices" if settings.source("prices") == "option" else "llmops_prices"
            raise pytest.UsageError(f"{where}: {exc}") from None
    return prices


def redaction(config: pytest.Config, settings: Settings) -> Redaction:
    """What is redacted besides keys: the ini keys, then what plugins add through the hook."""
    wanted = Redaction(
        headers=set(settings.redact_headers),
        query_params=set(settings.redact_query),
        body_fields=set(settings.redact_body),
    )
    config.hook.pytest_llmops_configure_redaction(redaction=wanted)
    return wanted


def build_session(config: pytest.Config, settings: Settings, prices: PriceTable | None = None) -> Session:
    """The session of this run (or of this xdist worker)."""
    session = Session(
        record_mode=RecordMode(settings.record_mode),
        cassette_dir=settings.cassette_dir,
        timeout=settings.timeout,
        prices=prices if prices is not None else load_prices(settings),
        providers=_providers(config),
        assertions=_assertions(config),
        rootdir=config.rootpath,
        max_retries=settings.max_retries,
        retry_backoff=settings.retry_backoff,
        retry_max_backoff=settings.retry_max_backoff,
        case_timeout=settings.case_timeout,
        # On the command line the repeat count applies to every case; in an ini file it is the
        # default of cases whose suite does not say.
        repeat_default=settings.repeat if settings.source("repeat") == "ini" else 1,
        repeat_override=settings.repeat if settings.source("repeat") == "option" else None,
        judge=ProviderSpec(id=settings.judge) if settings.judge else None,
        embedding=ProviderSpec(id=settings.embedding) if settings.embedding else None,
        budget_usd=worker_budget(config, settings.budget),
        redaction=redaction(config, settings),
    )
    allow_hosts(settings.allowed_hosts)
    config.add_cleanup(redact_logs(session.secrets))  # a key in a URL never reaches --log-file
    return session
