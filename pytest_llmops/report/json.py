"""The JSON report: building it, its schema, and reading one back as a baseline.

JSON report, ``schema_version`` 1
=================================

Written by ``--llmops-report=PATH`` (ini ``llmops_report``); read back by ``--llmops-baseline``.
The JSON Schema is shipped as ``pytest_llmops/data/report.schema.json`` (``report_schema()``).
Within schema_version 1 fields are only ever added; a reader should ignore keys it does not know.
Amounts are USD, latencies milliseconds, rates fractions from 0 to 1, scores 0 to 1. A figure that
does not exist (no score, an unpriced model's cost) is ``null``, never 0::

    schema_version   1
    generator        {name: "pytest-llmops", version}
    created_at       UTC time, ISO 8601
    prices_as_of     date of the built-in price table
    price_sources    [{model, source}]: which source (and version) priced each model, e.g.
                     "genai-prices 0.2.3 (anthropic:claude-haiku-4-5)", "llmops_prices prices.yaml",
                     "local model (price 0)"; a model no source priced is in unpriced_models
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
                        cost_usd, p95_latency_ms, run_cases, matched_share, paired}
      reruns           attempts pytest ran again (--reruns), spent apart: {attempts, cases,
                        tokens, judge_tokens, cost_usd {app, judge, total}, unpriced_attempts}
      pairwise         [`pairwise:` suites: suite, prompt, provider, from_version, to_version,
                        cases, wins, ties, losses, unscored, position_flips, win_rate, interval,
                        p_value]
      judge_agreement  (runs with judge checks only) [one per judge type × judge: type, judge,
                        checks, scored, agreed, agreement, kappa, confusion {both_pass,
                        judge_pass_person_fail, judge_fail_person_pass, both_fail}, unscored,
                        errors, disagreements [id]]
    cases            one per case (item), sorted by id:
      id, suite, case, location ("path:line"), variant, prompt, prompt_version, provider,
      model, answered_by, outcome ("passed" | "failed" | "error" | "unscored"), score,
      threshold, assertions [{type, passed, score, reason, weight, metric, line, unscored,
      raw (a judge's reply)}],
      tokens {input, output, cached[, cache_write]}, cost_usd, unpriced, price_source,
      judge_tokens, judge_cost_usd, judge_failures, latency_ms, ttft_ms, replayed, retries, tags,
      output, transformed_output (what the assertions saw after a `transform:`, else null),
      messages [{role, content, parts (content parts as sent, when a message has them)}],
      runs [{outcome, score, error}], error
    reruns           [{attempt, case}]: the earlier attempts themselves, sorted by id
    run              {tests_exit_status (pytest's, from the cases alone, before the gates),
                      merged_from (the shard reports `python -m pytest_llmops merge` combined)}
    judge_checks     (runs with judge checks only) one per judge check, sorted by id: id, suite,
      name, location, type, judge, human_verdict ("pass" | "fail"), judge_verdict ("pass" |
      "fail" | "unscored" | "error"), agreed (null without a verdict), score, reason, note,
      replayed, judge_tokens, judge_cost_usd

    statistics: cases, passed, failed, errors, unscored, pass_rate, error_rate, mean_score,
      metrics {name: mean score}, tokens {input, output, cached, total}, judge_tokens (same),
      cost_usd {app, judge, total, live}, unpriced_cases, unpriced_models, latency_ms
      {p50, p95, max}, ttft_ms {p50, p95}, judge_failures, judge_failure_rate, replayed,
      pass_rate_interval, mean_score_interval ({low, high, confidence, method} or null),
      run_pass_rate (repeated cases: {cases, runs, passed, rate, interval}, or null)

    paired (each version diff, and the baseline): {pairs, alpha, power, pass_rate, mean_score},
      each figure {pairs, from, to, change, interval, worse, better, test, p_value (two-sided),
      p_worse (one-sided: the new side is worse), detectable_drop}; mean_score is null when no
      pair has two scores

``pass_rate`` is passed / cases: failed, errored and unscored cases are not passes. ``cost_usd``
sums the priced cases; ``unpriced_cases`` counts those whose cost is unknown. ``live`` is the
application cost of the calls this run made live (not replayed).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from .. import __version__
from ..engine.pricing import PRICES_AS_OF
from ..errors import ReportError
from ..gates.evaluation import Evaluation
from ..gates.stats import VariantSummary
from ..results import CaseResult
from ..review.model import Review

__all__ = [
    "SCHEMA_VERSION",
    "build_report",
    "case_dicts",
    "encode_report",
    "load_report",
    "price_sources",
    "read_baseline",
    "read_cases",
    "read_reruns",
    "report_schema",
]

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


def _add_decisions(report: dict[str, Any], evaluation: Evaluation, run: Mapping[str, Any] | None) -> None:
    """Paired comparisons, reruns and the run's own facts (``gates.paired``, ``gates.reruns``)."""
    summary = report["summary"]
    alpha = evaluation.test_alpha
    for entry, diff in zip(summary["version_diffs"], evaluation.versions, strict=True):
        entry["paired"] = diff.paired.to_dict(alpha)
    if evaluation.baseline is not None:
        summary["baseline"]["paired"] = evaluation.baseline.paired.to_dict(alpha)
    summary["reruns"] = evaluation.rerun_summary.to_dict()
    summary["pairwise"] = [c.to_dict() for c in evaluation.pairwise]
    attempts: dict[str, int] = {}
    report["reruns"] = []
    for attempt in evaluation.reruns:
        attempts[attempt.nodeid] = attempts.get(attempt.nodeid, 0) + 1
        report["reruns"].append({"attempt": attempts[attempt.nodeid], "case": attempt.to_dict()})
    report["run"] = {
        "tests_exit_status": (run or {}).get("tests_exit_status"),
        "merged_from": list((run or {}).get("merged_from", ())),
    }


