"""The results collector: case results from test reports, then gates, reports and the summary.

``pytest_runtest_logreport`` runs on the controller for every worker's report too, so totals
under xdist equal a serial run's. A case reported again (pytest-rerunfailures' ``--reruns``) counts
once, with its last attempt; the earlier attempts are kept apart (``state.reruns``). Gates and
reports act once, on the controller, after the last report (like pytest-cov's
``--cov-fail-under``); workers only collect.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import ReportError
from .junit import add_suite_properties, is_figure, shape_report_properties
from .state import JUDGE_CHECK_PROPERTY, RESULT_PROPERTY, LlmopsState

if TYPE_CHECKING:
    from ..gates.evaluation import Evaluation
    from ..results import CaseResult

__all__ = ["ResultCollector", "ResultView"]


class ResultView(Mapping[str, Any]):
    """A case's result on its report after every plugin has read it: the JSON case entry
    (``CaseResult.to_dict()``), made on each read from the result the run keeps anyway.

    Holding the dict itself on each report, for the whole run, was the largest memory cost per
    case (about 2 KB: 200 MB at 100,000 cases).
    """

    __slots__ = ("result",)

    def __init__(self, result: CaseResult) -> None:
        self.result = result

    def __getitem__(self, key: str) -> Any:
        if key == "outcome":  # asked of every failed report by pytest's summary
            return self.result.outcome.value
        return self.result.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.result.to_dict())

    def __len__(self) -> int:
        return len(self.result.to_dict())

    def __repr__(self) -> str:
        return repr(self.result.to_dict())


class ResultCollector:
    """Registered per run: gathers case results from test reports, then gates and reports."""

    def __init__(self, state: LlmopsState) -> None:
        self.state = state
        self.settings = state.settings
        self.is_worker = hasattr(state.config, "workerinput")
        self.baseline: list[CaseResult] | None = None
        if self.settings.baseline is not None and not self.is_worker:
            from ..report.json import read_baseline

            try:
                self.baseline = read_baseline(self.settings.baseline)
            except ReportError as exc:
                raise pytest.UsageError(str(exc)) from None
        self.evaluation: Evaluation | None = None
        self._positions: dict[str, int] = {}  # nodeid -> index in state.results
        self.written: list[str] = []
        self.write_problems: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        shape_report_properties(item, call.when, report)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> Generator[None, None, None]:
        read = self._read(report)
        yield  # every plugin sees the whole dict: junitxml, reportlog, xdist's worker sending it
        if read:
            # Then the report, which pytest's terminal reporter keeps to the end of the run, holds
            # a view of each result already kept (state.results) instead of a second copy of it,
            # and not the simple llmops_* figures, which that result holds too.
            report.user_properties = [
                (RESULT_PROPERTY, ResultView(read[id(entry[1])]))
                if entry[0] == RESULT_PROPERTY and id(entry[1]) in read
                else entry
                for entry in report.user_properties
                if not is_figure(entry[0])
            ]

    def _read(self, report: pytest.TestReport) -> dict[int, CaseResult]:
        """The results on a call report, by the ``id`` of the dict each was read from."""
        read: dict[int, CaseResult] = {}
        if report.when != "call":  # teardown repeats user_properties
            return read
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, dict):
                from ..results import CaseResult  # with the first case, not at start-up

                read[id(value)] = result = CaseResult.from_dict(value)
                self._add(result)
            elif name == JUDGE_CHECK_PROPERTY and isinstance(value, dict):
                from ..results import JudgeCheckResult

                check = JudgeCheckResult.from_dict(value)
                # A judge check pytest ran again counts once: its last attempt.
                self.state.judge_checks[:] = [c for c in self.state.judge_checks if c.nodeid != check.nodeid]
                self.state.judge_checks.append(check)
        return read

    def _add(self, result: CaseResult) -> None:
        """One result per case id: a later attempt replaces an earlier one, which is kept apart."""
        position = self._positions.get(result.nodeid)
        if position is None:
            self._positions[result.nodeid] = len(self.state.results)
            self.state.results.append(result)
        else:
            self.state.reruns.append(self.state.results[position])
            self.state.results[position] = result

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # A plain impl runs before the terminal reporter's wrapper prints the summary.
        if self.is_worker or not (self.state.results or self.state.judge_checks):
            return  # a run without LLM cases stays silent: no summary, no files
        from ..gates.evaluation import evaluate
        from ..report.write import write_reports

        add_suite_properties(session.config, self.state.results, early=True)
        self.evaluation = evaluate(
            self.state.results,
            self.settings,
            self.baseline,
            self.state.reruns,
            judge_checks=self.state.judge_checks,
        )
        # The cases' own verdict, before the gates: `python -m pytest_llmops merge` combines
        # shards with it, so a merged run exits as a single run would.
        run = {"tests_exit_status": int(session.exitstatus)}
        if self.evaluation.breached and session.exitstatus == pytest.ExitCode.OK:
            # Documented: a breached gate fails the run like a failed test, exit status 1.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        review = session.config.pluginmanager.get_plugin("llmops-review")
        diffs = review.review() if review is not None else None
        self.written, self.write_problems = write_reports(
            self.evaluation, self.settings, prompt_diffs=diffs, run=run
        )
        if self.write_problems and session.exitstatus == pytest.ExitCode.OK:
            # A report CI was told to read and that is missing must not pass unnoticed.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(trylast=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_after_junitxml(self, session: pytest.Session) -> None:
        # After junitxml wrote its file (a plain impl), before the summary (a wrapper's end). The
        # name must start with "pytest_" for pytest to read the marker; specname says which hook.
        if self.is_worker or not self.state.results:
            return
        try:
            add_suite_properties(session.config, self.state.results, early=False)
        except (OSError, ValueError) as exc:
            self.write_problems.append(f"the cases' figures into the JUnit XML file: {exc}")
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.evaluation is None:
            return
        from ..report.terminal import terminal_lines

        terminalreporter.write_sep("=", "llmops summary")
        for text, markup in terminal_lines(self.evaluation):
            terminalreporter.write_line(text, **markup)
        for line in self.written:
            terminalreporter.write_line(f"llmops: {line}")
        for problem in self.write_problems:
            terminalreporter.write_line(
                f"llmops: could not write {problem}; the run fails until it can", red=True, bold=True
            )
