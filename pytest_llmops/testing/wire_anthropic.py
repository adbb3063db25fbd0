"""Anthropic's wire format: messages (plain and streamed as typed events) and models."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .wire import (
    Answer,
    BadRequest,
    Body,
    Call,
    Reply,
    Stream,
    choose_reply,
    compose_answer,
    last_user_text,
    list_or_lookup,
    prompt_tokens,
    sse,
    token_limit,
    tool_arguments_object,
    tool_arguments_text,
)

__all__ = ["MESSAGES", "MODELS"]

_ERRORS: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_STOP_REASONS: Final[Mapping[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


class _Messages:
    """`POST /v1/messages`."""

    endpoint = "messages"
    request_id_header = "request-id"

    def serves(self, path: str) -> bool:
        return path == "/messages"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if not isinstance(payload.get("messages"), list):
            raise BadRequest("messages: Field required")
        if not isinstance(payload.get("max_tokens"), int):
            raise BadRequest("max_tokens: Field required")
        return last_user_text(payload["messages"])

    def reply(self, call: Call) -> Reply:
        payload = call.payload
        answer = compose_answer(
            call,
            prompt_tokens=prompt_tokens(payload["messages"], system=payload.get("system")),
            limit=token_limit(payload),
        )
        return choose_reply(
            call,
            streaming=bool(payload.get("stream")),
            body=lambda: Body(_message(call, answer, final=True), "content"),
            stream=lambda: _stream(call, answer),
        )

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": error_type or _ERRORS.get(status, "api_error"), "message": message},
            "request_id": f"req_{next_id()}",
        }


MESSAGES: Final = _Messages()


class _Models:
    """`GET /v1/models` and `GET /v1/models/<id>` for clients that send `anthropic-version`."""

    errors = MESSAGES

    def serves(self, headers: Mapping[str, str]) -> bool:
        return "anthropic-version" in headers

    def body(self, path: str, models: Sequence[str]) -> dict[str, Any] | None:
        return list_or_lookup(path, models, _listing, _model)


MODELS: Final = _Models()


def _model(model_id: str) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model_id,
        "display_name": model_id,
        "created_at": "2023-11-14T22:13:20Z",
        "lifecycle": "active",
    }


def _listing(models: Sequence[str]) -> dict[str, Any]:
    return {
        "data": [_model(m) for m in models],
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


def _stop_reason(answer: Answer) -> str:
    return _STOP_REASONS.get(answer.finish, answer.finish)


def _usage(answer: Answer, output_tokens: int) -> dict[str, Any]:
    cached = answer.cache_read
    creation = min(answer.cache_creation_tokens, answer.prompt_tokens - cached)
    return {
        # Anthropic reports cache reads/writes separately from fresh input.
        "input_tokens": answer.prompt_tokens - cached - creation,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": creation,
    }


def _content(call: Call, answer: Answer) -> list[dict[str, Any]]:
    """The content blocks: the text (unless the reply is only tool calls), then `tool_use` blocks."""
    blocks: list[dict[str, Any]] = []
    if answer.text or not answer.tool_calls:
        blocks.append({"type": "text", "text": answer.text})
    for tool in answer.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": f"toolu_scripted{call.next_id()}",
                "name": tool.name,
                "input": tool_arguments_object(tool),
            }
        )
    return blocks


def _message(call: Call, answer: Answer, *, final: bool) -> dict[str, Any]:
    return {
        "id": f"msg_scripted{call.next_id()}",
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": _content(call, answer) if final else [],
        "stop_reason": _stop_reason(answer) if final else None,
        "stop_sequence": None,
        # Like the real API, message_start reports 1 output token so far.
        "usage": _usage(answer, answer.completion_tokens if final else 1),
    }


def _stream(call: Call, answer: Answer) -> Stream:
    # Without content the deltas would reference a block that never started.
    with_content = call.fault != "missing_choices"
    start = _message(call, answer, final=False)
    if not with_content:
        del start["content"]
    head = [sse({"type": "message_start", "message": start}, "message_start")]
    if call.fault == "malformed_json":
        head.append(b'event: content_block_start\ndata: {"type": "content_block_start", "index": \n\n')
    if with_content:
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        head.append(sse(block, "content_block_start"))
    head.append(sse({"type": "ping"}, "ping"))

    def render(index: int, piece: str) -> bytes:
        delta = {"type": "text_delta", "text": piece}
        return sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")

    tail = [sse({"type": "content_block_stop", "index": 0}, "content_block_stop")] if with_content else []
    for offset, tool in enumerate(answer.tool_calls if with_content else (), 1):
        block = {"type": "tool_use", "id": f"toolu_scripted{call.next_id()}", "name": tool.name, "input": {}}
        delta = {"type": "input_json_delta", "partial_json": tool_arguments_text(tool)}
        tail += [
            sse(
                {"type": "content_block_start", "index": offset, "content_block": block},
                "content_block_start",
            ),
            sse({"type": "content_block_delta", "index": offset, "delta": delta}, "content_block_delta"),
            sse({"type": "content_block_stop", "index": offset}, "content_block_stop"),
        ]
    stop = {"stop_reason": _stop_reason(answer), "stop_sequence": None}
    usage = _usage(answer, answer.completion_tokens)
    tail.append(sse({"type": "message_delta", "delta": stop, "usage": usage}, "message_delta"))
    tail.append(sse({"type": "message_stop"}, "message_stop"))
    pieces = answer.deltas() if with_content else []
    return Stream(head, pieces, render, tail, answer.chunk_delay)
