"""The HTML report: the page's data and safety without a browser, then in headless Chromium.

The browser tests drive Debian's Chromium (``apt-get install chromium chromium-driver``) with
Playwright's Python package pointed at it; no browser is downloaded. Without either they skip.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.util
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.gates.evaluation import evaluate
from pytest_llmops.report.html import main, pack_report, render_html
from pytest_llmops.report.json import build_report
from pytest_llmops.results import AssertionResult, CaseResult, Message, Outcome, Usage
from pytest_llmops.settings import Settings
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt

CHROMIUM = os.environ.get("LLMOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

#: An output that would run script in a page that parsed it as HTML.
HOSTILE = (
    "Sure! <script>window.__pwned = 'script'</script>"
    "<img src=x onerror=\"window.__pwned = 'img'\"> </textarea></script><!-- <b>bold?</b> & done"
)

GREET = "suites/test_greet.llmops.yaml"
TRIAGE = "suites/test_triage.llmops.yaml"


def result(
    suite: str,
    name: str,
    version: str = "1.0.0",
    outcome: str = "passed",
    *,
    prompt: str = "greeter",
    provider: str = "openai:gpt-4o-mini",
    score: float | None = 1.0,
    output: str | None = "Hello there!",
    **extra: Any,
) -> CaseResult:
    failed = outcome != "passed"
    data: dict[str, Any] = {
        "nodeid": f"{suite}::{name}[{prompt}@{version}-{provider}]",
        "suite": suite,
        "case": name,
        "outcome": Outcome(outcome),
        "prompt": prompt,
        "prompt_version": version,
        "provider": provider,
        "model": provider.split(":", 1)[1],
        "score": score,
        "assertions": (
            AssertionResult(
                "icontains",
                not failed,
                0.0 if failed else 1.0,
                "expected 'hello'; not found" if failed else "output contains 'hello'",
                line=7,
            ),
            AssertionResult(
                "llm-rubric",
                True,
                0.8,
                "polite and short",
                metric="tone",
                raw="The reply greets the user politely.\nGRADE: 0.8",
            ),
        ),
        "usage": Usage(120, 30),
        "cost_usd": 0.00004,
        "latency_ms": 420.0,
        "replayed": True,
        "output": output,
        "messages": (
            Message("system", "You are terse and kind."),
            Message("user", f"Say hello to {name} ({version})."),
        ),
        "location": f"{suite}:{len(name) + 3}",
    }
    data.update(extra)
    return CaseResult(**data)


def sample_results() -> list[CaseResult]:
    return [
        result(GREET, "alice", "1.0.0", output="Hello, Alice! How can I help you today?", tags=("smoke",)),
        result(
            GREET, "alice", "2.0.0", output="Hello, Alice! Welcome back, how can I help?", tags=("smoke",)
        ),
        result(GREET, "bob", "1.0.0", "failed", score=0.0, output="Go away, Bob."),
        result(GREET, "bob", "2.0.0", output="Hello, Bob! Welcome."),
        result(GREET, "mallory", "1.0.0", "failed", score=0.2, output=HOSTILE),
        result(GREET, "mallory", "2.0.0", output="Hello, Mallory."),
        result(GREET, "dave", "2.0.0", score=0.6, threshold=0.5, output="Hi Dave."),
        result(
            GREET,
            "carol",
            "2.0.0",
            "error",
            score=None,
            output=None,
            assertions=(),
            error="ProviderError: 503 after 2 retries",
        ),
        result(TRIAGE, "refund", prompt="triage", output="billing", tags=("billing",)),
        result(TRIAGE, "login", prompt="triage", output="account"),
    ]


def sample_report() -> dict[str, Any]:
    current = sample_results()
    baseline = []
    for r in current:
        if r.case == "mallory" and r.prompt_version == "1.0.0":
            r = CaseResult.from_dict({**r.to_dict(), "outcome": "passed", "score": 1.0})
        elif r.case == "dave":
            r = CaseResult.from_dict({**r.to_dict(), "score": 0.9})
        baseline.append(r)
    settings = Settings(
        baseline=Path("base.json"), min_pass_rate=0.9, max_p95_latency_ms=2000, max_score_drop=0.2
    )
    return build_report(evaluate(current, settings, baseline), created_at="2025-01-02T03:04:05+00:00")


def embedded_data(page_html: str) -> Any:
    match = re.search(r'<script type="application/json" id="llmops-data">(.*?)</script>', page_html, re.S)
    assert match, "no data element"
    return json.loads(match.group(1))


# -- without a browser -------------------------------------------------------------------------------


def test_an_output_cannot_close_the_data_element() -> None:
    page = render_html(sample_report())
    # One </script> ends the data, one the script: the hostile output adds none, nor "<!--".
    assert page.count("</script>") == 2
    assert "<!--" not in page
    assert "<script>window.__pwned" not in page and "<img" not in page
    data = embedded_data(page)
    outputs = [c.get("output") for c in data["cases"]]
    assert HOSTILE in outputs  # and it reads back exactly


def test_the_page_is_self_contained_and_allows_only_its_own_script() -> None:
    page = render_html(sample_report())
    data = re.search(r'<script type="application/json" id="llmops-data">.*?</script>', page, re.S)
    assert data
    page = page.replace(data.group(0), "")  # the data is inert text: the rest must fetch nothing
    # Nothing to fetch: no external script, style sheet, image, font or link.
    assert not re.search(r"<(link|img|iframe|object|embed)\b", page)
    assert not re.search(r"\b(src|href)\s*=", page)
    assert "@import" not in page and "url(" not in page
    assert set(re.findall(r"https?://[^\s\"')]+", page)) <= {"http://www.w3.org/2000/svg"}
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page)
    assert policy
    rules = dict(rule.strip().split(" ", 1) for rule in html.unescape(policy.group(1)).split(";"))
    assert rules["default-src"] == "'none'"
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert script and style

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert rules["script-src"] == digest(script.group(1))
    assert rules["style-src"] == digest(style.group(1))
    assert "<title>pytest-llmops: 7/10 passed, 2 gate(s) failed</title>" in page


def test_packed_data_keeps_every_figure_and_stores_repeats_once() -> None:
    report = sample_report()
    data = pack_report(report)
    assert data["summary"] == report["summary"]
    assert data["suites"] == [GREET, TRIAGE]
    assert [v["variant"] for v in data["variants"]] == [
        "greeter@1.0.0 × openai:gpt-4o-mini",
        "greeter@2.0.0 × openai:gpt-4o-mini",
        "triage@1.0.0 × openai:gpt-4o-mini",
    ]
    strings = data["strings"]
    assert strings.count("You are terse and kind.") == 1  # the system message of all ten cases
    original = {c["id"]: c for c in report["cases"]}
    for packed in data["cases"]:
        case = original[packed["id"]]
        assert data["suites"][packed["s"]] == case["suite"]
        assert data["variants"][packed["v"]]["variant"] == case["variant"]
        assert f"{case['suite']}:{packed['ln']}" == case["location"]
        assert [{"role": r, "content": strings[i]} for r, i in packed["messages"]] == case["messages"]
        for a, p in zip(case["assertions"], packed.get("assertions", []), strict=True):
            extra = p[5] if len(p) > 5 else {}
            assert (strings[p[0]], bool(p[1]), p[2], strings[p[3]], p[4]) == (
                a["type"],
                a["passed"],
                a["score"],
                a["reason"],
                a["line"],
            )
            assert extra.get("raw") == a["raw"] and extra.get("metric") == a["metric"]
        assert packed.get("score") == case["score"]  # a score of 0 is kept
        assert packed.get("output") == case["output"]
        assert "retries" not in packed  # zero counts are left out
        assert ("error" in packed) == bool(case["error"])


def test_command_line_renders_a_saved_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(sample_report()), encoding="utf-8")
    assert main([str(saved)]) == 0
    assert capsys.readouterr().out == f"wrote HTML report: {tmp_path / 'report.html'}\n"
    assert embedded_data((tmp_path / "report.html").read_text()) == pack_report(sample_report())

    assert main([str(saved), "-o", str(tmp_path / "out" / "r.html")]) == 0
    assert (tmp_path / "out" / "r.html").exists()

    (tmp_path / "other.json").write_text('{"hello": 1}')
    with pytest.raises(SystemExit, match=r"not a pytest-llmops report \(no schema_version or cases\)"):
        main([str(tmp_path / "other.json")])
    with pytest.raises(SystemExit, match="no such file; write one with pytest --llmops-report"):
        main([str(tmp_path / "missing.json")])
    (tmp_path / "v9.json").write_text('{"schema_version": 9, "cases": []}')
    with pytest.raises(
        SystemExit, match="schema_version 9; this version of pytest-llmops reads schema_version 1"
    ):
        main([str(tmp_path / "v9.json")])


SUITE = """
prompt: greeter@1.0.0
provider:
  id: openai:gpt-4o-mini
  base_url: {base_url}
