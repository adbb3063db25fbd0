"""The `llmops` fixture: the same prompts, calls, cassettes and assertions from Python tests."""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import FAKE_OPENAI_KEY, all_text_under, write_prompt

PY_TESTS = """
import pytest

PROVIDER = {{"id": "openai:gpt-4o-mini", "base_url": "{url}"}}


@pytest.mark.llmops(provider="openai:gpt-4o-mini")
def test_refund(llmops):
    from pytest_llmops.spec.schema import ProviderSpec
    llmops.provider = ProviderSpec(**PROVIDER)
    prompt = llmops.prompt("greeter@^1").render(who="Ada")
    response = llmops.complete(prompt)
    llmops.check(response, icontains="hello", not_contains="goodbye", max_cost=0.01, max_length=100)


@pytest.mark.parametrize("who", ["Bob", "Cy"])
def test_parametrized(llmops, who):
    from pytest_llmops.spec.schema import ProviderSpec
    response = llmops.complete(llmops.prompt("greeter").render(who=who), provider=ProviderSpec(**PROVIDER))
    llmops.check(response, {{"type": "regex", "value": "(?i)hello"}})


@pytest.mark.anyio
async def test_async(llmops):
    from pytest_llmops.spec.schema import ProviderSpec
    response = await llmops.acomplete("Say hello", provider=ProviderSpec(**PROVIDER))
    llmops.check(response, icontains="hello")


def test_fails_like_a_yaml_case(llmops):
    from pytest_llmops.spec.schema import ProviderSpec
    response = llmops.complete(llmops.prompt("greeter").render(who="Zed"), provider=ProviderSpec(**PROVIDER))
    llmops.check(response, contains="refund")
"""


@pytest.fixture
def project(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, fake_keys: object
) -> pytest.Pytester:
    llmops_server.reply("Hello there!")
    write_prompt(pytester.path)
    pytester.makepyfile(test_app=PY_TESTS.format(url=llmops_server.base_url))
    return pytester


def test_record_then_replay_offline(project: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    result = project.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=4, failed=1)
    assert len(llmops_server.requests) == 5
    names = sorted(p.name for p in (project.path / "cassettes" / "test_app").glob("*.yaml"))
    assert names == [
        "test_async[asyncio].yaml",
        "test_fails_like_a_yaml_case.yaml",
        "test_parametrized[Bob].yaml",
        "test_parametrized[Cy].yaml",
        "test_refund.yaml",
    ]
    assert FAKE_OPENAI_KEY not in all_text_under(project.path)
    llmops_server.close()
    result = project.runpytest()
    result.assert_outcomes(passed=4, failed=1)


def test_failure_reads_like_a_yaml_case(project: pytest.Pytester) -> None:
    result = project.runpytest("--llmops-record-mode=once", "-k", "fails_like")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*CheckFailed: test_fails_like_a_yaml_case (test_app.py:*)",
            "*variant: greeter@1.0.0 × openai:gpt-4o-mini",
            "*score: 0.00 (every assertion with weight > 0 must pass)",
            "*FAIL contains score=0.00: expected output to contain 'refund'*",
            "*response (12 chars, * tokens, * ms, live):",
            "*Hello there!",
        ]
    )


def test_python_tests_enter_the_summary(project: pytest.Pytester) -> None:
    result = project.runpytest("--llmops-record-mode=once")
    result.stdout.fnmatch_lines(["*llmops summary*", "*greeter@1.0.0 × openai:gpt-4o-mini*"])


def test_none_mode_without_cassette_names_the_command(project: pytest.Pytester) -> None:
    result = project.runpytest("-k", "refund")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*pytest 'test_app.py::test_refund' --llmops-record-mode=once*"])


def test_marker_record_mode_and_bad_marker(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("hello")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.llmops(provider="openai:gpt-4o-mini", record_mode="once")
        def test_marked(llmops):
            from pytest_llmops.spec.schema import ProviderSpec
            r = llmops.complete("hi", provider=ProviderSpec(id="openai:gpt-4o-mini", base_url="{llmops_server.base_url}"))
            llmops.check(r, contains="hello")

        @pytest.mark.llmops(temperature=1)
        def test_bad(llmops):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.llmops takes judge, provider, record_mode, repeat; got temperature*"]
    )


def test_sample_and_reduce(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> None:
    import itertools

    cycle = itertools.cycle("yyn")
    llmops_server.reply(lambda request: "hello" if next(cycle) == "y" else "nope")
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_llmops.spec.schema import ProviderSpec

        @pytest.mark.llmops(repeat=3)
        def test_flaky(llmops):
            llmops.provider = ProviderSpec(id="openai:gpt-4o-mini", base_url="{llmops_server.base_url}")
            answers = llmops.sample("hi")
            llmops.check(answers, contains="hello", reduce={{"pass_rate": 0.6}})
        """
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 3


@pytest.mark.parametrize("mode", ["once", "all"])
def test_several_calls_in_one_test_are_all_recorded(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer, mode: str
) -> None:
    llmops_server.reply(lambda request: "answer to " + request["messages"][-1]["content"])
    pytester.makepyfile(
        f"""
        import pytest
        from pytest_llmops.spec.schema import ProviderSpec

        def test_two_calls(llmops):
            llmops.provider = ProviderSpec(id="openai:gpt-4o-mini", base_url="{llmops_server.base_url}")
            for question in ["first", "second", "third"]:
                llmops.check(llmops.complete(question), contains="answer to " + question)
        """
    )
    pytester.runpytest(f"--llmops-record-mode={mode}").assert_outcomes(passed=1)
    assert len(llmops_server.requests) == 3
    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=1)


def test_tokens_and_cost_of_python_tests_reach_the_report(
    project: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    import json

    project.runpytest("--llmops-record-mode=once", "-k", "refund", "--llmops-report=r.json")
    (case,) = json.loads((project.path / "r.json").read_text())["cases"]
    sent = llmops_server.requests[0].json
    assert case["tokens"]["input"] > 0 and case["tokens"]["output"] > 0
    assert case["cost_usd"] > 0
    assert case["messages"] == sent["messages"]


def test_marker_provider_as_a_mapping_or_a_mistake(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("hello")
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.llmops(provider={{"id": "openai:gpt-4o-mini", "base_url": "{llmops_server.base_url}"}})
        def test_mapping(llmops):
            llmops.check(llmops.complete("hi"), contains="hello")

        @pytest.mark.llmops(provider={{"id": "openai:gpt-4o-mini", "base_ur": "http://x"}})
        def test_misspelt(llmops):
            pass

        @pytest.mark.llmops(provider=42)
        def test_number(llmops):
            pass
        """
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(["*provider={'id': 'openai:gpt-4o-mini', 'base_ur': 'http://x'}: base_ur: *"])
    result.stdout.fnmatch_lines(["*provider=42: expected an id such as 'openai:gpt-4o-mini'*"])
    assert "AttributeError" not in result.stdout.str()
