"""Providers: one module per model API, behind the ``Provider`` protocol and a registry."""

from __future__ import annotations

from . import openai as openai  # registers `openai:`
from .base import (
    Provider,
    ProviderFactory,
    ProviderRegistry,
    default_provider_registry,
    register_provider,
)

__all__ = [
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "default_provider_registry",
    "register_provider",
]
