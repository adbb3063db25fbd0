"""Azure OpenAI's routes: a deployment's chat completions, and the v1 endpoint's.

The replies are OpenAI's chat completions (`wire_openai.CHAT`); a deployment's request names
no model, so the reply names the deployment.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Final
from urllib.parse import unquote

from . import wire_openai
from .wire import Call, Reply

__all__ = ["CHAT"]

_DEPLOYMENT: Final = re.compile(r"^/openai/deployments/([^/]+)/chat/completions$")


class _AzureChat(wire_openai._Dialect):
    """`POST /openai/deployments/<name>/chat/completions` and `POST /openai/v1/chat/completions`."""

    endpoint = "azure"

    def serves(self, path: str) -> bool:
        return path == "/openai/v1/chat/completions" or _DEPLOYMENT.match(path) is not None

    def prompt_text(self, payload: dict[str, Any]) -> str:
        return wire_openai.CHAT.prompt_text(payload)

    def reply(self, call: Call) -> Reply:
        match = _DEPLOYMENT.match(call.path)
        if match is not None and not call.payload.get("model"):
            call = dataclasses.replace(call, payload={**call.payload, "model": unquote(match.group(1))})
        return wire_openai.CHAT.reply(call)


CHAT: Final = _AzureChat()
