"""Shared fixtures: fake keys that must never reach disk, and suite-writing helpers."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpcore  # noqa: F401  (see below)
import pytest

# pytester drops modules first imported inside an inner run. httpx imports httpcore lazily and
# caches a map of httpcore's exception classes; a re-imported httpcore would then have classes
# the map does not know, and its errors would escape unmapped. Import it once, here.

# Obviously fake keys: tests assert they appear in no cassette, report or log.
FAKE_OPENAI_KEY = "sk-test-FAKE-openai-sentinel-do-not-use"
FAKE_ANTHROPIC_KEY = "fake-anthropic-sentinel-do-not-use"
FAKE_CUSTOM_KEY = "fake-custom-sentinel-do-not-use"
SENTINELS = (FAKE_OPENAI_KEY, FAKE_ANTHROPIC_KEY, FAKE_CUSTOM_KEY)


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
    # Inner runs behave the same on a laptop and in CI: pytest does not truncate its short
    # summary when CI is set, and the prompt lock is never written there. Tests of CI
    # behaviour set it themselves.
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BUILD_NUMBER", raising=False)


INNER_INI = """\
[pytest]
filterwarnings = error
# pytester re-imports hypothesis's plugin (and re-rewrites it) for every inner run: 4 s each.
addopts = -p no:hypothesispytest
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """Inner runs treat warnings as errors; ``ini()`` adds keys to their pytest.ini."""
    (pytester.path / "pytest.ini").write_text(INNER_INI)
    return pytester


def add_ini(pytester: pytest.Pytester, *lines: str) -> None:
    with (pytester.path / "pytest.ini").open("a") as handle:
        handle.write("\n".join(lines) + "\n")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_prompt(
    root: Path,
    name: str = "greeter",
    version: str = "1.0.0",
    user: str = "Say hello to {{ who }}.",
    system: str | None = "You are terse.",
    model: str | None = "gpt-4o-mini",
    folder: str = "prompts",
) -> Path:
    lines = [f"name: {name}", f"version: {version}"]
    if model:
        lines.append(f"model: {model}")
    lines.append("temperature: 0")
    if system is not None:
        lines.append(f"system: {system!r}")
    lines.append(f"user: {user!r}")
    return write(root / folder / f"{name}-{version}.yaml", "\n".join(lines) + "\n")


def all_text_under(root: Path) -> str:
    """Every readable file below ``root`` (cassettes, reports, caches), concatenated."""
    chunks = []
    for path in root.rglob("*"):
        if path.is_file():
            try:
                chunks.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return "\n".join(chunks)
