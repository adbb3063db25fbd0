"""Secrets and trust: keys reach no file or terminal line, templates stay sandboxed, replays stay offline.

The fake keys of ``conftest.py`` are sentinels: they are really sent to the scripted server, and
must then appear nowhere the run wrote or printed -- cassettes, the JSON and Markdown reports,
JUnit XML, the log file, pytest's cache, the terminal -- even when a model echoes a key in its
answer, an API quotes it in an error, or an application puts it in a query string.
"""

from __future__ import annotations

import json
import re
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.assertions.judges import JUDGE_MARKER
from pytest_llmops.errors import NetworkRefusedError
from pytest_llmops.recording.modes import RecordMode
from pytest_llmops.recording.network import guard, is_loopback_host
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_CUSTOM_KEY, SENTINELS, add_ini, all_text_under, write, write_prompt

KEY_APP = '''
import os
import httpx

def answer(prompt, vars):
    """An application that sends its key in a header and, like some gateways, in the query string."""
    key = os.environ["CUSTOM_LLM_KEY"]
    response = httpx.post(
        os.environ["APP_LLM_URL"] + "/chat/completions",
        params={"key": key, "api-version": "2024-06-01"},
        json={"model": "gpt-4o-mini", "messages": prompt.to_messages()},
        headers={"authorization": "Bearer " + key},
    )
    response.raise_for_status()
    return response.json()["choices"][0]["message"]["content"]
'''


def _judge_or_answer(body: Any) -> str:
    system = next((m["content"] for m in body.get("messages", []) if m["role"] == "system"), "")
    if JUDGE_MARKER in str(system) or JUDGE_MARKER in str(body.get("system", "")):
        return 'Fine.\n{"reason": "polite", "score": 0.9, "verdict": "pass"}'
    who = body["messages"][-1]["content"].split()[-1].rstrip(".")
    return f"Hello, {who}!"


def test_no_key_reaches_any_file_or_the_terminal(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = llmops_server
    echoed = " ".join(SENTINELS)
    # A model that repeats the keys back, and an API that quotes them in its error message.
    server.reply(f"Hello, Echo! Your keys: {echoed}", match="Echo")
    server.fail(401, message=f"Incorrect API key provided: {echoed}", match="Mallory")
    server.reply(_judge_or_answer)
    monkeypatch.setenv("APP_LLM_URL", server.base_url)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step-summary.md"))
    # The annotations (::error with each failing case's reason) reach the terminal too.
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "keyapp.py", KEY_APP)
    write_prompt(pytester.path)
    write(
        pytester.path / "test_keys.llmops.yaml",
        f"""
        prompt: greeter
        provider:
          - id: openai:gpt-4o-mini
            base_url: {server.base_url}
            api_key_env: OPENAI_API_KEY  # a local server gets the key only when named
          - id: anthropic:claude-haiku-4-5
            base_url: {server.root_url}
          - id: openai:gpt-4o
            label: gateway
            base_url: {server.base_url}
            api_key_env: CUSTOM_LLM_KEY
          - id: python:keyapp:answer
            api_key_env: CUSTOM_LLM_KEY
        judge:
          id: openai:gpt-4o-mini
          base_url: {server.base_url}
          api_key_env: OPENAI_API_KEY
        tests:
          - name: polite
            vars: {{who: Ada}}
            assert: [{{type: icontains, value: hello}}, {{type: llm-rubric, value: Greets by name}}]
          - name: echo
            vars: {{who: Echo}}
            assert: [{{type: icontains, value: your keys}}]
          - name: rejected
            vars: {{who: Mallory}}
            assert: [{{type: icontains, value: hello}}]
        """,
    )
    add_ini(pytester, "llmops_max_retries = 0", "log_level = DEBUG")
    args = [
        "--junitxml=junit.xml",
        "--llmops-report=report.json",
        "--llmops-markdown=summary.md",
        "--llmops-html=report.html",
        "--log-file=run.log",
        "--log-file-level=DEBUG",
        "-rA",
        "-v",
    ]
    result = pytester.runpytest("--llmops-record-mode=once", *args)
    result.assert_outcomes(passed=8, failed=4)

    # The keys really went out: the header of each provider, and the app's query string.
    sent = server.requests
    assert {r.headers.get("authorization") for r in sent} >= {
        f"Bearer {fake_keys[0]}",
        f"Bearer {FAKE_CUSTOM_KEY}",
    }
    assert {r.headers.get("x-api-key") for r in sent} >= {fake_keys[1]}
    assert any(FAKE_CUSTOM_KEY in r.path for r in sent)

    written = {
        "cassettes",
        "report.json",
        "summary.md",
        "report.html",
        "junit.xml",
        "run.log",
        ".pytest_cache",
        "step-summary.md",
    }
    assert written <= {p.name for p in pytester.path.iterdir()}
    report = json.loads((pytester.path / "report.json").read_text())
    # The echoed keys and the quoted ones were replaced, not dropped with what surrounds them.
    cases = {c["id"].split("::")[1]: c for c in report["cases"]}
    assert (
        "Your keys: REDACTED REDACTED REDACTED" in cases["echo[greeter@1.0.0-openai:gpt-4o-mini]"]["output"]
    )
    assert (
        "Incorrect API key provided: REDACTED" in cases["rejected[greeter@1.0.0-openai:gpt-4o-mini]"]["error"]
    )
    cassette_text = all_text_under(pytester.path / "cassettes")
    assert "key=REDACTED" in cassette_text and "Your keys: REDACTED" in cassette_text

    def leaks(text: str) -> list[str]:
        return [s for s in SENTINELS if s in text]

    assert leaks(all_text_under(pytester.path)) == []
    assert leaks(result.stdout.str()) == [] and leaks(result.stderr.str()) == []
    assert "::error file=test_keys.llmops.yaml,line=" in result.stdout.str(), "the annotations were checked"

    # Replaying offline writes and prints the same things again: still no key.
    server.close()
    replay = pytester.runpytest(*args)
    replay.assert_outcomes(passed=8, failed=4)
    assert leaks(all_text_under(pytester.path)) == []
    assert leaks(replay.stdout.str()) == [] and leaks(replay.stderr.str()) == []


