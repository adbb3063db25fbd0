"""One redaction point: no key, and no piece of 8 characters of one, in anything a run prints.

The triggers are the ones that leaked before: an exception escaping a call (a typo in a base
URL's port, a key with a non-ASCII character), pytest's ``--tb=long --showlocals`` traceback of
a plain test holding the key, the test's captured output, DEBUG logs of any logger, a reason
quoting the first 17 characters of an output, JUnit XML, and every report file.
"""

from __future__ import annotations

import logging

import pytest

from pytest_llmops.recording.redaction import MIN_PIECE, REDACTED, Redactor, redact_logs, redact_text
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_OPENAI_KEY, add_ini, all_text_under, write, write_prompt

KEY = FAKE_OPENAI_KEY
PIECES = {KEY[i : i + MIN_PIECE] for i in range(len(KEY) - MIN_PIECE + 1)}
ARGS = [
    "--tb=long",
    "--showlocals",
    "-rA",
    "--junitxml=junit.xml",
    "--llmops-report=report.json",
    "--llmops-markdown=summary.md",
    "--llmops-html=report.html",
    "--log-level=DEBUG",
    "--log-file=run.log",
    "--log-file-level=DEBUG",
    "-p",
    "no:cacheprovider",
]


def _pieces_in(text: str) -> list[str]:
    return sorted(p for p in PIECES if p in text)


def test_pieces_escaped_forms_and_prefixes_are_redacted() -> None:
    text = f"a={KEY} b={KEY[:17]}… c={KEY[-9:]} d={KEY[3:11]} e={KEY!r}"
    cleaned = redact_text(text, [KEY])
    assert _pieces_in(cleaned) == []
    assert cleaned.count(REDACTED) == 5
    assert redact_text("sk-test-", [KEY]) == REDACTED  # exactly 8 characters
    assert redact_text("a 7-char piece: sk-test stays", [KEY]) == "a 7-char piece: sk-test stays"
    assert redact_text("nothing here", []) == "nothing here"


def test_every_log_record_is_redacted_whatever_logger_made_it(caplog: pytest.LogCaptureFixture) -> None:
    stop = redact_logs(lambda: [KEY])
    try:
        with caplog.at_level(logging.DEBUG):
            for name in ("httpcore.http11", "vcr.request", "vcr.matchers", "the.app"):
                logging.getLogger(name).debug("headers=%r", {"authorization": f"Bearer {KEY}"})
            try:
                raise ValueError(f"bad key {KEY[:12]}")
            except ValueError:
                logging.getLogger("the.app").exception("failed")
    finally:
        stop()
    assert caplog.records and _pieces_in(caplog.text) == []
    assert "bad key REDACTED" in caplog.text


def test_a_plain_test_holding_the_key_prints_none_of_it(
    pytester: pytest.Pytester, fake_keys: tuple[str, ...]
) -> None:
    write(
        pytester.path / "test_plain.py",
        """
        import logging, os

        def test_fails_with_the_key_in_its_locals_output_and_logs():
            headers = {"authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}
            prefix = os.environ["OPENAI_API_KEY"][:17]
            print("sending", headers)
            logging.getLogger("httpcore.connection").debug("send %s", headers)
            assert prefix == "something else", headers
        """,
    )
    result = pytester.runpytest(*ARGS)
    result.assert_outcomes(failed=1)
    out = result.stdout.str() + result.stderr.str()
    assert "REDACTED" in out  # the failure is shown, with the key replaced
    assert _pieces_in(out) == []
    assert _pieces_in(all_text_under(pytester.path)) == []


def test_a_base_url_typo_or_a_non_ascii_key_is_a_case_error_without_the_key(
    pytester: pytest.Pytester, fake_keys: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKEN_KEY", KEY[:-1] + "é")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_typos.llmops.yaml",
        """
        prompt: greeter
        provider:
          - {id: openai:gpt-4o-mini, label: port, base_url: "http://127.0.0.1:80a/v1", api_key_env: OPENAI_API_KEY}
          - {id: openai:gpt-4o-mini, label: bracket, base_url: "http://[::1/v1", api_key_env: OPENAI_API_KEY}
          - {id: openai:gpt-4o-mini, label: accent, base_url: "http://127.0.0.1:9/v1", api_key_env: BROKEN_KEY}
        tests:
          - {name: hi, vars: {who: Ada}, assert: [{type: icontains, value: hello}]}
        """,
    )
    add_ini(pytester, "llmops_max_retries = 0")
    result = pytester.runpytest("--llmops-record-mode=all", *ARGS)
    out = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    result.assert_outcomes(failed=3)
    assert "is not a URL that can be called" in out
    assert "non-ASCII character at position" in out and "BROKEN_KEY" in out
    assert _pieces_in(out) == [] and _pieces_in(all_text_under(pytester.path)) == []


