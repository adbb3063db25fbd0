"""Tests for the scripted OpenAI/Anthropic-compatible test server."""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from pytest_llmops.testing import (
    FAULTS,
    HUGE_REPLY_CHARS,
    MESSAGE_OVERHEAD_TOKENS,
    Rule,
    ScriptedLLMServer,
    UsageOverride,
    count_tokens,
    embed,
    tokenize,
)

USER_HELLO: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Hello there"}]
# "Hello there" is 2 tokens, plus the fixed per-message overhead.
HELLO_PROMPT_TOKENS = 2 + MESSAGE_OVERHEAD_TOKENS


# One server and one set of clients per module: SDK clients cost ~0.1 s each to
# build (TLS context), and reset() between tests is itself under test here.
@pytest.fixture(scope="module")
def shared_server() -> Iterator[ScriptedLLMServer]:
    with ScriptedLLMServer() as srv:
        yield srv


@pytest.fixture(autouse=True)
def server(shared_server: ScriptedLLMServer) -> Iterator[ScriptedLLMServer]:
    shared_server.reset()
    yield shared_server
    # Any server-side traceback means the server itself misbehaved.
    assert shared_server.errors == []


@pytest.fixture(scope="module")
def oai(shared_server: ScriptedLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=shared_server.base_url,
        api_key="sk-test-fake",
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def ant(shared_server: ScriptedLLMServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=shared_server.root_url,
        api_key="fake-anthropic-key",
        max_retries=0,
        _strict_response_validation=True,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def http(shared_server: ScriptedLLMServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=shared_server.root_url, timeout=5.0) as client:
        yield client


def chat_body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def messages_body(text: str = "Hello there", **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-haiku-4-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def sse_data(lines: list[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


# -- tokenizer and embeddings helpers ----------------------------------------


def test_tokenize_round_trips_and_counts() -> None:
    text = "Hello, world!  It's 42.\n"
    tokens = tokenize(text)
    assert "".join(tokens) == text
    assert tokens[:4] == ["Hello", ",", " world", "!"]
    assert count_tokens(text) == len(tokens) == 10
    assert count_tokens("") == 0


def test_embed_is_normalised_and_word_sensitive() -> None:
    vec = embed("The cat sat on the mat")
    assert len(vec) == 64
    assert math.isclose(sum(v * v for v in vec), 1.0)
    assert embed("The cat sat on the mat") == vec
    shared = cosine(vec, embed("a cat on a mat"))
    assert shared > 0.5
    assert shared > cosine(vec, embed("a cat")) > cosine(vec, embed("quantum chromodynamics lecture"))
    assert min(vec) >= 0.0  # unsigned counts: shared words only ever add similarity
    assert len(embed("x", 8)) == 8
    assert embed("") == [1.0] + [0.0] * 63


# -- OpenAI chat completions -------------------------------------------------


def test_openai_chat_default_reply_and_usage(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    resp = oai.chat.completions.create(model="gpt-4o-mini", messages=USER_HELLO)
    assert resp.choices[0].message.content == "OK"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.model == "gpt-4o-mini"
    assert resp.id.startswith("chatcmpl-")
    assert resp.system_fingerprint == "fp_scripted"
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (6, 1, 7)
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 0

    (req,) = server.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.headers["authorization"] == "Bearer sk-test-fake"
    assert req.json["messages"] == USER_HELLO
    assert json.loads(req.body) == req.json


def test_openai_stream_with_include_usage(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    reply = "The capital of France is Paris."
    server.reply(reply)
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER_HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(c.choices[0].delta.content or "" for c in content_chunks) == reply
    assert len(content_chunks) == count_tokens(reply) == 7
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-2].choices[0].finish_reason == "stop"
    final = chunks[-1]
    assert final.choices == []
    assert final.usage is not None
    assert final.usage.prompt_tokens == HELLO_PROMPT_TOKENS
    assert final.usage.completion_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1


def test_openai_stream_wire_format_ends_with_done(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["transfer-encoding"] == "chunked"
        data = sse_data(list(resp.iter_lines()))
    assert data[-1] == "[DONE]"
    assert json.loads(data[-2])["choices"][0]["finish_reason"] == "stop"
    assert "usage" not in json.loads(data[0])  # only sent with include_usage


def test_openai_logprobs_default_entries(oai: openai.OpenAI, server: ScriptedLLMServer) -> None:
    server.reply("Yes, it is.")
    resp = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER_HELLO,
        logprobs=True,
        top_logprobs=3,
    )
    logprobs = resp.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    entries = logprobs.content
    assert "".join(e.token for e in entries) == "Yes, it is."
    for entry in entries:
        assert -0.06 < entry.logprob < 0
        assert entry.bytes == list(entry.token.encode())
        assert len(entry.top_logprobs) == 3
        assert entry.top_logprobs[0].token == entry.token
        assert sum(math.exp(t.logprob) for t in entry.top_logprobs) < 1.0


def test_openai_scripted_logprobs_for_judge_scoring(oai: openai.OpenAI, server: ScriptedLLMServer) -> None:
    server.reply(logprobs={"4": -0.1, "5": -2.3, "3": -3.0})
    resp = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER_HELLO,
        logprobs=True,
        top_logprobs=5,
    )
    choice = resp.choices[0]
    assert choice.message.content == "4"  # most likely token is the reply
    assert choice.logprobs is not None and choice.logprobs.content is not None
    first = choice.logprobs.content[0]
    assert (first.token, first.logprob) == ("4", -0.1)
    top = {t.token: t.logprob for t in first.top_logprobs}
    assert top == {"4": -0.1, "5": -2.3, "3": -3.0}
    weights = {int(tok): math.exp(lp) for tok, lp in top.items()}
    score = sum(k * w for k, w in weights.items()) / sum(weights.values())
    assert score == pytest.approx(4.0478, abs=1e-3)

    # Without logprobs requested, none are returned (like the real API).
    plain = oai.chat.completions.create(model="gpt-4o-mini", messages=USER_HELLO)
    assert plain.choices[0].logprobs is None


def test_openai_logprobs_truncated_to_top_n_and_streamed(
    oai: openai.OpenAI, server: ScriptedLLMServer
) -> None:
    server.reply("4 stars", logprobs={"4": -0.2, "5": -1.9, "3": -2.5})
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=USER_HELLO,
            stream=True,
            logprobs=True,
            top_logprobs=2,
        )
    )
    entries = [
        e for c in chunks if c.choices and c.choices[0].logprobs for e in c.choices[0].logprobs.content or []
    ]
    assert [e.token for e in entries] == ["4", " stars"]
    assert [t.token for t in entries[0].top_logprobs] == ["4", "5"]


def test_openai_max_tokens_truncates_with_length(oai: openai.OpenAI, server: ScriptedLLMServer) -> None:
    server.reply("one two three four five")
    resp = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=USER_HELLO,
        max_completion_tokens=2,
    )
    assert resp.choices[0].message.content == "one two"
    assert resp.choices[0].finish_reason == "length"
    assert resp.usage is not None and resp.usage.completion_tokens == 2


def test_openai_n_choices(oai: openai.OpenAI, server: ScriptedLLMServer) -> None:
    server.reply("a b c")
    resp = oai.chat.completions.create(model="m", messages=USER_HELLO, n=3)
    assert [c.index for c in resp.choices] == [0, 1, 2]
    assert {c.message.content for c in resp.choices} == {"a b c"}
    assert resp.usage is not None and resp.usage.completion_tokens == 9


def test_unprefixed_chat_path_is_served(http: httpx.Client) -> None:
    resp = http.post("/chat/completions", json=chat_body())
    assert resp.status_code == 200
    assert resp.json()["choices"][0]["message"]["content"] == "OK"


# -- embeddings and models ---------------------------------------------------


def test_openai_embeddings_float(oai: openai.OpenAI, server: ScriptedLLMServer) -> None:
    texts = ["the cat sat on the mat", "a cat on a mat", "stock market crash"]
    resp = oai.embeddings.create(model="text-embedding-3-small", input=texts, encoding_format="float")
    vectors = [d.embedding for d in resp.data]
    assert [d.index for d in resp.data] == [0, 1, 2]
    assert vectors[0] == pytest.approx(embed(texts[0]))
    assert cosine(vectors[0], vectors[1]) > cosine(vectors[0], vectors[2])
    assert resp.model == "text-embedding-3-small"
    assert resp.usage.prompt_tokens == resp.usage.total_tokens == sum(count_tokens(t) for t in texts) == 14
    assert server.requests[0].path == "/v1/embeddings"


def test_openai_embeddings_base64_and_dimensions(server: ScriptedLLMServer, http: httpx.Client) -> None:
    # The SDK asks for base64 by default; strict validation rejects base64 strings
    # even against the real API, so decode through a default (non-strict) client.
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0) as client:
        resp = client.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert server.requests[-1].json["encoding_format"] == "base64"
    assert resp.data[0].embedding == pytest.approx(embed("hello world"), abs=1e-6)

    raw = http.post(
        "/embeddings", json={"model": "e", "input": "hi", "dimensions": 8, "encoding_format": "base64"}
    )
    decoded = struct.unpack("<8f", base64.b64decode(raw.json()["data"][0]["embedding"]))
    assert list(decoded) == pytest.approx(embed("hi", 8), abs=1e-6)


def test_models_list_openai_and_anthropic(oai: openai.OpenAI, ant: anthropic.Anthropic) -> None:
    assert [m.id for m in oai.models.list()] == ["gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5"]
    assert oai.models.retrieve("gpt-4o-mini").owned_by == "scripted"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("nope")
    assert [m.id for m in ant.models.list()] == ["gpt-4o-mini", "text-embedding-3-small", "claude-haiku-4-5"]


# -- Anthropic messages ------------------------------------------------------


def test_anthropic_messages_non_stream(server: ScriptedLLMServer, ant: anthropic.Anthropic) -> None:
    server.reply("Bonjour tout le monde")
    msg = ant.messages.create(
        model="claude-haiku-4-5",
        max_tokens=100,
        system="Answer in French.",
        messages=[{"role": "user", "content": "Hello there"}],
    )
    assert msg.content[0].type == "text"
    assert msg.content[0].text == "Bonjour tout le monde"
    assert msg.model == "claude-haiku-4-5"
    assert msg.stop_reason == "end_turn"
    assert msg.id.startswith("msg_")
    # system (4 tokens) and the user message (2 tokens) each pay the overhead.
    assert msg.usage.input_tokens == 4 + 2 + 2 * MESSAGE_OVERHEAD_TOKENS == 14
    assert msg.usage.output_tokens == 4
    assert (msg.usage.cache_read_input_tokens, msg.usage.cache_creation_input_tokens) == (0, 0)
    req = server.requests[0]
    assert req.path == "/v1/messages"
    # Newer SDKs send the key as a bearer token, older ones as x-api-key.
    assert "fake-anthropic-key" in req.headers.get("x-api-key", "") + req.headers.get("authorization", "")
    assert "anthropic-version" in req.headers
    assert req.json["system"] == "Answer in French."


def test_anthropic_stream_events_and_usage(server: ScriptedLLMServer, ant: anthropic.Anthropic) -> None:
    server.reply("Streaming works fine.")
    events = list(
        ant.messages.create(
            model="claude-haiku-4-5",
            max_tokens=100,
            messages=[{"role": "user", "content": "Hello there"}],
            stream=True,
        )
    )
    kinds = [e.type for e in events]
    n = count_tokens("Streaming works fine.")
    assert kinds == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * n,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]  # the SDK swallows "ping"

    with ant.messages.stream(
        model="claude-haiku-4-5", max_tokens=100, messages=[{"role": "user", "content": "Hello there"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Streaming works fine."
    assert final.usage.input_tokens == HELLO_PROMPT_TOKENS
    assert final.usage.output_tokens == n == 4
    assert final.stop_reason == "end_turn"


def test_anthropic_raw_stream_includes_ping(http: httpx.Client) -> None:
    with http.stream("POST", "/v1/messages", json=messages_body(stream=True)) as resp:
        events = [line[len("event: ") :] for line in resp.iter_lines() if line.startswith("event: ")]
    assert events[:3] == ["message_start", "content_block_start", "ping"]
    assert events[-1] == "message_stop"


def test_anthropic_max_tokens_maps_to_stop_reason(
    ant: anthropic.Anthropic, server: ScriptedLLMServer
) -> None:
    server.reply("one two three")
    msg = ant.messages.create(
        model="claude-haiku-4-5", max_tokens=1, messages=[{"role": "user", "content": "Hi"}]
    )
    assert msg.content[0].type == "text" and msg.content[0].text == "one"
    assert msg.stop_reason == "max_tokens"


def test_usage_override_and_cached_tokens(
    server: ScriptedLLMServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    server.reply(
        "hi",
        usage=UsageOverride(input_tokens=100, output_tokens=7, cached_tokens=60, cache_creation_tokens=10),
    )
    resp = oai.chat.completions.create(model="m", messages=USER_HELLO)
    assert resp.usage is not None
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens, resp.usage.total_tokens) == (100, 7, 107)
    assert resp.usage.prompt_tokens_details is not None
    assert resp.usage.prompt_tokens_details.cached_tokens == 60
    msg = ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    # Anthropic's input_tokens excludes cache reads and writes.
    assert (
        msg.usage.input_tokens,
        msg.usage.cache_read_input_tokens,
        msg.usage.cache_creation_input_tokens,
    ) == (
        30,
        60,
        10,
    )
    assert msg.usage.output_tokens == 7


def test_model_and_finish_reason_overrides(
    server: ScriptedLLMServer, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    server.reply("x", model="gpt-4o-2024-08-06", finish_reason="content_filter")
    resp = oai.chat.completions.create(model="gpt-4o", messages=USER_HELLO)
    assert (resp.model, resp.choices[0].finish_reason) == ("gpt-4o-2024-08-06", "content_filter")
    msg = ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert (msg.model, msg.stop_reason) == ("gpt-4o-2024-08-06", "refusal")


# -- rules -------------------------------------------------------------------


def test_rules_first_match_wins_and_regex_uses_last_user_message(
    server: ScriptedLLMServer, http: httpx.Client
) -> None:
    server.reply("Paris", match=r"(?i)capital of france")
    server.reply("generic", match=r"capital")
    server.reply("fallback")

    def ask(*messages: dict[str, str]) -> str:
        body = {"model": "m", "messages": list(messages)}
        return str(http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"])

    assert ask({"role": "user", "content": "What is the Capital of France?"}) == "Paris"
    assert ask({"role": "user", "content": "capital of Peru?"}) == "generic"
    # Only the LAST user message counts: not the system prompt, not earlier turns.
    assert (
        ask(
            {"role": "system", "content": "capital of france"},
            {"role": "user", "content": "capital of France"},
            {"role": "assistant", "content": "Paris"},
            {"role": "user", "content": "thanks"},
        )
        == "fallback"
    )
    # Content given as typed parts is searched too.
    body = {
        "model": "m",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "capital of France"}]}],
    }
    assert http.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]["content"] == "Paris"


