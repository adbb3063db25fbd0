"""Statistics of a run: totals per variant (prompt version × model), and version differences.

The figures here are computed on the controller from the results that rode on the test reports,
in an order that does not depend on which xdist worker ran what: cases are sorted by id and sums
use ``math.fsum`` (exactly rounded, so independent of order). Totals with ``-n 4`` therefore equal
a serial run's to the last digit.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidVersionError
from ..prompts.versions import Version
from ..results import CaseResult, Outcome, Usage
from .intervals import Interval, clustered_mean_interval, mean_interval, wilson_interval
from .paired import PairedComparison, compare_pairs

__all__ = [
    "VariantSummary",
    "VersionDiff",
    "format_amount",
    "format_usd",
    "percentile",
    "signed",
    "summarize",
    "total",
    "version_diffs",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def format_amount(value: float) -> str:
    """A USD amount without the sign: small amounts keep enough digits to be seen."""
    if value == 0:
        return "0"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    if abs(value) >= 0.01:
        return f"{value:.4f}"
    return f"{value:.6f}"


def signed(value: float, spec: str) -> str:
    """``+1.5`` / ``-1.5``; a change that rounds to zero is ``+0.0``, never ``-0.0``."""
    text = format(value, "+" + spec)
    return "+" + text[1:] if text.startswith("-") and float(text) == 0 else text


def format_usd(value: float | None) -> str:
    """``$0.0123``; None (an unpriced model) is "unknown", never ``$0``."""
    return "unknown" if value is None else f"${format_amount(value)}"


def _version_key(version: str | None) -> tuple[int, Any]:
    """Sort prompt versions by SemVer precedence; text that is not SemVer sorts after, by text."""
    if version is None:
        return (2, "")
    try:
        parsed = Version.parse(version)
    except InvalidVersionError:
        return (1, version)
    return (0, (parsed.major, parsed.minor, parsed.patch, not parsed.prerelease, parsed.prerelease))


def _judge_cost_unknown(result: CaseResult) -> bool:
    return result.judge_cost_usd is None and result.judge_usage.total_tokens > 0


@dataclass
class VariantSummary:
    """Totals of one prompt version × provider, or of the whole run (``variant == "total"``)."""

    variant: str
    prompt: str | None = None
    prompt_version: str | None = None
    provider: str = ""
    models: set[str] = field(default_factory=set)
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    #: The judge's grade could not be read: neither a pass nor a failure, counted apart.
    unscored: int = 0
    scores: list[float] = field(default_factory=list)
    metric_scores: dict[str, list[float]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    judge_usage: Usage = field(default_factory=Usage)
    costs: list[float] = field(default_factory=list)
    judge_costs: list[float] = field(default_factory=list)
    live_costs: list[float] = field(default_factory=list)
    #: Cases whose application or judge cost is unknown (a model without a price).
    unpriced: int = 0
    unpriced_models: set[str] = field(default_factory=set)
    judge_failures: int = 0
    judge_failure_cases: int = 0
    replayed: int = 0
    #: Repeated cases only: 1.0 / 0.0 per run (passed or not), one list per case.
    run_passes: list[list[float]] = field(default_factory=list)

    @classmethod
    def of(cls, result: CaseResult) -> VariantSummary:
        """An empty summary for the variant ``result`` belongs to."""
        return cls(result.variant, result.prompt, result.prompt_version, result.provider)

    def add(self, result: CaseResult) -> None:
        self.cases += 1
        if result.outcome is Outcome.PASSED:
            self.passed += 1
        elif result.outcome is Outcome.ERROR:
            self.errors += 1
        elif result.outcome is Outcome.UNSCORED:
            self.unscored += 1
        else:
            self.failed += 1
        if result.model:
            self.models.add(result.model)
        if result.score is not None:
            self.scores.append(result.score)
        for assertion in result.assertions:
            if assertion.metric:
                self.metric_scores.setdefault(assertion.metric, []).append(assertion.score)
        if result.outcome is not Outcome.ERROR:
            if result.latency_ms is not None:
                self.latencies.append(result.latency_ms)
            if result.ttft_ms is not None:
                self.ttfts.append(result.ttft_ms)
        self.usage = self.usage + result.usage
        self.judge_usage = self.judge_usage + result.judge_usage
        if result.cost_usd is not None:
            self.costs.append(result.cost_usd)
            if not result.replayed:
                self.live_costs.append(result.cost_usd)
        if result.judge_cost_usd is not None:
            self.judge_costs.append(result.judge_cost_usd)
        if result.unpriced or _judge_cost_unknown(result):
            self.unpriced += 1
            if result.unpriced:
                self.unpriced_models.add(result.model)
        self.judge_failures += result.judge_failures
        if result.judge_failures:
            self.judge_failure_cases += 1
        if result.replayed:
            self.replayed += 1
        if result.runs:
            self.run_passes.append([1.0 if run.get("outcome") == "passed" else 0.0 for run in result.runs])

    @property
    def pass_rate(self) -> float:
        """Passed cases over all cases: failed, errored and unscored cases are not passes."""
        return self.passed / self.cases if self.cases else 0.0

    @property
    def error_rate(self) -> float:
        return self.errors / self.cases if self.cases else 0.0

    @property
    def judge_failure_rate(self) -> float:
        """Share of cases where a judge's reply could not be parsed."""
        return self.judge_failure_cases / self.cases if self.cases else 0.0

    @property
    def mean_score(self) -> float | None:
        return math.fsum(self.scores) / len(self.scores) if self.scores else None

    @property
    def metrics(self) -> dict[str, float]:
        """Mean score per named metric (an assertion's ``metric:``), by name."""
        return {name: math.fsum(v) / len(v) for name, v in sorted(self.metric_scores.items())}

    @property
    def cost_usd(self) -> float:
        """Application cost of the priced cases; see ``unpriced`` for the others."""
        return math.fsum(self.costs)

    @property
    def judge_cost_usd(self) -> float:
        return math.fsum(self.judge_costs)

    @property
    def total_cost_usd(self) -> float:
        return math.fsum([*self.costs, *self.judge_costs])

    @property
    def live_cost_usd(self) -> float:
        """Application cost of the calls this run made live (not replayed)."""
        return math.fsum(self.live_costs)

    @property
    def p50_ms(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p95_ms(self) -> float | None:
        return percentile(self.latencies, 95)

    @property
    def pass_rate_interval(self) -> Interval | None:
        """Wilson 95% interval of the pass rate; the case is the unit (after ``reduce``)."""
        return wilson_interval(self.passed, self.cases)

    @property
    def mean_score_interval(self) -> Interval | None:
        """t 95% interval of the mean score over cases (a repeated case counts once, by its mean)."""
        return mean_interval(self.scores)

    @property
    def run_pass_rate(self) -> dict[str, Any] | None:
        """Repeated cases: the share of runs that passed, its interval clustered by case."""
        if not self.run_passes:
            return None
        runs = sum(len(r) for r in self.run_passes)
        passed = int(sum(sum(r) for r in self.run_passes))
        interval = clustered_mean_interval(self.run_passes)
        return {
            "cases": len(self.run_passes),
            "runs": runs,
            "passed": passed,
            "rate": passed / runs if runs else 0.0,
            "interval": interval.to_dict() if interval else None,
        }

    def interval_fields(self) -> dict[str, Any]:
        """The intervals the JSON report adds to each statistics block."""
        pass_rate, score = self.pass_rate_interval, self.mean_score_interval
        return {
            "pass_rate_interval": pass_rate.to_dict() if pass_rate else None,
            "mean_score_interval": score.to_dict() if score else None,
            "run_pass_rate": self.run_pass_rate,
        }

    @property
    def judged(self) -> bool:
        return bool(self.judge_usage.total_tokens or self.judge_failures or any(self.judge_costs))

    def to_dict(self) -> dict[str, Any]:
        """The statistics block of the JSON report (summary and each variant)."""
        return {
            "cases": self.cases,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "unscored": self.unscored,
            "pass_rate": self.pass_rate,
            "error_rate": self.error_rate,
            "mean_score": self.mean_score,
            "metrics": self.metrics,
            "tokens": _tokens(self.usage),
            "judge_tokens": _tokens(self.judge_usage),
            "cost_usd": {
                "app": self.cost_usd,
                "judge": self.judge_cost_usd,
                "total": self.total_cost_usd,
                "live": self.live_cost_usd,
            },
            "unpriced_cases": self.unpriced,
            "unpriced_models": sorted(self.unpriced_models),
            "latency_ms": {
                "p50": self.p50_ms,
                "p95": self.p95_ms,
                "max": max(self.latencies) if self.latencies else None,
            },
            "ttft_ms": {"p50": percentile(self.ttfts, 50), "p95": percentile(self.ttfts, 95)},
            "judge_failures": self.judge_failures,
            "judge_failure_rate": self.judge_failure_rate,
            "replayed": self.replayed,
            **self.interval_fields(),
        }


def _tokens(usage: Usage) -> dict[str, int]:
    return {
        "input": usage.input_tokens,
        "output": usage.output_tokens,
        "cached": usage.cached_tokens,
        "total": usage.total_tokens,
    }


def _variant_key(summary: VariantSummary) -> tuple[Any, ...]:
    return (summary.prompt or "", _version_key(summary.prompt_version), summary.provider, summary.variant)


def summarize(results: Iterable[CaseResult]) -> dict[str, VariantSummary]:
    """Results grouped by variant, ordered by prompt, version (SemVer) and provider."""
    out: dict[str, VariantSummary] = {}
    for result in sorted(results, key=lambda r: r.nodeid):
        summary = out.get(result.variant)
        if summary is None:
            summary = out[result.variant] = VariantSummary.of(result)
        summary.add(result)
    return {s.variant: s for s in sorted(out.values(), key=_variant_key)}


def total(results: Iterable[CaseResult]) -> VariantSummary:
    """One summary of every case."""
    summary = VariantSummary("total")
    for result in sorted(results, key=lambda r: r.nodeid):
        summary.add(result)
    return summary


@dataclass(frozen=True)
class VersionDiff:
    """Two versions of one prompt run by one suite on one provider: older → newer."""

    suite: str
    prompt: str
    provider: str
    older: VariantSummary
    newer: VariantSummary
    #: ``(newer, older)`` results of the same case, sorted by the newer one's id.
    pairs: tuple[tuple[CaseResult, CaseResult], ...] = field(default=(), repr=False, compare=False)

    @functools.cached_property
    def paired(self) -> PairedComparison:
        """The cases of both versions compared case by case (exact tests, intervals)."""
        return compare_pairs(self.pairs)

    @property
    def pass_rate_change(self) -> float:
        return self.newer.pass_rate - self.older.pass_rate

    @property
    def mean_score_change(self) -> float | None:
        old, new = self.older.mean_score, self.newer.mean_score
        return None if old is None or new is None else new - old

    @property
    def cost_change(self) -> float:
        return self.newer.total_cost_usd - self.older.total_cost_usd

    @property
    def cost_change_pct(self) -> float | None:
        return _pct(self.older.total_cost_usd, self.newer.total_cost_usd)

    @property
    def p95_change(self) -> float | None:
        old, new = self.older.p95_ms, self.newer.p95_ms
        return None if old is None or new is None else new - old

    def to_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "prompt": self.prompt,
            "provider": self.provider,
            "from_version": self.older.prompt_version,
            "to_version": self.newer.prompt_version,
            "cases": {"from": self.older.cases, "to": self.newer.cases},
            "pass_rate": {
                "from": self.older.pass_rate,
                "to": self.newer.pass_rate,
                "change": self.pass_rate_change,
            },
            "mean_score": {
                "from": self.older.mean_score,
                "to": self.newer.mean_score,
                "change": self.mean_score_change,
            },
            "cost_usd": {
                "from": self.older.total_cost_usd,
                "to": self.newer.total_cost_usd,
                "change": self.cost_change,
                "change_pct": self.cost_change_pct,
            },
            "p95_latency_ms": {"from": self.older.p95_ms, "to": self.newer.p95_ms, "change": self.p95_change},
        }


