"""Record and replay, one vcrpy cassette per case, through an httpx transport the plugin owns.

vcrpy's own patching is process-wide, so concurrent calls could not each reach their own case's
cassette. Instead each case gets a ``CassetteTransport`` that reads and writes a vcrpy cassette
file with vcrpy's request type, matchers and serializer: the files are ordinary vcrpy cassettes.

Record modes (``--llmops-record-mode``):

- ``none`` (default): replay only; a call with no recording fails before any connection.
- ``once``: record when the cassette file does not exist yet, else replay only.
- ``new_episodes``: replay what matches, record what does not.
- ``all``: call live for everything and rewrite the cassette with this run's calls.

Requests match on method, path, query and the JSON body compared as parsed JSON. The host is
left out on purpose: the base URL is configuration (a gateway, a proxy, a local server), and a
recording made through one replays through another.

Only successful exchanges that the provider could use are saved (``commit``): a 429 that was
retried, a 500 or a malformed body never reaches the file. Secrets never reach disk: request
headers are kept from an allow-list, response cookies and organisation ids are dropped, keys in
query strings are redacted, and the values of the API-key variables are replaced as a last guard.
"""

from __future__ import annotations

import difflib
import enum
import json
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import yaml
from vcr import matchers as vcr_matchers
from vcr.request import Request as VcrRequest
from vcr.serialize import deserialize as vcr_deserialize
from vcr.serialize import serialize as vcr_serialize
from vcr.serializers import yamlserializer

from .errors import CassetteCorruptError, CassetteError, CassetteMismatchError, CassetteMissingError
from .fileio import atomic_write_text
from .providers.base import DEADLINE, EXTENSION
from .redaction import redact_text

__all__ = [
    "CaseCassette",
    "CassetteTransport",
    "LiveTransportFactory",
    "RecordMode",
    "cassette_file_name",
]


class RecordMode(str, enum.Enum):
    NONE = "none"
    ONCE = "once"
    NEW_EPISODES = "new_episodes"
    ALL = "all"


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
REDACTED = "REDACTED"

MATCHERS = (vcr_matchers.method, vcr_matchers.path, vcr_matchers.query, vcr_matchers.body)


def _scrub_url(url: str) -> str:
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = [
        (k, REDACTED if k.lower() in SECRET_QUERY_PARAMS else v) for k, v in parse_qsl(parts.query, True)
    ]
    return urlunsplit(parts._replace(query=urlencode(query)))


def vcr_request(request: httpx.Request, body: bytes) -> VcrRequest:
    """The request as it is stored and matched: scrubbed of secrets."""
    headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_REQUEST_HEADERS}
    return VcrRequest(request.method, _scrub_url(str(request.url)), body, headers)


def cassette_file_name(item_name: str) -> str:
    """A portable file name for an item name such as ``refund[support@2.1.0-openai:gpt-4o]``."""
    safe = "".join(c if c.isalnum() or c in "._-@[]+=," else "_" for c in item_name)
    if len(safe) > 150:  # stay well under common file-name limits; keep it unique with a hash
        import hashlib

        digest = hashlib.sha256(item_name.encode()).hexdigest()[:12]
        safe = f"{safe[:130]}-{digest}"
    return safe + ".yaml"


def _pretty_body(body: Any) -> list[str]:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(body), indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    except (TypeError, ValueError):
        return str(body).splitlines()


class _Parsed:
    """Hands vcrpy's ``deserialize`` a document that is already parsed and checked."""

    def __init__(self, data: Any) -> None:
        self.data = data

    def deserialize(self, _text: str) -> Any:
        return self.data


