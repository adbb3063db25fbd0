"""Repeats for non-deterministic output: run a case N times, reduce the runs with a named rule.

- ``pass^k`` (the default): every run must pass.
- ``pass@k``: at least one run passes.
- ``{pass_rate: 0.8}``: at least that fraction of the runs passes.
- ``mean``: the mean of the runs' scores reaches the case's threshold.

Runs that are *unscored* (a judge's reply could not be read) are neither passes nor failures:
the case is decided only when **every reading of its unscored runs gives the same outcome**, and
is unscored otherwise. So ``pass^k`` fails on any failed run and is unscored when the others
pass; ``pass@k`` passes on any passed run; ``{pass_rate: r}`` passes when the passed runs alone
reach r, fails when they cannot reach it even if every unscored run passed; ``mean`` takes each
unscored run's score as anything from 0 to 1 and decides only when both ends agree (1 pass and
4 unscored runs are unscored, not a mean of 1.0). An errored run counts as a failed run (score
0 for ``mean``). Every run unscored (or errored) is unscored; every run errored is an error.

Each run has its own recording: the case's cassette holds one exchange per run, replayed in
order, so a replay reproduces the same spread of answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..results import CaseResult, Outcome, Usage
from ..spec.schema import ReduceRule

__all__ = ["reduce_runs"]


def _sum_optional(values: Sequence[float | None]) -> float | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


_SCORED = (Outcome.PASSED, Outcome.FAILED)


def _verdict(runs: Sequence[CaseResult], rule: ReduceRule, threshold: float | None) -> bool:
    """Whether the rule passes these runs, every one of them scored (passed, failed or errored)."""
    passed = sum(1 for r in runs if r.outcome is Outcome.PASSED)
    if rule.kind == "pass@k":
        return passed >= 1
    if rule.kind == "pass_rate":
        return passed / len(runs) >= rule.rate - 1e-9
    if rule.kind == "mean":
        total = sum(r.score or 0.0 for r in runs if r.outcome is not Outcome.ERROR)
        return total / len(runs) >= (threshold if threshold is not None else 1.0) - 1e-9
    return passed == len(runs)


def _decide(runs: Sequence[CaseResult], rule: ReduceRule, threshold: float | None) -> Outcome:
    """The outcome if every reading of the unscored runs agrees on it, else unscored."""
    readings = []
    for assumed in (Outcome.PASSED, Outcome.FAILED):  # the best and the worst reading
        score = 1.0 if assumed is Outcome.PASSED else 0.0
        filled = [
            replace(r, outcome=assumed, score=score) if r.outcome is Outcome.UNSCORED else r for r in runs
        ]
        readings.append(_verdict(filled, rule, threshold))
    if readings[0] != readings[1]:
        return Outcome.UNSCORED
    return Outcome.PASSED if readings[0] else Outcome.FAILED


def reduce_runs(runs: Sequence[CaseResult], rule: ReduceRule, threshold: float | None) -> CaseResult:
    """One result for the case: outcome by the rule, tokens and cost summed, latency averaged."""
    last = runs[-1]
    if len(runs) == 1:
        return last
    scores = [r.score for r in runs if r.score is not None and r.outcome in _SCORED]
    score = _mean(scores)
    outcome: Outcome
    if all(r.outcome is Outcome.ERROR for r in runs):
        outcome = Outcome.ERROR
    elif all(r.outcome in (Outcome.UNSCORED, Outcome.ERROR) for r in runs):
        outcome = Outcome.UNSCORED
    else:
        outcome = _decide(runs, rule, threshold)
    usage = Usage()
    judge_usage = Usage()
    for r in runs:
        usage = usage + r.usage
        judge_usage = judge_usage + r.judge_usage
    latencies = [r.latency_ms for r in runs if r.latency_ms is not None]
    ttfts = [r.ttft_ms for r in runs if r.ttft_ms is not None]
    answered = [r for r in runs if r.outcome is not Outcome.ERROR]
    return replace(
        # the last run that got an answer shows its assertions and output in the failure text
        answered[-1] if answered else last,
        outcome=outcome,
        score=score,
        usage=usage,
        judge_usage=judge_usage,
        cost_usd=_sum_optional([r.cost_usd for r in answered]) if answered else None,
        judge_cost_usd=_sum_optional([r.judge_cost_usd for r in runs]),
        judge_failures=sum(r.judge_failures for r in runs),
        latency_ms=_mean(latencies),
        ttft_ms=_mean(ttfts),
        retries=sum(r.retries for r in runs),
        replayed=all(r.replayed for r in answered) if answered else False,
        error=None if outcome is not Outcome.ERROR else last.error,
        budget_exhausted=outcome is Outcome.ERROR and any(r.budget_exhausted for r in runs),
        runs=tuple(
            {"run": i + 1, "outcome": r.outcome.value, "score": r.score, "error": r.error, "output": r.output}
            for i, r in enumerate(runs)
        ),
        reduce=rule.describe(len(runs)),
    )
