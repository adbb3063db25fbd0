"""G-Eval's probability-weighted score, with token log-probabilities served by the scripted server.

The cases the issue measured: variants of one value are summed, a score split over two tokens is
handled, the top-level score is the one weighed (not a nested one), and a low probability mass
falls back to the written score, saying so. Then: any judge whose reply carries log-probabilities
is weighed, whatever its provider kind.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.assertions import AssertionContext, default_registry
from pytest_llmops.assertions.judges import TOP_LOGPROBS, weigh
from pytest_llmops.prompts import RenderedPrompt
from pytest_llmops.results import LLMResponse, Message
from pytest_llmops.spec.schema import AssertionSpec, ProviderSpec
from pytest_llmops.testing import ScriptedLLMServer, TokenLogprob

from .helpers import RESULTS_CONFTEST, is_judge, results, write

LOG = math.log


def tokens(prefix: str, *score: TokenLogprob, suffix: str = "}") -> list[TokenLogprob]:
    return [TokenLogprob(prefix), *score, TokenLogprob(suffix)]


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer, cases: dict[str, str]) -> None:
    pytester.makeconftest(RESULTS_CONFTEST)
    body = (
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\n"
        f"judge:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\ntests:\n"
    )
    for name, assertion in cases.items():
        body += f"  - name: {name}\n    prompt: 'case {name}'\n    assert: [{assertion}]\n"
    write(pytester.path / "test_weighting.llmops.yaml", body)


G_EVAL = "{type: g-eval, criteria: Helpfulness, steps: [Read it, Judge it]"


def case_is(name: str) -> Any:
    return lambda body: is_judge(body) and f"case {name}" in str(body)


def test_the_issues_weighting_cases_score_right_and_replay(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    # " 3" and "3" are one score: summed, the weighted 3.9 is a fail; deduplicated it was a 4.2.
    llmops_server.reply(
        tokens=tokens(
            '{"reason": "decent", "score":',
            TokenLogprob(" 5", LOG(0.45), {" 5": LOG(0.45), " 3": LOG(0.30), "3": LOG(0.25)}),
        ),
        match=case_is("variants"),
    )
    # A 95%-sure 10 on 1-10, written "1" then "0": the second token's "0" completes the "1".
    llmops_server.reply(
        tokens=tokens(
            '{"reason": "excellent", "score": ',
            TokenLogprob("1", LOG(0.96), {"1": LOG(0.96), "9": LOG(0.03), "8": LOG(0.01)}),
            TokenLogprob("0", LOG(0.99), {"0": LOG(0.99), "}": LOG(0.01)}),
            suffix="}",
        ),
        match=case_is("split"),
    )
    # The top-level score is weighed, not the nested one after it.
    llmops_server.reply(
        '{"reason": "weak", "score": 2, "details": {"score": 5}}',
        logprobs={"2": LOG(0.9), "3": LOG(0.1)},
        match=case_is("nested"),
    )
    # 0.06 of the probability on the scale: too little to trust, the written 4 stands.
    llmops_server.reply(
        tokens=tokens(
            '{"reason": "fine", "score":',
            TokenLogprob(" 4", LOG(0.05), {" the": LOG(0.9), " 4": LOG(0.05), " 5": LOG(0.01)}),
        ),
        match=case_is("low-mass"),
    )
    llmops_server.reply("An answer.")
    suite(
        pytester,
        llmops_server,
        {
            "variants": G_EVAL + "}",
            "split": G_EVAL + ", scale: [1, 10]}",
            "nested": G_EVAL + "}",
            "low-mass": G_EVAL + "}",
        },
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2, failed=2)
    expected = {
        "variants": (
            (0.45 * 5 + 0.55 * 3 - 1) / 4,
            "3.90 on 1–5, weighted by token probabilities (it wrote 5)",
        ),
        "split": (None, "weighted by token probabilities (it wrote 10)"),
        "nested": ((0.9 * 2 + 0.1 * 3 - 1) / 4, "2.10 on 1–5, weighted by token probabilities (it wrote 2)"),
        "low-mass": (0.75, "4 on 1–5 (written score: the probability mass on the scale, 0.06, is below 0.5)"),
    }
    found = results(pytester)
    for name, (score, shown) in expected.items():
        assertion = found[name]["assertions"][0]
        assert shown in assertion["reason"], (name, assertion["reason"])
        if score is not None:
            assert assertion["score"] == pytest.approx(score, abs=1e-6), name
    p10, p1 = 0.96 * 0.99, 0.96 * 0.01
    split = (p10 * 10 + p1 * 1 + 0.03 * 9 + 0.01 * 8) / (p10 + p1 + 0.04)
    assert found["split"]["assertions"][0]["score"] == pytest.approx((split - 1) / 9, abs=1e-6)
    assert found["split"]["outcome"] == "passed" and found["variants"]["outcome"] == "failed"
    sent = [r.json for r in llmops_server.requests if is_judge(r.json)]
    assert {r["top_logprobs"] for r in sent} == {TOP_LOGPROBS}
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=2, failed=2)
    assert results(pytester)["split"]["assertions"][0]["score"] == pytest.approx((split - 1) / 9, abs=1e-6)


def test_an_unsplittable_prefix_falls_back_to_the_written_score() -> None:
    # On 1-10 a "1" beside a written "9" may begin 1 or 10: its share cannot be split.
    reply = '{"score": 9}'
    content = [
        {"token": '{"score": ', "logprob": 0.0, "top_logprobs": []},
        {
            "token": "9",
            "logprob": LOG(0.7),
            "top_logprobs": [{"token": "9", "logprob": LOG(0.7)}, {"token": "1", "logprob": LOG(0.3)}],
        },
        {"token": "}", "logprob": 0.0, "top_logprobs": []},
    ]
    weighting = weigh(reply, content, reply.index("9"), (1, 10))
    assert weighting.score is None and "could begin a longer score" in weighting.note


class LogprobJudge:
    """A judge of any provider kind whose replies carry OpenAI-style token log-probabilities."""

    def __init__(self, reply: str, content: list[dict[str, Any]]) -> None:
        self.reply, self.content = reply, content

    def complete(self, prompt: RenderedPrompt, provider: ProviderSpec) -> LLMResponse:
        return LLMResponse(
            self.reply, provider.id, "m", finish_reason="stop", metadata={"logprobs": self.content}
        )

    def embed(self, texts: list[str], provider: ProviderSpec) -> list[list[float]]:
        raise AssertionError("not used")


def test_a_judge_of_any_kind_that_returns_logprobs_is_weighed() -> None:
    reply = '{"reason": "ok", "score": 4}'
    content = [
        {"token": '{"reason": "ok", "score": ', "logprob": 0.0, "top_logprobs": []},
        {
            "token": "4",
            "logprob": LOG(0.5),
            "top_logprobs": [{"token": "4", "logprob": LOG(0.5)}, {"token": "2", "logprob": LOG(0.5)}],
        },
        {"token": "}", "logprob": 0.0, "top_logprobs": []},
    ]
    spec = AssertionSpec.model_validate(
        {"type": "g-eval", "criteria": "c", "steps": ["s"], "provider": "anthropic:claude-haiku-4-5"}
    )
    prepared = default_registry.prepare(spec, base_dir=Path("."))
    prompt = RenderedPrompt((Message("user", "Q?"),))
    context = AssertionContext(
        "A.", LLMResponse("A.", "x", "m"), prompt=prompt, judge=LogprobJudge(reply, content)
    )
    result = prepared.run(context)
    assert result.score == pytest.approx((3.0 - 1) / 4)
    assert "weighted by token probabilities (it wrote 4)" in result.reason
