"""--junitxml with pytest's default family (xunit2) validates against the schema pytest tests its
own output with; each case's figures are the suite's properties, keyed by node id. With
``junit_family = xunit1`` they sit on each ``<testcase>``, serially and under xdist.

The schema is pytest's file (``testing/example_scripts/junit-10.xsd`` in its sdist) and is never
committed here: ``.ci/fetch-junit-schema`` downloads it and ``$LLMOPS_JUNIT_XSD`` names it. In CI
(``CI`` set) a missing schema fails the test; elsewhere it skips.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import xmlschema

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import (
    USAGE,
    add_ini,
    greet_reply,
    junit_suite_case_properties,
    junit_testcase_properties,
    make_suite,
    write,
)

SCHEMA_VARIABLE = "LLMOPS_JUNIT_XSD"
# Read at import: the autouse fixture of conftest.py clears CI for the inner runs.
IN_CI = bool(os.environ.get("CI", "").strip())

CASES = """
  - name: alice
    vars: {who: Alice}
    assert:
      - {type: icontains, value: alice}
  - name: carol
    vars: {who: Carol}
    assert:
      - {type: icontains, value: nobody}
  - name: mallory
    vars: {who: Mallory}
    assert:
      - {type: icontains, value: mallory}
  - name: skipped
    skip: not today
    vars: {who: Sam}
    assert:
      - {type: icontains, value: sam}
"""

PY_TEST = """
from pytest_llmops.spec.schema import ProviderSpec

def test_from_python(llmops):
    response = llmops.complete(llmops.prompt("greeter").render(who="Py"), provider=ProviderSpec(id="openai:gpt-4o-mini", base_url="{url}"))
    llmops.check(response, icontains="hello")

def test_plain():
    assert 1 + 1 == 2
