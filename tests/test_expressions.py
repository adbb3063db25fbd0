"""Inline Python expressions (python checks, transforms) can read the case and nothing else:
no imports, no dunders, no frames, bounded sizes; mistakes are collection errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmops.assertions.expressions import ExpressionError, compile_expression
from pytest_llmops.assertions.registry import AssertionContext, default_registry
from pytest_llmops.assertions.transforms import compile_transform
from pytest_llmops.errors import AssertionConfigError
from pytest_llmops.results import LLMResponse
from pytest_llmops.spec.schema import AssertionSpec

NAMES = frozenset({"output", "vars", "expected", "context"})


def evaluate(source: str, **values: Any) -> Any:
    return compile_expression(source, NAMES).evaluate(values)


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        ("len(output) < 200", {"output": "short"}, True),
        ('json.loads(output)["country"] == "FR"', {"output": '{"country": "FR"}'}, True),
        ("re.search(r'order #\\d+', output) is not None", {"output": "order #12"}, True),
        ("math.isclose(float(output), 3.14, abs_tol=0.01)", {"output": "3.141"}, True),
        ("vars['who'] in output", {"output": "Hi Ada", "vars": {"who": "Ada"}}, True),
        ("sum(1 for w in output.split() if w.istitle())", {"output": "Hi Ada and Bob"}, 3),
        ("[x * 2 for x in range(3)]", {}, [0, 2, 4]),
        ("f'{output!r:>5}'", {"output": "a"}, "  'a'"),
        ("max(0, min(1, 1 - (len(output) - 100) / 900))", {"output": "x" * 550}, 0.5),
        ("sorted(vars, key=lambda k: -len(k))[0]", {"vars": {"a": 1, "bbb": 2}}, "bbb"),
        ("context['vars']['who']", {"context": {"vars": {"who": "Ada"}}}, "Ada"),
    ],
)
def test_what_an_expression_may_do(source: str, values: dict[str, Any], expected: Any) -> None:
    assert evaluate(source, **values) == expected


@pytest.mark.parametrize(
    ("source", "phrase"),
    [
        ("__import__('os').system('true')", "the name `__import__` is not allowed"),
        ("output.__class__", "the attribute `.__class__` is not allowed"),
        ("(x for x in []).gi_frame", "the attribute `.gi_frame` is not allowed"),
        ("(x for x in []).gi_frame.f_globals", "is not allowed"),
        ("'{0.__class__}'.format(output)", "the attribute `.format` is not allowed"),
        ("str.mro()", "the attribute `.mro` is not allowed"),
        ("open('/etc/passwd').read()", "unknown name `open`"),
        ("getattr(output, 'upper')()", "unknown name `getattr`"),
        ("eval('1')", "unknown name `eval`"),
        ("import os", "one Python expression, not statements"),
        ("x = len(output)", "one Python expression, not statements"),
        ("len(output) <", "not a Python expression"),
        ("[_ for _ in output]", "the name `_` is not allowed"),
        ("f'{output:>100000000}'", "a width of a million characters"),
        ("", "the expression is empty"),
    ],
)
def test_what_an_expression_may_not_do(source: str, phrase: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source, NAMES)
    assert phrase in str(info.value)


@pytest.mark.parametrize(
    "source", ["'x' * 10**9", "10 ** 10 ** 10", "1 << 10**10", "[1] * 10**8", "sum(range(10**8))"]
)
def test_sizes_are_bounded(source: str) -> None:
    with pytest.raises(OverflowError):
        evaluate(source)


def test_the_modules_are_namespaces_of_functions_not_the_modules() -> None:
    with pytest.raises(AttributeError):
        evaluate("json.codecs")  # the real module would reach `codecs.open`


def _context(output: str, **fields: Any) -> AssertionContext:
    return AssertionContext(output=output, response=LLMResponse(output, "p", "m"), **fields)


def test_the_context_reads_as_attributes_and_items() -> None:
    ctx = _context("hi", vars={"who": "Ada"}, expected="hello")
    assert ctx["vars"] is ctx.vars and ctx["expected"] == "hello" and ctx["output"] == "hi"
    assert ctx.get("nope") is None and "vars" in ctx and "test" not in ctx
    with pytest.raises(KeyError, match="the context holds output, value, vars"):
        ctx["test"]


def _run(type_: str, output: str, tmp_path: Path, **fields: Any) -> Any:
    prepared = default_registry.prepare(AssertionSpec(type=type_, **fields), base_dir=tmp_path)
    return prepared.run(_context(output, vars={"want": "FR"}))


def test_python_checks_take_expressions_and_references(tmp_path: Path) -> None:
    assert _run(
        "python", '{"country": "FR"}', tmp_path, value='json.loads(output)["country"] == vars["want"]'
    ).passed
    assert not _run(
        "python", '{"country": "DE"}', tmp_path, value='json.loads(output)["country"] == "FR"'
    ).passed
    assert _run("not-python", "x" * 300, tmp_path, value="len(output) < 200").passed
    (tmp_path / "checks.py").write_text("def get_assert(output, context):\n    return output == 'ok'\n")
    assert _run("python", "ok", tmp_path, value="file://checks.py").passed  # promptfoo's default name
    failed = _run("python", "not json", tmp_path, value="json.loads(output)['a'] == 1")
    assert not failed.passed and "the check raised JSONDecodeError" in failed.reason


def test_a_bad_expression_is_a_config_error_naming_both_forms(tmp_path: Path) -> None:
    with pytest.raises(AssertionConfigError) as info:
        default_registry.prepare(AssertionSpec(type="python", value="len(outptu) < 3"), base_dir=tmp_path)
    message = str(info.value)
    assert "`value` must be 'module:function' or 'file.py:function'" in message
    assert "or a one-line Python expression" in message and "unknown name `outptu`" in message


def test_transforms_are_expressions_or_functions(tmp_path: Path) -> None:
    ctx = _context("  Answer: Paris ", vars={})
    assert (
        compile_transform("output.strip().removeprefix('Answer: ')", tmp_path).apply(ctx.output, ctx)
        == "Paris"
    )
    (tmp_path / "clean.py").write_text("def upper(output, context):\n    return output.strip().upper()\n")
    assert compile_transform("clean.py:upper", tmp_path).apply(ctx.output, ctx) == "ANSWER: PARIS"


def test_an_assertion_transform_that_raises_fails_it_in_both_forms(tmp_path: Path) -> None:
    for type_ in ("contains", "not-contains"):
        result = _run(type_, "not json", tmp_path, value="x", transform="json.loads(output)")
        assert not result.passed
        assert "transform 'json.loads(output)' raised JSONDecodeError" in result.reason