def _check_cassette(data: Any) -> None:
    """Check the shape of a cassette document; a ``ValueError`` says which interaction and key.

    Header values written as a plain string (a natural hand edit) become one-item lists.
    """
    if not isinstance(data, dict) or not isinstance(data.get("interactions"), list):
        raise ValueError("expected a mapping with an `interactions:` list")
    for number, interaction in enumerate(data["interactions"], 1):
        where = f"interaction {number}"
        if not isinstance(interaction, dict):
            raise ValueError(f"{where} is not a mapping")
        request, response = interaction.get("request"), interaction.get("response")
        if not isinstance(request, dict) or not isinstance(response, dict):
            raise ValueError(f"{where}: `request` and `response` must both be mappings")
        unknown = set(request) - {"method", "uri", "body", "headers"}
        if unknown or not isinstance(request.get("method"), str) or not isinstance(request.get("uri"), str):
            raise ValueError(f"{where}: `request` needs a text `method` and `uri` (and only body, headers)")
        if not isinstance(request.get("body"), (str, bytes, type(None))):
            raise ValueError(f"{where}: `request.body` must be text")
        _check_headers(request, where + ": `request.headers`")
        status = response.get("status")
        code = status.get("code") if isinstance(status, dict) else None
        if type(code) is not int or not 100 <= code <= 599:
            raise ValueError(f"{where}: `response.status.code` must be an HTTP status, not {code!r}")
        body = response.get("body")
        if not isinstance(body, dict) or not isinstance(body.get("string", 0), (str, bytes, type(None))):
            raise ValueError(f"{where}: `response.body.string` must be text")
        _check_headers(response, where + ": `response.headers`")
        facts = response.get("llmops")
        if facts is not None and not (
            isinstance(facts, dict)
            and type(facts.get("latency_ms", 0)) in (int, float)
            and type(facts.get("ttft_ms")) in (int, float, type(None))
        ):
            raise ValueError(f"{where}: `response.llmops` must map latency_ms and ttft_ms to numbers")


def _check_headers(message: dict[str, Any], where: str) -> None:
    headers = message.setdefault("headers", {})
    if not isinstance(headers, dict):
        raise ValueError(f"{where} must be a mapping")
    for name, values in headers.items():
        if isinstance(values, str):
            headers[name] = values = [values]
        texts = isinstance(values, list) and all(isinstance(v, str) for v in values)
        if not (isinstance(name, str) and name.isascii() and texts):
            raise ValueError(f"{where}: {name!r} must be an ASCII name mapped to text values")


