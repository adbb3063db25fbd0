"""Run-level gates, the live-spending budget, and the comparison with a baseline report.

Every setting is an ini key ``llmops_*`` with a ``--llmops-*`` option; the command line wins over
the ini file (see ``load_settings``). Gates act once, on the controller, after every test report
has arrived -- the way pytest-cov's ``--cov-fail-under`` does. A breach is printed in red with the
figure and the limit, and the session's exit status becomes ``pytest.ExitCode.TESTS_FAILED`` (1)
even when every case passed. An exit status that is already non-zero (failures, interruption) is
kept.

Gate (ini key)                 measured over                                        breached when
``llmops_max_cost``            application + judge cost of the run, USD             above
``llmops_min_pass_rate``       passed / all cases (failed, error, unscored count)   below
``llmops_min_score``           mean case score                                      below
``llmops_max_p95_latency_ms``  p95 latency of the cases that got an answer, ms      above
``llmops_max_error_rate``      cases with outcome ``error`` / all cases             above
``llmops_max_new_failures``    cases that passed in the baseline and fail now       above
``llmops_max_score_drop``      the largest fall of one case's score                 above
``llmops_max_cost_increase``   cost of the cases in both runs, % change             above
``llmops_max_p95_increase``    p95 latency of the cases in both runs, % change      above

The last four need ``--llmops-baseline``; without one they are skipped.

A cost gate cannot be held while a case's cost is unknown (a model without a price): it fails and
names the models to add to ``llmops_prices``. Nothing unpriced is ever counted as free.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from .reporting import (
    VariantSummary,
    VersionDiff,
    format_usd,
    percentile,
    signed,
    summarize,
    total,
    version_diffs,
)
from .results import CaseResult

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "BaselineComparison",
    "Evaluation",
    "GateResult",
    "Settings",
    "add_options",
    "compare_with_baseline",
    "evaluate",
    "load_settings",
    "worker_budget",
]

Kind = Literal["path", "usd", "rate", "score", "ms", "percent", "count"]

#: What each kind of value looks like, for the help text and for usage errors.
FORMS: dict[Kind, str] = {
    "path": "a file path",
    "usd": "an amount in USD, e.g. 5 or 0.50",
    "rate": "a fraction from 0 to 1 or a percentage, e.g. 0.95 or 95%",
    "score": "a score from 0 to 1, e.g. 0.8",
    "ms": "milliseconds, e.g. 2000",
    "percent": "a percentage, e.g. 20 or 20%",
    "count": "a whole number, e.g. 0",
}


@dataclass(frozen=True)
class _Setting:
    name: str  # the ini key; the option is the same name with dashes
    kind: Kind
    help: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def metavar(self) -> str:
        return {"path": "PATH", "usd": "USD", "rate": "RATE", "score": "SCORE", "ms": "MS"}.get(
            self.kind, "PCT" if self.kind == "percent" else "N"
        )


SETTINGS: tuple[_Setting, ...] = (
    _Setting("llmops_report", "path", "Write the JSON report (schema_version 1) to PATH."),
    _Setting(
        "llmops_markdown",
        "path",
        "Write the summary as Markdown to PATH; it is also appended to $GITHUB_STEP_SUMMARY when set.",
    ),
    _Setting(
        "llmops_html",
        "path",
        "Write a self-contained HTML report to PATH (cases × variants, diffs, charts; no network).",
    ),
    _Setting("llmops_baseline", "path", "Compare with a JSON report from the base branch."),
    _Setting(
        "llmops_budget",
        "usd",
        "USD that live model calls may spend; once spent, the cases left fail with "
        "'budget exhausted' and replays keep running.",
    ),
    _Setting("llmops_max_cost", "usd", "Gate: the run's cost (application + judge), USD, at most this."),
    _Setting(
        "llmops_min_pass_rate", "rate", "Gate: share of cases that passed, at least this (0.95 or 95%)."
    ),
    _Setting("llmops_min_score", "score", "Gate: mean score of the cases, at least this (0 to 1)."),
    _Setting("llmops_max_p95_latency_ms", "ms", "Gate: p95 latency, milliseconds, at most this."),
    _Setting(
        "llmops_max_error_rate", "rate", "Gate: share of cases that errored, at most this (0.05 or 5%)."
    ),
    _Setting(
        "llmops_max_new_failures",
        "count",
        "Baseline gate: cases that passed in the baseline and fail now, at most this many (0: none).",
    ),
    _Setting(
        "llmops_max_score_drop",
        "score",
        "Baseline gate: how far one case's score may fall below its baseline score (e.g. 0.1).",
    ),
    _Setting(
        "llmops_max_cost_increase",
        "percent",
        "Baseline gate: cost of the cases in both runs may rise by at most this percentage.",
    ),
    _Setting(
        "llmops_max_p95_increase",
        "percent",
        "Baseline gate: p95 latency of the cases in both runs may rise by at most this percentage.",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    """Options and ini keys of reports, gates and the budget (called from ``pytest_addoption``)."""
    group = parser.getgroup("llmops")
    for setting in SETTINGS:
        group.addoption(
            setting.option,
            dest=setting.name,
            default=None,
            metavar=setting.metavar,
            # argparse formats help with %, so a literal "95%" must be written "95%%".
            help=f"{setting.help} Overrides the ini key {setting.name}.".replace("%", "%%"),
        )
        parser.addini(setting.name, f"{setting.help} ({FORMS[setting.kind]})", default="")


@dataclass(frozen=True)
class Settings:
    """The parsed values of ``SETTINGS``; None means not set."""

    report: Path | None = None
    markdown: Path | None = None
    html: Path | None = None
    baseline: Path | None = None
    budget: float | None = None
    max_cost: float | None = None
    min_pass_rate: float | None = None
    min_score: float | None = None
    max_p95_latency_ms: float | None = None
    max_error_rate: float | None = None
    max_new_failures: int | None = None
    max_score_drop: float | None = None
    max_cost_increase: float | None = None
    max_p95_increase: float | None = None


def load_settings(config: pytest.Config) -> Settings:
    """Read every setting. Precedence: the ``--llmops-*`` option, then the ``llmops_*`` ini key.

    A value that does not parse is a ``pytest.UsageError`` naming where it came from and the
    form it must take.
    """
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = config.getoption(setting.name)
        if raw is not None:
            source = f"{setting.option}={raw}"
            base = config.invocation_params.dir
        else:
            raw = str(config.getini(setting.name)).strip()
            if not raw:
                continue
            source = f"ini {setting.name} = {raw}"
            base = config.inipath.parent if config.inipath else config.rootpath
        values[setting.name.removeprefix("llmops_")] = _parse(setting, str(raw).strip(), source, base)
    return Settings(**values)


def _parse(setting: _Setting, raw: str, source: str, base: Path) -> Any:
    def bad(why: str = "") -> pytest.UsageError:
        return pytest.UsageError(f"{source}: expected {FORMS[setting.kind]}{why}")

    if setting.kind == "path":
        if not raw:
            raise bad()
        path = Path(raw).expanduser()
        return path if path.is_absolute() else base / path
    text = raw
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    if setting.kind == "usd":
        text = text.removeprefix("$")
    elif setting.kind == "ms" and text.endswith("ms"):
        text = text[:-2].strip()
    if percent and setting.kind not in ("rate", "percent"):
        raise bad()
    try:
        value = float(text)
    except ValueError:
        raise bad() from None
    if not math.isfinite(value) or value < 0:
        raise bad(" (not negative)")
    if setting.kind == "rate":
        if percent:
            value /= 100.0
        if value > 1:
            raise bad(f" (got {raw}: write {raw}% for a percentage)")
    elif setting.kind == "score" and value > 1:
        raise bad(" (at most 1)")
    elif setting.kind == "count":
        if value != int(value):
            raise bad()
        return int(value)
    return value


def worker_budget(config: pytest.Config, settings: Settings) -> float | None:
    """The budget one process may spend.

    Each pytest-xdist worker counts its own live spending, so the budget is split evenly: the
    whole run never spends more than the budget plus the one call per process that crosses its
    share, at the price of a worker stopping while another still has budget left.
    """
    if settings.budget is None:
        return None
    workerinput: Mapping[str, Any] | None = getattr(config, "workerinput", None)
    count = int(workerinput.get("workercount", 1)) if workerinput else 1
    return settings.budget / max(count, 1)


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict."""

    name: str  # the setting without the prefix: "max_cost"
    label: str  # "max cost"
    value: float | None
    limit: float
    passed: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            # JSON has no infinity: a rise from 0 is "no figure", and the message says why.
            "value": None if self.value is not None and math.isinf(self.value) else self.value,
            "limit": self.limit,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True)
