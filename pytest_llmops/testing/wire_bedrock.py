"""Amazon Bedrock's Converse API: `POST /model/<id>/converse`, and `converse-stream` in AWS's
binary event stream (`encode_event` writes its messages with the standard library)."""

from __future__ import annotations

import json
import re
import struct
import zlib
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
    content_text,
)

__all__ = ["CONVERSE", "EVENTSTREAM_TYPE", "encode_event"]

EVENTSTREAM_TYPE: Final = "application/vnd.amazon.eventstream"
_PATH: Final = re.compile(r"^/model/([^/]+)/(converse|converse-stream)$")
_STOP: Final[Mapping[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filtered",
}
_ERRORS: Final[Mapping[int, str]] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


def _header(name: str, value: str) -> bytes:
    raw_name, raw_value = name.encode(), value.encode()
    return bytes([len(raw_name)]) + raw_name + b"\x07" + struct.pack(">H", len(raw_value)) + raw_value


def encode_event(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude, its CRC32, string headers, payload, message CRC32."""
    encoded = b"".join(_header(k, v) for k, v in headers.items())
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + encoded + payload
    return message + struct.pack(">I", zlib.crc32(message))


def _event(kind: str, data: Any) -> bytes:
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return encode_event(headers, json.dumps(data).encode())


class _Converse:
    """`POST /model/<model id>/converse` and `/converse-stream`."""

    endpoint = "bedrock"
    request_id_header = "x-amzn-requestid"

    def serves(self, path: str) -> bool:
        return _PATH.match(path) is not None

    def prompt_text(self, payload: dict[str, Any]) -> str:
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("A conversation must start with a user message.")
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return content_text(message.get("content"))
        return ""

    def reply(self, call: Call) -> Reply:
        match = _PATH.match(call.path)
        payload = call.payload
        config = payload.get("inferenceConfig")
        limit = config.get("maxTokens") if isinstance(config, dict) else None
        system = payload.get("system")
        texts = [content_text(system)] if system else []
        texts += [content_text(m.get("content")) for m in payload["messages"] if isinstance(m, dict)]
        answer = compose_answer(
            call,
            prompt_tokens=sum(count_tokens(t) + MESSAGE_OVERHEAD_TOKENS for t in texts),
            limit=limit if isinstance(limit, int) and limit >= 0 else None,
        )
        streaming = match is not None and match.group(2) == "converse-stream"
        return choose_reply(
            call,
            streaming=streaming,
            body=lambda: Body(_converse(answer), "output"),
            stream=lambda: _stream(call, answer),
        )

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        # botocore reads the error's name from `__type` when no x-amzn-ErrorType header says it.
        return {"message": message, "__type": error_type or _ERRORS.get(status, "InternalServerException")}


CONVERSE: Final = _Converse()


def model_id(path: str) -> str | None:
    """The model id a Converse path names, URL-decoded (ids and ARNs hold `:` and `/`)."""
    match = _PATH.match(path)
    return unquote(match.group(1)) if match else None


def _usage(answer: Answer) -> dict[str, Any]:
    read = answer.cache_read
    written = min(answer.cache_creation_tokens, answer.prompt_tokens - read)
    usage = {
        # Like Anthropic's, Bedrock's inputTokens leaves the cached parts out.
        "inputTokens": answer.prompt_tokens - read - written,
        "outputTokens": answer.completion_tokens,
        "totalTokens": answer.prompt_tokens + answer.completion_tokens,
    }
    if read:
        usage["cacheReadInputTokens"] = read
    if written:
        usage["cacheWriteInputTokens"] = written
    return usage


def _converse(answer: Answer) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
        "stopReason": _STOP.get(answer.finish, "end_turn"),
        "usage": _usage(answer),
        "metrics": {"latencyMs": 1},
    }


def _stream(call: Call, answer: Answer) -> Stream:
    head = [_event("messageStart", {"role": "assistant"})]
    if call.fault == "malformed_json":
        headers = {
            ":event-type": "contentBlockDelta",
            ":content-type": "application/json",
            ":message-type": "event",
        }
        head.append(encode_event(headers, b'{"delta": {"text": '))

    def render(index: int, piece: str) -> bytes:
        return _event("contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": 0})

    tail = [
        _event("contentBlockStop", {"contentBlockIndex": 0}),
        _event("messageStop", {"stopReason": _STOP.get(answer.finish, "end_turn")}),
        _event("metadata", {"usage": _usage(answer), "metrics": {"latencyMs": 1}}),
    ]
    if call.fault == "missing_choices":
        tail = tail[:1]
    return Stream(head, answer.deltas(), render, tail, answer.chunk_delay, EVENTSTREAM_TYPE)
