"""From graded assertions to a case's outcome, and the ``CaseResult`` every report reads.

YAML cases and Python tests (the ``llmops`` fixture) build their results here, so both follow one
rule: the weighted mean score, a threshold or "every weighted assertion passes", and *unscored*
when a judge whose reply could not be read gates the case (never a silent pass or a zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..results import AssertionResult, CaseResult, LLMResponse, Message, Outcome, Usage

__all__ = ["CaseIdentity", "combine_scores", "decide", "error_result", "scored_result"]


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


def error_result(
    who: CaseIdentity,
    error: str,
    *,
    usage: Usage | None = None,
    retries: int = 0,
    budget_exhausted: bool = False,
) -> CaseResult:
    """A case that could not be scored (render, call or cassette error)."""
    return CaseResult(
        nodeid=who.nodeid,
        suite=who.suite,
        case=who.case,
        outcome=Outcome.ERROR,
        prompt=who.prompt,
        prompt_version=who.prompt_version,
        provider=who.provider,
        model=who.model,
        threshold=who.threshold,
        error=error,
        tags=who.tags,
        location=who.location,
        usage=usage or Usage(),
        retries=retries,
        budget_exhausted=budget_exhausted,
    )


def scored_result(
    who: CaseIdentity,
    response: LLMResponse,
    assertions: Sequence[AssertionResult],
    *,
    messages: Sequence[Message] = (),
    usage: Usage | None = None,
    cost_usd: float | None = None,
    judge_usage: Usage | None = None,
    judge_cost_usd: float | None = 0.0,
    answered_by: str | None = None,
    retries: int = 0,
) -> CaseResult:
    """A case whose answer was graded. ``usage``/``cost_usd`` default to the response's own."""
    score, outcome = decide(assertions, who.threshold)
    return CaseResult(
        nodeid=who.nodeid,
        suite=who.suite,
        case=who.case,
        outcome=outcome,
        prompt=who.prompt,
        prompt_version=who.prompt_version,
        provider=who.provider,
        model=response.model,
        score=score,
        threshold=who.threshold,
        assertions=tuple(assertions),
        usage=usage if usage is not None else response.usage,
        cost_usd=cost_usd if usage is not None else response.cost_usd,
        latency_ms=response.latency_ms,
        ttft_ms=response.ttft_ms,
        replayed=response.replayed,
        output=response.text,
        tags=who.tags,
        messages=tuple(messages),
        location=who.location,
        answered_by=answered_by,
        retries=retries,
        judge_usage=judge_usage or Usage(),
        judge_cost_usd=judge_cost_usd,
        judge_failures=sum(1 for a in assertions if a.unscored),
    )
