"""How judges are asked and answered: structured output, the text fallback, replay, ``not-`` thresholds.

End to end through the scripted server: an OpenAI-compatible judge is asked for a JSON-schema
reply, an Anthropic judge for a forced ``record_verdict`` tool call, other kinds (and a judge
whose settings say ``response_format: {type: text}``) for the text protocol; a tool-call reply and
a text reply are both read, and both replay offline. llm-rubric shows the judge the input, and
its few-shot examples include a negated rubric. A cut-off reply is unscored.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_llmops.testing import ScriptedLLMServer, ScriptedToolCall

from .helpers import (
    RESULTS_CONFTEST,
    ScriptedJudge,
    is_judge,
    judge_kind,
    judge_outcome,
    judge_request,
    outcome_word,
    results,
    write,
)

PASS = {"reason": "Apologises and gives the window.", "score": 0.9, "verdict": "pass"}


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer, cases: str) -> None:
    pytester.makeconftest(RESULTS_CONFTEST)
    write(
        pytester.path / "test_protocol.llmops.yaml",
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\n"
        f"judge:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\ntests:\n{cases}",
    )


def rubric_case(name: str, provider: str = "") -> str:
    extra = f", provider: {provider}" if provider else ""
    return (
        f"  - name: {name}\n    prompt: 'Where is my refund? ({name})'\n"
        f"    assert: [{{type: llm-rubric, value: 'Apologises; does not blame the customer'{extra}}}]\n"
    )


def test_structured_output_is_asked_for_and_read_and_replays(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    anthropic = f"{{id: 'anthropic:claude-haiku-4-5', base_url: {llmops_server.root_url}}}"
    text_only = (
        f"{{id: openai:gpt-4o-mini, base_url: {llmops_server.base_url}, response_format: {{type: text}}}}"
    )
    llmops_server.reply(tool_calls=[ScriptedToolCall("record_verdict", PASS)], match=lambda b: "tools" in b)
    llmops_server.reply(json.dumps(PASS), match=is_judge)
    llmops_server.reply("Sorry for the wait! Refunds take up to 14 days.")
    suite(
        pytester,
        llmops_server,
        rubric_case("openai-json-schema")
        + rubric_case("anthropic-tool", anthropic)
        + rubric_case("text", text_only),
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=3)
    sent = {}
    for request in llmops_server.requests:
        if is_judge(request.json):
            name = re.search(r"\((openai-json-schema|anthropic-tool|text)\)", judge_request(request.json)[1])
            assert name is not None
            sent[name[1]] = request.json
    schema = sent["openai-json-schema"]["response_format"]
    assert schema["type"] == "json_schema" and schema["json_schema"]["strict"] is True
    properties = schema["json_schema"]["schema"]["properties"]
    assert list(properties) == ["reason", "requirements", "score", "verdict"]
    assert properties["verdict"]["enum"] == ["pass", "fail"]
    tool = sent["anthropic-tool"]
    assert tool["tool_choice"] == {"type": "tool", "name": "record_verdict"}
    assert tool["tools"][0]["input_schema"] == schema["json_schema"]["schema"]
    assert "response_format" not in tool
    assert sent["text"]["response_format"] == {"type": "text"}  # the judge's own setting decides
    found = results(pytester)
    assert found["anthropic-tool"]["assertions"][0]["reason"] == (
        "judge anthropic:claude-haiku-4-5: pass (score 0.90): Apologises and gives the window."
    )
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=3)  # a tool-call verdict replays like a text one


def test_llm_rubric_shows_the_input_and_a_negated_rubric_example(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(json.dumps(PASS), match=is_judge)
    llmops_server.reply("Sorry! Refunds take 14 days.")
    suite(pytester, llmops_server, rubric_case("shows-input"))
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (body,) = [r.json for r in llmops_server.requests if is_judge(r.json)]
    system, user = judge_request(body)
    assert judge_kind(body) == "llm-rubric"
    assert "INPUT (what the system under test was asked)" in user and "Where is my refund?" in user
    assert user.index("RUBRIC") < user.index("INPUT") < user.index("OUTPUT")
    assert "passes only when every requirement holds" in system
    assert "RUBRIC: Apologises for the delay; does not mention competitors" in system
    assert '"requirement": "Does not mention competitors", "holds": false' in system


def test_a_reply_cut_off_by_the_token_limit_is_unscored_even_when_it_reads_as_a_pass(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(json.dumps(PASS), match=is_judge, finish_reason="length")
    llmops_server.reply("Sorry! Refunds take 14 days.")
    suite(pytester, llmops_server, rubric_case("cut-off"))
    result = pytester.runpytest("--llmops-record-mode=once")
    assert result.parseoutcomes().get("unscored") == 1
    reason = results(pytester)["cut-off"]["assertions"][0]["reason"]
    assert "did not finish normally (finish_reason: length)" in reason


@pytest.mark.parametrize(
    ("kind", "reply", "threshold", "expected"),
    [
        # the judge says the property holds (pass, 0.7): its negation cannot pass
        ("llm-rubric", {"reason": "mostly", "score": 0.7, "verdict": "pass"}, 0.8, "fail"),
        # the property does not hold, but only with confidence 1 - 0.3 = 0.7 < 0.8
        ("llm-rubric", {"reason": "hardly", "score": 0.3, "verdict": "fail"}, 0.8, "fail"),
        ("llm-rubric", {"reason": "not at all", "score": 0.1, "verdict": "fail"}, 0.8, "pass"),
        ("llm-rubric", {"reason": "not at all", "score": 0.3, "verdict": "fail"}, None, "pass"),
        ("llm-rubric", {"reason": "it does", "score": 0.9, "verdict": "pass"}, None, "fail"),
        # scaled: the normalised score's complement must reach the threshold (or 0.75)
        ("relevance", {"reason": "on topic", "score": 4}, 0.8, "fail"),  # 0.75 -> 0.25
        ("relevance", {"reason": "partly", "score": 3}, None, "fail"),  # 0.5 -> 0.5 < 0.75
        ("relevance", {"reason": "off topic", "score": 2}, None, "pass"),  # 0.25 -> 0.75
        ("relevance", {"reason": "unrelated", "score": 1}, 0.9, "pass"),  # 0 -> 1
    ],
)
def test_not_with_a_threshold_needs_the_negated_property_with_that_confidence(
    kind: str, reply: dict[str, Any], threshold: float | None, expected: str
) -> None:
    settings = {} if threshold is None else {"threshold": threshold}
    result = judge_outcome(kind, ScriptedJudge(json.dumps(reply)), negated=True, settings=settings)
    assert outcome_word(result) == expected, result.reason
