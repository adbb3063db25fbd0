"""Azure OpenAI: a deployment (``/openai/deployments/<name>/chat/completions?api-version=``) or
the v1 endpoint (``/openai/v1/chat/completions``), with the key in the ``api-key`` header."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from urllib.parse import quote

import httpx

from ..errors import ProviderError
from ..prompts.render import RenderedPrompt
from ..results import LLMResponse
from ..spec.schema import ProviderSpec
from .base import extra_headers, read_api_key
from .openai import OpenAIProvider, read_recorded

__all__ = ["DEFAULT_API_VERSION", "UNSET_ENDPOINT", "AzureOpenAIProvider"]

#: The GA data-plane version of the deployments endpoint; `api_version: v1` picks the v1 endpoint.
DEFAULT_API_VERSION = "2024-10-21"
#: The endpoint when neither `base_url` nor AZURE_OPENAI_ENDPOINT names one (.invalid never resolves).
UNSET_ENDPOINT = "https://set-azure-openai-endpoint.invalid"


@dataclass(frozen=True, slots=True)
class AzureOpenAIProvider:
    """``azure:<deployment>``: chat completions of an Azure OpenAI deployment."""

    spec: ProviderSpec

    @property
    def id(self) -> str:
        return self.spec.display

    @property
    def key_env(self) -> str:
        return self.spec.api_key_env or "AZURE_OPENAI_API_KEY"

    def endpoint(self) -> str:
        # Unset, a replay still matches (the host is not compared) and a live call fails to
        # connect to a host that names the variable to set.
        endpoint = self.spec.base_url or os.environ.get("AZURE_OPENAI_ENDPOINT") or UNSET_ENDPOINT
        return endpoint.rstrip("/")

    def headers(self) -> dict[str, str]:
        """``api-key`` from the key variable, else an Entra ID token as a bearer; then ``headers``."""
        headers: dict[str, str] = {}
        key = read_api_key(self.key_env)
        token = read_api_key("AZURE_OPENAI_AD_TOKEN")
        if key:
            headers["api-key"] = key
        elif token:
            headers["authorization"] = f"Bearer {token}"
        headers.update(extra_headers(self.spec))
        return headers

    def route(self) -> tuple[str, str | None, dict[str, str]]:
        """(url, model sent in the body, query) for the deployment or the v1 endpoint."""
        deployment = self.spec.model
        if not deployment:
            raise ProviderError(f"{self.id}: name the deployment, e.g. azure:my-gpt-4o-mini")
        version = self.spec.api_version or os.environ.get("OPENAI_API_VERSION") or DEFAULT_API_VERSION
        base = self.endpoint()
        if version == "v1" or base.endswith("/openai/v1"):
            # The v1 endpoint takes the deployment as `model` and needs no api-version.
            root = base if base.endswith("/openai/v1") else f"{base}/openai/v1"
            return f"{root}/chat/completions", deployment, {}
        root = base.removesuffix("/openai")
        url = f"{root}/openai/deployments/{quote(deployment, safe='')}/chat/completions"
        return url, None, {"api-version": version}

    def complete(self, prompt: RenderedPrompt, client: httpx.Client) -> LLMResponse:
        url, model, query = self.route()
        chat = OpenAIProvider(self.spec, default_key_env=self.key_env, base_url_env="AZURE_OPENAI_ENDPOINT")
        response = chat.chat(prompt, client, url=url, model=model, headers=self.headers(), query=query)
        # A deployment's reply names the model behind it; without one, the deployment is the model.
        return response if response.model else replace(response, model=self.spec.model or "")

    def read_recorded(self, body: bytes) -> LLMResponse | None:
        """Azure answers in OpenAI's chat completion format."""
        return read_recorded(body)
