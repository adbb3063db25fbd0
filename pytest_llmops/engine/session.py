"""What every case of a run shares: settings, providers, prices, the live pool, budget and secrets.

A ``Session`` is plain Python: the pytest plugin builds one from its settings, and a test of the
engine builds one by hand. Cases (``CaseRun``) borrow from it; nothing here knows about pytest.
"""

from __future__ import annotations

import contextlib
import os
import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from ..assertions.registry import AssertionRegistry, default_registry
from ..errors import BudgetExhaustedError
from ..providers import Provider, ProviderRegistry, default_providers
from ..recording.cassette import cassette_path
from ..recording.interception import OwnedHTTPTransport
from ..recording.modes import RecordMode
from ..recording.scrub import Redaction, Scrubber
from ..results import LLMResponse
from ..spec.schema import AssertionSpec, ProviderSpec
from .pricing import Price, PriceTable, default_prices, parse_price

__all__ = ["DEFAULT_SECRET_ENVS", "Session", "provider_price"]

#: Environment variables whose values are secrets wherever they appear.
DEFAULT_SECRET_ENVS = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "OPENROUTER_API_KEY",
    "MISTRAL_API_KEY",
    "LITELLM_API_KEY",
    "OLLAMA_API_KEY",
)


def provider_price(spec: ProviderSpec) -> Price | None:
    """The provider's own ``price:`` (0 for a local model), or None to ask the price tables."""
    if spec.price is None:
        return None
    return parse_price(spec.price, f"provider {spec.id!r}: price")


