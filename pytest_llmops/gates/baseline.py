"""This run against a report of the base branch, case by case.

Cases pair by id; a pull request that bumps a prompt's version changes ids, so the cases left
over pair by suite, case, prompt name and provider when exactly one case on each side has them.
Every figure is computed over the cases present in both runs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..results import CaseResult, Outcome
from .paired import PairedComparison, compare_pairs
from .stats import percentile

__all__ = ["BaselineComparison", "CaseChange", "Change", "ScoreDrop", "compare_with_baseline", "total_cost"]


@dataclass(frozen=True)
class CaseChange:
    """A case whose outcome changed against the baseline."""

    id: str
    baseline_id: str
    baseline_outcome: str
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "baseline_id": self.baseline_id,
            "baseline_outcome": self.baseline_outcome,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class ScoreDrop:
    id: str
    baseline_id: str
    baseline_score: float
    score: float

    @property
    def drop(self) -> float:
        return self.baseline_score - self.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "baseline_id": self.baseline_id,
            "baseline_score": self.baseline_score,
            "score": self.score,
            "drop": self.drop,
        }


@dataclass(frozen=True)
class Change:
    """A figure in the baseline and now."""

    baseline: float | None
    current: float | None

    @property
    def change(self) -> float | None:
        return None if self.baseline is None or self.current is None else self.current - self.baseline

    @property
    def change_pct(self) -> float | None:
        """Relative change in percent; None when undefined (a figure is missing or the baseline is 0)."""
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return (self.current - self.baseline) / self.baseline * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "current": self.current,
            "change": self.change,
            "change_pct": self.change_pct,
        }


@dataclass(frozen=True)
class BaselineComparison:
    """This run against a report of the base branch, case by case."""

    path: str
    matched: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    new_failures: tuple[CaseChange, ...]
    fixed: tuple[CaseChange, ...]
    #: Cases whose score fell by more than ``llmops_max_score_drop`` (any fall, when it is unset).
    score_drops: tuple[ScoreDrop, ...]
    score_drop_limit: float
    #: The largest fall of one case's score (0 when none fell).
    largest_score_drop: float
    mean_score: Change
    #: Application + judge cost of the matched cases priced in both runs.
    cost_usd: Change
    p95_latency_ms: Change
    #: Cases in this run (matched or not): the share matched is ``matched / run_cases``.
    run_cases: int = 0
    #: ``(current, baseline)`` results of the matched cases, sorted by the current id.
    pairs: tuple[tuple[CaseResult, CaseResult], ...] = field(default=(), repr=False, compare=False)

    @property
    def matched_share(self) -> float:
        """The share of this run's cases that the baseline has (0 for an empty run)."""
        return self.matched / self.run_cases if self.run_cases else 0.0

    @functools.cached_property
    def paired(self) -> PairedComparison:
        """This run against the baseline, case by case (exact tests, intervals)."""
        return compare_pairs(self.pairs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "matched": self.matched,
            "added": list(self.added),
            "removed": list(self.removed),
            "new_failures": [c.to_dict() for c in self.new_failures],
            "fixed": [c.to_dict() for c in self.fixed],
            "score_drops": [d.to_dict() for d in self.score_drops],
            "score_drop_limit": self.score_drop_limit,
            "largest_score_drop": self.largest_score_drop,
            "mean_score": self.mean_score.to_dict(),
            "cost_usd": self.cost_usd.to_dict(),
            "p95_latency_ms": self.p95_latency_ms.to_dict(),
            "run_cases": self.run_cases,
            "matched_share": self.matched_share,
        }


def _match_key(result: CaseResult) -> tuple[str, str, str | None, str]:
    return (result.suite, result.case, result.prompt, result.provider)