class CaseChange:
    """A case whose outcome changed against the baseline."""

    id: str
    baseline_id: str
    baseline_outcome: str
    outcome: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "baseline_id": self.baseline_id,
            "baseline_outcome": self.baseline_outcome,
            "outcome": self.outcome,
        }


@dataclass(frozen=True)
class ScoreDrop:
    id: str
    baseline_id: str
    baseline_score: float
    score: float

    @property
    def drop(self) -> float:
        return self.baseline_score - self.score

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "baseline_id": self.baseline_id,
            "baseline_score": self.baseline_score,
            "score": self.score,
            "drop": self.drop,
        }


@dataclass(frozen=True)
class Change:
    """A figure in the baseline and now."""

    baseline: float | None
    current: float | None

    @property
    def change(self) -> float | None:
        return None if self.baseline is None or self.current is None else self.current - self.baseline

    @property
    def change_pct(self) -> float | None:
        """Relative change in percent; None when undefined (a figure is missing or the baseline is 0)."""
        if self.baseline is None or self.current is None or self.baseline == 0:
            return None
        return (self.current - self.baseline) / self.baseline * 100.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "current": self.current,
            "change": self.change,
            "change_pct": self.change_pct,
        }


@dataclass(frozen=True)
class BaselineComparison:
    """This run against a report of the base branch, case by case."""

    path: str
    matched: int
    added: tuple[str, ...]
    removed: tuple[str, ...]
    new_failures: tuple[CaseChange, ...]
    fixed: tuple[CaseChange, ...]
    #: Cases whose score fell by more than ``llmops_max_score_drop`` (any fall, when it is unset).
    score_drops: tuple[ScoreDrop, ...]
    score_drop_limit: float
    #: The largest fall of one case's score (0 when none fell).
    largest_score_drop: float
    mean_score: Change
    #: Application + judge cost of the matched cases priced in both runs.
    cost_usd: Change
    p95_latency_ms: Change

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "matched": self.matched,
            "added": list(self.added),
            "removed": list(self.removed),
            "new_failures": [c.to_dict() for c in self.new_failures],
            "fixed": [c.to_dict() for c in self.fixed],
            "score_drops": [d.to_dict() for d in self.score_drops],
            "score_drop_limit": self.score_drop_limit,
            "largest_score_drop": self.largest_score_drop,
            "mean_score": self.mean_score.to_dict(),
            "cost_usd": self.cost_usd.to_dict(),
            "p95_latency_ms": self.p95_latency_ms.to_dict(),
        }

    def describe(self, limit: int = 10) -> list[str]:
        """Terminal lines: what changed, at most ``limit`` cases per list."""
        lines = [
            f"baseline {self.path}: {self.matched} case(s) compared, {len(self.added)} new, "
            f"{len(self.removed)} no longer run"
        ]

        def listed(title: str, items: Sequence[str]) -> None:
            if not items:
                return
            lines.append(f"  {title}: {len(items)}")
            lines.extend(f"    {item}" for item in items[:limit])
            if len(items) > limit:
                lines.append(f"    … and {len(items) - limit} more (see the JSON report)")

        listed(
            "newly failing",
            [f"{c.id} ({c.baseline_outcome} → {c.outcome})" for c in self.new_failures],
        )
        listed("fixed", [f"{c.id} ({c.baseline_outcome} → {c.outcome})" for c in self.fixed])
        listed(
            f"score drops beyond {self.score_drop_limit:g}",
            [f"{d.id}: {d.baseline_score:.2f} → {d.score:.2f} (-{d.drop:.2f})" for d in self.score_drops],
        )
        lines.append(f"  mean score: {_change_text(self.mean_score, '.2f', relative=False)}")
        lines.append(f"  cost: {_change_text(self.cost_usd, None)}")
        lines.append(f"  p95 latency: {_change_text(self.p95_latency_ms, '.0f', ' ms')}")
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


