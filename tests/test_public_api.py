"""The public surface: exactly the names in ``pytest_llmops.__all__``, each resolving (as httpx pins its own)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import pytest_llmops

PUBLIC = {
    "AppResponse",
    "AssertionContext",
    "AssertionResult",
    "CaseResult",
    "Grade",
    "LLMResponse",
    "LlmopsError",
    "Message",
    "Outcome",
    "Prompt",
    "PromptRegistry",
    "RenderedPrompt",
    "Usage",
    "__version__",
    "register_assertion",
}


def test_all_is_exactly_the_public_surface() -> None:
    assert set(pytest_llmops.__all__) == PUBLIC
    assert sorted(pytest_llmops.__all__) == pytest_llmops.__all__


@pytest.mark.parametrize("name", sorted(PUBLIC))
def test_each_public_name_resolves_from_the_package_root(name: str) -> None:
    value = getattr(pytest_llmops, name)
    assert value is not None
    if name != "__version__":
        assert value.__name__ == name, f"{name} is exported under another name"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pytest_llmops.nope  # noqa: B018


def test_importing_the_package_and_the_plugin_imports_nothing_heavy() -> None:
    """pytest imports the plugin in every run: the engine's dependencies load with the first suite."""
    script = (
        "import sys, pytest_llmops, pytest_llmops.plugin.hooks\n"
        "heavy = ['httpx', 'vcr', 'pydantic', 'jinja2', 'yaml', 'pytest_llmops.engine.case']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("actions", ["false", "true"], ids=["local", "github-actions"])
def test_a_run_without_suites_loads_neither_the_engine_nor_the_results(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, actions: str
) -> None:
    """The whole start of a run (configure included), not only the entry point's import: what
    loads there is paid by every pytest run of a project that has the plugin installed. Compared
    with the same run under ``-p no:llmops``: other installed plugins may load these modules
    themselves (pytest-recording 0.13 imports vcrpy when it loads)."""
    monkeypatch.setenv("GITHUB_ACTIONS", actions)
    pytester.makepyfile("def test_nothing_of_ours(): pass")
    pytester.makeconftest(
        """
        import sys

        HEAVY = ["httpx", "vcr", "pydantic", "jinja2", "yaml", "pytest_llmops.engine.case",
                 "pytest_llmops.results", "pytest_llmops.gates.evaluation"]

        def pytest_sessionfinish(session):
            loaded = [m for m in HEAVY if m in sys.modules]
            if "pytest_llmops.report.junit" in sys.modules:
                if sys.modules["pytest_llmops.report.junit"]._not_xml.cache_info().currsize:
                    loaded.append("the JUnit escaping pattern")
            print("LOADED:", ",".join(loaded) or "-")
        """
    )

    def loaded(*args: str) -> set[str]:
        result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider", *args)
        result.assert_outcomes(passed=1)
        [line] = [line for line in result.outlines if "LOADED:" in line]
        return set(line.split("LOADED:", 1)[1].strip().split(",")) - {"-"}

    without_us = loaded("-p", "no:llmops")
    assert loaded() - without_us == set()