tests:
  - name: alice
    vars: {{who: Alice}}
    tags: [smoke]
    assert:
      - {{type: icontains, value: alice}}
  - name: mallory
    vars: {{who: Mallory}}
    assert:
      - {{type: icontains, value: hello}}
"""


def reply(request: Any) -> str:
    text = request["messages"][-1]["content"]
    return HOSTILE if "Mallory" in text else "Hello, Alice!"


def make_suite(root: Path, server: ScriptedLLMServer) -> None:
    write_prompt(root)
    write(root / "test_greet.llmops.yaml", SUITE.format(base_url=server.base_url))


def test_option_writes_the_html_from_the_same_data_as_the_json(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    # Written by write_reports, on the controller only, like the JSON report (xdist: test_reports).
    llmops_server.reply(reply)
    make_suite(pytester.path, llmops_server)
    result = pytester.runpytest(
        "--llmops-record-mode=once", "--llmops-report=out/report.json", "--llmops-html=out/report.html"
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["llmops: wrote JSON report: out/report.json", "llmops: wrote HTML report: out/report.html"]
    )
    report = json.loads((pytester.path / "out" / "report.json").read_text())
    page = (pytester.path / "out" / "report.html").read_text()
    assert embedded_data(page) == pack_report(report)
    assert "</textarea></script>" not in page


def test_ini_key_and_a_bad_value(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(reply)
    make_suite(pytester.path, llmops_server)
    add_ini(pytester, "llmops_html = reports/llmops.html")
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1, failed=1)
    assert (pytester.path / "reports" / "llmops.html").exists()
    bad = pytester.runpytest("--llmops-html=")
    bad.stderr.fnmatch_lines(["*--llmops-html=: expected a file path*"])


# -- in Chromium ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason="the browser tests need Playwright's Python package (pip install playwright; "
        "no `playwright install`: they drive Debian's chromium)",
    )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium chromium-driver)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def expect(target: Any) -> Any:
    """Playwright's ``expect`` (imported late: without Playwright the browser tests skip)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


