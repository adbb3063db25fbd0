"""What a request looks like when it is stored and when it is matched: scrubbed of secrets.

Every client's request (httpx, requests, urllib3, ``http.client``, aiohttp, botocore) becomes
one ``StoredRequest`` here (the fields of vcrpy's ``Request``, without importing vcrpy: a replay
never needs it), and the SAME scrubbing is applied to the request about to be sent and to the
one already on disk, so a recording whose key was redacted still replays:

- request headers are kept from an allow-list (everything else, keys included, is dropped);
- query parameters whose name says "key" (``key``, ``api-key``, ``subscription-key``,
  ``x-api-key``, ``auth``, ``token``, ``sig``...) and those the user names are ``REDACTED``;
- JSON body fields whose name says "key" and those the user names are ``REDACTED``;
- the value of every API-key variable is replaced wherever it appears (URL, body, headers).

A replay in CI, with no key or another key, so builds the same stored form as the recording.
``Redaction`` holds the user's additions (ini ``llmops_redact_*`` and the
``pytest_llmops_configure_redaction`` hook).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlsplit, urlunsplit

from .redaction import REDACTED, redact_text, usable_secrets

if TYPE_CHECKING:
    from vcr.request import Request as VcrRequest

__all__ = [
    "DROPPED_RESPONSE_HEADERS",
    "KEPT_REQUEST_HEADERS",
    "SECRET_QUERY_PARAMS",
    "UNPARSED",
    "Redaction",
    "Scrubber",
    "StoredRequest",
]

#: Request headers worth keeping; everything else (authorization, api keys, cookies,
#: organisation and project ids, user agents) is dropped before a request is stored.
KEPT_REQUEST_HEADERS = frozenset(
    {"content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta"}
)
#: Response headers never stored: cookies and account identifiers, and framing headers that no
#: longer describe the stored (decoded, complete) body.
DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "set-cookie",
        "openai-organization",
        "openai-project",
        "anthropic-organization-id",
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
    }
)
SECRET_QUERY_PARAMS = frozenset(
    {"key", "api_key", "api-key", "apikey", "access_token", "token", "sig", "signature", "code"}
)
#: A name "says key" when, lower-cased and without ``-``/``_``, it is one of these or ends in
#: ``apikey``/``secret``/``password``: ``subscription-key``, ``x-api-key``, ``openaiApiKey``.
#: ``max_tokens`` and ``key_points`` do not.
_SECRET_NAMES = frozenset(
    {
        "key",
        "apikey",
        "accesskey",
        "secretkey",
        "subscriptionkey",
        "xapikey",
        "auth",
        "authorization",
        "token",
        "accesstoken",
        "authtoken",
        "idtoken",
        "refreshtoken",
        "bearer",
        "password",
        "secret",
        "clientsecret",
        "sig",
        "signature",
        "xgoogapikey",
    }
)
_SECRET_SUFFIXES = ("apikey", "secret", "password", "accesstoken", "secretkey", "subscriptionkey")


@functools.lru_cache(maxsize=4096)  # the same few field names, in every request of a run
def _says_key(name: str) -> bool:
    flat = re.sub(r"[-_.\s]", "", name.lower())
    return flat in _SECRET_NAMES or flat.endswith(_SECRET_SUFFIXES)


def _replace(text: str, secrets: frozenset[str]) -> str:
    # The one redaction of the package: keys, their escaped forms and their pieces.
    return redact_text(text, secrets) if secrets else text


#: ``StoredRequest.parsed`` of a body the scrubber did not parse as JSON.
UNPARSED: Any = object()


class StoredRequest:
    """A request in its stored (scrubbed) form: the fields of vcrpy's ``Request``.

    Replays match these without vcrpy; ``to_vcr`` builds vcrpy's own object where vcrpy's
    matchers or serializer are needed (a miss explained, a cassette saved).
    """

    __slots__ = ("body", "headers", "method", "parsed", "uri")

    def __init__(
        self, method: str, uri: str, body: bytes | None, headers: dict[str, str], parsed: Any = UNPARSED
    ) -> None:
        self.method = method
        self.uri = uri
        self.body = body
        #: Lower-case names (as the scrubber keeps them) to one text value, as vcrpy holds them.
        self.headers = headers
        #: ``json.loads(body)`` when the scrubber parsed it (matching then need not parse again).
        self.parsed = parsed

    @property
    def path(self) -> str:
        return urlparse(self.uri).path

    @property
    def query(self) -> list[tuple[str, str]]:
        return sorted(parse_qsl(urlparse(self.uri).query))

    def to_vcr(self) -> VcrRequest:
        """vcrpy's ``Request`` with the same fields (imports vcrpy)."""
        from vcr.request import Request

        return Request(self.method, self.uri, self.body, dict(self.headers))

    def __repr__(self) -> str:
        return f"<StoredRequest ({self.method}) {self.uri}>"


