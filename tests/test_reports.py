"""JSON and Markdown reports, the terminal summary, JUnit properties, and xdist totals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.gates.stats import summarize, version_diffs
from pytest_llmops.report.json import build_report, report_schema
from pytest_llmops.report.markdown import render_markdown
from pytest_llmops.report.terminal import describe_version_diff
from pytest_llmops.results import AssertionResult, CaseResult, Message, Usage
from pytest_llmops.settings import Settings
from pytest_llmops.testing import ScriptedLLMServer
from pytest_llmops.testing.server import UsageOverride

from .helpers import (
    CASE_COST,
    USAGE,
    add_ini,
    case,
    greet_reply,
    junit_suite_case_properties,
    junit_testcase_properties,
    llmops_section,
    make_suite,
)

THREE_CASES = """
  - name: alice
    vars: {who: Alice}
    tags: [smoke]
    assert:
      - {type: icontains, value: alice}
      - {type: max-length, value: 100, weight: 0, metric: brevity}
  - name: bob
    vars: {who: Bob}
    assert:
      - {type: icontains, value: bob}
  - name: carol
    vars: {who: Carol}
    assert:
      - {type: icontains, value: nobody}
"""


@pytest.fixture
def server(llmops_server: ScriptedLLMServer) -> ScriptedLLMServer:
    llmops_server.reply(greet_reply, usage=USAGE)
    return llmops_server


def table(stdout: str) -> list[str]:
    """The summary without the lines about files written."""
    return [line for line in llmops_section(stdout) if not line.startswith(("llmops:", "- generated"))]


# -- JSON -----------------------------------------------------------------------------------------


def test_json_report_follows_the_shipped_schema(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester.path, server, THREE_CASES)
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=out/report.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["llmops: wrote JSON report: out/report.json"])
    text = (pytester.path / "out" / "report.json").read_text()
    report = json.loads(text)
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    # Streamed as it is encoded, the file is byte for byte what json.dumps writes.
    assert text == json.dumps(report, indent=2, ensure_ascii=False) + "\n"

    assert report["schema_version"] == 1
    assert report["generator"]["name"] == "pytest-llmops"
    summary = report["summary"]
    counts = [summary[k] for k in ("cases", "passed", "failed", "errors", "unscored")]
    assert counts == [3, 2, 1, 0, 0]
    assert summary["pass_rate"] == pytest.approx(2 / 3)
    assert summary["mean_score"] == pytest.approx(2 / 3)
    assert summary["metrics"] == {"brevity": 1.0}
    assert summary["tokens"] == {"input": 3000, "output": 1500, "cached": 0, "total": 4500}
    assert summary["cost_usd"]["app"] == pytest.approx(3 * CASE_COST)
    assert summary["cost_usd"]["live"] == pytest.approx(3 * CASE_COST)
    assert summary["cost_usd"]["judge"] == 0
    assert summary["unpriced_cases"] == 0
    assert summary["latency_ms"]["p50"] > 0
    assert summary["gates"] == [] and summary["gates_passed"] is True
    assert summary["baseline"] is None
    assert [v["variant"] for v in summary["variants"]] == ["greeter@1.0.0 × openai:gpt-4o-mini"]

    cases = {c["case"]: c for c in report["cases"]}
    alice = cases["alice"]
    assert alice["id"] == "test_greet.llmops.yaml::alice[greeter@1.0.0-openai:gpt-4o-mini]"
    assert alice["suite"] == "test_greet.llmops.yaml"
    assert re.fullmatch(r"test_greet\.llmops\.yaml:\d+", alice["location"])
    assert (alice["prompt"], alice["prompt_version"]) == ("greeter", "1.0.0")
    assert (alice["provider"], alice["model"]) == ("openai:gpt-4o-mini", "gpt-4o-mini")
    assert alice["outcome"] == "passed" and alice["score"] == 1.0
    assert alice["output"] == "Hello, Alice!"
    assert alice["tokens"] == {"input": 1000, "output": 500, "cached": 0}
    assert alice["cost_usd"] == pytest.approx(CASE_COST)
    assert alice["tags"] == ["smoke"]
    assert alice["replayed"] is False
    assert alice["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Say hello to Alice."},
    ]
    assert [(a["type"], a["passed"], a["metric"], a["weight"]) for a in alice["assertions"]] == [
        ("icontains", True, None, 1.0),
        ("max-length", True, "brevity", 0.0),
    ]
    carol = cases["carol"]
    assert carol["outcome"] == "failed" and carol["score"] == 0.0
    assert "nobody" in carol["assertions"][0]["reason"]


def test_no_llm_cases_no_summary_no_files(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    assert True\n")
    result = pytester.runpytest(
        "--llmops-report=report.json", "--llmops-markdown=summary.md", "--llmops-max-cost=0"
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    assert "llmops summary" not in result.stdout.str()
    assert "llmops:" not in result.stdout.str()
    assert not (pytester.path / "report.json").exists()
    assert not (pytester.path / "summary.md").exists()


# -- Markdown, versions, terminal -------------------------------------------------------------------

VERSION_CASES = """
  - name: alice
    vars: {who: Alice}
    assert:
      - {type: icontains, value: alice}
      - {type: icontains, value: welcome, weight: 0, metric: warmth}
  - name: bob
    vars: {who: Bob}
    assert:
      - {type: icontains, value: welcome}
