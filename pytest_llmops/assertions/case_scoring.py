"""``scoring:``: a function of the user's turns a case's assertion scores into its score and outcome.

promptfoo calls it ``assertScoringFunction``. Written on ``defaults`` or a case as
``module:function`` or ``file.py:function``, it is called as ``fn(scores, context)``:
``scores`` maps each metric name (an assertion's ``metric:``) to its score (the mean, when
several assertions share a metric); ``context`` has ``threshold`` (the case's, or None),
``results`` (every ``AssertionResult``), ``vars`` and, as promptfoo names it,
``componentResults`` (``[{pass, score, reason, type, metric}]``), read as attributes or items.
It returns what a ``python`` check may return: a bool, a score from 0 to 1 (passing at the
case's threshold, default 0.5), a dict with ``pass``, ``score`` and ``reason``, or a ``Grade``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CannotGrade
from ..results import AssertionResult, Grade
from .functions import FunctionRefError, grade_returned, load_function

__all__ = ["CaseScorer", "ScoringContext", "compile_scorer", "named_scores"]

_EXAMPLE = "scoring: 'scoring.py:weighted' or scoring: 'mypkg.scoring:weighted'"
_KEYS = ("threshold", "results", "vars", "componentResults")


@dataclass(frozen=True, slots=True)
class ScoringContext:
    """What a scoring function is told besides the scores."""

    threshold: float | None
    results: tuple[AssertionResult, ...]
    vars: Mapping[str, Any] = field(default_factory=dict)

    @property
    def componentResults(self) -> list[dict[str, Any]]:  # promptfoo's name for it
        return [
            {"pass": r.passed, "score": r.score, "reason": r.reason, "type": r.type, "metric": r.metric}
            for r in self.results
        ]

    def __getitem__(self, key: str) -> Any:
        if key not in _KEYS:
            raise KeyError(f"{key!r}: the scoring context holds {', '.join(_KEYS)}")
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in _KEYS else default


def named_scores(results: Sequence[AssertionResult]) -> dict[str, float]:
    """The mean score of each metric among ``results``."""
    sums: dict[str, list[float]] = {}
    for result in results:
        if result.metric and not result.unscored:
            sums.setdefault(result.metric, []).append(result.score)
    return {name: sum(scores) / len(scores) for name, scores in sums.items()}


@dataclass(frozen=True, slots=True)
class CaseScorer:
    """A compiled scoring function."""

    source: str
    fn: Callable[..., Any]

    def __call__(
        self, results: Sequence[AssertionResult], threshold: float | None, variables: Mapping[str, Any]
    ) -> Grade:
        """The case's grade; exceptions of the user's function are caught here and fail it."""
        where = f"scoring function {self.source!r}"
        context = ScoringContext(threshold, tuple(results), variables)
        try:
            returned = self.fn(named_scores(results), context)
        except Exception as exc:  # the user's function may raise anything: the case fails
            return Grade(False, 0.0, f"{where} raised {type(exc).__name__}: {exc}")
        try:
            return grade_returned(returned, 0.5 if threshold is None else threshold, where)
        except CannotGrade as exc:
            return Grade(False, 0.0, str(exc))


def compile_scorer(source: str, base_dir: Path) -> CaseScorer:
    """Find the function ``source`` names; ``ValueError`` naming what to write if it cannot."""
    try:
        fn, name = load_function(source, base_dir, arguments=("scores", "context"), example=_EXAMPLE)
    except FunctionRefError as exc:
        raise ValueError(f"`scoring`: {exc}") from None
    return CaseScorer(name, fn)
