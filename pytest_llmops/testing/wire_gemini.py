"""Gemini's wire format: `generateContent` and `streamGenerateContent` (SSE), for the Gemini API
(`/v1beta/models/<model>:<method>`) and Vertex AI (`/v1/projects/.../models/<model>:<method>`)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import unquote

from .text import count_tokens
from .wire import (
    MESSAGE_OVERHEAD_TOKENS,
    Answer,
    BadRequest,
    Body,
    Call,
    Reply,
    Stream,
    choose_reply,
    compose_answer,
)

__all__ = ["GENERATE"]

_PATH: Final = re.compile(
    r"^(?:/v1beta|/v1alpha|/v1)?(?:/projects/[^/]+/locations/[^/]+/publishers/google)?"
    r"/models/([^/:]+):(generateContent|streamGenerateContent)$"
)
_FINISH: Final[Mapping[str, str]] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}
_STATUS: Final[Mapping[int, str]] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _parts_text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    if not isinstance(parts, list):
        return ""
    return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def _event(obj: Any) -> bytes:
    # The real API ends its events with CRLF pairs.
    return f"data: {json.dumps(obj)}\r\n\r\n".encode()


class _Generate:
    """`POST .../models/<model>:generateContent` and `...:streamGenerateContent?alt=sse`."""

    endpoint = "gemini"
    request_id_header = "x-request-id"

    def serves(self, path: str) -> bool:
        return _PATH.match(path) is not None

    def prompt_text(self, payload: dict[str, Any]) -> str:
        contents = payload.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified")
        for content in reversed(contents):
            if isinstance(content, dict) and content.get("role", "user") == "user":
                return _parts_text(content)
        return ""

    def reply(self, call: Call) -> Reply:
        match = _PATH.match(call.path)
        model, method = (unquote(match.group(1)), match.group(2)) if match else ("scripted-model", "")
        payload = call.payload
        config = payload.get("generationConfig")
        limit = config.get("maxOutputTokens") if isinstance(config, dict) else None
        texts = [_parts_text(payload.get("systemInstruction"))] if payload.get("systemInstruction") else []
        texts += [_parts_text(c) for c in payload["contents"]]
        answer = compose_answer(
            call,
            prompt_tokens=sum(count_tokens(t) + MESSAGE_OVERHEAD_TOKENS for t in texts),
            limit=limit if isinstance(limit, int) and limit >= 0 else None,
        )
        if call.rule is None or not call.rule.model:
            answer = _named(answer, model)
        response_id = f"scripted{call.next_id()}"
        return choose_reply(
            call,
            streaming=method == "streamGenerateContent",
            body=lambda: Body(_response(answer, answer.text, response_id, final=True), "candidates"),
            stream=lambda: _stream(call, answer, response_id),
        )

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        return {
            "error": {
                "code": status,
                "message": message,
                "status": error_type or _STATUS.get(status, "UNKNOWN"),
            }
        }


GENERATE: Final = _Generate()


def _named(answer: Answer, model: str) -> Answer:
    return dataclasses.replace(answer, model=model)


def _usage(answer: Answer) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": answer.prompt_tokens,
        "candidatesTokenCount": answer.completion_tokens,
        "totalTokenCount": answer.prompt_tokens + answer.completion_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": answer.prompt_tokens}],
    }
    if answer.cache_read:
        usage["cachedContentTokenCount"] = answer.cache_read
    return usage


def _response(answer: Answer, text: str, response_id: str, *, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if final:
        candidate["finishReason"] = _FINISH.get(answer.finish, "STOP")
    body: dict[str, Any] = {
        "candidates": [candidate],
        "modelVersion": answer.model,
        "responseId": response_id,
    }
    if final:
        body["usageMetadata"] = _usage(answer)
    return body


def _stream(call: Call, answer: Answer, response_id: str) -> Stream:
    def render(index: int, piece: str) -> bytes:
        chunk = _response(answer, piece, response_id, final=False)
        if call.fault == "missing_choices":
            del chunk["candidates"]
        return _event(chunk)

    head: list[bytes] = []
    if call.fault == "malformed_json":
        head.append(b'data: {"candidates": [{"content": \r\n\r\n')
    last = _response(answer, "", response_id, final=True)
    if call.fault == "missing_choices":
        del last["candidates"]
    return Stream(head, answer.deltas(), render, [_event(last)], answer.chunk_delay)
