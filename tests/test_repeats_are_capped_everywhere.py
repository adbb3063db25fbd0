"""Repeat counts are capped wherever they can be set: ``repeat: 10**9`` is refused, never run.

``--llmops-repeat=1000000000`` and ``llmops_repeat = 1e9`` once ran unbounded (5 GB after 34
minutes). The cap (``settings.MAX_RUNS``) holds on the command line, in the ini file, in a suite
(case and defaults) and in the ``llmops`` marker, each with a message naming the place.
"""

from __future__ import annotations

import pytest

from pytest_llmops.settings import MAX_RUNS

from .helpers import add_ini, write, write_prompt

SUITE = """
prompt: greeter
provider: openai:gpt-4o-mini
{defaults}tests:
  - name: many
    vars: {{who: Ada}}
{repeat}    assert: [{{type: icontains, value: hello}}]
"""


@pytest.mark.parametrize("value", ["1000000000", "1e9", str(MAX_RUNS + 1)])
def test_a_huge_repeat_option_or_ini_value_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    write_prompt(pytester.path)
    write(pytester.path / "test_r.llmops.yaml", SUITE.format(defaults="", repeat=""))
    for args, ini in (([f"--llmops-repeat={value}"], None), ([], f"llmops_repeat = {value}")):
        if ini:
            add_ini(pytester, ini)
        result = pytester.runpytest("--collect-only", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        assert f"at most {MAX_RUNS:,}" in result.stderr.str() and "llmops" in result.stderr.str()


@pytest.mark.parametrize("where", ["case", "defaults"])
def test_a_huge_repeat_in_a_suite_is_a_collection_error(pytester: pytest.Pytester, where: str) -> None:
    write_prompt(pytester.path)
    text = SUITE.format(
        defaults="defaults: {repeat: 1000000000}\n" if where == "defaults" else "",
        repeat="    repeat: 1000000000\n" if where == "case" else "",
    )
    write(pytester.path / "test_r.llmops.yaml", text)
    result = pytester.runpytest("--collect-only")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([f"*test_r.llmops.yaml:*repeat*less than or equal to {MAX_RUNS}*"])


def test_a_huge_repeat_in_the_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    write(
        pytester.path / "test_m.py",
        """
        import pytest

        @pytest.mark.llmops(repeat=10**9)
        def test_it(llmops):
            pass
        """,
    )
    result = pytester.runpytest()
    assert f"repeat=1000000000: expected a whole number from 1 to {MAX_RUNS:,}" in result.stdout.str() + (
        result.stderr.str()
    )
    result.assert_outcomes(errors=1)
