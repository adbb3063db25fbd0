"""Cases from data files: ``tests: file://cases.csv``, globs, and lists mixing cases and files.

YAML, JSON, JSONL and CSV files load. A YAML or JSON file holds a list of cases, or a mapping
with one ``tests:`` or ``test_cases:`` list (the dataset shape teams keep, loaded unchanged). A
JSONL file holds one case per line. A CSV file follows promptfoo's column conventions: plain
columns are variables, ``__expected`` (and ``__expected1``, ``__expected2``, ...) hold
assertions in promptfoo's short forms (``icontains: refund``, ``similar(0.8): text``,
``grade: is polite``, a bare value meaning ``equals``), ``__description``, ``__metric``,
``__threshold`` and ``__metadata:KEY`` fill the case; ``__name`` names it.

Files are read as they are iterated (CSV and JSONL row by row), so a 100,000-row file costs
time linear in its rows; every error names the data file and the row (and its line).
"""

from __future__ import annotations

import csv
import glob
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from .files import file_ref, resolve_path
from .schema import CaseSpec
from .validation import validate_model
from .yamlio import LineMap, load_yaml_file

__all__ = [
    "DATA_SUFFIXES",
    "PROMPTFOO_TYPES",
    "CaseSource",
    "RawCase",
    "assertion_from_string",
    "data_files",
    "iter_data_file",
    "validate_case",
]

DATA_SUFFIXES = (".yaml", ".yml", ".json", ".jsonl", ".csv")
#: Assertion types promptfoo's short form ``type(threshold): value`` may name; anything else
#: written in an ``__expected`` column is the expected output itself (``equals``).
PROMPTFOO_TYPES = frozenset(
    {
        "answer-relevance", "assert-set", "bleu", "classifier", "contains", "contains-all",
        "contains-any", "contains-html", "contains-json", "contains-sql", "contains-xml",
        "context-faithfulness", "context-recall", "context-relevance", "cost", "ends-with",
        "equals", "factuality", "finish-reason", "g-eval", "gleu", "guardrails", "icontains",
        "icontains-all", "icontains-any", "is-html", "is-json", "is-refusal", "is-sql",
        "is-valid-function-call", "is-valid-openai-function-call", "is-valid-openai-tools-call",
        "is-xml", "javascript", "json-schema", "latency", "levenshtein", "llm-rubric",
        "max-length", "meteor", "min-length", "model-graded-closedqa", "model-graded-factuality",
        "moderation", "perplexity", "perplexity-score", "python", "regex", "relevance",
        "rouge-n", "safety", "accuracy", "select-best", "similar", "starts-with", "tokens",
        "tool-call-f1", "tool-called", "ttft", "webhook", "word-count",
    }
)  # fmt: skip
_LIST_TYPES = frozenset({"contains-any", "contains-all", "icontains-any", "icontains-all"})
_SHORT_FORM = re.compile(r"^(not-)?([a-z][a-z0-9-]*)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$", re.IGNORECASE)
_EXPECTED_COLUMN = re.compile(r"^__expected\d*$")
_CSV_COLUMNS = "__expected, __expected1.., __description, __metric, __threshold, __metadata:KEY, __name"
_TOP_KEYS = ("tests", "test_cases")
_IGNORED_TOP_KEYS = frozenset({"description", "metadata"})


@dataclass(frozen=True, slots=True)
class CaseSource:
    """Where a case is written: the suite (``row`` None) or a data file and its row."""

    path: Path
    line: int | None
    row: int | None = None

    @property
    def in_data_file(self) -> bool:
        return self.row is not None

    def describe(self) -> str:
        """``row 3 of cases.csv`` (or nothing for a case in the suite)."""
        return f"row {self.row} of {self.path.name}" if self.row is not None else ""


@dataclass(frozen=True, slots=True)
class RawCase:
    """A case as read, before validation: its mapping, where it is, and the lines of its keys."""

    data: Any
    source: CaseSource
    lines: LineMap
    #: Where ``data`` sits in ``lines`` (the key path of the case in its file).
    prefix: tuple[str | int, ...] = ()


