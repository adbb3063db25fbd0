"""Provider ``headers`` and ``query`` settings (values may name environment variables), Azure's
``api-key``, Bedrock's SigV4 signature (checked with botocore's signer) and the messages that
name a missing optional extra. Nothing secret reaches a cassette, and a replay without the
variables still matches its recording."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from pytest_llmops.prompts.render import RenderedPrompt
from pytest_llmops.providers.bedrock import BedrockProvider
from pytest_llmops.results import Message
from pytest_llmops.spec.schema import ProviderSpec
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import (
    FAKE_AWS_ACCESS_KEY_ID,
    FAKE_AWS_SECRET,
    FAKE_AWS_SESSION_TOKEN,
    FAKE_CUSTOM_KEY,
    add_ini,
    all_text_under,
    write,
    write_prompt,
)


def greeter_suite(pytester: pytest.Pytester, provider: str) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_p.llmops.yaml",
        f"prompt: greeter\nprovider:\n{provider}\ntests:\n"
        "  - name: hello\n    vars: {who: Ada}\n    assert: [{type: icontains, value: hello}]\n",
    )


def stored_request(pytester: pytest.Pytester) -> dict[str, object]:
    (path,) = (pytester.path / "cassettes").rglob("*.yaml")
    request: dict[str, object] = yaml.safe_load(path.read_text())["interactions"][0]["request"]
    return request


def test_headers_and_query_values_from_the_environment_never_reach_the_cassette(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GATEWAY_TOKEN", FAKE_CUSTOM_KEY)
    llmops_server.reply("Hello, Ada!")
    greeter_suite(
        pytester,
        f"  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        "  headers: {x-gateway-token: '${GATEWAY_TOKEN}', x-team: prompts, x-unset: '${NOT_SET_ANYWHERE}'}\n"
        "  query: {tenant: acme, sig: '${GATEWAY_TOKEN}', trace: 't-${GATEWAY_TOKEN}'}",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (sent,) = llmops_server.requests
    assert sent.headers["x-gateway-token"] == FAKE_CUSTOM_KEY
    assert sent.headers["x-team"] == "prompts"
    assert "x-unset" not in sent.headers, "a header whose variable is unset is left out"
    assert f"tenant=acme&sig={FAKE_CUSTOM_KEY}&trace=t-{FAKE_CUSTOM_KEY}" in sent.path
    assert FAKE_CUSTOM_KEY not in all_text_under(pytester.path)
    stored = stored_request(pytester)
    assert str(stored["uri"]).endswith("?tenant=acme&sig=REDACTED&trace=REDACTED")
    # Replayed without the variable: the redacted parameters still match.
    monkeypatch.delenv("GATEWAY_TOKEN")
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=1)


def test_bad_header_and_price_settings_are_collection_errors(pytester: pytest.Pytester) -> None:
    greeter_suite(pytester, "  id: ollama:llama3.2\n  headers: {x-a: 1}\n  price: {input: 1}")
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*test_p.llmops.yaml:2: provider[[]0].headers.x-a: Input should be a valid string (got 1).",
            "*test_p.llmops.yaml:2: provider[[]0].price: price is 0 (a local model) or "
            "{input, output, cached_input, cache_write} in USD per million tokens; got {'input': 1}.",
        ]
    )


def test_azure_without_an_endpoint_names_the_variable_when_it_goes_live(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", FAKE_CUSTOM_KEY)
    add_ini(pytester, "llmops_max_retries = 0")
    greeter_suite(pytester, "  id: azure:my-deployment\n  timeout: 5")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*azure:my-deployment: cannot connect to https://set-azure-openai-endpoint.invalid/*"]
    )


# -- Bedrock's signature ----------------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, llmops_server: ScriptedLLMServer) -> None:
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", FAKE_AWS_ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_AWS_SESSION_TOKEN)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", llmops_server.root_url)


@pytest.mark.usefixtures("aws_env")
def test_the_sigv4_signature_is_the_one_botocore_computes(llmops_server: ScriptedLLMServer) -> None:
    import httpx
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    llmops_server.reply("Hello!")
    provider = BedrockProvider(
        ProviderSpec(id="bedrock:anthropic.claude-3-5-haiku-20241022-v1:0", region="eu-west-1")
    )
    with httpx.Client() as client:
        assert provider.complete(RenderedPrompt(messages=(Message("user", "Hi"),)), client).text == "Hello!"
    (sent,) = llmops_server.requests
    authorization = sent.headers["authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={FAKE_AWS_ACCESS_KEY_ID}/")
    assert "/eu-west-1/bedrock/aws4_request" in authorization
    assert sent.headers["x-amz-security-token"] == FAKE_AWS_SESSION_TOKEN
    # Recompute the signature of the request as the server received it.
    signed = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    request = AWSRequest(
        method="POST",
        url=f"{llmops_server.root_url}{sent.path}",
        data=sent.body,
        headers={name: sent.headers[name] for name in signed if name != "host"},
    )
    request.context["timestamp"] = sent.headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials(FAKE_AWS_ACCESS_KEY_ID, FAKE_AWS_SECRET, FAKE_AWS_SESSION_TOKEN), "bedrock", "eu-west-1"
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert authorization.endswith(f"Signature={expected}")


@pytest.mark.usefixtures("aws_env")
def test_without_botocore_bedrock_names_the_extra(
    llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    monkeypatch.setitem(sys.modules, "botocore", None)
    monkeypatch.setitem(sys.modules, "botocore.session", None)
    provider = BedrockProvider(ProviderSpec(id="bedrock:m"))
    with (
        httpx.Client() as client,
        pytest.raises(Exception, match=r"needs botocore: pip install 'pytest-llmops\[bedrock\]'"),
    ):
        provider.complete(RenderedPrompt(messages=(Message("user", "Hi"),)), client)
    assert llmops_server.requests == [], "nothing unsigned is sent when credentials were meant to sign it"


def test_without_credentials_bedrock_sends_unsigned_and_a_403_says_what_to_set(
    llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import httpx

    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    llmops_server.fail(403, message="Missing Authentication Token")
    provider = BedrockProvider(ProviderSpec(id="bedrock:m", base_url=llmops_server.root_url))
    with httpx.Client() as client, pytest.raises(Exception) as info:
        provider.complete(RenderedPrompt(messages=(Message("user", "Hi"),)), client)
    assert (
        "HTTP 403: Missing Authentication Token (AccessDeniedException) (no AWS credentials: set AWS_ACCESS_KEY_ID"
        in str(info.value)
    )
    assert "pytest-llmops[bedrock]" in str(info.value) and "AWS_BEARER_TOKEN_BEDROCK" in str(info.value)


def test_vertex_with_application_default_credentials_but_no_google_auth_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import httpx

    from pytest_llmops.providers.google import VertexProvider

    credentials = tmp_path / "adc.json"
    credentials.write_text("{}")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    monkeypatch.setitem(sys.modules, "google.auth", None)
    provider = VertexProvider(
        ProviderSpec(id="vertex:gemini-2.5-flash", project="p", base_url="http://127.0.0.1:9")
    )
    with (
        httpx.Client() as client,
        pytest.raises(Exception, match=r"google-auth: pip install 'pytest-llmops\[vertex\]'"),
    ):
        provider.complete(RenderedPrompt(messages=(Message("user", "Hi"),)), client)