# --- templates: a sandbox, and variable values that are data ---------------------------------

ECHO_CONFTEST = """
from pytest_llmops.results import LLMResponse

class Echo:
    '''Answers with the messages it was sent, so a test sees exactly what went out.'''
    def __init__(self, spec):
        self.spec = spec
    @property
    def id(self):
        return self.spec.display
    def complete(self, prompt, client):
        return LLMResponse(text=" | ".join(m.content for m in prompt.messages), provider=self.id, model="echo")

def pytest_llmops_register_providers(registry):
    registry.register("echo", Echo)
"""

ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ who.__class__.__base__ }}",
]


@pytest.mark.parametrize("template", ESCAPES)
def test_a_prompt_template_reaching_python_internals_fails_the_case_cleanly(
    pytester: pytest.Pytester, template: str
) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    write_prompt(pytester.path, user=f"Hi {{{{ who }}}}. {template}")
    write(
        pytester.path / "test_t.llmops.yaml",
        """
        prompt: greeter
        provider: echo:any
        tests:
          - {name: escape, vars: {who: Ada}, assert: [{type: contains, value: Ada}]}
        """,
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*error: the case could not be scored",
            "*prompt greeter@1.0.0 (*greeter-1.0.0.yaml): the user template tried something the sandbox "
            "forbids: *unsafe*. Templates may read variables, not Python internals.",
        ]
    )
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out and "uid=" not in out