def test_callable_match_and_reply(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply(lambda req: f"model was {req['model']}", match=lambda req: req.get("temperature") == 0)
    resp = http.post("/v1/chat/completions", json=chat_body(temperature=0))
    assert resp.json()["choices"][0]["message"]["content"] == "model was gpt-4o-mini"
    resp = http.post("/v1/chat/completions", json=chat_body(temperature=1))
    assert resp.json()["choices"][0]["message"]["content"] == "OK"


def test_times_then_fall_through(server: ScriptedLLMServer, http: httpx.Client) -> None:
    failing = server.fail(503, times=2)
    server.reply("recovered")
    statuses = [http.post("/v1/chat/completions", json=chat_body()).status_code for _ in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert server.uses(failing) == 2
    assert server.rules[0] is failing


def test_sdk_retries_through_scripted_failures(server: ScriptedLLMServer) -> None:
    # retry-after-ms keeps the SDK's backoff to 10 ms.
    server.fail(429, times=2, headers={"retry-after-ms": "10"})
    server.reply("third time lucky")
    with openai.OpenAI(
        base_url=server.base_url, api_key="sk-test-fake", max_retries=2, _strict_response_validation=True
    ) as client:
        resp = client.chat.completions.create(model="m", messages=USER_HELLO)
    assert resp.choices[0].message.content == "third time lucky"
    assert len(server.requests) == 3


def test_endpoint_filter(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply("from messages only", endpoint="messages")
    chat = http.post("/v1/chat/completions", json=chat_body()).json()
    assert chat["choices"][0]["message"]["content"] == "OK"
    msg = http.post("/v1/messages", json=messages_body()).json()
    assert msg["content"][0]["text"] == "from messages only"


def test_times_is_exact_under_concurrency(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply("limited", times=3, delay=0.05)  # delay keeps requests overlapping
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        text = http.post("/v1/chat/completions", json=chat_body()).json()["choices"][0]["message"]["content"]
        with lock:
            results.append(text)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(results) == ["OK"] * 7 + ["limited"] * 3


def test_reset_clears_rules_and_requests(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply("scripted")
    http.post("/v1/chat/completions", json=chat_body())
    server.reset()
    assert server.requests == [] and server.rules == ()
    assert (
        http.post("/v1/chat/completions", json=chat_body()).json()["choices"][0]["message"]["content"] == "OK"
    )


def test_delay_is_applied(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply("slow", delay=0.2)
    start = time.perf_counter()
    resp = http.post("/v1/chat/completions", json=chat_body())
    assert time.perf_counter() - start >= 0.2
    assert resp.json()["choices"][0]["message"]["content"] == "slow"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": 200},
        {"fault": "explode"},
        {"times": 0},
        {"delay": -1.0},
        {"finish_reason": "bored"},
        {"logprobs": {"a": 0.5}},
        {"match": "("},
    ],
)
def test_rule_validation(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Rule(**kwargs)


def test_raising_reply_callback_answers_500_and_is_recorded() -> None:
    with ScriptedLLMServer() as srv, httpx.Client(base_url=srv.root_url) as client:

        def boom(_: Any) -> str:
            raise RuntimeError("callback bug")

        srv.reply(boom)
        resp = client.post("/v1/chat/completions", json=chat_body())
        assert resp.status_code == 500
        assert "callback bug" in resp.json()["error"]["message"]
        assert len(srv.errors) == 1 and "RuntimeError" in srv.errors[0]


# -- error statuses ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exc", "etype", "code"),
    [
        (400, openai.BadRequestError, "invalid_request_error", None),
        (401, openai.AuthenticationError, "invalid_request_error", "invalid_api_key"),
        (404, openai.NotFoundError, "invalid_request_error", "not_found"),
        (429, openai.RateLimitError, "requests", "rate_limit_exceeded"),
        (500, openai.InternalServerError, "server_error", None),
        (503, openai.InternalServerError, "server_error", None),
    ],
)
def test_openai_error_shapes(
    server: ScriptedLLMServer,
    oai: openai.OpenAI,
    status: int,
    exc: type[openai.APIStatusError],
    etype: str,
    code: str | None,
) -> None:
    server.fail(status, message="scripted failure", headers={"retry-after": "1"})
    with pytest.raises(exc) as info:
        oai.chat.completions.create(model="m", messages=USER_HELLO)
    assert info.value.status_code == status
    assert info.value.body == {"message": "scripted failure", "type": etype, "param": None, "code": code}
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.response.headers["x-request-id"].startswith("req_")


@pytest.mark.parametrize(
    ("status", "exc", "etype"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (401, anthropic.AuthenticationError, "authentication_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.InternalServerError, "overloaded_error"),
    ],
)
def test_anthropic_error_shapes(
    server: ScriptedLLMServer,
    ant: anthropic.Anthropic,
    status: int,
    exc: type[anthropic.APIStatusError],
    etype: str,
) -> None:
    server.fail(status)
    with pytest.raises(exc) as info:
        ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])
    assert info.value.status_code == status
    body = info.value.body
    assert isinstance(body, dict)
    assert body["type"] == "error"
    assert body["error"] == {"type": etype, "message": f"Scripted error {status}"}
    assert body["request_id"].startswith("req_")


def test_error_type_override_and_raw_shape(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fail(400, message="context too long", error_type="context_length_exceeded")
    resp = http.post("/v1/messages", json=messages_body())
    assert resp.status_code == 400
    assert resp.json()["error"] == {"type": "context_length_exceeded", "message": "context too long"}


def test_bad_requests_are_rejected(http: httpx.Client) -> None:
    assert http.post("/v1/nope", json={}).status_code == 404
    bad_json = http.post(
        "/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    assert http.post("/v1/chat/completions", json={"model": "m"}).status_code == 400
    no_max = http.post("/v1/messages", json={"model": "c", "messages": []})
    assert no_max.status_code == 400
    assert no_max.json()["error"]["type"] == "invalid_request_error"


# -- faults ------------------------------------------------------------------


def test_fault_names_are_all_exercised() -> None:
    assert set(FAULTS) == {
        "malformed_json",
        "missing_choices",
        "empty_body",
        "reset",
        "hang",
        "truncated_stream",
        "endless_stream",
        "huge",
    }


def test_fault_malformed_json(server: ScriptedLLMServer, http: httpx.Client, oai: openai.OpenAI) -> None:
    server.fault("malformed_json")
    resp = http.post("/v1/chat/completions", json=chat_body())
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        resp.json()
    with pytest.raises(json.JSONDecodeError):
        list(oai.chat.completions.create(model="m", messages=USER_HELLO, stream=True))


def test_fault_missing_choices(
    server: ScriptedLLMServer, http: httpx.Client, oai: openai.OpenAI, ant: anthropic.Anthropic
) -> None:
    server.fault("missing_choices")
    body = http.post("/v1/chat/completions", json=chat_body()).json()
    assert "choices" not in body and body["object"] == "chat.completion"
    msg = http.post("/v1/messages", json=messages_body()).json()
    assert "content" not in msg and msg["type"] == "message"
    with pytest.raises(openai.APIResponseValidationError):
        oai.chat.completions.create(model="m", messages=USER_HELLO)
    with pytest.raises(anthropic.APIResponseValidationError):
        ant.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "Hi"}])


def test_fault_empty_body(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("empty_body")
    resp = http.post("/v1/chat/completions", json=chat_body())
    assert (resp.status_code, resp.content, resp.headers["content-length"]) == (200, b"", "0")


def test_fault_reset_then_server_keeps_serving(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("reset", times=1)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        http.post("/v1/chat/completions", json=chat_body())
    assert http.post("/v1/chat/completions", json=chat_body()).status_code == 200
    assert len(server.requests) == 2


def test_fault_reset_surfaces_as_sdk_connection_error(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    server.fault("reset")
    with pytest.raises(openai.APIConnectionError):
        oai.chat.completions.create(model="m", messages=USER_HELLO)


def test_fault_hang_times_out(server: ScriptedLLMServer) -> None:
    server.fault("hang")
    with httpx.Client(base_url=server.root_url, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
        client.post("/v1/chat/completions", json=chat_body())


def test_a_hang_holds_whatever_the_connection_descriptor(server: ScriptedLLMServer) -> None:
    # A long run in one process reaches descriptors above 1024, which select() cannot watch.
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 1400
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"the descriptor limit ({hard}) is below {wanted}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        server.fault("hang")
        with httpx.Client(base_url=server.root_url, timeout=0.2) as client, pytest.raises(httpx.ReadTimeout):
            client.post("/v1/chat/completions", json=chat_body())
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_hang_and_endless_stop_promptly_on_close() -> None:
    srv = ScriptedLLMServer().start()
    srv.fault("hang", match="hang")
    srv.fault("endless_stream", match="endless")
    outcome: list[BaseException | None] = []

    def hang_client() -> None:
        with httpx.Client(base_url=srv.root_url, timeout=10.0) as client:
            try:
                client.post("/v1/chat/completions", json=chat_body("hang"))
                outcome.append(None)
            except httpx.HTTPError as exc:
                outcome.append(exc)

    thread = threading.Thread(target=hang_client)
    thread.start()
    with (
        httpx.Client(base_url=srv.root_url, timeout=10.0) as client,
        client.stream("POST", "/v1/chat/completions", json=chat_body("endless", stream=True)) as resp,
    ):
        lines = resp.iter_lines()
        assert next(lines).startswith("data: ")
        deadline = time.monotonic() + 30
        while len(srv.requests) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert_returns(srv.close)  # a hanging and an endless handler do not hold it up
        with pytest.raises(httpx.RemoteProtocolError):
            for _ in lines:
                pass
    thread.join(5)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.RemoteProtocolError)
    assert srv.errors == []


def test_fault_truncated_stream_openai(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.reply("one two three four five six", match="full")
    server.fault("truncated_stream", text="one two three four five six")
    with http.stream("POST", "/v1/chat/completions", json=chat_body(stream=True)) as resp:
        data = sse_data(list(resp.iter_lines()))  # ends with a clean EOF
    assert "[DONE]" not in data
    chunks = [json.loads(d) for d in data]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "one two three"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_fault_truncated_non_stream_body(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("truncated_stream")
    with pytest.raises(httpx.RemoteProtocolError):
        http.post("/v1/chat/completions", json=chat_body())


def test_fault_truncated_stream_anthropic(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("truncated_stream", text="alpha beta gamma delta")
    with http.stream("POST", "/v1/messages", json=messages_body(stream=True)) as resp:
        lines = list(resp.iter_lines())
    events = [line[len("event: ") :] for line in lines if line.startswith("event: ")]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
    ]
    assert "message_stop" not in events


def test_fault_endless_stream_read_with_deadline(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("endless_stream", text="tick tock", chunk_delay=0.01)
    received = 0
    with http.stream("POST", "/v1/chat/completions", json=chat_body()) as resp:
        for line in resp.iter_lines():
            if line.startswith("data: "):
                assert line != "data: [DONE]"
                received += 1
            if received == 50:  # far past the two words of the reply: it never ends by itself
                break
    assert received == 50
    # The handler notices the disconnect on its next write and exits quietly.


def test_fault_huge(server: ScriptedLLMServer, oai: openai.OpenAI) -> None:
    server.fault("huge")
    resp = oai.chat.completions.create(model="m", messages=USER_HELLO, max_tokens=5)
    content = resp.choices[0].message.content
    assert content is not None and len(content) == HUGE_REPLY_CHARS
    streamed = oai.chat.completions.create(model="m", messages=USER_HELLO, stream=True)
    assert sum(len(c.choices[0].delta.content or "") for c in streamed if c.choices) == HUGE_REPLY_CHARS


def test_fault_applies_to_embeddings(server: ScriptedLLMServer, http: httpx.Client) -> None:
    server.fault("missing_choices", endpoint="embeddings")
    body = http.post("/v1/embeddings", json={"model": "e", "input": "x"}).json()
    assert "data" not in body and body["object"] == "list"


# -- lifecycle ---------------------------------------------------------------


def test_keep_alive_serves_many_requests_on_one_connection(
    server: ScriptedLLMServer, http: httpx.Client
) -> None:
    # The first request may open a new connection (an earlier test's fault can close the pooled one).
    http.post("/v1/chat/completions", json=chat_body())
    for _ in range(25):
        assert http.post("/v1/chat/completions", json=chat_body()).status_code == 200
    connections = [r.connection for r in server.requests]
    assert len(connections) == 26
    assert connections[0] >= 1
    assert set(connections) == {connections[0]}  # one kept-alive connection carried all 26


def test_new_clients_open_new_connections(server: ScriptedLLMServer) -> None:
    for _ in range(2):
        with httpx.Client(base_url=server.root_url) as client:
            client.post("/v1/chat/completions", json=chat_body())
            client.post("/v1/chat/completions", json=chat_body())
    first, second, third, fourth = (r.connection for r in server.requests)
    assert first == second < third == fourth


def test_handler_disables_nagle() -> None:
    # With Nagle and delayed ACKs every small write of a keep-alive response would wait ~40 ms.
    from pytest_llmops.testing.http import Handler

    assert Handler.disable_nagle_algorithm is True


def assert_returns(call: Any) -> Any:
    """``call()``'s result; it runs in a thread, so a hang fails the test instead of stalling it."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed back to the test's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(30)  # a liveness bound, far above any load: the check is that it returns at all
    assert not thread.is_alive(), "it did not return"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def test_lifecycle() -> None:
    srv = ScriptedLLMServer()
    with pytest.raises(RuntimeError):
        _ = srv.base_url

    def use_and_leave() -> httpx.Client:
        with srv:
            assert srv.base_url == f"http://127.0.0.1:{srv.port}/v1"
            assert srv.root_url == f"http://127.0.0.1:{srv.port}"
            # An idle keep-alive connection must not block leaving the block (close()).
            client = httpx.Client(base_url=srv.root_url)
            assert client.get("/v1/models").status_code == 200
        return client

    client = assert_returns(use_and_leave)
    with pytest.raises(httpx.ConnectError):
        client.get("/v1/models")
    client.close()
    srv.close()  # idempotent
    with pytest.raises(RuntimeError):
        srv.start()


# -- package layout ----------------------------------------------------------


def test_testing_package_exports_are_pinned() -> None:
    import pytest_llmops.testing as testing

    assert sorted(testing.__all__) == [
        "DEFAULT_MODELS",
        "DEFAULT_REPLY",
        "EMBEDDING_DIMENSIONS",
        "Endpoint",
        "FAULTS",
        "Fault",
        "HUGE_REPLY_CHARS",
        "MESSAGE_OVERHEAD_TOKENS",
        "Matcher",
        "RecordedRequest",
        "ReplyFn",
        "Rule",
        "ScriptedLLMServer",
        "ScriptedToolCall",
        "TokenLogprob",
        "UsageOverride",
        "count_tokens",
        "embed",
        "tokenize",
    ]
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name


def test_every_testing_module_has_a_docstring_and_a_resolvable_all() -> None:
    import importlib
    import pkgutil

    import pytest_llmops.testing as testing

    for info in pkgutil.iter_modules(testing.__path__):
        module = importlib.import_module(f"pytest_llmops.testing.{info.name}")
        assert module.__doc__, info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_each_registered_wire_format_is_an_endpoint_a_rule_can_name() -> None:
    from typing import get_args

    from pytest_llmops.testing import Endpoint
    from pytest_llmops.testing.formats import WIRE_FORMATS

    assert sorted(fmt.endpoint for fmt in WIRE_FORMATS) == sorted(get_args(Endpoint))
