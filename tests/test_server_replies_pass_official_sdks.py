"""The scripted server's new wire formats (Responses, Azure, Gemini, Bedrock, Ollama) pass the
official SDKs' strictest reading, plain, streamed and as errors, so the server and the providers
cannot drift from the real APIs together."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.session
import httpx
import ollama
import openai
import pytest
from botocore.validate import ParamValidator
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from pydantic import BaseModel, TypeAdapter

from pytest_llmops.providers.eventstream import iter_messages
from pytest_llmops.testing import ScriptedLLMServer, UsageOverride

BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


@pytest.fixture(scope="module")
def shared() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as server:
        yield server


@pytest.fixture
def server(shared: ScriptedLLMServer) -> Iterator[ScriptedLLMServer]:
    shared.reset()
    yield shared
    assert shared.errors == []


@pytest.fixture(scope="module")
def http(shared: ScriptedLLMServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared.root_url, timeout=5.0) as client:
        yield client


# -- OpenAI's Responses API -------------------------------------------------------------------


@pytest.fixture(scope="module")
def oai(shared: ScriptedLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=shared.base_url, api_key="sk-test-fake", max_retries=0, _strict_response_validation=True
    ) as client:
        yield client


def test_responses_plain_usage_and_length(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    server.reply("Hello there, friend!", usage=UsageOverride(input_tokens=40, cached_tokens=30))
    response = oai.responses.create(model="gpt-4o-mini", input="Hi", instructions="Be terse.")
    assert response.output_text == "Hello there, friend!"
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.input_tokens_details.cached_tokens) == (40, 30)
    cut = oai.responses.create(model="gpt-4o-mini", input="Hi", max_output_tokens=2)
    assert cut.status == "incomplete"
    assert cut.incomplete_details is not None and cut.incomplete_details.reason == "max_output_tokens"


def test_responses_stream_events(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    server.reply("One two three")
    kinds = []
    with oai.responses.stream(model="gpt-4o-mini", input=[{"role": "user", "content": "Hi"}]) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert final.output_text == "One two three"
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed"
    adapter: TypeAdapter[Any] = TypeAdapter(openai.types.responses.ResponseStreamEvent)
    events = _sse_events(server, oai)
    for event in events:
        adapter.validate_python(event, strict=False)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def _sse_events(server: ScriptedLLMServer, oai: openai.OpenAI) -> list[dict[str, Any]]:
    server.reply("One two three")
    raw = httpx.post(
        f"{server.base_url}/responses", json={"model": "m", "input": "Hi", "stream": True}, timeout=5
    ).text
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


def test_responses_errors_in_openai_shape(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    server.fail(429, message="slow down", endpoint="responses")
    with pytest.raises(openai.RateLimitError, match="slow down"):
        oai.responses.create(model="gpt-4o-mini", input="Hi")


def test_azure_deployment_and_v1_routes(server: ScriptedLLMServer) -> None:
    server.reply("Hello from Azure")
    with openai.AzureOpenAI(
        azure_endpoint=server.root_url,
        api_key="fake-azure",
        api_version="2024-10-21",
        max_retries=0,
        _strict_response_validation=True,
    ) as azure:
        reply = azure.chat.completions.create(
            model="my-deployment", messages=[{"role": "user", "content": "Hi"}]
        )
    assert reply.choices[0].message.content == "Hello from Azure"
    assert reply.model == "my-deployment"
    assert (
        server.requests[-1].path
        == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
    )
    assert server.requests[-1].headers["api-key"] == "fake-azure"
    with openai.OpenAI(
        base_url=f"{server.root_url}/openai/v1", api_key="x", max_retries=0, _strict_response_validation=True
    ) as v1:
        assert v1.chat.completions.create(model="dep", messages=[{"role": "user", "content": "Hi"}]).choices
    server.reset()
    server.fail(429, message="too many", endpoint="azure")
    with (
        pytest.raises(openai.RateLimitError, match="too many"),
        openai.AzureOpenAI(
            azure_endpoint=server.root_url, api_key="k", api_version="2024-10-21", max_retries=0
        ) as azure,
    ):
        azure.chat.completions.create(model="d", messages=[{"role": "user", "content": "Hi"}])


# -- Gemini -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gemini(shared: ScriptedLLMServer) -> Iterator[genai.Client]:
    options = genai_types.HttpOptions(base_url=shared.root_url, retry_options=None)
    client = genai.Client(api_key="fake-gemini", http_options=options)
    yield client
    client.close()


def test_gemini_generate_content_is_a_strictly_valid_response(
    server: ScriptedLLMServer, gemini: genai.Client, http: httpx.Client
) -> None:
    server.reply("Hello there, friend!", usage=UsageOverride(input_tokens=12, cached_tokens=4))
    config = genai_types.GenerateContentConfig(system_instruction="Be terse.", max_output_tokens=50)
    response = gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi", config=config)
    assert response.text == "Hello there, friend!"
    assert response.usage_metadata is not None
    assert response.usage_metadata.prompt_token_count == 12
    assert response.usage_metadata.cached_content_token_count == 4
    assert response.candidates and response.candidates[0].finish_reason == genai_types.FinishReason.STOP
    # The SDK's models forbid unknown keys: the raw body validates as it is.
    raw = http.post(
        "/v1beta/models/gemini-2.5-flash:generateContent", json={"contents": [{"parts": [{"text": "Hi"}]}]}
    ).json()
    genai_types.GenerateContentResponse.model_validate(raw)
    cut = gemini.models.generate_content(
        model="gemini-2.5-flash",
        contents="Hi",
        config=genai_types.GenerateContentConfig(max_output_tokens=2),
    )
    assert cut.candidates and cut.candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS


def test_gemini_stream_and_vertex_route(
    server: ScriptedLLMServer, gemini: genai.Client, http: httpx.Client
) -> None:
    server.reply("One two three")
    chunks = list(gemini.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
    assert "".join(c.text or "" for c in chunks) == "One two three"
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == genai_types.FinishReason.STOP
    raw = http.post(
        "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent",
        params={"alt": "sse"},
        json={"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
    ).content
    events = [block for block in raw.split(b"\r\n\r\n") if block]
    assert len(events) >= 2
    for event in events:
        genai_types.GenerateContentResponse.model_validate(json.loads(event.removeprefix(b"data: ")))


def test_gemini_errors_in_google_shape(server: ScriptedLLMServer, gemini: genai.Client) -> None:
    server.fail(429, message="quota", endpoint="gemini")
    with pytest.raises(genai_errors.ClientError) as info:
        gemini.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert (info.value.code, info.value.status, info.value.message) == (429, "RESOURCE_EXHAUSTED", "quota")


# -- Bedrock --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bedrock(shared: ScriptedLLMServer) -> Iterator[Any]:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=shared.root_url,
        region_name="us-east-1",
        aws_access_key_id="AKIAFAKESENTINEL0000",
        aws_secret_access_key="fake-aws-secret-sentinel-do-not-use",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    yield client
    client.close()


def _validate(value: Any, shape: Any) -> None:
    report = ParamValidator().validate(value, shape)
    assert not report.has_errors(), report.generate_report()


def test_bedrock_converse_matches_the_service_model(
    server: ScriptedLLMServer, bedrock: Any, http: httpx.Client
) -> None:
    server.reply(
        "Hello there, friend!",
        usage=UsageOverride(input_tokens=30, cached_tokens=10, cache_creation_tokens=5),
    )
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    reply = bedrock.converse(modelId=BEDROCK_MODEL, messages=messages, inferenceConfig={"maxTokens": 50})
    assert reply["output"]["message"]["content"] == [{"text": "Hello there, friend!"}]
    assert reply["stopReason"] == "end_turn"
    assert reply["usage"]["cacheReadInputTokens"] == 10 and reply["usage"]["cacheWriteInputTokens"] == 5
    assert server.requests[-1].path == "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
    # The body as sent, checked against the Converse output shape: no unknown key, nothing missing.
    model = botocore.session.Session().get_service_model("bedrock-runtime")
    raw = http.post(f"/model/{BEDROCK_MODEL}/converse", json={"messages": messages}).json()
    _validate(raw, model.operation_model("Converse").output_shape)


def test_bedrock_converse_stream_is_a_valid_event_stream(
    server: ScriptedLLMServer, bedrock: Any, http: httpx.Client
) -> None:
    server.reply("One two three")
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    events = list(bedrock.converse_stream(modelId=BEDROCK_MODEL, messages=messages)["stream"])
    kinds = [next(iter(event)) for event in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    assert (
        "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
        == "One two three"
    )
    stream_shape = (
        botocore.session.Session()
        .get_service_model("bedrock-runtime")
        .operation_model("ConverseStream")
        .output_shape.members["stream"]
    )
    for event in events:
        ((name, body),) = event.items()
        _validate(body, stream_shape.members[name])
    # Our own decoder reads the same bytes botocore did.
    raw = http.post(f"/model/{BEDROCK_MODEL}/converse-stream", json={"messages": messages}).content
    decoded = [m.headers[":event-type"] for m in iter_messages(raw)]
    assert decoded == kinds


def test_bedrock_errors_are_read_by_botocore(server: ScriptedLLMServer, bedrock: Any) -> None:
    server.fail(429, message="Too many requests", endpoint="bedrock")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        bedrock.converse(modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["Error"]["Message"] == "Too many requests"


# -- Ollama ---------------------------------------------------------------------------------------


def _known_fields(value: Any, model: type[BaseModel], where: str = "") -> None:
    """Every key of ``value`` is a field the SDK's model declares (its models ignore extras)."""
    assert isinstance(value, dict), where
    fields = {f.alias or name: f for name, f in model.model_fields.items()}
    for key, item in value.items():
        assert key in fields, f"{where}{key} is not a field of ollama's {model.__name__}"
        annotation = fields[key].annotation
        nested = next(
            (
                a
                for a in getattr(annotation, "__args__", (annotation,))
                if isinstance(a, type) and issubclass(a, BaseModel)
            ),
            None,
        )
        if nested is not None and isinstance(item, dict):
            _known_fields(item, nested, f"{where}{key}.")


