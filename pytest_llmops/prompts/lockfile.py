"""The version-bump guard: ``prompts.lock`` pins the content of every prompt version.

The lock is a sorted YAML file, committed beside the pytest config. For each prompt name and
version it keeps the content hash and a normalised copy of the prompt (model, parameters,
variables, messages), so a changed prompt can be shown as a diff and given a semantic-version
hint without git. One block per version keeps merges clean; a conflicted lock is regenerated
with ``--llmops-update-lock``.

The rules (see ``check_prompts``):

- same name and version, other content: an error with both hashes, the diff and a bump hint;
  ``update=True`` (``--llmops-update-lock``) accepts it instead;
- a version missing from the lock is added, and a version whose file is gone is dropped, when
  writing is allowed (locally); where it is not (CI), an out-of-date lock is an error;
- a deleted version that a suite's reference still needs (nothing else satisfies it) is an
  error naming the suite, whatever the mode.

This module does not import pytest.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import InvalidRangeError, InvalidVersionError, LockfileError, SuiteError
from ..spec.schema import LockEntrySpec, LockFileSpec
from ..spec.validation import parse_model
from ..spec.yamlio import load_yaml
from .registry import Prompt, split_reference
from .versions import Version, max_satisfying, sort_versions

__all__ = [
    "BUMP_LEVELS",
    "DEFAULT_LOCK_NAME",
    "BumpHint",
    "GuardResult",
    "LockFile",
    "LockfileError",
    "PromptSnapshot",
    "SuiteReference",
    "check_prompts",
    "next_version",
    "suggest_bump",
    "template_diff",
]

DEFAULT_LOCK_NAME = "prompts.lock"
LOCK_FORMAT = 1
BUMP_LEVELS = ("patch", "minor", "major")

_HEADER = """\
# {name}: the content of every prompt version, written by pytest-llmops. Commit it.
# A prompt edited without a new version fails the run. After an intentional change, or to
# resolve a merge conflict in this file, run: pytest --llmops-update-lock
"""


def _short(digest: str) -> str:
    return f"sha256:{digest[:12]}"


@dataclass(frozen=True, slots=True)
class PromptSnapshot:
    """What the lock keeps of one prompt version: enough for a diff and a bump hint without git."""

    name: str
    version: str
    #: The prompt file, POSIX, relative to the lock's folder.
    path: str
    sha256: str
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    variables: tuple[str, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @classmethod
    def from_prompt(cls, prompt: Prompt, base: Path) -> PromptSnapshot:
        return cls(
            name=prompt.name,
            version=str(prompt.version),
            path=relative_posix(Path(os.path.realpath(prompt.path)), base),
            sha256=prompt.content_hash,
            model=prompt.model,
            params=dict(prompt.params),
            variables=tuple(sorted(prompt.variables)),
            messages=tuple((m.role, m.content) for m in prompt.messages),
            description=prompt.description,
            metadata=dict(prompt.metadata),
        )

    def to_dict(self) -> dict[str, Any]:
        """The lock's block for this version; fixed key order, empty fields left out."""
        out: dict[str, Any] = {"file": self.path, "sha256": self.sha256}
        if self.model is not None:
            out["model"] = self.model
        if self.params:
            out["params"] = _sorted_mapping(self.params)
        out["variables"] = list(self.variables)
        out["messages"] = [{"role": role, "content": content} for role, content in self.messages]
        if self.description is not None:
            out["description"] = self.description
        if self.metadata:
            out["metadata"] = _sorted_mapping(self.metadata)
        return out

    @classmethod
    def from_spec(cls, name: str, version: str, entry: LockEntrySpec) -> PromptSnapshot:
        """One validated block of the lock file."""
        return cls(
            name=name,
            version=version,
            path=entry.file,
            sha256=entry.sha256,
            model=entry.model,
            params=dict(entry.params),
            variables=tuple(entry.variables),
            messages=tuple((m.role, m.content) for m in entry.messages),
            description=entry.description,
            metadata=dict(entry.metadata),
        )

    def template_lines(self) -> list[str]:
        """The prompt as the lines a reviewer reads in a diff: settings first, then each message."""
        lines = []
        if self.model is not None:
            lines.append(f"model: {self.model}")
        for key, value in sorted(self.params.items()):
            lines.append(f"{key}: {_inline(value)}")
        if self.description is not None:
            lines.append(f"description: {self.description}")
        for key, value in sorted(self.metadata.items()):
            lines.append(f"metadata.{key}: {_inline(value)}")
        for role, content in self.messages:
            lines.append(f"[{role}]")
            lines.extend(content.splitlines() or [""])
        return lines


