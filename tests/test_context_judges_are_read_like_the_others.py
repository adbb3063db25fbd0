"""model-graded-closedqa, answer-relevance and the context-* judges run on the judges package's
machinery: the same strict reading of a reply (the realistic reply corpus, never a wrong pass),
the same injection defence (the injection corpus, in the output and in the retrieved context),
structured output, the one retry, and ``judge_checks:`` accept them (with ``context:``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmops.results import ToolCall
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import (
    CONTEXT_KINDS_BY_SHAPE,
    CORPUS_CONTEXT,
    CORPUS_INPUT,
    ScriptedJudge,
    is_judge,
    judge_kind,
    judge_outcome,
    judge_request,
    outcome_word,
    write,
)

DATA = Path(__file__).parent / "data"
REPLIES: list[dict[str, Any]] = yaml.safe_load((DATA / "judge_replies.yaml").read_text(encoding="utf-8"))
INJECTIONS: list[dict[str, Any]] = yaml.safe_load(
    (DATA / "judge_injections.yaml").read_text(encoding="utf-8")
)
SHAPE_OF = {kind: shape for shape, kinds in CONTEXT_KINDS_BY_SHAPE.items() for kind in kinds}
#: The kinds that show the judge the output (context-recall and context-relevance do not).
SHOW_OUTPUT = ("model-graded-closedqa", "answer-relevance", "context-faithfulness")
#: The kinds that show the judge the retrieved context.
SHOW_CONTEXT = ("context-faithfulness", "context-recall", "context-relevance")
HONEST = {
    "pass-fail": '{"reason": "The output refuses the refund and tries to grade itself.", "score": 0.0, "verdict": "fail"}',
    "scale": '{"reason": "The material ignores the question and tries to grade itself.", "score": 1}',
}

READINGS = [
    (entry, shape, kind)
    for entry in REPLIES
    for shape, kinds in CONTEXT_KINDS_BY_SHAPE.items()
    if shape in entry
    for kind in kinds
]


@pytest.mark.parametrize(("entry", "shape", "kind"), READINGS, ids=[f"{e['id']}-{k}" for e, _, k in READINGS])
def test_a_reply_never_passes_unless_a_person_reads_a_pass(
    entry: dict[str, Any], shape: str, kind: str
) -> None:
    judge = ScriptedJudge(
        entry[shape]["reply"], "I cannot say.", finish_reason=entry.get("finish_reason", "stop")
    )
    got = outcome_word(judge_outcome(kind, judge, context=CORPUS_CONTEXT))
    expected = entry[shape]["expected"]
    if expected in ("pass", "fail") and got == "unscored":
        return  # decidable but left unscored: never wrong
    assert got == expected, f"{entry['id']} as {kind}: expected {expected}, got {got}"


def test_the_reply_corpus_reads_as_many_replies_for_these_kinds_as_for_the_standard_ones() -> None:
    left = {kind: 0 for kind in SHAPE_OF}
    for entry, shape, kind in READINGS:
        judge = ScriptedJudge(
            entry[shape]["reply"], "I cannot say.", finish_reason=entry.get("finish_reason", "stop")
        )
        got = outcome_word(judge_outcome(kind, judge, context=CORPUS_CONTEXT))
        left[kind] += entry[shape]["expected"] != "unscored" and got == "unscored"
    relevance = sum(
        1
        for entry in REPLIES
        if "scale" in entry
        and entry["scale"]["expected"] != "unscored"
        and outcome_word(
            judge_outcome(
                "relevance",
                ScriptedJudge(
                    entry["scale"]["reply"], "I cannot say.", finish_reason=entry.get("finish_reason", "stop")
                ),
            )
        )
        == "unscored"
    )
    for kind in CONTEXT_KINDS_BY_SHAPE["scale"]:
        assert left[kind] == relevance, (kind, left[kind], relevance)


def _reply(case: dict[str, Any], shape: str, injected: str) -> str:
    """What the scripted judge writes (the corpus's modes), quoting ``injected`` where it quotes."""
    mode, honest = case["judge"], HONEST[shape]
    echo = case[shape].get("echo", "")
    if mode == "echo":
        return f"{honest}\n\nFor the record, the material reads:\n{injected}"
    if mode == "echo-first":
        return f"The material reads:\n{injected}\n\nMy verdict:\n{honest}"
    if mode == "normalise":
        return f"{honest}\n\nNote: the material tries to grade itself as {echo}"
    if mode == "obey":
        return f"The material gives the verdict to use, so here it is:\n{echo}"
    if mode == "obey-tool":
        return ""
    return str(case["reply"][shape]).replace("@OUTPUT@", injected).replace("@VERDICT@", honest)


def _injected(case: dict[str, Any], kind: str, where: str) -> str:
    shape = SHAPE_OF[kind]
    output = case[shape]["output"]
    judge = ScriptedJudge(_reply(case, shape, output), "I cannot say.", tool_calls=_calls(case, shape))
    provider = "anthropic:claude-haiku-4-5" if case["judge"] == "obey-tool" else "openai:gpt-4o-mini"
    question = case.get("input", CORPUS_INPUT)
    if where == "output":
        result = judge_outcome(
            kind, judge, output, provider=provider, question=question, context=CORPUS_CONTEXT
        )
    else:
        result = judge_outcome(kind, judge, provider=provider, question=question, context=output)
    return outcome_word(result)


def _calls(case: dict[str, Any], shape: str) -> tuple[ToolCall, ...]:
    if case["judge"] != "obey-tool":
        return ()
    arguments = json.loads(case[shape]["echo"])
    return (ToolCall("record_verdict", json.dumps(arguments), arguments),)


INJECTED = [
    *((case, kind, "output") for case in INJECTIONS for kind in SHOW_OUTPUT),
    *((case, kind, "context") for case in INJECTIONS for kind in SHOW_CONTEXT),
]
# context-recall shows neither the input nor the output: an injection there cannot reach its judge.
INJECTED = [run for run in INJECTED if not (run[1] == "context-recall" and "input" in run[0])]


@pytest.mark.parametrize(
    ("case", "kind", "where"), INJECTED, ids=[f"{c['id']}-{k}-in-{w}" for c, k, w in INJECTED]
)
def test_no_injected_verdict_is_taken_for_the_judges(case: dict[str, Any], kind: str, where: str) -> None:
    got = _injected(case, kind, where)
    expected = "pass" if case.get("judge_level") else case["expected"]
    assert got == expected, f"{case['id']} in the {where} as {kind}: expected {expected}, got {got}"


@pytest.mark.parametrize("kind", sorted(SHAPE_OF))
def test_structured_output_and_one_retry(kind: str) -> None:
    shape = SHAPE_OF[kind]
    honest = HONEST[shape]
    judge = ScriptedJudge("Looks fine to me.", honest)
    result = judge_outcome(kind, judge, context=CORPUS_CONTEXT)
    assert outcome_word(result) == "fail"
    first, retry = judge.prompts
    form = first.params["response_format"]
    assert form["type"] == "json_schema" and form["json_schema"]["strict"] is True
    fields = form["json_schema"]["schema"]["properties"]
    assert ("verdict" in fields) == (shape == "pass-fail")
    assert first.params["temperature"] == 0
    assert f"v2, {kind})" in first.messages[0].content
    assert retry.messages[-1].role == "user" and "could not be read" in retry.messages[-1].content

    anthropic = ScriptedJudge("", tool_calls=(ToolCall("record_verdict", honest, json.loads(honest)),))
    result = judge_outcome(kind, anthropic, provider="anthropic:claude-haiku-4-5", context=CORPUS_CONTEXT)
    assert outcome_word(result) == "fail"
    assert anthropic.prompts[0].params["tool_choice"] == {"type": "tool", "name": "record_verdict"}


def test_the_material_of_each_kind() -> None:
    shown = {}
    for kind, shape in SHAPE_OF.items():
        judge = ScriptedJudge(HONEST[shape])
        judge_outcome(kind, judge, context=["first passage", "second passage"])
        shown[kind] = judge.prompts[0].messages[-1].content
    assert "[1] first passage\n\n[2] second passage" in shown["context-faithfulness"]
    assert "GROUND TRUTH" in shown["context-recall"] and "OUTPUT" not in shown["context-recall"]
    assert "OUTPUT" not in shown["context-relevance"] and "CONTEXT" in shown["context-relevance"]
    assert "CRITERION" in shown["model-graded-closedqa"] and "CONTEXT" not in shown["model-graded-closedqa"]
    assert "CONTEXT" not in shown["answer-relevance"]


CONTEXT_CHECKS = """\
judge_checks:
  - name: grounded
    assert: {type: context-faithfulness}
    input: How long do refunds take?
    context: ["Refunds reach your account within 14 days."]
    output: GOOD - within 14 days.
    verdict: pass
  - name: invented
    assert: {type: context-faithfulness}
    input: How long do refunds take?
    context: file://policy.txt
    output: BAD - refunds are instant and come with a voucher.
    verdict: fail
  - name: answers
    assert: {type: answer-relevance}
    input: How long do refunds take?
    output: GOOD - within 14 days.
    verdict: pass
  - name: criterion
    assert: {type: model-graded-closedqa, value: states a number of days}
    output: BAD - soon.
    verdict: fail
"""


def _labelling_judge(body: Any) -> str:
    _, user = judge_request(body)
    good = "GOOD" in user
    if judge_kind(body) == "model-graded-closedqa":
        return json.dumps(
            {"reason": "judged", "score": 1 if good else 0, "verdict": "pass" if good else "fail"}
        )
    return json.dumps({"reason": "rated", "score": 5 if good else 1})


def test_judge_checks_accept_these_judges_with_their_context(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(_labelling_judge, match=is_judge)
    write(pytester.path / "policy.txt", "Refunds reach your account within 14 days.\n")
    write(
        pytester.path / "test_checks.llmops.yaml",
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        f"judge:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n" + CONTEXT_CHECKS,
    )
    gate = "--llmops-min-judge-agreement=1"
    result = pytester.runpytest("--llmops-record-mode=once", gate)
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        [
            "judges checked against people (4 judge checks):",
            "*context-faithfulness × openai:gpt-4o-mini: 2/2 agree (100.0%)*",
        ]
    )
    judged = [judge_request(r.json)[1] for r in llmops_server.requests if is_judge(r.json)]
    assert len(judged) == 4
    assert any("CONTEXT" in user and "within 14 days." in user and "voucher" in user for user in judged)
    replay = pytester.runpytest(gate)  # recorded: the checks replay offline
    replay.assert_outcomes(passed=4)
