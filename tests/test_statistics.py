"""The statistics against references: scipy (a test dependency only) and values computed by hand."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats

from pytest_llmops.gates.distributions import binomial_cdf, binomial_sf, normal_quantile, t_quantile
from pytest_llmops.gates.intervals import (
    bootstrap_mean_interval,
    clustered_mean_interval,
    clustered_stderr,
    mean_interval,
    wilson_interval,
)
from pytest_llmops.gates.paired import (
    _exact_power,
    _flip_rates,
    compare_pairs,
    detectable_drop,
    exact_mcnemar,
    newcombe_paired_interval,
)
from pytest_llmops.gates.stats import summarize

from .helpers import case

# -- distributions --------------------------------------------------------------------------------


@pytest.mark.parametrize("df", [1, 2, 3, 5, 9, 19, 29, 99, 999])
@pytest.mark.parametrize("p", [0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.9995])
def test_t_quantiles_match_scipy(df: int, p: float) -> None:
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)
    assert t_quantile(1 - p, df) == pytest.approx(stats.t.ppf(1 - p, df), rel=1e-9)


def test_normal_quantile_and_binomial_tails_match_scipy() -> None:
    assert normal_quantile(0.975) == pytest.approx(stats.norm.ppf(0.975), rel=1e-12)
    for n in (0, 1, 2, 7, 20, 61, 200):
        for k in range(-1, n + 2):
            assert binomial_cdf(k, n) == pytest.approx(stats.binom.cdf(k, n, 0.5), abs=1e-15)
            assert binomial_sf(k, n) == pytest.approx(stats.binom.sf(k - 1, n, 0.5), abs=1e-15)


# -- intervals ------------------------------------------------------------------------------------


def test_wilson_on_16_of_20_is_58_to_92_percent() -> None:
    interval = wilson_interval(16, 20)
    assert interval is not None
    assert (round(interval.low, 3), round(interval.high, 3)) == (0.584, 0.919)
    assert interval.method == "Wilson" and interval.confidence == 0.95


@pytest.mark.parametrize(("k", "n"), [(0, 1), (1, 1), (0, 20), (20, 20), (3, 7), (16, 20), (501, 1000)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    reference = stats.binomtest(k, n).proportion_ci(method="wilson")
    interval = wilson_interval(k, n)
    assert interval is not None
    assert (interval.low, interval.high) == (
        pytest.approx(reference.low, abs=1e-12),
        pytest.approx(reference.high, abs=1e-12),
    )
    assert wilson_interval(0, 0) is None


def test_mean_interval_is_scipys_t_interval_clipped_to_scores() -> None:
    values = [0.2, 0.9, 0.75, 0.4, 1.0, 0.6]
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    interval = mean_interval(values)
    assert interval is not None
    assert (interval.low, interval.high) == (pytest.approx(low, rel=1e-9), pytest.approx(min(1.0, high)))
    clipped = mean_interval([0.0, 1.0])  # t with 1 df is wide: the bounds stop at 0 and 1
    assert clipped is not None and (clipped.low, clipped.high) == (0.0, 1.0)
    assert mean_interval([0.5]) is None


def test_clustered_stderr_is_millers_equation_4_by_hand() -> None:
    clusters = [[1.0, 1.0, 0.0], [0.0, 0.0], [1.0], [1.0, 0.0, 1.0, 1.0]]
    values = [v for c in clusters for v in c]
    n, mean = len(values), sum(values) / len(values)
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    cross = sum(
        (a - mean) * (b - mean) for c in clusters for i, a in enumerate(c) for j, b in enumerate(c) if i != j
    )
    assert clustered_stderr(clusters) == pytest.approx(math.sqrt(variance / n + cross / n**2), rel=1e-12)
    # Independent values in clusters of one: the ordinary standard error of the mean.
    singles = [[v] for v in values]
    assert clustered_stderr(singles) == pytest.approx(stats.sem(values), rel=1e-12)


def test_repeated_runs_widen_the_interval_they_would_narrow_if_counted_as_independent() -> None:
    # Five runs per case that agree with each other: 5 x 10 runs are 10 observations, not 50.
    clusters = [[1.0] * 5 if i < 7 else [0.0] * 5 for i in range(10)]
    clustered = clustered_mean_interval(clusters)
    naive = mean_interval([v for c in clusters for v in c])
    per_case = mean_interval([sum(c) / len(c) for c in clusters])
    assert clustered is not None and naive is not None and per_case is not None
    assert clustered.high - clustered.low > 1.9 * (naive.high - naive.low)
    # With equal runs per case it is the interval of the case means (up to the n/(n-1) factor).
    assert clustered.high - clustered.low == pytest.approx(per_case.high - per_case.low, rel=0.06)


def test_a_variant_reports_its_intervals_and_runs_clustered_by_case() -> None:
    runs = tuple(
        {"run": i + 1, "outcome": "passed" if i else "failed", "score": float(i > 0)} for i in range(4)
    )
    results = [case(f"c{i}", score=0.75, runs=runs) for i in range(3)] + [case("d", "failed", score=0.0)]
    (summary,) = summarize(results).values()
    data = summary.to_dict()
    reference = stats.binomtest(3, 4).proportion_ci(method="wilson")
    assert data["pass_rate_interval"]["low"] == pytest.approx(reference.low)
    assert data["pass_rate_interval"]["method"] == "Wilson"
    assert data["mean_score_interval"]["method"] == "t over cases"
    assert data["run_pass_rate"]["cases"] == 3
    assert (data["run_pass_rate"]["runs"], data["run_pass_rate"]["passed"]) == (12, 9)
    assert data["run_pass_rate"]["interval"]["method"] == "clustered by case"


def test_paired_bootstrap_agrees_with_scipys_paired_percentile_bootstrap() -> None:
    rng = random.Random(7)
    old = [rng.random() for _ in range(30)]
    new = [min(1.0, max(0.0, o - 0.1 + rng.gauss(0, 0.2))) for o in old]
    diffs = [n - o for n, o in zip(new, old, strict=True)]
    ours = bootstrap_mean_interval(diffs, resamples=20000)
    reference = stats.bootstrap(
        (np.array(new), np.array(old)),
        lambda a, b: np.mean(a - b),
        paired=True,
        vectorized=False,
        n_resamples=20000,
        method="percentile",
        rng=np.random.default_rng(7),
    ).confidence_interval
    assert ours is not None
    # Two Monte Carlo estimates of the same percentiles: they agree to their sampling error.
    assert ours.low == pytest.approx(reference.low, abs=0.01)
    assert ours.high == pytest.approx(reference.high, abs=0.01)
    # Seeded: the same differences give the same interval, in any process.
    assert bootstrap_mean_interval(diffs) == bootstrap_mean_interval(list(diffs))


# -- paired tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("worse", "better"), [(0, 0), (5, 0), (6, 1), (3, 3), (1, 9), (12, 4), (40, 25)])
def test_exact_mcnemar_matches_scipys_binomial_test(worse: int, better: int) -> None:
    two_sided, one_sided = exact_mcnemar(worse, better)
    if worse + better == 0:
        assert (two_sided, one_sided) == (1.0, 1.0)
        return
    reference = stats.binomtest(worse, worse + better, 0.5)
    assert two_sided == pytest.approx(reference.pvalue, rel=1e-12)
    greater = stats.binomtest(worse, worse + better, 0.5, alternative="greater")
    assert one_sided == pytest.approx(greater.pvalue, rel=1e-12)


def test_newcombe_interval_by_hand_from_wilson_intervals() -> None:
    both, worse, better, neither = 11, 6, 2, 1  # n = 20: 17 passed before, 13 now
    n = 20
    old_ci = stats.binomtest(both + worse, n).proportion_ci(method="wilson")
    new_ci = stats.binomtest(both + better, n).proportion_ci(method="wilson")
    old, new = (both + worse) / n, (both + better) / n
    phi = (both * neither - worse * better) / math.sqrt(
        (both + worse) * (better + neither) * (both + better) * (worse + neither)
    )
    down = math.sqrt(
        (new - new_ci.low) ** 2
        - 2 * phi * (new - new_ci.low) * (old_ci.high - old)
        + (old_ci.high - old) ** 2
    )
    up = math.sqrt(
        (new_ci.high - new) ** 2
        - 2 * phi * (new_ci.high - new) * (old - old_ci.low)
        + (old - old_ci.low) ** 2
    )
    interval = newcombe_paired_interval(both, worse, better, neither)
    assert interval is not None
    assert interval.low == pytest.approx(new - old - down, rel=1e-9)
    assert interval.high == pytest.approx(new - old + up, rel=1e-9)
    assert interval.low < -0.2 < interval.high  # the change, -4 of 20 cases, is inside


def test_newcombe_interval_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = random.Random(11)
    p_both, p_worse, p_better = 0.6, 0.15, 0.05  # true change: -0.10
    covered, trials = 0, 4000
    for _ in range(trials):
        cells = [0, 0, 0, 0]
        for _ in range(40):
            u = rng.random()
            cells[
                0
                if u < p_both
                else 1
                if u < p_both + p_worse
                else 2
                if u < p_both + p_worse + p_better
                else 3
            ] += 1
        interval = newcombe_paired_interval(*cells)
        assert interval is not None
        covered += interval.low <= -0.10 <= interval.high
    assert 0.93 <= covered / trials <= 0.975


def test_the_detectable_drop_is_caught_at_least_80_percent_of_the_time_in_its_model() -> None:
    # The exact power, and a simulation of the model it assumes, at the drop it reports.
    for n, discordant, alpha in [(20, 6, 0.025), (50, 10, 0.05), (120, 30, 0.0125)]:
        drop = detectable_drop(n, discordant, alpha)
        assert drop is not None
        assert _exact_power(n, discordant / n, drop, alpha) >= 0.8
        assert _exact_power(n, discordant / n, drop * 0.9, alpha) < 0.8  # the smallest such drop
        worse, better = _flip_rates(discordant / n, drop)
        rng, caught, trials = random.Random(n), 0, 3000
        for _ in range(trials):
            draws = [rng.random() for _ in range(n)]
            w = sum(1 for u in draws if u < worse)
            b = sum(1 for u in draws if worse <= u < worse + better)
            caught += exact_mcnemar(w, b)[1] <= alpha
        assert caught / trials >= 0.8 - 3 * math.sqrt(0.16 / trials)
    assert detectable_drop(3, 0, 0.05) is None  # 3 cases can never show a drop at 5%


def test_pairs_count_each_case_once_and_scores_where_both_have_one() -> None:
    pairs = [
        (case("a", "failed", score=0.0), case("a", score=1.0)),
        (case("b", score=0.9), case("b", score=0.5)),
        (case("c", "error", score=None), case("c", score=1.0)),
        (case("d", "unscored", score=None), case("d", "failed", score=None)),
    ]
    paired = compare_pairs(pairs)
    rate = paired.pass_rate
    assert (rate.both, rate.worse, rate.better, rate.neither) == (1, 2, 0, 1)
    assert rate.change == pytest.approx(-0.5)
    assert paired.score is not None and paired.score.pairs == 2
    assert (paired.score.worse, paired.score.better) == (1, 1)
    assert paired.score.change == pytest.approx((-1.0 + 0.4) / 2)
    assert paired.tests == 2
