"""The cases' figures go into junitxml's file after it is written, one property at a time, and
the file is the one junitxml would have written had it held them all (``add_global_property``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_llmops.report import junit
from pytest_llmops.report.junit import insert_suite_properties

# What a case's figures may hold: quotes, markup, newlines, tabs, control and non-BMP characters.
AWKWARD = [
    ("a.llmops.yaml::one[x]::llmops_outcome", "passed"),
    ('a.llmops.yaml::two["q" & <b>]::llmops_prompt', 'say "hi" & <bye>\nthen\ttab\rback'),
    ("a.llmops.yaml::three::llmops_model", "esc\x1bbell\x07nul\x00 é 😀 \ufffe"),
    ("a.llmops.yaml::four::llmops_score", 0.5),
]


def bin_xml_escape(value: object) -> str:
    """pytest's junitxml escaping (its ``bin_xml_escape``, restated: no ``_pytest`` import)."""
    illegal = "[^\u0009\u000a\u000d\u0020-\u007e\u0080-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"

    def visible(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"#x{code:02X}" if code <= 0xFF else f"#x{code:04X}"

    return re.sub(illegal, visible, str(value))


def junitxml(cases: int, suite_properties: list[tuple[str, object]]) -> str:
    """The file as pytest's junitxml writes it (its ``pytest_sessionfinish``, condensed)."""
    suite = ET.Element("testsuite", name="pytest", errors="0", failures="0", tests=str(cases))
    if suite_properties:
        properties = ET.SubElement(suite, "properties")
        for name, value in suite_properties:
            ET.SubElement(properties, "property", name=name, value=bin_xml_escape(value))
    for n in range(cases):
        case = ET.SubElement(suite, "testcase", classname="t", name=f"test_{n}", time="0.001")
        if n % 2:
            ET.SubElement(case, "failure", message="boom").text = "x" * 300
    root = ET.Element("testsuites", name="pytest tests")
    root.append(suite)
    return '<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode")


@pytest.mark.parametrize("cases", [0, 1, 5])
@pytest.mark.parametrize("users", [[], [("build", "42"), ("branch", 'a "b" <c>')]], ids=["ours", "theirs"])
def test_the_file_is_what_junitxml_writes_with_every_property(
    tmp_path: Path, cases: int, users: list[tuple[str, object]]
) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junitxml(cases, users), encoding="utf-8")
    insert_suite_properties(path, AWKWARD)
    # The user's own suite properties (record_testsuite_property) first, then the cases' figures.
    assert path.read_text(encoding="utf-8") == junitxml(cases, [*users, *AWKWARD])
    parsed = ET.parse(path).getroot().find("testsuite/properties")
    assert parsed is not None
    values = {p.get("name"): p.get("value") for p in parsed}
    assert values[AWKWARD[1][0]] == AWKWARD[1][1], "newlines, tabs and quotes read back as written"
    assert values[AWKWARD[2][0]] == "esc#x1Bbell#x07nul#x00 é 😀 #xFFFE"


def test_no_property_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junitxml(3, []), encoding="utf-8")
    before = path.stat().st_mtime_ns, path.stat().st_ino
    insert_suite_properties(path, iter([]))
    assert path.read_text(encoding="utf-8") == junitxml(3, [])
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == before, "not even rewritten"


@pytest.mark.parametrize("chunk", [1, 7, 64])
def test_a_start_tag_split_across_reads_is_found(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(junit, "_CHUNK", chunk)
    for users in ([], [("build", "42")]):
        for cases in (0, 2):
            path = tmp_path / "junit.xml"
            path.write_text(junitxml(cases, users), encoding="utf-8")
            insert_suite_properties(path, AWKWARD)
            assert path.read_text(encoding="utf-8") == junitxml(cases, [*users, *AWKWARD])


def test_the_properties_are_read_one_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text(junitxml(2, []), encoding="utf-8")
    taken: list[int] = []
    written: list[int] = []

    def figures() -> Iterator[tuple[str, object]]:
        for n in range(1000):
            if n == 900:
                # Those taken so far (~45 KB) are already on their way to disk, not held in a list.
                (temporary,) = tmp_path.glob(".junit.xml.*.tmp")
                written.append(temporary.stat().st_size)
            taken.append(n)
            yield f"case{n}::llmops_outcome", "passed"

    insert_suite_properties(path, figures())
    assert len(taken) == 1000
    assert written and written[0] > 16_000
    assert len(ET.parse(path).getroot().findall("testsuite/properties/property")) == 1000


def test_a_failure_midway_leaves_junitxmls_file(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    original = junitxml(2, [("build", "1")])
    path.write_text(original, encoding="utf-8")

    def figures() -> Iterator[tuple[str, object]]:
        yield "case::llmops_outcome", "passed"
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        insert_suite_properties(path, figures())
    assert path.read_text(encoding="utf-8") == original
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"], "no temporary file is left"


def test_a_file_without_a_suite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    path.write_text('<?xml version="1.0" encoding="utf-8"?><testsuites name="x" />', encoding="utf-8")
    with pytest.raises(ValueError, match="no <testsuite> element"):
        insert_suite_properties(path, AWKWARD)
    assert "<properties>" not in path.read_text(encoding="utf-8")
