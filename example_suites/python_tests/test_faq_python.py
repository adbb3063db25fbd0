"""Checks that read best in Python: the `llmops` fixture, with the same prompts and assertions.

Recorded like the YAML suites (cassettes/test_faq_python/); `pytest example_suites` replays them.
"""

from __future__ import annotations

import json

import pytest


@pytest.mark.llmops(provider="openai:gpt-4o-mini")
@pytest.mark.parametrize(
    ("question", "must_mention"),
    [
        ("How much is the Professional plan?", "$29"),
        ("Is there a free plan?", "Starter"),
    ],
)
def test_pricing_answers(llmops, question: str, must_mention: str) -> None:
    prompt = llmops.prompt("faq-answer@^1").render(question=question)
    response = llmops.complete(prompt)
    llmops.check(response, contains=must_mention, max_length=300, max_cost=0.001)


@pytest.mark.llmops(provider="openai:gpt-4o-mini")
def test_answers_are_short_for_every_question(llmops) -> None:
    prompt = llmops.prompt("faq-answer")
    questions = ["Can I export my data?", "Do you support SSO?"]
    for question in questions:
        response = llmops.complete(prompt.render(question=question))
        sentences = [s for s in response.text.replace("!", ".").split(".") if s.strip()]
        # A check YAML cannot express as easily: plain Python, beside the assertion types.
        assert len(sentences) <= 2, f"{question!r}: {len(sentences)} sentences: {response.text}"
        llmops.check(response, not_icontains="as an ai", max_tokens=400)


def test_the_registry_in_an_application() -> None:
    """What an application does: load the approved version, render, send with any SDK."""
    from pathlib import Path

    from pytest_llmops.prompts import PromptRegistry

    registry = PromptRegistry.from_dir(Path(__file__).parent / "prompts")
    prompt = registry.get("faq-answer", "^1")
    request = {"model": prompt.model, "messages": prompt.render(question="Hi").to_messages(), **prompt.params}
    assert json.loads(json.dumps(request))["messages"][-1] == {"role": "user", "content": "Hi"}
