"""Judges checked against people: ``judge_checks:`` run, record, replay, report and gate.

A suite's labelled examples (an output, its input, the verdict a person gave) run against the
suite's judge with the judge's own prompt; each judge type × judge gets its agreement with people
and Cohen's kappa in the terminal, the JSON, Markdown and HTML reports, and
``llmops_min_judge_agreement`` fails the run when a judge disagrees with people too often.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_llmops.gates.agreement import cohen_kappa
from pytest_llmops.report.html import pack_report
from pytest_llmops.report.json import report_schema
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import is_judge, judge_kind, judged_output, write


def labelling_judge(body: Any) -> str:
    """Passes outputs saying GOOD, fails those saying BAD, and garbles those saying GARBLE."""
    output = judged_output(body)
    if "GARBLE" in output:
        return "Hmm, hard to say."
    good = "GOOD" in output
    if judge_kind(body) == "relevance":
        return json.dumps({"reason": "rated", "score": 5 if good else 2})
    return json.dumps(
        {"reason": "judged", "score": 0.9 if good else 0.1, "verdict": "pass" if good else "fail"}
    )


CHECKS = """\
judge_checks:
  - name: polite
    assert: {type: llm-rubric, value: Apologises}
    input: Where is my parcel?
    output: GOOD - sorry, it ships today.
    verdict: pass
  - name: rude
    assert: {type: llm-rubric, value: Apologises}
    output: BAD - not my problem.
    verdict: fail
  - name: sarcastic
    assert: {type: llm-rubric, value: Apologises}
    output: "GOOD - oh, *so* sorry you can't read a tracking page."
    verdict: fail
    note: the apology is sarcastic
  - name: unreadable
    assert: {type: llm-rubric, value: Apologises}
    output: GARBLE
    verdict: pass
  - name: on-topic
    assert: {type: relevance}
    input: When do you open?
    output: GOOD - nine to five.
    verdict: pass
  - name: off-topic
    assert: {type: not-relevance}
    input: When do you open?
    output: BAD - we sell shoes.
    verdict: pass
