"""The JSON and HTML reports are written one case at a time, and say what a whole dict would.

At 100,000 cases the reports' data held whole cost about 2 GB (benchmarks/RESULTS.md); written
in pieces, only one case's dict and text are alive at once. The text is unchanged: the JSON file
is byte for byte ``json.dumps(report, indent=2)``, the page embeds ``pack_report``'s data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.report.html import html_chunks, pack_report, render_html
from pytest_llmops.report.json import build_report, case_dicts, encode_report
from pytest_llmops.report.write import write_reports
from pytest_llmops.results import AssertionResult, Message
from pytest_llmops.settings import Settings

from .helpers import case
from .test_html_report import embedded_data

AWKWARD = 'line one\nline two "cases": [ </script> <!-- & \u2028 ünï 😀 \\n'


def evaluation(count: int = 3) -> Any:
    results = [
        case(
            f"c{i}",
            "passed" if i % 2 else "failed",
            output=AWKWARD if i == 1 else f"answer {i}",
            messages=(Message("system", "Be brief."), Message("user", f"question {i}\n{AWKWARD}")),
            assertions=(AssertionResult("icontains", i % 2 == 1, 1.0 if i % 2 else 0.0, AWKWARD),),
        )
        for i in range(count)
    ]
    return evaluate(results, Settings(min_pass_rate=0.9))


def whole(count: int = 3) -> dict[str, Any]:
    return build_report(evaluation(count), created_at="2026-01-01T00:00:00+00:00")


@pytest.mark.parametrize("count", [0, 1, 3])
def test_the_streamed_json_is_byte_for_byte_json_dumps(count: int) -> None:
    report = whole(count)
    assert "".join(encode_report(report)) == json.dumps(report, indent=2, ensure_ascii=False) + "\n"


def test_a_case_that_mimics_the_layout_does_not_confuse_the_split() -> None:
    report = whole()
    report["summary"]["note"] = '\n  "cases": "llmops-cases-0"'  # a string: JSON escapes its newline
    report["cases"][0]["cases"] = {"cases": ["cases"]}
    assert json.loads("".join(encode_report(report))) == report


def test_the_head_and_the_cases_apart_make_the_whole_report() -> None:
    ev = evaluation()
    head = build_report(ev, created_at="2026-01-01T00:00:00+00:00", head_only=True)
    assert head["cases"] is None and list(head) == list(whole())  # the cases keep their place
    streamed = "".join(encode_report(head, case_dicts(ev)))
    assert streamed == "".join(encode_report(whole()))


class Counted:
    """The cases of a report, counting how many were asked for."""

    def __init__(self, cases: list[dict[str, Any]]) -> None:
        self.cases = cases
        self.taken = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for item in self.cases:
            self.taken += 1
            yield item


def test_the_json_takes_one_case_at_a_time() -> None:
    report = whole(3)
    cases = Counted(report["cases"])
    chunks = encode_report(report, cases)
    next(chunks)  # the head
    assert cases.taken == 0
    next(chunks)
    assert cases.taken == 1, "the first case is written before the second is made"


def test_the_page_embeds_the_packed_data_and_takes_one_case_at_a_time() -> None:
    report = whole(3)
    page = "".join(html_chunks(report))
    assert page == render_html(report)
    assert embedded_data(page) == pack_report(report)
    cases = Counted(report["cases"])
    chunks = html_chunks(report, cases)
    next(chunks), next(chunks)  # the page's head, the data's head
    assert cases.taken == 0
    next(chunks)
    assert cases.taken == 1


def test_a_variant_only_the_cases_name_is_embedded_as_before() -> None:
    report = whole(2)
    report["summary"]["variants"] = []
    report["cases"][1] = {**report["cases"][1], "variant": "other", "provider": "anthropic:x"}
    data = embedded_data(render_html(report))
    assert [v["variant"] for v in data["variants"]] == [report["cases"][0]["variant"], "other"]
    assert data["variants"][1]["provider"] == "anthropic:x"
    assert [c["v"] for c in data["cases"]] == [0, 1]


def test_write_reports_streams_both_files_from_the_same_results(tmp_path: Path) -> None:
    ev = evaluation(4)
    settings = Settings(report=tmp_path / "r.json", html=tmp_path / "r.html")
    written, problems = write_reports(ev, settings)
    assert problems == [] and len(written) == 2
    text = (tmp_path / "r.json").read_text(encoding="utf-8")
    report = json.loads(text)
    assert text == json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    assert [c["case"] for c in report["cases"]] == ["c0", "c1", "c2", "c3"]
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert embedded_data(page) == pack_report(report)


def test_the_packed_data_has_the_same_keys_in_either_form() -> None:
    report = whole()
    assert set(embedded_data(render_html(report))) == set(pack_report(report))