def validate_case(raw: RawCase) -> CaseSpec:
    """The case validated; problems are listed with the data file, row and line."""
    source = raw.source
    what = f"case ({source.describe()})" if source.in_data_file else "case"
    if isinstance(raw.data, CaseSpec):
        return raw.data
    if not isinstance(raw.data, dict):
        kind = "empty" if raw.data is None else f"a {type(raw.data).__name__}"
        raise SuiteError(
            f"{source.describe() or 'a case'}: a case must be a mapping (`vars:`, `assert:`, ...),"
            f" not {kind}",
            path=source.path,
            line=source.line,
        )
    return validate_model(CaseSpec, raw.data, raw.lines, source.path, what, raw.prefix)


def data_files(value: str, base_dir: Path) -> list[Path]:
    """The files a ``file://`` entry names: one path, or every match of a glob, sorted."""
    ref = file_ref(value) or ""
    if any(c in ref for c in "*?["):
        pattern = str(resolve_path(ref, base_dir))
        found = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
        if not found:
            raise SuiteError(f"data file glob {value!r} matches no file (looked for {pattern})")
        unknown = [p for p in found if p.suffix.lower() not in DATA_SUFFIXES]
        if unknown:
            raise SuiteError(
                f"data file glob {value!r} matches {unknown[0].name}, which is not one of "
                f"{', '.join(DATA_SUFFIXES)}; narrow the glob, e.g. `file://data/*.csv`"
            )
        return found
    path = resolve_path(ref, base_dir)
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise SuiteError(f"data file {ref!r}: cases are read from {', '.join(DATA_SUFFIXES)} files")
    if not path.is_file():
        raise SuiteError(f"data file {ref!r} not found (looked for {path})")
    return [path]


