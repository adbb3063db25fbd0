"""The tool-call checks grade the tool calls of real OpenAI and Anthropic replies (plain and
streamed), recorded against the scripted server and replayed offline; flipped, each fails."""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer, ScriptedToolCall

from .helpers import write, write_prompt

TOOLS = """
[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
"""
CHECKS = [
    "{type: is-valid-openai-tools-call}",
    "{type: tool-call-f1, value: [get_weather]}",
    "{type: tool-called, value: {name: get_weather, arguments: {city: Paris}}}",
    "{type: not-tool-called, value: {name: get_weather, arguments: {city: Rome}}}",
]
BROKEN_CHECKS = ["{type: not-is-valid-openai-tools-call}", "{type: tool-called, value: get_weather}"]


def _suite(server: ScriptedLLMServer, checks: list[str]) -> str:
    providers = "".join(
        f"  - {{id: {kind}, base_url: '{url}', stream: {stream}, label: {kind.split(':')[0]}-{stream}}}\n"
        for kind, url in (
            ("openai:gpt-4o-mini", server.base_url),
            ("anthropic:claude-haiku-4-5", server.root_url),
        )
        for stream in ("false", "true")
    )
    listed = "".join(f"      - {check}\n" for check in checks)
    broken = "".join(f"      - {check}\n" for check in BROKEN_CHECKS)
    return (
        "prompt: greeter\n"
        f"provider:\n{providers}"
        "defaults: {options: {tools: file://tools.json}}\n"
        "tests:\n"
        f"  - name: weather\n    vars: {{who: weather}}\n    assert:\n{listed}"
        f"  - name: broken\n    vars: {{who: broken}}\n    assert:\n{broken}"
    )


@pytest.fixture
def suite(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> pytest.Pytester:
    # Malformed arguments, as a model may write them: a call that no schema accepts.
    llmops_server.reply(tool_calls=[ScriptedToolCall("get_weather", '{"city": ')], match="broken")
    llmops_server.reply(tool_calls=[ScriptedToolCall("get_weather", {"city": "Paris"})])
    write_prompt(pytester.path, user="{{ who }}")
    write(pytester.path / "tools.json", TOOLS)
    write(pytester.path / "test_tools.llmops.yaml", _suite(llmops_server, CHECKS))
    return pytester


def test_tool_calls_of_both_apis_pass_their_checks_recorded_and_replayed(
    suite: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    suite.runpytest("--llmops-record-mode=once").assert_outcomes(passed=8)
    sent = [r.json for r in llmops_server.requests]
    assert len(sent) == 8
    assert all(body["tools"] for body in sent)  # the declared tools went with every call
    suite.runpytest().assert_outcomes(passed=8)  # replayed offline


def test_flipped_tool_checks_fail_on_both_apis(
    suite: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    suite.runpytest("--llmops-record-mode=once").assert_outcomes(passed=8)
    flipped = [
        check.replace("{type: not-", "{type: ")
        if "not-" in check
        else check.replace("{type: ", "{type: not-")
        for check in CHECKS
    ]
    write(suite.path / "test_tools.llmops.yaml", _suite(llmops_server, flipped))
    result = suite.runpytest()  # the recorded replies, graded by the flipped checks
    result.assert_outcomes(passed=4, failed=4)
    assert result.stdout.str().count("assertions: 0 passed, 4 failed") == 4  # each API, each form
