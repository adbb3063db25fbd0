"""Objects written in free text: a linear brace scan, and a lenient reader that keeps positions.

Judges write JSON the way people do: inside prose, in fences, as Python dicts (``'pass'``,
``True``), with a trailing comma. ``find_objects`` finds every balanced ``{...}`` in one pass over
the text (strings inside an object are skipped, so a ``}`` in a reason does not end it; a stray
``{`` that never closes is left behind instead of swallowing what follows, so no number of them
hides the judge's final verdict) and reads each with ``read_object``, a small recursive-descent
reader for JSON and Python literals that records where each top-level value starts: g-eval needs
the offset of the score to line it up with the score token's probabilities.

``loose=True`` also reads what a careful reader would recognise but a judge is not asked to write:
unquoted keys and bare words (``{verdict: pass}``). It is used on the material under judgement,
where anything that looks like a verdict must be found, never on the judge's reply.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FoundObject", "balanced_spans", "find_objects", "read_object"]

#: Nesting a value may have before the reader gives up on it (a span that deep is not a verdict).
MAX_DEPTH = 64
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}
_OPENERS_BEFORE_STRING = "{[:,"


@dataclass(frozen=True, slots=True)
class FoundObject:
    """One object read from a text: where it lies, its value, and where its top-level values start."""

    start: int
    end: int
    value: dict[str, Any]
    #: Offset in the text where the value of each top-level key begins.
    value_at: Mapping[str, int]


class _Bad(Exception):
    """The span does not hold a readable object."""


def _string_start(text: str, at: int) -> bool:
    """Whether a quote at ``at`` opens a string: it follows ``{``, ``[``, ``:`` or ``,``.

    Quotes in prose follow a word or a space, so they never start one.
    """
    back = at - 1
    while back >= 0 and text[back] in " \t\r\n":
        back -= 1
    return back >= 0 and text[back] in _OPENERS_BEFORE_STRING


def _skip_string(text: str, at: int, end: int) -> int:
    """The index after the string opened at ``at``; a newline ends an unclosed one (prose, not JSON)."""
    quote = text[at]
    i = at + 1
    while i < end:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote or c == "\n":
            return i + 1
        i += 1
    return end


def balanced_spans(text: str, skip: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, int]]:
    """``(start, end, parent)`` of every balanced ``{...}`` outside ``skip``, in order of start.

    ``parent`` is the index (in the returned list) of the nearest enclosing span, or -1. One pass:
    a ``{`` that never closes stays on the stack and encloses nothing in the result.
    """
    blocked = sorted(skip)
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    i, n, next_skip = 0, len(text), 0
    while i < n:
        while next_skip < len(blocked) and blocked[next_skip][1] <= i:
            next_skip += 1
        if next_skip < len(blocked) and blocked[next_skip][0] <= i:
            i = blocked[next_skip][1]
            stack.clear()  # an echoed block is a wall: nothing opened before it closes after it
            continue
        c = text[i]
        if c == "{":
            stack.append(i)
        elif c == "}":
            if stack:
                pairs.append((stack.pop(), i + 1))
        elif c in "\"'" and stack and _string_start(text, i):
            i = _skip_string(text, i, n)
            continue
        i += 1
    pairs.sort()
    out: list[tuple[int, int, int]] = []
    enclosing: list[int] = []  # indices into out
    for start, end in pairs:
        while enclosing and out[enclosing[-1]][1] <= start:
            enclosing.pop()
        out.append((start, end, enclosing[-1] if enclosing else -1))
        enclosing.append(len(out) - 1)
    return out


class _Reader:
    """Recursive descent over ``text[start:end]`` for JSON and Python literals."""

    def __init__(self, text: str, end: int, *, loose: bool) -> None:
        self.text = text
        self.end = end
        self.loose = loose

    def ws(self, i: int) -> int:
        """Past whitespace and comments (``// ...`` and ``/* ... */``, which judges sometimes add)."""
        text, end = self.text, self.end
        while i < end:
            if text[i] in " \t\r\n":
                i += 1
            elif text.startswith("//", i):
                newline = text.find("\n", i, end)
                i = end if newline < 0 else newline + 1
            elif text.startswith("/*", i):
                close = text.find("*/", i + 2, end)
                i = end if close < 0 else close + 2
            else:
                break
        return i

    def value(self, i: int, depth: int) -> tuple[Any, int]:
        if depth > MAX_DEPTH or i >= self.end:
            raise _Bad
        c = self.text[i]
        if c == "{":
            obj, i, _ = self.object(i, depth)
            return obj, i
        if c == "[":
            return self.array(i, depth)
        if c in "\"'":
            return self.string(i)
        if c in "-+0123456789.":
            return self.number(i)
        word, after = self.word(i)
        if word in _CONSTANTS:
            return _CONSTANTS[word], after
        if self.loose and word:
            return word, after
        raise _Bad

    def word(self, i: int) -> tuple[str, int]:
        j = i
        while j < self.end and (self.text[j].isalnum() or self.text[j] in "_-"):
            j += 1
        return self.text[i:j], j

    def number(self, i: int) -> tuple[float | int, int]:
        j = i
        while j < self.end and self.text[j] in "+-0123456789.eE":
            j += 1
        raw = self.text[i:j]
        try:
            number: float | int = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
        except ValueError:
            raise _Bad from None
        if isinstance(number, float) and not math.isfinite(number):
            raise _Bad
        return number, j

    def string(self, i: int) -> tuple[str, int]:
        quote = self.text[i]
        parts: list[str] = []
        j = i + 1
        while j < self.end:
            c = self.text[j]
            if c == quote:
                return "".join(parts), j + 1
            if c == "\\" and j + 1 < self.end:
                code = self.text[j + 1]
                if code == "u" and j + 6 <= self.end:
                    try:
                        parts.append(chr(int(self.text[j + 2 : j + 6], 16)))
                    except ValueError:
                        raise _Bad from None
                    j += 6
                    continue
                parts.append(_ESCAPES.get(code, "\\" + code))
                j += 2
                continue
            parts.append(c)
            j += 1
        raise _Bad

    def array(self, i: int, depth: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        i = self.ws(i + 1)
        while True:
            if i >= self.end:
                raise _Bad
            if self.text[i] == "]":
                return items, i + 1
            item, i = self.value(i, depth + 1)
            items.append(item)
            i = self.ws(i)
            if i < self.end and self.text[i] == ",":
                i = self.ws(i + 1)  # a trailing comma is allowed: "]" may follow
            elif i < self.end and self.text[i] != "]":
                raise _Bad

    def key(self, i: int) -> tuple[str, int]:
        if i < self.end and self.text[i] in "\"'":
            return self.string(i)
        if self.loose:
            word, after = self.word(i)
            if word:
                return word, after
        raise _Bad

    def object(self, i: int, depth: int) -> tuple[dict[str, Any], int, dict[str, int]]:
        found: dict[str, Any] = {}
        starts: dict[str, int] = {}
        i = self.ws(i + 1)
        while True:
            if i >= self.end:
                raise _Bad
            if self.text[i] == "}":
                return found, i + 1, starts
            key, i = self.key(i)
            i = self.ws(i)
            if i >= self.end or self.text[i] not in ":=" or (self.text[i] == "=" and not self.loose):
                raise _Bad
            i = self.ws(i + 1)
            starts[key] = i
            found[key], i = self.value(i, depth + 1)
            i = self.ws(i)
            if i < self.end and self.text[i] == ",":
                i = self.ws(i + 1)
            elif i < self.end and self.text[i] != "}":
                raise _Bad


def read_object(text: str, start: int, end: int, *, loose: bool = False) -> FoundObject | None:
    """The object spanning exactly ``text[start:end]``, or None when it is not readable as one."""
    reader = _Reader(text, end, loose=loose)
    try:
        value, after, starts = reader.object(start, 0)
    except (_Bad, RecursionError):
        return None
    if reader.ws(after) != end:
        return None
    return FoundObject(start, end, value, starts)


def find_objects(
    text: str, skip: Sequence[tuple[int, int]] = (), *, loose: bool = False
) -> Iterator[FoundObject]:
    """Each outermost readable object in ``text`` (outside ``skip``), in order.

    A balanced span that does not read as an object (prose between braces) is looked into: the
    objects inside it are found instead.
    """
    spans = balanced_spans(text, skip)
    # covered[i]: span i lies inside a span that was read whole, so it is part of that object.
    covered = [False] * len(spans)
    for index, (start, end, parent) in enumerate(spans):
        if parent >= 0 and covered[parent]:
            covered[index] = True
            continue
        found = read_object(text, start, end, loose=loose)
        if found is not None:
            covered[index] = True
            yield found
