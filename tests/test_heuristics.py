"""The deterministic assertion types: ``assertions.text``, ``json_output``, ``measure``, ``python``.

Each type is exercised through the registry, as the plugin uses it: ``prepare`` (which runs the
factory, so configuration errors surface there) and ``PreparedAssertion.run`` (which applies
``not-``). Every pass/fail case is also checked in its ``not-`` form.
"""

from __future__ import annotations

import json
import random
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.assertions import config, json_output, measure, reasons
from pytest_llmops.assertions import python as python_types
from pytest_llmops.assertions import text as text_types
from pytest_llmops.assertions.registry import AssertionContext, default_registry
from pytest_llmops.errors import AssertionConfigError
from pytest_llmops.results import AssertionResult, LLMResponse, Usage
from pytest_llmops.spec.schema import AssertionSpec

Runner = Callable[..., AssertionResult]


def response(text: str = "", **fields: Any) -> LLMResponse:
    return LLMResponse(**{"text": text, "provider": "openai:x", "model": "x", **fields})


@pytest.fixture
def run(tmp_path: Path) -> Runner:
    """``run(type, output, response=..., expected=..., vars=..., **spec_fields)``."""

    def _run(
        type_: str,
        output: str = "",
        *,
        response_: LLMResponse | None = None,
        expected: Any = None,
        vars: dict[str, Any] | None = None,
        **fields: Any,
    ) -> AssertionResult:
        prepared = default_registry.prepare(AssertionSpec(type=type_, **fields), base_dir=tmp_path)
        ctx = AssertionContext(
            output=output,
            response=response_ or response(output),
            vars=vars or {},
            expected=expected,
            case_id="suite.llmops.yaml::case",
        )
        return prepared.run(ctx)

    return _run


def config_error(type_: str, base_dir: Path, **fields: Any) -> str:
    with pytest.raises(AssertionConfigError) as info:
        default_registry.prepare(AssertionSpec(type=type_, **fields), base_dir=base_dir)
    return str(info.value)


def test_all_types_are_registered() -> None:
    expected = {
        "equals", "contains", "icontains", "contains-any", "contains-all", "icontains-any",
        "icontains-all", "starts-with", "ends-with", "regex", "is-json", "contains-json",
        "json-schema", "min-length", "max-length", "word-count", "levenshtein", "latency", "ttft", "cost",
        "tokens", "python",
    }  # fmt: skip
    assert expected <= set(default_registry.names())
    assert set(text_types.__all__) == {"levenshtein"}
    assert set(json_output.__all__) == {"equals_json"}
    assert set(measure.__all__) == set()
    assert set(python_types.__all__) == set()
    assert set(reasons.__all__) == {"around", "num", "quote", "quote_tail", "truncate"}
    assert set(config.__all__) == {
        "assertion_type", "config_error", "described", "got", "limit", "nonempty_text", "number",
        "optional_limit", "text_list", "text_value", "whole_number",
    }  # fmt: skip


# --- pass and fail, in both forms ----------------------------------------------------------

PRICE_SCHEMA = {
    "type": "object",
    "required": ["items"],
    "properties": {
        "items": {
            "type": "array",
            "items": {"type": "object", "properties": {"price": {"type": "number", "minimum": 0}}},
        }
    },
}

