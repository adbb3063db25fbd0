"""The gates that know noise: a significant regression, and a baseline that matched too little.

``llmops_regression = significant`` tests every paired comparison of the run, one-sided: each
prompt version against the one before it (same suite, provider and case), and this run against
the baseline (``--llmops-baseline``). Each comparison runs the exact McNemar test on pass/fail and,
where both sides have scores, the exact sign test on the scores. ``llmops_regression_alpha`` (0.05)
is the false-alarm rate of the whole gate: it is shared equally among its tests (Bonferroni), so
with nothing truly worse the gate fails at most that often, however many comparisons it makes.
The smallest detectable drop of each comparison is computed at the level its tests are run.

A baseline comparison is only as good as the cases it matched. Each baseline gate (and the
regression gate's baseline comparison) needs at least ``llmops_min_baseline_match`` of this run's
cases matched in the baseline; below that it fails and says why, instead of holding while it
compares nothing. With no baseline gate set, the shortfall fails the run through a gate of its
own, ``baseline match``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..settings import Settings
from .baseline import BaselineComparison
from .gate import GateResult
from .paired import PairedComparison
from .stats import VersionDiff

__all__ = [
    "Comparison",
    "baseline_advice",
    "baseline_match_gate",
    "baseline_shortfall",
    "comparisons",
    "regression_gate",
    "test_alpha",
]

REGRESSION_LABEL = "significant regression"
MATCH_LABEL = "baseline match"


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: a prompt version against the one before it, or the baseline."""

    label: str
    paired: PairedComparison
    baseline: bool = False


def comparisons(versions: Sequence[VersionDiff], baseline: BaselineComparison | None) -> list[Comparison]:
    """Every paired comparison of the run, in report order: version diffs, then the baseline."""
    out = [
        Comparison(
            f"{d.suite}: {d.prompt} {d.older.prompt_version} → {d.newer.prompt_version} ({d.provider})",
            d.paired,
        )
        for d in versions
    ]
    if baseline is not None:
        label = f"this run against the baseline {baseline.path}"
        out.append(Comparison(label, baseline.paired, baseline=True))
    return out


def test_alpha(found: Sequence[Comparison], settings: Settings) -> float:
    """The level each of the regression gate's tests runs at: alpha shared among all of them."""
    tests = sum(c.paired.tests for c in found)
    return settings.regression_alpha / max(1, tests)


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def baseline_shortfall(baseline: BaselineComparison, settings: Settings) -> str:
    """Why the baseline matched too little to compare (empty when it matched enough)."""
    limit = settings.min_baseline_match
    if baseline.matched > 0 and baseline.matched_share >= limit - 1e-12:
        return ""
    return (
        f"only {baseline.matched} of {baseline.run_cases} case(s) matched the baseline "
        f"({_pct(baseline.matched_share)}; at least {_pct(limit)} must, llmops_min_baseline_match)"
        if baseline.matched
        else f"no case of this run matched the baseline ({baseline.run_cases} case(s) here)"
    )


def baseline_advice(baseline: BaselineComparison) -> str:
    """What to check when a baseline matched too little, with an id from each side."""
    text = (
        "Cases match by id, or by suite, case, prompt and provider. Check that the baseline was "
        "written by these suites with the same providers, from the same rootdir: an option given "
        "with a space (`--llmops-baseline PATH`) makes pytest take its value for a test path and "
        "change the rootdir and every id; write `--llmops-baseline=PATH`."
    )
    if baseline.added:
        text += f" This run has `{baseline.added[0]}`"
        text += f"; the baseline has `{baseline.removed[0]}`." if baseline.removed else "."
    return text


def baseline_match_gate(baseline: BaselineComparison, settings: Settings) -> GateResult:
    """The ``baseline match`` gate: the share of this run's cases the baseline also has."""
    share, limit = baseline.matched_share, settings.min_baseline_match
    shortfall = baseline_shortfall(baseline, settings)
    figure = f"{_pct(share)} ({baseline.matched} of {baseline.run_cases} case(s))"
    if not shortfall:
        message = f"{MATCH_LABEL} {figure} (limit: at least {_pct(limit)}, llmops_min_baseline_match)"
    else:
        message = (
            f"{MATCH_LABEL} {figure} is below the limit of {_pct(limit)} "
            f"(llmops_min_baseline_match; a baseline that matches no case always fails): "
            f"the baseline {baseline.path} compares too little to decide anything. "
            + baseline_advice(baseline)
        )
    return GateResult("min_baseline_match", MATCH_LABEL, share, limit, not shortfall, message)


@dataclass(frozen=True)
class _Test:
    comparison: Comparison
    figure: str
    test: str
    p_worse: float
    old: float
    new: float
    pairs: int


def _tests(found: Sequence[Comparison]) -> list[_Test]:
    out = []
    for c in found:
        rate = c.paired.pass_rate
        if rate.pairs:
            out.append(_Test(c, "pass rate", "exact McNemar", rate.p_worse, rate.old, rate.new, rate.pairs))
        score = c.paired.score
        if score is not None:
            out.append(_Test(c, "mean score", "sign test", score.p_worse, score.old, score.new, score.pairs))
    return out


def _shown(test: _Test) -> str:
    if test.figure == "pass rate":
        return f"{test.old:.0%} → {test.new:.0%}"
    return f"{test.old:.3f} → {test.new:.3f}"


def regression_gate(
    found: Sequence[Comparison], settings: Settings, baseline: BaselineComparison | None
) -> GateResult | None:
    """``llmops_regression = significant``: None when off, or when the run compares nothing."""
    if settings.regression != "significant" or not found:
        return None
    alpha = settings.regression_alpha
    tests = _tests(found)
    key = "llmops_regression"
    if baseline is not None and (shortfall := baseline_shortfall(baseline, settings)):
        message = f"{REGRESSION_LABEL}: cannot be shown to be absent ({shortfall}) ({key})"
        return GateResult("regression", REGRESSION_LABEL, None, alpha, False, message)
    if not tests:
        message = f"{REGRESSION_LABEL}: cannot be shown to be absent (no case ran on both sides) ({key})"
        return GateResult("regression", REGRESSION_LABEL, None, alpha, False, message)
    level = alpha / len(tests)
    split = f"alpha {alpha:g} over {len(tests)} test(s): {level:.3g} each"
    worst = min(tests, key=lambda t: t.p_worse)
    adjusted = min(1.0, worst.p_worse * len(tests))
    breaches = [t for t in tests if t.p_worse <= level]
    if not breaches:
        message = (
            f"{REGRESSION_LABEL}: none in {len(found)} comparison(s) ({split}); smallest p = "
            f"{worst.p_worse:.3g} ({worst.figure}, {worst.comparison.label}) ({key})"
        )
        return GateResult("regression", REGRESSION_LABEL, adjusted, alpha, True, message)
    parts = [
        f"{t.figure} of {t.comparison.label} is significantly lower: {_shown(t)} over {t.pairs} "
        f"paired case(s), one-sided {t.test} p = {t.p_worse:.3g} ≤ {level:.3g}"
        for t in breaches
    ]
    message = f"{REGRESSION_LABEL}: " + "; ".join(parts) + f" ({split}) ({key})"
    return GateResult("regression", REGRESSION_LABEL, adjusted, alpha, False, message)
