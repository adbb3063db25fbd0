"""What a case sends: its own `options:` merged over the prompt's and the provider's (and recorded),
`file://` parameters, prior turns of a conversation, content parts in each API's form; promptfoo
provider ids are refused with the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import is_judge, write, write_prompt

SCHEMA = {"type": "json_schema", "json_schema": {"name": "reply", "schema": {"type": "object"}}}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "lookup", "description": "Find", "parameters": {"type": "object"}},
    }
]


def bodies(server: ScriptedLLMServer, path: str) -> list[dict[str, Any]]:
    return [r.json for r in server.requests if r.path.endswith(path)]


def test_case_options_merge_over_the_prompt_and_the_provider_and_are_recorded(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply('{"ok": true}')
    write_prompt(pytester.path)  # the prompt file says temperature: 0
    write(pytester.path / "schemas" / "reply.json", json.dumps(SCHEMA))
    write(
        pytester.path / "test_opts.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}', max_tokens: 50,"
        " seed: 1}\n"
        "defaults:\n  options: {seed: 2}\n  assert: [{type: is-json}]\n"
        "tests:\n"
        "  - name: plain\n    vars: {who: A}\n"
        "  - name: schema\n    vars: {who: B}\n"
        "    options: {temperature: 0.5, response_format: file://schemas/reply.json, tool_choice: none,"
        f" tools: {json.dumps(TOOLS)}, params: {{logit_bias: {{}}}}}}\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    plain, schema = sorted(
        bodies(llmops_server, "/chat/completions"), key=lambda b: b["messages"][-1]["content"]
    )
    assert (plain["temperature"], plain["max_tokens"], plain["seed"]) == (0, 50, 2)
    assert "response_format" not in plain
    assert schema["temperature"] == 0.5 and schema["seed"] == 2 and schema["max_tokens"] == 50
    assert (
        schema["response_format"] == SCHEMA and schema["tools"] == TOOLS and schema["tool_choice"] == "none"
    )
    assert schema["logit_bias"] == {}
    # The options are part of the recorded request: a changed option no longer replays.
    pytester.runpytest().assert_outcomes(passed=2)
    path = pytester.path / "test_opts.llmops.yaml"
    path.write_text(path.read_text().replace("temperature: 0.5", "temperature: 0.7"))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(['*-  "temperature": 0.5,', '*+  "temperature": 0.7,'])


def test_response_format_files_are_read_in_providers_and_prompt_files(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("{}")
    write(pytester.path / "prompts" / "schema.json", json.dumps(SCHEMA))
    write(
        pytester.path / "prompts" / "p.yaml",
        "name: p\nversion: 1.0.0\nmodel: gpt-4o-mini\nresponse_format: file://schema.json\nuser: hi {{ who }}\n",
    )
    write(
        pytester.path / "tools.yaml",
        "- {type: function, function: {name: lookup, parameters: {type: object}}}\n",
    )
    write(
        pytester.path / "test_rf.llmops.yaml",
        f"prompt: p\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}', tools: file://tools.yaml}}\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: is-json}]\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (body,) = bodies(llmops_server, "/chat/completions")
    assert body["response_format"] == SCHEMA
    assert body["tools"][0]["function"]["name"] == "lookup"


def test_a_response_format_that_is_not_a_file_reference_is_refused(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_bad.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    options: {response_format: schema.json}\n"
        "    assert: [{type: is-json}]\n",
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*test_bad.llmops.yaml:6: *response_format*a text value here names a file: write `file://schema.json`*"
        ]
    )


MULTI_TURN = """
tests:
  - name: follow_up
    vars: {{who: Ada}}
    messages:
      - {{role: user, content: "My name is {{{{ who }}}}."}}
      - {{role: assistant, content: "Nice to meet you."}}
    assert: [{{type: contains, value: OK}}]
"""


def test_prior_turns_are_sent_after_the_system_message(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    write_prompt(pytester.path, user="What is my name?")
    write(
        pytester.path / "test_turns.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        + MULTI_TURN.format(),
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (body,) = bodies(llmops_server, "/chat/completions")
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Nice to meet you."},
        {"role": "user", "content": "What is my name?"},
    ]


def test_a_suite_without_a_prompt_sends_the_conversation(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    write(
        pytester.path / "test_turns.llmops.yaml",
        f"provider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\nsystem: Be brief.\n"
        "tests:\n  - name: chat\n    messages:\n      - {role: user, content: Hi}\n"
        "      - {role: assistant, content: Hello}\n      - {role: user, content: Bye}\n"
        "    assert: [{type: contains, value: OK}]\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (body,) = bodies(llmops_server, "/chat/completions")
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][-1]["content"] == "Bye"


PARTS_PROMPT = """\
name: vision
version: 1.0.0
model: gpt-4o-mini
messages:
  - role: system
    content:
      - {type: text, text: "Long shared instructions.", cache_control: {type: ephemeral}}
  - role: user
    content:
      - {type: text, text: "Describe {{ thing }}."}
      - {type: image_url, image_url: {url: "data:image/png;base64,{{ image }}"}}
