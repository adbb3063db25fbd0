"""The OpenAI-compatible provider over real sockets: the wire format and every error class."""

from __future__ import annotations

import socket

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_CUSTOM_KEY, add_ini, write, write_prompt


def suite(pytester: pytest.Pytester, provider: str, cases: int = 2) -> None:
    write_prompt(pytester.path)
    body = f"prompt: greeter\nprovider:\n{provider}\ntests:\n"
    for i in range(cases):
        body += f"  - name: c{i}\n    vars: {{who: P{i}}}\n    assert: [{{type: icontains, value: hello}}]\n"
    write(pytester.path / "test_p.llmops.yaml", body)


def test_request_wire_format_and_usage(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUSTOM_LLM_KEY", FAKE_CUSTOM_KEY)
    llmops_server.reply("Hello!")
    suite(
        pytester,
        f"  id: openai:gpt-4.1-mini\n  base_url: {llmops_server.base_url}\n  api_key_env: CUSTOM_LLM_KEY\n"
        "  temperature: 0.7\n  seed: 7\n  params: {user: ci}",
        cases=1,
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1)
    sent = llmops_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {FAKE_CUSTOM_KEY}"
    assert sent.json == {
        "model": "gpt-4.1-mini",  # the provider's model wins over the prompt file's
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say hello to P0."},
        ],
        "temperature": 0.7,  # the provider's parameter overrides the prompt file's 0
        "seed": 7,
        "user": "ci",
    }
    # usage counted by the server reaches the summary
    result.stdout.fnmatch_lines(["*greeter@1.0.0 × openai:gpt-4.1-mini*1*100%*1.00*"])


def test_model_from_prompt_file_and_base_url_from_env(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", llmops_server.base_url)
    llmops_server.reply("Hello!")
    suite(pytester, "  - openai", cases=1)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert llmops_server.requests[0].json["model"] == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (
            lambda s: s.fail(500, message="upstream exploded", times=1),
            "*answered HTTP 500: upstream exploded*",
        ),
        (lambda s: s.fail(429, headers={"retry-after": "3"}, times=1), "*answered HTTP 429*"),
        (lambda s: s.fault("malformed_json", times=1), "*answered HTTP 200 with a body that is not JSON*"),
        (lambda s: s.fault("missing_choices", times=1), "*answered without `choices`*"),
        (lambda s: s.fault("empty_body", times=1), "*with a body that is not JSON: (empty body)*"),
        (
            lambda s: s.fault("reset", times=1),
            "*the connection to http://127.0.0.1:*/v1/chat/completions broke*",
        ),
    ],
    ids=["500", "429", "malformed-json", "missing-choices", "empty-body", "reset"],
)
def test_provider_errors_fail_only_that_case(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, script: object, expected: str
) -> None:
    script(llmops_server)  # type: ignore[operator]  # the first request gets the fault ...
    llmops_server.reply("Hello!")  # ... the next one a normal answer
    add_ini(pytester, "llmops_max_retries = 0")  # retries have their own tests
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*error: the case could not be scored*", f"*openai:gpt-4o-mini: {expected}"])
    assert "INTERNALERROR" not in result.stdout.str()


def test_401_without_key_says_the_variable_is_unset(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.fail(401, message="Incorrect API key provided")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}", cases=1)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*answered HTTP 401: Incorrect API key provided*(OPENAI_API_KEY is not set)"]
    )


def test_read_timeout(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    # The server never answers, so the deadline fires however loaded the machine is; a case that
    # had to get its answer within 0.5 s would fail on a busy machine.
    llmops_server.fault("hang", times=1)
    add_ini(pytester, "llmops_timeout = 0.5", "llmops_max_retries = 0")
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}", cases=1)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*timed out after 0.5 s waiting for the response from http://127.0.0.1:*/chat/completions*"]
    )


def test_refused_connection(pytester: pytest.Pytester) -> None:
    add_ini(pytester, "llmops_max_retries = 0")
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    suite(pytester, f"  id: openai:gpt-4o-mini\n  base_url: http://127.0.0.1:{port}/v1", cases=1)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*cannot connect to http://127.0.0.1:{port}/v1/chat/completions*"])
