"""Per-run plugin state, kept in ``config.stash``: the settings, the engine's session, the results.

The session (providers, prices, the assertion registry, the live pool) is built on first use,
by the first suite collected or the first test that asks for the ``llmops`` fixture: a run that
collects no suite never imports the engine, httpx, vcrpy, pydantic or Jinja2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ..recording.redaction import Redactor, SecretEnvs

if TYPE_CHECKING:
    from ..engine.concurrency import AdaptiveLimit, Prefetcher
    from ..engine.plan import CasePlan, JudgeCheckPlan
    from ..engine.pricing import PriceTable
    from ..engine.session import Session
    from ..prompts.registry import Prompt, PromptRegistry
    from ..results import CaseResult, JudgeCheckResult
    from ..settings import Settings

__all__ = ["JUDGE_CHECK_PROPERTY", "RESULT_PROPERTY", "STATE_KEY", "LlmopsState", "state_of"]

#: The ``user_properties`` name under which a case's result rides to the xdist controller.
RESULT_PROPERTY = "llmops"
#: ... and a judge check's result.
JUDGE_CHECK_PROPERTY = "llmops_judge_check"


@dataclass
class LlmopsState:
    """What one run of the plugin holds."""

    config: pytest.Config
    settings: Settings
    #: Every case's result, gathered from the test reports (on the controller under xdist);
    #: a case pytest ran again (``--reruns``) is here once, with its last attempt.
    results: list[CaseResult] = field(default_factory=list)
    #: The earlier attempts of cases pytest ran again, in the order they were reported.
    reruns: list[CaseResult] = field(default_factory=list)
    #: Every judge check's result, gathered the same way.
    judge_checks: list[JudgeCheckResult] = field(default_factory=list)
    #: Runs cases ahead of pytest when recording with concurrency above 1.
    prefetcher: Prefetcher | None = None
    concurrency: AdaptiveLimit | None = None
    #: The price table, read at start-up when ``llmops_prices`` names a file (so a bad one is a
    #: usage error before anything runs); otherwise built with the session.
    prices: PriceTable | None = None
    #: The variables whose values are secrets (the session adds each provider's ``api_key_env``).
    secret_envs: SecretEnvs = field(default_factory=SecretEnvs)
    #: Cassette path -> the item that records to it, for every suite collected so far: two items
    #: recording to one cassette would overwrite each other. Emptied when collection finishes.
    cassette_owners: dict[Path, str] = field(default_factory=dict)
    _session: Session | None = None
    _prompt_dirs: dict[Path, list[Prompt]] = field(default_factory=dict)
    _registries: dict[tuple[Path, ...], PromptRegistry] = field(default_factory=dict)
    _markers: set[str] = field(default_factory=set)

    @property
    def redactor(self) -> Redactor:
        """The run's one redaction point (``recording.redaction``), for every report and log."""
        return Redactor(self.secret_envs.values)

    @property
    def session(self) -> Session:
        """The engine's session, built on first use (see the module docstring)."""
        if self._session is None:
            # Deferred: importing the engine costs more than a run without suites may pay.
            from .session import build_session

            self._session = build_session(self.config, self.settings, self.prices, self.secret_envs)
        return self._session

    @property
    def started(self) -> bool:
        """Whether any suite or fixture needed the engine in this run."""
        return self._session is not None

    @property
    def loaded_prompt_dirs(self) -> Mapping[Path, list[Prompt]]:
        """Every prompt folder a suite's registry read in this run, with its prompts."""
        return self._prompt_dirs

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
        dirs.extend(self.settings.prompt_dirs)
        return tuple(dirs)

    def prompt_registry(self, suite_dir: Path) -> PromptRegistry:
        """The registry a suite sees; each folder is read once per run."""
        from ..prompts.registry import PromptRegistry, load_prompt_dir

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

    def run_plan(self, plan: CasePlan, nodeid: str) -> CaseResult:
        """Run one case (maybe in a prefetch thread: touches no pytest state)."""
        from ..engine.case import run_plan

        # Keys a model echoed or an error quoted never reach the terminal, reports or JUnit.
        return self.redactor.result(run_plan(plan, self.session, nodeid=nodeid))

    def run_judge_check(self, plan: JudgeCheckPlan, nodeid: str) -> JudgeCheckResult:
        """Run one judge check; keys in the judge's reason are redacted like a case's."""
        from dataclasses import replace

        from ..engine.judge_checks import run_judge_check
        from ..recording.redaction import redact_text

        session = self.session
        result = run_judge_check(plan, session, nodeid=nodeid)
        return replace(result, reason=redact_text(result.reason, session.secrets()))

    def result_for(self, plan: CasePlan, nodeid: str) -> CaseResult:
        """The case's result: started ahead by the prefetcher, or run now."""
        if self.prefetcher is not None:
            return self.prefetcher.take(nodeid)
        return self.run_plan(plan, nodeid)

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


STATE_KEY = pytest.StashKey[LlmopsState]()


def state_of(config: pytest.Config) -> LlmopsState:
    """The run's state (``pytest_configure`` puts it in the stash)."""
    return config.stash[STATE_KEY]
