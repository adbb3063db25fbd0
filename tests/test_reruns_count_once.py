"""pytest-rerunfailures' --reruns: each case counts once, with its last attempt; reruns spend apart."""

from __future__ import annotations

import json

import jsonschema
import pytest

from pytest_llmops.report.json import report_schema
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import CASE_COST, USAGE, greet_reply, llmops_section, make_suite

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
# Ten cases; carol and dave look for a word the model never says, so every attempt fails.
CASES = "".join(
    f"""
  - name: {name}
    vars: {{who: {name.title()}}}
    assert:
      - {{type: icontains, value: {"nobody" if name in ("carol", "dave") else name}}}
"""
    for name in NAMES
)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_a_rerun_case_counts_once_and_its_earlier_attempts_are_spent_apart(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object, workers: list[str]
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, CASES)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=8, failed=2)

    result = pytester.runpytest(
        "--reruns=2",
        "--llmops-report=r.json",
        "--llmops-min-pass-rate=0.8",
        "--llmops-markdown=r.md",
        *workers,
    )
    outcomes = result.parseoutcomes()  # assert_outcomes knows no "rerun"
    assert (outcomes["passed"], outcomes["failed"], outcomes["rerun"]) == (8, 2, 4)
    summary = json.loads((pytester.path / "r.json").read_text())["summary"]
    assert (summary["cases"], summary["passed"], summary["failed"]) == (10, 8, 2)
    assert summary["pass_rate"] == 0.8
    assert summary["tokens"]["total"] == 10 * 1500  # one attempt per case
    assert summary["cost_usd"]["app"] == pytest.approx(10 * CASE_COST)
    reruns = summary["reruns"]
    assert (reruns["attempts"], reruns["cases"]) == (4, 2)
    assert reruns["tokens"]["total"] == 4 * 1500
    assert reruns["cost_usd"]["app"] == pytest.approx(4 * CASE_COST)
    report = json.loads((pytester.path / "r.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    assert [(r["attempt"], r["case"]["case"]) for r in report["reruns"]] == [
        (1, "carol"),
        (2, "carol"),
        (1, "dave"),
        (2, "dave"),
    ]
    lines = llmops_section(result.stdout.str())
    (row,) = [line for line in lines if line.startswith("greeter@1.0.0 × openai:gpt-4o-mini  ")]
    assert row.split()[3:8] == ["10", "80%", "0.80", "0", "15000"]  # cases, pass, score, errors, tokens
    assert (
        "reruns: 2 case(s) ran again (4 earlier attempt(s)); each case counts once, with its last attempt. "
        "Spent on reruns, apart from the totals: 6,000 tokens, $0.001800"
    ) in lines
    assert "gate held: pass rate 80.0% (limit: at least 80.0%, llmops_min_pass_rate)" in lines
    assert "> reruns: 2 case(s) ran again (4 earlier attempt(s))" in (pytester.path / "r.md").read_text()