"""

NODE = "test_greet.llmops.yaml::{}[greeter@1.0.0-openai:gpt-4o-mini]"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    path = os.environ.get(SCHEMA_VARIABLE, "").strip()
    if not path or not Path(path).is_file():
        why = f"pytest's xunit2 schema is not here: ${SCHEMA_VARIABLE} is {path or 'unset'}"
        fetch = f'export {SCHEMA_VARIABLE}="$(bash .ci/fetch-junit-schema)"'
        if IN_CI:
            pytest.fail(f"{why}; CI must fetch it ({fetch})", pytrace=False)
        pytest.skip(f"{why} (fetch it: {fetch})")
    return xmlschema.XMLSchema(path)


@pytest.fixture
def project(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> pytest.Pytester:
    """Cases that pass, fail, error and are skipped, a Python test with the fixture, a plain test."""
    llmops_server.fail(500, message="overloaded", match="Mallory")
    llmops_server.reply(greet_reply, usage=USAGE)
    add_ini(pytester, "llmops_max_retries = 0")
    make_suite(pytester.path, llmops_server, CASES)
    write(pytester.path / "test_app.py", PY_TEST.replace("{url}", llmops_server.base_url))
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> Path:
    result = pytester.runpytest("--llmops-record-mode=once", "--junitxml=junit.xml", *args)
    result.assert_outcomes(passed=3, failed=2, skipped=1)
    return pytester.path / "junit.xml"


def errors(schema: xmlschema.XMLSchema, path: Path) -> list[str]:
    return [f"{e.path}: {e.reason}" for e in schema.iter_errors(str(path))]


def test_the_default_junit_file_validates_against_pytests_xunit2_schema(
    project: pytest.Pytester, schema: xmlschema.XMLSchema
) -> None:
    path = run(project)
    assert errors(schema, path) == []
    assert not any(junit_testcase_properties(path).values()), "xunit2 allows no properties on a testcase"
    figures = junit_suite_case_properties(path)
    assert {nodeid: f["llmops_outcome"] for nodeid, f in figures.items()} == {
        NODE.format("alice"): "passed",
        NODE.format("carol"): "failed",
        NODE.format("mallory"): "error",
        "test_app.py::test_from_python": "passed",
    }
    alice = figures[NODE.format("alice")]
    assert alice["llmops_tokens_input"] == "1000" and alice["llmops_replayed"] == "false"
    assert alice["llmops_prompt"] == "greeter" and alice["llmops_prompt_version"] == "1.0.0"


def test_the_junit_file_of_an_xdist_run_validates_too(
    project: pytest.Pytester, schema: xmlschema.XMLSchema
) -> None:
    serial = junit_suite_case_properties(run(project))
    path = run(project, "-n", "2")  # a replay now
    assert errors(schema, path) == []
    parallel = junit_suite_case_properties(path)
    assert set(parallel) == set(serial)
    replayed = {nodeid for nodeid, figures in parallel.items() if figures["llmops_replayed"] == "true"}
    assert replayed == set(serial) - {NODE.format("mallory")}  # an error is never recorded


def test_suite_properties_come_in_node_id_order(project: pytest.Pytester) -> None:
    path = run(project, "-n", "2")
    names = [n for n in _suite_property_names(path) if n.endswith("::llmops_outcome")]
    assert names == sorted(names)


def _suite_property_names(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    return [p.get("name", "") for p in ET.parse(path).iterfind("testsuite/properties/property")]


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_xunit1_keeps_the_figures_on_each_testcase(project: pytest.Pytester, workers: Any) -> None:
    add_ini(project, "junit_family = xunit1")
    path = run(project, *workers)
    by_case = junit_testcase_properties(path)
    assert by_case["alice[greeter@1.0.0-openai:gpt-4o-mini]"]["llmops_outcome"] == "passed"
    assert by_case["mallory[greeter@1.0.0-openai:gpt-4o-mini]"]["llmops_outcome"] == "error"
    assert by_case["test_from_python"]["llmops_outcome"] == "passed"
    assert by_case["test_plain"] == {}
    assert junit_suite_case_properties(path) == {}, "xunit1: on the testcases, not twice"


def test_the_users_own_suite_properties_stay_first(
    project: pytest.Pytester, schema: xmlschema.XMLSchema
) -> None:
    # record_testsuite_property writes the suite's <properties>; the cases' figures follow there.
    write(
        project.path / "test_build.py",
        'def test_build(record_testsuite_property):\n    record_testsuite_property("build", "a <b> & \\"c\\"")\n',
    )
    # Serially: pytest documents record_testsuite_property as not working under xdist.
    result = project.runpytest("--llmops-record-mode=once", "--junitxml=junit.xml")
    result.assert_outcomes(passed=4, failed=2, skipped=1)
    path = project.path / "junit.xml"
    assert errors(schema, path) == []
    names = _suite_property_names(path)
    assert names[0] == "build" and names.count("build") == 1
    assert len(junit_suite_case_properties(path)) == 4
    import xml.etree.ElementTree as ET

    (build,) = [
        p for p in ET.parse(path).iterfind("testsuite/properties/property") if p.get("name") == "build"
    ]
    assert build.get("value") == 'a <b> & "c"'


def test_a_junit_path_through_a_symlink_gets_the_figures(project: pytest.Pytester) -> None:
    (project.path / "out").mkdir()
    (project.path / "junit.xml").symlink_to(project.path / "out" / "real.xml")
    (project.path / "out" / "real.xml").write_text("stale", encoding="utf-8")
    run(project)
    assert (project.path / "junit.xml").is_symlink(), "the link is kept, its target rewritten"
    assert len(junit_suite_case_properties(project.path / "out" / "real.xml")) == 4


def test_a_junit_path_that_is_not_a_file_still_passes(project: pytest.Pytester) -> None:
    # /dev/null cannot be rewritten: the figures go through junitxml itself, the run is not failed.
    result = project.runpytest("--llmops-record-mode=once", "--junitxml=/dev/null")
    result.assert_outcomes(passed=3, failed=2, skipped=1)
    assert "could not write" not in result.stdout.str()
