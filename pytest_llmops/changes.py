"""Prompt pull requests: the lock guard in a run, cases selected by a git change, prompt diffs.

``PromptReview`` is the plugin object (registered in ``pytest_configure``):

- after collection it runs the version-bump guard (``lockfile.check_prompts``) over every prompt
  the suites loaded; a failure is reported as a collection error of the lock file, so it reads
  as one clean message, with xdist too, and no case runs;
- ``--llmops-changed-since REF`` keeps only the cases whose prompt file, suite entry, referenced
  schema or python file, or cassette changed since REF (committed, staged, unstaged or
  untracked) and reports the rest as deselected;
- ``--llmops-diff REF`` adds, for each changed prompt, its template diff, and for each affected
  case the response at REF (from its cassette) beside the new one with the score change.

Git is driven through ``subprocess``; the data are plain dicts (``review_data``), ready for the
JSON and Markdown reports.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from .assertions import AssertionContext, PreparedAssertion
from .cassettes import cassette_file_name
from .errors import LlmopsError
from .fileio import atomic_write_text
from .lockfile import (
    DEFAULT_LOCK_NAME,
    GuardResult,
    LockFile,
    LockfileError,
    PromptSnapshot,
    SuiteReference,
    bump_level,
    check_prompts,
    suggest_bump,
    template_diff,
)
from .prompts import Prompt, load_prompt_file
from .results import CaseResult, LLMResponse, Usage
from .runner import combine_scores
from .versions import InvalidVersionError, Version
from .yamlio import load_yaml_file

if TYPE_CHECKING:
    from .plugin import LlmopsState
    from .suite import CasePlan

__all__ = [
    "PROMPT_DIFFS_SCHEMA",
    "ChangeSet",
    "GitError",
    "GitRepo",
    "PromptReview",
    "add_options",
    "affected_reasons",
    "case_diff",
    "in_ci",
    "prompt_diffs",
    "render_review_markdown",
    "response_text",
    "review_data",
]

DIFF_PROPERTY = "llmops_diff"
PROMPT_SUFFIXES = (".yaml", ".yml")
#: Suite keys that do not change what a case does.
_INERT_SUITE_KEYS = frozenset({"tests", "test_cases", "description", "metadata"})
_FETCH_HINT = (
    "In GitHub Actions, check out with `fetch-depth: 0` (or `git fetch origin <base>`) so the base "
    "commit exists."
)


def add_options(parser: pytest.Parser) -> None:
    """Options and ini keys of the lock guard, change selection and prompt diffs."""
    group = parser.getgroup("llmops")
    group.addoption(
        "--llmops-update-lock",
        action="store_true",
        default=False,
        help="Rewrite the prompt lock file (llmops_lock_file) from the prompts as they are: accept "
        "edited versions, add new ones, drop deleted ones. Creates the lock if it does not exist.",
    )
    group.addoption(
        "--llmops-changed-since",
        metavar="REF",
        default=None,
        help="Run only the LLM cases affected by changes since the git REF (prompt files, suite "
        "entries, referenced schema/python files, cassettes; uncommitted changes included). "
        "Other cases are deselected.",
    )
    group.addoption(
        "--llmops-diff",
        metavar="REF",
        default=None,
        help="Show each prompt changed since the git REF as a diff, and each affected case's "
        "response at REF beside the new one, with the score change.",
    )
    parser.addini(
        "llmops_lock_file",
        "Prompt lock file, relative to the config file's folder (default prompts.lock).",
        default=DEFAULT_LOCK_NAME,
    )
    parser.addini(
        "llmops_lock_required",
        "Fail when the prompt lock file is missing (default false: no lock, no guard).",
        type="bool",
        default=False,
    )


def in_ci() -> bool:
    """True when the ``CI`` environment variable is set (GitHub Actions, GitLab, CircleCI... do)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")


# --- git -----------------------------------------------------------------------------------------


class GitError(LlmopsError):
    """Git is missing, the folder is not in a repository, or a ref does not exist."""


