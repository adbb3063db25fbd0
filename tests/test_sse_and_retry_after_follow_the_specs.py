"""Server-sent events are parsed as the HTML spec says, and Retry-After is read as RFC 9110 says
(seconds or an HTTP date), with ``retry-after-ms`` winning when given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pytest_llmops.providers.http import retry_after
from pytest_llmops.providers.sse import iter_sse


def events(body: bytes) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in iter_sse(body)]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # LF, CRLF and lone CR end lines alike, and may be mixed.
        (
            b"data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\r\n",
            [("message", "a"), ("message", "b"), ("message", "c"), ("message", "d")],
        ),
        # Several data lines join with LF; one leading space of a value is dropped, not two.
        (b"data: one\ndata:two\ndata:  three\n\n", [("message", "one\ntwo\n three")]),
        # The event name applies to one event, then resets.
        (b"event: ping\ndata: 1\n\ndata: 2\n\n", [("ping", "1"), ("message", "2")]),
        # Comments, unknown fields, `id` and `retry` are not data.
        (b": keep-alive\nid: 7\nretry: 100\nfoo: bar\ndata: x\n\n", [("message", "x")]),
        # A field without a colon has an empty value: `data` alone is one empty line of data.
        (b"data\n\n", [("message", "")]),
        (b"data\ndata\n\n", [("message", "\n")]),
        # An event without data is not dispatched.
        (b"event: nothing\n\ndata: y\n\n", [("message", "y")]),
        # The unterminated last event is incomplete: never dispatched.
        (b"data: whole\n\ndata: cut", [("message", "whole")]),
        (b"data: whole\n\ndata: cut\n", [("message", "whole")]),
        # A leading byte-order mark is ignored.
        (b"\xef\xbb\xbfdata: bom\n\n", [("message", "bom")]),
        # A colon in the value stays.
        (b'data: {"a": "b:c"}\n\n', [("message", '{"a": "b:c"}')]),
    ],
)
def test_the_spec_cases(body: bytes, expected: list[tuple[str, str]]) -> None:
    assert events(body) == expected


def test_event_ends_are_byte_offsets_for_time_to_first_token() -> None:
    body = b"data: a\r\n\r\ndata: bb\r\r"
    assert [e.end for e in iter_sse(body)] == [11, len(body)]
    assert [e.end for e in iter_sse(b"\xef\xbb\xbfdata: a\n\n")] == [12]


NOW = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"retry-after": "Mon, 30 Nov 2026 12:00:07 GMT"}, 7.0),
        ({"retry-after": "Monday, 30-Nov-26 12:00:07 GMT"}, 7.0),  # the obsolete RFC 850 form
        ({"retry-after": "Mon, 30 Nov 2026 11:59:00 GMT"}, 0.0),  # a date in the past: now
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),  # the precise one wins
        ({"retry-after": "-4"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after-ms": "x", "retry-after": "2"}, 2.0),
        ({}, None),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after(headers, now=NOW) == seconds
