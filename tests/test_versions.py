"""Semantic versions and npm-style ranges (pytest_llmops.versions)."""

from __future__ import annotations

import copy
import itertools
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_llmops.errors import InvalidRangeError, InvalidVersionError
from pytest_llmops.prompts.versions import (
    Version,
    VersionRange,
    max_satisfying,
    sort_versions,
)


def v(text: str) -> Version:
    return Version.parse(text)


# --- parsing versions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("2.1.0", Version(2, 1, 0), "2.1.0"),
        ("0.0.0", Version(0, 0, 0), "0.0.0"),
        ("v2.1.0", Version(2, 1, 0), "2.1.0"),
        (" 2.1.0 ", Version(2, 1, 0), "2.1.0"),
        ("10.20.30", Version(10, 20, 30), "10.20.30"),
        ("1.0.0-alpha", Version(1, 0, 0, ("alpha",)), "1.0.0-alpha"),
        ("1.0.0-alpha.1", Version(1, 0, 0, ("alpha", 1)), "1.0.0-alpha.1"),
        ("1.0.0-0.3.7", Version(1, 0, 0, (0, 3, 7)), "1.0.0-0.3.7"),
        ("1.0.0-x.7.z.92", Version(1, 0, 0, ("x", 7, "z", 92)), "1.0.0-x.7.z.92"),
        ("1.0.0-x-y-z.--", Version(1, 0, 0, ("x-y-z", "--")), "1.0.0-x-y-z.--"),
        ("1.0.0-0a", Version(1, 0, 0, ("0a",)), "1.0.0-0a"),
        ("1.0.0+20130313144700", Version(1, 0, 0, (), "20130313144700"), "1.0.0+20130313144700"),
        ("1.0.0-beta+exp.sha.5114f85", Version(1, 0, 0, ("beta",), "exp.sha.5114f85"), None),
        ("1.0.0+21AF26D3----117B344092BD", Version(1, 0, 0, (), "21AF26D3----117B344092BD"), None),
        ("1.0.0+001", Version(1, 0, 0, (), "001"), None),  # build may have leading zeros
        ("99999999999999999999.0.0", Version(99999999999999999999, 0, 0), None),
    ],
)
def test_parse_valid(text: str, expected: Version, canonical: str | None) -> None:
    parsed = Version.parse(text)
    assert parsed == expected
    assert parsed.build == expected.build
    assert str(parsed) == (canonical if canonical is not None else text)
    assert Version.parse(str(parsed)) == parsed


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("2.1", ["'2.1' is not a semantic version: write MAJOR.MINOR.PATCH, e.g. 2.1.0"]),
        ("2", ["write MAJOR.MINOR.PATCH", "e.g. 2.0.0"]),
        ("2.1-beta", ["write MAJOR.MINOR.PATCH", "e.g. 2.1.0-beta"]),
        ("1.2.3.4", ["write MAJOR.MINOR.PATCH", "e.g. 2.1.0"]),
        ("", ["it is empty", "e.g. 2.1.0"]),
        ("   ", ["it is empty"]),
        ("v", ["it is empty"]),
        ("01.2.3", ["'01' has a leading zero", "e.g. 1.2.3"]),
        ("1.02.3", ["'02' has a leading zero", "e.g. 1.2.3"]),
        ("1.2.03-rc.1", ["'03' has a leading zero", "e.g. 1.2.3-rc.1"]),
        ("2.a.0", ["'a' in MAJOR.MINOR.PATCH is not a number", "e.g. 2.1.0"]),
        ("2..0", ["a number is missing", "e.g. 2.1.0"]),
        ("-1.0.0", ["MAJOR.MINOR.PATCH is missing", "e.g. 2.1.0"]),
        ("+build", ["MAJOR.MINOR.PATCH is missing"]),
        ("1.0.0-", ["the prerelease after '-' is empty", "e.g. 1.0.0-beta.1"]),
        ("1.0.0-beta..1", ["empty identifier", "e.g. 1.0.0-beta.1"]),
        ("1.0.0-beta.", ["empty identifier"]),
        ("1.0.0-01", ["'01' is a number with a leading zero", "e.g. 1.0.0-beta.1"]),
        ("1.0.0-be_ta", ["'be_ta' may only use 0-9, A-Z, a-z and '-'"]),
        ("1.0.0-béta", ["'béta' may only use"]),
        ("1.0.0+", ["the build after '+' is empty", "e.g. 1.0.0+build.5"]),
        ("1.0.0+a_b", ["build identifier 'a_b' may only use"]),
        ("1.0.0+a+b", ["build identifier 'a+b' may only use"]),
        ("^2.1", ["looks like a range", "e.g. 2.1.0"]),
        (">=2.0.0", ["looks like a range"]),
        ("=2.0.0", ["looks like a range"]),
        ("1.0.0 || 2.0.0", ["looks like a range"]),
        ("latest", ["'latest' is not a semantic version"]),
        ("١.٢.٣", ["is not a number"]),  # non-ASCII digits are not SemVer digits
    ],
)
def test_parse_invalid(text: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidVersionError) as excinfo:
        Version.parse(text)
    message = str(excinfo.value)
    assert message.startswith(f"{text!r} is not a semantic version: ")
    for fragment in fragments:
        assert fragment in message
    assert isinstance(excinfo.value, ValueError)