# (type, spec fields, output, response fields, passed, phrase in the reason)
CASES: list[tuple[str, dict[str, Any], str, dict[str, Any], bool, str]] = [
    ("equals", {"value": "Paris"}, "Paris", {}, True, "output equals 'Paris'"),
    ("equals", {"value": "Paris"}, "Paris\n", {}, False, "differ only in leading/trailing whitespace"),
    ("equals", {"value": "Paris"}, "paris", {}, False, "differ only in letter case"),
    ("equals", {"value": "Paris"}, "London", {}, False, "expected exactly 'Paris'; got 'London'"),
    ("equals", {"value": {"a": 1, "b": [1, 2]}}, '{"b": [1, 2], "a": 1}', {}, True, "JSON equals"),
    ("equals", {"value": {"a": 1, "b": [1, 2]}}, '{"a": 1, "b": [1, 3]}', {}, False,
     "$.b[1]: expected 2, got 3"),
    ("equals", {"value": {"a": 1}}, '{"a": 1, "c": 2}', {}, False, "$: unexpected key 'c'"),
    ("equals", {"value": {"a": 1}}, "not json", {}, False, "output is not valid JSON"),
    ("equals", {"value": [1, 2]}, "[1, 2, 3]", {}, False, "$: expected 2 items, got 3"),
    ("equals", {"value": 42}, "42", {}, True, "JSON equals 42"),
    ("equals", {"value": True}, "1", {}, False, "$: expected true, got 1"),
    ("contains", {"value": "refund"}, "Your refund is ready", {}, True, "at char 5"),
    ("contains", {"value": "refund"}, "Your Refund is ready", {}, False,
     "expected output to contain 'refund'; output: 'Your Refund is ready'"),
    ("contains", {"value": 42}, "order 42 shipped", {}, True, "contains '42'"),
    ("icontains", {"value": "REFUND"}, "Your refund is ready", {}, True, "(ignoring case)"),
    ("icontains", {"value": "straße"}, "STRASSE 5", {}, True, "contains 'straße' (ignoring case)"),
    ("icontains", {"value": "refund"}, "no money back", {}, False, "to contain 'refund' (ignoring case)"),
    ("contains-any", {"value": ["return", "refund"]}, "a refund", {}, True, "contains 'refund'"),
    ("contains-any", {"value": ["return", "refund"]}, "nothing", {}, False,
     "none of 'return', 'refund'"),
    ("contains-all", {"value": ["refund", "order"]}, "refund for order 7", {}, True, "all of"),
    ("contains-all", {"value": ["refund", "order"]}, "a refund", {}, False, "missing 1 of 2: 'order'"),
    ("icontains-any", {"value": ["RETURN", "REFUND"]}, "a refund", {}, True, "'REFUND' (ignoring case)"),
    ("icontains-any", {"value": ["RETURN", "REFUND"]}, "nope", {}, False, "none of"),
    ("icontains-all", {"value": ["Refund", "ORDER"]}, "refund for order", {}, True, "all of"),
    ("icontains-all", {"value": ["Refund", "ORDER"]}, "refund", {}, False,
     "missing 1 of 2 (ignoring case): 'ORDER'"),
    ("starts-with", {"value": "Dear"}, "Dear Ann", {}, True, "starts with 'Dear'"),
    ("starts-with", {"value": "Dear"}, "  Dear Ann", {}, False, "(it does after leading whitespace)"),
    ("starts-with", {"value": "Dear"}, "Hello Ann", {}, False, "it starts with 'Hello Ann'"),
    ("ends-with", {"value": "regards."}, "Best regards.", {}, True, "ends with 'regards.'"),
    ("ends-with", {"value": "regards."}, "Best regards.\n", {}, False, "before trailing whitespace"),
    ("ends-with", {"value": "regards."}, "Cheers", {}, False, "it ends with 'Cheers'"),
    ("regex", {"value": r"^Order #\d+"}, "Order #123 shipped", {}, True, "at char 0: 'Order #123'"),
    ("regex", {"value": r"^Order #\d+"}, "Your Order #123", {}, False,
     "output does not match regex '^Order #\\\\d+'"),
    ("is-json", {}, '{"a": 1}', {}, True, "output is valid JSON (an object)"),
    ("is-json", {}, "[1, 2]", {}, True, "(an array)"),
    ("is-json", {}, "{'a': 1}", {}, False, "output is not valid JSON: Expecting property name"),
    ("is-json", {}, "NaN", {}, False, "NaN is not valid JSON"),
    ("is-json", {}, 'Sure:\n```json\n{"a": 1}\n```', {}, False, "use `contains-json`"),
    ("is-json", {"value": {"type": "object", "required": ["id"]}}, '{"id": 1}', {}, True,
     "matches the schema"),
    ("is-json", {"value": {"type": "object", "required": ["id"]}}, "{}", {}, False,
     "$: 'id' is a required property"),
    ("contains-json", {}, 'Sure:\n```json\n{"a": 1}\n```\nDone.', {}, True, 'JSON at char 14: {"a": 1}'),
    ("contains-json", {}, 'The answer is {"a": [1, {"b": 2}]} - ok', {}, True, "at char 14"),
    ("contains-json", {}, "Just prose, no data.", {}, False, "no JSON object or array in the output"),
    ("contains-json", {}, 'Broken {"a": 1,} here', {}, False, "the first candidate at char 7 does not parse"),
    ("contains-json", {"value": {"type": "object", "required": ["id"]}}, 'a {"x": 1} b {"id": 2}', {},
     True, "matching the schema at char 13"),
    ("contains-json", {"value": {"type": "object", "required": ["id"]}}, 'a {"x": 1} b', {}, False,
     "none matches the schema; the first has 1 schema error: $: 'id' is a required property"),
    ("json-schema", {"value": PRICE_SCHEMA}, '{"items": [{"price": 3}]}', {}, True, "matches the schema"),
    ("json-schema", {"value": PRICE_SCHEMA}, '{"items": [{"price": -3}]}', {}, False,
     "$.items[0].price: -3 is less than the minimum of 0"),
    ("json-schema", {"value": PRICE_SCHEMA}, "no", {}, False, "output is not valid JSON"),
    ("min-length", {"value": 5}, "hello!", {}, True, "output is 6 chars (min 5)"),
    ("min-length", {"value": 5}, "hey", {}, False, "output is 3 chars; expected at least 5"),
    ("max-length", {"threshold": 5}, "hey", {}, True, "(max 5)"),
    ("max-length", {"value": 5, "threshold": 5}, "hello world", {}, False, "11 chars; expected at most 5"),
    ("word-count", {"min": 2, "max": 3}, "two words", {}, True, "2 words (at least 2 and at most 3)"),
    ("word-count", {"min": 2, "max": 3}, "one", {}, False, "1 words; expected at least 2 and at most 3"),
    ("word-count", {"max": 3}, "a b c d", {}, False, "4 words; expected at most 3"),
    ("word-count", {"value": 2}, "a  b\n", {}, True, "exactly 2"),
    ("word-count", {"value": 2}, "a b c", {}, False, "3 words; expected exactly 2"),
    ("levenshtein", {"value": "kitten", "threshold": 3}, "sitting", {}, True,
     "edit distance 3 <= 3 from 'kitten'"),
    ("levenshtein", {"value": "kitten", "threshold": 2}, "sitting", {}, False, "edit distance 3 > 2"),
    ("levenshtein", {"value": "hello"}, "hello", {}, True, "edit distance 0 <= 5"),
    ("latency", {"threshold": 1000}, "x", {"latency_ms": 850.0}, True, "latency 850 ms <= 1000 ms"),
    ("latency", {"threshold": 1000}, "x", {"latency_ms": 1234.0}, False, "latency 1234 ms > 1000 ms"),
    ("latency", {"value": "1000"}, "x", {"latency_ms": 1000.0}, True, "latency 1000 ms <= 1000 ms"),
    ("latency", {"value": 100}, "x", {"latency_ms": 150.0, "replayed": True}, False,
     "(as recorded; replayed from a cassette)"),
    ("ttft", {"threshold": 300}, "x", {"ttft_ms": 120.0}, True, "time to first token 120 ms <= 300 ms"),
    ("ttft", {"value": 300}, "x", {"ttft_ms": 480.0, "replayed": True}, False,
     "time to first token 480 ms > 300 ms (as recorded; replayed from a cassette)"),
    ("cost", {"threshold": 0.01}, "x", {"cost_usd": 0.005}, True, "cost $0.005 <= $0.01"),
    ("cost", {"value": 0.01}, "x", {"cost_usd": 0.0123}, False, "cost $0.0123 > $0.01"),
    ("cost", {"value": 0.01}, "x", {"cost_usd": 0.0}, True, "cost $0 <= $0.01"),
    ("tokens", {"threshold": 100}, "x", {"usage": Usage(50, 30)}, True,
     "total tokens 80 <= 100 (input 50, output 30)"),
    ("tokens", {"value": 100}, "x", {"usage": Usage(90, 30)}, False, "total tokens 120 > 100"),
    ("tokens", {"min": 100, "max": 200}, "x", {"usage": Usage(50, 30)}, False, "total tokens 80 < 100"),
    ("tokens", {"min": 10, "max": 200}, "x", {"usage": Usage(50, 30)}, True, ">= 10 and <= 200"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "fields", "output", "response_fields", "passed", "phrase"),
    CASES,
    ids=[f"{c[0]}-{'pass' if c[4] else 'fail'}-{i}" for i, c in enumerate(CASES)],
)
def test_pass_and_fail_in_both_forms(
    run: Runner,
    type_: str,
    fields: dict[str, Any],
    output: str,
    response_fields: dict[str, Any],
    passed: bool,
    phrase: str,
) -> None:
    resp = response(output, **response_fields)
    result = run(type_, output, response_=resp, **fields)
    assert result.passed is passed, result.reason
    assert phrase in result.reason
    assert result.type == type_
    if passed and type_ != "levenshtein":  # levenshtein scores by similarity even when passing
        assert result.score == 1.0

    negated = run(f"not-{type_}", output, response_=resp, **fields)
    assert negated.passed is (not passed), negated.reason
    assert negated.reason == f"not: {result.reason}"
    assert negated.score == pytest.approx(1.0 - result.score)
    assert negated.type == f"not-{type_}"