def test_the_suite_system_template_and_assertion_values_are_sandboxed_too(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    write(
        pytester.path / "test_system.llmops.yaml",
        """
        provider: echo:any
        system: "{{ ''.__class__.__mro__ }}"
        tests:
          - {name: s, prompt: hi, assert: [{type: contains, value: hi}]}
        """,
    )
    write(
        pytester.path / "test_value.llmops.yaml",
        """
        provider: echo:any
        tests:
          - {name: v, prompt: hi, assert: [{type: contains, value: "{{ input.__class__.__mro__ }}"}]}
        """,
    )
    result = pytester.runpytest("--continue-on-collection-errors")
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_system.llmops.yaml:*",
            "*suite `system:` of case s: access to attribute '__class__' of 'str' object is unsafe.*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*test_value.llmops.yaml:3: case 'v': assertion 'contains': bad template in `value`: access to attribute '__class__' of 'str' object is unsafe*"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_variable_values_are_sent_as_text_never_rendered(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    write_prompt(pytester.path, system="Be brief, {{ who }}.")
    write(
        pytester.path / "test_vars.llmops.yaml",
        """
        prompt: greeter
        provider: echo:any
        tests:
          - name: arithmetic
            vars: {who: "{{ 7 * 7 }}"}
            assert: [{type: equals, value: "Be brief, {{ who }}. | Say hello to {{ who }}."}]
          - name: escape-attempt
            vars: {who: "{{ ''.__class__.__mro__ }}"}
            assert: [{type: contains, value: "Say hello to {{ who }}."}]
          - name: literal
            vars: {who: "{% raw %}x"}
            assert: [{type: equals, value: "Be brief, {{ who }}. | Say hello to {{ who }}."}]
        """,
    )
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    # The equals checks above compare with the literal braces: "{{ 7 * 7 }}" was never 49.


def test_dataset_inputs_are_never_rendered(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(ECHO_CONFTEST)
    write(
        pytester.path / "test_data.llmops.yaml",
        """
        provider: echo:any
        system: "Answer {{ tone }}."
        vars: {tone: politely}
        test_cases:
          - {name: d, prompt: "{{ tone.__class__ }} and {{ 6 * 7 }}", assert: [{type: equals, value: "Answer politely. | {{ input }}"}, {type: not-contains, value: "{{ 6 * 7 }}"}]}
        """,
    )
    pytester.runpytest().assert_outcomes(passed=1)


# --- record mode `none`: no socket leaves the machine -----------------------------------------

#: TEST-NET-3 (RFC 5737): reserved for documentation, routed nowhere. The guard refuses before
#: any connect, and the safety net below would refuse too: even a bug cannot reach anyone.
TEST_NET = "203.0.113.7"

NETWORK_APP = f'''
import os
import socket
import threading
import urllib.request

def with_urllib(prompt, vars):
    return urllib.request.urlopen("http://{TEST_NET}/v1/answer", timeout=5).read().decode()

def with_socket(prompt, vars):
    with socket.create_connection(("{TEST_NET}", 443), timeout=5) as sock:
        return "connected"

def with_dns(prompt, vars):
    return urllib.request.urlopen("http://api.example.com/v1/answer", timeout=5).read().decode()

def swallowing(prompt, vars):
    try:
        socket.create_connection(("{TEST_NET}", 80), timeout=5)
    except Exception:
        return "hello from the offline fallback"
    return "hello, connected"

def from_a_thread(prompt, vars):
    errors = []
    def work():
        try:
            socket.create_connection(("{TEST_NET}", 80), timeout=5)
        except Exception as exc:
            errors.append(exc)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return "hello, " + type(errors[0]).__name__

def udp(prompt, vars):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"metrics", ("{TEST_NET}", 8125))
    return "hello"

def loopback(prompt, vars):
    return urllib.request.urlopen(os.environ["LOCAL_URL"] + "/models", timeout=5).read().decode()
'''


@pytest.fixture
def safety_net(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address that reached the real ``connect``; anything outside loopback is stopped there."""
    from pytest_llmops.recording import network

    reached: list[Any] = []
    real = network._ORIGINAL_CONNECT

    def recording_connect(sock: socket.socket, address: Any) -> None:
        reached.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback_host(address[0]):
            raise OSError("test safety net: a non-loopback connect reached the socket layer")
        real(sock, address)

    monkeypatch.setattr(network, "_ORIGINAL_CONNECT", recording_connect)
    return reached


def test_none_mode_refuses_every_connection_even_from_the_apps_own_code(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    monkeypatch: pytest.MonkeyPatch,
    safety_net: list[Any],
) -> None:
    monkeypatch.setenv("LOCAL_URL", llmops_server.base_url)
    monkeypatch.syspath_prepend(str(pytester.path))
    write(pytester.path / "netapp.py", NETWORK_APP)
    functions = ["with_urllib", "with_socket", "with_dns", "swallowing", "from_a_thread", "udp", "loopback"]
    write(
        pytester.path / "test_net.llmops.yaml",
        "provider:\n"
        + "".join(f"  - python:netapp:{f}\n" for f in functions)
        + "tests:\n  - {name: n, prompt: hi, assert: [{type: icontains, value: o}]}\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    # Every one fails. urllib is recorded (vcrpy's http.client stub), so without a recording it
    # is a replay miss before any look-up or connect, loopback included; raw sockets are
    # refused, from the app's own threads too (the case's context reaches them), and a refusal
    # the app swallowed still fails its case.
    result.assert_outcomes(failed=7)
    for function in ("with_urllib", "with_dns", "loopback"):
        result.stdout.fnmatch_lines(
            [
                f"*python:netapp:{function}*",
                "*no recording for this case*does not exist, and record mode 'none'*",
            ]
        )
    for function, target in [
        ("with_socket", f"{TEST_NET}:443"),
        ("swallowing", f"{TEST_NET}:80"),
        ("from_a_thread", f"{TEST_NET}:80"),
        ("udp", f"{TEST_NET}:8125"),
    ]:
        result.stdout.fnmatch_lines(
            [
                f"*python:netapp:{function}*",
                f"*record mode 'none' refused a connection to {target}: a replay-only run reaches nothing outside this machine*",
            ]
        )
    assert "Traceback" not in result.stdout.str()
    # Nothing got past the guard: not even the loopback server was reached.
    assert safety_net == []
    assert llmops_server.requests == []


def test_the_guard_refuses_before_the_socket_layer(
    safety_net: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmops.recording import network

    looked_up: list[Any] = []
    real_getaddrinfo = network._ORIGINAL_GETADDRINFO

    def recording_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(host)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(network, "_ORIGINAL_GETADDRINFO", recording_getaddrinfo)
    refused = rf"record mode 'none' refused a connection to {re.escape(TEST_NET)}:80"
    with pytest.raises(NetworkRefusedError, match=refused), guard(RecordMode.NONE):
        socket.create_connection((TEST_NET, 80), timeout=1)
    with (
        pytest.raises(NetworkRefusedError, match=r"refused a connection to \[2001:db8::1\]:443"),
        guard(RecordMode.NONE),
        socket.socket(socket.AF_INET6) as sock,
    ):
        sock.connect_ex(("2001:db8::1", 443))
    with pytest.raises(NetworkRefusedError, match=r"api\.example\.com:443"), guard("none"):
        socket.getaddrinfo("api.example.com", 443)
    # No connect and no look-up of a name reached the socket layer (an IP literal needs no DNS).
    assert safety_net == [] and looked_up == [TEST_NET]
    # Outside a guarded call, and in the recording modes, the guard stays out of the way.
    # (Here the connects reach the safety net, which stops them before the socket layer.)
    with pytest.raises(OSError, match="test safety net"):
        socket.create_connection((TEST_NET, 80), timeout=1)
    for mode in (RecordMode.ONCE, RecordMode.NEW_EPISODES, RecordMode.ALL):
        with pytest.raises(OSError, match="test safety net"), guard(mode):
            socket.create_connection((TEST_NET, 80), timeout=1)
    assert len(safety_net) == 4


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        ("0.0.0.0", True),
        (TEST_NET, False),
        ("10.0.0.1", False),
        ("::ffff:203.0.113.7", False),
        ("2001:db8::1", False),
        ("localhost.example.com", False),
        ("api.openai.com", False),
    ],
)
def test_what_counts_as_this_machine(host: str, local: bool) -> None:
    assert is_loopback_host(host) is local


def test_unix_sockets_stay_allowed(tmp_path: Path) -> None:
    if not hasattr(socket, "AF_UNIX"):
        pytest.skip("no unix sockets here")
    path = str(tmp_path / "s")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(path)
        server.listen(1)
        with guard(RecordMode.NONE), socket.socket(socket.AF_UNIX) as client:
            client.connect(path)


# --- python: references import what they name, and nothing else --------------------------------


def test_python_references_import_only_the_named_module(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(pytester.path))
    marker = "import pathlib; pathlib.Path(__file__).with_suffix('.imported').touch()\n"
    write(pytester.path / "shop" / "__init__.py", marker)
    write(
        pytester.path / "shop" / "bot.py", marker + "def answer(prompt, vars):\n    return 'hi'\nLIMIT = 3\n"
    )
    write(pytester.path / "shop" / "admin.py", marker + "raise SystemExit('never import me')\n")
    write(
        pytester.path / "shop" / "broken.py",
        marker + "raise RuntimeError('the database is not configured')\n",
    )
    write(
        pytester.path / "test_py.llmops.yaml",
        "provider: {id: python:shop.bot:answer, allow_no_call: true}\n"
        "tests:\n  - {name: a, prompt: x, assert: [{type: equals, value: hi}]}\n",
    )
    pytester.runpytest().assert_outcomes(passed=1)
    assert sorted(p.stem for p in (pytester.path / "shop").glob("*.imported")) == ["__init__", "bot"]
    assert "shop.admin" not in sys.modules

    for target, message in [
        (
            "python:shop.bot:LIMIT",
            "*provider 'python:shop.bot:LIMIT': module 'shop.bot' has no function 'LIMIT'.*",
        ),
        (
            "python:shop.broken:answer",
            "*provider 'python:shop.broken:answer': importing module 'shop.broken' raised RuntimeError: the database is not configured*",
        ),
        (
            "python:shop.nothere:answer",
            "*provider 'python:shop.nothere:answer': cannot import module 'shop.nothere'*",
        ),
    ]:
        write(
            pytester.path / "test_py.llmops.yaml",
            f"provider: {target}\ntests:\n  - {{name: a, prompt: x, assert: [{{type: equals, value: hi}}]}}\n",
        )
        result = pytester.runpytest("--collect-only")
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([message])
        assert "Traceback" not in result.stdout.str()
    assert not (pytester.path / "shop" / "admin.imported").exists()
