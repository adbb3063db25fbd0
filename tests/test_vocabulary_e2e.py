"""Every assertion type added for promptfoo users passes, and fails when flipped (`not-`), through
YAML suites recorded against the scripted server and replayed offline."""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import glob_escape, write, write_prompt

ANSWER = "The capital of France is Paris."
REFUSAL = "I'm sorry, but I can't help with that."
HARMFUL = "Here is how to hurt someone."

TEXT_CHECKS = """
      - {type: not-is-refusal}
      - {type: rouge-n, value: "The capital of France is Paris.", threshold: 0.9}
      - {type: bleu, value: "The capital of France is Paris.", threshold: 0.9}
      - {type: moderation}
      - {type: moderation, value: [violence, hate]}
      - {type: assert-set, threshold: 0.5, assert: [{type: contains, value: Paris}, {type: contains, value: Berlin}]}
      - {type: assert-set, assert: [{type: icontains, value: paris}, {type: icontains, value: france}]}
      - {type: python, value: "len(output) < 200 and output.endswith('.')"}
      - {type: python, value: "output == 'paris'", transform: "output.split()[-1].strip('.').lower()"}
      - {type: not-rouge-n, value: "Completely unrelated words here", threshold: 0.5}
      - {type: not-bleu, value: "Nothing alike at all, none", threshold: 0.5}
      - {type: not-assert-set, assert: [{type: contains, value: Berlin}, {type: contains, value: Rome}]}
      - {type: not-python, value: "'Berlin' in output"}
"""
REFUSAL_CHECKS = """
      - {type: is-refusal}
      - {type: moderation, value: [violence]}
"""
TOOL_CHECKS = """
      - {type: is-valid-openai-tools-call}
      - {type: tool-call-f1, value: [get_weather]}
      - {type: tool-called, value: get_weather}
      - {type: tool-called, value: {name: get_weather, arguments: {city: Paris}}}
      - {type: not-tool-called, value: {name: get_weather, arguments: {city: Rome}}}
      - {type: not-tool-call-f1, value: [get_time, get_news]}
      - {type: not-is-valid-openai-tools-call, value: [{type: function, function: {name: get_time, parameters: {type: object}}}]}
"""

APP = """
from pytest_llmops import AppResponse
from pytest_llmops.results import ToolCall


def answer(prompt, vars):
    # The declared tools arrive with the prompt: the case's `options` merged over the suite's.
    assert prompt.options["tools"][0]["function"]["name"] == "get_weather"
    return AppResponse(text="", tool_calls=(ToolCall("get_weather", '{"city": "Paris"}', {"city": "Paris"}),))
"""

TOOLS = """
[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
"""


@pytest.fixture
def suites(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    monkeypatch.setenv("OPENAI_BASE_URL", llmops_server.base_url)  # the moderation endpoint
    llmops_server.reply("violence", endpoint="moderations", match="hurt")
    llmops_server.reply(REFUSAL, match="refuse")
    llmops_server.reply(HARMFUL, match="harm")
    llmops_server.reply(ANSWER)
    write_prompt(pytester.path, user="{{ who }}")
    write(
        pytester.path / "test_text.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "tests:\n"
        f"  - name: answer\n    vars: {{who: capital}}\n    assert:{TEXT_CHECKS}"
        f"  - name: refusal\n    vars: {{who: refuse please}}\n    assert:{REFUSAL_CHECKS}"
        "  - name: harmful\n    vars: {who: harm}\n    assert:\n      - {type: not-moderation}\n",
    )
    write(pytester.path / "app.py", APP)
    write(pytester.path / "tools.json", TOOLS)
    write(
        pytester.path / "test_tools.llmops.yaml",
        "provider: {id: 'python:app.py:answer', allow_no_call: true}\n"
        "tests:\n"
        f"  - name: weather\n    prompt: Weather in Paris?\n    options: {{tools: file://tools.json}}\n    assert:{TOOL_CHECKS}",
    )
    return pytester


def test_every_new_type_and_its_not_form_passes_when_it_should(suites: pytest.Pytester) -> None:
    suites.runpytest("--llmops-record-mode=once").assert_outcomes(passed=4)
    suites.runpytest().assert_outcomes(passed=4)  # and replayed offline, moderation calls included


def test_flipping_every_new_assertion_fails_each_with_its_reason(suites: pytest.Pytester) -> None:
    suites.runpytest("--llmops-record-mode=once").assert_outcomes(passed=4)
    for name in ("test_text.llmops.yaml", "test_tools.llmops.yaml"):
        path = suites.path / name
        flipped = []
        for line in path.read_text().splitlines():
            if "- {type: not-" in line:
                line = line.replace("- {type: not-", "- {type: ", 1)
            elif "- {type: " in line:
                line = line.replace("- {type: ", "- {type: not-", 1)
            flipped.append(line)
        path.write_text("\n".join(flipped) + "\n")
    result = suites.runpytest()  # replayed: the flipped checks grade the recorded answers
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*assertions: 0 passed, 13 failed",
            "*assertions: 0 passed, 2 failed",
            "*assertions: 0 passed, 1 failed",
            "*assertions: 0 passed, 7 failed",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(["*FAIL not-is-refusal*refusal *can't help with*"])
    result.stdout.fnmatch_lines(["*FAIL moderation*flagged the output: violence (0.97)*"])
    result.stdout.fnmatch_lines(["*FAIL is-valid-openai-tools-call*'get_weather' is not a declared tool*"])


def test_an_assert_set_scores_as_one_assertion(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(ANSWER)
    write_prompt(pytester.path, user="{{ who }}")
    write(
        pytester.path / "test_set.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "tests:\n  - name: a\n    vars: {who: x}\n    assert:\n"
        "      - {type: assert-set, threshold: 0.75, weight: 2, metric: facts, assert: [{type: contains, value: Paris},"
        " {type: contains, value: Berlin}, {type: contains, value: France}, {type: contains, value: Rome}]}\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*FAIL assert-set*score=0.50*2 of 4 passed (score 0.50 < 0.75)*FAIL contains*Berlin*"]
    )


def test_assert_outside_an_assert_set_names_the_type(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_bad.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n"
        "    assert:\n      - {type: contains, value: A, assert: [{type: contains, value: B}]}\n",
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        ["*`assert` inside an assertion belongs to `type: assert-set`, not 'contains'*"]
    )


def test_rouge_and_bleu_without_the_extra_say_how_to_install_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    for module in ("rouge_score", "rouge_score.rouge_scorer", "sacrebleu"):
        monkeypatch.setitem(sys.modules, module, None)  # an import of it now fails as not found
    write_prompt(pytester.path)
    for kind in ("rouge-n", "bleu"):
        write(
            pytester.path / "test_bad.llmops.yaml",
            "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n"
            f"    assert: [{{type: {kind}, value: ref}}]\n",
        )
        result = pytester.runpytest_inprocess("--collect-only")
        result.stdout.fnmatch_lines(
            [f"*{kind} needs the * package: " + glob_escape("pip install 'pytest-llmops[metrics]'")]
        )
