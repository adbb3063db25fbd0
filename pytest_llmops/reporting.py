"""Failure text for one case, and the session summary per variant (prompt version × model)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .results import CaseResult, Usage

__all__ = ["VariantSummary", "format_case_failure", "percentile", "summarize", "summary_lines"]

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


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) with linear interpolation, as numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class VariantSummary:
    """Totals of one prompt version × provider."""

    variant: str
    cases: int = 0
    passed: int = 0
    failed: int = 0
    errors: int = 0
    scores: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    unpriced: int = 0

    def add(self, result: CaseResult) -> None:
        self.cases += 1
        if result.outcome == "passed":
            self.passed += 1
        elif result.outcome == "error":
            self.errors += 1
        else:
            self.failed += 1
        if result.score is not None:
            self.scores.append(result.score)
        if result.latency_ms is not None and result.outcome != "error":
            self.latencies.append(result.latency_ms)
        self.usage = self.usage + result.usage
        if result.cost_usd is not None:
            self.cost_usd += result.cost_usd
        elif result.outcome != "error":
            self.unpriced += 1

    @property
    def pass_rate(self) -> float:
        return self.passed / self.cases if self.cases else 0.0

    @property
    def mean_score(self) -> float | None:
        return sum(self.scores) / len(self.scores) if self.scores else None


def summarize(results: Iterable[CaseResult]) -> dict[str, VariantSummary]:
    """Results grouped by variant, in first-seen order."""
    out: dict[str, VariantSummary] = {}
    for result in results:
        out.setdefault(result.variant, VariantSummary(result.variant)).add(result)
    return out


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def summary_lines(results: Sequence[CaseResult]) -> list[str]:
    """The terminal table: one row per variant, then the total."""
    variants = summarize(results)
    total = VariantSummary("total")
    for result in results:
        total.add(result)
    header = ("variant", "cases", "pass", "score", "tokens", "cost $", "p50 ms", "p95 ms")
    rows = [header]
    for summary in [*variants.values(), *([total] if len(variants) > 1 else [])]:
        cost = f"{summary.cost_usd:.4f}" + ("+?" if summary.unpriced else "")
        rows.append(
            (
                summary.variant,
                str(summary.cases),
                f"{summary.pass_rate:.0%}",
                _fmt(summary.mean_score, ".2f"),
                str(summary.usage.total_tokens),
                cost,
                _fmt(percentile(summary.latencies, 50), ".0f"),
                _fmt(percentile(summary.latencies, 95), ".0f"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines
