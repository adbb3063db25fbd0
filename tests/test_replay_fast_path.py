"""The replay fast path keeps the full path's guarantees: vcrpy's verdicts, fresh cassettes, never live.

``matching.py`` stands a key in for vcrpy's matchers, ``cassette_cache.py`` keeps parsed cassettes
by content, and ``CaseClient`` answers a recorded request before httpx builds it; each must give
exactly what vcrpy, the YAML file and httpx would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from vcr import matchers

from pytest_llmops.errors import CassetteMissingError
from pytest_llmops.recording.cassette import CaseCassette
from pytest_llmops.recording.cassette_cache import CACHE_FORMAT
from pytest_llmops.recording.matching import RecordingIndex
from pytest_llmops.recording.modes import RecordMode
from pytest_llmops.recording.scrub import Scrubber, StoredRequest
from pytest_llmops.recording.transport import CaseClient, CassetteTransport

from .helpers import FAKE_OPENAI_KEY

URL = "http://127.0.0.1:9/v1/chat/completions"
JSON = [("content-type", "application/json")]
FORM = [("content-type", "application/x-www-form-urlencoded")]
TEXT = [("content-type", "text/plain")]


def _req(
    body: Any, headers: list[tuple[str, str]] = JSON, url: str = URL, method: str = "POST"
) -> StoredRequest:
    return Scrubber().request(method, url, body, headers)


PAIRS = [
    (_req(b'{"a": 1, "b": [1, 2]}'), _req(b'{"b": [1, 2], "a": 1}')),  # key order
    (_req(b'{"a": 1}'), _req(b'{"a": 1.0}')),  # 1 == 1.0
    (_req(b'{"a": 1}'), _req(b'{"a": 2}')),
    (_req(b'{"a": [1, 2]}'), _req(b'{"a": [2, 1]}')),
    (_req(b'{"a": true}'), _req(b'{"a": 1}')),  # True == 1 in Python, as vcrpy compares
    (_req(b"not json"), _req(b"not json")),
    (_req(b"not json"), _req(b"not JSON")),
    (_req(b"a=1&b=2", FORM), _req(b"b=2&a=1", FORM)),
    (_req(b"a=1", FORM), _req(b"a=2", FORM)),
    (_req(b'{"a": 1}'), _req(b'{"a": 1}', TEXT)),  # different transformers: vcrpy decides
    (_req(b'{"a":1}', TEXT), _req(b'{"a": 1}', TEXT)),
    (_req(b"x", url=URL + "?b=2&a=1"), _req(b"x", url=URL + "?a=1&b=2")),  # query order
    (_req(b"x", url=URL + "?a=1"), _req(b"x", url=URL + "?a=2")),
    (_req(b"x", url="http://h"), _req(b"x", url="http://h/")),  # an empty path is "/"
    (_req(b"x", method="GET"), _req(b"x")),
    (_req(None), _req(None)),
    (_req(b""), _req(None)),
]


@pytest.mark.parametrize(("request_", "stored"), PAIRS)
def test_the_key_gives_vcrpys_verdict_or_defers_to_it(request_: StoredRequest, stored: StoredRequest) -> None:
    chosen = [matchers.method, matchers.path, matchers.query, matchers.body]
    expected = matchers.requests_match(request_.to_vcr(), stored.to_vcr(), chosen)
    index = RecordingIndex()
    index.add(0, stored)
    decided, position = index.find(request_, set())
    if decided:
        assert (position == 0) is bool(expected)
    else:
        assert position is None  # the cassette then asks vcrpy's matchers


def _record(path: Path, answer: str) -> None:
    """One exchange recorded through the cassette transport (live side: a MockTransport)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"answer": answer})

    transport = CassetteTransport(CaseCassette(path, RecordMode.ALL), lambda: httpx.MockTransport(handler))
    with httpx.Client(transport=transport) as client:
        client.post(URL, content=b'{"q": 1}', headers={"content-type": "application/json"})
    assert transport.cassette is not None
    transport.cassette.save()


def _answer(path: Path, cache: Path | None) -> Any:
    cassette = CaseCassette(path, RecordMode.NONE, cache=cache)
    played = cassette.play(_req(b'{"q": 1}'))
    assert played is not None
    return json.loads(played["body"]["string"])["answer"]


