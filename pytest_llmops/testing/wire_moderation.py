"""OpenAI's moderation endpoint, `POST /v1/moderations`, for `moderation` assertions.

A rule's reply text names the categories to flag, separated by commas (`"violence, hate"`);
a reply that names none of OpenAI's categories (the default reply, say) flags nothing.
"""

from __future__ import annotations

from typing import Any, Final

from .rules import reply_text
from .wire import JSON_TYPE, BadRequest, Body, Call, Empty, Reply
from .wire_openai import CHAT

__all__ = ["CATEGORIES", "MODERATIONS"]

CATEGORIES: Final = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)


class _Moderations:
    """`POST /v1/moderations`: one result per input, flagged as the matching rule says."""

    endpoint = "moderations"
    request_id_header = CHAT.request_id_header
    error_body = CHAT.error_body

    def serves(self, path: str) -> bool:
        return path == "/moderations"

    def prompt_text(self, payload: dict[str, Any]) -> str:
        if "input" not in payload:
            raise BadRequest("'input' is a required property")
        raw = payload["input"]
        items = raw if isinstance(raw, list) else [raw]
        return "\n".join(item for item in items if isinstance(item, str))

    def reply(self, call: Call) -> Reply:
        raw = call.payload.get("input")
        count = len(raw) if isinstance(raw, list) else 1
        named = {part.strip() for part in reply_text(call.rule, call.payload, "").split(",")}
        flagged = [c for c in CATEGORIES if c in named]
        result = {
            "flagged": bool(flagged),
            "categories": {c: c in flagged for c in CATEGORIES},
            "category_scores": {c: 0.97 if c in flagged else 0.0004 for c in CATEGORIES},
        }
        body = {
            "id": f"modr-scripted{call.next_id()}",
            "model": call.model("omni-moderation-latest"),
            "results": [result] * count,
        }
        if call.fault == "empty_body":
            return Empty(JSON_TYPE)
        return Body(body, "results")


MODERATIONS: Final = _Moderations()
