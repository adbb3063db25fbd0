"""docs/judges.md shows every judge prompt exactly as it is sent (generated from the templates)."""

from __future__ import annotations

from pathlib import Path

from pytest_llmops.__main__ import JUDGES_DOC, main, with_judge_prompts
from pytest_llmops.assertions.judges import JUDGE_PROMPT_VERSION
from pytest_llmops.assertions.judges.reference import PROMPTS

ROOT = Path(__file__).resolve().parent.parent


def test_the_judges_page_shows_the_prompts_as_sent() -> None:
    page = (ROOT / JUDGES_DOC).read_text(encoding="utf-8")
    assert with_judge_prompts(page) == page, (
        f"{JUDGES_DOC.as_posix()} differs from the judge prompts: run `python -m pytest_llmops"
        " judge-prompts-doc` and commit the page"
    )
    for prompt in PROMPTS:
        assert f"#### {prompt.kind}\n" in page
        assert f"(pytest-llmops judge v{JUDGE_PROMPT_VERSION}, {prompt.kind})" in page


def test_judge_prompts_doc_rewrites_only_the_marked_block(tmp_path: Path) -> None:
    page = tmp_path / "judges.md"
    page.write_text("# Judges\n<!-- judge-prompts:start -->\nstale\n<!-- judge-prompts:end -->\nafter\n")
    assert main(["judge-prompts-doc", str(page)]) == 0
    text = page.read_text()
    assert "stale" not in text and text.endswith("<!-- judge-prompts:end -->\nafter\n")
    assert "#### factuality" in text and "#### The retry" in text
    assert main(["judge-prompts-doc", str(tmp_path / "missing.md")]) == 1
