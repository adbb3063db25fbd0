"""Gates (held and breached), precedence and usage errors, the budget, and the baseline comparison."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_llmops.gates.baseline import compare_with_baseline
from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.plugin.session import worker_budget
from pytest_llmops.results import CaseResult
from pytest_llmops.settings import Settings
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import CASE_COST, USAGE, add_ini, case, greet_reply, llmops_section, make_suite

# alice and bob pass (score 1), carol passes at her threshold with score 0.5; dave fails and
# erin errors, both marked xfail. Every pytest outcome is a pass or an xfail, so pytest alone
# exits 0: pass rate 3/5, error rate 1/5, mean score (1 + 1 + 0.5 + 0) / 4, cost 4 calls.
GATE_CASES = """
  - name: alice
    vars: {who: Alice}
    assert:
      - {type: icontains, value: alice}
  - name: bob
    vars: {who: Bob}
    assert:
      - {type: icontains, value: bob}
  - name: carol
    vars: {who: Carol}
    threshold: 0.5
    assert:
      - {type: icontains, value: carol}
      - {type: icontains, value: zzz}
  - name: dave
    vars: {who: Dave}
    xfail: known to fail
    assert:
      - {type: icontains, value: nobody}
  - name: erin
    vars: {who: Erin}
    xfail: the upstream is broken for erin
    assert:
      - {type: icontains, value: erin}
