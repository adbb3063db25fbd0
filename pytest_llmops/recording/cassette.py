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
cassettes, written with vcrpy's serializer. A replay does not import vcrpy: the file is read
with vcrpy's own YAML loader (``cassette_cache.py``, which can keep what it read in pytest's
cache, keyed by the file's content) and a request finds its recording by one key that stands
for vcrpy's matchers (``matching.py``); vcrpy's matchers decide where that key cannot, and
explain a miss.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml

from ..errors import CassetteCorruptError, CassetteError, CassetteMismatchError, CassetteMissingError
from ..fileio import atomic_write_text
from .cassette_cache import load_cassette_document
from .matching import RecordingIndex
from .modes import RecordMode
from .redaction import redact_text
from .scrub import StoredRequest

__all__ = ["CaseCassette", "cassette_file_name", "cassette_path", "source_stem"]

#: vcrpy's matchers that requests match on (by name in ``vcr.matchers``).
MATCHERS = ("method", "path", "query", "body")
#: Rebuilds a stored request in the run's scrubbed form: (method, uri, body, header items).
Rescrub = Callable[[str, str, Any, Iterable[tuple[str, Any]]], StoredRequest]
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
    return _cassette_folder(source, cassette_dir, rootdir) / cassette_file_name(item_name)


@functools.lru_cache(maxsize=1024)  # one per suite or test file: asked for by every case
def _cassette_folder(source: Path, cassette_dir: Path | None, rootdir: Path | None) -> Path:
    if cassette_dir is None:
        base = source.parent / "cassettes"
    else:
        base = cassette_dir
        if rootdir is not None:
            try:
                base = base / source.parent.resolve().relative_to(rootdir.resolve())
            except ValueError:  # a suite outside rootdir: its absolute folder, made relative
                base = base / "_outside" / hashlib.sha256(str(source.parent).encode()).hexdigest()[:12]
    return base / source_stem(source)


#: Characters a cassette's file name keeps (``\\w`` is ``str.isalnum()`` and ``_``); others become ``_``.
_UNSAFE = re.compile(r"[^\w.\-@\[\]+=,]")


def cassette_file_name(item_name: str) -> str:
    """A portable file name for an item name such as ``refund[support@2.1.0-openai:gpt-4o]``."""
    safe = _UNSAFE.sub("_", item_name)
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


def _vcr_match(request: StoredRequest, stored: StoredRequest) -> bool:
    """vcrpy's own verdict (imports vcrpy): where the key cannot decide, and to explain a miss."""
    from vcr import matchers

    chosen = [getattr(matchers, name) for name in MATCHERS]
    return bool(matchers.requests_match(request.to_vcr(), stored.to_vcr(), chosen))


def _stored_request(request: dict[str, Any], rescrub: Rescrub | None) -> StoredRequest:
    """A checked ``request:`` mapping as vcrpy's ``Request._from_dict`` reads it, then scrubbed."""
    if "body" not in request:
        raise TypeError("Request.__init__() missing 1 required positional argument: 'body'")
    body = request["body"]
    if isinstance(body, str):
        body = body.encode("utf-8")
    # vcrpy keeps the first value of a repeated header.
    headers = [(name, values[0]) for name, values in request["headers"].items() if values]
    if rescrub is not None:
        return rescrub(request["method"], request["uri"], body, headers)
    return StoredRequest(request["method"], request["uri"], body, {n.lower(): v for n, v in headers})


