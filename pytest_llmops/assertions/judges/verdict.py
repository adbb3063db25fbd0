"""Reading a judge's reply: the verdict is its final statement, and nothing may talk it into a pass.

How a reply is read (``parse_verdict``; ``read_response`` adds the finish reason and tool calls):

1. A reply that did not end normally (``finish_reason`` ``length``, ``content_filter``, ...) is
   unscored: its last words may be a draft.
2. Reasoning spans are dropped: ``<think>``, ``<thinking>``, ``<reasoning>``, ``<reflection>``,
   ``<scratchpad>``, ``<analysis>``, ``<draft>``; one never closed runs to the end of the reply,
   and a closing tag without its opening drops everything before it. So are echoed material and
   example blocks (``defence``).
3. Candidates are the JSON objects of the reply (bare or fenced, read leniently: Python dicts,
   trailing commas; one written as an escaped string is decoded) and its plain statements
   (``plain``: ``Score: 4/5``, ``**Verdict:** PASS``, ``GRADE: C``). Only those that state what
   the judge kind decides count.
4. Not the judge's: a candidate that repeats the material under judgement (``defence``), and a
   hypothetical (introduced by "e.g.", "for example", "such as", "instead of", "would be", or
   followed by "would mean"). A per-criterion object (one naming its criterion, or written after
   a criterion label such as ``**Politeness**:``) is a criterion, not the overall verdict.
5. The verdict is the **last** remaining overall candidate, read by ``fields`` (a pass needs its
   decision field; a verdict that contradicts its own fields is unscored). It must stay the final
   statement: a pass followed by words of failure ("fails", "does not meet"), by a failing
   criterion, or a score followed by another ("I'd lower it to 2"), is unscored. A reply that
   also scores on another scale ("4 out of 10" on 1-5) is unscored. With criteria only, a
   pass/fail reply passes when every criterion passes and fails when one fails.
6. A reply without a verdict is retried once with a short correction (``check``); a reply still
   without one is *unscored*: neither a pass nor a zero, reported with the raw reply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...errors import VerdictParseError
from ...results import LLMResponse
from .defence import Material, MaterialIndex, echoed_spans
from .fields import FAILURE_WORDS, VerdictShape, criterion_name, decisive_key, read_fields
from .layout import blank, hypothetical, labelled_criterion, reasoning_spans
from .objects import find_objects
from .plain import other_scales, plain_statements

__all__ = ["NORMAL_FINISH", "Verdict", "VerdictShape", "parse_verdict", "read_response"]

#: Finish reasons of a reply that ended on its own (OpenAI's, Anthropic's, others' spellings).
NORMAL_FINISH = frozenset(
    {"stop", "end_turn", "stop_sequence", "tool_calls", "tool_use", "eos", "function_call"}
)
_LATER_SCORE = re.compile(
    r"\b(?:give|gives|giving|rate|rating|rated|score|scored|lower|raise|revise|change|adjust"
    r"|make it|call it)\w*\b"
    r"[^\n\d]{0,25}?(?<![\d.])(\d+(?:\.\d+)?)(?![\d.]*\d)",
    re.IGNORECASE,
)
_LATER_CATEGORY = re.compile(r"\(([A-E])\)|\b(?:category|option|answer|choice) \(?([A-E])\b")
_FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*|\s*```\s*$")


@dataclass(frozen=True, slots=True)
class Verdict:
    """The judge's verdict, read from its reply."""

    reason: str
    #: pass-fail and category kinds: the verdict; scale and choice kinds: None.
    passed: bool | None
    #: The score as the judge gave it: 0-1 for pass-fail, on the scale for scale kinds.
    score: float | None
    category: str | None = None
    #: Where the verdict lies in the reply, and where its (top-level) score value starts.
    start: int = 0
    end: int = 0
    score_at: int | None = None
    #: The preferred answer, for a choice between two ("A", "B" or "tie").
    choice: str | None = None
    #: "json", "plain" (a statement in words) or "tool" (structured output).
    source: str = "json"


@dataclass(frozen=True, slots=True)
class _Candidate:
    start: int
    end: int
    value: Mapping[str, Any]
    source: str
    score_at: Mapping[str, int] = field(default_factory=dict)
    criterion: bool = False


def _inner_verdict(value: Mapping[str, Any], shape: VerdictShape) -> Mapping[str, Any] | None:
    """The verdict of an object that holds it one level down.

    In a nested object (``{"evaluation": {"verdict": "pass"}}``), when exactly one holds one, or
    as JSON inside a string value (``{"result": "{\\"verdict\\": ...}"}``).
    """
    nested = [v for v in value.values() if isinstance(v, Mapping) and decisive_key(v, shape) is not None]
    if len(nested) == 1:
        return nested[0]
    for item in value.values():
        if isinstance(item, str) and "{" in item:
            for inner in find_objects(item):
                if decisive_key(inner.value, shape) is not None:
                    return inner.value
    return None


