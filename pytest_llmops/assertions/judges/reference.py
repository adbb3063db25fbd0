"""The judge prompts as the docs show them: each kind's system message, the user message, the retry.

``python -m pytest_llmops judge-prompts-doc`` writes ``prompt_reference()`` into docs/judges.md
between its markers, and a test fails when the page and the templates differ: the docs always
show the prompts that are sent.
"""

from __future__ import annotations

import json

from .defence import Material
from .fields import VerdictShape
from .prompts import (
    ACCURACY_TASK,
    FACTUALITY_TASK,
    RELEVANCE_TASK,
    RUBRIC_EXAMPLES,
    RUBRIC_TASK,
    SAFETY_POLICY,
    SAFETY_TASK,
    JudgePrompt,
    build_prompt,
    g_eval_task,
    json_schema,
    retry_message,
)

__all__ = ["PROMPTS", "prompt_reference"]

#: Every built-in judge kind's prompt (g-eval on its default scale, safety without a policy).
PROMPTS = (
    JudgePrompt("llm-rubric", RUBRIC_TASK, VerdictShape("pass-fail"), RUBRIC_EXAMPLES, requirements=True),
    JudgePrompt("g-eval", g_eval_task((1, 5)), VerdictShape("scale")),
    JudgePrompt("relevance", RELEVANCE_TASK, VerdictShape("scale")),
    JudgePrompt("accuracy", ACCURACY_TASK, VerdictShape("scale")),
    JudgePrompt("safety", SAFETY_TASK, VerdictShape("pass-fail")),
    JudgePrompt("factuality", FACTUALITY_TASK, VerdictShape("category")),
)
_MATERIAL = {
    "llm-rubric": ["rubric", "input", "output"],
    "g-eval": ["criteria", "steps", "input", "expected", "output"],
    "relevance": ["input", "output"],
    "accuracy": ["input", "expected", "output"],
    "safety": ["policy", "input", "output"],
    "factuality": ["input", "expected", "output"],
}
_HEADINGS = {
    "rubric": "RUBRIC (what the output must satisfy)",
    "criteria": "CRITERIA",
    "steps": "EVALUATION STEPS",
    "input": "INPUT (what the system under test was asked)",
    "expected": "EXPECTED (the reference answer, correct by definition)",
    "policy": "POLICY",
    "output": "OUTPUT (the text to evaluate)",
}


def _fenced(text: str) -> list[str]:
    return ["```text", text.replace("```", "'''"), "```"]


def prompt_reference() -> str:
    """Markdown: each judge kind's system and user messages (``NONCE`` for the material's hash)."""
    out: list[str] = []
    for prompt in PROMPTS:
        materials = [Material(name, _HEADINGS[name], f"<the {name}>") for name in _MATERIAL[prompt.kind]]
        rendered, nonce = build_prompt(prompt, materials, {})
        system, user = (m.content.replace(nonce, "NONCE") for m in rendered.messages)
        out += [f"#### {prompt.kind}", "", "System message:", "", *_fenced(system), ""]
        if prompt.kind == "safety":
            out += [f"With a `value` (policy), the task gains the line: `{SAFETY_POLICY.strip()}`", ""]
        out += ["User message (each block present when the case has it):", "", *_fenced(user), ""]
    out += [
        "#### The retry",
        "",
        "Sent once, after the judge's unreadable reply, as a user message:",
        "",
        *_fenced(retry_message("<what was wrong>", PROMPTS[0])),
        "",
        "#### The structured-output schema (llm-rubric's; the other kinds' differ in their fields)",
        "",
        "```json",
        json.dumps(json_schema(PROMPTS[0]), indent=2),
        "```",
        "",
    ]
    return "\n".join(out)