def test_parse_rejects_non_text_with_a_yaml_hint() -> None:
    with pytest.raises(InvalidVersionError, match=r"got float \(quote it in YAML\)"):
        Version.parse(2.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ((-1, 0, 0), "major must be a non-negative integer"),
        ((1, True, 0), "minor must be a non-negative integer"),
        ((1, 0, "3"), "patch must be a non-negative integer"),
        ((1, 0, 0, ("01",)), "'01' is a number with a leading zero"),
        ((1, 0, 0, ("",)), "empty identifier"),
        ((1, 0, 0, (-1,)), "negative"),
        ((1, 0, 0, (), "a..b"), "empty identifier"),
        ((1, 0, 0, (), "a_b"), "may only use"),
    ],
)
def test_constructor_validates(args: tuple[object, ...], fragment: str) -> None:
    with pytest.raises(InvalidVersionError, match=r"e\.g\. Version") as excinfo:
        Version(*args)  # type: ignore[arg-type]
    assert fragment in str(excinfo.value)


def test_constructor_normalizes_numeric_prerelease_text() -> None:
    version = Version(1, 0, 0, ("beta", "2"))
    assert version.prerelease == ("beta", 2)
    assert version == v("1.0.0-beta.2")
    assert hash(version) == hash(v("1.0.0-beta.2"))


def test_versions_and_ranges_survive_pickle_and_copy() -> None:
    version = v("1.2.3-beta.1+b")
    for clone in (pickle.loads(pickle.dumps(version)), copy.deepcopy(version)):
        assert clone == version
        assert str(clone) == "1.2.3-beta.1+b"
    version_range = VersionRange.parse("^2.1 || 3.0.0-rc.1")
    restored = pickle.loads(pickle.dumps(version_range))
    assert restored == version_range
    assert str(restored) == "^2.1 || 3.0.0-rc.1"
    assert restored.matches(v("3.0.0-rc.1"))


def test_version_is_frozen() -> None:
    version = v("1.2.3")
    with pytest.raises(AttributeError):
        version.major = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.0.0", False), ("1.0.0+build", False), ("1.0.0-0", True), ("1.0.0-rc.1+b", True)],
)
def test_is_prerelease(text: str, expected: bool) -> None:
    assert v(text).is_prerelease is expected


# --- ordering ---------------------------------------------------------------------------------

SEMVER_SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.combinations(SEMVER_SPEC_CHAIN, 2)))
def test_semver_spec_precedence_chain(lower: str, higher: str) -> None:
    low, high = v(lower), v(higher)
    assert low < high
    assert low <= high
    assert high > low
    assert high >= low
    assert low != high
    assert not high < low


@pytest.mark.parametrize(
    ("lower", "higher"),
    [
        ("1.0.0", "2.0.0"),
        ("2.0.0", "2.1.0"),
        ("2.1.0", "2.1.1"),
        ("1.9.0", "1.10.0"),  # numeric, not text, comparison
        ("1.0.0-2", "1.0.0-10"),
        ("1.0.0-10", "1.0.0-a"),  # numeric identifiers are lower than alphanumeric
        ("1.0.0-Z", "1.0.0-a"),  # ASCII order
        ("1.0.0-rc.1", "1.0.0-rc.1.0"),  # more identifiers win when the rest are equal
        ("1.0.0", "1.0.1-alpha"),
        ("0.0.0-0", "0.0.0"),
    ],
)
def test_precedence(lower: str, higher: str) -> None:
    assert v(lower) < v(higher)
    assert v(higher) > v(lower)


