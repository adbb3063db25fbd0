"""OpenAI-compatible chat completions: OpenAI itself, vLLM, llama.cpp, Ollama's /v1, gateways."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import ProviderError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_headers, extra_query, merged_params, read_api_key, require_model
from .http import as_mapping, exchange_latency, json_body, malformed, parse_arguments, parse_structured, post
from .sse import ToolCallParts, iter_sse, streamed_response

__all__ = [
    "DEFAULT_BASE_URL",
    "OpenAIProvider",
    "embed",
    "parse_chat_completion",
    "parse_chat_stream",
    "read_recorded",
    "wants_json",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_HOST = "api.openai.com"


def wants_json(params: Mapping[str, Any]) -> bool:
    """Whether the request asks for JSON (``response_format`` json_object or json_schema)."""
    fmt = params.get("response_format")
    return isinstance(fmt, Mapping) and fmt.get("type") in ("json_object", "json_schema")


@dataclass(frozen=True, slots=True)
class OpenAIProvider:
    """``POST {base_url}/chat/completions``, plain or streamed (server-sent events).

    OpenAI-compatible services (OpenRouter, Mistral, LiteLLM) are this provider with their own
    default base URL and key variable (``compatible.py``).
    """

    spec: ProviderSpec
    default_base_url: str = DEFAULT_BASE_URL
    default_key_env: str = "OPENAI_API_KEY"
    base_url_env: str = "OPENAI_BASE_URL"

    @property
    def id(self) -> str:
        return self.spec.display

    @property
    def key_env(self) -> str:
        return self.spec.api_key_env or self.default_key_env

    def sends_key(self) -> bool:
        """Keys go only where they belong: OpenAI's own endpoint, or a ``base_url`` (a local server,
        a gateway) whose provider names ``api_key_env`` (``OPENAI_API_KEY`` too, deliberately)."""
        # A preset (OpenRouter, Mistral) sends its key to its own default host the same way.
        own_host = urlsplit(self.default_base_url).hostname or OPENAI_HOST
        return self.spec.api_key_env is not None or urlsplit(self.base_url()).hostname == own_host

    def auth_headers(self) -> dict[str, str]:
        """The bearer key (read from the environment at call time, never stored), then ``headers``."""
        key = read_api_key(self.key_env) if self.sends_key() else None
        return {**({"authorization": f"Bearer {key}"} if key else {}), **extra_headers(self.spec)}

    def base_url(self) -> str:
        # Read at call time so a recording session can point OPENAI_BASE_URL at a gateway.
        base = self.spec.base_url or os.environ.get(self.base_url_env) or self.default_base_url
        return base.rstrip("/")

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, f"{self.spec.kind}:gpt-4o-mini")
        return self.chat(prompt, client, url=f"{self.base_url()}/chat/completions", model=model)

    def chat(
        self,
        prompt: RenderedPrompt,
        client: httpx.Client,
        *,
        url: str,
        model: str | None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> LLMResponse:
        """One chat completion at ``url``; Azure's deployments send no ``model`` and their own
        ``headers`` (``api-key``) and ``query`` (``api-version``)."""
        payload: dict[str, Any] = {"model": model} if model else {}
        payload["messages"] = prompt.to_messages()
        params = merged_params(prompt, self.spec)
        payload.update(params)
        if self.spec.stream:
            payload["stream"] = True
            payload["stream_options"] = {"include_usage": True}
        extra, secret = extra_query(self.spec)
        response = post(
            client,
            provider=self.id,
            url=url,
            payload=payload,
            headers=self.auth_headers() if headers is None else headers,
            key_env=self.key_env,
            timeout=self.spec.timeout,
            params={**(query or {}), **extra},
            secret_params=secret,
        )
        json_wanted = wants_json(params)
        if self.spec.stream:
            return parse_chat_stream(
                response, provider=self.id, url=url, model=model or "", structured=json_wanted
            )
        body = json_body(response, provider=self.id, url=url)
        return parse_chat_completion(
            body, response, provider=self.id, url=url, model=model or "", structured=json_wanted
        )

    def embed(self, texts: list[str], client: httpx.Client) -> tuple[list[list[float]], LLMResponse]:
        """Embeddings for ``similar`` assertions."""
        return embed(self, texts, client)

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)


def embed(
    provider: OpenAIProvider, texts: list[str], client: httpx.Client
) -> tuple[list[list[float]], LLMResponse]:
    """``POST {base_url}/embeddings``: one vector per text, in order."""
    model = provider.spec.model
    if not model:
        raise ProviderError(f"{provider.id}: name the embedding model, e.g. openai:text-embedding-3-small")
    url = f"{provider.base_url()}/embeddings"
    query, secret = extra_query(provider.spec)
    response = post(
        client,
        provider=provider.id,
        url=url,
        payload={"model": model, "input": texts, "encoding_format": "float"},
        headers=provider.auth_headers(),
        key_env=provider.key_env,
        timeout=provider.spec.timeout,
        params=query,
        secret_params=secret,
    )
    body = json_body(response, provider=provider.id, url=url)
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, list) or len(data) != len(texts):
        raise malformed(provider.id, url, f"`data` with {len(texts)} embeddings", body)
    try:
        ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
        vectors = [[float(x) for x in item["embedding"]] for item in ordered]
    except (AttributeError, KeyError, TypeError, ValueError):
        raise malformed(provider.id, url, "float `embedding` lists", body) from None
    usage = as_mapping(body.get("usage"))
    latency_ms, replayed = exchange_latency(response)
    return vectors, LLMResponse(
        text="",
        provider=provider.id,
        model=str(body.get("model") or model),
        usage=Usage(input_tokens=int(usage.get("prompt_tokens") or 0)),
        latency_ms=latency_ms,
        replayed=replayed,
    )


def _usage(usage: Any) -> Usage:
    usage = as_mapping(usage)
    details = usage.get("prompt_tokens_details")
    details = as_mapping(details)
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
    )


def parse_chat_completion(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Text, finish reason and usage from a chat completion body."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise malformed(provider, url, "`choices`", body)
    message = choices[0].get("message")
    if not isinstance(message, Mapping) or ("content" not in message and "tool_calls" not in message):
        raise malformed(provider, url, "`choices[0].message.content`", body)
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise malformed(provider, url, "a text `content`", body)
    tool_calls = _tool_calls(message.get("tool_calls"), provider=provider, url=url)
    latency_ms, replayed = exchange_latency(response)
    # Token log-probabilities, when asked for (`logprobs: true`): g-eval weighs its score by them.
    logprobs = choices[0].get("logprobs")
    content_logprobs = logprobs.get("content") if isinstance(logprobs, Mapping) else None
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("model") or model),
        usage=_usage(body.get("usage")),
        finish_reason=choices[0].get("finish_reason"),
        latency_ms=latency_ms,
        replayed=replayed,
        metadata={"logprobs": content_logprobs} if isinstance(content_logprobs, list) else {},
        tool_calls=tool_calls,
        structured=parse_structured(text, structured),
    )


def _tool_calls(value: Any, *, provider: str, url: str) -> tuple[ToolCall, ...]:
    """``message.tool_calls``: ``[{id, type: function, function: {name, arguments: "<json>"}}]``."""
    if value is None:
        return ()
    if not isinstance(value, list):
        raise malformed(provider, url, "a `tool_calls` list", value)
    calls = []
    for item in value:
        function = item.get("function") if isinstance(item, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise malformed(provider, url, "`tool_calls[].function.name`", value)
        raw = function.get("arguments")
        raw_text = raw if isinstance(raw, str) else json.dumps(raw)
        calls.append(ToolCall(function["name"], raw_text, parse_arguments(raw_text), item.get("id")))
    return tuple(calls)


def parse_chat_stream(
    response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Assemble a streamed chat completion; usage comes from the final chunk."""
    parts: list[str] = []
    tools = ToolCallParts()
    finish_reason: str | None = None
    usage: Any = None
    answered_model = model
    done = False
    first_content: int | None = None
    for event in iter_sse(response.content):
        if event.data.strip() == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(event.data)
        except ValueError:
            raise ProviderResponseError(
                f"{provider}: {url} sent a stream event that is not JSON: {event.data[:200]!r}",
                provider=provider,
                url=url,
            ) from None
        if not isinstance(chunk, Mapping):
            continue
        if isinstance(chunk.get("error"), Mapping):
            raise ProviderResponseError(
                f"{provider}: {url} sent an error in the stream: {chunk['error'].get('message')}",
                provider=provider,
                url=url,
            )
        answered_model = str(chunk.get("model") or answered_model)
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, Mapping) else None
            if content:
                parts.append(str(content))
                if first_content is None:
                    first_content = event.end
            for call in (delta.get("tool_calls") if isinstance(delta, Mapping) else None) or ():
                if isinstance(call, Mapping):
                    function = as_mapping(call.get("function"))
                    tools.add(
                        call.get("index", 0),
                        name=function.get("name"),
                        call_id=call.get("id"),
                        arguments=function.get("arguments"),
                    )
                    if first_content is None:
                        first_content = event.end
            if choice.get("finish_reason"):
                finish_reason = str(choice["finish_reason"])
    return streamed_response(
        response,
        provider=provider,
        url=url,
        model=answered_model,
        parts=parts,
        usage=_usage(usage),
        finish_reason=finish_reason,
        first_content=first_content,
        ended=done or finish_reason is not None,
        end_marker="no finish_reason and no [DONE]",
        tool_calls=tools.calls(),
        structured=structured,
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded body, plain or streamed; None when it is not a chat completion.

    The prompt review reads old answers from cassettes with the same parsers that replay them.
    """
    response = httpx.Response(200, content=body)
    try:
        if body.lstrip().startswith(b"{"):
            data = json.loads(body)
            return parse_chat_completion(data, response, provider="openai", url="(recorded)", model="")
        return parse_chat_stream(response, provider="openai", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
