"""Importers of other tools' configs: ``python -m pytest_llmops import-promptfoo CONFIG --out DIR``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import LlmopsError
from .promptfoo import Imported, import_promptfoo

__all__ = ["Imported", "import_promptfoo", "main"]

_USAGE = "usage: python -m pytest_llmops import-promptfoo promptfooconfig.yaml --out DIR [--force]"


def main(argv: Sequence[str]) -> int:
    """The ``import-promptfoo`` command: exit 0 when written (whatever could not be translated)."""
    args = list(argv)
    force = "--force" in args
    args = [a for a in args if a != "--force"]
    out: str | None = None
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg.startswith("--out="):
            out = arg.partition("=")[2]
        elif arg == "--out" and index + 1 < len(args):
            out = args[index + 1]
            index += 1
        elif arg in ("-h", "--help"):
            print(_USAGE)
            return 0
        else:
            rest.append(arg)
        index += 1
    if len(rest) != 1 or not out:
        print(_USAGE, file=sys.stderr)
        return 2
    config, target = Path(rest[0]), Path(out)
    if not config.is_file():
        print(f"import-promptfoo: {config}: no such file", file=sys.stderr)
        return 2
    if target.exists() and any(target.iterdir()) and not force:
        print(
            f"import-promptfoo: {target} is not empty; choose another --out, or pass --force", file=sys.stderr
        )
        return 2
    try:
        imported = import_promptfoo(config, target)
    except LlmopsError as exc:
        print(f"import-promptfoo: {exc}", file=sys.stderr)
        return 1
    print(imported.summary())
    return 0
