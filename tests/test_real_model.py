"""A real model end to end: record against llama.cpp serving a tiny Llama, replay offline.

The model is `stories260K.gguf` (a 260K-parameter Llama that writes children's stories), served
by `llama-cpp-python[server]` on 127.0.0.1. Tokens and usage come from real inference. Skipped
when the server package is not installed; `tox -e real-model` (or `LLMOPS_REAL_MODEL=1 .ci/run`)
installs it and runs this file. llama.cpp's own `llama-server` (built from the same sdist by
`.ci/build-llama-server`, named by LLMOPS_LLAMA_SERVER) also serves Anthropic's Messages API and
OpenAI's Responses API: the same suite runs through `openai:`, `anthropic:` and `openai-responses:`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from .helpers import write, write_prompt

MODEL_CANDIDATES = [
    os.environ.get("LLMOPS_GGUF", ""),
    str(Path(__file__).resolve().parents[2] / "shared" / "peers" / "stories260K.gguf"),
]


def _model() -> Path:
    for candidate in MODEL_CANDIDATES:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("stories260K.gguf not found: set LLMOPS_GGUF to its path")


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    pytest.importorskip(
        "llama_cpp.server", reason="llama-cpp-python[server] is not installed (tox -e real-model)"
    )
    model = _model()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", "stories260k",
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("stream", [False, True])
def test_record_against_a_real_model_then_replay_offline(
    pytester: pytest.Pytester, llama_server: str, stream: bool
) -> None:
    write_prompt(
        pytester.path, name="story", user="Once upon a time, {{ who }}", system=None, model="stories260k"
    )
    write(
        pytester.path / "test_story.llmops.yaml",
        f"""
        prompt: story
        provider:
          id: openai:stories260k
          base_url: {llama_server}
          max_tokens: 24
          seed: 42
          stream: {str(stream).lower()}
        tests:
          - name: tells_a_story
            vars: {{who: there was a little dog}}
            assert:
              - {{type: min-length, value: 1}}
              {"- {type: ttft, threshold: 60000}" if stream else "- {type: tokens, threshold: 2000}"}
        """,
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
    interaction = yaml.safe_load(cassette.read_text())["interactions"][0]
    body = interaction["response"]["body"]["string"]
    if not stream:
        usage = json.loads(body)["usage"]
        assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0  # real inference
    else:
        # llama.cpp's stream carries no usage: none is invented; time to first token is measured.
        assert "data:" in body
        assert (
            0
            < interaction["response"]["llmops"]["ttft_ms"]
            <= interaction["response"]["llmops"]["latency_ms"]
        )
    # Offline: the recording replays with the server's real answer.
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-concurrency=1", "--llmops-record-mode=none"
    )
    result.assert_outcomes(passed=1)


# -- llama.cpp's own server: openai:, anthropic: and openai-responses: ------------------------------


def _llama_server_binary() -> str:
    candidate = os.environ.get("LLMOPS_LLAMA_SERVER") or shutil.which("llama-server")
    if not candidate or not Path(candidate).is_file():
        pytest.skip("llama-server not found: build it with .ci/build-llama-server, set LLMOPS_LLAMA_SERVER")
    return candidate


@pytest.fixture(scope="module")
def llama_cpp_server() -> Iterator[str]:
    """llama.cpp's `llama-server`: /v1/chat/completions, /v1/messages and /v1/responses."""
    binary = _llama_server_binary()
    model = _model()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [
        binary, "--model", str(model), "--alias", "stories260k", "--host", "127.0.0.1",
        "--port", str(port), "--ctx-size", "512", "--threads", "2", "--no-webui",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"llama-server did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield root
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("kind", ["openai", "anthropic", "openai-responses"])
def test_llama_cpp_server_through_each_api(
    pytester: pytest.Pytester, llama_cpp_server: str, kind: str, stream: bool
) -> None:
    base_url = llama_cpp_server if kind == "anthropic" else f"{llama_cpp_server}/v1"
    write_prompt(
        pytester.path, name="story", user="Once upon a time, {{ who }}", system=None, model="stories260k"
    )
    write(
        pytester.path / "test_story.llmops.yaml",
        f"""
        prompt: story
        provider:
          id: {kind}:stories260k
          base_url: {base_url}
          max_tokens: 24
          temperature: 0
          stream: {str(stream).lower()}
          price: 0
        tests:
          - name: tells_a_story
            vars: {{who: there was a little dog}}
            assert:
              - {{type: min-length, value: 1}}
        """,
    )
    recorded = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=recorded.json")
    recorded.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "recorded.json").read_text())
    (case,) = report["cases"]
    assert case["output"].strip(), "real inference answered"
    assert case["cost_usd"] == 0.0 and case["price_source"] == "local model (price 0)"
    if not stream or kind != "openai":
        # Usage comes from real inference (llama.cpp's chat stream sends none without asking).
        assert case["tokens"]["input"] > 0 and case["tokens"]["output"] > 0, case["tokens"]
    if stream:
        (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
        facts = yaml.safe_load(cassette.read_text())["interactions"][0]["response"]["llmops"]
        assert 0 < facts["ttft_ms"] <= facts["latency_ms"]
    replayed = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--llmops-concurrency=1",
        "--llmops-record-mode=none",
        "--llmops-report=replayed.json",
    )
    replayed.assert_outcomes(passed=1)
    again = json.loads((pytester.path / "replayed.json").read_text())["cases"][0]
    assert (again["output"], again["tokens"]) == (case["output"], case["tokens"])
