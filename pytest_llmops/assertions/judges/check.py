"""Running a judge: the material, the call (one retry), the verdict, and the grade it gives.

Thresholds and ``not-``: a scaled judge's score is normalised to 0-1 and passes at ``threshold``
(default 0.75, a 4 on 1-5). A pass/fail judge passes on its verdict, and with a ``threshold`` only
when its 0-1 score reaches it too. ``not-<type>`` means "the negated property holds with at least
that confidence": it passes only on a ``fail`` verdict whose score is at most 1 - threshold, or on
a normalised score at most 1 - threshold (a 2 on 1-5 without a threshold). It never passes an
unscored judgement.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import CannotGrade, LlmopsError, VerdictParseError
from ...prompts.render import RenderedPrompt
from ...results import Grade, LLMResponse, Message
from ...spec.schema import AssertionSpec, ProviderSpec
from ..reasons import truncate
from ..registry import AssertionContext, Check, Judge
from .config import DEFAULT_SCALED_THRESHOLD
from .defence import Material
from .logprobs import weigh
from .prompts import FACTUALITY_MEANING, JudgePrompt, build_prompt, retry_message, structured_params
from .verdict import Verdict, read_response

__all__ = [
    "JudgeSetup",
    "MaterialsFn",
    "expected_material",
    "input_material",
    "judge_check",
    "last_user_message",
    "output_material",
    "reference_text",
    "text_of",
]

_REASON_LIMIT = 400
_RAW_LIMIT = 4000

MaterialsFn = Callable[[AssertionContext], list[Material]]


@dataclass(frozen=True, slots=True)
class JudgeSetup:
    """Everything a judge check needs, validated at collection."""

    spec: AssertionSpec
    provider: ProviderSpec
    prompt: JudgePrompt
    materials: MaterialsFn
    threshold: float | None
    use_logprobs: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


def text_of(value: Any) -> str:
    """A case's ``expected`` (or any value) as text for the judge."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def last_user_message(ctx: AssertionContext) -> str | None:
    """What the system under test was asked: the last user message the case sent."""
    if ctx.prompt is None:
        return None
    for message in reversed(ctx.prompt.messages):
        if message.role == "user" and message.content.strip():
            return message.content
    return None


def output_material(ctx: AssertionContext) -> Material:
    return Material("output", "OUTPUT (the text to evaluate)", ctx.output)


def input_material(text: str) -> Material:
    return Material("input", "INPUT (what the system under test was asked)", text)


def expected_material(text: str) -> Material:
    return Material("expected", "EXPECTED (the reference answer, correct by definition)", text, trusted=True)


def reference_text(spec: AssertionSpec, ctx: AssertionContext, override: str | None) -> str:
    """The reference answer: the assertion's ``value``, else the case's ``expected``."""
    if override is not None:
        return override
    if ctx.expected is None:
        raise CannotGrade(
            f"{spec.type}: no reference answer: set `expected` on the case or `value` on the assertion"
        )
    return text_of(ctx.expected)


def _ask(judge: Judge, setup: JudgeSetup, prompt: RenderedPrompt) -> LLMResponse:
    try:
        return judge.complete(prompt, setup.provider)
    except (LlmopsError, ValueError) as exc:
        raise CannotGrade(f"{setup.spec.type}: judge {setup.provider.display}: {exc}") from None


def _reply_text(response: LLMResponse) -> str:
    """What the judge said: its text, or its tool call's arguments when it answered by a tool."""
    if response.text or not response.tool_calls:
        return response.text
    return "\n".join(call.raw_arguments for call in response.tool_calls)


def judge_check(setup: JudgeSetup) -> Check:
    """The check of one judge assertion: ask, read (retrying once), grade."""
    name = setup.provider.display
    shape = setup.prompt.shape

    def check(ctx: AssertionContext) -> Grade:
        if ctx.judge is None:
            raise CannotGrade(f"{setup.spec.type}: no judge to call outside a case run")
        materials = setup.materials(ctx)
        extra, tool = structured_params(setup.provider, setup.prompt)
        prompt, nonce = build_prompt(setup.prompt, materials, {**setup.params, **extra})
        response = _ask(ctx.judge, setup, prompt)
        try:
            verdict = read_response(response, shape, materials=materials, nonce=nonce, tool=tool)
        except VerdictParseError as first:
            # One retry, with the reply and a short correction: the judge gets to fix its format.
            first_reply = _reply_text(response)
            retry = RenderedPrompt(
                (
                    *prompt.messages,
                    Message("assistant", first_reply),
                    Message("user", retry_message(first, setup.prompt)),
                ),
                params=prompt.params,
                name=prompt.name,
                version=prompt.version,
            )
            response = _ask(ctx.judge, setup, retry)
            try:
                verdict = read_response(response, shape, materials=materials, nonce=nonce, tool=tool)
            except VerdictParseError as second:
                second_reply = _reply_text(response)
                raw = f"{first_reply}\n--- reply to the retry ---\n{second_reply}"
                return Grade(
                    False,
                    0.0,
                    f"unscored: judge {name}'s reply could not be read, even after a retry ({second});"
                    f" it replied: {truncate(repr(second_reply), 300)}",
                    unscored=True,
                    raw=truncate(raw, _RAW_LIMIT),
                )
        return grade(setup, verdict, response)

    return check