class CaseCassette:
    """The recordings of one case, loaded from and saved to one vcrpy cassette file."""

    def __init__(
        self,
        path: Path,
        mode: RecordMode,
        *,
        record_command: str = "",
        secrets: Iterable[str] | Callable[[], Iterable[str]] = (),
    ) -> None:
        self.path = path
        self.mode = mode
        self.record_command = record_command
        #: A callable is asked at each save: a provider first used during the case adds its key.
        self._secrets = secrets if callable(secrets) else tuple(secrets)
        self._recorded: list[tuple[VcrRequest, dict[str, Any]]] = []
        self._played: set[int] = set()
        self._pending: list[tuple[VcrRequest, dict[str, Any]]] = []
        self._committed: list[tuple[VcrRequest, dict[str, Any]]] = []
        self.existed = path.is_file()
        if self.existed and mode is not RecordMode.ALL:
            self._load()

    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
            if not text.strip():
                self.existed = False
                return
            data = yamlserializer.deserialize(text)
            _check_cassette(data)  # vcrpy trusts the shape; a hand edit must not crash a replay
            requests, responses, *_ = vcr_deserialize(text, _Parsed(data))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise CassetteCorruptError(
                f"cassette {self.path} cannot be read ({type(exc).__name__}: {exc}). It was edited by "
                f"hand or written by something else. Delete it and record again:\n    {self.record_command}",
                path=self.path,
            ) from None
        self._recorded = list(zip(requests, responses, strict=False))

    # -- what the record mode allows ------------------------------------------------------------
    @property
    def may_replay(self) -> bool:
        return self.mode is not RecordMode.ALL

    @property
    def may_record(self) -> bool:
        if self.mode is RecordMode.ONCE:
            return not self.existed
        return self.mode in (RecordMode.NEW_EPISODES, RecordMode.ALL)

    # -- replay ---------------------------------------------------------------------------------
    def play(self, request: VcrRequest) -> dict[str, Any] | None:
        """The first recording of this request not yet played in this run, if any."""
        for index, (stored, response) in enumerate(self._recorded):
            if index not in self._played and vcr_matchers.requests_match(request, stored, MATCHERS):
                self._played.add(index)
                return response
        return None

    def miss(self, request: VcrRequest) -> CassetteMissingError | CassetteMismatchError:
        """Why a request cannot be replayed, with a diff when the recording went stale."""
        if not self.existed:
            return CassetteMissingError(
                f"no recording for this case: {self.path} does not exist, and record mode "
                f"'{self.mode.value}' makes no live calls. Record it (needs the API key) with:\n"
                f"    {self.record_command}",
                path=self.path,
            )
        same_endpoint = [
            stored
            for stored, _ in self._recorded
            if stored.method == request.method and stored.path == request.path
        ]
        if not same_endpoint:
            return CassetteMissingError(
                f"{self.path} has no recording of {request.method} {request.path}. Record it with:\n"
                f"    {self.record_command.replace('=once', '=new_episodes')}",
                path=self.path,
            )
        if all(vcr_matchers.requests_match(request, s, MATCHERS) for s in same_endpoint):
            return CassetteMissingError(
                f"{self.path} holds {len(same_endpoint)} recording(s) of this request and this run "
                f"used them all (does the case call more often than when it was recorded?). "
                f"Re-record with:\n    {self.record_command.replace('=once', '=all')}",
                path=self.path,
            )
        recorded = same_endpoint[-1] if len(same_endpoint) == 1 else self._closest(request, same_endpoint)
        diff = "\n".join(
            difflib.unified_diff(
                _pretty_body(recorded.body),
                _pretty_body(request.body),
                fromfile="recorded request",
                tofile="current request",
                lineterm="",
                n=2,
            )
        )
        return CassetteMismatchError(
            f"the request no longer matches its recording in {self.path} (a prompt, variable or "
            f"model parameter changed since it was recorded):\n{diff}\n"
            f"If the change is intended, re-record this case with:\n"
            f"    {self.record_command.replace('=once', '=all')}",
            path=self.path,
        )

    @staticmethod
    def _closest(request: VcrRequest, candidates: list[VcrRequest]) -> VcrRequest:
        current = "\n".join(_pretty_body(request.body))

        def similarity(stored: VcrRequest) -> float:
            recorded = "\n".join(_pretty_body(stored.body))
            return difflib.SequenceMatcher(None, recorded, current).quick_ratio()

        return max(candidates, key=similarity)

    # -- recording ------------------------------------------------------------------------------
    def add_pending(self, request: VcrRequest, response: dict[str, Any]) -> None:
        """Hold a live exchange until the provider has accepted its response."""
        self._pending.append((request, response))

    def commit(self) -> None:
        """The calls since the last commit succeeded: keep their recordings."""
        self._committed.extend(self._pending)
        self._pending.clear()

    def discard(self) -> None:
        """The calls since the last commit failed or were retried: forget their recordings."""
        self._pending.clear()

    @property
    def dirty(self) -> bool:
        return bool(self._committed)

    def save(self) -> None:
        """Write the cassette atomically if this run recorded anything."""
        if not self._committed:
            return
        # In `all` mode nothing was loaded, so this is only what this run recorded; a case (or a
        # Python test) that saves twice keeps what its first save wrote.
        interactions = [*self._recorded, *self._committed]
        text = vcr_serialize(
            {"requests": [r for r, _ in interactions], "responses": [r for _, r in interactions]},
            yamlserializer,
        )
        secrets = self._secrets() if callable(self._secrets) else self._secrets
        text = redact_text(text, secrets)  # last guard: a key that slipped into a body or URL
        try:
            atomic_write_text(self.path, text)
        except OSError as exc:  # a full disk or a read-only folder fails the case, not the session
            raise CassetteError(f"cannot write cassette {self.path}: {exc}", path=self.path) from None
        self._recorded = interactions
        self._committed = []
        # `existed` stays as it was when the case began: in `once` mode a case that recorded
        # its first call must still record its second.


LiveTransportFactory = Callable[[], httpx.BaseTransport]