class Opened:
    """A page showing a report, with what the console said."""

    def __init__(self, browser: Any, path: Path, width: int = 1400, height: int = 900) -> None:
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.problems: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(str(error)))
        self.page.goto(path.as_uri())
        # Not wait_for_function: it evaluates a string, which the page's policy forbids.
        expect(self.page.locator("html")).to_have_attribute("data-ready", "1")

    def _console(self, message: Any) -> None:
        # A blocked script or fetch (the Content-Security-Policy) shows up as a console error.
        if message.type in ("error", "warning"):
            self.problems.append(message.text)

    def rows(self) -> list[str]:
        names: list[str] = self.page.eval_on_selector_all(
            "#rows .row",
            "rows => rows.sort((a, b) => a.offsetTop - b.offsetTop).map(r => r.dataset.caseName)",
        )
        return names

    def pwned(self) -> Any:
        return self.page.evaluate("window.__pwned")


@pytest.fixture(scope="module")
def sample_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(sample_report()), encoding="utf-8")
    return path


def test_matrix_rows_columns_and_baseline_marks(browser: Any, sample_page: Path, tmp_path: Path) -> None:
    opened = Opened(browser, sample_page)
    page = opened.page
    assert opened.rows() == ["alice", "bob", "carol", "dave", "mallory", "login", "refund"]
    heads = page.locator("#rows .ghead").all_inner_texts()
    assert len(heads) == 2
    assert (
        "test_greet.llmops.yaml" in heads[0] and "greeter@1.0.0" in heads[0] and "greeter@2.0.0" in heads[0]
    )
    assert "1/3 passed" in heads[0]  # 1.0.0: alice passed, bob and mallory failed
    assert page.locator("#rows .cell[data-case]").count() == 10
    assert page.locator("#rows .cell.empty").count() == 2  # carol and dave never ran 1.0.0
    mallory = page.locator(".row[data-case-name=mallory] .cell.o-failed")
    assert mallory.locator(".snip").inner_text().startswith("Sure! <script>window.__pwned")
    assert mallory.locator(".flag.newfail").inner_text() == "NEW FAIL"
    assert page.locator(".row[data-case-name=dave] .flag.drop").inner_text() == "▼0.30"
    assert page.locator("#count").inner_text() == "7 rows · 10 results"
    gates = page.locator("#gates .gate")
    assert gates.count() == 3
    breached = page.locator("#gates .gate.breached")
    assert breached.count() == 2
    assert breached.first.inner_text().split("\n") == [
        "✗ pass rate",
        "70.0%",
        "limit ≥ 90.0% · llmops_min_pass_rate",
    ]
    assert page.locator("#variants svg").count() >= 9  # a histogram, a cost bar and a p95 bar each
    assert opened.pwned() is None
    screenshot = tmp_path / "report.png"
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    assert opened.problems == []  # no script error, no blocked resource (CSP)
    page.close()


