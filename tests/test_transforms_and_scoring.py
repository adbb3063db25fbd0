"""`transform:` changes what the assertions see (defaults, case, one assertion) and the report keeps
both; a suite's scoring function turns the assertion scores into the case's."""

from __future__ import annotations

import json

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import glob_escape, write, write_prompt

REPLY = 'Answer: {"country": "FR", "city": "Paris"}'


@pytest.fixture
def suite_dir(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> pytest.Pytester:
    llmops_server.reply(REPLY)
    write_prompt(pytester.path)
    write(pytester.path / "clean.py", "def city(output, context):\n    return output['city'].upper()\n")
    write(
        pytester.path / "test_t.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "defaults:\n  transform: \"json.loads(output.removeprefix('Answer: '))\"\n"
        "tests:\n"
        "  - name: parsed\n    vars: {who: A}\n    assert:\n"
        "      - {type: is-json}\n"
        "      - {type: equals, value: {country: FR, city: Paris}}\n"
        '      - {type: python, value: \'output["country"] == "FR"\'}\n'
        "      - {type: equals, value: PARIS, transform: clean.py:city}\n"
        "      - {type: contains, value: Paris, transform: \"output['city']\"}\n"
        "  - name: own\n    vars: {who: B}\n    transform: \"output.split(':')[0]\"\n"
        "    assert: [{type: equals, value: Answer}]\n"
        "  - name: broken\n    vars: {who: C}\n    transform: \"output['nope']\"\n"
        "    assert: [{type: not-contains, value: zzz}]\n",
    )
    return pytester


def test_transforms_apply_in_order_and_the_report_keeps_both_outputs(suite_dir: pytest.Pytester) -> None:
    result = suite_dir.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    result.assert_outcomes(passed=2, failed=1)
    cases = {c["case"]: c for c in json.loads((suite_dir.path / "report.json").read_text())["cases"]}
    assert cases["parsed"]["output"] == REPLY
    assert json.loads(cases["parsed"]["transformed_output"]) == {"country": "FR", "city": "Paris"}
    assert cases["own"]["transformed_output"] == "Answer"
    # A transform that raises fails every assertion of the case, `not-` ones included.
    result.stdout.fnmatch_lines(
        ["*FAIL not-contains*" + glob_escape("transform \"output['nope']\" raised TypeError") + "*"]
    )
    assert "raised TypeError" in cases["broken"]["transformed_output"]


def test_a_bad_transform_is_a_collection_error(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_bad.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    transform: \"__import__('os')\"\n"
        "    assert: [{type: contains, value: A}]\n",
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        ["*test_bad.llmops.yaml:4: case 'a': `transform`: the name `__import__` is not allowed*"]
    )


SCORING = """
def weighted(scores, context):
    # Accuracy counts three times as much as tone; the threshold is the case's.
    score = (3 * scores["accuracy"] + scores["tone"]) / 4
    return {"pass": score >= context["threshold"], "score": score, "reason": f"weighted {score:.2f}"}


def strict(scores, context):
    return all(r["pass"] for r in context.componentResults)


def broken(scores, context):
    raise KeyError("missing")
"""


def test_a_scoring_function_decides_the_case(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("Paris, obviously.")
    write_prompt(pytester.path)
    write(pytester.path / "scoring.py", SCORING)
    checks = (
        "    assert:\n"
        "      - {type: contains, value: Paris, metric: accuracy}\n"
        "      - {type: not-contains, value: obviously, metric: tone}\n"
    )
    write(
        pytester.path / "test_s.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "defaults:\n  scoring: scoring.py:weighted\n  threshold: 0.7\n"
        f"tests:\n  - name: weighted\n    vars: {{who: A}}\n{checks}"
        f"  - name: strict\n    vars: {{who: B}}\n    scoring: scoring.py:strict\n{checks}"
        f"  - name: broken\n    vars: {{who: C}}\n    scoring: scoring.py:broken\n{checks}",
    )
    result = pytester.runpytest("--llmops-record-mode=once", "--llmops-report=report.json")
    result.assert_outcomes(passed=1, failed=2)
    cases = {c["case"]: c for c in json.loads((pytester.path / "report.json").read_text())["cases"]}
    # The weighted mean of the two would be 0.5, below 0.7: the function's 0.75 passes it.
    assert cases["weighted"]["outcome"] == "passed" and cases["weighted"]["score"] == 0.75
    verdict = cases["weighted"]["assertions"][-1]
    assert verdict["type"] == "scoring" and verdict["weight"] == 0 and "weighted 0.75" in verdict["reason"]
    assert cases["strict"]["outcome"] == "failed"
    result.stdout.fnmatch_lines(["*FAIL scoring*scoring.py:broken*raised KeyError*"])


def test_a_missing_scoring_function_is_a_collection_error(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write(pytester.path / "scoring.py", SCORING)
    write(
        pytester.path / "test_bad.llmops.yaml",
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ndefaults: {scoring: 'scoring.py:weigted'}\n"
        "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: contains, value: A}]\n",
    )
    result = pytester.runpytest("--collect-only")
    result.stdout.fnmatch_lines(
        [
            "*defaults: `scoring`: function 'weigted' not found in python file 'scoring.py'. Did you mean 'weighted'?*"
        ]
    )
