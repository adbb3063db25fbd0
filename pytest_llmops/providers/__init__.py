"""Providers: one module per model API, behind the ``Provider`` protocol and a registry."""

from __future__ import annotations

from .anthropic import AnthropicProvider
from .base import Provider, ProviderFactory, ProviderRegistry
from .openai import OpenAIProvider
from .python import AppResponse, PythonProvider

__all__ = [
    "AnthropicProvider",
    "AppResponse",
    "OpenAIProvider",
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "PythonProvider",
    "builtin_providers",
    "default_providers",
]


def builtin_providers() -> dict[str, ProviderFactory]:
    """The providers that ship with the plugin, by kind."""
    return {"openai": OpenAIProvider, "anthropic": AnthropicProvider, "python": PythonProvider}


def default_providers() -> ProviderRegistry:
    """A registry holding the built-in providers (what a run starts from)."""
    registry = ProviderRegistry()
    for kind, factory in builtin_providers().items():
        registry.register(kind, factory)
    return registry
