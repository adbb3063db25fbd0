"""model-graded-closedqa, answer-relevance and the context-* judges pass, and fail flipped, through
YAML suites; the retrieved context comes from a variable or from the application's return value."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

GOOD = """
      - {type: model-graded-closedqa, value: mentions the 30 days}
      - {type: answer-relevance}
      - {type: context-faithfulness}
      - {type: context-recall, value: Refunds are accepted within 30 days}
      - {type: context-relevance}
"""
BAD = """
      - {type: not-model-graded-closedqa, value: mentions the 30 days}
      - {type: not-answer-relevance}
      - {type: not-context-faithfulness}
      - {type: not-context-recall, value: Refunds are accepted within 30 days}
      - {type: not-context-relevance}
"""

APP = """
def answer(prompt, vars):
    return {"text": "Refunds are accepted within 30 days.", "context": ["Refunds: accepted within 30 days."]}
"""


def judge(request: dict[str, Any]) -> str:
    system = request["messages"][0]["content"]
    material = request["messages"][-1]["content"]
    bad = "ZZBAD" in material
    if "model-graded-closedqa" in system:
        verdict = {"verdict": "fail", "score": 0} if bad else {"verdict": "pass", "score": 1}
        return json.dumps({"reason": "judged", **verdict})
    return json.dumps({"reason": "judged", "score": 1 if bad else 5})


@pytest.fixture
def suites(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> pytest.Pytester:
    llmops_server.reply(judge, match=lambda r: "pytest-llmops judge" in str(r["messages"][0]["content"]))
    llmops_server.reply("ZZBAD unrelated words", match="bad question")
    llmops_server.reply("Refunds are accepted within 30 days.")
    write_prompt(pytester.path, user="{{ query }}")
    judge_line = f"judge: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
    write(
        pytester.path / "test_rag.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        + judge_line
        + "tests:\n"
        f"  - name: good\n    vars: {{query: How long do refunds take?, context: 'Refunds: accepted within 30 days.'}}\n    assert:{GOOD}"
        f"  - name: bad\n    vars: {{query: bad question, context: ZZBAD nothing useful}}\n    assert:{BAD}",
    )
    write(pytester.path / "app.py", APP)
    write(
        pytester.path / "test_app.llmops.yaml",
        "provider: {id: 'python:app.py:answer', allow_no_call: true}\n"
        + judge_line
        + "tests:\n  - name: app_context\n    prompt: How long do refunds take?\n"
        "    assert:\n      - {type: context-faithfulness}\n      - {type: context-relevance}\n",
    )
    return pytester


def test_each_judge_and_its_not_form_pass_when_they_should(suites: pytest.Pytester) -> None:
    suites.runpytest("--llmops-record-mode=once").assert_outcomes(passed=3)
    suites.runpytest().assert_outcomes(passed=3)  # the judge calls replay from the cassettes


def test_flipping_every_judge_fails_each(suites: pytest.Pytester) -> None:
    suites.runpytest("--llmops-record-mode=once").assert_outcomes(passed=3)
    for name in ("test_rag.llmops.yaml", "test_app.llmops.yaml"):
        path = suites.path / name
        text = path.read_text()
        lines = []
        for line in text.splitlines():
            if "- {type: not-" in line:
                line = line.replace("- {type: not-", "- {type: ", 1)
            elif "- {type: " in line:
                line = line.replace("- {type: ", "- {type: not-", 1)
            lines.append(line)
        path.write_text("\n".join(lines) + "\n")
    result = suites.runpytest()
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        ["*assertions: 0 passed, 5 failed", "*assertions: 0 passed, 5 failed"], consecutive=False
    )
    result.stdout.fnmatch_lines(["*assertions: 0 passed, 2 failed"])


def test_a_context_judge_without_context_cannot_grade(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("An answer.")
    write_prompt(pytester.path, user="{{ query }}")
    write(
        pytester.path / "test_none.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        f"judge: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "tests:\n  - name: a\n    vars: {query: hi}\n    assert: [{type: not-context-faithfulness}]\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL not-context-faithfulness*no retrieved context: return `context` from the `python:` application*"
        ]
    )


def test_closedqa_needs_its_criterion(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_bad.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\njudge: openai:gpt-4o-mini\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: model-graded-closedqa}]\n",
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(["*model-graded-closedqa: `value` is required: the criterion*"])