"""


@pytest.fixture
def recorded(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> pytest.Pytester:
    """The gate suite, recorded once; later runs replay (erin has no recording: an error)."""
    llmops_server.fail(400, match="Erin")  # not retried: fast
    llmops_server.reply(greet_reply, usage=USAGE, delay=0.01)
    make_suite(pytester.path, llmops_server, GATE_CASES)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=3, xfailed=2)
    assert result.ret == pytest.ExitCode.OK
    return pytester


GATES = [
    # option, held, breached, breach message
    ("max-cost", "1", "0.001", "cost $0.001800 is above the limit of $0.001000 (llmops_max_cost)"),
    ("min-pass-rate", "60%", "0.9", "pass rate 60.0% is below the limit of 90.0% (llmops_min_pass_rate)"),
    ("min-score", "0.6", "0.9", "mean score 0.625 is below the limit of 0.900 (llmops_min_score)"),
    (
        "max-p95-latency-ms",
        "60000",
        "1",
        "p95 latency * ms is above the limit of 1 ms (llmops_max_p95_latency_ms)",
    ),
    ("max-error-rate", "0.2", "10%", "error rate 20.0% is above the limit of 10.0% (llmops_max_error_rate)"),
]


@pytest.mark.parametrize(("option", "held", "breached", "message"), GATES, ids=[g[0] for g in GATES])
def test_gate_held_and_breached(
    recorded: pytest.Pytester, option: str, held: str, breached: str, message: str
) -> None:
    result = recorded.runpytest(f"--llmops-{option}={held}")
    result.assert_outcomes(passed=3, xfailed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"gate held: *(limit: at * llmops_{option.replace('-', '_')})"])
    assert "gate FAILED" not in result.stdout.str()

    result = recorded.runpytest(f"--llmops-{option}={breached}")
    result.assert_outcomes(passed=3, xfailed=2)  # every case as expected ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... and still the run fails
    result.stdout.fnmatch_lines(
        [
            f"gate FAILED: {message}",
            "llmops: 1 gate(s) failed (*): the run fails (exit status 1)",
        ]
    )


def test_every_gate_at_once_from_the_ini_file(recorded: pytest.Pytester) -> None:
    add_ini(
        recorded,
        "llmops_max_cost = $0.01",
        "llmops_min_pass_rate = 0.5",
        "llmops_min_score = 0.5",
        "llmops_max_p95_latency_ms = 60000ms",
        "llmops_max_error_rate = 25%",
    )
    result = recorded.runpytest()
    assert result.ret == pytest.ExitCode.OK
    assert sum(line.startswith("gate held: ") for line in llmops_section(result.stdout.str())) == 5


def test_command_line_overrides_ini(recorded: pytest.Pytester) -> None:
    add_ini(recorded, "llmops_min_score = 0.99", "llmops_max_cost = 0.0001")
    result = recorded.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate FAILED: mean score 0.625 is below the limit of 0.990*"])
    result = recorded.runpytest("--llmops-min-score=0.5", "--llmops-max-cost=1")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "gate held: cost $0.001800 (limit: at most $1.00, llmops_max_cost)",
            "gate held: mean score 0.625 (limit: at least 0.500, llmops_min_score)",
        ]
    )


def test_gate_results_reach_the_json_report(recorded: pytest.Pytester) -> None:
    result = recorded.runpytest("--llmops-min-pass-rate=0.9", "--llmops-max-cost=1", "--llmops-report=r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    summary = json.loads((recorded.path / "r.json").read_text())["summary"]
    assert summary["gates_passed"] is False
    assert [(g["name"], g["passed"], g["limit"]) for g in summary["gates"]] == [
        ("max_cost", True, 1.0),
        ("min_pass_rate", False, 0.9),
    ]
    assert summary["gates"][1]["value"] == pytest.approx(0.6)
    assert (summary["passed"], summary["failed"], summary["errors"]) == (3, 1, 1)


def test_failing_cases_keep_their_exit_status(recorded: pytest.Pytester) -> None:
    # A gate never turns an interrupted or failing run into something else.
    result = recorded.runpytest("--runxfail", "--llmops-min-score=0.99")
    result.assert_outcomes(passed=3, failed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate FAILED: mean score*"])


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ["--llmops-min-pass-rate=1.5"],
            None,
            "--llmops-min-pass-rate=1.5: expected a fraction from 0 to 1 or a percentage, e.g. 0.95 or 95% "
            "(got 1.5: write 1.5% for a percentage)",
        ),
        (
            ["--llmops-max-cost=cheap"],
            None,
            "--llmops-max-cost=cheap: expected an amount in USD, e.g. 5 or 0.50",
        ),
        (
            ["--llmops-budget=-1"],
            None,
            "--llmops-budget=-1: expected an amount in USD, e.g. 5 or 0.50 (not negative)",
        ),
        (
            ["--llmops-min-score=2"],
            None,
            "--llmops-min-score=2: expected a score from 0 to 1, e.g. 0.8 (at most 1)",
        ),
        (
            ["--llmops-max-new-failures=1.5"],
            None,
            "--llmops-max-new-failures=1.5: expected a whole number, e.g. 0",
        ),
        (
            [],
            "llmops_max_p95_latency_ms = fast",
            "ini llmops_max_p95_latency_ms = fast: expected milliseconds, e.g. 2000",
        ),
        (
            [],
            "llmops_max_cost_increase = lots",
            "ini llmops_max_cost_increase = lots: expected a percentage, e.g. 20 or 20%",
        ),
    ],
)
def test_bad_values_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], ini: str | None, message: str
) -> None:
    if ini:
        add_ini(pytester, ini)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_missing_or_foreign_baseline_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llmops-baseline=nowhere.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: --llmops-baseline */nowhere.json: no such file; write one on the base branch with --llmops-report"
        ]
    )
    (pytester.path / "other.json").write_text('{"schema_version": 99, "cases": []}')
    result = pytester.runpytest("--llmops-baseline=other.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*schema_version 99; this version of pytest-llmops reads schema_version 1"])


# -- budget ---------------------------------------------------------------------------------------

BUDGET_CASES = "".join(
    f"""
  - name: {name}
    vars: {{who: {name.title()}}}
    assert:
      - {{type: icontains, value: {name}}}