def test_sort_versions_gives_the_spec_chain() -> None:
    shuffled = [v(text) for text in reversed(SEMVER_SPEC_CHAIN)]
    assert [str(version) for version in sort_versions(shuffled)] == SEMVER_SPEC_CHAIN
    assert sort_versions([]) == []


def test_build_is_ignored_by_equality_ordering_and_hash() -> None:
    plain, build_a, build_b = v("1.0.0"), v("1.0.0+a"), v("1.0.0+b")
    assert plain == build_a == build_b
    assert hash(plain) == hash(build_a) == hash(build_b)
    assert not build_a < build_b and not build_b < build_a
    assert build_a <= build_b and build_a >= build_b
    assert len({plain, build_a, build_b}) == 1
    assert str(build_a) == "1.0.0+a"  # but it is kept


def test_sort_versions_orders_equal_versions_by_build_deterministically() -> None:
    forward = sort_versions([v("1.0.0+b"), v("1.0.0+a"), v("1.0.0"), v("0.9.0")])
    backward = sort_versions([v("0.9.0"), v("1.0.0"), v("1.0.0+a"), v("1.0.0+b")])
    assert [str(x) for x in forward] == [str(x) for x in backward] == ["0.9.0", "1.0.0", "1.0.0+a", "1.0.0+b"]


def test_comparing_with_other_types() -> None:
    assert v("1.0.0") != "1.0.0"  # type: ignore[comparison-overlap]
    with pytest.raises(TypeError):
        _ = v("1.0.0") < "2.0.0"  # type: ignore[operator]


release_versions = st.tuples(
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
    st.integers(min_value=0, max_value=50),
)
identifiers = st.one_of(
    st.integers(min_value=0, max_value=30),
    st.text(alphabet="abcXYZ-", min_size=1, max_size=4),
)
any_versions = st.builds(
    Version,
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=3),
    st.lists(identifiers, max_size=3).map(tuple),
    st.sampled_from(["", "b1", "exp.sha.1"]),
)


@given(st.lists(release_versions, max_size=30))
def test_release_sort_agrees_with_tuple_sort(numbers: list[tuple[int, int, int]]) -> None:
    ordered = sort_versions(Version(*parts) for parts in numbers)
    assert [(x.major, x.minor, x.patch) for x in ordered] == sorted(numbers)


@given(any_versions, any_versions)
def test_ordering_is_total_and_consistent_with_equality(a: Version, b: Version) -> None:
    assert sum([a < b, a == b, a > b]) == 1
    assert (a <= b) == (a < b or a == b)
    if a == b:
        assert hash(a) == hash(b)


@given(any_versions)
def test_text_round_trip(version: Version) -> None:
    parsed = Version.parse(str(version))
    assert parsed == version
    assert str(parsed) == str(version)


# --- ranges -----------------------------------------------------------------------------------

