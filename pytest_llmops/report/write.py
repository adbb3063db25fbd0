"""Writing the reports a run asked for: JSON, HTML and Markdown, atomically, and the step summary."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_chunks, display_path
from ..gates.evaluation import Evaluation
from ..review.model import Review
from ..settings import Settings
from .github import step_summary_path
from .html import html_chunks
from .json import build_report, case_dicts, encode_report
from .markdown import render_markdown

__all__ = ["write_reports"]


def write_reports(
    evaluation: Evaluation,
    settings: Settings,
    *,
    prompt_diffs: Review | None = None,
    run: Mapping[str, Any] | None = None,
) -> tuple[list[str], list[str]]:
    """Write the reports asked for; returns (what was written, what failed and why).

    Files are written atomically. The Markdown is appended to ``$GITHUB_STEP_SUMMARY`` (Actions
    renders it on the run's page) when ``step_summary_path`` says so: under GitHub Actions by
    default, elsewhere with a Markdown report, never with ``llmops_github = false``.
    """
    written: list[str] = []
    problems: list[str] = []
    wanted = settings.report is not None or settings.html is not None
    # The head of the report only: each case's dict is made as the file takes it, and dropped.
    head = build_report(evaluation, prompt_diffs=prompt_diffs, run=run, head_only=True) if wanted else {}
    if settings.report is not None:
        _write(settings.report, encode_report(head, case_dicts(evaluation)), "JSON report", written, problems)
    if settings.html is not None:
        _write(settings.html, html_chunks(head, case_dicts(evaluation)), "HTML report", written, problems)
    step_summary = step_summary_path(settings, os.environ)
    if settings.markdown is not None or step_summary is not None:
        markdown = render_markdown(evaluation, prompt_diffs=prompt_diffs)
        if settings.markdown is not None:
            _write(settings.markdown, markdown, "Markdown report", written, problems)
        if step_summary is not None:
            try:
                with open(step_summary, "a", encoding="utf-8") as handle:
                    handle.write(markdown + "\n")
            except OSError as exc:
                problems.append(f"GITHUB_STEP_SUMMARY {step_summary}: {exc}")
            else:
                written.append("appended the Markdown summary to $GITHUB_STEP_SUMMARY")
    return written, problems


def _write(path: Path, text: str | Iterable[str], what: str, written: list[str], problems: list[str]) -> None:
    try:
        atomic_write_chunks(path, (text,) if isinstance(text, str) else text)
    except OSError as exc:
        problems.append(f"{what} {path}: {exc}")
    else:
        written.append(f"wrote {what}: {display_path(path)}")
