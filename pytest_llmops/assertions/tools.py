"""Assertions on a model's tool calls: ``is-valid-openai-tools-call``, ``tool-call-f1``, ``tool-called``.

Tool calls are read from OpenAI's ``tool_calls`` and Anthropic's ``tool_use`` blocks alike
(``LLMResponse.tool_calls``). The declared tools come from the assertion's ``value`` (a list, or
``file://tools.json``) or else from the ``tools`` the call was sent with (prompt file, provider
or the case's ``options``), in OpenAI's form (``{type: function, function: {name, parameters}}``)
or Anthropic's (``{name, input_schema}``). Checking arguments against a tool's schema needs the
``jsonschema`` extra.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import AssertionConfigError, CannotGrade, SuiteError
from ..results import Grade, ToolCall
from ..spec.files import file_ref, load_value_file
from ..spec.schema import AssertionSpec
from .config import assertion_type, config_error, described, got, number
from .reasons import truncate
from .registry import AssertionContext, Check

__all__ = ["declared_tools"]

_JSONSCHEMA_HINT = "pip install 'pytest-llmops[jsonschema]'"


def declared_tools(tools: Any) -> dict[str, Mapping[str, Any]]:
    """``{name: parameters schema}`` of tools in OpenAI's or Anthropic's form."""
    out: dict[str, Mapping[str, Any]] = {}
    if not isinstance(tools, list):
        return out
    for tool in tools:
        if not isinstance(tool, Mapping):
            continue
        function = tool.get("function")
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            params = function.get("parameters")
            out[function["name"]] = params if isinstance(params, Mapping) else {}
        elif isinstance(tool.get("name"), str):
            schema = tool.get("input_schema")
            out[tool["name"]] = schema if isinstance(schema, Mapping) else {}
    return out


def _calls(calls: Sequence[ToolCall]) -> str:
    return ", ".join(f"{c.name}({truncate(c.raw_arguments, 60)})" for c in calls) or "none"


# --- is-valid-openai-tools-call -------------------------------------------------------------


def _tools_value(spec: AssertionSpec, base_dir: Path) -> Any:
    value = spec.value
    ref = file_ref(value)
    if ref is not None:
        try:
            value = load_value_file(ref, base_dir, what="`value`")
        except SuiteError as exc:
            raise config_error(spec, exc.bare_message) from None
    if value is not None and (not isinstance(value, list) or not declared_tools(value)):
        raise config_error(
            spec,
            "`value` is the declared tools: a list in OpenAI's form ({type: function, function:"
            " {name, parameters}}) or a file, e.g. value: file://tools.json; or leave it out to use"
            f" the `tools` the case was sent with; {got(value)}",
        )
    return value


@assertion_type("is-valid-openai-tools-call", "value")
def _valid_tools_call(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Every tool call names a declared tool, with arguments that match its schema."""
    given = _tools_value(spec, base_dir)
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        raise AssertionConfigError(
            f"{spec.type} checks arguments against the tools' schemas and needs the jsonschema"
            f" package: {_JSONSCHEMA_HINT}"
        ) from None

    def check(ctx: AssertionContext) -> Grade:
        tools = declared_tools(given if given is not None else ctx.params.get("tools"))
        if not tools:
            raise CannotGrade(
                f"{spec.type}: no tools are declared: give them as `value`, or send them with the"
                " call (`tools:` in the prompt file, the provider or the case's `options:`)"
            )
        calls = ctx.response.tool_calls
        if not calls:
            return Grade(False, 0.0, f"the model called no tool (declared: {', '.join(tools)})")
        problems: list[str] = []
        for call in calls:
            if call.name not in tools:
                problems.append(f"{call.name!r} is not a declared tool ({', '.join(tools)})")
                continue
            if call.arguments is None:
                problems.append(
                    f"{call.name}: the arguments are not a JSON object: {truncate(call.raw_arguments, 80)}"
                )
                continue
            schema = dict(tools[call.name]) or {"type": "object"}
            validator_cls = jsonschema.validators.validator_for(schema)
            errors = sorted(
                validator_cls(schema).iter_errors(dict(call.arguments)), key=lambda e: str(e.json_path)
            )
            problems.extend(f"{call.name}: {e.json_path}: {truncate(e.message, 120)}" for e in errors[:3])
        if problems:
            return Grade(False, 0.0, f"invalid tool call: {'; '.join(problems)}")
        return Grade(
            True, 1.0, f"{len(calls)} valid tool call{'s' if len(calls) > 1 else ''}: {_calls(calls)}"
        )

    return check


