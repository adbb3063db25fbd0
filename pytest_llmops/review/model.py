"""The values of a prompt review, typed: what changed in the prompts, and in each affected case.

Each converts to the dict the JSON report's ``prompt_diffs`` section holds (and back, for the
case diffs that ride from xdist workers to the controller on test reports).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["BumpSuggestion", "CaseDiff", "NewAnswer", "OldAnswer", "PromptDiff", "PromptSide", "Review"]


@dataclass(frozen=True, slots=True)
class PromptSide:
    """One side of a prompt diff: a version as it was at the ref, or as it is now."""

    version: str
    path: str
    sha256: str
    variables: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "path": self.path,
            "sha256": self.sha256,
            "variables": list(self.variables),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> PromptSide | None:
        if data is None:
            return None
        return cls(str(data["version"]), str(data["path"]), str(data["sha256"]), tuple(data["variables"]))


@dataclass(frozen=True, slots=True)
class BumpSuggestion:
    """The semantic-version bump a change calls for, and whether the one made is enough."""

    level: str
    reasons: tuple[str, ...]
    actual: str | None
    enough: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "reasons": list(self.reasons),
            "actual": self.actual,
            "enough": self.enough,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BumpSuggestion | None:
        if data is None:
            return None
        return cls(str(data["level"]), tuple(data["reasons"]), data["actual"], bool(data["enough"]))


@dataclass(frozen=True, slots=True)
class PromptDiff:
    """A prompt version added, edited, moved or deleted since the ref, with its template diff."""

    prompt: str
    change: str  # "new prompt" | "new version" | "edited in place" | "moved" | "deleted"
    old: PromptSide | None
    new: PromptSide | None
    diff: str
    suggested_bump: BumpSuggestion | None = None
    #: The cases that ran the changed version (filled in once every case has reported).
    cases: tuple[str, ...] = ()

    @property
    def version(self) -> str:
        side = self.new or self.old
        assert side is not None  # a diff has at least one side
        return side.version

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "change": self.change,
            "old": self.old.to_dict() if self.old else None,
            "new": self.new.to_dict() if self.new else None,
            "diff": self.diff,
            "suggested_bump": self.suggested_bump.to_dict() if self.suggested_bump else None,
            "cases": list(self.cases),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromptDiff:
        return cls(
            prompt=str(data["prompt"]),
            change=str(data["change"]),
            old=PromptSide.from_dict(data.get("old")),
            new=PromptSide.from_dict(data.get("new")),
            diff=str(data["diff"]),
            suggested_bump=BumpSuggestion.from_dict(data.get("suggested_bump")),
            cases=tuple(data.get("cases", ())),
        )


@dataclass(frozen=True, slots=True)
class OldAnswer:
    """The case's answer at the ref, from its cassette there, scored with today's checks."""

    response: str | None = None
    score: float | None = None
    passed: bool | None = None
    cassette: str | None = None
    #: Why there is no old answer (no recording at the ref, or none readable in it).
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "response": self.response,
            "score": self.score,
            "passed": self.passed,
            "cassette": self.cassette,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class NewAnswer:
    """The case's answer in this run."""

    response: str | None = None
    score: float | None = None
    outcome: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"response": self.response, "score": self.score, "outcome": self.outcome, "error": self.error}


@dataclass(frozen=True, slots=True)
class CaseDiff:
    """One affected case: why it is affected, its old and new answers, and the score change."""

    nodeid: str
    case: str
    prompt: str | None
    prompt_version: str | None
    reasons: tuple[str, ...]
    old: OldAnswer
    new: NewAnswer
    score_change: float | None
    #: Model-graded checks left out of both scores (they are not re-run on the old answer).
    compared_without: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid,
            "case": self.case,
            "prompt": self.prompt,
            "prompt_version": self.prompt_version,
            "reasons": list(self.reasons),
            "old": self.old.to_dict(),
            "new": self.new.to_dict(),
            "score_change": self.score_change,
            "compared_without": list(self.compared_without),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseDiff:
        return cls(
            nodeid=str(data["nodeid"]),
            case=str(data["case"]),
            prompt=data.get("prompt"),
            prompt_version=data.get("prompt_version"),
            reasons=tuple(data["reasons"]),
            old=OldAnswer(**data["old"]),
            new=NewAnswer(**data["new"]),
            score_change=data.get("score_change"),
            compared_without=tuple(data.get("compared_without", ())),
        )


@dataclass(frozen=True, slots=True)
class Review:
    """The ``prompt_diffs`` section of the reports."""

    ref: str
    prompts: tuple[PromptDiff, ...] = ()
    cases: tuple[CaseDiff, ...] = field(default=())

    @classmethod
    def of(cls, ref: str, prompts: Sequence[PromptDiff], cases: Sequence[CaseDiff]) -> Review:
        """The review with cases sorted by id, and each prompt diff naming the cases that ran it."""
        ordered = tuple(sorted(cases, key=lambda c: c.nodeid))
        named = tuple(
            replace(
                entry,
                cases=tuple(
                    c.nodeid
                    for c in ordered
                    if c.prompt == entry.prompt and c.prompt_version == entry.version
                ),
            )
            for entry in prompts
        )
        return cls(ref, named, ordered)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "prompts": [p.to_dict() for p in self.prompts],
            "cases": [c.to_dict() for c in self.cases],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Review:
        return cls(
            str(data["ref"]),
            tuple(PromptDiff.from_dict(p) for p in data["prompts"]),
            tuple(CaseDiff.from_dict(c) for c in data["cases"]),
        )