def test_a_cached_cassette_is_read_afresh_once_its_file_changes(tmp_path: Path) -> None:
    path, cache = tmp_path / "case.yaml", tmp_path / "cache"
    _record(path, "first")
    assert _answer(path, cache) == "first"
    entries = [p for p in (cache / CACHE_FORMAT).rglob("*") if p.is_file()]
    assert len(entries) == 1  # parsed once, kept by content
    assert _answer(path, cache) == "first"  # from the cache
    _record(path, "second")  # re-recorded: new content, new key
    assert _answer(path, cache) == "second"
    for entry in (cache / CACHE_FORMAT).rglob("*"):
        if entry.is_file():
            entry.write_bytes(entry.read_bytes()[:-3])  # torn entries are ignored and rewritten
    assert _answer(path, cache) == "second"
    assert _answer(path, None) == "second"


def _client(tmp_path: Path, mode: RecordMode, live: list[httpx.Request]) -> CaseClient:
    def handler(request: httpx.Request) -> httpx.Response:
        live.append(request)
        return httpx.Response(200, json={"answer": "LIVE"})

    scrubber = Scrubber(secrets=lambda: [FAKE_OPENAI_KEY])
    cassette = CaseCassette(tmp_path / "case.yaml", mode)
    transport = CassetteTransport(cassette, lambda: httpx.MockTransport(handler), scrubber=scrubber)
    return CaseClient(transport, timeout=5.0)


def test_the_fast_replay_answers_as_the_full_one_and_a_miss_in_none_never_goes_live(tmp_path: Path) -> None:
    _record(tmp_path / "case.yaml", "recorded")
    live: list[httpx.Request] = []
    client = _client(tmp_path, RecordMode.NONE, live)
    headers = {"content-type": "application/json", "authorization": f"Bearer {FAKE_OPENAI_KEY}"}
    fast = client.post(URL, content=b'{"q": 1}', headers=headers)
    assert fast.json() == {"answer": "recorded"}
    assert getattr(fast, "_request_args", None) is not None  # answered before httpx built a request
    assert fast.status_code == 200 and fast.request.url == URL
    assert [e.replayed for e in client.cassette_transport.exchanges] == [True]
    # Used up: the full path explains the miss, and nothing is sent.
    with pytest.raises(CassetteMissingError):
        client.post(URL, content=b'{"q": 1}', headers=headers)
    # Arguments the fast path leaves to httpx replay through the full path, the same answer.
    again = _client(tmp_path, RecordMode.NONE, live)
    slow = again.post(URL, json={"q": 1}, follow_redirects=True)
    assert slow.json() == fast.json()
    assert getattr(slow, "_request_args", None) is None
    assert live == []


PLAIN_SCALARS = [
    "body",
    "200",
    "-3",
    "0x1F",
    "0o17",
    "1_000",
    "3.5",
    ".inf",
    "-.Inf",
    ".nan",
    "1e3",
    "true",
    "False",
    "yes",
    "off",
    "null",
    "~",
    "",
    "2026-12-03",
    "2026-12-03T07:02:16Z",
    "<<",
    "=",
    "Thu, 03 Dec 2026 07:02:16 GMT",
    "application/json",
    "'*/*'",
    '"200"',
    "'true'",
    "!!str 5",
]


@pytest.mark.parametrize("text", PLAIN_SCALARS)
def test_each_scalar_is_read_as_vcrpys_loader_reads_it(text: str) -> None:
    """The loader's memo of plain scalars' tags (cassette_cache.CassetteLoader.resolve) changes no value."""
    from vcr.serializers.yamlserializer import _CassetteLoader as VcrLoader

    from pytest_llmops.recording.cassette_cache import CassetteLoader

    document = f"a: {text}\nb: [{text or '~'}, {{k: {text or '~'}}}]\n{text or 'c'}: 1\n"

    def read(loader: type[yaml.SafeLoader]) -> Any:
        try:
            value = yaml.load(document, Loader=loader)
        except yaml.YAMLError as exc:  # "<<" and "=" are not values: both loaders refuse them
            return type(exc)
        return value, [type(v) for v in value.values()], [type(v) for v in value]

    expected = read(VcrLoader)
    for _ in range(2):  # the second read answers from the memo
        assert read(CassetteLoader) == expected


def test_a_long_plain_text_is_read_but_its_tag_is_never_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo holds short texts only: a body printed plain would otherwise stay in memory."""
    from pytest_llmops.recording import cassette_cache

    monkeypatch.setattr(cassette_cache, "_PLAIN_TAGS", {})  # empty, whatever ran before

    long_text = " ".join(f"word{i}" for i in range(60))
    document = f"body: {long_text}\nshort: plain words\n"
    assert yaml.load(document, Loader=cassette_cache.CassetteLoader) == {
        "body": long_text,
        "short": "plain words",
    }
    assert long_text not in cassette_cache._PLAIN_TAGS
    assert cassette_cache._PLAIN_TAGS["plain words"] == "tag:yaml.org,2002:str"
