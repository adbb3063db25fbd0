"""Repeats: each run its own recording, reduced with a named rule."""

from __future__ import annotations

import itertools

import pytest
import yaml

from pytest_llmops.spec.schema import ReduceRule, parse_reduce
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt


def flaky_server(server: ScriptedLLMServer, pattern: str) -> None:
    """Answers 'hello' or 'nope' in a fixed cycle, like a model that is right 3 times in 5."""
    cycle = itertools.cycle(pattern)
    server.reply(lambda request: "hello there" if next(cycle) == "y" else "nope")


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer, extra: str) -> None:
    write_prompt(pytester.path)
    write(
        pytester.path / "test_r.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{server.base_url}'}}\n"
        f"tests:\n  - name: flaky\n    vars: {{who: A}}\n{extra}"
        "    assert: [{type: icontains, value: hello}]\n",
    )


@pytest.mark.parametrize(
    ("extra", "outcome"),
    [
        ("    repeat: 5\n", "failed"),  # default pass^k: all 5 must pass
        ("    repeat: 5\n    reduce: pass^k\n", "failed"),
        ("    repeat: 5\n    reduce: pass@k\n", "passed"),
        ("    repeat: 5\n    reduce: {pass_rate: 0.6}\n", "passed"),
        ("    repeat: 5\n    reduce: {pass_rate: 0.8}\n", "failed"),
        ("    repeat: 5\n    reduce: mean\n    threshold: 0.6\n", "passed"),
        ("    repeat: 5\n    reduce: mean\n    threshold: 0.7\n", "failed"),
    ],
    ids=["default", "pass^k", "pass@k", "rate-0.6", "rate-0.8", "mean-0.6", "mean-0.7"],
)
def test_each_rule(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, extra: str, outcome: str
) -> None:
    flaky_server(llmops_server, "yynyn")  # 3 of 5 pass
    suite(pytester, llmops_server, extra)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(**{outcome: 1})
    assert len(llmops_server.requests) == 5
    if outcome == "failed":
        result.stdout.fnmatch_lines(
            [
                "runs: *5 runs*",
                "  run 1: passed score=1.00",
                "  run 2: passed score=1.00",
                "  run 3: failed score=0.00",
                "  run 4: passed score=1.00",
                "  run 5: failed score=0.00",
            ]
        )


def test_each_run_has_its_own_recording_and_replays_in_order(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    flaky_server(llmops_server, "yynyn")
    suite(pytester, llmops_server, "    repeat: 5\n    reduce: {pass_rate: 0.6}\n")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    (cassette,) = (pytester.path / "cassettes").rglob("*.yaml")
    bodies = [i["response"]["body"]["string"] for i in yaml.safe_load(cassette.read_text())["interactions"]]
    assert ["hello there" in b for b in bodies] == [True, True, False, True, False]
    llmops_server.close()
    # Offline, the same five answers come back: same outcome; a stricter rule now fails.
    pytester.runpytest().assert_outcomes(passed=1)
    suite_file = pytester.path / "test_r.llmops.yaml"
    suite_file.write_text(suite_file.read_text().replace("pass_rate: 0.6", "pass_rate: 0.8"))
    pytester.runpytest().assert_outcomes(failed=1)


def test_command_line_and_ini_set_the_runs(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    flaky_server(llmops_server, "y")
    suite(pytester, llmops_server, "")
    add_ini(pytester, "llmops_repeat = 3")
    pytester.runpytest("--llmops-record-mode=all").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 3
    pytester.runpytest("--llmops-record-mode=all", "--llmops-repeat=2").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 5


def test_mean_without_threshold_is_a_collection_error(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    suite(pytester, llmops_server, "    repeat: 3\n    reduce: mean\n")
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*test_r.llmops.yaml:4: case 'flaky': `reduce: mean` compares the mean score with a threshold*"]
    )


def test_bad_rule_is_a_collection_error(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    suite(pytester, llmops_server, "    repeat: 3\n    reduce: best-of\n")
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*tests[[]0[]].reduce: reduce must be one of pass^k, pass@k, mean, {pass_rate: 0.8}; got 'best-of'*"]
    )


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (None, ReduceRule("pass^k")),
        ("pass@k", ReduceRule("pass@k")),
        ({"pass_rate": 0.8}, ReduceRule("pass_rate", 0.8)),
    ],
)
def test_parse_reduce(value: object, rule: ReduceRule) -> None:
    assert parse_reduce(value) == rule


@pytest.mark.parametrize("value", ["pass@3", {"pass_rate": 0}, {"pass_rate": 1.5}, {"rate": 0.5}, 3])
def test_parse_reduce_rejects(value: object) -> None:
    with pytest.raises(ValueError, match=r"pass_rate|reduce must be one of"):
        parse_reduce(value)
