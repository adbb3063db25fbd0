"""The Markdown summary: for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

from ..gates.evaluation import Evaluation
from ..gates.stats import format_usd, signed
from ..results import CaseResult, Outcome
from ..review.model import Review
from ..review.render import render_review_markdown
from .decisions import markdown_decisions

__all__ = ["render_markdown", "why_not_passed"]

#: Failing cases a Markdown report lists (a pull-request comment holds 65,536 characters).
MARKDOWN_CASE_LIMIT = 20
MARKDOWN_REASON_LIMIT = 200


def _md(text: str) -> str:
    """Table-cell safe text."""
    return text.replace("|", "\\|").replace("\n", " ")


def _md_amount(value: float, unpriced: int, any_priced: bool) -> str:
    if not unpriced:
        return format_usd(value)
    return f"{format_usd(value)} + unknown" if any_priced else "unknown"


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _variant_rows(evaluation: Evaluation) -> list[str]:
    variants = list(evaluation.variants)
    rows = variants + ([evaluation.total] if len(variants) > 1 else [])
    judged = any(s.judged for s in rows)
    unscored = any(s.unscored for s in rows)
    head = ["variant", "cases", "pass rate", "mean score", "errors"]
    if unscored:
        head.append("unscored")
    head += ["tokens", "cost"]
    if judged:
        head += ["judge cost", "judge failures"]
    head += ["p50 ms", "p95 ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["--:"] * (len(head) - 1)) + "|"]
    for s in rows:
        name = "**total**" if s is evaluation.total else f"`{_md(s.variant)}`"
        cells = [name, str(s.cases), f"{s.pass_rate:.0%}", _fmt(s.mean_score, ".2f"), f"{s.errors}"]
        if unscored:
            cells.append(str(s.unscored))
        cells += [f"{s.usage.total_tokens:,}", _md_amount(s.cost_usd, s.unpriced, bool(s.costs))]
        if judged:
            cells += [format_usd(s.judge_cost_usd), f"{s.judge_failure_rate:.0%}"]
        cells += [_fmt(s.p50_ms, ".0f"), _fmt(s.p95_ms, ".0f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def render_markdown(evaluation: Evaluation, *, prompt_diffs: Review | None = None) -> str:
    """The summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    text = _render_markdown(evaluation)
    if prompt_diffs is None:
        return text
    return text.rstrip("\n") + "\n\n" + render_review_markdown(prompt_diffs).rstrip("\n") + "\n"


