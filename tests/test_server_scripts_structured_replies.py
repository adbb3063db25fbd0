"""The scripted server answers with tool calls, every token's log-probabilities and a chosen finish.

Checked through the official SDKs (strict response validation) and through the plugin's own
providers, so a judge test that scripts a forced tool call or a split score token sees exactly
what a real API would send.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from pytest_llmops.prompts import RenderedPrompt
from pytest_llmops.providers.anthropic import AnthropicProvider
from pytest_llmops.providers.openai import OpenAIProvider
from pytest_llmops.results import Message
from pytest_llmops.spec.schema import ProviderSpec
from pytest_llmops.testing import ScriptedLLMServer, ScriptedToolCall, TokenLogprob

VERDICT = {"reason": "polite", "score": 0.9, "verdict": "pass"}


@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def server(shared_server: ScriptedLLMServer) -> Iterator[ScriptedLLMServer]:
    shared_server.reset()
    yield shared_server
    assert shared_server.errors == []


def oai(server: ScriptedLLMServer) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=server.base_url, api_key="sk-test-fake", max_retries=0, _strict_response_validation=True
    )


def ant(server: ScriptedLLMServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=server.root_url,
        api_key="fake-anthropic-key",
        max_retries=0,
        _strict_response_validation=True,
    )


def test_openai_tool_call_reply_plain_and_streamed(server: ScriptedLLMServer) -> None:
    server.reply(tool_calls=[ScriptedToolCall("record_verdict", VERDICT)])
    with oai(server) as client:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
        )
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        assert choice.message.tool_calls is not None
        function = choice.message.tool_calls[0].function  # type: ignore[union-attr]
        assert function.name == "record_verdict" and json.loads(function.arguments) == VERDICT
        chunks = list(
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
        )
    deltas = [c.choices[0].delta.tool_calls for c in chunks if c.choices and c.choices[0].delta.tool_calls]
    assert len(deltas) == 1 and json.loads(deltas[0][0].function.arguments) == VERDICT  # type: ignore[union-attr, arg-type]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_anthropic_tool_use_reply_plain_and_streamed(server: ScriptedLLMServer) -> None:
    server.reply(
        "Let me record it.", tool_calls=lambda body: [ScriptedToolCall(body["tools"][0]["name"], VERDICT)]
    )
    tools: Any = [{"name": "record_verdict", "input_schema": {"type": "object"}}]
    with ant(server) as client:
        message = client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "Hi"}],
            tools=tools,
        )
        assert message.stop_reason == "tool_use"
        text, tool = message.content
        assert text.type == "text" and text.text == "Let me record it."
        assert tool.type == "tool_use" and tool.name == "record_verdict" and tool.input == VERDICT
        with client.messages.stream(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "Hi"}],
            tools=tools,
        ) as stream:
            final = stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[1].input == VERDICT  # type: ignore[union-attr]


def test_a_chosen_finish_reason_wins_over_the_tool_call_default(server: ScriptedLLMServer) -> None:
    server.reply('{"verdict": "pa', finish_reason="length", times=1)
    server.reply(tool_calls=[ScriptedToolCall("record_verdict", '{"verdict": ')], finish_reason="length")
    with httpx.Client(base_url=server.base_url) as http:
        body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        first = http.post("/chat/completions", json=body).json()["choices"][0]
        assert (first["finish_reason"], first["message"]["content"]) == ("length", '{"verdict": "pa')
        second = http.post("/chat/completions", json=body).json()["choices"][0]
        assert second["finish_reason"] == "length"
        assert second["message"]["tool_calls"][0]["function"]["arguments"] == '{"verdict": '  # as written


def test_scripted_tokens_spell_the_reply_and_are_served_verbatim(server: ScriptedLLMServer) -> None:
    tokens = [
        TokenLogprob('{"score": '),
        TokenLogprob("1", math.log(0.9), {"1": math.log(0.9), "9": math.log(0.05), " 9": math.log(0.03)}),
        TokenLogprob("0", math.log(0.8), {"0": math.log(0.8), "}": math.log(0.2)}),
        TokenLogprob("}"),
    ]
    server.reply(tokens=tokens)
    with oai(server) as client:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], logprobs=True, top_logprobs=2
        )
    choice = reply.choices[0]
    assert choice.message.content == '{"score": 10}'
    assert choice.logprobs is not None and choice.logprobs.content is not None
    content = choice.logprobs.content
    assert [t.token for t in content] == ['{"score": ', "1", "0", "}"]
    assert [(t.token, round(math.exp(t.logprob), 2)) for t in content[1].top_logprobs] == [
        ("1", 0.9),
        ("9", 0.05),
    ]
    with pytest.raises(ValueError, match="cannot be combined with logprobs"):
        server.reply(tokens=tokens, logprobs={"1": -0.1})
    with pytest.raises(ValueError, match="must be <= 0"):
        server.reply(tokens=[TokenLogprob("x", 0.5)])


def test_the_plugins_providers_read_the_scripted_tool_calls(server: ScriptedLLMServer) -> None:
    server.reply(tool_calls=[ScriptedToolCall("record_verdict", VERDICT)])
    prompt = RenderedPrompt((Message("user", "Hi"),))
    with httpx.Client() as client:
        for provider in (
            OpenAIProvider(ProviderSpec(id="openai:gpt-4o-mini", base_url=server.base_url)),
            AnthropicProvider(ProviderSpec(id="anthropic:claude-haiku-4-5", base_url=server.root_url)),
        ):
            response = provider.complete(prompt, client)
            assert response.text == ""
            assert response.finish_reason in ("tool_calls", "tool_use")
            (call,) = response.tool_calls
            assert (call.name, call.arguments) == ("record_verdict", VERDICT)