class GitRepo:
    """A git work tree, driven through the ``git`` command."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def _call(
        cwd: Path, args: Sequence[str], stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False)
        except FileNotFoundError:
            raise GitError("git is not installed (or not on PATH)") from None
        except OSError as exc:
            raise GitError(f"cannot run git: {exc}") from None

    @classmethod
    def discover(cls, start: Path) -> GitRepo:
        done = cls._call(start, ["rev-parse", "--show-toplevel"])
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            raise GitError(
                f"{start} is not inside a git repository ({detail[-1] if detail else 'no detail'})"
            )
        return cls(Path(done.stdout.decode().strip()).resolve())

    def run(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = self._call(self.root, args, stdin)
        if done.returncode != 0:
            detail = done.stderr.decode(errors="replace").strip()
            raise GitError(f"`git {' '.join(args)}` failed: {detail}")
        return done.stdout

    def commit(self, ref: str) -> str:
        """The commit a ref names; a clear error when it names nothing."""
        if not ref.strip() or ref.startswith("-"):
            raise GitError(f"{ref!r} is not a git ref")
        done = self._call(
            self.root, ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"]
        )
        if done.returncode != 0:
            raise GitError(f"unknown git ref {ref!r}: no such branch, tag or commit here. {_FETCH_HINT}")
        return done.stdout.decode().strip()

    def changed_since(self, commit: str) -> set[str]:
        """Paths (from the top of the repository) that differ from ``commit`` in the work tree.

        Renames count as a deletion and an addition, so both names are listed.
        """
        tracked = self.run("diff", "--name-only", "--no-renames", "-z", commit, "--")
        untracked = self.run("ls-files", "--others", "--exclude-standard", "-z")
        return {p for p in (tracked + b"\0" + untracked).decode("utf-8", "surrogateescape").split("\0") if p}

    def read_many(self, commit: str, paths: Iterable[str]) -> dict[str, bytes | None]:
        """File contents at ``commit`` (None where the file did not exist), in one git call."""
        wanted = sorted(set(paths))
        if not wanted:
            return {}
        request = "".join(f"{commit}:{p}\n" for p in wanted).encode("utf-8", "surrogateescape")
        out = self.run("cat-file", "--batch", stdin=request)
        found: dict[str, bytes | None] = {}
        pos = 0
        for path in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                found[path] = out[pos : pos + size]
                pos += size + 1
            elif len(header) == 3:  # a tree or a submodule: not a file
                pos += int(header[2]) + 1
                found[path] = None
            else:  # "<object> missing"
                found[path] = None
        return found

    def list_dir(self, commit: str, directory: str) -> list[str]:
        """Names of the files in ``directory`` at ``commit``."""
        out = self.run("ls-tree", "--name-only", "-z", commit, "--", directory.rstrip("/") + "/")
        return [Path(p).name for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


@dataclass
class ChangeSet:
    """The files that differ from a ref, and their contents at that ref (read on demand)."""

    repo: GitRepo
    ref: str
    commit: str
    paths: frozenset[Path]
    _old: dict[Path, bytes | None] = field(default_factory=dict, repr=False)
    _dirs: dict[str, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def since(cls, repo: GitRepo, ref: str) -> ChangeSet:
        commit = repo.commit(ref)
        paths = frozenset(Path(os.path.normpath(repo.root / p)) for p in repo.changed_since(commit))
        return cls(repo, ref, commit, paths)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, Path) and _real(path) in self.paths

    def relative(self, path: Path) -> str | None:
        try:
            return _real(path).relative_to(self.repo.root).as_posix()
        except ValueError:
            return None

    def prefetch(self, paths: Iterable[Path]) -> None:
        """Read many files at the ref in one git call."""
        todo = {}
        for path in paths:
            real = _real(path)
            rel = self.relative(real)
            if real in self._old:
                continue
            if rel is None:
                self._old[real] = None
            else:
                todo[rel] = real
        for rel, data in self.repo.read_many(self.commit, todo).items():
            self._old[todo[rel]] = data

    def old_bytes(self, path: Path) -> bytes | None:
        real = _real(path)
        if real not in self._old:
            self.prefetch([real])
        return self._old.get(real)

    def old_text(self, path: Path) -> str | None:
        data = self.old_bytes(path)
        return None if data is None else data.decode("utf-8", "replace")

    def old_names(self, directory: Path) -> list[str]:
        rel = self.relative(directory)
        if rel is None:
            return []
        if rel not in self._dirs:
            self._dirs[rel] = self.repo.list_dir(self.commit, rel)
        return self._dirs[rel]

    @property
    def label(self) -> str:
        return f"{self.ref} ({self.commit[:10]})"


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))


def _under(path: Path, dirs: Iterable[Path]) -> bool:
    real = _real(path)
    return any(real == d or d in real.parents for d in (_real(x) for x in dirs))


# --- which cases a change affects ----------------------------------------------------------------


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
    import sys

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
                    found.append(_real(path))
                    continue
            except OSError:
                continue
            if candidate == target and all(part.isidentifier() for part in target.split(".")):
                module_file = getattr(sys.modules.get(target), "__file__", None)
                if module_file:
                    found.append(_real(Path(module_file)))
    return found


def _load_mapping(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def _case_entries(data: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key in ("tests", "test_cases"):
        for case in data.get(key) or ():
            if isinstance(case, dict) and "name" in case:
                out[str(case["name"])] = case
    return out


@dataclass(frozen=True, slots=True)
class _SuiteDelta:
    """How a suite file changed: everything (``all_reason``), or these case entries."""

    all_reason: str | None = None
    cases: frozenset[str] = frozenset()
    new_cases: frozenset[str] = frozenset()


def _suite_delta(path: Path, changes: ChangeSet) -> _SuiteDelta:
    if path not in changes:
        return _SuiteDelta()
    old = _load_mapping(changes.old_text(path))
    if old is None:
        return _SuiteDelta(all_reason=f"suite file is new, renamed or unreadable at {changes.ref}")
    try:
        new = _load_mapping(path.read_text(encoding="utf-8"))
    except OSError:
        new = None
    if new is None:
        return _SuiteDelta(all_reason="suite file changed")
    keys = sorted(k for k in {*old, *new} if k not in _INERT_SUITE_KEYS and old.get(k) != new.get(k))
    if keys:
        return _SuiteDelta(all_reason=f"suite-level {', '.join(f'`{k}`' for k in keys)} changed")
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
        p for p in changes.paths if p.suffix in PROMPT_SUFFIXES and _under(p, every_dir) and not p.exists()
    ]
    changes.prefetch([*deleted_prompts, *{plan.suite_path for plan in plans if plan.suite_path in changes}])
    deleted_names: dict[Path, str] = {}
    for path in deleted_prompts:
        data = _load_mapping(changes.old_text(path))
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
                if name == plan.prompt.name and _under(path, dirs_cache[suite_dir]):
                    reasons.append(f"a version of prompt {name!r} was deleted: {display(path)}")
        seen: set[Path] = set()
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


# --- prompt diffs --------------------------------------------------------------------------------


def _prompt_from_text(text: bytes, path: Path) -> Prompt | None:
    """Parse a prompt file's old content exactly as the registry would."""
    with tempfile.TemporaryDirectory(prefix="llmops-old-") as tmp:
        copy = Path(tmp) / path.name
        copy.write_bytes(text)
        try:
            prompt = load_prompt_file(copy)
        except LlmopsError:
            return None
    return dataclasses.replace(prompt, path=path)