def _candidates(
    reply: str, visible: str, hidden: Sequence[tuple[int, int]], shape: VerdictShape
) -> list[_Candidate]:
    found: list[_Candidate] = []
    for obj in find_objects(reply, hidden):
        found.append(_Candidate(obj.start, obj.end, obj.value, "json", obj.value_at))
    for statement in plain_statements(visible, shape):
        at = {"score": statement.score_at} if statement.score_at is not None else {}
        found.append(_Candidate(statement.start, statement.end, statement.value, "plain", at))
    found.sort(key=lambda c: c.start)
    # A plain statement inside a JSON candidate (a reason saying "Verdict: pass") is part of it.
    spans = [(c.start, c.end) for c in found if c.source == "json"]
    return [c for c in found if c.source == "json" or not any(s <= c.start and c.end <= e for s, e in spans)]


def _decoded(reply: str) -> str | None:
    """The reply decoded once when it is an escaped or quoted JSON string (``"{\\"verdict\\": ...}"``)."""
    body = _FENCE.sub("", reply.strip())
    if body.startswith('"') and body.endswith('"'):
        try:
            inner = json.loads(body)
        except ValueError:
            inner = None
        if isinstance(inner, str):
            return inner
    if '\\"' in body:
        return body.replace('\\"', '"').replace("\\n", "\n")
    return None


def parse_verdict(
    reply: str,
    shape: VerdictShape,
    *,
    materials: Sequence[Material] = (),
    nonce: str | None = None,
) -> Verdict:
    """The judge's final verdict in a reply (see the module's rules); ``VerdictParseError`` if none.

    ``materials`` are the blocks the judge was shown (and ``nonce`` their tags' suffix): what
    they hold is never taken for the judge's verdict.
    """
    return _parse(reply, shape, MaterialIndex.of(materials), [m.name for m in materials], nonce, decode=True)


def _parse(
    reply: str,
    shape: VerdictShape,
    index: MaterialIndex,
    names: Sequence[str],
    nonce: str | None,
    *,
    decode: bool,
) -> Verdict:
    hidden = [*echoed_spans(reply, names, nonce), *reasoning_spans(reply)]
    visible = blank(reply, hidden)
    live: list[_Candidate] = []
    set_aside: list[tuple[int, int]] = []  # candidates that are not the judge's: no trailing words
    quoted = hypotheticals = 0
    last_problem = ""
    for candidate in _candidates(reply, visible, hidden, shape):
        value = candidate.value
        if decisive_key(value, shape) is None:
            inner = _inner_verdict(value, shape) if candidate.source == "json" else None
            if inner is None:
                last_problem = last_problem or read_fields(value, shape)[1]
                continue
            candidate = _Candidate(candidate.start, candidate.end, inner, "json")
        if index.holds_text(reply[candidate.start : candidate.end]) or index.holds_verdict(
            candidate.value, shape
        ):
            quoted += 1
            set_aside.append((candidate.start, candidate.end))
            continue
        if hypothetical(visible, candidate.start, candidate.end):
            hypotheticals += 1
            set_aside.append((candidate.start, candidate.end))
            continue
        criterion = criterion_name(candidate.value) is not None or labelled_criterion(
            visible, candidate.start
        )
        live.append(
            _Candidate(
                candidate.start,
                candidate.end,
                candidate.value,
                candidate.source,
                candidate.score_at,
                criterion,
            )
        )
    if not live and decode:
        decoded = _decoded(visible)
        if decoded is not None:
            found = _parse(decoded, shape, index, names, nonce, decode=False)
            return Verdict(found.reason, found.passed, found.score, found.category, choice=found.choice)
    if shape.kind == "scale":
        others = other_scales(visible, shape.scale)
        if others and live:
            low, high = shape.scale
            raise VerdictParseError(
                f"the reply scores on another scale ({others[0]}) than the {low} to {high} asked for,"
                " so its score is ambiguous"
            )
    return _final(
        reply,
        blank(visible, set_aside),
        live,
        shape,
        quoted=quoted,
        hypothetical=hypotheticals,
        last_problem=last_problem,
    )


