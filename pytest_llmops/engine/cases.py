"""A suite's cases, inline and from data files, each validated and given a stable, unique name.

A case's name is its ``name:``; without one it comes from its ``description`` (``Handles a
refund`` -> ``Handles_a_refund``), else from where it is written and what it holds
(``cases-3f2a9c1e``: the data file's stem, or ``case`` in the suite, and a digest of the case's
content). Names therefore stay the same when cases are reordered, and cassettes keep matching.
Two derived names that collide get the content digest appended; identical cases are numbered.
Two written names that collide are an error.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from ..spec.datasets import CaseSource, RawCase, data_files, iter_data_file, validate_case
from ..spec.schema import CaseSpec, SuiteSpec
from ..spec.yamlio import LineMap

__all__ = ["CASE_KEYS", "SourcedCase", "derive_names", "inline_case_names", "suite_cases"]

CASE_KEYS = ("tests", "test_cases")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NAME_LIMIT = 60


@dataclass(frozen=True, slots=True)
class SourcedCase:
    """A validated case, its name, and where it is written."""

    spec: CaseSpec
    name: str
    source: CaseSource
    #: The suite key it came from (``tests`` or ``test_cases``) and its index there.
    key: str
    index: int
    #: The lines of the file it is written in, and where the case sits in them.
    lines: LineMap
    prefix: tuple[str | int, ...]


def _digest(raw: Any) -> str:
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def _slug(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("_.-")[:_NAME_LIMIT].rstrip("_.-")


def derive_names(entries: Sequence[tuple[str | None, str | None, Any, str]]) -> list[str]:
    """The name of each ``(name, description, raw content, stem)``: the written name, else one
    derived from the description or the content (see the module docstring). Derived names never
    collide with each other or with written ones; written ones are returned as they are."""
    written = {name for name, _, _, _ in entries if name is not None}
    bases: list[tuple[str, str] | None] = []
    for name, description, raw, stem in entries:
        if name is not None:
            bases.append(None)
            continue
        digest = _digest(raw)
        slug = _slug(description) if description else ""
        bases.append((slug or f"{stem}-{digest}", digest))
    counts: dict[str, int] = {}
    for base in bases:
        if base is not None:
            counts[base[0]] = counts.get(base[0], 0) + 1
    names: list[str] = []
    taken = set(written)
    for (written_name, _, _, _), base in zip(entries, bases, strict=True):
        if base is None:
            assert written_name is not None
            names.append(written_name)
            continue
        derived, digest = base
        if (counts[derived] > 1 or derived in written) and not derived.endswith(digest):
            derived = f"{derived}-{digest}"
        unique, number = derived, 1
        while unique in taken:  # the same content twice (or a written name in the way)
            number += 1
            unique = f"{derived}-{number}"
        taken.add(unique)
        names.append(unique)
    return names


def inline_case_names(data: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: entry}`` of the cases written in a suite document (data files are not read)."""
    entries = [case for key in CASE_KEYS for case in _listed(data.get(key)) if isinstance(case, dict)]
    named = [
        (
            str(case["name"]) if case.get("name") is not None else None,
            case.get("description") if isinstance(case.get("description"), str) else None,
            case,
            "case",
        )
        for case in entries
    ]
    return dict(zip(derive_names(named), entries, strict=True))


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _entries(
    spec: SuiteSpec, data: Mapping[str, Any], lines: LineMap, path: Path
) -> Iterator[tuple[RawCase, Any, str, str, int]]:
    """Every case as ``(raw case, its content for naming, stem, key, index)``; data files are
    read as they come."""
    for key in CASE_KEYS:
        written = data.get(key)
        raws = written if isinstance(written, list) else [written]
        for index, entry in enumerate(getattr(spec, key)):
            line = lines.line((key, index)) or lines.line((key,))
            if isinstance(entry, str):
                try:
                    files = data_files(entry, path.parent)
                except SuiteError as exc:
                    raise SuiteError(exc.bare_message, path=path, line=line) from None
                for data_file in files:
                    for raw in iter_data_file(data_file):
                        yield raw, raw.data, data_file.stem, key, index
            else:
                content = raws[index] if index < len(raws) and isinstance(raws[index], dict) else None
                if content is None:
                    content = entry.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                yield RawCase(entry, CaseSource(path, line), lines, (key, index)), content, "case", key, index


def suite_cases(spec: SuiteSpec, data: Mapping[str, Any], lines: LineMap, path: Path) -> list[SourcedCase]:
    """The suite's cases in order, validated and named; a name written twice is an error."""
    found: list[tuple[CaseSpec, RawCase, str, int]] = []
    naming: list[tuple[str | None, str | None, Any, str]] = []
    for raw, content, stem, key, index in _entries(spec, data, lines, path):
        case = validate_case(raw)
        naming.append((case.name, case.description, content, stem))
        found.append((case, raw, key, index))
    names = derive_names(naming)
    first: dict[str, CaseSource] = {}
    out = []
    for (case, raw, key, index), name in zip(found, names, strict=True):
        source = raw.source
        if case.name is not None:
            earlier = first.get(name)
            if earlier is not None:
                where = f"line {earlier.line}" + (
                    f" of {earlier.path.name}" if earlier.path != source.path else ""
                )
                name_line = source.line
                if not source.in_data_file:
                    name_line = lines.line((key, index, "name")) or source.line
                raise SuiteError(
                    f"case name {name!r} is used twice (first on {where});"
                    " case names must be unique in a suite",
                    path=source.path,
                    line=name_line,
                )
            first[name] = source
        out.append(SourcedCase(case, name, source, key, index, raw.lines, raw.prefix))
    return out
