"""Memory: once every plugin has read a case's report, the run keeps one copy of its result.

Every plugin's ``pytest_runtest_logreport`` sees the whole result as a dict (junitxml, reportlog,
xdist's worker sending it); afterwards the report, which pytest keeps to the end of the run, holds
a read-only view of the result the run keeps anyway, and the item lets go of its own.
"""

from __future__ import annotations

import json

import pytest

from pytest_llmops.plugin.results import ResultView
from pytest_llmops.results import AssertionResult, CaseResult, Outcome, Usage
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import USAGE, greet_reply, make_suite

CASES = """
  - name: alice
    vars: {who: Alice}
    assert:
      - {type: icontains, value: alice}
  - name: bob
    vars: {who: Bob}
    assert:
      - {type: icontains, value: nobody}
"""

# A plugin of the user's: what it sees while the report is logged, and at the end of the run.
WATCHER = """
import json
from collections.abc import Mapping

import pytest

SEEN = {}
ITEMS = []


def pytest_collection_modifyitems(items):
    ITEMS.extend(items)


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    for name, value in report.user_properties:
        if name == "llmops":
            SEEN[report.nodeid] = {
                "while_logged": type(value).__name__,
                "outcome": value["outcome"],
                "figures": sorted(n for n, _ in report.user_properties if n.startswith("llmops_")),
            }


def pytest_terminal_summary(terminalreporter):
    kept = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == "llmops":
                    assert isinstance(value, Mapping)
                    kept[report.nodeid] = {"type": type(value).__name__, "entry": dict(value)}
    held = [item.nodeid for item in ITEMS if getattr(item, "result", None) is not None]
    figures = [
        report.nodeid
        for reports in terminalreporter.stats.values()
        for report in reports
        if any(str(n).startswith("llmops_") for n, _ in getattr(report, "user_properties", ()))
    ]
    figures += [item.nodeid for item in ITEMS if any(n.startswith("llmops_") for n, _ in item.user_properties)]
    from pytest_llmops.plugin.state import state_of

    collection = {
        # What only collection needed, kept per case to the end, would cost at 100,000 cases.
        "cassette_owners": len(state_of(terminalreporter.config).cassette_owners),
        "llmops_marks": len({id(item.get_closest_marker("llmops")) for item in ITEMS}),
        "reduce_rules": len({id(item.plan.reduce) for item in ITEMS}),
    }
    with open("seen.json", "w") as handle:
        json.dump(
            {
                "seen": SEEN,
                "kept": kept,
                "items_holding_a_result": held,
                "holding_figures": figures,
                "collection": collection,
            },
            handle,
        )
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])
def test_plugins_see_the_dict_and_the_run_keeps_one_copy(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object, workers: list[str]
) -> None:
    llmops_server.reply(greet_reply, usage=USAGE)
    make_suite(pytester.path, llmops_server, CASES)
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1, failed=1)
    pytester.makeconftest(WATCHER)

    result = pytester.runpytest("--llmops-report=r.json", "-rA", *workers)
    result.assert_outcomes(passed=1, failed=1)
    watched = json.loads((pytester.path / "seen.json").read_text())
    cases = {c["id"]: c for c in json.loads((pytester.path / "r.json").read_text())["cases"]}
    assert len(cases) == 2
    # While the report is logged: the whole dict, for every plugin.
    assert {nodeid: seen["while_logged"] for nodeid, seen in watched["seen"].items()} == {
        nodeid: "dict" for nodeid in cases
    }
    # ... and its simple figures beside it.
    for seen in watched["seen"].values():
        assert {"llmops_outcome", "llmops_score", "llmops_cost_usd"} <= set(seen["figures"])
    # Afterwards: a view, holding what the JSON report says of the case.
    assert set(watched["kept"]) == set(cases)
    for nodeid, kept in watched["kept"].items():
        assert kept["type"] == "ResultView"
        assert kept["entry"] == cases[nodeid]
    assert watched["items_holding_a_result"] == []
    # Nor the figures, which the view holds: neither on the reports kept nor on the items.
    assert watched["holding_figures"] == []
    if not workers:  # under xdist the items are the workers'
        # What collection alone needed is not held per case: one mark and one reduce rule for all.
        assert watched["collection"] == {"cassette_owners": 0, "llmops_marks": 1, "reduce_rules": 1}
    # pytest's short summary asks the view for the outcome of the failed case.
    assert any(line.startswith("FAILED ") and "bob" in line for line in result.outlines)


def _result() -> CaseResult:
    return CaseResult(
        nodeid="suite.llmops.yaml::case[v]",
        suite="suite",
        case="case",
        outcome=Outcome.UNSCORED,
        model="gpt-4o-mini",
        assertions=(AssertionResult("llm-rubric", False, 0.0, "the judge's reply could not be read"),),
        usage=Usage(10, 2),
        cost_usd=0.5,
    )


def test_the_view_reads_as_the_json_entry() -> None:
    result = _result()
    view = ResultView(result)
    assert dict(view) == result.to_dict()
    assert view == result.to_dict()
    assert len(view) == len(result.to_dict())
    assert view["outcome"] == "unscored" and view.get("outcome") == "unscored"
    assert view["assertions"][0]["reason"] == "the judge's reply could not be read"
    assert view.get("no such key") is None
    with pytest.raises(KeyError):
        view["no such key"]
    assert repr(view) == repr(result.to_dict())
    assert CaseResult.from_dict(view) == result


def test_results_read_back_share_what_every_case_repeats() -> None:
    # Each result read from its report (a new dict per case under xdist) would otherwise hold
    # its own copy of the variant's strings and of an empty judge usage, to the end of the run.
    first, second = (CaseResult.from_dict(json.loads(json.dumps(_result().to_dict()))) for _ in range(2))
    assert first == second == _result()
    for name in ("suite", "provider", "model", "prompt_version"):
        assert getattr(first, name) is getattr(second, name) or getattr(first, name) is None
    assert first.model is second.model
    assert first.assertions[0].type is second.assertions[0].type
    assert first.judge_usage is second.judge_usage == Usage()
    assert first.usage is not second.usage  # counts that are not zero are the case's own