def _inline(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _sorted_mapping(value: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_sorted_mapping(v) if isinstance(v, Mapping) else v) for k, v in sorted(value.items())}


def relative_posix(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` with forward slashes, the way the lock stores it.

    Both should be real paths (symlinks resolved), or the result climbs out and back in.
    """
    return Path(os.path.relpath(path, base)).as_posix()


def template_diff(
    old: PromptSnapshot | None, new: PromptSnapshot | None, old_label: str, new_label: str
) -> list[str]:
    """A unified diff of two prompt versions (either may be missing: a new or a deleted prompt)."""
    before = old.template_lines() if old is not None else []
    after = new.template_lines() if new is not None else []
    return list(difflib.unified_diff(before, after, old_label, new_label, lineterm="", n=3))


# --- semantic version hints --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BumpHint:
    """The smallest bump a change needs, and every reason found (most serious first)."""

    level: str
    reasons: tuple[str, ...]

    def describe(self) -> str:
        return f"{self.level}, because " + "; ".join(self.reasons)


def suggest_bump(old: PromptSnapshot, new: PromptSnapshot) -> BumpHint:
    """patch for wording, minor for a new variable, major for a removed variable or another model."""
    found: list[tuple[int, str]] = []
    if old.model != new.model:
        found.append((2, f"the model changed ({old.model or 'none'} → {new.model or 'none'})"))
    removed = sorted(set(old.variables) - set(new.variables))
    added = sorted(set(new.variables) - set(old.variables))
    if removed:
        found.append((2, f"variable{'s' if len(removed) > 1 else ''} removed: {', '.join(removed)}"))
    if added:
        found.append((1, f"new variable{'s' if len(added) > 1 else ''}: {', '.join(added)}"))
    if old.messages != new.messages and not (added or removed):
        found.append((0, "wording only: the template text changed, its variables did not"))
    if dict(old.params) != dict(new.params):
        keys = sorted(k for k in {*old.params, *new.params} if old.params.get(k) != new.params.get(k))
        changes = ", ".join(
            f"{k} {_inline(old.params.get(k)) if k in old.params else '(unset)'} → "
            f"{_inline(new.params.get(k)) if k in new.params else '(unset)'}"
            for k in keys
        )
        found.append((0, f"model parameters changed: {changes}"))
    if not found:
        found.append((0, "only the description or metadata changed"))
    found.sort(key=lambda item: -item[0])
    return BumpHint(BUMP_LEVELS[found[0][0]], tuple(reason for _, reason in found))


def next_version(version: str, level: str, taken: Iterable[str] = ()) -> str:
    """The next free version at ``level`` (``1.0.0`` + minor -> ``1.1.0``, or ``1.2.0`` if taken)."""
    try:
        current = Version.parse(version)
    except InvalidVersionError:
        return "a new version"
    used = set()
    for text in taken:
        try:
            used.add(Version.parse(text))
        except InvalidVersionError:
            continue
    major, minor, patch = current.major, current.minor, current.patch
    while True:
        if level == "major":
            major, minor, patch = major + 1, 0, 0
        elif level == "minor":
            minor, patch = minor + 1, 0
        else:
            patch += 1
        candidate = Version(major, minor, patch)
        if candidate not in used:
            return str(candidate)


def bump_level(old: str, new: str) -> str | None:
    """The level by which ``new`` moves up from ``old`` (None when it does not move up)."""
    try:
        a, b = Version.parse(old), Version.parse(new)
    except InvalidVersionError:
        return None
    if b <= a:
        return None
    if b.major != a.major:
        return "major"
    if b.minor != a.minor:
        return "minor"
    return "patch"


# --- the lock file -----------------------------------------------------------------------------


@dataclass
class LockFile:
    """The lock's entries, keyed by (name, version)."""

    path: Path
    entries: dict[tuple[str, str], PromptSnapshot] = field(default_factory=dict)

    @property
    def base(self) -> Path:
        return self.path.parent

    @classmethod
    def read(cls, path: Path) -> LockFile:
        """Load a lock; anything unreadable is a ``LockfileError`` that says how to recover.

        It is read like every file a user commits: YAML with line numbers, alias bombs and repeated
        keys refused, and a schema for its shape, so a malformed lock is one clean message.
        """
        recover = f"fix it, or regenerate it with `pytest --llmops-update-lock` ({path.name} is generated)"
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise LockfileError(
                f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); {recover}"
            ) from None
        except OSError as exc:
            raise LockfileError(f"{path}: cannot read the lock file: {exc.strerror}") from None
        if "\n<<<<<<< " in f"\n{text}" or "\n>>>>>>> " in text:
            raise LockfileError(f"{path}: the lock file has merge conflict markers; {recover}")
        try:
            data, lines = load_yaml(text, path)
            if data is None:
                data = {}
            if isinstance(data, dict) and data.get("lock_version", LOCK_FORMAT) != LOCK_FORMAT:
                raise LockfileError(
                    f"{path}: lock format {data.get('lock_version')!r} is not supported by this "
                    f"pytest-llmops (it writes format {LOCK_FORMAT}); {recover}"
                )
            spec = parse_model(LockFileSpec, data, lines, path, "lock file")
        except SuiteError as exc:
            raise LockfileError(f"{exc}\n{recover}") from None
        lock = cls(path)
        for name, versions in spec.prompts.items():
            for version, entry in versions.items():
                lock.entries[(name, version)] = PromptSnapshot.from_spec(name, version, entry)
        return lock

    def dumps(self) -> str:
        """Deterministic text: names sorted, versions in SemVer order, fixed key order."""
        prompts: dict[str, dict[str, Any]] = {}
        for name in sorted({name for name, _ in self.entries}):
            versions = {v for n, v in self.entries if n == name}
            prompts[name] = {v: self.entries[(name, v)].to_dict() for v in _version_order(versions)}
        body = yaml.dump(
            {"lock_version": LOCK_FORMAT, "prompts": prompts},
            Dumper=_LockDumper,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
            width=100,
        )
        return _HEADER.format(name=self.path.name) + body

    def absolute(self, entry: PromptSnapshot) -> Path:
        return Path(os.path.normpath(Path(os.path.realpath(self.base)) / entry.path))


def _version_order(versions: Iterable[str]) -> list[str]:
    parsed: dict[str, Version] = {}
    for text in versions:
        try:
            parsed[text] = Version.parse(text)
        except InvalidVersionError:
            continue
    ordered = [str(v) for v in sort_versions(parsed.values())]
    by_text = {str(v): t for t, v in parsed.items()}
    return [by_text[v] for v in ordered] + sorted(set(versions) - set(parsed))


class _LockDumper(yaml.SafeDumper):
    """Block scalars for multi-line templates, so the lock diffs line by line."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_LockDumper.add_representer(str, _represent_str)


# --- the guard ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SuiteReference:
    """One ``prompt:`` reference of a suite, and the prompt folders that suite sees."""

    suite: str  # as shown to the user
    line: int | None
    reference: str
    dirs: tuple[Path, ...]


@dataclass
class GuardResult:
    """What the guard found: errors (the run fails), and the lock to write if anything changed."""

    errors: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    lock_text: str | None = None
    checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


def _under(path: Path, dirs: Iterable[Path]) -> bool:
    return any(path == d or d in path.parents for d in dirs)


def check_prompts(
    lock: LockFile,
    prompts: Iterable[Prompt],
    *,
    scanned: Sequence[Path],
    references: Sequence[SuiteReference] = (),
    update: bool = False,
    may_write: bool = True,
    existed: bool = True,
) -> GuardResult:
    """Compare the loaded prompts with the lock.

    Only lock entries whose files lie in a ``scanned`` folder are judged, so a run over part of
    a project neither drops nor questions the rest of the lock. ``update`` accepts every change;
    ``may_write`` lets added and deleted versions be recorded without ``update``. ``existed``
    says whether the lock file was on disk (a new lock is always written when updating).
    """
    result = GuardResult()
    name = lock.path.name
    base = Path(os.path.realpath(lock.base))
    scanned = [Path(os.path.realpath(d)) for d in scanned]
    current: dict[tuple[str, str], tuple[Prompt, PromptSnapshot]] = {}
    for prompt in sorted(prompts, key=lambda p: str(p.path)):
        snapshot = PromptSnapshot.from_prompt(prompt, base)
        key = (snapshot.name, snapshot.version)
        seen = current.get(key)
        if seen is None:
            current[key] = (prompt, snapshot)
        elif seen[1].sha256 != snapshot.sha256:
            result.errors.append(
                f"prompt {snapshot.ref} is defined twice with different content: {seen[1].path} and "
                f"{snapshot.path}. {name} pins one content per name and version: give one of them a "
                "new version (or a new name)."
            )
    result.checked = len(current)
    if result.errors:
        return result

    in_scope = {key for key, entry in lock.entries.items() if _under(lock.absolute(entry), scanned)}
    new_entries = dict(lock.entries)
    # Changed content, same version.
    for key, (_, snapshot) in sorted(current.items()):
        old = lock.entries.get(key)
        if old is None:
            result.added.append(snapshot.ref)
        elif old.sha256 != snapshot.sha256:
            if update:
                result.accepted.append(snapshot.ref)
            else:
                taken = [v for n, v in (*lock.entries, *current) if n == snapshot.name]
                result.errors.append(_changed_message(old, snapshot, name, taken))
        new_entries[key] = snapshot
    # Deleted versions.
    deleted = sorted(key for key in in_scope if key not in current)
    for key in deleted:
        entry = lock.entries[key]
        users = _users_of_deleted(entry, lock.absolute(entry), current, references)
        if users:
            result.errors.append(_deleted_message(entry, users, name))
        else:
            result.removed.append(entry.ref)
        del new_entries[key]

    if result.errors:
        return result
    out_of_date = result.added or result.removed
    if out_of_date and not (update or may_write):
        result.errors.append(_out_of_date_message(result.added, result.removed, name))
        return result
    paths_moved = any(new_entries[k].path != lock.entries[k].path for k in new_entries if k in lock.entries)
    if update or ((out_of_date or paths_moved) and may_write):
        new_lock = LockFile(lock.path, new_entries)
        text = new_lock.dumps()
        if not existed or not lock.path.is_file() or lock.path.read_text(encoding="utf-8") != text:
            result.lock_text = text
    return result


def _users_of_deleted(
    entry: PromptSnapshot,
    absolute: Path,
    current: Mapping[tuple[str, str], tuple[Prompt, PromptSnapshot]],
    references: Sequence[SuiteReference],
) -> list[SuiteReference]:
    """Suites whose reference matched the deleted version and now matches nothing."""
    try:
        deleted_version = Version.parse(entry.version)
    except InvalidVersionError:
        return []
    users = []
    for ref in references:
        ref_name, spec = split_reference(ref.reference)
        if ref_name != entry.name or not _under(absolute, ref.dirs):
            continue
        visible = [
            prompt.version
            for (name, _), (prompt, _) in current.items()
            if name == entry.name and _under(Path(os.path.realpath(prompt.path)), ref.dirs)
        ]
        try:
            if max_satisfying([deleted_version], spec) is None:
                continue
            if max_satisfying(visible, spec) is None:
                users.append(ref)
        except InvalidRangeError:
            continue
    return users


def _indent(lines: Iterable[str], prefix: str = "    ") -> list[str]:
    return [prefix + line for line in lines]


def _changed_message(old: PromptSnapshot, new: PromptSnapshot, lock_name: str, taken: list[str]) -> str:
    hint = suggest_bump(old, new)
    suggested = next_version(new.version, hint.level, taken)
    lines = [
        f"prompt {new.ref} changed, but its version did not ({new.path})",
        f"  hash in {lock_name}: {_short(old.sha256)}",
        f"  hash now: {' ' * len(lock_name)}{_short(new.sha256)}",
        "  template diff:",
        *_indent(template_diff(old, new, f"{old.ref} ({lock_name})", f"{new.ref} ({new.path})")),
        f"  suggested version: {suggested} ({hint.describe()})",
        f"  Bump the version: save the edit as `version: {suggested}` (keep the old file if suites "
        "or applications still use it).",
        f"  If the change is intentional and the version must stay, run `pytest --llmops-update-lock` "
        f"and commit {lock_name}.",
    ]
    return "\n".join(lines)


def _deleted_message(entry: PromptSnapshot, users: Sequence[SuiteReference], lock_name: str) -> str:
    lines = [f"prompt {entry.ref} was deleted ({entry.path}), but a suite still uses it:"]
    for ref in users:
        where = f"{ref.suite}:{ref.line}" if ref.line else ref.suite
        lines.append(f"  {where}: prompt: {ref.reference}")
    lines.append(
        f"  Restore {entry.path}, or point the suite at another version; then run "
        f"`pytest --llmops-update-lock` to drop {entry.ref} from {lock_name}."
    )
    return "\n".join(lines)


def _out_of_date_message(added: Sequence[str], removed: Sequence[str], lock_name: str) -> str:
    parts = []
    if added:
        parts.append(f"not in it yet: {', '.join(added)}")
    if removed:
        parts.append(f"in it but deleted: {', '.join(removed)}")
    return (
        f"{lock_name} is out of date ({'; '.join(parts)}). In CI the lock is never written: run "
        f"`pytest --llmops-update-lock` (or any local run) and commit {lock_name}."
    )
