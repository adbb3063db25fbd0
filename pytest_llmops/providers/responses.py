"""OpenAI's Responses API: ``POST {base_url}/responses``, plain or streamed as typed events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ProviderError, ProviderHTTPError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_query, merged_params, require_model
from .http import as_mapping, exchange_latency, json_body, malformed, parse_arguments, parse_structured, post
from .openai import OpenAIProvider
from .sse import iter_sse, streamed_response

__all__ = ["OpenAIResponsesProvider", "parse_response", "parse_response_stream", "read_recorded"]

#: Chat-completion parameters with other names here.
_RENAMED = {"max_tokens": "max_output_tokens"}
#: Chat-completion parameters the Responses API rejects.
_UNSUPPORTED = frozenset({"seed", "stop", "presence_penalty", "frequency_penalty", "response_format"})
#: Events that end a stream.
_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")


def _text_format(response_format: Any) -> dict[str, Any] | None:
    """Chat's ``response_format`` as the Responses API's ``text.format`` (the schema flattened)."""
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_schema" and isinstance(response_format.get("json_schema"), Mapping):
        return {"type": "json_schema", **response_format["json_schema"]}
    if kind in ("json_object", "text", "json_schema"):
        return dict(response_format)
    return None


@dataclass(frozen=True, slots=True)
class OpenAIResponsesProvider:
    """``openai-responses:<model>``: the same base URL and key as ``openai:``."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    def payload(self, prompt: RenderedPrompt, model: str) -> dict[str, Any]:
        """System messages become ``instructions``; the rest is the ``input`` list."""
        params = merged_params(prompt, self.spec)
        body: dict[str, Any] = {
            "model": model,
            "input": [m.to_dict() for m in prompt.messages if m.role != "system"],
            "store": False,  # a test's answers need not be kept on the server
        }
        if prompt.system is not None:
            body["instructions"] = prompt.system
        text_format = _text_format(params.get("response_format"))
        if text_format is not None:
            body["text"] = {"format": text_format}
        for key, value in params.items():
            if key not in _UNSUPPORTED:
                body[_RENAMED.get(key, key)] = value
        if self.spec.stream:
            body["stream"] = True
        return body

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, "openai-responses:gpt-5-mini")
        chat = OpenAIProvider(self.spec)  # the same base URL, key and headers as openai:
        url = f"{chat.base_url()}/responses"
        query, secret = extra_query(self.spec)
        payload = self.payload(prompt, model)
        response = post(
            client,
            provider=self.id,
            url=url,
            payload=payload,
            headers=chat.auth_headers(),
            key_env=chat.key_env,
            timeout=self.spec.timeout,
            params=query,
            secret_params=secret,
        )
        wanted = "text" in payload and payload["text"]["format"].get("type") != "text"
        if self.spec.stream:
            return parse_response_stream(response, provider=self.id, url=url, model=model, structured=wanted)
        body = json_body(response, provider=self.id, url=url)
        return parse_response(body, response, provider=self.id, url=url, model=model, structured=wanted)

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)


def _usage(usage: Any) -> Usage:
    usage = as_mapping(usage)
    details = usage.get("input_tokens_details")
    details = as_mapping(details)
    return Usage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
        cache_write_tokens=int(details.get("cache_write_tokens") or 0),
    )


def _items(body: Mapping[str, Any]) -> tuple[str, tuple[ToolCall, ...]]:
    """The text of the output messages and the function calls, in order."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for item in body.get("output") or ():
        if not isinstance(item, Mapping):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, Mapping) and part.get("type") == "output_text":
                    texts.append(str(part.get("text") or ""))
        elif item.get("type") == "function_call" and isinstance(item.get("name"), str):
            raw = item.get("arguments")
            raw_text = raw if isinstance(raw, str) else json.dumps(raw)
            calls.append(ToolCall(item["name"], raw_text, parse_arguments(raw_text), item.get("call_id")))
    return "".join(texts), tuple(calls)


def _finish(body: Mapping[str, Any], calls: tuple[ToolCall, ...]) -> str | None:
    """``stop``/``tool_calls`` for a completed response; the reason an incomplete one gives."""
    status = body.get("status")
    if status == "incomplete":
        details = body.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, Mapping) else None
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if status == "completed":
        return "tool_calls" if calls else "stop"
    return str(status) if status else None


def _failed(body: Mapping[str, Any], provider: str, url: str) -> ProviderError:
    error = as_mapping(body.get("error"))
    code = str(error.get("code") or "")
    status = 429 if "rate_limit" in code else 500 if code in ("server_error", "") else 400
    return ProviderHTTPError(
        f"{provider}: {url} answered with a failed response: {error.get('message') or 'no message'}"
        + (f" ({code})" if code else ""),
        provider=provider,
        url=url,
        status=status,
    )


def parse_response(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Text, function calls, status and usage from a Responses API body."""
    if not isinstance(body, Mapping) or body.get("object") != "response":
        raise malformed(provider, url, "a response object", body)
    if not isinstance(body.get("output"), list):
        raise malformed(provider, url, "`output`", body)
    if body.get("status") == "failed":
        raise _failed(body, provider, url)
    text, calls = _items(body)
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("model") or model),
        usage=_usage(body.get("usage")),
        finish_reason=_finish(body, calls),
        latency_ms=latency_ms,
        replayed=replayed,
        tool_calls=calls,
        structured=parse_structured(text, structured),
    )


def parse_response_stream(
    response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Assemble a streamed response: text deltas as they come, the rest from the final event."""
    parts: list[str] = []
    first_content: int | None = None
    final: Mapping[str, Any] | None = None
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
            code = str(data.get("code") or "")
            raise ProviderHTTPError(
                f"{provider}: {url} sent an error in the stream: {data.get('message')}"
                + (f" ({code})" if code else ""),
                provider=provider,
                url=url,
                status=429 if "rate_limit" in code else 500,
            )
        if kind == "response.output_text.delta" and data.get("delta"):
            parts.append(str(data["delta"]))
            if first_content is None:
                first_content = event.end
        elif kind in ("response.output_item.added",) and first_content is None:
            item = data.get("item")
            if isinstance(item, Mapping) and item.get("type") == "function_call":
                first_content = event.end
        elif kind in _FINAL_EVENTS and isinstance(data.get("response"), Mapping):
            final = data["response"]
            if final.get("status") == "failed":
                raise _failed(final, provider, url)
            break
    text, calls = _items(final) if final is not None else ("", ())
    return streamed_response(
        response,
        provider=provider,
        url=url,
        model=str((final or {}).get("model") or model),
        # The final response holds the whole text; the deltas are what a cut stream had.
        parts=[text] if final is not None and text else parts,
        usage=_usage((final or {}).get("usage")),
        finish_reason=_finish(final, calls) if final is not None else None,
        first_content=first_content,
        ended=final is not None,
        end_marker="no response.completed",
        tool_calls=calls,
        structured=structured,
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded Responses body, plain or streamed; None when it is not one."""
    response = httpx.Response(200, content=body)
    try:
        if body.lstrip().startswith(b"{"):
            return parse_response(
                json.loads(body), response, provider="openai-responses", url="(recorded)", model=""
            )
        return parse_response_stream(response, provider="openai-responses", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
