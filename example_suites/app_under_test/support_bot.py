"""A small support bot: the application under test of `test_support_bot.llmops.yaml`.

It does what applications around a model do: looks up knowledge-base articles for the
question, adds them to the versioned prompt, calls an OpenAI-compatible API with httpx, and
post-processes the answer. pytest-llmops records its HTTP call in the case's cassette, so the
suite replays offline like any other.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

KNOWLEDGE_BASE = {
    "password": "Reset: Settings > Security > Reset password. Links expire after 30 minutes.",
    "invoice": "Invoices: Billing > History. PDFs are generated within 5 minutes of payment.",
    "export": "Exports: Project menu > Export > CSV or JSON. Large projects are e-mailed.",
}


def retrieve(question: str) -> list[str]:
    words = question.lower()
    return [article for key, article in KNOWLEDGE_BASE.items() if key in words]


def answer(prompt: Any, vars: dict[str, Any]) -> dict[str, Any]:
    """Called by pytest-llmops with the rendered prompt and the case's variables."""
    articles = retrieve(vars["question"])
    context = "\n".join(f"- {a}" for a in articles) or "- (no article found: offer a human agent)"
    messages = prompt.to_messages()
    messages[0] = {**messages[0], "content": messages[0]["content"] + "\nKnowledge base:\n" + context}
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1").rstrip("/")
    headers = (
        {"authorization": f"Bearer {os.environ['OPENAI_API_KEY']}"}
        if os.environ.get("OPENAI_API_KEY")
        else {}
    )
    response = httpx.post(
        f"{base_url}/chat/completions",
        json={"model": prompt.model, "messages": messages, **prompt.params},
        headers=headers,
        timeout=30,
    )
    response.raise_for_status()
    body = response.json()
    text = body["choices"][0]["message"]["content"].strip()
    return {
        "text": text,
        "usage": body["usage"],
        "model": body["model"],
        "metadata": {"articles": len(articles)},
    }