def test_contains_json_counts_a_fenced_block_once(run: Runner) -> None:
    schema = {"type": "object", "required": ["id"]}
    fenced = run("contains-json", 'Here:\n```json\n{"x": [1]}\n```\nand {"y": 2}', value=schema)
    assert not fenced.passed
    assert "output contains 2 JSON values but none matches the schema" in fenced.reason
    prose = run("contains-json", 'Here:\n```\n[{"id": 1}]\n```', value={"type": "array"})
    assert prose.passed
    other_language = run("contains-json", '```python\nx = {"a": 1}\n```')
    assert other_language.passed  # not as a fenced block, but the object inside it is still JSON
    # Bounded, not quadratic: each unparseable opener costs one decode, and the search stops at 500.
    decodes = []
    real = json_output._DECODER

    class Counting:
        def raw_decode(self, text: str, at: int) -> tuple[Any, int]:
            decodes.append(at)
            return real.raw_decode(text, at)

    json_output._DECODER = Counting()  # type: ignore[assignment]
    try:
        deep = run("contains-json", "[" * 50_000 + ' {"a": 1}')
    finally:
        json_output._DECODER = real
    assert len(decodes) <= 502
    assert not deep.passed
    assert "gave up after 500 unparseable '{' or '[' positions" in deep.reason


