"""A scripted OpenAI- and Anthropic-compatible HTTP server for tests.

The server speaks the real wire formats over a real loopback socket, so the
official SDKs, httpx and vcrpy are exercised end to end.  Replies, errors and
transport faults are scripted with ordered rules::

    with ScriptedLLMServer() as server:
        server.fail(529, times=2)            # two overload errors ...
        server.reply("Paris", match=r"capital of France")  # ... then answers
        client = openai.OpenAI(base_url=server.base_url, api_key="sk-test")

Only the standard library is used and nothing but 127.0.0.1 is ever touched.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import itertools
import json
import math
import re
import select
import socket
import struct
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, Final, Literal, cast, get_args

__all__ = [
    "DEFAULT_MODELS",
    "DEFAULT_REPLY",
    "EMBEDDING_DIMENSIONS",
    "FAULTS",
    "HUGE_REPLY_CHARS",
    "MESSAGE_OVERHEAD_TOKENS",
    "Endpoint",
    "Fault",
    "Matcher",
    "RecordedRequest",
    "ReplyFn",
    "Rule",
    "ScriptedLLMServer",
    "UsageOverride",
    "count_tokens",
    "embed",
    "tokenize",
]

Fault = Literal[
    "malformed_json",
    "missing_choices",
    "empty_body",
    "reset",
    "hang",
    "truncated_stream",
    "endless_stream",
    "huge",
]
"""Transport or payload faults a rule can inject."""

FAULTS: Final[tuple[str, ...]] = get_args(Fault)

Endpoint = Literal["chat", "messages", "embeddings"]
"""Endpoint families a rule can be restricted to."""

Matcher = str | re.Pattern[str] | Callable[[Any], bool] | None
"""None (always), a regex searched in the last user text, or a predicate."""

ReplyFn = Callable[[Any], str]
"""Computes the reply text from the decoded request JSON."""

DEFAULT_REPLY: Final = "OK"
DEFAULT_MODELS: Final[tuple[str, ...]] = (
    "gpt-4o-mini",
    "text-embedding-3-small",
    "claude-haiku-4-5",
)
EMBEDDING_DIMENSIONS: Final = 64
# Fixed per-message cost, like the real chat formats spend on role markers.
MESSAGE_OVERHEAD_TOKENS: Final = 4
HUGE_REPLY_CHARS: Final = 5 * 1024 * 1024

# Bounds so fault threads always terminate even if nobody closes the server.
_HANG_MAX_SECONDS: Final = 300.0
_ENDLESS_MAX_SECONDS: Final = 300.0
_ENDLESS_INTERVAL: Final = 0.05
_POLL_INTERVAL: Final = 0.05
# Streams of huge replies are sent in big deltas, not millions of events.
_HUGE_DELTA_CHARS: Final = 64 * 1024
_MODELS_CREATED: Final = 1_700_000_000

# Every character belongs to exactly one token, so "".join(tokens) == text.
_TOKEN_RE: Final = re.compile(r"\s*(?:\w+|[^\w\s])|\s+")
_WORD_RE: Final = re.compile(r"\w+")

_OPENAI_FINISH: Final = frozenset({"stop", "length", "tool_calls", "content_filter", "function_call"})
_ANTHROPIC_STOP: Final = frozenset(
    {
        "end_turn",
        "max_tokens",
        "stop_sequence",
        "tool_use",
        "pause_turn",
        "refusal",
        "model_context_window_exceeded",
    }
)
_TO_ANTHROPIC: Final[Mapping[str, str]] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_TO_OPENAI: Final[Mapping[str, str]] = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
    "model_context_window_exceeded": "length",
}
_OPENAI_ERRORS: Final[Mapping[int, tuple[str, str | None]]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "not_found"),
    409: ("invalid_request_error", "conflict"),
    422: ("invalid_request_error", None),
    429: ("requests", "rate_limit_exceeded"),
}
_ANTHROPIC_ERRORS: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
# Plausible runner-up tokens for synthetic top_logprobs.
_ALT_TOKENS: Final = (" the", ",", ".", " a", " and", " of", " to", " is", "\n", " in")
_ROUTES: Final[Mapping[str, Endpoint]] = {
    "/chat/completions": "chat",
    "/messages": "messages",
    "/embeddings": "embeddings",
}
# Renders one content delta (index, text) as an SSE event.
_Render = Callable[[int, str], bytes]


def tokenize(text: str) -> list[str]:
    """Split text into tokens whose concatenation is exactly `text`."""
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    """Count tokens the way the server computes usage."""
    return len(_TOKEN_RE.findall(text))


def embed(text: str, dimensions: int = EMBEDDING_DIMENSIONS) -> list[float]:
    """Deterministic L2-normalised hashed bag-of-words embedding of `text`."""
    vector = [0.0] * dimensions
    for word in _WORD_RE.findall(text.lower()):
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        # Unsigned counts: a shared word can only raise cosine, never cancel out.
        vector[digest % dimensions] += 1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        # Real embeddings are never zero; a fixed unit vector keeps cosine defined.
        vector[0] = 1.0
        return vector
    return [v / norm for v in vector]


@dataclass(frozen=True, slots=True)
class UsageOverride:
    """Replaces computed token counts; None keeps the computed value.

    `input_tokens` is the whole prompt (OpenAI `prompt_tokens`); Anthropic's
    `input_tokens` is reported without the cached and cache-creation parts.
    """

    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int = 0
    cache_creation_tokens: int = 0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any  # None when the body was not JSON
    body: bytes


@dataclass(frozen=True, slots=True, eq=False)
class Rule:
    """How to answer requests that match; first matching rule wins.

    `reply` is the answer text, or the error message when `status` is set.
    `times` limits how often the rule applies before it is skipped.
    `logprobs` maps candidate tokens to log-probabilities (see `_logprob_entries`).
    Rules compare by identity: two equal-looking rules count uses separately.
    """

    match: Matcher = None
    reply: str | ReplyFn | None = None
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    fault: Fault | None = None
    times: int | None = None
    usage: UsageOverride | None = None
    finish_reason: str | None = None
    model: str | None = None
    logprobs: Mapping[str, float] | None = None
    chunk_delay: float = 0.0
    error_type: str | None = None
    endpoint: Endpoint | None = None

    def __post_init__(self) -> None:
        """Validate eagerly so a typo fails at setup, not mid-request."""
        if isinstance(self.match, str):
            try:
                object.__setattr__(self, "match", re.compile(self.match))
            except re.error as exc:
                raise ValueError(f"invalid match pattern {self.match!r}: {exc}") from exc
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP error code 400-599, got {self.status}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")
        if self.delay < 0 or self.chunk_delay < 0:
            raise ValueError("delay and chunk_delay must be >= 0")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be >= 1 or None")
        if self.finish_reason is not None and self.finish_reason not in _OPENAI_FINISH | _ANTHROPIC_STOP:
            raise ValueError(f"unknown finish_reason {self.finish_reason!r}")
        if self.endpoint is not None and self.endpoint not in get_args(Endpoint):
            raise ValueError(f"unknown endpoint {self.endpoint!r}")
        if self.logprobs is not None:
            if not self.logprobs or any(v > 0 for v in self.logprobs.values()):
                raise ValueError("logprobs must be a non-empty mapping of values <= 0")
            object.__setattr__(self, "logprobs", MappingProxyType(dict(self.logprobs)))
        # Copy so later mutation of the caller's dict cannot change the rule.
        object.__setattr__(self, "headers", MappingProxyType(dict(self.headers)))

    def matches(self, text: str, request_json: Any) -> bool:
        """Whether this rule applies to a request with last user text `text`."""
        if self.match is None:
            return True
        if isinstance(self.match, re.Pattern):
            return self.match.search(text) is not None
        if callable(self.match):
            return bool(self.match(request_json))
        return False  # pragma: no cover - __post_init__ compiled str patterns


class _RuleSlot:
    """A rule plus its mutable use counter (kept out of the frozen Rule)."""

    __slots__ = ("rule", "used")

    def __init__(self, rule: Rule) -> None:
        self.rule = rule
        self.used = 0

    def exhausted(self) -> bool:
        return self.rule.times is not None and self.used >= self.rule.times


@dataclass(frozen=True, slots=True)
class _Answer:
    """Everything needed to render one successful completion."""

    text: str
    finish: str  # OpenAI vocabulary; translated for Anthropic
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_creation_tokens: int
    logprobs: Mapping[str, float] | None
    chunk_delay: float
    bypass_limit: bool


class _ClientGoneError(Exception):
    """The peer disconnected or the server is closing; abandon the response."""


class ScriptedLLMServer:
    """Loopback HTTP server answering OpenAI and Anthropic requests from rules."""

    def __init__(
        self,
        *,
        default_reply: str = DEFAULT_REPLY,
        models: Sequence[str] = DEFAULT_MODELS,
    ) -> None:
        self.default_reply = default_reply
        self.models: tuple[str, ...] = tuple(models)
        self._lock = threading.Lock()
        self._slots: list[_RuleSlot] = []
        self._requests: list[RecordedRequest] = []
        self._errors: list[str] = []
        self._ids = itertools.count(1)
        self._closing = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> ScriptedLLMServer:
        """Bind an ephemeral 127.0.0.1 port and serve in a daemon thread."""
        if self._httpd is not None or self._closing.is_set():
            raise RuntimeError("ScriptedLLMServer can only be started once")
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler, self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL},
            name=f"ScriptedLLMServer:{httpd.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, abort open connections and wait for handler threads."""
        if self._closing.is_set():
            return
        # Set first: hang/endless/delay loops watch this event and bail out.
        self._closing.set()
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.abort_connections()
        httpd.wait_idle(timeout=5.0)
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> ScriptedLLMServer:
        return self if self._httpd is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        """The bound TCP port."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        """Base URL without /v1 (what Anthropic clients expect)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """Base URL including /v1 (what OpenAI clients expect)."""
        return f"{self.root_url}/v1"

    # -- scripting ---------------------------------------------------------

    def add_rule(self, rule: Rule) -> Rule:
        """Append `rule`; earlier rules take precedence."""
        with self._lock:
            self._slots.append(_RuleSlot(rule))
        return rule

    def reply(
        self,
        text: str | ReplyFn | None = None,
        *,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        usage: UsageOverride | None = None,
        finish_reason: str | None = None,
        model: str | None = None,
        logprobs: Mapping[str, float] | None = None,
        endpoint: Endpoint | None = None,
    ) -> Rule:
        """Answer matching requests with `text` (default: the default reply)."""
        return self.add_rule(
            Rule(
                match=match,
                reply=text,
                times=times,
                delay=delay,
                chunk_delay=chunk_delay,
                headers=headers or {},
                usage=usage,
                finish_reason=finish_reason,
                model=model,
                logprobs=logprobs,
                endpoint=endpoint,
            )
        )

    def fail(
        self,
        status: int,
        *,
        message: str | None = None,
        error_type: str | None = None,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        headers: Mapping[str, str] | None = None,
        endpoint: Endpoint | None = None,
    ) -> Rule:
        """Answer matching requests with an API error in the endpoint's shape."""
        return self.add_rule(
            Rule(
                match=match,
                reply=message,
                status=status,
                error_type=error_type,
                times=times,
                delay=delay,
                headers=headers or {},
                endpoint=endpoint,
            )
        )

    def fault(
        self,
        fault: Fault,
        *,
        match: Matcher = None,
        times: int | None = None,
        delay: float = 0.0,
        chunk_delay: float = 0.0,
        text: str | ReplyFn | None = None,
        endpoint: Endpoint | None = None,
    ) -> Rule:
        """Inject a transport or payload fault for matching requests."""
        return self.add_rule(
            Rule(
                match=match,
                reply=text,
                fault=fault,
                times=times,
                delay=delay,
                chunk_delay=chunk_delay,
                endpoint=endpoint,
            )
        )

    def reset(self) -> None:
        """Forget all rules, recorded requests and recorded errors."""
        with self._lock:
            self._slots.clear()
            self._requests.clear()
            self._errors.clear()

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The scripted rules in precedence order."""
        with self._lock:
            return tuple(slot.rule for slot in self._slots)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of unexpected server-side exceptions (should stay empty)."""
        with self._lock:
            return list(self._errors)

    def uses(self, rule: Rule) -> int:
        """How many requests `rule` has answered."""
        with self._lock:
            return sum(slot.used for slot in self._slots if slot.rule is rule)

    # -- internals used by the handler -------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._errors.append(text)

    def _next_id(self) -> str:
        return f"{next(self._ids):012d}"

    def _select_rule(self, endpoint: Endpoint, text: str, request_json: Any) -> Rule | None:
        with self._lock:
            slots = list(self._slots)
        for slot in slots:
            rule = slot.rule
            if slot.exhausted() or (rule.endpoint is not None and rule.endpoint != endpoint):
                continue
            # User predicates run unlocked so they may call back into the server.
            if not rule.matches(text, request_json):
                continue
            with self._lock:
                # Re-check: a concurrent request may have used the last turn.
                if slot.exhausted():
                    continue
                slot.used += 1
            return rule
        return None


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks connections so close() can abort them."""

    daemon_threads = True
    block_on_close = False

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        owner: ScriptedLLMServer,
    ) -> None:
        self.owner = owner
        self._conns: set[socket.socket] = set()
        self._idle = threading.Condition()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Registered on the accept thread so close() can never miss a socket.
        with self._idle:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        try:
            super().shutdown_request(request)
        finally:
            with self._idle:
                self._conns.discard(request)
                self._idle.notify_all()

    def abort_connections(self) -> None:
        """Wake handlers blocked on idle keep-alive connections."""
        with self._idle:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def wait_idle(self, timeout: float) -> None:
        """Wait until every handler thread has released its connection."""
        with self._idle:
            self._idle.wait_for(lambda: not self._conns, timeout=timeout)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The default prints to stderr; peers vanishing is normal here.
        text = traceback.format_exc()
        if not any(
            name in text for name in ("BrokenPipeError", "ConnectionResetError", "ConnectionAbortedError")
        ):
            self.owner._record_error(text)


class _Handler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the matching endpoint implementation."""

    protocol_version = "HTTP/1.1"
    # Without this every small write waits ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "ScriptedLLM/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent; tests own stdout and stderr."""

    _started = False

    @property
    def owner(self) -> ScriptedLLMServer:
        return cast(_HTTPServer, self.server).owner

    def send_response(self, code: int, message: str | None = None) -> None:
        """Send the status line, remembering that the response has begun."""
        self._started = True
        super().send_response(code, message)

    # -- HTTP verbs --------------------------------------------------------

    def do_GET(self) -> None:
        """Serve the model list and single-model lookups."""
        path = self._route_path()
        self._record_request(b"", None)
        anthropic = "anthropic-version" in self.headers
        if path == "/models":
            self._send_json(200, self._models_body(anthropic))
            return
        if path.startswith("/models/"):
            model_id = path[len("/models/") :]
            if model_id in self.owner.models:
                self._send_json(200, self._model_obj(model_id, anthropic))
                return
        self._send_error(404, f"Unknown path {self.path}", "messages" if anthropic else "chat")

    def do_POST(self) -> None:
        """Serve chat completions, messages and embeddings."""
        path = self._route_path()
        body = self._read_body()
        payload: Any | None
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        self._record_request(body, payload)
        endpoint = _ROUTES.get(path)
        if endpoint is None:
            self._send_error(404, f"Unknown path {self.path}", "messages" if "messages" in path else "chat")
            return
        if not isinstance(payload, dict):
            self._send_error(400, "Request body must be a JSON object", endpoint)
            return
        self._started = False
        try:
            self._serve(endpoint, payload)
        except (_ClientGoneError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # user callbacks may raise anything
            self.owner._record_error(traceback.format_exc())
            if self._started:
                # Mid-response: a second status line would corrupt the stream.
                self.close_connection = True
            else:
                self._send_error(500, f"ScriptedLLMServer internal error: {exc!r}", endpoint)

    # -- request plumbing --------------------------------------------------

    def _route_path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        # Accept both base URLs for every client: /v1/messages, /messages, /v1/v1/...
        return re.sub(r"^(?:/v1)+", "", path) or "/"

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length is not None:
            return self.rfile.read(int(length))
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Drain trailers up to the blank line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    def _record_request(self, body: bytes, payload: Any | None) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.owner._record(RecordedRequest(self.command, self.path, headers, payload, body))

    # -- response primitives -----------------------------------------------

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        *,
        content_length: int | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if content_length is None else content_length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: Mapping[str, str] | None = None) -> None:
        self._send_bytes(status, json.dumps(obj).encode(), headers=headers)

    def _send_error(
        self,
        status: int,
        message: str,
        endpoint: Endpoint,
        headers: Mapping[str, str] | None = None,
        error_type: str | None = None,
    ) -> None:
        if endpoint == "messages":
            body: dict[str, Any] = {
                "type": "error",
                "error": {
                    "type": error_type or _ANTHROPIC_ERRORS.get(status, "api_error"),
                    "message": message,
                },
                "request_id": f"req_{self.owner._next_id()}",
            }
        else:
            kind, code = _OPENAI_ERRORS.get(status, ("server_error", None))
            body = {"error": {"message": message, "type": error_type or kind, "param": None, "code": code}}
        self._send_json(status, body, headers)

    def _start_stream(self, headers: Mapping[str, str], *, chunked: bool = True) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            # Body delimited by connection close, so a cut stream looks like a clean EOF.
            self.send_header("Connection", "close")
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_chunk(self, data: bytes, *, chunked: bool = True) -> None:
        if chunked:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        else:
            self.wfile.write(data)

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _pause(self, seconds: float) -> None:
        """Sleep, but give up promptly if the server is closing."""
        if seconds > 0 and self.owner._closing.wait(seconds):
            raise _ClientGoneError

    def _client_gone(self) -> bool:
        """Whether the peer closed its end (readable with EOF)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -- endpoint logic ----------------------------------------------------

    def _serve(self, endpoint: Endpoint, payload: dict[str, Any]) -> None:
        owner = self.owner
        if endpoint == "chat" and not isinstance(payload.get("messages"), list):
            self._send_error(400, "'messages' is a required property", endpoint)
            return
        if endpoint == "messages":
            if not isinstance(payload.get("messages"), list):
                self._send_error(400, "messages: Field required", endpoint)
                return
            if not isinstance(payload.get("max_tokens"), int):
                self._send_error(400, "max_tokens: Field required", endpoint)
                return
        if endpoint == "embeddings" and "input" not in payload:
            self._send_error(400, "'input' is a required property", endpoint)
            return
        text = _match_text(endpoint, payload)
        rule = owner._select_rule(endpoint, text, payload)
        if rule is not None:
            self._pause(rule.delay)
        extra_headers = dict(rule.headers) if rule is not None else {}
        request_id = f"req_{owner._next_id()}"
        extra_headers.setdefault("request-id" if endpoint == "messages" else "x-request-id", request_id)

        if rule is not None and rule.status is not None:
            message = _reply_text(rule, payload, f"Scripted error {rule.status}")
            self._send_error(rule.status, message, endpoint, extra_headers, rule.error_type)
            return
        fault = rule.fault if rule is not None else None
        if fault == "reset":
            self._reset()
            return
        if fault == "hang":
            self._hang()
            return
        if endpoint == "embeddings":
            self._serve_embeddings(payload, rule, extra_headers)
            return

        answer = self._answer(endpoint, payload, rule)
        stream = bool(payload.get("stream"))
        if fault == "empty_body":
            content_type = "text/event-stream; charset=utf-8" if stream else "application/json"
            self._send_bytes(200, b"", content_type, extra_headers)
            return
        if stream or fault == "endless_stream":
            self._stream(endpoint, payload, answer, fault, extra_headers)
            return
        body = self._completion_body(endpoint, payload, answer, fault)
        if fault == "truncated_stream":
            # Promise the full length, deliver half, hang up: an incomplete body.
            self._send_bytes(200, body[: len(body) // 2], headers=extra_headers, content_length=len(body))
            self.close_connection = True
            return
        self._send_bytes(200, body, headers=extra_headers)

    def _reset(self) -> None:
        # Half a status block, then RST (SO_LINGER 0) instead of a polite FIN.
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Len")
        self.close_connection = True
        self.rfile.close()  # drop the makefile ref so close() is immediate
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _hang(self) -> None:
        # Never answer; leave when the client gives up, the server closes or the bound hits.
        self.close_connection = True
        deadline = time.monotonic() + _HANG_MAX_SECONDS
        while time.monotonic() < deadline:
            if self.owner._closing.wait(_POLL_INTERVAL) or self._client_gone():
                return

    def _answer(self, endpoint: Endpoint, payload: dict[str, Any], rule: Rule | None) -> _Answer:
        owner = self.owner
        huge = rule is not None and rule.fault == "huge"
        known_tokens: int | None = None
        if huge:
            text, known_tokens = _huge_reply()
        elif rule is not None and rule.reply is None and rule.logprobs:
            # A scripted distribution with no text answers with its most likely token.
            text = max(rule.logprobs.items(), key=lambda kv: kv[1])[0]
        else:
            text = _reply_text(rule, payload, owner.default_reply)
        finish = "stop"
        limit = payload.get("max_completion_tokens", payload.get("max_tokens"))
        if not huge and isinstance(limit, int) and limit >= 0:
            tokens = tokenize(text)
            if len(tokens) > limit:
                text = "".join(tokens[:limit])
                finish = "length"
        if rule is not None and rule.finish_reason is not None:
            finish = _TO_OPENAI.get(rule.finish_reason, rule.finish_reason)
        usage = rule.usage if rule is not None else None
        prompt = _prompt_tokens(endpoint, payload)
        if usage is not None and usage.input_tokens is not None:
            prompt = usage.input_tokens
        n = payload.get("n") if endpoint == "chat" else 1
        choices = n if isinstance(n, int) and n > 0 else 1
        completion = (count_tokens(text) if known_tokens is None else known_tokens) * choices
        if usage is not None and usage.output_tokens is not None:
            completion = usage.output_tokens
        model = payload.get("model")
        return _Answer(
            text=text,
            finish=finish,
            model=(rule.model if rule is not None and rule.model else None)
            or (model if isinstance(model, str) and model else "scripted-model"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=usage.cached_tokens if usage is not None else 0,
            cache_creation_tokens=usage.cache_creation_tokens if usage is not None else 0,
            logprobs=rule.logprobs if rule is not None else None,
            chunk_delay=rule.chunk_delay if rule is not None else 0.0,
            bypass_limit=huge,
        )

    def _completion_body(
        self, endpoint: Endpoint, payload: dict[str, Any], answer: _Answer, fault: Fault | None
    ) -> bytes:
        if endpoint == "messages":
            message = self._anthropic_message(answer, final=True)
            if fault == "missing_choices":
                del message["content"]
            body = json.dumps(message)
        else:
            completion = self._openai_completion(payload, answer)
            if fault == "missing_choices":
                del completion["choices"]
            body = json.dumps(completion)
        if fault == "malformed_json":
            # Cut inside the structure so no JSON parser can accept it.
            body = body[: max(1, len(body) // 2)]
        return body.encode()

    def _openai_usage(self, answer: _Answer) -> dict[str, Any]:
        return {
            "prompt_tokens": answer.prompt_tokens,
            "completion_tokens": answer.completion_tokens,
            "total_tokens": answer.prompt_tokens + answer.completion_tokens,
            "prompt_tokens_details": {
                "cached_tokens": min(answer.cached_tokens, answer.prompt_tokens),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _openai_completion(self, payload: dict[str, Any], answer: _Answer) -> dict[str, Any]:
        want_logprobs = bool(payload.get("logprobs"))
        top = _top_n(payload)
        n = payload.get("n")
        choices = n if isinstance(n, int) and n > 0 else 1
        return {
            "id": f"chatcmpl-scripted{self.owner._next_id()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": answer.model,
            "system_fingerprint": "fp_scripted",
            "service_tier": "default",
            "choices": [
                {
                    "index": i,
                    "message": {
                        "role": "assistant",
                        "content": answer.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": {
                        "content": _logprob_entries(answer.text, answer.logprobs, top),
                        "refusal": None,
                    }
                    if want_logprobs
                    else None,
                    "finish_reason": answer.finish,
                }
                for i in range(choices)
            ],
            "usage": self._openai_usage(answer),
        }

    def _anthropic_usage(self, answer: _Answer, output_tokens: int) -> dict[str, Any]:
        cached = min(answer.cached_tokens, answer.prompt_tokens)
        creation = min(answer.cache_creation_tokens, answer.prompt_tokens - cached)
        return {
            # Anthropic reports cache reads/writes separately from fresh input.
            "input_tokens": answer.prompt_tokens - cached - creation,
            "output_tokens": output_tokens,
            "cache_read_input_tokens": cached,
            "cache_creation_input_tokens": creation,
        }

    def _anthropic_message(self, answer: _Answer, *, final: bool) -> dict[str, Any]:
        return {
            "id": f"msg_scripted{self.owner._next_id()}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [{"type": "text", "text": answer.text}] if final else [],
            "stop_reason": _TO_ANTHROPIC.get(answer.finish, answer.finish) if final else None,
            "stop_sequence": None,
            # Like the real API, message_start reports 1 output token so far.
            "usage": self._anthropic_usage(answer, answer.completion_tokens if final else 1),
        }

    def _serve_embeddings(
        self, payload: dict[str, Any], rule: Rule | None, headers: Mapping[str, str]
    ) -> None:
        raw = payload.get("input")
        items: list[Any] = raw if isinstance(raw, list) and raw and not isinstance(raw[0], int) else [raw]
        texts = [item if isinstance(item, str) else " ".join(map(str, item or [])) for item in items]
        dims = payload.get("dimensions")
        size = dims if isinstance(dims, int) and 0 < dims <= 4096 else EMBEDDING_DIMENSIONS
        as_base64 = payload.get("encoding_format") == "base64"
        data: list[dict[str, Any]] = []
        for index, text in enumerate(texts):
            vector = embed(text, size)
            encoded: Any = (
                base64.b64encode(struct.pack(f"<{size}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": encoded})
        tokens = sum(count_tokens(t) for t in texts)
        if rule is not None and rule.usage is not None and rule.usage.input_tokens is not None:
            tokens = rule.usage.input_tokens
        model = payload.get("model")
        body: dict[str, Any] = {
            "object": "list",
            "data": data,
            "model": (rule.model if rule is not None and rule.model else None)
            or (model if isinstance(model, str) and model else "scripted-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        fault = rule.fault if rule is not None else None
        if fault == "empty_body":
            self._send_bytes(200, b"", headers=headers)
            return
        if fault == "missing_choices":
            del body["data"]
        if fault == "endless_stream":
            # Embeddings never stream; this models a broken proxy dribbling forever.
            self._endless(
                [], ["[0.0]"], lambda _, piece: f"data: {piece}\n\n".encode(), headers, _ENDLESS_INTERVAL
            )
            return
        encoded_body = json.dumps(body).encode()
        if fault in ("malformed_json", "truncated_stream"):
            cut = encoded_body[: len(encoded_body) // 2]
            if fault == "malformed_json":
                self._send_bytes(200, cut, headers=headers)
            else:
                self._send_bytes(200, cut, headers=headers, content_length=len(encoded_body))
                self.close_connection = True
            return
        self._send_bytes(200, encoded_body, headers=headers)

    # -- streaming ---------------------------------------------------------

    def _stream(
        self,
        endpoint: Endpoint,
        payload: dict[str, Any],
        answer: _Answer,
        fault: Fault | None,
        headers: Mapping[str, str],
    ) -> None:
        pieces = _pieces(answer.text, _HUGE_DELTA_CHARS if answer.bypass_limit else 0)
        if endpoint == "messages":
            head, render, tail = self._anthropic_stream(answer, fault)
            if fault == "missing_choices":
                pieces = []  # deltas would reference a content block that never started
        else:
            head, render, tail = self._openai_stream(payload, answer, fault)
        if fault == "endless_stream":
            self._endless(head, pieces or [" "], render, headers, answer.chunk_delay or _ENDLESS_INTERVAL)
            return
        truncated = fault == "truncated_stream"
        if truncated:
            # Stop halfway through the content: no finish, no usage, no terminator.
            pieces = pieces[: (len(pieces) + 1) // 2]
            tail = []
        self._start_stream(headers, chunked=not truncated)
        events = [*head, *(render(i, piece) for i, piece in enumerate(pieces)), *tail]
        for index, event in enumerate(events):
            if index and answer.chunk_delay:
                self._pause(answer.chunk_delay)
            self._write_chunk(event, chunked=not truncated)
        if not truncated:
            self._end_stream()

    def _endless(
        self,
        head: list[bytes],
        pieces: list[str],
        render: _Render,
        headers: Mapping[str, str],
        interval: float,
    ) -> None:
        self._start_stream(headers)
        self.close_connection = True
        for event in head:
            self._write_chunk(event)
        deadline = time.monotonic() + _ENDLESS_MAX_SECONDS
        for index, piece in enumerate(itertools.cycle(pieces)):
            if time.monotonic() >= deadline:
                return
            # A failed write (client gone) raises and ends the loop.
            self._write_chunk(render(index, piece))
            self._pause(interval)

    def _openai_stream(
        self, payload: dict[str, Any], answer: _Answer, fault: Fault | None
    ) -> tuple[list[bytes], _Render, list[bytes]]:
        stream_id = f"chatcmpl-scripted{self.owner._next_id()}"
        created = int(time.time())
        options = payload.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        entries = (
            _logprob_entries(answer.text, answer.logprobs, _top_n(payload)) if payload.get("logprobs") else []
        )

        def chunk(delta: dict[str, Any], finish: str | None, logprobs: Any = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
            return _sse(_chunk(stream_id, created, answer.model, [choice], include_usage, fault))

        def render(index: int, piece: str) -> bytes:
            logprobs = None
            if entries:
                logprobs = {"content": [entries[index % len(entries)]], "refusal": None}
            return chunk({"content": piece}, None, logprobs)

        head = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
        if fault == "malformed_json":
            head.append(b'data: {"id": "' + stream_id.encode() + b'", "choices": [{"delta": \n\n')
        tail = [chunk({}, answer.finish)]
        if include_usage:
            # The usage-only final chunk has empty choices, as the real API sends.
            final = _chunk(stream_id, created, answer.model, [], False, fault)
            final["usage"] = self._openai_usage(answer)
            tail.append(_sse(final))
        tail.append(b"data: [DONE]\n\n")
        return head, render, tail

    def _anthropic_stream(
        self, answer: _Answer, fault: Fault | None
    ) -> tuple[list[bytes], _Render, list[bytes]]:
        start = self._anthropic_message(answer, final=False)
        if fault == "missing_choices":
            del start["content"]
        head = [_sse({"type": "message_start", "message": start}, "message_start")]
        if fault == "malformed_json":
            head.append(b'event: content_block_start\ndata: {"type": "content_block_start", "index": \n\n')
        if fault != "missing_choices":
            block = {"type": "text", "text": ""}
            head.append(
                _sse(
                    {"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"
                )
            )
        head.append(_sse({"type": "ping"}, "ping"))

        def render(index: int, piece: str) -> bytes:
            delta = {"type": "text_delta", "text": piece}
            return _sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")

        tail = []
        if fault != "missing_choices":
            tail.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        stop = {"stop_reason": _TO_ANTHROPIC.get(answer.finish, answer.finish), "stop_sequence": None}
        usage = self._anthropic_usage(answer, answer.completion_tokens)
        tail.append(_sse({"type": "message_delta", "delta": stop, "usage": usage}, "message_delta"))
        tail.append(_sse({"type": "message_stop"}, "message_stop"))
        return head, render, tail

    # -- models ------------------------------------------------------------

    def _model_obj(self, model_id: str, anthropic: bool) -> dict[str, Any]:
        if anthropic:
            return {
                "type": "model",
                "id": model_id,
                "display_name": model_id,
                "created_at": "2023-11-14T22:13:20Z",
                "lifecycle": "active",
            }
        return {"id": model_id, "object": "model", "created": _MODELS_CREATED, "owned_by": "scripted"}

    def _models_body(self, anthropic: bool) -> dict[str, Any]:
        data = [self._model_obj(m, anthropic) for m in self.owner.models]
        if anthropic:
            return {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        return {"object": "list", "data": data}


# -- pure helpers ------------------------------------------------------------


def _sse(obj: Any, event: str | None = None) -> bytes:
    data = f"data: {json.dumps(obj)}\n\n"
    return (f"event: {event}\n{data}" if event else data).encode()


def _chunk(
    stream_id: str,
    created: int,
    model: str,
    choices: list[dict[str, Any]],
    include_usage: bool,
    fault: Fault | None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": stream_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": choices,
    }
    if include_usage:
        # With include_usage the real API sends "usage": null on every content chunk.
        obj["usage"] = None
    if fault == "missing_choices":
        del obj["choices"]
    return obj


def _pieces(text: str, size: int) -> list[str]:
    """Stream deltas: one per token, or fixed-size slices for huge texts."""
    if size:
        return [text[i : i + size] for i in range(0, len(text), size)]
    return tokenize(text)


@functools.lru_cache(maxsize=1)
def _huge_reply() -> tuple[str, int]:
    """The "huge" fault's text and its token count, computed arithmetically.

    Tokenizing 5 MB with the regex takes about a second; the text is a
    repeated five-token unit, so the count follows from the repetitions.
    """
    unit = "lorem ipsum dolor sit amet "
    reps, rest = divmod(HUGE_REPLY_CHARS, len(unit))
    text = unit * reps + unit[:rest]
    # Each unit's trailing space joins the next word; a bare trailing space is one token.
    tokens = 5 * reps + (count_tokens(unit[:rest]) if rest else 1)
    return text, tokens


def _reply_text(rule: Rule | None, payload: Any, default: str) -> str:
    if rule is None or rule.reply is None:
        return default
    if isinstance(rule.reply, str):
        return rule.reply
    return str(rule.reply(payload))


def _content_text(content: Any) -> str:
    """Plain text of a message content: a string or a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif "content" in part:  # Anthropic tool_result blocks nest content
                    parts.append(_content_text(part["content"]))
        return "\n".join(parts)
    return ""