def test_a_cell_expands_into_every_detail_and_runs_no_output(
    browser: Any, sample_page: Path, tmp_path: Path
) -> None:
    opened = Opened(browser, sample_page)
    page = opened.page
    page.locator(".row[data-case-name=mallory] .cell.o-failed").click()
    panel = page.locator("#panel")
    assert panel.is_visible()
    assert page.locator("#output").text_content() == HOSTILE  # shown as text, to the character
    assert panel.locator("img, script, [onerror]").count() == 0
    text = panel.inner_text()
    for expected in (
        "mallory",
        "greeter@1.0.0",
        "Newly failing: passed in the baseline, failed now.",
        "120 in · 30 out",
        "$0.000040",
        "420 ms",
        "replayed from cassette",
        "expected 'hello'; not found",
        "polite and short",
        "metric tone",
        "You are terse and kind.",
        "Say hello to mallory (1.0.0).",
    ):
        assert expected in text, expected
    panel.locator("summary").first.click()  # the judge's reply
    assert "GRADE: 0.8" in panel.inner_text()
    assert opened.pwned() is None
    page.screenshot(path=str(tmp_path / "detail.png"))
    print(f"screenshot: {tmp_path / 'detail.png'}")
    page.keyboard.press("Escape")
    assert not panel.is_visible()
    assert opened.problems == []
    page.close()


def test_filters_search_and_sorting(browser: Any, sample_page: Path) -> None:
    opened = Opened(browser, sample_page)
    page = opened.page
    page.locator("#failures").check()
    assert opened.rows() == ["bob", "carol", "mallory"]
    assert page.locator("#count").inner_text() == "3 of 7 rows"
    page.locator("#failures").uncheck()
    page.locator("#changed").check()
    assert opened.rows() == ["dave", "mallory"]
    page.locator("#changed").uncheck()
    page.select_option("#tag", "billing")
    assert opened.rows() == ["refund"]
    page.select_option("#tag", "")
    page.select_option("#suite", label=GREET)
    assert opened.rows() == ["alice", "bob", "carol", "dave", "mallory"]
    page.select_option("#sort", "score-asc")  # by the lowest score of the row; no score last
    assert opened.rows() == ["bob", "mallory", "dave", "alice", "carol"]
    page.select_option("#sort", "default")
    page.select_option("#suite", "-1")
    page.locator("#q").fill("WELCOME")  # outputs are searched, ignoring case
    expect(page.locator("#count")).to_have_text(re.compile("^2 of"))
    assert opened.rows() == ["alice", "bob"]
    page.locator("#q").fill("no such text")
    expect(page.locator("#count")).to_have_text(re.compile("^0 of"))
    assert page.locator(".emptymsg").inner_text() == "No case matches these filters."
    assert opened.problems == []
    page.close()


