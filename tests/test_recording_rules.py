"""The rules around recording an application: what it must record, how it is priced and timed,
which case a call belongs to, what record mode ``none`` refuses, and where keys may go."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pytest_llmops.errors import NetworkRefusedError, UnattributedCallError
from pytest_llmops.prompts.render import RenderedPrompt
from pytest_llmops.providers.openai import OpenAIProvider
from pytest_llmops.recording import network, routing
from pytest_llmops.recording.cassette import CaseCassette
from pytest_llmops.recording.modes import RecordMode
from pytest_llmops.recording.transport import CassetteTransport
from pytest_llmops.results import Message
from pytest_llmops.spec.schema import ProviderSpec
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_CUSTOM_KEY, FAKE_OPENAI_KEY, USAGE, add_ini, write

APP = """
import os, time, httpx

URL = os.environ["APP_LLM_URL"]


def plain(prompt, vars):
    # Returns text only: its tokens must come from the recorded response.
    data = httpx.post(URL + "/chat/completions", json={"model": "gpt-4o-mini", "messages": prompt.to_messages()}).json()
    return data["choices"][0]["message"]["content"]


def no_model(prompt, vars):
    return "hello without a model"


def not_a_model(prompt, vars):
    # A call whose response says nothing about tokens: the cost is unknown, not zero.
    httpx.get(URL + "/models").raise_for_status()
    return "hello from a lookup"
