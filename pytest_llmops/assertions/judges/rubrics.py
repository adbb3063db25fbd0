"""Judges of criteria the suite writes: ``llm-rubric`` (pass/fail) and ``g-eval`` (a scale)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...spec.schema import AssertionSpec
from ..registry import AssertionContext, Check, register_assertion
from .check import (
    JudgeSetup,
    expected_material,
    input_material,
    judge_check,
    last_user_message,
    output_material,
    text_of,
)
from .config import (
    DEFAULT_SCALED_THRESHOLD,
    config_error,
    judge_provider,
    only,
    optional_text,
    scale_of,
    threshold_of,
)
from .defence import Material
from .fields import VerdictShape
from .logprobs import TOP_LOGPROBS
from .prompts import RUBRIC_EXAMPLES, RUBRIC_TASK, JudgePrompt, g_eval_task

__all__ = ["TEMPERATURE_ZERO"]

TEMPERATURE_ZERO = {"temperature": 0}
RUBRIC_PROMPT = JudgePrompt(
    "llm-rubric", RUBRIC_TASK, VerdictShape("pass-fail"), RUBRIC_EXAMPLES, requirements=True
)


@register_assertion("llm-rubric", uses_judge=True)
def _llm_rubric(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """A rubric in plain words; the judge sees the input, the output and the rubric."""
    only(spec, "value", "threshold")
    example = "value: 'Apologises and offers a refund; does not blame the customer'"
    rubric = optional_text(spec, "the rubric in plain words", example)
    if rubric is None:
        raise config_error(spec, f"`value` is required: the rubric in plain words, e.g. {example}")
    provider = judge_provider(spec)

    def materials(ctx: AssertionContext) -> list[Material]:
        found = [Material("rubric", "RUBRIC (what the output must satisfy)", rubric, trusted=True)]
        question = last_user_message(ctx)
        if question is not None:
            found.append(input_material(question))
        return [*found, output_material(ctx)]

    return judge_check(
        JudgeSetup(
            spec, provider, RUBRIC_PROMPT, materials, threshold_of(spec, None), params=TEMPERATURE_ZERO
        )
    )


@register_assertion("g-eval", uses_judge=True)
def _g_eval(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Criteria and evaluation steps written in the suite, scored on ``scale`` and normalised."""
    only(spec, "value", "threshold", "criteria", "steps", "scale")
    example = (
        "criteria: 'Coherence: the answer is well organised', steps: ['Read the question',"
        " 'Check each paragraph follows from the last', 'Score 1-5']"
    )
    if spec.criteria is not None and spec.value is not None:
        raise config_error(spec, "give the criteria once, in `criteria` (or `value`), not both")
    criteria = spec.criteria if spec.criteria is not None else spec.value
    if not isinstance(criteria, str) or not criteria.strip():
        raise config_error(spec, f"`criteria` is required: what is judged, in plain words, e.g. {example}")
    if not spec.steps:
        raise config_error(
            spec,
            "`steps` is required: the evaluation steps, written in the suite (they are never"
            f" generated at run time, so the rubric cannot drift between runs), e.g. {example}",
        )
    for index, step in enumerate(spec.steps):
        if not step.strip():
            raise config_error(spec, f"`steps[{index}]` is empty; each step is a sentence, e.g. {example}")
    scale = scale_of(spec)
    provider = judge_provider(spec)
    numbered = "\n".join(f"{i}. {step.strip()}" for i, step in enumerate(spec.steps, 1))

    def materials(ctx: AssertionContext) -> list[Material]:
        found = [
            Material("criteria", "CRITERIA", criteria, trusted=True),
            Material("steps", "EVALUATION STEPS", numbered, trusted=True),
        ]
        question = last_user_message(ctx)
        if question is not None:
            found.append(input_material(question))
        if ctx.expected is not None:
            found.append(expected_material(text_of(ctx.expected)))
        found.append(output_material(ctx))
        return found

    # Token log-probabilities weigh the score (G-Eval), asked of openai: judges; any judge whose
    # reply carries them is weighed. A judge whose own `params` set `logprobs` decides for itself
    # (an endpoint may reject them: `false`).
    params: dict[str, Any] = dict(TEMPERATURE_ZERO)
    chosen = provider.params.get("logprobs")
    use_logprobs = provider.kind == "openai" if chosen is None else bool(chosen)
    if use_logprobs and chosen is None:
        params.update(logprobs=True, top_logprobs=TOP_LOGPROBS)
    prompt = JudgePrompt("g-eval", g_eval_task(scale), VerdictShape("scale", scale=scale))
    return judge_check(
        JudgeSetup(
            spec,
            provider,
            prompt,
            materials,
            threshold_of(spec, DEFAULT_SCALED_THRESHOLD, scale),
            use_logprobs=use_logprobs,
            params=params,
        )
    )