RANGE_CASES: list[tuple[str, list[str], list[str]]] = [
    # exact
    ("2.1.0", ["2.1.0", "2.1.0+build"], ["2.1.1", "2.0.9", "2.1.0-rc.1"]),
    ("=2.1.0", ["2.1.0"], ["2.1.1"]),
    ("v2.1.0", ["2.1.0"], ["2.1.1"]),
    ("=v2.1.0", ["2.1.0"], ["2.1.1"]),
    # comparators, with partial versions
    (">=2.1.0", ["2.1.0", "2.5.0", "10.0.0"], ["2.0.9", "2.1.0-rc.1"]),
    (">2.1.0", ["2.1.1", "3.0.0"], ["2.1.0"]),
    ("<=2.1.0", ["2.1.0", "0.0.1"], ["2.1.1"]),
    ("<2.1.0", ["2.0.9", "0.0.0"], ["2.1.0", "2.1.0-rc.1"]),
    (">=2", ["2.0.0", "3.1.0"], ["1.9.9"]),
    ("<3", ["2.99.99"], ["3.0.0"]),
    ("<=2.1", ["2.1.99"], ["2.2.0"]),
    (">2", ["3.0.0"], ["2.99.0"]),
    (">2.1", ["2.2.0"], ["2.1.99"]),
    ("<2.1", ["2.0.99"], ["2.1.0"]),
    ("<=2", ["2.99.0"], ["3.0.0"]),
    # AND with commas and/or spaces, spaces after operators
    (">=2,<3", ["2.0.0", "2.9.9"], ["1.9.9", "3.0.0", "3.0.0-alpha"]),
    (">=2, <3", ["2.5.0"], ["3.0.0"]),
    (">=2 <3", ["2.5.0"], ["3.0.0"]),
    (">= 2.1 , < 3", ["2.1.0"], ["2.0.0", "3.0.0"]),
    (">=1.2.7 <1.3.0", ["1.2.7", "1.2.8", "1.2.99"], ["1.2.6", "1.3.0", "1.1.0"]),
    # OR
    ("1.2.7 || >=1.2.9 <2.0.0", ["1.2.7", "1.2.9", "1.4.6"], ["1.2.8", "2.0.0"]),
    ("^1.2||^3", ["1.5.0", "3.0.0"], ["2.0.0"]),
    # caret
    ("^2.1", ["2.1.0", "2.9.9"], ["2.0.9", "3.0.0"]),
    ("^2.1.3", ["2.1.3", "2.2.0"], ["2.1.2", "3.0.0"]),
    ("^2", ["2.0.0", "2.9.0"], ["3.0.0", "1.9.9"]),
    ("^0.2.3", ["0.2.3", "0.2.9"], ["0.2.2", "0.3.0"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
    ("^0.2", ["0.2.0", "0.2.9"], ["0.3.0"]),
    ("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"]),
    ("^0", ["0.0.0", "0.9.9"], ["1.0.0"]),
    ("^1.2.x", ["1.2.0", "1.9.0"], ["2.0.0", "1.1.9"]),
    ("^0.0.x", ["0.0.5"], ["0.1.0"]),
    ("^0.x", ["0.5.0"], ["1.0.0"]),
    ("^v2.1", ["2.1.0"], ["3.0.0"]),
    ("^ 2.1", ["2.1.0"], ["3.0.0"]),
    ("^*", ["0.0.0", "9.0.0"], ["1.0.0-alpha"]),
    # tilde
    ("~2.1.3", ["2.1.3", "2.1.9"], ["2.1.2", "2.2.0"]),
    ("~2.1", ["2.1.0", "2.1.9"], ["2.2.0", "2.0.9"]),
    ("~2", ["2.0.0", "2.9.9"], ["3.0.0", "1.9.9"]),
    ("~0.0.3", ["0.0.3", "0.0.9"], ["0.1.0"]),
    ("~>2.1.3", ["2.1.5"], ["2.2.0"]),
    ("~1.x", ["1.0.0", "1.9.0"], ["2.0.0"]),
    # x-ranges and partial versions
    ("2.x", ["2.0.0", "2.9.9"], ["1.9.9", "3.0.0"]),
    ("2.X", ["2.3.0"], ["3.0.0"]),
    ("2.*", ["2.3.0"], ["3.0.0"]),
    ("2.x.x", ["2.3.0"], ["3.0.0"]),
    ("2.1.*", ["2.1.0", "2.1.9"], ["2.2.0", "2.0.0"]),
    ("2.1.x", ["2.1.4"], ["2.2.0"]),
    ("2", ["2.0.0", "2.9.9"], ["3.0.0"]),
    ("2.1", ["2.1.0", "2.1.9"], ["2.2.0", "2.0.0"]),
    ("=2.1", ["2.1.5"], ["2.2.0"]),
    # hyphen ranges
    ("1.2.3 - 2.3.4", ["1.2.3", "2.0.0", "2.3.4"], ["1.2.2", "2.3.5", "2.3.4-rc.1"]),
    ("1.2 - 2.3.4", ["1.2.0"], ["1.1.9"]),
    ("1.2.3 - 2.3", ["2.3.9"], ["2.4.0"]),
    ("1.2.3 - 2", ["2.9.9"], ["3.0.0"]),
    ("* - 2", ["0.0.0", "2.9.0"], ["3.0.0"]),
    ("1.2.3 - *", ["1.2.3", "99.0.0"], ["1.2.2"]),
    ("1.2.3 - 2.3.4 || 5.x", ["2.0.0", "5.1.0"], ["3.0.0"]),
    # anything
    ("*", ["0.0.0", "1.2.3", "99.0.0"], ["1.0.0-alpha"]),
    ("x", ["1.2.3"], ["1.0.0-alpha"]),
    ("X", ["1.2.3"], []),
    ("latest", ["0.0.0", "99.0.0"], ["2.0.0-rc.1"]),
    ("", ["1.2.3"], ["1.2.3-rc.1"]),
    (">=*", ["1.0.0"], []),
    ("<=*", ["1.0.0"], []),
    (">*", [], ["0.0.0", "1.0.0"]),
    ("<*", [], ["0.0.0", "1.0.0"]),
]


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        pytest.param(spec, version, expected, id=f"{spec!r}-{version}-{expected}")
        for spec, matching, non_matching in RANGE_CASES
        for version, expected in [(x, True) for x in matching] + [(x, False) for x in non_matching]
    ],
)
def test_range_matches(spec: str, version: str, expected: bool) -> None:
    assert VersionRange.parse(spec).matches(v(version)) is expected


