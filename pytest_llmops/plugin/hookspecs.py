"""Hooks other plugins implement to extend pytest-llmops.

Each is called when the run first needs its registry (the first suite collected, or the first
test using the ``llmops`` fixture), and again when a suite names a type or provider the registry
does not know, so a ``conftest.py`` that pytest loads later is heard too. The built-ins are
already registered; pass ``replace=True`` to replace one::

    # conftest.py or a plugin module
    def pytest_llmops_register_providers(registry):
        registry.register("myllm", MyProvider)          # suites use `provider: myllm:model-x`

    def pytest_llmops_register_assertions(registry):
        registry.register("polite", polite_factory)     # suites use `type: polite`

    def pytest_llmops_configure_redaction(redaction):
        redaction.headers.add("x-request-id")           # stored as REDACTED
        redaction.query_params.add("session")
        redaction.body_fields.add("customer_email")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..assertions.registry import AssertionRegistry
    from ..providers.base import ProviderRegistry
    from ..recording.scrub import Redaction

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_llmops_register_providers(registry: ProviderRegistry) -> None:
    """Register provider factories: ``registry.register(kind, factory)``.

    ``factory(spec: ProviderSpec) -> Provider`` is called once per provider of a suite, at
    collection; raise ``ValueError`` for bad settings (it becomes a collection error at the
    provider's line). ``kind`` is the part of the provider id before ``:``. Pass
    ``replace=True`` to replace a built-in.
    """


@hookspec
def pytest_llmops_register_assertions(registry: AssertionRegistry) -> None:
    """Register assertion types: ``registry.register(name, factory)``.

    ``factory(spec: AssertionSpec, *, base_dir: Path) -> Check`` is called at collection for
    each use of the type (validate the configuration there, raising ``AssertionConfigError``);
    the returned ``check(ctx: AssertionContext) -> Grade`` runs per case. ``not-<name>`` comes
    for free.
    """


@hookspec
def pytest_llmops_configure_redaction(redaction: Redaction) -> None:
    """Add to what cassettes store as ``REDACTED``, as pytest-recording's ``vcr_config`` does.

    Called once per run (per xdist worker), when the first case starts, after the ini keys
    ``llmops_redact_headers``, ``llmops_redact_query`` and ``llmops_redact_body`` are read:
    add names to ``redaction.headers``, ``redaction.query_params`` and ``redaction.body_fields``
    (sets, compared case-insensitively). Query parameters and body fields are redacted in the
    stored request and in the request being matched, so a redacted recording still replays.
    """