def prompt_diffs(
    changes: ChangeSet, loaded: Mapping[Path, Sequence[Prompt]], *, base: Path
) -> list[dict[str, Any]]:
    """One entry per prompt version added, edited or removed since the ref, with its template diff.

    A new version is compared with the highest lower version of the same prompt at the ref (the
    one it most likely replaces); a version whose file changed in place, with the same version.
    """
    dirs = list(loaded)
    changed = sorted(p for p in changes.paths if p.suffix in PROMPT_SUFFIXES and _under(p, dirs))
    if not changed:
        return []
    changes.prefetch(changed)
    current = {_real(p.path): p for prompts in loaded.values() for p in prompts}

    def snap(prompt: Prompt) -> PromptSnapshot:
        return PromptSnapshot.from_prompt(prompt, base)

    old: dict[tuple[str, str], PromptSnapshot] = {}
    new: dict[tuple[str, str], PromptSnapshot] = {}
    for path in changed:
        data = changes.old_bytes(path)
        old_prompt = _prompt_from_text(data, path) if data is not None else None
        if old_prompt is not None:
            old[(old_prompt.name, str(old_prompt.version))] = snap(old_prompt)
        if path in current:
            new[(current[path].name, str(current[path].version))] = snap(current[path])
    # At the ref, the prompts whose files did not change were as they are now.
    at_ref = dict(old)
    for path, prompt in current.items():
        if path not in changes:
            at_ref.setdefault((prompt.name, str(prompt.version)), snap(prompt))

    at = changes.ref
    diffs: list[dict[str, Any]] = []
    replaced: set[tuple[str, str]] = set()
    for key in sorted(new, key=_version_key):
        after = new[key]
        before = old.get(key)
        if before is not None:
            if before.sha256 == after.sha256 and before.path == after.path:
                continue
            change = "edited in place" if before.sha256 != after.sha256 else "moved"
            hint = suggest_bump(before, after) if before.sha256 != after.sha256 else None
            diffs.append(_prompt_entry(change, before, after, at, hint))
            continue
        base_version = _highest_below(key, at_ref)
        if base_version is None:
            diffs.append(
                _prompt_entry(
                    "new prompt" if not _has_name(key[0], at_ref) else "new version", None, after, at, None
                )
            )
            continue
        before = at_ref[base_version]
        if before.path == after.path:
            replaced.add(base_version)  # the same file, its version bumped
        diffs.append(_prompt_entry("new version", before, after, at, suggest_bump(before, after)))
    for key in sorted(old, key=_version_key):
        if (
            key not in new
            and key not in replaced
            and key not in {(p.name, str(p.version)) for p in current.values()}
        ):
            diffs.append(_prompt_entry("deleted", old[key], None, at, None))
    return sorted(diffs, key=lambda d: _version_key((d["prompt"], (d["new"] or d["old"])["version"])))


def _version_key(key: tuple[str, str]) -> tuple[str, Any]:
    try:
        return key[0], (0, Version.parse(key[1])._sort_key())
    except InvalidVersionError:
        return key[0], (1, key[1])


def _has_name(name: str, snapshots: Mapping[tuple[str, str], PromptSnapshot]) -> bool:
    return any(n == name for n, _ in snapshots)


def _highest_below(
    key: tuple[str, str], snapshots: Mapping[tuple[str, str], PromptSnapshot]
) -> tuple[str, str] | None:
    try:
        target = Version.parse(key[1])
    except InvalidVersionError:
        return None
    best: tuple[Version, tuple[str, str]] | None = None
    for name, version in snapshots:
        if name != key[0]:
            continue
        try:
            parsed = Version.parse(version)
        except InvalidVersionError:
            continue
        if parsed < target and (best is None or parsed > best[0]):
            best = (parsed, (name, version))
    return best[1] if best else None


