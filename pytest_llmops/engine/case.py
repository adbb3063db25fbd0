"""Run one case: render, call (recording or replaying), grade, score, reduce repeats.

``CaseRun`` is the one pipeline of a case, whether it comes from a YAML suite (``run_plan``) or
from a Python test through the ``llmops`` fixture: it opens the case's channel with ONE record
mode, makes the calls, grades answers with prepared assertions and saves the cassette. Provider
and cassette errors become an ``error`` outcome; they never escape to stop the session.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..assertions.judges.pairwise import judge_pair
from ..assertions.registry import AssertionContext, PreparedAssertion
from ..errors import CassetteError, LlmopsError, NetworkRefusedError, PromptRenderError
from ..prompts.registry import Prompt
from ..prompts.render import RenderedPrompt, render_template
from ..recording import routing
from ..recording.modes import RecordMode
from ..recording.network import Window
from ..recording.network import guard as network_guard
from ..results import AssertionResult, CaseResult, LLMResponse, Message
from ..spec.schema import ProviderSpec
from .calls import CallFailed, CallOutcome, CaseJudge, Channel, call_with_fallbacks
from .plan import CasePlan
from .repeats import reduce_runs
from .scoring import CaseIdentity, error_result, scored_result
from .session import Session

__all__ = ["CaseRun", "identity_of", "render_case", "run_plan"]


class CaseRun:
    """One case's channel, calls and grading; a context manager that closes its client."""

    def __init__(
        self,
        session: Session,
        *,
        source: Path,
        item_name: str,
        nodeid: str,
        record_mode: RecordMode | None = None,
    ) -> None:
        self.session = session
        self.nodeid = nodeid
        #: The one record mode of this case: the cassette and the network guard both obey it.
        self.mode = record_mode or session.record_mode
        self.cassette_path = session.cassette_path(source, item_name)
        self.channel = Channel.open(session, self.cassette_path, mode=self.mode, nodeid=nodeid)
        self._active: contextlib.ExitStack | None = None
        self._window: Window | None = None

    def __enter__(self) -> CaseRun:
        return self.activate()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def activate(self) -> CaseRun:
        """From now until ``close``, the case owns the calls made in its context (and its threads),
        and its record mode's network guard covers everything it runs, not only its calls."""
        if self._active is None:
            stack = contextlib.ExitStack()
            stack.enter_context(routing.patching(self.channel.transport))
            self._window = stack.enter_context(network_guard(self.mode, fail_on_swallowed=False))
            self._active = stack
        return self

    def refused(self) -> NetworkRefusedError | None:
        """A connection refused outside the case's calls (by a Python test's own code), if any."""
        return self._window.refusal() if self._window is not None else None

    def call(self, spec: ProviderSpec, rendered: RenderedPrompt) -> CallOutcome:
        """The application's call, with retries and fallbacks; raises ``CallFailed``."""
        return call_with_fallbacks(self.channel, spec, rendered)

    def new_judge(self) -> CaseJudge:
        """A judge whose calls are counted apart (one per graded answer)."""
        return CaseJudge(self.channel)

    def grade(
        self,
        response: LLMResponse,
        assertions: Sequence[PreparedAssertion],
        *,
        judge: CaseJudge,
        vars: Mapping[str, Any],
        expected: Any,
        prompt: RenderedPrompt | None,
        case_id: str,
    ) -> tuple[AssertionResult, ...]:
        """Run each prepared assertion on the answer."""
        context = AssertionContext(
            output=response.text,
            response=response,
            vars=vars,
            expected=expected,
            prompt=prompt,
            case_id=case_id,
            judge=judge,
        )
        return tuple(a.run(context) for a in assertions)

    def save(self) -> None:
        """Write what was recorded; raises ``CassetteError`` (an unwritable folder, say)."""
        self.channel.cassette.save()

    def close(self) -> None:
        try:
            if self._active is not None:
                self._active.close()
                self._active = None
        finally:
            self.channel.close()


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


