"""pytest entry point: options, ini keys, markers and hook wiring. The work lives elsewhere."""

from __future__ import annotations

import fnmatch
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import changes, gates
from .assertions import AssertionRegistry, default_registry
from .cassettes import RecordMode
from .errors import LlmopsError
from .prompts import PromptRegistry, load_prompt_dir
from .providers import ProviderRegistry, builtin_providers
from .redaction import redact_logs
from .results import CaseResult
from .runner import RunContext
from .schema import ProviderSpec

RESULT_PROPERTY = "llmops"

if TYPE_CHECKING:
    from .concurrency import AdaptiveLimit, Prefetcher
    from .fixture import LlmopsFixture
    from .prompts import Prompt
    from .testing import ScriptedLLMServer

__all__ = ["STATE_KEY", "LlmopsState"]

DEFAULT_SUITE_GLOBS = ["test_*.llmops.yaml", "test_*.llmops.yml"]


@dataclass
class LlmopsState:
    """Per-run state, kept in ``config.stash``."""

    config: pytest.Config
    run: RunContext
    assertions: AssertionRegistry
    suite_globs: list[str]
    extra_prompt_dirs: list[Path]
    #: Defaults of model-graded assertions from ini (a suite's `judge:`/`embedding:` wins).
    judge: ProviderSpec | None = None
    embedding: ProviderSpec | None = None
    #: Runs cases ahead of pytest when concurrency is above 1.
    prefetcher: Prefetcher | None = None
    concurrency: AdaptiveLimit | None = None
    results: list[CaseResult] = field(default_factory=list)
    _prompt_dirs: dict[Path, list[Prompt]] = field(default_factory=dict)
    _registries: dict[tuple[Path, ...], PromptRegistry] = field(default_factory=dict)
    _markers: set[str] = field(default_factory=set)

    def prompt_dirs_for(self, suite_dir: Path) -> tuple[Path, ...]:
        """``prompts/`` in the suite's folder and each parent up to rootdir, then ini folders."""
        rootdir = self.config.rootpath
        dirs = []
        current = suite_dir.resolve()
        while True:
            dirs.append(current / "prompts")
            if current == rootdir or current.parent == current or rootdir not in current.parents:
                break
            current = current.parent
        dirs.extend(self.extra_prompt_dirs)
        return tuple(dirs)

    def prompt_registry(self, suite_dir: Path) -> PromptRegistry:
        """The registry a suite sees; each folder is read once per run."""
        dirs = self.prompt_dirs_for(suite_dir)
        registry = self._registries.get(dirs)
        if registry is None:
            registry = PromptRegistry()
            for directory in dirs:
                if directory not in self._prompt_dirs:
                    self._prompt_dirs[directory] = load_prompt_dir(directory)
                for prompt in self._prompt_dirs[directory]:
                    registry.add(prompt)
            self._registries[dirs] = registry
        return registry

    def register_marker(self, name: str) -> None:
        """Tags become markers; registering them keeps ``--strict-markers`` happy."""
        if name not in self._markers:
            self._markers.add(name)
            self.config.addinivalue_line("markers", f"{name}: llmops tag")


STATE_KEY = pytest.StashKey[LlmopsState]()


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


# The built-ins register through the same hooks as other plugins' providers and assertions.
def pytest_llmops_register_providers(registry: ProviderRegistry) -> None:
    for kind, factory in builtin_providers().items():
        registry.register(kind, factory)


