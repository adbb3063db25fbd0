"""The wire formats the scripted server speaks: register a new one here, in routing order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from . import wire_anthropic, wire_azure, wire_bedrock, wire_gemini, wire_ollama, wire_openai, wire_responses
from .wire import ModelList, WireFormat

__all__ = ["MODEL_LISTS", "WIRE_FORMATS", "for_path", "for_unknown_path", "model_list"]

WIRE_FORMATS: Final[tuple[WireFormat, ...]] = (
    wire_openai.CHAT,
    wire_openai.EMBEDDINGS,
    wire_anthropic.MESSAGES,
    wire_azure.CHAT,
    wire_responses.RESPONSES,
    wire_gemini.GENERATE,
    wire_bedrock.CONVERSE,
    wire_ollama.CHAT,
)
# The first that claims a GET's headers answers it; the last is the fallback.
MODEL_LISTS: Final[tuple[ModelList, ...]] = (wire_anthropic.MODELS, wire_openai.MODELS)


def for_path(path: str) -> WireFormat | None:
    """The format that serves POSTs to `path` (without the /v1 prefix), if any."""
    return next((fmt for fmt in WIRE_FORMATS if fmt.serves(path)), None)


def for_unknown_path(path: str) -> WireFormat:
    """Whose error shape a 404 for an unknown POST path takes: Anthropic's for a messages-like path."""
    return wire_anthropic.MESSAGES if "messages" in path else wire_openai.CHAT


def model_list(headers: Mapping[str, str]) -> ModelList:
    """The dialect a GET is answered in, judged by its headers."""
    return next(models for models in MODEL_LISTS if models.serves(headers))
