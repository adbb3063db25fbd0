"""Ollama's native chat API: ``POST {host}/api/chat``, one JSON reply or a stream of JSON lines.

Models run on your machine, so they cost nothing (never "unpriced").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ProviderConnectionError, ProviderError, ProviderHTTPError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_headers, extra_query, merged_params, read_api_key, require_model
from .http import as_mapping, exchange_latency, json_body, malformed, parse_structured, post
from .sse import first_token_ms

__all__ = [
    "DEFAULT_HOST",
    "OllamaProvider",
    "ollama_payload",
    "parse_chat",
    "parse_chat_stream",
    "read_recorded",
]

DEFAULT_HOST = "http://localhost:11434"
#: Chat parameters and their names in ``options``.
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "max_tokens": "num_predict",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def ollama_payload(prompt: RenderedPrompt, spec: ProviderSpec, model: str) -> tuple[dict[str, Any], bool]:
    """The request body and whether it asks for JSON (``response_format`` becomes ``format``)."""
    params = merged_params(prompt, spec)
    options: dict[str, Any] = {}
    for key, name in _OPTIONS.items():
        if key in params:
            value = params.pop(key)
            options[name] = [value] if key == "stop" and isinstance(value, str) else value
    extra_options = params.pop("options", None)
    if isinstance(extra_options, Mapping):
        options.update(extra_options)
    body: dict[str, Any] = {
        "model": model,
        "messages": prompt.to_messages(),
        # Ollama streams unless told not to.
        "stream": spec.stream,
    }
    response_format = params.pop("response_format", None)
    if isinstance(response_format, Mapping):
        schema = response_format.get("json_schema")
        if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
            body["format"] = schema["schema"]
        elif response_format.get("type") == "json_object":
            body["format"] = "json"
    if options:
        body["options"] = options
    body.update(params)
    return body, "format" in body


@dataclass(frozen=True, slots=True)
class OllamaProvider:
    """``ollama:<model>``, e.g. ``ollama:llama3.2``."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    def base_url(self) -> str:
        host = self.spec.base_url or os.environ.get("OLLAMA_HOST") or DEFAULT_HOST
        if "://" not in host:  # OLLAMA_HOST is often written 127.0.0.1:11434
            host = f"http://{host}"
        return host.rstrip("/").removesuffix("/api")

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, "ollama:llama3.2")
        url = f"{self.base_url()}/api/chat"
        body, wanted = ollama_payload(prompt, self.spec, model)
        key_env = self.spec.api_key_env or "OLLAMA_API_KEY"
        key = read_api_key(key_env)
        headers = {**({"authorization": f"Bearer {key}"} if key else {}), **extra_headers(self.spec)}
        query, secret = extra_query(self.spec)
        response = post(
            client,
            provider=self.id,
            url=url,
            payload=body,
            headers=headers,
            timeout=self.spec.timeout,
            params=query,
            secret_params=secret,
        )
        if self.spec.stream:
            return parse_chat_stream(response, provider=self.id, url=url, model=model, structured=wanted)
        data = json_body(response, provider=self.id, url=url)
        return parse_chat(data, response, provider=self.id, url=url, model=model, structured=wanted)

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)


def _usage(body: Mapping[str, Any]) -> Usage:
    return Usage(
        input_tokens=int(body.get("prompt_eval_count") or 0), output_tokens=int(body.get("eval_count") or 0)
    )


def _tool_calls(message: Mapping[str, Any]) -> tuple[ToolCall, ...]:
    calls = []
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            arguments = function.get("arguments")
            raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
            parsed = arguments if isinstance(arguments, dict) else None
            calls.append(ToolCall(function["name"], raw, parsed, call.get("id")))
    return tuple(calls)


def _finish(body: Mapping[str, Any], calls: tuple[ToolCall, ...]) -> str | None:
    reason = body.get("done_reason")
    if calls and reason in (None, "stop"):
        return "tool_calls"
    return str(reason) if reason else ("stop" if body.get("done") else None)


def _stream_error(body: Mapping[str, Any], provider: str, url: str) -> ProviderError:
    return ProviderHTTPError(
        f"{provider}: {url} sent an error: {body['error']}", provider=provider, url=url, status=500
    )


def parse_chat(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Text, tool calls and token counts from an ``/api/chat`` reply."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    if isinstance(body.get("error"), str):
        raise _stream_error(body, provider, url)
    message = body.get("message")
    if not isinstance(message, Mapping) or not isinstance(message.get("content", ""), str):
        raise malformed(provider, url, "`message.content`", body)
    calls = _tool_calls(message)
    text = str(message.get("content") or "")
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("model") or model),
        usage=_usage(body),
        finish_reason=_finish(body, calls),
        latency_ms=latency_ms,
        replayed=replayed,
        tool_calls=calls,
        structured=parse_structured(text, structured),
    )


def _json_lines(body: bytes) -> Iterator[tuple[bytes, int]]:
    """Each complete line and the offset after it; a last line without its newline is incomplete."""
    position = 0
    while True:
        end = body.find(b"\n", position)
        if end < 0:
            rest = body[position:].strip()
            if rest:
                yield rest, len(body)  # parsed, but a stream must still end with done: true
            return
        line = body[position:end].strip()
        position = end + 1
        if line:
            yield line, position


def parse_chat_stream(
    response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Assemble a stream of JSON lines; the last one says ``done: true`` and holds the counts."""
    parts: list[str] = []
    calls: list[ToolCall] = []
    first_content: int | None = None
    final: Mapping[str, Any] | None = None
    answered_model = model
    for line, end in _json_lines(response.content):
        try:
            chunk = json.loads(line)
        except ValueError:
            raise ProviderResponseError(
                f"{provider}: {url} sent a stream line that is not JSON: {line[:200]!r}",
                provider=provider,
                url=url,
            ) from None
        if not isinstance(chunk, Mapping):
            continue
        if isinstance(chunk.get("error"), str):
            raise _stream_error(chunk, provider, url)
        answered_model = str(chunk.get("model") or answered_model)
        message = as_mapping(chunk.get("message"))
        content = message.get("content")
        new_calls = _tool_calls(message)
        if (content or new_calls) and first_content is None:
            first_content = end
        if isinstance(content, str) and content:
            parts.append(content)
        calls.extend(new_calls)
        if chunk.get("done"):
            final = chunk
            break
    if final is None:
        raise ProviderConnectionError(
            f"{provider}: the stream from {url} ended early ({len(response.content)} bytes, no done: true); "
            "the answer is incomplete",
            provider=provider,
            url=url,
        )
    text = "".join(parts)
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=answered_model,
        usage=_usage(final),
        finish_reason=_finish(final, tuple(calls)),
        latency_ms=latency_ms,
        ttft_ms=first_token_ms(response, first_content),
        replayed=replayed,
        tool_calls=tuple(calls),
        structured=parse_structured(text, structured),
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded ``/api/chat`` body, one reply or a stream; None when not one."""
    response = httpx.Response(200, content=body)
    try:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) == 1:
            return parse_chat(json.loads(lines[0]), response, provider="ollama", url="(recorded)", model="")
        return parse_chat_stream(response, provider="ollama", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
