"""``file://`` values: a variable, an assertion value or a ``response_format`` read from a file.

A ``file://`` path is relative to the file that names it (a suite, or a prompt file for its own
parameters). What a file holds depends on its suffix: ``.json`` is parsed as JSON, ``.yaml`` and
``.yml`` as YAML (with the suite loader's limits), images (``.png``, ``.jpg``, ``.jpeg``,
``.gif``, ``.webp``) become base64 text, as promptfoo sends them; anything else is UTF-8 text.
A file is read once per run while unchanged (many cases name the same document), and files
larger than ``MAX_VALUE_FILE_BYTES`` are refused: a value is sent to a model, never streamed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import SuiteError
from .schema import FILE_PREFIX
from .yamlio import load_yaml

__all__ = [
    "FILE_PREFIX",
    "IMAGE_SUFFIXES",
    "MAX_VALUE_FILE_BYTES",
    "file_ref",
    "load_value_file",
    "resolve_file_values",
    "resolve_path",
]

#: Largest file a ``file://`` value may name: far past any prompt, well below a memory problem.
MAX_VALUE_FILE_BYTES = 20 * 1024 * 1024
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".webp"})
_CACHE: dict[tuple[Path, int, int], Any] = {}


def file_ref(value: Any) -> str | None:
    """The path of a ``file://...`` string, else None."""
    if isinstance(value, str) and value.startswith(FILE_PREFIX):
        return value[len(FILE_PREFIX) :].strip()
    return None


def resolve_path(ref: str, base_dir: Path) -> Path:
    """``ref`` relative to ``base_dir`` (an absolute path stays as it is)."""
    path = Path(ref).expanduser()
    return path if path.is_absolute() else base_dir / path


def _parse(path: Path, data: bytes, ref: str) -> Any:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return base64.b64encode(data).decode("ascii")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SuiteError(
            f"file {ref!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); text, .json, .yaml"
            f" and images ({', '.join(sorted(IMAGE_SUFFIXES))}) can be read"
        ) from None
    if suffix == ".json":
        try:
            return json.loads(text, parse_constant=_no_constant)
        except ValueError as exc:
            raise SuiteError(f"file {ref!r} is not valid JSON: {exc}") from None
    if suffix in (".yaml", ".yml"):
        try:
            data_value, _ = load_yaml(text, path)
        except SuiteError as exc:
            at = f" line {exc.line}" if exc.line else ""
            raise SuiteError(f"file {ref!r}{at}: {exc.bare_message}") from None
        return data_value
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_value_file(ref: str, base_dir: Path, *, what: str = "value") -> Any:
    """The content of the file ``ref`` names (see the module docstring); ``SuiteError`` if unusable."""
    if not ref:
        raise SuiteError(f"{what}: `file://` names no file; write e.g. `file://docs/policy.txt`")
    if any(c in ref for c in "*?["):
        raise SuiteError(f"{what}: {FILE_PREFIX}{ref} is a glob; a value names one file")
    path = resolve_path(ref, base_dir)
    try:
        stat = path.stat()
    except OSError:
        raise SuiteError(f"{what}: file {ref!r} not found (looked for {path})") from None
    if not path.is_file():
        raise SuiteError(f"{what}: {ref!r} is not a regular file ({path})")
    if stat.st_size > MAX_VALUE_FILE_BYTES:
        raise SuiteError(
            f"{what}: file {ref!r} is {stat.st_size} bytes; a value file may hold at most"
            f" {MAX_VALUE_FILE_BYTES} bytes"
        )
    key = (path.resolve(), stat.st_mtime_ns, stat.st_size)
    if key in _CACHE:
        return _CACHE[key]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SuiteError(f"{what}: cannot read file {ref!r}: {exc.strerror}") from None
    try:
        value = _parse(path, data, ref)
    except SuiteError as exc:
        raise SuiteError(f"{what}: {exc.bare_message}") from None
    _CACHE[key] = value
    return value


def resolve_file_values(values: Mapping[str, Any], base_dir: Path, *, what: str) -> dict[str, Any]:
    """``values`` with each top-level ``file://`` string replaced by its file's content."""
    out = dict(values)
    for key, value in values.items():
        ref = file_ref(value)
        if ref is not None:
            out[key] = load_value_file(ref, base_dir, what=f"{what} {key!r}")
    return out
