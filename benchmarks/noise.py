"""How often each gate fails a pull request that changed nothing, and how often it catches a real drop.

Synthetic results go through the plugin's own reducers and gates (``gates.evaluation.evaluate``):
a suite of CASES cases whose two prompt versions both truly pass RATE of the time, each case an
independent draw, compared as a pull request compares with its baseline. Every trial is seeded, so
the table is the same on every machine:

    python benchmarks/noise.py                 # 20 cases at 80%, 2,000 trials
    python benchmarks/noise.py --cases 100 --trials 1000

The rows: the count gates (``llmops_max_new_failures``, ``llmops_max_score_drop``), the share of
trials whose "prompt versions" line shows a change of 10 points or more, and the paired regression
gate (``llmops_regression = significant``, alpha 0.05), first with nothing changed (its false-alarm
rate), then with the new version truly worse by the drop the report says this suite can detect.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.gates.intervals import wilson_interval
from pytest_llmops.results import CaseResult, Outcome
from pytest_llmops.settings import Settings


def results(passes: list[bool], version: str) -> list[CaseResult]:
    """One result per case: passed with score 1, or failed with score 0."""
    return [
        CaseResult(
            nodeid=f"test_s.llmops.yaml::case{i}[p@{version}-openai:gpt-4o-mini]",
            suite="test_s.llmops.yaml",
            case=f"case{i}",
            outcome=Outcome.PASSED if ok else Outcome.FAILED,
            prompt="p",
            prompt_version=version,
            provider="openai:gpt-4o-mini",
            model="gpt-4o-mini",
            score=1.0 if ok else 0.0,
            cost_usd=0.001,
            latency_ms=100.0,
        )
        for i, ok in enumerate(passes)
    ]


def draw(rng: random.Random, cases: int, rate: float) -> list[bool]:
    return [rng.random() < rate for _ in range(cases)]


def failed(gates: tuple[object, ...], name: str) -> bool:
    return any(getattr(g, "name", None) == name and not getattr(g, "passed", True) for g in gates)


BASE = Path("b.json")
COUNT_GATES = (
    ("llmops_max_new_failures = 0", Settings(baseline=BASE, max_new_failures=0), "max_new_failures"),
    ("llmops_max_new_failures = 1", Settings(baseline=BASE, max_new_failures=1), "max_new_failures"),
    ("llmops_max_score_drop = 0.15", Settings(baseline=BASE, max_score_drop=0.15), "max_score_drop"),
)
SIGNIFICANT = Settings(baseline=BASE, regression="significant", regression_alpha=0.05)


def null_trials(cases: int, rate: float, trials: int, seed: int) -> dict[str, float]:
    """Both versions truly pass ``rate``: every failure of a gate is a false alarm."""
    rng = random.Random(seed)
    counts = {label: 0 for label, _, _ in COUNT_GATES}
    counts["prompt versions line: change of 10 points or more"] = 0
    counts["llmops_regression = significant"] = 0
    drops: list[float] = []
    for _ in range(trials):
        base, new = draw(rng, cases, rate), draw(rng, cases, rate)
        baseline, current = results(base, "1.0.0"), results(new, "1.0.0")
        for label, settings, name in COUNT_GATES:
            counts[label] += failed(evaluate(current, settings, baseline).gates, name)
        both = evaluate([*results(base, "1.0.0"), *results(new, "2.0.0")], Settings())
        if abs(both.versions[0].pass_rate_change) >= 0.1 - 1e-9:
            counts["prompt versions line: change of 10 points or more"] += 1
        evaluation = evaluate(current, SIGNIFICANT, baseline)
        counts["llmops_regression = significant"] += failed(evaluation.gates, "regression")
        assert evaluation.baseline is not None
        drop = evaluation.baseline.paired.pass_rate.detectable(evaluation.test_alpha)
        if drop is not None:
            drops.append(drop)
    out = {label: n / trials for label, n in counts.items()}
    out["median detectable drop"] = statistics.median(drops) if drops else float("nan")
    return out


def drop_trials(cases: int, rate: float, drop: float, trials: int, seed: int) -> float:
    """The new version truly passes ``rate - drop``: the share of trials the regression gate fails."""
    rng = random.Random(seed)
    caught = 0
    for _ in range(trials):
        baseline = results(draw(rng, cases, rate), "1.0.0")
        current = results(draw(rng, cases, max(0.0, rate - drop)), "1.0.0")
        caught += failed(evaluate(current, SIGNIFICANT, baseline).gates, "regression")
    return caught / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.8)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args()
    null = null_trials(args.cases, args.rate, args.trials, args.seed)
    drop = null.pop("median detectable drop")
    passed = round(args.cases * args.rate)
    wilson = wilson_interval(passed, args.cases)
    assert wilson is not None
    print(
        f"{args.cases} cases, both versions truly passing {args.rate:.0%}, {args.trials:,} trials "
        f"(seed {args.seed}); Wilson 95% on {passed}/{args.cases}: [{wilson.low:.0%}, {wilson.high:.0%}]"
    )
    print()
    print("| nothing changed: the gate fails | share of pull requests |")
    print("|---|--:|")
    for label, share in null.items():
        print(f"| {label} | {share:.1%} |")
    caught = drop_trials(args.cases, args.rate, drop, args.trials, args.seed + 1)
    print()
    print(
        f"The report's smallest detectable drop (median over the trials, alpha 0.05 shared by the "
        f"gate's 2 tests): {drop * 100:.0f} points. With the new version truly passing "
        f"{max(0.0, args.rate - drop):.0%}, llmops_regression = significant fails {caught:.1%} "
        "of pull requests."
    )


if __name__ == "__main__":
    main()
