"""A real model end to end: record against llama.cpp serving a tiny Llama, replay offline.

The model is `stories260K.gguf` (a 260K-parameter Llama that writes children's stories), served
by `llama-cpp-python[server]` on 127.0.0.1. Tokens and usage come from real inference. Skipped
when the server package is not installed; `tox -e real-model` (or `LLMOPS_REAL_MODEL=1 .ci/run`)
installs it and runs this file.
"""

from __future__ import annotations

import json
import os
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
