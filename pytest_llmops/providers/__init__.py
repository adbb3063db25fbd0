"""Providers: one module per model API, behind the ``Provider`` protocol and a registry."""

from __future__ import annotations

from .base import Provider, ProviderFactory, ProviderRegistry

__all__ = ["BUILTIN_PROVIDERS", "Provider", "ProviderFactory", "ProviderRegistry", "default_providers"]

#: The providers that ship with the plugin, by kind; imported on first use.
BUILTIN_PROVIDERS: dict[str, str] = {
    "openai": "pytest_llmops.providers.openai:OpenAIProvider",
    "openai-responses": "pytest_llmops.providers.responses:OpenAIResponsesProvider",
    "azure": "pytest_llmops.providers.azure:AzureOpenAIProvider",
    "anthropic": "pytest_llmops.providers.anthropic:AnthropicProvider",
    "google": "pytest_llmops.providers.google:GeminiProvider",
    "gemini": "pytest_llmops.providers.google:GeminiProvider",
    "vertex": "pytest_llmops.providers.google:VertexProvider",
    "bedrock": "pytest_llmops.providers.bedrock:BedrockProvider",
    "ollama": "pytest_llmops.providers.ollama:OllamaProvider",
    "openrouter": "pytest_llmops.providers.compatible:openrouter",
    "mistral": "pytest_llmops.providers.compatible:mistral",
    "litellm": "pytest_llmops.providers.compatible:litellm",
    "python": "pytest_llmops.providers.python:PythonProvider",
}


def default_providers() -> ProviderRegistry:
    """A registry holding the built-in providers (what a run starts from)."""
    registry = ProviderRegistry()
    for kind, factory in BUILTIN_PROVIDERS.items():
        registry.register(kind, factory)
    return registry
