"""``--llmops-estimate`` prints the input tokens of every request about to be sent and an upper
bound of its cost at ``max_tokens``, per variant, then stops: no call, no cassette, exit 0."""

from __future__ import annotations

import sys

import pytest

from pytest_llmops.engine.estimate import estimate_request, tokenizer
from pytest_llmops.engine.pricing import default_prices
from pytest_llmops.prompts.render import RenderedPrompt
from pytest_llmops.results import Message
from pytest_llmops.spec.schema import ProviderSpec
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer) -> None:
    write_prompt(pytester.path, user="Say hello to {{ who }}.", system="You are terse.")
    write(
        pytester.path / "test_p.llmops.yaml",
        f"""
        prompt: greeter
        provider:
          - {{id: openai:gpt-4o-mini, base_url: '{server.base_url}', max_tokens: 100}}
          - {{id: anthropic:claude-haiku-4-5, base_url: '{server.root_url}'}}
          - {{id: openai:my-model, base_url: '{server.base_url}'}}
          - {{id: ollama:llama3.2, base_url: '{server.root_url}', max_tokens: 50}}
        tests:
          - name: hello
            vars: {{who: Ada}}
            assert: [{{type: icontains, value: hello}}]
          - name: twice
            repeat: 2
            vars: {{who: Ada}}
            assert: [{{type: icontains, value: hello}}]
        """,
    )


def test_estimates_every_request_and_calls_nothing(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    suite(pytester, llmops_server)
    result = pytester.runpytest("--llmops-estimate", "--llmops-record-mode=all", "-p", "no:randomly")
    assert result.ret == pytest.ExitCode.OK
    assert llmops_server.requests == [], "a dry run sends nothing"
    assert not (pytester.path / "cassettes").exists()
    # "You are terse." is 4 tokens and "Say hello to Ada." 5 (cl100k_base), plus 4 a message.
    # gpt-4o-mini at $0.15 / $0.60 per million: 17 x 0.15 + 100 x 0.60 = $0.00006255.
    result.stdout.fnmatch_lines(
        [
            "*= llmops estimate =*",
            "no call was made; tokens counted with cl100k_base (tiktoken, offline)",
            "greeter@1.0.0 × openai:gpt-4o-mini: 3 request(s), 51 input tokens, at most $0.000188",
            "  hello: 17 input tokens, at most 100 output tokens, at most $0.000063",
            "  twice × 2 runs: 34 input tokens, at most 200 output tokens, at most $0.000125",
            # No max_tokens on Anthropic: the 1,024 the provider sends ($1 / $5 per million).
            "greeter@1.0.0 × anthropic:claude-haiku-4-5: 3 request(s), 51 input tokens, at most $0.015411",
            "  hello: 17 input tokens, at most 1024 output tokens, at most $0.005137",
            "greeter@1.0.0 × openai:my-model: 3 request(s), 51 input tokens, no upper bound",
            "  hello: 17 input tokens, at most ? output tokens, no upper bound (set max_tokens)",
            "greeter@1.0.0 × ollama:llama3.2: 3 request(s), 51 input tokens, at most $0.000000",
            "  hello: 17 input tokens, at most 50 output tokens, free (a local model)",
            "total: 12 request(s), 204 input tokens, at least $0.015599; 3 request(s) have no price or no max_tokens",
            "not counted: judge calls (their prompts hold answers not given yet)",
        ]
    )
    result.stdout.no_fnmatch_line("*passed*")


def test_selection_applies_and_without_tiktoken_characters_are_counted(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)
    tokenizer.cache_clear()
    try:
        suite(pytester, llmops_server)
        result = pytester.runpytest("--llmops-estimate", "-k", "hello and gpt", "-p", "no:randomly")
    finally:
        tokenizer.cache_clear()
    assert result.ret == pytest.ExitCode.OK
    # 14 and 17 characters: 4 + 5 tokens, plus 4 a message.
    result.stdout.fnmatch_lines(
        [
            "no call was made; tokens counted with about 4 characters a token",
            "greeter@1.0.0 × openai:gpt-4o-mini: 1 request(s), 17 input tokens, at most $0.000063",
            "total: 1 request(s), 17 input tokens, at most $0.000063",
        ]
    )


def test_a_long_prompt_is_bounded_at_its_long_context_price() -> None:
    pytest.importorskip("genai_prices")
    prompt = RenderedPrompt(messages=(Message("user", "word " * 250_000),))
    spec = ProviderSpec(id="anthropic:claude-sonnet-4-5", max_tokens=1000)
    estimate = estimate_request(
        variant="v",
        case="c",
        rendered=prompt,
        spec=spec,
        prices=default_prices(),
        count=lambda t: len(t.split()),
    )
    assert estimate.input_tokens == 250_004
    # Above 200k input tokens: $6 / $22.50 per million, not $3 / $15.
    assert estimate.upper_cost_usd == pytest.approx(250_004 * 6 / 1e6 + 1000 * 22.5 / 1e6)
