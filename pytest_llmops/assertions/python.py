"""The ``python`` assertion: a function of the user's, named ``module:function`` or ``file.py:function``.

The function is found and its signature checked at collection; it is called as
``fn(output, ctx)`` and may return a bool, a score between 0 and 1, a dict with ``pass``,
``score`` and/or ``reason``, or a ``Grade``. Anything else cannot grade (it fails under ``not-``
too). A file is imported under a unique module name, with no change to ``sys.path``.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import AssertionConfigError, CannotGrade
from ..results import Grade
from ..spec.schema import AssertionSpec
from ..spec.validation import suggest
from .config import assertion_type, config_error, got, number
from .reasons import num, truncate
from .registry import AssertionContext, Check

__all__: list[str] = []

_PYTHON_EXAMPLE = "value: 'checks.refunds:mentions_policy' or value: 'checks/refunds.py:mentions_policy'"
_FILE_MODULES: dict[tuple[Path, int], ModuleType] = {}


def _import_failed(spec: AssertionSpec, what: str, exc: BaseException) -> AssertionConfigError:
    return config_error(spec, f"importing {what} failed: {type(exc).__name__}: {exc}")


def _import_file(spec: AssertionSpec, target: str, base_dir: Path) -> ModuleType:
    """Import exactly the named file, under a unique module name (no sys.path changes)."""
    path = Path(target) if Path(target).is_absolute() else base_dir / target
    if path.suffix != ".py":
        raise config_error(spec, f"python file {target!r} must end in .py, e.g. {_PYTHON_EXAMPLE}")
    if not path.is_file():
        raise config_error(spec, f"python file {target!r} not found (looked for {path})")
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
        raise config_error(spec, f"cannot import python file {target!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise _import_failed(spec, f"python file {target!r}", exc) from exc
    _FILE_MODULES[key] = module
    return module


def _import_module(spec: AssertionSpec, target: str) -> ModuleType:
    if not all(part.isidentifier() for part in target.split(".")):
        raise config_error(
            spec, f"{target!r} is not a module name or a .py file path, e.g. {_PYTHON_EXAMPLE}"
        )
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as exc:
        if exc.name and (target == exc.name or target.startswith(exc.name + ".")):
            raise config_error(
                spec,
                f"python module {target!r} not found: is it installed, or its directory on sys.path"
                " (e.g. the `pythonpath` ini option)?",
            ) from None
        raise _import_failed(spec, f"python module {target!r}", exc) from exc
    except Exception as exc:
        raise _import_failed(spec, f"python module {target!r}", exc) from exc


def _python_grade(result: Any, threshold: float, where: str) -> Grade:
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


@assertion_type("python", "value", "threshold")
def _python(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """``value: module:function`` or ``value: path/to/file.py:function``; called as fn(output, ctx)."""
    value = spec.value
    if not isinstance(value, str):
        raise config_error(spec, f"`value` must name a function, e.g. {_PYTHON_EXAMPLE}; {got(value)}")
    target, sep, func_name = value.strip().rpartition(":")
    if not sep or not target or not func_name.isidentifier():
        raise config_error(
            spec,
            f"`value` must be 'module:function' or 'file.py:function', e.g. {_PYTHON_EXAMPLE}; got {value!r}",
        )
    threshold = 0.5
    if spec.threshold is not None:
        threshold = number(spec, spec.threshold, "threshold", "threshold: 0.7")
        if not 0.0 <= threshold <= 1.0:
            raise config_error(
                spec, f"`threshold` must be between 0 and 1, e.g. threshold: 0.7; got {num(threshold)}"
            )
    is_file = target.endswith(".py") or "/" in target or "\\" in target
    module = _import_file(spec, target, base_dir) if is_file else _import_module(spec, target)
    where_module = f"python file {target!r}" if is_file else f"python module {target!r}"
    fn = getattr(module, func_name, None)
    if fn is None:
        names = [n for n, v in vars(module).items() if callable(v) and not n.startswith("_")]
        raise config_error(
            spec, f"function {func_name!r} not found in {where_module}.{suggest(func_name, names)}"
        )
    if not callable(fn):
        raise config_error(spec, f"{func_name!r} in {where_module} is not a function ({type(fn).__name__})")
    if inspect.iscoroutinefunction(fn):
        raise config_error(spec, f"{func_name!r} in {where_module} is async; write a plain function")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: let the call decide
        signature = None
    if signature is not None:
        try:
            signature.bind(None, None)
        except TypeError:
            raise config_error(
                spec,
                f"function {func_name!r} in {where_module} must accept (output, ctx);"
                f" its signature is {func_name}{signature}",
            ) from None
    where = f"python check {value.strip()!r}"

    def check(ctx: AssertionContext) -> Grade:
        return _python_grade(fn(ctx.output, ctx), threshold, where)

    return check
