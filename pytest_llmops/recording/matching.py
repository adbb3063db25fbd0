"""How a request finds its recording: vcrpy's four matchers as one key, computed once per request.

A cassette matches on vcrpy's ``method``, ``path``, ``query`` and ``body`` matchers. Asking each
matcher about each recording parses both bodies for every pair; here each request is reduced
once to a hashable key, equal for two requests exactly when those matchers say they match, and
a recording is found by a dictionary look-up:

- method as is; path as ``urlparse`` splits it, an empty one as ``/``; the query as
  ``sorted(parse_qsl(query))`` (the matchers' own normalisation);
- the body through the transformer both requests' ``content-type`` names, as vcrpy applies it
  (JSON parsed, a form parsed with ``parse_qs``), *frozen* so that values Python finds equal
  (``1 == 1.0``, keys in any order) have equal keys; the raw bytes when there is no transformer
  or the body does not parse.

vcrpy compares two bodies through different transformers (a JSON request against a recording
without a JSON content type) as raw bytes, and knows transformers this key does not model
(chunked transfer, XML-RPC). When a request could meet either among the recordings of its
endpoint, ``RecordingIndex.find`` says it cannot decide and the cassette asks vcrpy's matchers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlparse

from .scrub import UNPARSED, StoredRequest

__all__ = ["RecordingIndex", "body_kinds", "endpoint_key", "request_key"]

#: Tags of frozen containers: a frozen dict or list is never equal to any other value.
_DICT = "dict"
_LIST = "list"

Key = tuple[Any, ...]


def _frozen(value: Any) -> Any:
    """A hashable twin of a parsed body: equal exactly when the values compare equal."""
    kind = type(value)
    if kind is dict:
        return (_DICT, frozenset([(k, _frozen(v)) for k, v in value.items()]))
    if kind is list:
        return (_LIST, tuple([_frozen(v) for v in value]))
    return value


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name, "")
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return str(value).lower()


def body_kinds(headers: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The transformers vcrpy's body matcher applies for these (lower-case) headers; None: unmodelled."""
    content_type = _header(headers, "content-type")
    if "chunked" in _header(headers, "transfer-encoding"):
        return None
    if "text/xml" in content_type and "xmlrpc" in _header(headers, "user-agent"):
        return None
    form = "application/x-www-form-urlencoded" in content_type
    parsed_json = "application/json" in content_type
    if form and parsed_json:  # vcrpy would hand the parsed form to json.loads and fail
        return None
    return ("form",) if form else ("json",) if parsed_json else ()


def _body_key(request: StoredRequest, kinds: tuple[str, ...]) -> Key:
    body = request.body
    if kinds:
        try:
            if kinds == ("json",):
                # The scrubber's parse of this very body, when it made one.
                parsed = request.parsed
                value = (parsed if parsed is not UNPARSED else json.loads(body)) if body else None
            else:
                value = None if body is None else parse_qs(body.decode("ascii"))
        except ValueError:  # vcrpy compares a body that does not parse as raw bytes
            pass
        else:
            return ("parsed", _frozen(value))
    return ("raw", body)


def endpoint_key(request: StoredRequest) -> Key:
    """Method, path and query, normalised as vcrpy's matchers compare them."""
    parts = urlparse(request.uri)
    return (request.method, parts.path or "/", tuple(sorted(parse_qsl(parts.query))))


def request_key(request: StoredRequest) -> tuple[Key, tuple[str, ...] | None, Key | None]:
    """(endpoint, body transformers, body key); the body key is None when vcrpy's rules are unmodelled."""
    kinds = body_kinds(request.headers)
    body: Key | None = None
    if kinds is not None:
        try:
            body = _body_key(request, kinds)
        except RecursionError:  # a body nested beyond reason: vcrpy's matchers decide
            kinds = None
    return endpoint_key(request), kinds, body


class _Endpoint:
    __slots__ = ("by_body", "kinds")

    def __init__(self) -> None:
        #: The transformer tuples of the endpoint's recordings (None: one is unmodelled).
        self.kinds: set[tuple[str, ...] | None] = set()
        self.by_body: dict[Key, list[int]] = {}


class RecordingIndex:
    """The recordings of one cassette by key, in recorded order."""

    def __init__(self) -> None:
        self._endpoints: dict[Key, _Endpoint] = {}

    def add(self, position: int, request: StoredRequest) -> None:
        endpoint_of, kinds, body = request_key(request)
        endpoint = self._endpoints.setdefault(endpoint_of, _Endpoint())
        endpoint.kinds.add(kinds)
        if body is not None:
            endpoint.by_body.setdefault(body, []).append(position)

    def find(self, request: StoredRequest, played: set[int]) -> tuple[bool, int | None]:
        """(decided, position): the first unplayed recording vcrpy's matchers would pick.

        ``(True, None)``: none matches. ``(False, None)``: the key cannot tell (see the module
        docstring); ask vcrpy's matchers.
        """
        endpoint_of, kinds, body = request_key(request)
        endpoint = self._endpoints.get(endpoint_of)
        if endpoint is None:
            return True, None  # method, path and query are compared exactly: nothing can match
        if kinds is None or body is None or endpoint.kinds != {kinds}:
            return False, None
        for position in endpoint.by_body.get(body, ()):
            if position not in played:
                return True, position
        return True, None
