"""Every common client is recorded into, and replayed from, the running case's cassette; a replay
never goes live, even with a different live server listening on the very port it recorded from.

One case per client (sync and async where the library has both, from a worker thread and from an
executor) records against the scripted server over real sockets. The server is then closed and
a server that answers every request with "LIVE" takes its port. The replay runs in record mode
``none``: no case sees "LIVE", the LIVE server gets no request, and every case's answer, tokens,
cost and latency equal the recording's to the last digit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_OPENAI_KEY, all_text_under, write

# boto3 speaks Bedrock, which the scripted server does not: a Bedrock `converse` endpoint of a few
# lines serves it (over a real loopback socket too).
CLIENT_APP = """
import asyncio, http.client, json, os, threading, urllib.request
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import aiohttp, boto3, httpx, openai, requests, urllib3
from google import genai
from google.genai import types as genai_types

URL = os.environ["APP_LLM_URL"]
KEY = os.environ.get("OPENAI_API_KEY", "")
HEADERS = {"content-type": "application/json", "authorization": "Bearer " + KEY}


def body(prompt):
    return {"model": "gpt-4o-mini", "messages": prompt.to_messages()}


def content(data):
    return data["choices"][0]["message"]["content"]


def with_httpx(prompt, vars):
    return content(httpx.post(URL + "/chat/completions", json=body(prompt), headers=HEADERS).json())


async def with_httpx_async(prompt, vars):
    async with httpx.AsyncClient() as client:
        response = await client.post(URL + "/chat/completions", json=body(prompt), headers=HEADERS)
    return content(response.json())


def with_requests(prompt, vars):
    with requests.Session() as session:
        return content(session.post(URL + "/chat/completions", json=body(prompt), headers=HEADERS).json())


def with_urllib3(prompt, vars):
    with urllib3.PoolManager() as pool:
        response = pool.request("POST", URL + "/chat/completions", body=json.dumps(body(prompt)), headers=HEADERS)
        return content(json.loads(response.data))


def with_http_client(prompt, vars):
    parts = urlsplit(URL)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", parts.path + "/chat/completions", json.dumps(body(prompt)), HEADERS)
        return content(json.loads(connection.getresponse().read()))
    finally:
        connection.close()


def with_urllib_request(prompt, vars):
    request = urllib.request.Request(
        URL + "/chat/completions", data=json.dumps(body(prompt)).encode(), headers=HEADERS
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return content(json.loads(response.read()))  # closes the connection


async def with_aiohttp(prompt, vars):
    async with aiohttp.ClientSession() as session:
        async with session.post(URL + "/chat/completions", json=body(prompt), headers=HEADERS) as response:
            return content(await response.json())


def with_boto3(prompt, vars):
    client = boto3.client("bedrock-runtime", endpoint_url=os.environ["APP_BEDROCK_URL"], region_name="us-east-1")
    try:
        answer = client.converse(
            modelId="anthropic.claude-3-haiku",
            messages=[{"role": "user", "content": [{"text": prompt.messages[-1].content}]}],
        )
    finally:
        client.close()  # its sockets, not the garbage collector's
    usage = answer["usage"]
    return {
        "text": answer["output"]["message"]["content"][0]["text"],
        "usage": {"input_tokens": usage["inputTokens"], "output_tokens": usage["outputTokens"]},
        "model": "claude-3-haiku",
    }


def _gemini():
    options = genai_types.HttpOptions(base_url=os.environ["APP_ROOT_URL"], retry_options=None)
    return genai.Client(api_key=os.environ.get("GEMINI_API_KEY") or "none", http_options=options)


def with_google_genai(prompt, vars):
    with _gemini() as client:
        return client.models.generate_content(model="gemini-2.5-flash", contents=prompt.messages[-1].content).text


async def with_google_genai_async(prompt, vars):
    # google-genai's async client goes through aiohttp when aiohttp is installed (it is here).
    async with _gemini().aio as client:
        answer = await client.models.generate_content(model="gemini-2.5-flash", contents=prompt.messages[-1].content)
    return answer.text


def _sdk(prompt):
    with openai.OpenAI(base_url=URL, api_key=KEY or "none", max_retries=0) as client:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=prompt.to_messages())
    return answer.choices[0].message.content