def identity_of(plan: CasePlan, session: Session, nodeid: str) -> CaseIdentity:
    """How reports name a YAML case."""
    suite = session.display_path(plan.suite_path)
    prompt = plan.prompt
    return CaseIdentity(
        nodeid=nodeid,
        suite=suite,
        case=plan.case,
        location=f"{suite}:{plan.line}",
        provider=plan.provider.display,
        model=plan.provider.model or (prompt.model if prompt and prompt.model else ""),
        prompt=prompt.name if prompt else None,
        prompt_version=str(prompt.version) if prompt else None,
        threshold=plan.threshold,
        tags=plan.tags,
    )


def _pairwise(
    plan: CasePlan, against: Prompt, judge: CaseJudge, output: str, rendered: RenderedPrompt
) -> AssertionResult:
    """``pairwise:``: the version before this one answers the same case (through this case's
    channel, so its answer is recorded here and counted as judging), then the judge compares."""
    assert plan.pairwise is not None and plan.pairwise.provider is not None and plan.prompt is not None
    old_label = against.ref
    try:
        old = judge.complete(against.render(plan.vars, case=plan.case), plan.provider).text
    except (LlmopsError, ValueError) as exc:
        return AssertionResult(
            "pairwise",
            False,
            0.0,
            f"unscored: pairwise against {old_label}: its answer could not be had: {exc}",
            weight=0.0,
            metric="pairwise_win",
            unscored=True,
        )
    question = next((m.content for m in reversed(rendered.messages) if m.role == "user"), "")
    return judge_pair(
        judge,
        plan.pairwise.provider,
        criteria=plan.pairwise.criteria,
        question=question,
        new=output,
        old=old,
        new_label=plan.prompt.ref,
        old_label=old_label,
    )


def run_plan(plan: CasePlan, session: Session, *, nodeid: str) -> CaseResult:
    """Run one YAML case end to end, every repeat, and reduce the runs to one result."""
    who = identity_of(plan, session, nodeid)
    try:
        rendered = render_case(plan)
    except PromptRenderError as exc:
        return error_result(who, str(exc))
    try:
        run = CaseRun(session, source=plan.suite_path, item_name=plan.name, nodeid=nodeid)
    except CassetteError as exc:
        return error_result(who, str(exc))
    repeats = session.repeat_override or plan.repeat or session.repeat_default
    results: list[CaseResult] = []
    with run:
        # One cassette for all runs: run i replays the i-th recording of the same request.
        for _ in range(repeats):
            try:
                outcome = run.call(plan.provider, rendered)
            except CallFailed as exc:
                results.append(
                    error_result(who, str(exc), retries=exc.retries, budget_exhausted=exc.budget_exhausted)
                )
                continue
            judge = run.new_judge()
            response = outcome.response
            graded = run.grade(
                response,
                plan.assertions,
                judge=judge,
                vars=plan.vars,
                expected=plan.expected,
                prompt=rendered,
                case_id=f"{plan.suite_path.name}::{plan.case}",
            )
            if plan.pairwise is not None and plan.against is not None:
                graded = (*graded, _pairwise(plan, plan.against, judge, response.text, rendered))
            answered_by = outcome.answered_by if outcome.answered_by != plan.provider.display else None
            results.append(
                scored_result(
                    who,
                    response,
                    graded,
                    messages=rendered.messages,
                    judge_usage=judge.usage,
                    judge_cost_usd=judge.cost_usd,
                    answered_by=answered_by,
                    retries=outcome.retries + judge.retries,
                )
            )
    try:
        # What was recorded is kept even if a later run failed: the next run replays it.
        run.save()
    except CassetteError as exc:  # e.g. an unwritable folder: the case errs, and is reported
        return error_result(who, str(exc))
    return reduce_runs(results, plan.reduce, plan.threshold)