"""


def test_versions_are_compared_in_terminal_and_markdown(
    pytester: pytest.Pytester,
    server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step_summary = pytester.path / "step_summary.md"
    step_summary.write_text("## earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    make_suite(pytester.path, server, VERSION_CASES, prompts=("greeter@1.0.0", "greeter@2.0.0"))
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-markdown=summary.md")
    result.assert_outcomes(passed=3, failed=1)
    section = llmops_section(result.stdout.str())
    assert section[0].split() == [
        "variant",
        "cases",
        "pass",
        "score",
        "errors",
        "tokens",
        "cost",
        "$",
        "p50",
        "ms",
        "p95",
        "ms",
    ]
    result.stdout.fnmatch_lines(
        [
            "greeter@1.0.0 × openai:gpt-4o-mini * 2 * 50% * 0.50 * 0 * 3000 * 0.000900 *",
            "greeter@2.0.0 × openai:gpt-4o-mini * 2 * 100% * 1.00 * 0 * 3000 * 0.000900 *",
            "total * 4 * 75% * 0.75 * 0 * 6000 * 0.001800 *",
            "metrics (mean score):",
            "  greeter@1.0.0 × openai:gpt-4o-mini: warmth 0.00",
            "  greeter@2.0.0 × openai:gpt-4o-mini: warmth 1.00",
            "prompt versions (test_greet.llmops.yaml, openai:gpt-4o-mini):",
            "  greeter 1.0.0 → 2.0.0: pass rate 50% → 100% (+50 pp), score 0.50 → 1.00 (+0.50), "
            "cost $0.000900 → $0.000900 (+0.0%), p95 * → * ms (* ms)",
            "llmops: wrote Markdown report: summary.md",
            "llmops: appended the Markdown summary to $GITHUB_STEP_SUMMARY",
        ]
    )
    markdown = (pytester.path / "summary.md").read_text()
    lines = markdown.splitlines()
    assert lines[0] == "### ⚠️ pytest-llmops: some cases did not pass"
    assert lines[2].startswith(
        "4 cases: 3 passed, 1 failed, 0 errors · pass rate 75.0% · mean score 0.750 · cost $0.001800 · p95 "
    )
    assert lines[4] == (
        "| variant | cases | pass rate | mean score | errors | tokens | cost | p50 ms | p95 ms |"
    )
    assert "| `greeter@1.0.0 × openai:gpt-4o-mini` | 2 | 50% | 0.50 | 0 | 3,000 | $0.000900 |" in markdown
    assert "| **total** | 4 | 75% | 0.75 | 0 | 6,000 | $0.001800 |" in markdown
    assert "**Metrics** (mean score)" in markdown
    assert "| `greeter@2.0.0 × openai:gpt-4o-mini` | 1.00 |" in markdown
    assert "**Prompt versions**" in markdown
    assert (
        "| test_greet.llmops.yaml | greeter | openai:gpt-4o-mini | 1.0.0 → 2.0.0 | 50% → 100% (+50 pp) "
        "| 0.50 → 1.00 (+0.50) | $0.000900 → $0.000900 (+0.0%) |"
    ) in markdown
    assert "**Cases that did not pass** (1)" in markdown
    assert (
        "- `test_greet.llmops.yaml::bob[greeter@1.0.0-openai:gpt-4o-mini]` (test_greet.llmops.yaml:11): "
        "failed — icontains: expected output to contain 'welcome' (ignoring case); output: 'Hello, Bob!'"
    ) in markdown
    # Appended to the step summary, after what earlier steps wrote.
    assert step_summary.read_text() == "## earlier step\n" + markdown + "\n"


def test_step_summary_is_left_alone_without_a_markdown_report(
    pytester: pytest.Pytester,
    server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    step_summary = pytester.path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    make_suite(pytester.path, server, THREE_CASES)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2, failed=1)
    assert not step_summary.exists()


def test_markdown_of_a_failed_gate(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester.path, server, THREE_CASES.split("  - name: carol")[0])
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-markdown=summary.md", "--llmops-max-cost=0.0005"
    )
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    markdown = (pytester.path / "summary.md").read_text()
    assert markdown.startswith("### ❌ pytest-llmops: 1 gate(s) failed\n")
    assert "| ❌ | cost | cost $0.000900 is above the limit of $0.000500 (llmops_max_cost) |" in markdown


# -- JUnit ----------------------------------------------------------------------------------------


def test_junit_gets_simple_properties_not_the_result_dict(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    # xunit1 puts them on each <testcase>; the default (xunit2) on the suite: test_junit_schema.py.
    add_ini(pytester, "junit_family = xunit1")
    make_suite(pytester.path, server, THREE_CASES)
    result = pytester.runpytest("--llmops-record-mode=once", "--junitxml=junit.xml", "--llmops-report=r.json")
    result.assert_outcomes(passed=2, failed=1)
    props = junit_testcase_properties(pytester.path / "junit.xml")
    alice = props["alice[greeter@1.0.0-openai:gpt-4o-mini]"]
    assert alice == {
        "llmops_outcome": "passed",
        "llmops_prompt": "greeter",
        "llmops_prompt_version": "1.0.0",
        "llmops_provider": "openai:gpt-4o-mini",
        "llmops_model": "gpt-4o-mini",
        "llmops_score": "1.0",
        "llmops_tokens_input": "1000",
        "llmops_tokens_output": "500",
        "llmops_tokens_cached": "0",
        "llmops_cost_usd": alice["llmops_cost_usd"],
        "llmops_latency_ms": alice["llmops_latency_ms"],
        "llmops_replayed": "false",
    }
    assert float(alice["llmops_cost_usd"]) == pytest.approx(CASE_COST)
    assert float(alice["llmops_latency_ms"]) > 0
    assert props["carol[greeter@1.0.0-openai:gpt-4o-mini]"]["llmops_outcome"] == "failed"
    # The whole result dict stays out of the XML ...
    xml = (pytester.path / "junit.xml").read_text()
    assert 'name="llmops"' not in xml and "Say hello to" not in xml.split("<failure")[0]
    # ... and still reaches the summary and the report.
    assert json.loads((pytester.path / "r.json").read_text())["summary"]["cases"] == 3


# -- xdist ----------------------------------------------------------------------------------------

MANY_CASES = "".join(
    f"""
  - name: case{n}
    vars: {{who: P{n}}}
    assert:
      - {{type: icontains, value: p{n}}}
      - {{type: icontains, value: {"welcome" if n % 3 == 0 else "hello"}, metric: tone}}
