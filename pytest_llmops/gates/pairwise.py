"""Pairwise preference across a version diff: the newer version's win rate, its interval, a test.

Each case of the newer version carries a ``pairwise`` assertion result (``assertions.judges.pairwise``):
1 when the judge preferred it in both orders, 0 when it preferred the older one in both, 0.5 for
a tie or a position flip, 0.75 / 0.25 in between. The **win rate** is their mean; its 95% interval
is Wilson's with each case counting its score as wins; the p value is the exact sign test of the
cases the newer version won against those it lost (ties do not count). ``llmops_min_win_rate``
fails a comparison whose win rate is significantly below it: the interval's upper end lies under
the limit. A comparison with no case scored cannot hold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..assertions.judges.pairwise import PAIRWISE_TYPE
from ..settings import Settings
from .distributions import normal_quantile
from .gate import GateResult
from .intervals import Interval
from .paired import exact_mcnemar
from .stats import VersionDiff

__all__ = ["PairwiseComparison", "pairwise_comparisons", "win_rate_gate"]

_TIE = 1e-9


@dataclass(frozen=True)
class PairwiseComparison:
    """One version diff's pairwise judgments."""

    diff: VersionDiff
    scores: tuple[float, ...]
    unscored: int
    flips: int

    @property
    def label(self) -> str:
        d = self.diff
        return f"{d.suite}: {d.prompt} {d.older.prompt_version} → {d.newer.prompt_version} ({d.provider})"

    @property
    def cases(self) -> int:
        return len(self.scores)

    @property
    def wins(self) -> int:
        return sum(1 for s in self.scores if s > 0.5 + _TIE)

    @property
    def losses(self) -> int:
        return sum(1 for s in self.scores if s < 0.5 - _TIE)

    @property
    def ties(self) -> int:
        return self.cases - self.wins - self.losses

    @property
    def win_rate(self) -> float | None:
        return math.fsum(self.scores) / self.cases if self.cases else None

    @property
    def interval(self) -> Interval | None:
        if not self.cases:
            return None
        # Wilson's interval with fractional successes: each case counts its score as wins.
        return _wilson_fraction(math.fsum(self.scores), self.cases)

    @property
    def p_value(self) -> float:
        """Two-sided exact sign test: cases won against cases lost."""
        return exact_mcnemar(self.losses, self.wins)[0]

    def to_dict(self) -> dict[str, Any]:
        d, interval = self.diff, self.interval
        return {
            "suite": d.suite,
            "prompt": d.prompt,
            "provider": d.provider,
            "from_version": d.older.prompt_version,
            "to_version": d.newer.prompt_version,
            "cases": self.cases,
            "wins": self.wins,
            "ties": self.ties,
            "losses": self.losses,
            "unscored": self.unscored,
            "position_flips": self.flips,
            "win_rate": self.win_rate,
            "interval": interval.to_dict() if interval else None,
            "p_value": self.p_value,
        }


def _wilson_fraction(successes: float, n: int) -> Interval:
    """Wilson's score interval for a fractional number of successes out of n."""
    z = normal_quantile(0.975)
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return Interval(low, high, "Wilson (ties count half)")


def pairwise_comparisons(versions: Sequence[VersionDiff]) -> list[PairwiseComparison]:
    """The version diffs whose newer cases were judged pairwise, in report order."""
    out = []
    for diff in versions:
        scores: list[float] = []
        unscored = flips = 0
        for newer, _older in diff.pairs:
            for assertion in newer.assertions:
                if assertion.type != PAIRWISE_TYPE:
                    continue
                if assertion.unscored:
                    unscored += 1
                else:
                    scores.append(assertion.score)
                    flips += "a position flip" in assertion.reason
        if scores or unscored:
            out.append(PairwiseComparison(diff, tuple(scores), unscored, flips))
    return out


def win_rate_gate(found: Sequence[PairwiseComparison], settings: Settings) -> GateResult | None:
    """``llmops_min_win_rate``: fails a comparison significantly below the limit (None when unset)."""
    limit = settings.min_win_rate
    if limit is None or not found:
        return None
    key = "llmops_min_win_rate"
    label = "pairwise win rate"
    below = []
    for c in found:
        interval = c.interval
        if interval is None:
            below.append(f"{c.label}: no case was judged ({c.unscored} unscored): cannot be shown")
        elif interval.high < limit - 1e-12:
            assert c.win_rate is not None
            below.append(
                f"{c.label}: {c.win_rate:.0%} [{interval.low:.0%}, {interval.high:.0%}] over {c.cases} "
                f"case(s) is significantly below {limit:.0%}"
            )
    rates = [c.win_rate for c in found if c.win_rate is not None]
    value = min(rates) if rates else None
    if below:
        message = f"{label}: " + "; ".join(below) + f" ({key})"
        return GateResult("min_win_rate", label, value, limit, False, message)
    shown = ", ".join(
        f"{c.diff.newer.prompt_version} {c.win_rate:.0%} over {c.cases} case(s)"
        for c in found
        if c.win_rate is not None
    )
    message = f"{label} {shown}: none significantly below {limit:.0%} ({key})"
    return GateResult("min_win_rate", label, value, limit, True, message)
