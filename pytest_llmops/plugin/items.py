"""The pytest side of suites: ``SuiteFile`` collects a suite, ``CaseItem`` runs one matrix cell.

As pytest's ``DoctestItem`` is handed its runner and test, a ``CaseItem`` is handed its plan and
the run state that runs it (``from_parent(..., plan=, state=)``); it looks nothing up elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..errors import LlmopsError
from ..report.terminal import format_case_failure
from ..results import CaseResult, JudgeCheckResult, Outcome
from .state import JUDGE_CHECK_PROPERTY, RESULT_PROPERTY, LlmopsState, state_of

if TYPE_CHECKING:
    from ..engine.plan import CasePlan, JudgeCheckPlan

__all__ = ["CaseFailed", "CaseItem", "JudgeCheckFailed", "JudgeCheckItem", "SuiteFile"]


class CaseFailed(Exception):
    """Raised by ``CaseItem.runtest`` when the case failed or errored; carries the result."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.error or f"{result.case} failed")
        self.result = result


class SuiteFile(pytest.File):
    """A ``test_*.llmops.yaml`` file."""

    def collect(self) -> Iterator[CaseItem | JudgeCheckItem]:
        from ..engine.plan import load_suite  # the engine loads with the first suite, not at start-up

        state = state_of(self.config)
        try:
            plan = load_suite(self.path, prompts=state.prompt_registry, session=state.session)
        except LlmopsError as exc:
            raise self.CollectError(_relative_paths(str(exc), self.config)) from None
        # An explicit nodeid is parsed into name and [params] the way pytest parses the ids it
        # caches; built from `name` alone, "case[...]" would never equal a cached id and --lf/--ff
        # would not recognise the item. One string per item, shared with the cassette check.
        cases = [(case, f"{self.nodeid}::{case.name}") for case in plan.cases]
        judged_by = [(check, f"{self.nodeid}::{check.name}") for check in plan.judge_checks]
        self._claim_cassettes([*cases, *judged_by], state)
        llmops = pytest.mark.llmops  # one mark for every item
        for case, nodeid in cases:
            item = CaseItem.from_parent(self, name=case.name, nodeid=nodeid, plan=case, state=state)
            item.add_marker(llmops)
            for tag in case.tags:
                state.register_marker(tag)
                item.add_marker(getattr(pytest.mark, tag))
            if case.skip:
                item.add_marker(pytest.mark.skip(reason=_reason(case.skip, "skipped in the suite")))
            if case.xfail:
                item.add_marker(
                    pytest.mark.xfail(reason=_reason(case.xfail, "expected to fail"), strict=False)
                )
            yield item
        for check, nodeid in judged_by:
            judged = JudgeCheckItem.from_parent(self, name=check.name, nodeid=nodeid, plan=check, state=state)
            judged.add_marker(llmops)
            yield judged

    def _claim_cassettes(
        self, cases: Sequence[tuple[CasePlan | JudgeCheckPlan, str]], state: LlmopsState
    ) -> None:
        """Two items recording to one cassette would overwrite each other (in threads or workers too)."""
        owners = state.cassette_owners
        session = state.session
        for case, nodeid in cases:
            path = session.cassette_path(case.suite_path, case.name)
            owner = owners.setdefault(path, nodeid)
            if owner != nodeid:
                raise self.CollectError(
                    f"{nodeid} and {owner} would record to the same cassette, "
                    f"{session.display_path(path)}, and overwrite each other's recordings. Rename "
                    "the case, or give the provider a distinct `label`."
                )


def _reason(value: bool | str, default: str) -> str:
    return value if isinstance(value, str) else default


class CaseItem(pytest.Item):
    """One case × prompt version × provider."""

    def __init__(self, *, plan: CasePlan, state: LlmopsState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.state = state
        self.result: CaseResult | None = None

    @property
    def skipped(self) -> bool:
        """Marked to be skipped by its suite: no call is made for it, not even ahead."""
        return self.get_closest_marker("skip") is not None

    def run_plan(self) -> CaseResult:
        """Run the case's calls and checks (maybe in a prefetch thread: touches no pytest state)."""
        return self.state.run_plan(self.plan, self.nodeid)

    def runtest(self) -> None:
        result = self.state.result_for(self.plan, self.nodeid)
        self.result = result
        self.user_properties.append((RESULT_PROPERTY, result.to_dict()))
        if result.outcome is not Outcome.PASSED:
            raise CaseFailed(result)

    def teardown(self) -> None:
        # The result rode on the call report into state.results; the item lets go of its own copy
        # rather than hold it to the end of the run (about 1 KB per case).
        self.result = None

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return format_case_failure(excinfo.value.result, self.location_text)
        if isinstance(excinfo.value, LlmopsError):
            return f"{self.location_text}: {excinfo.value}"
        return str(super().repr_failure(excinfo, style=style))

    @property
    def location_text(self) -> str:
        # A case from a data file is shown where it is written: the file and its row's line.
        return f"{_relative(self.plan.written_in, self.config.rootpath)}:{self.plan.line}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.plan.written_in, self.plan.line - 1, f"case: {self.plan.case} [{self.plan.variant}]"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _relative_paths(message: str, config: pytest.Config) -> str:
    """Show paths below the invocation folder as relative paths, as pytest does."""
    return message.replace(f"{config.invocation_params.dir}{os.sep}", "")


class JudgeCheckFailed(Exception):
    """Raised by ``JudgeCheckItem.runtest`` when the judge could not be called; carries the result."""

    def __init__(self, result: JudgeCheckResult) -> None:
        super().__init__(result.reason)
        self.result = result


class JudgeCheckItem(pytest.Item):
    """A labelled example run against its judge (``judge_checks:``).

    It passes whenever the judge gave a verdict, agreeing with the person or not: agreement is a
    figure of the run, reported per judge and gated by ``llmops_min_judge_agreement``. It fails
    only when the judge could not be called (no recording to replay, a provider error).
    """

    def __init__(self, *, plan: JudgeCheckPlan, state: LlmopsState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.state = state
        self.result: JudgeCheckResult | None = None

    def runtest(self) -> None:
        result = self.state.run_judge_check(self.plan, self.nodeid)
        self.result = result
        self.user_properties.append((JUDGE_CHECK_PROPERTY, result.to_dict()))
        if result.judge_verdict == "error":
            raise JudgeCheckFailed(result)

    def teardown(self) -> None:
        self.result = None  # as CaseItem.teardown

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, JudgeCheckFailed):
            result = excinfo.value.result
            return (
                f"judge check {result.name} ({self.location_text}): the judge could not give a verdict\n"
                f"    {result.reason}"
            )
        return str(super().repr_failure(excinfo, style=style))

    @property
    def location_text(self) -> str:
        return f"{_relative(self.path, self.config.rootpath)}:{self.plan.line}"

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.plan.line - 1, f"judge check: {self.plan.check}"
