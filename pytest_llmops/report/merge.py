"""``python -m pytest_llmops merge shard-*.json -o run.json``: CI shards combined into one run.

When one machine is not enough, a CI matrix splits a suite across machines (and pytest-xdist
splits each machine's share). Each shard writes a JSON report (``--llmops-report=shard-N.json``);
the merge reads them back as case results, exactly as written, and evaluates them together:
the same totals, intervals, paired comparisons, baseline comparison and gates as one run of the
whole suite (every figure is computed from the cases sorted by id with exactly rounded sums, so
the merged report equals a serial run's to the last digit), and the same reports (JSON,
Markdown, HTML) from the settings pytest would read here (the ini file, ``--llmops-*`` flags).

Exit status, as pytest's would be for the whole run: the shards' own status from their cases
(recorded in each report as ``run.tests_exit_status``) when one failed, else 1 when a gate is
breached, else 0; 5 when the shards hold no case; 4 for a usage error (an unreadable shard, a
case in two shards, a bad setting).
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ReportError
from ..fileio import display_path
from ..gates.evaluation import evaluate
from ..results import CaseResult, Outcome
from ..review.model import CaseDiff, PromptDiff, Review
from ..settings import Settings
from .github import annotation_lines, checkout_path, in_github_actions
from .json import load_report, read_baseline, read_cases, read_reruns
from .terminal import terminal_lines
from .write import write_reports

__all__ = ["MergedShards", "main", "merge_shards", "run_merge"]

USAGE_ERROR = 4
NO_CASES = 5


@dataclasses.dataclass
class MergedShards:
    """The cases, earlier attempts and prompt diffs of every shard, and their test status."""

    paths: list[str]
    results: list[CaseResult]
    reruns: list[CaseResult]
    tests_exit_status: int
    prompt_diffs: Review | None


def _status_of(data: Mapping[str, Any], results: Sequence[CaseResult]) -> int:
    status = (data.get("run") or {}).get("tests_exit_status")
    if isinstance(status, int):
        return status
    # A report written before the status was recorded: judge by its cases (xfail is unknown).
    return 1 if any(r.outcome is not Outcome.PASSED for r in results) else 0


def merge_shards(paths: Sequence[Path]) -> MergedShards:
    """Read every shard; a ``ReportError`` for an unreadable one or a case found in two."""
    seen: dict[str, str] = {}
    results: list[CaseResult] = []
    reruns: list[CaseResult] = []
    statuses: list[int] = []
    diff_ref: str | None = None
    diff_prompts: list[PromptDiff] = []
    diff_cases: list[CaseDiff] = []
    for path in paths:
        where = display_path(path)
        data = load_report(path, where=where, hint="each shard writes one with --llmops-report=PATH")
        cases = read_cases(data["cases"], where)
        for result in cases:
            other = seen.setdefault(result.nodeid, where)
            if other != where:
                raise ReportError(
                    f"{result.nodeid} is in both {other} and {where}: the shards overlap (each case "
                    "must run in exactly one shard; split with -k, by file, or with pytest-split)"
                )
        results.extend(cases)
        reruns.extend(read_reruns(data, where))
        statuses.append(_status_of(data, cases))
        diffs = data.get("prompt_diffs")
        if isinstance(diffs, Mapping):
            try:
                review = Review.from_dict(diffs)
            except (KeyError, TypeError, ValueError) as exc:
                raise ReportError(
                    f"{where}: prompt_diffs is malformed ({type(exc).__name__}: {exc})"
                ) from None
            if diff_ref is None:
                # Every shard collected the same suites: the prompt diffs are the first one's.
                diff_ref, diff_prompts = review.ref, list(review.prompts)
            diff_cases.extend(review.cases)
    failing = [s for s in statuses if s not in (0, NO_CASES)]
    return MergedShards(
        paths=[display_path(p) for p in paths],
        results=results,
        reruns=reruns,
        tests_exit_status=max(failing) if failing else (0 if results else NO_CASES),
        prompt_diffs=None if diff_ref is None else Review.of(diff_ref, diff_prompts, diff_cases),
    )


def run_merge(paths: Sequence[Path], settings: Settings, *, output: Path | None = None) -> int:
    """Merge, evaluate, print the summary, write the reports; returns the exit status."""
    try:
        merged = merge_shards(paths)
        baseline = read_baseline(settings.baseline) if settings.baseline is not None else None
    except ReportError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not merged.results:
        print(f"llmops merge: no case in {len(paths)} shard report(s)", file=sys.stderr)
        return NO_CASES
    if output is not None:
        settings = dataclasses.replace(settings, report=output)
    evaluation = evaluate(merged.results, settings, baseline, merged.reruns)
    print(f"llmops merge: {len(merged.results)} case(s) from {len(paths)} shard report(s)")
    for text, _markup in terminal_lines(evaluation):
        print(text)
    written, problems = write_reports(
        evaluation,
        settings,
        prompt_diffs=merged.prompt_diffs,
        run={"tests_exit_status": merged.tests_exit_status, "merged_from": merged.paths},
    )
    for line in written:
        print(f"llmops: {line}")
    for problem in problems:
        print(f"llmops: could not write {problem}", file=sys.stderr)
    if settings.github and in_github_actions(os.environ):  # the whole run's annotations, once
        for line in annotation_lines(evaluation, path_of=lambda p: checkout_path(p, Path.cwd(), os.environ)):
            print(line)
    if merged.tests_exit_status not in (0, NO_CASES):
        return merged.tests_exit_status  # a run that already fails keeps its status
    return 1 if evaluation.breached or problems else 0


def _expand(patterns: Sequence[str]) -> list[Path]:
    """Shell-style patterns expanded here too (Windows shells do not), sorted, each once."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        found.extend(Path(m) for m in matches if Path(m) not in found)
    return found


def main(argv: Sequence[str], load_settings: Callable[[list[str]], Settings | int]) -> int:
    """The ``merge`` command. ``load_settings`` reads pytest's configuration (or returns a status)."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_llmops merge",
        description=(
            "Combine the JSON reports of CI shards into one run: the same totals as a single run, "
            "with the gates, baseline and reports of the ini file and --llmops-* options applied."
        ),
        epilog="Other options (--llmops-*=VALUE, -c FILE, --rootdir=DIR) are read as pytest reads them.",
    )
    parser.add_argument("reports", nargs="+", help="the shards' JSON reports (--llmops-report)")
    parser.add_argument("-o", "--output", type=Path, default=None, help="the merged JSON report to write")
    args, rest = parser.parse_known_args(list(argv))
    loaded = load_settings(rest)
    if isinstance(loaded, int):
        return loaded
    paths = _expand(args.reports)
    return run_merge(paths, loaded, output=args.output)