"""


def project(
    pytester: pytest.Pytester,
    server: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    providers: str,
    checks: str,
) -> None:
    monkeypatch.setenv("APP_LLM_URL", server.base_url)
    monkeypatch.syspath_prepend(str(pytester.path))
    add_ini(pytester, "pythonpath = .")  # xdist workers import the app too
    write(pytester.path / "recapp.py", APP)
    write(
        pytester.path / "test_app.llmops.yaml",
        f"provider:\n{providers}tests:\n  - {{name: c, prompt: say hello, assert: [{checks}]}}\n",
    )


def test_a_python_case_that_recorded_nothing_is_an_error_unless_allowed(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(
        pytester,
        llmops_server,
        monkeypatch,
        "  - python:recapp:no_model\n  - {id: python:recapp:no_model, label: deliberate, allow_no_call: true}\n",
        "{type: icontains, value: hello}",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*python:recapp:no_model: the application made no model call that could be recorded. Recorded "
            "clients: httpx (sync and async; the OpenAI and Anthropic SDKs), requests, urllib3, http.client "
            "and urllib.request, aiohttp, botocore/boto3, from the case's thread*set `allow_no_call: true` on the provider.",
        ]
    )


def test_usage_comes_from_the_recording_and_unknown_usage_is_unpriced_never_free(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.reply("hello", usage=USAGE)
    project(
        pytester,
        llmops_server,
        monkeypatch,
        "  - python:recapp:plain\n  - python:recapp:not_a_model\n",
        "{type: cost, threshold: 0.01}",
    )
    add_ini(pytester, "llmops_max_cost = 1")
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    cases = {c["provider"]: c for c in json.loads((pytester.path / "report.json").read_text())["cases"]}
    plain = cases["python:recapp:plain"]
    # gpt-4o-mini: 1,000 input and 500 output tokens cost $0.00045, as the response said.
    assert plain["tokens"]["input"] == 1000 and plain["tokens"]["output"] == 500
    assert plain["cost_usd"] == pytest.approx(0.00045)
    unknown = cases["python:recapp:not_a_model"]
    assert unknown["cost_usd"] is None and unknown["unpriced"] is True
    # The cost assertion cannot pass on an unknown cost, and the cost gate fails closed.
    assert unknown["outcome"] == "failed"
    result.stdout.fnmatch_lines(["*cost unknown*"])
    assert result.ret != 0


def test_a_replayed_python_case_reports_the_recorded_latency_exactly(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    project(pytester, llmops_server, monkeypatch, "  - python:recapp:plain\n", "{type: icontains, value: ok}")
    write(
        pytester.path / "test_more.llmops.yaml",
        "provider: python:recapp:plain\ntests:\n"
        + "".join(
            f"  - {{name: m{i}, prompt: hi {i}, assert: [{{type: icontains, value: ok}}]}}\n"
            for i in range(3)
        ),
    )
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=record.json").assert_outcomes(passed=4)
    stored = sorted(
        yaml.safe_load(path.read_text())["interactions"][0]["response"]["llmops"]["call_latency_ms"]
        for path in (pytester.path / "cassettes").rglob("*.yaml")
    )

    def reported(name: str) -> list[float]:
        return sorted(c["latency_ms"] for c in json.loads((pytester.path / name).read_text())["cases"])

    def latencies(name: str, *args: str) -> list[float]:
        pytester.runpytest(f"--llmops-report={name}", *args).assert_outcomes(passed=4)
        return reported(name)

    # The call's whole time (the app's own included) is stored, and every replay reports it.
    assert reported("record.json") == stored
    assert latencies("a.json") == stored
    assert latencies("b.json") == stored
    assert latencies("c.json", "-n", "2") == stored


# --- which case a call belongs to ------------------------------------------------------------


def _transport(tmp_path: Path, name: str) -> CassetteTransport:
    return CassetteTransport(
        CaseCassette(tmp_path / f"{name}.yaml", RecordMode.NONE), lambda: httpx.HTTPTransport(), nodeid=name
    )


def test_a_call_from_no_case_while_several_run_fails_them_all_never_live(tmp_path: Path) -> None:
    first, second = _transport(tmp_path, "case-a"), _transport(tmp_path, "case-b")
    entered, done = threading.Barrier(3), threading.Event()

    def run(transport: CassetteTransport) -> None:
        with routing.patching(transport):
            assert routing.owner("httpx", "x") is transport  # its own context
            entered.wait(5)
            done.wait(5)

    threads = [threading.Thread(target=run, args=(t,)) for t in (first, second)]
    for thread in threads:
        thread.start()
    entered.wait(5)
    try:
        with pytest.raises(UnattributedCallError, match=r"outside any case's context while 2 cases ran"):
            routing.owner("requests", "http://127.0.0.1:1/v1/chat/completions")
    finally:
        done.set()
        for thread in threads:
            thread.join(5)
    assert first.failures and second.failures
    assert "Start the thread inside the case" in first.failures[0]


def test_in_a_serial_run_a_thread_started_before_the_case_belongs_to_the_one_case(tmp_path: Path) -> None:
    only = _transport(tmp_path, "only")
    go, found = threading.Event(), []
    worker = threading.Thread(target=lambda: (go.wait(5), found.append(routing.owner("httpx", "x"))))
    worker.start()  # before the case: no context of it
    with routing.patching(only):
        go.set()
        worker.join(5)
    assert found == [only]


# --- record mode none refuses loopback too -----------------------------------------------------


def test_none_mode_refuses_loopback_except_allowed_hosts() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        with (
            pytest.raises(NetworkRefusedError, match=rf"refused a connection to 127\.0\.0\.1:{port}"),
            network.guard(RecordMode.NONE),
        ):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        with network.allowed("127.0.0.1", port), network.guard(RecordMode.NONE):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        # Recording modes connect as usual.
        with network.guard(RecordMode.ONCE):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_allowed_hosts_ini_lets_a_python_test_reach_a_local_service(pytester: pytest.Pytester) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        write(
            pytester.path / "test_svc.py",
            f"""
            import socket

            def test_local_service(llmops):
                socket.create_connection(("127.0.0.1", {port}), timeout=1).close()
            """,
        )
        result = pytester.runpytest()
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*record mode 'none' refused a connection to 127.0.0.1:{port}*"])
        add_ini(pytester, f"llmops_allowed_hosts = 127.0.0.1:{port}")
        pytester.runpytest().assert_outcomes(passed=1)


# --- keys go only where they belong ------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "sent"),
    [
        ({"id": "openai:gpt-4o-mini"}, True),  # OpenAI's own endpoint
        ({"id": "openai:gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}, False),  # a local server
        ({"id": "openai:gpt-4o-mini", "base_url": "https://gateway.example/v1"}, False),
        (
            {
                "id": "openai:gpt-4o-mini",
                "base_url": "http://127.0.0.1:9/v1",
                "api_key_env": "OPENAI_API_KEY",
            },
            True,
        ),
    ],
)
def test_the_openai_key_goes_only_to_openai_or_where_api_key_env_says(
    provider: dict[str, Any], sent: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "model": "gpt-4o-mini",
                "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
            },
        )

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        OpenAIProvider(ProviderSpec(**provider)).complete(RenderedPrompt((Message("user", "hi"),)), client)
    header = seen[0].headers.get("authorization")
    assert header == (f"Bearer {FAKE_OPENAI_KEY}" if sent else None)


# --- redaction that keeps recordings replayable ------------------------------------------------

REDACT_APP = """
import os, httpx, requests

URL = os.environ["APP_LLM_URL"] + "/chat/completions"


def _key():
    return os.environ.get("CUSTOM_LLM_KEY", "")


def _send(prompt, *, params=None, headers=None, extra=None, use_requests=False):
    body = {"model": "gpt-4o-mini", "messages": prompt.to_messages(), **(extra or {})}
    if use_requests:
        data = requests.post(URL, params=params, headers=headers, json=body).json()
    else:
        data = httpx.post(URL, params=params, headers=headers, json=body).json()
    return data["choices"][0]["message"]["content"]


