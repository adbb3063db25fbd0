"""Git, driven through the ``git`` command: what changed since a ref, and files as they were there."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GitError

__all__ = ["ChangeSet", "GitRepo", "real_path", "under"]

_FETCH_HINT = (
    "In GitHub Actions, check out with `fetch-depth: 0` (or `git fetch origin <base>`) so the base "
    "commit exists."
)


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

    def merge_base(self, commit: str) -> str:
        """``git merge-base HEAD commit``: where the branch forked, as a pull request's diff uses."""
        done = self._call(self.root, ["merge-base", "HEAD", commit])
        if done.returncode != 0 or not done.stdout.strip():
            detail = done.stderr.decode(errors="replace").strip()
            raise GitError(
                f"no merge base of HEAD and {commit[:10]}: they share no history here"
                + (f" ({detail})" if detail else "")
                + f". {_FETCH_HINT}"
            )
        return done.stdout.decode().strip().splitlines()[0]

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
    """The files that differ from where HEAD forked from a ref, and their contents there.

    Like a pull request's diff, the comparison is with ``git merge-base HEAD REF``, not with REF
    itself: a branch with no changes of its own shows none, however far main has moved since.
    """

    repo: GitRepo
    ref: str
    #: The merge base of HEAD and the ref: what "the ref" means in every comparison.
    commit: str
    paths: frozenset[Path]
    _old: dict[Path, bytes | None] = field(default_factory=dict, repr=False)
    _dirs: dict[str, list[str]] = field(default_factory=dict, repr=False)
    #: The commit the ref itself names (the merge base when the ref is an ancestor of HEAD).
    ref_commit: str = ""

    @classmethod
    def since(cls, repo: GitRepo, ref: str) -> ChangeSet:
        named = repo.commit(ref)
        base = repo.merge_base(named)
        paths = frozenset(Path(os.path.normpath(repo.root / p)) for p in repo.changed_since(base))
        return cls(repo, ref, base, paths, ref_commit=named)

    def __contains__(self, path: object) -> bool:
        return isinstance(path, Path) and real_path(path) in self.paths

    def relative(self, path: Path) -> str | None:
        try:
            return real_path(path).relative_to(self.repo.root).as_posix()
        except ValueError:
            return None

    def prefetch(self, paths: Iterable[Path]) -> None:
        """Read many files at the ref in one git call."""
        todo = {}
        for path in paths:
            real = real_path(path)
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
        real = real_path(path)
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
        if self.ref_commit and self.ref_commit != self.commit:
            return f"{self.ref} (merge base {self.commit[:10]})"
        return f"{self.ref} ({self.commit[:10]})"


def real_path(path: Path) -> Path:
    return Path(os.path.realpath(path))


def under(path: Path, dirs: Iterable[Path]) -> bool:
    real = real_path(path)
    return any(real == d or d in real.parents for d in (real_path(x) for x in dirs))
