"""``python -m pytest_llmops COMMAND``: tools that work on reports and docs outside a pytest run."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["JUDGES_DOC", "SETTINGS_DOC", "main", "with_judge_prompts", "with_settings_reference"]

#: The page whose reference table is generated from the settings table, and its markers.
SETTINGS_DOC = Path("docs") / "configuration.md"
_START, _END = "<!-- settings:start -->", "<!-- settings:end -->"
#: The page that shows every judge prompt, generated from the templates, and its markers.
JUDGES_DOC = Path("docs") / "judges.md"
_PROMPTS_START, _PROMPTS_END = "<!-- judge-prompts:start -->", "<!-- judge-prompts:end -->"


def _html(argv: Sequence[str]) -> int:
    from .report.html import main as html_main

    return html_main(argv)


def _merge(argv: Sequence[str]) -> int:
    from .plugin.offline import settings_from_pytest
    from .report.merge import main as merge_main
    from .settings import Settings

    def load(args: list[str]) -> Settings | int:
        found = settings_from_pytest(args)
        return found.settings if found.settings is not None else found.exit_status

    return merge_main(argv, load)


def with_settings_reference(page: str) -> str:
    """``page`` with the text between its settings markers replaced by the generated reference."""
    from .settings import reference_markdown

    head, start, rest = page.partition(_START)
    _, end, tail = rest.partition(_END)
    if not start or not end:
        raise ValueError(f"the page has no {_START} ... {_END} block to fill")
    return f"{head}{_START}\n\n{reference_markdown()}\n{_END}{tail}"


def with_judge_prompts(page: str) -> str:
    """``page`` with the text between its judge-prompt markers replaced by the prompts as sent."""
    from .assertions.judges.reference import prompt_reference

    head, start, rest = page.partition(_PROMPTS_START)
    _, end, tail = rest.partition(_PROMPTS_END)
    if not start or not end:
        raise ValueError(f"the page has no {_PROMPTS_START} ... {_PROMPTS_END} block to fill")
    return f"{head}{_PROMPTS_START}\n\n{prompt_reference()}\n{_PROMPTS_END}{tail}"


def _judge_prompts_doc(argv: Sequence[str]) -> int:
    path = Path(argv[0]) if argv else JUDGES_DOC
    try:
        page = path.read_text(encoding="utf-8")
        path.write_text(with_judge_prompts(page), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"judge-prompts-doc: {path}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the judge prompts into {path}")
    return 0


def _settings_doc(argv: Sequence[str]) -> int:
    path = Path(argv[0]) if argv else SETTINGS_DOC
    try:
        page = path.read_text(encoding="utf-8")
        path.write_text(with_settings_reference(page), encoding="utf-8")
    except (OSError, ValueError) as exc:
        print(f"settings-doc: {path}: {exc}", file=sys.stderr)
        return 1
    print(f"wrote the settings reference into {path}")
    return 0


#: Each command, and what it does (the first line of the help).
COMMANDS: dict[str, tuple[Callable[[Sequence[str]], int], str]] = {
    "html": (_html, "render a JSON report (--llmops-report) as a self-contained HTML page"),
    "merge": (_merge, "combine CI shards' JSON reports into one run, and apply its gates and reports"),
    "settings-doc": (_settings_doc, f"regenerate the settings reference in {SETTINGS_DOC.as_posix()} [PATH]"),
    "judge-prompts-doc": (
        _judge_prompts_doc,
        f"regenerate the judge prompts in {JUDGES_DOC.as_posix()} [PATH]",
    ),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        lines = ["usage: python -m pytest_llmops COMMAND [ARGS]", "", "commands:"]
        lines += [f"  {name:<18} {text}" for name, (_, text) in COMMANDS.items()]
        print("\n".join(lines), file=sys.stderr if args and args[0] not in ("-h", "--help") else sys.stdout)
        return 0 if args and args[0] in ("-h", "--help") else 2
    command, _ = COMMANDS[args[0]]
    return command(args[1:])


if __name__ == "__main__":
    sys.exit(main())
