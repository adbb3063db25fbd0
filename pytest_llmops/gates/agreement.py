"""How often each judge agrees with people: agreement and Cohen's kappa over the judge checks.

Per judge type (``llm-rubric``, ``not-`` folded in: the check compares the assertion's outcome)
and judge model, over the checks the judge gave a verdict on (``pass`` or ``fail``):

- **agreement** = checks where the judge's verdict equals the person's / checks scored;
- **Cohen's kappa** = (p_o - p_e) / (1 - p_e), with p_o the agreement and p_e the agreement two
  raters with these pass rates would reach by chance: 1 is perfect, 0 is chance, below 0 worse
  than chance. It is undefined (``None``) when p_e is 1: both raters gave one and the same
  verdict to every check, so agreement says nothing about the judge.

Unscored and errored checks are counted apart and left out of both figures. The gate
``llmops_min_judge_agreement`` holds when every judge's agreement reaches the limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..results import JudgeCheckResult

__all__ = ["JudgeAgreement", "cohen_kappa", "summarize_agreement"]


def cohen_kappa(both_pass: int, judge_only: int, person_only: int, both_fail: int) -> float | None:
    """Cohen's kappa of two raters' pass/fail verdicts, from the four cells of their table.

    ``judge_only``: the judge passed what the person failed; ``person_only``: the reverse.
    """
    n = both_pass + judge_only + person_only + both_fail
    if n == 0:
        return None
    observed = (both_pass + both_fail) / n
    judge_pass = (both_pass + judge_only) / n
    person_pass = (both_pass + person_only) / n
    chance = judge_pass * person_pass + (1 - judge_pass) * (1 - person_pass)
    if chance >= 1.0 - 1e-12:
        return None
    return (observed - chance) / (1 - chance)


@dataclass(frozen=True, slots=True)
class JudgeAgreement:
    """One judge type × judge model against the people who labelled its checks."""

    type: str
    judge: str
    checks: int
    both_pass: int
    judge_only: int  # the judge passed, the person failed: a false pass
    person_only: int  # the person passed, the judge failed
    both_fail: int
    unscored: int
    errors: int
    #: The checks where the two disagreed, by id.
    disagreements: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.type} × {self.judge}" if self.judge else self.type

    @property
    def scored(self) -> int:
        return self.both_pass + self.judge_only + self.person_only + self.both_fail

    @property
    def agreed(self) -> int:
        return self.both_pass + self.both_fail

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.scored if self.scored else None

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.both_pass, self.judge_only, self.person_only, self.both_fail)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report's ``summary.judge_agreement`` entry."""
        return {
            "type": self.type,
            "judge": self.judge,
            "checks": self.checks,
            "scored": self.scored,
            "agreed": self.agreed,
            "agreement": self.agreement,
            "kappa": self.kappa,
            "confusion": {
                "both_pass": self.both_pass,
                "judge_pass_person_fail": self.judge_only,
                "judge_fail_person_pass": self.person_only,
                "both_fail": self.both_fail,
            },
            "unscored": self.unscored,
            "errors": self.errors,
            "disagreements": list(self.disagreements),
        }


def summarize_agreement(results: Iterable[JudgeCheckResult]) -> list[JudgeAgreement]:
    """One entry per judge type × judge, sorted by type then judge."""
    groups: dict[tuple[str, str], list[JudgeCheckResult]] = {}
    for result in results:
        groups.setdefault((result.base_type, result.judge), []).append(result)
    out = []
    for (kind, judge), members in sorted(groups.items()):

        def count(judge_says: str, person_says: str, group: list[JudgeCheckResult] = members) -> int:
            return sum(1 for r in group if r.judge_verdict == judge_says and r.human_verdict == person_says)

        out.append(
            JudgeAgreement(
                type=kind,
                judge=judge,
                checks=len(members),
                both_pass=count("pass", "pass"),
                judge_only=count("pass", "fail"),
                person_only=count("fail", "pass"),
                both_fail=count("fail", "fail"),
                unscored=sum(1 for r in members if r.judge_verdict == "unscored"),
                errors=sum(1 for r in members if r.judge_verdict == "error"),
                disagreements=tuple(sorted(r.nodeid for r in members if r.agreed is False)),
            )
        )
    return out