def with_openai(prompt, vars):
    return _sdk(prompt)


async def with_openai_async(prompt, vars):
    async with openai.AsyncOpenAI(base_url=URL, api_key=KEY or "none", max_retries=0) as client:
        answer = await client.chat.completions.create(model="gpt-4o-mini", messages=prompt.to_messages())
    return answer.choices[0].message.content


def with_openai_in_a_thread(prompt, vars):
    out = []
    thread = threading.Thread(target=lambda: out.append(_sdk(prompt)))
    thread.start()
    thread.join()
    return out[0]


def with_openai_in_an_executor(prompt, vars):
    with ThreadPoolExecutor(2) as pool:
        return pool.submit(_sdk, prompt).result()


def with_requests_in_a_thread(prompt, vars):
    out = []
    thread = threading.Thread(target=lambda: out.append(with_requests(prompt, vars)))
    thread.start()
    thread.join()
    return out[0]


async def with_aiohttp_in_an_executor(prompt, vars):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: asyncio.run(with_aiohttp(prompt, vars)))
"""

FUNCTIONS = (
    "with_httpx",
    "with_httpx_async",
    "with_requests",
    "with_urllib3",
    "with_http_client",
    "with_urllib_request",
    "with_aiohttp",
    "with_boto3",
    "with_openai",
    "with_openai_async",
    "with_google_genai",
    "with_google_genai_async",
    "with_openai_in_a_thread",
    "with_openai_in_an_executor",
    "with_requests_in_a_thread",
    "with_aiohttp_in_an_executor",
)

FIXTURE_TEST = """
import os
import openai, requests
import pytest

URL = os.environ["APP_LLM_URL"]


@pytest.mark.llmops(provider="openai:gpt-4o-mini")
def test_sdk_called_directly(llmops):
    # The test's own SDK and requests calls belong to the fixture's case: recorded, replayed.
    client = openai.OpenAI(base_url=URL, api_key=os.environ.get("OPENAI_API_KEY") or "none", max_retries=0)
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "direct"}])
    client.close()
    posted = requests.post(URL + "/chat/completions", json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "posted"}]})
    text = answer.choices[0].message.content + " | " + posted.json()["choices"][0]["message"]["content"]
    print("ANSWER:", text)
    assert "LIVE" not in text
    llmops.check(text, contains="recorded")
