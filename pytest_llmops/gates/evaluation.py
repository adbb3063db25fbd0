"""Run-level gates: the figures a run must meet, decided once after every case has reported.

Gate (ini key)                 measured over                                        breached when
``llmops_max_cost``            application + judge cost of the run, USD             above
``llmops_min_pass_rate``       passed / all cases (failed, error, unscored count)   below
``llmops_min_score``           mean case score                                      below
``llmops_max_p95_latency_ms``  p95 latency of the cases that got an answer, ms      above
``llmops_max_error_rate``      cases with outcome ``error`` / all cases             above
``llmops_min_judge_agreement`` each judge's agreement with people (judge checks)    below
``llmops_max_new_failures``    cases that passed in the baseline and fail now       above
``llmops_max_score_drop``      the largest fall of one case's score                 above
``llmops_max_cost_increase``   cost of the cases in both runs, % change             above
``llmops_max_p95_increase``    p95 latency of the cases in both runs, % change      above
``llmops_regression``          one-sided paired tests of each comparison, p value   at most alpha
``llmops_min_baseline_match``  share of this run's cases the baseline has           below

The baseline gates need ``--llmops-baseline``; without one they are skipped, and each fails when
the baseline matched too few cases (``gates.decisions``). The regression gate tests the paired
comparisons (prompt versions, the baseline) and is skipped when there are none. A breached gate fails the
run (exit status 1) even when every case passed; the plugin acts on the controller only, after the
last report, the way pytest-cov's ``--cov-fail-under`` does.

A cost gate cannot be held while a case's cost is unknown (a model without a price): it fails and
names the models to add to ``llmops_prices``. Nothing unpriced is ever counted as free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ..fileio import display_path
from ..results import CaseResult, JudgeCheckResult
from ..settings import Settings
from .agreement import JudgeAgreement, summarize_agreement
from .baseline import BaselineComparison, compare_with_baseline, total_cost
from .decisions import (
    Comparison,
    baseline_match_gate,
    baseline_shortfall,
    comparisons,
    regression_gate,
    test_alpha,
)
from .gate import GateResult
from .pairwise import PairwiseComparison, pairwise_comparisons, win_rate_gate
from .reruns import RerunSummary
from .stats import VariantSummary, VersionDiff, format_usd, signed, summarize, total, version_diffs

__all__ = ["Evaluation", "GateResult", "evaluate"]


@dataclass(frozen=True)
class Evaluation:
    """Everything reports show: the cases (sorted by id), their totals, gates and the baseline."""

    results: tuple[CaseResult, ...]
    total: VariantSummary
    variants: tuple[VariantSummary, ...]
    versions: tuple[VersionDiff, ...]
    gates: tuple[GateResult, ...]
    baseline: BaselineComparison | None
    settings: Settings
    #: Earlier attempts of cases pytest ran again (``--reruns``), sorted by id.
    reruns: tuple[CaseResult, ...] = ()
    #: The paired comparisons (version diffs, the baseline) and the level of each test.
    comparisons: tuple[Comparison, ...] = ()
    test_alpha: float = 0.05
    #: ``pairwise:`` suites: each version diff's win rate.
    pairwise: tuple[PairwiseComparison, ...] = ()
    #: Labelled examples run against their judges (``judge_checks:``), sorted by id.
    judge_checks: tuple[JudgeCheckResult, ...] = ()
    #: Agreement of each judge type × judge with people, over the judge checks.
    judge_agreement: tuple[JudgeAgreement, ...] = ()

    @property
    def rerun_summary(self) -> RerunSummary:
        return RerunSummary.of(self.reruns)

    @property
    def breached(self) -> list[GateResult]:
        return [g for g in self.gates if not g.passed]


#: How each gate is named in messages and reports.
LABELS = {
    "max_cost": "cost",
    "min_pass_rate": "pass rate",
    "min_score": "mean score",
    "max_p95_latency_ms": "p95 latency",
    "max_error_rate": "error rate",
    "min_judge_agreement": "judge agreement",
    "max_new_failures": "new failures",
    "max_score_drop": "score drop",
    "max_cost_increase": "cost increase",
    "max_p95_increase": "p95 latency increase",
    "min_baseline_match": "baseline match",
    "regression": "significant regression",
    "min_win_rate": "pairwise win rate",
}


def _pct_text(value: float) -> str:
    return f"{value * 100:.1f}%"


def _ms_text(value: float) -> str:
    return f"{value:.0f} ms"


def _gate(
    name: str,
    value: float | None,
    limit: float,
    show: Callable[[float], str],
    *,
    at_most: bool,
    missing: str = "",
    note: str = "",
) -> GateResult:
    """A gate's verdict and its message, which always gives the figure, the limit and the key."""
    label = LABELS[name]
    if value is None:
        # Nothing to measure: a maximum holds, a minimum cannot be shown to hold.
        passed = at_most
        figure = f"n/a ({missing})" if missing else "n/a"
    else:
        passed = value <= limit + 1e-12 if at_most else value >= limit - 1e-12
        figure = show(value)
    if note:
        passed = False
        figure += f" ({note})"
    bound = "at most" if at_most else "at least"
    key = f"llmops_{name}"
    if passed:
        message = f"{label} {figure} (limit: {bound} {show(limit)}, {key})"
    else:
        side = "above" if at_most else "below"
        if value is None or note:
            message = f"{label} {figure}: cannot be shown to be {bound} {show(limit)} ({key})"
        else:
            message = f"{label} {figure} is {side} the limit of {show(limit)} ({key})"
    return GateResult(name, label, value, limit, passed, message)


