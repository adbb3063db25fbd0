"""Assertions on the output as text: equality, substrings, affixes, regex, lengths, edit distance.

Types: ``equals``, ``contains``, ``icontains``, ``contains-any``, ``contains-all``,
``icontains-any``, ``icontains-all``, ``starts-with``, ``ends-with``, ``regex``, ``min-length``,
``max-length``, ``word-count`` and ``levenshtein``. ``levenshtein`` is also the edit distance.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from ..errors import CannotGrade
from ..results import Grade
from ..spec.schema import AssertionSpec
from .config import (
    assertion_type,
    config_error,
    described,
    got,
    limit,
    nonempty_text,
    number,
    text_list,
    text_value,
    whole_number,
)
from .json_output import equals_json
from .reasons import around, num, quote, quote_tail
from .registry import AssertionContext, Check

__all__ = ["levenshtein"]


# --- equality -------------------------------------------------------------------------------


@assertion_type("equals", "value")
def _equals(spec: AssertionSpec, *, base_dir: Path) -> Check:
    """Exact equality; a mapping, list, number or boolean compares the output parsed as JSON."""
    value = spec.value
    if value is None:
        raise config_error(
            spec,
            "`value` is required: the exact expected output, e.g. value: 'Paris'"
            " (a mapping or list compares the output parsed as JSON)",
        )
    if isinstance(value, str):
        return _equals_text(value)
    if isinstance(value, (dict, list, int, float, bool)):
        try:  # normalise YAML-only values: non-string keys, dates -> their text
            expected = json.loads(json.dumps(value, default=str))
        except (TypeError, ValueError) as exc:
            raise config_error(spec, f"`value` cannot be compared as JSON: {exc}") from None
        return equals_json(expected)
    raise config_error(spec, f"`value` must be a string or a JSON value, e.g. value: 'Paris'; {got(value)}")


def _equals_text(expected: str) -> Check:
    def check(ctx: AssertionContext) -> Grade:
        output = ctx.output
        if output == expected:
            return Grade(True, 1.0, f"output equals {quote(expected)}")
        hint = ""
        if output.strip() == expected.strip():
            hint = " (they differ only in leading/trailing whitespace)"
        elif output.casefold() == expected.casefold():
            hint = " (they differ only in letter case)"
        return Grade(False, 0.0, f"expected exactly {quote(expected)}; got {quote(output)}{hint}")

    return check


# --- substrings -----------------------------------------------------------------------------

_PLURAL_HINT = " (for several strings use `{base}-any` or `{base}-all`)"


def _substring(spec: AssertionSpec, *, base_dir: Path, fold: bool) -> Check:
    """``contains`` (``icontains`` with ``fold``): one string, found where in the output."""
    needle = nonempty_text(spec, "value: refund", _PLURAL_HINT.format(base=spec.base_type))
    key = needle.casefold() if fold else needle
    how = " (ignoring case)" if fold else ""

    def check(ctx: AssertionContext) -> Grade:
        haystack = ctx.output.casefold() if fold else ctx.output
        at = haystack.find(key)
        if at < 0:
            return Grade(
                False, 0.0, f"expected output to contain {needle!r}{how}; output: {quote(ctx.output)}"
            )
        where = ""
        if len(haystack) == len(ctx.output):  # casefold() may change lengths (ß -> ss)
            where = f" at char {at}: {around(ctx.output, at, len(needle))}"
        return Grade(True, 1.0, f"output contains {needle!r}{how}{where}")

    return check


def _substrings(spec: AssertionSpec, *, base_dir: Path, fold: bool, need_all: bool) -> Check:
    """``contains-any``/``-all`` (``icontains-…`` with ``fold``): a list of strings."""
    single = "icontains" if fold else "contains"
    needles = text_list(spec, "value: [refund, return]", f" (for a single string use `{single}`)")
    keys = [n.casefold() if fold else n for n in needles]
    how = " (ignoring case)" if fold else ""
    listed = ", ".join(repr(n) for n in needles)

    def check(ctx: AssertionContext) -> Grade:
        haystack = ctx.output.casefold() if fold else ctx.output
        found = [n for n, k in zip(needles, keys, strict=True) if k in haystack]
        missing = [n for n, k in zip(needles, keys, strict=True) if k not in haystack]
        if need_all:
            if not missing:
                return Grade(True, 1.0, f"output contains all of {listed}{how}")
            return Grade(
                False,
                0.0,
                f"output is missing {len(missing)} of {len(needles)}{how}: "
                f"{', '.join(repr(m) for m in missing)}; output: {quote(ctx.output)}",
            )
        if found:
            return Grade(True, 1.0, f"output contains {', '.join(repr(f) for f in found)}{how}")
        return Grade(False, 0.0, f"output contains none of {listed}{how}; output: {quote(ctx.output)}")

    return check


assertion_type("contains", "value")(functools.partial(_substring, fold=False))
assertion_type("icontains", "value")(functools.partial(_substring, fold=True))
assertion_type("contains-any", "value")(functools.partial(_substrings, fold=False, need_all=False))
assertion_type("contains-all", "value")(functools.partial(_substrings, fold=False, need_all=True))
assertion_type("icontains-any", "value")(functools.partial(_substrings, fold=True, need_all=False))
assertion_type("icontains-all", "value")(functools.partial(_substrings, fold=True, need_all=True))


# --- prefix, suffix, regex ------------------------------------------------------------------


def _affix(spec: AssertionSpec, *, base_dir: Path, at_end: bool) -> Check:
    """``starts-with`` (``ends-with`` with ``at_end``); the hint says if whitespace is in the way."""
    affix = nonempty_text(spec, "value: 'Best regards.'" if at_end else "value: 'Dear customer'")
    verb = "end" if at_end else "start"

    def has(text: str) -> bool:
        return text.endswith(affix) if at_end else text.startswith(affix)

    def check(ctx: AssertionContext) -> Grade:
        if has(ctx.output):
            return Grade(True, 1.0, f"output {verb}s with {affix!r}")
        hint = ""
        if at_end and has(ctx.output.rstrip()):
            hint = " (it does before trailing whitespace)"
        elif not at_end and has(ctx.output.lstrip()):
            hint = " (it does after leading whitespace)"
        shown = (quote_tail if at_end else quote)(ctx.output, len(affix) + 20)
        return Grade(False, 0.0, f"expected output to {verb} with {affix!r}; it {verb}s with {shown}{hint}")

    return check


assertion_type("starts-with", "value")(functools.partial(_affix, at_end=False))
assertion_type("ends-with", "value")(functools.partial(_affix, at_end=True))


@assertion_type("regex", "value")
def _regex(spec: AssertionSpec, *, base_dir: Path) -> Check:
    value = spec.value
    if not isinstance(value, str) or not value:
        what = "an empty string" if value == "" else described(value)
        raise config_error(
            spec, f"`value` must be a regular expression string, e.g. value: '^Order #\\d+'; got {what}"
        )
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise config_error(spec, f"invalid regular expression {value!r}: {exc}") from None

    def check(ctx: AssertionContext) -> Grade:
        match = pattern.search(ctx.output)
        if match is None:
            return Grade(False, 0.0, f"output does not match regex {value!r}; output: {quote(ctx.output)}")
        return Grade(
            True, 1.0, f"output matches regex {value!r} at char {match.start()}: {quote(match[0], 80)}"
        )

    return check


# --- lengths --------------------------------------------------------------------------------


def _length(spec: AssertionSpec, *, base_dir: Path, at_least: bool) -> Check:
    """``min-length`` (with ``at_least``) or ``max-length``; a miss scores by how far it is off."""
    example = "value: 20" if at_least else "value: 500"
    bound = whole_number(spec, limit(spec, example), "value", example)
    name, wanted = ("min", "at least") if at_least else ("max", "at most")

    def check(ctx: AssertionContext) -> Grade:
        n = len(ctx.output)
        if (n >= bound) if at_least else (n <= bound):
            return Grade(True, 1.0, f"output is {n} chars ({name} {bound})")
        return Grade(
            False,
            n / bound if at_least else bound / n,
            f"output is {n} chars; expected {wanted} {bound}: {quote(ctx.output, 100)}",
        )

    return check


assertion_type("min-length", "value", "threshold")(functools.partial(_length, at_least=True))
assertion_type("max-length", "value", "threshold")(functools.partial(_length, at_least=False))


@assertion_type("word-count", "value", "min", "max")
def _word_count(spec: AssertionSpec, *, base_dir: Path) -> Check:
    example = "min: 10, max: 50 (or value: 12 for an exact count)"
    if spec.value is None and spec.min is None and spec.max is None:
        raise config_error(spec, f"give `min` and/or `max`, or `value` for an exact count, e.g. {example}")
    if spec.value is not None and (spec.min is not None or spec.max is not None):
        raise config_error(
            spec, f"give either `value` (an exact count) or `min`/`max`, not both, e.g. {example}"
        )
    if spec.value is not None:
        exact = whole_number(spec, number(spec, spec.value, "value", "value: 12"), "value", "value: 12")
        low: int | None = exact
        high: int | None = exact
    else:
        low = None if spec.min is None else whole_number(spec, spec.min, "min", example)
        high = None if spec.max is None else whole_number(spec, spec.max, "max", example)
        if low is not None and high is not None and low > high:
            raise config_error(spec, f"`min` ({low}) is greater than `max` ({high})")
    if low is not None and low == high:
        wanted = f"exactly {low}"
    else:
        wanted = " and ".join(
            part
            for part in (
                f"at least {low}" if low is not None else "",
                f"at most {high}" if high is not None else "",
            )
            if part
        )

    def check(ctx: AssertionContext) -> Grade:
        n = len(ctx.output.split())
        if low is not None and n < low:
            return Grade(False, n / low, f"output has {n} words; expected {wanted}")
        if high is not None and n > high:
            return Grade(False, high / n, f"output has {n} words; expected {wanted}")
        return Grade(True, 1.0, f"output has {n} words ({wanted})")

    return check


# --- edit distance --------------------------------------------------------------------------


def levenshtein(a: str, b: str) -> int:
    """The edit distance (insertions, deletions, substitutions) between ``a`` and ``b``.

    The common prefix and suffix are trimmed first (most of the text when an output is close to
    its reference). The rest runs the classic table row by row, keeping only the previous row --
    but stored bit-parallel (Myers 1999, Hyyrö 2003): the row's +1/-1 steps are two integers
    with one bit per character of the shorter string, so a row costs a few integer operations
    instead of a Python loop. Two 5,000-character texts take milliseconds, not seconds.
    """
    if a == b:
        return 0
    start, shortest = 0, min(len(a), len(b))
    while start < shortest and a[start] == b[start]:
        start += 1
    end_a, end_b = len(a), len(b)
    while end_a > start and end_b > start and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    a, b = a[start:end_a], b[start:end_b]
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    # positions[c]: bit j set where b[j] == c
    positions: dict[str, int] = {}
    for j, char in enumerate(b):
        positions[char] = positions.get(char, 0) | (1 << j)
    mask = (1 << len(b)) - 1
    last = 1 << (len(b) - 1)
    plus, minus = mask, 0  # vertical steps of the previous row: all +1 (row 0 is 0, 1, 2, ...)
    distance = len(b)  # the last cell of the previous row
    for char in a:
        eq = positions.get(char, 0)
        x_vertical = eq | minus
        x_horizontal = (((eq & plus) + plus) ^ plus) | eq
        h_plus = minus | ~(x_horizontal | plus)
        h_minus = plus & x_horizontal
        if h_plus & last:
            distance += 1
        elif h_minus & last:
            distance -= 1
        h_plus = (h_plus << 1) | 1  # column 0 steps by +1 on every row
        h_minus <<= 1
        plus = (h_minus | ~(x_vertical | h_plus)) & mask
        minus = h_plus & x_vertical & mask
    return distance


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


@assertion_type("levenshtein", "value", "threshold")
def _levenshtein(spec: AssertionSpec, *, base_dir: Path) -> Check:
    reference = None if spec.value is None else text_value(spec, "value: 'The capital is Paris.'")
    max_distance = 5.0
    if spec.threshold is not None:
        max_distance = number(spec, spec.threshold, "threshold", "threshold: 3")
        if max_distance < 0:
            raise config_error(
                spec,
                "`threshold` is the largest edit distance allowed, e.g. threshold: 3;"
                f" got {num(max_distance)}",
            )

    def check(ctx: AssertionContext) -> Grade:
        target = reference
        if target is None:
            if ctx.expected is None:
                # No verdict: fails with or without `not-` (PreparedAssertion sees to that).
                raise CannotGrade("no reference text: set `value` on the assertion or `expected` on the case")
            target = _as_text(ctx.expected)
        distance = levenshtein(ctx.output, target)
        longest = max(len(ctx.output), len(target))
        score = 1.0 if longest == 0 else 1.0 - distance / longest
        passed = distance <= max_distance
        reason = (
            f"edit distance {distance} {'<=' if passed else '>'} {num(max_distance)} from {quote(target, 80)}"
        )
        if not passed:
            reason += f"; output: {quote(ctx.output, 80)}"
        return Grade(passed, score, reason)

    return check