def _pct(old: float | None, new: float | None) -> float | None:
    """Relative change in percent; None when it is undefined (no old figure, or old is 0)."""
    if old is None or new is None or old == 0:
        return None
    return (new - old) / old * 100.0


def version_diffs(results: Iterable[CaseResult]) -> list[VersionDiff]:
    """For each suite × prompt × provider that ran several prompt versions, consecutive pairs."""
    groups: dict[tuple[str, str, str], dict[str, VariantSummary]] = {}
    cases: dict[tuple[str, str, str, str], dict[str, CaseResult]] = {}
    for result in sorted(results, key=lambda r: r.nodeid):
        if result.prompt is None or result.prompt_version is None:
            continue
        versions = groups.setdefault((result.suite, result.prompt, result.provider), {})
        summary = versions.get(result.prompt_version)
        if summary is None:
            summary = versions[result.prompt_version] = VariantSummary.of(result)
        summary.add(result)
        key = (result.suite, result.prompt, result.provider, result.prompt_version)
        cases.setdefault(key, {}).setdefault(result.case, result)
    diffs = []
    for (suite, prompt, provider), versions in sorted(groups.items()):
        ordered = [v for v in sorted(versions, key=_version_key)]
        for older, newer in itertools.pairwise(ordered):
            old_cases = cases[(suite, prompt, provider, older)]
            new_cases = cases[(suite, prompt, provider, newer)]
            # The same case under both versions: pairs by case name (suite, prompt, provider agree).
            pairs = tuple(
                sorted(
                    ((new, old_cases[name]) for name, new in new_cases.items() if name in old_cases),
                    key=lambda pair: pair[0].nodeid,
                )
            )
            diffs.append(VersionDiff(suite, prompt, provider, versions[older], versions[newer], pairs))
    return diffs
