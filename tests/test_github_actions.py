"""Under GitHub Actions: an ::error on the line of each case that did not pass and per breached
gate, a ::warning per gate that nearly failed, the summary on the run's page without asking; all
of it off with ``llmops_github = false``, and none of it outside Actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_llmops.gates.evaluation import GateResult, evaluate
from pytest_llmops.report.github import annotation_lines, nearly_breached, step_summary_path
from pytest_llmops.settings import Settings
from pytest_llmops.testing import ScriptedLLMServer

from .helpers import USAGE, add_ini, case, greet_reply, make_suite, write, write_prompt

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
"""

PY_TEST = """
from pytest_llmops.spec.schema import ProviderSpec


def test_from_python(llmops):
    response = llmops.complete(llmops.prompt("greeter").render(who="Py"), provider=ProviderSpec(id="openai:gpt-4o-mini", base_url="{url}"))
    llmops.check(response, contains="refund")
"""

NODE = "evals/test_greet.llmops.yaml::{}[greeter@1.0.0-openai:gpt-4o-mini]"
# Three cases answer at $0.00045 each (mallory errors): $0.00135, within 10% of $0.0014.
GATES = ("--llmops-max-cost=0.0014", "--llmops-min-pass-rate=50%", "--llmops-max-error-rate=90%")


@pytest.fixture
def project(
    pytester: pytest.Pytester,
    llmops_server: ScriptedLLMServer,
    fake_keys: object,
    monkeypatch: pytest.MonkeyPatch,
) -> pytest.Pytester:
    """A checkout (GITHUB_WORKSPACE) with the pytest project one folder down, its suite in evals/."""
    llmops_server.fail(500, message="overloaded", match="Mallory")
    llmops_server.reply(greet_reply, usage=USAGE)
    add_ini(pytester, "llmops_max_retries = 0")
    make_suite(pytester.path / "evals", llmops_server, CASES)
    write_prompt(pytester.path)  # for test_app.py
    write(pytester.path / "test_app.py", PY_TEST.replace("{url}", llmops_server.base_url))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(pytester.path.parent))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step_summary.md"))
    return pytester


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def commands(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("::")]


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_failing_cases_and_gates_are_annotated(project: pytest.Pytester, workers: tuple[str, ...]) -> None:
    result = project.runpytest("--llmops-record-mode=once", *GATES, *workers)
    result.assert_outcomes(passed=1, failed=3)
    suite = project.path / "evals" / "test_greet.llmops.yaml"
    checkout = project.path.name  # the suite's path as GitHub needs it: from the checkout's root
    assert commands(result.stdout.str()) == [
        f"::error file={checkout}/evals/test_greet.llmops.yaml,line={line_of(suite, 'name: carol')},"
        "title=pytest-llmops%3A carol failed::"
        f"{NODE.format('carol')}: failed — icontains: expected output to contain 'nobody' (ignoring case); "
        "output: 'Hello, Carol!'",
        f"::error file={checkout}/evals/test_greet.llmops.yaml,line={line_of(suite, 'name: mallory')},"
        "title=pytest-llmops%3A mallory error::"
        f"{NODE.format('mallory')}: error — openai:gpt-4o-mini: "
        f"{_server_url(result.stdout.str())} answered HTTP 500: overloaded (server_error)",
        f"::error file={checkout}/test_app.py,line={line_of(project.path / 'test_app.py', 'def test_from_python')},"
        "title=pytest-llmops%3A test_from_python failed::"
        "test_app.py::test_from_python: failed — contains: expected output to contain 'refund'; output: 'Hello, Py!'",
        _cost_warning(result.stdout.str()),
        "::error title=pytest-llmops%3A gate pass rate failed::"
        "pass rate 25.0%25 is below the limit of 50.0%25 (llmops_min_pass_rate)",  # % escaped,
    ]
    assert "error rate" not in "\n".join(commands(result.stdout.str())), "far from its limit: no warning"
    # The summary reached the run's page without --llmops-markdown.
    summary = (project.path / "step_summary.md").read_text()
    assert summary.startswith("### ❌ pytest-llmops: 1 gate(s) failed\n")
    result.stdout.fnmatch_lines(["llmops: appended the Markdown summary to $GITHUB_STEP_SUMMARY"])


def _server_url(output: str) -> str:
    start = output.index("http://127.0.0.1:")
    return output[start : output.index(" ", start)]


def _cost_warning(output: str) -> str:
    """The cost gate's warning (its figure's last digits depend on the price table)."""
    line = next(line for line in commands(output) if line.startswith("::warning"))
    assert line.startswith("::warning title=pytest-llmops%3A gate cost nearly failed::cost $0.00135")
    assert line.endswith("(limit: at most $0.001400, llmops_max_cost): less than 10%25 of its room left")
    return line


