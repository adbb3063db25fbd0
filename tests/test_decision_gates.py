"""Gates that know noise, end to end: the regression gate, no vacuous baseline, no space-form option."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.report.json import build_report, report_schema
from pytest_llmops.settings import SETTINGS, Settings
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import USAGE, add_ini, case, greet_reply, llmops_section, make_suite

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")

# Version 2.0.0 greets warmly ("Welcome."): a suite that forbids it fails every 2.0.0 case.
COLD = "".join(
    f"""
  - name: {name}
    vars: {{who: {name.title()}}}
    assert:
      - {{type: icontains, value: {name}}}
      - {{type: not-icontains, value: welcome}}
"""
    for name in NAMES
)


@pytest.fixture
def server(llmops_server: ScriptedLLMServer) -> ScriptedLLMServer:
    llmops_server.reply(greet_reply, usage=USAGE)
    return llmops_server


# -- llmops_regression = significant --------------------------------------------------------------


def test_a_new_version_worse_on_every_case_fails_the_regression_gate(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester.path, server, COLD, prompts=("greeter@1.0.0", "greeter@2.0.0"))
    add_ini(pytester, "llmops_regression = significant")
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-report=r.json", "--llmops-markdown=r.md"
    )
    result.assert_outcomes(passed=8, failed=8)
    section = llmops_section(result.stdout.str())
    # (Lines with [brackets] are compared whole: fnmatch reads brackets as patterns.)
    expected = [
        "95% intervals (pass rate: Wilson; mean score: t; the case is the unit):",
        "  greeter@1.0.0 × openai:gpt-4o-mini: pass rate 100% [68%, 100%], mean score 1.00 [1.00, 1.00] (8 cases)",
        "  greeter@2.0.0 × openai:gpt-4o-mini: pass rate 0% [0%, 32%], mean score 0.50 [0.50, 0.50] (8 cases)",
        "    paired over 8 case(s): pass rate -100 pp [-100, -54], McNemar p=0.008 (8 worse, 0 better); "
        "mean score -0.50 [-0.50, -0.50], sign test p=0.008; smallest drop detectable: 80 pp, score 0.40 "
        "(80% power, one-sided at 0.025)",
    ]
    assert [line for line in section if line in expected] == expected, section
    result.stdout.fnmatch_lines(
        [
            "  greeter 1.0.0 → 2.0.0: pass rate 100% → 0% (-100 pp)*",
            "gate FAILED: significant regression: pass rate of test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 "
            "(openai:gpt-4o-mini) is significantly lower: 100% → 0% over 8 paired case(s), one-sided exact "
            "McNemar p = 0.00391 ≤ 0.025; mean score of * is significantly lower: 1.000 → 0.500 over 8 paired "
            "case(s), one-sided sign test p = 0.00391 ≤ 0.025 (alpha 0.05 over 2 test(s): 0.025 each) "
            "(llmops_regression)",
        ]
    )
    report = json.loads((pytester.path / "r.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    paired = report["summary"]["version_diffs"][0]["paired"]
    assert paired["alpha"] == 0.025 and paired["pairs"] == 8
    assert paired["pass_rate"]["worse"] == 8 and paired["pass_rate"]["p_worse"] == pytest.approx(1 / 256)
    assert paired["mean_score"]["test"] == "exact sign test"
    (gate,) = report["summary"]["gates"]
    assert (gate["name"], gate["passed"], gate["limit"]) == ("regression", False, 0.05)
    markdown = (pytester.path / "r.md").read_text()
    assert "| `greeter@2.0.0 × openai:gpt-4o-mini` | 8 | 0% [0%, 32%] | 0.50 [0.50, 0.50] |" in markdown
    assert (
        "| test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 (openai:gpt-4o-mini) | 8 | -100 pp [-100, -54] | 0.008 "
        "| -0.50 [-0.50, -0.50] | 0.008 | 80 pp, 0.40 |"
    ) in markdown


def test_the_same_answers_under_a_new_version_hold_the_regression_gate(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    cases = COLD.replace("{type: not-icontains, value: welcome}", "{type: icontains, value: hello}")
    make_suite(pytester.path, server, cases, prompts=("greeter@1.0.0", "greeter@2.0.0"))
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-regression=significant")
    result.assert_outcomes(passed=16)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "gate held: significant regression: none in 1 comparison(s) (alpha 0.05 over 2 test(s): 0.025 "
            "each); smallest p = 1 (pass rate, test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 "
            "(openai:gpt-4o-mini)) (llmops_regression)"
        ]
    )


def test_alpha_is_shared_among_every_test_of_the_gate() -> None:
    baseline = [case(f"c{i}") for i in range(10)]
    current = [case(f"c{i}", "failed" if i < 5 else "passed", score=0.0 if i < 5 else 1.0) for i in range(10)]
    current += [case(f"c{i}", version="2.0.0") for i in range(10)]
    settings = Settings(baseline=Path("b.json"), regression="significant", regression_alpha=0.1)
    evaluation = evaluate(current, settings, baseline)
    # 1.0.0 → 2.0.0 in this run (pass rate, score) and this run against the baseline (the same).
    assert len(evaluation.comparisons) == 2
    assert evaluation.test_alpha == pytest.approx(0.1 / 4)
    (gate,) = [g for g in evaluation.gates if g.name == "regression"]
    # 5 of 10 newly failing: one-sided p = 1/32 = 0.031 > 0.025, so not significant at this size.
    assert gate.passed
    assert gate.value == pytest.approx(4 / 32)
    assert evaluate(current, Settings(baseline=Path("b.json")), baseline).gates == ()  # off by default


# -- no vacuous baseline --------------------------------------------------------------------------


def renamed(path: Path, old: str, new: str) -> None:
    data = json.loads(path.read_text())
    for c in data["cases"]:
        c["id"] = c["id"].replace(old, new)
        c["suite"] = c["suite"].replace(old, new)
    path.write_text(json.dumps(data))


def test_a_baseline_that_matches_no_case_fails_and_says_what_to_check(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester.path, server, COLD.split("  - name: carol")[0])
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=base.json").assert_outcomes(passed=2)
    # Written from another rootdir: every id differs.
    renamed(pytester.path / "base.json", "test_greet.llmops.yaml", "suites/test_greet.llmops.yaml")

    result = pytester.runpytest("--llmops-baseline=base.json", "--llmops-max-new-failures=0")
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: new failures 0 (no case of this run matched the baseline (2 case(s) here)): "
            "cannot be shown to be at most 0 (llmops_max_new_failures)",
        ]
    )
    # No baseline gate set: the comparison itself fails, with what to check.
    result = pytester.runpytest("--llmops-baseline=base.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "gate FAILED: baseline match 0.0% (0 of 2 case(s)) is below the limit of 50.0% "
            "(llmops_min_baseline_match; a baseline that matches no case always fails): the baseline "
            "base.json compares too little to decide anything. Cases match by id, or by suite, case, "
            "prompt and provider. Check that the baseline was written by these suites with the same "
            "providers, from the same rootdir: an option given with a space (`--llmops-baseline PATH`) "
            "makes pytest take its value for a test path and change the rootdir and every id; write "
            "`--llmops-baseline=PATH`. This run has `test_greet.llmops.yaml::alice*`; the baseline has "
            "`suites/test_greet.llmops.yaml::alice*`.",
        ]
    )
    # The regression gate cannot hold on nothing either.
    result = pytester.runpytest("--llmops-baseline=base.json", "--llmops-regression=significant")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["gate FAILED: significant regression: cannot be shown to be absent (no case of this run matched*"]
    )


def test_a_baseline_matching_too_small_a_share_fails_below_the_stated_share() -> None:
    baseline = [case("a"), case("b")]
    current = [case(n) for n in "abcde"]  # 2 of 5 matched: 40%
    settings = Settings(baseline=Path("b.json"), max_new_failures=0)
    (gate,) = evaluate(current, settings, baseline).gates
    assert not gate.passed
    assert (
        "only 2 of 5 case(s) matched the baseline (40.0%; at least 50.0% must, llmops_min_baseline_match)"
        in (gate.message)
    )
    lowered = Settings(baseline=Path("b.json"), max_new_failures=0, min_baseline_match=0.4)
    (gate,) = evaluate(current, lowered, baseline).gates
    assert gate.passed
    report = build_report(evaluate(current, lowered, baseline))
    assert report["summary"]["baseline"]["matched_share"] == pytest.approx(0.4)
    assert report["summary"]["baseline"]["run_cases"] == 5
    jsonschema.Draft202012Validator(report_schema()).validate(report)


# -- an option value given with a space -----------------------------------------------------------

VALUE_OPTIONS = [s.flag for s in SETTINGS if s.option and s.kind != "flag"]


@pytest.mark.parametrize("flag", VALUE_OPTIONS)
def test_every_option_given_with_a_space_is_a_usage_error(pytester: pytest.Pytester, flag: str) -> None:
    result = pytester.runpytest(flag, "value")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {flag} value (the command line): write {flag}=value, with `=`.*"])


def test_a_baseline_outside_the_project_given_with_a_space_stops_before_anything_runs(
    pytester: pytest.Pytester,
    server: ScriptedLLMServer,
    fake_keys: object,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    make_suite(pytester.path, server, COLD.split("  - name: carol")[0])
    add_ini(pytester, "llmops_max_new_failures = 0")
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=base.json").assert_outcomes(passed=2)
    outside = tmp_path_factory.mktemp("elsewhere") / "base.json"
    outside.write_text((pytester.path / "base.json").read_text())
    result = pytester.runpytest("--llmops-baseline", str(outside))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            f"ERROR: --llmops-baseline {outside} (the command line): write --llmops-baseline={outside}, with "
            "`=`. pytest chooses its rootdir and reads its ini file before plugins add their options, so a "
            "value given with a space is taken for a test path there: the rootdir can move, the ini file "
            "(gates, the lock guard) go unread and every case id change, and a baseline would then match nothing."
        ]
    )
    # The = form compares the cases and applies the ini file's gates.
    result = pytester.runpytest(f"--llmops-baseline={outside}")
    assert result.ret == pytest.ExitCode.OK
    lines = llmops_section(result.stdout.str())
    assert any(line.startswith("baseline ") and "2 case(s) compared" in line for line in lines)
    assert "gate held: new failures 0 (limit: at most 0, llmops_max_new_failures)" in lines


def test_a_space_in_pytest_addopts_is_caught_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_ADDOPTS", "--llmops-report out.json")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --llmops-report out.json (PYTEST_ADDOPTS): write --llmops-report=out.json*"]
    )
