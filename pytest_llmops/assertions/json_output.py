"""Assertions on the output read as JSON: ``is-json``, ``contains-json``, ``json-schema``.

Also the comparison behind ``equals`` with a mapping, list, number or boolean (``equals_json``).
Parsing is strict (``NaN`` and ``Infinity`` are not JSON). ``jsonschema`` is optional: it is
imported only when an assertion uses a schema.

Named ``json_output`` rather than ``json`` so that it never reads as, or is imported in place
of, the standard library's ``json`` (which this module and its tests use).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from ..errors import AssertionConfigError
from ..results import Grade
from ..spec.schema import AssertionSpec
from .config import assertion_type, config_error, described, got
from .reasons import quote, truncate
from .registry import AssertionContext, Check

__all__ = ["equals_json"]

_JSONSCHEMA_HINT = "pip install 'pytest-llmops[jsonschema]'"


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    """Strict JSON: ``NaN`` and ``Infinity`` are rejected."""
    return json.loads(text, parse_constant=_reject_constant)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
_OPENERS = re.compile(r"[\[{]")
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
#: What parsing text that is not JSON raises: deep nesting (``[[[[...``) hits the recursion limit.
_NOT_JSON = (ValueError, RecursionError)
#: Unparseable ``{``/``[`` positions tried before giving up: each try may read to the end of the
#: text, so without a cap a pathological output (``[[[[...``) would take quadratic time.
_MAX_FAILED_OPENERS = 500


# --- finding JSON in the output -------------------------------------------------------------


def _json_candidates(text: str) -> Iterator[tuple[int, Any]]:
    """``(position, value)`` of each JSON object or array in ``text``: fenced blocks first."""
    fenced: list[tuple[int, int]] = []
    for start, end, value in _fenced_json(text):
        fenced.append((start, end))
        yield start, value
    position, failures = 0, 0
    while failures < _MAX_FAILED_OPENERS and (opener := _OPENERS.search(text, position)) is not None:
        span_end = next((end for start, end in fenced if start <= opener.start() < end), None)
        if span_end is not None:  # already parsed as a fenced block
            position = span_end
            continue
        try:
            value, end = _DECODER.raw_decode(text, opener.start())
        except _NOT_JSON:
            position, failures = opener.start() + 1, failures + 1
            continue
        yield opener.start(), value
        position = end


def _first_parse_error(text: str) -> str:
    opener = _OPENERS.search(text)
    if opener is None:
        return "no '{' or '[' in the output"
    try:
        _DECODER.raw_decode(text, opener.start())
    except _NOT_JSON as exc:
        detail = f"the first candidate at char {opener.start()} does not parse: {exc}"
        if len(_OPENERS.findall(text)) > _MAX_FAILED_OPENERS:
            detail += f"; gave up after {_MAX_FAILED_OPENERS} unparseable '{{' or '[' positions"
        return detail
    return ""  # pragma: no cover - only called when no candidate parsed


def _fenced_json(text: str) -> Iterator[tuple[int, int, Any]]:
    """``(start, end, value)`` of each fenced block (```json or bare ```) holding a JSON value."""
    for match in _FENCE.finditer(text):
        if match[1].lower() not in ("", "json", "jsonc", "json5", "javascript", "js"):
            continue
        try:
            value = _loads(match[2])
        except _NOT_JSON:
            continue
        if isinstance(value, (dict, list)):
            yield match.start(2), match.end(2), value


def _fence_hint(text: str) -> str:
    if next(_fenced_json(text), None) is None:
        return ""
    return " (it holds JSON inside a ``` fence: use `contains-json` to accept that)"


# --- comparing JSON values ------------------------------------------------------------------


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return json.dumps(value, ensure_ascii=False)


def _json_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{json.dumps(key)}]"


def _json_diff(expected: Any, actual: Any, path: str) -> str | None:
    """The first difference between two JSON values, e.g. ``$.items[0]: expected 3, got 4``."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{path}: expected an object, got {truncate(_json_kind(actual), 80)}"
        for key in expected:
            if key not in actual:
                return f"{path}: missing key {key!r}"
        for key in actual:
            if key not in expected:
                return f"{path}: unexpected key {key!r}"
        for key, item in expected.items():
            found = _json_diff(item, actual[key], _json_path(path, key))
            if found is not None:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{path}: expected an array, got {truncate(_json_kind(actual), 80)}"
        if len(expected) != len(actual):
            return f"{path}: expected {len(expected)} items, got {len(actual)}"
        for index, (want, have) in enumerate(zip(expected, actual, strict=True)):
            found = _json_diff(want, have, _json_path(path, index))
            if found is not None:
                return found
        return None
    numbers = (int, float)
    same = (
        expected == actual
        if isinstance(expected, numbers)
        and isinstance(actual, numbers)
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
        else type(expected) is type(actual) and expected == actual
    )
    if same:
        return None
    want, have = json.dumps(expected, ensure_ascii=False), json.dumps(actual, ensure_ascii=False)
    return f"{path}: expected {truncate(want, 80)}, got {truncate(have, 80)}"


def equals_json(expected: Any) -> Check:
    """The check of ``equals`` with a JSON value: the output parsed, then compared to ``expected``."""
    shown = truncate(json.dumps(expected, ensure_ascii=False), 200)

    def check(ctx: AssertionContext) -> Grade:
        try:
            actual = _loads(ctx.output)
        except _NOT_JSON as exc:
            return Grade(
                False,
                0.0,
                f"expected JSON equal to {shown}; output is not valid JSON ({exc}): {quote(ctx.output)}",
            )
        diff = _json_diff(expected, actual, "$")
        if diff is None:
            return Grade(True, 1.0, f"output JSON equals {shown}")
        return Grade(False, 0.0, f"output JSON differs from the expected value at {diff}")

    return check