def test_two_variants_side_by_side_with_a_word_diff(browser: Any, sample_page: Path, tmp_path: Path) -> None:
    opened = Opened(browser, sample_page)
    page = opened.page
    page.locator(".row[data-case-name=alice] [data-compare]").click()
    compare = page.locator("#compare")
    assert compare.is_visible()
    diff = page.locator("#diff pre")
    assert diff.nth(0).inner_text() == "Hello, Alice! How can I help you today?"
    assert diff.nth(1).inner_text() == "Hello, Alice! Welcome back, how can I help?"
    assert diff.nth(0).locator("del").all_text_contents() == ["How ", "help you today?"]
    assert diff.nth(1).locator("ins").all_text_contents() == ["Welcome back, how ", "help?"]
    # Switching a side's variant re-renders; the prompt diff shows the version.
    page.locator("#panel").get_by_text("Rendered prompt").scroll_into_view_if_needed()
    assert page.locator("#compare del", has_text="(1.0.0).").count() == 1
    assert page.locator("#compare ins", has_text="(2.0.0).").count() == 1
    page.screenshot(path=str(tmp_path / "compare.png"))
    print(f"screenshot: {tmp_path / 'compare.png'}")

    # From a cell's details to the comparison, and the word diff itself.
    page.keyboard.press("Escape")
    page.locator(".row[data-case-name=mallory] .cell.o-failed").click()
    page.locator("[data-compare-with]").click()
    assert page.locator("#diff pre").nth(0).locator("del").count() >= 1
    assert opened.pwned() is None
    diff_ops = page.evaluate("window.__llmops.wordDiff('the cat sat on the mat', 'the dog sat on a mat')")
    assert diff_ops == [
        ["=", "the ", "the "],
        ["-", "cat "],
        ["+", "dog "],
        ["=", "sat on ", "sat on "],
        ["-", "the "],
        ["+", "a "],
        ["=", "mat", "mat"],
    ]
    # Words match whatever whitespace follows them; each side keeps its own line breaks.
    assert page.evaluate(
        "window.__llmops.wordDiff('Acme Cloud. Be kind.', 'Acme Cloud.\\n\\nRules: be kind.')"
    ) == [
        ["=", "Acme Cloud. ", "Acme Cloud.\n\n"],
        ["-", "Be "],
        ["+", "Rules: be "],
        ["=", "kind.", "kind."],
    ]
    assert page.evaluate("window.__llmops.wordDiff('same', 'same')") == [["=", "same", "same"]]
    assert page.evaluate("window.__llmops.wordDiff('', 'new words')") == [["+", "new words"]]
    assert opened.problems == []
    page.close()


