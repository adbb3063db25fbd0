"""The JSON report: building it, its schema, and reading one back as a baseline.

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
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.pricing import PRICES_AS_OF
from ..errors import ReportError
from ..gates.evaluation import Evaluation
from ..gates.stats import VariantSummary
from ..results import CaseResult
from ..review.model import Review

__all__ = ["SCHEMA_VERSION", "build_report", "load_report", "read_baseline", "report_schema"]

SCHEMA_VERSION = 1


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
    prompt_diffs: Review | None = None,
) -> dict[str, Any]:
    """The JSON report as a dict (see the module docstring)."""
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
        created_at = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "pytest-llmops", "version": __version__},
        "created_at": created_at,
        "prices_as_of": PRICES_AS_OF,
        "summary": summary,
        "cases": [r.to_dict() for r in evaluation.results],
    }
    if prompt_diffs is not None:  # --llmops-diff REF: what changed in the prompts, and its effect
        report["prompt_diffs"] = prompt_diffs.to_dict()
    return report


def report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report, as shipped with the package."""
    text = (Path(__file__).parent.parent / "data" / "report.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def load_report(
    path: Path, *, where: str | None = None, hint: str = "write one with pytest --llmops-report"
) -> dict[str, Any]:
    """A JSON report read back; a ``ReportError`` naming ``where`` (default: the path) if unusable."""
    where = where or str(path)
    try:
        # NaN and Infinity are not JSON; a hand-edited file may hold them: they become "no figure".
        data = json.loads(path.read_text(encoding="utf-8"), parse_constant=lambda _: None)
    except FileNotFoundError:
        raise ReportError(f"{where}: no such file; {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{where}: cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data or not isinstance(data.get("cases"), list):
        raise ReportError(f"{where}: not a pytest-llmops report (no schema_version or cases)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ReportError(
            f"{where}: schema_version {data['schema_version']!r}; this version of pytest-llmops "
            f"reads schema_version {SCHEMA_VERSION}"
        )
    return data


def read_baseline(path: Path) -> list[CaseResult]:
    """The cases of a report written by ``--llmops-report``; a ``ReportError`` if unusable."""
    where = f"--llmops-baseline {path}"
    data = load_report(path, where=where, hint="write one on the base branch with --llmops-report")
    try:
        return [CaseResult.from_dict(case) for case in data["cases"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{where}: a case is malformed ({type(exc).__name__}: {exc})") from None
