"""OpenAI-compatible services with their own address and key: OpenRouter, Mistral, LiteLLM.

Each is ``openai:``'s chat completions with another default base URL and key variable; their
kind also tells the price source whose ids they use (``openrouter:anthropic/claude-haiku-4.5``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ..spec.schema import ProviderSpec
from .openai import OpenAIProvider

__all__ = ["PRESETS", "litellm", "mistral", "openrouter"]

#: kind -> (default base URL, key variable, base URL variable)
PRESETS: Final[Mapping[str, tuple[str, str, str]]] = {
    "openrouter": ("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL"),
    "mistral": ("https://api.mistral.ai/v1", "MISTRAL_API_KEY", "MISTRAL_BASE_URL"),
    # A LiteLLM proxy runs where you put it; its default port on this machine.
    "litellm": ("http://localhost:4000", "LITELLM_API_KEY", "LITELLM_BASE_URL"),
}


def _preset(kind: str, spec: ProviderSpec) -> OpenAIProvider:
    base_url, key_env, base_url_env = PRESETS[kind]
    return OpenAIProvider(spec, default_base_url=base_url, default_key_env=key_env, base_url_env=base_url_env)


def openrouter(spec: ProviderSpec) -> OpenAIProvider:
    """``openrouter:<vendor>/<model>``."""
    return _preset("openrouter", spec)


def mistral(spec: ProviderSpec) -> OpenAIProvider:
    """``mistral:<model>``."""
    return _preset("mistral", spec)


def litellm(spec: ProviderSpec) -> OpenAIProvider:
    """``litellm:<model>``: a LiteLLM proxy."""
    return _preset("litellm", spec)
