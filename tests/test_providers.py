"""Anthropic, python: (an application under test), streaming, retries and fallbacks, end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from pytest_llmops.engine import calls
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_ANTHROPIC_KEY, FAKE_OPENAI_KEY, add_ini, all_text_under, write, write_prompt

DATA = Path(__file__).parent / "data"


def suite(pytester: pytest.Pytester, provider_yaml: str, *cases: tuple[str, str, str]) -> None:
    """A greeter suite; each case is (name, who, assertion-yaml)."""
    write_prompt(pytester.path)
    body = f"prompt: greeter\nprovider:\n{provider_yaml}\ntests:\n"
    for name, who, check in cases or (("c0", "Ada", "{type: icontains, value: hello}"),):
        body += f"  - name: {name}\n    vars: {{who: {who}}}\n    assert: [{check}]\n"
    write(pytester.path / "test_p.llmops.yaml", body)


def cassette(pytester: pytest.Pytester) -> dict[str, Any]:
    files = sorted((pytester.path / "cassettes").rglob("*.yaml"))
    assert files, "no cassette written"
    data: dict[str, Any] = yaml.safe_load(files[0].read_text())
    return data


# --- Anthropic ------------------------------------------------------------------------------


def test_anthropic_wire_format_usage_and_replay(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply("Hello, Ada!")
    suite(
        pytester,
        f"  id: anthropic:claude-sonnet-4-5\n  base_url: {llmops_server.root_url}\n  max_tokens: 200\n  stop: END",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1)
    sent = llmops_server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == FAKE_ANTHROPIC_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 200,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Say hello to Ada."}],
        "temperature": 0.0,
        "stop_sequences": ["END"],
    }
    assert FAKE_ANTHROPIC_KEY not in all_text_under(pytester.path)
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=1)


def test_anthropic_cache_read_tokens_count_as_cached_input(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    from pytest_llmops.testing import UsageOverride

    # 100 prompt tokens of which 90 read from the cache (the server reports input_tokens=10).
    llmops_server.reply("Hello!", usage=UsageOverride(input_tokens=100, output_tokens=3, cached_tokens=90))
    suite(pytester, f"  id: anthropic:claude-haiku-4-5\n  base_url: {llmops_server.root_url}")
    add_ini(pytester, "llmops_max_retries = 0")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1)
    # 103 tokens; cost at $1/M input, $0.10/M cache reads, $5/M output: 10 + 9 + 15 = $0.000034.
    result.stdout.fnmatch_lines(["*claude-haiku-4-5*103*0.000034*"])


def test_anthropic_overloaded_is_retried_then_reported(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.fail(529, message="Overloaded")
    add_ini(pytester, "llmops_max_retries = 2", "llmops_retry_backoff = 0.01")
    suite(pytester, f"  id: anthropic:claude-sonnet-4-5\n  base_url: {llmops_server.root_url}")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    assert len(llmops_server.requests) == 3
    result.stdout.fnmatch_lines(
        ["*anthropic:claude-sonnet-4-5: *answered HTTP 529: Overloaded (overloaded_error) (after 3 tries)"]
    )
    assert not (pytester.path / "cassettes").exists(), "failed tries are never recorded"


# --- streaming ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_streaming_assembles_text_usage_and_measures_ttft(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, kind: str
) -> None:
    llmops_server.reply("Hello there, Ada, nice to meet you!", delay=0.2, chunk_delay=0.02)
    base = llmops_server.base_url if kind == "openai" else llmops_server.root_url
    model = "gpt-4o-mini" if kind == "openai" else "claude-haiku-4-5"
    suite(
        pytester,
        f"  id: {kind}:{model}\n  base_url: {base}\n  stream: true",
        ("c0", "Ada", "{type: equals, value: 'Hello there, Ada, nice to meet you!'}"),
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    sent = llmops_server.requests[0].json
    assert sent["stream"] is True
    if kind == "openai":
        assert sent["stream_options"] == {"include_usage": True}
    facts = cassette(pytester)["interactions"][0]["response"]["llmops"]
    # time to first token: after the 0.2 s delay, well before the whole answer arrived
    assert 200 <= facts["ttft_ms"] < facts["latency_ms"]
    # Replays report what was measured live, and a ttft limit below it fails offline.
    llmops_server.close()
    test_file = pytester.path / "test_p.llmops.yaml"
    test_file.write_text(
        test_file.read_text().replace(
            "nice to meet you!'}]", "nice to meet you!'}, {type: ttft, threshold: 100}]"
        )
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [f"*time to first token {facts['ttft_ms']:.0f} ms > 100 ms (as recorded; replayed from a cassette)*"]
    )


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_truncated_stream_fails_with_a_clear_message(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, kind: str
) -> None:
    llmops_server.fault("truncated_stream", text="Hello there, this answer will be cut")
    base = llmops_server.base_url if kind == "openai" else llmops_server.root_url
    add_ini(pytester, "llmops_max_retries = 0")
    suite(pytester, f"  id: {kind}:some-model\n  base_url: {base}\n  stream: true")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the stream from http://127.0.0.1:*ended early*the answer is incomplete*"])


def test_endless_stream_is_cut_at_the_timeout(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    # The stream never ends, so the deadline always fires; 3 s leaves a loaded machine time to
    # deliver the first chunks, which the message reports as "still arriving".
    llmops_server.fault("endless_stream", chunk_delay=0.05)
    add_ini(pytester, "llmops_max_retries = 0", "llmops_timeout = 3")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n  stream: true")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*timed out after 3 s waiting for the response from *(the response was still arriving when its time ran out*"
        ]
    )


# --- retries and fallbacks ------------------------------------------------------------------


def test_429_honours_retry_after_then_succeeds(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.fail(429, headers={"retry-after": "0.5"}, times=1)
    llmops_server.reply("Hello!")
    add_ini(pytester, "llmops_retry_backoff = 0.01")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert [r.path for r in llmops_server.requests] == ["/v1/chat/completions"] * 2  # 429, then the answer
    assert len(cassette(pytester)["interactions"]) == 1, "the 429 is not recorded"


def test_retry_after_is_waited_for(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.fail(503, headers={"retry-after": "1"}, times=1)
    llmops_server.reply("Hello!")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}")
    waits: list[float] = []
    monkeypatch.setattr(calls.time, "sleep", waits.append)  # what was waited, not how long it took
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert waits == [1.0]


def test_client_errors_are_not_retried(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.fail(400, message="bad request")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(failed=1)
    assert len(llmops_server.requests) == 1


def test_case_timeout_bounds_the_retries(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.fail(503, headers={"retry-after": "5"})
    add_ini(pytester, "llmops_max_retries = 5", "llmops_case_timeout = 1")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no time left for a retry within llmops_case_timeout*"])
    assert len(llmops_server.requests) == 1  # a 5 s wait does not fit a 1 s case: no retry


def test_fallback_answers_and_replays(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.fail(503, match=lambda request: request.get("model") == "gpt-4.1")
    llmops_server.reply("Hello from the fallback!")
    add_ini(pytester, "llmops_max_retries = 1", "llmops_retry_backoff = 0.01")
    suite(
        pytester,
        f"  id: openai:gpt-4.1\n  base_url: {llmops_server.base_url}\n"
        f"  fallback:\n    - id: anthropic:claude-haiku-4-5\n      base_url: {llmops_server.root_url}",
    )
    result = pytester.runpytest("--llmops-record-mode=once", "--junitxml=out.xml")
    result.assert_outcomes(passed=1)
    assert [r.path for r in llmops_server.requests] == [
        "/v1/chat/completions",
        "/v1/chat/completions",
        "/v1/messages",
    ]
    llmops_server.close()
    # Offline, the unrecorded primary misses and the recorded fallback replays.
    pytester.runpytest().assert_outcomes(passed=1)


def test_every_provider_failing_lists_each(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.fail(500, message="primary down", match=lambda r: r.get("model") == "gpt-4.1")
    llmops_server.fail(502, message="fallback down")
    add_ini(pytester, "llmops_max_retries = 0")
    suite(
        pytester,
        f"  id: openai:gpt-4.1\n  base_url: {llmops_server.base_url}\n"
        f"  fallback: [{{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}]",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*every provider failed (the provider, then its fallbacks):",
            "*- openai:gpt-4.1: *HTTP 500: primary down*",
            "*- openai:gpt-4o-mini: *HTTP 502: fallback down*",
        ]
    )


# --- python: the application under test -----------------------------------------------------

APP = '''
import httpx, os

def answer(prompt, vars):
    """A tiny app: adds a house style, then calls an OpenAI-compatible API with httpx."""
    messages = [{"role": "system", "content": "House style: cheerful."}, *prompt.to_messages()]
    response = httpx.post(
        os.environ["APP_LLM_URL"] + "/chat/completions",
        json={"model": "gpt-4o-mini", "messages": messages},
        headers={"authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
    )
    response.raise_for_status()
    body = response.json()
    return {"text": body["choices"][0]["message"]["content"].upper(),
            "usage": body["usage"], "model": body["model"], "metadata": {"who": vars["who"]}}

async def answer_async(prompt, vars):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            os.environ["APP_LLM_URL"] + "/chat/completions",
            json={"model": "gpt-4o-mini", "messages": prompt.to_messages()},
        )
    return response.json()["choices"][0]["message"]["content"]

def plain(prompt, vars):
    return "hello " + vars["who"]

def one_arg(prompt):
    return "x"
'''


@pytest.mark.parametrize("function", ["answer", "answer_async"])
def test_python_provider_records_the_apps_http_calls_and_replays_offline(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
) -> None:
    llmops_server.reply("hello from the model")
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "myapp.py", APP)
    suite(pytester, f"  - python:myapp:{function}")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 1
    data = cassette(pytester)
    assert "hello from the model" in data["interactions"][0]["response"]["body"]["string"]
    assert FAKE_OPENAI_KEY not in all_text_under(pytester.path)
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=1)


def test_python_provider_in_none_mode_never_reaches_the_network(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "myapp.py", APP)
    suite(pytester, "  - python:myapp:answer")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no recording for this case*"])
    assert llmops_server.requests == []


def test_python_provider_plain_text(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # An app that calls no model says so with `allow_no_call` (see test_recording_clients.py for
    # the error without it).
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "myapp.py", APP)
    suite(
        pytester,
        "  - {id: python:myapp:plain, allow_no_call: true}",
        ("c0", "Ada", "{type: equals, value: hello Ada}"),
    )
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("python:nosuchmodule:f", "*cannot import module 'nosuchmodule'*pythonpath*"),
        ("python:myapp:answr", "*module 'myapp' has no function 'answr'. Did you mean 'answer'?*"),
        ("python:myapp:one_arg", "*myapp:one_arg must accept two arguments: (prompt, vars)*"),
        ("python:myapp", "*write `python:package.module:function`*"),
    ],
)
def test_python_provider_mistakes_are_collection_errors(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, target: str, message: str
) -> None:
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "myapp.py", APP)
    suite(pytester, f"  - {target}")
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"test_p.llmops.yaml:3: provider '{target}': {message.lstrip('*')}"])


# --- hooks ----------------------------------------------------------------------------------


def test_plugins_add_providers_through_the_hook(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from pytest_llmops.results import LLMResponse

        class Echo:
            def __init__(self, spec):
                self.spec = spec
            @property
            def id(self):
                return self.spec.display
            def complete(self, prompt, client):
                return LLMResponse(text=prompt.messages[-1].content, provider=self.id, model="echo")

        def pytest_llmops_register_providers(registry):
            registry.register("echo", Echo)
        """
    )
    suite(pytester, "  - echo:any", ("c0", "Ada", "{type: equals, value: Say hello to Ada.}"))
    pytester.runpytest().assert_outcomes(passed=1)


