"""The docs stay true to the code: the settings reference is the settings table, links resolve,
the README opens with the two set-up commands, and options are written ``--option=VALUE``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_llmops.__main__ import SETTINGS_DOC, main, with_settings_reference
from pytest_llmops.settings import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]

#: The two set-up commands, exactly as README shows them and .ci/run runs them.
SETUP_COMMANDS = (
    "python -m pip install -e '.[examples]' && python -m pytest example_suites -p no:cacheprovider",
    "python -m pip install -U 'pip>=25.1' && python -m pip install -e . --group test && python -m pytest -n auto",
)

_FENCE = re.compile(r"^(```|~~~)")
_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_INLINE_CODE = re.compile(r"`[^`]*`")


def _prose_lines(text: str, *, keep_code: bool = False) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks; inline code removed unless ``keep_code``."""
    out, fence = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if _FENCE.match(line.lstrip()):
            fence = not fence
            continue
        if not fence:
            out.append((number, line if keep_code else _INLINE_CODE.sub("", line)))
    return out


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a page (lower case, punctuation dropped, - for spaces)."""
    seen: dict[str, int] = {}
    anchors = set()
    for _, line in _prose_lines(path.read_text(encoding="utf-8"), keep_code=True):
        match = re.match(r"#{1,6} +(.*?) *#*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_the_configuration_reference_is_the_settings_table() -> None:
    page = (ROOT / SETTINGS_DOC).read_text(encoding="utf-8")
    assert with_settings_reference(page) == page, (
        f"{SETTINGS_DOC.as_posix()} differs from the settings table (pytest_llmops/settings.py): "
        "run `python -m pytest_llmops settings-doc` and commit the page"
    )


def test_every_setting_is_in_the_configuration_reference() -> None:
    page = (ROOT / SETTINGS_DOC).read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in page and f"`{s.flag}" not in page]
    assert not missing, f"run `python -m pytest_llmops settings-doc`: missing {missing}"


def test_settings_doc_rewrites_only_the_marked_block(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# Title\n\nbefore\n<!-- settings:start -->\nstale\n<!-- settings:end -->\nafter\n")
    assert main(["settings-doc", str(page)]) == 0
    text = page.read_text()
    assert text.startswith("# Title\n\nbefore\n<!-- settings:start -->\n\n### Recording and replay\n")
    assert "stale" not in text
    assert text.endswith("|\n\n<!-- settings:end -->\nafter\n")
    assert "`--llmops-record-mode={none,once,new_episodes,all}`" in text
    assert "wrote the settings reference" in capsys.readouterr().out


def test_settings_doc_refuses_a_page_without_markers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "configuration.md"
    page.write_text("# Title\n")
    assert main(["settings-doc", str(page)]) == 1
    assert "<!-- settings:start --> ... <!-- settings:end -->" in capsys.readouterr().err
    assert page.read_text() == "# Title\n"


def test_readme_starts_with_the_two_set_up_commands() -> None:
    text = README.read_text(encoding="utf-8")
    before_first_section = text.split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", before_first_section, flags=re.S)
    assert blocks, (
        "README must open (before its first ## section) with a ```bash block of the set-up commands"
    )
    commands = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    assert commands == list(SETUP_COMMANDS), (
        "README's first code block must be the two set-up commands: install and replay the example "
        "suites offline, then run the tests"
    )
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in SETUP_COMMANDS:
        assert command in ci, f".ci/run no longer runs README's command: {command}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(page: Path) -> None:
    broken = []
    for number, line in _prose_lines(page.read_text(encoding="utf-8")):
        for target in _LINK.findall(line):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (page.parent / file_part).resolve() if file_part else page
            where = f"{page.relative_to(ROOT)}:{number}: {target}"
            if not resolved.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
                broken.append(f"{where} (no heading #{anchor} in {resolved.relative_to(ROOT)})")
    assert not broken, "broken links:\n" + "\n".join(broken)


#: Options that take a value (flags take none).
_VALUE_OPTIONS = sorted((s.flag for s in SETTINGS if s.option and s.kind != "flag"), key=len, reverse=True)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_options_are_written_with_an_equals_sign(page: Path) -> None:
    """With a space, pytest takes the value for a test path before the plugin loads (docs/configuration.md)."""
    spaced = re.compile("(" + "|".join(map(re.escape, _VALUE_OPTIONS)) + r") +[^\s\-`|\\)]")
    bad = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
        if spaced.search(line)
    ]
    assert not bad, "write --option=VALUE, never --option VALUE:\n" + "\n".join(bad)