def _unpriced_note(results: Iterable[CaseResult]) -> str:
    unknown = [r for r in results if total_cost(r) is None]
    if not unknown:
        return ""
    models = sorted({r.model for r in unknown if r.unpriced}) or ["the judge model"]
    return f"cost of {len(unknown)} case(s) unknown: add {', '.join(models)} to llmops_prices"


def _gates(
    summary: VariantSummary,
    results: Sequence[CaseResult],
    settings: Settings,
    baseline: BaselineComparison | None,
) -> list[GateResult]:
    out = []
    if settings.max_cost is not None:
        out.append(
            _gate(
                "max_cost",
                summary.total_cost_usd,
                settings.max_cost,
                format_usd,
                at_most=True,
                note=_unpriced_note(results),
            )
        )
    if settings.min_pass_rate is not None:
        out.append(
            _gate("min_pass_rate", summary.pass_rate, settings.min_pass_rate, _pct_text, at_most=False)
        )
    if settings.min_score is not None:
        out.append(
            _gate(
                "min_score",
                summary.mean_score,
                settings.min_score,
                lambda v: f"{v:.3f}",
                at_most=False,
                missing="no case has a score",
            )
        )
    if settings.max_p95_latency_ms is not None:
        out.append(
            _gate(
                "max_p95_latency_ms",
                summary.p95_ms,
                settings.max_p95_latency_ms,
                _ms_text,
                at_most=True,
                missing="no case got an answer",
            )
        )
    if settings.max_error_rate is not None:
        out.append(
            _gate("max_error_rate", summary.error_rate, settings.max_error_rate, _pct_text, at_most=True)
        )
    if baseline is not None:
        # A baseline that matched too few cases cannot show that a baseline gate holds.
        short = baseline_shortfall(baseline, settings)
        before = len(out)
        if settings.max_new_failures is not None:
            out.append(
                _gate(
                    "max_new_failures",
                    float(len(baseline.new_failures)),
                    settings.max_new_failures,
                    lambda v: f"{v:.0f}",
                    at_most=True,
                    note=short,
                )
            )
        if settings.max_score_drop is not None:
            out.append(
                _gate(
                    "max_score_drop",
                    baseline.largest_score_drop,
                    settings.max_score_drop,
                    lambda v: f"{v:.3f}",
                    at_most=True,
                    note=short,
                )
            )
        for name, change, limit in (
            ("max_cost_increase", baseline.cost_usd, settings.max_cost_increase),
            ("max_p95_increase", baseline.p95_latency_ms, settings.max_p95_increase),
        ):
            if limit is None:
                continue
            pct = change.change_pct
            if pct is None and change.baseline == 0 and (change.current or 0) > 0:
                pct = math.inf  # from nothing to something: beyond any percentage
            out.append(
                _gate(
                    name,
                    pct,
                    limit,
                    lambda v: "+∞%" if math.isinf(v) else f"{signed(v, '.1f')}%",
                    at_most=True,
                    note=short,
                )
            )
        if short and len(out) == before:  # no baseline gate set: the shortfall fails on its own
            out.append(baseline_match_gate(baseline, settings))
    return out


