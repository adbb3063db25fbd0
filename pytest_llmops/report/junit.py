"""Per-case figures as JUnit XML properties (``llmops_*`` names, simple values)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["JUNIT_PREFIX", "junit_properties"]

JUNIT_PREFIX = "llmops_"


def junit_properties(data: Mapping[str, Any]) -> list[tuple[str, object]]:
    """Simple per-case values (``CaseResult.to_dict()`` in) that JUnit XML shows as ``<property>``."""
    usage = data.get("tokens") or {}
    judge = data.get("judge_tokens") or {}
    unpriced = bool(data.get("unpriced"))
    values: list[tuple[str, object]] = [
        ("outcome", data.get("outcome")),
        ("prompt", data.get("prompt")),
        ("prompt_version", data.get("prompt_version")),
        ("provider", data.get("provider") or None),
        ("model", data.get("model") or None),
        ("score", data.get("score")),
        ("threshold", data.get("threshold")),
        ("tokens_input", int(usage.get("input", 0))),
        ("tokens_output", int(usage.get("output", 0))),
        ("tokens_cached", int(usage.get("cached", 0))),
        ("cost_usd", "unpriced" if unpriced else data.get("cost_usd")),
        ("latency_ms", data.get("latency_ms")),
        ("ttft_ms", data.get("ttft_ms")),
        ("replayed", "true" if data.get("replayed") else "false"),
    ]
    if any(judge.values()) or data.get("judge_cost_usd") or data.get("judge_failures"):
        values += [
            ("judge_tokens_input", int(judge.get("input", 0))),
            ("judge_tokens_output", int(judge.get("output", 0))),
            ("judge_cost_usd", data.get("judge_cost_usd")),
            ("judge_failures", int(data.get("judge_failures", 0))),
        ]
    return [(_prefixed(name), value) for name, value in values if value is not None]


_PREFIXED: dict[str, str] = {}


def _prefixed(name: str) -> str:
    """``llmops_<name>``, one string per name for the run: every case's properties share it."""
    prefixed = _PREFIXED.get(name)
    if prefixed is None:
        prefixed = _PREFIXED.setdefault(name, JUNIT_PREFIX + name)
    return prefixed