# --- the wire format against the published API specs ----------------------------------------


def _request_validator(spec_file: str, schema_name: str) -> jsonschema.protocols.Validator:
    spec = yaml.safe_load((DATA / spec_file).read_text())
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    return validator_class(schema)


@pytest.mark.parametrize("stream", [False, True])
def test_requests_match_the_openapi_specs(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, stream: bool
) -> None:
    llmops_server.reply("Hello!")
    write_prompt(pytester.path)
    flag = "\n    stream: true" if stream else ""
    write(
        pytester.path / "test_p.llmops.yaml",
        f"""
        prompt: greeter
        provider:
          - id: openai:gpt-4o-mini
            base_url: {llmops_server.base_url}
            max_tokens: 50
            stop: [END]
            seed: 1{flag.replace(chr(10) + "    ", chr(10) + "            ")}
          - id: anthropic:claude-haiku-4-5
            base_url: {llmops_server.root_url}
            stop: END{flag.replace(chr(10) + "    ", chr(10) + "            ")}
        tests:
          - {{name: c0, vars: {{who: Ada}}, assert: [{{type: icontains, value: hello}}]}}
        """,
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    openai_request = _request_validator("openai-chat-fixed.yaml", "CreateChatCompletionRequest")
    anthropic_request = _request_validator("anthropic-msg-fixed.yaml", "CreateMessageParams")
    for request in llmops_server.requests:
        validator = openai_request if request.path.endswith("/chat/completions") else anthropic_request
        errors = [e.message for e in validator.iter_errors(request.json)]
        assert errors == [], (request.path, errors)


SDK_APP = """
import os
import anthropic
import openai

# Each client is closed: a socket left to the garbage collector is reported in whichever test runs then.
def with_openai(prompt, vars):
    with openai.OpenAI(base_url=os.environ["APP_LLM_URL"], api_key=os.environ["OPENAI_API_KEY"], max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=prompt.to_messages())
    return {"text": completion.choices[0].message.content, "usage": completion.usage.model_dump(),
            "model": completion.model}

def with_anthropic(prompt, vars):
    with anthropic.Anthropic(base_url=os.environ["APP_ROOT_URL"], api_key=os.environ["ANTHROPIC_API_KEY"], max_retries=0) as client:
        message = client.messages.create(model="claude-haiku-4-5", max_tokens=100, system=prompt.system,
                                         messages=[m for m in prompt.to_messages() if m["role"] != "system"])
    return message.content[0].text
"""


@pytest.mark.parametrize("function", ["with_openai", "with_anthropic"])
def test_apps_using_the_official_sdks_record_and_replay(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
    function: str,
) -> None:
    pytest.importorskip("openai")
    pytest.importorskip("anthropic")
    llmops_server.reply("Hello from the SDK path")
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.setenv("APP_ROOT_URL", llmops_server.root_url)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "sdkapp.py", SDK_APP)
    suite(pytester, f"  - python:sdkapp:{function}")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 1
    written = all_text_under(pytester.path)
    assert FAKE_OPENAI_KEY not in written and FAKE_ANTHROPIC_KEY not in written
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=1)
