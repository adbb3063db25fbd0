"""The ``llmops`` fixture: prompts, calls, cassettes and assertions from Python tests.

::

    @pytest.mark.llmops(provider="openai:gpt-4o-mini", judge="openai:gpt-4o-mini")
    def test_refund(llmops):
        prompt = llmops.prompt("customer-support@^2").render(customer_message="I want a refund")
        response = llmops.complete(prompt)
        llmops.check(response, icontains="refund", max_cost=0.01, llm_rubric="Asks for the order number")

A Python test runs through the same engine as a YAML case (``engine.case.CaseRun``): calls go
through a cassette named after the test under ONE record mode (the marker's, else the run's),
which both the cassette and the network guard obey. From the fixture's set-up to its teardown
the test is the running case: what its own code sends (an SDK called directly, from any client
``recording.capture`` covers, from threads it starts) is recorded in, and replayed from, that
cassette, and in record mode ``none`` the guard refuses every other connection of the test.
A failed ``check`` reads exactly like a YAML case's failure, and every test's tokens, cost,
latency and scores enter the same reports, summary and gates.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
import pytest

from ..assertions.reasons import truncate
from ..engine.calls import CallFailed
from ..engine.case import CaseRun
from ..engine.repeats import reduce_runs
from ..engine.scoring import CaseIdentity, answer_fields, decide, unexpected_error
from ..engine.session import Session
from ..errors import LlmopsError, ProviderError
from ..prompts.registry import Prompt, PromptRegistry
from ..prompts.render import RenderedPrompt
from ..recording.modes import RecordMode
from ..recording.redaction import redact_result
from ..report.terminal import format_case_failure
from ..results import AssertionResult, CaseResult, LLMResponse, Message, Outcome, Usage
from ..settings import MAX_RUNS
from ..spec.schema import AssertionSpec, ProviderSpec, parse_reduce
from .state import RESULT_PROPERTY

__all__ = ["CheckFailed", "LlmopsFixture", "marker_options"]

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


def _provider(value: Any) -> ProviderSpec | None:
    """A provider as a marker or a call names it: an id, a mapping of a suite's provider fields,
    or a ``ProviderSpec``; anything else is an error saying which forms are read."""
    if value is None or isinstance(value, ProviderSpec):
        return value
    if isinstance(value, str):
        return ProviderSpec(id=value)
    if isinstance(value, Mapping):
        try:
            return ProviderSpec.model_validate(dict(value))
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "provider"
            raise LlmopsError(
                f"provider={truncate(repr(dict(value)), 120)}: {where}: {first['msg']}; write it as a "
                "suite's provider, e.g. {'id': 'openai:gpt-4o-mini', 'base_url': 'http://...'}"
            ) from None
    raise LlmopsError(
        f"provider={truncate(repr(value), 120)}: expected an id such as 'openai:gpt-4o-mini', a mapping "
        "of provider fields ({'id': ..., 'base_url': ...}) or a ProviderSpec"
    )


class LlmopsFixture:
    """What the ``llmops`` fixture gives a test."""

    def __init__(
        self,
        *,
        node: pytest.Item,
        session: Session,
        registry: PromptRegistry,
        options: Mapping[str, Any],
    ) -> None:
        self._node = node
        self._session = session
        self._registry = registry
        self.provider: ProviderSpec | None = _provider(options.get("provider"))
        #: The marker's judge; otherwise the ini default applies (``Session.with_judge``).
        self.judge: ProviderSpec | None = _provider(options.get("judge"))
        self.repeat: int = int(options.get("repeat") or session.repeat_override or 1)
        mode = options.get("record_mode")
        self._run = CaseRun(
            session,
            source=Path(str(node.path)),
            item_name=node.name,
            nodeid=node.nodeid,
            record_mode=RecordMode(mode) if mode else None,
        )
        self.record_mode = self._run.mode
        from ..recording.capture import install

        install()  # the test's own calls (an SDK used directly) reach its cassette too
        self._run.activate()
        self.cassette_path = self._run.cassette_path
        self._published: dict[str, Any] | None = None
        self._usage = Usage()
        self._cost: float | None = 0.0
        self._judge = self._run.new_judge()
        self._assertion_results: list[AssertionResult] = []
        self._last: LLMResponse | None = None
        self._last_prompt: RenderedPrompt | None = None
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
        spec = _provider(provider) or self.provider
        if spec is None:
            raise pytest.UsageError(
                f"{self._node.nodeid}: no provider: pass provider='openai:gpt-4o-mini' to complete(), or "
                "mark the test @pytest.mark.llmops(provider=...)"
            )
        if params:
            spec = spec.model_copy(update={"params": {**spec.params, **params}})
        try:
            outcome = self._run.call(spec, rendered)
        except CallFailed as exc:
            result = self._record(error=str(exc), provider=spec.display)
            raise ProviderError(result.error or "") from None  # the redacted message
        except Exception as exc:  # e.g. a price table that cannot price this usage
            # The test errs with the exception; its report entry says the same, never a pass.
            self._record(error=unexpected_error("calling the provider", exc), provider=spec.display)
            raise
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
            rule = parse_reduce(reduce)
            runs = []
            for item in response:
                try:
                    runs.append(self.check(item, *specs, threshold=threshold, expected=expected, **checks))
                except CheckFailed:
                    assert self._runs_last is not None  # set by the failing check
                    runs.append(self._runs_last)
            result = self._publish(reduce_runs(runs, rule, threshold))
            if result.outcome is not Outcome.PASSED:
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
        base_dir = Path(str(self._node.path)).parent
        for spec in all_specs:
            try:
                spec = self._session.with_judge(spec, judge=self.judge)
                prepared.append(self._session.assertions.prepare(spec, base_dir=base_dir))
            except LlmopsError as exc:
                raise pytest.UsageError(f"{self._node.nodeid}: {exc}") from None
        try:
            outcomes = self._run.grade(
                response,
                prepared,
                judge=self._judge,
                vars=dict(self._last_prompt.variables) if self._last_prompt else {},
                expected=expected,
                prompt=self._last_prompt,
                case_id=self._node.nodeid,
            )
        except Exception as exc:  # a bug in a check: the test errs, and its report entry too
            self._record(
                error=unexpected_error("grading the answer", exc),
                provider=response.provider,
                response=response,
            )
            raise
        finally:
            self._run.save()
        self._assertion_results.extend(outcomes)
        score, outcome = decide(outcomes, threshold)
        result = self._record(
            provider=response.provider,
            outcome=outcome,
            response=response,
            score=score,
            threshold=threshold,
        )
        self._runs_last = result
        if result.outcome is not Outcome.PASSED:
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
        outcome: Outcome | None = None,
        error: str | None = None,
        response: LLMResponse | None = None,
        score: float | None = None,
        threshold: float | None = None,
    ) -> CaseResult:
        """Keep this test's figures on its report, as a YAML case's: they reach every report."""
        response = response or self._last
        prompt = self._last_prompt
        previous = self._published or {}
        before = Outcome(previous["outcome"]) if previous else None
        if outcome is None:
            outcome = Outcome.ERROR if error else (before or Outcome.PASSED)
        elif before is not None and before is not Outcome.PASSED:
            outcome = before  # one failed check fails the test
        who = CaseIdentity(
            nodeid=self._node.nodeid,
            suite=self._node.nodeid.split("::")[0],
            case=self._node.name,
            location=self._location(),
            provider=provider,
            prompt=prompt.name if prompt else None,
            prompt_version=prompt.version if prompt else None,
            threshold=threshold,
        )
        answer = answer_fields(response) if response else {}
        result = who.result(
            outcome,
            **answer,
            score=score if score is not None else previous.get("score"),
            assertions=tuple(self._assertion_results),
            usage=self._usage,
            cost_usd=self._cost,
            error=error,
            judge_usage=self._judge.usage,
            judge_cost_usd=self._judge.cost_usd,
            judge_failures=sum(1 for a in self._assertion_results if a.unscored),
            messages=prompt.messages if prompt else (),
        )
        return self._publish(result)

    def _publish(self, result: CaseResult) -> CaseResult:
        """Put the result on the test's report, redacted; returns what was published."""
        # A key a model echoed must not reach the reports (nor a failure's text), as for a YAML case.
        result = redact_result(result, self._session.secrets())
        data = result.to_dict()
        if self._published is None:
            self._published = data
            self._node.user_properties.append((RESULT_PROPERTY, data))
        else:  # the dict already on user_properties is updated in place
            self._published.clear()
            self._published.update(data)
        return result

    def close(self, *, test_failed: bool = False) -> None:
        """Save the cassette; a refused connection the test swallowed fails it here."""
        refused = None if test_failed else self._run.refused()
        try:
            self._run.channel.cassette.commit()  # what the test's own code recorded
            self._run.save()
        finally:
            self._run.close()
        if refused is not None:  # the test's own code caught a refusal: it must not pass
            raise refused


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
    repeat = options.get("repeat")
    if repeat is not None and not (
        isinstance(repeat, int) and not isinstance(repeat, bool) and 1 <= repeat <= MAX_RUNS
    ):
        raise pytest.UsageError(
            f"{node.nodeid}: repeat={repeat!r}: expected a whole number from 1 to {MAX_RUNS:,}"
        )
    return options
