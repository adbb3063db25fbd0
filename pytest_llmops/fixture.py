"""The ``llmops`` fixture: prompts, calls, cassettes and assertions from Python tests.

::

    @pytest.mark.llmops(provider="openai:gpt-4o-mini", judge="openai:gpt-4o-mini")
    def test_refund(llmops):
        prompt = llmops.prompt("customer-support@^2").render(customer_message="I want a refund")
        response = llmops.complete(prompt)
        llmops.check(response, icontains="refund", max_cost=0.01, llm_rubric="Asks for the order number")

Calls go through a cassette named after the test (``cassettes/<module>/<test>.yaml`` beside the
test file) under the run's record mode, so a Python test replays offline like a YAML case. A
failed ``check`` reads exactly like a YAML case's failure, and every test's tokens, cost,
latency and scores enter the same reports, summary and gates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from .assertions import AssertionContext, AssertionRegistry
from .cassettes import CaseCassette, CassetteTransport, RecordMode, cassette_file_name
from .errors import LlmopsError, ProviderError
from .prompts import Prompt, PromptRegistry, RenderedPrompt
from .redaction import redact_result
from .reporting import format_case_failure
from .results import AssertionResult, CaseResult, LLMResponse, Message, Usage
from .runner import CallFailed, CaseJudge, RunContext, call_with_fallbacks, combine_scores
from .schema import AssertionSpec, ProviderSpec

__all__ = ["CheckFailed", "LlmopsFixture"]

#: ``check`` keywords that are limits, not values: keyword -> (assertion type, field).
_LIMITS = {
    "max_cost": ("cost", "threshold"),
    "max_latency_ms": ("latency", "threshold"),
    "max_ttft_ms": ("ttft", "threshold"),
    "max_tokens": ("tokens", "threshold"),
}


class CheckFailed(AssertionError):
    """A ``check`` failed; the message is the same failure text as a YAML case's."""


def _as_spec(key: str, value: Any) -> AssertionSpec:
    if key in _LIMITS:
        kind, field = _LIMITS[key]
        return AssertionSpec(type=kind, **{field: value})
    kind = key.replace("_", "-")
    if isinstance(value, Mapping):  # the full form: similar={"value": "...", "threshold": 0.8}
        return AssertionSpec(type=kind, **value)
    return AssertionSpec(type=kind, value=value)


