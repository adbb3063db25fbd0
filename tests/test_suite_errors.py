"""Every user mistake is a clean collection error: file, line, field, what is wrong, the fix."""

from __future__ import annotations

import pytest

from .helpers import write, write_prompt

OK_CASE = "tests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: contains, value: A}]\n"


def collect_error(pytester: pytest.Pytester, suite: str, *lines: str) -> pytest.RunResult:
    write(pytester.path / "test_bad.llmops.yaml", suite)
    result = pytester.runpytest("--collect-only")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting test_bad.llmops.yaml*", *lines])
    out = result.stdout.str()
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert "pydantic" not in out, "errors speak of the suite, not of the validator"
    return result


def test_misspelt_key_names_line_and_suggests(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n    asert: [{type: contains, value: A}]\n",
        "*test_bad.llmops.yaml:6: unknown key 'asert' in tests[[]0[]]. Did you mean 'assert'? Allowed keys: name, *",
    )


def test_misspelt_assertion_type_suggests(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n    assert:\n      - {type: not-contans, value: A}\n",
        "*test_bad.llmops.yaml:7: case 'a': unknown assertion type 'not-contans'. Did you mean 'contains'?*",
    )


def test_bad_regex_points_at_the_assertion(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n    assert:\n      - {type: contains, value: A}\n      - {type: regex, value: '('}\n",
        "*test_bad.llmops.yaml:8: case 'a': *invalid regular expression*",
    )


def test_unknown_prompt_version_lists_existing(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path, version="2.0.0")
    write_prompt(pytester.path, version="2.1.0")
    collect_error(
        pytester,
        "prompt: greeter@^3\nprovider: openai:gpt-4o-mini\n" + OK_CASE,
        "*test_bad.llmops.yaml:1: prompt 'greeter@^3': no version of 'greeter' matches '^3'; versions that exist: 2.0.0, 2.1.0.",
    )


def test_unknown_prompt_name_suggests(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeterr\nprovider: openai:gpt-4o-mini\n" + OK_CASE,
        "*prompt 'greeterr': no prompt named 'greeterr'. Did you mean 'greeter'?*",
    )


def test_conflicting_prompt_files(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    write_prompt(pytester.path, user="Different text for {{ who }}.", folder="prompts/copy")
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n" + OK_CASE,
        "*prompt greeter@1.0.0 is defined twice with different content: prompts/copy/greeter-1.0.0.yaml and prompts/greeter-1.0.0.yaml*",
    )


def test_invalid_prompt_file_names_its_own_line(pytester: pytest.Pytester) -> None:
    write(pytester.path / "prompts" / "p.yaml", "name: greeter\nversion: 1.0\nuser: hi\ntemprature: 0.2\n")
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n" + OK_CASE,
        "*p.yaml:4: unknown key 'temprature' in (top level). Did you mean 'temperature'?*",
    )


def test_bad_semver_in_prompt_file(pytester: pytest.Pytester) -> None:
    write(pytester.path / "prompts" / "p.yaml", "name: greeter\nversion: '1.0'\nuser: hi\n")
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n" + OK_CASE,
        "*p.yaml:2: version: '1.0' is not a semantic version*",
    )


def test_yaml_syntax_error(pytester: pytest.Pytester) -> None:
    collect_error(
        pytester, "prompt: greeter\ntests: [\n  - name: a\n", "*test_bad.llmops.yaml:*: invalid YAML:*"
    )


def test_unknown_provider_kind(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: opnai:gpt-4o-mini\n" + OK_CASE,
        "*test_bad.llmops.yaml:2: unknown provider 'opnai:gpt-4o-mini'. Did you mean 'openai'?*",
    )


def test_no_model_anywhere(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path, model=None)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai\n" + OK_CASE,
        "*provider 'openai' names no model and prompt greeter@1.0.0 has no `model:`*",
    )


def test_case_without_assertions(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n",
        "*test_bad.llmops.yaml:4: case 'a' has no assertions, so it could never fail*",
    )


def test_duplicate_case_names(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\n"
        + OK_CASE
        + "  - name: a\n    vars: {who: B}\n    assert: [{type: contains, value: B}]\n",
        "*test_bad.llmops.yaml:7: case name 'a' is used twice (first on line 4)*",
    )


def test_undefined_variable_in_assertion_value(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    collect_error(
        pytester,
        "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - name: a\n    vars: {who: A}\n    assert: [{type: contains, value: '{{ nme }}'}]\n",
        "*test_bad.llmops.yaml:6: case 'a': assertion 'contains': `value` uses 'nme' is undefined; variables: expected, who",
    )


def test_wrong_types_and_missing_keys(pytester: pytest.Pytester) -> None:
    collect_error(
        pytester,
        "tests:\n  - name: a\n    threshold: high\n    assert: [{type: contains, value: A}]\n",
        "*invalid suite (2 problems):",
        "*test_bad.llmops.yaml:1: provider: required key is missing. Add e.g. `provider: openai:gpt-4o-mini`.",
        "*test_bad.llmops.yaml:3: tests[[]0[]].threshold: Input should be a valid number*(got 'high').",
    )


def test_file_that_is_not_a_mapping(pytester: pytest.Pytester) -> None:
    collect_error(
        pytester,
        "- just\n- a list\n",
        "*test_bad.llmops.yaml:1: a suite must be a YAML mapping, but the file is a list",
    )


def test_bad_record_mode_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--llmops-record-mode=sometimes")
    result.stderr.fnmatch_lines(
        [
            "ERROR: --llmops-record-mode=sometimes: expected one of none, once, new_episodes, all (got 'sometimes')"
        ]
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_bad_ini_values_are_usage_errors(pytester: pytest.Pytester) -> None:
    from .helpers import add_ini

    add_ini(pytester, "llmops_record_mode = always", "llmops_timeout = soon")
    result = pytester.runpytest()
    result.stderr.fnmatch_lines(
        [
            "ERROR: ini llmops_record_mode = always: expected one of none, once, new_episodes, all (got 'always')"
        ]
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
