"""Re-record the example suites' cassettes against the project's scripted server.

The committed cassettes were made with this script, not with a paid API: the scripted server
(``pytest_llmops.testing.ScriptedLLMServer``) answers each example with a hand-written reply in
the real OpenAI wire format, with real token counts from its tokenizer. That keeps the examples
reproducible by anyone, offline and for free. To record them against a real provider instead::

    OPENAI_API_KEY=... pytest example_suites --llmops-record-mode=all

Run this script with ``python example_suites/record_examples.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from pytest_llmops.testing import ScriptedLLMServer

HERE = Path(__file__).parent


def _system(request: dict[str, Any]) -> str:
    return str(request["messages"][0]["content"])


def _asks_for_details(request: dict[str, Any]) -> bool:
    # customer-support 2.1.0 adds this guideline; its replies ask for what is needed to act.
    return "Ask for exactly the details" in _system(request)


SUPPORT_REPLIES = {
    # pattern on the customer's message: (reply of 2.0.0, reply of 2.1.0)
    r"can't login": (
        "Sorry you're having trouble logging in! Please use 'Forgot password' on the login page to "
        "reset your password. If that doesn't help, let us know and we'll take a look.",
        "I'm sorry you can't log in, that's frustrating. Could you tell me the exact error message "
        "you see? Meanwhile, 'Forgot password' on the login page lets you reset your password. If "
        "it still fails, I can escalate to a human agent.",
    ),
    r"refund": (
        "I'm sorry the purchase didn't work out. Purchases can be refunded within 30 days, so I've "
        "passed your refund request to our billing team.",
        "I'm sorry it didn't work out. We refund purchases made within the last 30 days. Could you "
        "share your order number and the reason for the refund? I'll start it right away.",
    ),
    r"Slack": (
        "Yes! Acme Cloud integrates with Slack: connect it in Settings > Integrations > Slack to get "
        "task updates in your channels.",
        "Yes, we do integrate with Slack. Go to Settings > Integrations > Slack and click Connect; "
        "updates then appear in the channels you choose. Want a step-by-step guide?",
    ),
    r"pricing": (
        "We offer three plans: Starter ($9/mo), Professional ($29/mo) and Enterprise with custom pricing.",
        "We have three plans: Starter at $9/mo, Professional at $29/mo, and Enterprise with custom "
        "pricing. How many seats do you need? I can recommend the right plan.",
    ),
}

INVOICES = {
    "NW-2207": {
        "vendor": "Northwind",
        "invoice_number": "NW-2207",
        "currency": "USD",
        "total": 4800,
        "due_date": "2024-04-15",
        "line_items": [{"description": "March consulting retainer", "amount": 4800}],
    },
    "GL-88": {
        "vendor": "Greenleaf Catering",
        "invoice_number": "GL-88",
        "currency": "GBP",
        "total": 380.5,
        "due_date": None,
        "line_items": [
            {"description": "Lunch buffet", "amount": 320.0},
            {"description": "Coffee service", "amount": 45.5},
            {"description": "Delivery", "amount": 15.0},
        ],
    },
    "2024/117": {
        "vendor": "Blue Harbor Logistics",
        "invoice_number": "2024/117",
        "currency": "EUR",
        "total": 1150,
        "due_date": None,
        "line_items": [{"description": "Freight Rotterdam to Hamburg", "amount": 1150}],
    },
}

SUPPORT_BOT = [
    (
        r"reset my password",
        "Go to Settings > Security > Reset password. The link we e-mail you expires after 30 minutes.",
    ),
    (r"invoice", "You can download it under Billing > History; the PDF appears within 5 minutes of payment."),
    (
        r"Klingon",
        "I'm sorry, our knowledge base doesn't cover that. "
        "Would you like me to connect you with a human agent?",
    ),
]

FAQ = [
    (r"Professional plan", "The Professional plan is $29/mo, billed monthly or yearly."),
    (r"free plan", "There is no free plan, but the Starter plan is only $9/mo."),
    (r"export my data", "Yes. Use Project menu > Export to download CSV or JSON."),
    (r"SSO", "Yes, single sign-on comes with the Enterprise plan."),
]

TRIAGE = [
    (r"charged twice", "billing"),
    (r"504 timeouts", "technical"),
    (r"change the e-mail", "account"),
    (r"400 seats", "sales"),
    (r"invoice PDF", "billing"),
]


def _is_judge(request: dict[str, Any]) -> bool:
    return "impartial evaluator" in _system(request)


def _judge_reply(request: dict[str, Any]) -> str:
    """What a careful judge model answers: brief reasoning, then the JSON verdict asked for."""
    system = _system(request)
    if "relevance" in system.split(")", 1)[0]:
        return 'The answer addresses the question directly.\n{"reason": "On topic and complete.", "score": 5}'
    return (
        "The reply acknowledges the request and gives a concrete next step.\n"
        '{"reason": "Acknowledges the refund and says what happens next.", "score": 0.9, "verdict": "pass"}'
    )


def script(server: ScriptedLLMServer) -> None:
    # Judge calls first: they carry the judge's system prompt, whatever the case's input.
    server.reply(_judge_reply, match=_is_judge)
    for pattern, (old, new) in SUPPORT_REPLIES.items():
        server.reply(
            new, match=lambda r, p=pattern: p in r["messages"][-1]["content"] and _asks_for_details(r)
        )
        server.reply(old, match=pattern)
    for number, invoice in INVOICES.items():
        server.reply(json.dumps(invoice), match=number.replace("/", "/"))
    for pattern, label in TRIAGE:
        server.reply(label, match=pattern)
    for pattern, reply in SUPPORT_BOT:
        server.reply(reply, match=pattern)
    for pattern, reply in FAQ:
        server.reply(reply, match=pattern)


def main() -> int:
    with ScriptedLLMServer() as server:
        script(server)
        env = {
            **os.environ,
            "OPENAI_BASE_URL": server.base_url,
            "OPENAI_API_KEY": "sk-fake-for-recording-examples",
        }
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(HERE),
            "--llmops-record-mode=all",
            "-q",
            "-p",
            "no:cacheprovider",
        ]
        return subprocess.call(command, env=env, cwd=HERE.parent)


if __name__ == "__main__":
    raise SystemExit(main())