def _prompt_entry(
    change: str,
    before: PromptSnapshot | None,
    after: PromptSnapshot | None,
    ref: str,
    hint: Any,
) -> dict[str, Any]:
    def side(s: PromptSnapshot | None) -> dict[str, Any] | None:
        if s is None:
            return None
        return {"version": s.version, "path": s.path, "sha256": s.sha256, "variables": list(s.variables)}

    name = (after or before).name  # type: ignore[union-attr]
    old_label = f"{before.ref} ({ref}:{before.path})" if before else "/dev/null"
    new_label = f"{after.ref} ({after.path})" if after else "/dev/null"
    entry: dict[str, Any] = {
        "prompt": name,
        "change": change,
        "old": side(before),
        "new": side(after),
        "diff": "\n".join(template_diff(before, after, old_label, new_label)),
        "suggested_bump": None,
        "cases": [],
    }
    if hint is not None and before is not None and after is not None:
        actual = bump_level(before.version, after.version)
        entry["suggested_bump"] = {
            "level": hint.level,
            "reasons": list(hint.reasons),
            "actual": actual,
            "enough": actual is not None and _LEVELS[actual] >= _LEVELS[hint.level],
        }
    return entry


_LEVELS = {"patch": 0, "minor": 1, "major": 2}


# --- case diffs ----------------------------------------------------------------------------------


def response_text(body: Any) -> str | None:
    """The answer in a recorded response body: OpenAI chat completion, Anthropic message, or a stream."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return _stream_text(body)
    if not isinstance(data, dict):
        return None
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            return content
        if isinstance(choices[0].get("text"), str):
            return str(choices[0]["text"])
    content = data.get("content")
    if isinstance(content, list):
        texts = [str(c["text"]) for c in content if isinstance(c, dict) and isinstance(c.get("text"), str)]
        if texts:
            return "".join(texts)
    return None


def _stream_text(body: str) -> str | None:
    """Join the text deltas of a server-sent-events stream (OpenAI or Anthropic)."""
    parts = []
    for line in body.splitlines():
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if payload == "[DONE]":
            continue
        try:
            event = json.loads(payload)
        except ValueError:
            continue
        if not isinstance(event, dict):
            continue
        for choice in event.get("choices") or ():
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict) and isinstance(delta.get("content"), str):
                parts.append(delta["content"])
        delta = event.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("text"), str):
            parts.append(delta["text"])
    return "".join(parts) if parts else None


def _old_response(cassette: str) -> tuple[str, dict[str, Any]] | None:
    """(text, facts) of the last answer recorded in a cassette's text."""
    try:
        data = yaml.safe_load(cassette)
    except yaml.YAMLError:
        return None
    interactions = data.get("interactions") if isinstance(data, dict) else None
    for interaction in reversed(interactions or []):
        response = interaction.get("response") if isinstance(interaction, dict) else None
        if not isinstance(response, dict):
            continue
        text = response_text((response.get("body") or {}).get("string"))
        if text is not None:
            facts = response.get("llmops") if isinstance(response.get("llmops"), dict) else {}
            try:
                body = json.loads((response.get("body") or {}).get("string") or "")
            except (TypeError, ValueError):
                body = {}
            return text, {"facts": facts, "body": body if isinstance(body, dict) else {}}
    return None


def _usage(body: Mapping[str, Any]) -> Usage:
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return Usage()
    try:
        return Usage(
            input_tokens=int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0),
            output_tokens=int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0),
        )
    except (TypeError, ValueError):
        return Usage()


def _rescore(
    plan: CasePlan, checks: Sequence[PreparedAssertion], text: str, extra: Mapping[str, Any]
) -> tuple[float | None, bool]:
    """Score an old answer with today's checks, so the change is measured with one ruler."""
    body = extra.get("body") or {}
    response = LLMResponse(
        text=text,
        provider=plan.provider.display,
        model=str(body.get("model") or plan.provider.model or ""),
        usage=_usage(body),
        latency_ms=float((extra.get("facts") or {}).get("latency_ms", 0.0) or 0.0),
        replayed=True,
    )
    ctx = AssertionContext(
        output=text,
        response=response,
        vars=plan.vars,
        expected=plan.expected,
        case_id=f"{plan.suite_path.name}::{plan.case}",
    )
    return combine_scores(tuple(a.run(ctx) for a in checks), plan.threshold)


