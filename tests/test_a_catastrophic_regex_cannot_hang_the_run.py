"""A user's regex on model output runs with a time limit: a catastrophic pattern cannot hang CI.

With the ``regex`` extra, each search is stopped after ``REGEX_TIMEOUT`` and fails its assertion
(``not-regex`` too). Without it, a pattern that nests a repeat inside a repeat is refused at
collection with the install hint. Either way a pattern is checked by ``re``, so a suite is valid
or invalid on every machine alike.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmops.assertions import patterns
from pytest_llmops.assertions.patterns import UserPattern, exponential_shape
from pytest_llmops.errors import CannotGrade
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import make_suite

OUTPUT = "a" * 40 + "!"  # 2**40 ways for ``(a|aa)+$`` to fail


def test_a_runaway_search_is_stopped_and_cannot_grade() -> None:
    with pytest.raises(CannotGrade, match=r"regex '\(a\|aa\)\+\$' took more than 1 s on an output of 41"):
        UserPattern(r"(a|aa)+$").search(OUTPUT)
    assert UserPattern(r"(?i)order (number|id)").search("Your Order ID is 7") is not None


def test_patterns_are_read_by_re_whichever_engine_runs_them() -> None:
    with pytest.raises(Exception, match="bad escape"):
        UserPattern(r"\p{L}+")  # valid for the regex package, not for re: invalid everywhere


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [
        (r"^(a+)+$", True),
        (r"^(\w+\s?)*$", True),
        (r"(x+x+)+y", True),
        (r"(cat|dog)+", False),
        (r"((ab)?c)+", False),
        (r"\d{3}-\d{4}", False),
        (r"(?i)order (number|id)", False),
    ],
)
def test_nested_repeats_are_the_shape_refused_without_the_extra(pattern: str, risky: bool) -> None:
    assert (exponential_shape(pattern) is not None) is risky


def test_without_the_extra_a_nested_repeat_is_refused_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(patterns, "engine", lambda: None)
    with pytest.raises(patterns.RegexTooSlow, match=r"pytest-llmops\[regex\]"):
        UserPattern(r"^(a+)+$")
    assert UserPattern(r"order (number|id)").search("order id") is not None


def test_a_catastrophic_regex_fails_its_case_and_the_run_ends(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(OUTPUT)
    cases = "".join(
        f"  - name: {name}\n    vars: {{who: Ada}}\n    assert: [{{type: {kind}, value: '(a|aa)+$'}}]\n"
        for name, kind in [("plain", "regex"), ("negated", "not-regex")]
    )
    make_suite(pytester.path, llmops_server, cases)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-record-mode=all", "--llmops-report=r.json"
    )
    result.assert_outcomes(failed=2)
    assert "catastrophic backtracking" in result.stdout.str()
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    assert sorted(c["outcome"] for c in report["cases"]) == ["failed", "failed"]


def test_without_the_extra_the_suite_is_a_collection_error(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patterns, "engine", lambda: None)
    make_suite(
        pytester.path,
        llmops_server,
        "  - name: c\n    vars: {who: A}\n    assert: [{type: regex, value: '^(a+)+$'}]\n",
    )
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*test_greet.llmops.yaml:*nests a repeat inside a repeat*pytest-llmops[[]regex[]]*"]
    )
