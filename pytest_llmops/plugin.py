"""pytest entry point: options, ini keys, markers and hook wiring. The work lives elsewhere."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from .assertions import AssertionRegistry, default_registry
from .cassettes import RecordMode
from .errors import LlmopsError
from .prompts import PromptRegistry, load_prompt_dir
from .providers import ProviderRegistry, builtin_providers
from .results import CaseResult
from .runner import RunContext

RESULT_PROPERTY = "llmops"

if TYPE_CHECKING:
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
        registry.register(name, default_registry.factory(name))


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
    if value < minimum or (strict and value == minimum) or value != value:
        relation = "greater than" if strict else "at least"
        raise pytest.UsageError(f"{name} = {raw!r}: must be {relation} {minimum:g}")
    return value


def _ini_path(config: pytest.Config, name: str) -> Path | None:
    raw = str(config.getini(name)).strip()
    if not raw:
        return None
    path = Path(raw)
    base = config.inipath.parent if config.inipath else config.rootpath
    return path if path.is_absolute() else base / path


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "llmops: an LLM case collected from a pytest-llmops suite")
    providers = ProviderRegistry()
    config.hook.pytest_llmops_register_providers(registry=providers)
    assertions = AssertionRegistry()
    config.hook.pytest_llmops_register_assertions(registry=assertions)
    retries = _ini_number(config, "llmops_max_retries", strict=False)
    if retries != int(retries):
        raise pytest.UsageError(f"llmops_max_retries = {retries:g}: expected a whole number, e.g. 2")
    run = RunContext(
        record_mode=_record_mode(config),
        cassette_dir=_ini_path(config, "llmops_cassette_dir"),
        timeout=_ini_number(config, "llmops_timeout"),
        providers=providers,
        rootdir=config.rootpath,
        max_retries=int(retries),
        retry_backoff=_ini_number(config, "llmops_retry_backoff", strict=False),
        retry_max_backoff=_ini_number(config, "llmops_retry_max_backoff", strict=False),
        case_timeout=_ini_number(config, "llmops_case_timeout"),
    )
    prices = _ini_path(config, "llmops_prices")
    if prices is not None:
        try:
            run.prices = run.prices.load_overrides(prices)
        except LlmopsError as exc:
            raise pytest.UsageError(f"llmops_prices: {exc}") from None
    state = LlmopsState(
        config=config,
        run=run,
        assertions=assertions,
        suite_globs=list(config.getini("llmops_suite_glob")),
        extra_prompt_dirs=list(config.getini("llmops_prompt_dirs")),
    )
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(ResultCollector(state), "llmops-results")


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(STATE_KEY, None)
    if state is not None:
        state.run.close()


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
    """Registered per run: gathers case results from test reports and prints the summary.

    ``pytest_runtest_logreport`` runs on the controller for every worker's report too, so
    totals under xdist equal a serial run's.
    """

    def __init__(self, state: LlmopsState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # teardown repeats user_properties
            return
        for name, value in report.user_properties:
            if name == RESULT_PROPERTY and isinstance(value, dict):
                self.state.results.append(CaseResult.from_dict(value))

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.state.results or hasattr(self.state.config, "workerinput"):
            return
        from .reporting import summary_lines

        terminalreporter.write_sep("=", "llmops summary")
        for line in summary_lines(self.state.results):
            terminalreporter.write_line(line)


@pytest.fixture
def llmops_server() -> Iterator[ScriptedLLMServer]:
    """A scripted OpenAI/Anthropic-compatible server on 127.0.0.1 for tests that need an LLM."""
    from .testing import ScriptedLLMServer

    with ScriptedLLMServer() as server:
        yield server