def case_diff(
    plan: CasePlan,
    result: CaseResult | None,
    *,
    nodeid: str,
    reasons: Sequence[str],
    ref: str,
    old_cassette: tuple[str, str] | None,
    uses_judge: Callable[[str], bool] = lambda _type: False,
) -> dict[str, Any]:
    """The response at the ref beside the new one, both scored with the current assertions.

    ``old_cassette`` is (path shown, text) of the case's cassette at the ref, if it had one.
    Checks that call a model (judges, embeddings) are not re-run on the old response: that would
    spend money and need recordings of its own. When a case has any, both scores are computed
    from its other checks, and ``compared_without`` names the ones left out.
    """
    offline = [a for a in plan.assertions if not uses_judge(a.spec.type)]
    left_out = sorted({a.spec.type for a in plan.assertions if uses_judge(a.spec.type)})
    old: dict[str, Any] = {"response": None, "score": None, "passed": None, "cassette": None, "note": None}
    if old_cassette is None:
        old["note"] = f"no recording at {ref}"
    else:
        old["cassette"] = old_cassette[0]
        parsed = _old_response(old_cassette[1])
        if parsed is None:
            old["note"] = f"no answer found in the cassette at {ref}"
        else:
            old["response"] = parsed[0]
            if offline:
                old["score"], old["passed"] = _rescore(plan, offline, *parsed)
    new: dict[str, Any] = {"response": None, "score": None, "outcome": None, "error": None}
    comparable = None
    if result is not None:
        new.update(response=result.output, score=result.score, outcome=result.outcome, error=result.error)
        comparable = result.score
        if left_out and result.assertions:
            kept = [r for r in result.assertions if not uses_judge(r.type)]
            comparable = combine_scores(kept, plan.threshold)[0] if kept else None
    change = None
    if old["score"] is not None and comparable is not None and (result is None or result.outcome != "error"):
        change = round(float(comparable) - float(old["score"]), 6)
    return {
        "nodeid": nodeid,
        "case": plan.case,
        "prompt": plan.prompt.name if plan.prompt else None,
        "prompt_version": str(plan.prompt.version) if plan.prompt else None,
        "reasons": list(reasons),
        "old": old,
        "new": new,
        "score_change": change,
        "compared_without": left_out,
    }


