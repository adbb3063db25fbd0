"""The prompt review as text: terminal lines and the Markdown section of the report."""

from __future__ import annotations

from typing import Any

from .model import Review

__all__ = ["format_review", "render_review_markdown"]


def _score(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"


def _clip(text: str | None, limit: int = 300) -> str:
    if text is None:
        return "(none)"
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + f"… ({len(flat) - limit} more chars)"


def format_review(data: Review) -> list[str]:
    """The terminal text of ``review_data``."""
    lines: list[str] = []
    for entry in data.prompts:
        lines.append(f"prompt {entry.prompt}@{entry.version}: {entry.change}")
        bump = entry.suggested_bump
        if bump:
            verdict = "" if bump.enough else f" (this change is {bump.actual or 'no bump'})"
            lines.append(f"  suggested bump: {bump.level}{verdict}, because " + "; ".join(bump.reasons))
        lines.extend("  " + line for line in (entry.diff.splitlines() or ["(no template change)"]))
        if entry.cases:
            lines.append(f"  cases: {len(entry.cases)}")
    if data.cases:
        lines.append(f"cases affected since {data.ref}: {len(data.cases)}")
    for case in data.cases:
        old, new = case.old, case.new
        change = case.score_change
        delta = "" if change is None else f" ({change:+.2f})"
        without = case.compared_without
        note = f" (checks other than {', '.join(without)})" if without else ""
        lines.append(f"{case.nodeid}: score {_score(old.score)} → {_score(new.score)}{delta}{note}")
        lines.append(f"  why: {'; '.join(case.reasons)}")
        lines.append(f"  old: {old.note or _clip(old.response)}")
        lines.append(f"  new: {_clip(new.response) if new.response is not None else new.error or '(none)'}")
    return lines


#: Cases the Markdown section lists (a pull-request comment holds 65,536 characters).
MARKDOWN_CASE_LIMIT = 20
MARKDOWN_TEXT_LIMIT = 160


def _cell(text: str | None, limit: int = MARKDOWN_TEXT_LIMIT) -> str:
    if text is None:
        return "—"
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def render_review_markdown(data: Review) -> str:
    """The ``prompt_diffs`` section of the Markdown report: folded diffs, then a table of cases."""
    out = [f"**Prompt changes since `{data.ref}`**", ""]
    if not data.prompts and not data.cases:
        out.append("No prompt or case changed.")
    for entry in data.prompts:
        summary = f"<code>{entry.prompt}@{entry.version}</code>: {entry.change}"
        bump = entry.suggested_bump
        if bump:
            summary += f" · suggested bump: {bump.level}"
            if not bump.enough:
                summary += f" (this change is {bump.actual or 'no bump'})"
        if entry.cases:
            summary += f" · {len(entry.cases)} case(s)"
        out += [f"<details><summary>{summary}</summary>", ""]
        if bump:
            out += [f"Why: {'; '.join(bump.reasons)}", ""]
        fence = "````" if "```" in entry.diff else "```"
        out += [f"{fence}diff", entry.diff or "(no template change)", fence, "", "</details>", ""]
    cases = data.cases
    if cases:
        out += [
            f"| case | score at `{data.ref}` → now | old response | new response |",
            "|---|---|---|---|",
        ]
        for case in cases[:MARKDOWN_CASE_LIMIT]:
            old, new = case.old, case.new
            change = case.score_change
            delta = "" if change is None else f" ({change:+.2f})"
            new_text = new.response if new.response is not None else new.error
            out.append(
                f"| `{_cell(case.nodeid, 200)}` | {_score(old.score)} → {_score(new.score)}{delta} "
                f"| {_cell(old.response) if old.response is not None else _cell(old.note)} "
                f"| {_cell(new_text)} |"
            )
        if len(cases) > MARKDOWN_CASE_LIMIT:
            out.append(f"\n… and {len(cases) - MARKDOWN_CASE_LIMIT} more cases (see the JSON report)")
    return "\n".join(out).rstrip() + "\n"
