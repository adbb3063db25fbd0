"""OpenAI's Responses API: `POST /v1/responses`, a response object or a stream of typed events."""

from __future__ import annotations

import time
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
    content_text,
    prompt_tokens,
    sse,
)
from .wire_openai import _Dialect

__all__ = ["RESPONSES"]


def _messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """`input` as chat messages: a string is one user message; items keep their role."""
    raw = payload.get("input")
    if isinstance(raw, str):
        return [{"role": "user", "content": raw}]
    return [item for item in raw or () if isinstance(item, dict) and "role" in item]


class _Responses(_Dialect):
    """`POST /v1/responses`."""

    endpoint = "responses"

    def serves(self, path: str) -> bool:
        return path == "/responses"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if not isinstance(payload.get("model"), str):
            raise BadRequest("Missing required parameter: 'model'.")
        if not isinstance(payload.get("input"), (str, list)):
            raise BadRequest("Missing required parameter: 'input'.")
        users = [m for m in _messages(payload) if m.get("role") == "user"]
        return content_text(users[-1].get("content")) if users else ""

    def reply(self, call: Call) -> Reply:
        payload = call.payload
        limit = payload.get("max_output_tokens")
        answer = compose_answer(
            call,
            prompt_tokens=prompt_tokens(_messages(payload), system=payload.get("instructions")),
            limit=limit if isinstance(limit, int) and limit >= 0 else None,
        )
        ids = _Ids(call)
        return choose_reply(
            call,
            streaming=bool(payload.get("stream")),
            body=lambda: Body(_response(call, answer, ids, done=True), "output"),
            stream=lambda: _stream(call, answer, ids),
        )


RESPONSES: Final = _Responses()


class _Ids:
    """The ids one response uses: its own and its message item's."""

    def __init__(self, call: Call) -> None:
        serial = call.next_id()
        self.response = f"resp_scripted{serial}"
        self.message = f"msg_scripted{serial}"
        self.created = int(time.time())


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": answer.cache_read,
            "cache_write_tokens": min(answer.cache_creation_tokens, answer.prompt_tokens - answer.cache_read),
        },
        "output_tokens": answer.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _item(answer: Answer, ids: _Ids, text: str, status: str) -> dict[str, Any]:
    content = [_text_part(text)] if status != "in_progress" else []
    return {"id": ids.message, "type": "message", "status": status, "role": "assistant", "content": content}


def _response(call: Call, answer: Answer, ids: _Ids, *, done: bool) -> dict[str, Any]:
    payload = call.payload
    incomplete = answer.finish == "length"
    status = ("incomplete" if incomplete else "completed") if done else "in_progress"
    text_format = (
        payload.get("text") if isinstance(payload.get("text"), dict) else {"format": {"type": "text"}}
    )
    return {
        "id": ids.response,
        "object": "response",
        "created_at": ids.created,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if done and incomplete else None,
        "instructions": payload.get("instructions"),
        "max_output_tokens": payload.get("max_output_tokens"),
        "model": answer.model,
        "output": [_item(answer, ids, answer.text, "incomplete" if incomplete else "completed")]
        if done
        else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": payload.get("store", True),
        "temperature": payload.get("temperature", 1.0),
        "text": text_format,
        "tool_choice": "auto",
        "tools": [],
        "top_p": payload.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": _usage(answer) if done else None,
        "user": None,
        "metadata": {},
    }


def _stream(call: Call, answer: Answer, ids: _Ids) -> Stream:
    pieces = answer.deltas()
    numbers = iter(range(4))

    def event(kind: str, number: int | None = None, /, **fields: Any) -> bytes:
        serial = next(numbers) if number is None else number
        return sse({"type": kind, "sequence_number": serial, **fields}, kind)

    where = {"item_id": ids.message, "output_index": 0, "content_index": 0}
    head = [
        event("response.created", response=_response(call, answer, ids, done=False)),
        event("response.in_progress", response=_response(call, answer, ids, done=False)),
        event("response.output_item.added", output_index=0, item=_item(answer, ids, "", "in_progress")),
        event("response.content_part.added", **where, part=_text_part("")),
    ]
    if call.fault == "malformed_json":
        head.append(b'event: response.output_text.delta\ndata: {"type": "response.output_text.delta", \n\n')

    def render(index: int, piece: str) -> bytes:
        return event("response.output_text.delta", 4 + index, **where, delta=piece, logprobs=[])

    final = _response(call, answer, ids, done=True)
    if call.fault == "missing_choices":
        del final["output"]
    item = _item(answer, ids, answer.text, final["status"])
    after = 4 + len(pieces)
    last = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    tail = [
        event("response.output_text.done", after, **where, text=answer.text, logprobs=[]),
        event("response.content_part.done", after + 1, **where, part=_text_part(answer.text)),
        event("response.output_item.done", after + 2, output_index=0, item=item),
        event(last, after + 3, response=final),
    ]
    return Stream(head, pieces, render, tail, answer.chunk_delay)
