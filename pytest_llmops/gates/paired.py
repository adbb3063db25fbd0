"""Paired comparisons: the same cases under two prompt versions, or in this run and a baseline.

Pairing removes the noise of which cases a suite holds: each case is compared with itself.

- **Pass/fail**: the exact McNemar test. Only the discordant pairs count: ``worse`` (passed before,
  not now) and ``better``; with no real change each discordant pair is as likely one way as the
  other, so ``worse`` is Binomial(worse + better, 1/2). The interval of the change in pass rate is
  Newcombe's hybrid score interval for paired proportions (1998, method 10).
- **Scores**: the exact sign test on the per-case differences (new - old), with a paired
  bootstrap interval of the mean difference. The sign test is exact whatever the scores'
  distribution, so a gate built on it raises a false alarm at most ``alpha`` of the time.
- **The smallest detectable drop**: the drop the one-sided test would catch with 80% power at the
  level it is run, for this many pairs and the noise this run shows. The model: cases flip by
  chance both ways equally (estimated from the flips the good way: twice the pairs that got
  better), and a real drop adds flips the bad way on top. ``tests/test_decisions_simulation.py``
  checks that a drop of the reported size is caught at least 80% of the time.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..results import CaseResult, Outcome
from .distributions import binomial_cdf, binomial_sf, normal_quantile
from .intervals import CONFIDENCE, Interval, bootstrap_mean_interval, wilson_interval

__all__ = [
    "POWER",
    "PairedComparison",
    "PassRateComparison",
    "ScoreComparison",
    "compare_pairs",
    "detectable_drop",
    "exact_mcnemar",
    "newcombe_paired_interval",
]

#: The power at which the smallest detectable drop is computed.
POWER = 0.8
#: Score differences within this are ties (scores are sums of floats).
_TIE = 1e-9
#: Up to this many pairs the power is computed exactly; above, with the normal approximation.
_EXACT_POWER_LIMIT = 200


def exact_mcnemar(worse: int, better: int) -> tuple[float, float]:
    """(two-sided p, one-sided p that the new side is worse) of the exact McNemar / sign test."""
    m = worse + better
    if m == 0:
        return 1.0, 1.0
    two_sided = min(1.0, 2.0 * binomial_cdf(min(worse, better), m))
    return two_sided, binomial_sf(worse, m)


def newcombe_paired_interval(
    both: int, worse: int, better: int, neither: int, confidence: float = CONFIDENCE
) -> Interval | None:
    """Newcombe's interval (method 10) for new pass rate - old pass rate over paired cases.

    ``both`` passed in both, ``worse`` passed only before, ``better`` only now, ``neither`` in
    neither. The Wilson intervals of the two pass rates are combined with the phi correlation
    of the 2×2 table.
    """
    n = both + worse + better + neither
    if n == 0:
        return None
    old, new = (both + worse) / n, (both + better) / n
    old_ci = wilson_interval(both + worse, n, confidence)
    new_ci = wilson_interval(both + better, n, confidence)
    assert old_ci is not None and new_ci is not None
    marginals = (both + worse) * (better + neither) * (both + better) * (worse + neither)
    phi = (both * neither - worse * better) / math.sqrt(marginals) if marginals else 0.0
    d_new_low, d_new_high = new - new_ci.low, new_ci.high - new
    d_old_low, d_old_high = old - old_ci.low, old_ci.high - old
    down = math.sqrt(max(0.0, d_new_low**2 - 2 * phi * d_new_low * d_old_high + d_old_high**2))
    up = math.sqrt(max(0.0, d_new_high**2 - 2 * phi * d_new_high * d_old_low + d_old_low**2))
    change = new - old
    return Interval(max(-1.0, change - down), min(1.0, change + up), "Newcombe (paired)", confidence)


@functools.lru_cache(maxsize=8192)
def _critical(m: int, alpha: float) -> int | None:
    """The smallest ``worse`` count among ``m`` discordant pairs that the one-sided test rejects."""
    if binomial_sf(m, m) > alpha:
        return None
    low, high = 0, m  # sf(high) <= alpha holds; find the smallest such k
    while low < high:
        mid = (low + high) // 2
        if binomial_sf(mid, m) <= alpha:
            high = mid
        else:
            low = mid + 1
    return low


def _log_pmf(k: int, n: int, log_p: float, log_q: float) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * log_p + (n - k) * log_q


def _binomial_pmfs(n: int, p: float) -> list[float]:
    """P(X = k) for k = 0..n, X ~ Binomial(n, p), from logs (no overflow at any n)."""
    if p <= 0.0:
        return [1.0] + [0.0] * n
    if p >= 1.0:
        return [0.0] * n + [1.0]
    log_p, log_q = math.log(p), math.log1p(-p)
    return [math.exp(_log_pmf(k, n, log_p, log_q)) for k in range(n + 1)]


def _binomial_upper(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p): one pmf from logs, the rest by the ratio of neighbours."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    pmf = math.exp(_log_pmf(k, n, math.log(p), math.log1p(-p)))
    ratio = p / (1.0 - p)
    terms = [pmf]
    for i in range(k, n):
        pmf *= (n - i) / (i + 1) * ratio
        terms.append(pmf)
    return math.fsum(terms)


def _flip_rates(noise: float, drop: float) -> tuple[float, float]:
    """(P(worse), P(better)) per pair: flips at the rate ``noise``, plus a real ``drop``."""
    discordant = min(1.0, noise + drop)
    return (discordant + drop) / 2.0, (discordant - drop) / 2.0


def _exact_power(n: int, noise: float, drop: float, alpha: float) -> float:
    worse, better = _flip_rates(noise, drop)
    discordant = worse + better
    share = worse / discordant if discordant else 0.0
    total = 0.0
    for m, p_m in enumerate(_binomial_pmfs(n, discordant)):
        k = _critical(m, alpha) if m else None
        if k is None or p_m < 1e-15:
            continue
        total += p_m * _binomial_upper(k, m, share)
    return total


def _normal_power(n: int, noise: float, drop: float, alpha: float) -> float:
    worse, better = _flip_rates(noise, drop)
    discordant = worse + better
    spread = discordant - drop * drop
    if spread <= 0:
        return 1.0
    z = (drop * math.sqrt(n) - normal_quantile(1.0 - alpha) * math.sqrt(discordant)) / math.sqrt(spread)
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@functools.lru_cache(maxsize=4096)
def detectable_drop(n: int, noise_pairs: int, alpha: float, power: float = POWER) -> float | None:
    """The smallest drop (a share of the ``n`` pairs) caught with ``power`` by the one-sided test.

    ``noise_pairs``: how many pairs flip by chance, both ways together. The callers estimate it
    as twice the pairs that got *better*: with no real change flips go both ways equally, and a
    real drop adds flips the bad way only, so the good-way flips measure the noise alone.
    None when no drop, however large, would be caught that often with this few pairs.
    """
    if n <= 0:
        return None
    noise = min(1.0, noise_pairs / n)
    power_of = _exact_power if n <= _EXACT_POWER_LIMIT else _normal_power
    if power_of(n, noise, 1.0, alpha) < power:
        return None
    low, high = 0.0, 1.0
    for _ in range(30):
        mid = (low + high) / 2.0
        if power_of(n, noise, mid, alpha) >= power:
            high = mid
        else:
            low = mid
    return high


def _is_pass(result: CaseResult) -> bool:
    return result.outcome is Outcome.PASSED


@dataclass(frozen=True)
class PassRateComparison:
    """Pass/fail of each case, before and after: counts of the 2×2 table, and the exact test."""

    both: int
    worse: int
    better: int
    neither: int

    @property
    def pairs(self) -> int:
        return self.both + self.worse + self.better + self.neither

    @property
    def old(self) -> float:
        return (self.both + self.worse) / self.pairs if self.pairs else 0.0

    @property
    def new(self) -> float:
        return (self.both + self.better) / self.pairs if self.pairs else 0.0

    @property
    def change(self) -> float:
        return self.new - self.old

    @property
    def interval(self) -> Interval | None:
        return newcombe_paired_interval(self.both, self.worse, self.better, self.neither)

    @property
    def p_value(self) -> float:
        """Two-sided exact McNemar: is there a change at all?"""
        return exact_mcnemar(self.worse, self.better)[0]

    @property
    def p_worse(self) -> float:
        """One-sided exact McNemar: is the new side worse? (What the regression gate tests.)"""
        return exact_mcnemar(self.worse, self.better)[1]

    def detectable(self, alpha: float) -> float | None:
        return detectable_drop(self.pairs, 2 * self.better, alpha)

    def to_dict(self, alpha: float) -> dict[str, Any]:
        interval = self.interval
        return {
            "pairs": self.pairs,
            "from": self.old,
            "to": self.new,
            "change": self.change,
            "interval": interval.to_dict() if interval else None,
            "worse": self.worse,
            "better": self.better,
            "test": "exact McNemar",
            "p_value": self.p_value,
            "p_worse": self.p_worse,
            "detectable_drop": self.detectable(alpha),
        }


@dataclass(frozen=True)
class ScoreComparison:
    """Per-case score differences (new - old) of the pairs where both sides have a score."""

    old_scores: tuple[float, ...]
    new_scores: tuple[float, ...]

    @property
    def pairs(self) -> int:
        return len(self.old_scores)

    @property
    def differences(self) -> tuple[float, ...]:
        return tuple(n - o for n, o in zip(self.new_scores, self.old_scores, strict=True))

    @property
    def old(self) -> float:
        return math.fsum(self.old_scores) / self.pairs

    @property
    def new(self) -> float:
        return math.fsum(self.new_scores) / self.pairs

    @property
    def change(self) -> float:
        return math.fsum(self.differences) / self.pairs

    @property
    def worse(self) -> int:
        return sum(1 for d in self.differences if d < -_TIE)

    @property
    def better(self) -> int:
        return sum(1 for d in self.differences if d > _TIE)

    @functools.cached_property
    def interval(self) -> Interval | None:
        # Computed when a report asks for it: the gates need only the sign test.
        return bootstrap_mean_interval(self.differences)

    @property
    def p_value(self) -> float:
        """Two-sided exact sign test."""
        return exact_mcnemar(self.worse, self.better)[0]

    @property
    def p_worse(self) -> float:
        """One-sided exact sign test: are scores lower now? (What the regression gate tests.)"""
        return exact_mcnemar(self.worse, self.better)[1]

    @property
    def typical_change(self) -> float | None:
        """The mean size of the changes that happened (None when no score changed)."""
        changed = [abs(d) for d in self.differences if abs(d) > _TIE]
        return math.fsum(changed) / len(changed) if changed else None

    def detectable(self, alpha: float) -> float | None:
        """The smallest drop in mean score the sign test catches with 80% power.

        In the model of ``detectable_drop``, with each flip the size of the typical change seen
        here; None when no score changed (nothing to size a change by) or too few pairs.
        """
        size = self.typical_change
        share = detectable_drop(self.pairs, 2 * self.better, alpha)
        return None if size is None or share is None else share * size

    def to_dict(self, alpha: float) -> dict[str, Any]:
        interval = self.interval
        return {
            "pairs": self.pairs,
            "from": self.old,
            "to": self.new,
            "change": self.change,
            "interval": interval.to_dict() if interval else None,
            "worse": self.worse,
            "better": self.better,
            "test": "exact sign test",
            "p_value": self.p_value,
            "p_worse": self.p_worse,
            "detectable_drop": self.detectable(alpha),
        }


@dataclass(frozen=True)
class PairedComparison:
    """One comparison of paired cases: pass/fail and, where both sides have one, the score."""

    pass_rate: PassRateComparison
    score: ScoreComparison | None

    @property
    def pairs(self) -> int:
        return self.pass_rate.pairs

    @property
    def tests(self) -> int:
        """How many one-sided tests the regression gate runs on this comparison."""
        return (1 if self.pairs else 0) + (1 if self.score is not None else 0)

    def to_dict(self, alpha: float) -> dict[str, Any]:
        """``alpha``: the level each of the gate's tests is run at (the drops are sized for it)."""
        return {
            "pairs": self.pairs,
            "alpha": alpha,
            "power": POWER,
            "pass_rate": self.pass_rate.to_dict(alpha),
            "mean_score": self.score.to_dict(alpha) if self.score is not None else None,
        }


def compare_pairs(pairs: Sequence[tuple[CaseResult, CaseResult]]) -> PairedComparison:
    """Compare ``(new, old)`` pairs, in the order given (the callers sort them by case id)."""
    counts = {(True, True): 0, (True, False): 0, (False, True): 0, (False, False): 0}
    old_scores: list[float] = []
    new_scores: list[float] = []
    for new, old in pairs:
        counts[(_is_pass(old), _is_pass(new))] += 1
        if new.score is not None and old.score is not None:
            old_scores.append(old.score)
            new_scores.append(new.score)
    pass_rate = PassRateComparison(
        both=counts[(True, True)],
        worse=counts[(True, False)],
        better=counts[(False, True)],
        neither=counts[(False, False)],
    )
    score = ScoreComparison(tuple(old_scores), tuple(new_scores)) if old_scores else None
    return PairedComparison(pass_rate, score)