"""


def test_content_parts_are_sent_in_each_apis_form(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    write(pytester.path / "prompts" / "vision.yaml", PARTS_PROMPT)
    write(pytester.path / "pixel.png", "not really a png")
    write(
        pytester.path / "test_parts.llmops.yaml",
        "prompt: vision\n"
        f"provider:\n  - {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        f"  - {{id: anthropic:claude-haiku-4-5, base_url: '{llmops_server.root_url}'}}\n"
        f"tests:\n  - name: a\n    vars: {{thing: a cat, image: file://pixel.png}}\n    options: {{tools: {json.dumps(TOOLS)}, tool_choice: required}}\n"
        "    assert: [{type: contains, value: OK}]\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    result.assert_outcomes(passed=2)
    (openai,) = bodies(llmops_server, "/chat/completions")
    (anthropic,) = bodies(llmops_server, "/messages")
    image = "bm90IHJlYWxseSBhIHBuZw=="  # the file's bytes in base64, as promptfoo sends images
    assert openai["messages"] == [
        {"role": "system", "content": [{"type": "text", "text": "Long shared instructions."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe a cat."},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}},
            ],
        },
    ]
    assert anthropic["system"] == [
        {"type": "text", "text": "Long shared instructions.", "cache_control": {"type": "ephemeral"}}
    ]
    assert anthropic["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Describe a cat."},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": image}},
            ],
        }
    ]
    assert anthropic["tools"] == [
        {"name": "lookup", "description": "Find", "input_schema": {"type": "object"}}
    ]
    assert anthropic["tool_choice"] == {"type": "any"}
    report = json.loads((pytester.path / "report.json").read_text())
    user = report["cases"][0]["messages"][1]
    assert user["content"] == "Describe a cat."  # the text, for every reader of the report
    assert user["parts"][1]["type"] == "image_url"


@pytest.mark.parametrize(
    ("written", "fix"),
    [
        ("openai:chat:gpt-4o-mini", "openai:gpt-4o-mini"),
        ("anthropic:messages:claude-haiku-4-5", "anthropic:claude-haiku-4-5"),
        ("openai:embedding:text-embedding-3-small", "openai:text-embedding-3-small"),
    ],
)
def test_promptfoo_provider_ids_are_refused_with_the_fix(
    pytester: pytest.Pytester, written: str, fix: str
) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_bad.llmops.yaml",
        f"prompt: greeter\nprovider: {written}\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: contains, value: A}]\n",
    )
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"*test_bad.llmops.yaml:2: *{written!r} is written the way promptfoo writes it*did you mean `{fix}`?*"
        ]
    )


def test_fine_tuned_openai_ids_keep_their_colons(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_ft.llmops.yaml",
        "prompt: greeter\nprovider: openai:ft:gpt-4o-mini:acme::abc123\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: contains, value: A}]\n",
    )
    pytester.runpytest("--collect-only").assert_outcomes()


def test_a_cases_options_never_reach_its_judge(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply('{"reason": "fine", "score": 1, "verdict": "pass"}', match=is_judge)
    llmops_server.reply('{"ok": true}')
    write_prompt(pytester.path)
    write(
        pytester.path / "test_judged.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        f"judge: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "tests:\n  - name: a\n    vars: {who: A}\n"
        f"    options: {{temperature: 0.9, response_format: {json.dumps(SCHEMA)}, tools: {json.dumps(TOOLS)}}}\n"
        "    assert: [{type: model-graded-closedqa, value: says ok}]\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    app, judge = sorted(bodies(llmops_server, "/chat/completions"), key=is_judge)
    assert app["response_format"] == SCHEMA and app["tools"] == TOOLS
    # The judge is asked with its own settings: temperature 0 and the verdict's schema.
    assert judge["temperature"] == 0 and "tools" not in judge
    assert judge["response_format"]["json_schema"]["name"] == "verdict"