def _agreement_gates(agreement: Sequence[JudgeAgreement], limit: float) -> list[GateResult]:
    """One gate per judge type × judge; with no judge check at all, one that cannot hold."""
    if not agreement:
        return [
            _gate("min_judge_agreement", None, limit, _pct_text, at_most=False, missing="no judge checks ran")
        ]
    out = []
    for group in agreement:
        unscored = group.unscored + group.errors
        note = f"; {unscored} of {group.checks} check(s) without a verdict" if unscored else ""
        gate = _gate(
            "min_judge_agreement",
            group.agreement,
            limit,
            _pct_text,
            at_most=False,
            missing="no judge check was scored",
        )
        label = f"judge agreement ({group.label})"
        message = gate.message.replace(
            "judge agreement ", f"{label}: {group.agreed}/{group.scored} agree, ", 1
        )
        out.append(GateResult(gate.name, label, gate.value, gate.limit, gate.passed, message + note))
    return out


def evaluate(
    results: Iterable[CaseResult],
    settings: Settings,
    baseline: Sequence[CaseResult] | None = None,
    reruns: Iterable[CaseResult] = (),
    judge_checks: Iterable[JudgeCheckResult] = (),
) -> Evaluation:
    """Totals, version differences, the baseline comparison, judge agreement and every gate set.

    ``reruns``: earlier attempts of cases that pytest ran again; they count in no figure or gate.
    """
    checks = tuple(sorted(judge_checks, key=lambda r: r.nodeid))
    agreement = tuple(summarize_agreement(checks))
    ordered = tuple(sorted(results, key=lambda r: r.nodeid))
    summary = total(ordered)
    comparison = None
    if baseline is not None:
        comparison = compare_with_baseline(
            ordered,
            baseline,
            path=display_path(settings.baseline) if settings.baseline else "baseline",
            max_score_drop=settings.max_score_drop,
        )
    versions = tuple(version_diffs(ordered))
    found = tuple(comparisons(versions, comparison))
    gates = _gates(summary, ordered, settings, comparison)
    regression = regression_gate(found, settings, comparison)
    if regression is not None:
        gates.append(regression)
    preferences = tuple(pairwise_comparisons(versions))
    win_rate = win_rate_gate(preferences, settings)
    if win_rate is not None:
        gates.append(win_rate)
    if settings.min_judge_agreement is not None:
        gates.extend(_agreement_gates(agreement, settings.min_judge_agreement))
    return Evaluation(
        results=ordered,
        total=summary,
        variants=tuple(summarize(ordered).values()),
        versions=versions,
        gates=tuple(gates),
        baseline=comparison,
        settings=settings,
        reruns=tuple(sorted(reruns, key=lambda r: r.nodeid)),
        comparisons=found,
        test_alpha=test_alpha(found, settings),
        pairwise=preferences,
        judge_checks=checks,
        judge_agreement=agreement,
    )
