"""Shared fixtures: fake keys in the environment, no ambient keys, and pytester's inner ini."""

from __future__ import annotations

from collections.abc import Iterator

import httpcore  # noqa: F401  (see below)
import pytest
import yaml  # noqa: F401  (see below)

import pytest_llmops.plugin.fixture
import pytest_llmops.plugin.items
import pytest_llmops.plugin.review
import pytest_llmops.report.write  # noqa: F401  (see below)

try:  # the [metrics] extra: numpy, under rouge-score and sacrebleu, cannot be imported twice
    import rouge_score.rouge_scorer  # noqa: F401
    import sacrebleu  # noqa: F401
except ImportError:  # pragma: no cover - the extra is part of [test]
    pass

from .helpers import (
    AMBIENT_PROVIDER_ENV,
    FAKE_ANTHROPIC_KEY,
    FAKE_CUSTOM_KEY,
    FAKE_OPENAI_KEY,
    INNER_INI,
    SENTINELS,
)

# pytester drops modules first imported inside an inner run. httpx imports httpcore lazily and
# caches a map of httpcore's exception classes; a re-imported httpcore would then have classes
# the map does not know, and its errors would escape unmapped. PyYAML's C emitter keeps the node
# classes of its first import, so a re-imported `yaml` cannot dump. The plugin imports its engine
# on first use, inside the first inner run: import all of these once, here.


@pytest.fixture
def fake_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, ...]]:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_ANTHROPIC_KEY)
    monkeypatch.setenv("CUSTOM_LLM_KEY", FAKE_CUSTOM_KEY)
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    yield SENTINELS


@pytest.fixture(autouse=True)
def _no_ambient_llm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's real key or base URL must never leak into a test run.
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name in AMBIENT_PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    # Inner runs behave the same on a laptop and in CI: pytest does not truncate its short
    # summary when CI is set, and the prompt lock is never written there. Tests of CI
    # behaviour set it themselves.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    # Nor do inner runs annotate this run or write its step summary when the suite itself runs
    # under GitHub Actions; the tests of that behaviour set these variables themselves.
    for name in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY", "GITHUB_WORKSPACE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """Inner runs treat warnings as errors; ``ini()`` adds keys to their pytest.ini."""
    (pytester.path / "pytest.ini").write_text(INNER_INI)
    return pytester
