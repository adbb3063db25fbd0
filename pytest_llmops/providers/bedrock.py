"""Amazon Bedrock's Converse API: ``POST /model/<id>/converse`` (and ``converse-stream``, AWS's
binary event stream), signed with SigV4 by botocore (the ``[bedrock]`` extra) or sent with a
Bedrock API key (``AWS_BEARER_TOKEN_BEDROCK``)."""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from ..errors import ProviderConnectionError, ProviderError, ProviderHTTPError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_headers, extra_query, merged_params, read_api_key, require_model
from .eventstream import iter_messages
from .http import as_mapping, exchange_latency, json_body, malformed, parse_structured, post
from .sse import ToolCallParts, first_token_ms

__all__ = [
    "BedrockProvider",
    "converse_payload",
    "parse_converse",
    "parse_converse_stream",
    "read_recorded",
    "sign",
]

INSTALL_HINT = "pip install 'pytest-llmops[bedrock]'"
#: Chat parameters and their names in ``inferenceConfig``; others are not sent.
_CONFIG_NAMES = {
    "max_tokens": "maxTokens",
    "temperature": "temperature",
    "top_p": "topP",
    "stop": "stopSequences",
}
_UNSUPPORTED = frozenset({"seed", "presence_penalty", "frequency_penalty", "response_format"})
#: Exceptions a stream may carry, as the HTTP status the same error has outside a stream.
_STREAM_ERRORS = {
    "throttlingException": 429,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
    "modelStreamErrorException": 424,
    "validationException": 400,
}


def converse_payload(prompt: RenderedPrompt, spec: ProviderSpec) -> dict[str, Any]:
    """Messages as content blocks, system apart, parameters in ``inferenceConfig``."""
    params = merged_params(prompt, spec)
    config: dict[str, Any] = {}
    for key, name in _CONFIG_NAMES.items():
        if key in params:
            value = params.pop(key)
            config[name] = [value] if key == "stop" and isinstance(value, str) else value
    body: dict[str, Any] = {
        "messages": [
            {"role": m.role, "content": [{"text": m.content}]} for m in prompt.messages if m.role != "system"
        ]
    }
    if prompt.system is not None:
        body["system"] = [{"text": prompt.system}]
    if config:
        body["inferenceConfig"] = config
    body.update({k: v for k, v in params.items() if k not in _UNSUPPORTED})
    return body


def _credentials() -> Any | None:
    """AWS credentials from the environment or a profile file, never from the network.

    Without either, botocore would ask the instance metadata service; a replay needs no
    signature, so none is looked for there.
    """
    has_env = bool(os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))
    files = [
        Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials"),
        Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config"),
    ]
    if not has_env and not os.environ.get("AWS_PROFILE") and not any(p.is_file() for p in files):
        return None
    try:
        # Optional extras are imported by name: typed as Any, so type checks pass without them.
        boto_session: Any = importlib.import_module("botocore.session")
    except ImportError:
        raise ProviderError(
            f"bedrock: signing requests with AWS credentials needs botocore: {INSTALL_HINT}"
        ) from None
    session = boto_session.Session()
    resolver = session.get_component("credential_provider")
    for name in ("iam-role", "container-role"):  # the network-backed providers
        resolver.remove(name)
    return session.get_credentials()


def sign(url: str, body: bytes, headers: Mapping[str, str], region: str, credentials: Any) -> dict[str, str]:
    """The headers of a SigV4-signed POST (``authorization``, ``x-amz-date``, the session token)."""
    auth: Any = importlib.import_module("botocore.auth")
    awsrequest: Any = importlib.import_module("botocore.awsrequest")
    request = awsrequest.AWSRequest(method="POST", url=url, data=body, headers=dict(headers))
    auth.SigV4Auth(credentials.get_frozen_credentials(), "bedrock", region).add_auth(request)
    return {k.lower(): str(v) for k, v in request.headers.items()}


