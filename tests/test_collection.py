"""Collection: suites become items; -k, -m, --lf, -x, JUnit and xdist work; mistakes read well."""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt

MATRIX_SUITE = """
prompt: [greeter@1.0.0, greeter@2.0.0]
provider:
  - id: openai:gpt-4o-mini
    base_url: {url}
  - id: openai:gpt-4.1-nano
    base_url: {url}
tests:
  - name: alice
    vars: {{who: Alice}}
    tags: [smoke]
    assert: [{{type: icontains, value: hello}}]
  - name: bob
    vars: {{who: Bob}}
    assert: [{{type: icontains, value: hello}}]
"""


@pytest.fixture
def matrix(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> pytest.Pytester:
    llmops_server.reply("Hello there!")
    write_prompt(pytester.path, version="1.0.0")
    write_prompt(pytester.path, version="2.0.0", user="Greet {{ who }}.")
    write(pytester.path / "test_matrix.llmops.yaml", MATRIX_SUITE.format(url=llmops_server.base_url))
    return pytester


def test_matrix_expands_prompt_by_provider_by_case_with_readable_ids(matrix: pytest.Pytester) -> None:
    result = matrix.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_matrix.llmops.yaml::alice[[]greeter@1.0.0-openai:gpt-4o-mini[]]",
            "test_matrix.llmops.yaml::alice[[]greeter@1.0.0-openai:gpt-4.1-nano[]]",
            "test_matrix.llmops.yaml::alice[[]greeter@2.0.0-openai:gpt-4o-mini[]]",
            "test_matrix.llmops.yaml::alice[[]greeter@2.0.0-openai:gpt-4.1-nano[]]",
            "test_matrix.llmops.yaml::bob[[]greeter@1.0.0-openai:gpt-4o-mini[]]",
            "*8 tests collected*",
        ]
    )


@pytest.mark.parametrize("workers", [None, "2"])
def test_selection_and_outcomes_like_any_test(matrix: pytest.Pytester, workers: str | None) -> None:
    extra = ["-n", workers] if workers else []
    matrix.runpytest("--llmops-record-mode=once", *extra).assert_outcomes(passed=8)
    matrix.runpytest("-k", "bob and 2.0.0", *extra).assert_outcomes(passed=2)
    matrix.runpytest("-m", "smoke", *extra).assert_outcomes(passed=4)
    matrix.runpytest("-m", "llmops and not smoke", *extra).assert_outcomes(passed=4)


def test_last_failed_and_exitfirst(matrix: pytest.Pytester) -> None:
    matrix.runpytest("--llmops-record-mode=once").assert_outcomes(passed=8)
    suite = matrix.path / "test_matrix.llmops.yaml"
    suite.write_text(
        suite.read_text().replace(
            "vars: {who: Bob}\n    assert: [{type: icontains, value: hello}]",
            "vars: {who: Bob}\n    assert: [{type: icontains, value: goodbye}]",
        )
    )
    matrix.runpytest().assert_outcomes(passed=4, failed=4)
    result = matrix.runpytest("--lf")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*run-last-failure: rerun previous 4 failures*"])
    matrix.runpytest("-x").assert_outcomes(passed=4, failed=1)


def test_junit_xml_has_one_testcase_per_item(matrix: pytest.Pytester) -> None:
    matrix.runpytest("--llmops-record-mode=once", "--junitxml=out.xml").assert_outcomes(passed=8)
    xml = (matrix.path / "out.xml").read_text()
    assert xml.count("<testcase ") == 8
    assert 'name="alice[greeter@2.0.0-openai:gpt-4.1-nano]"' in xml


def test_dataset_shape_loads_with_category_markers(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("We can help with billing and refunds.")
    write(
        pytester.path / "test_support.llmops.yaml",
        f"""
        provider: {{id: openai:gpt-4o-mini, base_url: "{llmops_server.base_url}"}}
        system: You are a support agent.
        defaults:
          assert: [{{type: icontains, value: help}}]
        test_cases:
          - name: refund_request
            prompt: "I want a refund for my purchase"
            expected: "Happy to help with a refund."
            category: billing
          - name: login_issue
            prompt: "I can't login"
            category: support
        """,
    )
    pytester.runpytest("--llmops-record-mode=once", "-m", "billing").assert_outcomes(passed=1, deselected=1)
    request = llmops_server.requests[-1].json
    assert request["messages"] == [
        {"role": "system", "content": "You are a support agent."},
        {"role": "user", "content": "I want a refund for my purchase"},
    ]


def test_skip_and_xfail_with_reasons(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    llmops_server.reply("nothing useful")
    write_prompt(pytester.path)
    write(
        pytester.path / "test_marks.llmops.yaml",
        f"""
        prompt: greeter
        provider: {{id: openai:gpt-4o-mini, base_url: "{llmops_server.base_url}"}}
        tests:
          - name: skipped
            vars: {{who: A}}
            skip: "model is being replaced"
            assert: [{{type: contains, value: A}}]
          - name: known_bad
            vars: {{who: B}}
            xfail: "the model cannot do this yet"
            assert: [{{type: contains, value: B}}]
        """,
    )
    result = pytester.runpytest("--llmops-record-mode=once", "-rsx")
    result.assert_outcomes(skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*model is being replaced*", "*the model cannot do this yet*"])


def test_suite_glob_ini_changes_what_is_collected(pytester: pytest.Pytester) -> None:
    write_prompt(pytester.path)
    body = "prompt: greeter\nprovider: openai:gpt-4o-mini\ntests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n"
    write(pytester.path / "evals" / "support.eval.yaml", body)
    write(pytester.path / "test_default.llmops.yaml", body)
    add_ini(pytester, "llmops_suite_glob = *.eval.yaml")
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(["evals/support.eval.yaml::a*", "*1 test collected*"])


def test_silent_without_suites(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    # pytest itself lists installed plugins in the header; beyond that the plugin says nothing.
    assert [line for line in result.outlines if "llmops" in line and not line.startswith("plugins:")] == []
    assert not (pytester.path / "cassettes").exists()


def test_prompts_found_in_parent_folders_and_ini_dirs(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    write_prompt(pytester.path, name="shared")
    write_prompt(pytester.path, name="extra", folder="library/prompts-extra")
    add_ini(pytester, "llmops_prompt_dirs = library/prompts-extra")
    suite = "prompt: [shared, extra]\nprovider: openai:gpt-4o-mini\ntests:\n  - {name: a, vars: {who: A}, assert: [{type: contains, value: A}]}\n"
    write(pytester.path / "suites" / "deep" / "test_deep.llmops.yaml", suite)
    result = pytester.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["*a[[]shared@1.0.0-openai:gpt-4o-mini[]]", "*a[[]extra@1.0.0-openai:gpt-4o-mini[]]"]
    )
