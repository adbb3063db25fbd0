"""Verdicts written in plain words: ``Score: 4/5``, ``Rating: 2 out of 5``, ``**Verdict:** PASS``.

A person reads these without hesitation, so the parser does too, where the scale is unambiguous:

- pass-fail: a labelled ``PASS``/``FAIL`` (``Verdict:``, ``Final verdict:``, ``Decision:``,
  ``Result:``, ``Overall:``, markdown bold or a heading around the label allowed), or a line that
  says only ``PASS`` or ``FAIL`` in capitals;
- scale: a labelled score (``Score:``, ``Rating:``, ``Final score:``), bare or over the scale's
  top (``4/5``, ``4 out of 5``). A score over another top (``4 out of 10`` on 1-5) is no score,
  and makes any other score in the reply doubtful (see ``other_scales``);
- category: ``Category: C``, ``Answer: (C)``, ``GRADE: C``, ``The answer is (C)``, a line ``(C)``;
- choice: ``[[A]]`` (the MT-Bench form), ``Winner: B``, ``Preferred: Response A``, ``Tie``;
- any kind: the tag forms (``<verdict>pass</verdict>``, ``<score>4</score>``, MT-Bench's
  ``Rating: [[4]]``), and a last line that says only the verdict (``PASS``, ``4``, ``4/5``, ``(C)``),
  as a judge asked for "the score only" answers.

A letter grade (``GRADE: C``) is read only where categories were asked for: on a pass/fail or a
number scale it could mean "correct" (Inspect's C/I) as well as a middling school grade.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .fields import VerdictShape

__all__ = ["PlainStatement", "other_scales", "plain_statements"]


@dataclass(frozen=True, slots=True)
class PlainStatement:
    """One plain-words verdict: where it is and the fields it states, as a verdict object would."""

    start: int
    end: int
    value: dict[str, Any]
    #: Where the score's digits start (for g-eval's token weighting), if it states a score.
    score_at: int | None = None


_LEAD = r"(?:^|(?<=\n))[ \t>*#_\-|]*"  # line start, with markdown list, quote or heading marks
_BOLD = r"[*_`]{0,3}"
_SEP = r"\s*[:：=\-–—]\s*"
_PASS_FAIL_LABEL = (
    r"(?:final |overall |my )?(?:verdict|decision|result|judg(?:e)?ment|assessment|conclusion|outcome|grade"
    r"|answer)|overall"
)
_PASS_FAIL = re.compile(
    _LEAD
    + _BOLD
    + rf"(?:{_PASS_FAIL_LABEL})"
    + _BOLD
    + _SEP
    + _BOLD
    + r"\s*(pass(?:ed)?|fail(?:ed)?)\b"
    + r"(?![ \t]*(?:if|when|unless|only)\b)",
    re.IGNORECASE,
)
# "## Verdict" on one line and "**PASS**" on the next.
_PASS_FAIL_HEADING = re.compile(
    _LEAD
    + _BOLD
    + rf"(?:{_PASS_FAIL_LABEL})"
    + _BOLD
    + r"[ \t:]*\n[ \t]*"
    + _BOLD
    + r"(pass(?:ed)?|fail(?:ed)?)"
    + _BOLD
    + r"[ \t.!]*(?=\n|$)",
    re.IGNORECASE,
)
_BARE_PASS_FAIL = re.compile(_LEAD + _BOLD + r"(PASS|FAIL|PASSED|FAILED)" + _BOLD + r"[ \t.!]*(?=\n|$)")
_SCORE_LABEL = r"(?:final |overall |total |my )?(?:score|rating|mark)"
_SCORE = re.compile(
    _LEAD
    + _BOLD
    + _SCORE_LABEL
    + _BOLD
    + r"(?:\s*[:：=]|\s+(?:is|of))\s*"
    + _BOLD
    + r"\s*(-?\d+(?:\.\d+)?)"
    + _BOLD
    + r"(?:\s*(?:/|out of)\s*(\d+))?"
    + r"(?![\d.]*\d)",
    re.IGNORECASE,
)
#: "N out of M" or "N/M" after a rating word: detects a score on a scale other than the asked one.
_ANY_FRACTION = re.compile(
    r"(?:\b(?:score|scores|scored|rate|rating|rated|give|gives|grade|mark|deserves?)\b[^\n\d]{0,30}?)"
    r"(\d+(?:\.\d+)?)\s*(?:/|out of)\s*(\d+)|(\d+(?:\.\d+)?)\s+out of\s+(\d+)",
    re.IGNORECASE,
)
_CATEGORY = re.compile(
    _LEAD
    + _BOLD
    + r"(?:final )?(?:category|answer|choice|grade|option|selection)"
    + _BOLD
    + r"(?:\s*[:：=]|\s+is)\s*"
    + _BOLD
    + r"\s*\(?([A-Ea-e])\)?"
    + _BOLD
    + r"(?=[\s.,;!)]|$)",
    re.IGNORECASE,
)
_ANSWER_IS = re.compile(r"\b(?:the )?(?:answer|category) is:?\s*\(([A-E])\)", re.IGNORECASE)
_BARE_CATEGORY = re.compile(_LEAD + _BOLD + r"\(([A-E])\)" + _BOLD + r"[ \t.]*(?=\n|$)")
_TAGGED = re.compile(r"<(verdict|score|rating|category|choice)>\s*([^<\n]{1,20}?)\s*</\1>", re.IGNORECASE)
_DOUBLE_BRACKETS = re.compile(r"\[\[\s*(-?\d+(?:\.\d+)?|pass|fail|[A-E])\s*\]\]", re.IGNORECASE)
_LINE_NOISE = " \t*_`#>.!\"'-|✅❌✓✗✔✘"
_LAST_SCORE = re.compile(r"^(-?\d+(?:\.\d+)?)(?:\s*(?:/|out of)\s*(\d+))?$")
_CHOICE_BRACKETS = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)
_CHOICE_LABEL = re.compile(
    _LEAD
    + _BOLD
    + r"(?:final )?(?:winner|preferred|preference|better|choice|verdict)"
    + _BOLD
    + _SEP
    + _BOLD
    + r"\s*(?:response |output |assistant |answer )?(A|B|tie)\b"
    + _BOLD,
    re.IGNORECASE,
)


def plain_statements(text: str, shape: VerdictShape, *, any_scale: bool = False) -> Iterator[PlainStatement]:
    """Every plain-words verdict of ``shape`` in ``text``, in order of position.

    ``any_scale``: scores over any top count (for finding what the material states).
    """
    found: list[PlainStatement] = []
    if shape.kind == "pass-fail":
        for pattern in (_PASS_FAIL, _PASS_FAIL_HEADING, _BARE_PASS_FAIL):
            for match in pattern.finditer(text):
                word = match[1].lower()
                found.append(
                    PlainStatement(
                        match.start(1), match.end(), {"verdict": "pass" if word[0] == "p" else "fail"}
                    )
                )
    elif shape.kind == "scale":
        for match in _SCORE.finditer(text):
            high = shape.scale[1]
            if match[2] is not None and int(match[2]) != high and not any_scale:
                continue  # another scale: other_scales reports it
            found.append(
                PlainStatement(match.start(), match.end(), {"score": float(match[1])}, match.start(1))
            )
    elif shape.kind == "category":
        for pattern in (_CATEGORY, _ANSWER_IS, _BARE_CATEGORY):
            for match in pattern.finditer(text):
                found.append(PlainStatement(match.start(), match.end(), {"category": match[1].upper()}))
    else:
        for pattern in (_CHOICE_BRACKETS, _CHOICE_LABEL):
            for match in pattern.finditer(text):
                word = match[1].lower()
                choice = "tie" if word in ("tie", "c") else word.upper()
                found.append(PlainStatement(match.start(), match.end(), {"choice": choice}))
    found += _tagged(text, shape, any_scale=any_scale)
    last = _last_line(text, shape)
    if last is not None:
        found.append(last)
    # One statement may match two patterns: keep the first of those that overlap.
    found.sort(key=lambda s: (s.start, -s.end))
    last_end = -1
    for statement in found:
        if statement.start >= last_end:
            yield statement
            last_end = statement.end


def _tagged(text: str, shape: VerdictShape, *, any_scale: bool) -> list[PlainStatement]:
    """``<verdict>pass</verdict>``, ``<score>4</score>``, ``[[4]]``: the tag forms judges use."""
    found = []
    for match in _TAGGED.finditer(text):
        name, word = match[1].lower(), match[2].strip().strip("*().").strip()
        value: dict[str, Any] | None = None
        if shape.kind == "pass-fail" and name == "verdict" and word.lower() in ("pass", "fail"):
            value = {"verdict": word.lower()}
        elif shape.kind == "scale" and name in ("score", "rating"):
            score = _LAST_SCORE.match(word)
            if score is not None and (score[2] is None or int(score[2]) == shape.scale[1] or any_scale):
                statement = PlainStatement(
                    match.start(), match.end(), {"score": float(score[1])}, match.start(2)
                )
                found.append(statement)
        elif shape.kind == "category" and name == "category" and _letter(word, shape):
            value = {"category": word.upper()}
        elif shape.kind == "choice" and name == "choice":
            value = {"choice": word}
        if value is not None:
            found.append(PlainStatement(match.start(), match.end(), value))
    for match in _DOUBLE_BRACKETS.finditer(text):  # MT-Bench's [[5]], and [[PASS]], [[C]] alike
        word = match[1]
        if shape.kind == "scale" and word[0] in "-0123456789":
            found.append(PlainStatement(match.start(), match.end(), {"score": float(word)}, match.start(1)))
        elif shape.kind == "pass-fail" and word.lower() in ("pass", "fail"):
            found.append(PlainStatement(match.start(), match.end(), {"verdict": word.lower()}))
        elif shape.kind == "category" and _letter(word, shape) and word.isupper():
            found.append(PlainStatement(match.start(), match.end(), {"category": word}))
    return found


def _letter(word: str, shape: VerdictShape) -> bool:
    return len(word) == 1 and word.upper() in shape.categories


def _last_line(text: str, shape: VerdictShape) -> PlainStatement | None:
    """The reply's last line when it says only the verdict: ``pass``, ``4``, ``4/5``, ``(C)``, ``B``."""
    body = text.rstrip()
    line_start = body.rfind("\n") + 1
    line = body[line_start:].strip(_LINE_NOISE)
    if not line:
        return None
    start = body.index(line, line_start)
    end = start + len(line)
    if shape.kind == "pass-fail" and line.lower() in ("pass", "fail", "passed", "failed"):
        return PlainStatement(start, end, {"verdict": line.lower()[:4]})
    if shape.kind == "scale":
        score = _LAST_SCORE.match(line)
        if score is not None and (score[2] is None or int(score[2]) == shape.scale[1]):
            return PlainStatement(start, end, {"score": float(score[1])}, start)
    inner = line.strip("()[] ")
    if shape.kind == "category" and len(inner) == 1 and inner.upper() in shape.categories and line.isupper():
        return PlainStatement(start, end, {"category": inner.upper()})
    if shape.kind == "choice" and inner.lower() in ("a", "b", "tie"):
        return PlainStatement(start, end, {"choice": "tie" if inner.lower() == "tie" else inner.upper()})
    return None


def other_scales(text: str, scale: tuple[int, int]) -> list[str]:
    """Scores written over another top than the scale's (``4 out of 10`` when 1-5 was asked)."""
    high = scale[1]
    out = []
    for match in _ANY_FRACTION.finditer(text):
        value, top = (match[1], match[2]) if match[1] is not None else (match[3], match[4])
        if int(top) != high and int(top) > 1:
            out.append(f"{value} out of {top}")
    return out
