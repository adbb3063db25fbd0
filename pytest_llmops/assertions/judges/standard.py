"""Judges with fixed prompts: ``relevance``, ``accuracy`` (1-5), ``safety`` (pass/fail), ``factuality``."""

from __future__ import annotations

from pathlib import Path

from ...errors import CannotGrade
from ...spec.schema import AssertionSpec
from ..registry import AssertionContext, Check, register_assertion
from .check import (
    JudgeSetup,
    MaterialsFn,
    expected_material,
    input_material,
    judge_check,
    last_user_message,
    output_material,
    reference_text,
)
from .config import DEFAULT_SCALED_THRESHOLD, judge_provider, only, optional_text, threshold_of
from .defence import Material
from .fields import DEFAULT_SCALE, VerdictShape
from .prompts import ACCURACY_TASK, FACTUALITY_TASK, RELEVANCE_TASK, SAFETY_POLICY, SAFETY_TASK, JudgePrompt
from .rubrics import TEMPERATURE_ZERO

__all__: list[str] = []

_SCALE = VerdictShape("scale")


@register_assertion("relevance", uses_judge=True)
def _relevance(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the output relevant to the input (the last user message, or ``value``)? 1-5, normalised."""
    only(spec, "value", "threshold")
    question = optional_text(spec, "the question to judge relevance against", "value: '{{ question }}'")
    provider = judge_provider(spec)

    def materials(ctx: AssertionContext) -> list[Material]:
        text = question if question is not None else last_user_message(ctx)
        if text is None:
            raise CannotGrade(
                f"{spec.type}: no input to judge against: the case sent no user message;"
                " give the question as `value`"
            )
        return [input_material(text), output_material(ctx)]

    prompt = JudgePrompt("relevance", RELEVANCE_TASK, _SCALE)
    threshold = threshold_of(spec, DEFAULT_SCALED_THRESHOLD, DEFAULT_SCALE)
    return judge_check(JudgeSetup(spec, provider, prompt, materials, threshold, params=TEMPERATURE_ZERO))


def _against_reference(spec: AssertionSpec, reference: str | None) -> MaterialsFn:
    """The material of judges that compare with a reference: the input, the reference, the output."""

    def materials(ctx: AssertionContext) -> list[Material]:
        found = []
        question = last_user_message(ctx)
        if question is not None:
            found.append(input_material(question))
        return [*found, expected_material(reference_text(spec, ctx, reference)), output_material(ctx)]

    return materials


@register_assertion("accuracy", uses_judge=True)
def _accuracy(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the output accurate against the case's ``expected`` (or ``value``)? 1-5, normalised."""
    only(spec, "value", "threshold")
    reference = optional_text(spec, "the reference answer", "value: 'Paris'")
    provider = judge_provider(spec)
    prompt = JudgePrompt("accuracy", ACCURACY_TASK, _SCALE)
    threshold = threshold_of(spec, DEFAULT_SCALED_THRESHOLD, DEFAULT_SCALE)
    materials = _against_reference(spec, reference)
    return judge_check(JudgeSetup(spec, provider, prompt, materials, threshold, params=TEMPERATURE_ZERO))


@register_assertion("safety", uses_judge=True)
def _safety(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the output safe to show? Pass/fail; ``value`` adds policy in plain words."""
    only(spec, "value", "threshold")
    policy = optional_text(spec, "extra policy in plain words", "value: 'No medication dosages'")
    provider = judge_provider(spec)
    task = SAFETY_TASK + (SAFETY_POLICY if policy is not None else "")

    def materials(ctx: AssertionContext) -> list[Material]:
        found = [] if policy is None else [Material("policy", "POLICY", policy, trusted=True)]
        question = last_user_message(ctx)
        if question is not None:
            found.append(input_material(question))
        return [*found, output_material(ctx)]

    prompt = JudgePrompt("safety", task, VerdictShape("pass-fail"))
    threshold = threshold_of(spec, None)
    return judge_check(JudgeSetup(spec, provider, prompt, materials, threshold, params=TEMPERATURE_ZERO))


@register_assertion("factuality", uses_judge=True)
def _factuality(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the output consistent with ``expected`` (or ``value``)? Fails on a disagreement (D)."""
    only(spec, "value", "threshold")
    reference = optional_text(spec, "the reference answer", "value: 'Paris is the capital of France'")
    provider = judge_provider(spec)
    prompt = JudgePrompt("factuality", FACTUALITY_TASK, VerdictShape("category"))
    materials = _against_reference(spec, reference)
    threshold = threshold_of(spec, None)
    return judge_check(JudgeSetup(spec, provider, prompt, materials, threshold, params=TEMPERATURE_ZERO))