def review_data(
    ref: str, prompts: Sequence[Mapping[str, Any]], cases: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``prompt_diffs`` section of the reports: prompt diffs, each naming its cases, and case diffs."""
    ordered_cases = sorted(cases, key=lambda c: str(c["nodeid"]))
    out_prompts = []
    for entry in prompts:
        side = entry.get("new") or entry.get("old") or {}
        nodeids = [
            c["nodeid"]
            for c in ordered_cases
            if c.get("prompt") == entry["prompt"] and c.get("prompt_version") == side.get("version")
        ]
        out_prompts.append({**entry, "cases": nodeids})
    return {"ref": ref, "prompts": out_prompts, "cases": [dict(c) for c in ordered_cases]}


def _score(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def _clip(text: str | None, limit: int = 300) -> str:
    if text is None:
        return "(none)"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + f"… ({len(flat) - limit} more chars)"


def format_review(data: Mapping[str, Any]) -> list[str]:
    """The terminal text of ``review_data``."""
    lines: list[str] = []
    for entry in data["prompts"]:
        side = entry.get("new") or entry.get("old")
        lines.append(f"prompt {entry['prompt']}@{side['version']}: {entry['change']}")
        bump = entry.get("suggested_bump")
        if bump:
            verdict = "" if bump["enough"] else f" (this change is {bump['actual'] or 'no bump'})"
            lines.append(f"  suggested bump: {bump['level']}{verdict}, because " + "; ".join(bump["reasons"]))
        lines.extend("  " + line for line in (entry["diff"].splitlines() or ["(no template change)"]))
        if entry["cases"]:
            lines.append(f"  cases: {len(entry['cases'])}")
    if data["cases"]:
        lines.append(f"cases affected since {data['ref']}: {len(data['cases'])}")
    for case in data["cases"]:
        old, new = case["old"], case["new"]
        change = case["score_change"]
        delta = "" if change is None else f" ({change:+.2f})"
        without = case.get("compared_without") or []
        note = f" (checks other than {', '.join(without)})" if without else ""
        lines.append(f"{case['nodeid']}: score {_score(old['score'])} → {_score(new['score'])}{delta}{note}")
        lines.append(f"  why: {'; '.join(case['reasons'])}")
        lines.append(f"  old: {old['note'] or _clip(old['response'])}")
        lines.append(
            f"  new: {_clip(new['response']) if new['response'] is not None else new['error'] or '(none)'}"
        )
    return lines


#: Cases the Markdown section lists (a pull-request comment holds 65,536 characters).
MARKDOWN_CASE_LIMIT = 20
MARKDOWN_TEXT_LIMIT = 160


def _cell(text: str | None, limit: int = MARKDOWN_TEXT_LIMIT) -> str:
    if text is None:
        return "—"
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def render_review_markdown(data: Mapping[str, Any]) -> str:
    """The ``prompt_diffs`` section of the Markdown report: folded diffs, then a table of cases."""
    out = [f"**Prompt changes since `{data['ref']}`**", ""]
    if not data["prompts"] and not data["cases"]:
        out.append("No prompt or case changed.")
    for entry in data["prompts"]:
        side = entry.get("new") or entry.get("old")
        summary = f"<code>{entry['prompt']}@{side['version']}</code>: {entry['change']}"
        bump = entry.get("suggested_bump")
        if bump:
            summary += f" · suggested bump: {bump['level']}"
            if not bump["enough"]:
                summary += f" (this change is {bump['actual'] or 'no bump'})"
        if entry["cases"]:
            summary += f" · {len(entry['cases'])} case(s)"
        out += [f"<details><summary>{summary}</summary>", ""]
        if bump:
            out += [f"Why: {'; '.join(bump['reasons'])}", ""]
        fence = "````" if "```" in entry["diff"] else "```"
        out += [f"{fence}diff", entry["diff"] or "(no template change)", fence, "", "</details>", ""]
    cases = data["cases"]
    if cases:
        out += [
            f"| case | score at `{data['ref']}` → now | old response | new response |",
            "|---|---|---|---|",
        ]
        for case in cases[:MARKDOWN_CASE_LIMIT]:
            old, new = case["old"], case["new"]
            change = case["score_change"]
            delta = "" if change is None else f" ({change:+.2f})"
            new_text = new["response"] if new["response"] is not None else new["error"]
            out.append(
                f"| `{_cell(case['nodeid'], 200)}` | {_score(old['score'])} → {_score(new['score'])}{delta} "
                f"| {_cell(old['response']) if old['response'] is not None else _cell(old['note'])} "
                f"| {_cell(new_text)} |"
            )
        if len(cases) > MARKDOWN_CASE_LIMIT:
            out.append(f"\n… and {len(cases) - MARKDOWN_CASE_LIMIT} more cases (see the JSON report)")
    return "\n".join(out).rstrip() + "\n"


_NUMBER_OR_NULL = {"type": ["number", "null"]}
_TEXT_OR_NULL = {"type": ["string", "null"]}
_SIDE = {
    "type": ["object", "null"],
    "required": ["version", "path", "sha256", "variables"],
    "properties": {
        "version": {"type": "string"},
        "path": {"type": "string"},
        "sha256": {"type": "string"},
        "variables": {"type": "array", "items": {"type": "string"}},
    },
}
#: JSON Schema of the ``prompt_diffs`` key of the JSON report (``review_data``'s output).
PROMPT_DIFFS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["ref", "prompts", "cases"],
    "properties": {
        "ref": {"type": "string"},
        "prompts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["prompt", "change", "old", "new", "diff", "suggested_bump", "cases"],
                "properties": {
                    "prompt": {"type": "string"},
                    "change": {"enum": ["new prompt", "new version", "edited in place", "moved", "deleted"]},
                    "old": _SIDE,
                    "new": _SIDE,
                    "diff": {"type": "string"},
                    "suggested_bump": {
                        "type": ["object", "null"],
                        "required": ["level", "reasons", "actual", "enough"],
                        "properties": {
                            "level": {"enum": ["patch", "minor", "major"]},
                            "reasons": {"type": "array", "items": {"type": "string"}},
                            "actual": {"enum": ["patch", "minor", "major", None]},
                            "enough": {"type": "boolean"},
                        },
                    },
                    "cases": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["nodeid", "case", "reasons", "old", "new", "score_change"],
                "properties": {
                    "nodeid": {"type": "string"},
                    "case": {"type": "string"},
                    "prompt": _TEXT_OR_NULL,
                    "prompt_version": _TEXT_OR_NULL,
                    "reasons": {"type": "array", "items": {"type": "string"}},
                    "old": {
                        "type": "object",
                        "required": ["response", "score", "passed", "cassette", "note"],
                        "properties": {
                            "response": _TEXT_OR_NULL,
                            "score": _NUMBER_OR_NULL,
                            "passed": {"type": ["boolean", "null"]},
                            "cassette": _TEXT_OR_NULL,
                            "note": _TEXT_OR_NULL,
                        },
                    },
                    "new": {
                        "type": "object",
                        "required": ["response", "score", "outcome", "error"],
                        "properties": {
                            "response": _TEXT_OR_NULL,
                            "score": _NUMBER_OR_NULL,
                            "outcome": _TEXT_OR_NULL,
                            "error": _TEXT_OR_NULL,
                        },
                    },
                    "score_change": _NUMBER_OR_NULL,
                    "compared_without": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


# --- the plugin object ---------------------------------------------------------------------------


class LockCheck(pytest.File):
    """The lock file as a collector whose only result is the guard's failure: a clean collection error."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        raise self.CollectError(self.message)


def _lock_path(config: pytest.Config) -> Path:
    raw = str(config.getini("llmops_lock_file")).strip() or DEFAULT_LOCK_NAME
    base = config.inipath.parent if config.inipath else config.rootpath
    path = Path(raw)
    return _real(path if path.is_absolute() else base / path)


class PromptReview:
    """Registered per run: the lock guard, ``--llmops-changed-since`` and ``--llmops-diff``."""

    def __init__(self, state: LlmopsState) -> None:
        config = state.config
        self.state = state
        self.config = config
        self.is_worker = hasattr(config, "workerinput")
        self.lock_path = _lock_path(config)
        self.update_lock = bool(config.getoption("llmops_update_lock"))
        try:
            self.lock_required = bool(config.getini("llmops_lock_required"))
        except (ValueError, pytest.UsageError) as exc:  # pytest's own message does not name the key
            raise pytest.UsageError(f"llmops_lock_required: {exc}; write true or false") from None
        self.suite_paths: list[Path] = []
        self.lock_notes: list[str] = []
        self.prompt_diffs: list[dict[str, Any]] = []
        self.case_diffs: list[dict[str, Any]] = []
        self._pending_lock: str | None = None
        self._from_workers = False
        self._diff_targets: dict[str, tuple[list[str], tuple[str, str] | None]] = {}
        since_ref = config.getoption("llmops_changed_since")
        diff_ref = config.getoption("llmops_diff")
        self.since: ChangeSet | None = None
        self.diff: ChangeSet | None = None
        if since_ref is not None or diff_ref is not None:
            try:
                repo = GitRepo.discover(config.rootpath)
                if since_ref is not None:
                    self.since = ChangeSet.since(repo, since_ref)
                if diff_ref is not None:
                    same = self.since is not None and diff_ref == since_ref
                    self.diff = self.since if same else ChangeSet.since(repo, diff_ref)
            except GitError as exc:
                option = (
                    "--llmops-changed-since"
                    if since_ref is not None and self.since is None
                    else "--llmops-diff"
                )
                raise pytest.UsageError(f"{option}: {exc}") from None

    # -- collection ---------------------------------------------------------------------------

    def pytest_report_header(self, config: pytest.Config) -> list[str]:
        lines = []
        if self.since is not None:
            lines.append(
                f"llmops: cases affected by changes since {self.since.label}: "
                f"{len(self.since.paths)} changed file(s)"
            )
        if self.diff is not None:
            lines.append(f"llmops: prompt diffs against {self.diff.label}")
        return lines

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        from .collect import SuiteFile

        if isinstance(collector, SuiteFile):
            self.suite_paths.append(collector.path)

    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not self._guard(session, items):
            return
        if self.since is not None:
            self._select(items)
        if self.diff is not None:
            self._prepare_diffs(items)

    def _display(self, path: Path) -> str:
        try:
            return _real(path).relative_to(_real(self.config.rootpath)).as_posix()
        except ValueError:
            return str(path)

    def _references(self) -> list[SuiteReference]:
        out = []
        for path in self.suite_paths:
            try:
                data, lines = load_yaml_file(path)
            except LlmopsError:
                continue
            raw = data.get("prompt") if isinstance(data, dict) else None
            refs = raw if isinstance(raw, list) else [raw] if raw is not None else []
            dirs = tuple(_real(d) for d in self.state.prompt_dirs_for(path.parent))
            for index, ref in enumerate(refs):
                if isinstance(ref, str):
                    line = lines.line(("prompt", index) if isinstance(raw, list) else ("prompt",))
                    out.append(SuiteReference(self._display(path), line, ref, dirs))
        return out

    def _guard(self, session: pytest.Session, items: list[pytest.Item]) -> bool:
        """Run the version-bump guard; False when it failed (the failure is already reported)."""
        loaded = self.state._prompt_dirs  # every folder the suites' registries read, this run
        prompts = [p for found in loaded.values() for p in found]
        exists = self.lock_path.is_file()
        name = self._display(self.lock_path)
        if not exists and not self.update_lock:
            if self.lock_required and loaded:
                return self._fail(
                    session,
                    items,
                    f"{name} does not exist, and llmops_lock_required is set. Create it with "
                    f"`pytest --llmops-update-lock` and commit it.",
                )
            return True  # no lock, no guard
        if not loaded:
            if self.update_lock:
                self.lock_notes.append(f"{name}: not written, no suite loaded any prompt folder")
            return True
        try:
            lock = LockFile.read(self.lock_path) if exists else LockFile(self.lock_path)
        except LockfileError as exc:
            if not self.update_lock:
                return self._fail(session, items, str(exc))
            self.lock_notes.append(f"{name} was unreadable and is regenerated from the prompts")
            lock, exists = LockFile(self.lock_path), False
        result = check_prompts(
            lock,
            prompts,
            scanned=[_real(d) for d in loaded],
            references=self._references(),
            update=self.update_lock,
            may_write=not in_ci(),
            existed=exists,
        )
        if not result.ok:
            return self._fail(session, items, "\n\n".join(result.errors))
        self._note(result, name, created=not exists)
        if result.lock_text is not None:
            if self.is_worker:  # the controller writes it once (pytest_testnodedown)
                self._pending_lock = result.lock_text
            else:
                atomic_write_text(self.lock_path, result.lock_text)
        return True

    def _note(self, result: GuardResult, name: str, *, created: bool) -> None:
        if result.lock_text is None:
            if self.update_lock:
                self.lock_notes.append(f"{name} is up to date ({result.checked} prompt versions checked)")
            return
        if created:
            self.lock_notes.append(f"{name} created with {result.checked} prompt versions; commit it")
            return
        parts = [
            f"{label} {', '.join(refs)}"
            for label, refs in (
                ("added", result.added),
                ("updated", result.accepted),
                ("dropped", result.removed),
            )
            if refs
        ]
        self.lock_notes.append(f"{name} updated: {'; '.join(parts) or 'file paths'}; commit it")

    def _fail(self, session: pytest.Session, items: list[pytest.Item], message: str) -> bool:
        rel = self._display(self.lock_path)
        node = LockCheck.from_parent(session, path=self.lock_path, nodeid=rel, message=message)
        report = node.ihook.pytest_make_collect_report(collector=node)
        report.__dict__.pop("call", None)  # as pytest's collect_one_node does: xdist cannot send it
        session.ihook.pytest_collectreport(report=report)
        if not self.config.option.continue_on_collection_errors:
            items.clear()  # a failed guard runs nothing: no case records against an unversioned prompt
        return False

    def _case_items(self, items: Sequence[pytest.Item]) -> list[Any]:
        from .collect import CaseItem

        return [item for item in items if isinstance(item, CaseItem)]

    def _reasons(self, cases: Sequence[Any], changes: ChangeSet) -> list[list[str]]:
        return affected_reasons(
            [item.plan for item in cases],
            changes,
            prompt_dirs=self.state.prompt_dirs_for,
            cassette_path=self.state.run.cassette_path,
            display=self._display,
        )

    def _select(self, items: list[pytest.Item]) -> None:
        assert self.since is not None
        cases = self._case_items(items)
        reasons = self._reasons(cases, self.since)
        unaffected = {id(item) for item, why in zip(cases, reasons, strict=True) if not why}
        if unaffected:
            self.config.hook.pytest_deselected(items=[i for i in items if id(i) in unaffected])
            items[:] = [i for i in items if id(i) not in unaffected]

    def _prepare_diffs(self, items: list[pytest.Item]) -> None:
        assert self.diff is not None
        changes = self.diff
        self.prompt_diffs = prompt_diffs(changes, self.state._prompt_dirs, base=_real(self.config.rootpath))
        cases = self._case_items(items)
        reasons = self._reasons(cases, changes)
        targets = [(item, why) for item, why in zip(cases, reasons, strict=True) if why]
        cassettes = {item.nodeid: self._old_cassette_path(item.plan, changes) for item, _ in targets}
        changes.prefetch([p for p in cassettes.values() if p is not None])
        for item, why in targets:
            path = cassettes[item.nodeid]
            text = changes.old_text(path) if path is not None else None
            old = (self._display(path), text) if path is not None and text is not None else None
            self._diff_targets[item.nodeid] = (why, old)

    def _old_cassette_path(self, plan: CasePlan, changes: ChangeSet) -> Path | None:
        """The case's cassette at the ref: the same file, or the same case and provider under another
        version of its prompt (a suite moved to a new version records under a new name)."""
        path = self.state.run.cassette_path(plan)
        folder = path.parent
        names = changes.old_names(folder)
        if path.name in names:
            return path
        if plan.prompt is None:
            return None
        prefix = cassette_file_name(f"{plan.case}[{plan.prompt.name}@")[: -len(".yaml")]
        suffix = cassette_file_name(f"-{plan.provider.display}]")
        candidates = []
        for name in names:
            if name.startswith(prefix) and name.endswith(suffix):
                version = name[len(prefix) : -len(suffix)]
                try:
                    candidates.append((Version.parse(version), name))
                except InvalidVersionError:
                    continue
        if not candidates:
            return None
        return folder / max(candidates, key=lambda c: c[0]._sort_key())[1]

    # -- running ------------------------------------------------------------------------------

    # tryfirst makes this the outermost wrapper: it adds to the call report after every other
    # plugin has shaped it. The diff rides on the report only (to the xdist controller), never
    # on the item, so JUnit XML (written from the teardown report) stays free of it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        target = self._diff_targets.get(item.nodeid)
        if call.when == "call" and target is not None and self.diff is not None:
            entry = case_diff(
                item.plan,  # type: ignore[attr-defined]
                getattr(item, "result", None),
                nodeid=item.nodeid,
                reasons=target[0],
                ref=self.diff.ref,
                old_cassette=target[1],
                uses_judge=self.state.assertions.uses_judge,
            )
            report.user_properties.append((DIFF_PROPERTY, entry))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":  # teardown repeats user_properties
            return
        for name, value in report.user_properties:
            if name == DIFF_PROPERTY and isinstance(value, dict):
                self.case_diffs.append(value)

    # -- xdist: workers collect, the controller writes and prints -------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.since is not None and session.exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
            # Nothing affected by the change is a success, not pytest's "no tests" (exit 5):
            # a pull request that touches no case must not fail its check.
            session.exitstatus = pytest.ExitCode.OK
        workeroutput = getattr(self.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["llmops_review"] = {
                "lock_text": self._pending_lock,
                "lock_notes": self.lock_notes,
                "prompt_diffs": self.prompt_diffs,
            }

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        data = getattr(node, "workeroutput", {}).get("llmops_review")
        if not data or self._from_workers:
            return
        self._from_workers = True  # every worker collected the same suites: take the first
        if data.get("lock_text") is not None:
            atomic_write_text(self.lock_path, data["lock_text"])
        self.lock_notes = list(data.get("lock_notes") or [])
        self.prompt_diffs = list(data.get("prompt_diffs") or [])

    # -- reporting ----------------------------------------------------------------------------

    def review(self) -> dict[str, Any] | None:
        """The ``prompt_diffs`` data of this run (None without ``--llmops-diff``)."""
        if self.diff is None:
            return None
        return review_data(self.diff.ref, self.prompt_diffs, self.case_diffs)

    @pytest.hookimpl(trylast=True)  # after the llmops summary table
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker:
            return
        for note in self.lock_notes:
            terminalreporter.write_line(f"llmops: {note}")
        data = self.review()
        if data is not None:
            terminalreporter.write_sep(
                "=", f"llmops prompt diff since {self.diff.label if self.diff else ''}"
            )
            if not data["prompts"] and not data["cases"]:
                terminalreporter.write_line("no prompt or case changed")
            for line in format_review(data):
                terminalreporter.write_line(line)
