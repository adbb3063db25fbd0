"""Gemini: the Gemini API (``google:``) and Vertex AI (``vertex:``), ``generateContent`` and
``streamGenerateContent`` (server-sent events), one request and reply format for both."""

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

from ..errors import ProviderError, ProviderHTTPError, ProviderResponseError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse, ToolCall, Usage
from ..spec.schema import ProviderSpec
from .base import extra_headers, extra_query, merged_params, read_api_key, require_model
from .http import as_mapping, exchange_latency, json_body, malformed, parse_structured, post
from .sse import iter_sse, streamed_response

__all__ = [
    "GEMINI_BASE_URL",
    "GeminiProvider",
    "VertexProvider",
    "gemini_payload",
    "parse_generate_content",
    "parse_generate_stream",
    "read_recorded",
]

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
#: Chat parameters and their names in ``generationConfig``.
_CONFIG_NAMES = {
    "temperature": "temperature",
    "top_p": "topP",
    "max_tokens": "maxOutputTokens",
    "seed": "seed",
    "stop": "stopSequences",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
#: Google's status names of the errors a stream may carry, as HTTP codes.
_STATUS_CODES = {"RESOURCE_EXHAUSTED": 429, "UNAVAILABLE": 503, "INTERNAL": 500, "DEADLINE_EXCEEDED": 504}
_VERSIONED = ("/v1", "/v1beta", "/v1alpha")


def gemini_payload(prompt: RenderedPrompt, spec: ProviderSpec) -> tuple[dict[str, Any], bool]:
    """The request body, and whether it asks for JSON.

    The assistant role is ``model``; system messages go in ``systemInstruction``; a chat
    ``response_format`` becomes ``responseMimeType`` (and ``responseJsonSchema``). ``params`` go
    in the body as they are, a ``generationConfig`` among them merged into the one built here.
    """
    params = merged_params(prompt, spec)
    config: dict[str, Any] = {}
    for key, name in _CONFIG_NAMES.items():
        if key in params:
            value = params.pop(key)
            config[name] = [value] if key == "stop" and isinstance(value, str) else value
    wanted = False
    response_format = params.pop("response_format", None)
    if isinstance(response_format, Mapping) and response_format.get("type") in ("json_object", "json_schema"):
        wanted = True
        config["responseMimeType"] = "application/json"
        schema = response_format.get("json_schema")
        if isinstance(schema, Mapping) and isinstance(schema.get("schema"), Mapping):
            config["responseJsonSchema"] = schema["schema"]
    extra_config = params.pop("generationConfig", None)
    if isinstance(extra_config, Mapping):
        config.update(extra_config)
    wanted = wanted or config.get("responseMimeType") == "application/json"
    body: dict[str, Any] = {
        "contents": [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in prompt.messages
            if m.role != "system"
        ]
    }
    if prompt.system is not None:
        body["systemInstruction"] = {"parts": [{"text": prompt.system}]}
    if config:
        body["generationConfig"] = config
    body.update(params)
    return body, wanted


@dataclass(frozen=True, slots=True)
class _Gemini:
    """What both endpoints share: the body, the two methods, the parsers."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    def model_path(self, model: str) -> str:
        raise NotImplementedError

    def auth(self) -> tuple[dict[str, str], str | None, str]:
        """(headers, the key variable for 401 hints, a hint when no key was found)."""
        raise NotImplementedError

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        model = require_model(self.spec, prompt, f"{self.spec.kind}:gemini-2.5-flash").removeprefix("models/")
        stream = self.spec.stream
        method = "streamGenerateContent" if stream else "generateContent"
        url = f"{self.model_path(model)}:{method}"
        query, secret = extra_query(self.spec)
        if stream:
            query = {"alt": "sse", **query}
        headers, key_env, hint = self.auth()
        body, wanted = gemini_payload(prompt, self.spec)
        response = post(
            client,
            provider=self.id,
            url=url,
            payload=body,
            headers={**headers, **extra_headers(self.spec)},
            key_env=key_env,
            timeout=self.spec.timeout,
            params=query,
            secret_params=secret,
            hint=hint,
        )
        if stream:
            return parse_generate_stream(response, provider=self.id, url=url, model=model, structured=wanted)
        data = json_body(response, provider=self.id, url=url)
        return parse_generate_content(
            data, response, provider=self.id, url=url, model=model, structured=wanted
        )

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """The answer a recorded response body holds (see ``read_recorded``)."""
        return read_recorded(body)


@dataclass(frozen=True, slots=True)
class GeminiProvider(_Gemini):
    """``google:<model>``: the Gemini API, keyed by ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``)."""

    def key_env(self) -> str:
        if self.spec.api_key_env:
            return self.spec.api_key_env
        return (
            "GEMINI_API_KEY"
            if read_api_key("GEMINI_API_KEY") or not read_api_key("GOOGLE_API_KEY")
            else "GOOGLE_API_KEY"
        )

    def model_path(self, model: str) -> str:
        base = (self.spec.base_url or os.environ.get("GOOGLE_GEMINI_BASE_URL") or GEMINI_BASE_URL).rstrip("/")
        if not base.endswith(_VERSIONED):
            base += "/v1beta"
        return f"{base}/models/{quote(model, safe='')}"

    def auth(self) -> tuple[dict[str, str], str | None, str]:
        key_env = self.key_env()
        key = read_api_key(key_env)
        # In a header, not `?key=`: a header never reaches a cassette or a log line.
        return ({"x-goog-api-key": key} if key else {}), key_env, ""


@dataclass(frozen=True, slots=True)
class VertexProvider(_Gemini):
    """``vertex:<model>``: Gemini on Vertex AI in a Google Cloud project and location."""

    def location(self) -> str:
        return self.spec.location or os.environ.get("GOOGLE_CLOUD_LOCATION") or "us-central1"

    def model_path(self, model: str) -> str:
        project = self.spec.project or os.environ.get("GOOGLE_CLOUD_PROJECT")
        if not project:
            raise ProviderError(
                f"{self.id}: no project; set GOOGLE_CLOUD_PROJECT or the provider's `project`"
            )
        location = self.location()
        host = (
            "aiplatform.googleapis.com" if location == "global" else f"{location}-aiplatform.googleapis.com"
        )
        base = (self.spec.base_url or f"https://{host}").rstrip("/")
        if not base.endswith(_VERSIONED):
            base += "/v1"
        return (
            f"{base}/projects/{project}/locations/{location}/publishers/google/models/{quote(model, safe='')}"
        )

    def auth(self) -> tuple[dict[str, str], str | None, str]:
        key_env = self.spec.api_key_env or "GOOGLE_OAUTH_ACCESS_TOKEN"
        token = read_api_key(key_env) or _adc_token(self.id)
        hint = (
            f"no token: set {key_env} (e.g. to `gcloud auth print-access-token`) or application-default "
            "credentials with pytest-llmops[vertex] installed"
        )
        return ({"authorization": f"Bearer {token}"} if token else {}), None, hint


def _adc_file() -> Path | None:
    """Application-default credentials, only when a file says there are some.

    Without one, google-auth would ask the cloud metadata server over the network; a replay
    needs no token, so none is looked for.
    """
    named = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if named:
        return Path(named)
    config = Path(os.environ.get("CLOUDSDK_CONFIG") or Path.home() / ".config" / "gcloud")
    path = config / "application_default_credentials.json"
    return path if path.is_file() else None


def _adc_token(provider: str) -> str | None:
    """A bearer token from application-default credentials (the ``[vertex]`` extra)."""
    if _adc_file() is None:
        return None
    try:
        # Imported by name: typed as Any, so type checks pass without the extra.
        google_auth: Any = importlib.import_module("google.auth")
        transport: Any = importlib.import_module("google.auth.transport.requests")
    except ImportError:
        raise ProviderError(
            f"{provider}: application-default credentials need google-auth: "
            "pip install 'pytest-llmops[vertex]' (or set GOOGLE_OAUTH_ACCESS_TOKEN)"
        ) from None
    credentials, _ = google_auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    credentials.refresh(transport.Request())
    return str(credentials.token) if credentials.token else None


def _usage(meta: Any) -> Usage:
    meta = as_mapping(meta)
    # Thinking tokens are billed as output; tool-use prompt tokens as input.
    return Usage(
        input_tokens=int(meta.get("promptTokenCount") or 0) + int(meta.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(meta.get("candidatesTokenCount") or 0) + int(meta.get("thoughtsTokenCount") or 0),
        cached_tokens=int(meta.get("cachedContentTokenCount") or 0),
    )


def _candidate(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    candidates = body.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0]
    return None


def _parts(candidate: Mapping[str, Any] | None) -> tuple[str, list[ToolCall]]:
    """The answer's text (thoughts left out) and its function calls."""
    content = candidate.get("content") if candidate is not None else None
    parts = content.get("parts") if isinstance(content, Mapping) else None
    texts: list[str] = []
    calls: list[ToolCall] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, Mapping):
            continue
        if isinstance(part.get("text"), str) and not part.get("thought"):
            texts.append(part["text"])
        call = part.get("functionCall")
        if isinstance(call, Mapping) and isinstance(call.get("name"), str):
            args = as_mapping(call.get("args"))
            raw = json.dumps(args, ensure_ascii=False)
            calls.append(ToolCall(call["name"], raw, dict(args), call.get("id")))
    return "".join(texts), calls