def pytest_llmops_register_assertions(registry: AssertionRegistry) -> None:
    for name in default_registry.names():
        registry.register(name, default_registry.factory(name), uses_judge=default_registry.uses_judge(name))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("llmops", "LLM suites (pytest-llmops)")
    group.addoption(
        "--llmops-record-mode",
        choices=[m.value for m in RecordMode],
        default=None,
        help="none (default: replay only, no network), once (record missing cassettes), "
        "new_episodes (replay and record what is new), all (re-record everything).",
    )
    parser.addini(
        "llmops_record_mode", "Default record mode (none, once, new_episodes, all).", default="none"
    )
    group.addoption(
        "--llmops-repeat",
        type=int,
        default=None,
        metavar="N",
        help="Run every case N times, whatever the suites say (measures flakiness).",
    )
    parser.addini("llmops_repeat", "Runs per case when a suite does not say (default 1).", default="1")
    group.addoption(
        "--llmops-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="Model calls in flight at once: cases ahead of pytest are started early (default 8).",
    )
    parser.addini("llmops_concurrency", "Model calls in flight at once (default 8).", default="8")
    parser.addini(
        "llmops_suite_glob",
        "Glob patterns of suite files.",
        type="linelist",
        default=DEFAULT_SUITE_GLOBS,
    )
    parser.addini("llmops_prompt_dirs", "Extra folders searched for prompt files.", type="paths", default=[])
    parser.addini(
        "llmops_cassette_dir",
        "Folder for cassettes (default: cassettes/ beside each suite).",
        default="",
    )
    parser.addini("llmops_timeout", "Seconds a model call may take (default 60).", default="60")
    parser.addini(
        "llmops_max_retries",
        "Retries of a call that failed with 429, 5xx, a timeout or a refused connection (default 2).",
        default="2",
    )
    parser.addini(
        "llmops_retry_backoff", "Base delay of the exponential backoff, seconds (default 0.5).", default="0.5"
    )
    parser.addini(
        "llmops_retry_max_backoff", "Longest wait between retries, seconds (default 30).", default="30"
    )
    parser.addini(
        "llmops_case_timeout",
        "Seconds one case may spend on calls, retries and fallbacks (default 300).",
        default="300",
    )
    parser.addini("llmops_prices", "YAML file extending or overriding the model price table.", default="")
    parser.addini(
        "llmops_judge",
        "Default judge of model-graded assertions, e.g. openai:gpt-4o-mini (a suite's `judge:` wins).",
        default="",
    )
    parser.addini(
        "llmops_embedding",
        "Default embedding model of `similar`, e.g. openai:text-embedding-3-small.",
        default="",
    )
    gates.add_options(parser)
    changes.add_options(parser)


def _record_mode(config: pytest.Config) -> RecordMode:
    # Precedence: command line, then ini.
    value = config.getoption("llmops_record_mode") or str(config.getini("llmops_record_mode")).strip()
    try:
        return RecordMode(value)
    except ValueError:
        allowed = ", ".join(m.value for m in RecordMode)
        raise pytest.UsageError(f"llmops_record_mode = {value!r}: choose one of {allowed}") from None


def _ini_number(config: pytest.Config, name: str, *, minimum: float = 0.0, strict: bool = True) -> float:
    """A number from an ini key; bad values are usage errors naming the key."""
    raw = str(config.getini(name)).strip()
    try:
        value = float(raw)
    except ValueError:
        raise pytest.UsageError(f"{name} = {raw!r}: expected a number, e.g. 60") from None
    if value == float("inf"):  # an endless timeout or backoff overflows the clock mid-run
        raise pytest.UsageError(f"{name} = {raw!r}: expected a finite number, e.g. 60")
    if value < minimum or (strict and value == minimum) or value != value:
        relation = "greater than" if strict else "at least"
        raise pytest.UsageError(f"{name} = {raw!r}: must be {relation} {minimum:g}")
    return value


def _whole(config: pytest.Config, name: str, value: float) -> int:
    if value != int(value):
        raise pytest.UsageError(f"{name} = {value:g}: expected a whole number")
    return int(value)


def _repeat_option(config: pytest.Config) -> int | None:
    value: int | None = config.getoption("llmops_repeat")
    if value is not None and value < 1:
        raise pytest.UsageError(f"--llmops-repeat={value}: expected a whole number of runs, at least 1")
    return value


def _ini_provider(config: pytest.Config, name: str) -> ProviderSpec | None:
    raw = str(config.getini(name)).strip()
    if not raw:
        return None
    if ":" not in raw:
        raise pytest.UsageError(
            f"{name} = {raw!r}: write a provider id with a model, e.g. openai:gpt-4o-mini"
        )
    return ProviderSpec(id=raw)


def _ini_path(config: pytest.Config, name: str) -> Path | None:
    raw = str(config.getini(name)).strip()
    if not raw:
        return None
    path = Path(raw)
    base = config.inipath.parent if config.inipath else config.rootpath
    return path if path.is_absolute() else base / path