"""
    for name in ("alice", "bob", "carol", "dave", "erin")
)


def test_budget_stops_live_calls_and_replays_keep_running(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)  # every call costs $0.00045
    make_suite(pytester.path, llmops_server, BUDGET_CASES.split("  - name: carol")[0])
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    assert len(llmops_server.requests) == 2

    make_suite(pytester.path, llmops_server, BUDGET_CASES)
    # The default concurrency stays on: with a budget, live calls go out one at a time.
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-budget=0.0004", "--llmops-report=r.json"
    )
    # alice and bob replay; one new case is called live and spends the budget; the other two are
    # not called (which one goes first is up to the concurrent prefetcher).
    assert len(llmops_server.requests) == 3
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*budget exhausted: * --llmops-budget is spent on live calls; no further live call is made*",
            "budget: $0.000450 of $0.000400 spent on live calls; 2 case(s) stopped: budget exhausted",
        ]
    )
    cases = {c["case"]: c for c in json.loads((pytester.path / "r.json").read_text())["cases"]}
    assert cases["alice"]["replayed"] and cases["bob"]["replayed"]
    new = [cases[n] for n in ("carol", "dave", "erin")]
    assert sorted((c["outcome"], c["replayed"]) for c in new) == [
        ("error", False),
        ("error", False),
        ("passed", False),
    ]
    assert all(c["error"].startswith("budget exhausted") for c in new if c["outcome"] == "error")

    # The next run has a fresh budget: the recorded case replays, one more is called live.
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-budget=0.0004")
    assert len(llmops_server.requests) == 4
    result.assert_outcomes(passed=4, failed=1)

    # A budget of 0 makes no live call at all; every recorded case still replays.
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-budget=0")
    assert len(llmops_server.requests) == 4
    result.assert_outcomes(passed=4, failed=1)


def test_budget_is_split_between_xdist_workers() -> None:
    assert worker_budget(SimpleNamespace(), 1.0) == 1.0  # type: ignore[arg-type]
    worker = SimpleNamespace(workerinput={"workerid": "gw0", "workercount": 4})
    assert worker_budget(worker, 1.0) == 0.25  # type: ignore[arg-type]
    assert worker_budget(worker, Settings().budget) is None  # type: ignore[arg-type]


# -- baseline -------------------------------------------------------------------------------------

THREE = BUDGET_CASES.split("  - name: dave")[0]


def rewrite_baseline(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    for c in data["cases"]:
        change(c)
    path.write_text(json.dumps(data))


def test_baseline_cost_and_latency_increases_are_listed_and_gate(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, THREE)
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=base.json").assert_outcomes(passed=3)

    # The base branch was cheaper and faster.
    def cheaper_and_faster(c: dict[str, Any]) -> None:
        c["cost_usd"] /= 2
        c["latency_ms"] = 0.01

    rewrite_baseline(pytester.path / "base.json", cheaper_and_faster)
    args = ["--llmops-baseline=base.json", "--llmops-report=r.json"]
    result = pytester.runpytest(*args, "--llmops-max-cost-increase=150", "--llmops-max-p95-increase=1e9")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "baseline base.json: 3 case(s) compared, 0 new, 0 no longer run",
            "  mean score: 1.00 → 1.00 (+0.00)",
            "  cost: $0.000675 → $0.001350 (+100.0%)",
            "  p95 latency: 0 ms → * ms (+*%)",
            "gate held: cost increase +100.0% (limit: at most +150.0%, llmops_max_cost_increase)",
            "gate held: p95 latency increase +*% (limit: at most +1000000000.0%, llmops_max_p95_increase)",
        ]
    )

    result = pytester.runpytest(*args, "--llmops-max-cost-increase=20%", "--llmops-max-p95-increase=50")
    result.assert_outcomes(passed=3)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: cost increase +100.0% is above the limit of +20.0% (llmops_max_cost_increase)",
            "gate FAILED: p95 latency increase +*% is above the limit of +50.0% (llmops_max_p95_increase)",
        ]
    )
    baseline = json.loads((pytester.path / "r.json").read_text())["summary"]["baseline"]
    assert baseline["matched"] == 3
    assert baseline["cost_usd"]["change_pct"] == pytest.approx(100.0)
    assert baseline["cost_usd"]["current"] == pytest.approx(3 * CASE_COST)


def test_baseline_new_failures_and_score_drops_are_listed_and_gate(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, THREE)
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=base.json").assert_outcomes(passed=3)

    # The pull request: bob's check gets stricter (and fails); carol gets a softer score.
    suite = pytester.path / "test_greet.llmops.yaml"
    text = suite.read_text()
    text = text.replace("{type: icontains, value: bob}", "{type: icontains, value: bobby}")
    text = text.replace(
        "{type: icontains, value: carol}",
        "{type: icontains, value: carol}\n      - {type: icontains, value: zzz}\n    threshold: 0.5",
    )
    suite.write_text(text)
    result = pytester.runpytest(
        "--llmops-baseline=base.json", "--llmops-max-new-failures=0", "--llmops-max-score-drop=0.25"
    )
    result.assert_outcomes(passed=2, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "baseline base.json: 3 case(s) compared, 0 new, 0 no longer run",
            "  newly failing: 1",
            "    test_greet.llmops.yaml::bob[greeter@1.0.0-openai:gpt-4o-mini] (passed → failed)",
            "  score drops beyond 0.25: 2",
            "    test_greet.llmops.yaml::bob[greeter@1.0.0-openai:gpt-4o-mini]: 1.00 → 0.00 (-1.00)",
            "    test_greet.llmops.yaml::carol[greeter@1.0.0-openai:gpt-4o-mini]: 1.00 → 0.50 (-0.50)",
            "  mean score: 1.00 → 0.50 (-0.50)",
            "gate FAILED: new failures 1 is above the limit of 0 (llmops_max_new_failures)",
            "gate FAILED: score drop 1.000 is above the limit of 0.250 (llmops_max_score_drop)",
        ]
    )
    # Within the limits, the same comparison holds.
    result = pytester.runpytest(
        "--llmops-baseline=base.json", "--llmops-max-new-failures=1", "--llmops-max-score-drop=1"
    )
    result.stdout.fnmatch_lines(
        [
            "gate held: new failures 1 (limit: at most 1, llmops_max_new_failures)",
            "gate held: score drop 1.000 (limit: at most 1.000, llmops_max_score_drop)",
        ]
    )


def test_a_bumped_prompt_version_is_compared_with_the_old_one() -> None:
    baseline = [
        case("a", version="1.0.0", score=0.9),
        case("b", version="1.0.0"),
        case("gone", version="1.0.0"),
    ]
    current = [
        case("a", version="1.1.0", score=0.5, outcome="failed"),
        case("b", version="1.1.0", cost=0.003),
        case("new", version="1.1.0"),
    ]
    comparison = compare_with_baseline(current, baseline, path="base.json", max_score_drop=0.1)
    assert comparison.matched == 2
    assert comparison.added == ("test_s.llmops.yaml::new[p@1.1.0-openai:gpt-4o-mini]",)
    assert comparison.removed == ("test_s.llmops.yaml::gone[p@1.0.0-openai:gpt-4o-mini]",)
    (failure,) = comparison.new_failures
    assert (failure.id, failure.baseline_id) == (
        "test_s.llmops.yaml::a[p@1.1.0-openai:gpt-4o-mini]",
        "test_s.llmops.yaml::a[p@1.0.0-openai:gpt-4o-mini]",
    )
    assert [d.drop for d in comparison.score_drops] == [pytest.approx(0.4)]
    assert comparison.cost_usd.change_pct == pytest.approx(100.0)


def test_two_versions_in_both_runs_match_by_id_only() -> None:
    both = [case("a", version="1.0.0"), case("a", version="2.0.0")]
    current = [*both, case("a", version="3.0.0")]
    comparison = compare_with_baseline(current, both, path="b")
    assert comparison.matched == 2
    assert comparison.added == ("test_s.llmops.yaml::a[p@3.0.0-openai:gpt-4o-mini]",)


def test_gates_that_cannot_be_measured() -> None:
    errored = [case("a", "error", score=None, cost=None, latency=None, error="boom")]
    evaluation = evaluate(errored, Settings(min_score=0.5, max_p95_latency_ms=100))
    score, latency = evaluation.gates
    assert not score.passed
    assert score.message == (
        "mean score n/a (no case has a score): cannot be shown to be at least 0.500 (llmops_min_score)"
    )
    assert latency.passed  # nothing answered slowly; the error rate is the gate for that


def test_unpriced_cases_fail_a_cost_gate() -> None:
    results = [case("a"), case("b", cost=None, model="my-model")]
    (gate,) = evaluate(results, Settings(max_cost=10)).gates
    assert not gate.passed
    assert gate.message == (
        "cost $0.001000 (cost of 1 case(s) unknown: add my-model to llmops_prices): "
        "cannot be shown to be at most $10.00 (llmops_max_cost)"
    )


def test_cost_increase_from_zero_breaches() -> None:
    baseline = [case("a", cost=0.0)]
    current = [case("a", cost=0.001)]
    (gate,) = evaluate(current, Settings(baseline=Path("b.json"), max_cost_increase=10), baseline).gates
    assert not gate.passed
    assert gate.to_dict()["value"] is None
    assert "+∞%" in gate.message


def test_results_from_dicts_compare_like_objects() -> None:
    # The controller rebuilds results from report dicts: the comparison must not care.
    original = case("a")
    assert CaseResult.from_dict(original.to_dict()) == original
