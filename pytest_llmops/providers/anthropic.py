"""Anthropic's Messages API: ``POST {base_url}/v1/messages``, plain or streamed."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from ..errors import ProviderError, ProviderHTTPError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_headers, extra_query, merged_params, read_api_key, require_model
from .http import as_mapping, exchange_latency, json_body, malformed, parse_structured, post
from .sse import ToolCallParts, iter_sse, streamed_response

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_BASE_URL",
    "AnthropicProvider",
    "parse_message",
    "parse_message_stream",
    "read_recorded",
]

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
#: The Messages API requires max_tokens; used when neither the prompt nor the provider sets it.
DEFAULT_MAX_TOKENS = 1024
#: Parameters with other names in this API.
_RENAMED = {"stop": "stop_sequences"}
#: OpenAI-only parameters that the Messages API would reject.
_UNSUPPORTED = frozenset({"seed", "presence_penalty", "frequency_penalty", "response_format"})
#: Status codes of Anthropic's error types that may arrive inside a stream.
_STREAM_ERROR_STATUS = {"overloaded_error": 529, "rate_limit_error": 429, "api_error": 500}


@dataclass(frozen=True, slots=True)
class AnthropicProvider:
    """Claude models through the Messages API."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    @property
    def key_env(self) -> str:
        return self.spec.api_key_env or "ANTHROPIC_API_KEY"

    def base_url(self) -> str:
        base = self.spec.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_BASE_URL
        return base.rstrip("/").removesuffix("/v1")

    def payload(self, prompt: RenderedPrompt, model: str) -> dict[str, Any]:
        """The request body: system prompt apart, parameters renamed where the API differs."""
        params = merged_params(prompt, self.spec)
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": params.pop("max_tokens", None) or DEFAULT_MAX_TOKENS,
            "messages": [m.to_dict() for m in prompt.messages if m.role != "system"],
        }
        if prompt.system is not None:
            body["system"] = prompt.system
        for key, value in params.items():
            if key in _UNSUPPORTED:
                continue
            if key == "stop" and isinstance(value, str):
                value = [value]
            body[_RENAMED.get(key, key)] = value
        if self.spec.stream:
            body["stream"] = True
        return body

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, "anthropic:claude-sonnet-4-5")
        url = f"{self.base_url()}/v1/messages"
        payload = self.payload(prompt, model)
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        key = read_api_key(self.key_env)
        if key:
            headers["x-api-key"] = key
        headers.update(extra_headers(self.spec))
        query, secret = extra_query(self.spec)
        response = post(
            client,
            provider=self.id,
            url=url,
            payload=payload,
            headers=headers,
            key_env=self.key_env,
            timeout=self.spec.timeout,
            params=query,
            secret_params=secret,
        )
        # Structured outputs (`params: {output_format: {type: json_schema, schema: ...}}`).
        wanted = as_mapping(payload.get("output_format")).get("type") == "json_schema"
        if self.spec.stream:
            streamed = parse_message_stream(response, provider=self.id, url=url, model=model)
            return replace(streamed, structured=parse_structured(streamed.text, wanted))
        body = json_body(response, provider=self.id, url=url)
        answer = parse_message(body, response, provider=self.id, url=url, model=model)
        return replace(answer, structured=parse_structured(answer.text, wanted))


def _usage(usage: Any) -> Usage:
    usage = as_mapping(usage)
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    # Anthropic's input_tokens leaves the cached parts out; ours counts every input token.
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


def _text(content: Any) -> str | None:
    if not isinstance(content, list):
        return None
    return "".join(
        str(block.get("text", ""))
        for block in content
        if isinstance(block, Mapping) and block.get("type") == "text"
    )


def _tool_call(block: Mapping[str, Any]) -> ToolCall:
    """A ``tool_use`` content block: ``{id, name, input: {...}}``."""
    arguments = block.get("input")
    raw = json.dumps(arguments, ensure_ascii=False)
    parsed = arguments if isinstance(arguments, dict) else None
    return ToolCall(str(block["name"]), raw, parsed, block.get("id"))


def parse_message(body: Any, response: httpx.Response, *, provider: str, url: str, model: str) -> LLMResponse:
    """Text, stop reason and usage from a Messages API body."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    text = _text(body.get("content"))
    if text is None:
        raise malformed(provider, url, "`content`", body)
    tool_calls = tuple(
        _tool_call(block)
        for block in body["content"]
        if isinstance(block, Mapping)
        and block.get("type") == "tool_use"
        and isinstance(block.get("name"), str)
    )
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("model") or model),
        usage=_usage(body.get("usage")),
        finish_reason=body.get("stop_reason"),
        latency_ms=latency_ms,
        replayed=replayed,
        tool_calls=tool_calls,
    )


def parse_message_stream(response: httpx.Response, *, provider: str, url: str, model: str) -> LLMResponse:
    """Assemble a streamed message: message_start, content deltas, message_delta, message_stop."""
    parts: list[str] = []
    tools = ToolCallParts()
    usage: dict[str, Any] = {}
    stop_reason: str | None = None
    answered_model = model
    stopped = False
    first_content: int | None = None
    for event in iter_sse(response.content):
        try:
            data = json.loads(event.data)
        except ValueError:
            raise ProviderResponseError(
                f"{provider}: {url} sent a stream event that is not JSON: {event.data[:200]!r}",
                provider=provider,
                url=url,
            ) from None
        if not isinstance(data, Mapping):
            continue
        kind = data.get("type") or event.event
        if kind == "error":
            raw_error = data.get("error")
            error: Mapping[str, Any] = as_mapping(raw_error)
            status = _STREAM_ERROR_STATUS.get(str(error.get("type")), 500)
            raise ProviderHTTPError(
                f"{provider}: {url} sent an error in the stream: "
                f"{error.get('message')} ({error.get('type')})",
                provider=provider,
                url=url,
                status=status,
            )
        if kind == "message_start" and isinstance(data.get("message"), Mapping):
            answered_model = str(data["message"].get("model") or answered_model)
            usage.update(data["message"].get("usage") or {})
        elif kind == "content_block_start":
            block = data.get("content_block")
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                # The input arrives as input_json_delta pieces; the start's `input` is {}.
                tools.add(data.get("index"), name=block.get("name"), call_id=block.get("id"))
                if first_content is None:
                    first_content = event.end
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if isinstance(delta, Mapping) and delta.get("type") == "text_delta" and delta.get("text"):
                parts.append(str(delta["text"]))
                if first_content is None:
                    first_content = event.end
            elif isinstance(delta, Mapping) and delta.get("type") == "input_json_delta":
                tools.add(data.get("index"), arguments=str(delta.get("partial_json") or ""))
        elif kind == "message_delta":
            if isinstance(data.get("delta"), Mapping) and data["delta"].get("stop_reason"):
                stop_reason = str(data["delta"]["stop_reason"])
            # message_delta carries the final output count (and, on newer servers, totals).
            usage.update({k: v for k, v in (data.get("usage") or {}).items() if v is not None})
        elif kind == "message_stop":
            stopped = True
    return streamed_response(
        response,
        provider=provider,
        url=url,
        model=answered_model,
        parts=parts,
        usage=_usage(usage),
        finish_reason=stop_reason,
        first_content=first_content,
        ended=stopped,
        end_marker="no message_stop",
        tool_calls=tools.calls(),
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded Messages body, plain or streamed; None when it is not one."""
    response = httpx.Response(200, content=body)
    try:
        if body.lstrip().startswith(b"{"):
            data = json.loads(body)
            return parse_message(data, response, provider="anthropic", url="(recorded)", model="")
        return parse_message_stream(response, provider="anthropic", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
