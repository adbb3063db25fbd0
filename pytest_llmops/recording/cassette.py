"""One vcrpy cassette per case: loading, matching, recording and saving, and the file's name.

Record modes (``--llmops-record-mode``):

- ``none`` (default): replay only; a call with no recording fails before any connection.
- ``once``: record when the cassette file does not exist yet, else replay only.
- ``new_episodes``: replay what matches, record what does not.
- ``all``: call live for everything and rewrite the cassette with this run's calls.

Requests match on method, path, query and the JSON body compared as parsed JSON. The host is
left out on purpose: the base URL is configuration (a gateway, a proxy, a local server), and a
recording made through one replays through another.

Only successful exchanges that the provider could use are saved (``commit``): a 429 that was
retried, a 500 or a malformed body never reaches the file. The files are ordinary vcrpy
cassettes, read and written with vcrpy's request type, matchers and serializer.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from vcr import matchers as vcr_matchers
from vcr.request import Request as VcrRequest
from vcr.serialize import deserialize as vcr_deserialize
from vcr.serialize import serialize as vcr_serialize
from vcr.serializers import yamlserializer

from ..errors import CassetteCorruptError, CassetteError, CassetteMismatchError, CassetteMissingError
from ..fileio import atomic_write_text
from .modes import RecordMode
from .redaction import redact_text

__all__ = ["CaseCassette", "cassette_file_name", "cassette_path", "source_stem"]

MATCHERS = (vcr_matchers.method, vcr_matchers.path, vcr_matchers.query, vcr_matchers.body)
#: Endings stripped from a suite or test file's name to name its cassette folder.
_SOURCE_SUFFIXES = (".llmops.yaml", ".llmops.yml", ".yaml", ".yml", ".py")


def source_stem(path: Path) -> str:
    """``test_support.llmops.yaml`` -> ``test_support``; ``test_faq.py`` -> ``test_faq``."""
    for suffix in _SOURCE_SUFFIXES:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return path.stem


def cassette_path(source: Path, item_name: str, *, cassette_dir: Path | None, rootdir: Path | None) -> Path:
    """Where the cassette of one item lives: the only function that names cassettes.

    ``cassettes/<file stem>/<item>.yaml`` beside the suite (or Python test file) by default. With
    ``llmops_cassette_dir`` every suite shares one folder, so the suite's folder relative to
    rootdir is kept in the path: two suites of one name in two folders never share a cassette.
    """
    if cassette_dir is None:
        base = source.parent / "cassettes"
    else:
        base = cassette_dir
        if rootdir is not None:
            try:
                base = base / source.parent.resolve().relative_to(rootdir.resolve())
            except ValueError:  # a suite outside rootdir: its absolute folder, made relative
                base = base / "_outside" / hashlib.sha256(str(source.parent).encode()).hexdigest()[:12]
    return base / source_stem(source) / cassette_file_name(item_name)


def cassette_file_name(item_name: str) -> str:
    """A portable file name for an item name such as ``refund[support@2.1.0-openai:gpt-4o]``."""
    safe = "".join(c if c.isalnum() or c in "._-@[]+=," else "_" for c in item_name)
    if len(safe) > 150:  # stay well under common file-name limits; keep it unique with a hash
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
        rescrub: Callable[[VcrRequest], VcrRequest] | None = None,
    ) -> None:
        self.path = path
        #: Applied to each stored request on load: recorded and current requests are compared
        #: in one scrubbed form (a key redacted on disk matches the key, or none, sent now).
        self._rescrub = rescrub
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
        if self._rescrub is not None:
            requests = [self._rescrub(r) for r in requests]
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