def build_report(
    evaluation: Evaluation,
    *,
    created_at: str | None = None,
    prompt_diffs: Review | None = None,
    run: Mapping[str, Any] | None = None,
    head_only: bool = False,
) -> dict[str, Any]:
    """The JSON report as a dict (see the module docstring).

    ``run``: ``tests_exit_status`` and ``merged_from`` of the ``run`` block (both optional).
    ``head_only``: ``cases`` is None, in its place, for a writer that makes each case's dict as
    it writes it (``case_dicts``, ``encode_report``): 100,000 cases' dicts are never held at once.
    """
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
        "price_sources": price_sources(evaluation.results),
        "summary": summary,
        "cases": None if head_only else [r.to_dict() for r in evaluation.results],
    }
    _add_decisions(report, evaluation, run)
    if evaluation.judge_checks:  # judge_checks: in a suite: the judges checked against people
        summary["judge_agreement"] = [g.to_dict() for g in evaluation.judge_agreement]
        report["judge_checks"] = [r.to_dict() for r in evaluation.judge_checks]
    if prompt_diffs is not None:  # --llmops-diff=REF: what changed in the prompts, and its effect
        report["prompt_diffs"] = prompt_diffs.to_dict()
    return report


def case_dicts(evaluation: Evaluation) -> Iterator[dict[str, Any]]:
    """The report's ``cases``, one dict at a time."""
    return (r.to_dict() for r in evaluation.results)


def encode_report(
    report: Mapping[str, Any], cases: Iterable[Mapping[str, Any]] | None = None
) -> Iterator[str]:
    """The JSON file's text in pieces: exactly ``json.dumps(report, indent=2, ensure_ascii=False)``
    and a newline, with ``cases`` (default ``report["cases"]``) encoded one at a time.

    With ``indent``, json builds the text from millions of small pieces, which ``json.dumps``
    keeps in a list before joining them (about 16 KB per case): here only one case's are alive.
    """
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, allow_nan=False)
    # The head is encoded with a marker in the cases' place, then split there: a fresh random
    # marker, at the cases' own indentation, cannot be any other string of the report.
    marker = "llmops-cases-" + os.urandom(16).hex()
    head = encoder.encode({**report, "cases": marker})
    before, found, after = head.partition(f'\n  "cases": "{marker}"')
    if not found:  # pragma: no cover - the marker is placed above
        raise AssertionError("the cases' marker is missing from the encoded report")
    yield before + '\n  "cases": '
    empty = True
    for case in report["cases"] if cases is None else cases:
        # A case at level 2: its lines shift by four spaces (JSON strings hold no raw newline).
        yield ("[\n    " if empty else ",\n    ") + encoder.encode(case).replace("\n", "\n    ")
        empty = False
    yield ("[]" if empty else "\n  ]") + after + "\n"


