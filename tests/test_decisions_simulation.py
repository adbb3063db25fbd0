"""The worked example of the docs: a regression gate that knows noise, shown by simulation.

20 cases, both prompt versions truly passing 80% of the time, each case an independent draw (the
worst case for count gates: benchmarks/noise.py shows `llmops_max_new_failures = 0` failing 97% of
such pull requests). The results go through the plugin's own `evaluate`, as in a run with
`--llmops-baseline`. Every trial is seeded: the outcome never depends on the machine.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from pytest_llmops.gates.distributions import binomial_sf
from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.gates.paired import exact_mcnemar
from pytest_llmops.results import CaseResult, Outcome
from pytest_llmops.settings import Settings

CASES, RATE, TRIALS, ALPHA = 20, 0.8, 2000, 0.05
SETTINGS = Settings(baseline=Path("base.json"), regression="significant", regression_alpha=ALPHA)


def results(passes: list[bool]) -> list[CaseResult]:
    return [
        CaseResult(
            nodeid=f"test_s.llmops.yaml::case{i}[p@1.0.0-openai:gpt-4o-mini]",
            suite="test_s.llmops.yaml",
            case=f"case{i}",
            outcome=Outcome.PASSED if ok else Outcome.FAILED,
            prompt="p",
            prompt_version="1.0.0",
            provider="openai:gpt-4o-mini",
            model="gpt-4o-mini",
            score=1.0 if ok else 0.0,
        )
        for i, ok in enumerate(passes)
    ]


def draw(rng: random.Random, rate: float) -> list[bool]:
    return [rng.random() < rate for _ in range(CASES)]


def regression_failed(current: list[bool], baseline: list[bool]) -> tuple[bool, float | None]:
    """Whether the gate failed, and the drop the report says the suite can detect."""
    evaluation = evaluate(results(current), SETTINGS, results(baseline))
    (gate,) = [g for g in evaluation.gates if g.name == "regression"]
    assert evaluation.baseline is not None
    return not gate.passed, evaluation.baseline.paired.pass_rate.detectable(evaluation.test_alpha)


def sampling_error(rate: float, trials: int) -> float:
    return 3 * math.sqrt(rate * (1 - rate) / trials)


def test_false_alarms_at_most_alpha_and_a_drop_of_the_reported_size_is_caught() -> None:
    rng = random.Random(16)
    alarms = 0
    drops = []
    for _ in range(TRIALS):
        failed, drop = regression_failed(draw(rng, RATE), draw(rng, RATE))
        alarms += failed
        if drop is not None:
            drops.append(drop)
    assert alarms / TRIALS <= ALPHA + sampling_error(ALPHA, TRIALS)
    assert len(drops) == TRIALS  # 20 cases can detect some drop in every trial ...
    drops.sort()
    reported = drops[len(drops) // 2]
    assert 0.45 < reported < 0.65  # ... but only a large one: 20 cases are too few for small drops

    # The new version truly worse by the reported drop: the gate catches it at least 80% of the time.
    caught = sum(regression_failed(draw(rng, RATE - reported), draw(rng, RATE))[0] for _ in range(TRIALS))
    assert caught / TRIALS >= 0.8 - sampling_error(0.8, TRIALS)


def test_the_gates_test_is_exact_for_every_true_pass_rate() -> None:
    # With binary scores the sign test and McNemar see the same pairs: the gate rejects when the
    # one-sided p is at most alpha / 2. Its exact false-alarm rate, summed over every (worse,
    # better) count of 20 independent pairs, stays at most alpha whatever the true pass rate.
    level = ALPHA / 2
    for rate in [r / 20 for r in range(1, 20)]:
        flip = rate * (1 - rate)  # each way, per pair
        alarm = 0.0
        for worse in range(CASES + 1):
            for better in range(CASES + 1 - worse):
                if exact_mcnemar(worse, better)[1] > level:
                    continue
                ways = math.comb(CASES, worse) * math.comb(CASES - worse, better)
                alarm += ways * flip ** (worse + better) * (1 - 2 * flip) ** (CASES - worse - better)
        assert alarm <= ALPHA, rate
    assert binomial_sf(6, 6) <= level < binomial_sf(5, 5)  # 6 of 6 discordant pairs are needed