@dataclass
class Session:
    """What every case of a run shares."""

    record_mode: RecordMode = RecordMode.NONE
    cassette_dir: Path | None = None
    timeout: float = 60.0
    prices: PriceTable = field(default_factory=default_prices)
    providers: ProviderRegistry = field(default_factory=default_providers)
    assertions: AssertionRegistry = field(default_factory=lambda: AssertionRegistry(default_registry))
    rootdir: Path | None = None
    #: Retries after the first try of a call that failed in a way that may pass later.
    max_retries: int = 2
    #: Base delay of the exponential backoff, seconds; doubled per retry, capped, jittered.
    retry_backoff: float = 0.5
    retry_max_backoff: float = 30.0
    #: Seconds one case may spend on its calls, retries and fallbacks included.
    case_timeout: float = 300.0
    #: Runs per case unless the suite says otherwise (ini `llmops_repeat`).
    repeat_default: int = 1
    #: Runs per case whatever the suite says (`--llmops-repeat`).
    repeat_override: int | None = None
    #: Defaults of model-graded assertions (ini `llmops_judge`, `llmops_embedding`); a suite's win.
    judge: ProviderSpec | None = None
    embedding: ProviderSpec | None = None
    #: Told about every HTTP 429, so concurrency can back off.
    on_rate_limit: Callable[[], None] | None = field(default=None, repr=False)
    #: USD that live calls may spend in this run (``--llmops-budget``); None = no cap.
    budget_usd: float | None = None
    spent_usd: float = 0.0
    #: What is redacted besides keys: ini ``llmops_redact_*`` and the redaction hook.
    redaction: Redaction = field(default_factory=Redaction)
    _live: httpx.HTTPTransport | None = field(default=None, repr=False)
    _scrubber: Scrubber | None = field(default=None, repr=False)
    _instances: dict[str, Provider] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _budget_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _secret_envs: set[str] = field(default_factory=lambda: set(DEFAULT_SECRET_ENVS), repr=False)

    # -- providers and the network ------------------------------------------------------------
    def provider(self, spec: ProviderSpec) -> Provider:
        """One provider instance per distinct spec, for the whole run."""
        key = spec.model_dump_json()  # specs hold dicts, so they are not hashable themselves
        with self._lock:
            instance = self._instances.get(key)
            if instance is None:
                instance = self._instances[key] = self.providers.create(spec)
                if spec.api_key_env:
                    self._secret_envs.add(spec.api_key_env)
                # Headers and query values read from the environment are secrets too.
                self._secret_envs.update(spec.referenced_envs())
            return instance

    def live_transport(self) -> httpx.BaseTransport:
        """One connection pool for every live call, made only when a call really goes out."""
        with self._lock:
            if self.budget_usd is not None and self.spent_usd >= self.budget_usd:
                raise BudgetExhaustedError(
                    f"budget exhausted: ${self.spent_usd:.4f} of the ${self.budget_usd:.4f} "
                    "--llmops-budget is spent on live calls; no further live call is made "
                    "(replays keep running)"
                )
            if self._live is None:
                # Never rerouted to a cassette, nor seen by another recorder's patches.
                self._live = OwnedHTTPTransport(retries=0)
            return self._live

    def scrubber(self) -> Scrubber:
        """The scrubbed form of stored requests, for every cassette of the run."""
        if self._scrubber is None:
            self._scrubber = Scrubber.from_redaction(self.redaction, self.secrets)
        return self._scrubber

    def backoff(self, spec: ProviderSpec, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After, else jittered 2^n."""
        if retry_after is not None:
            return retry_after
        base = spec.retry_backoff if spec.retry_backoff is not None else self.retry_backoff
        ceiling = min(self.retry_max_backoff, base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread retries, keep a floor

    # -- money --------------------------------------------------------------------------------
    @contextlib.contextmanager
    def budget_guard(self) -> Iterator[None]:
        """With a budget, calls run one at a time, so the cap is checked against exact spend.

        Without it, concurrent live calls could all start before any of their costs is known,
        and together overshoot the cap; one at a time, the overshoot is at most the one call
        that crosses it, as in a serial run. Replays are instant, so little is lost.
        """
        if self.budget_usd is None:
            yield
            return
        with self._budget_lock:
            yield

    def priced(self, response: LLMResponse, spec: ProviderSpec | None = None) -> LLMResponse:
        """Price a response (an application may report its own cost) and count live spend.

        ``spec`` is the provider that answered: its kind picks provider-aware price ids
        (``bedrock:`` asks for AWS's prices), and its ``price:`` wins over every table. A
        response whose usage nobody reported stays unpriced, never $0.
        """
        if response.cost_usd is None and response.usage_known:
            quote = self.prices.quote(
                response.model,
                response.usage,
                provider=spec.kind if spec is not None else None,
                price=provider_price(spec) if spec is not None else None,
            )
            response = replace(response, cost_usd=quote.cost_usd, price_source=quote.source)
        elif response.cost_usd is not None and response.price_source is None:
            response = replace(response, price_source="reported by the application")
        if not response.replayed:
            self.add_spend(response.cost_usd)
        return response

    def add_spend(self, cost_usd: float | None) -> None:
        """Count the cost of a live call against the budget."""
        if cost_usd:
            with self._lock:
                self.spent_usd += cost_usd

    # -- what a case needs to know ------------------------------------------------------------
    def secrets(self) -> list[str]:
        """The values of every key variable the run knows of, as they are now."""
        return [v for name in sorted(self._secret_envs) if (v := os.environ.get(name, "").strip())]

    def with_judge(
        self,
        spec: AssertionSpec,
        *,
        judge: ProviderSpec | None = None,
        embedding: ProviderSpec | None = None,
    ) -> AssertionSpec:
        """The assertion with its model filled in: its own, else the suite's, else the ini default.

        ``similar`` needs an embedding model, so it takes the embedding default: a chat judge would
        fail at run time. YAML cases and the Python fixture both come through here.
        """
        if spec.provider is not None or not self.assertions.uses_judge(spec.base_type):
            return spec
        similar = spec.base_type == "similar"
        default = (embedding or self.embedding) if similar else (judge or self.judge)
        return spec if default is None else spec.model_copy(update={"provider": default})

    def cassette_path(self, source: Path, item_name: str) -> Path:
        """The cassette of one item of ``source`` (a suite or a Python test file)."""
        return cassette_path(source, item_name, cassette_dir=self.cassette_dir, rootdir=self.rootdir)

    def display_path(self, path: Path) -> str:
        """A path relative to rootdir, as reports show it."""
        if self.rootdir is not None:
            try:
                return path.relative_to(self.rootdir).as_posix()
            except ValueError:
                pass
        return str(path)

    @staticmethod
    def record_command(nodeid: str, mode: RecordMode = RecordMode.ONCE) -> str:
        """The command that records (or re-records) one item, quoted for any shell."""
        quoted = "'" + nodeid.replace("'", "'\"'\"'") + "'"
        return f"pytest {quoted} --llmops-record-mode={mode.value}"

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None
