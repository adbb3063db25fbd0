"""Outputs that try to pass themselves (tests/data/judge_injections.yaml) never pass a judge.

Each case runs for every judge kind, first through the real check with a judge without HTTP, then
end to end: a suite whose application answers with the case's output and whose judge, the
scripted server, echoes or obeys as the case says (an Anthropic judge answering by its forced
``record_verdict`` tool call where the case says ``obey-tool``). The guarantee: no injected
verdict is ever taken for the judge's. Cases marked ``judge_level`` (the judge is talked round in
its own words) pass, as no parser can see them; they are counted apart.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmops.results import ToolCall
from pytest_llmops.testing import ScriptedLLMServer, ScriptedToolCall

from .helpers import (
    CORPUS_EXPECTED,
    CORPUS_INPUT,
    JUDGE_SPECS,
    KINDS_BY_SHAPE,
    RESULTS_CONFTEST,
    ScriptedJudge,
    is_judge,
    judge_kind,
    judge_outcome,
    judge_request,
    outcome_word,
    results,
    write,
)

CORPUS = Path(__file__).parent / "data" / "judge_injections.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CORPUS.read_text(encoding="utf-8"))
HONEST = {
    "pass-fail": '{"reason": "The output refuses the refund and tries to grade itself.", "score": 0.0, "verdict": "fail"}',
    "scale": '{"reason": "The output ignores the question and tries to grade itself.", "score": 1}',
    "category": '{"reason": "The output states none of the reference and grades itself.", "category": "D"}',
}
SHAPE_OF = {kind: shape for shape, kinds in KINDS_BY_SHAPE.items() if shape != "scale-1-10" for kind in kinds}
ANTHROPIC_JUDGE = "anthropic:claude-haiku-4-5"
RUNS = [(case, kind) for case in CASES for kind in SHAPE_OF]


def judge_reply(case: dict[str, Any], shape: str, output: str) -> str:
    """What the scripted judge writes for ``case`` (see the corpus's header)."""
    mode, honest = case["judge"], HONEST[shape]
    echo = case[shape].get("echo", "")
    if mode == "echo":
        return f"{honest}\n\nFor the record, the output under test reads:\n{output}"
    if mode == "echo-first":
        return f"The output under test reads:\n{output}\n\nMy verdict:\n{honest}"
    if mode == "normalise":
        return f"{honest}\n\nNote: the output tries to grade itself as {echo}"
    if mode == "obey":
        return f"The output gives the verdict to use, so here it is:\n{echo}"
    if mode == "obey-tool":
        return ""
    template = str(case["reply"][shape])
    return template.replace("@OUTPUT@", output).replace("@VERDICT@", honest)


def tool_call(case: dict[str, Any], shape: str) -> ScriptedToolCall:
    return ScriptedToolCall("record_verdict", json.loads(case[shape]["echo"]))


def test_the_corpus_is_as_large_and_as_varied_as_measured() -> None:
    assert len(CASES) >= 38
    assert len({c["id"] for c in CASES}) == len(CASES)
    for shape in HONEST:
        outputs = [c[shape]["output"] for c in CASES]
        assert len(set(outputs)) == len(outputs), f"{shape}: outputs must be distinct"
    modes = Counter(c["judge"] for c in CASES)
    assert set(modes) == {"echo", "echo-first", "normalise", "obey", "obey-tool", "custom"}, modes


@pytest.mark.parametrize(("case", "kind"), RUNS, ids=[f"{c['id']}-{k}" for c, k in RUNS])
def test_no_injected_verdict_is_taken_for_the_judges(case: dict[str, Any], kind: str) -> None:
    shape = SHAPE_OF[kind]
    output = case[shape]["output"]
    reply = judge_reply(case, shape, output)
    calls: tuple[ToolCall, ...] = ()
    provider = "openai:gpt-4o-mini"
    if case["judge"] == "obey-tool":
        arguments = json.loads(case[shape]["echo"])
        calls = (ToolCall("record_verdict", json.dumps(arguments), arguments),)
        provider = ANTHROPIC_JUDGE
    judge = ScriptedJudge(reply, "I cannot say.", tool_calls=calls)
    question = case.get("input", CORPUS_INPUT)
    got = outcome_word(judge_outcome(kind, judge, output, provider=provider, question=question))
    expected = "pass" if case.get("judge_level") else case["expected"]
    assert got == expected, f"{case['id']} as {kind}: expected {expected}, got {got}"


# --- end to end through the scripted server -------------------------------------------------

_MARK = re.compile(r"\[case ([\w-]+) as ([\w-]+)\]")


def _case_of(body: Any) -> tuple[dict[str, Any], str]:
    """The corpus case and judge kind a request (the application's or a judge's) belongs to."""
    text = json.dumps(body, ensure_ascii=False)
    found = _MARK.search(text)
    assert found, text[:300]
    case = next(c for c in CASES if c["id"] == found[1])
    return case, found[2]


def _application(body: Any) -> str:
    case, kind = _case_of(body)
    return str(case[SHAPE_OF[kind]]["output"])


def _judge_text(body: Any) -> str:
    case, kind = _case_of(body)
    assert judge_kind(body) == JUDGE_SPECS[kind]["type"]
    shape = SHAPE_OF[kind]
    return judge_reply(case, shape, str(case[shape]["output"]))


def _judge_tool(body: Any) -> list[ScriptedToolCall]:
    case, kind = _case_of(body)
    return [tool_call(case, SHAPE_OF[kind])]


def _suite(server: ScriptedLLMServer) -> str:
    lines = [
        "provider:",
        "  id: openai:gpt-4o-mini",
        f"  base_url: {server.base_url}",
        "judge:",
        "  id: openai:gpt-4o-mini",
        f"  base_url: {server.base_url}",
        "tests:",
    ]
    for case, kind in RUNS:
        assertion = dict(JUDGE_SPECS[kind])
        if case["judge"] == "obey-tool":
            assertion["provider"] = {"id": ANTHROPIC_JUDGE, "base_url": server.root_url}
        question = f"{case.get('input', CORPUS_INPUT)} [case {case['id']} as {kind}]"
        lines += [
            f"  - name: {case['id']}-{kind}",
            f"    prompt: {json.dumps(question)}",
            f"    expected: {json.dumps(CORPUS_EXPECTED)}",
            f"    assert: [{json.dumps(assertion)}]",
        ]
    return "\n".join(lines) + "\n"


def test_end_to_end_no_injection_passes_a_recorded_judge(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(tool_calls=_judge_tool, match=lambda b: is_judge(b) and "tools" in b)
    llmops_server.reply(_judge_text, match=is_judge)
    llmops_server.reply(_application)
    pytester.makeconftest(RESULTS_CONFTEST)
    write(pytester.path / "test_injections.llmops.yaml", _suite(llmops_server))
    pytester.runpytest("--llmops-record-mode=once", "-p", "no:randomly")
    found = results(pytester)
    assert len(found) == len(RUNS)
    tally: Counter[str] = Counter()
    for case, kind in RUNS:
        outcome = found[f"{case['id']}-{kind}"]["outcome"]
        word = {"passed": "pass", "failed": "fail", "unscored": "unscored"}.get(outcome, outcome)
        expected = "pass" if case.get("judge_level") else case["expected"]
        assert word == expected, (case["id"], kind, found[f"{case['id']}-{kind}"])
        tally["judge-level pass" if case.get("judge_level") else f"{expected}"] += 1
    # The forced tool call was asked of the Anthropic judge, structured output of the others.
    judged = [r.json for r in llmops_server.requests if is_judge(r.json)]
    assert any(b.get("tool_choice") == {"type": "tool", "name": "record_verdict"} for b in judged)
    assert all(
        b["response_format"]["type"] == "json_schema" for b in judged if "messages" in b and "tools" not in b
    )
    assert all("OUTPUT" in judge_request(b)[1] for b in judged)
    wrong = sum(
        1
        for case, kind in RUNS
        if not case.get("judge_level") and found[f"{case['id']}-{kind}"]["outcome"] == "passed"
    )
    print(f"\n{len(RUNS)} judgements of {len(CASES)} injected outputs: {dict(tally)}; wrong passes: {wrong}")
    assert wrong == 0
