"""The application under test: it calls its model through httpx (recorded by pytest-llmops)."""

import os

import httpx


def tweet(prompt, vars):
    reply = httpx.post(
        os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1") + "/chat/completions",
        headers={"authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"},
        json={
            "model": prompt.model,
            "messages": [{"role": "system", "content": "Be witty."}, *prompt.to_messages()],
        },
        timeout=30,
    ).json()
    usage = reply["usage"]
    return {
        "text": reply["choices"][0]["message"]["content"],
        "usage": {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]},
    }