def test_binary_checks_score_zero_on_failure(run: Runner) -> None:
    assert run("contains", "abc", value="z").score == 0.0
    assert run("regex", "abc", value="z").score == 0.0
    assert run("not-contains", "abc", value="z").score == 1.0


def test_graded_scores(run: Runner) -> None:
    assert run("min-length", "hey", value=5).score == pytest.approx(3 / 5)
    assert run("not-min-length", "hey", value=5).score == pytest.approx(2 / 5)
    assert run("max-length", "x" * 20, value=5).score == pytest.approx(5 / 20)
    assert run("word-count", "a b c d", max=2).score == pytest.approx(2 / 4)
    slow = run("latency", "x", response_=response("x", latency_ms=2000.0), threshold=1000)
    assert slow.score == pytest.approx(0.5)
    lev = run("levenshtein", "sitting", value="kitten", threshold=1)
    assert not lev.passed
    assert lev.score == pytest.approx(1 - 3 / 7)


def test_long_output_is_truncated_in_reasons(run: Runner) -> None:
    result = run("contains", "x" * 1000, value="refund")
    assert "…(800 more chars)" in result.reason
    assert len(result.reason) < 300
    tail = run("ends-with", "y" * 500, value="regards.")
    assert "chars before)…" in tail.reason and len(tail.reason) < 200


def test_contains_reports_where_it_matched(run: Runner) -> None:
    text = "a" * 100 + "refund" + "b" * 100
    result = run("contains", text, value="refund")
    assert "at char 100" in result.reason
    assert "refund" in result.reason and len(result.reason) < 150


def test_levenshtein_falls_back_to_expected(run: Runner) -> None:
    assert run("levenshtein", "Paris!", expected="Paris").passed
    result = run("levenshtein", "London", expected="Paris", threshold=1)
    assert not result.passed
    assert "from 'Paris'" in result.reason
    assert run("levenshtein", '{"a": 1}', expected={"a": 1}, threshold=0).passed


def test_levenshtein_without_reference_fails_in_both_forms(run: Runner) -> None:
    result = run("levenshtein", "anything")
    assert not result.passed
    assert "set `value` on the assertion or `expected` on the case" in result.reason
    negated = run("not-levenshtein", "anything")
    assert not negated.passed
    assert "set `value` on the assertion or `expected` on the case" in negated.reason


def test_ttft_without_streaming_fails_in_both_forms(run: Runner) -> None:
    for kind in ("ttft", "not-ttft"):
        result = run(kind, "x", threshold=100)
        assert not result.passed
        assert "set `stream: true` on provider" in result.reason


def test_unpriced_model_fails_in_both_forms(run: Runner) -> None:
    unpriced = response("x", cost_usd=None, model="my-finetune", provider="openai:my-finetune")
    result = run("cost", "x", response_=unpriced, threshold=0.01)
    assert not result.passed
    assert result.score == 0.0
    assert "model 'my-finetune' (openai:my-finetune) is unpriced" in result.reason
    assert "`llmops_prices` ini option" in result.reason
    assert "my-finetune: {input: 0.15, output: 0.60}" in result.reason
    negated = run("not-cost", "x", response_=unpriced, threshold=0.01)
    assert not negated.passed
    assert "is unpriced" in negated.reason


def test_tokens_without_usage_fails_in_both_forms(run: Runner) -> None:
    result = run("tokens", "x", threshold=100)
    assert not result.passed
    assert "reported no token usage" in result.reason
    assert not run("not-tokens", "x", threshold=100).passed


def test_limits_accept_numeric_strings_from_templates(run: Runner) -> None:
    assert run("max-length", "abc", value="10").passed
    assert run("cost", "x", response_=response("x", cost_usd=0.5), value=" 1.5 ").passed


# --- configuration errors ------------------------------------------------------------------