def _why(verdict: Verdict) -> str:
    reason = " ".join(verdict.reason.split())
    return f": {truncate(reason, _REASON_LIMIT)}" if reason else " (no reason given)"


def _weighted(setup: JudgeSetup, verdict: Verdict, response: LLMResponse) -> tuple[float, str]:
    """The score on the scale and how it was reached (weighted by token probabilities or written)."""
    low, high = setup.prompt.shape.scale
    assert verdict.score is not None
    written = f"{verdict.score:g} on {low}–{high}"
    logprobs = response.metadata.get("logprobs")
    if not isinstance(logprobs, list):
        asked = setup.use_logprobs and setup.params.get("logprobs") is True
        return verdict.score, written + (" (the judge returned no token probabilities)" if asked else "")
    if not verdict.score.is_integer():
        return verdict.score, written  # "4.5" is not a token of the scale: taken as written
    if verdict.score_at is None:
        return verdict.score, f"{written} (written score: its place in the reply is not known)"
    weighting = weigh(response.text, logprobs, verdict.score_at, (low, high))
    if weighting.score is None:
        return verdict.score, f"{written} (written score: {weighting.note})"
    shown = (
        f"{weighting.score:.2f} on {low}–{high}, weighted by token probabilities (it wrote {verdict.score:g})"
    )
    return weighting.score, shown


def grade(setup: JudgeSetup, verdict: Verdict, response: LLMResponse) -> Grade:
    """The grade a verdict gives, with the threshold and ``not-`` applied as the module says.

    ``not-`` itself is applied by the registry (it flips pass and score); a negated grade here
    is written so that the flip gives the documented result.
    """
    name = setup.provider.display
    threshold = setup.threshold
    negated = setup.spec.negated
    shape = setup.prompt.shape
    if shape.kind == "scale":
        low, high = shape.scale
        raw, how = _weighted(setup, verdict, response)
        score = (raw - low) / (high - low)
        cutoff = DEFAULT_SCALED_THRESHOLD if threshold is None else threshold
        if negated:
            holds = 1.0 - score >= cutoff - 1e-9
            sign = ">=" if holds else "<"
            return Grade(
                not holds,
                score,
                f"judge {name} scored {how} = {score:.2f}; negated {1.0 - score:.2f} {sign} {cutoff:g}"
                + _why(verdict),
            )
        passed = score >= cutoff - 1e-9
        sign = ">=" if passed else "<"
        return Grade(
            passed, score, f"judge {name} scored {how} = {score:.2f} {sign} {cutoff:g}{_why(verdict)}"
        )
    if shape.kind == "category":
        assert verdict.category is not None and verdict.passed is not None
        score = 1.0 if verdict.passed else 0.0
        passed = verdict.passed and (threshold is None or score >= threshold)
        meaning = FACTUALITY_MEANING.get(verdict.category, "")
        return Grade(passed, score, f"judge {name}: ({verdict.category}) the output {meaning}{_why(verdict)}")
    assert verdict.passed is not None
    score = verdict.score if verdict.score is not None else (1.0 if verdict.passed else 0.0)
    shown = "" if verdict.score is None else f" (score {score:.2f})"
    word = "pass" if verdict.passed else "fail"
    if negated and threshold is not None and not verdict.passed and 1.0 - score < threshold - 1e-9:
        return Grade(
            True,
            score,
            f"judge {name}: fail{shown}, but the negation's score {1.0 - score:.2f} < threshold"
            f" {threshold:g}{_why(verdict)}",
        )
    if not negated and verdict.passed and threshold is not None and score < threshold - 1e-9:
        return Grade(
            False,
            score,
            f"judge {name}: pass, but score {score:.2f} < threshold {threshold:g}{_why(verdict)}",
        )
    return Grade(verdict.passed, score, f"judge {name}: {word}{shown}{_why(verdict)}")