def test_ollama_chat_plain_and_streamed(
    server: ScriptedLLMServer, http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    server.reply("Hello there, friend!")
    client = ollama.Client(host=server.root_url)
    request.addfinalizer(client._client.close)
    reply = client.chat(
        model="llama3.2", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 50}
    )
    assert reply.message.content == "Hello there, friend!"
    assert reply.done and reply.done_reason == "stop" and reply.prompt_eval_count and reply.eval_count == 5
    parts = list(client.chat(model="llama3.2", messages=[{"role": "user", "content": "Hi"}], stream=True))
    assert "".join(p.message.content or "" for p in parts) == "Hello there, friend!"
    assert parts[-1].done and not any(p.done for p in parts[:-1])
    raw = http.post("/api/chat", json={"model": "llama3.2", "messages": [{"role": "user", "content": "Hi"}]})
    assert raw.headers["content-type"] == "application/x-ndjson"
    for line in raw.text.splitlines():
        _known_fields(json.loads(line), ollama.ChatResponse)


def test_ollama_errors_in_its_shape(server: ScriptedLLMServer) -> None:
    server.fail(404, message="model 'nope' not found", endpoint="ollama")
    client = ollama.Client(host=server.root_url)
    with pytest.raises(ollama.ResponseError) as info, client._client:
        client.chat(model="nope", messages=[{"role": "user", "content": "Hi"}])
    assert (info.value.status_code, info.value.error) == (404, "model 'nope' not found")