# (type, spec fields, phrases the message must contain)
ERRORS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("regex", {"value": ["a"]}, [
        "regex: `value` must be a regular expression string", "e.g. value: '^Order #\\d+'",
        "got a list",
    ]),
    ("regex", {"value": "("}, [
        "regex: invalid regular expression '(': missing ), unterminated subpattern at position 0",
    ]),
    ("not-regex", {"value": "[a-"}, ["not-regex: invalid regular expression '[a-'"]),
    ("regex", {}, ["got nothing"]),
    ("contains", {}, ["contains: `value` must be a string", "e.g. value: refund", "got nothing"]),
    ("contains", {"value": ["a", "b"]}, ["got a list", "use `contains-any` or `contains-all`"]),
    ("icontains", {"value": ["a"]}, ["use `icontains-any` or `icontains-all`"]),
    ("contains", {"value": ""}, ["empty string, which every output matches"]),
    ("contains", {"value": {"a": 1}}, ["got a mapping"]),
    ("contains", {"value": "x", "threshold": 0.5}, [
        "`threshold` does not apply to this assertion (it uses `value`); remove it",
    ]),
    ("starts-with", {"value": "x", "min": 1}, ["`min` does not apply"]),
    ("contains-any", {"value": "refund"}, [
        "contains-any: `value` must be a list of strings", "e.g. value: [refund, return]",
        "got a string 'refund'", "for a single string use `contains`",
    ]),
    ("icontains-all", {"value": "refund"}, ["for a single string use `icontains`"]),
    ("contains-all", {"value": []}, ["non-empty list of strings", "got an empty list"]),
    ("contains-any", {"value": ["a", None]}, ["`value[1]` must be a non-empty string", "got nothing"]),
    ("contains-any", {"value": ["a", ""]}, ["`value[1]` must be a non-empty string", "got an empty string"]),
    ("equals", {}, ["equals: `value` is required", "e.g. value: 'Paris'"]),
    ("min-length", {}, ["min-length: a limit is required in `threshold` (or `value`)", "e.g. value: 20"]),
    ("min-length", {"value": 2.5}, ["whole number", "got 2.5"]),
    ("max-length", {"value": "abc"}, ["`value` must be a number", "got a string 'abc'"]),
    ("max-length", {"threshold": 10, "value": 20}, [
        "`threshold` (10) and `value` (20) disagree; give the limit once",
    ]),
    ("max-length", {"value": 5, "min": 1}, ["`min` does not apply"]),
    ("word-count", {}, ["give `min` and/or `max`, or `value` for an exact count", "e.g. min: 10"]),
    ("word-count", {"value": 3, "max": 5}, ["either `value`", "not both"]),
    ("word-count", {"min": 5, "max": 2}, ["`min` (5) is greater than `max` (2)"]),
    ("word-count", {"max": 5, "threshold": 1}, ["`threshold` does not apply"]),
    ("levenshtein", {"value": "x", "threshold": -1}, ["largest edit distance allowed", "got -1"]),
    ("levenshtein", {"value": ["x"]}, ["`value` must be a string"]),
    ("latency", {}, ["latency: a limit is required", "threshold: 1000"]),
    ("latency", {"value": -5}, ["must not be negative"]),
    ("latency", {"threshold": 100, "max": 100}, ["`max` does not apply"]),
    ("cost", {"value": [1]}, ["cost: `value` must be a number", "e.g. threshold: 0.01", "got a list"]),
    ("cost", {"value": True}, ["got a boolean"]),
    ("tokens", {}, ["tokens: a limit is required", "min: 10"]),
    ("tokens", {"max": 10, "threshold": 20}, ["`max` (10) and `threshold`/`value` (20) disagree"]),
    ("tokens", {"min": 50, "max": 10}, ["`min` (50) is greater than the maximum (10)"]),
    ("tokens", {"min": -1}, ["must not be negative"]),
    ("json-schema", {}, ["json-schema: `value` is required", "schemas/order.json"]),
    ("json-schema", {"value": 5}, ["must be a JSON schema (a mapping) or the path", "got a number 5"]),
    ("json-schema", {"value": "schema.txt"}, ["must end in .json, .yaml or .yml", "got 'schema.txt'"]),
    ("json-schema", {"value": "missing.json"}, ["schema file 'missing.json' not found (looked for"]),
    ("json-schema", {"value": {"type": 5}}, [
        "json-schema: the inline schema is not a valid JSON schema: $.type:",
    ]),
    ("json-schema", {"value": {"type": "object"}, "threshold": 1}, ["`threshold` does not apply"]),
    ("is-json", {"value": {"properties": {"a": {"minimum": "zero"}}}}, [
        "is-json: the inline schema is not a valid JSON schema: $.properties.a.minimum:",
        "'zero' is not of type 'number'",
    ]),
    ("contains-json", {"value": ["not", "a", "schema"]}, ["must be a JSON schema"]),
    ("python", {}, ["python: `value` must name a function", "checks.refunds:mentions_policy", "got nothing"]),
    ("python", {"value": "no_colon"}, ["must be 'module:function' or 'file.py:function'", "got 'no_colon'"]),
    ("python", {"value": "mod:"}, ["must be 'module:function'"]),
    ("python", {"value": "not a module:fn"}, ["'not a module' is not a module name or a .py file path"]),
    ("python", {"value": "json:dumps", "threshold": 2}, ["`threshold` must be between 0 and 1"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("type_", "fields", "phrases"), ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)]
)
def test_config_errors(tmp_path: Path, type_: str, fields: dict[str, Any], phrases: list[str]) -> None:
    message = config_error(type_, tmp_path, **fields)
    for phrase in phrases:
        assert phrase in message