def _match_key(result: CaseResult) -> tuple[str, str, str | None, str]:
    return (result.suite, result.case, result.prompt, result.provider)


def _match(
    current: Sequence[CaseResult], baseline: Sequence[CaseResult]
) -> tuple[list[tuple[CaseResult, CaseResult]], list[CaseResult], list[CaseResult]]:
    """Pairs (current, baseline), then current cases without a pair, then baseline ones.

    Cases match by id. A pull request that bumps a prompt's version changes the ids
    (``case[support@2.1.0-...]`` → ``case[support@2.2.0-...]``), so the cases left over then
    match by suite, case, prompt name and provider, when exactly one case on each side has them.
    """
    by_id = {r.nodeid: r for r in baseline}
    pairs: list[tuple[CaseResult, CaseResult]] = []
    left: list[CaseResult] = []
    for result in current:
        base = by_id.pop(result.nodeid, None)
        if base is None:
            left.append(result)
        else:
            pairs.append((result, base))
    current_by_key: dict[tuple[str, str, str | None, str], list[CaseResult]] = {}
    for result in left:
        current_by_key.setdefault(_match_key(result), []).append(result)
    baseline_by_key: dict[tuple[str, str, str | None, str], list[CaseResult]] = {}
    for base in by_id.values():
        baseline_by_key.setdefault(_match_key(base), []).append(base)
    added: list[CaseResult] = []
    for key, results in current_by_key.items():
        bases = baseline_by_key.get(key, [])
        if len(results) == 1 and len(bases) == 1:
            pairs.append((results[0], bases[0]))
            del baseline_by_key[key]
        else:
            added.extend(results)
    removed = [b for bases in baseline_by_key.values() for b in bases]
    pairs.sort(key=lambda p: p[0].nodeid)
    added.sort(key=lambda r: r.nodeid)
    removed.sort(key=lambda r: r.nodeid)
    return pairs, added, removed


