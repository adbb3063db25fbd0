"""Model-graded checks promptfoo users bring: ``model-graded-closedqa``, ``answer-relevance``,
``context-faithfulness``, ``context-recall`` and ``context-relevance``.

They run on the judge machinery of ``judges`` (fixed, versioned prompts, material in tagged
blocks that cannot close themselves, the reply read by ``parse_verdict``, one retry, an
unreadable reply *unscored*), through ``_judge`` below: the one place that knows that machinery's
names, so the types move with it when it changes.

The retrieved context of the ``context-*`` checks is what a ``python:`` application returned as
``context`` (``metadata["context"]``), else the case variable ``context``; the question is the
variable ``query``, else the last user message the case sent. A list of passages is shown
numbered, a mapping as JSON. ``context-recall`` compares the context with the ground truth in
``value`` (or the case's ``expected``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CannotGrade
from ..spec.schema import AssertionSpec
from . import judges
from .registry import AssertionContext, Check, register_assertion

__all__ = ["retrieved_context"]

Materials = Callable[[AssertionContext], list[judges.Material]]
_PASS_FAIL = judges.VerdictShape("pass-fail")
_SCALE = judges.VerdictShape("scale")


def _judge(
    spec: AssertionSpec, kind: str, task: str, shape: judges.VerdictShape, materials: Materials
) -> Check:
    """A judge check of ``kind``: the adapter to the judge machinery (see the module docstring)."""
    scaled = shape.kind == "scale"
    schema = judges._scale_schema(judges.DEFAULT_SCALE) if scaled else judges._PASS_FAIL_SCHEMA
    threshold = (
        judges._threshold(spec, judges.DEFAULT_SCALED_THRESHOLD, judges.DEFAULT_SCALE)
        if scaled
        else judges._threshold(spec, None)
    )
    setup = judges._JudgeSetup(
        spec,
        judges._judge_provider(spec),
        kind,
        task,
        schema,
        shape,
        materials,
        threshold,
        params=judges._TEMPERATURE_ZERO,
    )
    return judges._judge_check(setup)


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
    found = judges._last_user_message(ctx)
    if found is None:
        raise CannotGrade(f"{kind}: no question: give the case a `query` variable, or send a user message")
    return found


def _context_material(text: str) -> judges.Material:
    return judges.Material("context", "CONTEXT (what was retrieved for the answer)", text)


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


@register_assertion("model-graded-closedqa", uses_judge=True)
def _closedqa(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Does the output meet the criterion in ``value``? Pass/fail (OpenAI evals' closedqa)."""
    judges._only(spec, "value", "threshold")
    criterion = judges._optional_text(spec, "the criterion", "value: 'mentions the refund policy'")
    if criterion is None:
        raise judges._error(
            spec, "`value` is required: the criterion, e.g. value: 'mentions the refund policy'"
        )

    def materials(ctx: AssertionContext) -> list[judges.Material]:
        found = []
        question = judges._last_user_message(ctx)
        if question is not None:
            found.append(judges._input(question))
        return [*found, judges.Material("criterion", "CRITERION", criterion), judges._output(ctx)]

    return _judge(spec, "model-graded-closedqa", _CLOSEDQA_TASK, _PASS_FAIL, materials)


@register_assertion("answer-relevance", uses_judge=True)
def _answer_relevance(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Does the output answer the question (``value``, the ``query`` variable, or the last user message)?"""
    judges._only(spec, "value", "threshold")
    question = judges._optional_text(spec, "the question", "value: '{{ query }}'")

    def materials(ctx: AssertionContext) -> list[judges.Material]:
        return [judges._input(_question(ctx, spec.type, question)), judges._output(ctx)]

    return _judge(spec, "answer-relevance", _ANSWER_RELEVANCE_TASK, _SCALE, materials)


@register_assertion("context-faithfulness", uses_judge=True)
def _context_faithfulness(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is every claim of the output supported by the retrieved context? 1-5, normalised."""
    judges._only(spec, "threshold")

    def materials(ctx: AssertionContext) -> list[judges.Material]:
        context = retrieved_context(ctx, spec.type)
        return [judges._input(_question(ctx, spec.type)), _context_material(context), judges._output(ctx)]

    return _judge(spec, "context-faithfulness", _FAITHFULNESS_TASK, _SCALE, materials)


@register_assertion("context-recall", uses_judge=True)
def _context_recall(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the ground truth (``value``, else ``expected``) found in the retrieved context? 1-5."""
    judges._only(spec, "value", "threshold")
    truth = judges._optional_text(spec, "the ground truth", "value: 'Refunds are accepted within 30 days'")

    def materials(ctx: AssertionContext) -> list[judges.Material]:
        context = retrieved_context(ctx, spec.type)
        ground = judges._reference(spec, ctx, truth)
        return [_context_material(context), judges.Material("truth", "GROUND TRUTH", ground)]

    return _judge(spec, "context-recall", _RECALL_TASK, _SCALE, materials)


@register_assertion("context-relevance", uses_judge=True)
def _context_relevance(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Is the retrieved context what the question needs? 1-5, normalised."""
    judges._only(spec, "threshold")

    def materials(ctx: AssertionContext) -> list[judges.Material]:
        context = retrieved_context(ctx, spec.type)
        return [judges._input(_question(ctx, spec.type)), _context_material(context)]

    return _judge(spec, "context-relevance", _CONTEXT_RELEVANCE_TASK, _SCALE, materials)
