"""One engine for YAML cases and Python tests: where the two pipelines used to disagree.

- A test's record mode (the marker's) decides both its cassette and the network guard.
- The ini's embedding default reaches ``llmops.check(similar=...)`` as it reaches a YAML ``similar``.
- Types and providers registered in a ``conftest.py`` below the rootdir are found.
"""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import add_ini, write, write_prompt

#: A provider that answers with whether the network guard is on during its call.
GUARD_PROBE = """
from pytest_llmops.recording import network
from pytest_llmops.results import LLMResponse


class Probe:
    def __init__(self, spec):
        self.spec = spec

    @property
    def id(self):
        return self.spec.display

    def complete(self, prompt, client):
        # Recording modes open a window too (it lets their connections out): look for a refusing one.
        state = "guard on" if any(w.refuses for w in network._windows) else "guard off"
        return LLMResponse(text=state, provider=self.id, model="probe", cost_usd=0.0)


def pytest_llmops_register_providers(registry):
    registry.register("probe", Probe)
"""


def test_the_markers_record_mode_decides_the_network_guard_too(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(GUARD_PROBE)
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.llmops(provider="probe:x", record_mode="once")
        def test_recording(llmops):
            assert llmops.record_mode.value == "once"
            assert llmops.complete("hi").text == "guard off"

        @pytest.mark.llmops(provider="probe:x")
        def test_replaying(llmops):
            assert llmops.complete("hi").text == "guard on"
        """
    )
    pytester.runpytest().assert_outcomes(passed=2)  # the run's mode is `none`


def test_the_ini_embedding_model_serves_similar_in_python_tests(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    llmops_server.reply("Refunds take up to 14 days")
    monkeypatch.setenv("OPENAI_BASE_URL", llmops_server.base_url)
    add_ini(pytester, "llmops_judge = openai:gpt-4o-mini", "llmops_embedding = openai:text-embedding-3-small")
    pytester.makepyfile(
        test_app="""
        import pytest

        @pytest.mark.llmops(provider="openai:gpt-4o-mini")
        def test_refund(llmops):
            response = llmops.complete("How long do refunds take?")
            llmops.check(response, similar={"value": "Refunds take up to 14 days", "threshold": 0.9})
        """
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    models = [r.json["model"] for r in llmops_server.requests if r.path == "/v1/embeddings"]
    assert models == ["text-embedding-3-small"]


def test_an_assertion_type_decorated_in_a_subfolder_conftest_is_found(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("Thank you kindly")
    write_prompt(pytester.path)
    suite = (
        f"prompt: greeter\nprovider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        "tests:\n  - {{name: a, vars: {{who: A}}, assert: [{{type: {kind}}}]}}\n"
    )
    # The root suite is collected (and the run's registries built) before sub/conftest.py loads.
    write(pytester.path / "test_root.llmops.yaml", suite.format(kind="is-json, value: null"))
    write(
        pytester.path / "zsub" / "conftest.py",
        """
        from pytest_llmops import Grade, register_assertion

        @register_assertion("polite")
        def polite(spec, *, base_dir):
            return lambda ctx: Grade("thank" in ctx.output.lower(), 1.0, "says thank you")
        """,
    )
    write(pytester.path / "zsub" / "test_sub.llmops.yaml", suite.format(kind="polite"))
    result = pytester.runpytest("--llmops-record-mode=once", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)  # the root suite's is-json fails: "Thank you kindly"
    assert "unknown assertion type" not in result.stdout.str()


def test_a_provider_registered_by_a_subfolder_conftest_hook_is_found(pytester: pytest.Pytester) -> None:
    # pytest collects test_root.llmops.yaml (building the run's registries) before it enters
    # zsub/ and loads its conftest.py; the registry asks the hooks again when zsub's suite names
    # a provider it does not know.
    write(pytester.path / "test_root.llmops.yaml", SUITE.format(provider="probe:x"))
    write(pytester.path / "zsub" / "conftest.py", GUARD_PROBE)
    write(pytester.path / "zsub" / "test_sub.llmops.yaml", SUITE.format(provider="probe:x"))
    result = pytester.runpytest("-p", "no:randomly", "--continue-on-collection-errors")
    # The root suite cannot know `probe:` yet: a clean collection error. zsub's suite finds it.
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*test_root.llmops.yaml*unknown provider 'probe:x'*"])


SUITE = """
provider: {provider}
tests:
  - name: a
    prompt: hi
    assert: [{{type: contains, value: guard}}]
"""
