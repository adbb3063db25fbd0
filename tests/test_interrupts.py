"""Interrupted and parallel runs: every cassette on disk is whole, and none is shared.

A recording run is stopped with SIGINT (Ctrl-C) and with SIGKILL while calls are in flight.
Every cassette left behind must load and replay, and the next ``once`` run must record only
the cases that are missing. Under ``-n 4`` each cassette must hold exactly its own case's
exchange, and the reports are written once, by the controller.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

from pytest_llmops.fileio import atomic_write_chunks, atomic_write_text
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

CASES = 10


def _echo(request: Any) -> str:
    return f"Hello, {request['messages'][-1]['content'].split()[-1].rstrip('.')}!"


def _suite(path: Path, server: ScriptedLLMServer, names: list[str]) -> Path:
    cases = "".join(
        f"  - {{name: {n}, vars: {{who: {n.capitalize()}}}, assert: [{{type: icontains, value: {n}}}]}}\n"
        for n in names
    )
    return write(
        path,
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {server.base_url}\ntests:\n{cases}",
    )


def _load_cassettes(root: Path) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
    """Every cassette file below ``root`` read the way vcrpy reads it: file stem -> interactions."""
    out = {}
    for path in sorted(root.rglob("*.yaml")):
        if "cassettes" in path.parts:
            requests, responses, *_ = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
            out[path.name.split("[")[0]] = list(zip(requests, responses, strict=True))
    return out


def _assert_each_holds_its_own_case(cassettes: dict[str, list[tuple[Any, dict[str, Any]]]]) -> None:
    for name, interactions in cassettes.items():
        assert len(interactions) == 1, name
        request, response = interactions[0]
        who = name.capitalize()
        assert json.loads(request.body)["messages"][-1]["content"] == f"Say hello to {who}."
        assert response["status"]["code"] == 200
        assert f"Hello, {who}!" in response["body"]["string"].decode()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_an_interrupted_recording_leaves_whole_cassettes_and_once_records_the_rest(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, signum: signal.Signals
) -> None:
    server = llmops_server
    released = threading.Event()
    calls = itertools.count(1)

    def held(request: Any) -> str:
        # From the sixth call on, replies wait for the signal: however late this process is
        # scheduled, the run cannot end first (a signal that lands while the interpreter shuts
        # down is never acted on, and the run then exits 0).
        if next(calls) > 5:
            released.wait(60)
        return _echo(request)

    server.reply(held, delay=0.25)  # slow enough to be caught with calls in flight
    names = [f"case{i}" for i in range(CASES)]
    write_prompt(pytester.path)
    _suite(pytester.path / "test_many.llmops.yaml", server, names)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "--llmops-record-mode=once",
        "--llmops-concurrency=2",
        "--llmops-report=report.json",
        "-p",
        "no:cacheprovider",
    ]
    process = pytester.popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    # Mid-way: some cases recorded, two calls in flight, most not started.
    while len(server.requests) < 5 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signum)
    released.set()
    out, err = (b.decode() for b in process.communicate(timeout=60))
    assert "INTERNALERROR" not in out + err
    if signum == signal.SIGINT:
        assert process.returncode == pytest.ExitCode.INTERRUPTED, out + err
        assert "KeyboardInterrupt" in out
        # A run stopped by Ctrl-C still writes its report of what finished, whole.
        report = json.loads((pytester.path / "report.json").read_text())
        assert 0 < report["summary"]["cases"] < CASES
        assert not list(pytester.path.rglob("*.tmp")), "no temporary file is left behind"
    else:
        assert process.returncode == -signal.SIGKILL
        assert not (pytester.path / "report.json").exists()

    # Every cassette on disk loads with vcrpy and holds its own case's one good exchange.
    recorded = _load_cassettes(pytester.path)
    assert 0 < len(recorded) < CASES
    _assert_each_holds_its_own_case(recorded)

    # Offline, each of them replays; the cases never recorded say so.
    server_requests = len(server.requests)
    replay = pytester.runpytest("-p", "no:cacheprovider")
    replay.assert_outcomes(passed=len(recorded), failed=CASES - len(recorded))
    replay.stdout.fnmatch_lines(["*no recording for this case*does not exist*"])
    assert len(server.requests) == server_requests

    # `once` records exactly what is missing, and then everything replays offline.
    pytester.runpytest("--llmops-record-mode=once", "-p", "no:cacheprovider").assert_outcomes(passed=CASES)
    assert len(server.requests) == server_requests + CASES - len(recorded)
    server.close()
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=CASES)
    _assert_each_holds_its_own_case(_load_cassettes(pytester.path))


def test_four_workers_never_share_a_cassette_or_a_report(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    """Cassettes are per case, named after the suite and the item; reports come from the controller."""
    llmops_server.reply(_echo, delay=0.02)
    write_prompt(pytester.path)
    alpha = [f"alpha{i}" for i in range(8)]
    beta = [f"beta{i}" for i in range(8)]
    _suite(pytester.path / "test_alpha.llmops.yaml", llmops_server, alpha)
    _suite(pytester.path / "nested" / "test_beta.llmops.yaml", llmops_server, beta)
    result = pytester.runpytest(
        "-n",
        "4",
        "--llmops-record-mode=once",
        "--llmops-report=report.json",
        "--llmops-markdown=summary.md",
        "--junitxml=junit.xml",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(passed=16)
    assert len(llmops_server.requests) == 16, "each case is called once, by one worker"
    cassettes = _load_cassettes(pytester.path)
    assert sorted(cassettes) == sorted(alpha + beta)
    _assert_each_holds_its_own_case(cassettes)
    assert not list(pytester.path.rglob("*.tmp"))
    # The controller alone writes each report, once, with every worker's cases in it.
    out = result.stdout.str()
    assert out.count("llmops: wrote JSON report: report.json") == 1
    assert out.count("llmops: wrote Markdown report: summary.md") == 1
    report = json.loads((pytester.path / "report.json").read_text())
    assert sorted(c["case"] for c in report["cases"]) == sorted(alpha + beta)


def test_same_named_suites_in_two_folders_never_share_a_cassette(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    """Same file name in two folders with one ``llmops_cassette_dir``: distinct by construction."""
    llmops_server.reply(_echo)
    write_prompt(pytester.path)
    _suite(pytester.path / "team_a" / "test_support.llmops.yaml", llmops_server, ["refund"])
    _suite(pytester.path / "team_b" / "test_support.llmops.yaml", llmops_server, ["refund"])
    with (pytester.path / "pytest.ini").open("a") as ini:
        ini.write("llmops_cassette_dir = recordings\n")
    pytester.runpytest("--llmops-record-mode=all").assert_outcomes(passed=2)
    name = "refund[greeter@1.0.0-openai_gpt-4o-mini].yaml"
    recorded = sorted(
        p.relative_to(pytester.path).as_posix() for p in pytester.path.rglob("*.yaml") if p.name == name
    )
    assert recorded == [
        f"recordings/team_a/test_support/{name}",
        f"recordings/team_b/test_support/{name}",
    ]
    pytester.runpytest().assert_outcomes(passed=2)  # each replays its own recording


def test_suites_that_would_share_a_cassette_are_a_collection_error(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    """``test_support.llmops.yaml`` beside ``test_support.llmops.yml``: one cassette folder, refused."""
    write_prompt(pytester.path)
    _suite(pytester.path / "test_support.llmops.yaml", llmops_server, ["refund"])
    _suite(pytester.path / "test_support.llmops.yml", llmops_server, ["refund"])
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR collecting test_support.llmops.yml*",
            "test_support.llmops.yml::refund[[]greeter@1.0.0-openai:gpt-4o-mini[]] and "
            "test_support.llmops.yaml::refund[[]greeter@1.0.0-openai:gpt-4o-mini[]] would record to "
            "the same cassette, cassettes/test_support/refund[[]greeter@1.0.0-openai_gpt-4o-mini[]].yaml, "
            "and overwrite each other's recordings.*",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_an_atomic_write_interrupted_before_the_rename_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "c.yaml"
    atomic_write_text(target, "old: whole\n")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_text(target, "new: " + "x" * 1_000_000)
    assert target.read_text() == "old: whole\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"], "the temporary file is removed"


def test_a_chunked_write_that_fails_midway_leaves_the_old_file(tmp_path: Path) -> None:
    # The JSON report is written as its encoder makes it; an encoder that raises halfway (a NaN)
    # must leave the previous report whole, not half a new one.
    target = tmp_path / "r.json"
    atomic_write_chunks(target, iter(["{", '"a": 1', "}\n"]))
    assert target.read_text() == '{"a": 1}\n'

    def failing() -> Iterator[str]:
        yield '{"b": ' + "2" * 100_000
        raise ValueError("Out of range float values are not JSON compliant")

    with pytest.raises(ValueError, match="JSON compliant"):
        atomic_write_chunks(target, failing())
    assert target.read_text() == '{"a": 1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"], "the temporary file is removed"
