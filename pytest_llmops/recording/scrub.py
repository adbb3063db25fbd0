"""What a request looks like when it is stored and when it is matched: scrubbed of secrets.

Every client's request (httpx, requests, urllib3, ``http.client``, aiohttp, botocore) becomes
one vcrpy ``Request`` here, and the SAME scrubbing is applied to the request about to be sent
and to the one already on disk, so a recording whose key was redacted still replays:

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

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from vcr.request import Request as VcrRequest

from .redaction import REDACTED, redact_text

__all__ = [
    "DROPPED_RESPONSE_HEADERS",
    "KEPT_REQUEST_HEADERS",
    "SECRET_QUERY_PARAMS",
    "Redaction",
    "Scrubber",
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


def _says_key(name: str) -> bool:
    flat = re.sub(r"[-_.\s]", "", name.lower())
    return flat in _SECRET_NAMES or flat.endswith(_SECRET_SUFFIXES)


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
    ) -> VcrRequest:
        """The request as it is stored and matched; ``secret_params`` are redacted by name too."""
        secrets = list(self.secrets())
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
                kept[lowered] = redact_text(str(value), secrets)
        return VcrRequest(
            method.upper(),
            redact_text(self._url(url, frozenset(secret_params)), secrets),
            self._body(body, kept.get("content-type", ""), secrets),
            kept,
        )

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

    def _body(self, body: Any, content_type: str, secrets: list[str]) -> bytes | None:
        if body is None:
            return None
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
            return raw
        body = raw
        if "json" in content_type or body[:1] in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            else:
                cleaned = self._json(data, secrets)
                if cleaned != data:
                    return json.dumps(cleaned, ensure_ascii=False).encode("utf-8")
                return raw
        text = raw.decode("utf-8", "surrogateescape")
        cleaned_text = redact_text(text, secrets)
        return raw if cleaned_text == text else cleaned_text.encode("utf-8", "surrogateescape")

    def _json(self, value: Any, secrets: list[str]) -> Any:
        if isinstance(value, dict):
            return {
                k: (
                    REDACTED
                    if isinstance(k, str)
                    and isinstance(v, (str, int, float))
                    and not isinstance(v, bool)
                    and (k.lower() in self.body_fields or _says_key(k))
                    else self._json(v, secrets)
                )
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._json(v, secrets) for v in value]
        if isinstance(value, str):
            return redact_text(value, secrets)
        return value

    # -- responses --------------------------------------------------------------------------------
    def response_headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
        """Response headers as stored: cookies, account ids and framing dropped; named ones redacted."""
        secrets = list(self.secrets())
        out: dict[str, list[str]] = {}
        for name, value in headers:
            lowered = name.lower()
            if lowered in DROPPED_RESPONSE_HEADERS:
                continue
            out.setdefault(name, []).append(
                REDACTED if lowered in self.headers else redact_text(str(value), secrets)
            )
        return out


def header_items(headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> list[tuple[str, Any]]:
    """``(name, value)`` pairs from any client's header container."""
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)
