"""How fast a 5,000-case HTML report opens in Chromium, and how large the file is.

Run by hand; the figures go into benchmarks/RESULTS.md ("HTML report"):

    python benchmarks/html_5000.py                  # 5,000 cases, median of 5 page loads
    python benchmarks/html_5000.py --cases 10000 --keep /tmp/r.html

The report is synthetic but built the way a run builds it: ``CaseResult``s (with rendered prompts,
assertions, judge reasons, failures, errors, tags) go through ``gates.evaluate`` with gates and a
baseline, then ``build_report`` and ``render_html``. Chromium (Debian's /usr/bin/chromium, driven
by Playwright's Python package) opens the file from disk; the time is the page's own
``performance`` mark ``llmops-matrix-rendered`` (milliseconds since navigation started, so it
includes reading and parsing the file), and ``llmops-painted``, taken one frame later.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.report.html import render_html
from pytest_llmops.report.json import build_report
from pytest_llmops.results import AssertionResult, CaseResult, Message, Outcome, Usage
from pytest_llmops.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

WORDS = [
    "the",
    "account",
    "billing",
    "invoice",
    "refund",
    "order",
    "number",
    "plan",
    "upgrade",
    "password",
    "reset",
    "email",
    "support",
    "team",
    "please",
    "thanks",
    "sorry",
    "happy",
    "help",
    "settings",
    "integration",
    "slack",
    "github",
    "export",
    "data",
    "download",
    "page",
    "within",
    "minutes",
    "days",
    "customer",
    "request",
    "ticket",
    "priority",
    "enterprise",
    "starter",
    "professional",
    "monthly",
]

SYSTEM = (
    "You are the customer-support assistant of Acme Cloud, a project-management SaaS. Answer in at "
    "most three sentences, in a friendly and precise tone. Plans: Starter ($9/mo), Professional "
    "($29/mo), Enterprise (custom pricing). Integrations: Slack, GitHub, Google Drive. Refunds "
    "within 30 days of purchase. Never promise features that do not exist; when unsure, offer to "
    "connect the customer with a human agent. Ask for the order number before discussing a refund. "
) * 2

#: (suite, cases in it, variants as (prompt, version, provider, model, price per 1k tokens))
LAYOUT: tuple[tuple[str, float, tuple[tuple[str, str, str, str, float], ...]], ...] = (
    (
        "suites/support/test_support.llmops.yaml",
        0.6,
        (
            ("support", "2.0.0", "openai:gpt-4o-mini", "gpt-4o-mini", 0.0003),
            ("support", "2.1.0", "openai:gpt-4o-mini", "gpt-4o-mini", 0.0003),
            ("support", "2.1.0", "openai:gpt-4.1-nano", "gpt-4.1-nano", 0.0001),
        ),
    ),
    (
        "suites/triage/test_triage.llmops.yaml",
        0.4,
        (
            ("triage", "1.0.0", "openai:gpt-4o-mini", "gpt-4o-mini", 0.0003),
            ("triage", "1.0.0", "anthropic:claude-3-5-haiku", "claude-3-5-haiku", 0.0008),
        ),
    ),
)


def _sentence(rng: random.Random, low: int, high: int) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(low, high))]
    return " ".join(words).capitalize() + "."


def _case(
    rng: random.Random, suite: str, name: str, line: int, variant: tuple[str, str, str, str, float]
) -> CaseResult:
    prompt, version, provider, model, price = variant
    roll = rng.random()
    outcome = "passed" if roll < 0.86 else "failed" if roll < 0.96 else "error" if roll < 0.98 else "unscored"
    output = " ".join(_sentence(rng, 8, 22) for _ in range(rng.randint(1, 4)))
    question = _sentence(rng, 6, 18)
    usage = Usage(len(SYSTEM) // 4 + len(question) // 4, len(output) // 4)
    judged = rng.random() < 0.5
    assertions = [
        AssertionResult("max-length", True, 1.0, f"output is {len(output)} chars (max 1200)", line=line + 3),
        AssertionResult(
            "icontains",
            outcome == "passed",
            1.0 if outcome == "passed" else 0.0,
            "output contains 'order number'" if outcome == "passed" else "expected 'order number'; not found",
            line=line + 5,
        ),
        AssertionResult("latency", True, 1.0, "latency under 5000 ms", line=line + 7),
    ]
    score = 1.0 if outcome == "passed" else round(rng.uniform(0.1, 0.7), 2)
    if judged:
        grade = "PASS" if outcome == "passed" else "FAIL"
        assertions.append(
            AssertionResult(
                "llm-rubric",
                outcome == "passed",
                score,
                "The answer is polite and asks for the order number."
                if outcome == "passed"
                else "It never asks for the order number.",
                metric="helpfulness",
                raw=f"Reasoning: {_sentence(rng, 12, 30)}\nGRADE: {grade}",
                unscored=outcome == "unscored",
            )
        )
    return CaseResult(
        nodeid=f"{suite}::{name}[{prompt}@{version}-{provider}]",
        suite=suite,
        case=name,
        outcome=Outcome(outcome),
        prompt=prompt,
        prompt_version=version,
        provider=provider,
        model=model,
        score=None if outcome in ("error", "unscored") else score,
        assertions=() if outcome == "error" else tuple(assertions),
        usage=usage if outcome != "error" else Usage(),
        cost_usd=None if outcome == "error" else usage.total_tokens * price / 1000,
        latency_ms=None if outcome == "error" else rng.lognormvariate(6.5, 0.5),
        replayed=True,
        output=None if outcome == "error" else output,
        error="ProviderError: 503 Service Unavailable after 2 retries" if outcome == "error" else None,
        tags=tuple(rng.sample(["smoke", "billing", "account", "regression", "vip"], rng.randint(0, 2))),
        judge_usage=Usage(400, 60) if judged else Usage(),
        judge_cost_usd=0.00009 if judged else None,
        judge_failures=1 if outcome == "unscored" else 0,
        messages=(Message("system", SYSTEM + f"(prompt {prompt}@{version})"), Message("user", question)),
        location=f"{suite}:{line}",
    )


def synthetic_results(cases: int, seed: int = 7) -> list[CaseResult]:
    """About ``cases`` results over two suites and five variants (prompt version × model)."""
    rng = random.Random(seed)
    results: list[CaseResult] = []
    for suite, share, variants in LAYOUT:
        names = max(1, round(cases * share / len(variants)))
        for k in range(names):
            name = f"case_{k:05d}_{rng.choice(WORDS)}"
            results.extend(_case(rng, suite, name, 10 + 9 * k, v) for v in variants)
    return results[:cases]


def synthetic_report(cases: int = 5000, seed: int = 7) -> dict[str, Any]:
    """A report with gates and a baseline (some cases newly failing, some scores dropped)."""
    current = synthetic_results(cases, seed)
    rng = random.Random(seed + 1)
    baseline = []
    for r in current:
        if r.outcome in ("failed", "error") and rng.random() < 0.3:
            baseline.append(CaseResult.from_dict({**r.to_dict(), "outcome": "passed", "score": 1.0}))
        elif r.score is not None and r.score < 1 and rng.random() < 0.5:
            baseline.append(CaseResult.from_dict({**r.to_dict(), "score": min(1.0, r.score + 0.3)}))
        else:
            baseline.append(r)
    settings = Settings(
        baseline=Path("baseline.json"),
        min_pass_rate=0.9,
        min_score=0.8,
        max_cost=5.0,
        max_p95_latency_ms=2000,
        max_new_failures=0,
        max_score_drop=0.2,
    )
    return build_report(evaluate(current, settings, baseline))


def measure(path: Path, repeats: int) -> tuple[list[float], list[float]]:
    """Milliseconds from navigation to the matrix rendered, and to the next frame, per load."""
    from playwright.sync_api import sync_playwright

    rendered: list[float] = []
    painted: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for _ in range(repeats):
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(path.as_uri())
                page.wait_for_function("document.documentElement.dataset.ready === '1'")
                marks = page.evaluate(
                    "['llmops-matrix-rendered', 'llmops-painted'].map("
                    "n => performance.getEntriesByName(n)[0].startTime)"
                )
                rendered.append(marks[0])
                painted.append(marks[1])
                page.close()
        finally:
            browser.close()
    return rendered, painted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--keep", type=Path, default=None, help="write the HTML here and keep it")
    args = parser.parse_args()
    report = synthetic_report(args.cases)
    html = render_html(report)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "report.html"
        path.write_text(html, encoding="utf-8")
        size = path.stat().st_size
        rendered, painted = measure(path, args.repeats)
    cases = len(report["cases"])
    variants = len(report["summary"]["variants"])
    print(f"{cases} cases, {variants} variants; HTML {size / 1e6:.2f} MB")
    for label, values in (("matrix rendered", rendered), ("next frame", painted)):
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{label}: median {statistics.median(values):.0f} ms (runs: {runs})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
