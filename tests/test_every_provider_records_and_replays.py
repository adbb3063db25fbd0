"""Every HTTP provider records a suite against the scripted server and replays it offline:
plain and streamed, with its own route and credentials (never stored), retries on 429/5xx,
errors in its own shape, and a stream cut short failing as incomplete."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import (
    FAKE_AWS_ACCESS_KEY_ID,
    FAKE_AWS_SECRET,
    FAKE_AWS_SESSION_TOKEN,
    FAKE_AZURE_KEY,
    FAKE_BEDROCK_TOKEN,
    FAKE_CUSTOM_KEY,
    FAKE_GEMINI_KEY,
    FAKE_OPENAI_KEY,
    FAKE_VERTEX_TOKEN,
    PROVIDER_SENTINELS,
    add_ini,
    all_text_under,
    write,
    write_prompt,
)

BEDROCK_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


@dataclass(frozen=True)
class Kind:
    """One provider as a suite names it, where it is told to call, and what it must send."""

    name: str
    provider: str
    #: Extra YAML lines of the provider mapping (two-space indented), given the server.
    settings: Callable[[ScriptedLLMServer], str]
    #: Environment variables for the run (endpoints and fake credentials), given the server.
    env: Callable[[ScriptedLLMServer], dict[str, str]]
    #: The request path (with its query) a plain call goes to.
    path: str
    #: The request path of a streamed call.
    stream_path: str
    #: (header, value or prefix) the request must carry: the credential.
    credential: tuple[str, str]
    #: Text of the failure when the server answers 400 "bad prompt" (the provider's error shape).
    error_text: str = "HTTP 400: bad prompt"
    secrets: tuple[str, ...] = field(default=())


def _base(server: ScriptedLLMServer) -> str:
    return f"  base_url: {server.base_url}\n"


def _root(server: ScriptedLLMServer) -> str:
    return f"  base_url: {server.root_url}\n"


def _aws_env(server: ScriptedLLMServer) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": server.root_url,
        "AWS_ACCESS_KEY_ID": FAKE_AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": FAKE_AWS_SECRET,
        "AWS_SESSION_TOKEN": FAKE_AWS_SESSION_TOKEN,
        "AWS_REGION": "us-west-2",
    }


KINDS = [
    Kind(
        "azure",
        "azure:my-deployment",
        lambda s: "",
        lambda s: {"AZURE_OPENAI_ENDPOINT": s.root_url, "AZURE_OPENAI_API_KEY": FAKE_AZURE_KEY},
        "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21",
        "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21",
        ("api-key", FAKE_AZURE_KEY),
        "HTTP 400: bad prompt (invalid_request_error)",
        (FAKE_AZURE_KEY,),
    ),
    Kind(
        "azure-v1",
        "azure:my-deployment",
        lambda s: f"  base_url: {s.root_url}/openai/v1\n",
        lambda s: {"AZURE_OPENAI_API_KEY": FAKE_AZURE_KEY},
        "/openai/v1/chat/completions",
        "/openai/v1/chat/completions",
        ("api-key", FAKE_AZURE_KEY),
        "HTTP 400: bad prompt (invalid_request_error)",
        (FAKE_AZURE_KEY,),
    ),
    Kind(
        "openai-responses",
        "openai-responses:gpt-4o-mini",
        # A key goes to a base URL other than OpenAI's only when the suite names its variable.
        lambda s: f"{_base(s)}  api_key_env: OPENAI_API_KEY\n",
        lambda s: {"OPENAI_API_KEY": FAKE_OPENAI_KEY},
        "/v1/responses",
        "/v1/responses",
        ("authorization", f"Bearer {FAKE_OPENAI_KEY}"),
        "HTTP 400: bad prompt (invalid_request_error)",
        (FAKE_OPENAI_KEY,),
    ),
    Kind(
        "google",
        "google:gemini-2.5-flash",
        lambda s: "",
        lambda s: {"GOOGLE_GEMINI_BASE_URL": s.root_url, "GEMINI_API_KEY": FAKE_GEMINI_KEY},
        "/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        ("x-goog-api-key", FAKE_GEMINI_KEY),
        "HTTP 400: bad prompt (INVALID_ARGUMENT)",
        (FAKE_GEMINI_KEY,),
    ),
    Kind(
        "vertex",
        "vertex:gemini-2.5-flash",
        lambda s: f"{_root(s)}  project: my-project\n  location: europe-west4\n",
        lambda s: {"GOOGLE_OAUTH_ACCESS_TOKEN": FAKE_VERTEX_TOKEN},
        "/v1/projects/my-project/locations/europe-west4/publishers/google/models/gemini-2.5-flash:generateContent",
        "/v1/projects/my-project/locations/europe-west4/publishers/google/models/"
        "gemini-2.5-flash:streamGenerateContent?alt=sse",
        ("authorization", f"Bearer {FAKE_VERTEX_TOKEN}"),
        "HTTP 400: bad prompt (INVALID_ARGUMENT)",
        (FAKE_VERTEX_TOKEN,),
    ),
    Kind(
        "bedrock",
        f"bedrock:{BEDROCK_MODEL}",
        lambda s: "",
        _aws_env,
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        ("authorization", f"AWS4-HMAC-SHA256 Credential={FAKE_AWS_ACCESS_KEY_ID}/"),
        "HTTP 400: bad prompt (ValidationException)",
        (FAKE_AWS_SECRET, FAKE_AWS_SESSION_TOKEN),
    ),
    Kind(
        "bedrock-api-key",
        f"bedrock:{BEDROCK_MODEL}",
        _root,
        lambda s: {"AWS_BEARER_TOKEN_BEDROCK": FAKE_BEDROCK_TOKEN},
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse",
        "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse-stream",
        ("authorization", f"Bearer {FAKE_BEDROCK_TOKEN}"),
        "HTTP 400: bad prompt (ValidationException)",
        (FAKE_BEDROCK_TOKEN,),
    ),
    Kind(
        "ollama",
        "ollama:llama3.2",
        lambda s: "",
        lambda s: {"OLLAMA_HOST": f"127.0.0.1:{s.port}"},
        "/api/chat",
        "/api/chat",
        ("content-type", "application/json"),
        "HTTP 400: bad prompt",
    ),
    Kind(
        "openrouter",
        "openrouter:anthropic/claude-haiku-4.5",
        lambda s: f"{_base(s)}  api_key_env: OPENROUTER_API_KEY\n",
        lambda s: {"OPENROUTER_API_KEY": FAKE_CUSTOM_KEY},
        "/v1/chat/completions",
        "/v1/chat/completions",
        ("authorization", f"Bearer {FAKE_CUSTOM_KEY}"),
        "HTTP 400: bad prompt (invalid_request_error)",
        (FAKE_CUSTOM_KEY,),
    ),
]
IDS = [k.name for k in KINDS]


@pytest.fixture
def no_cloud_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No profile or application-default credentials file of the developer's is read."""
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))