def _blocked(body: Mapping[str, Any], provider: str, url: str) -> ProviderError:
    feedback = as_mapping(body.get("promptFeedback"))
    reason = feedback.get("blockReason")
    if reason:
        return ProviderResponseError(
            f"{provider}: {url} blocked the prompt ({reason}) and sent no answer", provider=provider, url=url
        )
    return malformed(provider, url, "`candidates`", body)


def parse_generate_content(
    body: Any, response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Text, function calls, finish reason and usage from a ``generateContent`` body."""
    if not isinstance(body, Mapping):
        raise malformed(provider, url, "a JSON object", body)
    candidate = _candidate(body)
    if candidate is None:
        raise _blocked(body, provider, url)
    text, calls = _parts(candidate)
    latency_ms, replayed = exchange_latency(response)
    return LLMResponse(
        text=text,
        provider=provider,
        model=str(body.get("modelVersion") or model),
        usage=_usage(body.get("usageMetadata")),
        finish_reason=candidate.get("finishReason"),
        latency_ms=latency_ms,
        replayed=replayed,
        tool_calls=tuple(calls),
        structured=parse_structured(text, structured),
    )


def parse_generate_stream(
    response: httpx.Response, *, provider: str, url: str, model: str, structured: bool = False
) -> LLMResponse:
    """Assemble ``streamGenerateContent?alt=sse``: each event is a partial reply; the one with a
    finish reason ends it, and the last usage counts."""
    parts: list[str] = []
    calls: list[ToolCall] = []
    usage: Any = None
    finish: str | None = None
    answered_model = model
    first_content: int | None = None
    for event in iter_sse(response.content):
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
        error = chunk.get("error")
        if isinstance(error, Mapping):
            status = error.get("code") if isinstance(error.get("code"), int) else None
            raise ProviderHTTPError(
                f"{provider}: {url} sent an error in the stream: "
                f"{error.get('message')} ({error.get('status')})",
                provider=provider,
                url=url,
                status=status or _STATUS_CODES.get(str(error.get("status")), 500),
            )
        answered_model = str(chunk.get("modelVersion") or answered_model)
        usage = chunk.get("usageMetadata") or usage
        candidate = _candidate(chunk)
        if candidate is None:
            if chunk.get("promptFeedback"):
                raise _blocked(chunk, provider, url)
            continue
        text, new_calls = _parts(candidate)
        if (text or new_calls) and first_content is None:
            first_content = event.end
        if text:
            parts.append(text)
        calls.extend(new_calls)
        finish = candidate.get("finishReason") or finish
    return streamed_response(
        response,
        provider=provider,
        url=url,
        model=answered_model,
        parts=parts,
        usage=_usage(usage),
        finish_reason=finish,
        first_content=first_content,
        ended=finish is not None,
        end_marker="no finishReason",
        tool_calls=calls,
        structured=structured,
    )


def read_recorded(body: bytes) -> LLMResponse | None:
    """The answer in a recorded Gemini body, plain or streamed; None when it is not one."""
    response = httpx.Response(200, content=body)
    try:
        if body.lstrip().startswith(b"{"):
            data = json.loads(body)
            return parse_generate_content(data, response, provider="google", url="(recorded)", model="")
        return parse_generate_stream(response, provider="google", url="(recorded)", model="")
    except (ProviderError, ValueError):
        return None