def test_a_report_of_a_real_run_shows_hostile_output_as_text(
    browser: Any, pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> None:
    llmops_server.reply(reply)
    make_suite(pytester.path, llmops_server)
    pytester.runpytest("--llmops-record-mode=once", "--llmops-html=report.html").assert_outcomes(
        passed=1, failed=1
    )
    opened = Opened(browser, pytester.path / "report.html")
    page = opened.page
    assert opened.rows() == ["alice", "mallory"]
    page.locator(".row[data-case-name=mallory] .cell").click()
    assert page.locator("#output").text_content() == HOSTILE
    assert "Say hello to Mallory." in page.locator("#panel").inner_text()
    assert opened.pwned() is None
    assert opened.problems == []
    page.close()


def _benchmark() -> Any:
    path = Path(__file__).parent.parent / "benchmarks" / "html_5000.py"
    if not path.exists():
        pytest.skip("benchmarks/html_5000.py is not here (an installed copy of the tests)")
    spec = importlib.util.spec_from_file_location("html_5000", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_five_thousand_cases_open_and_render_lazily(browser: Any, tmp_path: Path) -> None:
    # How fast is measured by benchmarks/html_5000.py (benchmarks/RESULTS.md), not asserted here.
    report = _benchmark().synthetic_report(5000)
    assert len(report["cases"]) == 5000
    path = tmp_path / "big.html"
    path.write_text(render_html(report), encoding="utf-8")
    size = path.stat().st_size
    opened = Opened(browser, path)
    page = opened.page
    rendered = page.evaluate("performance.getEntriesByName('llmops-matrix-rendered')[0].startTime")
    print(f"5,000 cases: {size / 1e6:.2f} MB, matrix rendered {rendered:.0f} ms after navigation")
    assert rendered > 0, "the page marks when the matrix is rendered"
    assert size < 8_000_000
    # Only what is in view exists; the last row appears once scrolled to.
    assert page.locator("#rows .row").count() < 60
    page.evaluate("document.getElementById('matrix').scrollTop = 1e9")
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    last = page.evaluate(
        "Array.from(document.querySelectorAll('#rows .row')).sort((a, b) => b.offsetTop - a.offsetTop)[0].dataset.caseName"
    )
    assert last == report["cases"][-1]["case"]
    assert opened.problems == []
    page.close()


def test_the_policy_would_stop_a_script_that_got_in(browser: Any, tmp_path: Path) -> None:
    # Defence in depth: were markup ever to reach the page, its script could not run.
    page_html = render_html(sample_report()).replace(
        "</body>", "<script>window.__pwned = 'injected'</script>\n</body>"
    )
    path = tmp_path / "tampered.html"
    path.write_text(page_html, encoding="utf-8")
    opened = Opened(browser, path)
    assert opened.pwned() is None
    assert any("Content Security Policy" in problem for problem in opened.problems)
    opened.page.close()


def test_the_judges_checked_against_people_in_the_page(browser: Any, tmp_path: Path) -> None:
    from pytest_llmops.results import JudgeCheckResult

    def check(name: str, kind: str, person: str, judge: str, reason: str = "judged") -> JudgeCheckResult:
        return JudgeCheckResult(
            f"{GREET}::judge-check[{name}]", GREET, name, kind, "openai:gpt-4o", person, judge, 0.9, reason
        )

    checks = [
        check("polite", "llm-rubric", "pass", "pass"),
        check("rude", "llm-rubric", "fail", "fail"),
        check("sarcastic", "llm-rubric", "fail", "pass", reason=HOSTILE),
        check("garbled", "llm-rubric", "pass", "unscored"),
        check("on-topic", "not-relevance", "pass", "pass"),
    ]
    evaluation = evaluate(sample_results(), Settings(min_judge_agreement=0.9), judge_checks=checks)
    path = tmp_path / "judges.html"
    path.write_text(render_html(build_report(evaluation)), encoding="utf-8")
    opened = Opened(browser, path)
    page = opened.page
    rows = page.locator("#judges tbody tr")
    assert rows.count() == 2
    assert rows.first.inner_text().split("\t") == [
        "llm-rubric × openai:gpt-4o",
        "2/3",
        "66.7%",
        "0.40",
        "1",
        "0",
        "1",
        "0",
    ]
    assert rows.nth(1).inner_text().split("\t")[:4] == ["relevance × openai:gpt-4o", "1/1", "100.0%", "n/a"]
    disagreement = page.locator("#judges [data-disagreement]")
    assert disagreement.count() == 1
    text = disagreement.inner_text()
    assert "sarcastic" in text and "person fail, judge pass" in text
    assert "<script>window.__pwned" in text  # the judge's reason, as text
    gate = page.locator("#gates .gate.breached[data-gate=min_judge_agreement]")
    assert gate.count() == 1 and gate.locator(".gv").inner_text() == "66.7%"
    assert opened.pwned() is None
    page.locator("#judges").screenshot(path=str(tmp_path / "judges.png"))
    print(f"screenshot: {tmp_path / 'judges.png'}")
    assert opened.problems == []
    page.close()
