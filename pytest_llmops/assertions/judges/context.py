"""Model-graded checks promptfoo users bring: ``model-graded-closedqa``, ``answer-relevance``,
``context-faithfulness``, ``context-recall`` and ``context-relevance``.

They are judges like ``standard``'s: a fixed prompt per kind (``PROMPTS`` below, shown in the
docs), material in tagged blocks, the reply read strictly with the injection defence, structured
output where the judge's API has it, one retry, and an unreadable reply *unscored*. The retrieved
context is untrusted material (it may carry an injected verdict); the criterion and the ground
truth are the suite author's.

The retrieved context of the ``context-*`` checks is what a ``python:`` application returned as
``context`` (``metadata["context"]``), else the case variable ``context``; the question is the
variable ``query``, else the last user message the case sent. A list of passages is shown
numbered, a mapping as JSON. ``context-recall`` compares the context with the ground truth in
``value`` (or the case's ``expected``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ...errors import CannotGrade
from ...spec.schema import AssertionSpec
from ..registry import AssertionContext, Check, register_assertion
from .check import (
    JudgeSetup,
    MaterialsFn,
    input_material,
    judge_check,
    last_user_message,
    output_material,
    reference_text,
)
from .config import DEFAULT_SCALED_THRESHOLD, config_error, judge_provider, only, optional_text, threshold_of
from .defence import Material
from .fields import DEFAULT_SCALE, VerdictShape
from .prompts import JudgePrompt
from .rubrics import TEMPERATURE_ZERO

__all__ = ["CONTEXT_HEADING", "CRITERION_HEADING", "PROMPTS", "TRUTH_HEADING", "retrieved_context"]

CONTEXT_HEADING = "CONTEXT (what was retrieved for the answer)"
CRITERION_HEADING = "CRITERION"
TRUTH_HEADING = "GROUND TRUTH"


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n\n".join(f"[{i}] {_text(item)}" for i, item in enumerate(value, 1))
    return json.dumps(value, ensure_ascii=False, default=str)


def retrieved_context(ctx: AssertionContext, kind: str) -> str:
    """The context the answer was given: the application's, else the ``context`` variable."""
    found = ctx.response.metadata.get("context")
    if found is None:
        found = ctx.vars.get("context")
    if found is None or (isinstance(found, (str, list)) and not found):
        raise CannotGrade(
            f"{kind}: no retrieved context: return `context` from the `python:` application, or give"
            " the case a `context` variable (e.g. vars: {context: file://docs/policy.txt})"
        )
    return _text(found)


def _question(ctx: AssertionContext, kind: str, override: str | None = None) -> str:
    if override is not None:
        return override
    query = ctx.vars.get("query")
    if query is not None:
        return _text(query)
    found = last_user_message(ctx)
    if found is None:
        raise CannotGrade(f"{kind}: no question: give the case a `query` variable, or send a user message")
    return found


def _context_material(ctx: AssertionContext, kind: str) -> Material:
    # Untrusted: retrieved documents are outside the suite author's hands, and may carry a verdict.
    return Material("context", CONTEXT_HEADING, retrieved_context(ctx, kind))


_CLOSEDQA_TASK = """\
You are assessing a submitted answer against a criterion. Read the INPUT (the task the system \
was given), the CRITERION, and the OUTPUT (the submission). Decide whether the OUTPUT meets the \
CRITERION: verdict is "pass" if it does and "fail" if it does not; score is 1 when it meets the \
criterion and 0 when it does not."""

_ANSWER_RELEVANCE_TASK = """\
Rate how relevant the OUTPUT is as an answer to the INPUT (the user's question), on a scale \
from 1 to 5. An answer is relevant when it addresses what was asked, completely and without \
unrelated content; judge relevance only, not style or correctness:
5 - answers exactly what was asked, nothing missing, nothing off-topic
4 - answers what was asked, with a minor gap or a little unrelated content
3 - partly answers it, or mixes the answer with much unrelated content
2 - about the topic of the question, but does not answer it
1 - unrelated to the question"""

_FAITHFULNESS_TASK = """\
Rate how faithful the OUTPUT is to the CONTEXT it was given, on a scale from 1 to 5. Split the \
OUTPUT into its factual claims and check each against the CONTEXT alone (not your own \
knowledge); the INPUT says what was asked:
5 - every claim is supported by the CONTEXT
4 - nearly every claim is supported; one minor claim is not
3 - some claims are supported, others are not
2 - most claims are not supported by the CONTEXT
1 - the OUTPUT contradicts the CONTEXT, or none of its claims is supported"""

_RECALL_TASK = """\
Rate how much of the GROUND TRUTH can be found in the CONTEXT, on a scale from 1 to 5. Split the \
GROUND TRUTH into its statements and check whether each can be attributed to the CONTEXT:
5 - every statement of the GROUND TRUTH is in the CONTEXT
4 - nearly every statement is in the CONTEXT
3 - about half of the statements are in the CONTEXT
2 - few statements are in the CONTEXT
1 - none of the GROUND TRUTH is in the CONTEXT"""