"""


def checks_suite(pytester: pytest.Pytester, server: ScriptedLLMServer, *, with_case: bool = True) -> Path:
    judge = (
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\n"
        f"judge:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\n"
    )
    case = (
        "tests:\n  - name: hello\n    prompt: Hello\n    assert: [{type: contains, value: Hi}]\n"
        if with_case
        else ""
    )
    return write(pytester.path / "test_checks.llmops.yaml", judge + case + CHECKS)


def test_kappa_is_chance_corrected_agreement() -> None:
    assert cohen_kappa(1, 1, 0, 1) == pytest.approx(0.4)  # 2 of 3 agree, chance 4/9
    assert cohen_kappa(5, 0, 0, 5) == 1.0
    assert cohen_kappa(0, 5, 5, 0) == -1.0
    assert cohen_kappa(4, 0, 0, 0) is None  # one verdict for everything: agreement says nothing
    assert cohen_kappa(0, 0, 0, 0) is None


def test_judge_checks_record_replay_report_and_gate(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(labelling_judge, match=is_judge)
    llmops_server.reply("Hi there")
    checks_suite(pytester, llmops_server)
    args = ["--llmops-report=report.json", "--llmops-markdown=summary.md", "--llmops-html=report.html"]
    result = pytester.runpytest("--llmops-record-mode=once", "-v", *args)
    result.assert_outcomes(passed=7)  # a disagreement is a figure of the run, not a failed item
    result.stdout.fnmatch_lines(
        [
            "*test_checks.llmops.yaml::judge-check[[]polite[]] PASSED*",
            "judges checked against people (6 judge checks):",
            "  llm-rubric × openai:gpt-4o-mini: 2/3 agree (66.7%), kappa 0.40, judge passed 1 a person"
            " failed, failed 0 a person passed, 1 unscored",
            "  relevance × openai:gpt-4o-mini: 2/2 agree (100.0%), kappa n/a",
            "  disagree: test_checks.llmops.yaml::judge-check[[]sarcastic[]]: person fail, judge pass:*",
        ]
    )
    judged = [r.json for r in llmops_server.requests if is_judge(r.json)]
    assert len(judged) == 7  # six checks, one retry of the unreadable reply
    polite = next(b for b in judged if "sorry, it ships today" in judged_output(b))
    assert "Where is my parcel?" in polite["messages"][1]["content"]  # the input is shown

    report = json.loads((pytester.path / "report.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    (rubric, relevance) = report["summary"]["judge_agreement"]
    assert (rubric["type"], rubric["agreed"], rubric["scored"], rubric["unscored"]) == ("llm-rubric", 2, 3, 1)
    assert rubric["kappa"] == pytest.approx(0.4) and rubric["agreement"] == pytest.approx(2 / 3)
    assert rubric["confusion"] == {
        "both_pass": 1,
        "judge_pass_person_fail": 1,
        "judge_fail_person_pass": 0,
        "both_fail": 1,
    }
    assert rubric["disagreements"] == ["test_checks.llmops.yaml::judge-check[sarcastic]"]
    assert (relevance["agreed"], relevance["kappa"]) == (2, None)
    by_name = {c["name"]: c for c in report["judge_checks"]}
    assert (
        by_name["sarcastic"]["note"] == "the apology is sarcastic" and by_name["sarcastic"]["agreed"] is False
    )
    assert by_name["unreadable"]["judge_verdict"] == "unscored" and by_name["unreadable"]["agreed"] is None
    assert by_name["off-topic"]["type"] == "not-relevance" and by_name["off-topic"]["judge_verdict"] == "pass"
    assert not any(c["replayed"] for c in report["judge_checks"])
    assert len(report["cases"]) == 1  # judge checks are not cases: pass rates are untouched

    markdown = (pytester.path / "summary.md").read_text()
    assert "**Judges checked against people** (6 judge checks)" in markdown
    assert "| `llm-rubric × openai:gpt-4o-mini` | 2/3 | 66.7% | 0.40 | 1 | 0 | 1 | 0 |" in markdown
    assert "- disagree: `test_checks.llmops.yaml::judge-check[sarcastic]`" in markdown
    page = (pytester.path / "report.html").read_text()
    assert "Judges checked against people" in page  # the script draws the section ...
    packed = pack_report(report)  # ... from this data, embedded in the page
    assert packed["summary"]["judge_agreement"] == report["summary"]["judge_agreement"]
    assert [c["name"] for c in packed["judge_checks"]] == [c["name"] for c in report["judge_checks"]]

    # Offline: every judge call replays; the gate fails the run when a judge agrees too rarely.
    llmops_server.close()
    replay = pytester.runpytest("--llmops-min-judge-agreement=0.9", "--llmops-report=replay.json")
    replay.assert_outcomes(passed=7)
    assert replay.ret == pytest.ExitCode.TESTS_FAILED
    replay.stdout.fnmatch_lines(
        [
            "gate FAILED: judge agreement (llm-rubric × openai:gpt-4o-mini): 2/3 agree, 66.7% is below"
            " the limit of 90.0% (llmops_min_judge_agreement); 1 of 4 check(s) without a verdict",
            "gate held: judge agreement (relevance × openai:gpt-4o-mini): 2/2 agree, 100.0%*",
        ]
    )
    replayed = json.loads((pytester.path / "replay.json").read_text())
    assert all(c["replayed"] for c in replayed["judge_checks"] if c["judge_verdict"] != "error")
    assert replayed["summary"]["judge_agreement"] == report["summary"]["judge_agreement"]
    held = pytester.runpytest("--llmops-min-judge-agreement=0.6")
    assert held.ret == pytest.ExitCode.OK


def test_a_suite_of_judge_checks_only_runs_them_under_xdist_too(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(labelling_judge, match=is_judge)
    checks_suite(pytester, llmops_server, with_case=False)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=6)
    result = pytester.runpytest("-n", "2", "--llmops-report=report.json")
    result.assert_outcomes(passed=6)
    report = json.loads((pytester.path / "report.json").read_text())
    assert [g["agreed"] for g in report["summary"]["judge_agreement"]] == [2, 2]
    assert report["cases"] == []


def test_a_judge_check_without_a_recording_fails_its_item_and_says_how_to_record(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    checks_suite(pytester, llmops_server, with_case=False)
    result = pytester.runpytest("-k", "polite")
    result.assert_outcomes(failed=1, deselected=5)
    result.stdout.fnmatch_lines(
        ["judge check polite (test_checks.llmops.yaml:*): the judge could not give a verdict", "*record*"]
    )


@pytest.mark.parametrize(
    ("checks", "message"),
    [
        (
            "  - {name: a, assert: {type: contains, value: x}, output: o, verdict: pass}\n",
            "judge check 'a': `assert` must be a judge assertion (llm-rubric, g-eval, relevance,"
            " accuracy, safety, factuality); 'contains' calls no judge",
        ),
        ("  - {name: a, assert: {type: safety}, output: o, verdict: maybe}\n", "judge_checks[0].verdict"),
        (
            "  - {name: a, assert: {type: safety}, output: o, verdict: pass}\n"
            "  - {name: a, assert: {type: safety}, output: p, verdict: fail}\n",
            "judge check name 'a' is used twice",
        ),
        ("  - {name: 'a/b', assert: {type: safety}, output: o, verdict: pass}\n", "may not contain"),
    ],
)
def test_a_malformed_judge_check_is_a_collection_error(
    pytester: pytest.Pytester, checks: str, message: str
) -> None:
    suite = "provider: openai:gpt-4o-mini\njudge: openai:gpt-4o-mini\njudge_checks:\n"
    write(pytester.path / "test_bad.llmops.yaml", suite + checks)
    result = pytester.runpytest("--collect-only")
    assert result.ret != 0
    assert message in result.stdout.str()
