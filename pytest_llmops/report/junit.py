"""Per-case figures as JUnit XML properties (``llmops_*`` names, simple values), and adding
them to the ``<testsuite>`` of a file pytest's junitxml wrote, one property at a time."""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..fileio import atomic_write_chunks

__all__ = ["JUNIT_PREFIX", "insert_suite_properties", "junit_properties"]

JUNIT_PREFIX = "llmops_"


def junit_properties(data: Mapping[str, Any]) -> list[tuple[str, object]]:
    """Simple per-case values (``CaseResult.to_dict()`` in) that JUnit XML shows as ``<property>``."""
    usage = data.get("tokens") or {}
    judge = data.get("judge_tokens") or {}
    unpriced = bool(data.get("unpriced"))
    values: list[tuple[str, object]] = [
        ("outcome", data.get("outcome")),
        ("prompt", data.get("prompt")),
        ("prompt_version", data.get("prompt_version")),
        ("provider", data.get("provider") or None),
        ("model", data.get("model") or None),
        ("score", data.get("score")),
        ("threshold", data.get("threshold")),
        ("tokens_input", int(usage.get("input", 0))),
        ("tokens_output", int(usage.get("output", 0))),
        ("tokens_cached", int(usage.get("cached", 0))),
        ("cost_usd", "unpriced" if unpriced else data.get("cost_usd")),
        ("latency_ms", data.get("latency_ms")),
        ("ttft_ms", data.get("ttft_ms")),
        ("replayed", "true" if data.get("replayed") else "false"),
    ]
    if any(judge.values()) or data.get("judge_cost_usd") or data.get("judge_failures"):
        values += [
            ("judge_tokens_input", int(judge.get("input", 0))),
            ("judge_tokens_output", int(judge.get("output", 0))),
            ("judge_cost_usd", data.get("judge_cost_usd")),
            ("judge_failures", int(data.get("judge_failures", 0))),
        ]
    return [(_prefixed(name), value) for name, value in values if value is not None]


_PREFIXED: dict[str, str] = {}


def _prefixed(name: str) -> str:
    """``llmops_<name>``, one string per name for the run: every case's properties share it."""
    prefixed = _PREFIXED.get(name)
    if prefixed is None:
        prefixed = _PREFIXED.setdefault(name, JUNIT_PREFIX + name)
    return prefixed


# The first <testsuite> start tag: junitxml escapes ">" in attribute values, so the first ">" ends it.
_SUITE_START = re.compile(r"<testsuite\b[^>]*>")
# Characters XML 1.0 cannot hold, written as pytest's junitxml writes them (#x1B for ESC). Names
# are escaped too (add_global_property escaped values only), and characters above U+FFFF are kept
# as pytest 9.2 keeps them (earlier pytest wrote them as #x1F600: its pattern's `\u10000` bug).
_NOT_XML = "[^\t\n\r\x20-\x7e\x80-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#09;"}
)
_CHUNK = 1 << 20


def _attribute(value: object) -> str:
    """An attribute value as ElementTree writes it, with what XML cannot hold as junitxml does."""
    text = _not_xml().sub(_visible, str(value))
    return text.translate(_ATTRIBUTE)


@functools.cache
def _not_xml() -> re.Pattern[str]:
    # Compiled on first use: 8 ms of pytest's start-up in every run, suites or not, otherwise.
    return re.compile(_NOT_XML)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"#x{code:02X}" if code <= 0xFF else f"#x{code:04X}"


def insert_suite_properties(path: Path, properties: Iterable[tuple[str, object]]) -> None:
    """Add ``properties`` to the ``<testsuite>`` of the JUnit file at ``path``, after any it has.

    Streamed: pytest's ``add_global_property`` keeps each value, and then an XML element for it,
    until the file is written (about 9 KB per case for our 14 figures, 0.9 GB at 100,000 cases);
    here each property is written as it comes and the rest of the file is copied in chunks. The
    file is replaced atomically: an error leaves it as junitxml wrote it. ``ValueError`` if it
    holds no ``<testsuite>``.
    """
    remaining = iter(properties)
    first = next(remaining, None)
    if first is None:
        return  # an empty <properties> would not be valid xunit2: the file stays as it is
    atomic_write_chunks(path, _with_properties(path, itertools.chain((first,), remaining)))


def _with_properties(path: Path, properties: Iterable[tuple[str, object]]) -> Iterator[str]:
    with open(path, encoding="utf-8", newline="") as source:
        head = ""
        while True:
            chunk = source.read(_CHUNK)
            head += chunk
            found = _insertion(head, final=not chunk)
            if found is not None:
                break
            if not chunk:
                raise ValueError(f"{path}: no <testsuite> element to add the cases' figures to")
        before, opening, closing, after = found
        yield before + opening
        for name, value in properties:
            yield f'<property name="{_attribute(name)}" value="{_attribute(value)}" />'
        yield closing + after
        yield from iter(lambda: source.read(_CHUNK), "")


def _insertion(head: str, *, final: bool) -> tuple[str, str, str, str] | None:
    """Split ``head`` where the suite's properties go: (before, opening, closing, after).

    None while more text is needed to decide. junitxml writes ``<testsuite ...>`` then, when the
    suite has any (``record_testsuite_property``), its ``<properties>``: ours follow those. A suite
    with no test case is written ``<testsuite ... />`` and becomes an element that holds ours.
    """
    start = _SUITE_START.search(head)
    if start is None:
        return None
    tag = start.group()
    if tag.endswith("/>"):
        return (
            head[: start.start()],
            tag[:-2].rstrip() + "><properties>",
            "</properties></testsuite>",
            head[start.end() :],
        )
    rest = head[start.end() :]
    if rest.startswith("<properties>"):
        end = head.find("</properties>", start.end())
        if end < 0:
            return None
        return head[:end], "", "", head[end:]
    if len(rest) < len("<properties>") and "<properties>".startswith(rest) and not final:
        return None
    return head[: start.end()], "<properties>", "</properties>", rest
