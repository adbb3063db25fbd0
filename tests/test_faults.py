"""Every fault a provider can throw, over real sockets: retried where it may pass, never half-recorded.

Each run has three kinds of case. ``victim`` meets the fault on every try; ``recovers`` meets it
once (a retryable fault then passes on the retry, any other fails at once); ``bystander`` never
meets it, sits after the others on the same connection pool, and must pass. A second suite on a
healthy server shows that other suites are unaffected too. Then the JSON report and the
``llmops_max_error_rate`` gate must count the errors, no cassette may hold anything but the one
good exchange of a passing case, and an offline replay must reproduce the outcomes.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt

#: Seconds one call to the faulty provider may take in the runs whose fault is a timeout.
SHORT_TIMEOUT = 0.3
#: Seconds for every other call: the healthy suite never races a short limit.
TIMEOUT = 10.0


@dataclass(frozen=True)
class Fault:
    """One fault: how to script it, whether a retry may help, what the failure says."""

    id: str
    script: Callable[[ScriptedLLMServer, str, int | None], object] | None
    retryable: bool
    message: str
    kind: str = "openai"
    stream: bool = False
    #: The faulty provider's own timeout (default: the ini's TIMEOUT).
    timeout: float | None = None
    #: "server": the scripted server misbehaves; "dead"/"full": nothing usable listens.
    endpoint: str = "server"
    extra_ini: tuple[str, ...] = field(default=())


def _fail(status: int, **kwargs: Any) -> Callable[[ScriptedLLMServer, str, int | None], object]:
    return lambda server, match, times: server.fail(status, match=match, times=times, **kwargs)


def _fault(name: str, **kwargs: Any) -> Callable[[ScriptedLLMServer, str, int | None], object]:
    return lambda server, match, times: server.fault(name, match=match, times=times, **kwargs)  # type: ignore[arg-type]


FAULTS = [
    Fault("429-retry-after", _fail(429, headers={"retry-after": "0.1"}), True, "*answered HTTP 429: *"),
    Fault("429", _fail(429), True, "*answered HTTP 429: *"),
    Fault("500", _fail(500), True, "*answered HTTP 500: *"),
    Fault("502", _fail(502), True, "*answered HTTP 502: *"),
    Fault("503", _fail(503), True, "*answered HTTP 503: *"),
    Fault(
        "529-overloaded",
        _fail(529, message="Overloaded"),
        True,
        "*answered HTTP 529: Overloaded (overloaded_error)*",
        kind="anthropic",
    ),
    Fault(
        "read-timeout",
        _fault("hang"),
        True,
        f"*timed out after {SHORT_TIMEOUT:g} s waiting for the response from*",
        timeout=SHORT_TIMEOUT,
    ),
    Fault(
        "connect-timeout",
        None,
        True,
        f"*timed out after {SHORT_TIMEOUT:g} s connecting to*",
        timeout=SHORT_TIMEOUT,
        endpoint="full",
    ),
    Fault(
        "refused", None, True, "*cannot connect to http://127.0.0.1:*/v1/chat/completions: *", endpoint="dead"
    ),
    Fault(
        "reset", _fault("reset"), True, "*the connection to http://127.0.0.1:*/v1/chat/completions broke: *"
    ),
    Fault(
        "invalid-json", _fault("malformed_json"), False, "*answered HTTP 200 with a body that is not JSON: *"
    ),
    Fault("missing-choices", _fault("missing_choices"), False, "*answered without `choices`: *"),
    Fault(
        "missing-content",
        _fault("missing_choices"),
        False,
        "*answered without `content`: *",
        kind="anthropic",
    ),
    Fault(
        "empty-body",
        _fault("empty_body"),
        False,
        "*answered HTTP 200 with a body that is not JSON: (empty body)*",
    ),
    Fault(
        "truncated-body",
        _fault("truncated_stream"),
        True,
        "*the connection to http://127.0.0.1:*/v1/chat/completions broke: *",
    ),
    Fault(
        "truncated-sse",
        _fault("truncated_stream"),
        True,
        "*the stream from http://127.0.0.1:*/v1/chat/completions ended early*",
        stream=True,
    ),
    Fault(
        "truncated-sse-anthropic",
        _fault("truncated_stream"),
        True,
        "*the stream from http://127.0.0.1:*/v1/messages ended early*",
        kind="anthropic",
        stream=True,
    ),
    Fault(
        "endless-sse",
        _fault("endless_stream", chunk_delay=0.02),
        True,
        f"*timed out after {SHORT_TIMEOUT:g} s waiting for the response from*(the response was still arriving when its time ran out*",
        stream=True,
        timeout=SHORT_TIMEOUT,
    ),
]


@pytest.fixture
def healthy() -> Iterator[ScriptedLLMServer]:
    """A second server that never misbehaves, for the suite that must stay unaffected."""
    with ScriptedLLMServer() as server:
        server.reply(_echo)
        yield server


def _echo(request: Any) -> str:
    # "Say hello to Bystander." -> "Hello, Bystander!" (Anthropic and OpenAI shapes alike)
    last = request["messages"][-1]["content"]
    return f"Hello, {last.split()[-1].rstrip('.')}!"


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accept_queue(listener: socket.socket) -> tuple[int, int]:
    """(connections queued, backlog) of a listening socket: tcpi_unacked and tcpi_sacked on Linux."""
    info = listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    queued, backlog = struct.unpack_from("=II", info, 24)
    return int(queued), int(backlog)


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A port where connecting can only time out: its accept queue is full and nobody accepts.

    Linux neither answers nor refuses a SYN while a listener's queue holds more than its backlog;
    it drops it, and drops every retransmission too, so the outcome does not depend on timing.
    """
    if not sys.platform.startswith("linux"):
        pytest.skip("needs Linux, which drops SYNs at a full accept queue")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = int(listener.getsockname()[1])
        # One connection that nobody accepts fills the queue of a backlog of 0.
        with socket.create_connection(("127.0.0.1", port)):
            # connect() can return before the listener's side has queued the connection.
            for _ in range(10_000):
                queued, backlog = _accept_queue(listener)
                if queued > backlog:
                    break
                time.sleep(0.001)
            else:
                pytest.fail(f"the listener never queued the filler connection ({queued} of {backlog})")
            yield port