_FAILING = ("failed", "error")


def _total_cost(result: CaseResult) -> float | None:
    if result.cost_usd is None and result.model and result.outcome != "error":
        return None
    if result.judge_cost_usd is None and result.judge_usage.total_tokens:
        return None
    return (result.cost_usd or 0.0) + (result.judge_cost_usd or 0.0)


def compare_with_baseline(
    current: Sequence[CaseResult],
    baseline: Sequence[CaseResult],
    *,
    path: str,
    max_score_drop: float | None = None,
) -> BaselineComparison:
    """Compare case by case; figures are computed over the cases present in both runs."""
    pairs, added, removed = _match(current, baseline)
    drop_limit = max_score_drop if max_score_drop is not None else 0.0
    new_failures = tuple(
        CaseChange(cur.nodeid, base.nodeid, base.outcome, cur.outcome)
        for cur, base in pairs
        if base.outcome == "passed" and cur.outcome in _FAILING
    )
    fixed = tuple(
        CaseChange(cur.nodeid, base.nodeid, base.outcome, cur.outcome)
        for cur, base in pairs
        if base.outcome in _FAILING and cur.outcome == "passed"
    )
    all_drops = [
        ScoreDrop(cur.nodeid, base.nodeid, base.score, cur.score)
        for cur, base in pairs
        if cur.score is not None and base.score is not None
    ]
    drops = sorted((d for d in all_drops if d.drop > drop_limit + 1e-9), key=lambda d: (-d.drop, d.id))
    scored = [(c.score, b.score) for c, b in pairs if c.score is not None and b.score is not None]
    costs = [
        (c, b)
        for c, b in ((_total_cost(c), _total_cost(b)) for c, b in pairs)
        if c is not None and b is not None
    ]
    latencies = [
        (c.latency_ms, b.latency_ms)
        for c, b in pairs
        if c.outcome != "error"
        and b.outcome != "error"
        and c.latency_ms is not None
        and b.latency_ms is not None
    ]
    return BaselineComparison(
        path=path,
        matched=len(pairs),
        added=tuple(r.nodeid for r in added),
        removed=tuple(r.nodeid for r in removed),
        new_failures=new_failures,
        fixed=fixed,
        score_drops=tuple(drops),
        score_drop_limit=drop_limit,
        largest_score_drop=max([0.0, *(d.drop for d in all_drops)]),
        mean_score=Change(_mean([b for _, b in scored]), _mean([c for c, _ in scored])),
        cost_usd=Change(
            math.fsum(b for _, b in costs) if costs else None,
            math.fsum(c for c, _ in costs) if costs else None,
        ),
        p95_latency_ms=Change(
            percentile([b for _, b in latencies], 95), percentile([c for c, _ in latencies], 95)
        ),
    )


def _display(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


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
    "max_new_failures": "new failures",
    "max_score_drop": "score drop",
    "max_cost_increase": "cost increase",
    "max_p95_increase": "p95 latency increase",
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
    unknown = [r for r in results if _total_cost(r) is None]
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
        if settings.max_new_failures is not None:
            out.append(
                _gate(
                    "max_new_failures",
                    float(len(baseline.new_failures)),
                    settings.max_new_failures,
                    lambda v: f"{v:.0f}",
                    at_most=True,
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
                )
            )
    return out


def evaluate(
    results: Iterable[CaseResult],
    settings: Settings,
    baseline: Sequence[CaseResult] | None = None,
) -> Evaluation:
    """Totals, version differences, the baseline comparison and every gate set."""
    ordered = tuple(sorted(results, key=lambda r: r.nodeid))
    summary = total(ordered)
    comparison = None
    if baseline is not None:
        comparison = compare_with_baseline(
            ordered,
            baseline,
            path=_display(settings.baseline) if settings.baseline else "baseline",
            max_score_drop=settings.max_score_drop,
        )
    return Evaluation(
        results=ordered,
        total=summary,
        variants=tuple(summarize(ordered).values()),
        versions=tuple(version_diffs(ordered)),
        gates=tuple(_gates(summary, ordered, settings, comparison)),
        baseline=comparison,
        settings=settings,
    )
