"""Readable validation errors: pydantic's errors as lines naming the file, line and field.

``parse_model`` validates a parsed YAML document against a model of ``schema``; every problem
becomes one ``file:line: field: what is wrong.`` line, with a "did you mean" for near misses.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationError

from ..errors import SuiteError
from .schema import DATA_FILE_TAG, INLINE_CASE_TAG
from .yamlio import LineMap

__all__ = ["data_path", "parse_model", "suggest", "validate_model", "validation_lines"]

#: Parts of pydantic's error locations that name a union member, not a key the user wrote.
_UNION_TAGS = frozenset({INLINE_CASE_TAG, DATA_FILE_TAG})


def data_path(loc: Sequence[Any]) -> tuple[str | int, ...]:
    """The keys and indexes of an error location, as written in the file (union tags left out)."""
    return tuple(p for p in loc if isinstance(p, (str, int)) and p not in _UNION_TAGS)


def suggest(word: str, choices: Sequence[str]) -> str:
    """' Did you mean 'x'?' for a near miss, else ''."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _unwrap_model(annotation: Any) -> Any:
    """The pydantic model (or list/dict item type) inside an annotation, if any."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap_model(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
        return None
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return ("list", _unwrap_model(args[0])) if args else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    current: Any = model
    for part in loc:
        if isinstance(current, tuple):  # ("list", item)
            if isinstance(part, int):
                current = current[1]
                continue
            current = current[1]
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        by_alias = {(f.alias or n): f for n, f in current.model_fields.items()}
        field = by_alias.get(str(part))
        if field is None:
            return None
        current = _unwrap_model(field.annotation)
    if isinstance(current, tuple):
        current = current[1]
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _format_loc(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_MISSING_HINTS = {
    "provider": " Add e.g. `provider: openai:gpt-4o-mini`.",
    "name": " Every prompt needs a `name`.",
    "type": " Add e.g. `type: contains`.",
    "version": " Add a semantic version, e.g. `version: 1.0.0`.",
    "id": " Add e.g. `id: openai:gpt-4o-mini`.",
}


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def validation_lines(
    exc: ValidationError,
    model: type[BaseModel],
    lines: LineMap,
    path: Path | str,
    prefix: tuple[str | int, ...] = (),
) -> list[str]:
    """One readable line per pydantic error: ``file:line: field: what is wrong.``

    ``prefix`` is where the validated data sits in the file (a case of a data file: its row).
    """
    out: list[str] = []
    for err in exc.errors(include_url=False):
        inner = data_path(err["loc"])
        loc = (*prefix, *inner)
        line = lines.line(loc)
        where = f"{path}:{line}" if line else str(path)
        kind = err["type"]
        if kind == "extra_forbidden":
            parent = _model_at(model, inner[:-1])
            allowed = _field_names(parent) if parent else []
            key = str(loc[-1])
            hint = suggest(key, allowed)
            allowed_text = f" Allowed keys: {', '.join(allowed)}." if allowed else ""
            out.append(f"{where}: unknown key {key!r} in {_format_loc(inner[:-1])}.{hint}{allowed_text}")
        elif kind == "missing":
            hint = _MISSING_HINTS.get(str(loc[-1]) if loc else "", "")
            out.append(f"{where}: {_format_loc(inner)}: required key is missing.{hint}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            got = f" (got {_describe(err.get('input'))})" if kind not in ("value_error",) else ""
            out.append(f"{where}: {_format_loc(inner)}: {msg}{got}.")
    return out


M = typing.TypeVar("M", bound=BaseModel)


def parse_model(model: type[M], data: Any, lines: LineMap, path: Path | str, what: str) -> M:
    """Validate ``data`` as ``model``; raise a ``SuiteError`` listing every problem."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SuiteError(f"a {what} must be a YAML mapping, but the file is {kind}", path=path, line=1)
    return validate_model(model, data, lines, path, what)


def validate_model(
    model: type[M],
    data: Any,
    lines: LineMap,
    path: Path | str,
    what: str,
    prefix: tuple[str | int, ...] = (),
) -> M:
    """Validate ``data`` (found at ``prefix`` in ``path``) as ``model``, listing every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_lines(exc, model, lines, path, prefix)
        first_line = lines.line((*prefix, *data_path(exc.errors()[0]["loc"])))
        header = f"invalid {what} ({len(problems)} problem{'s' if len(problems) > 1 else ''}):"
        raise SuiteError(header + "\n  " + "\n  ".join(problems), path=None, line=first_line) from None
