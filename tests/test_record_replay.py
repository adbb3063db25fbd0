"""Record modes, replay, stale recordings and secrets, end to end through the scripted server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_OPENAI_KEY, all_text_under, write, write_prompt


def make_suite(pytester: pytest.Pytester, server: ScriptedLLMServer, extra_case: bool = False) -> Path:
    write_prompt(pytester.path)
    cases = """
        tests:
          - name: alice
            vars: {who: Alice}
            assert:
              - {type: icontains, value: alice}
          - name: bob
            vars: {who: Bob}
            assert:
              - {type: icontains, value: bob}
        """
    if extra_case:
        cases += """
          - name: carol
            vars: {who: Carol}
            assert:
              - {type: icontains, value: carol}
        """
    return write(
        pytester.path / "test_greet.llmops.yaml",
        f"""
        prompt: greeter@1.0.0
        provider:
          id: openai:gpt-4o-mini
          base_url: {server.base_url}
          # A local server gets the OpenAI key only when asked for it by name.
          api_key_env: OPENAI_API_KEY
        """
        + cases,
    )


@pytest.fixture
def server(llmops_server: ScriptedLLMServer) -> ScriptedLLMServer:
    llmops_server.reply(lambda req: f"Hello, {req['messages'][-1]['content'].split()[-1].rstrip('.')}!")
    return llmops_server


def cassette_files(root: Path) -> list[Path]:
    return sorted((root / "cassettes").rglob("*.yaml"))


def test_none_mode_without_cassette_fails_without_any_connection(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester, server)
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*no recording for this case: *cassettes/test_greet/alice*greeter@1.0.0-openai_gpt-4o-mini*.yaml "
            "does not exist, and record mode 'none' makes no live calls*",
            "*pytest 'test_greet.llmops.yaml::alice*' --llmops-record-mode=once",
        ]
    )
    assert server.requests == []


def test_once_records_then_replays_offline(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester, server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    assert len(server.requests) == 2
    files = cassette_files(pytester.path)
    assert [f.name for f in files] == [
        "alice[greeter@1.0.0-openai_gpt-4o-mini].yaml",
        "bob[greeter@1.0.0-openai_gpt-4o-mini].yaml",
    ]
    # The files are ordinary vcrpy cassettes.
    data = yaml.safe_load(files[0].read_text())
    assert data["version"] == 1
    assert len(data["interactions"]) == 1
    assert "Hello, Alice!" in data["interactions"][0]["response"]["body"]["string"]

    server.close()  # replay must not need the server at all
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    # `once` with an existing cassette replays instead of calling.
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)


def test_new_episodes_records_only_what_is_missing(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester, server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    make_suite(pytester, server, extra_case=True)
    before = len(server.requests)
    pytester.runpytest("--llmops-record-mode=new_episodes").assert_outcomes(passed=3)
    assert len(server.requests) - before == 1
    assert len(cassette_files(pytester.path)) == 3


def test_all_rerecords_and_replaces(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply("Hello, Alice and Bob! (take 1)", times=2)
    llmops_server.reply("Hello, Alice and Bob! (take 2)")
    make_suite(pytester, llmops_server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    pytester.runpytest("--llmops-record-mode=all").assert_outcomes(passed=2)
    assert len(llmops_server.requests) == 4
    for path in cassette_files(pytester.path):
        data = yaml.safe_load(path.read_text())
        assert len(data["interactions"]) == 1, "all mode replaces, never appends"
        assert "take 2" in data["interactions"][0]["response"]["body"]["string"]


def test_edited_prompt_shows_a_readable_diff(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester, server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    write_prompt(pytester.path, user="Please greet {{ who }} warmly.")
    result = pytester.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*the request no longer matches its recording in *alice*.yaml*",
            "*--- recorded request",
            "*+++ current request",
            '*-*"content": "Say hello to Alice."*',
            '*+*"content": "Please greet Alice warmly."*',
            "*re-record this case with:*",
            "*--llmops-record-mode=all*",
        ]
    )


def test_secrets_never_reach_disk(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    server.reply("Hi", headers={"set-cookie": "session=abc123", "openai-organization": "org-secret-42"})
    make_suite(pytester, server)
    result = pytester.runpytest("--llmops-record-mode=all", "--junitxml=junit.xml")
    # The key was really sent to the server ...
    assert server.requests[0].headers.get("authorization") == f"Bearer {FAKE_OPENAI_KEY}"
    # ... and is nowhere in what the run wrote or printed.
    written = all_text_under(pytester.path)
    for secret in (FAKE_OPENAI_KEY, "session=abc123", "org-secret-42"):
        assert secret not in written
        assert secret not in result.stdout.str()
    assert "authorization" not in written.lower()


def test_replay_reports_recorded_latency(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply("Hello, Alice! Hello, Bob!", delay=0.3)
    make_suite(pytester, llmops_server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    data = yaml.safe_load(cassette_files(pytester.path)[0].read_text())
    recorded = data["interactions"][0]["response"]["llmops"]["latency_ms"]
    assert recorded >= 300
    # A latency limit below the recorded latency fails offline, with the recorded figure.
    suite = pytester.path / "test_greet.llmops.yaml"
    suite.write_text(
        suite.read_text().replace("value: alice}", "value: alice}\n      - {type: latency, threshold: 100}")
    )
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    match = re.search(r"latency (\d+) ms", result.stdout.str())
    assert match and int(match.group(1)) >= 300


def test_failed_calls_are_never_recorded(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.fail(500, match="Alice")
    llmops_server.reply("Hello, Bob!")
    make_suite(pytester, llmops_server)
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*openai:gpt-4o-mini: http://127.0.0.1:*/v1/chat/completions answered HTTP 500*"]
    )
    assert [f.name.split("[")[0] for f in cassette_files(pytester.path)] == ["bob"]


def test_corrupt_cassette_is_a_clear_error(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    make_suite(pytester, server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    cassette_files(pytester.path)[0].write_text("interactions: [this is: not: valid")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*cassette *alice*.yaml cannot be read (ParserError*", "*Delete it and record again:"]
    )


def test_cassettes_are_ordinary_files(
    pytester: pytest.Pytester, server: ScriptedLLMServer, fake_keys: object
) -> None:
    import os

    make_suite(pytester, server)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    mask = os.umask(0o022)
    os.umask(mask)
    for path in cassette_files(pytester.path):
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's owner-only 0600
    assert not list((pytester.path / "cassettes").rglob("*.tmp")), "no temporary file is left"
