"""``moderation``: OpenAI's moderation endpoint finds nothing to flag in the output.

The call goes through the case's cassette like a judge's (recorded, replayed offline, counted
apart). The model is the assertion's ``provider`` (default ``openai:omni-moderation-latest``,
at ``OPENAI_BASE_URL`` or the provider's ``base_url``). ``value`` may list the categories that
count (``[harassment, violence]``); without it, OpenAI's own ``flagged`` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import CannotGrade, LlmopsError
from ..results import Grade
from ..spec.schema import AssertionSpec, ProviderSpec
from .config import assertion_type, config_error, got
from .registry import AssertionContext, Check

__all__ = ["DEFAULT_MODERATION_MODEL"]

DEFAULT_MODERATION_MODEL = "openai:omni-moderation-latest"


@assertion_type("moderation", "value", uses_judge=True)
def _moderation(spec: AssertionSpec, *, base_dir: Path) -> Check:
    value = spec.value
    if isinstance(value, str):
        value = [value]
    if value is not None and (
        not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value)
    ):
        raise config_error(
            spec,
            f"`value` lists the categories that count, e.g. value: [harassment, violence]; {got(spec.value)}",
        )
    categories = None if value is None else list(value)
    provider = spec.provider or ProviderSpec(id=DEFAULT_MODERATION_MODEL)
    if provider.kind != "openai":
        raise config_error(
            spec,
            f"moderation asks OpenAI's /moderations endpoint: use an openai: provider; got {provider.id!r}",
        )

    def check(ctx: AssertionContext) -> Grade:
        if ctx.judge is None:
            raise CannotGrade(f"{spec.type}: no model calls outside a case run")
        try:
            result = ctx.judge.moderate(ctx.output, provider)
        except (LlmopsError, ValueError) as exc:
            raise CannotGrade(f"{spec.type}: {provider.display}: {exc}") from None
        flags = result.get("categories")
        flags = flags if isinstance(flags, Mapping) else {}
        scores = result.get("category_scores")
        scores = scores if isinstance(scores, Mapping) else {}
        if categories is None:
            flagged = sorted(k for k, v in flags.items() if v is True)
            if bool(result.get("flagged")) or flagged:
                shown = ", ".join(f"{k} ({float(scores.get(k, 0)):.2f})" for k in flagged) or "flagged"
                return Grade(False, 0.0, f"{provider.display} flagged the output: {shown}")
            return Grade(True, 1.0, f"{provider.display} flagged nothing")
        flagged = [c for c in categories if flags.get(c) is True]
        unknown = [c for c in categories if c not in flags]
        if unknown and flags:
            raise CannotGrade(
                f"{spec.type}: {provider.display} knows no category {unknown[0]!r};"
                f" it has {', '.join(sorted(flags))}"
            )
        if flagged:
            shown = ", ".join(f"{k} ({float(scores.get(k, 0)):.2f})" for k in flagged)
            return Grade(False, 0.0, f"{provider.display} flagged the output: {shown}")
        return Grade(True, 1.0, f"{provider.display} flagged none of {', '.join(categories)}")

    return check
