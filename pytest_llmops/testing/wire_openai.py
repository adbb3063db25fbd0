"""OpenAI's wire format: chat completions (plain, streamed, with logprobs), embeddings and models."""

from __future__ import annotations

import base64
import hashlib
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from .rules import Fault
from .text import EMBEDDING_DIMENSIONS, count_tokens, embed, tokenize
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
    tool_arguments_text,
)

__all__ = ["CHAT", "EMBEDDINGS", "MODELS", "logprob_entries"]

_ERRORS: Final[Mapping[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
# Plausible runner-up tokens for synthetic top_logprobs.
_ALT_TOKENS: Final = (" the", ",", ".", " a", " and", " of", " to", " is", "\n", " in")
_MODELS_CREATED: Final = 1_700_000_000


class _Dialect:
    """What every OpenAI endpoint shares: its request-id header and its error shape."""

    request_id_header = "x-request-id"

    def error_body(
        self, status: int, message: str, error_type: str | None, next_id: Callable[[], str]
    ) -> dict[str, Any]:
        kind, code = _ERRORS.get(status, ("server_error", None))
        return {"error": {"message": message, "type": error_type or kind, "param": None, "code": code}}


class _Chat(_Dialect):
    """`POST /v1/chat/completions`."""

    endpoint = "chat"

    def serves(self, path: str) -> bool:
        return path == "/chat/completions"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if not isinstance(payload.get("messages"), list):
            raise BadRequest("'messages' is a required property")
        return last_user_text(payload["messages"])

    def reply(self, call: Call) -> Reply:
        payload = call.payload
        answer = compose_answer(
            call,
            prompt_tokens=prompt_tokens(payload["messages"]),
            limit=token_limit(payload),
            choices=_choices(payload),
        )
        return choose_reply(
            call,
            streaming=bool(payload.get("stream")),
            body=lambda: Body(_completion(call, answer), "choices"),
            stream=lambda: _stream(call, answer),
        )


class _Embeddings(_Dialect):
    """`POST /v1/embeddings`: vectors from `text.embed`, as floats or base64."""

    endpoint = "embeddings"

    def serves(self, path: str) -> bool:
        return path == "/embeddings"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if "input" not in payload:
            raise BadRequest("'input' is a required property")
        raw = payload.get("input")
        items = raw if isinstance(raw, list) else [raw]
        return "\n".join(item for item in items if isinstance(item, str))

    def reply(self, call: Call) -> Reply:
        payload = call.payload
        raw = payload.get("input")
        items: list[Any] = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
        texts = [item if isinstance(item, str) else " ".join(map(str, item or [])) for item in items]
        dims = payload.get("dimensions")
        size = dims if isinstance(dims, int) and 0 < dims <= 4096 else EMBEDDING_DIMENSIONS
        as_base64 = payload.get("encoding_format") == "base64"
        data: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            vector = embed(text, size)
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{size}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = call.input_tokens(sum(count_tokens(t) for t in texts))
        body = {
            "object": "list",
            "data": data,
            "model": call.model("scripted-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        # Embeddings never stream; an endless one models a broken proxy dribbling forever.
        endless = Stream((), ("[0.0]",), lambda _, piece: f"data: {piece}\n\n".encode(), ())
        return choose_reply(call, streaming=False, body=lambda: Body(body, "data"), stream=lambda: endless)


CHAT: Final = _Chat()
EMBEDDINGS: Final = _Embeddings()


class _Models:
    """`GET /v1/models` and `GET /v1/models/<id>` for OpenAI clients (the fallback dialect)."""

    errors = CHAT

    def serves(self, headers: Mapping[str, str]) -> bool:
        return True

    def body(self, path: str, models: Sequence[str]) -> dict[str, Any] | None:
        return list_or_lookup(
            path, models, lambda ids: {"object": "list", "data": [_model(m) for m in ids]}, _model
        )


MODELS: Final = _Models()


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": _MODELS_CREATED, "owned_by": "scripted"}


def _choices(payload: dict[str, Any]) -> int:
    n = payload.get("n")
    return n if isinstance(n, int) and n > 0 else 1


def _top_n(payload: dict[str, Any]) -> int:
    top = payload.get("top_logprobs")
    return max(0, min(20, top)) if isinstance(top, int) else 0


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": answer.completion_tokens,
        "total_tokens": answer.prompt_tokens + answer.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": answer.cache_read, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _entries(answer: Answer, top: int) -> list[dict[str, Any]]:
    """`logprobs.content`: the scripted tokens as given, else synthetic ones (`logprob_entries`)."""
    if answer.tokens is None:
        return logprob_entries(answer.text, answer.logprobs, top)
    return [
        {
            "token": t.token,
            "logprob": t.logprob,
            "bytes": list(t.token.encode()),
            "top_logprobs": [
                {"token": k, "logprob": v, "bytes": list(k.encode())}
                for k, v in sorted(t.top.items(), key=lambda kv: kv[1], reverse=True)[:top]
            ],
        }
        for t in answer.tokens
    ]


def _tool_calls(call: Call, answer: Answer) -> list[dict[str, Any]]:
    return [
        {
            "id": f"call_scripted{call.next_id()}",
            "type": "function",
            "function": {"name": tool.name, "arguments": tool_arguments_text(tool)},
        }
        for tool in answer.tool_calls
    ]


def _completion(call: Call, answer: Answer) -> dict[str, Any]:
    payload = call.payload
    logprobs = (
        {"content": _entries(answer, _top_n(payload)), "refusal": None} if payload.get("logprobs") else None
    )
    message: dict[str, Any] = {
        "role": "assistant",
        # Like the real API: a reply that is only tool calls has `content: null`.
        "content": answer.text if answer.text or not answer.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if answer.tool_calls:
        message["tool_calls"] = _tool_calls(call, answer)
    return {
        "id": f"chatcmpl-scripted{call.next_id()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": answer.model,
        "system_fingerprint": "fp_scripted",
        "service_tier": "default",
        "choices": [
            {"index": i, "message": message, "logprobs": logprobs, "finish_reason": answer.finish}
            for i in range(_choices(payload))
        ],
        "usage": _usage(answer),
    }


def _stream(call: Call, answer: Answer) -> Stream:
    payload, fault = call.payload, call.fault
    stream_id = f"chatcmpl-scripted{call.next_id()}"
    created = int(time.time())
    options = payload.get("stream_options")
    include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    entries = _entries(answer, _top_n(payload)) if payload.get("logprobs") else []

    def chunk(delta: dict[str, Any], finish: str | None, logprobs: Any = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return sse(_chunk(stream_id, created, answer.model, [choice], include_usage, fault))

    def render(index: int, piece: str) -> bytes:
        logprobs = None
        if entries:
            logprobs = {"content": [entries[index % len(entries)]], "refusal": None}
        return chunk({"content": piece}, None, logprobs)

    head = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    if fault == "malformed_json":
        head.append(b'data: {"id": "' + stream_id.encode() + b'", "choices": [{"delta": \n\n')
    tail = []
    for index, tool in enumerate(_tool_calls(call, answer)):
        tail.append(chunk({"tool_calls": [{"index": index, **tool}]}, None))
    tail.append(chunk({}, answer.finish))
    if include_usage:
        # The usage-only final chunk has empty choices, as the real API sends.
        final = _chunk(stream_id, created, answer.model, [], False, fault)
        final["usage"] = _usage(answer)
        tail.append(sse(final))
    tail.append(b"data: [DONE]\n\n")
    return Stream(head, answer.deltas(), render, tail, answer.chunk_delay)


def _chunk(
    stream_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    include_usage: bool,
    fault: Fault | None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": stream_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": choices,
    }
    if include_usage:
        # With include_usage the real API sends "usage": null on every content chunk.
        obj["usage"] = None
    if fault == "missing_choices":
        del obj["choices"]
    return obj


def logprob_entries(text: str, scripted: Mapping[str, float] | None, top: int) -> list[dict[str, Any]]:
    """OpenAI `logprobs.content` for the reply; `scripted` shapes one token.

    That is the first token that is one of `scripted`'s keys (ignoring leading whitespace), such
    as a judge's score inside a JSON reply; else the first token.
    """
    entries: list[dict[str, Any]] = []
    tokens = tokenize(text)
    shaped = next((i for i, t in enumerate(tokens) if scripted and t.strip() in scripted), 0)
    for index, token in enumerate(tokens):
        if index == shaped and scripted:
            ranked = sorted(scripted.items(), key=lambda kv: kv[1], reverse=True)
            logprob = scripted.get(token.strip(), ranked[-1][1] - 1.0)
            alternatives = ranked[:top]
        else:
            # Confident (p ~ 0.95-0.99) and the alternatives' mass keeps the sum below 1.
            logprob = -(10 + hashlib.blake2b(token.encode(), digest_size=2).digest()[0] % 40) / 1000
            others = [t for t in _ALT_TOKENS if t != token]
            alternatives = [(token, logprob)] + [(t, -6.0 - i) for i, t in enumerate(others)]
            alternatives = alternatives[:top]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives
                ],
            }
        )
    return entries
