"""pytest-llmops: gate prompt changes in CI the way unit tests gate code.

The public names below load on first use, so importing the package (as pytest does for every
run, LLM suites or not) stays cheap. ``PromptRegistry`` never imports pytest: applications use it.

PYTEST_DONT_REWRITE: the plugin reports through its own failure text, not ``assert``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module that defines it. Everything else is internal and may move.
_EXPORTS = {
    "PromptRegistry": "pytest_llmops.prompts.registry",
    "Prompt": "pytest_llmops.prompts.registry",
    "RenderedPrompt": "pytest_llmops.prompts.render",
    "Message": "pytest_llmops.results",
    "LLMResponse": "pytest_llmops.results",
    "CaseResult": "pytest_llmops.results",
    "AssertionResult": "pytest_llmops.results",
    "Outcome": "pytest_llmops.results",
    "Grade": "pytest_llmops.results",
    "Usage": "pytest_llmops.results",
    "AppResponse": "pytest_llmops.providers.python",
    "register_assertion": "pytest_llmops.assertions.registry",
    "AssertionContext": "pytest_llmops.assertions.registry",
    "LlmopsError": "pytest_llmops.errors",
}

__all__ = [
    "AppResponse",
    "AssertionContext",
    "AssertionResult",
    "CaseResult",
    "Grade",
    "LLMResponse",
    "LlmopsError",
    "Message",
    "Outcome",
    "Prompt",
    "PromptRegistry",
    "RenderedPrompt",
    "Usage",
    "__version__",
    "register_assertion",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmops' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
