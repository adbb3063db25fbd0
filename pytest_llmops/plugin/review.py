"""The prompt-review plugin object: the lock guard, ``--llmops-changed-since`` and ``--llmops-diff``.

- after collection it runs the version-bump guard (``prompts.lockfile.check_prompts``) over every
  prompt the suites loaded; a failure is reported as a collection error of the lock file, so it
  reads as one clean message, with xdist too, and no case runs;
- ``--llmops-changed-since=REF`` keeps only the cases a change since REF affects
  (``review.impact``) and reports the rest as deselected;
- ``--llmops-diff=REF`` adds, for each changed prompt, its template diff, and for each affected
  case the response at REF (from its cassette) beside the new one with the score change.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ..engine.plan import CasePlan, item_name
from ..errors import GitError, LlmopsError, LockfileError
from ..fileio import atomic_write_text
from ..prompts.lockfile import GuardResult, LockFile, SuiteReference, check_prompts
from ..prompts.versions import Version
from ..providers import anthropic, openai
from ..results import LLMResponse
from ..review.diffs import case_diff, prompt_diffs
from ..review.git import ChangeSet, GitRepo, real_path
from ..review.impact import affected_reasons
from ..review.model import CaseDiff, PromptDiff, Review
from ..review.render import format_review
from ..spec.yamlio import load_yaml_file
from .items import CaseItem, SuiteFile
from .state import LlmopsState

__all__ = ["DIFF_PROPERTY", "PromptReview", "in_ci"]

DIFF_PROPERTY = "llmops_diff"


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set (GitHub Actions, GitLab, CircleCI... do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


def _read_any(body: bytes) -> LLMResponse | None:
    """For providers that cannot read their recordings: try the built-in wire formats."""
    return openai.read_recorded(body) or anthropic.read_recorded(body)


class LockCheck(pytest.File):
    """The lock file as a collector whose only result is the guard's failure: a clean collection error."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        raise self.CollectError(self.message)


