"""Ollama's native chat API: `POST /api/chat`, one JSON reply or a stream of JSON lines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .wire import (
    BadRequest,
    Body,
    Call,
    Reply,
    Stream,
    choose_reply,
    compose_answer,
    last_user_text,
    prompt_tokens,
)

__all__ = ["CHAT", "NDJSON_TYPE"]

NDJSON_TYPE: Final = "application/x-ndjson"
_DONE_REASONS: Final[Mapping[str, str]] = {"length": "length"}


def _line(obj: Any) -> bytes:
    return (json.dumps(obj) + "\n").encode()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime())


class _Chat:
    """`POST /api/chat`: streams unless the request says `"stream": false`, as Ollama does."""

    endpoint = "ollama"
    request_id_header = "x-request-id"

    def serves(self, path: str) -> bool:
        return path == "/api/chat"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if not isinstance(payload.get("model"), str) or not payload["model"]:
            raise BadRequest("model is required")
        if not isinstance(payload.get("messages", []), list):
            raise BadRequest("messages must be a list")
        return last_user_text(payload.get("messages", []))

    def reply(self, call: Call) -> Reply:
        payload = call.payload
        options = payload.get("options")
        limit = options.get("num_predict") if isinstance(options, dict) else None
        answer = compose_answer(
            call,
            prompt_tokens=prompt_tokens(payload.get("messages", [])),
            limit=limit if isinstance(limit, int) and limit >= 0 else None,
        )
        model = answer.model
        final = {
            "model": model,
            "created_at": _now(),
            "message": {"role": "assistant", "content": answer.text},
            "done": True,
            "done_reason": _DONE_REASONS.get(answer.finish, "stop"),
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": answer.prompt_tokens,
            "prompt_eval_duration": 200_000,
            "eval_count": answer.completion_tokens,
            "eval_duration": 700_000,
        }

        def stream() -> Stream:
            def render(index: int, piece: str) -> bytes:
                return _line(
                    {
                        "model": model,
                        "created_at": _now(),
                        "message": {"role": "assistant", "content": piece},
                        "done": False,
                    }
                )

            head: list[bytes] = []
            if call.fault == "malformed_json":
                head.append(b'{"model": "' + model.encode() + b'", "message": {\n')
            last = dict(final, message={"role": "assistant", "content": ""})
            if call.fault == "missing_choices":
                del last["message"]
            return Stream(head, answer.deltas(), render, [_line(last)], answer.chunk_delay, NDJSON_TYPE)

        return choose_reply(
            call,
            streaming=payload.get("stream", True) is not False,
            body=lambda: Body(final, "message"),
            stream=stream,
        )

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        return {"error": message}


CHAT: Final = _Chat()