def test_limit_given_twice_is_fine_when_equal(run: Runner) -> None:
    assert run("max-length", "abc", value=5, threshold=5).passed
    assert run("tokens", "x", response_=response("x", usage=Usage(1, 1)), max=10, threshold=10).passed


# --- json schemas from files ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["order.json", "order.yaml", "order.yml"])
def test_json_schema_from_file(tmp_path: Path, run: Runner, name: str) -> None:
    folder = tmp_path / "schemas"
    folder.mkdir()
    path = folder / name
    if name.endswith(".json"):
        path.write_text(json.dumps(PRICE_SCHEMA), encoding="utf-8")
    else:
        path.write_text(
            "type: object\n"
            "required: [items]\n"
            "properties:\n"
            "  items:\n"
            "    type: array\n"
            "    items:\n"
            "      type: object\n"
            "      properties:\n"
            "        price: {type: number, minimum: 0}\n",
            encoding="utf-8",
        )
    ok = run("json-schema", '{"items": [{"price": 1}]}', value=f"schemas/{name}")
    assert ok.passed, ok.reason
    bad = run("json-schema", '{"items": [{"price": 1}, {"price": -3}], "x": 1}', value=f"schemas/{name}")
    assert not bad.passed
    assert "$.items[1].price: -3 is less than the minimum of 0" in bad.reason
    via_prefix = run("json-schema", '{"items": []}', value=f"file://schemas/{name}")
    assert via_prefix.passed
    absolute = run("not-json-schema", '{"items": "no"}', value=str(path))
    assert absolute.passed
    assert "$.items: 'no' is not of type 'array'" in absolute.reason


def test_json_schema_lists_several_errors(run: Runner) -> None:
    schema = {"type": "object", "required": ["a", "b", "c", "d"]}
    result = run("json-schema", "{}", value=schema)
    assert "4 schema errors:" in result.reason
    assert "(+1 more)" in result.reason


