"""Failure text for one case, and the session summary per variant (prompt version × model).

The figures here are computed on the controller from the results that rode on the test reports,
in an order that does not depend on which xdist worker ran what: cases are sorted by id and sums
use ``math.fsum`` (exactly rounded, so independent of order). Totals with ``-n 4`` therefore equal
a serial run's to the last digit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .results import CaseResult, Usage

if TYPE_CHECKING:
    from .gates import Evaluation

__all__ = [
    "VariantSummary",
    "VersionDiff",
    "format_case_failure",
    "format_usd",
    "percentile",
    "signed",
    "summarize",
    "summary_lines",
    "terminal_lines",
    "version_diffs",
]

OUTPUT_LIMIT = 4000


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in (text.splitlines() or [""]))


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n…(truncated: {len(text) - limit} more characters)"


def format_case_failure(result: CaseResult, location: str) -> str:
    """What a failing case shows: where it lives, each failed check, and the full response."""
    head = f"{result.case} ({location})"
    variant = (
        f"{result.prompt}@{result.prompt_version} × {result.provider}" if result.prompt else result.provider
    )
    lines = [head, f"variant: {variant}"]
    if result.runs:
        lines.append(f"runs: {result.reduce}")
        for run in result.runs:
            score_text = "" if run.get("score") is None else f" score={run['score']:.2f}"
            detail = f": {_first_line(str(run['error']))}" if run.get("error") else ""
            lines.append(f"  run {run.get('run')}: {run.get('outcome')}{score_text}{detail}")
        if result.outcome != "error":
            lines.append("the last answered run:")
    if result.outcome == "error":
        lines.append("error: the case could not be scored")
        lines.append(_indent(result.error or "unknown error"))
        return "\n".join(lines)
    if result.threshold is None:
        rule = "every assertion with weight > 0 must pass"
    else:
        rule = f"score must reach {result.threshold:.2f}"
    score = "n/a" if result.score is None else f"{result.score:.2f}"
    lines.append(f"score: {score} ({rule})")
    failed = [a for a in result.assertions if not a.passed]
    lines.append(f"assertions: {len(result.assertions) - len(failed)} passed, {len(failed)} failed")
    for a in result.assertions:
        mark = "FAIL" if not a.passed else "ok  "
        where = f" (line {a.line})" if a.line else ""
        weight = "" if a.weight == 1.0 else f" weight={a.weight:g}"
        lines.append(f"  {mark} {a.type}{where}{weight} score={a.score:.2f}: {a.reason}")
    latency = f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else "n/a"
    source = "replayed" if result.replayed else "live"
    output = result.output or ""
    lines.append(f"response ({len(output)} chars, {result.usage.total_tokens} tokens, {latency}, {source}):")
    lines.append(_indent(_clip(output, OUTPUT_LIMIT)))
    return "\n".join(lines)


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "…"


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _amount(value: float) -> str:
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
    return "unknown" if value is None else f"${_amount(value)}"


def _version_key(version: str | None) -> tuple[int, Any]:
    """Sort prompt versions by SemVer precedence; text that is not SemVer sorts after, by text."""
    from .versions import InvalidVersionError, Version

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

    @classmethod
    def of(cls, result: CaseResult) -> VariantSummary:
        """An empty summary for the variant ``result`` belongs to."""
        return cls(result.variant, result.prompt, result.prompt_version, result.provider)

    def add(self, result: CaseResult) -> None:
        self.cases += 1
        if result.outcome == "passed":
            self.passed += 1
        elif result.outcome == "error":
            self.errors += 1
        elif result.outcome == "unscored":
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
        if result.outcome != "error":
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

    def describe(self) -> str:
        """One line: ``greeter 1.0.0 → 2.0.0: pass rate 50% → 100% (+50 pp), ...``."""
        old, new = self.older, self.newer
        parts = [
            f"pass rate {old.pass_rate:.0%} → {new.pass_rate:.0%} ({_signed_pp(self.pass_rate_change)})",
            f"score {_fmt(old.mean_score, '.2f')} → {_fmt(new.mean_score, '.2f')}"
            + ("" if self.mean_score_change is None else f" ({signed(self.mean_score_change, '.2f')})"),
            f"cost {format_usd(old.total_cost_usd)} → {format_usd(new.total_cost_usd)}"
            + ("" if self.cost_change_pct is None else f" ({signed(self.cost_change_pct, '.1f')}%)"),
            f"p95 {_fmt(old.p95_ms, '.0f')} → {_fmt(new.p95_ms, '.0f')} ms"
            + ("" if self.p95_change is None else f" ({signed(self.p95_change, '.0f')} ms)"),
        ]
        return f"{self.prompt} {old.prompt_version} → {new.prompt_version}: " + ", ".join(parts)


def _pct(old: float | None, new: float | None) -> float | None:
    """Relative change in percent; None when it is undefined (no old figure, or old is 0)."""
    if old is None or new is None or old == 0:
        return None
    return (new - old) / old * 100.0


def _signed_pp(change: float) -> str:
    return f"{signed(change * 100, '.0f')} pp"


def version_diffs(results: Iterable[CaseResult]) -> list[VersionDiff]:
    """For each suite × prompt × provider that ran several prompt versions, consecutive pairs."""
    groups: dict[tuple[str, str, str], dict[str, VariantSummary]] = {}
    for result in sorted(results, key=lambda r: r.nodeid):
        if result.prompt is None or result.prompt_version is None:
            continue
        versions = groups.setdefault((result.suite, result.prompt, result.provider), {})
        summary = versions.get(result.prompt_version)
        if summary is None:
            summary = versions[result.prompt_version] = VariantSummary.of(result)
        summary.add(result)
    diffs = []
    for (suite, prompt, provider), versions in sorted(groups.items()):
        ordered = [versions[v] for v in sorted(versions, key=_version_key)]
        for older, newer in itertools.pairwise(ordered):
            diffs.append(VersionDiff(suite, prompt, provider, older, newer))
    return diffs


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _cost_cell(known: float, unpriced: int, any_priced: bool) -> str:
    """Known cost, with ``?`` for cases whose cost is unknown (never shown as 0)."""
    if not unpriced:
        return _amount(known)
    return f"{_amount(known)}+?" if any_priced else "?"


def summary_lines(results: Sequence[CaseResult]) -> list[str]:
    """The terminal table: one row per variant, then the total when there are several."""
    variants = list(summarize(results).values())
    rows_of = [*variants, *([total(results)] if len(variants) > 1 else [])]
    judged = any(s.judged for s in rows_of)
    unscored = any(s.unscored for s in rows_of)
    header = ["variant", "cases", "pass", "score", "errors"]
    if unscored:
        header.append("unscored")
    header += ["tokens", "cost $"]
    if judged:
        header += ["judge $", "judge fail"]
    header += ["p50 ms", "p95 ms"]
    rows = [header]
    for s in rows_of:
        row = [s.variant, str(s.cases), f"{s.pass_rate:.0%}", _fmt(s.mean_score, ".2f"), str(s.errors)]
        if unscored:
            row.append(str(s.unscored))
        row += [str(s.usage.total_tokens), _cost_cell(s.cost_usd, s.unpriced, bool(s.costs))]
        if judged:
            row += [_amount(s.judge_cost_usd), f"{s.judge_failure_rate:.0%}"]
        row += [_fmt(s.p50_ms, ".0f"), _fmt(s.p95_ms, ".0f")]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


#: A line of the terminal summary and its markup (``red=True``, ``bold=True``, ...).
Line = tuple[str, dict[str, bool]]

BASELINE_LIST_LIMIT = 10


def terminal_lines(evaluation: Evaluation) -> list[Line]:
    """Everything the ``llmops summary`` section prints, in order."""
    plain: dict[str, bool] = {}
    out: list[Line] = [(line, plain) for line in summary_lines(evaluation.results)]
    variants = [s for s in evaluation.variants if s.metric_scores]
    if variants:
        out.append(("metrics (mean score):", plain))
        for s in variants:
            metrics = ", ".join(f"{name} {value:.2f}" for name, value in s.metrics.items())
            out.append((f"  {s.variant}: {metrics}", plain))
    by_group: dict[tuple[str, str], list[VersionDiff]] = {}
    for diff in evaluation.versions:
        by_group.setdefault((diff.suite, diff.provider), []).append(diff)
    for (suite, provider), diffs in by_group.items():
        out.append((f"prompt versions ({suite}, {provider}):", plain))
        out.extend((f"  {diff.describe()}", plain) for diff in diffs)
    overall = evaluation.total
    if overall.unscored:
        out.append(
            (
                f"unscored: {overall.unscored} case(s) whose judge reply could not be read "
                "(counted apart: neither passed nor failed)",
                {"yellow": True},
            )
        )
    for model in sorted(overall.unpriced_models):
        out.append(
            (
                f"unpriced: {model} (add it to llmops_prices); its cost is unknown, shown as ?",
                {"yellow": True},
            )
        )
    judge_unpriced = overall.unpriced - sum(1 for r in evaluation.results if r.unpriced)
    if judge_unpriced:
        out.append((f"unpriced: the judge model of {judge_unpriced} case(s) has no price", {"yellow": True}))
    budget = evaluation.settings.budget
    if budget is not None:
        stopped = sum(1 for r in evaluation.results if (r.error or "").startswith("budget exhausted"))
        text = f"budget: {format_usd(overall.live_cost_usd)} of {format_usd(budget)} spent on live calls"
        out.append(
            (
                text + (f"; {stopped} case(s) stopped: budget exhausted" if stopped else ""),
                {"yellow": True} if stopped else plain,
            )
        )
    if evaluation.baseline is not None:
        out.extend((line, plain) for line in evaluation.baseline.describe(BASELINE_LIST_LIMIT))
    for gate in evaluation.gates:
        if gate.passed:
            out.append((f"gate held: {gate.message}", {"green": True}))
        else:
            out.append((f"gate FAILED: {gate.message}", {"red": True, "bold": True}))
    breached = evaluation.breached
    if breached:
        names = ", ".join(g.label for g in breached)
        out.append(
            (
                f"llmops: {len(breached)} gate(s) failed ({names}): the run fails (exit status 1)",
                {"red": True, "bold": True},
            )
        )
    return out
