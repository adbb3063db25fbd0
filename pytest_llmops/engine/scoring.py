"""From graded assertions to a case's outcome, and the ``CaseResult`` every report reads.

YAML cases and Python tests (the ``llmops`` fixture) build their results here, so both follow one
rule: the weighted mean score, a threshold or "every weighted assertion passes", and *unscored*
when a judge whose reply could not be read gates the case (never a silent pass or a zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..results import AssertionResult, CaseResult, LLMResponse, Message, Outcome, Usage

__all__ = ["CaseIdentity", "answer_fields", "combine_scores", "decide", "error_result", "scored_result"]


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
) -> CaseResult:
    """A case whose answer was graded; its usage and cost are the answer's."""
    score, outcome = decide(assertions, who.threshold)
    return who.result(
        outcome,
        **answer_fields(response),
        score=score,
        assertions=tuple(assertions),
        usage=response.usage,
        cost_usd=response.cost_usd,
        messages=tuple(messages),
        answered_by=answered_by,
        retries=retries,
        judge_usage=judge_usage or Usage(),
        judge_cost_usd=judge_cost_usd,
        judge_failures=sum(1 for a in assertions if a.unscored),
    )
