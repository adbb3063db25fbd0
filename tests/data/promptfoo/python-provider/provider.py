"""A promptfoo Python provider: call_api(prompt, options, context) returns {"output": ...}."""

import os

import httpx


def call_api(prompt, options, context):
    style = options["config"]["style"]
    reply = httpx.post(
        os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1") + "/chat/completions",
        headers={"authorization": f"Bearer {os.environ.get('OPENAI_API_KEY', '')}"},
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": f"Be {style}."}, {"role": "user", "content": prompt}],
        },
        timeout=30,
    ).json()
    usage = reply["usage"]
    return {
        "output": reply["choices"][0]["message"]["content"],
        "tokenUsage": {
            "total": usage["total_tokens"],
            "prompt": usage["prompt_tokens"],
            "completion": usage["completion_tokens"],
        },
    }