def _match_text(endpoint: Endpoint, payload: dict[str, Any]) -> str:
    """Text that regex rules search: the last user message or the embedding input."""
    if endpoint == "embeddings":
        raw = payload.get("input")
        items = raw if isinstance(raw, list) else [raw]
        return "\n".join(item for item in items if isinstance(item, str))
    for message in reversed(payload.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _prompt_tokens(endpoint: Endpoint, payload: dict[str, Any]) -> int:
    contents: list[Any] = []
    if endpoint == "messages" and payload.get("system"):
        contents.append(payload["system"])
    contents.extend(m.get("content") for m in payload.get("messages") or [] if isinstance(m, dict))
    return sum(count_tokens(_content_text(c)) + MESSAGE_OVERHEAD_TOKENS for c in contents)


def _top_n(payload: dict[str, Any]) -> int:
    top = payload.get("top_logprobs")
    return max(0, min(20, top)) if isinstance(top, int) else 0


def _logprob_entries(text: str, scripted: Mapping[str, float] | None, top: int) -> list[dict[str, Any]]:
    """OpenAI `logprobs.content` for the reply; `scripted` shapes one token.

    That is the first token that is one of `scripted`'s keys (ignoring leading whitespace), such
    as a judge's score inside a JSON reply; else the first token.
    """
    entries: list[dict[str, Any]] = []
    tokens = tokenize(text)
    shaped = next((i for i, t in enumerate(tokens) if scripted and t.strip() in scripted), 0)
    for index, token in enumerate(tokens):
        if index == shaped and scripted:
            ranked = sorted(scripted.items(), key=lambda kv: kv[1], reverse=True)
            logprob = scripted.get(token.strip(), ranked[-1][1] - 1.0)
            alternatives = ranked[:top]
        else:
            # Confident (p ~ 0.95-0.99) and the alternatives' mass keeps the sum below 1.
            logprob = -(10 + hashlib.blake2b(token.encode(), digest_size=2).digest()[0] % 40) / 1000
            others = [t for t in _ALT_TOKENS if t != token]
            alternatives = [(token, logprob)] + [(t, -6.0 - i) for i, t in enumerate(others)]
            alternatives = alternatives[:top]
        entries.append(
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in alternatives
                ],
            }
        )
    return entries
