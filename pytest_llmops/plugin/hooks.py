"""pytest's entry point (``pytest11: llmops``): options, markers, collection and the run loop.

Importing this module must stay cheap: pytest imports it for every run, LLM suites or not. It
reads the settings table and registers hooks; the engine, the reports and the prompt review are
imported by the hooks that need them, when they first do (each such import says so).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import hookspecs
from .options import add_options, read_settings, refuse_space_form
from .state import RESULT_PROPERTY, STATE_KEY, LlmopsState

if TYPE_CHECKING:
    from ..testing import ScriptedLLMServer
    from .fixture import LlmopsFixture

MARKER = (
    "llmops(provider=None, judge=None, repeat=None, record_mode=None): an LLM case from a "
    "pytest-llmops suite, or options of the `llmops` fixture in a Python test"
)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    refuse_space_form(config)  # before anything is read: the rootdir and ini file may be wrong
    settings = read_settings(config)
    state = LlmopsState(config=config, settings=settings)
    if settings.prices is not None:
        from .session import load_prices  # deferred: the engine loads with the first suite

        state.prices = load_prices(settings)  # a bad price file stops the run before it starts
    config.stash[STATE_KEY] = state
    from ..recording.redaction import redact_logs

    # Every log record from now on (httpcore, vcr, urllib3, botocore, the app's) is redacted.
    config.add_cleanup(redact_logs(state.secret_envs.values))
    from .results import ResultCollector  # deferred with the engine (see the module docstring)

    config.pluginmanager.register(ResultCollector(state), "llmops-results")
    if settings.estimate:
        from .estimate import DryRun  # deferred: only for --llmops-estimate

        config.pluginmanager.register(DryRun(state), "llmops-estimate")
    from .github import register_github  # light: annotations only under GitHub Actions

    register_github(config, state)
    if (
        settings.lock_file.is_file()
        or settings.lock_required
        or settings.update_lock
        or settings.changed_since is not None
        or settings.diff is not None
    ):
        from .review import PromptReview  # deferred: git and diffs only for prompt pull requests

        config.pluginmanager.register(PromptReview(state), "llmops-review")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.close()


#: Endings of the files whose cassettes live in ``cassettes/<stem>/`` (``recording.cassette``).
_SOURCE_SUFFIXES = (".llmops.yaml", ".llmops.yml", ".yaml", ".yml", ".py")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """pytest never walks a cassette folder: one file per case, none of them a test.

    ``cassettes/<stem>/`` beside a suite or test file named ``<stem>``, and the folder of
    ``llmops_cassette_dir``: walking them would cost a hook call per recording, and a
    cassette whose name matches a suite glob would be collected as a suite.
    """
    state = config.stash.get(STATE_KEY, None)
    if state is None:
        return None
    parent = collection_path.parent
    if parent.name == "cassettes":
        beside = parent.parent
        stem = collection_path.name
        if any((beside / (stem + suffix)).is_file() for suffix in _SOURCE_SUFFIXES):
            return True
    cassette_dir = state.settings.cassette_dir
    if cassette_dir is not None and collection_path == cassette_dir:
        return True
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = parent.config.stash.get(STATE_KEY, None)
    if state is None:
        return None
    name = file_path.name
    if any(fnmatch.fnmatch(name, pattern) for pattern in state.settings.suite_glob):
        from .items import SuiteFile  # deferred: the engine loads with the first suite

        return SuiteFile.from_parent(parent, path=file_path)
    return None


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE_KEY, None)
    if state is not None:
        # Every suite is collected: the map that caught two cases sharing a cassette has done
        # its work, and would hold a path and a node id per case to the end of the run.
        state.cassette_owners.clear()


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    """A case whose judge could not be parsed fails as "unscored": its own category, not "failed"."""
    if report.when == "call" and report.failed:
        for name, value in report.user_properties:
            if (
                name == RESULT_PROPERTY
                and isinstance(value, Mapping)  # a dict, then its view (plugin/results.py)
                and value.get("outcome") == "unscored"  # Outcome.UNSCORED, without importing results
            ):
                return "unscored", "U", ("UNSCORED", {"yellow": True})
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """Start a prefetcher for the cases of this run (or of this xdist worker) while recording."""
    state = session.config.stash.get(STATE_KEY, None)
    prefetcher = None
    dry_run = state is not None and state.settings.estimate
    if state is not None and state.started and not dry_run and not session.config.option.collectonly:
        from .concurrency import start_prefetcher

        prefetcher = start_prefetcher(session, state)
    try:
        return (yield)
    finally:
        if prefetcher is not None:
            prefetcher.close()


#: Whether a test's call phase failed: a refusal it already failed on is not reported again.
CALL_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    state = item.config.stash.get(STATE_KEY, None)
    if state is not None:  # outermost, so every other wrapper has had its say first
        from .redact import redact_report

        redact_report(report, state.redactor)
    return report


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Any:
    report = yield
    state = collector.config.stash.get(STATE_KEY, None)
    if state is not None:
        from .redact import redact_report

        redact_report(report, state.redactor)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # pytest-recording's configure hook is not told its test: it reads it from here.
    from .recorders import CURRENT_ITEM

    item.config.stash[CURRENT_ITEM] = item


@pytest.hookimpl(optionalhook=True)
def pytest_recording_configure(config: pytest.Config, vcr: Any) -> None:
    """pytest-recording is configuring a test's cassette: keep it apart from ours, and keyless."""
    from .recorders import configure_vcr

    configure_vcr(config, vcr)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # Under xdist a worker learns its next item only now: start that one ahead.
    state = item.config.stash.get(STATE_KEY, None)
    if state is not None and state.prefetcher is not None and nextitem is not None:
        from .items import CaseItem

        if isinstance(nextitem, CaseItem) and not nextitem.skipped:
            state.prefetcher.hint(nextitem.nodeid)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """After the summary: unscored cases, and how concurrent and retried the calls were."""
    state: LlmopsState | None = config.stash.get(STATE_KEY, None)
    if state is None or not state.results:
        return
    # pytest prints FAILURES only for "failed"; unscored cases get a section of their own.
    unscored = terminalreporter.stats.get("unscored", [])
    if unscored:
        terminalreporter.write_sep("=", "UNSCORED (a judge's reply could not be parsed)", yellow=True)
        for report in unscored:
            terminalreporter.write_sep("_", report.head_line or report.nodeid)
            terminalreporter.write_line(report.longreprtext)
    retries = sum(r.retries for r in state.results)
    limit = state.concurrency
    parts = []
    if limit is not None and limit.peak_in_flight > 1:  # serial runs keep these figures
        parts.append(f"peak {limit.peak_in_flight} case(s) in flight (limit {limit.maximum})")
        if limit.rate_limited:
            parts.append(
                f"{limit.rate_limited} rate-limited response(s), limit backed off to {limit.current}"
            )
    if retries:
        parts.append(f"{retries} retried call(s)")
    if parts:
        terminalreporter.write_line("llmops: concurrency: " + "; ".join(parts))


