"""Which cases a change since a git ref affects, and why (``--llmops-changed-since``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..engine.cases import inline_case_names
from ..engine.plan import CasePlan
from .git import ChangeSet, real_path, under

__all__ = ["PROMPT_SUFFIXES", "affected_reasons", "load_mapping", "referenced_files"]

PROMPT_SUFFIXES = (".yaml", ".yml")
#: Suite keys that do not change what a case does.
_INERT_SUITE_KEYS = frozenset({"tests", "test_cases", "description", "metadata"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def referenced_files(value: Any, base_dir: Path) -> list[Path]:
    """Files an assertion's value names: ``schemas/x.json``, ``file://x``, ``a.py:fn``, ``pkg.mod:fn``."""
    found = []
    for text in _strings(value):
        text = text.strip().removeprefix("file://")
        if not text or "\n" in text or len(text) > 500:
            continue
        candidates = [text]
        target, sep, func = text.rpartition(":")
        if sep and target and func.isidentifier():
            candidates.append(target)
        for candidate in candidates:
            path = Path(candidate) if Path(candidate).is_absolute() else base_dir / candidate
            try:
                if path.is_file():
                    found.append(real_path(path))
                    continue
            except OSError:
                continue
            if candidate == target and all(part.isidentifier() for part in target.split(".")):
                module_file = getattr(sys.modules.get(target), "__file__", None)
                if module_file:
                    found.append(real_path(Path(module_file)))
    return found


def load_mapping(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _case_entries(data: Mapping[str, Any]) -> dict[str, Any]:
    """The suite's own case entries by name (a case without `name:` by the name it is given)."""
    try:
        return inline_case_names(data)
    except (TypeError, ValueError):  # an old version of the suite that does not parse as cases
        return {}


def _data_file_refs(data: Mapping[str, Any]) -> list[str]:
    refs: list[str] = []
    for key in ("tests", "test_cases"):
        value = data.get(key)
        refs.extend(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
    return refs


@dataclass(frozen=True, slots=True)
class _SuiteDelta:
    """How a suite file changed: everything (``all_reason``), or these case entries."""

    all_reason: str | None = None
    cases: frozenset[str] = frozenset()
    new_cases: frozenset[str] = frozenset()


def _suite_delta(path: Path, changes: ChangeSet) -> _SuiteDelta:
    if path not in changes:
        return _SuiteDelta()
    old = load_mapping(changes.old_text(path))
    if old is None:
        return _SuiteDelta(all_reason=f"suite file is new, renamed or unreadable at {changes.ref}")
    try:
        new = load_mapping(path.read_text(encoding="utf-8"))
    except OSError:
        new = None
    if new is None:
        return _SuiteDelta(all_reason="suite file changed")
    keys = sorted(k for k in {*old, *new} if k not in _INERT_SUITE_KEYS and old.get(k) != new.get(k))
    if keys:
        return _SuiteDelta(all_reason=f"suite-level {', '.join(f'`{k}`' for k in keys)} changed")
    if _data_file_refs(old) != _data_file_refs(new):
        return _SuiteDelta(all_reason="the suite's data files (`file://` entries of `tests:`) changed")
    old_cases, new_cases = _case_entries(old), _case_entries(new)
    return _SuiteDelta(
        cases=frozenset(n for n, case in new_cases.items() if old_cases.get(n) != case),
        new_cases=frozenset(n for n in new_cases if n not in old_cases),
    )


def affected_reasons(
    plans: Sequence[CasePlan],
    changes: ChangeSet,
    *,
    prompt_dirs: Callable[[Path], Sequence[Path]],
    cassette_path: Callable[[CasePlan], Path],
    display: Callable[[Path], str],
) -> list[list[str]]:
    """For each plan, why a change since the ref affects it (an empty list: it does not)."""
    dirs_cache: dict[Path, Sequence[Path]] = {}
    for suite_dir in {plan.suite_path.parent for plan in plans}:
        dirs_cache[suite_dir] = prompt_dirs(suite_dir)
    every_dir = {d for dirs in dirs_cache.values() for d in dirs}
    deleted_prompts = [
        p for p in changes.paths if p.suffix in PROMPT_SUFFIXES and under(p, every_dir) and not p.exists()
    ]
    changes.prefetch([*deleted_prompts, *{plan.suite_path for plan in plans if plan.suite_path in changes}])
    deleted_names: dict[Path, str] = {}
    for path in deleted_prompts:
        data = load_mapping(changes.old_text(path))
        if data is not None and isinstance(data.get("name"), str) and "version" in data:
            deleted_names[path] = data["name"]

    deltas: dict[Path, _SuiteDelta] = {}
    files_cache: dict[tuple[int, Path], list[Path]] = {}
    out = []
    for plan in plans:
        reasons: list[str] = []
        suite_dir = plan.suite_path.parent
        delta = deltas.get(plan.suite_path)
        if delta is None:
            delta = deltas[plan.suite_path] = _suite_delta(plan.suite_path, changes)
        if delta.all_reason:
            reasons.append(delta.all_reason)
        elif plan.case in delta.new_cases:
            reasons.append("new case")
        elif plan.case in delta.cases:
            reasons.append("case entry changed")
        if plan.prompt is not None:
            if plan.prompt.path in changes:
                reasons.append(f"prompt file changed: {display(plan.prompt.path)}")
            for path, name in sorted(deleted_names.items()):
                if name == plan.prompt.name and under(path, dirs_cache[suite_dir]):
                    reasons.append(f"a version of prompt {name!r} was deleted: {display(path)}")
        seen: set[Path] = set()
        for path in plan.files:
            # The case's data file and the files its `file://` values name.
            if path in changes and path not in seen:
                seen.add(path)
                what = "data file" if path == plan.source else "file"
                reasons.append(f"{what} changed: {display(path)}")
        for prepared in plan.assertions:
            # Matrix cells share their prepared assertions: look each one's files up once.
            key = (id(prepared), suite_dir)
            if key not in files_cache:
                files_cache[key] = referenced_files(prepared.spec.value, suite_dir)
            for path in files_cache[key]:
                if path in changes and path not in seen:
                    seen.add(path)
                    reasons.append(f"{prepared.spec.type} file changed: {display(path)}")
        if cassette_path(plan) in changes:
            reasons.append("cassette changed")
        out.append(reasons)
    return out
