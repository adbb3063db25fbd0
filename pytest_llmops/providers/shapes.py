"""Content parts and tools in each API's own form, so one suite can run on OpenAI and Anthropic.

Parts are written in either API's form. OpenAI receives ``text`` and ``image_url`` parts
(Anthropic's ``image`` blocks become data or plain URLs; ``cache_control``, which OpenAI does
not know, is left out). Anthropic receives ``text`` and ``image`` blocks (an ``image_url`` part
becomes a ``url`` or ``base64`` source) with ``cache_control`` kept. Other part types are sent
as written. Tools written in OpenAI's form (``{type: function, function: {name, parameters}}``)
and ``tool_choice`` values are converted for Anthropic; tools already in its form pass as they are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..results import Message

__all__ = [
    "anthropic_content",
    "anthropic_system",
    "anthropic_tool_choice",
    "anthropic_tools",
    "openai_content",
]

_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


def openai_content(message: Message) -> str | list[dict[str, Any]]:
    """A message's ``content`` as OpenAI's chat API takes it."""
    if message.parts is None:
        return message.content
    out = []
    for part in message.parts:
        item = {k: v for k, v in part.items() if k != "cache_control"}
        if item.get("type") == "image" and isinstance(item.get("source"), Mapping):
            source = item["source"]
            if source.get("type") == "base64":
                url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
            else:
                url = str(source.get("url", ""))
            item = {"type": "image_url", "image_url": {"url": url}}
        out.append(item)
    return out


def _anthropic_part(part: Mapping[str, Any]) -> dict[str, Any]:
    item = dict(part)
    if item.get("type") != "image_url":
        return item
    raw = item.get("image_url")
    url = str(raw.get("url", "")) if isinstance(raw, Mapping) else str(raw or "")
    match = _DATA_URL.match(url)
    source = (
        {"type": "base64", "media_type": match["media"], "data": match["data"]}
        if match
        else {"type": "url", "url": url}
    )
    block: dict[str, Any] = {"type": "image", "source": source}
    if "cache_control" in item:
        block["cache_control"] = item["cache_control"]
    return block


def anthropic_content(message: Message) -> str | list[dict[str, Any]]:
    """A message's ``content`` as Anthropic's Messages API takes it."""
    if message.parts is None:
        return message.content
    return [_anthropic_part(p) for p in message.parts]


def anthropic_system(messages: Sequence[Message]) -> str | list[dict[str, Any]] | None:
    """The system prompt: text, or text blocks when a system message has parts (``cache_control``)."""
    system = [m for m in messages if m.role == "system"]
    if not system:
        return None
    if all(m.parts is None for m in system):
        return "\n\n".join(m.content for m in system)
    blocks: list[dict[str, Any]] = []
    for message in system:
        if message.parts is None:
            blocks.append({"type": "text", "text": message.content})
        else:
            blocks.extend(_anthropic_part(p) for p in message.parts)
    return blocks


def anthropic_tools(tools: Any) -> Any:
    """Tools in Anthropic's form: OpenAI ``function`` tools are converted, others kept."""
    if not isinstance(tools, list):
        return tools
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(tool, Mapping) and tool.get("type") == "function" and isinstance(function, Mapping):
            converted: dict[str, Any] = {"name": function.get("name")}
            if function.get("description"):
                converted["description"] = function["description"]
            converted["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
            out.append(converted)
        else:
            out.append(tool)
    return out


def anthropic_tool_choice(choice: Any) -> Any:
    """``auto``, ``required``, ``none`` or OpenAI's ``{type: function, ...}``, in Anthropic's form."""
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        return {"type": "tool", "name": name}
    return choice