def price_sources(results: list[CaseResult] | tuple[CaseResult, ...]) -> list[dict[str, str]]:
    """Each model a case was priced for, with the source that priced it, sorted."""
    seen = {(r.model, r.price_source) for r in results if r.model and r.price_source}
    return [{"model": model, "source": source} for model, source in sorted(seen)]


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
        # NaN and Infinity are not JSON; a hand-edited file may hold them: ``read_cases`` refuses
        # them where a case holds a figure, naming the field.
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"{where}: no such file; {hint}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{where}: cannot be read as JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, 100,000-deep nesting
        raise ReportError(f"{where}: cannot be read as JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data or not isinstance(data.get("cases"), list):
        raise ReportError(f"{where}: not a pytest-llmops report (no schema_version or cases)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ReportError(
            f"{where}: schema_version {data['schema_version']!r}; this version of pytest-llmops "
            f"reads schema_version {SCHEMA_VERSION}"
        )
    return data


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: The figures of a case entry: each is None or a finite number (never a bool, a text or NaN).
_FIGURES = ("score", "threshold", "cost_usd", "latency_ms", "ttft_ms", "judge_cost_usd")


#: The texts of a case entry: each is None or a string (a list there broke the gates).
_TEXTS = (
    "id",
    "suite",
    "case",
    "location",
    "variant",
    "prompt",
    "prompt_version",
    "provider",
    "model",
    "answered_by",
    "output",
    "error",
    "reduce",
    "price_source",
)


def _finite(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int past float's range (a 400-digit number)
        return False


def _figures_problem(entry: Any) -> str | None:
    """What is wrong with the figures of one case entry, or None."""
    if not isinstance(entry, Mapping):
        return f"a case is {type(entry).__name__}, not an object"
    for name in _FIGURES:
        value = entry.get(name)
        if value is not None and not _finite(value):
            return f"`{name}` is {_short(repr(value), 40)}; expected a finite number or null"
    for field in _TEXTS:
        value = entry.get(field)
        if value is not None and not isinstance(value, str):
            return f"`{field}` is {_short(repr(value), 40)}; expected text"
    for field in ("assertions", "runs", "tags", "messages"):
        if not isinstance(entry.get(field) or [], list):
            return f"`{field}` is {_short(repr(entry[field]), 40)}; expected a list"
    if not all(isinstance(tag, str) for tag in entry.get("tags") or ()):
        return f"`tags` is {_short(repr(entry['tags']), 40)}; expected a list of texts"
    for field in ("tokens", "judge_tokens"):
        usage = entry.get(field) or {}
        if not isinstance(usage, Mapping):
            return f"`{field}` is {_short(repr(usage), 40)}; expected an object of token counts"
        for name, value in usage.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 10**15:
                return f"`{field}.{name}` is {_short(repr(value), 40)}; expected a whole number >= 0"
    for position, item in enumerate(entry.get("assertions") or ()):
        if not isinstance(item, Mapping):
            return f"`assertions[{position}]` is {_short(repr(item), 40)}; expected an object"
        for name, value in (("score", item.get("score")), ("weight", item.get("weight", 1.0))):
            if not _finite(value):
                shown = _short(repr(value), 40)
                return f"`assertions[{position}].{name}` is {shown}; expected a finite number"
    return None


def read_cases(entries: Any, where: str, what: str = "case") -> list[CaseResult]:
    """Case entries of a report read back: figures checked, a ``ReportError`` naming the entry."""
    if not isinstance(entries, list):
        raise ReportError(f"{where}: `{what}s` must be a list")
    cases = []
    for index, entry in enumerate(entries):
        problem = _figures_problem(entry)
        name = entry.get("id") or entry.get("case") if isinstance(entry, Mapping) else None
        label = f"{what} {index + 1}" + (f" ({_short(str(name), 80)})" if name else "")
        if problem is not None:
            raise ReportError(f"{where}: {label}: {problem}")
        try:
            cases.append(CaseResult.from_dict(entry))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ReportError(f"{where}: {label} is malformed ({type(exc).__name__}: {exc})") from None
    return cases


def read_reruns(data: Mapping[str, Any], where: str) -> list[CaseResult]:
    """The earlier attempts a report keeps (``reruns``; none in reports of older versions)."""
    try:
        entries = [entry["case"] for entry in data.get("reruns") or ()]
    except (KeyError, TypeError) as exc:
        raise ReportError(f"{where}: a rerun attempt is malformed ({type(exc).__name__}: {exc})") from None
    return read_cases(entries, where, "rerun attempt")


def read_baseline(path: Path) -> list[CaseResult]:
    """The cases of a report written by ``--llmops-report``; a ``ReportError`` if unusable."""
    where = f"--llmops-baseline {path}"
    data = load_report(path, where=where, hint="write one on the base branch with --llmops-report")
    return read_cases(data["cases"], where)
