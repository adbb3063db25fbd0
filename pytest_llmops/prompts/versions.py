"""Semantic versions (SemVer 2.0.0) and npm-style version ranges for prompt references.

A prompt reference names a prompt and, after ``@``, one version or a range of them::

    summarize@2.1.0            exactly 2.1.0 (also =2.1.0, v2.1.0)
    summarize@latest           the newest release (the newest prerelease if there is no release)
    summarize@^2.1             >=2.1.0 <3.0.0        ^0.2.3 is >=0.2.3 <0.3.0, ^0.0.3 is >=0.0.3 <0.0.4
    summarize@~2.1.3           >=2.1.3 <2.2.0        ~2 is >=2.0.0 <3.0.0
    summarize@>=2,<3           >=2.0.0 <3.0.0        commas or spaces mean AND, ``||`` means OR
    summarize@2.x              >=2.0.0 <3.0.0        also 2, 2.*, 2.1, 2.1.x
    summarize@1.2.3 - 2.3.4    >=1.2.3 <=2.3.4
    summarize@*                any release

Equality and ordering follow SemVer precedence, so they agree with each other: build metadata
(``+build.5``) is kept and printed but ignored by ``==``, ``<``, ``hash`` and friends, which makes
``1.0.0+a == 1.0.0+b``. Two prompt files that differ only in build metadata therefore claim the
same version. :func:`sort_versions` and :func:`max_satisfying` break such ties by the build text,
so their results do not depend on input order.

Prereleases follow npm's rule: a prerelease matches a range only when a comparator of the same
AND-set names a prerelease of the same MAJOR.MINOR.PATCH (``>=2.2.0-beta.1 <3`` matches
``2.2.0-beta.3`` but not ``2.3.0-beta.1``), so asking for ``^2.1`` never hands out a beta. An
exact reference such as ``2.2.0-beta.1`` names itself, so it matches. As in npm, an upper bound
that comes from a partial version stops below every prerelease of the next version (``^2.1`` is
really ``>=2.1.0 <3.0.0-0``), while one written in full (``<3.0.0``) means what it says.

The results agree with npm's ``semver.satisfies`` except in three deliberate ways: text npm
would guess at is rejected (``1.x.3``, ``*.2``, ``01.2``, ``=>2``); a hyphen range may be
combined with other comparators (``1.2 - 2.3 <2.1``); and ``X || *`` keeps ``X`` instead of
collapsing to ``*`` (so ``2.2.0-beta.1 || *`` still matches ``2.2.0-beta.1``). ``latest`` is
npm's dist-tag rather than a range: it matches every release, and :func:`max_satisfying` falls
back to the newest prerelease when there is no release.

Nothing here imports pytest: the prompt registry uses it in applications too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import InvalidRangeError, InvalidVersionError

__all__ = [
    "Version",
    "VersionRange",
    "max_satisfying",
    "sort_versions",
]


_NUMBER = re.compile(r"0|[1-9][0-9]*")
_DIGITS = re.compile(r"[0-9]+")
_IDENTIFIER = re.compile(r"[0-9A-Za-z-]+")
_DEFAULT_CORE = "2.1.0"


class _Problem(Exception):
    """What is wrong with one piece of a version or range, before the whole text is known."""

    def __init__(self, problem: str, example: str | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.example = example


def _check_identifier(identifier: str | int, kind: str) -> str | int:
    """Validate one dot-separated prerelease or build identifier; digit-only prerelease -> int."""
    if isinstance(identifier, bool) or not isinstance(identifier, (str, int)):
        raise _Problem(f"{kind} identifier {identifier!r} is neither text nor an integer")
    if isinstance(identifier, int):
        if kind != "prerelease":
            raise _Problem(f"{kind} identifier {identifier!r} must be text")
        if identifier < 0:
            raise _Problem(f"{kind} identifier {identifier!r} is negative")
        return identifier
    if not identifier:
        raise _Problem(f"the {kind} has an empty identifier (check the dots)")
    if not _IDENTIFIER.fullmatch(identifier):
        raise _Problem(f"{kind} identifier {identifier!r} may only use 0-9, A-Z, a-z and '-'")
    if kind == "prerelease" and _DIGITS.fullmatch(identifier):
        if not _NUMBER.fullmatch(identifier):
            raise _Problem(f"prerelease identifier {identifier!r} is a number with a leading zero")
        return int(identifier)
    return identifier


def _check_identifiers(text: str, kind: str, separator: str) -> tuple[str | int, ...]:
    """Split and validate the prerelease or build part that followed ``separator``."""
    if not text:
        raise _Problem(f"the {kind} after {separator!r} is empty")
    return tuple(_check_identifier(part, kind) for part in text.split("."))


def _suggest_core(parts: list[str]) -> str:
    """A valid MAJOR.MINOR.PATCH close to what was written, for error messages."""
    if 0 < len(parts) <= 3 and all(_DIGITS.fullmatch(part) for part in parts):
        return ".".join(str(int(part)) for part in [*parts, "0", "0"][:3])
    return _DEFAULT_CORE


@dataclass(frozen=True, slots=True, order=False)
class Version:
    """A semantic version, MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] (SemVer 2.0.0).

    Digit-only prerelease identifiers are stored as ``int`` (``1.0.0-beta.2`` has prerelease
    ``("beta", 2)``). Comparison follows SemVer precedence and ignores ``build``, for equality
    and hashing too; ``str()`` keeps it.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[str | int, ...] = ()
    build: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        for name in ("major", "minor", "patch"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidVersionError(
                    f"Version {name} must be a non-negative integer, got {value!r}, e.g. Version(2, 1, 0)"
                )
        try:
            prerelease = tuple(_check_identifier(i, "prerelease") for i in self.prerelease)
            if self.build:
                _check_identifiers(self.build, "build", "+")
        except _Problem as problem:
            raise InvalidVersionError(
                f"Version({self.major}, {self.minor}, {self.patch}, "
                f"prerelease={self.prerelease!r}, build={self.build!r}) is invalid: "
                f"{problem.problem}, e.g. Version(2, 1, 0, ('beta', 1), 'build.5')"
            ) from None
        object.__setattr__(self, "prerelease", prerelease)

    @classmethod
    def parse(cls, text: str) -> Version:
        """Parse strict SemVer text; a leading ``v`` is allowed (``v2.1.0``), leading zeros are not.

        Raises :class:`InvalidVersionError` saying what is wrong and showing a valid example.
        """
        if not isinstance(text, str):
            raise InvalidVersionError(
                f"{text!r} is not a semantic version: expected text, got "
                f"{type(text).__name__} (quote it in YAML), e.g. '2.1.0'"
            )
        body = text.strip()
        if body[:1] in ("v", "V"):
            body = body[1:]
        rest, plus, build = body.partition("+")
        core, dash, prerelease = rest.partition("-")
        parts = core.split(".")
        suffix = (dash + prerelease) + (plus + build)

        def fail(problem: str, example: str) -> InvalidVersionError:
            return InvalidVersionError(f"{text!r} is not a semantic version: {problem}, e.g. {example}")

        if not body:
            raise fail("it is empty; write MAJOR.MINOR.PATCH", _DEFAULT_CORE)
        if body[:1] in ("^", "~", "<", ">", "=", "*") or "||" in body or " " in body:
            raise fail("it looks like a range; a single version is MAJOR.MINOR.PATCH", _DEFAULT_CORE)
        if not core:
            raise fail("MAJOR.MINOR.PATCH is missing before the '-' or '+'", _DEFAULT_CORE)
        if len(parts) != 3:
            raise fail("write MAJOR.MINOR.PATCH", _suggest_core(parts) + suffix)
        for part in parts:
            if not part:
                raise fail("a number is missing between the dots", _DEFAULT_CORE)
            if not _DIGITS.fullmatch(part):
                raise fail(f"{part!r} in MAJOR.MINOR.PATCH is not a number", _DEFAULT_CORE)
            if not _NUMBER.fullmatch(part):
                raise fail(f"{part!r} has a leading zero", _suggest_core(parts) + suffix)
        major, minor, patch = (int(part) for part in parts)
        good_core = f"{major}.{minor}.{patch}"
        try:
            identifiers = _check_identifiers(prerelease, "prerelease", "-") if dash else ()
        except _Problem as problem:
            raise fail(problem.problem, f"{good_core}-beta.1") from None
        try:
            if plus:
                _check_identifiers(build, "build", "+")
        except _Problem as problem:
            raise fail(problem.problem, f"{good_core}+build.5") from None
        return cls(major, minor, patch, identifiers, build)

    @property
    def is_prerelease(self) -> bool:
        """True for versions with a prerelease part, such as ``2.2.0-beta.1``."""
        return bool(self.prerelease)

    def _precedence_key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after its prereleases (flag 1 > 0). Prerelease identifiers compare
        # left to right: numbers numerically and below text, text in ASCII order, and a
        # shorter list of equal leading identifiers first (tuple comparison does exactly that).
        if not self.prerelease:
            return (self.major, self.minor, self.patch, 1, ())
        identifiers = tuple(
            (0, part, "") if isinstance(part, int) else (1, 0, part) for part in self.prerelease
        )
        return (self.major, self.minor, self.patch, 0, identifiers)

    def _sort_key(
        self,
    ) -> tuple[tuple[int, int, int, int, tuple[tuple[int, int, str], ...]], str]:
        """Precedence, then build text: a deterministic order among equal versions."""
        return (self._precedence_key(), self.build)

    def __lt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() < other._precedence_key()

    def __le__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() <= other._precedence_key()

    def __gt__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() > other._precedence_key()

    def __ge__(self, other: Version) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._precedence_key() >= other._precedence_key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(str(part) for part in self.prerelease)
        if self.build:
            text += "+" + self.build
        return text


# --- ranges -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Comparator:
    """One primitive test, such as ``>=2.1.0``."""

    op: str
    version: Version

    def test(self, version: Version) -> bool:
        if self.op == "=":
            return version == self.version
        if self.op == ">=":
            return version >= self.version
        if self.op == ">":
            return version > self.version
        if self.op == "<=":
            return version <= self.version
        return version < self.version  # "<"


# Nothing is below 0.0.0-0, the lowest version there is: this comparator matches nothing
# (it is what ">*" and "<*" mean).
_NOTHING = _Comparator("<", Version(0, 0, 0, (0,)))

_OPERATORS = frozenset({"", "=", ">", ">=", "<", "<=", "^", "~", "~>"})
# Operators people bring from other ecosystems: what to write instead, and an example.
_MISTAKEN_OPERATORS: dict[str, tuple[str, str]] = {
    "=>": ("write >= rather than =>", ">=2.0.0"),
    "=<": ("write <= rather than =<", "<=2.0.0"),
    "==": ("write = (or nothing) rather than ==", "=2.1.0"),
    "!=": ("ranges have no !=; join two ranges with ||", "<2.1.0 || >2.1.0"),
    "!": ("ranges have no negation; join two ranges with ||", "<2.1.0 || >2.1.0"),
    "~=": ("write ~ (same minor) or ^ (same major) rather than ~=", "~2.1.3 or ^2.1"),
    "^=": ("write ^ rather than ^=", "^2.1"),
}
_RANGE_EXAMPLES = "^2.1, ~2.1.3, >=2,<3, 2.x, 1.2.3 - 2.3.4 or latest"


def _before(version: Version) -> Version:
    """``X.Y.Z-0``, the lowest prerelease of X.Y.Z.

    Exclusive upper bounds derived from partial versions use it, as npm does: ``2.x`` is
    ``>=2.0.0 <3.0.0-0``, so even a range that names a 3.0.0 prerelease elsewhere in its AND-set
    cannot let one in through ``2.x``.
    """
    return Version(version.major, version.minor, version.patch, (0,))


class _Partial(NamedTuple):
    """A version with possibly missing or wildcard parts: ``2``, ``2.1``, ``2.x``, ``*``."""

    #: The numbers written before the first wildcard or the end: () for "*", (2, 1) for "2.1.x".
    numbers: tuple[int, ...]
    #: The full version when all three numbers were written.
    version: Version | None

    def floor(self) -> Version:
        """The lowest version the partial covers (the version itself when complete)."""
        if self.version is not None:
            return self.version
        major, minor, patch = (*self.numbers, 0, 0, 0)[:3]
        return Version(major, minor, patch)

    def ceiling(self) -> Version:
        """The first version above an incomplete partial: 2 -> 3.0.0, 2.1 -> 2.2.0."""
        if len(self.numbers) == 1:
            return Version(self.numbers[0] + 1, 0, 0)
        return Version(self.numbers[0], self.numbers[1] + 1, 0)


def _parse_partial(text: str) -> _Partial:
    """Parse ``2``, ``2.1``, ``2.x``, ``2.1.*``, ``*``, ``v2.1.0``, ``2.1.0-beta.1`` and so on."""
    body = text[1:] if text[:1] in ("v", "V") else text
    core, _, _ = body.partition("+")
    core, _, _ = core.partition("-")
    has_suffix = core != body
    parts = core.split(".")
    if len(parts) > 3:
        raise _Problem(f"{text!r} has more than three numbers", "2.1.0")
    numbers: list[int] = []
    wildcard = False
    for position, part in enumerate(parts):
        if part in ("x", "X", "*"):
            wildcard = True
        elif _NUMBER.fullmatch(part):
            if wildcard:
                raise _Problem(f"{text!r} has a number after a wildcard", "2.x or 2.1.x")
            numbers.append(int(part))
        elif not part:
            raise _Problem(f"a number is missing in {text!r}", "2.1.0")
        elif _DIGITS.fullmatch(part):
            fixed = ".".join(str(int(p)) if _DIGITS.fullmatch(p) else p for p in parts)
            raise _Problem(f"{part!r} in {text!r} has a leading zero", fixed)
        elif position == 0 and not text[:1].isdigit():
            raise _Problem(f"{text!r} is not a version, operator or wildcard", _RANGE_EXAMPLES)
        else:
            raise _Problem(f"{part!r} in {text!r} is not a number or a wildcard (x, X or *)", "2.1.x")
    if len(numbers) < 3:
        if has_suffix:
            raise _Problem(f"a prerelease or build in {text!r} needs a full version", "2.1.0-beta.1")
        return _Partial(tuple(numbers), None)
    try:
        version = Version.parse(body)
    except InvalidVersionError as error:
        raise _Problem(str(error)) from None
    return _Partial(tuple(numbers), version)


def _desugar(op: str, partial: _Partial) -> list[_Comparator]:
    """Turn one operator and partial version into primitive comparators (npm semantics)."""
    numbers, version = partial
    if not numbers:  # "*", ">=*", "^*", ...: no constraint, except ">*" and "<*" match nothing
        return [_NOTHING] if op in (">", "<") else []
    if op in ("", "="):
        if version is not None:
            return [_Comparator("=", version)]
        return [_Comparator(">=", partial.floor()), _Comparator("<", _before(partial.ceiling()))]
    if op == ">=":
        return [_Comparator(">=", partial.floor())]
    if op == "<":
        if version is not None:
            return [_Comparator("<", version)]
        return [_Comparator("<", _before(partial.floor()))]  # <2.1 means <2.1.0-0
    if op == ">":
        if version is not None:
            return [_Comparator(">", version)]
        return [_Comparator(">=", partial.ceiling())]  # >2 means >=3.0.0
    if op == "<=":
        if version is not None:
            return [_Comparator("<=", version)]
        return [_Comparator("<", _before(partial.ceiling()))]  # <=2.1 means <2.2.0-0
    if op in ("~", "~>"):
        # Same major.minor when a minor is given, else the same major.
        upper = _Partial(numbers[:2], None).ceiling()
        return [_Comparator(">=", partial.floor()), _Comparator("<", _before(upper))]
    # "^": the leftmost non-zero number of those written must not change.
    major = numbers[0]
    if major > 0 or len(numbers) == 1:
        upper = Version(major + 1, 0, 0)
    elif len(numbers) == 2 or numbers[1] > 0:
        upper = Version(0, numbers[1] + 1, 0)
    else:
        upper = Version(0, 0, numbers[2] + 1)
    return [_Comparator(">=", partial.floor()), _Comparator("<", _before(upper))]


def _split_operator(token: str) -> tuple[str, str]:
    """Split ``>=2.1`` into ``(">=", "2.1")``, rejecting unknown operators with a hint."""
    match = re.match(r"[<>=!^~]*", token)
    op = match.group() if match else ""
    rest = token[len(op) :]
    if op in _MISTAKEN_OPERATORS:
        hint, example = _MISTAKEN_OPERATORS[op]
        raise _Problem(f"unknown operator {op!r}: {hint}", example)
    if op not in _OPERATORS:
        raise _Problem(f"unknown operator {op!r}; use >=, >, <=, <, =, ^ or ~", ">=2.0.0")
    if not rest:
        raise _Problem(f"{op!r} needs a version after it", f"{op}2.1.0")
    return op, rest


def _parse_hyphen(low: str, high: str) -> list[_Comparator]:
    """``1.2.3 - 2.3.4`` -> ``>=1.2.3 <=2.3.4``; a partial upper end covers all it names."""
    for side in (low, high):
        if side and side[0] in "<>=!^~":
            raise _Problem(
                f"a hyphen range joins two plain versions, but {side!r} has an operator",
                "1.2.3 - 2.3.4",
            )
    lower, upper = _parse_partial(low), _parse_partial(high)
    comparators = _desugar(">=", lower)
    if upper.version is not None:
        comparators.append(_Comparator("<=", upper.version))
    elif upper.numbers:
        comparators.append(_Comparator("<", _before(upper.ceiling())))
    return comparators


def _parse_and_set(text: str) -> tuple[_Comparator, ...]:
    """Parse comparators joined by commas and/or spaces (all must hold)."""
    text = text.strip()
    if not text:
        raise _Problem("one side of '||' is empty", "^1.2 || ^2.0")
    # Allow a space between an operator and its version: ">= 2.1" is ">=2.1".
    text = re.sub(r"(<=|>=|~>|[<>=^~])\s+", r"\1", text)
    tokens = re.split(r"\s*,\s*|\s+", text)
    comparators: list[_Comparator] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if not token:
            raise _Problem("there is an empty comparator between commas", ">=2,<3")
        if index + 1 < len(tokens) and tokens[index + 1] == "-":
            if index + 2 >= len(tokens) or tokens[index + 2] in ("", "-"):
                raise _Problem("a hyphen range needs a version on both sides", "1.2.3 - 2.3.4")
            comparators.extend(_parse_hyphen(token, tokens[index + 2]))
            index += 3
            continue
        if token == "-":
            raise _Problem("a hyphen range needs a version on both sides", "1.2.3 - 2.3.4")
        if token == "latest":
            raise _Problem("'latest' must stand alone", "latest")
        op, rest = _split_operator(token)
        comparators.extend(_desugar(op, _parse_partial(rest)))
        index += 1
    return tuple(comparators)


def _set_matches(comparators: tuple[_Comparator, ...], version: Version) -> bool:
    """All comparators hold, and a prerelease is named by one of them (npm's rule)."""
    if not all(comparator.test(version) for comparator in comparators):
        return False
    if not version.is_prerelease:
        return True
    release = (version.major, version.minor, version.patch)
    return any(
        comparator.version.is_prerelease
        and (comparator.version.major, comparator.version.minor, comparator.version.patch) == release
        for comparator in comparators
    )


class VersionRange:
    """A set of versions written npm-style: ``^2.1``, ``~2.1.3``, ``>=2,<3``, ``2.x``, ``latest``...

    ``str()`` gives back the text it was parsed from. Two ranges are equal when they reduce to the
    same comparators (``^2.1 == >=2.1 <3``), except that ``latest`` (or an empty text) is
    kept apart from ``*``: both match every release, but only ``latest`` falls back to the newest
    prerelease in :func:`max_satisfying`.
    """

    __slots__ = ("_alternatives", "_latest", "_text")

    def __init__(self, text: str) -> None:
        """Parse ``text``; the same as :meth:`VersionRange.parse`."""
        if not isinstance(text, str):
            raise InvalidRangeError(
                f"{text!r} is not a version range: expected text, got {type(text).__name__} "
                f"(quote it in YAML), e.g. {_RANGE_EXAMPLES}"
            )
        self._text = text
        stripped = text.strip()
        self._latest = stripped in ("", "latest")
        if self._latest:
            self._alternatives: tuple[tuple[_Comparator, ...], ...] = ((),)
            return
        try:
            self._alternatives = tuple(_parse_and_set(part) for part in stripped.split("||"))
        except _Problem as problem:
            message = f"{text!r} is not a version range: {problem.problem}"
            if problem.example is not None:
                message += f", e.g. {problem.example}"
            raise InvalidRangeError(message) from None

    @classmethod
    def parse(cls, text: str) -> VersionRange:
        """Parse a range; raises :class:`InvalidRangeError` saying what is wrong, with an example."""
        return cls(text)

    def matches(self, version: Version) -> bool:
        """Whether ``version`` is in the range (prereleases only when named, see the module doc)."""
        return any(_set_matches(alternative, version) for alternative in self._alternatives)

    @property
    def is_exact(self) -> bool:
        """True when the range names one version: ``2.1.0``, ``=2.1.0``, ``v2.2.0-beta.1``."""
        return (
            len(self._alternatives) == 1
            and len(self._alternatives[0]) == 1
            and self._alternatives[0][0].op == "="
        )

    @property
    def is_latest(self) -> bool:
        """True for ``latest`` and the empty text (a reference with no version)."""
        return self._latest

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"VersionRange({self._text!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VersionRange):
            return NotImplemented
        return (self._alternatives, self._latest) == (other._alternatives, other._latest)

    def __hash__(self) -> int:
        return hash((self._alternatives, self._latest))


def max_satisfying(versions: Iterable[Version], spec: str | VersionRange) -> Version | None:
    """The highest of ``versions`` in the range ``spec``, or None when none matches.

    ``latest`` and the empty text pick the highest release, or the highest prerelease when
    there are only prereleases; ``*`` never picks a prerelease.
    """
    version_range = spec if isinstance(spec, VersionRange) else VersionRange.parse(spec)
    candidates = list(versions)
    matching = [version for version in candidates if version_range.matches(version)]
    if not matching and version_range.is_latest:
        matching = [version for version in candidates if version.is_prerelease]
    if not matching:
        return None
    return max(matching, key=Version._sort_key)


def sort_versions(versions: Iterable[Version]) -> list[Version]:
    """``versions`` in ascending SemVer precedence; equal versions ordered by their build text."""
    return sorted(versions, key=Version._sort_key)
