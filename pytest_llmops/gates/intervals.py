"""Confidence intervals for what the reports show: pass rates, mean scores, paired differences.

- A pass rate is k of n cases: the **Wilson** score interval, which stays inside [0, 1] and keeps
  its coverage at small n and near 0% or 100% (where the textbook ``p ± 1.96·se`` does not).
- A mean score is a mean over cases: a **t interval** with n - 1 degrees of freedom. The case is
  the unit: a case run five times (``repeat: 5``) contributes the mean of its runs, never five
  independent observations.
- A pass rate over the runs of repeated cases uses the **clustered standard error** of Inspect AI
  (Miller, "Adding Error Bars to Evals", 2024, eq. 4): runs of one case are not independent.
- A mean of paired differences: a **paired bootstrap** (percentile, seeded, so a run and its
  shards and xdist workers agree to the last digit).

Every interval is two-sided at ``CONFIDENCE`` (95%).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .distributions import normal_quantile, t_quantile

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "CONFIDENCE",
    "Interval",
    "bootstrap_mean_interval",
    "clustered_mean_interval",
    "clustered_stderr",
    "mean_interval",
    "wilson_interval",
]

CONFIDENCE = 0.95
#: Resamples of the paired bootstrap; above ``BOOTSTRAP_LIMIT`` pairs a t interval is used
#: instead (the two agree there, and the bootstrap's cost grows with the pairs).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_LIMIT = 1000
#: A fixed seed: the same pairs give the same interval in every process, shard and worker.
BOOTSTRAP_SEED = 20240611


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval ``[low, high]`` and how it was computed."""

    low: float
    high: float
    method: str
    confidence: float = CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {"low": self.low, "high": self.high, "confidence": self.confidence, "method": self.method}


def _z(confidence: float) -> float:
    return normal_quantile(0.5 + confidence / 2.0)


def wilson_interval(passed: int, n: int, confidence: float = CONFIDENCE) -> Interval | None:
    """The Wilson score interval of ``passed`` out of ``n`` (None when n is 0)."""
    if n <= 0:
        return None
    z = _z(confidence)
    p = passed / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 of n and n of n the bound is exactly 0 or 1; rounding must not leave it a hair off.
    low = 0.0 if passed == 0 else max(0.0, centre - half)
    high = 1.0 if passed == n else min(1.0, centre + half)
    return Interval(low, high, "Wilson", confidence)


def _bounded(low: float, high: float, bounds: tuple[float, float] | None) -> tuple[float, float]:
    if bounds is None:
        return low, high
    return max(bounds[0], low), min(bounds[1], high)


def mean_interval(
    values: Sequence[float], confidence: float = CONFIDENCE, bounds: tuple[float, float] | None = (0.0, 1.0)
) -> Interval | None:
    """A t interval of the mean (None below 2 values); clipped to ``bounds`` (scores are 0–1)."""
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * math.sqrt(variance / n)
    low, high = _bounded(mean - half, mean + half, bounds)
    return Interval(low, high, "t over cases", confidence)


def clustered_stderr(clusters: Sequence[Sequence[float]]) -> float | None:
    """The standard error of the pooled mean of ``clusters`` (one list of values per case).

    Miller (2024), eq. 4, as Inspect AI computes it: the variance of the mean plus the
    covariance of values within a cluster, ``SE² = s²/n + Σ_c Σ_{i≠j} (x_ci - x̄)(x_cj - x̄) / n²``.
    None below 2 values.
    """
    values = [v for cluster in clusters for v in cluster]
    n = len(values)
    if n < 2:
        return None
    mean = math.fsum(values) / n
    variance = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    cross = 0.0
    for cluster in clusters:
        deviations = [v - mean for v in cluster]
        total = math.fsum(deviations)
        cross += total * total - math.fsum(d * d for d in deviations)
    squared = variance / n + cross / (n * n)
    return math.sqrt(max(0.0, squared))


def clustered_mean_interval(
    clusters: Sequence[Sequence[float]],
    confidence: float = CONFIDENCE,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> Interval | None:
    """The pooled mean's interval with the clustered standard error, t with clusters - 1 df."""
    filled = [c for c in clusters if c]
    se = clustered_stderr(filled)
    if se is None or len(filled) < 2:
        return None
    values = [v for cluster in filled for v in cluster]
    mean = math.fsum(values) / len(values)
    half = t_quantile(0.5 + confidence / 2.0, len(filled) - 1) * se
    low, high = _bounded(mean - half, mean + half, bounds)
    return Interval(low, high, "clustered by case", confidence)


def bootstrap_mean_interval(
    values: Sequence[float],
    confidence: float = CONFIDENCE,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Interval | None:
    """A percentile bootstrap interval of the mean of ``values`` (paired differences).

    Deterministic: a fixed seed and the values in the order given (the caller sorts them by case
    id). Above ``BOOTSTRAP_LIMIT`` values a t interval is returned instead.
    """
    n = len(values)
    if n < 2:
        return None
    if n > BOOTSTRAP_LIMIT:
        interval = mean_interval(values, confidence, bounds=None)
        return None if interval is None else Interval(interval.low, interval.high, "t over pairs", confidence)
    rng = random.Random(seed)
    data = list(values)
    means = sorted(sum(rng.choices(data, k=n)) / n for _ in range(resamples))
    tail = (1.0 - confidence) / 2.0
    low = _percentile(means, tail)
    high = _percentile(means, 1.0 - tail)
    return Interval(low, high, f"paired bootstrap, {resamples} resamples", confidence)


def _percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default)."""
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