"""
    for n in range(6)
)


def test_xdist_totals_equal_serial_totals(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(
        greet_reply, usage=UsageOverride(input_tokens=1234, output_tokens=567, cached_tokens=200)
    )
    make_suite(pytester.path, llmops_server, MANY_CASES, prompts=("greeter@1.0.0", "greeter@2.0.0"))
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=10, failed=2)
    serial = pytester.runpytest("--llmops-report=serial.json")
    parallel = pytester.runpytest("-n", "4", "--llmops-report=parallel.json", "--junitxml=junit.xml")
    serial.assert_outcomes(passed=10, failed=2)
    parallel.assert_outcomes(passed=10, failed=2)
    a = json.loads((pytester.path / "serial.json").read_text())
    b = json.loads((pytester.path / "parallel.json").read_text())
    assert a["summary"]["cases"] == 12
    assert a["summary"]["replayed"] == 12
    assert a["summary"]["version_diffs"]
    assert a["summary"] == b["summary"]
    assert a["cases"] == b["cases"]
    # The terminal summary too, up to the lines naming the files written.
    assert table(serial.stdout.str()) == table(parallel.stdout.str())
    # Per-case properties reach JUnit from the workers too: on the suite, keyed by node id (xunit2).
    props = junit_suite_case_properties(pytester.path / "junit.xml")
    assert len(props) == 12
    assert set(props) == {r["id"] for r in b["cases"]}
    assert not any(junit_testcase_properties(pytester.path / "junit.xml").values())
    assert all(
        p["llmops_tokens_input"] == "1234" and p["llmops_tokens_cached"] == "200" for p in props.values()
    )
    assert all(p["llmops_replayed"] == "true" for p in props.values())


# -- units: statistics, conversions, schema of every part -----------------------------------------


def test_statistics_keep_unscored_judge_and_unpriced_apart() -> None:
    results = [
        case("a", score=1.0, assertions=(AssertionResult("icontains", True, 1.0, "ok", metric="m"),)),
        case(
            "b", "failed", score=0.0, assertions=(AssertionResult("icontains", False, 0.0, "no", metric="m"),)
        ),
        case("c", "unscored", score=None, judge_usage=Usage(10, 5), judge_cost_usd=0.0002, judge_failures=1),
        case("d", "error", score=None, cost=None, latency=None, error="boom"),
        case("e", cost=None, model="my-model", latency=300.0),
        case("f", judge_usage=Usage(10, 5), judge_cost_usd=None, ttft_ms=20.0),
    ]
    (summary,) = summarize(results).values()
    data = summary.to_dict()
    assert [data[k] for k in ("cases", "passed", "failed", "errors", "unscored")] == [6, 3, 1, 1, 1]
    assert data["pass_rate"] == 0.5  # unscored is not a pass
    assert data["error_rate"] == pytest.approx(1 / 6)
    assert data["mean_score"] == pytest.approx(3 / 4)
    assert data["metrics"] == {"m": 0.5}
    assert data["cost_usd"]["app"] == pytest.approx(0.004)  # a, b, c, f; e is unknown, d errored
    assert data["cost_usd"]["judge"] == pytest.approx(0.0002)
    assert data["cost_usd"]["total"] == pytest.approx(0.0042)
    assert data["unpriced_cases"] == 2  # e (my-model) and f (its judge)
    assert data["unpriced_models"] == ["my-model"]
    assert data["judge_tokens"] == {"input": 20, "output": 10, "cached": 0, "total": 30}
    assert data["judge_failures"] == 1 and data["judge_failure_rate"] == pytest.approx(1 / 6)
    assert data["latency_ms"] == {"p50": 100.0, "p95": pytest.approx(260.0), "max": 300.0}
    assert data["ttft_ms"] == {"p50": 20.0, "p95": 20.0}


def test_version_diffs_order_versions_semantically() -> None:
    results = [
        case("a", version="1.10.0", score=1.0, cost=0.002, latency=200.0),
        case("a", version="1.9.0", score=0.5, cost=0.001, latency=100.0, outcome="failed"),
        case("a", version="1.2.0", score=0.5, cost=0.001, latency=100.0, outcome="failed"),
    ]
    results[1] = CaseResult.from_dict({**results[1].to_dict(), "nodeid": "x::a[p@1.9.0]"})
    diffs = version_diffs(results)
    assert [(d.older.prompt_version, d.newer.prompt_version) for d in diffs] == [
        ("1.2.0", "1.9.0"),
        ("1.9.0", "1.10.0"),
    ]
    last = diffs[1].to_dict()
    assert last["pass_rate"] == {"from": 0.0, "to": 1.0, "change": 1.0}
    assert last["cost_usd"]["change_pct"] == pytest.approx(100.0)
    assert last["p95_latency_ms"]["change"] == pytest.approx(100.0)
    assert describe_version_diff(diffs[1]).startswith(
        "p 1.9.0 → 1.10.0: pass rate 0% → 100% (+100 pp), score 0.50 → 1.00"
    )


def test_case_json_round_trips() -> None:
    original = case(
        "a",
        assertions=(
            AssertionResult("regex", True, 1.0, "matched", weight=2.0, metric="fmt", line=7),
            AssertionResult("llm-rubric", False, 0.0, "no grade", unscored=True, raw="I think so"),
        ),
        messages=(Message("user", "hi"),),
        runs=({"outcome": "passed", "score": 1.0, "error": None},),
        tags=("smoke",),
        judge_usage=Usage(3, 4, 1),
        judge_cost_usd=0.5,
        judge_failures=2,
        answered_by="openai:gpt-4o",
        retries=1,
        ttft_ms=12.5,
        replayed=True,
        output="hello",
        threshold=0.7,
        usage=Usage(10, 20, 5),
    )
    assert CaseResult.from_dict(json.loads(json.dumps(original.to_dict()))) == original


def test_every_part_of_the_report_follows_the_schema() -> None:
    current = [
        case("a", judge_usage=Usage(1, 1), judge_cost_usd=0.1, ttft_ms=5.0),
        case("b", "failed", score=0.2, version="2.0.0"),
        case("b", "unscored", score=None),
        case("c", "error", score=None, cost=None, latency=None, error="boom"),
        case("d", cost=None, model="my-model"),
    ]
    baseline = [case("b", score=0.9), case("z")]
    settings = Settings(
        baseline=Path("base.json"),
        budget=1.0,
        max_cost=0.0001,
        min_pass_rate=0.5,
        min_score=0.1,
        max_p95_latency_ms=1000,
        max_error_rate=0.5,
        max_new_failures=0,
        max_score_drop=0.1,
        max_cost_increase=10,
        max_p95_increase=10,
    )
    evaluation = evaluate(current, settings, baseline)
    report = build_report(evaluation)
    jsonschema.Draft202012Validator(report_schema()).validate(json.loads(json.dumps(report, allow_nan=False)))
    assert {g["name"] for g in report["summary"]["gates"]} == {
        "max_cost",
        "min_pass_rate",
        "min_score",
        "max_p95_latency_ms",
        "max_error_rate",
        "max_new_failures",
        "max_score_drop",
        "max_cost_increase",
        "max_p95_increase",
    }
    markdown = render_markdown(evaluation)
    assert "> unpriced: `my-model` (add it to `llmops_prices`); its cost is unknown" in markdown
    assert "> 1 case(s) unscored: the judge's reply could not be read" in markdown
    assert "| unscored |" in markdown.splitlines()[4] or "unscored" in markdown.splitlines()[4]