@pytest.fixture
def llmops(request: pytest.FixtureRequest) -> Iterator[LlmopsFixture]:
    """Prompts, calls (recorded in a cassette named after the test) and checks from Python tests."""
    from ..errors import LlmopsError
    from .fixture import LlmopsFixture, marker_options  # deferred: the engine loads with its first user

    state = request.config.stash[STATE_KEY]
    node = request.node
    assert isinstance(node, pytest.Item)
    try:
        registry = state.prompt_registry(Path(str(node.path)).parent)
    except LlmopsError as exc:  # a broken prompt file: its message, not a traceback
        pytest.fail(f"llmops: {exc}", pytrace=False)
    fixture = LlmopsFixture(node=node, session=state.session, registry=registry, options=marker_options(node))
    try:
        yield fixture
    finally:
        fixture.close(test_failed=node.stash.get(CALL_FAILED, False))


@pytest.fixture
def llmops_server() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI/Anthropic-compatible server on 127.0.0.1 for tests that need an LLM.

    Record mode ``none`` refuses every connection, loopback included; this server's own address
    stays allowed while it runs, since a test that scripts it means to reach it.
    """
    from ..recording.network import allowed
    from ..testing import ScriptedLLMServer

    with ScriptedLLMServer() as server, allowed("127.0.0.1", server.port):
        yield server
