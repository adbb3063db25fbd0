"""Every heuristic assertion type, and its `not-` form, through a YAML suite end to end."""

from __future__ import annotations

import pytest

from pytest_llmops.testing import ScriptedLLMServer

from .helpers import write, write_prompt

TEXT = "Hello Ada, your order #123 is confirmed."
JSON = '{"name": "Ada", "total": 42}'

PASSING = """
      - {type: equals, value: "Hello Ada, your order #123 is confirmed."}
      - {type: contains, value: "order #123"}
      - {type: icontains, value: HELLO ADA}
      - {type: contains-any, value: [refund, confirmed]}
      - {type: contains-all, value: [Hello, Ada]}
      - {type: icontains-any, value: [REFUND, CONFIRMED]}
      - {type: icontains-all, value: [HELLO, ORDER]}
      - {type: starts-with, value: Hello}
      - {type: ends-with, value: confirmed.}
      - {type: regex, value: '#\\d{3}'}
      - {type: min-length, value: 10}
      - {type: max-length, value: 100}
      - {type: word-count, min: 3, max: 10}
      - {type: levenshtein, value: "Hello Ada, your order #124 is confirmed.", threshold: 2}
      - {type: latency, threshold: 60000}
      - {type: cost, threshold: 1}
      - {type: tokens, threshold: 1000}
      - {type: python, value: "checks.py:mentions_name"}
      - {type: equals, value: "{{ expected }}"}
      - {type: not-equals, value: Goodbye}
      - {type: not-contains, value: refund}
      - {type: not-icontains, value: REFUND}
      - {type: not-contains-any, value: [refund, error]}
      - {type: not-contains-all, value: [Hello, refund]}
      - {type: not-icontains-any, value: [REFUND]}
      - {type: not-icontains-all, value: [HELLO, REFUND]}
      - {type: not-starts-with, value: Goodbye}
      - {type: not-ends-with, value: cancelled.}
      - {type: not-regex, value: '\\bERROR\\b'}
      - {type: not-is-json}
      - {type: not-contains-json}
      - {type: not-min-length, value: 1000}
      - {type: not-max-length, value: 5}
      - {type: not-word-count, min: 50}
      - {type: not-levenshtein, value: "something else entirely, nothing alike", threshold: 3}
      - {type: not-latency, threshold: 0}
      - {type: not-tokens, threshold: 1}
      - {type: not-python, value: "checks.py:shouts"}
"""

JSON_PASSING = """
      - {type: is-json}
      - {type: contains-json}
      - {type: json-schema, value: {type: object, required: [name, total], properties: {total: {type: integer}}}}
      - {type: equals, value: {name: Ada, total: 42}}
      - {type: not-json-schema, value: {type: object, required: [missing]}}
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, llmops_server: ScriptedLLMServer) -> pytest.Pytester:
    llmops_server.reply(JSON, match="json please")
    llmops_server.reply(TEXT)
    write_prompt(pytester.path, user="{{ who }}")
    write(
        pytester.path / "checks.py",
        """
        def mentions_name(output, context):
            return {"pass": "Ada" in output, "score": 1.0, "reason": "names the customer"}

        def shouts(output, context):
            return output.isupper()
        """,
    )
    body = (
        f"prompt: greeter\nprovider: {{id: openai:gpt-4o-mini, base_url: '{llmops_server.base_url}'}}\n"
        "tests:\n"
        f"  - name: text\n    vars: {{who: Ada}}\n    expected: '{TEXT}'\n    assert:{PASSING}"
        f"  - name: json\n    vars: {{who: json please}}\n    assert:{JSON_PASSING}"
    )
    write(pytester.path / "test_all.llmops.yaml", body)
    return pytester


def test_every_type_and_its_not_form_passes_when_it_should(suite: pytest.Pytester) -> None:
    suite.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    suite.runpytest().assert_outcomes(passed=2)  # and offline


def test_flipping_every_assertion_fails_each_with_its_reason(suite: pytest.Pytester) -> None:
    suite.runpytest("--llmops-record-mode=once").assert_outcomes(passed=2)
    path = suite.path / "test_all.llmops.yaml"
    text = path.read_text()
    # Swap every type for its opposite: all 38 + 5 assertions must now fail.
    flipped = []
    for line in text.splitlines():
        if "- {type: not-" in line:
            line = line.replace("- {type: not-", "- {type: ", 1)
        elif "- {type: " in line:
            line = line.replace("- {type: ", "- {type: not-", 1)
        flipped.append(line)
    path.write_text("\n".join(flipped) + "\n")
    result = suite.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*assertions: 0 passed, 38 failed", "*assertions: 0 passed, 5 failed"])
    result.stdout.fnmatch_lines(["*FAIL not-contains (line *) score=0.00: not: *order #123*"])
