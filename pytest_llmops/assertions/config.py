"""An assertion's settings read once, at collection: ``value`` as text, number or list, and limits.

Every reader raises ``AssertionConfigError`` prefixed with the assertion's type, saying what was
expected (with an example) and what was given. ``assertion_type`` registers a built-in type and
rejects, before its factory runs, the settings the type does not use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import AssertionConfigError
from ..spec.schema import AssertionSpec
from .reasons import num, truncate
from .registry import AssertionFactory, Check, register_assertion

__all__ = [
    "assertion_type",
    "config_error",
    "described",
    "got",
    "limit",
    "nonempty_text",
    "number",
    "optional_limit",
    "text_list",
    "text_value",
    "whole_number",
]

_SETTINGS = ("value", "threshold", "min", "max")
_KINDS: dict[type, str] = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "a list",
    dict: "a mapping",
}


def described(value: Any) -> str:
    """``a list ['a', 'b']``: what the user wrote, for a config error (``nothing`` for no value)."""
    if value is None:
        return "nothing"
    kind = _KINDS.get(type(value), f"a {type(value).__name__}")
    return f"{kind} {truncate(repr(value), 60)}"


def got(value: Any) -> str:
    """``got a list ['a', 'b']``: the end of a config error."""
    return f"got {described(value)}"


def config_error(spec: AssertionSpec, message: str) -> AssertionConfigError:
    """The error for a bad setting, prefixed with the type as written (``not-contains: ...``)."""
    return AssertionConfigError(f"{spec.type}: {message}")


def _only(spec: AssertionSpec, *used: str) -> None:
    """Reject settings the type ignores, so a misplaced key is an error rather than a no-op."""
    for name in _SETTINGS:
        if name not in used and getattr(spec, name) is not None:
            uses = ", ".join(f"`{u}`" for u in used) if used else "none of value/threshold/min/max"
            raise config_error(spec, f"`{name}` does not apply to this assertion (it uses {uses}); remove it")


def assertion_type(name: str, *uses: str) -> Callable[[AssertionFactory], AssertionFactory]:
    """Decorator: register a built-in type whose factory reads only the settings in ``uses``."""

    def decorate(factory: AssertionFactory) -> AssertionFactory:
        def checked(spec: AssertionSpec, *, base_dir: Path) -> Check:
            _only(spec, *uses)
            return factory(spec, base_dir=base_dir)

        return register_assertion(name)(checked)

    return decorate


def text_value(spec: AssertionSpec, example: str, hint: str = "") -> str:
    """``value`` as a string; numbers are accepted as their text (``value: 42`` means ``"42"``)."""
    value = spec.value
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    extra = hint if isinstance(value, list) and hint else ""
    raise config_error(spec, f"`value` must be a string, e.g. {example}; {got(value)}{extra}")


def nonempty_text(spec: AssertionSpec, example: str, hint: str = "") -> str:
    """``value`` as a string that is not empty (every output contains the empty string)."""
    text = text_value(spec, example, hint)
    if not text:
        raise config_error(spec, f"`value` is an empty string, which every output matches; e.g. {example}")
    return text


def text_list(spec: AssertionSpec, example: str, hint: str) -> list[str]:
    """``value`` as a non-empty list of non-empty strings (numbers accepted as their text)."""
    value = spec.value
    if isinstance(value, str):
        raise config_error(spec, f"`value` must be a list of strings, e.g. {example}; {got(value)}{hint}")
    if not isinstance(value, list) or not value:
        what = "an empty list" if value == [] else described(value)
        raise config_error(spec, f"`value` must be a non-empty list of strings, e.g. {example}; got {what}")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str) or not item:
            what = "an empty string" if item == "" else described(item)
            raise config_error(
                spec, f"`value[{index}]` must be a non-empty string, e.g. {example}; got {what}"
            )
        out.append(item)
    return out


def number(spec: AssertionSpec, raw: Any, field: str, example: str) -> float:
    """A finite number from ``raw``; numeric strings (e.g. a rendered template) are accepted."""
    found: float | None = None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        found = float(raw)
    elif isinstance(raw, str):
        try:
            found = float(raw.strip())
        except ValueError:
            found = None
    if found is None or not math.isfinite(found):
        raise config_error(spec, f"`{field}` must be a number, e.g. {example}; {got(raw)}")
    return found


def optional_limit(spec: AssertionSpec, example: str) -> float | None:
    """The limit given as ``threshold`` or ``value`` (both is fine only when they agree), if any."""
    given: dict[str, float] = {}
    if spec.threshold is not None:
        given["threshold"] = number(spec, spec.threshold, "threshold", example)
    if spec.value is not None:
        given["value"] = number(spec, spec.value, "value", example)
    if len(given) == 2 and given["threshold"] != given["value"]:
        raise config_error(
            spec,
            f"`threshold` ({num(given['threshold'])}) and `value` ({num(given['value'])}) disagree;"
            f" give the limit once, e.g. {example}",
        )
    if not given:
        return None
    found = next(iter(given.values()))
    if found < 0:
        raise config_error(spec, f"the limit must not be negative, e.g. {example}; got {num(found)}")
    return found


def limit(spec: AssertionSpec, example: str) -> float:
    """The limit given as ``threshold`` or ``value``, which is required."""
    found = optional_limit(spec, example)
    if found is None:
        raise config_error(spec, f"a limit is required in `threshold` (or `value`), e.g. {example}")
    return found


def whole_number(spec: AssertionSpec, found: float, field: str, example: str) -> int:
    """``found`` as a count: a whole number, not negative."""
    if found < 0 or found != int(found):
        raise config_error(spec, f"`{field}` must be a whole number >= 0, e.g. {example}; got {num(found)}")
    return int(found)
