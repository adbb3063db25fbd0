r"""User regexes run on model output with a time limit, so a catastrophic pattern cannot hang CI.

Python's ``re`` backtracks, holds the GIL and cannot be interrupted: ``^(a|aa)+$`` on a
41-character output ran past 120 s. We chose the ``regex`` package (``pytest-llmops[regex]``;
tiktoken brings it too) over ``google-re2``: it reads the same syntax as ``re`` (lookarounds and
backreferences included, which RE2 refuses, so every pattern a suite already has keeps its
meaning) and its ``timeout=`` stops a runaway search. A search that runs out of time fails its
assertion, naming the pattern (never a pass, ``not-`` included).

Without the package, the bound is at collection: a pattern that nests a repeat inside a repeat
(``(a+)+``, ``(\w+\s?)*``), the usual shape of exponential backtracking, is refused with the
install hint. Other slow shapes pass that check and are not bounded there: a repeated alternation
whose branches overlap (``(a|aa)+``), adjacent overlapping repeats (``a*a*a*b``, polynomial); the
extra bounds those too.

Patterns are always checked with ``re`` first, so a suite is valid or invalid on every machine
alike, whichever engine runs it.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from typing import Any

from ..errors import CannotGrade

# The parser of ``re`` (``sre_parse`` before 3.11, deprecated since): the same one ``re`` uses.
_sre_parse: Any = importlib.import_module("re._parser" if sys.version_info >= (3, 11) else "sre_parse")

__all__ = ["REGEX_TIMEOUT", "RegexTooSlow", "UserPattern", "engine", "exponential_shape"]

#: Seconds one search of a user's pattern may take: far above any sane pattern on any output.
REGEX_TIMEOUT = 1.0

#: An install hint for the message of a refused pattern.
INSTALL = "pip install 'pytest-llmops[regex]'"


class RegexTooSlow(ValueError):
    """A pattern refused without the ``regex`` package: it may take exponential time."""


def engine() -> Any | None:
    """The ``regex`` module, or None when it is not installed."""
    try:
        return importlib.import_module("regex")
    except ImportError:
        return None


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _children(name: str, arg: Any) -> list[Any]:
    """The sub-patterns of one parsed item that are not repeats."""
    if name == "SUBPATTERN":
        return [arg[-1]]
    if name == "BRANCH":
        return list(arg[1])
    if name in ("ASSERT", "ASSERT_NOT"):
        return [arg[1]]
    if name == "ATOMIC_GROUP":
        return [arg]
    return []


def _nested(items: Any, inside_repeat: bool) -> bool:
    """Whether the parsed pattern holds a repeat (of more than one) inside another."""
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = arg
            many = high is _sre_parse.MAXREPEAT or high > 1
            if (inside_repeat and many) or _nested(body, inside_repeat or many):
                return True
        elif any(_nested(child, inside_repeat) for child in _children(name, arg)):
            return True
    return False


def exponential_shape(pattern: str) -> str | None:
    """What makes ``pattern`` risky for a backtracking engine (see the module docstring), or None."""
    return "nests a repeat inside a repeat" if _nested(_sre_parse.parse(pattern), False) else None


class UserPattern:
    """A user's pattern: checked by ``re``, searched with a time limit (or refused, see above)."""

    def __init__(self, pattern: str, *, flags: int = 0) -> None:
        self.pattern = pattern
        compiled = re.compile(pattern, flags)  # re.error: the caller names the assertion
        module = engine()
        self._search: Callable[[str], Any]
        if module is not None:
            fast = module.compile(pattern, flags | module.V0)
            self._search = lambda text: fast.search(text, timeout=REGEX_TIMEOUT)
            return
        risk = exponential_shape(pattern)
        if risk is not None:
            raise RegexTooSlow(
                f"the pattern {risk}, which can take exponential time on some outputs and "
                f"would hang the run; rewrite it, or {INSTALL} to run it with a "
                f"{REGEX_TIMEOUT:g} s limit per search"
            )
        self._search = compiled.search

    def search(self, text: str) -> Any:
        """The first match in ``text`` or None; ``CannotGrade`` when the search runs out of time."""
        try:
            return self._search(text)
        except TimeoutError:
            raise CannotGrade(
                f"regex {self.pattern!r} took more than {REGEX_TIMEOUT:g} s on an output of "
                f"{len(text):,} characters and was stopped (catastrophic backtracking); "
                "rewrite the pattern, e.g. without a repeat inside a repeat"
            ) from None
