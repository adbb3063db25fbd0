"""A function of the user's, named in a suite: ``module:function``, ``file.py:function``, ``file://file.py``.

Used by ``python`` checks, ``transform:`` and ``scoring:``. The function is found and its
signature checked at collection. A file is imported under a unique module name, with no change
to ``sys.path``, once while it is unchanged; a module by its import name.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import CannotGrade
from ..results import Grade
from ..spec.validation import suggest
from .reasons import truncate

__all__ = ["FunctionRefError", "grade_returned", "is_file_target", "load_function", "split_reference"]

_FILE_MODULES: dict[tuple[Path, int], ModuleType] = {}


class FunctionRefError(ValueError):
    """A reference names no usable function; the message says why and what to write."""


def is_file_target(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def split_reference(value: str, default_function: str | None, example: str) -> tuple[str, str]:
    """``(target, function)`` of ``module:fn``, ``file.py:fn`` or ``file://file.py[:fn]``."""
    text = value.strip().removeprefix("file://")
    target, sep, name = text.rpartition(":")
    if not sep:
        target, name = text, ""
    if not name:
        if default_function is None or not is_file_target(target):
            raise FunctionRefError(
                f"write 'module:function' or 'file.py:function', e.g. {example}; got {value!r}"
            )
        name = default_function
    if not target or not name.isidentifier():
        raise FunctionRefError(
            f"write 'module:function' or 'file.py:function', e.g. {example}; got {value!r}"
        )
    return target, name


def _import_file(target: str, base_dir: Path, example: str) -> ModuleType:
    """Import exactly the named file, under a unique module name (no sys.path changes)."""
    path = Path(target) if Path(target).is_absolute() else base_dir / target
    if path.suffix != ".py":
        raise FunctionRefError(f"python file {target!r} must end in .py, e.g. {example}")
    if not path.is_file():
        raise FunctionRefError(f"python file {target!r} not found (looked for {path})")
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
        raise FunctionRefError(f"cannot import python file {target!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise FunctionRefError(
            f"importing python file {target!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    _FILE_MODULES[key] = module
    return module


def _import_module(target: str, example: str) -> ModuleType:
    if not all(part.isidentifier() for part in target.split(".")):
        raise FunctionRefError(f"{target!r} is not a module name or a .py file path, e.g. {example}")
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise FunctionRefError(
                f"python module {target!r} not found: is it installed, or its directory on sys.path"
                " (e.g. the `pythonpath` ini option)?"
            ) from None
        raise FunctionRefError(
            f"importing python module {target!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise FunctionRefError(
            f"importing python module {target!r} failed: {type(exc).__name__}: {exc}"
        ) from exc


def load_function(
    value: str,
    base_dir: Path,
    *,
    arguments: tuple[str, ...],
    example: str,
    default_function: str | None = None,
) -> tuple[Callable[..., Any], str]:
    """The function ``value`` names and how to name it in messages; it must accept ``arguments``."""
    target, func_name = split_reference(value, default_function, example)
    is_file = is_file_target(target)
    module = _import_file(target, base_dir, example) if is_file else _import_module(target, example)
    where_module = f"python file {target!r}" if is_file else f"python module {target!r}"
    fn = getattr(module, func_name, None)
    if fn is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise FunctionRefError(
            f"function {func_name!r} not found in {where_module}.{suggest(func_name, names)}"
        )
    if not callable(fn):
        raise FunctionRefError(f"{func_name!r} in {where_module} is not a function ({type(fn).__name__})")
    if inspect.iscoroutinefunction(fn):
        raise FunctionRefError(f"{func_name!r} in {where_module} is async; write a plain function")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(*(None for _ in arguments))
        except TypeError:
            raise FunctionRefError(
                f"function {func_name!r} in {where_module} must accept ({', '.join(arguments)});"
                f" its signature is {func_name}{signature}"
            ) from None
    return fn, f"{target}:{func_name}"


def grade_returned(result: Any, threshold: float, where: str) -> Grade:
    """Turn what a user's check returned into a grade; anything unusable cannot grade."""
    if isinstance(result, Grade):
        return result
    if isinstance(result, bool):
        return Grade(result, float(result), f"{where} returned {result}")
    if isinstance(result, (int, float)):
        score = float(result)
        if not 0.0 <= score <= 1.0:  # also catches NaN
            raise CannotGrade(f"{where} returned {result!r}; a numeric score must be between 0 and 1")
        passed = score >= threshold
        return Grade(
            passed,
            score,
            f"{where} returned score {score:g} ({'>=' if passed else '<'} threshold {threshold:g})",
        )
    if isinstance(result, Mapping):
        problem = _python_dict_problem(result)
        if problem:
            raise CannotGrade(f"{where} returned {truncate(repr(result), 120)}; {problem}")
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
    raise CannotGrade(
        f"{where} returned {what}; return a bool, a score between 0 and 1, or a dict with"
        " `pass`, `score` and/or `reason`"
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