class PromptReview:
    """Registered per run: the lock guard, ``--llmops-changed-since`` and ``--llmops-diff``."""

    def __init__(self, state: LlmopsState) -> None:
        config = state.config
        settings = state.settings
        self.state = state
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.lock_path = real_path(settings.lock_file)
        self.update_lock = settings.update_lock
        self.lock_required = settings.lock_required
        self.suite_paths: list[Path] = []
        self.lock_notes: list[str] = []
        self.prompt_diffs: list[PromptDiff] = []
        self.case_diffs: list[CaseDiff] = []
        self._pending_lock: str | None = None
        self._from_workers = False
        self._diff_targets: dict[str, tuple[list[str], tuple[str, str] | None]] = {}
        since_ref = settings.changed_since
        diff_ref = settings.diff
        self.since: ChangeSet | None = None
        self.diff: ChangeSet | None = None
        if since_ref is not None or diff_ref is not None:
            try:
                repo = GitRepo.discover(config.rootpath)
                if since_ref is not None:
                    self.since = ChangeSet.since(repo, since_ref)
                if diff_ref is not None:
                    same = self.since is not None and diff_ref == since_ref
                    self.diff = self.since if same else ChangeSet.since(repo, diff_ref)
            except GitError as exc:
                option = (
                    "--llmops-changed-since"
                    if since_ref is not None and self.since is None
                    else "--llmops-diff"
                )
                raise pytest.UsageError(f"{option}: {exc}") from None

    # -- collection ---------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.since is not None:
            lines.append(
                f"llmops: cases affected by changes since {self.since.label}: "
                f"{len(self.since.paths)} changed file(s)"
            )
        if self.diff is not None:
            lines.append(f"llmops: prompt diffs against {self.diff.label}")
        return lines

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        if isinstance(collector, SuiteFile):
            self.suite_paths.append(collector.path)

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self._guard(session, items):
            return
        if self.since is not None:
            self._select(items)
        if self.diff is not None:
            self._prepare_diffs(items)

    def _display(self, path: Path) -> str:
        try:
            return real_path(path).relative_to(real_path(self.config.rootpath)).as_posix()
        except ValueError:
            return str(path)

    def _references(self) -> list[SuiteReference]:
        out = []
        for path in self.suite_paths:
            try:
                data, lines = load_yaml_file(path)
            except LlmopsError:
                continue
            raw = data.get("prompt") if isinstance(data, dict) else None
            refs = raw if isinstance(raw, list) else [raw] if raw is not None else []
            dirs = tuple(real_path(d) for d in self.state.prompt_dirs_for(path.parent))
            for index, ref in enumerate(refs):
                if isinstance(ref, str):
                    line = lines.line(("prompt", index) if isinstance(raw, list) else ("prompt",))
                    out.append(SuiteReference(self._display(path), line, ref, dirs))
        return out

    def _guard(self, session: pytest.Session, items: list[pytest.Item]) -> bool:
        """Run the version-bump guard; False when it failed (the failure is already reported)."""
        loaded = self.state.loaded_prompt_dirs  # every folder the suites' registries read, this run
        prompts = [p for found in loaded.values() for p in found]
        exists = self.lock_path.is_file()
        name = self._display(self.lock_path)
        if not exists and not self.update_lock:
            if self.lock_required and loaded:
                return self._fail(
                    session,
                    items,
                    f"{name} does not exist, and llmops_lock_required is set. Create it with "
                    f"`pytest --llmops-update-lock` and commit it.",
                )
            return True  # no lock, no guard
        if not loaded:
            if self.update_lock:
                self.lock_notes.append(f"{name}: not written, no suite loaded any prompt folder")
            return True
        try:
            lock = LockFile.read(self.lock_path) if exists else LockFile(self.lock_path)
        except LockfileError as exc:
            if not self.update_lock:
                return self._fail(session, items, str(exc))
            self.lock_notes.append(f"{name} was unreadable and is regenerated from the prompts")
            lock, exists = LockFile(self.lock_path), False
        result = check_prompts(
            lock,
            prompts,
            scanned=[real_path(d) for d in loaded],
            references=self._references(),
            update=self.update_lock,
            may_write=not in_ci(),
            existed=exists,
        )
        if not result.ok:
            return self._fail(session, items, "\n\n".join(result.errors))
        self._note(result, name, created=not exists)
        if result.lock_text is not None:
            if self.is_worker:  # the controller writes it once (pytest_testnodedown)
                self._pending_lock = result.lock_text
            else:
                atomic_write_text(self.lock_path, result.lock_text)
        return True

    def _note(self, result: GuardResult, name: str, *, created: bool) -> None:
        if result.lock_text is None:
            if self.update_lock:
                self.lock_notes.append(f"{name} is up to date ({result.checked} prompt versions checked)")
            return
        if created:
            self.lock_notes.append(f"{name} created with {result.checked} prompt versions; commit it")
            return
        parts = [
            f"{label} {', '.join(refs)}"
            for label, refs in (
                ("added", result.added),
                ("updated", result.accepted),
                ("dropped", result.removed),
            )
            if refs
        ]
        self.lock_notes.append(f"{name} updated: {'; '.join(parts) or 'file paths'}; commit it")

    def _fail(self, session: pytest.Session, items: list[pytest.Item], message: str) -> bool:
        rel = self._display(self.lock_path)
        node = LockCheck.from_parent(session, path=self.lock_path, nodeid=rel, message=message)
        report = node.ihook.pytest_make_collect_report(collector=node)
        report.__dict__.pop("call", None)  # as pytest's collect_one_node does: xdist cannot send it
        session.ihook.pytest_collectreport(report=report)
        if not self.config.option.continue_on_collection_errors:
            items.clear()  # a failed guard runs nothing: no case records against an unversioned prompt
        return False

    def _case_items(self, items: Sequence[pytest.Item]) -> list[CaseItem]:
        return [item for item in items if isinstance(item, CaseItem)]

    def _reasons(self, cases: Sequence[CaseItem], changes: ChangeSet) -> list[list[str]]:
        session = self.state.session
        return affected_reasons(
            [item.plan for item in cases],
            changes,
            prompt_dirs=self.state.prompt_dirs_for,
            cassette_path=lambda plan: session.cassette_path(plan.suite_path, plan.name),
            display=self._display,
        )

    def _select(self, items: list[pytest.Item]) -> None:
        assert self.since is not None
        cases = self._case_items(items)
        reasons = self._reasons(cases, self.since)
        unaffected = {id(item) for item, why in zip(cases, reasons, strict=True) if not why}
        if unaffected:
            self.config.hook.pytest_deselected(items=[i for i in items if id(i) in unaffected])
            items[:] = [i for i in items if id(i) not in unaffected]

    def _prepare_diffs(self, items: list[pytest.Item]) -> None:
        assert self.diff is not None
        changes = self.diff
        self.prompt_diffs = prompt_diffs(
            changes, self.state.loaded_prompt_dirs, base=real_path(self.config.rootpath)
        )
        cases = self._case_items(items)
        reasons = self._reasons(cases, changes)
        targets = [(item, why) for item, why in zip(cases, reasons, strict=True) if why]
        cassettes = {item.nodeid: self._old_cassette_path(item.plan, changes) for item, _ in targets}
        changes.prefetch([p for p in cassettes.values() if p is not None])
        for item, why in targets:
            path = cassettes[item.nodeid]
            text = changes.old_text(path) if path is not None else None
            old = (self._display(path), text) if path is not None and text is not None else None
            self._diff_targets[item.nodeid] = (why, old)

    def _old_cassette_path(self, plan: CasePlan, changes: ChangeSet) -> Path | None:
        """The case's cassette at the ref: the same file, or the same case and provider under another
        version of its prompt (a suite moved to a new version records under a new name)."""
        session = self.state.session
        path = session.cassette_path(plan.suite_path, plan.name)
        names = set(changes.old_names(path.parent))
        if path.name in names:
            return path
        if plan.prompt is None:
            return None
        name = plan.prompt.name
        versions = {
            p.version for found in self.state.loaded_prompt_dirs.values() for p in found if p.name == name
        }
        for entry in self.prompt_diffs:
            if entry.prompt == name and entry.old is not None:
                versions.add(Version.parse(entry.old.version))
        for version in sorted(versions, reverse=True):
            other = item_name(plan.case, f"{name}@{version}", plan.provider.display)
            candidate = session.cassette_path(plan.suite_path, other)
            if candidate.name in names:
                return candidate
        return None

    # -- running ------------------------------------------------------------------------------

    # tryfirst makes this the outermost wrapper: it adds to the call report after every other
    # plugin has shaped it. The diff rides on the report only (to the xdist controller), never
    # on the item, so JUnit XML (written from the teardown report) stays free of it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        target = self._diff_targets.get(item.nodeid)
        if (
            call.when == "call"
            and target is not None
            and self.diff is not None
            and isinstance(item, CaseItem)
        ):
            session = self.state.session
            provider = session.provider(item.plan.provider)
            entry = case_diff(
                item.plan,
                item.result,
                nodeid=item.nodeid,
                reasons=target[0],
                ref=self.diff.ref,
                old_cassette=target[1],
                read=getattr(provider, "read_recorded", _read_any),
                uses_judge=session.assertions.uses_judge,
            )
            report.user_properties.append((DIFF_PROPERTY, entry.to_dict()))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # teardown repeats user_properties
            return
        for name, value in report.user_properties:
            if name == DIFF_PROPERTY and isinstance(value, dict):
                self.case_diffs.append(CaseDiff.from_dict(value))

    # -- xdist: workers collect, the controller writes and prints -------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.since is not None and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            # Nothing affected by the change is a success, not pytest's "no tests" (exit 5):
            # a pull request that touches no case must not fail its check.
            session.exitstatus = pytest.ExitCode.OK
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["llmops_review"] = {
                "lock_text": self._pending_lock,
                "lock_notes": self.lock_notes,
                "prompt_diffs": [d.to_dict() for d in self.prompt_diffs],
            }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("llmops_review")
        if not data or self._from_workers:
            return
        self._from_workers = True  # every worker collected the same suites: take the first
        if data.get("lock_text") is not None:
            atomic_write_text(self.lock_path, data["lock_text"])
        self.lock_notes = list(data.get("lock_notes") or [])
        self.prompt_diffs = [PromptDiff.from_dict(d) for d in data.get("prompt_diffs") or []]

    # -- reporting ----------------------------------------------------------------------------

    def review(self) -> Review | None:
        """The prompt review of this run (None without ``--llmops-diff``)."""
        if self.diff is None:
            return None
        return Review.of(self.diff.ref, self.prompt_diffs, self.case_diffs)

    @pytest.hookimpl(trylast=True)  # after the llmops summary table
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker:
            return
        for note in self.lock_notes:
            terminalreporter.write_line(f"llmops: {note}")
        data = self.review()
        if data is not None:
            terminalreporter.write_sep(
                "=", f"llmops prompt diff since {self.diff.label if self.diff else ''}"
            )
            if not data.prompts and not data.cases:
                terminalreporter.write_line("no prompt or case changed")
            for line in format_review(data):
                terminalreporter.write_line(line)
