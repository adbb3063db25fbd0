"""Model-graded assertions: llm-rubric, g-eval, relevance, accuracy, safety and factuality.

Each sends a fixed judge prompt (``prompts``, versioned by ``JUDGE_PROMPT_VERSION``) to the
assertion's judge through ``ctx.judge``, so judge calls are recorded in the case's cassette,
replay offline and are counted apart from the application's. Nothing is generated at run time:
a g-eval's evaluation steps are written in the suite, so the rubric cannot drift between runs.

The modules, by role: ``objects`` (objects in free text), ``folding`` (text as a reader sees it),
``fields`` (what a verdict object says), ``plain`` (verdicts in words), ``layout``
(drafts, hypotheticals and criterion labels in a reply), ``defence`` (material is
never the judge's verdict), ``verdict`` (reading a reply), ``logprobs`` (G-Eval's weighting),
``prompts`` (templates and structured output), ``config`` (collection-time checks), ``check``
(calling, retrying, grading), the registered types in ``rubrics`` and ``standard``, and
``pairwise`` (which of two prompt versions answered better, asked in both orders).
"""

from __future__ import annotations

from . import rubrics as rubrics  # registers llm-rubric and g-eval
from . import standard as standard  # registers relevance, accuracy, safety and factuality
from .check import JudgeSetup, grade, judge_check
from .config import judge_setup_message
from .defence import Material
from .fields import VerdictShape
from .logprobs import MIN_PROBABILITY_MASS, TOP_LOGPROBS, weigh, weighted_score
from .prompts import (
    JUDGE_MARKER,
    JUDGE_PROMPT_VERSION,
    JudgePrompt,
    build_prompt,
    json_schema,
    structured_params,
    text_schema,
)
from .verdict import Verdict, parse_verdict, read_response

__all__ = [
    "JUDGE_MARKER",
    "JUDGE_PROMPT_VERSION",
    "MIN_PROBABILITY_MASS",
    "TOP_LOGPROBS",
    "JudgePrompt",
    "JudgeSetup",
    "Material",
    "Verdict",
    "VerdictShape",
    "build_prompt",
    "grade",
    "json_schema",
    "judge_check",
    "judge_setup_message",
    "parse_verdict",
    "read_response",
    "structured_params",
    "text_schema",
    "weigh",
    "weighted_score",
]
