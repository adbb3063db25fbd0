"""Run one case: render, call (recording or replaying), grade, score, reduce repeats.

``CaseRun`` is the one pipeline of a case, whether it comes from a YAML suite (``run_plan``) or
from a Python test through the ``llmops`` fixture: it opens the case's channel with ONE record
mode, makes the calls, grades answers with prepared assertions and saves the cassette. Provider
and cassette errors become an ``error`` outcome; they never escape to stop the session.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..assertions.judges.pairwise import judge_pair
from ..assertions.registry import AssertionContext, Judge, PreparedAssertion
from ..assertions.transforms import Transform, as_text
from ..errors import CassetteError, LlmopsError, NetworkRefusedError, PromptRenderError
from ..prompts.registry import Prompt
from ..prompts.render import RenderedPrompt, render_message, render_template
from ..providers.base import merged_params
from ..recording import routing
from ..recording.modes import RecordMode
from ..recording.network import Window
from ..recording.network import guard as network_guard
from ..results import AssertionResult, CaseResult, LLMResponse, Message
from ..spec.schema import ProviderSpec
from .calls import CallFailed, CallOutcome, CaseJudge, Channel, call_with_fallbacks
from .plan import CasePlan
from .repeats import reduce_runs
from .scoring import CaseIdentity, error_result, scored_result, unexpected_error
from .session import Session

__all__ = ["CaseRun", "grading_context", "identity_of", "render_case", "run_plan"]


def grading_context(
    response: LLMResponse,
    *,
    vars: Mapping[str, Any],
    expected: Any,
    prompt: RenderedPrompt | None,
    case_id: str,
    judge: Judge | None = None,
    transform: Transform | None = None,
    params: Mapping[str, Any] | None = None,
) -> AssertionContext:
    """What the assertions see of an answer: its text, or what the case's transform made of it.

    A transform that raises does not stop the case: every assertion fails with its message.
    """
    context = AssertionContext(
        output=response.text,
        response=response,
        vars=vars,
        expected=expected,
        prompt=prompt,
        case_id=case_id,
        judge=judge,
        params=params or {},
    )
    if transform is None:
        return context
    try:
        return context.transformed(transform.apply(response.text, context))
    except Exception as exc:  # the user's transform may raise anything
        error = f"transform {transform.source!r} raised {type(exc).__name__}: {exc}"
        return dataclasses.replace(context, transform_error=error)


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
        self._active: list[contextlib.AbstractContextManager[Any]] = []
        self._window: Window | None = None

    def __enter__(self) -> CaseRun:
        return self.activate()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def activate(self) -> CaseRun:
        """From now until ``close``, the case owns the calls made in its context (and its threads),
        and its record mode's network guard covers everything it runs, not only its calls."""
        if not self._active:
            patching = routing.patching(self.channel.transport)
            patching.__enter__()
            self._active.append(patching)
            guarded = network_guard(self.mode, fail_on_swallowed=False)
            try:
                self._window = guarded.__enter__()
            except BaseException:
                self._leave()
                raise
            self._active.append(guarded)
        return self

    def _leave(self) -> None:
        # In reverse, as an ExitStack would (the guard, then the case's routing), each one left
        # even if the one before it raised.
        if self._active:
            context = self._active.pop()
            try:
                context.__exit__(None, None, None)
            finally:
                self._leave()

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
        transform: Transform | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> tuple[AssertionResult, ...]:
        """Run each prepared assertion on the answer (transformed first, when the case says so)."""
        return self.grade_in(
            grading_context(
                response,
                vars=vars,
                expected=expected,
                prompt=prompt,
                case_id=case_id,
                judge=judge,
                transform=transform,
                params=params,
            ),
            assertions,
        )

    @staticmethod
    def grade_in(
        context: AssertionContext, assertions: Sequence[PreparedAssertion]
    ) -> tuple[AssertionResult, ...]:
        """Run each prepared assertion in ``context`` (see ``grading_context``)."""
        return tuple(a.run(context) for a in assertions)

    def save(self) -> None:
        """Write what was recorded; raises ``CassetteError`` (an unwritable folder, say)."""
        self.channel.cassette.save()

    def close(self) -> None:
        try:
            self._leave()
        finally:
            self.channel.close()


def _prior_turns(plan: CasePlan) -> tuple[Message, ...]:
    try:
        return tuple(render_message(m, plan.vars) for m in plan.messages)
    except Exception as exc:  # jinja2's undefined variables, the sandbox, the bounds
        raise PromptRenderError(f"`messages:` of case {plan.case}: {exc}") from None


