"""The JSON and Markdown reports, JUnit properties, and reading a baseline report.

JSON report, ``schema_version`` 1
=================================

Written by ``--llmops-report PATH`` (ini ``llmops_report``); read back by ``--llmops-baseline``.
The JSON Schema is shipped as ``pytest_llmops/data/report.schema.json`` (``report_schema()``).
Within schema_version 1 fields are only ever added; a reader should ignore keys it does not know.
Amounts are USD, latencies milliseconds, rates fractions from 0 to 1, scores 0 to 1. A figure that
does not exist (no score, an unpriced model's cost) is ``null``, never 0::

    schema_version   1
    generator        {name: "pytest-llmops", version}
    created_at       UTC time, ISO 8601
    prices_as_of     date of the built-in price table
    summary          statistics of the whole run (below), and:
      budget_usd       --llmops-budget, or null
      variants         [statistics of one prompt version × provider, plus variant, prompt,
                        prompt_version, provider, models]
      version_diffs    [one suite running two versions of a prompt on one provider: suite, prompt,
                        provider, from_version, to_version, cases, pass_rate, mean_score,
                        cost_usd, p95_latency_ms as {from, to, change[, change_pct]}]
      gates            [{name, label, value, limit, passed, message}]
      gates_passed     every gate held
      baseline         null, or {path, matched, added, removed, new_failures, fixed,
                        score_drops, score_drop_limit, largest_score_drop, mean_score,
                        cost_usd, p95_latency_ms}
    cases            one per case (item), sorted by id:
      id, suite, case, location ("path:line"), variant, prompt, prompt_version, provider,
      model, answered_by, outcome ("passed" | "failed" | "error" | "unscored"), score,
      threshold, assertions [{type, passed, score, reason, weight, metric, line, unscored,
      raw (a judge's reply)}],
      tokens {input, output, cached}, cost_usd, unpriced, judge_tokens, judge_cost_usd,
      judge_failures, latency_ms, ttft_ms, replayed, retries, tags, output, messages
      [{role, content}], runs [{outcome, score, error}], error

    statistics: cases, passed, failed, errors, unscored, pass_rate, error_rate, mean_score,
      metrics {name: mean score}, tokens {input, output, cached, total}, judge_tokens (same),
      cost_usd {app, judge, total, live}, unpriced_cases, unpriced_models, latency_ms
      {p50, p95, max}, ttft_ms {p50, p95}, judge_failures, judge_failure_rate, replayed

``pass_rate`` is passed / cases: failed, errored and unscored cases are not passes. ``cost_usd``
sums the priced cases; ``unpriced_cases`` counts those whose cost is unknown. ``live`` is the
application cost of the calls this run made live (not replayed).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .fileio import atomic_write_text
from .reporting import VariantSummary, format_usd, signed
from .results import AssertionResult, CaseResult, Message, Usage

if TYPE_CHECKING:
    from .gates import Evaluation, Settings

__all__ = [
    "SCHEMA_VERSION",
    "build_report",
    "case_from_json",
    "case_to_json",
    "junit_properties",
    "keep_result_out_of_junit",
    "read_baseline",
    "render_markdown",
    "report_schema",
    "write_reports",
]

SCHEMA_VERSION = 1
JUNIT_PREFIX = "llmops_"
#: Failing cases a Markdown report lists (a pull-request comment holds 65,536 characters).
MARKDOWN_CASE_LIMIT = 20
MARKDOWN_REASON_LIMIT = 200


def _tokens(usage: Usage) -> dict[str, int]:
    return {"input": usage.input_tokens, "output": usage.output_tokens, "cached": usage.cached_tokens}


def _usage(data: Mapping[str, Any] | None) -> Usage:
    data = data or {}
    return Usage(int(data.get("input", 0)), int(data.get("output", 0)), int(data.get("cached", 0)))


def case_to_json(result: CaseResult) -> dict[str, Any]:
    """One case as the report writes it."""
    return {
        "id": result.nodeid,
        "suite": result.suite,
        "case": result.case,
        "location": result.location,
        "variant": result.variant,
        "prompt": result.prompt,
        "prompt_version": result.prompt_version,
        "provider": result.provider,
        "model": result.model,
        "answered_by": result.answered_by,
        "outcome": result.outcome,
        "score": result.score,
        "threshold": result.threshold,
        "assertions": [
            {
                "type": a.type,
                "passed": a.passed,
                "score": a.score,
                "reason": a.reason,
                "weight": a.weight,
                "metric": a.metric,
                "line": a.line,
                "unscored": a.unscored,
                "raw": a.raw,
            }
            for a in result.assertions
        ],
        "tokens": _tokens(result.usage),
        "cost_usd": result.cost_usd,
        "unpriced": result.unpriced,
        "judge_tokens": _tokens(result.judge_usage),
        "judge_cost_usd": result.judge_cost_usd,
        "judge_failures": result.judge_failures,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "replayed": result.replayed,
        "retries": result.retries,
        "tags": list(result.tags),
        "output": result.output,
        "messages": [m.to_dict() for m in result.messages],
        "runs": [dict(r) for r in result.runs],
        "error": result.error,
    }


def case_from_json(data: Mapping[str, Any]) -> CaseResult:
    """A case of a report, back as a ``CaseResult`` (what the baseline comparison reads)."""
    return CaseResult(
        nodeid=str(data["id"]),
        suite=str(data.get("suite", "")),
        case=str(data.get("case", "")),
        outcome=str(data["outcome"]),
        prompt=data.get("prompt"),
        prompt_version=data.get("prompt_version"),
        provider=str(data.get("provider", "")),
        model=str(data.get("model", "")),
        score=data.get("score"),
        threshold=data.get("threshold"),
        assertions=tuple(AssertionResult.from_dict(a) for a in data.get("assertions", ())),
        usage=_usage(data.get("tokens")),
        cost_usd=data.get("cost_usd"),
        latency_ms=data.get("latency_ms"),
        ttft_ms=data.get("ttft_ms"),
        replayed=bool(data.get("replayed", False)),
        output=data.get("output"),
        error=data.get("error"),
        tags=tuple(data.get("tags", ())),
        judge_usage=_usage(data.get("judge_tokens")),
        judge_cost_usd=data.get("judge_cost_usd"),
        judge_failures=int(data.get("judge_failures", 0)),
        answered_by=data.get("answered_by"),
        retries=int(data.get("retries", 0)),
        messages=tuple(Message(str(m["role"]), str(m["content"])) for m in data.get("messages", ())),
        runs=tuple(data.get("runs", ())),
        location=str(data.get("location", "")),
    )


def _variant(summary: VariantSummary) -> dict[str, Any]:
    return {
        "variant": summary.variant,
        "prompt": summary.prompt,
        "prompt_version": summary.prompt_version,
        "provider": summary.provider,
        "models": sorted(summary.models),
        **summary.to_dict(),
    }


def build_report(
    evaluation: Evaluation,
    *,
    created_at: str | None = None,
    prompt_diffs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON report as a dict (see the module docstring)."""
    from . import __version__
    from .pricing import PRICES_AS_OF

    summary = evaluation.total.to_dict()
    summary.update(
        {
            "budget_usd": evaluation.settings.budget,
            "variants": [_variant(s) for s in evaluation.variants],
            "version_diffs": [d.to_dict() for d in evaluation.versions],
            "gates": [g.to_dict() for g in evaluation.gates],
            "gates_passed": not evaluation.breached,
            "baseline": evaluation.baseline.to_dict() if evaluation.baseline else None,
        }
    )
    if created_at is None:
        created_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "pytest-llmops", "version": __version__},
        "created_at": created_at,
        "prices_as_of": PRICES_AS_OF,
        "summary": summary,
        "cases": [case_to_json(r) for r in evaluation.results],
    }
    if prompt_diffs is not None:  # --llmops-diff REF: what changed in the prompts, and its effect
        report["prompt_diffs"] = dict(prompt_diffs)
    return report


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report, as shipped with the package."""
    text = (Path(__file__).parent / "data" / "report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def read_baseline(path: Path) -> list[CaseResult]:
    """The cases of a report written by ``--llmops-report``; a ``pytest.UsageError`` if unusable."""
    where = f"--llmops-baseline {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise pytest.UsageError(
            f"{where}: no such file; write one on the base branch with --llmops-report"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise pytest.UsageError(f"{where}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise pytest.UsageError(f"{where}: not a pytest-llmops report (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise pytest.UsageError(
            f"{where}: schema_version {data['schema_version']!r}; this version of pytest-llmops "
            f"reads schema_version {SCHEMA_VERSION}"
        )
    try:
        return [case_from_json(case) for case in data.get("cases", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise pytest.UsageError(f"{where}: a case is malformed ({type(exc).__name__}: {exc})") from None


# -- Markdown -------------------------------------------------------------------------------------


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


def render_markdown(evaluation: Evaluation, *, prompt_diffs: Mapping[str, Any] | None = None) -> str:
    """The summary for a pull-request comment or ``$GITHUB_STEP_SUMMARY``."""
    text = _render_markdown(evaluation)
    if prompt_diffs is None:
        return text
    from .changes import render_review_markdown

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

    failing = [r for r in evaluation.results if r.outcome != "passed"]
    if failing:
        out += ["", f"**Cases that did not pass** ({len(failing)})", ""]
        for r in failing[:MARKDOWN_CASE_LIMIT]:
            out.append(f"- `{_md(r.nodeid)}` ({r.location}): {r.outcome} — {_md(_why(r))}")
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


def _why(result: CaseResult) -> str:
    if result.error:
        reason = result.error.splitlines()[0] if result.error.strip() else result.error
    else:
        failed = [f"{a.type}: {a.reason}" for a in result.assertions if not a.passed and a.weight > 0]
        if result.threshold is not None:
            failed.insert(0, f"score {_fmt(result.score, '.2f')} < {result.threshold:.2f}")
        reason = "; ".join(failed[:3]) or result.outcome
    return reason if len(reason) <= MARKDOWN_REASON_LIMIT else reason[:MARKDOWN_REASON_LIMIT] + "…"


# -- writing --------------------------------------------------------------------------------------


def write_reports(
    evaluation: Evaluation, settings: Settings, *, prompt_diffs: Mapping[str, Any] | None = None
) -> tuple[list[str], list[str]]:
    """Write the reports asked for; returns (what was written, what failed and why).

    Files are written atomically. When a Markdown report is asked for and ``GITHUB_STEP_SUMMARY``
    names a file, the Markdown is appended to it too (Actions renders it on the run's page).
    """
    written: list[str] = []
    problems: list[str] = []
    wanted = settings.report is not None or settings.html is not None
    data = build_report(evaluation, prompt_diffs=prompt_diffs) if wanted else {}
    if settings.report is not None:
        text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        _write(settings.report, text, "JSON report", written, problems)
    if settings.html is not None:
        from .html_report import render_html

        _write(settings.html, render_html(data), "HTML report", written, problems)
    if settings.markdown is not None:
        markdown = render_markdown(evaluation, prompt_diffs=prompt_diffs)
        _write(settings.markdown, markdown, "Markdown report", written, problems)
        step_summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
        if step_summary:
            try:
                with open(step_summary, "a", encoding="utf-8") as handle:
                    handle.write(markdown + "\n")
            except OSError as exc:
                problems.append(f"GITHUB_STEP_SUMMARY {step_summary}: {exc}")
            else:
                written.append("appended the Markdown summary to $GITHUB_STEP_SUMMARY")
    return written, problems


def _write(path: Path, text: str, what: str, written: list[str], problems: list[str]) -> None:
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        problems.append(f"{what} {path}: {exc}")
    else:
        written.append(f"wrote {what}: {_display(path)}")


def _display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


# -- JUnit ----------------------------------------------------------------------------------------


def junit_properties(data: Mapping[str, Any]) -> list[tuple[str, object]]:
    """Simple per-case values (``CaseResult.to_dict()`` in) that JUnit XML shows as ``<property>``."""
    usage = data.get("usage") or {}
    judge = data.get("judge_usage") or {}
    unpriced = data.get("cost_usd") is None and bool(data.get("model")) and data.get("outcome") != "error"
    values: list[tuple[str, object]] = [
        ("outcome", data.get("outcome")),
        ("prompt", data.get("prompt")),
        ("prompt_version", data.get("prompt_version")),
        ("provider", data.get("provider") or None),
        ("model", data.get("model") or None),
        ("score", data.get("score")),
        ("threshold", data.get("threshold")),
        ("tokens_input", int(usage.get("input_tokens", 0))),
        ("tokens_output", int(usage.get("output_tokens", 0))),
        ("tokens_cached", int(usage.get("cached_tokens", 0))),
        ("cost_usd", "unpriced" if unpriced else data.get("cost_usd")),
        ("latency_ms", data.get("latency_ms")),
        ("ttft_ms", data.get("ttft_ms")),
        ("replayed", "true" if data.get("replayed") else "false"),
    ]
    if any(judge.values()) or data.get("judge_cost_usd") or data.get("judge_failures"):
        values += [
            ("judge_tokens_input", int(judge.get("input_tokens", 0))),
            ("judge_tokens_output", int(judge.get("output_tokens", 0))),
            ("judge_cost_usd", data.get("judge_cost_usd")),
            ("judge_failures", int(data.get("judge_failures", 0))),
        ]
    return [(JUNIT_PREFIX + name, value) for name, value in values if value is not None]


def keep_result_out_of_junit(item: pytest.Item, report: pytest.TestReport) -> None:
    """After the call phase: simple properties for JUnit, the whole result for the controller.

    ``CaseItem.runtest`` appends ``("llmops", CaseResult.to_dict())`` to ``item.user_properties``.
    The call report keeps it: it travels to the xdist controller, where the totals are summed.
    junitxml writes the properties of the *teardown* report, which pytest copies from the item
    later; so the item keeps only the simple ``llmops_*`` values, and the XML stays readable.
    """
    from .plugin import RESULT_PROPERTY

    data = None
    for name, value in item.user_properties:
        if name == RESULT_PROPERTY and isinstance(value, dict):
            data = value
    if data is None:
        return
    simple = junit_properties(data)
    others = [
        (n, v)
        for n, v in item.user_properties
        if n != RESULT_PROPERTY and not str(n).startswith(JUNIT_PREFIX)
    ]
    item.user_properties[:] = [*others, *simple]
    report.user_properties = [*others, *simple, (RESULT_PROPERTY, data)]