"""


def bedrock_reply(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 12, "outputTokens": 3, "totalTokens": 15},
        "metrics": {"latencyMs": 5},
    }


class _Answering(BaseHTTPRequestHandler):
    """Answers every POST as OpenAI chat and Bedrock converse both would, with ``server.answer``."""

    server: _AnsweringServer

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append(self.path)
        text = self.server.answer(payload)
        if "/converse" in self.path:
            data = bedrock_reply(text)
        else:
            data = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "gpt-4o-mini",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
            }
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _AnsweringServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, answer: Any) -> None:
        super().__init__(("127.0.0.1", port), _Answering)
        self.answer = answer
        self.requests: list[str] = []


@pytest.fixture
def answering() -> Iterator[Any]:
    """Starts loopback servers answering OpenAI chat and Bedrock converse; closes them all."""
    servers: list[_AnsweringServer] = []

    def start(port: int, answer: Any) -> _AnsweringServer:
        server = _AnsweringServer(port, answer)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _cases(report: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(report.read_text())
    return {case["id"]: case for case in data["cases"]}


def _facts(case: dict[str, Any]) -> tuple[Any, ...]:
    return (case["outcome"], case["output"], case["tokens"], case["cost_usd"], case["latency_ms"])


def _recorded_answer(request: dict[str, Any]) -> str:
    """``recorded: <the last user text>`` of an OpenAI chat or a Gemini ``generateContent`` body."""
    if "messages" in request:
        return "recorded: " + str(request["messages"][-1]["content"])
    return "recorded: " + str(request["contents"][-1]["parts"][0]["text"])


def test_every_client_records_and_replays_and_a_live_server_on_the_port_is_never_reached(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    answering: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE",
        "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-do-not-use",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(pytester.path))
    llmops_server.reply(_recorded_answer)
    bedrock = answering(0, lambda payload: "recorded: " + payload["messages"][-1]["content"][0]["text"])
    bedrock_port = bedrock.server_address[1]
    port = llmops_server.port
    monkeypatch.setenv("APP_LLM_URL", llmops_server.base_url)
    monkeypatch.setenv("APP_ROOT_URL", llmops_server.root_url)
    monkeypatch.setenv("APP_BEDROCK_URL", f"http://127.0.0.1:{bedrock_port}")
    write(pytester.path / "clientapp.py", CLIENT_APP)
    # google-genai's async client subclasses aiohttp's ClientSession, which newer aiohttp releases warn of.
    ini = pytester.path / "pytest.ini"
    ini.write_text(
        ini.read_text().replace(
            "filterwarnings = error",
            "filterwarnings =\n    error\n"
            "    ignore:Inheritance class AiohttpClientSession from ClientSession:DeprecationWarning",
        )
    )
    write(
        pytester.path / "test_clients.llmops.yaml",
        "provider:\n"
        + "".join(f"  - python:clientapp:{f}\n" for f in FUNCTIONS)
        + "tests:\n  - {name: hello, prompt: hi there, assert: [{type: contains, value: 'recorded: hi there'}]}\n",
    )
    write(pytester.path / "test_direct.py", FIXTURE_TEST)
    cases = len(FUNCTIONS) + 1

    recorded = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=record.json", "-s")
    recorded.assert_outcomes(passed=cases)
    # Each python: case wrote its own cassette (and so did the fixture's test).
    assert len(list((pytester.path / "cassettes").rglob("*.yaml"))) == cases
    assert len(llmops_server.requests) == len(FUNCTIONS) - 1 + 2  # boto3 went to Bedrock; 2 direct
    assert FAKE_OPENAI_KEY not in all_text_under(pytester.path)

    # A different server takes the same ports and answers "LIVE" to anything.
    llmops_server.close()
    bedrock.shutdown()
    bedrock.server_close()
    live = answering(port, lambda payload: "LIVE")
    live_bedrock = answering(bedrock_port, lambda payload: "LIVE")
    monkeypatch.delenv("OPENAI_API_KEY")  # CI replays without a key

    replayed = pytester.runpytest("--llmops-report=replay.json", "-s")
    replayed.assert_outcomes(passed=cases)
    assert "LIVE" not in replayed.stdout.str()
    assert live.requests == [] and live_bedrock.requests == []
    before, after = _cases(pytester.path / "record.json"), _cases(pytester.path / "replay.json")
    assert set(before) == set(after) and len(before) == cases
    for nodeid, case in after.items():
        # (The fixture's test checks the text it assembled itself; its calls replayed, see below.)
        assert case["replayed"] is True or nodeid.startswith("test_direct.py"), nodeid
        assert "LIVE" not in (case["output"] or ""), nodeid
        assert _facts(case) == _facts(before[nodeid]), nodeid
    # Usage the apps did not report came from the recorded responses: priced, not free.
    sdk = next(c for n, c in after.items() if n.endswith("python:clientapp:with_openai]"))
    assert sdk["tokens"]["input"] > 0 and sdk["cost_usd"] > 0
    replayed.stdout.fnmatch_lines(["*ANSWER: recorded: direct | recorded: posted"])
