"""Run one case: render, call (recording or replaying), price, assert, score.

``RunContext`` holds what a session shares (record mode, providers, prices, the live transport);
``run_case`` turns a ``CasePlan`` into a ``CaseResult``. Provider and cassette errors become an
``error`` outcome of that case; they never escape to stop the session.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from .assertions import AssertionContext
from .cassettes import CaseCassette, CassetteTransport, RecordMode, cassette_file_name
from .errors import CassetteError, PromptRenderError, ProviderError
from .pricing import PriceTable, default_prices
from .prompts import RenderedPrompt, render_template
from .providers import Provider, ProviderRegistry, default_provider_registry
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
    providers: ProviderRegistry = field(default_factory=lambda: default_provider_registry)
    rootdir: Path | None = None
    _live: httpx.HTTPTransport | None = field(default=None, repr=False)
    _instances: dict[str, Provider] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
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
            if self._live is None:
                self._live = httpx.HTTPTransport(retries=0)
            return self._live

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
    return RenderedPrompt(tuple(messages))


def combine_scores(results: Sequence[AssertionResult], threshold: float | None) -> tuple[float | None, bool]:
    """Weighted mean score, and whether the case passes.

    Without a threshold every assertion with weight > 0 must pass; with one, the score must
    reach it. Weight 0 records a metric without gating.
    """
    weighted = [r for r in results if r.weight > 0]
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
            secrets=ctx.secrets(),
        )
    except CassetteError as exc:
        return _error_result(plan, ctx, nodeid, str(exc))
    provider = ctx.provider(plan.provider)
    client = httpx.Client(transport=CassetteTransport(cassette, ctx.live_transport), timeout=ctx.timeout)
    try:
        response = provider.complete(rendered, client)
        cassette.commit()
    except (ProviderError, CassetteError) as exc:
        cassette.discard()
        return _error_result(plan, ctx, nodeid, str(exc))
    finally:
        client.close()
    cassette.save()
    response = replace(response, cost_usd=ctx.prices.cost(response.model, response.usage))

    actx = AssertionContext(
        output=response.text,
        response=response,
        vars=plan.vars,
        expected=plan.expected,
        prompt=rendered,
        case_id=f"{plan.suite_path.name}::{plan.case}",
    )
    outcomes = tuple(a.run(actx) for a in plan.assertions)
    score, passed = combine_scores(outcomes, plan.threshold)
    return CaseResult(
        nodeid=nodeid,
        suite=ctx.display_path(plan.suite_path),
        case=plan.case,
        outcome="passed" if passed else "failed",
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
    )


def unpriced_models(results: Iterable[CaseResult]) -> list[str]:
    """Models that answered but have no price."""
    return sorted({r.model for r in results if r.outcome != "error" and r.cost_usd is None and r.model})