@dataclass
class Redaction:
    """The user's additions to what is redacted; names compare case-insensitively."""

    #: Request headers to keep (redacted) and response headers to redact.
    headers: set[str] = field(default_factory=set)
    query_params: set[str] = field(default_factory=set)
    #: JSON body fields, by name at any depth.
    body_fields: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Scrubber:
    """Builds the stored form of requests and responses for one run."""

    secrets: Callable[[], Iterable[str]] = lambda: ()
    headers: frozenset[str] = frozenset()
    query_params: frozenset[str] = frozenset()
    body_fields: frozenset[str] = frozenset()

    @classmethod
    def from_redaction(cls, redaction: Redaction, secrets: Callable[[], Iterable[str]]) -> Scrubber:
        return cls(
            secrets=secrets,
            headers=frozenset(h.lower() for h in redaction.headers),
            query_params=frozenset(q.lower() for q in redaction.query_params),
            body_fields=frozenset(b.lower() for b in redaction.body_fields),
        )

    # -- requests ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        url: str,
        body: Any,
        headers: Iterable[tuple[str, Any]],
        *,
        secret_params: Iterable[str] = (),
    ) -> StoredRequest:
        """The request as it is stored and matched; ``secret_params`` are redacted by name too."""
        secrets = usable_secrets(self.secrets())
        kept: dict[str, str] = {}
        for name, value in headers:
            lowered = name.lower() if isinstance(name, str) else str(name).lower()
            if isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value)
            if isinstance(value, bytes):
                value = value.decode("latin-1")
            if lowered in self.headers:
                kept[lowered] = REDACTED
            elif lowered in KEPT_REQUEST_HEADERS:
                kept[lowered] = _replace(str(value), secrets)
        stored_body, parsed = self._body(body, kept.get("content-type", ""), secrets)
        stored_url = _replace(self._url(url, frozenset(secret_params)), secrets)
        return StoredRequest(method.upper(), stored_url, stored_body, kept, parsed)

    def _url(self, url: str, secret_params: frozenset[str] = frozenset()) -> str:
        parts = urlsplit(url)
        if not parts.query:
            return url
        query = [
            (k, REDACTED if self._secret_param(k) or k in secret_params else v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _secret_param(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in SECRET_QUERY_PARAMS or lowered in self.query_params or _says_key(name)

    def _body(self, body: Any, content_type: str, secrets: frozenset[str]) -> tuple[bytes | None, Any]:
        """The stored body, and its JSON value when it was parsed as JSON (else ``UNPARSED``)."""
        if body is None:
            return None, UNPARSED
        raw: bytes
        if isinstance(body, str):
            raw = body.encode("utf-8")
        elif isinstance(body, (bytes, bytearray, memoryview)):
            raw = bytes(body)
        elif isinstance(body, (dict, list)):  # aiohttp's `json=`/`data=` before it is encoded
            raw = json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")
        elif hasattr(body, "read"):
            raise TypeError("a file-like body must be read before it is stored")
        else:
            raw = str(body).encode("utf-8")
        if not raw:
            return raw, UNPARSED
        body = raw
        if "json" in content_type or body[:1] in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            else:
                cleaned = self._json(data, secrets)
                if cleaned is not data:
                    return json.dumps(cleaned, ensure_ascii=False).encode("utf-8"), cleaned
                return raw, data
        if not secrets:
            return raw, UNPARSED
        text = raw.decode("utf-8", "surrogateescape")
        cleaned_text = _replace(text, secrets)
        return (raw if cleaned_text == text else cleaned_text.encode("utf-8", "surrogateescape")), UNPARSED

    def _json(self, value: Any, secrets: frozenset[str]) -> Any:
        """``value`` with key-named fields and secret values redacted: the same object when
        nothing was (a value already stored as ``REDACTED`` counts as unchanged)."""
        if isinstance(value, dict):
            copy: dict[Any, Any] | None = None
            for k, v in value.items():
                if (
                    isinstance(k, str)
                    and isinstance(v, (str, int, float))
                    and not isinstance(v, bool)
                    and (k.lower() in self.body_fields or _says_key(k))
                ):
                    new: Any = REDACTED
                else:
                    new = self._json(v, secrets)
                if new is not v and not (type(new) is str and new == v):
                    if copy is None:
                        copy = dict(value)
                    copy[k] = new
            return value if copy is None else copy
        if isinstance(value, list):
            items: list[Any] | None = None
            for i, v in enumerate(value):
                new = self._json(v, secrets)
                if new is not v and not (type(new) is str and new == v):
                    if items is None:
                        items = list(value)
                    items[i] = new
            return value if items is None else items
        if isinstance(value, str):
            return _replace(value, secrets) if secrets else value
        return value

    # -- responses --------------------------------------------------------------------------------
    def response_headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        """Response headers as stored: cookies, account ids and framing dropped; named ones redacted."""
        secrets = usable_secrets(self.secrets())
        out: dict[str, list[str]] = {}
        for name, value in headers:
            lowered = name.lower()
            if lowered in DROPPED_RESPONSE_HEADERS:
                continue
            out.setdefault(name, []).append(
                REDACTED if lowered in self.headers else _replace(str(value), secrets)
            )
        return out


def header_items(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs from any client's header container."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