_CONTEXT_RELEVANCE_TASK = """\
Rate how relevant the CONTEXT is to the INPUT (the user's question), on a scale from 1 to 5: \
how much of the CONTEXT is needed to answer the question, and whether what is needed is there:
5 - the CONTEXT holds what the question needs, and little else
4 - it holds what the question needs, with some unrelated passages
3 - it holds part of what the question needs
2 - it touches the topic but does not help answer the question
1 - unrelated to the question"""


_PASS_FAIL = VerdictShape("pass-fail")
_SCALE = VerdictShape("scale")
CLOSEDQA_PROMPT = JudgePrompt("model-graded-closedqa", _CLOSEDQA_TASK, _PASS_FAIL)
ANSWER_RELEVANCE_PROMPT = JudgePrompt("answer-relevance", _ANSWER_RELEVANCE_TASK, _SCALE)
FAITHFULNESS_PROMPT = JudgePrompt("context-faithfulness", _FAITHFULNESS_TASK, _SCALE)
RECALL_PROMPT = JudgePrompt("context-recall", _RECALL_TASK, _SCALE)
CONTEXT_RELEVANCE_PROMPT = JudgePrompt("context-relevance", _CONTEXT_RELEVANCE_TASK, _SCALE)
#: The kinds' prompts, and the material each sends (in order), for the docs' prompt reference.
PROMPTS = (
    (CLOSEDQA_PROMPT, ("input", "criterion", "output")),
    (ANSWER_RELEVANCE_PROMPT, ("input", "output")),
    (FAITHFULNESS_PROMPT, ("input", "context", "output")),
    (RECALL_PROMPT, ("context", "truth")),
    (CONTEXT_RELEVANCE_PROMPT, ("input", "context")),
)


def _judge(spec: AssertionSpec, prompt: JudgePrompt, materials: MaterialsFn) -> Check:
    """The judge check of one of these kinds, on the machinery the standard judges use."""
    if prompt.shape.kind == "scale":
        threshold = threshold_of(spec, DEFAULT_SCALED_THRESHOLD, DEFAULT_SCALE)
    else:
        threshold = threshold_of(spec, None)
    provider = judge_provider(spec)
    return judge_check(JudgeSetup(spec, provider, prompt, materials, threshold, params=TEMPERATURE_ZERO))


@register_assertion("model-graded-closedqa", uses_judge=True)
def _closedqa(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Does the output meet the criterion in ``value``? Pass/fail (OpenAI evals' closedqa)."""
    only(spec, "value", "threshold")
    example = "value: 'mentions the refund policy'"
    criterion = optional_text(spec, "the criterion", example)
    if criterion is None:
        raise config_error(spec, f"`value` is required: the criterion, e.g. {example}")

    def materials(ctx: AssertionContext) -> list[Material]:
        found = []
        question = last_user_message(ctx)
        if question is not None:
            found.append(input_material(question))
        criterion_block = Material("criterion", CRITERION_HEADING, criterion, trusted=True)
        return [*found, criterion_block, output_material(ctx)]

    return _judge(spec, CLOSEDQA_PROMPT, materials)


@register_assertion("answer-relevance", uses_judge=True)
def _answer_relevance(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Does the output answer the question (``value``, the ``query`` variable, or the last user message)?"""
    only(spec, "value", "threshold")
    question = optional_text(spec, "the question", "value: '{{ query }}'")

    def materials(ctx: AssertionContext) -> list[Material]:
        return [input_material(_question(ctx, spec.type, question)), output_material(ctx)]

    return _judge(spec, ANSWER_RELEVANCE_PROMPT, materials)


@register_assertion("context-faithfulness", uses_judge=True)
def _context_faithfulness(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is every claim of the output supported by the retrieved context? 1-5, normalised."""
    only(spec, "threshold")

    def materials(ctx: AssertionContext) -> list[Material]:
        context = _context_material(ctx, spec.type)
        return [input_material(_question(ctx, spec.type)), context, output_material(ctx)]

    return _judge(spec, FAITHFULNESS_PROMPT, materials)


@register_assertion("context-recall", uses_judge=True)
def _context_recall(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the ground truth (``value``, else ``expected``) found in the retrieved context? 1-5."""
    only(spec, "value", "threshold")
    truth = optional_text(spec, "the ground truth", "value: 'Refunds are accepted within 30 days'")

    def materials(ctx: AssertionContext) -> list[Material]:
        context = _context_material(ctx, spec.type)
        ground = reference_text(spec, ctx, truth)
        return [context, Material("truth", TRUTH_HEADING, ground, trusted=True)]

    return _judge(spec, RECALL_PROMPT, materials)


@register_assertion("context-relevance", uses_judge=True)
def _context_relevance(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the retrieved context what the question needs? 1-5, normalised."""
    only(spec, "threshold")

    def materials(ctx: AssertionContext) -> list[Material]:
        return [input_material(_question(ctx, spec.type)), _context_material(ctx, spec.type)]

    return _judge(spec, CONTEXT_RELEVANCE_PROMPT, materials)