def _render_markdown(evaluation: Evaluation) -> str:
    overall = evaluation.total
    breached = evaluation.breached
    if breached:
        title = f"### ❌ pytest-llmops: {len(breached)} gate(s) failed"
    elif overall.passed == overall.cases:
        title = "### ✅ pytest-llmops: every case passed" + (", every gate held" if evaluation.gates else "")
    else:
        title = "### ⚠️ pytest-llmops: some cases did not pass" + (
            "; every gate held" if evaluation.gates else ""
        )
    cost = _md_amount(overall.total_cost_usd, overall.unpriced, bool(overall.costs or overall.judge_costs))
    facts = (
        f"{overall.cases} cases: {overall.passed} passed, {overall.failed} failed, {overall.errors} errors"
        + (f", {overall.unscored} unscored" if overall.unscored else "")
        + f" · pass rate {overall.pass_rate:.1%} · mean score {_fmt(overall.mean_score, '.3f')}"
        + f" · cost {cost}"
        + (f" (judge {format_usd(overall.judge_cost_usd)})" if overall.judged else "")
        + f" · p95 {_fmt(overall.p95_ms, '.0f')} ms"
        + f" · {overall.replayed} replayed"
    )
    out = [title, "", facts, "", *_variant_rows(evaluation)]

    with_metrics = [s for s in evaluation.variants if s.metric_scores]
    if with_metrics:
        names = sorted({name for s in with_metrics for name in s.metric_scores})
        out += ["", "**Metrics** (mean score)", "", "| variant | " + " | ".join(map(_md, names)) + " |"]
        out.append("|---|" + "--:|" * len(names))
        for s in with_metrics:
            values = s.metrics
            out.append(
                f"| `{_md(s.variant)}` | " + " | ".join(_fmt(values.get(n), ".2f") for n in names) + " |"
            )

    if evaluation.versions:
        out += [
            "",
            "**Prompt versions**",
            "",
            "| suite | prompt | provider | versions | pass rate | mean score | cost | p95 ms |",
            "|---|---|---|---|--:|--:|--:|--:|",
        ]
        for d in evaluation.versions:
            old, new = d.older, d.newer
            score_change = "" if d.mean_score_change is None else f" ({signed(d.mean_score_change, '.2f')})"
            cost_change = "" if d.cost_change_pct is None else f" ({signed(d.cost_change_pct, '.1f')}%)"
            p95_change = "" if d.p95_change is None else f" ({signed(d.p95_change, '.0f')})"
            out.append(
                f"| {_md(d.suite)} | {_md(d.prompt)} | {_md(d.provider)} "
                f"| {old.prompt_version} → {new.prompt_version} "
                f"| {old.pass_rate:.0%} → {new.pass_rate:.0%} ({signed(d.pass_rate_change * 100, '.0f')} pp) "
                f"| {_fmt(old.mean_score, '.2f')} → {_fmt(new.mean_score, '.2f')}{score_change} "
                f"| {format_usd(old.total_cost_usd)} → {format_usd(new.total_cost_usd)}{cost_change} "
                f"| {_fmt(old.p95_ms, '.0f')} → {_fmt(new.p95_ms, '.0f')}{p95_change} |"
            )

    out += markdown_decisions(evaluation)

    if evaluation.gates:
        out += ["", "**Gates**", "", "| | gate | result |", "|---|---|---|"]
        for g in evaluation.gates:
            out.append(f"| {'✅' if g.passed else '❌'} | {g.label} | {_md(g.message)} |")

    baseline = evaluation.baseline
    if baseline is not None:
        out += [
            "",
            f"**Baseline** `{_md(baseline.path)}`: {baseline.matched} cases compared, "
            f"{len(baseline.added)} new, {len(baseline.removed)} no longer run",
            "",
        ]
        for c in baseline.new_failures[:MARKDOWN_CASE_LIMIT]:
            out.append(f"- newly failing: `{_md(c.id)}` ({c.baseline_outcome} → {c.outcome})")
        for c in baseline.fixed[:MARKDOWN_CASE_LIMIT]:
            out.append(f"- fixed: `{_md(c.id)}` ({c.baseline_outcome} → {c.outcome})")
        for drop in baseline.score_drops[:MARKDOWN_CASE_LIMIT]:
            out.append(
                f"- score drop beyond {baseline.score_drop_limit:g}: `{_md(drop.id)}` "
                f"{drop.baseline_score:.2f} → {drop.score:.2f} (−{drop.drop:.2f})"
            )
        for label, change, show in (
            ("mean score", baseline.mean_score, lambda v: f"{v:.3f}"),
            ("cost", baseline.cost_usd, format_usd),
            ("p95 latency", baseline.p95_latency_ms, lambda v: f"{v:.0f} ms"),
        ):
            before = "n/a" if change.baseline is None else show(change.baseline)
            after = "n/a" if change.current is None else show(change.current)
            if label == "mean score":
                pct = "" if change.change is None else f" ({signed(change.change, '.3f')})"
            else:
                pct = "" if change.change_pct is None else f" ({signed(change.change_pct, '.1f')}%)"
            out.append(f"- {label}: {before} → {after}{pct}")

    out += _judge_agreement_markdown(evaluation)

    failing = [r for r in evaluation.results if r.outcome is not Outcome.PASSED]
    if failing:
        out += ["", f"**Cases that did not pass** ({len(failing)})", ""]
        for r in failing[:MARKDOWN_CASE_LIMIT]:
            out.append(f"- `{_md(r.nodeid)}` ({r.location}): {r.outcome} — {_md(why_not_passed(r))}")
        if len(failing) > MARKDOWN_CASE_LIMIT:
            out.append(f"- … and {len(failing) - MARKDOWN_CASE_LIMIT} more (see the JSON report)")

    notes = [
        f"unpriced: `{m}` (add it to `llmops_prices`); its cost is unknown" for m in overall.unpriced_models
    ]
    if overall.unscored:
        notes.append(f"{overall.unscored} case(s) unscored: the judge's reply could not be read")
    if notes:
        out += ["", *(f"> {n}  " for n in notes)]
    return "\n".join(out) + "\n"


def _judge_agreement_markdown(evaluation: Evaluation) -> list[str]:
    """The judges checked against people (``judge_checks:``): one row per judge, the disagreements."""
    if not evaluation.judge_agreement:
        return []
    out = [
        "",
        f"**Judges checked against people** ({len(evaluation.judge_checks)} judge checks)",
        "",
        "| judge | agree | agreement | Cohen's kappa | judge pass, person fail | judge fail, person pass"
        " | unscored | errors |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for g in evaluation.judge_agreement:
        out.append(
            f"| `{_md(g.label)}` | {g.agreed}/{g.scored} | {_fmt(g.agreement, '.1%')}"
            f" | {_fmt(g.kappa, '.2f')}"
            f" | {g.judge_only} | {g.person_only} | {g.unscored} | {g.errors} |"
        )
    disagreements = [r for r in evaluation.judge_checks if r.agreed is False]
    if disagreements:
        out.append("")
    for check in disagreements[:MARKDOWN_CASE_LIMIT]:
        reason = (
            check.reason
            if len(check.reason) <= MARKDOWN_REASON_LIMIT
            else check.reason[:MARKDOWN_REASON_LIMIT] + "…"
        )
        out.append(
            f"- disagree: `{_md(check.nodeid)}` ({check.location}): person {check.human_verdict},"
            f" judge {check.judge_verdict} — {_md(reason)}"
        )
    if len(disagreements) > MARKDOWN_CASE_LIMIT:
        out.append(f"- … and {len(disagreements) - MARKDOWN_CASE_LIMIT} more (see the JSON report)")
    return out


def why_not_passed(result: CaseResult) -> str:
    """Why a case did not pass, in one line: its error, or its failing assertions (up to three)."""
    if result.error:
        reason = result.error.splitlines()[0] if result.error.strip() else result.error
    else:
        failed = [f"{a.type}: {a.reason}" for a in result.assertions if not a.passed and a.weight > 0]
        if result.threshold is not None:
            failed.insert(0, f"score {_fmt(result.score, '.2f')} < {result.threshold:.2f}")
        reason = "; ".join(failed[:3]) or result.outcome
    return reason if len(reason) <= MARKDOWN_REASON_LIMIT else reason[:MARKDOWN_REASON_LIMIT] + "…"
