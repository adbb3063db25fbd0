"""Usage a provider reports is checked where it is read: nonsense counts are that case's error.

A count of ``"abc"``, ``1e400``, ``true`` or ``-100000000`` used to crash pricing (the case
vanished from every report) or to price a case at minus dollars (and hold the cost gate). Each is
now a provider error naming the provider and the field, and the reports count it as pytest does.
"""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from pytest_llmops.errors import ProviderResponseError
from pytest_llmops.providers.anthropic import parse_message
from pytest_llmops.providers.http import MAX_TOKENS, token_counter
from pytest_llmops.providers.openai import parse_chat_completion
from pytest_llmops.testing import ScriptedLLMServer, UsageOverride

from .helpers import add_ini, make_suite, write, write_prompt

BAD_COUNTS: list[Any] = [
    "abc",
    "12",
    -1,
    -100_000_000,
    math.inf,
    math.nan,
    1.5,
    True,
    [1],
    {"n": 1},
    MAX_TOKENS + 1,
]


def _chat(usage: Any) -> dict[str, Any]:
    return {"model": "m", "choices": [{"message": {"role": "assistant", "content": "hi"}}], "usage": usage}


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
def test_a_nonsense_openai_count_is_a_provider_error_naming_the_field(value: Any) -> None:
    with pytest.raises(ProviderResponseError) as info:
        parse_chat_completion(
            _chat({"prompt_tokens": value, "completion_tokens": 3}),
            httpx.Response(200),
            provider="openai:gpt-4o-mini",
            url="http://x/v1/chat/completions",
            model="m",
        )
    message = str(info.value)
    assert message.startswith("openai:gpt-4o-mini: ")
    assert "`usage.prompt_tokens`" in message and "expected a whole number of tokens" in message


@pytest.mark.parametrize("value", ["many", -5, math.inf])
def test_a_nonsense_anthropic_count_is_a_provider_error(value: Any) -> None:
    body = {"content": [{"type": "text", "text": "hi"}], "usage": {"input_tokens": value, "output_tokens": 1}}
    with pytest.raises(ProviderResponseError, match=r"anthropic: .*`usage.input_tokens`"):
        parse_message(body, httpx.Response(200), provider="anthropic", url="http://x/v1/messages", model="m")


def test_a_count_read_from_json_with_a_huge_exponent_is_refused() -> None:
    usage = json.loads('{"prompt_tokens": 1e400, "completion_tokens": 12.0}')
    count = token_counter(usage, provider="p", url="u")
    with pytest.raises(ProviderResponseError, match="prompt_tokens"):
        count("prompt_tokens")
    assert count("completion_tokens") == 12  # a whole float is a count
    assert count("missing") == 0


def test_a_python_provider_returning_nonsense_usage_errs_and_every_report_counts_it(
    pytester: pytest.Pytester,
) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "app.py",
        """
        def answer(prompt, vars):
            usage = {"input_tokens": vars["tokens"], "output_tokens": 1}
            return {"text": "ok", "usage": usage, "model": "gpt-4o-mini"}
        """,
    )
    write(
        pytester.path / "test_app.llmops.yaml",
        """
        prompt: greeter
        provider: {id: "python:app:answer", allow_no_call: true}
        tests:
          - {name: fine, vars: {who: a, tokens: 10}, assert: [{type: contains, value: ok}]}
          - {name: words, vars: {who: b, tokens: abc}, assert: [{type: contains, value: ok}]}
          - {name: negative, vars: {who: c, tokens: -100000000}, assert: [{type: contains, value: ok}]}
        """,
    )
    add_ini(pytester, "pythonpath = .")
    result = pytester.runpytest("-p", "no:cacheprovider", "--llmops-report=r.json", "--llmops-markdown=r.md")
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    result.assert_outcomes(passed=1, failed=2)
    assert "`usage.input_tokens` = 'abc'" in out and "`usage.input_tokens` = -100000000" in out
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    outcomes = sorted(c["outcome"] for c in report["cases"])
    assert outcomes == ["error", "error", "passed"]
    assert all(c["cost_usd"] is None or c["cost_usd"] >= 0 for c in report["cases"])
    assert "every case passed" not in (pytester.path / "r.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_a_negative_count_from_the_server_fails_the_case_and_the_cost_gate_cannot_hold(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, kind: str
) -> None:
    llmops_server.reply("Hello!", usage=UsageOverride(input_tokens=-100_000_000, output_tokens=5))
    make_suite(
        pytester.path,
        llmops_server,
        "  - name: cheap\n    vars: {who: Bob}\n    assert: [{type: contains, value: Hello}]\n",
    )
    if kind == "anthropic":
        suite = pytester.path / "test_greet.llmops.yaml"
        text = suite.read_text(encoding="utf-8").replace(
            "openai:gpt-4o-mini", "anthropic:claude-3-5-haiku-latest"
        )
        suite.write_text(text.replace(llmops_server.base_url, llmops_server.root_url), encoding="utf-8")
    add_ini(pytester, "llmops_max_retries = 0")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-record-mode=all", "--llmops-report=r.json"
    )
    result.assert_outcomes(failed=1)
    assert "expected a whole number of tokens" in result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert [c["outcome"] for c in report["cases"]] == ["error"]
