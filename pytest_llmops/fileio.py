"""Atomic file writes: a reader (or a killed run) never sees half a cassette or report.

Only regular files are written. A path that names a symlink, a FIFO, a device or a folder is
refused, never replaced: renaming over it would swap a device node or a link for a file, and
writing through it could land anywhere.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["NotARegularFileError", "atomic_write_chunks", "atomic_write_text", "display_path"]


class NotARegularFileError(OSError):
    """The path exists and is not a regular file; the message says what it is."""


_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _refuse_special(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    raise NotARegularFileError(
        f"{path} is {kind}; only regular files are written (name a new or a regular file)"
    )


def _umask() -> int:
    # os.umask can only be read by setting it; done once, at import, before any thread starts.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: mkstemp creates files readable by their owner only; cassettes and reports are ordinary files.
_MODE = 0o666 & ~_umask()


def atomic_write_text(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, flush it to disk, then rename over ``path``.

    Raises ``NotARegularFileError`` (an ``OSError``) when ``path`` is a link, FIFO, device or folder.
    """
    atomic_write_chunks(path, (text,))


def atomic_write_chunks(path: Path, chunks: Iterable[str]) -> None:
    """``atomic_write_text`` of the text ``chunks`` make, written as they come (a large report
    is never held whole). If the iteration raises, ``path`` is left as it was."""
    _refuse_special(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(chunks)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def display_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it, as messages show paths."""
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
