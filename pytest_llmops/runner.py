"""Run one case: render, call (recording or replaying), price, assert, score.

``RunContext`` holds what a session shares (record mode, providers, prices, the live transport);
``run_case`` turns a ``CasePlan`` into a ``CaseResult``. Provider and cassette errors become an
``error`` outcome of that case; they never escape to stop the session.
"""

from __future__ import annotations

import contextlib
import os
import random
import shlex
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from .assertions import AssertionContext
from .cassettes import CaseCassette, CassetteTransport, RecordMode, cassette_file_name
from .errors import BudgetExhaustedError, CassetteError, PromptRenderError, ProviderError
from .interception import OWNED, routed_to
from .network import guard as network_guard
from .pricing import PriceTable, default_prices
from .prompts import RenderedPrompt, render_template
from .providers import Provider, ProviderRegistry, default_providers
from .repeats import reduce_runs
from .results import AssertionResult, CaseResult, LLMResponse, Message, Usage
from .schema import ProviderSpec
from .suite import CasePlan, suite_stem

__all__ = ["RunContext", "combine_scores", "render_case", "run_case"]

#: Environment variables whose values are secrets wherever they appear.
DEFAULT_SECRET_ENVS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_OPENAI_API_KEY")


@dataclass
class RunContext:
    """What every case of a session shares."""

    record_mode: RecordMode = RecordMode.NONE
    cassette_dir: Path | None = None
    timeout: float = 60.0
    prices: PriceTable = field(default_factory=default_prices)
    providers: ProviderRegistry = field(default_factory=default_providers)
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
    #: Told about every HTTP 429, so concurrency can back off.
    on_rate_limit: Callable[[], None] | None = field(default=None, repr=False)
    #: USD that live calls may spend in this run (``--llmops-budget``); None = no cap.
    budget_usd: float | None = None
    spent_usd: float = 0.0
    _live: httpx.HTTPTransport | None = field(default=None, repr=False)
    _instances: dict[str, Provider] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _budget_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _secret_envs: set[str] = field(default_factory=lambda: set(DEFAULT_SECRET_ENVS), repr=False)

    def provider(self, spec: ProviderSpec) -> Provider:
        key = spec.model_dump_json()  # specs hold dicts, so they are not hashable themselves
        with self._lock:
            instance = self._instances.get(key)
            if instance is None:
                instance = self._instances[key] = self.providers.create(spec)
                if spec.api_key_env:
                    self._secret_envs.add(spec.api_key_env)
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
                self._live = httpx.HTTPTransport(retries=0)
                setattr(self._live, OWNED, True)  # never rerouted to a cassette
            return self._live

    def backoff(self, spec: ProviderSpec, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry ``attempt`` (0-based): Retry-After, else jittered 2^n."""
        if retry_after is not None:
            return retry_after
        base = spec.retry_backoff if spec.retry_backoff is not None else self.retry_backoff
        ceiling = min(self.retry_max_backoff, base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)  # "equal jitter": spread retries, keep a floor

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

    def priced(self, response: LLMResponse) -> LLMResponse:
        """Price a response (an application may report its own cost) and count live spend."""
        if response.cost_usd is None:
            response = replace(response, cost_usd=self.prices.cost(response.model, response.usage))
        if not response.replayed:
            self.add_spend(response.cost_usd)
        return response

    def add_spend(self, cost_usd: float | None) -> None:
        """Count the cost of a live call against the budget."""
        if cost_usd:
            with self._lock:
                self.spent_usd += cost_usd

    def secrets(self) -> list[str]:
        return [v for name in sorted(self._secret_envs) if (v := os.environ.get(name, "").strip())]

    def cassette_path(self, plan: CasePlan) -> Path:
        base = self.cassette_dir if self.cassette_dir is not None else plan.suite_path.parent / "cassettes"
        return base / suite_stem(plan.suite_path) / cassette_file_name(plan.name)

    def display_path(self, path: Path) -> str:
        """A path relative to rootdir, as reports show it."""
        if self.rootdir is not None:
            try:
                return path.relative_to(self.rootdir).as_posix()
            except ValueError:
                pass
        return str(path)

    def record_command(self, nodeid: str) -> str:
        return f"pytest {shlex.quote(nodeid)} --llmops-record-mode=once"

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
            self._live = None


def render_case(plan: CasePlan) -> RenderedPrompt:
    """The messages this case sends."""
    if plan.prompt is not None:
        return plan.prompt.render(plan.vars, case=plan.case)
    messages = []
    if plan.system:
        try:
            messages.append(Message("system", render_template(plan.system, plan.vars)))
        except Exception as exc:
            raise PromptRenderError(f"suite `system:` of case {plan.case}: {exc}") from None
    messages.append(Message("user", str(plan.vars.get(plan.input_var, ""))))
    return RenderedPrompt(tuple(messages), variables=plan.vars)


def combine_scores(results: Sequence[AssertionResult], threshold: float | None) -> tuple[float | None, bool]:
    """Weighted mean score, and whether the case passes.

    Without a threshold every assertion with weight > 0 must pass; with one, the score must
    reach it. Weight 0 records a metric without gating.
    """
    # An unscored judge counts neither as a pass nor as a zero: it is left out of the mean.
    weighted = [r for r in results if r.weight > 0 and not r.unscored]
    total = sum(r.weight for r in weighted)
    score = sum(r.score * r.weight for r in weighted) / total if total else None
    if threshold is None:
        return score, all(r.passed for r in weighted)
    return score, score is not None and score >= threshold


def _error_result(
    plan: CasePlan, ctx: RunContext, nodeid: str, error: str, response: LLMResponse | None = None
) -> CaseResult:
    return CaseResult(
        nodeid=nodeid,
        suite=ctx.display_path(plan.suite_path),
        case=plan.case,
        outcome="error",
        prompt=plan.prompt.name if plan.prompt else None,
        prompt_version=str(plan.prompt.version) if plan.prompt else None,
        provider=plan.provider.display,
        model=plan.provider.model or (plan.prompt.model if plan.prompt and plan.prompt.model else ""),
        threshold=plan.threshold,
        error=error,
        tags=plan.tags,
        location=f"{ctx.display_path(plan.suite_path)}:{plan.line}",
        usage=response.usage if response else Usage(),
    )


@dataclass(frozen=True, slots=True)
class CallOutcome:
    response: LLMResponse
    answered_by: str
    retries: int


class CallFailed(Exception):
    """Every provider in the chain failed; the message lists each one's last error."""

    def __init__(self, message: str, retries: int) -> None:
        super().__init__(message)
        self.retries = retries


def call_with_fallbacks(
    spec: ProviderSpec,
    rendered: RenderedPrompt,
    ctx: RunContext,
    cassette: CaseCassette,
    client: httpx.Client,
    transport: CassetteTransport,
) -> CallOutcome:
    """Call ``spec`` with retries, then each ``fallback`` in order, within the case's time.

    On replay the chain is walked the same way: a provider whose call was never recorded
    (because it failed while recording) misses, and the fallback that answered then replays.
    """
    deadline = time.monotonic() + ctx.case_timeout
    errors: list[str] = []
    retries = 0
    for candidate in (spec, *spec.fallback):
        provider = ctx.provider(candidate)
        limit = candidate.max_retries if candidate.max_retries is not None else ctx.max_retries
        attempt = 0
        while True:
            try:
                with ctx.budget_guard(), routed_to(transport), network_guard(ctx.record_mode):
                    response = ctx.priced(provider.complete(rendered, client))
                cassette.commit()
                return CallOutcome(response, candidate.display, retries)
            except (ProviderError, CassetteError) as exc:
                cassette.discard()  # nothing half-recorded: a failed try leaves no trace
                if ctx.on_rate_limit is not None and getattr(exc, "status", None) == 429:
                    ctx.on_rate_limit()
                retryable = isinstance(exc, ProviderError) and exc.retryable
                if retryable and attempt < limit:
                    wait = ctx.backoff(candidate, attempt, getattr(exc, "retry_after", None))
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
        raise CallFailed(errors[0], retries)
    listed = "\n".join(f"- {e}" for e in errors)
    raise CallFailed(f"every provider failed (the provider, then its fallbacks):\n{listed}", retries)


class CaseJudge:
    """Model calls made by a case's assertions: through the case's cassette, counted apart.

    Judge calls use the same retries and budget as the application's; their usage and cost
    are kept apart so reports can show what judging cost.
    """

    def __init__(
        self, ctx: RunContext, cassette: CaseCassette, client: httpx.Client, transport: CassetteTransport
    ):
        self._ctx = ctx
        self._cassette = cassette
        self._client = client
        self._transport = transport
        self.usage = Usage()
        self.cost_usd: float | None = 0.0
        self.retries = 0
        self._lock = threading.Lock()

    def _count(self, response: LLMResponse) -> LLMResponse:
        """Add a priced judge response to the judge's totals."""
        cost = response.cost_usd
        with self._lock:
            self.usage = self.usage + response.usage
            self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
        return response

    def complete(self, prompt: RenderedPrompt, provider: ProviderSpec) -> LLMResponse:
        try:
            outcome = call_with_fallbacks(
                provider, prompt, self._ctx, self._cassette, self._client, self._transport
            )
        except CallFailed as exc:
            self.retries += exc.retries
            raise ProviderError(f"judge call failed: {exc}") from None
        self.retries += outcome.retries
        return self._count(outcome.response)

    def embed(self, texts: list[str], provider: ProviderSpec) -> list[list[float]]:
        instance = self._ctx.provider(provider)
        embed = getattr(instance, "embed", None)
        if embed is None:
            raise ProviderError(f"provider {provider.id!r} cannot embed text; use an openai: embedding model")
        try:
            with self._ctx.budget_guard(), routed_to(self._transport), network_guard(self._ctx.record_mode):
                vectors, response = embed(texts, self._client)
                response = self._ctx.priced(response)
            self._cassette.commit()
        except (ProviderError, CassetteError):
            self._cassette.discard()
            raise
        self._count(response)
        return vectors  # type: ignore[no-any-return]


def run_case(plan: CasePlan, ctx: RunContext, *, nodeid: str) -> CaseResult:
    """Run one case end to end."""
    try:
        rendered = render_case(plan)
    except PromptRenderError as exc:
        return _error_result(plan, ctx, nodeid, str(exc))
    try:
        cassette = CaseCassette(
            ctx.cassette_path(plan),
            ctx.record_mode,
            record_command=ctx.record_command(nodeid),
            secrets=ctx.secrets,  # asked when saving: keys of providers first used in this case count
        )
    except CassetteError as exc:
        return _error_result(plan, ctx, nodeid, str(exc))
    transport = CassetteTransport(cassette, ctx.live_transport)
    client = httpx.Client(transport=transport, timeout=ctx.timeout)
    runs = ctx.repeat_override or plan.repeat or ctx.repeat_default
    results = []
    try:
        # One cassette for all runs: run i replays the i-th recording of the same request.
        for _ in range(runs):
            try:
                outcome = call_with_fallbacks(plan.provider, rendered, ctx, cassette, client, transport)
            except CallFailed as exc:
                results.append(replace(_error_result(plan, ctx, nodeid, str(exc)), retries=exc.retries))
                continue
            judge = CaseJudge(ctx, cassette, client, transport)
            results.append(_score(plan, ctx, nodeid, rendered, outcome, judge))
    finally:
        client.close()
    try:
        # What was recorded is kept even if a later run failed: the next run replays it.
        cassette.save()
    except CassetteError as exc:  # e.g. an unwritable folder: the case errs, and is reported
        return _error_result(plan, ctx, nodeid, str(exc))
    return reduce_runs(results, plan.reduce, plan.threshold)


def _score(
    plan: CasePlan,
    ctx: RunContext,
    nodeid: str,
    rendered: RenderedPrompt,
    outcome: CallOutcome,
    judge: CaseJudge,
) -> CaseResult:
    response = outcome.response

    actx = AssertionContext(
        output=response.text,
        response=response,
        vars=plan.vars,
        expected=plan.expected,
        prompt=rendered,
        case_id=f"{plan.suite_path.name}::{plan.case}",
        judge=judge,
    )
    outcomes = tuple(a.run(actx) for a in plan.assertions)
    score, passed = combine_scores(outcomes, plan.threshold)
    judge_failures = sum(1 for a in outcomes if a.unscored)
    # An unparseable judge gating the case makes it "unscored": never a silent pass or zero.
    unscored = any(a.unscored and a.weight > 0 for a in outcomes)
    return CaseResult(
        nodeid=nodeid,
        suite=ctx.display_path(plan.suite_path),
        case=plan.case,
        outcome="unscored" if unscored else "passed" if passed else "failed",
        prompt=plan.prompt.name if plan.prompt else None,
        prompt_version=str(plan.prompt.version) if plan.prompt else None,
        provider=plan.provider.display,
        model=response.model,
        score=score,
        threshold=plan.threshold,
        assertions=outcomes,
        usage=response.usage,
        cost_usd=response.cost_usd,
        latency_ms=response.latency_ms,
        ttft_ms=response.ttft_ms,
        replayed=response.replayed,
        output=response.text,
        tags=plan.tags,
        messages=rendered.messages,
        location=f"{ctx.display_path(plan.suite_path)}:{plan.line}",
        answered_by=outcome.answered_by if outcome.answered_by != plan.provider.display else None,
        retries=outcome.retries + judge.retries,
        judge_usage=judge.usage,
        judge_cost_usd=judge.cost_usd,
        judge_failures=judge_failures,
    )


def unpriced_models(results: Iterable[CaseResult]) -> list[str]:
    """Models that answered but have no price."""
    return sorted({r.model for r in results if r.outcome != "error" and r.cost_usd is None and r.model})
