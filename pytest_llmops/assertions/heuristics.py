"""Deterministic assertions: text matching, JSON, lengths, edit distance, budgets, Python checks.

Every factory here validates its configuration once, at collection, and raises
``AssertionConfigError`` with what was expected, what was given and an example; the check it
returns only grades. ``not-`` is applied by ``PreparedAssertion``, so checks never see it, except
that a check which *cannot* reach a verdict (an unpriced model under ``cost``, a ``python`` check
returning something unusable) must not turn into a pass under ``not-``: see ``CannotGrade``.

Types: ``equals``, ``contains``, ``icontains``, ``contains-any``, ``contains-all``,
``icontains-any``, ``icontains-all``, ``starts-with``, ``ends-with``, ``regex``, ``is-json``,
``contains-json``, ``json-schema``, ``min-length``, ``max-length``, ``word-count``,
``levenshtein``, ``latency``, ``cost``, ``tokens`` and ``python``.

``jsonschema`` is optional: it is imported only when an assertion uses a schema.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import json
import math
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from ..errors import AssertionConfigError, CannotGrade
from ..results import Grade
from ..spec.schema import AssertionSpec
from ..spec.validation import suggest
from .registry import AssertionContext, Check, register_assertion

__all__ = ["levenshtein", "truncate"]

_JSONSCHEMA_HINT = "pip install 'pytest-llmops[jsonschema]'"
_SETTINGS = ("value", "threshold", "min", "max")


# --- shared helpers -------------------------------------------------------------------------


def truncate(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, followed by a marker saying how many were cut.

    >>> truncate("abcdef", 3)
    'abc…(3 more chars)'
    """
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…({len(text) - limit} more chars)"


def _quote(text: str, limit: int = 200) -> str:
    """``text`` quoted for a reason (newlines escaped), truncated with the marker outside quotes."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}…({len(text) - limit} more chars)"


def _quote_tail(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, quoted, with a marker for what comes before."""
    if len(text) <= limit:
        return repr(text)
    return f"({len(text) - limit} chars before)…{text[-limit:]!r}" if limit else "…"


def _around(text: str, start: int, length: int, context: int = 30) -> str:
    """A quoted window of ``text`` around ``text[start:start + length]``."""
    lo, hi = max(0, start - context), min(len(text), start + length + context)
    return ("…" if lo else "") + repr(text[lo:hi]) + ("…" if hi < len(text) else "")


def _num(x: float) -> str:
    """A limit for a message: ``1000`` rather than ``1000.0``."""
    return f"{x:g}" if x != int(x) or abs(x) >= 1e15 else str(int(x))


def _usd(x: float) -> str:
    if 0 < abs(x) < 1e-6:
        return f"${x:.2e}"
    return "$" + (f"{x:.6f}".rstrip("0").rstrip(".") or "0")


def _got(value: Any) -> str:
    """``got a list ['a', 'b']``: what the user wrote, for a config error."""
    if value is None:
        return "got nothing"
    kinds: dict[type, str] = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
    }
    kind = kinds.get(type(value), f"a {type(value).__name__}")
    return f"got {kind} {truncate(repr(value), 60)}"


def _error(spec: AssertionSpec, message: str) -> AssertionConfigError:
    return AssertionConfigError(f"{spec.type}: {message}")


def _only(spec: AssertionSpec, *used: str) -> None:
    """Reject settings the type ignores, so a misplaced key is an error rather than a no-op."""
    for name in _SETTINGS:
        if name not in used and getattr(spec, name) is not None:
            uses = ", ".join(f"`{u}`" for u in used) if used else "none of value/threshold/min/max"
            raise _error(spec, f"`{name}` does not apply to this assertion (it uses {uses}); remove it")


def _text(spec: AssertionSpec, example: str, hint: str = "") -> str:
    """``value`` as a string; numbers are accepted as their text (``value: 42`` means ``"42"``)."""
    value = spec.value
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    extra = hint if isinstance(value, list) and hint else ""
    raise _error(spec, f"`value` must be a string, e.g. {example}; {_got(value)}{extra}")


def _nonempty_text(spec: AssertionSpec, example: str, hint: str = "") -> str:
    text = _text(spec, example, hint)
    if not text:
        raise _error(spec, f"`value` is an empty string, which every output matches; e.g. {example}")
    return text


