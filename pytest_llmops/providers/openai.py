"""OpenAI-compatible chat completions: OpenAI itself, vLLM, llama.cpp, Ollama's /v1, gateways."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ProviderError
from ..prompts import RenderedPrompt
from ..results import LLMResponse, Usage
from ..schema import ProviderSpec
from .base import exchange_latency, malformed, merged_params, read_api_key, register_provider, send_json

__all__ = ["DEFAULT_BASE_URL", "OpenAIProvider"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True, slots=True)
class OpenAIProvider:
    """``POST {base_url}/chat/completions``."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    @property
    def key_env(self) -> str:
        return self.spec.api_key_env or "OPENAI_API_KEY"

    def base_url(self) -> str:
        # Read at call time so a recording session can point OPENAI_BASE_URL at a gateway.
        return (self.spec.base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = self.spec.model or prompt.model
        if not model:
            raise ProviderError(
                f"{self.id}: no model; name one in the provider (openai:gpt-4o-mini) "
                "or in the prompt file's `model:`"
            )
        url = f"{self.base_url()}/chat/completions"
        payload: dict[str, Any] = {"model": model, "messages": prompt.to_messages()}
        payload.update(merged_params(prompt, self.spec))
        headers = {}
        key = read_api_key(self.key_env)
        if key:
            headers["authorization"] = f"Bearer {key}"
        body, response = send_json(
            client,
            provider=self.id,
            url=url,
            payload=payload,
            headers=headers,
            key_env=self.key_env,
            timeout=self.spec.timeout,
        )
        return parse_chat_completion(body, response, provider=self.id, url=url, model=model)


def parse_chat_completion(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str
) -> LLMResponse:
    """Text, finish reason and usage from a chat completion body."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise malformed(provider, url, "`choices`", body)
    message = choices[0].get("message")
    if not isinstance(message, Mapping) or "content" not in message:
        raise malformed(provider, url, "`choices[0].message.content`", body)
    text = message.get("content") or ""
    if not isinstance(text, str):
        raise malformed(provider, url, "a text `content`", body)
    usage = body.get("usage")
    usage = usage if isinstance(usage, Mapping) else {}
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, Mapping) else {}
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("model") or model),
        usage=Usage(
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
        ),
        finish_reason=choices[0].get("finish_reason"),
        latency_ms=latency_ms,
        replayed=replayed,
    )


@register_provider("openai")
def _openai(spec: ProviderSpec) -> OpenAIProvider:
    return OpenAIProvider(spec)
