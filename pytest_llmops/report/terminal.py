"""What the terminal shows: a failing case's text, the summary table, and the llmops section.

The same failure text serves YAML items and ``llmops.check`` in Python tests: where the case
lives, each assertion with what was expected and what came back, and the response.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..gates.agreement import JudgeAgreement
from ..gates.baseline import BaselineComparison, Change
from ..gates.evaluation import Evaluation
from ..gates.stats import VersionDiff, format_amount, format_usd, signed, summarize, total
from ..results import CaseResult, Outcome
from .decisions import interval_lines, paired_text, pairwise_lines, rerun_text

__all__ = [
    "Line",
    "describe_baseline",
    "describe_judge_agreement",
    "describe_version_diff",
    "format_case_failure",
    "summary_lines",
    "terminal_lines",
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
        if result.outcome is not Outcome.ERROR:
            lines.append("the last answered run:")
    if result.outcome is Outcome.ERROR:
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


def _fmt(value: float | None, spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _cost_cell(known: float, unpriced: int, any_priced: bool) -> str:
    """Known cost, with ``?`` for cases whose cost is unknown (never shown as 0)."""
    if not unpriced:
        return format_amount(known)
    return f"{format_amount(known)}+?" if any_priced else "?"


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
            row += [format_amount(s.judge_cost_usd), f"{s.judge_failure_rate:.0%}"]
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
    out: list[Line] = (
        [(line, plain) for line in summary_lines(evaluation.results)] if evaluation.results else []
    )
    out.extend((line, plain) for line in interval_lines(evaluation))
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
        for diff in diffs:
            out.append((f"  {describe_version_diff(diff)}", plain))
            out.append((f"    {paired_text(diff.paired, evaluation.test_alpha)}", plain))
    out.extend((line, plain) for line in pairwise_lines(evaluation))
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
        stopped = sum(1 for r in evaluation.results if r.budget_exhausted)
        text = f"budget: {format_usd(overall.live_cost_usd)} of {format_usd(budget)} spent on live calls"
        out.append(
            (
                text + (f"; {stopped} case(s) stopped: budget exhausted" if stopped else ""),
                {"yellow": True} if stopped else plain,
            )
        )
    reruns = rerun_text(evaluation.rerun_summary)
    if reruns is not None:
        out.append((reruns, {"yellow": True}))
    if evaluation.baseline is not None:
        out.extend((line, plain) for line in describe_baseline(evaluation.baseline, BASELINE_LIST_LIMIT))
        out.append((f"  {paired_text(evaluation.baseline.paired, evaluation.test_alpha)}", plain))
    out.extend(judge_agreement_lines(evaluation))
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


def describe_version_diff(diff: VersionDiff) -> str:
    """One line: ``greeter 1.0.0 → 2.0.0: pass rate 50% → 100% (+50 pp), ...``."""
    old, new = diff.older, diff.newer
    parts = [
        f"pass rate {old.pass_rate:.0%} → {new.pass_rate:.0%} "
        f"({signed(diff.pass_rate_change * 100, '.0f')} pp)",
        f"score {_fmt(old.mean_score, '.2f')} → {_fmt(new.mean_score, '.2f')}"
        + ("" if diff.mean_score_change is None else f" ({signed(diff.mean_score_change, '.2f')})"),
        f"cost {format_usd(old.total_cost_usd)} → {format_usd(new.total_cost_usd)}"
        + ("" if diff.cost_change_pct is None else f" ({signed(diff.cost_change_pct, '.1f')}%)"),
        f"p95 {_fmt(old.p95_ms, '.0f')} → {_fmt(new.p95_ms, '.0f')} ms"
        + ("" if diff.p95_change is None else f" ({signed(diff.p95_change, '.0f')} ms)"),
    ]
    return f"{diff.prompt} {old.prompt_version} → {new.prompt_version}: " + ", ".join(parts)


def describe_baseline(baseline: BaselineComparison, limit: int = 10) -> list[str]:
    """Terminal lines: what changed against the baseline, at most ``limit`` cases per list."""
    lines = [
        f"baseline {baseline.path}: {baseline.matched} case(s) compared, {len(baseline.added)} new, "
        f"{len(baseline.removed)} no longer run"
    ]

    def listed(title: str, items: Sequence[str]) -> None:
        if not items:
            return
        lines.append(f"  {title}: {len(items)}")
        lines.extend(f"    {item}" for item in items[:limit])
        if len(items) > limit:
            lines.append(f"    … and {len(items) - limit} more (see the JSON report)")

    listed("newly failing", [f"{c.id} ({c.baseline_outcome} → {c.outcome})" for c in baseline.new_failures])
    listed("fixed", [f"{c.id} ({c.baseline_outcome} → {c.outcome})" for c in baseline.fixed])
    listed(
        f"score drops beyond {baseline.score_drop_limit:g}",
        [f"{d.id}: {d.baseline_score:.2f} → {d.score:.2f} (-{d.drop:.2f})" for d in baseline.score_drops],
    )
    lines.append(f"  mean score: {_change_text(baseline.mean_score, '.2f', relative=False)}")
    lines.append(f"  cost: {_change_text(baseline.cost_usd, None)}")
    lines.append(f"  p95 latency: {_change_text(baseline.p95_latency_ms, '.0f', ' ms')}")
    return lines


def _change_text(change: Change, spec: str | None, unit: str = "", *, relative: bool = True) -> str:
    def show(value: float | None) -> str:
        if value is None:
            return "n/a"
        return format_usd(value) if spec is None else format(value, spec) + unit

    text = f"{show(change.baseline)} → {show(change.current)}"
    if not relative:
        if change.change is not None:
            text += f" ({signed(change.change, spec or '.4f')})"
    elif change.change_pct is not None:
        text += f" ({signed(change.change_pct, '.1f')}%)"
    return text


JUDGE_DISAGREEMENT_LIMIT = 10


def describe_judge_agreement(group: JudgeAgreement) -> str:
    """One line: ``llm-rubric × openai:gpt-4o-mini: 18/20 agree (90.0%), kappa 0.78, ...``."""
    agreement = "n/a" if group.agreement is None else f"{group.agreement:.1%}"
    kappa = "n/a" if group.kappa is None else f"{group.kappa:.2f}"
    parts = [f"{group.agreed}/{group.scored} agree ({agreement})", f"kappa {kappa}"]
    if group.judge_only or group.person_only:
        parts.append(
            f"judge passed {group.judge_only} a person failed, failed {group.person_only} a person passed"
        )
    if group.unscored:
        parts.append(f"{group.unscored} unscored")
    if group.errors:
        parts.append(f"{group.errors} error(s)")
    return f"{group.label}: " + ", ".join(parts)


def judge_agreement_lines(evaluation: Evaluation) -> list[Line]:
    """The judges checked against people: agreement and kappa per judge, then the disagreements."""
    if not evaluation.judge_agreement:
        return []
    plain: dict[str, bool] = {}
    out: list[Line] = [
        (f"judges checked against people ({len(evaluation.judge_checks)} judge checks):", plain)
    ]
    for group in evaluation.judge_agreement:
        out.append((f"  {describe_judge_agreement(group)}", {"yellow": True} if group.judge_only else plain))
    disagreements = [r for r in evaluation.judge_checks if r.agreed is False]
    for check in disagreements[:JUDGE_DISAGREEMENT_LIMIT]:
        why = _first_line(check.reason, 120)
        out.append(
            (
                f"  disagree: {check.nodeid}: person {check.human_verdict},"
                f" judge {check.judge_verdict}: {why}",
                plain,
            )
        )
    if len(disagreements) > JUDGE_DISAGREEMENT_LIMIT:
        out.append(
            (f"  … and {len(disagreements) - JUDGE_DISAGREEMENT_LIMIT} more (see the JSON report)", plain)
        )
    return out
