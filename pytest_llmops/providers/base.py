"""The provider protocol, the registry that maps ``openai:`` to a provider, and shared helpers."""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx

from ..errors import ProviderError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse
from ..spec.schema import ENV_REFERENCE, ProviderSpec
from ..spec.validation import suggest

__all__ = [
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "extra_headers",
    "extra_query",
    "merged_params",
    "read_api_key",
    "require_model",
]


class Provider(Protocol):
    """Calls one model API. Implementations raise ``ProviderError`` subclasses, nothing else."""

    @property
    def id(self) -> str:
        """How reports name this provider, e.g. ``openai:gpt-4o-mini`` (or the suite's label)."""
        ...

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        """Send the rendered prompt through ``client`` (whose transport records or replays)."""
        ...


class ProviderFactory(Protocol):
    """Builds a provider from the suite's provider spec; raise ``ValueError`` for bad settings."""

    def __call__(self, spec: ProviderSpec) -> Provider: ...


class ProviderRegistry:
    """Maps the part of a provider id before ``:`` (``openai``) to a factory.

    A factory may be given as ``"module:attribute"``: it is imported on first use, so a run that
    never calls a provider never imports it. ``refresh`` (set by the plugin) is asked once on a
    miss, so a provider registered by a ``conftest.py`` loaded after the first lookup is found.
    """

    def __init__(self, refresh: Callable[[ProviderRegistry], None] | None = None) -> None:
        self._factories: dict[str, ProviderFactory | str] = {}
        self._refresh = refresh

    def register(self, kind: str, factory: ProviderFactory | str, *, replace: bool = False) -> None:
        if kind in self._factories and not replace:
            raise ValueError(f"provider kind {kind!r} is already registered")
        self._factories[kind] = factory

    def kinds(self) -> list[str]:
        return sorted(self._factories)

    def __contains__(self, kind: object) -> bool:
        return isinstance(kind, str) and self._lookup(kind) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.kinds())

    def _lookup(self, kind: str) -> ProviderFactory | None:
        factory = self._factories.get(kind)
        if factory is None and self._refresh is not None:
            self._refresh(self)
            factory = self._factories.get(kind)
        if isinstance(factory, str):
            module, _, attribute = factory.partition(":")
            factory = self._factories[kind] = getattr(importlib.import_module(module), attribute)
        return factory

    def create(self, spec: ProviderSpec) -> Provider:
        factory = self._lookup(spec.kind)
        if factory is None:
            raise ValueError(
                f"unknown provider {spec.id!r}.{suggest(spec.kind, self.kinds())} "
                f"Known kinds: {', '.join(k + ':<model>' for k in self.kinds())}."
            )
        return factory(spec)

    def update(self, other: ProviderRegistry) -> None:
        """Take the kinds ``other`` has and this one lacks (a refresh)."""
        for kind, factory in other._factories.items():
            self._factories.setdefault(kind, factory)


def read_api_key(env_name: str) -> str | None:
    """The key from the environment at call time; it is never stored anywhere else."""
    value = os.environ.get(env_name, "").strip()
    return value or None


def merged_params(prompt: RenderedPrompt, spec: ProviderSpec) -> dict[str, Any]:
    """Model parameters: the prompt file's, then the provider's (the suite's choice wins)."""
    return {**prompt.params, **spec.model_params()}


def _expand(value: str) -> tuple[str, bool]:
    """``value`` with each ``${NAME}`` read from the environment; (text, whether it named one)."""
    named = False

    def lookup(match: re.Match[str]) -> str:
        nonlocal named
        named = True
        return os.environ.get(match.group(1), "")

    return ENV_REFERENCE.sub(lookup, value), named


def extra_headers(spec: ProviderSpec) -> dict[str, str]:
    """The provider's ``headers``, read at call time; one naming an unset variable is left out.

    Request headers are never stored in cassettes except a few harmless ones
    (``recording/transport.py``), so what these carry stays off disk.
    """
    out: dict[str, str] = {}
    for name, raw in spec.headers.items():
        value, named = _expand(raw)
        if value or not named:
            out[name.lower()] = value
    return out


def extra_query(spec: ProviderSpec) -> tuple[dict[str, str], frozenset[str]]:
    """The provider's ``query`` parameters and the names of those read from the environment.

    Those are secrets: the cassette stores and matches them as ``REDACTED``, so a replay without
    the variable matches the recording made with it.
    """
    params: dict[str, str] = {}
    secret: set[str] = set()
    for name, raw in spec.query.items():
        params[name], named = _expand(raw)
        if named:
            secret.add(name)
    return params, frozenset(secret)


def require_model(spec: ProviderSpec, prompt: RenderedPrompt, example: str) -> str:
    """The model: the provider id's, else the prompt file's; a ``ProviderError`` when neither."""
    model = spec.model or prompt.model
    if not model:
        raise ProviderError(
            f"{spec.display}: no model; name one in the provider ({example}) or in the prompt file's `model:`"
        )
    return model
