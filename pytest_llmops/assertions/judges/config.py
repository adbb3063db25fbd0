"""A judge assertion's configuration, checked at collection: its judge, threshold, value and scale."""

from __future__ import annotations

import math

from ...errors import AssertionConfigError
from ...spec.schema import AssertionSpec, ProviderSpec
from ..config import config_error
from .fields import DEFAULT_SCALE

__all__ = [
    "DEFAULT_SCALED_THRESHOLD",
    "EXAMPLE_JUDGE",
    "config_error",
    "judge_provider",
    "judge_setup_message",
    "only",
    "optional_text",
    "scale_of",
    "threshold_of",
]

#: Pass mark of the scaled judges on the normalised score: a 4 on 1-5.
DEFAULT_SCALED_THRESHOLD = 0.75
EXAMPLE_JUDGE = "openai:gpt-4o-mini"
_JUDGE_SETTINGS = ("value", "threshold", "min", "max", "criteria", "steps", "scale")


def judge_setup_message(assertion_type: str, *, embedding: bool = False) -> str:
    """How to configure a judge (or embedding model): the three places, with an example."""
    if embedding:
        return (
            f"{assertion_type}: no embedding model is configured, and pytest-llmops never picks one"
            " for you. Set one of: `embedding: openai:text-embedding-3-small` at the top of the"
            " suite; `llmops_embedding = openai:text-embedding-3-small` in the [pytest] ini section;"
            " `provider: openai:text-embedding-3-small` (or `provider: local:static-model`, offline)"
            " on this assertion. A suite `judge:` or ini `llmops_judge` is used when no embedding"
            " model is set."
        )
    return (
        f"{assertion_type}: no judge model is configured, and pytest-llmops never picks one for you."
        f" Set one of: `judge: {EXAMPLE_JUDGE}` at the top of the suite; `llmops_judge ="
        f" {EXAMPLE_JUDGE}` in the [pytest] ini section; `provider: {EXAMPLE_JUDGE}` on this"
        " assertion."
    )


def only(spec: AssertionSpec, *used: str) -> None:
    """Refuse the judge settings this assertion does not use."""
    for name in _JUDGE_SETTINGS:
        if name not in used and getattr(spec, name) is not None:
            listed = ", ".join(f"`{u}`" for u in used)
            raise config_error(
                spec, f"`{name}` does not apply to this assertion (it uses {listed}); remove it"
            )


def judge_provider(spec: AssertionSpec) -> ProviderSpec:
    """The judge: the assertion's ``provider`` (the suite's or ini's judge filled in by the plan)."""
    provider = spec.provider
    if provider is None:
        raise AssertionConfigError(judge_setup_message(spec.type))
    if provider.kind == "local":
        raise config_error(
            spec,
            f"{provider.id!r} is a local embedding model; a judge needs a chat model,"
            f" e.g. provider: {EXAMPLE_JUDGE}",
        )
    return provider


def threshold_of(
    spec: AssertionSpec, default: float | None, scale: tuple[int, int] | None = None
) -> float | None:
    """The pass mark on the 0-1 score, or ``default``."""
    if spec.threshold is None:
        return default
    threshold = float(spec.threshold)
    if not 0.0 <= threshold <= 1.0 or not math.isfinite(threshold):
        hint = ""
        if scale is not None:
            low, high = scale
            example = min(high, max(low, round(threshold))) if math.isfinite(threshold) else high
            hint = f" (a {example} on {low}–{high} is threshold: {(example - low) / (high - low):.2f})"
        raise config_error(
            spec, f"`threshold` is a pass mark on the 0–1 score, e.g. threshold: 0.8; got {threshold:g}{hint}"
        )
    return threshold


def optional_text(spec: AssertionSpec, what: str, example: str) -> str | None:
    """``value`` as a non-empty text, or None when it is not set."""
    value = spec.value
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise config_error(
            spec, f"`value` must be {what} as a non-empty string, e.g. {example}; got {value!r}"[:400]
        )
    return value


def scale_of(spec: AssertionSpec) -> tuple[int, int]:
    """g-eval's ``scale``: [lowest, highest]."""
    if spec.scale is None:
        return DEFAULT_SCALE
    low, high = spec.scale
    if low >= high or low < 0 or high - low > 100:
        raise config_error(
            spec,
            "`scale` must be [lowest, highest] with 0 <= lowest < highest, e.g. scale: [1, 5];"
            f" got [{low}, {high}]",
        )
    return low, high