def _match(
    current: Sequence[CaseResult], baseline: Sequence[CaseResult]
) -> tuple[list[tuple[CaseResult, CaseResult]], list[CaseResult], list[CaseResult]]:
    """Pairs (current, baseline), then current cases without a pair, then baseline ones.

    Cases match by id. A pull request that bumps a prompt's version changes the ids
    (``case[support@2.1.0-...]`` → ``case[support@2.2.0-...]``), so the cases left over then
    match by suite, case, prompt name and provider, when exactly one case on each side has them.
    """
    by_id = {r.nodeid: r for r in baseline}
    pairs: list[tuple[CaseResult, CaseResult]] = []
    left: list[CaseResult] = []
    for result in current:
        base = by_id.pop(result.nodeid, None)
        if base is None:
            left.append(result)
        else:
            pairs.append((result, base))
    current_by_key: dict[tuple[str, str, str | None, str], list[CaseResult]] = {}
    for result in left:
        current_by_key.setdefault(_match_key(result), []).append(result)
    baseline_by_key: dict[tuple[str, str, str | None, str], list[CaseResult]] = {}
    for base in by_id.values():
        baseline_by_key.setdefault(_match_key(base), []).append(base)
    added: list[CaseResult] = []
    for key, results in current_by_key.items():
        bases = baseline_by_key.get(key, [])
        if len(results) == 1 and len(bases) == 1:
            pairs.append((results[0], bases[0]))
            del baseline_by_key[key]
        else:
            added.extend(results)
    removed = [b for bases in baseline_by_key.values() for b in bases]
    pairs.sort(key=lambda p: p[0].nodeid)
    added.sort(key=lambda r: r.nodeid)
    removed.sort(key=lambda r: r.nodeid)
    return pairs, added, removed


def total_cost(result: CaseResult) -> float | None:
    if result.cost_usd is None and result.model and result.outcome is not Outcome.ERROR:
        return None
    if result.judge_cost_usd is None and result.judge_usage.total_tokens:
        return None
    return (result.cost_usd or 0.0) + (result.judge_cost_usd or 0.0)


def compare_with_baseline(
    current: Sequence[CaseResult],
    baseline: Sequence[CaseResult],
    *,
    path: str,
    max_score_drop: float | None = None,
) -> BaselineComparison:
    """Compare case by case; figures are computed over the cases present in both runs."""
    pairs, added, removed = _match(current, baseline)
    drop_limit = max_score_drop if max_score_drop is not None else 0.0
    new_failures = tuple(
        CaseChange(cur.nodeid, base.nodeid, base.outcome.value, cur.outcome.value)
        for cur, base in pairs
        if base.outcome is Outcome.PASSED and cur.outcome.failing
    )
    fixed = tuple(
        CaseChange(cur.nodeid, base.nodeid, base.outcome.value, cur.outcome.value)
        for cur, base in pairs
        if base.outcome.failing and cur.outcome is Outcome.PASSED
    )
    all_drops = [
        ScoreDrop(cur.nodeid, base.nodeid, base.score, cur.score)
        for cur, base in pairs
        if cur.score is not None and base.score is not None
    ]
    drops = sorted((d for d in all_drops if d.drop > drop_limit + 1e-9), key=lambda d: (-d.drop, d.id))
    scored = [(c.score, b.score) for c, b in pairs if c.score is not None and b.score is not None]
    costs = [
        (c, b)
        for c, b in ((total_cost(c), total_cost(b)) for c, b in pairs)
        if c is not None and b is not None
    ]
    latencies = [
        (c.latency_ms, b.latency_ms)
        for c, b in pairs
        if c.outcome is not Outcome.ERROR
        and b.outcome is not Outcome.ERROR
        and c.latency_ms is not None
        and b.latency_ms is not None
    ]
    return BaselineComparison(
        path=path,
        matched=len(pairs),
        added=tuple(r.nodeid for r in added),
        removed=tuple(r.nodeid for r in removed),
        new_failures=new_failures,
        fixed=fixed,
        score_drops=tuple(drops),
        score_drop_limit=drop_limit,
        largest_score_drop=max([0.0, *(d.drop for d in all_drops)]),
        mean_score=Change(_mean([b for _, b in scored]), _mean([c for c, _ in scored])),
        cost_usd=Change(
            math.fsum(b for _, b in costs) if costs else None,
            math.fsum(c for c, _ in costs) if costs else None,
        ),
        p95_latency_ms=Change(
            percentile([b for _, b in latencies], 95), percentile([c for c, _ in latencies], 95)
        ),
        run_cases=len(current),
        pairs=tuple(pairs),
    )


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