def render_case(plan: CasePlan) -> RenderedPrompt:
    """The messages this case sends: the prompt's, with the case's prior turns after its system
    messages, and the case's model parameters (``options``)."""
    prior = _prior_turns(plan)
    if plan.prompt is not None:
        rendered = plan.prompt.render(plan.vars, case=plan.case)
        messages = rendered.messages
        if prior:
            lead = 0
            while lead < len(messages) and messages[lead].role == "system":
                lead += 1
            messages = (*messages[:lead], *prior, *messages[lead:])
        return dataclasses.replace(rendered, messages=messages, options=plan.options)
    sent = []
    if plan.system:
        try:
            sent.append(Message("system", render_template(plan.system, plan.vars)))
        except Exception as exc:
            raise PromptRenderError(f"suite `system:` of case {plan.case}: {exc}") from None
    sent.extend(prior)
    if not prior or plan.input_var in plan.vars:
        sent.append(Message("user", str(plan.vars.get(plan.input_var, ""))))
    return RenderedPrompt(tuple(sent), variables=plan.vars, options=plan.options)


def identity_of(plan: CasePlan, session: Session, nodeid: str) -> CaseIdentity:
    """How reports name a YAML case."""
    suite = session.display_path(plan.suite_path)
    prompt = plan.prompt
    return CaseIdentity(
        nodeid=nodeid,
        suite=suite,
        case=plan.case,
        location=f"{session.display_path(plan.written_in)}:{plan.line}",
        provider=plan.provider.display,
        model=plan.provider.model or (prompt.model if prompt and prompt.model else ""),
        prompt=prompt.name if prompt else None,
        prompt_version=str(prompt.version) if prompt else None,
        threshold=plan.threshold,
        tags=plan.tags,
    )


def _seen(context: AssertionContext) -> str:
    """What the assertions saw, as text, after the case's transform (kept in the report)."""
    return context.transform_error or as_text(context.value)


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
    """Run one YAML case end to end, every repeat, and reduce the runs to one result.

    Whatever goes wrong (a provider, a cassette, a template, a bug in scoring or pricing), the
    case ends with a result, an ``error`` one if need be: a case never vanishes from the reports.
    """
    who = identity_of(plan, session, nodeid)
    try:
        return _run_plan(plan, session, who, nodeid)
    except Exception as exc:  # nothing below expected it: the case errs, and says where
        return error_result(who, unexpected_error("running the case", exc))


def _run_plan(plan: CasePlan, session: Session, who: CaseIdentity, nodeid: str) -> CaseResult:
    try:
        rendered = render_case(plan)
    except PromptRenderError as exc:
        return error_result(who, str(exc))
    except Exception as exc:
        return error_result(who, unexpected_error("rendering the prompt", exc))
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
            except Exception as exc:  # e.g. a price table that cannot price this usage
                results.append(error_result(who, unexpected_error("calling the provider", exc)))
                continue
            try:
                results.append(_graded(plan, run, who, outcome, rendered))
            except Exception as exc:  # the run errs; the other runs and the cassette are kept
                results.append(error_result(who, unexpected_error("grading the answer", exc)))
    try:
        # What was recorded is kept even if a later run failed: the next run replays it.
        run.save()
    except CassetteError as exc:  # e.g. an unwritable folder: the case errs, and is reported
        return error_result(who, str(exc))
    return reduce_runs(results, plan.reduce, plan.threshold)


def _graded(
    plan: CasePlan, run: CaseRun, who: CaseIdentity, outcome: CallOutcome, rendered: RenderedPrompt
) -> CaseResult:
    """One run's answer, graded and scored."""
    judge = run.new_judge()
    response = outcome.response
    context = grading_context(
        response,
        vars=plan.vars,
        expected=plan.expected,
        prompt=rendered,
        case_id=f"{plan.suite_path.name}::{plan.case}",
        judge=judge,
        transform=plan.transform,
        params=merged_params(rendered, plan.provider),
    )
    graded = run.grade_in(context, plan.assertions)
    if plan.pairwise is not None and plan.against is not None:
        graded = (*graded, _pairwise(plan, plan.against, judge, response.text, rendered))
    answered_by = outcome.answered_by if outcome.answered_by != plan.provider.display else None
    return scored_result(
        who,
        response,
        graded,
        messages=rendered.messages,
        judge_usage=judge.usage,
        judge_cost_usd=judge.cost_usd,
        answered_by=answered_by,
        scoring=plan.scoring,
        variables=plan.vars,
        transformed=_seen(context) if plan.transform is not None else None,
        retries=outcome.retries + judge.retries,
    )