@pytest.mark.parametrize(
    ("spec", "version", "expected"),
    [
        # A prerelease matches only when the same AND-set names a prerelease of the same x.y.z.
        ("2.2.0-beta.1", "2.2.0-beta.1", True),
        ("2.2.0-beta.1", "2.2.0-beta.2", False),
        ("=2.2.0-beta.1", "2.2.0-beta.1+build.7", True),
        (">=2.2.0-beta.1 <3", "2.2.0-beta.1", True),
        (">=2.2.0-beta.1 <3", "2.2.0-beta.3", True),
        (">=2.2.0-beta.1 <3", "2.2.0-rc.1", True),
        (">=2.2.0-beta.1 <3", "2.2.0-alpha.9", False),  # below the lower bound
        (">=2.2.0-beta.1 <3", "2.3.0-beta.1", False),  # another x.y.z
        (">=2.2.0-beta.1 <3", "2.5.0", True),
        (">2.2.0-beta.1", "2.2.0-beta.2", True),
        ("^2.2.0-beta.1", "2.2.0-beta.5", True),
        ("^2.2.0-beta.1", "2.2.0", True),
        ("^2.2.0-beta.1", "2.3.0-beta.1", False),
        ("^2.2.0-beta.1", "3.0.0-alpha", False),
        ("~1.2.3-beta.2", "1.2.3-beta.4", True),
        ("~1.2.3-beta.2", "1.2.4-beta.2", False),
        ("^0.0.3-beta", "0.0.3-pr.2", True),
        ("^0.0.3-beta", "0.0.4-alpha", False),
        ("1.2.3-pre - 2.0.0", "1.2.3-pre.1", True),
        ("1.2.3 - 2.0.0-rc.2", "2.0.0-rc.1", True),
        ("1.2.3 - 2.0.0-rc.2", "2.0.0-rc.3", False),
        # Prereleases never match ranges that name none, even when they sort inside.
        ("^2.1", "2.2.0-beta.1", False),
        (">=2.0.0", "3.0.0-alpha", False),
        ("<3.0.0", "3.0.0-alpha", False),
        ("~2.1.3", "2.1.4-rc.1", False),
        ("2.x", "2.5.0-rc.1", False),
        ("*", "1.0.0-alpha", False),
        # Upper bounds from partial versions stop below every prerelease of the next version
        # (npm writes them X.Y.Z-0); a full version as the bound does not.
        ("<3 >=3.0.0-alpha", "3.0.0-beta", False),
        ("<3.0.0 >=3.0.0-alpha", "3.0.0-beta", True),
        ("2.x >=3.0.0-alpha", "3.0.0-beta", False),
        ("0.0 >=0.1.0-rc.1", "0.1.0-rc.1", False),
        ("<=2.1 >=2.2.0-alpha", "2.2.0-beta", False),
        ("~2.1 >=2.2.0-alpha", "2.2.0-beta", False),
        ("^0.0.3 >=0.0.4-alpha", "0.0.4-beta", False),
        ("1.0.0 - 2.1 >=2.2.0-alpha", "2.2.0-beta", False),
        # An alternative that matches everything does not swallow the others (npm collapses
        # "X || *" to "*"; here an exact prerelease still matches itself).
        ("2.2.0-beta.1 || *", "2.2.0-beta.1", True),
        # The naming comparator must be in the same AND-set, not another alternative.
        ("2.2.0-beta.1 || ^2.1", "2.2.0-beta.2", False),
        ("2.2.0-beta.1 || >=2.2.0-beta.2 <2.3", "2.2.0-beta.2", True),
    ],
)
def test_prerelease_rules(spec: str, version: str, expected: bool) -> None:
    assert VersionRange.parse(spec).matches(v(version)) is expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2.1.0", True),
        ("=2.1.0", True),
        ("v2.1.0", True),
        ("2.2.0-beta.1", True),
        (" 2.1.0 ", True),
        ("2.1", False),
        ("^2.1.0", False),
        (">=2.1.0", False),
        ("2.1.0 || 2.1.1", False),
        ("2.1.0 - 2.1.0", False),
        ("latest", False),
        ("*", False),
        ("", False),
    ],
)
def test_is_exact(spec: str, expected: bool) -> None:
    assert VersionRange.parse(spec).is_exact is expected


