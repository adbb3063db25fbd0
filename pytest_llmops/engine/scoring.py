"""From graded assertions to a case's outcome, and the ``CaseResult`` every report reads.

YAML cases and Python tests (the ``llmops`` fixture) build their results here, so both follow one
rule: the weighted mean score, a threshold or "every weighted assertion passes", and *unscored*
when a judge whose reply could not be read gates the case (never a silent pass or a zero).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..assertions.case_scoring import CaseScorer
from ..results import AssertionResult, CaseResult, LLMResponse, Message, Outcome, Usage

__all__ = [
    "SCORING_RESULT_TYPE",
    "CaseIdentity",
    "answer_fields",
    "combine_scores",
    "decide",
    "error_result",
    "scored_by",
    "scored_result",
    "unexpected_error",
]


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


def decide(results: Sequence[AssertionResult], threshold: float | None) -> tuple[float | None, Outcome]:
    """The score and the outcome: an unreadable judge that gates the case makes it unscored."""
    score, passed = combine_scores(results, threshold)
    if any(r.unscored and r.weight > 0 for r in results):
        return score, Outcome.UNSCORED
    return score, Outcome.PASSED if passed else Outcome.FAILED


#: The type name a scoring function's verdict is reported under, beside the assertions.
SCORING_RESULT_TYPE = "scoring"


def scored_by(
    scorer: CaseScorer,
    results: Sequence[AssertionResult],
    threshold: float | None,
    variables: Mapping[str, Any],
) -> tuple[float | None, Outcome, AssertionResult]:
    """A scoring function's score and outcome, and its verdict as a result row (weight 0).

    An unreadable judge still makes the case unscored: a function cannot read a verdict that is
    not there.
    """
    grade = scorer(results, threshold, variables)
    score = max(0.0, min(1.0, float(grade.score)))
    row = AssertionResult(
        SCORING_RESULT_TYPE, grade.passed, score, f"{scorer.source}: {grade.reason}", weight=0.0
    )
    if any(r.unscored and r.weight > 0 for r in results):
        return score, Outcome.UNSCORED, row
    return score, Outcome.PASSED if grade.passed else Outcome.FAILED, row


@dataclass(frozen=True, slots=True)
class CaseIdentity:
    """What names a case in every report, whatever happens when it runs."""

    nodeid: str
    suite: str
    case: str
    location: str
    provider: str
    model: str = ""
    prompt: str | None = None
    prompt_version: str | None = None
    threshold: float | None = None
    tags: tuple[str, ...] = ()

    def result(self, outcome: Outcome, **fields: Any) -> CaseResult:
        """A result of this case: its identity, the outcome, and the figures in ``fields``."""
        return CaseResult(
            nodeid=self.nodeid,
            suite=self.suite,
            case=self.case,
            outcome=outcome,
            prompt=self.prompt,
            prompt_version=self.prompt_version,
            provider=self.provider,
            threshold=self.threshold,
            tags=self.tags,
            location=self.location,
            **fields,
        )


def unexpected_error(doing: str, exc: BaseException) -> str:
    """The ``error`` of a case that met an exception nothing expected: what, and where it was raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = (
        f" (raised at {Path(frames[-1].filename).name}:{frames[-1].lineno} in {frames[-1].name})"
        if frames
        else ""
    )
    return f"{doing} failed: {type(exc).__name__}: {exc}{where}"


def error_result(
    who: CaseIdentity,
    error: str,
    *,
    usage: Usage | None = None,
    retries: int = 0,
    budget_exhausted: bool = False,
) -> CaseResult:
    """A case that could not be scored (render, call or cassette error)."""
    return who.result(
        Outcome.ERROR,
        model=who.model,
        error=error,
        usage=usage or Usage(),
        retries=retries,
        budget_exhausted=budget_exhausted,
    )


def answer_fields(response: LLMResponse) -> dict[str, Any]:
    """What a result takes from the answer it graded."""
    return {
        "model": response.model,
        "latency_ms": response.latency_ms,
        "ttft_ms": response.ttft_ms,
        "replayed": response.replayed,
        "output": response.text,
        "price_source": response.price_source,
    }


def scored_result(
    who: CaseIdentity,
    response: LLMResponse,
    assertions: Sequence[AssertionResult],
    *,
    messages: Sequence[Message] = (),
    judge_usage: Usage | None = None,
    judge_cost_usd: float | None = 0.0,
    answered_by: str | None = None,
    retries: int = 0,
    scoring: CaseScorer | None = None,
    variables: Mapping[str, Any] | None = None,
    transformed: str | None = None,
) -> CaseResult:
    """A case whose answer was graded; its usage and cost are the answer's.

    ``scoring`` (a suite's scoring function) decides the score and outcome instead of the
    weighted mean; ``transformed`` is what the assertions saw, when a transform changed it.
    """
    rows = tuple(assertions)
    if scoring is None:
        score, outcome = decide(assertions, who.threshold)
    else:
        score, outcome, row = scored_by(scoring, assertions, who.threshold, variables or {})
        rows = (*rows, row)
    return who.result(
        outcome,
        **answer_fields(response),
        transformed_output=transformed,
        score=score,
        assertions=rows,
        usage=response.usage,
        cost_usd=response.cost_usd,
        messages=tuple(messages),
        answered_by=answered_by,
        retries=retries,
        judge_usage=judge_usage or Usage(),
        judge_cost_usd=judge_cost_usd,
        judge_failures=sum(1 for a in assertions if a.unscored),
    )
