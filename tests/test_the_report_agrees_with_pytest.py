"""The reports always say what pytest says: a failure injected anywhere is that case's error.

Failures are injected into rendering, pricing and scoring (the three places an unexpected
exception used to make a case vanish from every report while pytest counted it as failed), and
into writing a report. The JSON, Markdown and HTML counts must equal pytest's, every case must
appear with its outcome, and a report that cannot be written must fail the run.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from pytest_llmops.engine import case as case_module
from pytest_llmops.engine.session import Session
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import greet_reply, make_suite

CASES = "".join(
    f"  - name: {name}\n    vars: {{who: {who}}}\n    assert: [{{type: icontains, value: hello}}]\n"
    for name, who in [("fine", "Ada"), ("render", "Rita"), ("price", "Pia"), ("score", "Sam")]
)


def _inject(monkeypatch: pytest.MonkeyPatch) -> None:
    render, priced, scored = case_module.render_case, Session.priced, case_module.scored_result

    def bad_render(plan: Any) -> Any:
        if plan.case == "render":
            raise RecursionError("maximum recursion depth exceeded (injected)")
        return render(plan)

    def bad_price(self: Session, response: Any, spec: Any = None) -> Any:
        if "Pia" in response.text:
            raise ZeroDivisionError("injected into pricing")
        return priced(self, response, spec)

    def bad_score(who: Any, response: Any, *args: Any, **kwargs: Any) -> Any:
        if "Sam" in response.text:
            raise ValueError("math domain error (injected into scoring)")
        return scored(who, response, *args, **kwargs)

    monkeypatch.setattr(case_module, "render_case", bad_render)
    monkeypatch.setattr(Session, "priced", bad_price)
    monkeypatch.setattr(case_module, "scored_result", bad_score)


def test_failures_in_rendering_pricing_and_scoring_are_errors_in_every_report(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.reply(greet_reply)
    make_suite(pytester.path, llmops_server, CASES)
    _inject(monkeypatch)
    result = pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "--llmops-record-mode=all",
        "--llmops-report=r.json",
        "--llmops-markdown=r.md",
        "--llmops-html=r.html",
    )
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    result.assert_outcomes(passed=1, failed=3)
    for what in (
        "rendering the prompt failed: RecursionError",
        "ZeroDivisionError",
        "grading the answer failed",
    ):
        assert what in out

    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    summary = report["summary"]
    assert (summary["cases"], summary["passed"], summary["failed"] + summary["errors"]) == (4, 1, 3)
    outcomes = {c["case"]: c["outcome"] for c in report["cases"]}
    assert outcomes == {"fine": "passed", "render": "error", "price": "error", "score": "error"}
    markdown = (pytester.path / "r.md").read_text(encoding="utf-8")
    assert "every case passed" not in markdown and "4 cases: 1 passed" in markdown
    title = re.search(r"<title>(.*?)</title>", (pytester.path / "r.html").read_text(encoding="utf-8"))
    assert title is not None and "1/4 passed" in title.group(1)


def test_a_report_that_cannot_be_written_fails_the_run_naming_the_path(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(greet_reply)
    make_suite(pytester.path, llmops_server, CASES.split("  - name: render")[0])
    (pytester.path / "blocked").write_text("a file, not a folder", encoding="utf-8")
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-record-mode=all", "--llmops-report=blocked/r.json"
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*could not write JSON report*blocked*r.json*the run fails until it can*"])


FIXTURE_TESTS = """
import pytest
from pytest_llmops.spec.schema import ProviderSpec

PROVIDER = ProviderSpec(id="openai:gpt-4o-mini", base_url="{url}")

@pytest.mark.parametrize("who", ["Ada", "Pia", "Sam"])
def test_greet(llmops, who):
    llmops.check(llmops.complete(f"Say hello to {{who}}.", provider=PROVIDER), icontains="hello")
"""


def test_failures_inside_the_llmops_fixture_are_errors_in_the_report(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_llmops.engine.case import CaseRun

    llmops_server.reply(greet_reply)
    pytester.makepyfile(test_app=FIXTURE_TESTS.format(url=llmops_server.base_url))
    priced, grade = Session.priced, CaseRun.grade

    def bad_price(self: Session, response: Any, spec: Any = None) -> Any:
        if "Pia" in response.text:
            raise ZeroDivisionError("injected into pricing")
        return priced(self, response, spec)

    def bad_grade(self: CaseRun, response: Any, *args: Any, **kwargs: Any) -> Any:
        if "Sam" in response.text:
            raise ValueError("injected into a check")
        return grade(self, response, *args, **kwargs)

    monkeypatch.setattr(Session, "priced", bad_price)
    monkeypatch.setattr(CaseRun, "grade", bad_grade)
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--llmops-record-mode=all", "--llmops-report=r.json"
    )
    result.assert_outcomes(passed=1, failed=2)
    report = json.loads((pytester.path / "r.json").read_text(encoding="utf-8"))
    cases = {c["id"].split("[")[-1].rstrip("]"): c for c in report["cases"]}
    assert {who: c["outcome"] for who, c in cases.items()} == {
        "Ada": "passed",
        "Pia": "error",
        "Sam": "error",
    }
    assert "calling the provider failed: ZeroDivisionError" in cases["Pia"]["error"]
    assert "grading the answer failed: ValueError: injected into a check" in cases["Sam"]["error"]
    assert (report["summary"]["passed"], report["summary"]["errors"]) == (1, 2)