@pytest.mark.parametrize("spec", ["^2.1", ">= 2.1 , < 3", "latest", "", "  ~2.1.3 ", "1.2.3 - 2.3.4"])
def test_str_gives_the_original_text(spec: str) -> None:
    parsed = VersionRange.parse(spec)
    assert str(parsed) == spec
    assert repr(parsed) == f"VersionRange({spec!r})"


def test_is_latest() -> None:
    assert VersionRange.parse("latest").is_latest
    assert VersionRange.parse("").is_latest
    assert not VersionRange.parse("*").is_latest
    assert not VersionRange.parse("2.1.0").is_latest


def test_ranges_with_the_same_comparators_are_equal() -> None:
    assert VersionRange.parse("^2.1") == VersionRange.parse(">=2.1 <3")
    assert VersionRange.parse("^2.1") == VersionRange.parse(">=2.1.0 <3.0.0-0")
    assert VersionRange.parse("^2.1") != VersionRange.parse(">=2.1.0 <3.0.0")  # see the -0 bounds
    assert VersionRange.parse("2.x") == VersionRange.parse("2")
    assert hash(VersionRange.parse("~2.1")) == hash(VersionRange.parse("2.1.x"))
    assert VersionRange.parse("^2.1") != VersionRange.parse("^2.2")
    assert VersionRange.parse("latest") == VersionRange.parse("")
    assert VersionRange.parse("latest") != VersionRange.parse("*")
    assert VersionRange("^2.1") == VersionRange.parse("^2.1")


@pytest.mark.parametrize(
    ("spec", "fragments"),
    [
        ("foo", ["'foo' is not a version, operator or wildcard", "e.g. ^2.1, ~2.1.3, >=2,<3"]),
        ("=>2", ["unknown operator '=>': write >= rather than =>", "e.g. >=2.0.0"]),
        ("=<2", ["write <= rather than =<"]),
        ("==2.1.0", ["write = (or nothing) rather than =="]),
        ("!=2.1.0", ["ranges have no !=", "e.g. <2.1.0 || >2.1.0"]),
        ("~=2.1", ["write ~ (same minor) or ^ (same major)"]),
        ("<>2", ["unknown operator '<>'", "e.g. >=2.0.0"]),
        (">=", ["'>=' needs a version after it", "e.g. >=2.1.0"]),
        ("^", ["'^' needs a version after it", "e.g. ^2.1.0"]),
        (">=2,<", ["'<' needs a version after it"]),
        ("1.x.3", ["has a number after a wildcard", "e.g. 2.x or 2.1.x"]),
        ("1.2.3.4", ["has more than three numbers", "e.g. 2.1.0"]),
        ("01.2", ["'01' in '01.2' has a leading zero", "e.g. 1.2"]),
        ("^1..2", ["a number is missing in '1..2'"]),
        ("2.1-beta", ["a prerelease or build in '2.1-beta' needs a full version", "e.g. 2.1.0-beta.1"]),
        ("2.1.0beta", ["'0beta' in '2.1.0beta' is not a number or a wildcard"]),
        (">=2.1.0-beta..1", ["'2.1.0-beta..1' is not a semantic version", "empty identifier"]),
        ("1 ||", ["one side of '||' is empty", "e.g. ^1.2 || ^2.0"]),
        ("|| 1", ["one side of '||' is empty"]),
        ("1 |||| 2", ["one side of '||' is empty"]),
        (">=2,,<3", ["empty comparator between commas", "e.g. >=2,<3"]),
        (",>=2", ["empty comparator between commas"]),
        ("2.1.0 -", ["a hyphen range needs a version on both sides", "e.g. 1.2.3 - 2.3.4"]),
        ("- 2.1.0", ["a hyphen range needs a version on both sides"]),
        (">=1.0 - 2", ["a hyphen range joins two plain versions, but '>=1.0' has an operator"]),
        ("1.0 - ^2", ["'^2' has an operator"]),
        ("latest || 1", ["'latest' must stand alone"]),
        ("^latest", ["'latest' is not a version, operator or wildcard"]),
    ],
)
def test_invalid_ranges(spec: str, fragments: list[str]) -> None:
    with pytest.raises(InvalidRangeError) as excinfo:
        VersionRange.parse(spec)
    message = str(excinfo.value)
    assert message.startswith(f"{spec!r} is not a version range: ")
    for fragment in fragments:
        assert fragment in message
    assert "e.g." in message
    assert isinstance(excinfo.value, ValueError)


