"""pytest-llmops: gate prompt changes in CI the way unit tests gate code.

The public names below load on first use, so importing the package (as pytest does for every
run, LLM suites or not) stays cheap. ``PromptRegistry`` never imports pytest: applications use it.

PYTEST_DONT_REWRITE: the plugin reports through its own failure text, not ``assert``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "PromptRegistry": "pytest_llmops.prompts",
    "Prompt": "pytest_llmops.prompts",
    "RenderedPrompt": "pytest_llmops.prompts",
    "LLMResponse": "pytest_llmops.results",
    "CaseResult": "pytest_llmops.results",
    "Grade": "pytest_llmops.results",
    "Usage": "pytest_llmops.results",
    "AppResponse": "pytest_llmops.providers.python",
    "register_assertion": "pytest_llmops.assertions.registry",
    "LlmopsError": "pytest_llmops.errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
