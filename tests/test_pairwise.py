"""`pairwise:`: a judge picks the better of two prompt versions, in both orders, recorded and replayed."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_llmops.report.json import report_schema
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import USAGE, greet_reply, llmops_section, write, write_prompt

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


def suite(url: str) -> str:
    cases = "".join(
        f"  - name: {n}\n    vars: {{who: {n.title()}}}\n    assert: [{{type: icontains, value: {n}}}]\n"
        for n in NAMES
    )
    return (
        "prompt: [greeter@1.0.0, greeter@2.0.0]\n"
        f"provider: {{id: openai:gpt-4o-mini, base_url: {url}}}\n"
        f"judge: {{id: openai:gpt-4o, base_url: {url}}}\n"
        "pairwise:\n  criteria: Which greeting makes the person feel more welcome?\n"
        f"tests:\n{cases}"
    )


def answers(request: dict[str, Any]) -> tuple[str, str]:
    text = request["messages"][-1]["content"]
    a, b = text.split("ANSWER A:")[1].split("ANSWER B:")
    return a, b


def warmer(request: dict[str, Any]) -> str:
    """A fair judge: the answer that says "Welcome" is better, wherever it stands."""
    a, _ = answers(request)
    choice = "A" if "Welcome" in a else "B"
    return f'{choice} welcomes the person.\n{{"reason": "it says welcome", "choice": "{choice}"}}'


def first_one(request: dict[str, Any]) -> str:
    """A judge with a position bias: whatever comes first wins."""
    return '{"reason": "A reads better", "choice": "A"}'


def project(pytester: pytest.Pytester, server: ScriptedLLMServer, judge: Any) -> None:
    server.reply(judge, match=r"ANSWER A:", usage=USAGE)  # judge requests first: the rules are ordered
    server.reply(greet_reply, usage=USAGE)
    write_prompt(pytester.path)
    write_prompt(pytester.path, version="2.0.0", user="Greet {{ who }} warmly.")
    write(pytester.path / "test_greet.llmops.yaml", suite(server.base_url))


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_the_newer_version_wins_in_both_orders_and_replays_offline(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object, workers: list[str]
) -> None:
    project(pytester, llmops_server, warmer)
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=r.json", *workers)
    result.assert_outcomes(passed=16)
    # 16 application calls, and for each 2.0.0 case: 1.0.0's answer and the judge in both orders.
    assert len(llmops_server.requests) == 16 + 8 * 3
    cassette = yaml.safe_load(
        (pytester.path / "cassettes/test_greet/alice[greeter@2.0.0-openai_gpt-4o-mini].yaml").read_text()
    )
    bodies = [json.loads(i["request"]["body"]) for i in cassette["interactions"]]
    judged = [b["messages"][-1]["content"] for b in bodies if b["model"] == "gpt-4o"]
    assert len(judged) == 2  # both orders recorded ...
    assert "Welcome" in judged[0].split("ANSWER B:")[0] and "Welcome" in judged[1].split("ANSWER B:")[1]

    before = len(llmops_server.requests)
    replay = pytester.runpytest("--llmops-report=replay.json", "--llmops-min-win-rate=0.5", *workers)
    replay.assert_outcomes(passed=16)
    assert len(llmops_server.requests) == before  # ... and replayed: no call reaches the server
    section = llmops_section(replay.stdout.str())
    assert (
        "pairwise test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 (openai:gpt-4o-mini): win rate 100% "
        "[68%, 100%] over 8 case(s): 8 won, 0 tied, 0 lost, sign test p=0.008"
    ) in section
    assert (
        "gate held: pairwise win rate 2.0.0 100% over 8 case(s): none significantly below 50% (llmops_min_win_rate)"
    ) in section
    report = json.loads((pytester.path / "replay.json").read_text())
    jsonschema.Draft202012Validator(report_schema()).validate(report)
    (entry,) = report["summary"]["pairwise"]
    assert (entry["wins"], entry["ties"], entry["losses"], entry["position_flips"]) == (8, 0, 0, 0)
    assert entry["win_rate"] == 1.0 and entry["from_version"] == "1.0.0"
    alice = next(c for c in report["cases"] if c["case"] == "alice" and c["prompt_version"] == "2.0.0")
    (pairwise,) = [a for a in alice["assertions"] if a["type"] == "pairwise"]
    assert pairwise["score"] == 1.0 and pairwise["weight"] == 0.0
    assert pairwise["reason"].startswith(
        "greeter@2.0.0 against greeter@1.0.0, judged by openai:gpt-4o: the new version is better in both orders"
    )
    assert alice["judge_tokens"]["input"] == 3 * 1000  # 1.0.0's answer and two judgments
    assert (
        json.loads((pytester.path / "r.json").read_text())["summary"]["pairwise"]
        == report["summary"]["pairwise"]
    )


def test_a_judge_that_favours_a_position_wins_nothing_and_the_gate_says_so(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    project(pytester, llmops_server, first_one)
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-min-win-rate=0.9", "--llmops-markdown=r.md"
    )
    result.assert_outcomes(passed=16)  # the preference never fails a case ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... the win-rate gate fails the run
    section = llmops_section(result.stdout.str())
    assert (
        "pairwise test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 (openai:gpt-4o-mini): win rate 50% "
        "[22%, 78%] over 8 case(s): 0 won, 8 tied, 0 lost, sign test p=1.00; 8 position flip(s)"
    ) in section
    assert (
        "gate FAILED: pairwise win rate: test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 (openai:gpt-4o-mini): "
        "50% [22%, 78%] over 8 case(s) is significantly below 90% (llmops_min_win_rate)"
    ) in section
    markdown = (pytester.path / "r.md").read_text()
    assert (
        "| test_greet.llmops.yaml: greeter 1.0.0 → 2.0.0 (openai:gpt-4o-mini) | 8 | 50% [22%, 78%] | 0 | 8 | 0 | 1.00 | 8 |"
        in markdown
    )


def test_pairwise_needs_two_versions_of_one_prompt_and_a_judge(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    one = "prompt: greeter\nprovider: openai:gpt-4o-mini\njudge: openai:gpt-4o\npairwise: {criteria: x}\ntests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n"
    write(pytester.path / "test_one.llmops.yaml", one)
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(["*`pairwise:` compares prompt versions: list at least two in `prompt:`*"])
    write_prompt(pytester.path, version="2.0.0")
    nojudge = one.replace("prompt: greeter", "prompt: [greeter@1.0.0, greeter@2.0.0]").replace(
        "judge: openai:gpt-4o\n", ""
    )
    write(pytester.path / "test_one.llmops.yaml", nojudge)
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        ["*pairwise: no judge model is configured, and pytest-llmops never picks one for you*"]
    )
