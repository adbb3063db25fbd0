"""CI shards: `python -m pytest_llmops merge shard-*.json` equals one serial run, gates included."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import USAGE, add_ini, greet_reply, make_suite

NAMES = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory")
# Version 2.0.0 greets warmly: carol, dave and erin forbid it, so they fail under 2.0.0 only.
CASES = "".join(
    f"""
  - name: {name}
    vars: {{who: {name.title()}}}
    assert:
      - {{type: icontains, value: {name}}}
      - {{type: {"not-icontains" if name in ("carol", "dave", "erin") else "icontains"}, value: {"welcome" if name in ("carol", "dave", "erin") else "hello"}}}
"""
    for name in NAMES
)

GATES = (
    "llmops_min_pass_rate = 0.9",
    "llmops_max_cost = 1",
    "llmops_max_new_failures = 0",
    "llmops_regression = significant",
)


def merge(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.run(sys.executable, "-m", "pytest_llmops", "merge", *args)


def report(pytester: pytest.Pytester, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((pytester.path / name).read_text())
    return data


@pytest.fixture
def project(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> pytest.Pytester:
    """22 recorded cases (11 × two prompt versions) and a baseline report of version 1.0.0 only."""
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, CASES, prompts=("greeter@1.0.0",))
    pytester.runpytest("--llmops-record-mode=once", "--llmops-report=base.json").assert_outcomes(passed=11)
    make_suite(pytester.path, llmops_server, CASES, prompts=("greeter@1.0.0", "greeter@2.0.0"))
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=19, failed=3)
    add_ini(pytester, *GATES)
    return pytester


def test_four_shards_merged_equal_one_serial_run_to_the_last_digit(project: pytest.Pytester) -> None:
    serial = project.runpytest(
        "--llmops-baseline=base.json", "--llmops-report=serial.json", "--llmops-markdown=serial.md"
    )
    serial.assert_outcomes(passed=19, failed=3)

    ids = [line for line in project.runpytest("--collect-only", "-q").stdout.lines if "::" in line]
    assert len(ids) == 22
    for shard in range(4):
        # Each shard replays its share; its own gates see a part of the run and do not matter.
        project.runpytest(
            *ids[shard::4], f"--llmops-report=shard-{shard + 1}.json", "-n", "2" if shard else "0"
        )

    merged = merge(
        project, "shard-*.json", "-o", "run.json", "--llmops-baseline=base.json", "--llmops-markdown=run.md"
    )
    assert merged.ret == serial.ret == pytest.ExitCode.TESTS_FAILED
    one, combined = report(project, "serial.json"), report(project, "run.json")
    assert combined["summary"] == one["summary"]  # totals, intervals, paired tests, baseline, gates
    assert combined["cases"] == one["cases"]
    assert combined["reruns"] == one["reruns"] == []
    assert combined["run"] == {
        "tests_exit_status": 1,
        "merged_from": ["shard-1.json", "shard-2.json", "shard-3.json", "shard-4.json"],
    }
    assert one["run"]["tests_exit_status"] == 1
    gates = {g["name"]: g["passed"] for g in combined["summary"]["gates"]}
    assert gates == {
        "max_cost": True,
        "min_pass_rate": False,
        "max_new_failures": True,
        "regression": True,  # 3 of 11 cases worse: not significant at this size
    }
    assert (project.path / "run.md").read_text() == (project.path / "serial.md").read_text()
    merged.stdout.fnmatch_lines(
        [
            "llmops merge: 22 case(s) from 4 shard report(s)",
            "gate FAILED: pass rate 86.4% is below the limit of 90.0% (llmops_min_pass_rate)",
            "llmops: wrote JSON report: run.json",
            "llmops: wrote Markdown report: run.md",
        ]
    )


def test_gates_alone_set_the_merged_exit_status(project: pytest.Pytester) -> None:
    add_ini(project, "llmops_suite_glob = test_*.llmops.yaml")  # an ini key the merge must not mind
    ids = [line for line in project.runpytest("--collect-only", "-q").stdout.lines if "::" in line]
    passing = [i for i in ids if "2.0.0" not in i or not any(n in i for n in ("carol", "dave", "erin"))]
    project.runpytest(*passing[:10], "--llmops-report=a.json")
    project.runpytest(*passing[10:], "--llmops-report=b.json")
    # Every case passed: the ini file's pass-rate gate holds and the merge exits 0 ...
    assert merge(project, "a.json", "b.json").ret == pytest.ExitCode.OK
    # ... and a flag read through the same settings table breaches a gate: exit 1.
    result = merge(project, "a.json", "b.json", "--llmops-max-cost=0.000001")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["gate FAILED: cost * is above the limit of $0.000001 (llmops_max_cost)"])


def test_overlapping_unreadable_or_empty_shards_and_bad_settings_are_usage_errors(
    project: pytest.Pytester,
) -> None:
    project.runpytest("--llmops-report=all.json")
    (project.path / "copy.json").write_text((project.path / "all.json").read_text())
    result = merge(project, "all.json", "copy.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: test_greet.llmops.yaml::alice* is in both all.json and copy.json: the shards overlap*"]
    )
    result = merge(project, "missing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: missing.json: no such file; each shard writes one with --llmops-report=PATH"]
    )
    result = merge(project, "all.json", "--llmops-min-pass-rate=2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --llmops-min-pass-rate=2: expected a fraction from 0 to 1*"])
    result = merge(project, "all.json", "--llmops-baseline", "base.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --llmops-baseline base.json (the command line): write --llmops-baseline=base.json*"]
    )
    empty = report(project, "all.json")
    empty["cases"] = []
    (project.path / "empty.json").write_text(json.dumps(empty))
    assert merge(project, "empty.json").ret == pytest.ExitCode.NO_TESTS_COLLECTED
