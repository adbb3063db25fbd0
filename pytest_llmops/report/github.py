"""GitHub Actions: workflow-command annotations for failing cases and gates, and the step summary.

Under GitHub Actions (``GITHUB_ACTIONS=true``) a run prints one ``::error`` line per case that did
not pass (on the suite file and the case's line), one ``::error`` per breached gate, and one
``::warning`` per gate that *nearly* failed; Actions shows them on the pull request's files and on
the run's page. A gate nearly failed when it passed with less than a tenth (``NEAR_MARGIN``) of
its room left, its room being the distance from its limit to the best figure there can be: 0 for
an at-most gate (``llmops_max_*``: cost, latency, error rate, new failures, score drop, increases),
1 for an at-least gate (``llmops_min_*``: pass rate, mean score, baseline match, win rate). A limit
of 0, or a minimum of 1, leaves no room: never "nearly"; nor is the regression gate, a test's
verdict. The syntax and escaping are GitHub's "workflow commands" (``::error file=…::text``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:
    from ..gates.evaluation import Evaluation, GateResult
    from ..results import CaseResult

__all__ = [
    "ANNOTATION_LIMIT",
    "NEAR_MARGIN",
    "annotation_lines",
    "checkout_path",
    "in_github_actions",
    "nearly_breached",
    "step_summary_path",
]

#: A passing gate with less than this share of its room left "nearly failed".
NEAR_MARGIN = 0.1
#: Case annotations printed at most (GitHub keeps 10 errors per step and 50 per job).
ANNOTATION_LIMIT = 50


def in_github_actions(environ: Mapping[str, str]) -> bool:
    """True on a GitHub Actions runner, which sets ``GITHUB_ACTIONS=true`` for every step."""
    return environ.get("GITHUB_ACTIONS", "").strip().lower() == "true"


def checkout_path(path: str, base: Path, environ: Mapping[str, str]) -> str:
    """A report's path (relative to ``base``, pytest's rootdir) relative to the checkout.

    Annotations name files from the repository's root, ``$GITHUB_WORKSPACE`` (else the working
    folder); a path outside it is left as it is.
    """
    absolute = Path(path) if Path(path).is_absolute() else base / path
    workspace = environ.get("GITHUB_WORKSPACE", "").strip()
    root = Path(workspace) if workspace else Path.cwd()
    try:
        return absolute.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def step_summary_path(settings: Settings, environ: Mapping[str, str]) -> Path | None:
    """The file the Markdown summary is appended to, or None.

    ``$GITHUB_STEP_SUMMARY``, under GitHub Actions by default and elsewhere when a Markdown report
    is asked for (``--llmops-markdown``); never with ``llmops_github = false``.
    """
    target = environ.get("GITHUB_STEP_SUMMARY", "").strip()
    if not settings.github or not target:
        return None
    if in_github_actions(environ) or settings.markdown is not None:
        return Path(target)
    return None


def nearly_breached(gate: GateResult) -> bool:
    """A gate that held with less than ``NEAR_MARGIN`` of its room left (see the module docstring)."""
    value = gate.value
    if not gate.passed or value is None or math.isinf(value):
        return False
    if gate.name.startswith("min_"):
        room, left = 1.0 - gate.limit, value - gate.limit
    elif gate.name.startswith("max_"):
        room, left = gate.limit, gate.limit - value
    else:
        return False  # a test's verdict (llmops_regression): significant or not, never "nearly"
    # The tolerance keeps a figure exactly a tenth away (0.45 of 0.50) from being "nearly".
    return room > 0 and left < NEAR_MARGIN * room - 1e-12


def _data(text: str) -> str:
    """The message of a workflow command: %, CR and LF escaped."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    """A property value of a workflow command: also : and , escaped."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, **props: str) -> str:
    fields = ",".join(f"{name}={_prop(value)}" for name, value in props.items() if value)
    return f"::{kind} {fields}::{_data(message)}" if fields else f"::{kind}::{_data(message)}"


def _file_and_line(result: CaseResult, path_of: Callable[[str], str]) -> tuple[str, str]:
    where, _, line = result.location.rpartition(":")
    if not where or not line.isdigit():
        where, line = result.location or result.nodeid.split("::")[0], ""
    return path_of(where), line


def annotation_lines(evaluation: Evaluation, *, path_of: Callable[[str], str] = str) -> list[str]:
    """The workflow commands of a run: an error per case that did not pass, then the gates.

    ``path_of`` turns a case's file (as reports show it: relative to pytest's rootdir) into the
    path GitHub expects (relative to the repository's root).
    """
    from ..results import Outcome  # deferred, like the next: this module is read at every start
    from .markdown import why_not_passed  # deferred: this module is read at start-up under Actions

    lines = []
    failing = [r for r in evaluation.results if r.outcome is not Outcome.PASSED]
    for result in failing[:ANNOTATION_LIMIT]:
        file, line = _file_and_line(result, path_of)
        title = f"pytest-llmops: {result.case or result.nodeid} {result.outcome}"
        message = f"{result.nodeid}: {result.outcome} — {why_not_passed(result)}"
        lines.append(_command("error", message, file=file, line=line, title=title))
    if len(failing) > ANNOTATION_LIMIT:
        lines.append(
            _command(
                "notice",
                f"{len(failing) - ANNOTATION_LIMIT} more case(s) did not pass: see the run's summary",
                title="pytest-llmops",
            )
        )
    for gate in evaluation.gates:
        if not gate.passed:
            lines.append(_command("error", gate.message, title=f"pytest-llmops: gate {gate.label} failed"))
        elif nearly_breached(gate):
            message = f"{gate.message}: less than {NEAR_MARGIN:.0%} of its room left"
            lines.append(
                _command("warning", message, title=f"pytest-llmops: gate {gate.label} nearly failed")
            )
    return lines
