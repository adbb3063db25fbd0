"""What a verdict object says: its decision, score, category or choice, and whether they agree.

One reading for every source of a verdict (a JSON object in the reply, a plain statement such as
``Score: 4/5``, a tool call's arguments), so the rules are the same however the judge answered:

- a pass needs the decision field (``"verdict": "pass"`` or ``"pass": true``); it is never inferred
  from a score or a missing field;
- a verdict that contradicts its own fields is no verdict: ``pass`` with a score below 0.5 or a
  reason that says it fails, ``fail`` with a score of 0.9 or more, a pass while one of its listed
  requirements does not hold (or a fail while all of them hold), ``verdict`` and ``pass`` that
  disagree;
- a score written on another scale (``"4/10"`` when 1-5 was asked) is no score.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "DEFAULT_SCALE",
    "FAILURE_WORDS",
    "Reading",
    "VerdictShape",
    "criterion_name",
    "decisive_key",
    "number",
    "read_fields",
    "signature",
]

DEFAULT_SCALE = (1, 5)
_FACTUALITY_CATEGORIES = "ABCDE"

_VERDICT_KEYS = ("verdict", "result", "decision", "outcome")
_PASS_KEYS = ("pass", "passed")
_SCORE_KEYS = ("score", "rating", "overall_score", "final_score")
_CATEGORY_KEYS = ("category", "choice", "answer", "grade")
_CHOICE_KEYS = ("choice", "winner", "preferred", "better", "verdict")
_CRITERION_KEYS = (
    "criterion", "requirement", "aspect", "dimension", "name", "check", "item", "question", "claim", "step",
)  # fmt: skip
_HOLDS_KEYS = ("holds", "met", "satisfied", "pass", "passed", "ok", "verdict", "result")
_REASON_KEYS = ("reason", "reasoning", "explanation", "rationale", "justification")
_LIST_KEYS = ("requirements", "criteria", "checks", "results")
_WORD = {"pass": True, "passed": True, "fail": False, "failed": False}
_FRACTION = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+)\s*$", re.IGNORECASE)
#: A passing score or category whose reason says the opposite (unless negated: "nothing off-topic").
_NEGATIVE_REASON = re.compile(
    r"\b(?:irrelevant|unrelated|off[- ]topic|contradict\w*|disagree\w*|inconsistent|incorrect|wrong"
    r"|does(?: not|n't) (?:address|answer|mention|match|agree))\b",
    re.IGNORECASE,
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:no|not|nothing|never|without|hardly any|n't)\W+(?:\w+\W+)?$", re.IGNORECASE
)
#: A pass whose reason says otherwise: "fails", "does not satisfy/meet the rubric", "not met".
FAILURE_WORDS = re.compile(
    r"(?<!never )(?<!not )(?<!n't )\bfail(?:s|ed|ing)?\b(?! to (?:harm|offend))"
    r"|\bdoes(?: not|n't) (?:satisfy|meet|fulfil+|pass|comply)\b"
    r"|\b(?:is|are|was|were) not (?:satisfied|met|fulfil+ed)\b|\bunsatisf\w*",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class VerdictShape:
    """What a well-formed verdict holds for one judge kind.

    ``choice`` is a preference between two answers (``"A"``, ``"B"`` or ``"tie"``), for judges
    that compare two outputs; ``failing`` are the categories that fail (factuality's D).
    """

    kind: Literal["pass-fail", "scale", "category", "choice"]
    scale: tuple[int, int] = DEFAULT_SCALE
    categories: str = _FACTUALITY_CATEGORIES
    failing: frozenset[str] = frozenset("D")
    choices: tuple[str, ...] = ("A", "B", "tie")

    def describe(self) -> str:
        if self.kind == "pass-fail":
            return '"verdict": "pass" or "fail"'
        if self.kind == "scale":
            low, high = self.scale
            return f'"score": a number from {low} to {high}'
        if self.kind == "choice":
            return '"choice": ' + " or ".join(f'"{c}"' for c in self.choices)
        return '"category": one of ' + ", ".join(self.categories)


@dataclass(frozen=True, slots=True)
class Reading:
    """The decision one verdict object states (before any threshold)."""

    reason: str
    passed: bool | None
    score: float | None
    category: str | None = None
    choice: str | None = None
    #: The top-level key that holds the score, if any (g-eval weighs that value's token).
    score_key: str | None = None


def number(value: Any) -> float | None:
    """A finite number from a JSON value; numeric strings ("4") count, booleans do not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return result if math.isfinite(result) else None


def _key(value: Mapping[str, Any], names: tuple[str, ...]) -> str | None:
    """The first key of ``value`` that is one of ``names``, ignoring case and spaces."""
    lowered = {str(k).strip().lower().replace(" ", "_"): k for k in value}
    for name in names:
        if name in lowered:
            return str(lowered[name])
    return None


def _boolean(value: Any) -> bool | None:
    """``true``/``false``, also written as a string (``"pass": "true"``)."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(_word(value))


def _word(text: Any) -> str:
    return text.strip().strip("*_`.!\"' ").lower() if isinstance(text, str) else ""


def criterion_name(value: Mapping[str, Any]) -> str | None:
    """The criterion a per-criterion object names (``{"criterion": "polite", "verdict": ...}``)."""
    key = _key(value, _CRITERION_KEYS)
    return value[key] if key is not None and isinstance(value[key], str) else None


def decisive_key(value: Mapping[str, Any], shape: VerdictShape) -> str | None:
    """The top-level key holding what this shape decides on, or None (not a verdict object)."""
    if shape.kind == "pass-fail":
        key = _key(value, _VERDICT_KEYS)
        if key is not None and _word(value[key]) in _WORD:
            return key
        key = _key(value, _PASS_KEYS)
        return key if key is not None and _boolean(value[key]) is not None else _key(value, ("verdict",))
    if shape.kind == "scale":
        return _key(value, _SCORE_KEYS)
    if shape.kind == "choice":
        return _key(value, _CHOICE_KEYS)
    return _key(value, _CATEGORY_KEYS)


def _reason(value: Mapping[str, Any]) -> str:
    key = _key(value, _REASON_KEYS)
    if key is None or value[key] is None:
        return ""
    reason = value[key]
    return reason.strip() if isinstance(reason, str) else json.dumps(reason, ensure_ascii=False)


def negative_reason(reason: str) -> str | None:
    """The words of a reason that speak against a passing score (``"irrelevant"``), if any."""
    for match in _NEGATIVE_REASON.finditer(reason):
        if not _NEGATION_BEFORE.search(reason[max(0, match.start() - 30) : match.start()]):
            return match[0]
    return None


def scale_score(raw: Any, scale: tuple[int, int]) -> tuple[float | None, str]:
    """A score on ``scale`` from a number, ``"4"``, ``"4/5"`` or ``"4 out of 5"``; else why not."""
    low, high = scale
    score = number(raw)
    if score is None and isinstance(raw, str):
        fraction = _FRACTION.match(raw)
        if fraction is not None:
            if int(fraction[2]) != high:
                return None, f"{json.dumps(raw)} is on another scale than {low} to {high}"
            score = float(fraction[1])
    if score is None or not low <= score <= high:
        return None, f"{json.dumps(raw)[:40]} is not a number from {low} to {high}"
    return score, ""


def _holds(item: Any) -> bool | None:
    """Whether one listed requirement holds: ``{"holds": true}``, ``"pass"``, ``true``."""
    if isinstance(item, bool):
        return item
    if isinstance(item, str):
        return _WORD.get(_word(item))
    if isinstance(item, Mapping):
        key = _key(item, _HOLDS_KEYS)
        if key is not None:
            return _holds(item[key])
    return None


def requirement_results(value: Mapping[str, Any], decisive: str | None) -> list[bool]:
    """What each listed requirement (or per-criterion entry) of a verdict object says."""
    found: list[bool] = []
    for key, item in value.items():
        name = str(key).strip().lower()
        if key == decisive or name in _REASON_KEYS:
            continue
        listed = name in _LIST_KEYS
        if isinstance(item, Mapping) and _key(item, _HOLDS_KEYS) is not None:
            entries: list[Any] = [item]  # {"politeness": {"verdict": "fail", ...}}
        elif isinstance(item, list):
            entries = item
        elif isinstance(item, Mapping) and listed:
            entries = list(item.values())  # {"requirements": {"polite": true, ...}}
        else:
            continue
        for entry in entries:
            holds = _holds(entry) if isinstance(entry, Mapping) or listed else None
            if holds is not None:
                found.append(holds)
    return found


def read_fields(value: Mapping[str, Any], shape: VerdictShape) -> tuple[Reading | None, str]:
    """The decision one object states, or why it states none (a problem for the retry message)."""
    reason = _reason(value)
    key = decisive_key(value, shape)
    if shape.kind == "pass-fail":
        return _pass_fail(value, key, reason)
    if shape.kind == "scale":
        if key is None:
            return None, 'no "score"'
        score, problem = scale_score(value[key], shape.scale)
        if score is None:
            return None, f'"score": {problem}'
        low, high = shape.scale
        for other in (_key(value, _VERDICT_KEYS), _key(value, _PASS_KEYS)):
            if other is None:
                continue
            said = value[other]
            stated = _boolean(said) if other.lower() in _PASS_KEYS else _WORD.get(_word(said))
            if stated is not None and stated != ((score - low) / (high - low) >= 0.5):
                word = "pass" if stated else "fail"
                return None, f'"{word}" contradicts its own score {score:g} on {low}-{high}'
        against = negative_reason(reason) if (score - low) / (high - low) >= 0.5 else None
        if against is not None:
            return None, f"the score {score:g} contradicts its own reason ({against!r})"
        return Reading(reason, None, score, score_key=key), ""
    if shape.kind == "choice":
        raw = value[key] if key is not None else None
        wanted = {c.lower(): c for c in shape.choices}
        word = _word(raw).removeprefix("response ").removeprefix("output ").strip("[]() ")
        if word not in wanted:
            shown = 'no "choice"' if raw is None else f'"choice": {json.dumps(raw)[:40]}'
            return None, f"{shown} (expected {' or '.join(shape.choices)})"
        return Reading(reason, None, None, choice=wanted[word]), ""
    raw = value[key] if key is not None else None
    letter = raw.strip().strip("()[]*. ").upper() if isinstance(raw, str) else ""
    if len(letter) != 1 or letter not in shape.categories:
        shown = 'no "category"' if raw is None else f'"category": {json.dumps(raw)[:40]}'
        return None, f"{shown} (expected one of {', '.join(shape.categories)})"
    against = negative_reason(reason) if letter not in shape.failing else None
    if against is not None:
        return None, f"the category {letter} contradicts its own reason ({against!r})"
    return Reading(reason, letter not in shape.failing, None, category=letter), ""


def _pass_fail(value: Mapping[str, Any], key: str | None, reason: str) -> tuple[Reading | None, str]:
    raw = value[key] if key is not None else None
    passed = _boolean(raw) if key is not None and key.lower() in _PASS_KEYS else _WORD.get(_word(raw))
    if passed is None:
        shown = 'no "verdict"' if key is None else f'"verdict": {json.dumps(raw)[:40]}'
        return None, f'{shown} (expected "pass" or "fail")'
    word = "pass" if passed else "fail"
    for other in (_key(value, _VERDICT_KEYS), _key(value, _PASS_KEYS)):
        if other is None or other == key:
            continue
        said = _boolean(value[other]) if other.lower() in _PASS_KEYS else _WORD.get(_word(value[other]))
        if said is not None and said != passed:
            return None, f'"{key}" and "{other}" disagree'
    score = None
    score_key = _key(value, ("score",))
    if score_key is not None:
        score = number(value[score_key])
        if score is None or not 0.0 <= score <= 1.0:
            return None, f'"score": {json.dumps(value[score_key])[:40]} is not a number from 0 to 1'
        if (passed and score < 0.5) or (not passed and score >= 0.9):
            return None, f'"{word}" contradicts its own score {score:g}'
    results = requirement_results(value, key)
    if passed and not all(results):
        return None, f'"pass" while {results.count(False)} of its {len(results)} requirements do not hold'
    if not passed and results and all(results):
        return None, f'"fail" while all {len(results)} of its requirements hold'
    if passed and FAILURE_WORDS.search(reason):
        return None, f'"pass" contradicts its own reason ({reason[:80]!r})'
    return Reading(reason, passed, score, score_key=score_key), ""


def signature(value: Mapping[str, Any], shape: VerdictShape) -> dict[str, Any]:
    """The decision fields of an object, normalised, for comparing a candidate with quoted material.

    Case, spacing and form do not count (``"PASS"`` is ``"pass"``, ``"1.0"`` is ``1``, ``"b"`` is
    ``"B"``, ``"pass": true`` is ``"verdict": "pass"``); reasons and other fields are left out.
    """
    out: dict[str, Any] = {}
    verdict_key = _key(value, _VERDICT_KEYS)
    pass_key = _key(value, _PASS_KEYS)
    if verdict_key is not None and _word(value[verdict_key]) in _WORD:
        out["verdict"] = _WORD[_word(value[verdict_key])]
    elif pass_key is not None and _boolean(value[pass_key]) is not None:
        out["verdict"] = _boolean(value[pass_key])
    key = _key(value, _SCORE_KEYS)
    if key is not None:
        score = number(value[key])
        if score is None and isinstance(value[key], str):
            fraction = _FRACTION.match(value[key])
            score = float(fraction[1]) if fraction else None
        if score is not None:
            out["score"] = score
    if shape.kind == "category":
        key = _key(value, _CATEGORY_KEYS)
        if key is not None and isinstance(value[key], str):
            out["category"] = value[key].strip().strip("()[]*. ").upper()
    if shape.kind == "choice":
        key = _key(value, _CHOICE_KEYS)
        if key is not None and isinstance(value[key], str):
            out["choice"] = _word(value[key]).removeprefix("response ").strip("[]() ")
    return out