# --- tool-call-f1 ---------------------------------------------------------------------------


def _names(spec: AssertionSpec, value: Any) -> list[str]:
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise config_error(
            spec,
            f"`value` is the tools expected to be called, e.g. value: [get_weather, get_time]; {got(value)}",
        )
    return value


@assertion_type("tool-call-f1", "value", "threshold")
def _tool_call_f1(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """F1 of the set of tools called against the set expected (``value``, else ``expected``)."""
    expected_names = None if spec.value is None else _names(spec, spec.value)
    threshold = 1.0
    if spec.threshold is not None:
        threshold = number(spec, spec.threshold, "threshold", "threshold: 0.8")
        if not 0.0 <= threshold <= 1.0:
            raise config_error(
                spec, f"`threshold` is an F1 score from 0 to 1, e.g. threshold: 0.8; got {threshold:g}"
            )

    def check(ctx: AssertionContext) -> Grade:
        names = expected_names
        if names is None:
            if ctx.expected is None:
                raise CannotGrade(
                    "tool-call-f1: no expected tools: set `value` on the assertion or `expected` on the case"
                )
            names = _names(spec, ctx.expected)
        wanted = set(names)
        called = {c.name for c in ctx.response.tool_calls}
        hits = len(wanted & called)
        precision = hits / len(called) if called else 0.0
        recall = hits / len(wanted)
        f1 = 2 * precision * recall / (precision + recall) if hits else 0.0
        passed = f1 >= threshold
        reason = (
            f"tool-call F1 {f1:.2f} {'>=' if passed else '<'} {threshold:g} (precision {precision:.2f},"
            f" recall {recall:.2f}); expected {sorted(wanted)}, called {sorted(called)}"
        )
        return Grade(passed, f1, reason)

    return check


# --- tool-called ----------------------------------------------------------------------------


def _matches(expected: Any, actual: Any) -> bool:
    """``expected`` is found in ``actual``: mappings by their given keys, everything else equal."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items()
        )
    if (
        isinstance(expected, (int, float))
        and isinstance(actual, (int, float))
        and not isinstance(actual, bool)
    ):
        return bool(expected == actual)
    return bool(type(expected) is type(actual) and expected == actual)


@assertion_type("tool-called", "value")
def _tool_called(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """The model called the tool named in ``value`` (a name, or ``{name, arguments}``)."""
    value = spec.value
    example = "value: get_weather, or value: {name: get_weather, arguments: {city: Paris}}"
    if isinstance(value, str) and value.strip():
        name, arguments = value.strip(), None
    elif (
        isinstance(value, Mapping)
        and isinstance(value.get("name"), str)
        and set(value) <= {"name", "arguments"}
    ):
        name, arguments = value["name"], value.get("arguments")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise config_error(
                spec, f"`value.arguments` must be a mapping of the arguments to match, e.g. {example}"
            )
        arguments = json.loads(json.dumps(arguments, default=str)) if arguments is not None else None
    else:
        raise config_error(spec, f"`value` names the tool, e.g. {example}; got {described(value)}")

    def check(ctx: AssertionContext) -> Grade:
        calls = ctx.response.tool_calls
        same_name = [c for c in calls if c.name == name]
        if not same_name:
            return Grade(False, 0.0, f"no call of tool {name!r}; calls: {_calls(calls)}")
        if arguments is None:
            return Grade(True, 1.0, f"called {name!r}: {_calls(same_name)}")
        for call in same_name:
            if _matches(arguments, call.arguments):
                return Grade(
                    True,
                    1.0,
                    f"called {name!r} with {truncate(json.dumps(arguments), 100)}: {_calls([call])}",
                )
        return Grade(
            False,
            0.0,
            f"{name!r} was called, but never with {truncate(json.dumps(arguments), 100)};"
            f" calls: {_calls(same_name)}",
        )

    return check