@dataclass(frozen=True, slots=True)
class BedrockProvider:
    """``bedrock:<model id>`` (a model id, an inference profile such as ``us.anthropic...``, or an ARN)."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    def region(self) -> str:
        return (
            self.spec.region
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1"
        )

    def base_url(self) -> str:
        base = (
            self.spec.base_url
            or os.environ.get("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
            or f"https://bedrock-runtime.{self.region()}.amazonaws.com"
        )
        return base.rstrip("/")

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, "bedrock:anthropic.claude-3-5-haiku-20241022-v1:0")
        action = "converse-stream" if self.spec.stream else "converse"
        url = f"{self.base_url()}/model/{quote(model, safe='')}/{action}"
        content = json.dumps(converse_payload(prompt, self.spec), ensure_ascii=False).encode("utf-8")
        headers = {"content-type": "application/json", **extra_headers(self.spec)}
        query, secret = extra_query(self.spec)
        signed_url = str(httpx.URL(url, params=query)) if query else url
        token = read_api_key(self.spec.api_key_env or "AWS_BEARER_TOKEN_BEDROCK")
        if token:
            headers["authorization"] = f"Bearer {token}"
        else:
            credentials = _credentials()
            if credentials is not None:
                headers = sign(signed_url, content, headers, self.region(), credentials)
        response = post(
            client,
            provider=self.id,
            url=url,
            content=content,
            headers=headers,
            timeout=self.spec.timeout,
            params=query,
            secret_params=secret,
            hint=(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) with "
                f"{INSTALL_HINT}, or a Bedrock API key in AWS_BEARER_TOKEN_BEDROCK"
            )
            if "authorization" not in headers
            else "",
        )
        if self.spec.stream:
            return parse_converse_stream(response, provider=self.id, url=url, model=model)
        body = json_body(response, provider=self.id, url=url)
        return parse_converse(body, response, provider=self.id, url=url, model=model)

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)


def _usage(usage: Any) -> Usage:
    usage = as_mapping(usage)
    read = int(usage.get("cacheReadInputTokens") or 0)
    written = int(usage.get("cacheWriteInputTokens") or 0)
    # Bedrock's inputTokens leaves the cached parts out; ours counts every input token.
    return Usage(
        input_tokens=int(usage.get("inputTokens") or 0) + read + written,
        output_tokens=int(usage.get("outputTokens") or 0),
        cached_tokens=read,
        cache_write_tokens=written,
    )


def _content(blocks: Any) -> tuple[str, tuple[ToolCall, ...]]:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks if isinstance(blocks, list) else ():
        if not isinstance(block, Mapping):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        use = block.get("toolUse")
        if isinstance(use, Mapping) and isinstance(use.get("name"), str):
            arguments = use.get("input")
            raw = json.dumps(arguments, ensure_ascii=False)
            calls.append(
                ToolCall(
                    use["name"], raw, arguments if isinstance(arguments, dict) else None, use.get("toolUseId")
                )
            )
    return "".join(texts), tuple(calls)


def parse_converse(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str
) -> LLMResponse:
    """Text, tool uses, stop reason and usage from a Converse body."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    output = body.get("output")
    message = output.get("message") if isinstance(output, Mapping) else None
    if not isinstance(message, Mapping) or not isinstance(message.get("content"), list):
        raise malformed(provider, url, "`output.message.content`", body)
    text, calls = _content(message["content"])
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=model,
        usage=_usage(body.get("usage")),
        finish_reason=body.get("stopReason"),
        latency_ms=latency_ms,
        replayed=replayed,
        tool_calls=calls,
        structured=parse_structured(text, False),
    )


def parse_converse_stream(response: httpx.Response, *, provider: str, url: str, model: str) -> LLMResponse:
    """Assemble a ConverseStream: content block deltas, messageStop, then the usage metadata."""
    parts: list[str] = []
    tools = ToolCallParts()
    usage: Any = None
    stop_reason: str | None = None
    first_content: int | None = None
    try:
        messages = list(iter_messages(response.content))
    except ValueError as exc:
        raise ProviderResponseError(
            f"{provider}: {url} sent a broken event stream: {exc}", provider=provider, url=url
        ) from None
    for message in messages:
        kind = message.headers.get(":message-type")
        if kind == "exception" or kind == "error":
            name = str(message.headers.get(":exception-type") or message.headers.get(":error-code") or "")
            try:
                detail = json.loads(message.payload).get("message")
            except (ValueError, AttributeError):
                detail = message.payload[:200].decode("utf-8", "replace")
            raise ProviderHTTPError(
                f"{provider}: {url} sent an error in the stream: {detail} ({name})",
                provider=provider,
                url=url,
                status=_STREAM_ERRORS.get(name, 500),
            )
        try:
            data = json.loads(message.payload)
        except ValueError:
            raise ProviderResponseError(
                f"{provider}: {url} sent a stream event that is not JSON: {message.payload[:200]!r}",
                provider=provider,
                url=url,
            ) from None
        event = message.headers.get(":event-type")
        if not isinstance(data, Mapping):
            continue
        index = data.get("contentBlockIndex")
        if event == "contentBlockStart":
            start = as_mapping(data.get("start"))
            use = start.get("toolUse")
            if isinstance(use, Mapping):
                tools.add(index, name=use.get("name"), call_id=use.get("toolUseId"))
                first_content = message.end if first_content is None else first_content
        elif event == "contentBlockDelta":
            delta = as_mapping(data.get("delta"))
            if isinstance(delta.get("text"), str) and delta["text"]:
                parts.append(delta["text"])
                first_content = message.end if first_content is None else first_content
            elif isinstance(delta.get("toolUse"), Mapping):
                tools.add(index, arguments=str(delta["toolUse"].get("input") or ""))
        elif event == "messageStop":
            stop_reason = str(data.get("stopReason") or "end_turn")
        elif event == "metadata":
            usage = data.get("usage")
    if stop_reason is None:
        raise ProviderConnectionError(
            f"{provider}: the stream from {url} ended early ({len(response.content)} bytes, no messageStop); "
            "the answer is incomplete",
            provider=provider,
            url=url,
        )
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text="".join(parts),
        provider=provider,
        model=model,
        usage=_usage(usage),
        finish_reason=stop_reason,
        latency_ms=latency_ms,
        ttft_ms=first_token_ms(response, first_content),
        replayed=replayed,
        tool_calls=tools.calls(),
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded Converse body, plain or streamed; None when it is not one."""
    response = httpx.Response(200, content=body)
    try:
        if body.lstrip().startswith(b"{"):
            return parse_converse(json.loads(body), response, provider="bedrock", url="(recorded)", model="")
        return parse_converse_stream(response, provider="bedrock", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
