"""Versioned prompts: semantic versions and ranges, the registry, sandboxed rendering, the lock.

Applications load approved prompts with ``from pytest_llmops.prompts import PromptRegistry`` (or
``from pytest_llmops import PromptRegistry``). The names load on first use, so importing one
module of this package (``versions``, say) does not import Jinja2 and pydantic with it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Prompt": "registry",
    "PromptRegistry": "registry",
    "load_prompt_dir": "registry",
    "load_prompt_file": "registry",
    "split_reference": "registry",
    "RenderedPrompt": "render",
    "render_template": "render",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_llmops.prompts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
