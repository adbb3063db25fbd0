"""pytest-llmops: gate prompt changes in CI the way unit tests gate code.

PYTEST_DONT_REWRITE: the plugin reports through its own failure text, not ``assert``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
