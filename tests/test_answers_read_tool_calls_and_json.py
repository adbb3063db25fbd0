"""Every provider reads tool calls and structured output into the response, plain and streamed.

Each reply body here is first validated by the official SDK's own types (so it is a body the
real API could send), then read by the provider's parser and by ``read_recorded`` (what the
prompt review reads old answers with).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import httpx
import openai.types.chat
import openai.types.responses
import pytest
from anthropic.types import Message as AnthropicMessage
from botocore.validate import ParamValidator
from google.genai import types as genai_types

from pytest_llmops.prompts.render import RenderedPrompt
from pytest_llmops.providers import anthropic, bedrock, google, ollama, responses
from pytest_llmops.providers import openai as openai_provider
from pytest_llmops.results import LLMResponse, Message, ToolCall
from pytest_llmops.spec.schema import ProviderSpec
from pytest_llmops.testing.wire_bedrock import encode_event

WEATHER = ToolCall("get_weather", '{"city": "Paris"}', {"city": "Paris"}, "call_1")


def _reply(body: Any) -> httpx.Response:
    return httpx.Response(200, json=body)


def _sse(*events: Any, named: bool = False) -> bytes:
    out = b""
    for event in events:
        prefix = f"event: {event['type']}\n" if named else ""
        out += f"{prefix}data: {json.dumps(event)}\n\n".encode()
    return out


def recorded_calls(response: LLMResponse | None) -> tuple[ToolCall, ...]:
    assert response is not None, "read_recorded could not read the body"
    return response.tool_calls


def _same_call(found: ToolCall, *, raw_equal: bool = False) -> None:
    assert (found.name, found.arguments, found.id) == (WEATHER.name, WEATHER.arguments, WEATHER.id)
    assert json.loads(found.raw_arguments) == {"city": "Paris"}
    if raw_equal:
        assert found.raw_arguments == WEATHER.raw_arguments


# -- OpenAI chat ----------------------------------------------------------------------------------

OPENAI_TOOL_CHUNKS = [
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": ""},
                        }
                    ],
                },
                "finish_reason": None,
            }
        ],
    },
    *(
        {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}}
            ],
        }
        for piece in ('{"city"', ': "Paris"}')
    ),
    {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
    },
]


def test_openai_stream_assembles_tool_calls() -> None:
    for chunk in OPENAI_TOOL_CHUNKS:
        openai.types.chat.ChatCompletionChunk.model_validate(chunk)
    body = _sse(*OPENAI_TOOL_CHUNKS) + b"data: [DONE]\n\n"
    response = openai_provider.parse_chat_stream(
        httpx.Response(200, content=body), provider="p", url="u", model="m"
    )
    (call,) = response.tool_calls
    _same_call(call, raw_equal=True)
    assert response.finish_reason == "tool_calls"
    assert recorded_calls(openai_provider.read_recorded(body)) == response.tool_calls


def test_openai_structured_output_is_parsed_when_asked_for() -> None:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": '{"answer": 42}'},
                "finish_reason": "stop",
            }
        ],
    }
    openai.types.chat.ChatCompletion.model_validate(body)
    asked = openai_provider.parse_chat_completion(
        body, _reply(body), provider="p", url="u", model="m", structured=True
    )
    assert asked.structured == {"answer": 42}
    plain = openai_provider.parse_chat_completion(body, _reply(body), provider="p", url="u", model="m")
    assert plain.structured is None, "without response_format the text is just text"
    assert openai_provider.wants_json(
        {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}
    )
    assert not openai_provider.wants_json({"response_format": {"type": "text"}})


# -- Anthropic ------------------------------------------------------------------------------------


def test_anthropic_stream_assembles_tool_use() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 1},
            },
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"city": '},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '"Paris"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 12, "cache_creation_input_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    body = _sse(*events, named=True)
    response = anthropic.parse_message_stream(
        httpx.Response(200, content=body), provider="p", url="u", model="m"
    )
    (call,) = response.tool_calls
    _same_call(call, raw_equal=True)
    assert response.usage.cache_write_tokens == 5
    assert recorded_calls(anthropic.read_recorded(body)) == response.tool_calls
    AnthropicMessage.model_validate({**events[0]["message"], "content": [events[1]["content_block"]]})


# -- OpenAI Responses -----------------------------------------------------------------------------

RESPONSE_WITH_CALL = {
    "id": "resp_1",
    "object": "response",
    "created_at": 1,
    "status": "completed",
    "model": "gpt-5-mini",
    "output": [
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
        }
    ],
    "parallel_tool_calls": True,
    "tool_choice": "auto",
    "tools": [],
    "usage": {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 0},
        "output_tokens": 7,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 27,
    },
}


def test_responses_function_calls_plain_and_streamed() -> None:
    openai.types.responses.Response.model_validate(RESPONSE_WITH_CALL)
    plain = responses.parse_response(
        RESPONSE_WITH_CALL, _reply(RESPONSE_WITH_CALL), provider="p", url="u", model="m"
    )
    (call,) = plain.tool_calls
    _same_call(call, raw_equal=True)
    assert (plain.finish_reason, plain.usage.input_tokens, plain.usage.cached_tokens) == ("tool_calls", 20, 5)
    events = [
        {
            "type": "response.created",
            "sequence_number": 0,
            "response": {**RESPONSE_WITH_CALL, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "sequence_number": 1,
            "output_index": 0,
            "item": {**RESPONSE_WITH_CALL["output"][0], "arguments": ""},
        },
        {
            "type": "response.function_call_arguments.delta",
            "sequence_number": 2,
            "item_id": "fc_1",
            "output_index": 0,
            "delta": '{"city": "Paris"}',
        },
        {"type": "response.completed", "sequence_number": 3, "response": RESPONSE_WITH_CALL},
    ]
    body = _sse(*events, named=True)
    streamed = responses.parse_response_stream(
        httpx.Response(200, content=body), provider="p", url="u", model="m"
    )
    assert streamed.tool_calls == plain.tool_calls
    assert (
        responses.read_recorded(body) is not None
        and responses.read_recorded(body).tool_calls == plain.tool_calls
    )  # type: ignore[union-attr]


def test_responses_request_maps_chat_parameters() -> None:
    spec = ProviderSpec(
        id="openai-responses:gpt-5-mini",
        max_tokens=100,
        seed=1,
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
    )
    prompt = RenderedPrompt(messages=(Message("system", "Be terse."), Message("user", "Hi")))
    body = responses.OpenAIResponsesProvider(spec).payload(prompt, "gpt-5-mini")
    assert body["instructions"] == "Be terse."
    assert body["input"] == [{"role": "user", "content": "Hi"}]
    assert body["max_output_tokens"] == 100 and "seed" not in body and "response_format" not in body
    assert body["text"] == {"format": {"type": "json_schema", "name": "a", "schema": {"type": "object"}}}


def test_a_failed_response_is_an_error_naming_its_code() -> None:
    failed = {**RESPONSE_WITH_CALL, "status": "failed", "error": {"code": "server_error", "message": "boom"}}
    with pytest.raises(Exception, match=r"failed response: boom \(server_error\)") as info:
        responses.parse_response(failed, _reply(failed), provider="p", url="u", model="m")
    assert getattr(info.value, "retryable", False)


# -- Gemini -----------------------------------------------------------------------------------------

GEMINI_CALL = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True},
                    {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 10,
        "candidatesTokenCount": 4,
        "thoughtsTokenCount": 6,
        "totalTokenCount": 20,
    },
    "modelVersion": "gemini-2.5-flash",
}


def test_gemini_function_calls_thoughts_and_json() -> None:
    genai_types.GenerateContentResponse.model_validate(GEMINI_CALL)
    response = google.parse_generate_content(
        GEMINI_CALL, _reply(GEMINI_CALL), provider="p", url="u", model="m"
    )
    (call,) = response.tool_calls
    _same_call(call)
    assert response.text == "", "thoughts are not the answer"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (10, 10), (
        "thinking is billed as output"
    )
    body = _sse(GEMINI_CALL)
    assert google.parse_generate_stream(
        httpx.Response(200, content=body), provider="p", url="u", model="m"
    ).tool_calls == (call,)
    json_reply = {
        **GEMINI_CALL,
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": '{"a": 1}'}]}, "finishReason": "STOP"}
        ],
    }
    genai_types.GenerateContentResponse.model_validate(json_reply)
    assert google.parse_generate_content(
        json_reply, _reply(json_reply), provider="p", url="u", model="m", structured=True
    ).structured == {"a": 1}


def test_gemini_request_maps_parameters_and_schema() -> None:
    spec = ProviderSpec(
        id="google:gemini-2.5-flash",
        temperature=0.2,
        max_tokens=50,
        stop="END",
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}},
        params={"generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}, "safetySettings": []},
    )
    prompt = RenderedPrompt(
        messages=(
            Message("system", "Terse."),
            Message("user", "Hi"),
            Message("assistant", "Yo"),
            Message("user", "Again"),
        )
    )
    body, wanted = google.gemini_payload(prompt, spec)
    assert wanted
    assert body["systemInstruction"] == {"parts": [{"text": "Terse."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"thinkingBudget": 0},
    }
    assert body["safetySettings"] == []
    genai_types.GenerateContentConfig.model_validate(body["generationConfig"])


def test_a_blocked_gemini_prompt_says_why() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "gemini-2.5-flash"}
    genai_types.GenerateContentResponse.model_validate(blocked)
    with pytest.raises(Exception, match=r"blocked the prompt \(SAFETY\)"):
        google.parse_generate_content(blocked, _reply(blocked), provider="p", url="u", model="m")


# -- Bedrock -----------------------------------------------------------------------------------------


def _bedrock_shape(operation: str) -> Any:
    return (
        botocore.session.Session()
        .get_service_model("bedrock-runtime")
        .operation_model(operation)
        .output_shape
    )


def test_bedrock_tool_use_plain_and_streamed() -> None:
    body = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}}
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": {
            "inputTokens": 3,
            "outputTokens": 5,
            "totalTokens": 18,
            "cacheReadInputTokens": 6,
            "cacheWriteInputTokens": 4,
        },
        "metrics": {"latencyMs": 10},
    }
    assert not ParamValidator().validate(body, _bedrock_shape("Converse")).has_errors()
    plain = bedrock.parse_converse(body, _reply(body), provider="p", url="u", model="m")
    (call,) = plain.tool_calls
    _same_call(call)
    assert (plain.usage.input_tokens, plain.usage.cached_tokens, plain.usage.cache_write_tokens) == (13, 6, 4)
    stream_events = [
        ("messageStart", {"role": "assistant"}),
        (
            "contentBlockStart",
            {"start": {"toolUse": {"toolUseId": "call_1", "name": "get_weather"}}, "contentBlockIndex": 0},
        ),
        ("contentBlockDelta", {"delta": {"toolUse": {"input": '{"city": '}}, "contentBlockIndex": 0}),
        ("contentBlockDelta", {"delta": {"toolUse": {"input": '"Paris"}'}}, "contentBlockIndex": 0}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        ("messageStop", {"stopReason": "tool_use"}),
        ("metadata", {"usage": body["usage"], "metrics": {"latencyMs": 10}}),
    ]
    shapes = _bedrock_shape("ConverseStream").members["stream"].members
    for name, event in stream_events:
        assert not ParamValidator().validate(event, shapes[name]).has_errors(), name
    raw = b"".join(
        encode_event(
            {":event-type": name, ":content-type": "application/json", ":message-type": "event"},
            json.dumps(e).encode(),
        )
        for name, e in stream_events
    )
    streamed = bedrock.parse_converse_stream(
        httpx.Response(200, content=raw), provider="p", url="u", model="m"
    )
    _same_call(streamed.tool_calls[0], raw_equal=True)
    assert streamed.usage == plain.usage
    assert recorded_calls(bedrock.read_recorded(raw)) == streamed.tool_calls


def test_the_event_stream_decoder_agrees_with_botocore() -> None:
    from botocore.eventstream import EventStreamBuffer

    raw = encode_event({":event-type": "messageStart", ":message-type": "event"}, b'{"role": "assistant"}')
    raw += encode_event(
        {":message-type": "exception", ":exception-type": "throttlingException"}, b'{"message": "slow"}'
    )
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    theirs = [(m.headers, m.payload) for m in buffer]
    from pytest_llmops.providers.eventstream import iter_messages

    ours = [(m.headers, m.payload) for m in iter_messages(raw)]
    assert ours == theirs
    with pytest.raises(Exception, match=r"sent an error in the stream: slow \(throttlingException\)") as info:
        bedrock.parse_converse_stream(httpx.Response(200, content=raw), provider="p", url="u", model="m")
    assert getattr(info.value, "status", None) == 429
    corrupted = raw[:-1] + bytes([raw[-1] ^ 1])
    assert bedrock.read_recorded(corrupted) is None


# -- Ollama --------------------------------------------------------------------------------------------


def test_ollama_tool_calls_and_format() -> None:
    import ollama as ollama_sdk

    body = {
        "model": "llama3.2",
        "created_at": "2026-01-01T00:00:00Z",
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
            ],
        },
        "done": True,
        "done_reason": "stop",
        "prompt_eval_count": 12,
        "eval_count": 8,
    }
    ollama_sdk.ChatResponse.model_validate(body)
    response = ollama.parse_chat(body, _reply(body), provider="p", url="u", model="m")
    _same_call(response.tool_calls[0])
    assert (response.finish_reason, response.usage.input_tokens, response.usage.output_tokens) == (
        "tool_calls",
        12,
        8,
    )
    spec = ProviderSpec(
        id="ollama:llama3.2",
        max_tokens=20,
        response_format={"type": "json_object"},
        params={"keep_alive": "5m"},
    )
    payload, wanted = ollama.ollama_payload(
        RenderedPrompt(messages=(Message("user", "Hi"),)), spec, "llama3.2"
    )
    assert wanted and payload["format"] == "json" and payload["options"] == {"num_predict": 20}
    assert payload["stream"] is False and payload["keep_alive"] == "5m"
    lines = b"".join(
        (json.dumps(line) + "\n").encode()
        for line in (
            {
                "model": "llama3.2",
                "created_at": "t",
                "message": {"role": "assistant", "content": '{"a"'},
                "done": False,
            },
            {
                "model": "llama3.2",
                "created_at": "t",
                "message": {"role": "assistant", "content": ": 1}"},
                "done": False,
            },
            {
                "model": "llama3.2",
                "created_at": "t",
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 3,
                "eval_count": 2,
            },
        )
    )
    streamed = ollama.parse_chat_stream(
        httpx.Response(200, content=lines), provider="p", url="u", model="m", structured=True
    )
    assert streamed.structured == {"a": 1}
    assert isinstance(ollama.read_recorded(lines), LLMResponse)


JSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}


@pytest.mark.parametrize(
    ("provider", "extra"),
    [
        ("openai:gpt-4o-mini", {"response_format": JSON_FORMAT}),
        ("azure:my-deployment", {"response_format": JSON_FORMAT}),
        ("openai-responses:gpt-4o-mini", {"response_format": JSON_FORMAT}),
        ("google:gemini-2.5-flash", {"response_format": JSON_FORMAT}),
        ("ollama:llama3.2", {"response_format": {"type": "json_object"}}),
        (
            "anthropic:claude-haiku-4-5",
            {"params": {"output_format": {"type": "json_schema", "schema": {"type": "object"}}}},
        ),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_structured_output_through_each_provider(
    llmops_server: Any, provider: str, extra: dict[str, Any], stream: bool
) -> None:
    from pytest_llmops.providers import default_providers

    llmops_server.reply('{"answer": 42}')
    kind = provider.split(":")[0]
    base = llmops_server.base_url if kind in ("openai", "openai-responses") else llmops_server.root_url
    spec = ProviderSpec(id=provider, base_url=base, stream=stream, **extra)
    with httpx.Client() as client:
        response = (
            default_providers()
            .create(spec)
            .complete(RenderedPrompt(messages=(Message("user", "Hi"),)), client)
        )
    assert response.text == '{"answer": 42}'
    assert response.structured == {"answer": 42}