def _provider_yaml(fault: Fault, url: str) -> str:
    model = "claude-haiku-4-5" if fault.kind == "anthropic" else "gpt-4o-mini"
    lines = [f"  id: {fault.kind}:{model}", f"  base_url: {url}"]
    if fault.stream:
        lines.append("  stream: true")
    if fault.timeout is not None:
        lines.append(f"  timeout: {fault.timeout:g}")
    return "\n".join(lines)


def _case(name: str) -> str:
    return f"  - name: {name}\n    vars: {{who: {name.capitalize()}}}\n    assert: [{{type: icontains, value: 'hello, {name}'}}]\n"


def _cassettes(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Case name -> the interactions of its cassette, for every cassette on disk."""
    out = {}
    for path in sorted((root / "cassettes").rglob("*.yaml")):
        out[path.name.split("[")[0]] = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)[
            "interactions"
        ]
    return out


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_fails_or_recovers_only_its_own_case(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    healthy: ScriptedLLMServer,
    request: pytest.FixtureRequest,
    fault: Fault,
) -> None:
    server = llmops_server
    cases = ["victim"]
    if fault.endpoint == "server":
        assert fault.script is not None
        fault.script(server, "Victim", None)
        fault.script(server, "Recovers", 1)
        server.reply(_echo)
        url = server.root_url if fault.kind == "anthropic" else server.base_url
        cases += ["recovers", "bystander"]
    else:
        port = _dead_port() if fault.endpoint == "dead" else request.getfixturevalue("full_backlog")
        url = f"http://127.0.0.1:{port}" + ("" if fault.kind == "anthropic" else "/v1")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_faulty.llmops.yaml",
        f"prompt: greeter\nprovider:\n{_provider_yaml(fault, url)}\ntests:\n"
        + "".join(_case(c) for c in cases),
    )
    write(
        pytester.path / "test_healthy.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {healthy.base_url}\ntests:\n"
        + _case("other"),
    )
    add_ini(
        pytester,
        "llmops_max_retries = 1",
        "llmops_retry_backoff = 0.01",
        f"llmops_timeout = {TIMEOUT:g}",
        "llmops_max_error_rate = 0",
    )

    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-report=report.json", "-p", "no:cacheprovider"
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out

    recovers = "recovers" in cases and fault.retryable
    failing = ["victim", *(["recovers"] if "recovers" in cases and not fault.retryable else [])]
    passing = [c for c in [*cases, "other"] if c not in failing]
    result.assert_outcomes(passed=len(passing), failed=len(failing))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # The cause is named, with the number of tries when the fault was retried.
    tries = " (after 2 tries)" if fault.retryable else ""
    result.stdout.fnmatch_lines(
        [
            f"*victim ({'test_faulty.llmops.yaml'}:*",
            "*error: the case could not be scored",
            f"{fault.message}{tries}",
        ]
    )

    # How often each case reached the server: a retry only where a later try may pass.
    if fault.endpoint == "server":
        sent = [r.json["messages"][-1]["content"] for r in server.requests]
        assert sent.count("Say hello to Victim.") == (2 if fault.retryable else 1)
        assert sent.count("Say hello to Recovers.") == (2 if recovers else 1)
        assert sent.count("Say hello to Bystander.") == 1
    assert len(healthy.requests) == 1

    # The report and the error-rate gate count every errored case, and only those.
    report = json.loads((pytester.path / "report.json").read_text())
    summary = report["summary"]
    assert (summary["cases"], summary["errors"], summary["passed"]) == (
        len(cases) + 1,
        len(failing),
        len(passing),
    )
    assert summary["error_rate"] == pytest.approx(len(failing) / (len(cases) + 1))
    errored = {c["case"]: c for c in report["cases"] if c["outcome"] == "error"}
    assert sorted(errored) == sorted(failing)
    assert errored["victim"]["retries"] == (1 if fault.retryable else 0)
    result.stdout.fnmatch_lines(["*error rate *% is above the limit of 0.0% (llmops_max_error_rate)*"])

    # Nothing half-recorded: a passing case holds its one good exchange, a failing one nothing.
    recorded = _cassettes(pytester.path)
    assert sorted(recorded) == sorted(passing)
    for name, interactions in recorded.items():
        assert len(interactions) == 1, name
        response = interactions[0]["response"]
        assert response["status"]["code"] == 200
        assert name.capitalize() in response["body"]["string"]
    assert not list(pytester.path.rglob("*.tmp")), "no temporary file is left behind"

    # Offline, the same outcomes: passing cases replay, the failed ones were never recorded.
    server.close()
    healthy.close()
    replay = pytester.runpytest("-p", "no:cacheprovider")
    replay.assert_outcomes(passed=len(passing), failed=len(failing))
    replay.stdout.fnmatch_lines(["*no recording for this case: *victim*does not exist*"])


def test_a_very_large_reply_is_recorded_and_replayed(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    """5 MB of text: the case passes, and no report or terminal line is flooded with it."""
    from pytest_llmops.testing import HUGE_REPLY_CHARS

    llmops_server.fault("huge", match="Huge")
    llmops_server.reply(_echo)
    write_prompt(pytester.path)
    write(
        pytester.path / "test_huge.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\ntests:\n"
        "  - {name: huge, vars: {who: Huge}, assert: [{type: icontains, value: lorem ipsum}]}\n"
        "  - {name: failing-huge, vars: {who: Huge}, assert: [{type: icontains, value: never there}]}\n"
        + _case("bystander"),
    )
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-report=report.json", "--junitxml=junit.xml"
    )
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in out
    # The failure shows the start of the answer and its size, not 5 MB of it.
    result.stdout.fnmatch_lines([f"*response ({HUGE_REPLY_CHARS} chars*"])
    assert len(out) < 200_000
    assert (pytester.path / "junit.xml").stat().st_size < 200_000
    cassettes = _cassettes(pytester.path)
    assert len(cassettes["huge"]) == 1
    assert len(cassettes["huge"][0]["response"]["body"]["string"]) > HUGE_REPLY_CHARS
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=2, failed=1)


def test_a_cassette_that_cannot_be_written_fails_its_case_cleanly(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    """A full disk or a read-only folder: the case fails naming the cassette; the run goes on."""
    llmops_server.reply(_echo)
    write_prompt(pytester.path)
    write(
        pytester.path / "test_disk.llmops.yaml",
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\ntests:\n"
        + _case("victim"),
    )
    (pytester.path / "not-a-folder").write_text("a file where the cassette folder should be")
    add_ini(pytester, "llmops_cassette_dir = not-a-folder/cassettes")
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*cannot write cassette *not-a-folder/cassettes/test_disk/victim*.yaml: *"])
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