def _text_list(spec: AssertionSpec, example: str, hint: str) -> list[str]:
    value = spec.value
    if isinstance(value, str):
        raise _error(spec, f"`value` must be a list of strings, e.g. {example}; {_got(value)}{hint}")
    if not isinstance(value, list) or not value:
        what = "an empty list" if value == [] else _got(value).removeprefix("got ")
        raise _error(spec, f"`value` must be a non-empty list of strings, e.g. {example}; got {what}")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            what = "an empty string" if item == "" else _got(item).removeprefix("got ")
            raise _error(spec, f"`value[{index}]` must be a non-empty string, e.g. {example}; got {what}")
        out.append(item)
    return out


def _number(spec: AssertionSpec, raw: Any, field: str, example: str) -> float:
    """A finite number from ``raw``; numeric strings (e.g. a rendered template) are accepted."""
    number: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        number = float(raw)
    elif isinstance(raw, str):
        try:
            number = float(raw.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise _error(spec, f"`{field}` must be a number, e.g. {example}; {_got(raw)}")
    return number


def _limit(spec: AssertionSpec, example: str, *, required: bool = True) -> float | None:
    """The limit given as ``threshold`` or ``value`` (both is fine only when they agree)."""
    given: dict[str, float] = {}
    if spec.threshold is not None:
        given["threshold"] = _number(spec, spec.threshold, "threshold", example)
    if spec.value is not None:
        given["value"] = _number(spec, spec.value, "value", example)
    if len(given) == 2 and given["threshold"] != given["value"]:
        raise _error(
            spec,
            f"`threshold` ({_num(given['threshold'])}) and `value` ({_num(given['value'])}) disagree;"
            f" give the limit once, e.g. {example}",
        )
    if not given:
        if required:
            raise _error(spec, f"a limit is required in `threshold` (or `value`), e.g. {example}")
        return None
    limit = next(iter(given.values()))
    if limit < 0:
        raise _error(spec, f"the limit must not be negative, e.g. {example}; got {_num(limit)}")
    return limit


def _count(spec: AssertionSpec, number: float, field: str, example: str) -> int:
    if number < 0 or number != int(number):
        raise _error(spec, f"`{field}` must be a whole number >= 0, e.g. {example}; got {_num(number)}")
    return int(number)


def _cannot_grade(spec: AssertionSpec, reason: str) -> Grade:
    # A check with no verdict fails, with or without `not-` (PreparedAssertion sees to that).
    raise CannotGrade(reason)


# --- string matching ------------------------------------------------------------------------

_PLURAL_HINT = " (for several strings use `{base}-any` or `{base}-all`)"


@register_assertion("equals")
def _equals(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Exact equality; a mapping, list, number or boolean compares the output parsed as JSON."""
    _only(spec, "value")
    value = spec.value
    if value is None:
        raise _error(
            spec,
            "`value` is required: the exact expected output, e.g. value: 'Paris'"
            " (a mapping or list compares the output parsed as JSON)",
        )
    if isinstance(value, str):
        return _equals_text(value)
    if isinstance(value, (dict, list, int, float, bool)):
        try:  # normalise YAML-only values: non-string keys, dates -> their text
            expected = json.loads(json.dumps(value, default=str))
        except (TypeError, ValueError) as exc:
            raise _error(spec, f"`value` cannot be compared as JSON: {exc}") from None
        return _equals_json(expected)
    raise _error(spec, f"`value` must be a string or a JSON value, e.g. value: 'Paris'; {_got(value)}")


def _equals_text(expected: str) -> Check:
    def check(ctx: AssertionContext) -> Grade:
        output = ctx.output
        if output == expected:
            return Grade(True, 1.0, f"output equals {_quote(expected)}")
        hint = ""
        if output.strip() == expected.strip():
            hint = " (they differ only in leading/trailing whitespace)"
        elif output.casefold() == expected.casefold():
            hint = " (they differ only in letter case)"
        return Grade(False, 0.0, f"expected exactly {_quote(expected)}; got {_quote(output)}{hint}")

    return check


def _equals_json(expected: Any) -> Check:
    shown = truncate(json.dumps(expected, ensure_ascii=False), 200)

    def check(ctx: AssertionContext) -> Grade:
        try:
            actual = _loads(ctx.output)
        except (ValueError, RecursionError) as exc:
            return Grade(
                False,
                0.0,
                f"expected JSON equal to {shown}; output is not valid JSON ({exc}): {_quote(ctx.output)}",
            )
        diff = _json_diff(expected, actual, "$")
        if diff is None:
            return Grade(True, 1.0, f"output JSON equals {shown}")
        return Grade(False, 0.0, f"output JSON differs from the expected value at {diff}")

    return check


def _substring(spec: AssertionSpec, *, fold: bool) -> Check:
    needle = _nonempty_text(spec, "value: refund", _PLURAL_HINT.format(base=spec.base_type))
    key = needle.casefold() if fold else needle
    how = " (ignoring case)" if fold else ""

    def check(ctx: AssertionContext) -> Grade:
        haystack = ctx.output.casefold() if fold else ctx.output
        at = haystack.find(key)
        if at < 0:
            return Grade(
                False, 0.0, f"expected output to contain {needle!r}{how}; output: {_quote(ctx.output)}"
            )
        where = ""
        if len(haystack) == len(ctx.output):  # casefold() may change lengths (ß -> ss)
            where = f" at char {at}: {_around(ctx.output, at, len(needle))}"
        return Grade(True, 1.0, f"output contains {needle!r}{how}{where}")

    return check


@register_assertion("contains")
def _contains(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substring(spec, fold=False)


@register_assertion("icontains")
def _icontains(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substring(spec, fold=True)


def _substrings(spec: AssertionSpec, *, fold: bool, need_all: bool) -> Check:
    single = "icontains" if fold else "contains"
    needles = _text_list(spec, "value: [refund, return]", f" (for a single string use `{single}`)")
    keys = [n.casefold() if fold else n for n in needles]
    how = " (ignoring case)" if fold else ""
    listed = ", ".join(repr(n) for n in needles)

    def check(ctx: AssertionContext) -> Grade:
        haystack = ctx.output.casefold() if fold else ctx.output
        found = [n for n, k in zip(needles, keys, strict=True) if k in haystack]
        missing = [n for n, k in zip(needles, keys, strict=True) if k not in haystack]
        if need_all:
            if not missing:
                return Grade(True, 1.0, f"output contains all of {listed}{how}")
            return Grade(
                False,
                0.0,
                f"output is missing {len(missing)} of {len(needles)}{how}: "
                f"{', '.join(repr(m) for m in missing)}; output: {_quote(ctx.output)}",
            )
        if found:
            return Grade(True, 1.0, f"output contains {', '.join(repr(f) for f in found)}{how}")
        return Grade(False, 0.0, f"output contains none of {listed}{how}; output: {_quote(ctx.output)}")

    return check


@register_assertion("contains-any")
def _contains_any(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substrings(spec, fold=False, need_all=False)


@register_assertion("contains-all")
def _contains_all(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substrings(spec, fold=False, need_all=True)


@register_assertion("icontains-any")
def _icontains_any(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substrings(spec, fold=True, need_all=False)


@register_assertion("icontains-all")
def _icontains_all(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    return _substrings(spec, fold=True, need_all=True)


@register_assertion("starts-with")
def _starts_with(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    prefix = _nonempty_text(spec, "value: 'Dear customer'")

    def check(ctx: AssertionContext) -> Grade:
        if ctx.output.startswith(prefix):
            return Grade(True, 1.0, f"output starts with {prefix!r}")
        hint = " (it does after leading whitespace)" if ctx.output.lstrip().startswith(prefix) else ""
        return Grade(
            False,
            0.0,
            f"expected output to start with {prefix!r}; it starts with "
            f"{_quote(ctx.output, len(prefix) + 20)}{hint}",
        )

    return check


@register_assertion("ends-with")
def _ends_with(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    suffix = _nonempty_text(spec, "value: 'Best regards.'")

    def check(ctx: AssertionContext) -> Grade:
        if ctx.output.endswith(suffix):
            return Grade(True, 1.0, f"output ends with {suffix!r}")
        hint = " (it does before trailing whitespace)" if ctx.output.rstrip().endswith(suffix) else ""
        return Grade(
            False,
            0.0,
            f"expected output to end with {suffix!r}; it ends with "
            f"{_quote_tail(ctx.output, len(suffix) + 20)}{hint}",
        )

    return check


@register_assertion("regex")
def _regex(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    value = spec.value
    if not isinstance(value, str) or not value:
        what = "an empty string" if value == "" else _got(value).removeprefix("got ")
        raise _error(
            spec, f"`value` must be a regular expression string, e.g. value: '^Order #\\d+'; got {what}"
        )
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise _error(spec, f"invalid regular expression {value!r}: {exc}") from None

    def check(ctx: AssertionContext) -> Grade:
        match = pattern.search(ctx.output)
        if match is None:
            return Grade(False, 0.0, f"output does not match regex {value!r}; output: {_quote(ctx.output)}")
        return Grade(
            True, 1.0, f"output matches regex {value!r} at char {match.start()}: {_quote(match[0], 80)}"
        )

    return check


# --- JSON -----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _loads(text: str) -> Any:
    """Strict JSON: ``NaN`` and ``Infinity`` are rejected."""
    return json.loads(text, parse_constant=_reject_constant)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\r?\n(.*?)```", re.DOTALL)
_OPENERS = re.compile(r"[\[{]")
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
#: Unparseable ``{``/``[`` positions tried before giving up: each try may read to the end of the
#: text, so without a cap a pathological output (``[[[[...``) would take quadratic time.
_MAX_FAILED_OPENERS = 500


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
        except (ValueError, RecursionError):
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
    except (ValueError, RecursionError) as exc:
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
        except (ValueError, RecursionError):
            continue
        if isinstance(value, (dict, list)):
            yield match.start(2), match.end(2), value


def _fence_hint(text: str) -> str:
    if next(_fenced_json(text), None) is None:
        return ""
    return " (it holds JSON inside a ``` fence: use `contains-json` to accept that)"


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
        raise _error(
            spec,
            "`value` must be a JSON schema (a mapping) or the path of a .json/.yaml/.yml schema"
            f" file relative to the suite, e.g. {example}; {_got(value)}",
        )
    ref = value.strip().removeprefix("file://")
    path = Path(ref) if Path(ref).is_absolute() else base_dir / ref
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise _error(
            spec,
            f"a schema file must end in .json, .yaml or .yml, e.g. {example}; got {ref!r}",
        )
    if not path.is_file():
        raise _error(spec, f"schema file {ref!r} not found (looked for {path})")
    try:
        schema = _read_schema_file(str(path), path.stat().st_mtime_ns)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        detail = " ".join(str(exc).split())
        raise _error(spec, f"cannot read schema file {ref!r}: {truncate(detail, 300)}") from None
    if not isinstance(schema, (dict, bool)):
        raise _error(spec, f"schema file {ref!r} must hold a mapping; it holds {_got(schema)[4:]}")
    return schema, f"schema file {ref!r}"


def _schema_validator(spec: AssertionSpec, base_dir: Path) -> Callable[[Any], list[str]]:
    """Load and check the schema now; return a function listing an instance's errors."""
    schema, source = _schema_source(spec, base_dir)
    jsonschema = _jsonschema(spec)
    validator_cls = jsonschema.validators.validator_for(schema)
    try:
        validator_cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise _error(
            spec, f"{source} is not a valid JSON schema: {exc.json_path}: {truncate(exc.message, 200)}"
        ) from None
    validator = validator_cls(schema, format_checker=getattr(validator_cls, "FORMAT_CHECKER", None))

    def errors(instance: Any) -> list[str]:
        found = sorted(validator.iter_errors(instance), key=lambda e: str(e.json_path))
        return [f"{e.json_path}: {truncate(str(e.message), 200)}" for e in found]

    return errors


def _schema_failure(errors: list[str]) -> str:
    shown = "; ".join(errors[:3])
    more = f"; …(+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return f"{len(errors)} schema error{'s' if len(errors) > 1 else ''}: {shown}{more}"


def _whole_json(spec: AssertionSpec, validate: Callable[[Any], list[str]] | None) -> Check:
    schema_note = " and matches the schema" if validate else ""

    def check(ctx: AssertionContext) -> Grade:
        try:
            value = _loads(ctx.output)
        except (ValueError, RecursionError) as exc:
            return Grade(
                False,
                0.0,
                f"output is not valid JSON: {exc}; output: {_quote(ctx.output)}{_fence_hint(ctx.output)}",
            )
        if validate is not None:
            errors = validate(value)
            if errors:
                return Grade(False, 0.0, f"output JSON does not match the schema: {_schema_failure(errors)}")
        return Grade(True, 1.0, f"output is valid JSON ({_json_kind(value)[:40]}){schema_note}")

    return check


@register_assertion("is-json")
def _is_json(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    validate = None if spec.value is None else _schema_validator(spec, base_dir)
    return _whole_json(spec, validate)


@register_assertion("json-schema")
def _json_schema(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    if spec.value is None:
        raise _error(
            spec,
            "`value` is required: a JSON schema mapping, e.g. value: {type: object, required: [id]},"
            " or a schema file relative to the suite, e.g. value: schemas/order.json",
        )
    return _whole_json(spec, _schema_validator(spec, base_dir))


@register_assertion("contains-json")
def _contains_json(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value")
    validate = None if spec.value is None else _schema_validator(spec, base_dir)

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
            f" output: {_quote(ctx.output)}",
        )

    return check


# --- lengths and distance -------------------------------------------------------------------


@register_assertion("min-length")
def _min_length(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    limit = _count(spec, _limit(spec, "value: 20") or 0.0, "value", "value: 20")

    def check(ctx: AssertionContext) -> Grade:
        n = len(ctx.output)
        if n >= limit:
            return Grade(True, 1.0, f"output is {n} chars (min {limit})")
        return Grade(
            False, n / limit, f"output is {n} chars; expected at least {limit}: {_quote(ctx.output, 100)}"
        )

    return check


@register_assertion("max-length")
def _max_length(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    limit = _count(spec, _limit(spec, "value: 500") or 0.0, "value", "value: 500")

    def check(ctx: AssertionContext) -> Grade:
        n = len(ctx.output)
        if n <= limit:
            return Grade(True, 1.0, f"output is {n} chars (max {limit})")
        return Grade(
            False, limit / n, f"output is {n} chars; expected at most {limit}: {_quote(ctx.output, 100)}"
        )

    return check


@register_assertion("word-count")
def _word_count(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "min", "max")
    example = "min: 10, max: 50 (or value: 12 for an exact count)"
    if spec.value is None and spec.min is None and spec.max is None:
        raise _error(spec, f"give `min` and/or `max`, or `value` for an exact count, e.g. {example}")
    if spec.value is not None and (spec.min is not None or spec.max is not None):
        raise _error(spec, f"give either `value` (an exact count) or `min`/`max`, not both, e.g. {example}")
    if spec.value is not None:
        exact = _count(spec, _number(spec, spec.value, "value", "value: 12"), "value", "value: 12")
        low: int | None = exact
        high: int | None = exact
    else:
        low = None if spec.min is None else _count(spec, spec.min, "min", example)
        high = None if spec.max is None else _count(spec, spec.max, "max", example)
        if low is not None and high is not None and low > high:
            raise _error(spec, f"`min` ({low}) is greater than `max` ({high})")
    if low is not None and low == high:
        wanted = f"exactly {low}"
    else:
        wanted = " and ".join(
            part
            for part in (
                f"at least {low}" if low is not None else "",
                f"at most {high}" if high is not None else "",
            )
            if part
        )

    def check(ctx: AssertionContext) -> Grade:
        n = len(ctx.output.split())
        if low is not None and n < low:
            return Grade(False, n / low, f"output has {n} words; expected {wanted}")
        if high is not None and n > high:
            return Grade(False, high / n, f"output has {n} words; expected {wanted}")
        return Grade(True, 1.0, f"output has {n} words ({wanted})")

    return check


def levenshtein(a: str, b: str) -> int:
    """The edit distance (insertions, deletions, substitutions) between ``a`` and ``b``.

    The common prefix and suffix are trimmed first (most of the text when an output is close to
    its reference). The rest runs the classic table row by row, keeping only the previous row --
    but stored bit-parallel (Myers 1999, Hyyrö 2003): the row's +1/-1 steps are two integers
    with one bit per character of the shorter string, so a row costs a few integer operations
    instead of a Python loop. Two 5,000-character texts take milliseconds, not seconds.
    """
    if a == b:
        return 0
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    # positions[c]: bit j set where b[j] == c
    positions: dict[str, int] = {}
    for j, char in enumerate(b):
        positions[char] = positions.get(char, 0) | (1 << j)
    mask = (1 << len(b)) - 1
    last = 1 << (len(b) - 1)
    plus, minus = mask, 0  # vertical steps of the previous row: all +1 (row 0 is 0, 1, 2, ...)
    distance = len(b)  # the last cell of the previous row
    for char in a:
        eq = positions.get(char, 0)
        x_vertical = eq | minus
        x_horizontal = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | ~(x_horizontal | plus)
        h_minus = plus & x_horizontal
        if h_plus & last:
            distance += 1
        elif h_minus & last:
            distance -= 1
        h_plus = (h_plus << 1) | 1  # column 0 steps by +1 on every row
        h_minus <<= 1
        plus = (h_minus | ~(x_vertical | h_plus)) & mask
        minus = h_plus & x_vertical & mask
    return distance


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@register_assertion("levenshtein")
def _levenshtein(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    reference = None if spec.value is None else _text(spec, "value: 'The capital is Paris.'")
    max_distance = 5.0
    if spec.threshold is not None:
        max_distance = _number(spec, spec.threshold, "threshold", "threshold: 3")
        if max_distance < 0:
            raise _error(
                spec,
                "`threshold` is the largest edit distance allowed, e.g. threshold: 3;"
                f" got {_num(max_distance)}",
            )

    def check(ctx: AssertionContext) -> Grade:
        target = reference
        if target is None:
            if ctx.expected is None:
                return _cannot_grade(
                    spec, "no reference text: set `value` on the assertion or `expected` on the case"
                )
            target = _as_text(ctx.expected)
        distance = levenshtein(ctx.output, target)
        longest = max(len(ctx.output), len(target))
        score = 1.0 if longest == 0 else 1.0 - distance / longest
        passed = distance <= max_distance
        reason = (
            f"edit distance {distance} {'<=' if passed else '>'} {_num(max_distance)} from "
            f"{_quote(target, 80)}"
        )
        if not passed:
            reason += f"; output: {_quote(ctx.output, 80)}"
        return Grade(passed, score, reason)

    return check


# --- budgets: latency, cost, tokens ---------------------------------------------------------


@register_assertion("latency")
def _latency(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    limit = _limit(spec, "threshold: 1000  # ms") or 0.0

    def check(ctx: AssertionContext) -> Grade:
        return _within_ms("latency", ctx.response.latency_ms, limit, replayed=ctx.response.replayed)

    return check


def _within_ms(what: str, ms: float, limit: float, *, replayed: bool) -> Grade:
    """A time against its limit; a miss scores limit/time (a failing time exceeds the limit, so > 0)."""
    passed = ms <= limit
    note = " (as recorded; replayed from a cassette)" if replayed else ""
    reason = f"{what} {ms:.0f} ms {'<=' if passed else '>'} {_num(limit)} ms{note}"
    return Grade(passed, 1.0 if passed else limit / ms, reason)


@register_assertion("ttft")
def _ttft(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    limit = _limit(spec, "threshold: 500  # ms") or 0.0

    def check(ctx: AssertionContext) -> Grade:
        ms = ctx.response.ttft_ms
        if ms is None:
            return _cannot_grade(
                spec,
                f"no time to first token: set `stream: true` on provider {ctx.response.provider!r} "
                "(it is measured on streamed calls, and replayed as recorded)",
            )
        return _within_ms("time to first token", ms, limit, replayed=ctx.response.replayed)

    return check


@register_assertion("cost")
def _cost(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold")
    limit = _limit(spec, "threshold: 0.01  # USD") or 0.0

    def check(ctx: AssertionContext) -> Grade:
        cost = ctx.response.cost_usd
        if cost is None:
            return _cannot_grade(
                spec,
                f"cost unknown: model {ctx.response.model!r} ({ctx.response.provider}) is unpriced,"
                f" so the {_usd(limit)} limit cannot be checked; add its price to the YAML file"
                " named by the `llmops_prices` ini option, e.g."
                f" `{ctx.response.model or 'my-model'}: {{input: 0.15, output: 0.60}}`"
                " (USD per million tokens)",
            )
        passed = cost <= limit
        return Grade(passed, float(passed), f"cost {_usd(cost)} {'<=' if passed else '>'} {_usd(limit)}")

    return check


@register_assertion("tokens")
def _tokens(spec: AssertionSpec, *, base_dir: Path) -> Check:
    _only(spec, "value", "threshold", "min", "max")
    example = "threshold: 2000 (max total tokens), or min: 10 and/or max: 2000"
    upper = _limit(spec, "threshold: 2000", required=False)
    if spec.max is not None:
        high = _number(spec, spec.max, "max", example)
        if upper is not None and upper != high:
            raise _error(
                spec,
                f"`max` ({_num(high)}) and `threshold`/`value` ({_num(upper)}) disagree;"
                " give the maximum once",
            )
        upper = high
    lower = None if spec.min is None else _number(spec, spec.min, "min", example)
    if upper is None and lower is None:
        raise _error(spec, f"a limit is required, e.g. {example}")
    if (upper is not None and upper < 0) or (lower is not None and lower < 0):
        raise _error(spec, f"token limits must not be negative, e.g. {example}")
    if upper is not None and lower is not None and lower > upper:
        raise _error(spec, f"`min` ({_num(lower)}) is greater than the maximum ({_num(upper)})")

    def check(ctx: AssertionContext) -> Grade:
        usage = ctx.response.usage
        total = usage.total_tokens
        if total == 0:
            return _cannot_grade(
                spec, f"{ctx.response.provider} reported no token usage, so the token limit cannot be checked"
            )
        detail = f"(input {usage.input_tokens}, output {usage.output_tokens})"
        if upper is not None and total > upper:
            return Grade(False, 0.0, f"total tokens {total} > {_num(upper)} {detail}")
        if lower is not None and total < lower:
            return Grade(False, 0.0, f"total tokens {total} < {_num(lower)} {detail}")
        bounds = " and ".join(
            b
            for b in (
                f">= {_num(lower)}" if lower is not None else "",
                f"<= {_num(upper)}" if upper is not None else "",
            )
            if b
        )
        return Grade(True, 1.0, f"total tokens {total} {bounds} {detail}")

    return check


# --- python ---------------------------------------------------------------------------------

_PYTHON_EXAMPLE = "value: 'checks.refunds:mentions_policy' or value: 'checks/refunds.py:mentions_policy'"
_FILE_MODULES: dict[tuple[Path, int], ModuleType] = {}


def _import_file(spec: AssertionSpec, target: str, base_dir: Path) -> ModuleType:
    """Import exactly the named file, under a unique module name (no sys.path changes)."""
    path = Path(target) if Path(target).is_absolute() else base_dir / target
    if path.suffix != ".py":
        raise _error(spec, f"python file {target!r} must end in .py, e.g. {_PYTHON_EXAMPLE}")
    if not path.is_file():
        raise _error(spec, f"python file {target!r} not found (looked for {path})")
    path = path.resolve()
    key = (path, path.stat().st_mtime_ns)
    cached = _FILE_MODULES.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha1(str(path).encode(), usedforsecurity=False).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"_llmops_check_{stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:  # pragma: no cover - .py is checked
        raise _error(spec, f"cannot import python file {target!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _error(spec, f"importing python file {target!r} failed: {type(exc).__name__}: {exc}") from exc
    _FILE_MODULES[key] = module
    return module


def _import_module(spec: AssertionSpec, target: str) -> ModuleType:
    if not all(part.isidentifier() for part in target.split(".")):
        raise _error(spec, f"{target!r} is not a module name or a .py file path, e.g. {_PYTHON_EXAMPLE}")
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise _error(
                spec,
                f"python module {target!r} not found: is it installed, or its directory on sys.path"
                " (e.g. the `pythonpath` ini option)?",
            ) from None
        raise _error(spec, f"importing python module {target!r} failed: ModuleNotFoundError: {exc}") from exc
    except Exception as exc:
        raise _error(spec, f"importing python module {target!r} failed: {type(exc).__name__}: {exc}") from exc


def _python_grade(spec: AssertionSpec, result: Any, threshold: float, where: str) -> Grade:
    """Turn what a user's check returned into a grade; anything unusable cannot grade."""
    if isinstance(result, Grade):
        return result
    if isinstance(result, bool):
        return Grade(result, float(result), f"{where} returned {result}")
    if isinstance(result, (int, float)):
        score = float(result)
        if not 0.0 <= score <= 1.0:  # also catches NaN
            return _cannot_grade(
                spec, f"{where} returned {result!r}; a numeric score must be between 0 and 1"
            )
        passed = score >= threshold
        return Grade(
            passed,
            score,
            f"{where} returned score {score:g} ({'>=' if passed else '<'} threshold {threshold:g})",
        )
    if isinstance(result, Mapping):
        problem = _python_dict_problem(result)
        if problem:
            return _cannot_grade(spec, f"{where} returned {truncate(repr(result), 120)}; {problem}")
        raw_pass, raw_score, raw_reason = result.get("pass"), result.get("score"), result.get("reason")
        score = float(raw_score) if raw_score is not None else float(bool(raw_pass))
        passed = bool(raw_pass) if raw_pass is not None else score >= threshold
        reason = (
            str(raw_reason) if raw_reason is not None else f"{where} returned pass={passed}, score={score:g}"
        )
        return Grade(passed, score, reason)
    what = (
        "None (is a `return` missing?)"
        if result is None
        else f"{type(result).__name__} {truncate(repr(result), 80)}"
    )
    return _cannot_grade(
        spec,
        f"{where} returned {what}; return a bool, a score between 0 and 1, or a dict with"
        " `pass`, `score` and/or `reason`",
    )


def _python_dict_problem(result: Mapping[Any, Any]) -> str:
    unknown = [repr(k) for k in result if k not in ("pass", "score", "reason")]
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}: use `pass`, `score` and/or `reason`"
    raw_pass, raw_score = result.get("pass"), result.get("score")
    if raw_pass is None and raw_score is None:
        return "the dict needs `pass` (a bool) and/or `score` (0 to 1)"
    if raw_pass is not None and not isinstance(raw_pass, bool):
        return f"`pass` must be a bool, not {type(raw_pass).__name__}"
    if raw_score is not None and (
        isinstance(raw_score, bool)
        or not isinstance(raw_score, (int, float))
        or not 0.0 <= float(raw_score) <= 1.0
    ):
        return f"`score` must be a number between 0 and 1, not {truncate(repr(raw_score), 40)}"
    return ""


@register_assertion("python")
def _python(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """``value: module:function`` or ``value: path/to/file.py:function``; called as fn(output, ctx)."""
    _only(spec, "value", "threshold")
    value = spec.value
    if not isinstance(value, str):
        raise _error(spec, f"`value` must name a function, e.g. {_PYTHON_EXAMPLE}; {_got(value)}")
    target, sep, func_name = value.strip().rpartition(":")
    if not sep or not target or not func_name.isidentifier():
        raise _error(
            spec,
            f"`value` must be 'module:function' or 'file.py:function', e.g. {_PYTHON_EXAMPLE}; got {value!r}",
        )
    threshold = 0.5
    if spec.threshold is not None:
        threshold = _number(spec, spec.threshold, "threshold", "threshold: 0.7")
        if not 0.0 <= threshold <= 1.0:
            raise _error(
                spec, f"`threshold` must be between 0 and 1, e.g. threshold: 0.7; got {_num(threshold)}"
            )
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    module = _import_file(spec, target, base_dir) if is_file else _import_module(spec, target)
    where_module = f"python file {target!r}" if is_file else f"python module {target!r}"
    fn = getattr(module, func_name, None)
    if fn is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise _error(spec, f"function {func_name!r} not found in {where_module}.{suggest(func_name, names)}")
    if not callable(fn):
        raise _error(spec, f"{func_name!r} in {where_module} is not a function ({type(fn).__name__})")
    if inspect.iscoroutinefunction(fn):
        raise _error(spec, f"{func_name!r} in {where_module} is async; write a plain function")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(None, None)
        except TypeError:
            raise _error(
                spec,
                f"function {func_name!r} in {where_module} must accept (output, ctx);"
                f" its signature is {func_name}{signature}",
            ) from None
    where = f"python check {value.strip()!r}"

    def check(ctx: AssertionContext) -> Grade:
        return _python_grade(spec, fn(ctx.output, ctx), threshold, where)

    return check
