"""Run a judge check: a labelled example graded by the configured judge, through a case's channel.

The judge is called exactly as for a case (the same prompt, the same judge, the same reading of
its reply), through a channel with its own cassette (``cassettes/<suite>/judge-check[NAME].yaml``),
so judge checks are recorded once and replay offline like every judge call. The outcome is the
judge's verdict on the example (``pass``, ``fail``, ``unscored`` or ``error``) beside the verdict
a person gave; agreement is summed up by ``gates.agreement``.
"""

from __future__ import annotations

from dataclasses import replace

from ..assertions.registry import AssertionContext
from ..errors import CannotGrade, CassetteError
from ..prompts.render import RenderedPrompt
from ..results import JudgeCheckResult, LLMResponse, Message
from .case import CaseRun
from .plan import JudgeCheckPlan
from .session import Session

__all__ = ["run_judge_check"]


def _verdict_word(passed: bool, unscored: bool) -> str:
    return "unscored" if unscored else "pass" if passed else "fail"


def run_judge_check(plan: JudgeCheckPlan, session: Session, *, nodeid: str) -> JudgeCheckResult:
    """Grade the example's output with its judge assertion; the judge's verdict beside the person's."""
    spec = plan.assertion.spec
    suite = session.display_path(plan.suite_path)
    judge_name = spec.provider.display if spec.provider is not None else ""

    def result(verdict: str, reason: str) -> JudgeCheckResult:
        return JudgeCheckResult(
            nodeid=nodeid,
            suite=suite,
            name=plan.check,
            type=spec.type,
            judge=judge_name,
            human_verdict="pass" if plan.human_pass else "fail",
            judge_verdict=verdict,
            reason=reason,
            location=f"{suite}:{plan.line}",
            note=plan.note,
        )

    try:
        run = CaseRun(session, source=plan.suite_path, item_name=plan.name, nodeid=nodeid)
    except CassetteError as exc:
        return result("error", str(exc))
    with run:
        judge = run.new_judge()
        messages = (Message("user", plan.input),) if plan.input is not None else ()
        context = AssertionContext(
            output=plan.output,
            response=LLMResponse(plan.output, "judge-check", ""),
            expected=plan.expected,
            prompt=RenderedPrompt(messages) if messages else None,
            case_id=f"{plan.suite_path.name}::{plan.name}",
            judge=judge,
        )
        try:
            grade = plan.assertion.grade(context)
        except CannotGrade as exc:
            return replace(result("error", str(exc)), judge_usage=judge.usage, judge_cost_usd=judge.cost_usd)
        try:
            run.save()
        except CassetteError as exc:
            return result("error", str(exc))
    return replace(
        result(_verdict_word(grade.passed, grade.unscored), grade.reason),
        score=None if grade.unscored else max(0.0, min(1.0, grade.score)),
        replayed=bool(judge.replayed),
        judge_usage=judge.usage,
        judge_cost_usd=judge.cost_usd,
    )