def _ini_folder(config: pytest.Config, name: str) -> Path | None:
    path = _ini_path(config, name)
    if path is not None and path.exists() and not path.is_dir():
        raise pytest.UsageError(f"{name} = {path}: that is a file; name a folder (it is created if missing)")
    return path


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "llmops(provider=None, judge=None, repeat=None, record_mode=None): an LLM case from a "
        "pytest-llmops suite, or options of the `llmops` fixture in a Python test",
    )
    providers = ProviderRegistry()
    config.hook.pytest_llmops_register_providers(registry=providers)
    assertions = AssertionRegistry()
    config.hook.pytest_llmops_register_assertions(registry=assertions)
    retries = _ini_number(config, "llmops_max_retries", strict=False)
    if retries != int(retries):
        raise pytest.UsageError(f"llmops_max_retries = {retries:g}: expected a whole number, e.g. 2")
    run = RunContext(
        record_mode=_record_mode(config),
        cassette_dir=_ini_folder(config, "llmops_cassette_dir"),
        timeout=_ini_number(config, "llmops_timeout"),
        providers=providers,
        rootdir=config.rootpath,
        max_retries=int(retries),
        retry_backoff=_ini_number(config, "llmops_retry_backoff", strict=False),
        retry_max_backoff=_ini_number(config, "llmops_retry_max_backoff", strict=False),
        case_timeout=_ini_number(config, "llmops_case_timeout"),
        repeat_default=_whole(
            config, "llmops_repeat", _ini_number(config, "llmops_repeat", minimum=1, strict=False)
        ),
        repeat_override=_repeat_option(config),
    )
    prices = _ini_path(config, "llmops_prices")
    if prices is not None:
        try:
            run.prices = run.prices.load_overrides(prices)
        except LlmopsError as exc:
            raise pytest.UsageError(f"llmops_prices: {exc}") from None
    settings = gates.load_settings(config)
    run.budget_usd = gates.worker_budget(config, settings)
    state = LlmopsState(
        config=config,
        run=run,
        assertions=assertions,
        suite_globs=list(config.getini("llmops_suite_glob")),
        extra_prompt_dirs=list(config.getini("llmops_prompt_dirs")),
        judge=_ini_provider(config, "llmops_judge"),
        embedding=_ini_provider(config, "llmops_embedding"),
    )
    config.stash[STATE_KEY] = state
    config.add_cleanup(redact_logs(run.secrets))  # a key in a URL never reaches --log-file
    config.pluginmanager.register(ResultCollector(state, settings), "llmops-results")
    config.pluginmanager.register(changes.PromptReview(state), "llmops-review")


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    """A case whose judge could not be parsed fails as "unscored": its own category, not "failed"."""
    if report.when == "call" and report.failed:
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, dict) and value.get("outcome") == "unscored":
                return "unscored", "U", ("UNSCORED", {"yellow": True})
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.run.close()


def _concurrency(config: pytest.Config) -> int:
    # Precedence: command line, then ini.
    value = config.getoption("llmops_concurrency")
    if value is None:
        value = _whole(
            config, "llmops_concurrency", _ini_number(config, "llmops_concurrency", minimum=1, strict=False)
        )
    if value < 1:
        raise pytest.UsageError(f"--llmops-concurrency={value}: expected a whole number, at least 1")
    return int(value)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    """Start a prefetcher for the cases of this run (or of this xdist worker)."""
    state = session.config.stash.get(STATE_KEY, None)
    prefetcher = None
    if state is not None and not session.config.option.collectonly:
        from .collect import CaseItem
        from .concurrency import AdaptiveLimit, Prefetcher

        limit = AdaptiveLimit(_concurrency(session.config))
        cases = {
            item.nodeid: item for item in session.items if isinstance(item, CaseItem) and not item.skipped
        }
        # In `none` mode every call replays from disk in microseconds: threads would only add
        # switching, so cases run in pytest's own loop.
        if cases and limit.maximum > 1 and state.run.record_mode is not RecordMode.NONE:
            state.run.on_rate_limit = limit.on_rate_limit
            worker = hasattr(session.config, "workerinput")

            def start(nodeid: str) -> CaseResult:
                item = cases[nodeid]
                result = item.run_plan()
                if result.outcome != "error":
                    limit.on_success()
                return result

            prefetcher = Prefetcher(
                [] if worker else list(cases),
                start,
                limit,
                should_stop=lambda: bool(session.shouldstop or session.shouldfail),
            )
            state.prefetcher = prefetcher
            state.concurrency = limit
    try:
        return (yield)
    finally:
        if prefetcher is not None:
            prefetcher.close()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # Under xdist a worker learns its next item only now: start that one ahead.
    state = item.config.stash.get(STATE_KEY, None)
    if state is not None and state.prefetcher is not None and nextitem is not None:
        from .collect import CaseItem

        if isinstance(nextitem, CaseItem) and not nextitem.skipped:
            state.prefetcher.hint(nextitem.nodeid)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    state = parent.config.stash.get(STATE_KEY, None)
    if state is None:
        return None
    name = file_path.name
    if any(fnmatch.fnmatch(name, pattern) for pattern in state.suite_globs):
        from .collect import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