def suite(pytester: pytest.Pytester, kind: Kind, server: ScriptedLLMServer, *, stream: bool) -> None:
    write_prompt(pytester.path, model=None)
    write(
        pytester.path / "test_p.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: {kind.provider}\n{kind.settings(server)}"
        f"  stream: {str(stream).lower()}\n  max_tokens: 64\n"
        "tests:\n"
        "  - name: hello\n    vars: {who: Ada}\n"
        "    assert: [{type: equals, value: 'Hello, Ada!'}]\n",
    )


def use_env(monkeypatch: pytest.MonkeyPatch, kind: Kind, server: ScriptedLLMServer) -> None:
    for name, value in kind.env(server).items():
        monkeypatch.setenv(name, value)


def interactions(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    (path,) = (pytester.path / "cassettes").rglob("*.yaml")
    found: list[dict[str, Any]] = yaml.safe_load(path.read_text())["interactions"]
    return found


@pytest.mark.usefixtures("no_cloud_files")
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_records_then_replays_offline(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    kind: Kind,
    stream: bool,
) -> None:
    llmops_server.reply("Hello, Ada!", chunk_delay=0.01 if stream else 0.0)
    use_env(monkeypatch, kind, llmops_server)
    suite(pytester, kind, llmops_server, stream=stream)
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=recorded.json")
    result.assert_outcomes(passed=1)
    (sent,) = llmops_server.requests
    assert sent.path == (kind.stream_path if stream else kind.path)
    header, expected = kind.credential
    assert sent.headers[header].startswith(expected)
    # The credentials reached the server and nothing else: no cassette, report or cache.
    written = all_text_under(pytester.path)
    for secret in (*kind.secrets, *PROVIDER_SENTINELS):
        assert secret not in written
    (recorded,) = interactions(pytester)
    stored_headers = {k.lower() for k in recorded["request"]["headers"]}
    assert not stored_headers & {"authorization", "api-key", "x-goog-api-key", "x-amz-security-token"}
    if stream:
        assert recorded["response"]["llmops"]["ttft_ms"] > 0
    # Offline, with the credentials gone: the recording answers.
    llmops_server.close()
    for name in kind.env(llmops_server):
        monkeypatch.delenv(name)
    result = pytester.runpytest("--llmops-report=replayed.json")
    result.assert_outcomes(passed=1)


@pytest.mark.usefixtures("no_cloud_files")
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_rate_limits_are_retried_and_client_errors_are_not(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    use_env(monkeypatch, kind, llmops_server)
    add_ini(pytester, "llmops_max_retries = 2", "llmops_retry_backoff = 0.01")
    llmops_server.fail(429, message="slow down", times=1, headers={"retry-after-ms": "20"})
    llmops_server.fail(503, message="busy", times=1)
    llmops_server.reply("Hello, Ada!")
    suite(pytester, kind, llmops_server, stream=False)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 3
    assert len(interactions(pytester)) == 1, "the failed tries are not recorded"

    llmops_server.reset()
    llmops_server.fail(400, message="bad prompt")
    result = pytester.runpytest("--llmops-record-mode=all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*{kind.provider}: http://127.0.0.1:*{kind.error_text}*"])
    assert len(llmops_server.requests) == 1, "a 400 is not retried"


@pytest.mark.usefixtures("no_cloud_files")
@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_a_stream_cut_short_fails_as_incomplete(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch, kind: Kind
) -> None:
    use_env(monkeypatch, kind, llmops_server)
    add_ini(pytester, "llmops_max_retries = 0")
    llmops_server.fault("truncated_stream", text="Hello there, this answer will be cut")
    suite(pytester, kind, llmops_server, stream=True)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the stream from http://127.0.0.1:*ended early*the answer is incomplete*"])
    assert not (pytester.path / "cassettes").exists()