PLACES = {
    "query_subscription_key": dict(params={"subscription-key": None}),
    "query_auth": dict(params={"auth": None}),
    "query_x_api_key": dict(params={"x-api-key": None}),
    "query_key": dict(params={"key": None}),
    "query_unlisted_name": dict(params={"tenant": None}),
    "header_x_api_key": dict(headers={"x-api-key": None}),
    "header_api_key": dict(headers={"api-key": None}),
    "header_authorization": dict(headers={"authorization": "Bearer "}),
    "body_api_key": dict(extra={"api_key": None}),
    "body_nested_token": dict(extra={"auth": {"token": None}}),
    "body_unlisted_field": dict(extra={"client": None}),
    "requests_params": dict(params={"apiKey": None}, use_requests=True),
}


def _fill(value):
    if isinstance(value, dict):
        return {k: _fill(v) for k, v in value.items()}
    if value is None:
        return _key()
    if isinstance(value, str):
        return value + _key()
    return value


def make(name):
    def answer(prompt, vars):
        return _send(prompt, **{k: _fill(v) for k, v in PLACES[name].items()})
    return answer


for _name in PLACES:
    globals()[_name] = make(_name)
"""

PLACES = (
    "query_subscription_key",
    "query_auth",
    "query_x_api_key",
    "query_key",
    "query_unlisted_name",
    "header_x_api_key",
    "header_api_key",
    "header_authorization",
    "body_api_key",
    "body_nested_token",
    "body_unlisted_field",
    "requests_params",
)
#: Redacted by value only (their names say nothing): they need the key variable set on replay,
#: to any value (CI's placeholder), since an empty value cannot be told from a real change.
BY_VALUE_ONLY = {"query_unlisted_name", "body_unlisted_field"}


def test_a_key_anywhere_in_a_request_is_stored_redacted_and_the_recording_still_replays(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.setenv("CUSTOM_LLM_KEY", FAKE_CUSTOM_KEY)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "redactapp.py", REDACT_APP)
    write(
        pytester.path / "test_redact.llmops.yaml",
        "provider:\n"
        + "".join(f"  - {{id: 'python:redactapp:{p}', api_key_env: CUSTOM_LLM_KEY}}\n" for p in PLACES)
        + "tests:\n  - {name: r, prompt: hi, assert: [{type: icontains, value: ok}]}\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=len(PLACES))
    sent = "\n".join(r.path + json.dumps(r.headers) + r.body.decode() for r in llmops_server.requests)
    assert sent.count(FAKE_CUSTOM_KEY) >= len(PLACES)  # the key really went out, everywhere
    stored = "\n".join(p.read_text() for p in (pytester.path / "cassettes").rglob("*.yaml"))
    assert FAKE_CUSTOM_KEY not in stored
    llmops_server.close()
    # CI: another key (a placeholder) replays every recording ...
    monkeypatch.setenv("CUSTOM_LLM_KEY", "ci-placeholder-key")
    pytester.runpytest().assert_outcomes(passed=len(PLACES))
    # ... and with no key at all, all those whose key is found by its name.
    monkeypatch.delenv("CUSTOM_LLM_KEY")
    result = pytester.runpytest("-p", "no:randomly")
    result.assert_outcomes(passed=len(PLACES) - len(BY_VALUE_ONLY), failed=len(BY_VALUE_ONLY))
    for place in BY_VALUE_ONLY:
        result.stdout.fnmatch_lines([f"*python:redactapp:{place}*", "*no longer matches its recording*"])


def test_user_scrubbing_from_ini_and_the_hook_redacts_and_replays(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.reply("ok", headers={"x-request-id": "req-visible-7"})
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(
        pytester.path / "scrubapp.py",
        """
        import os, uuid, httpx

        def answer(prompt, vars):
            body = {"model": "gpt-4o-mini", "messages": prompt.to_messages(), "customer_email": str(uuid.uuid4()) + "@x.test"}
            url = os.environ["APP_LLM_URL"] + "/chat/completions"
            response = httpx.post(url, params={"session": uuid.uuid4().hex}, json=body)
            return response.json()["choices"][0]["message"]["content"]
        """,
    )
    pytester.makeconftest(
        """
        def pytest_llmops_configure_redaction(redaction):
            redaction.query_params.add("session")
            redaction.headers.add("X-Request-Id")
        """
    )
    add_ini(pytester, "llmops_redact_body = customer_email")
    write(
        pytester.path / "test_scrub.llmops.yaml",
        "provider: python:scrubapp:answer\ntests:\n  - {name: s, prompt: hi, assert: [{type: icontains, value: ok}]}\n",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    text = next((pytester.path / "cassettes").rglob("*.yaml")).read_text()
    interaction = yaml.safe_load(text)["interactions"][0]
    assert "session=REDACTED" in interaction["request"]["uri"]
    assert json.loads(interaction["request"]["body"])["customer_email"] == "REDACTED"
    assert interaction["response"]["headers"]["x-request-id"] == ["REDACTED"]
    assert "@x.test" not in text and "req-visible-7" not in text
    # Every run sends a new session and e-mail: the redacted form on both sides still matches.
    pytester.runpytest().assert_outcomes(passed=1)