def _serialize_response(response: httpx.Response, content: bytes, facts: dict[str, Any]) -> dict[str, Any]:
    headers: dict[str, list[str]] = {}
    for name, value in response.headers.multi_items():
        if name.lower() not in DROPPED_RESPONSE_HEADERS:
            headers.setdefault(name, []).append(value)
    return {
        "status": {"code": response.status_code, "message": response.reason_phrase},
        "headers": headers,
        "body": {"string": content},
        # Not part of vcrpy's format but kept by it: what replays report as latency and TTFT.
        "llmops": facts,
    }


def _replayed_response(stored: Mapping[str, Any], request: httpx.Request) -> httpx.Response:
    # As bytes: a header value recorded with non-ASCII text must replay, not fail to encode.
    stored_headers = stored.get("headers", {})
    headers = [(name, value.encode("utf-8")) for name, values in stored_headers.items() for value in values]
    body = stored["body"]["string"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    facts = dict(stored.get("llmops") or {})
    return httpx.Response(
        stored["status"]["code"],
        headers=headers,
        content=body or b"",
        request=request,
        extensions={
            EXTENSION: {"replayed": True, "latency_ms": float(facts.get("latency_ms", 0.0)), "facts": facts}
        },
    )


class CassetteTransport(httpx.BaseTransport):
    """Replays from, or records to, one case's cassette; measures each live exchange.

    The facts of an exchange (latency, and time to first token once a provider has found it
    in a stream) travel in ``response.extensions["llmops"]``. For a live exchange the same
    ``facts`` mapping is stored with the recording, so what a provider adds to it is replayed.
    """

    def __init__(self, cassette: CaseCassette | None, live: LiveTransportFactory) -> None:
        self.cassette = cassette
        self._live = live
        #: Recorded latency of the exchanges replayed so far (for callers that time themselves).
        self.replayed_latency_ms = 0.0
        self.live_calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        cassette = self.cassette
        body = request.read()
        stored_request = vcr_request(request, body)
        if cassette is not None:
            if cassette.may_replay:
                stored = cassette.play(stored_request)
                if stored is not None:
                    response = _replayed_response(stored, request)
                    self.replayed_latency_ms += response.extensions[EXTENSION]["latency_ms"]
                    return response
            if not cassette.may_record:
                raise cassette.miss(stored_request)
        live = self._live()
        self.live_calls += 1
        started = time.perf_counter()
        response = live.handle_request(request)
        content, chunk_times = _read_all(response, request, started)
        latency_ms = (time.perf_counter() - started) * 1000.0
        facts: dict[str, Any] = {"latency_ms": round(latency_ms, 3)}
        if cassette is not None and 200 <= response.status_code < 300:
            cassette.add_pending(stored_request, _serialize_response(response, content, facts))
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "transfer-encoding", "content-length")
        ]
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=content,
            request=request,
            extensions={
                EXTENSION: {
                    "replayed": False,
                    "latency_ms": latency_ms,
                    "facts": facts,
                    "chunk_times": chunk_times,
                }
            },
        )


def _read_all(
    response: httpx.Response, request: httpx.Request, started: float
) -> tuple[bytes, list[tuple[int, float]]]:
    """Read the body chunk by chunk, noting when each arrived, within the request's deadline.

    A stream that never ends is cut at the deadline with a timeout naming it.
    """
    deadline = request.extensions.get(DEADLINE)
    chunks: list[bytes] = []
    chunk_times: list[tuple[int, float]] = []
    received = 0
    try:
        for chunk in response.iter_bytes():
            if chunk:
                chunks.append(chunk)
                received += len(chunk)
                chunk_times.append((received, (time.perf_counter() - started) * 1000.0))
            if deadline is not None and time.monotonic() > deadline:
                raise httpx.ReadTimeout(
                    f"the response was still arriving when its time ran out ({received} bytes read)",
                    request=request,
                )
    finally:
        response.close()
    return b"".join(chunks), chunk_times


class NoNetworkTransport(httpx.BaseTransport):
    """Stands in for the network when a call is made without a cassette in ``none`` mode."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:  # pragma: no cover - guard
        raise CassetteMissingError(f"record mode 'none' forbids the live call to {request.url}")