def test_range_rejects_non_text() -> None:
    with pytest.raises(InvalidRangeError, match="got int"):
        VersionRange.parse(2)  # type: ignore[arg-type]


# --- max_satisfying ---------------------------------------------------------------------------

REGISTRY = [
    v(text)
    for text in [
        "1.0.0",
        "1.5.2",
        "2.0.0",
        "2.1.0",
        "2.1.3",
        "2.1.7",
        "2.2.0-beta.1",
        "2.2.0-beta.2",
        "3.0.0-rc.1",
    ]
]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("2.1.0", "2.1.0"),
        ("2.1.5", None),
        ("latest", "2.1.7"),
        ("", "2.1.7"),
        ("*", "2.1.7"),
        ("^2.1", "2.1.7"),
        ("^2", "2.1.7"),
        ("~2.1.3", "2.1.7"),
        ("~2.0", "2.0.0"),
        (">=2,<3", "2.1.7"),
        ("<2", "1.5.2"),
        ("1.x", "1.5.2"),
        ("1.2.3 - 2.1.3", "2.1.3"),
        ("^1 || ~2.0", "2.0.0"),
        ("2.2.0-beta.1", "2.2.0-beta.1"),
        (">=2.2.0-beta.1 <2.3", "2.2.0-beta.2"),
        ("^3", None),
        (">=4", None),
        (">*", None),
    ],
)
def test_max_satisfying(spec: str, expected: str | None) -> None:
    result = max_satisfying(REGISTRY, spec)
    assert (str(result) if result is not None else None) == expected
    assert max_satisfying(reversed(REGISTRY), VersionRange.parse(spec)) == result


def test_latest_falls_back_to_the_highest_prerelease() -> None:
    only_prereleases = [v("1.0.0-alpha"), v("1.0.0-rc.1"), v("1.0.0-beta.3")]
    assert max_satisfying(only_prereleases, "latest") == v("1.0.0-rc.1")
    assert max_satisfying(only_prereleases, "") == v("1.0.0-rc.1")
    assert max_satisfying(only_prereleases, "*") is None  # a range, not a tag: no prereleases


def test_latest_prefers_a_lower_release_to_a_higher_prerelease() -> None:
    assert max_satisfying([v("1.0.0"), v("2.0.0-rc.1")], "latest") == v("1.0.0")


def test_max_satisfying_with_nothing() -> None:
    assert max_satisfying([], "latest") is None
    assert max_satisfying([], "^2.1") is None
    assert max_satisfying(iter([v("1.0.0")]), "latest") == v("1.0.0")  # any iterable, read once


def test_max_satisfying_breaks_build_ties_deterministically() -> None:
    versions = [v("2.1.0+b"), v("2.1.0+a")]
    assert max_satisfying(versions, "^2").build == "b"  # type: ignore[union-attr]
    assert max_satisfying(list(reversed(versions)), "^2").build == "b"  # type: ignore[union-attr]


def test_max_satisfying_reports_bad_specs() -> None:
    with pytest.raises(InvalidRangeError, match="'\\^' needs a version"):
        max_satisfying(REGISTRY, "^")