# --- schemas --------------------------------------------------------------------------------


def _jsonschema(spec: AssertionSpec) -> Any:
    """The ``jsonschema`` module, imported only when an assertion needs it."""
    try:
        return importlib.import_module("jsonschema")
    except ImportError:
        what = (
            "json-schema assertions need"
            if spec.base_type == "json-schema"
            else f"{spec.base_type} with a schema needs"
        )
        raise AssertionConfigError(f"{what} the jsonschema package: {_JSONSCHEMA_HINT}") from None


@functools.lru_cache(maxsize=64)
def _read_schema_file(path: str, mtime_ns: int) -> Any:
    """A parsed schema file; cached while the file is unchanged (many cases share one schema)."""
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def _schema_source(spec: AssertionSpec, base_dir: Path) -> tuple[Any, str]:
    """The schema in ``value`` (inline or a file relative to the suite) and a name for it."""
    value = spec.value
    if isinstance(value, (dict, bool)):
        return value, "the inline schema"
    example = "value: {type: object, required: [id]} or value: schemas/order.json"
    if not isinstance(value, str) or not value.strip():
        raise config_error(
            spec,
            "`value` must be a JSON schema (a mapping) or the path of a .json/.yaml/.yml schema"
            f" file relative to the suite, e.g. {example}; {got(value)}",
        )
    ref = value.strip().removeprefix("file://")
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise config_error(
            spec,
            f"a schema file must end in .json, .yaml or .yml, e.g. {example}; got {ref!r}",
        )
    if not path.is_file():
        raise config_error(spec, f"schema file {ref!r} not found (looked for {path})")
    try:
        schema = _read_schema_file(str(path), path.stat().st_mtime_ns)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise config_error(spec, f"cannot read schema file {ref!r}: {truncate(detail, 300)}") from None
    if not isinstance(schema, (dict, bool)):
        raise config_error(spec, f"schema file {ref!r} must hold a mapping; it holds {described(schema)}")
    return schema, f"schema file {ref!r}"


_Validate = Callable[[Any], list[str]]


def _schema_validator(spec: AssertionSpec, base_dir: Path) -> _Validate:
    """Load and check the schema now; return a function listing an instance's errors."""
    schema, source = _schema_source(spec, base_dir)
    jsonschema = _jsonschema(spec)
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise config_error(
            spec, f"{source} is not a valid JSON schema: {exc.json_path}: {truncate(exc.message, 200)}"
        ) from None
    validator = validator_cls(schema, format_checker=getattr(validator_cls, "FORMAT_CHECKER", None))

    def errors(instance: Any) -> list[str]:
        found = sorted(validator.iter_errors(instance), key=lambda e: str(e.json_path))
        return [f"{e.json_path}: {truncate(str(e.message), 200)}" for e in found]

    return errors


def _optional_schema(spec: AssertionSpec, base_dir: Path) -> _Validate | None:
    """The validator of the schema in ``value``, or None when no schema is given."""
    return None if spec.value is None else _schema_validator(spec, base_dir)


def _schema_failure(errors: list[str]) -> str:
    shown = "; ".join(errors[:3])
    more = f"; …(+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{len(errors)} schema error{'s' if len(errors) > 1 else ''}: {shown}{more}"


# --- the assertion types --------------------------------------------------------------------


def _whole_json(validate: _Validate | None) -> Check:
    schema_note = " and matches the schema" if validate else ""

    def check(ctx: AssertionContext) -> Grade:
        try:
            value = _loads(ctx.output)
        except _NOT_JSON as exc:
            return Grade(
                False,
                0.0,
                f"output is not valid JSON: {exc}; output: {quote(ctx.output)}{_fence_hint(ctx.output)}",
            )
        if validate is not None:
            errors = validate(value)
            if errors:
                return Grade(False, 0.0, f"output JSON does not match the schema: {_schema_failure(errors)}")
        return Grade(True, 1.0, f"output is valid JSON ({_json_kind(value)[:40]}){schema_note}")

    return check


@assertion_type("is-json", "value")
def _is_json(spec: AssertionSpec, *, base_dir: Path) -> Check:
    return _whole_json(_optional_schema(spec, base_dir))


@assertion_type("json-schema", "value")
def _json_schema(spec: AssertionSpec, *, base_dir: Path) -> Check:
    if spec.value is None:
        raise config_error(
            spec,
            "`value` is required: a JSON schema mapping, e.g. value: {type: object, required: [id]},"
            " or a schema file relative to the suite, e.g. value: schemas/order.json",
        )
    return _whole_json(_schema_validator(spec, base_dir))


@assertion_type("contains-json", "value")
def _contains_json(spec: AssertionSpec, *, base_dir: Path) -> Check:
    validate = _optional_schema(spec, base_dir)

    def check(ctx: AssertionContext) -> Grade:
        first_errors: list[str] | None = None
        count = 0
        for position, value in _json_candidates(ctx.output):
            if not isinstance(value, (dict, list)):
                continue
            count += 1
            errors = validate(value) if validate is not None else []
            if not errors:
                note = " matching the schema" if validate else ""
                shown = truncate(json.dumps(value, ensure_ascii=False), 80)
                return Grade(True, 1.0, f"output contains JSON{note} at char {position}: {shown}")
            if first_errors is None:
                first_errors = errors
        if count and first_errors is not None:
            return Grade(
                False,
                0.0,
                f"output contains {count} JSON value{'s' if count > 1 else ''} but none matches the"
                f" schema; the first has {_schema_failure(first_errors)}",
            )
        return Grade(
            False,
            0.0,
            f"no JSON object or array in the output ({_first_parse_error(ctx.output)});"
            f" output: {quote(ctx.output)}",
        )

    return check