def test_one_setting_turns_all_of_it_off(project: pytest.Pytester) -> None:
    result = project.runpytest("--llmops-record-mode=once", "--llmops-github=false", *GATES)
    result.assert_outcomes(passed=1, failed=3)
    assert commands(result.stdout.str()) == []
    assert not (project.path / "step_summary.md").exists()
    add_ini(project, "llmops_github = false")
    again = project.runpytest(*GATES)
    assert commands(again.stdout.str()) == []
    assert not (project.path / "step_summary.md").exists()


def test_outside_github_actions_nothing_is_annotated(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS")
    result = project.runpytest("--llmops-record-mode=once", *GATES)
    result.assert_outcomes(passed=1, failed=3)
    assert commands(result.stdout.str()) == []
    assert not (project.path / "step_summary.md").exists(), "only with --llmops-markdown outside Actions"


def test_a_run_without_llm_cases_prints_nothing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(pytester.path / "step_summary.md"))
    pytester.makepyfile("def test_plain():\n    assert False\n")
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert commands(result.stdout.str()) == []
    assert not (pytester.path / "step_summary.md").exists()


# -- units ----------------------------------------------------------------------------------------


def gate(name: str, value: float | None, limit: float, passed: bool = True) -> GateResult:
    return GateResult(name, name, value, limit, passed, "message")


@pytest.mark.parametrize(
    ("name", "value", "limit", "near"),
    [
        # at most: room is the limit itself
        ("max_cost", 0.45, 0.50, False),
        ("max_cost", 0.451, 0.50, True),
        ("max_cost", 0.50, 0.50, True),
        ("max_new_failures", 0.0, 0.0, False),  # a limit of 0 leaves no room
        ("max_cost_increase", -30.0, 25.0, False),
        ("max_p95_latency_ms", None, 4000.0, False),  # nothing measured
        ("max_cost_increase", float("inf"), 25.0, False),
        # at least: room is what lies between the limit and 1
        ("min_pass_rate", 0.91, 0.90, False),
        ("min_pass_rate", 0.905, 0.90, True),
        ("min_pass_rate", 0.90, 0.90, True),
        ("min_score", 0.81, 0.80, True),
        ("min_score", 0.85, 0.80, False),
        ("min_pass_rate", 1.0, 1.0, False),  # a minimum of 1 leaves no room
        ("min_win_rate", 0.52, 0.5, True),
        ("min_baseline_match", 0.99, 0.9, False),
        ("regression", 0.9, 0.05, False),  # a p-value against alpha: a verdict, never "nearly"
        ("regression", 0.051, 0.05, False),
    ],
)
def test_nearly_means_less_than_a_tenth_of_the_room_left(
    name: str, value: float | None, limit: float, near: bool
) -> None:
    assert nearly_breached(gate(name, value, limit)) is near


def test_a_breached_gate_is_not_nearly_breached() -> None:
    assert not nearly_breached(gate("max_cost", 0.6, 0.5, passed=False))


def test_annotations_escape_what_would_end_a_field_or_a_line() -> None:
    failed = case("a,b: c", "error", location="dir,x/s:1.llmops.yaml:7", error="50% off\nline 2", score=None)
    (line,) = annotation_lines(evaluate([failed], Settings()))
    assert line.startswith(
        "::error file=dir%2Cx/s%3A1.llmops.yaml,line=7,title=pytest-llmops%3A a%2Cb%3A c error::"
    )
    assert line.endswith(": error — 50%25 off"), "the first line of the error, % escaped"
    assert "\n" not in line


def test_a_case_without_a_location_is_annotated_on_its_file() -> None:
    failed = case("x", "failed", location="")
    (line,) = annotation_lines(evaluate([failed], Settings()))
    assert line.startswith(f"::error file={failed.nodeid.split('::')[0]},title=")


def test_the_step_summary_goes_where_and_when_it_should(tmp_path: Path) -> None:
    target = str(tmp_path / "summary.md")
    actions = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": target}
    assert step_summary_path(Settings(), actions) == Path(target)
    assert step_summary_path(Settings(github=False), actions) is None
    assert step_summary_path(Settings(), {"GITHUB_ACTIONS": "true"}) is None
    assert step_summary_path(Settings(), {"GITHUB_STEP_SUMMARY": target}) is None
    with_markdown = Settings(markdown=tmp_path / "m.md")
    assert step_summary_path(with_markdown, {"GITHUB_STEP_SUMMARY": target}) == Path(target)
    assert step_summary_path(Settings(github=False, markdown=tmp_path / "m.md"), actions) is None