class LlmopsFixture:
    """What the ``llmops`` fixture gives a test."""

    def __init__(
        self,
        *,
        node: pytest.Item,
        ctx: RunContext,
        assertions: AssertionRegistry,
        registry: PromptRegistry,
        options: Mapping[str, Any],
        judge: ProviderSpec | None,
    ) -> None:
        self._node = node
        self._ctx = ctx
        self._assertions = assertions
        self._registry = registry
        self._options = dict(options)
        provider = options.get("provider")
        self.provider: ProviderSpec | None = (
            ProviderSpec(id=provider) if isinstance(provider, str) else provider
        )
        judge_option = options.get("judge", judge)
        self.judge: ProviderSpec | None = (
            ProviderSpec(id=judge_option) if isinstance(judge_option, str) else judge_option
        )
        self.repeat: int = int(options.get("repeat") or ctx.repeat_override or 1)
        mode = options.get("record_mode")
        self.record_mode = RecordMode(mode) if mode else ctx.record_mode
        path = Path(str(node.path))
        stem = path.name.removesuffix(".py")
        self.cassette_path = (
            (ctx.cassette_dir or path.parent / "cassettes") / stem / cassette_file_name(node.name)
        )
        self._cassette = CaseCassette(
            self.cassette_path,
            self.record_mode,
            record_command=f"pytest '{node.nodeid}' --llmops-record-mode=once",
            secrets=ctx.secrets,  # read at save time: a provider first used later adds its key
        )
        self._transport = CassetteTransport(self._cassette, ctx.live_transport)
        self._client = httpx.Client(transport=self._transport, timeout=ctx.timeout)
        self._caseresult: dict[str, Any] | None = None
        self._usage = Usage()
        self._cost: float | None = 0.0
        self._judge = CaseJudge(ctx, self._cassette, self._client, self._transport)
        self._assertion_results: list[AssertionResult] = []
        self._last: LLMResponse | None = None
        self._last_prompt: RenderedPrompt | None = None
        self._failed = False
        self._runs_last: CaseResult | None = None

    # -- prompts -------------------------------------------------------------------------------
    def prompt(self, reference: str) -> Prompt:
        """A prompt from the registry: ``name``, ``name@2.1.0``, ``name@^2``..."""
        return self._registry.resolve(reference)

    # -- calls ---------------------------------------------------------------------------------
    def complete(
        self,
        prompt: RenderedPrompt | str,
        *,
        provider: str | ProviderSpec | None = None,
        **params: Any,
    ) -> LLMResponse:
        """Call the model (recorded in this test's cassette); provider errors raise."""
        __tracebackhide__ = True
        rendered = (
            prompt if isinstance(prompt, RenderedPrompt) else RenderedPrompt((Message("user", prompt),))
        )
        spec = ProviderSpec(id=provider) if isinstance(provider, str) else provider or self.provider
        if spec is None:
            raise pytest.UsageError(
                f"{self._node.nodeid}: no provider: pass provider='openai:gpt-4o-mini' to complete(), or "
                "mark the test @pytest.mark.llmops(provider=...)"
            )
        if params:
            spec = spec.model_copy(update={"params": {**spec.params, **params}})
        try:
            outcome = call_with_fallbacks(
                spec, rendered, self._ctx, self._cassette, self._client, self._transport
            )
        except CallFailed as exc:
            self._failed = True
            self._record(error=str(exc), provider=spec.display)
            raise ProviderError(str(exc)) from None
        response = outcome.response  # priced, and counted against the budget
        self._usage = self._usage + response.usage
        self._cost = (
            None if self._cost is None or response.cost_usd is None else self._cost + response.cost_usd
        )
        self._last, self._last_prompt = response, rendered
        self._record(provider=spec.display)
        return response

    def sample(
        self,
        prompt: RenderedPrompt | str,
        n: int | None = None,
        *,
        provider: str | ProviderSpec | None = None,
    ) -> list[LLMResponse]:
        """``n`` answers (default: the marker's ``repeat``), each its own recording, for ``check``."""
        __tracebackhide__ = True
        return [self.complete(prompt, provider=provider) for _ in range(n or self.repeat)]

    async def acomplete(
        self, prompt: RenderedPrompt | str, *, provider: str | ProviderSpec | None = None, **params: Any
    ) -> LLMResponse:
        """``complete`` for async tests; the call runs in a thread, off the event loop."""
        return await asyncio.to_thread(self.complete, prompt, provider=provider, **params)

    # -- checks --------------------------------------------------------------------------------
    def check(
        self,
        response: LLMResponse | str | list[LLMResponse],
        *specs: Mapping[str, Any],
        threshold: float | None = None,
        expected: Any = None,
        reduce: Any = None,
        **checks: Any,
    ) -> CaseResult:
        """Check a response with the YAML assertion types; a failure reads like a YAML case's.

        Keywords name types with ``_`` for ``-`` (``contains_any=[...]``, ``not_icontains="x"``,
        ``llm_rubric="..."``), plus limits: ``max_cost``, ``max_latency_ms``, ``max_ttft_ms``,
        ``max_tokens``. A mapping gives the full form, as in YAML. A list of responses (from
        ``sample``) is checked run by run and reduced with ``reduce`` (``"pass^k"`` by default,
        ``"pass@k"``, ``"mean"`` or ``{"pass_rate": 0.8}``).
        """
        __tracebackhide__ = True
        if isinstance(response, list):
            from .repeats import parse_reduce, reduce_runs

            rule = parse_reduce(reduce)
            runs = []
            for item in response:
                try:
                    runs.append(self.check(item, *specs, threshold=threshold, expected=expected, **checks))
                except CheckFailed:
                    assert self._runs_last is not None  # set by the failing check
                    runs.append(self._runs_last)
            result = reduce_runs(runs, rule, threshold)
            self._publish(result)
            if result.outcome != "passed":
                raise CheckFailed(format_case_failure(result, self._location()))
            return result
        if isinstance(response, str):
            response = LLMResponse(text=response, provider="(text)", model="")
        all_specs = [AssertionSpec(**dict(s)) for s in specs] + [_as_spec(k, v) for k, v in checks.items()]
        if not all_specs:
            raise pytest.UsageError(
                "check() needs at least one assertion, e.g. check(response, contains='x')"
            )
        prepared = []
        for spec in all_specs:
            if (
                spec.provider is None
                and self._assertions.uses_judge(spec.base_type)
                and self.judge is not None
            ):
                spec = spec.model_copy(update={"provider": self.judge})
            try:
                prepared.append(self._assertions.prepare(spec, base_dir=Path(str(self._node.path)).parent))
            except LlmopsError as exc:
                raise pytest.UsageError(f"{self._node.nodeid}: {exc}") from None
        ctx = AssertionContext(
            output=response.text,
            response=response,
            vars=dict(self._last_prompt.variables) if self._last_prompt else {},
            expected=expected,
            prompt=self._last_prompt,
            case_id=self._node.nodeid,
            judge=self._judge,
        )
        try:
            outcomes = tuple(a.run(ctx) for a in prepared)
        finally:
            self._cassette.save()
        self._assertion_results.extend(outcomes)
        score, passed = combine_scores(outcomes, threshold)
        unscored = any(a.unscored and a.weight > 0 for a in outcomes)
        result = self._record(
            provider=response.provider,
            outcome="unscored" if unscored else "passed" if passed else "failed",
            response=response,
            score=score,
            threshold=threshold,
            assertions=outcomes,
        )
        self._runs_last = result
        if result.outcome != "passed":
            self._failed = True
            raise CheckFailed(format_case_failure(result, self._location()))
        return result

    # -- results -------------------------------------------------------------------------------
    def _location(self) -> str:
        _, line, _ = self._node.reportinfo()
        return f"{self._node.nodeid.split('::')[0]}:{(line or 0) + 1}"

    def _record(
        self,
        *,
        provider: str,
        outcome: str | None = None,
        error: str | None = None,
        response: LLMResponse | None = None,
        score: float | None = None,
        threshold: float | None = None,
        assertions: tuple[AssertionResult, ...] = (),
    ) -> CaseResult:
        """Keep this test's figures on its report, as a YAML case's: they reach every report."""
        response = response or self._last
        prompt = self._last_prompt
        previous = self._caseresult or {}
        if outcome is None:
            outcome = "error" if error else previous.get("outcome", "passed")
        elif previous.get("outcome") in ("failed", "error", "unscored"):
            outcome = previous["outcome"]  # one failed check fails the test
        result = CaseResult(
            nodeid=self._node.nodeid,
            suite=self._node.nodeid.split("::")[0],
            case=self._node.name,
            outcome=outcome,
            prompt=prompt.name if prompt else None,
            prompt_version=prompt.version if prompt else None,
            provider=provider,
            model=response.model if response else "",
            score=score if score is not None else previous.get("score"),
            threshold=threshold,
            assertions=tuple(self._assertion_results),
            usage=self._usage,
            cost_usd=self._cost,
            latency_ms=response.latency_ms if response else None,
            ttft_ms=response.ttft_ms if response else None,
            replayed=response.replayed if response else False,
            output=response.text if response else None,
            error=error,
            judge_usage=self._judge.usage,
            judge_cost_usd=self._judge.cost_usd,
            judge_failures=sum(1 for a in self._assertion_results if a.unscored),
            messages=prompt.messages if prompt else (),
            location=self._location(),
        )
        self._publish(result)
        return result

    def _publish(self, result: CaseResult) -> None:
        # A key a model echoed must not reach the reports, as for a YAML case.
        data = redact_result(result, self._ctx.secrets()).to_dict()
        if self._caseresult is None:
            from .plugin import RESULT_PROPERTY

            self._caseresult = data
            self._node.user_properties.append((RESULT_PROPERTY, data))
        else:  # the dict already on user_properties is updated in place
            self._caseresult.clear()
            self._caseresult.update(data)

    def close(self) -> None:
        try:
            self._cassette.save()
        finally:
            self._client.close()


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """``@pytest.mark.llmops(provider=..., judge=..., repeat=..., record_mode=...)``, closest wins."""
    allowed = {"provider", "judge", "repeat", "record_mode"}
    options: dict[str, Any] = {}
    for mark in reversed(list(node.iter_markers("llmops"))):
        unknown = set(mark.kwargs) - allowed
        if unknown or mark.args:
            raise pytest.UsageError(
                f"{node.nodeid}: @pytest.mark.llmops takes {', '.join(sorted(allowed))}; "
                f"got {', '.join(sorted(unknown)) or repr(mark.args)}"
            )
        options.update(mark.kwargs)
    mode = options.get("record_mode")
    if mode is not None and mode not in {m.value for m in RecordMode}:
        raise pytest.UsageError(
            f"{node.nodeid}: record_mode={mode!r}: choose none, once, new_episodes or all"
        )
    if options.get("repeat") is not None and not (
        isinstance(options["repeat"], int) and options["repeat"] >= 1
    ):
        raise pytest.UsageError(f"{node.nodeid}: repeat={options['repeat']!r}: expected a whole number >= 1")
    return options
