"""Attempts that were run again (pytest-rerunfailures' ``--reruns``): what they spent, kept apart.

A case that pytest ran more than once counts once in every figure and gate, with the outcome of
its last attempt. The earlier attempts are not thrown away: their tokens and cost are "spent on
reruns", reported beside the totals and never inside them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..results import CaseResult, Usage

__all__ = ["RerunSummary"]


@dataclass
class RerunSummary:
    """Totals of the attempts that were followed by another attempt of the same case."""

    attempts: int = 0
    case_ids: set[str] = field(default_factory=set)
    usage: Usage = field(default_factory=Usage)
    judge_usage: Usage = field(default_factory=Usage)
    costs: list[float] = field(default_factory=list)
    judge_costs: list[float] = field(default_factory=list)
    #: Attempts whose cost is unknown (a model without a price).
    unpriced: int = 0

    @classmethod
    def of(cls, attempts: Iterable[CaseResult]) -> RerunSummary:
        summary = cls()
        # Sorted by id (stable: one case's attempts keep their order), so sums never depend on
        # which worker or shard reported first.
        for attempt in sorted(attempts, key=lambda r: r.nodeid):
            summary.attempts += 1
            summary.case_ids.add(attempt.nodeid)
            summary.usage = summary.usage + attempt.usage
            summary.judge_usage = summary.judge_usage + attempt.judge_usage
            if attempt.cost_usd is not None:
                summary.costs.append(attempt.cost_usd)
            elif attempt.unpriced:
                summary.unpriced += 1
            if attempt.judge_cost_usd is not None:
                summary.judge_costs.append(attempt.judge_cost_usd)
        return summary

    @property
    def cost_usd(self) -> float:
        return math.fsum(self.costs)

    @property
    def judge_cost_usd(self) -> float:
        return math.fsum(self.judge_costs)

    @property
    def total_cost_usd(self) -> float:
        return math.fsum([*self.costs, *self.judge_costs])

    def to_dict(self) -> dict[str, Any]:
        """The ``summary.reruns`` block of the JSON report."""
        return {
            "attempts": self.attempts,
            "cases": len(self.case_ids),
            "tokens": {**self.usage.to_dict(), "total": self.usage.total_tokens},
            "judge_tokens": {**self.judge_usage.to_dict(), "total": self.judge_usage.total_tokens},
            "cost_usd": {"app": self.cost_usd, "judge": self.judge_cost_usd, "total": self.total_cost_usd},
            "unpriced_attempts": self.unpriced,
        }