def _final(
    reply: str,
    visible: str,
    live: Sequence[_Candidate],
    shape: VerdictShape,
    *,
    quoted: int,
    hypothetical: int,
    last_problem: str,
) -> Verdict:
    overall = [c for c in live if not c.criterion]
    criteria = [c for c in live if c.criterion]
    if not overall:
        if criteria and shape.kind in ("pass-fail", "category"):
            return _from_criteria(criteria, shape)
        if last_problem:
            raise VerdictParseError(f"the reply's JSON has {last_problem}")
        if quoted:
            raise VerdictParseError(
                f"the only verdict in the reply ({quoted} found) repeats JSON from the text under test,"
                " or a verdict it states, so it is not taken as the judge's"
            )
        if hypothetical:
            raise VerdictParseError("the only verdict in the reply is an example or a hypothetical")
        if criteria:
            raise VerdictParseError(
                f"the reply scores each criterion but gives no overall {shape.describe()}"
            )
        if not reply.strip():
            raise VerdictParseError("the reply is empty")
        raise VerdictParseError(f"the reply holds no JSON object with {shape.describe()}")
    final = overall[-1]
    reading, problem = read_fields(final.value, shape)
    if reading is None:
        raise VerdictParseError(f"the reply's final verdict has {problem}")
    trailing = visible[final.end :]
    if shape.kind == "pass-fail" and reading.passed:
        readings = [read_fields(c.value, shape)[0] for c in criteria]
        if any(r is not None and r.passed is False for r in readings):
            raise VerdictParseError('the reply says "pass" while one of its criteria fails')
        words = FAILURE_WORDS.search(trailing)
        if words:
            raise VerdictParseError(f'the reply goes on after its "pass" to say {words[0]!r}')
    if shape.kind == "scale" and reading.score is not None:
        for later in _LATER_SCORE.finditer(trailing):
            if float(later[1]) != reading.score:
                raise VerdictParseError(
                    f"the reply goes on after its score {reading.score:g} to give another"
                    f" ({later[0].strip()!r})"
                )
    if shape.kind == "category" and reading.passed:
        for later in _LATER_CATEGORY.finditer(trailing):
            letter = later[1] or later[2]
            if letter in shape.failing:
                raise VerdictParseError(f"the reply goes on after ({reading.category}) to name ({letter})")
    score_at = None
    if reading.score_key is not None and reading.score_key in final.score_at:
        score_at = final.score_at[reading.score_key]
        if score_at < len(reply) and reply[score_at] in "\"'":
            score_at += 1
    return Verdict(
        reading.reason,
        reading.passed,
        reading.score,
        reading.category,
        final.start,
        final.end,
        score_at,
        reading.choice,
        final.source,
    )


def _from_criteria(criteria: Sequence[_Candidate], shape: VerdictShape) -> Verdict:
    """A reply that only judges each criterion (or claim): it passes when every one does."""
    results = []
    for candidate in criteria:
        reading, problem = read_fields(candidate.value, shape)
        if reading is None:
            raise VerdictParseError(f"a criterion of the reply has {problem}")
        results.append((candidate, reading))
    failed = [(c, r) for c, r in results if not r.passed]
    candidate, reading = failed[-1] if failed else results[-1]
    reason = reading.reason or f"{len(failed)} of {len(results)} criteria fail"
    return Verdict(
        reason, not failed, None, start=candidate.start, end=candidate.end, source=candidate.source
    )


def read_response(
    response: LLMResponse,
    shape: VerdictShape,
    *,
    materials: Sequence[Material] = (),
    nonce: str | None = None,
    tool: str | None = None,
) -> Verdict:
    """The verdict of a judge's response: its tool call ``tool`` if it made one, else its text.

    A response that did not finish normally is unscored whatever it holds (rule 1).
    """
    finish = response.finish_reason
    if finish is not None and finish.lower() not in NORMAL_FINISH:
        raise VerdictParseError(
            f"the reply did not finish normally (finish_reason: {finish}), so it may be a draft"
        )
    index = MaterialIndex.of(materials)
    names = [m.name for m in materials]
    for call in response.tool_calls:
        if tool is None or call.name != tool:
            continue
        if call.arguments is None:
            raise VerdictParseError(f"the {call.name} tool call's arguments are not a JSON object")
        if index.holds_verdict(call.arguments, shape):
            raise VerdictParseError(
                f"the verdict in the {call.name} tool call repeats JSON from the text under test,"
                " or a verdict it states, so it is not taken as the judge's"
            )
        reading, problem = read_fields(call.arguments, shape)
        if reading is None:
            raise VerdictParseError(f"the {call.name} tool call has {problem}")
        return Verdict(
            reading.reason,
            reading.passed,
            reading.score,
            reading.category,
            choice=reading.choice,
            source="tool",
        )
    return _parse(response.text, shape, index, names, nonce, decode=True)