def _response(response: dict[str, Any]) -> dict[str, Any]:
    """A checked ``response:`` mapping with its body as bytes (vcrpy's ``convert_to_bytes``)."""
    body = response["body"]
    if isinstance(body.get("string"), str):
        with contextlib.suppress(UnicodeEncodeError):
            body["string"] = body["string"].encode("utf-8")
    return response


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
        for name in ("latency_ms", "ttft_ms"):
            value = facts.get(name) if facts is not None else None
            if value is not None and not (math.isfinite(value) and value >= 0):
                # A NaN latency once crashed the report writer and took every report with it.
                raise ValueError(
                    f"{where}: `response.llmops.{name}` is {value!r}; "
                    "expected milliseconds, a finite number >= 0"
                )


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
        rescrub: Rescrub | None = None,
        cache: Path | None = None,
    ) -> None:
        self.path = path
        #: Applied to each stored request on load: recorded and current requests are compared
        #: in one scrubbed form (a key redacted on disk matches the key, or none, sent now).
        self._rescrub = rescrub
        self.mode = mode
        self.record_command = record_command
        #: A callable is asked at each save: a provider first used during the case adds its key.
        self._secrets = secrets if callable(secrets) else tuple(secrets)
        self._recorded: list[tuple[StoredRequest, dict[str, Any]]] = []
        self._index = RecordingIndex()
        self._played: set[int] = set()
        self._pending: list[tuple[StoredRequest, dict[str, Any]]] = []
        self._committed: list[tuple[StoredRequest, dict[str, Any]]] = []
        if mode is RecordMode.ALL:
            self.existed = path.is_file()
        else:
            self._load(cache)

    def _corrupt(self, exc: BaseException) -> CassetteCorruptError:
        return CassetteCorruptError(
            f"cassette {self.path} cannot be read ({type(exc).__name__}: {exc}). It was edited by "
            f"hand or written by something else. Delete it and record again:\n    {self.record_command}",
            path=self.path,
        )

    def _load(self, cache: Path | None) -> None:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self.existed = False
            return
        except OSError as exc:
            self.existed = self.path.is_file()
            if not self.existed:
                return
            raise self._corrupt(exc) from None
        self.existed = True
        try:
            text = data.decode("utf-8")
            if not text.strip():
                self.existed = False
                return
            document = load_cassette_document(data, text, cache)
            _check_cassette(document)  # vcrpy trusts the shape; a hand edit must not crash a replay
            recorded = [
                (_stored_request(i["request"], self._rescrub), _response(i["response"]))
                for i in document["interactions"]
            ]
            for position, (request, _) in enumerate(recorded):
                self._index.add(position, request)  # a stored URI that does not parse is an edit too
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, yaml.YAMLError) as exc:
            raise self._corrupt(exc) from None
        self._recorded = recorded

    # -- what the record mode allows ------------------------------------------------------------
    @property
    def may_replay(self) -> bool:
        return self.mode is not RecordMode.ALL

    @property
    def recordings(self) -> int:
        """How many recordings the cassette holds (this run's saved ones included)."""
        return len(self._recorded)

    @property
    def may_record(self) -> bool:
        if self.mode is RecordMode.ONCE:
            return not self.existed
        return self.mode in (RecordMode.NEW_EPISODES, RecordMode.ALL)

    # -- replay ---------------------------------------------------------------------------------
    def play(self, request: StoredRequest) -> dict[str, Any] | None:
        """The first recording of this request not yet played in this run, if any."""
        decided, position = self._index.find(request, self._played)
        if not decided:
            position = next(
                (
                    index
                    for index, (stored, _) in enumerate(self._recorded)
                    if index not in self._played and _vcr_match(request, stored)
                ),
                None,
            )
        if position is None:
            return None
        self._played.add(position)
        return self._recorded[position][1]

    def miss(self, request: StoredRequest) -> CassetteMissingError | CassetteMismatchError:
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
        if all(_vcr_match(request, s) for s in same_endpoint):
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
    def _closest(request: StoredRequest, candidates: list[StoredRequest]) -> StoredRequest:
        current = "\n".join(_pretty_body(request.body))

        def similarity(stored: StoredRequest) -> float:
            recorded = "\n".join(_pretty_body(stored.body))
            return difflib.SequenceMatcher(None, recorded, current).quick_ratio()

        return max(candidates, key=similarity)

    # -- recording ------------------------------------------------------------------------------
    def add_pending(self, request: StoredRequest, response: dict[str, Any]) -> None:
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
        from vcr.serialize import serialize  # recording only: replays never import vcrpy
        from vcr.serializers import yamlserializer

        interactions = [*self._recorded, *self._committed]
        text = serialize(
            {"requests": [r.to_vcr() for r, _ in interactions], "responses": [r for _, r in interactions]},
            yamlserializer,
        )
        secrets = self._secrets() if callable(self._secrets) else self._secrets
        text = redact_text(text, secrets)  # last guard: a key that slipped into a body or URL
        try:
            atomic_write_text(self.path, text)
        except OSError as exc:  # a full disk or a read-only folder fails the case, not the session
            raise CassetteError(f"cannot write cassette {self.path}: {exc}", path=self.path) from None
        for position, (request, _) in enumerate(self._committed, len(self._recorded)):
            self._index.add(position, request)
        self._recorded = interactions
        self._committed = []
        # `existed` stays as it was when the case began: in `once` mode a case that recorded
        # its first call must still record its second.