def test_a_reason_quoting_a_prefix_of_an_echoed_key_reaches_no_report(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: tuple[str, ...]
) -> None:
    # The model answers with 17 characters of the key; a failing assertion quotes the output.
    llmops_server.reply(f"Hello {KEY[:17]}")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_echo.llmops.yaml",
        f"""
        prompt: greeter
        provider: {{id: openai:gpt-4o-mini, base_url: "{llmops_server.base_url}", api_key_env: OPENAI_API_KEY}}
        tests:
          - {{name: echo, vars: {{who: Ada}}, assert: [{{type: equals, value: Goodbye}}]}}
        """,
    )
    result = pytester.runpytest("--llmops-record-mode=all", *ARGS)
    result.assert_outcomes(failed=1)
    out = result.stdout.str() + result.stderr.str()
    assert _pieces_in(out) == [] and _pieces_in(all_text_under(pytester.path)) == []
    assert "Hello REDACTED" in (pytester.path / "report.json").read_text(encoding="utf-8")


def test_a_variable_named_later_counts_from_then_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_llmops.recording.redaction import SecretEnvs

    monkeypatch.setenv("LATE_KEY", "late-secret-value-123")
    names = SecretEnvs(())
    redactor = Redactor(names.values)
    assert redactor.text("x late-secret-value-123") == "x late-secret-value-123"
    names.add("LATE_KEY")
    assert redactor.text("x late-secret-value-123") == f"x {REDACTED}"


def test_the_secrets_are_the_environment_as_it_is_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """values() reads os.environ's backing dict: every way of changing the environment shows."""
    import os

    from pytest_llmops.recording.redaction import SecretEnvs

    names = SecretEnvs(("B_KEY", "A_KEY", "C_KEY"))
    monkeypatch.delenv("A_KEY", raising=False)
    monkeypatch.setenv("B_KEY", "  b-secret-value  ")
    monkeypatch.setenv("C_KEY", "   ")  # blank: no secret
    assert names.values() == ["b-secret-value"]
    os.environ["A_KEY"] = "a-secret-\udcff-value"  # undecodable byte, as os.environ keeps it
    try:
        assert names.values() == ["a-secret-\udcff-value", "b-secret-value"]
        os.environ.update(C_KEY="c-secret-value")
        del os.environ["B_KEY"]
        assert names.values() == ["a-secret-\udcff-value", "c-secret-value"]
        assert names.values() == [
            v for n in ("A_KEY", "B_KEY", "C_KEY") if (v := os.environ.get(n, "").strip())
        ]
    finally:
        os.environ.pop("A_KEY", None)
    monkeypatch.setenv("D_KEY", "d-secret-value")
    names.add("D_KEY", None, "")
    assert names.values() == ["c-secret-value", "d-secret-value"]


def test_the_fixture_s_failures_and_reports_hold_no_piece_of_the_key(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: tuple[str, ...]
) -> None:
    # An API error that quotes the key, and a model that echoes a prefix of it.
    llmops_server.fail(401, message=f"Incorrect API key provided: {KEY[:20]}...", match="Mallory")
    llmops_server.reply(f"Hello {KEY[:17]}")
    write(
        pytester.path / "test_fx.py",
        f"""
        import pytest
        from pytest_llmops.spec.schema import ProviderSpec

        PROVIDER = ProviderSpec(id="openai:gpt-4o-mini", base_url="{llmops_server.base_url}", api_key_env="OPENAI_API_KEY")

        @pytest.mark.llmops(provider=PROVIDER)
        def test_rejected(llmops):
            llmops.complete("Hello Mallory")

        @pytest.mark.llmops(provider=PROVIDER)
        def test_echo(llmops):
            llmops.check(llmops.complete("Hello Ada"), equals="Goodbye")
        """,
    )
    add_ini(pytester, "llmops_max_retries = 0")
    result = pytester.runpytest("--llmops-record-mode=all", *ARGS)
    result.assert_outcomes(failed=2)
    out = result.stdout.str() + result.stderr.str()
    assert "Incorrect API key provided: REDACTED" in out
    assert _pieces_in(out) == [] and _pieces_in(all_text_under(pytester.path)) == []
