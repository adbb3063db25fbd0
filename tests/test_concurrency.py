"""Concurrent calls keep pytest's semantics: outcomes, cassettes, -x, budget and 429 back-off."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt


class Overlap:
    """A reply that notes how many requests the server was answering at once."""

    def __init__(self, delay: float = 0.1) -> None:
        self.delay = delay
        self.active = 0
        self.peak = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        with self._lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(self.delay)
        with self._lock:
            self.active -= 1
        who = request["messages"][-1]["content"].split()[-1].rstrip(".")
        return f"Hello {who}" if not who.startswith("F") else "nope"


def suite(pytester: pytest.Pytester, server: ScriptedLLMServer, names: list[str]) -> None:
    write_prompt(pytester.path)
    body = f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{server.base_url}'}}\ntests:\n"
    for name in names:
        body += f"  - {{name: {name}, vars: {{who: {name}}}, assert: [{{type: icontains, value: hello}}]}}\n"
    write(pytester.path / "test_c.llmops.yaml", body)


def cassettes(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Each cassette's (request body, answer) pairs: ids, dates and latencies aside."""
    out = {}
    for path in sorted((root / "cassettes").rglob("*.yaml")):
        interactions = yaml.safe_load(path.read_text())["interactions"]
        out[path.name] = [
            (
                i["request"]["body"],
                json.loads(i["response"]["body"]["string"])["choices"][0]["message"]["content"],
            )
            for i in interactions
        ]
    return out


NAMES = [f"A{i}" for i in range(6)] + ["F1"] + [f"B{i}" for i in range(5)]


def test_concurrent_run_equals_serial_run(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    overlap = Overlap()
    llmops_server.reply(overlap)
    suite(pytester, llmops_server, NAMES)
    serial = pytester.runpytest("--llmops-record-mode=all", "--llmops-concurrency=1")
    serial.assert_outcomes(passed=11, failed=1)
    assert overlap.peak == 1
    serial_cassettes = cassettes(pytester.path)

    concurrent = pytester.runpytest("--llmops-record-mode=all", "--llmops-concurrency=8")
    concurrent.assert_outcomes(passed=11, failed=1)
    assert overlap.peak > 1, "calls did overlap"
    assert cassettes(pytester.path) == serial_cassettes
    concurrent.stdout.fnmatch_lines(["llmops: concurrency: peak 8 case(s) in flight (limit 8)"])
    # Items still report in collection order.
    order = [line.split("::")[1].split("[")[0] for line in concurrent.outlines if line.startswith("FAILED")]
    assert order == ["F1"]


def test_exitfirst_stops_scheduling(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.reply(Overlap(delay=0.05))
    names = ["F0"] + [f"A{i}" for i in range(30)]
    suite(pytester, llmops_server, names)
    result = pytester.runpytest("--llmops-record-mode=all", "--llmops-concurrency=4", "-x")
    result.assert_outcomes(failed=1)
    # Only the cases already in flight when pytest stopped were called, not all 31.
    assert len(llmops_server.requests) <= 1 + 4


def test_budget_is_respected_with_concurrency(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(Overlap(delay=0.05))
    suite(pytester, llmops_server, [f"A{i}" for i in range(10)])
    # Each call costs about $0.000004 at gpt-4o-mini prices; the cap is reached by the first.
    result = pytester.runpytest(
        "--llmops-record-mode=all", "--llmops-concurrency=8", "--llmops-budget=0.000001"
    )
    assert len(llmops_server.requests) == 1
    result.assert_outcomes(passed=1, failed=9)
    result.stdout.fnmatch_lines(["*budget exhausted*"])


def test_rate_limits_back_off_and_are_reported(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.fail(429, headers={"retry-after": "0.05"}, times=3)
    llmops_server.reply(Overlap(delay=0.02))
    add_ini(pytester, "llmops_retry_backoff = 0.01", "llmops_max_retries = 5")
    suite(pytester, llmops_server, [f"A{i}" for i in range(8)])
    result = pytester.runpytest("--llmops-record-mode=all", "--llmops-concurrency=8")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(
        [
            "llmops: concurrency: peak * (limit 8); 3 rate-limited response(s), limit backed off to *; 3 retried call(s)"
        ]
    )


def test_skipped_cases_make_no_call(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.reply("hello")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_s.llmops.yaml",
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\ntests:\n"
        "  - {name: a, vars: {who: A}, skip: later, assert: [{type: icontains, value: hello}]}\n"
        "  - {name: b, vars: {who: B}, assert: [{type: icontains, value: hello}]}\n",
    )
    pytester.runpytest("--llmops-record-mode=all").assert_outcomes(passed=1, skipped=1)
    assert len(llmops_server.requests) == 1


@pytest.mark.parametrize("option", ["--llmops-concurrency=0", "--llmops-concurrency=-2"])
def test_bad_concurrency(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, option: str) -> None:
    suite(pytester, llmops_server, ["A0"])
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--llmops-concurrency=*: expected a whole number, at least 1*"])