class ResultCollector:
    """Registered per run: gathers case results from test reports, then gates and reports.

    ``pytest_runtest_logreport`` runs on the controller for every worker's report too, so
    totals under xdist equal a serial run's. Gates and reports act once, on the controller,
    after the last report (like pytest-cov's ``--cov-fail-under``); workers only collect.
    """

    def __init__(self, state: LlmopsState, settings: gates.Settings) -> None:
        self.state = state
        self.settings = settings
        self.is_worker = hasattr(state.config, "workerinput")
        self.baseline: list[CaseResult] | None = None
        if settings.baseline is not None and not self.is_worker:
            from .reports import read_baseline

            self.baseline = read_baseline(settings.baseline)
        self.evaluation: gates.Evaluation | None = None
        self.written: list[str] = []
        self.write_problems: list[str] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if call.when == "call":
            from .reports import keep_result_out_of_junit

            keep_result_out_of_junit(item, report)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # teardown repeats user_properties
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, dict):
                self.state.results.append(CaseResult.from_dict(value))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # A plain impl runs before the terminal reporter's wrapper prints the summary.
        if self.is_worker or not self.state.results:
            return  # a run without LLM cases stays silent: no summary, no files
        from .reports import write_reports

        self.evaluation = gates.evaluate(self.state.results, self.settings, self.baseline)
        if self.evaluation.breached and session.exitstatus == pytest.ExitCode.OK:
            # Documented: a breached gate fails the run like a failed test, exit status 1.
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        review = session.config.pluginmanager.get_plugin("llmops-review")
        diffs = review.review() if review is not None else None
        self.written, self.write_problems = write_reports(self.evaluation, self.settings, prompt_diffs=diffs)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.evaluation is None:
            return
        from .reporting import terminal_lines

        terminalreporter.write_sep("=", "llmops summary")
        for text, markup in terminal_lines(self.evaluation):
            terminalreporter.write_line(text, **markup)
        for line in self.written:
            terminalreporter.write_line(f"llmops: {line}")
        for problem in self.write_problems:
            terminalreporter.write_line(f"llmops: could not write {problem}", red=True, bold=True)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """After the summary: how concurrent the calls were, and how often they were retried."""
    state = config.stash.get(STATE_KEY, None)
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
    from .fixture import LlmopsFixture, marker_options

    state = request.config.stash[STATE_KEY]
    node = request.node
    assert isinstance(node, pytest.Item)
    try:
        registry = state.prompt_registry(Path(str(node.path)).parent)
    except LlmopsError as exc:  # a broken prompt file: its message, not a traceback
        pytest.fail(f"llmops: {exc}", pytrace=False)
    fixture = LlmopsFixture(
        node=node,
        ctx=state.run,
        assertions=state.assertions,
        registry=registry,
        options=marker_options(node),
        judge=state.judge,
    )
    try:
        yield fixture
    finally:
        fixture.close()


@pytest.fixture
def llmops_server() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI/Anthropic-compatible server on 127.0.0.1 for tests that need an LLM."""
    from .testing import ScriptedLLMServer

    with ScriptedLLMServer() as server:
        yield server