def iter_data_file(path: Path) -> Iterator[RawCase]:
    """The cases of one data file, read as they are asked for."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_cases(path)
    elif suffix == ".jsonl":
        yield from _jsonl_cases(path)
    elif suffix == ".json":
        yield from _json_cases(path)
    else:
        yield from _yaml_cases(path)


# --- YAML and JSON --------------------------------------------------------------------------


def _listed(data: Any, path: Path, lines: LineMap) -> tuple[list[Any], tuple[str, ...]]:
    """The case list of a data document: the document itself, or its ``tests``/``test_cases``."""
    if isinstance(data, list):
        return data, ()
    if isinstance(data, dict):
        keys = [k for k in _TOP_KEYS if k in data]
        others = sorted(str(k) for k in data if k not in _TOP_KEYS and k not in _IGNORED_TOP_KEYS)
        if len(keys) == 1 and not others and isinstance(data[keys[0]], list):
            return data[keys[0]], (keys[0],)
        if others or len(keys) != 1:
            raise SuiteError(
                "a data file holds a list of cases, or a mapping with one `tests:` or `test_cases:`"
                f" list; this one has {', '.join(map(repr, others or sorted(map(str, data))))}",
                path=path,
                line=lines.line((others[0],)) if others else 1,
            )
        raise SuiteError(f"`{keys[0]}:` must be a list of cases", path=path, line=lines.line((keys[0],)))
    kind = "empty" if data is None else f"a {type(data).__name__}"
    raise SuiteError(f"a data file holds a list of cases; this one is {kind}", path=path, line=1)


def _yaml_cases(path: Path) -> Iterator[RawCase]:
    data, lines = load_yaml_file(path)
    cases, key = _listed(data, path, lines)
    for index, case in enumerate(cases):
        prefix: tuple[str | int, ...] = (*key, index)
        if isinstance(case, str):
            raise SuiteError(
                f"row {index + 1}: a data file lists cases, not other data files ({case[:60]!r})",
                path=path,
                line=lines.line(prefix),
            )
        yield RawCase(case, CaseSource(path, lines.line(prefix), index + 1), lines, prefix)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SuiteError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path) from None
    except OSError as exc:
        raise SuiteError(f"cannot read data file: {exc.strerror}", path=path) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _json_error(exc: json.JSONDecodeError | ValueError | RecursionError, path: Path) -> SuiteError:
    line = exc.lineno if isinstance(exc, json.JSONDecodeError) else None
    message = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or "nesting too deep"
    return SuiteError(f"invalid JSON: {message}", path=path, line=line)


def _json_cases(path: Path) -> Iterator[RawCase]:
    """A JSON document; the line of each case of a top-level array is found as it is decoded."""
    text = _read_text(path)
    start = len(text) - len(text.lstrip())
    if text[start : start + 1] == "[":
        yield from _json_array(text, start, path)
        return
    try:
        data = _DECODER.decode(text)
    except (ValueError, RecursionError) as exc:
        raise _json_error(exc, path) from None
    lines = LineMap({(): 1})
    cases, key = _listed(data, path, lines)
    for index, case in enumerate(cases):
        yield RawCase(case, CaseSource(path, None, index + 1), lines, (*key, index))


def _json_array(text: str, at: int, path: Path) -> Iterator[RawCase]:
    position, index = at + 1, 0
    while True:
        position = _skip_space(text, position)
        if text[position : position + 1] == "]":
            if _skip_space(text, position + 1) != len(text):
                raise SuiteError("invalid JSON: extra data after the array", path=path)
            return
        if index:
            if text[position : position + 1] != ",":
                raise SuiteError(
                    "invalid JSON: expected ',' or ']'", path=path, line=text.count("\n", 0, position) + 1
                )
            position = _skip_space(text, position + 1)
        line = text.count("\n", 0, position) + 1
        try:
            case, position = _DECODER.raw_decode(text, position)
        except (ValueError, RecursionError) as exc:
            error = _json_error(exc, path)
            raise SuiteError(error.bare_message, path=path, line=error.line or line) from None
        index += 1
        yield RawCase(case, CaseSource(path, line, index), LineMap({(): line}))


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _jsonl_cases(path: Path) -> Iterator[RawCase]:
    try:
        handle = path.open(encoding="utf-8-sig")
    except OSError as exc:
        raise SuiteError(f"cannot read data file: {exc.strerror}", path=path) from None
    with handle:
        row = 0
        try:
            for number, text in enumerate(handle, 1):
                if not text.strip():
                    continue
                row += 1
                try:
                    case = _DECODER.decode(text)
                except (ValueError, RecursionError) as exc:
                    message = _json_error(exc, path).bare_message
                    raise SuiteError(f"row {row}: {message}", path=path, line=number) from None
                yield RawCase(case, CaseSource(path, number, row), LineMap({(): number}))
        except UnicodeDecodeError as exc:
            raise SuiteError(f"not UTF-8 text ({exc.reason})", path=path) from None


# --- CSV, with promptfoo's columns ------------------------------------------------------------


def _csv_cases(path: Path) -> Iterator[RawCase]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise SuiteError(f"cannot read data file: {exc.strerror}", path=path) from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise SuiteError("the CSV file is empty: its first row names the columns", path=path, line=1)
            columns = _csv_header(header, path)
            row, last_line = 0, reader.line_num
            for values in reader:
                line, last_line = last_line + 1, reader.line_num
                if not any(v.strip() for v in values):
                    continue
                row += 1
                if len(values) != len(columns):
                    raise SuiteError(
                        f"row {row} has {len(values)} values for {len(columns)} columns"
                        f" ({', '.join(columns)}); quote values that hold commas",
                        path=path,
                        line=line,
                    )
                case = _csv_case(dict(zip(columns, values, strict=True)), path, row, line)
                yield RawCase(case, CaseSource(path, line, row), LineMap({(): line}))
        except csv.Error as exc:
            raise SuiteError(f"invalid CSV: {exc}", path=path, line=reader.line_num) from None
        except UnicodeDecodeError as exc:
            raise SuiteError(f"not UTF-8 text ({exc.reason})", path=path) from None


def _csv_header(header: list[str], path: Path) -> list[str]:
    columns = [c.strip() for c in header]
    for index, column in enumerate(columns):
        if not column:
            raise SuiteError(f"column {index + 1} of the header row has no name", path=path, line=1)
        if columns.index(column) != index:
            raise SuiteError(f"column {column!r} is named twice in the header row", path=path, line=1)
        if column.startswith("__") and not (
            _EXPECTED_COLUMN.match(column)
            or column in ("__description", "__metric", "__threshold", "__name")
            or (column.startswith("__metadata:") and len(column) > len("__metadata:"))
        ):
            raise SuiteError(
                f"column {column!r} is not one of the special columns ({_CSV_COLUMNS});"
                " a variable's column name does not start with '__'",
                path=path,
                line=1,
            )
    return columns


def _csv_case(row: dict[str, str], path: Path, number: int, line: int) -> dict[str, Any]:
    case: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    checks: list[dict[str, Any]] = []
    metric = None
    metadata: dict[str, Any] = {}
    for column, value in row.items():
        if _EXPECTED_COLUMN.match(column):
            if value.strip():
                checks.append(assertion_from_string(value.strip()))
        elif column == "__description":
            if value.strip():
                case["description"] = value.strip()
        elif column == "__name":
            if value.strip():
                case["name"] = value.strip()
        elif column == "__metric":
            metric = value.strip() or None
        elif column == "__threshold":
            if value.strip():
                try:
                    case["threshold"] = float(value)
                except ValueError:
                    raise SuiteError(
                        f"row {number}: __threshold must be a number from 0 to 1, e.g. 0.8; got {value!r}",
                        path=path,
                        line=line,
                    ) from None
        elif column.startswith("__metadata:"):
            metadata[column[len("__metadata:") :]] = value
        else:
            variables[column] = value
    if metric:
        checks = [{**check, "metric": metric} for check in checks]
    case["vars"] = variables
    if checks:
        case["assert"] = checks
    if metadata:
        case["metadata"] = metadata
    return case


def assertion_from_string(text: str) -> dict[str, Any]:
    """An assertion from promptfoo's short form, as written in a CSV ``__expected`` column.

    ``icontains: refund``, ``not-contains: sorry``, ``similar(0.8): the reference``,
    ``contains-any: a, b``, ``grade:``/``llm-rubric:`` rubric, ``python:`` expression,
    ``javascript:``/``fn:`` (kept as ``javascript``, which asks to be rewritten), ``file://x.py``;
    anything else is the expected output (``equals``).
    """
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"), ("eval:", "javascript")):
        if text.startswith(prefix):
            return {"type": kind, "value": text[len(prefix) :].strip()}
    for prefix in ("grade:", "llm-rubric:"):
        if text.startswith(prefix):
            return {"type": "llm-rubric", "value": text[len(prefix) :].strip()}
    if text.startswith("python:"):
        return {"type": "python", "value": text[len("python:") :].strip()}
    if text.startswith("file://"):
        path = text[len("file://") :]
        if path.endswith(".py") or ".py:" in path:
            return {"type": "python", "value": text}
        if path.endswith((".js", ".cjs", ".mjs", ".ts")) or any(f"{s}:" in path for s in (".js", ".ts")):
            return {"type": "javascript", "value": text}
    match = _SHORT_FORM.match(text)
    if match is None or match[2].lower() not in PROMPTFOO_TYPES:
        return {"type": "equals", "value": text}
    negated, kind, threshold, value = match[1] or "", match[2].lower(), match[3], match[4]
    out: dict[str, Any] = {"type": negated + kind}
    if threshold is not None:
        out["threshold"] = float(threshold)
    if value is not None:
        value = value.strip()
        if kind in _LIST_TYPES:
            out["value"] = [part.strip() for part in value.split(",") if part.strip()]
        elif kind in ("is-json", "contains-json") and value:
            try:
                out["value"] = json.loads(value)
            except ValueError:
                out["value"] = value
        elif value:
            out["value"] = value
    return out