def test_json_schema_file_problems(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json", encoding="utf-8")
    assert "cannot read schema file 'broken.json'" in config_error(
        "json-schema", tmp_path, value="broken.json"
    )
    (tmp_path / "broken.yaml").write_text("a: [1,\n", encoding="utf-8")
    assert "cannot read schema file 'broken.yaml'" in config_error(
        "json-schema", tmp_path, value="broken.yaml"
    )
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n", encoding="utf-8")
    assert "schema file 'list.yaml' must hold a mapping; it holds a list" in config_error(
        "json-schema", tmp_path, value="list.yaml"
    )
    (tmp_path / "invalid.json").write_text('{"type": "nope"}', encoding="utf-8")
    assert "schema file 'invalid.json' is not a valid JSON schema: $.type:" in config_error(
        "json-schema", tmp_path, value="invalid.json"
    )


def test_json_schema_format_is_checked(run: Runner) -> None:
    schema = {"type": "object", "properties": {"ip": {"type": "string", "format": "ipv4"}}}
    assert run("json-schema", '{"ip": "10.0.0.1"}', value=schema).passed
    assert "is not a 'ipv4'" in run("json-schema", '{"ip": "nope"}', value=schema).reason


def test_missing_jsonschema_is_a_config_error(
    tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "jsonschema", None)  # makes `import jsonschema` fail
    message = config_error("json-schema", tmp_path, value={"type": "object"})
    assert message == (
        "json-schema assertions need the jsonschema package: pip install 'pytest-llmops[jsonschema]'"
    )
    assert "is-json with a schema needs the jsonschema package" in config_error(
        "is-json", tmp_path, value={"type": "object"}
    )
    assert "contains-json with a schema needs the jsonschema package" in config_error(
        "not-contains-json", tmp_path, value={"type": "object"}
    )
    assert run("is-json", "{}").passed  # without a schema it is not needed
    assert run("contains-json", "x {} y").passed


# --- python --------------------------------------------------------------------------------

CHECKS = """
from pytest_llmops.results import Grade

def returns_true(output, ctx):
    return True

def returns_false(output, ctx):
    return False

def score(output, ctx):
    return 0.7

def integer_score(output, ctx):
    return 1

def dict_full(output, ctx):
    return {"pass": True, "score": 0.9, "reason": "looks good"}

def dict_score_only(output, ctx):
    return {"score": 0.4}

def dict_pass_only(output, ctx):
    return {"pass": False, "reason": "nope"}

def returns_grade(output, ctx):
    return Grade(True, 0.8, "graded")

def uses_context(output, ctx):
    return ctx.vars["want"] in output and ctx.response.model == "x"

def returns_none(output, ctx):
    pass

def returns_str(output, ctx):
    return "yes"

def out_of_range(output, ctx):
    return 1.5

def unknown_keys(output, ctx):
    return {"passed": True}

def empty_dict(output, ctx):
    return {"reason": "no verdict"}

def pass_not_bool(output, ctx):
    return {"pass": "yes"}

def bad_score(output, ctx):
    return {"score": 7}

def raises(output, ctx):
    raise RuntimeError("boom")

def one_arg(output):
    return True

def flexible(output, *args, **kwargs):
    return True

async def async_check(output, ctx):
    return True

NOT_CALLABLE = 3
"""


@pytest.fixture
def checks_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh importable module holding ``CHECKS``."""
    name = f"llmops_user_checks_{uuid.uuid4().hex[:8]}"
    package = tmp_path / "site"
    package.mkdir()
    (package / f"{name}.py").write_text(CHECKS, encoding="utf-8")
    monkeypatch.syspath_prepend(str(package))
    yield name
    sys.modules.pop(name, None)


@pytest.mark.parametrize(
    ("function", "fields", "passed", "score", "reason"),
    [
        ("returns_true", {}, True, 1.0, "returned True"),
        ("returns_false", {}, False, 0.0, "returned False"),
        ("score", {}, True, 0.7, "returned score 0.7 (>= threshold 0.5)"),
        ("score", {"threshold": 0.8}, False, 0.7, "returned score 0.7 (< threshold 0.8)"),
        ("integer_score", {}, True, 1.0, "returned score 1"),
        ("dict_full", {}, True, 0.9, "looks good"),
        ("dict_score_only", {}, False, 0.4, "returned pass=False, score=0.4"),
        ("dict_score_only", {"threshold": 0.3}, True, 0.4, "returned pass=True, score=0.4"),
        ("dict_pass_only", {}, False, 0.0, "nope"),
        ("returns_grade", {}, True, 0.8, "graded"),
        ("flexible", {}, True, 1.0, "returned True"),
    ],
)
def test_python_return_shapes(
    run: Runner,
    checks_module: str,
    function: str,
    fields: dict[str, Any],
    passed: bool,
    score: float,
    reason: str,
) -> None:
    result = run("python", "out", value=f"{checks_module}:{function}", **fields)
    assert result.passed is passed
    assert result.score == pytest.approx(score)
    assert reason in result.reason
    negated = run("not-python", "out", value=f"{checks_module}:{function}", **fields)
    assert negated.passed is (not passed)
    assert negated.score == pytest.approx(1.0 - score)


def test_python_check_sees_output_and_context(run: Runner, checks_module: str) -> None:
    value = f"{checks_module}:uses_context"
    assert run("python", "a refund", value=value, vars={"want": "refund"}).passed
    assert not run("python", "nothing", value=value, vars={"want": "refund"}).passed


@pytest.mark.parametrize(
    ("function", "phrase"),
    [
        ("returns_none", "returned None (is a `return` missing?)"),
        ("returns_str", "returned str 'yes'; return a bool, a score between 0 and 1, or a dict"),
        ("out_of_range", "returned 1.5; a numeric score must be between 0 and 1"),
        ("unknown_keys", "unknown key(s) 'passed': use `pass`, `score` and/or `reason`"),
        ("empty_dict", "the dict needs `pass` (a bool) and/or `score` (0 to 1)"),
        ("pass_not_bool", "`pass` must be a bool, not str"),
        ("bad_score", "`score` must be a number between 0 and 1, not 7"),
    ],
)
def test_python_unusable_returns_fail_in_both_forms(
    run: Runner, checks_module: str, function: str, phrase: str
) -> None:
    result = run("python", "out", value=f"{checks_module}:{function}")
    assert not result.passed
    assert result.score == 0.0
    assert phrase in result.reason
    assert f"python check '{checks_module}:{function}'" in result.reason
    negated = run("not-python", "out", value=f"{checks_module}:{function}")
    assert not negated.passed
    assert phrase in negated.reason


def test_python_check_that_raises_is_a_failure(run: Runner, checks_module: str) -> None:
    result = run("python", "out", value=f"{checks_module}:raises")
    assert not result.passed
    assert result.reason == "the check raised RuntimeError: boom"
    assert not run("not-python", "out", value=f"{checks_module}:raises").passed


def test_python_module_config_errors(tmp_path: Path, checks_module: str) -> None:
    missing_fn = config_error("python", tmp_path, value=f"{checks_module}:retuns_true")
    assert f"function 'retuns_true' not found in python module '{checks_module}'" in missing_fn
    assert "Did you mean 'returns_true'?" in missing_fn
    assert "is not a function (int)" in config_error(
        "python", tmp_path, value=f"{checks_module}:NOT_CALLABLE"
    )
    assert "is async; write a plain function" in config_error(
        "python", tmp_path, value=f"{checks_module}:async_check"
    )
    one_arg = config_error("python", tmp_path, value=f"{checks_module}:one_arg")
    assert "must accept (output, ctx); its signature is one_arg(output)" in one_arg
    missing_module = config_error("python", tmp_path, value="no_such_llmops_module.sub:fn")
    assert "python module 'no_such_llmops_module.sub' not found" in missing_module
    assert "`pythonpath` ini option" in missing_module


def test_python_module_that_fails_to_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"llmops_broken_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text("import no_such_dependency_xyz\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        message = config_error("python", tmp_path, value=f"{name}:fn")
    finally:
        sys.modules.pop(name, None)
    assert f"importing python module '{name}' failed: ModuleNotFoundError" in message
    assert "no_such_dependency_xyz" in message


def test_python_from_file_path(tmp_path: Path, run: Runner) -> None:
    folder = tmp_path / "checks"
    folder.mkdir()
    (folder / "refunds.py").write_text(CHECKS, encoding="utf-8")
    path_before = list(sys.path)
    assert run("python", "x", value="checks/refunds.py:returns_true").passed
    assert not run("python", "x", value="checks/refunds.py:returns_false").passed
    assert run("python", "x", value=f"{folder / 'refunds.py'}:score").passed  # absolute path
    assert sys.path == path_before  # only the named file is imported; sys.path is untouched
    assert not any(m.endswith(".refunds") or m == "refunds" for m in sys.modules)


def test_python_files_with_the_same_name_stay_apart(tmp_path: Path, run: Runner) -> None:
    for folder, answer in (("a", "True"), ("b", "False")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "check.py").write_text(
            f"def fn(output, ctx):\n    return {answer}\n", encoding="utf-8"
        )
    assert run("python", "x", value="a/check.py:fn").passed
    assert not run("python", "x", value="b/check.py:fn").passed


def test_python_file_config_errors(tmp_path: Path) -> None:
    assert "python file 'nope.py' not found (looked for" in config_error(
        "python", tmp_path, value="nope.py:fn"
    )
    (tmp_path / "checks.txt").write_text("", encoding="utf-8")
    assert "must end in .py" in config_error("python", tmp_path, value="./checks.txt:fn")
    (tmp_path / "boom.py").write_text("1 / 0\n", encoding="utf-8")
    assert "importing python file 'boom.py' failed: ZeroDivisionError: division by zero" in (
        config_error("python", tmp_path, value="boom.py:fn")
    )
    (tmp_path / "syntax.py").write_text("def fn(:\n", encoding="utf-8")
    assert "importing python file 'syntax.py' failed: SyntaxError" in config_error(
        "python", tmp_path, value="syntax.py:fn"
    )
    (tmp_path / "ok.py").write_text("def check(output, ctx):\n    return True\n", encoding="utf-8")
    missing = config_error("python", tmp_path, value="ok.py:chek")
    assert "function 'chek' not found in python file 'ok.py'. Did you mean 'check'?" in missing


# --- helpers -------------------------------------------------------------------------------


def test_truncate() -> None:
    assert reasons.truncate("abc") == "abc"
    assert reasons.truncate("abc", 3) == "abc"
    assert reasons.truncate("abcdef", 3) == "abc…(3 more chars)"
    long = "a" * 1434
    assert reasons.truncate(long) == "a" * 200 + "…(1234 more chars)"
    assert reasons.truncate("abc", 0) == "…(3 more chars)"
    with pytest.raises(ValueError, match="limit must be >= 0"):
        reasons.truncate("abc", -1)


def _naive_levenshtein(a: str, b: str) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i
    for j in range(len(b) + 1):
        table[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[len(a)][len(b)]


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("abc", "abc", 0),
        ("abcdef", "azcdeg", 2),
        ("aaaa", "aa", 2),
        ("héllo wörld", "hello world", 2),
    ],
)
def test_levenshtein_known_values(a: str, b: str, distance: int) -> None:
    assert text_types.levenshtein(a, b) == distance
    assert text_types.levenshtein(b, a) == distance


def test_levenshtein_matches_the_full_table() -> None:
    rng = random.Random(1234)
    for _ in range(2000):
        a = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 16)))
        b = "".join(rng.choice("abcé ") for _ in range(rng.randint(0, 16)))
        assert text_types.levenshtein(a, b) == _naive_levenshtein(a, b), (a, b)
    for size in (63, 64, 65, 150):  # around machine-word sizes of the bit vectors
        a = "".join(rng.choice("ab") for _ in range(size))
        b = "".join(rng.choice("ab") for _ in range(size - 9))
        assert text_types.levenshtein(a, b) == _naive_levenshtein(a, b), (a, b)


def _table_distance(a: str, b: str) -> int:
    """The textbook dynamic-programming edit distance: the reference the fast one must equal."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def test_levenshtein_equals_the_textbook_table_on_long_and_random_texts() -> None:
    # The bit-parallel algorithm (linear in practice: see benchmarks/) must agree with the table.
    text = "The quick brown fox jumps over the lazy dog. " * 400  # 18,000 chars
    edited = text[:9000] + "X" + text[9001:]
    assert text_types.levenshtein(text, edited) == 1
    rng = random.Random(7)
    for _ in range(40):
        a = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 150)))
        b = "".join(rng.choice("abc ") for _ in range(rng.randint(0, 150)))
        assert text_types.levenshtein(a, b) == _table_distance(a, b), (a, b)
